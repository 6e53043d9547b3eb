# common.sh: shared setup for the shell tests. Arguments: LCFM SOURCE_DIR WORK_DIR.
set -euo pipefail
LCFM=$1
SOURCE=$2
WORK=$3
MPIEXEC=${MPIEXEC:-mpirun}
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
run_np() { local n=$1; shift; "$MPIEXEC" --oversubscribe -np "$n" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# set_job_keys FILE SECTION.KEY=VALUE...: sets each key of the job file FILE, in place where its
# section has it, else at the end of its section (the section is added when missing).
set_job_keys() {
  local file=$1 pair
  shift
  for pair in "$@"; do
    local dotted=${pair%%=*}
    awk -v section="${dotted%%.*}" -v key="${dotted#*.}" -v value="${pair#*=}" '
      function add() { if (inside && !done) { print key " = " value; done = 1 } }
      /^\[.*\]$/ { add(); inside = ($0 == "[" section "]"); print; next }
      inside && $0 ~ ("^" key " *=") { print key " = " value; done = 1; next }
      { print }
      END { add(); if (!done) { print "[" section "]"; print key " = " value } }' "$file" > "$file.new"
    mv "$file.new" "$file"
  done
}

# write_tiny_conformer_job FILE [SECTION.KEY=VALUE...]: a Conformer job small enough for a few runs
# of simulate, train (causal, 4 steps; or astromer2), embed and probe in a shell test, with the
# given keys changed (tiny_job.sh is the MLP job for many runs).
write_tiny_conformer_job() {
  local file=$1
  shift
  cat > "$file" <<'INI'
[job]
seed = 4
[simulate]
output = sim.h5
stars = 20
instruments = 4
curves_per_star = 4
T = 40
[model]
T = 32
d_model = 8
heads = 2
feed_forward = 16
blocks = 1
kernel = 3
latent = 4
[train]
store = sim.h5
checkpoint = model.h5
batch_triplets = 12
batch_windows = 8
steps = 4
validation_every = 4
validation_triplets = 12
validation_windows = 8
validation_fraction = 0.25
checkpoint_minutes = 0
[embed]
store = sim.h5
checkpoint = model.h5
output = emb.h5
[probe]
store = sim.h5
embeddings = emb.h5
output = probe.h5
sizes = 10
runs = 1
mlp_steps = 2
raw_points = 8
INI
  set_job_keys "$file" "$@"
}

# write_long_mlp_job FILE [SECTION.KEY=VALUE...]: an MLP job (simulate, train) whose training is
# long enough (400 steps, a progress line each) to be interrupted during it in a shell test, with
# the given keys changed; a test appends the sections it needs besides.
write_long_mlp_job() {
  local file=$1
  shift
  cat > "$file" <<'INI'
[job]
seed = 3
[simulate]
output = sim.h5
stars = 40
curves_per_star = 8
instrument_terms = 5
K = 5
T = 40
[model]
encoder = mlp
T = 40
mlp_hidden = 32
latent = 6
projection_hidden = 16
projection_dim = 8
decoder_hidden = 16
[train]
checkpoint = model.h5
batch_triplets = 16
steps = 400
validation_every = 50
validation_triplets = 32
patience = 100
log_every = 1
checkpoint_minutes = 0
INI
  set_job_keys "$file" "$@"
}

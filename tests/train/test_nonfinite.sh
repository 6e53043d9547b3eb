# Non-finite points: a store that holds one (ingest rejects them; this one was edited) is refused
# by train (causal and Astromer 2), embed and probe with exit 1, naming the store, the object and
# the point, before any output (embed used to give such an object the same constant latent as
# every other with exit 0, probe printed NaN with exit 0, and Astromer 2 blamed its input
# embedding). (What a non-finite loss says about checkpoints: test_train_loop.c.)
source "$(dirname "$0")/../cli/common.sh"
/usr/bin/python3 -c "import h5py" 2>/dev/null || { echo "SKIP: no h5py"; exit 77; }
cat > job.ini <<'INI'
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
"$LCFM" simulate job.ini > sim.log || { cat sim.log; fail "simulate"; }
"$LCFM" train job.ini > train.log || { cat train.log; fail "train"; }
/usr/bin/python3 - <<'PY' || fail "cannot edit the stores"
import h5py, numpy as np, shutil
shutil.copy("sim.h5", "nan.h5")
with h5py.File("nan.h5", "r+") as f:
    v = f["points/value"][...]
    v[45 * 40 + 17] = np.nan  # object 45, point 17
    f["points/value"][...] = v
PY
blamed="nan.h5: object 45 (id 45): point 17 of its 40 has a non-finite value (nan)"
refused() { # label, output that must not exist, command...
  local label=$1 output=$2
  shift 2
  set +e
  "$@" > "$label.log" 2>&1; code=$?
  set -e
  [ $code -eq 1 ] && grep -qF "$blamed" "$label.log" && [ ! -e "$output" ] && ! grep -q "input embedding" "$label.log" ||
    { cat "$label.log"; fail "$label: exit $code, expected 1 naming '$blamed'"; }
  echo "$label: refused"
}
refused train nan_model.h5 "$LCFM" train -o train.store=nan.h5 -o train.checkpoint=nan_model.h5 job.ini
refused astromer2 nan_astro.h5 "$LCFM" train -o model.kind=astromer2 -o train.store=nan.h5 -o train.checkpoint=nan_astro.h5 job.ini
refused embed nan_emb.h5 run_np 2 "$LCFM" embed -o embed.store=nan.h5 -o embed.output=nan_emb.h5 job.ini
"$LCFM" embed job.ini > embed.log || { cat embed.log; fail "embed"; }
refused probe nan_probe.h5 "$LCFM" probe -o probe.store=nan.h5 -o probe.output=nan_probe.h5 job.ini

echo "non-finite points refused by train, embed and probe"

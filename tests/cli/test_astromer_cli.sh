# Astromer 2 from the command line: the labelled simulator gives the same store at 1 and 2 ranks;
# `lcfm train` pretrains on it plus the ingested MACHO sample (when the shared data is there) and
# a stopped run resumes bitwise; `lcfm embed` writes the same /layers and /z at 1 and 2 ranks and
# any block size, /z being the mean of the layers; `lcfm probe` with task = classification writes
# macro F1 and softmax(gamma); bad keys fail with exit code 2 before any output.
source "$(dirname "$0")/../cli/common.sh"
cat > job.ini <<'INI'
[job]
seed = 6
[simulate]
mode = labelled
output = lab.h5
stars = 60
curves_per_star = 2
min_points = 30
max_points = 150
seasons = 3
block_stars = 7
[ingest]
output = macho.h5
inputs = MACHO_SAMPLE
[model]
kind = astromer2
T = 64
d_model = 16
heads = 2
feed_forward = 24
blocks = 1
[train]
store = lab.h5
checkpoint = model.h5
batch_windows = 8
steps = 16
validation_every = 8
validation_windows = 16
log_every = 4
checkpoint_minutes = 0
[embed]
store = lab.h5
checkpoint = model.h5
output = emb.h5
block_objects = 1000
batch_windows = 16
[probe]
task = classification
store = lab.h5
embeddings = emb.h5
output = probe.h5
samples_per_class = 3 6
folds = 2
raw_points = 64
classifier_steps = 20
mlp_batch = 16
test_fraction = 0.2
INI
macho="$LCFM_SHARED_DATA/macho/macho_field1_rrc_tap.csv"
stores=lab.h5
if [ -f "$macho" ]; then
  sed -i "s|MACHO_SAMPLE|$macho|" job.ini
  run_np 2 "$LCFM" ingest job.ini > ingest.log || { cat ingest.log; fail "MACHO ingest"; }
  stores="lab.h5 macho.h5"
else
  echo "no MACHO sample at $macho: pretraining on the simulated store only"
fi

# The labelled store does not depend on the rank count.
run_np 1 "$LCFM" simulate -o simulate.output=lab1.h5 job.ini > sim1.log || { cat sim1.log; fail "labelled simulate, 1 rank"; }
run_np 2 "$LCFM" simulate job.ini > sim2.log || { cat sim2.log; fail "labelled simulate, 2 ranks"; }
for path in /objects /points /truth /instruments; do
  h5diff lab1.h5 lab.h5 $path $path > diff.txt || { head diff.txt; fail "labelled $path differs between 1 and 2 ranks"; }
done

# Pretraining, and a stopped run that resumes to the same bits.
run_np 2 "$LCFM" train -o "train.store=$stores" job.ini > train.log || { cat train.log; fail "astromer2 training"; }
grep -q "held-out score of the best model" train.log || { cat train.log; fail "no held-out score"; }
run_np 2 "$LCFM" train -o "train.store=$stores" -o train.checkpoint=half.h5 -o train.steps=8 job.ini > half.log \
  || { cat half.log; fail "first half"; }
run_np 2 "$LCFM" train -o "train.store=$stores" -o train.checkpoint=half.h5 job.ini > rest.log || { cat rest.log; fail "resume"; }
grep -q "resumed from half.h5 at step 8" rest.log || { cat rest.log; fail "did not resume"; }
for group in /params /adam_m /adam_v; do
  h5diff model.h5 half.h5 $group $group > diff.txt || { head diff.txt; fail "resumed $group differs from the uninterrupted run"; }
done

# Embeddings: 1 rank against 2 ranks with other block sizes, for the simulated and the MACHO store.
run_np 1 "$LCFM" embed -o embed.output=emb1.h5 job.ini > embed1.log || { cat embed1.log; fail "embed, 1 rank"; }
run_np 2 "$LCFM" embed -o embed.block_objects=7 -o embed.batch_windows=5 job.ini > embed2.log || { cat embed2.log; fail "embed, 2 ranks"; }
for path in /objects /layers /z; do
  h5diff -d 1e-5 emb1.h5 emb.h5 $path $path > diff.txt || { head diff.txt; fail "$path differs between 1 and 2 ranks"; }
done
if [ -f macho.h5 ]; then
  run_np 2 "$LCFM" embed -o embed.store=macho.h5 -o embed.output=macho_emb.h5 job.ini > embed3.log || { cat embed3.log; fail "embed MACHO"; }
fi
/usr/bin/python3 - <<'PY' || fail "embedding layout"
import os
import h5py, numpy as np
for path, store in (("emb.h5", "lab.h5"), ("macho_emb.h5", "macho.h5")):
    if not os.path.exists(path):
        continue
    e, s = h5py.File(path, "r"), h5py.File(store, "r")
    n = s["objects/id"].shape[0]
    layers, z = e["layers"][:], e["z"][:]
    assert layers.shape == (n, 2 * 16) and z.shape == (n, 16), (layers.shape, z.shape)
    assert np.all(np.isfinite(layers)) and layers.std() > 0
    assert np.allclose(layers.reshape(n, 2, 16).mean(axis=1), z, atol=1e-6)
    assert np.array_equal(e["objects/id"][:], s["objects/id"][:]) and np.array_equal(e["objects/label"][:], s["objects/label"][:])
    assert e.attrs["schema"] == b"lcfm-embeddings" or e.attrs["schema"] == "lcfm-embeddings"
    assert "job" in e.attrs and "checkpoint" in e.attrs
PY

# The classification protocol.
run_np 2 "$LCFM" probe job.ini > probe.log || { cat probe.log; fail "classification probe"; }
grep -q "samples per class" probe.log || { cat probe.log; fail "no F1 table"; }
/usr/bin/python3 - <<'PY' || fail "probe layout"
import h5py, numpy as np
p = h5py.File("probe.h5", "r")
assert p["classification/f1"].shape == (2, 4) and p["classification/f1_mean"].shape == (2, 2)
f1 = p["classification/f1"][:]
assert np.all((f1 >= 0) & (f1 <= 1)), f1
g = p["classification/gamma"][:]
assert g.shape == (4, 2) and np.allclose(g.sum(axis=1), 1.0), g
assert list(p["classification/samples_per_class"][:]) == [3, 6]
assert p["objects/test"][:].sum() > 0
PY

# Bad jobs: exit 2, nothing written.
expect_usage() { # log name, then the command
  local log=$1; shift
  set +e; "$@" > "$log" 2>&1; local code=$?; set -e
  [ $code -eq 2 ] || { cat "$log"; fail "$log: exit $code, expected 2"; }
}
expect_usage odd.log "$LCFM" train -o model.d_model=15 -o model.heads=1 -o train.checkpoint=odd.h5 job.ini
grep -q "d_model" odd.log && [ ! -f odd.h5 ] || { cat odd.log; fail "odd d_model not reported"; }
expect_usage task.log "$LCFM" probe -o probe.task=clustering -o probe.output=task.h5 job.ini
grep -q "probe\] task" task.log && [ ! -f task.h5 ] || { cat task.log; fail "bad task not reported"; }
expect_usage mode.log "$LCFM" simulate -o simulate.mode=fancy -o simulate.output=mode.h5 job.ini
grep -q "simulate\] mode" mode.log && [ ! -f mode.h5 ] || { cat mode.log; fail "bad mode not reported"; }
expect_usage points.log "$LCFM" simulate -o simulate.min_points=200 -o simulate.output=points.h5 job.ini
grep -q "max_points" points.log && [ ! -f points.h5 ] || { cat points.log; fail "min_points > max_points not reported"; }
expect_usage spc.log "$LCFM" probe -o "probe.samples_per_class=5 x" job.ini
grep -q "samples_per_class" spc.log || { cat spc.log; fail "bad samples_per_class not reported"; }
expect_usage fields.log "$LCFM" train -o train.fields=1 -o train.checkpoint=fields.h5 job.ini
grep -q "\[train\] fields" fields.log && [ ! -f fields.h5 ] || { cat fields.log; fail "[train] fields not refused for astromer2"; }

# A missing store of the list stops training before any output, naming the file.
set +e
run_np 2 "$LCFM" train -o "train.store=lab.h5 missing.h5" -o train.checkpoint=miss.h5 job.ini > miss.log 2>&1; code=$?
set -e
[ $code -ne 0 ] && grep -q "missing.h5: cannot open" miss.log && [ ! -f miss.h5 ] || { cat miss.log; fail "missing store: exit $code"; }

# A checkpoint of another configuration is refused by embed.
set +e
"$LCFM" embed -o model.blocks=2 -o embed.output=bad.h5 job.ini > bad.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "another model configuration" bad.log && [ ! -f bad.h5 ] || { cat bad.log; fail "mismatched checkpoint: exit $code"; }
echo "astromer2 command line: labelled store rank-independent, train/resume, embed 1 vs 2 ranks, probe, bad jobs: ok"

# jobs/astromer-small.ini through `lcfm run` as shipped (stages ingest simulate train embed probe),
# shortened with -o overrides (200 labelled stars, a tiny encoder, 6 training steps, a short
# classifier): the MACHO sample is ingested, the labelled store simulated, Astromer 2 pretrained
# on both (a list of two stores read on demand), the labelled store embedded and probed; each
# stage's output is checked (objects, checkpoints, /layers and /z, macro F1 and gamma), then a
# second run skips every stage.
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/macho" ]; then echo "skipped: no MACHO sample (set LCFM_SHARED_DATA)"; exit 77; fi
ln -s "$(cd "$DATA/.." && pwd)" shared # the job names its input ../shared/data/macho/...
mkdir root && cd root
JOB=$SOURCE/jobs/astromer-small.ini
short=(-o run.record=run.h5 -o simulate.stars=200 -o simulate.max_points=300 -o model.T=64 -o model.d_model=16
       -o model.heads=2 -o model.feed_forward=24 -o model.blocks=1 -o train.steps=6 -o train.batch_windows=8
       -o train.validation_every=3 -o train.validation_windows=16 -o train.log_every=3 -o embed.batch_windows=32
       -o "probe.samples_per_class=3 6" -o probe.folds=2 -o probe.raw_points=64 -o probe.classifier_steps=20
       -o probe.mlp_batch=16)
run_np 2 "$LCFM" run "${short[@]}" "$JOB" > run1.log 2>&1 || { cat run1.log; fail "lcfm run astromer-small.ini"; }
for stage in ingest simulate train embed probe; do
  grep -q "stage $stage: running" run1.log || { cat run1.log; fail "stage $stage did not run"; }
done
grep -q "held-out score of the best model" run1.log || { cat run1.log; fail "train printed no held-out score"; }
/usr/bin/python3 - <<'PY' || fail "the stages' outputs"
import h5py, numpy as np
def schema(f):
    s = f.attrs["schema"]
    return s.decode() if isinstance(s, bytes) else s
with h5py.File("astromer-macho.h5", "r") as m:
    n = m["objects/id"].shape[0]
    assert schema(m) == "lcfm-store" and n > 0, (schema(m), n)
    assert m["points/value"].shape[0] == m["objects/length"][:].sum() > 0
with h5py.File("astromer-labelled.h5", "r") as lab:
    ids, labels = lab["objects/id"][:], lab["objects/label"][:]
    assert ids.shape == (200,) and set(labels) == set(range(5)), (ids.shape, set(labels))
for path in ("astromer-small.h5", "astromer-small.best.h5"):
    with h5py.File(path, "r") as c:
        assert schema(c) == "lcfm-checkpoint", path
        assert all(np.isfinite(c["params"][k][:]).all() for k in c["params"]), path
with h5py.File("astromer-embeddings.h5", "r") as e:
    layers, z = e["layers"][:], e["z"][:]
    assert layers.shape == (200, 2 * 16) and z.shape == (200, 16), (layers.shape, z.shape)
    assert np.isfinite(layers).all() and layers.std() > 0
    assert np.allclose(layers.reshape(200, 2, 16).mean(axis=1), z, atol=1e-6)
    assert np.array_equal(e["objects/id"][:], ids)
with h5py.File("astromer-probe.h5", "r") as p:
    f1 = p["classification/f1"][:]
    assert f1.shape == (2, 4) and np.all((f1 >= 0) & (f1 <= 1)), f1
    g = p["classification/gamma"][:]
    assert np.allclose(g.sum(axis=1), 1.0), g
PY
run_np 2 "$LCFM" run "${short[@]}" "$JOB" > run2.log 2>&1 || { cat run2.log; fail "lcfm run again"; }
for stage in ingest simulate train embed probe; do
  grep -q "stage $stage: skipped" run2.log || { cat run2.log; fail "stage $stage ran again"; }
done
echo "astromer-small runs through lcfm run: ingest, simulate, train, embed, probe; skipped when done"

# jobs/tess-reprocess.ini through `lcfm run` (stages ingest, embed): a small quickstart model
# gives the checkpoint, the run ingests the TESS and Kepler samples and embeds them; a second run
# skips both stages; a changed [ingest] key reruns the ingest and, since its output was written
# again, the embedding. Sanitizer builds (LCFM_TEST_SANITIZED=1) ingest only TIC 150065151.
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
ln -s "$(cd "$DATA/.." && pwd)" shared
mkdir root && cd root
inputs=() objects=6
if [ "${LCFM_TEST_SANITIZED:-0}" = 1 ]; then inputs=(-o "ingest.inputs=../shared/data/tess/*150065151*") objects=2; fi
JOB=$SOURCE/jobs/tess-reprocess.ini
run_np 2 "$LCFM" simulate -o simulate.stars=40 "$SOURCE/jobs/quickstart.ini" > simulate.log || { cat simulate.log; fail "simulate"; }
run_np 2 "$LCFM" train -o train.steps=6 -o train.validation_every=3 -o train.validation_triplets=8 \
  -o train.batch_triplets=8 -o train.log_every=3 "$SOURCE/jobs/quickstart.ini" > train.log || { cat train.log; fail "train"; }
run_np 2 "$LCFM" run -o run.record=run.h5 "${inputs[@]}" "$JOB" > run1.log 2>&1 || { cat run1.log; fail "lcfm run"; }
grep -q "stage ingest: running" run1.log && grep -q "stage embed: running" run1.log || { cat run1.log; fail "run 1 did not run both stages"; }
"$LCFM" info tess-reprocess.h5 > info.txt
grep -q "^objects      $objects$" info.txt || { cat info.txt; fail "lcfm info: expected $objects objects"; }
/usr/bin/python3 - "$objects" <<'PY' || fail "the embeddings"
import sys
try:
    import h5py, numpy as np
except ImportError as missing:
    print(f"skipped the h5py checks: {missing}")
    sys.exit(0)
with h5py.File("tess-reprocess.h5", "r") as s, h5py.File("tess-reprocess-embeddings.h5", "r") as e:
    assert np.array_equal(e["objects/id"][:], s["objects/id"][:]), "embedding ids do not match the store"
    z = e["z_star"][:]
    assert z.shape == (int(sys.argv[1]), 20) and np.isfinite(z).all(), f"z_star {z.shape} not finite"
PY
run_np 2 "$LCFM" run -o run.record=run.h5 "${inputs[@]}" "$JOB" > run2.log 2>&1 || { cat run2.log; fail "lcfm run again"; }
grep -q "stage ingest: skipped" run2.log && grep -q "stage embed: skipped" run2.log || { cat run2.log; fail "run 2 did not skip both stages"; }
run_np 2 "$LCFM" run -o run.record=run.h5 -o ingest.flux=sap "${inputs[@]}" "$JOB" > run3.log 2>&1 || { cat run3.log; fail "lcfm run with SAP flux"; }
grep -q "stage ingest: running.*made by another job.*flux" run3.log && grep -q "stage embed: running.*written again" run3.log ||
  { cat run3.log; fail "a changed [ingest] flux did not rerun ingest and embed"; }
echo "tess-reprocess runs through lcfm run: ingest, embed; skipped when done"

# jobs/tess-reprocess.ini end to end, as its header says to run it: a small quickstart model
# (simulated store, 20 training steps) gives the checkpoint, then the job ingests the TESS and
# Kepler samples and embeds them. The store must hold TIC 150065151 as one source under two
# instruments (sectors 1 and 2), and the embedding store one row per object with finite latents.
# Sanitizer builds (LCFM_TEST_SANITIZED=1) run the engine some 20 times slower: there the job
# embeds only the two light curves of TIC 150065151 (ingest_samples ingests everything).
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
# The job names ../shared/data: give the working directory that neighbour.
ln -s "$(cd "$DATA/.." && pwd)" shared
mkdir root && cd root
inputs=() objects=6 sources=4
if [ "${LCFM_TEST_SANITIZED:-0}" = 1 ]; then inputs=(-o "ingest.inputs=../shared/data/tess/*150065151*") objects=2 sources=1; fi
run_np 2 "$LCFM" simulate -o simulate.stars=40 "$SOURCE/jobs/quickstart.ini" > simulate.log || { cat simulate.log; fail "simulate"; }
run_np 2 "$LCFM" train -o train.steps=6 -o train.validation_every=3 -o train.validation_triplets=8 \
  -o train.batch_triplets=8 -o train.log_every=3 "$SOURCE/jobs/quickstart.ini" > train.log || { cat train.log; fail "train"; }
[ -f quickstart-model.best.h5 ] || fail "no best checkpoint"
run_np 2 "$LCFM" ingest "${inputs[@]}" "$SOURCE/jobs/tess-reprocess.ini" > ingest.log || { cat ingest.log; fail "ingest"; }
run_np 2 "$LCFM" embed "$SOURCE/jobs/tess-reprocess.ini" > embed.log || { cat embed.log; fail "embed"; }
"$LCFM" info tess-reprocess.h5 > info.txt
grep -q "^objects      $objects$" info.txt && grep -q "^sources      $sources$" info.txt || { cat info.txt; fail "lcfm info"; }
/usr/bin/python3 - <<'PY' || fail "TIC 150065151 or the embeddings"
import sys
try:
    import h5py, numpy as np
except ImportError as missing:
    print(f"skipped the h5py checks: {missing}")
    sys.exit(0)
with h5py.File("tess-reprocess.h5", "r") as s, h5py.File("tess-reprocess-embeddings.h5", "r") as e:
    source, instrument = s["objects/source"][:], s["objects/instrument"][:]
    names = [n.decode() for n in s["instruments/name"][:]]
    rows = np.flatnonzero(source == 150065151)
    seen = sorted(names[instrument[i]] for i in rows)
    assert seen == ["tess-s01-cam4-ccd4", "tess-s02-cam4-ccd4"], f"TIC 150065151 seen as {seen}"
    assert len(set(s["objects/field"][rows])) == 2, "TIC 150065151 is not in two sectors"
    assert np.array_equal(e["objects/id"][:], s["objects/id"][:]), "embedding ids do not match the store"
    assert np.array_equal(e["objects/source"][:], source), "embedding sources do not match the store"
    for name in ("z_star", "z_instr"):
        z = e[name][:]
        assert z.shape == (len(source), 20) and np.isfinite(z).all(), f"{name} {z.shape} not finite"
print(f"TIC 150065151: one source under {seen}; {len(source)} objects embedded")
PY
echo "tess-reprocess runs end to end"

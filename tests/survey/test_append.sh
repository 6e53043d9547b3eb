# [store] mode = append: a second TESS sector added to a store made from the first (1 and 2
# ranks). The first sector's objects keep their ids, every light curve equals the store made
# from both sectors at once, a file already in the store (a renamed copy of a sector-1 file) is
# a duplicate reject naming the stored object and is not stored twice, and appending the same
# files again stores nothing new and leaves the store as it was. /history keeps the provenance of
# both runs (a store from before /history gets its root provenance as /history/0).
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
mkdir s1 s2 both
cp "$DATA"/tess/*-s0001-*.fits s1/ && cp "$DATA"/tess/*-s0002-*.fits s2/ && cp "$DATA"/tess/*.fits both/
cp "$DATA"/tess/tess2018206045859-s0001-0000000126602778-0120-s_lc.fits s2/zz_copy_of_sector1.fits
ingest() { # ranks output inputs mode
  printf '[ingest]\noutput = %s\ninputs = %s\n[store]\nmode = %s\n' "$2" "$3" "$4" > "job_$2.ini"
  run_np "$1" "$LCFM" ingest "job_$2.ini" > "log_$2.txt" 2>&1 || { cat "log_$2.txt"; fail "ingest $2 ($4)"; }
}
ingest 1 both.h5 both create
for n in 1 2; do
  ingest $n first$n.h5 s1 create
  cp first$n.h5 grown$n.h5
  ingest $n grown$n.h5 s2 append
  grep -q "1 rejected (duplicate)" log_grown$n.h5.txt || { cat log_grown$n.h5.txt; fail "duplicate not reported ($n ranks)"; }
  cp grown$n.h5 again$n.h5
  ingest $n again$n.h5 s2 append
  grep -q "nothing new" log_again$n.h5.txt || { cat log_again$n.h5.txt; fail "appending twice stored something"; }
done
cp first1.h5 legacy.h5
/usr/bin/python3 -c 'import h5py; f = h5py.File("legacy.h5", "a"); del f["history"]' || fail "legacy store"
ingest 1 legacy.h5 s2 append
/usr/bin/python3 - <<'PY' || fail "append"
import h5py, numpy as np
def load(name):
    with h5py.File(name, "r") as f:
        return {g + "/" + k: f[g][k][:] for g in ("objects", "points", "rejects", "instruments") for k in f[g]}
both = load("both.h5")
for n in (1, 2):
    first, grown, again = load(f"first{n}.h5"), load(f"grown{n}.h5"), load(f"again{n}.h5")
    k = len(first["objects/id"])
    assert k == 3 and len(grown["objects/id"]) == 4, f"{n} ranks: {k} then {len(grown['objects/id'])} objects"
    for c in ("id", "source", "instrument", "field", "length", "offset"):
        assert np.array_equal(grown["objects/" + c][:k], first["objects/" + c]), f"{n} ranks: sector 1 {c} changed"
    for c in ("id", "source", "field", "length", "offset", "median_flux", "ra", "dec", "magnitude"):
        assert np.array_equal(grown["objects/" + c], both["objects/" + c], equal_nan=c not in ("id", "source", "field", "length", "offset")), f"{n} ranks: {c} differs from the store made at once"
    names = lambda s: [s["instruments/name"][i] for i in s["objects/instrument"]]
    assert names(grown) == names(both), f"{n} ranks: instruments differ"
    for c in ("time", "value", "error"):
        assert np.array_equal(grown["points/" + c], both["points/" + c]), f"{n} ranks: points/{c} differ"
    reasons, keys, messages = grown["rejects/reason"], grown["rejects/key"], grown["rejects/message"]
    assert list(reasons) == [8], f"{n} ranks: rejects {list(reasons)}"
    assert keys[0].endswith(b"zz_copy_of_sector1.fits") and b"object 1 of grown" in messages[0], (keys[0], messages[0])
    for key in grown:
        assert np.array_equal(again[key], grown[key]), f"{n} ranks: appending again changed {key}"
for name, ranks in (("grown1.h5", 1), ("grown2.h5", 2), ("legacy.h5", 1)):
    with h5py.File(name, "r") as f:
        h = f["history"]
        assert sorted(h, key=int) == ["0", "1"], (name, list(h))
        created, appended = h["0"].attrs, h["1"].attrs
        assert (created["first_object"], created["objects"]) == (0, 3), (name, dict(created))
        assert (appended["first_object"], appended["objects"]) == (3, 1), (name, dict(appended))
        assert b"mode = create" in created["job"] and b"mode = append" in appended["job"], name
        assert appended["ranks"] == ranks and appended["job"] == f.attrs["job"], name
print("append: OK")
PY

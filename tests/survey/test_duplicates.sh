# The same light curve in several files (a copy, a renamed copy, a .fits.gz, the same columns
# under another TIC, another star's columns under the same TIC/sector/camera/CCD, the MACHO CSV
# with a UTF-8 BOM and gzipped) is stored once, from the first file in sorted order, and every
# other one is in /rejects as a duplicate (reason 8) naming the kept file; on 1, 2 and 4 ranks
# (the files of a light curve on different ranks) the stores are identical. Negative FITS flux
# errors are dropped like MACHO's; a CSV with a BOM alone is read in full.
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
mkdir dups
set +e
/usr/bin/python3 "$(dirname "$0")/make_duplicates.py" "$DATA" dups > expected.txt; code=$?
set -e
[ $code -eq 77 ] && { cat expected.txt; exit 77; }
[ $code -eq 0 ] || fail "make_duplicates.py"
for n in 1 2 4; do
  printf '[ingest]\noutput = dups%d.h5\ninputs = dups\n' "$n" > job$n.ini
  run_np $n "$LCFM" ingest job$n.ini > ingest$n.log 2>&1 || { cat ingest$n.log; fail "ingest on $n ranks"; }
done
grep -q "108 rejected (duplicate)" ingest2.log || { cat ingest2.log; fail "duplicates not counted in the log"; }
mkdir bom && cp dups/h_macho_bom.csv bom/
printf '[ingest]\noutput = bom.h5\ninputs = bom\n' > bom.ini
"$LCFM" ingest bom.ini > bom.log 2>&1 || { cat bom.log; fail "a CSV with a UTF-8 BOM was not ingested"; }
/usr/bin/python3 - expected.txt <<'PY' || fail "duplicates"
import sys, h5py, numpy as np
def load(name):
    with h5py.File(name, "r") as f:
        return {g + "/" + k: f[g][k][:] for g in ("objects", "points", "rejects") if g in f for k in f[g]}
stores = {n: load(f"dups{n}.h5") for n in (1, 2, 4)}
for n in (2, 4):
    for k, v in stores[1].items():
        assert np.array_equal(v, stores[n][k], equal_nan=v.dtype.kind == "f"), f"{k} differs between 1 and {n} ranks"
s = stores[2]
keys = [k.decode() for k in s["rejects/key"]]
messages = [m.decode() for m in s["rejects/message"]]
reasons = list(s["rejects/reason"])
source, length = list(s["objects/source"]), list(s["objects/length"])
assert all(r == 8 for r in reasons), f"reasons {set(reasons)}"
problems = []
for line in open(sys.argv[1]):
    name, what, *rest = line.split()
    if what == "duplicate":
        hits = [m for k, m in zip(keys, messages) if k == name]
        if len(hits) != 1 or f"duplicate of {rest[0]}" not in hits[0]:
            problems.append(f"{name}: rejects {hits}, expected one naming {rest[0]}")
    elif what == "duplicates":
        hits = [m for k, m in zip(keys, messages) if k.startswith(name + "#")]
        if len(hits) != int(rest[1]) or not all(f"duplicate of {rest[0]}#" in m for m in hits):
            problems.append(f"{name}: {len(hits)} duplicate rejects, expected {rest[1]} naming {rest[0]}")
    elif what == "kept" or what == "points":
        if any(k == name for k in keys):
            problems.append(f"{name}: rejected, expected kept")
if source.count(117544915) != 1 or 999 in source:
    problems.append(f"TIC 117544915 stored {source.count(117544915)} times (TIC 999: {999 in source})")
negative = [l for l in open(sys.argv[1]) if " points " in l][0].split()
at = source.index(150065151)
if length[at] != int(negative[2]):
    problems.append(f"negative errors: {length[at]} points kept, astropy keeps {negative[2]} (errors >= 0)")
if len(source) != 54:
    problems.append(f"{len(source)} objects, expected 54 (2 TESS, 52 MACHO)")
with h5py.File("bom.h5", "r") as f:
    if len(f["objects/id"]) != 52 or len(f["rejects/key"]) != 0:
        problems.append(f"BOM CSV alone: {len(f['objects/id'])} objects, {len(f['rejects/key'])} rejects")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{len(keys)} duplicates rejected, {len(source)} objects kept, identical on 1, 2 and 4 ranks")
PY
echo "duplicate light curves are stored once"

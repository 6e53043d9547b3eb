# A corpus of damaged files (made by make_damaged.py) is ingested with one good file: exit 0,
# every damaged file or row is in /rejects with its reason, the good objects are in the store, the
# log counts rejects by reason; a corpus of damaged files only exits 1 and writes no store.
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
mkdir corpus
set +e
/usr/bin/python3 "$(dirname "$0")/make_damaged.py" "$DATA" corpus > expected.txt; code=$?
set -e
[ $code -eq 77 ] && { cat expected.txt; exit 77; }
[ $code -eq 0 ] || fail "make_damaged.py"
printf '[ingest]\noutput = mixed.h5\ninputs = corpus\n' > job.ini
run_np 2 "$LCFM" ingest job.ini > mixed.log 2> mixed.err || { cat mixed.log mixed.err; fail "ingest of the corpus"; }
grep -q "rejected (unreadable)" mixed.log && grep -q "rejected (format)" mixed.log && grep -q "rejected (parse)" mixed.log \
  && grep -q "rejected (range)" mixed.log \
  || { cat mixed.log; fail "rejects not counted by reason in the log"; }
/usr/bin/python3 - expected.txt mixed.h5 corpus <<'PY' || fail "rejects"
import sys, h5py
expected = [line.split() for line in open(sys.argv[1])]
with h5py.File(sys.argv[2], "r") as f:
    keys = [k.decode() for k in f["rejects/key"][:]]
    reasons = list(f["rejects/reason"][:])
    sources = set(f["objects/source"][:])
    fields = set(f["objects/field"][:])
    messages = dict(zip(keys, [m.decode() for m in f["rejects/message"][:]]))
found = dict(zip(keys, reasons))
bad = [f"{name}: expected reason {reason}, got {found.get(name)}" for name, reason in expected if found.get(name) != int(reason)]
assert 117544915 in sources, "the good TESS file is missing"
assert 0 not in fields, "an object was stored with field 0 (a wrapped sector?)"
assert "1099511627776" in messages[sys.argv[3] + "/sector_2_40.fits"], "SECTOR = 2^40 not named in the reject"
assert 5 * 10**10 + 1234 * 10**5 + 77 in sources, "the archive-format star with one bad line is missing"
assert any(s // 10**10 == 1 for s in sources), "the CSV with a few bad rows lost its stars"
if bad:
    print("\n".join(bad))
    sys.exit(1)
print(f"{len(expected)} damaged files or rows rejected with the right reason; {len(sources)} sources kept")
PY
mkdir only_damaged
for f in corpus/*; do case "$f" in *good_tess*|*some_bad_rows*|*F_5*) ;; *) cp "$f" only_damaged/ ;; esac; done
printf '[ingest]\noutput = nothing.h5\ninputs = only_damaged\n' > bad.ini
set +e
run_np 2 "$LCFM" ingest bad.ini > nothing.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "nothing could be read" nothing.log && [ ! -f nothing.h5 ] && [ ! -f nothing.h5.partial ] \
  || { cat nothing.log; fail "damaged-only corpus: exit $code"; }
echo "damaged inputs are skipped and recorded"

# lcfm ingest on the sample survey files: 1 and 2 ranks, small blocks, keep_mb = 0 (every
# object decoded twice) and keep_mb = 1 (some of each) give identical stores (provenance aside),
# and an independent reading with astropy agrees (check_ingest.py).
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
cat > job.ini <<INI
[ingest]
output = one.h5
inputs = $DATA/tess $DATA/kepler $DATA/macho/*.csv
INI
run_np 1 "$LCFM" ingest job.ini > one.log || { cat one.log; fail "1 rank"; }
run_np 2 "$LCFM" ingest -o ingest.output=two.h5 job.ini > two.log || { cat two.log; fail "2 ranks"; }
# Small blocks: many collective writes, cut by objects (3) and by points (every FITS object is
# longer than 5000 points and goes alone), a different number on each rank.
run_np 2 "$LCFM" ingest -o ingest.output=blocks.h5 -o ingest.block_objects=3 -o ingest.block_points=5000 job.ini \
  > blocks.log || { cat blocks.log; fail "2 ranks, small blocks"; }
# keep_mb = 0: nothing kept from reading, every object decoded again when written.
run_np 2 "$LCFM" ingest -o ingest.output=again.h5 -o ingest.keep_mb=0 job.ini > again.log || { cat again.log; fail "keep_mb = 0"; }
# keep_mb = 1: the first objects of each rank are written straight from memory (batches of 2),
# the rest decoded again (batches cut by points).
run_np 2 "$LCFM" ingest -o ingest.output=part.h5 -o ingest.keep_mb=1 -o ingest.block_objects=2 job.ini > part.log \
  || { cat part.log; fail "keep_mb = 1"; }
for group in /objects /points /instruments /rejects; do
  h5diff -r one.h5 again.h5 $group $group > diff.txt || { head diff.txt; fail "$group differs with keep_mb = 0"; }
  h5diff -r one.h5 part.h5 $group $group > diff.txt || { head diff.txt; fail "$group differs with keep_mb = 1"; }
  h5diff -r one.h5 two.h5 $group $group > diff.txt || { head diff.txt; fail "$group differs between 1 and 2 ranks"; }
  h5diff -r one.h5 blocks.h5 $group $group > diff.txt || { head diff.txt; fail "$group differs with small blocks"; }
done
"$LCFM" info two.h5 | grep -q "objects      58" || fail "object count"
/usr/bin/python3 "$(dirname "$0")/check_ingest.py" two.h5 "$DATA"

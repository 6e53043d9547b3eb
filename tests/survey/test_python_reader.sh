# tools/lcfm_store.py against astropy's own reading of every sample file: lcfm ingest (quality
# flags kept), then check_reader.py compares each light curve's times (BJD TDB; MACHO JD UTC),
# fluxes, errors, units, quality flags and header metadata, the objects table, and the join of
# an embedding store.
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
cat > job.ini <<INI
[ingest]
output = samples.h5
inputs = $DATA/tess $DATA/kepler $DATA/macho/*.csv
keep_quality = true
INI
run_np 2 "$LCFM" ingest job.ini > ingest.log 2>&1 || { cat ingest.log; fail "ingest"; }
PYTHONPATH="$SOURCE/tools" /usr/bin/python3 "$(dirname "$0")/check_reader.py" samples.h5 "$DATA"
# The quality flags also when every object is decoded a second time to be written.
run_np 2 "$LCFM" ingest -o ingest.output=again.h5 -o ingest.keep_mb=0 job.ini > again.log 2>&1 || { cat again.log; fail "keep_mb = 0"; }
h5diff samples.h5 again.h5 /points/quality /points/quality || fail "quality flags differ with keep_mb = 0"

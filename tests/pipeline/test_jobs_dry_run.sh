# Every job file shipped in jobs/ plans as it is: `lcfm run --dry-run JOB` (a grid job:
# `lcfm sweep --list JOB`, which plans every point) exits 0 from a working directory beside the
# sample data, as the job headers say to run them. A job that no longer plans (a stage whose
# input nothing makes, plots refused for a classification probe, a missing output key) fails here.
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ] || [ ! -d "$DATA/macho" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
# The jobs name ../shared/data: give the working directory that neighbour.
ln -s "$(cd "$DATA/.." && pwd)" shared
mkdir root && cd root
# astromer-paper ingests the MACHO archive through @macho-archive-manifest.txt: here, the sample.
ls "$DATA"/macho/*.csv > macho-archive-manifest.txt
jobs=0
for job in "$SOURCE"/jobs/*.ini; do
  name=$(basename "$job")
  if grep -q '^\[sweep\]' "$job"; then
    "$LCFM" sweep --list "$job" > "$name.log" 2>&1 || { cat "$name.log"; fail "$name: lcfm sweep --list"; }
  else
    run_np 2 "$LCFM" run --dry-run "$job" > "$name.log" 2>&1 || { cat "$name.log"; fail "$name: lcfm run --dry-run"; }
    grep -q "would run" "$name.log" || { cat "$name.log"; fail "$name: the dry run names no stage to run"; }
  fi
  jobs=$((jobs + 1))
done
[ "$jobs" -ge 8 ] || fail "only $jobs job files in $SOURCE/jobs"
# The dry run wrote nothing.
[ -z "$(find . -name '*.h5' -o -name '*.partial')" ] || fail "a dry run wrote $(find . -name '*.h5' -o -name '*.partial')"
# The survey jobs plan their ingest stage.
grep -q "stage ingest: would run" astromer-small.ini.log || { cat astromer-small.ini.log; fail "astromer-small plans no ingest"; }
grep -q "stage ingest: would run" tess-reprocess.ini.log || { cat tess-reprocess.ini.log; fail "tess-reprocess plans no ingest"; }
# A missing survey input is a job-file problem found while planning (exit 2), before any stage.
code=0
run_np 2 "$LCFM" run --dry-run -o "ingest.inputs=../shared/data/no-such-dir" "$SOURCE/jobs/tess-reprocess.ini" > missing.log 2>&1 || code=$?
[ "$code" = 2 ] && grep -q "ingest.*inputs" missing.log || { cat missing.log; fail "a missing ingest input: exit $code"; }
echo "$jobs job files plan"

#!/bin/bash
# bench_ingest.sh: ingest rate (files/s, points/s) and peak memory per rank of `lcfm ingest` on
# 2 ranks, over TESS-format corpora made from the sample files by make_tess_corpus.py (new TIC ids
# and sectors, the samples' 20,000-cadence tables: 2 MB a file).
#   tools/bench_ingest.sh BUILD_DIR [DIR [SIZES...]]     defaults: build, /tmp, 1000 5000
# One corpus of the largest size is written under DIR (10 GB for 5,000 files); each size ingests
# its first SIZE files through an @manifest. Everything is deleted at the end. The files were
# just written, so they are read from the page cache unless LCFM_BENCH_COLD=1 (root: drops the
# caches before each ingest). Peak memory per rank should not grow with the number of files:
# a rank holds one file and one block of block_objects objects at a time.
set -euo pipefail
build=${1:-build}; dir=${2:-/tmp}; shift 2 || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000)
here=$(cd "$(dirname "$0")" && pwd)
samples=${LCFM_SHARED_DATA:-$here/../../shared/data}/tess
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
work=$(mktemp -d "$dir/bench_ingest.XXXXXX")
trap 'rm -rf "$work"' EXIT

largest=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -1)
start=$(date +%s.%N)
/usr/bin/python3 "$here/make_tess_corpus.py" "$samples" "$work/files" "$largest"
echo "corpus written in $(echo "$(date +%s.%N) - $start" | bc) s ($(du -sh "$work/files" | cut -f1))"
find "$work/files" -name '*.fits' | sort > "$work/all.txt"

first_peak=""
for size in "${sizes[@]}"; do
  head -n "$size" "$work/all.txt" > "$work/manifest.txt"
  printf '[ingest]\noutput = %s/store.h5\ninputs = @%s/manifest.txt\n' "$work" "$work" > "$work/job.ini"
  if [ "${LCFM_BENCH_COLD:-0}" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
  mpirun -np 2 "$build/lcfm" ingest "$work/job.ini" > "$work/log.txt" || { cat "$work/log.txt"; exit 1; }
  # "ingest: N files -> O objects, P points, R rejects" and "SUCCESS ingest in T s (peak memory per rank: M MiB ..."
  points=$(sed -n 's/.*ingest: [0-9]* files -> [0-9]* objects, \([0-9]*\) points.*/\1/p' "$work/log.txt")
  seconds=$(sed -n 's/.*SUCCESS ingest in \([0-9.]*\) s.*/\1/p' "$work/log.txt")
  peak=$(sed -n 's/.*peak memory per rank: \([0-9.]*\) MiB.*/\1/p' "$work/log.txt")
  store=$(du -h "$work/store.h5" | cut -f1)
  rm -f "$work/store.h5"
  first_peak=${first_peak:-$peak}
  awk -v n="$size" -v p="$points" -v t="$seconds" -v m="$peak" -v m0="$first_peak" -v s="$store" 'BEGIN {
    printf "%d files (%d points kept, store %s): %.2f s, %.0f files/s, %.3g points/s, peak memory per rank %.1f MiB (%.2fx the first size)\n",
           n, p, s, t, n / t, p / t, m, m / m0 }'
done

#!/bin/bash
# bench_ingest.sh: ingest rate of `lcfm ingest` on RANKS ranks against an astropy loop on one core
# (bench_ingest_astropy.py: read, mask and normalise the same columns) over the same files in the
# same run, with peak memory per rank, over TESS-format corpora made from the sample files by
# make_tess_corpus.py (new TIC ids and sectors, the samples' 20,000-cadence tables: 2 MB a file).
#   tools/bench_ingest.sh BUILD_DIR [DIR [SIZES...]]     defaults: build, /tmp, 1000 5000
#   env: LCFM_BENCH_RANKS (2), LCFM_BENCH_COLD=1 (root: drop the page cache before each reading),
#        LCFM_BENCH_REPEAT (3: runs of each program per size, interleaved; medians reported),
#        LCFM_BENCH_BASELINE=PATH (another lcfm binary, e.g. the previous build, measured in the
#        same run on the same files: before/after ratios that share the machine's load)
# One corpus of the largest size is written under DIR (10 GB for 5,000 files); each size ingests
# its first SIZE files through an @manifest. Everything is deleted at the end. The files were
# just written, so they are read from the page cache unless LCFM_BENCH_COLD=1. lcfm's rate per
# core is its rate over the ranks; the ratio printed is that against the astropy loop's rate,
# and the CPU seconds of both (less sensitive to other jobs on the machine than wall time). The
# load average is printed before and after: on a loaded machine compare the ratios of one run.
# Each size also splits lcfm's time into its reading pass (decoding every file) and the rest (the
# agreements, the store's write and its durable flush), beside what writing the store's bytes
# costs any program on this disk (dd of the same size with fdatasync, right after another write
# and after a 5 s pause: see write_floor).
# Peak memory per rank grows with the files until [ingest] keep_mb (decoded points kept between
# reading and writing), then stays there.
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
# Flushed now: left dirty, the corpus goes to the disk 30 s later (the kernel's dirty_expire),
# in the middle of whichever runs are under way then, and bills them with its writing.
sync
find "$work/files" -name '*.fits' | sort > "$work/all.txt"

ranks=${LCFM_BENCH_RANKS:-2}
repeat=${LCFM_BENCH_REPEAT:-3}
baseline=${LCFM_BENCH_BASELINE:-}
drop_caches() { if [ "${LCFM_BENCH_COLD:-0}" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# run_lcfm NAME BINARY: one ingest; appends "seconds cpu peak points" to $work/NAME.txt
run_lcfm() {
  drop_caches
  /usr/bin/time -f "%U %S" -o "$work/cpu.txt" mpirun --oversubscribe -np "$ranks" "$2" ingest "$work/job.ini" \
    > "$work/log.txt" || { cat "$work/log.txt"; exit 1; }
  # "ingest: N files -> O objects, P points, R rejects" and "SUCCESS ingest in T s (peak memory per rank: M MiB ..."
  local points seconds peak reading
  points=$(sed -n 's/.*ingest: [0-9]* files -> [0-9]* objects, \([0-9]*\) points.*/\1/p' "$work/log.txt")
  reading=$(sed -n 's/.*ingest (read): [0-9]* done in \([0-9.]*\) s.*/\1/p' "$work/log.txt")
  seconds=$(sed -n 's/.*SUCCESS ingest in \([0-9.]*\) s.*/\1/p' "$work/log.txt")
  peak=$(sed -n 's/.*peak memory per rank: \([0-9.]*\) MiB.*/\1/p' "$work/log.txt")
  echo "$seconds $(awk '{print $1 + $2}' "$work/cpu.txt") $peak $points $reading" >> "$work/$1.txt"
  store=$(du -h "$work/store.h5" | cut -f1)
  store_mib=$(du -m "$work/store.h5" | cut -f1)
  rm -f "$work/store.h5"
}

run_astropy() {
  drop_caches
  local out
  out=$(/usr/bin/time -f "%U %S" -o "$work/cpu.txt" /usr/bin/python3 "$here/bench_ingest_astropy.py" "$work/manifest.txt")
  echo "$(echo "$out" | sed -n 's/.* points \([0-9.]*\) s/\1/p') $(awk '{print $1 + $2}' "$work/cpu.txt")" >> "$work/astropy.txt"
}

column() { awk -v c="$2" '{ print $c }' "$work/$1.txt" | median; }

# write_floor MIB PAUSE: seconds to write MIB to this disk and flush it (dd, fdatasync), median of
# $repeat, each dd PAUSE seconds after the last write. On a VM that returns free memory to its
# host (free page reporting), page-cache pages touched for the first time since cost several times
# more: lcfm's writes come 5 s after the astropy loop's run, as in the pause-5 figure.
write_floor() {
  local i
  for ((i = 0; i < repeat; i++)); do
    sleep "$2"
    { /usr/bin/time -f "%e" dd if=/dev/zero of="$work/floor.bin" bs=1M count="$1" conv=fdatasync status=none; } 2>&1
    rm -f "$work/floor.bin"
  done | median
}

first_peak=""
for size in "${sizes[@]}"; do
  head -n "$size" "$work/all.txt" > "$work/manifest.txt"
  printf '[ingest]\noutput = %s/store.h5\ninputs = @%s/manifest.txt\n' "$work" "$work" > "$work/job.ini"
  rm -f "$work/lcfm.txt" "$work/baseline.txt" "$work/astropy.txt"
  load_before=$(load)
  for ((i = 0; i < repeat; i++)); do
    # The baseline goes first every other round: the run after another lcfm run finds memory just
    # freed, which on this VM is faster to touch than memory returned to the host meanwhile.
    if [ -n "$baseline" ] && [ $((i % 2)) = 1 ]; then run_lcfm baseline "$baseline"; fi
    run_lcfm lcfm "$build/lcfm"
    if [ -n "$baseline" ] && [ $((i % 2)) = 0 ]; then run_lcfm baseline "$baseline"; fi
    run_astropy
  done
  load_after=$(load)
  seconds=$(column lcfm 1); lcfm_cpu=$(column lcfm 2); peak=$(column lcfm 3); points=$(column lcfm 4)
  astropy_seconds=$(column astropy 1); astropy_cpu=$(column astropy 2)
  first_peak=${first_peak:-$peak}
  awk -v n="$size" -v p="$points" -v t="$seconds" -v m="$peak" -v m0="$first_peak" -v s="$store" -v r="$ranks" \
      -v a="$astropy_seconds" -v cold="${LCFM_BENCH_COLD:-0}" -v lc="$lcfm_cpu" -v ac="$astropy_cpu" -v k="$repeat" 'BEGIN {
    printf "%d files (%d points kept, store %s, %s cache; medians of %d runs): lcfm %.2f s on %d ranks, %.0f files/s, %.0f files/s per core; astropy loop %.2f s, %.0f files/s on one core: %.1fx per core; %.3g points/s, peak memory per rank %.1f MiB (%.2fx the first size)\n",
           n, p, s, cold == 1 ? "cold" : "warm", k, t, r, n / t, n / t / r, a, n / a, (n / t / r) / (n / a), p / t, m, m / m0
    printf "  CPU seconds (user + system, whole processes: MPI start-up and Python imports included): lcfm %.2f, astropy %.2f: %.1fx\n", lc, ac, ac / lc }'
  reading=$(column lcfm 5)
  awk -v rd="$reading" -v t="$seconds" -v w="$(write_floor "$store_mib" 0)" -v wp="$(write_floor "$store_mib" 5)" \
      -v m="$store_mib" -v a="$astropy_seconds" 'BEGIN {
    printf "  lcfm: reading pass %.2f s (%.1fx the astropy loop), the rest %.2f s; writing %d MiB and flushing it takes dd %.2f s on this disk right after another write, %.2f s after a 5 s pause; a fifth of the astropy loop is %.2f s\n", rd, a / rd, t - rd, m, w, wp, a / 5 }'
  echo "  runs (lcfm: seconds, CPU seconds): $(awk '{ printf "%s/%s ", $1, $2 }' "$work/lcfm.txt"); astropy: $(awk '{ printf "%s/%s ", $1, $2 }' "$work/astropy.txt")"
  if [ -n "$baseline" ]; then
    b_seconds=$(column baseline 1); b_cpu=$(column baseline 2); b_peak=$(column baseline 3)
    awk -v n="$size" -v t="$seconds" -v b="$b_seconds" -v lc="$lcfm_cpu" -v bc="$b_cpu" -v a="$astropy_seconds" \
        -v ac="$astropy_cpu" -v r="$ranks" -v bm="$b_peak" 'BEGIN {
      printf "  baseline %s: %.2f s, %.0f files/s per core, %.1fx the astropy loop per core (CPU %.2f s, %.1fx), peak %.1f MiB; this build is %.2fx faster (CPU %.2fx)\n",
             ENVIRON["LCFM_BENCH_BASELINE"], b, n / b / r, (n / b / r) / (n / a), bc, ac / bc, bm, b / t, bc / lc }'
    echo "  baseline runs: $(awk '{ printf "%s/%s ", $1, $2 }' "$work/baseline.txt")"
  fi
  echo "  load average before $load_before, after $load_after ($(getconf _NPROCESSORS_ONLN) cores)"
done

#!/usr/bin/env bash
# bench_astromer_scale.sh: memory per rank of Astromer 2's `lcfm train` against the store's size
# (issue 12 item 1 for model.kind = astromer2: windows read on demand, nothing replicated).
# Usage: tools/bench_astromer_scale.sh [BUILD_DIR (build)] [N (200000)] [WORK_DIR (a new /tmp dir)] [STEPS (5)]
# Simulates stores of N and 8N light curves with `lcfm simulate` (4 per star, 8 instruments, 32
# points; the same stores as tools/bench_train_scale.sh, so one WORK_DIR serves both, and a second
# run reuses them), then pretrains a small Astromer 2 (T = 32, d_model 16, 1 block) on each,
# 2 ranks, a global batch of 64 windows, STEPS steps, one validation of 64 held-out windows and the
# final score on every held-out window (validation_fraction 0.01), and prints per store: the peak
# resident memory of each rank (GNU time's maximum resident set size, KiB), the bytes each rank
# read per training step (the most of any rank, from train's log) and the wall time; then the
# ratio of the peak at 8N to the peak at N (issue 12's target: within 1.15).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/bench_scale_lib.sh"
n=${2:-200000}
steps=${4:-5}
bench_scale_begin bench_astromer_scale "${1:-build}" "${3:-$(mktemp -d /tmp/bench_astromer_scale.XXXXXX)}"
{
  bench_scale_simulate_sections bench-astromer-scale
  printf '[model]\nkind = astromer2\nT = 32\nd_model = 16\nheads = 2\nfeed_forward = 24\nblocks = 1\n'
  printf '[train]\nstore = sim.h5\ncheckpoint = astromer.h5\nbatch_windows = 64\nsteps = %s\nvalidation_every = %s\n' "$steps" "$steps"
  printf 'validation_windows = 64\nvalidation_fraction = 0.01\ncheckpoint_minutes = 0\nlog_every = 1\nresume = false\n'
} > astromer.ini
declare -A peak
for objects in "$n" $((8 * n)); do
  store=sim-$objects.h5
  bench_scale_store astromer.ini "$objects"
  rm -f astromer-$objects.h5 astromer-$objects.best.h5
  bench_scale_run "astromer-$objects.log" train -o train.store="$store" -o train.checkpoint=astromer-$objects.h5 astromer.ini
  peak[$objects]=$bench_peak
  printf "N = %9d (%s, %s): peak RSS per rank %s KiB; %s; train wall %.1f s\n" "$objects" "$store" \
    "$(du -h "$store" | cut -f1)" "$bench_peaks" "$(bench_scale_bytes "astromer-$objects.log")" "$bench_seconds"
done
bench_scale_ratio astromer2 "${peak[$n]}" "${peak[$((8 * n))]}" "$n"
echo "stores and logs in $PWD"

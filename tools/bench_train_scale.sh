#!/usr/bin/env bash
# bench_train_scale.sh: memory per rank of `lcfm train` against the store's size (issue 12 item 1).
# Usage: tools/bench_train_scale.sh [BUILD_DIR (build)] [N (200000)] [WORK_DIR (a new /tmp dir)] [STEPS (5)]
# Simulates stores of N and 8N light curves (4 per star, 8 instruments, T = 32 points; kept in
# WORK_DIR between runs, so a second run reuses them), then trains the causal model with the MLP
# encoder on each, 2 ranks, a global batch of 64 triplets, STEPS steps and one validation of 64
# triplets, and prints per store: the peak resident memory of each rank (GNU time's maximum
# resident set size, KiB), the bytes each rank read per training step and per validation batch
# (the most of any rank, from train's log), and the wall time; then the ratio of the peak at 8N
# to the peak at N (issue 12's target: within 1.15).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/bench_scale_lib.sh"
n=${2:-200000}
steps=${4:-5}
bench_scale_begin bench_train_scale "${1:-build}" "${3:-$(mktemp -d /tmp/bench_train_scale.XXXXXX)}"
{
  bench_scale_simulate_sections bench-train-scale
  printf '[model]\nkind = causal\nencoder = mlp\nT = 32\nlatent = 16\nmlp_hidden = 64\n'
  printf '[train]\nstore = sim.h5\ncheckpoint = model.h5\nbatch_triplets = 64\nsteps = %s\nvalidation_every = %s\n' "$steps" "$steps"
  printf 'validation_triplets = 64\nvalidation_fraction = 0.2\ncheckpoint_minutes = 0\nlog_every = 1\nresume = false\n'
} > job.ini
declare -A peak
for objects in "$n" $((8 * n)); do
  store=sim-$objects.h5
  bench_scale_store job.ini "$objects"
  rm -f model-$objects.h5 model-$objects.best.h5
  bench_scale_run "train-$objects.log" train -o train.store="$store" -o train.checkpoint=model-$objects.h5 job.ini
  peak[$objects]=$bench_peak
  printf "N = %9d (%s, %s): peak RSS per rank %s KiB; %s; train wall %.1f s\n" "$objects" "$store" \
    "$(du -h "$store" | cut -f1)" "$bench_peaks" "$(bench_scale_bytes "train-$objects.log")" "$bench_seconds"
done
bench_scale_ratio train "${peak[$n]}" "${peak[$((8 * n))]}" "$n"
echo "stores and logs in $PWD"

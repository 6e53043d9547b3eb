#!/usr/bin/env bash
# bench_scale_memory.sh: peak memory per rank of `lcfm info`, `lcfm embed` and `lcfm probe` against
# the store's size (issue 12 item 7).
# Usage: tools/bench_scale_memory.sh [BUILD_DIR (build)] [N (200000)] [WORK_DIR (a new /tmp dir)]
# Uses the stores tools/bench_train_scale.sh makes in WORK_DIR (sim-N.h5 and sim-8N.h5: N and 8N
# simulated light curves, 4 per star, 8 instruments, T = 32; made here with the same keys when
# missing, so the two benchmarks can share a WORK_DIR), trains the causal model with the MLP
# encoder for 2 steps on sim-N.h5 (only to have a checkpoint), then on each store, 2 ranks, each
# process under GNU time: `lcfm info`, `lcfm embed` and `lcfm probe` (target theta0 with the
# oracle; 2 runs, sizes 10 100 1000, 100 MLP steps, 2000 test and 200 stopping objects: the
# probe's sample does not grow with the store, its linear probes and PCA over all objects do).
# Prints per verb and store the peak resident memory of each rank (maximum resident set size, KiB)
# and the wall time, then per verb the ratio of the largest rank's peak at 8N to that at N
# (issue 12's target: within 1.15).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/bench_scale_lib.sh"
n=${2:-200000}
bench_scale_begin bench_scale_memory "${1:-build}" "${3:-$(mktemp -d /tmp/bench_scale_memory.XXXXXX)}"
{
  bench_scale_simulate_sections bench-scale-memory
  printf '[model]\nkind = causal\nencoder = mlp\nT = 32\nlatent = 16\nmlp_hidden = 64\n'
  printf '[train]\nstore = sim-%s.h5\ncheckpoint = memory-model.h5\nbatch_triplets = 64\nsteps = 2\n' "$n"
  printf 'validation_every = 2\nvalidation_triplets = 64\ncheckpoint_minutes = 0\nresume = false\n'
  printf '[embed]\ncheckpoint = memory-model.h5\n'
  printf '[probe]\ntarget = theta0\nruns = 2\nsizes = 10 100 1000\nmlp_steps = 100\ntest_objects = 2000\nstopping_objects = 200\n'
} > memory.ini
for objects in "$n" $((8 * n)); do bench_scale_store memory.ini "$objects"; done
if [ ! -e memory-model.h5 ]; then
  mpirun --oversubscribe -np 2 "$lcfm" train memory.ini > memory-train.log 2>&1 || { cat memory-train.log; exit 1; }
fi
declare -A peak
measure() { # VERB OBJECTS ARGS...: runs the verb, prints the peaks, keeps the largest
  local verb=$1 objects=$2
  shift 2
  bench_scale_run "$verb-$objects.log" "$verb" "$@"
  peak[$verb-$objects]=$bench_peak
  printf "%-6s N = %8d: peak RSS per rank %s KiB; wall %.1f s\n" "$verb" "$objects" "$bench_peaks" "$bench_seconds"
}
for objects in "$n" $((8 * n)); do
  store=sim-$objects.h5
  measure info "$objects" "$store"
  rm -f "emb-$objects.h5" "probe-$objects.h5"
  measure embed "$objects" -o embed.store="$store" -o embed.output="emb-$objects.h5" memory.ini
  measure probe "$objects" -o probe.store="$store" -o probe.embeddings="emb-$objects.h5" \
    -o probe.output="probe-$objects.h5" memory.ini
done
for verb in info embed probe; do
  bench_scale_ratio "$(printf '%-6s' "$verb")" "${peak[$verb-$n]}" "${peak[$verb-$((8 * n))]}" "$n"
done
echo "stores and logs in $PWD"

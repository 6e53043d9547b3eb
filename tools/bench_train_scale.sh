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
build=$(cd "${1:-build}" && pwd)
n=${2:-200000}
work=${3:-$(mktemp -d /tmp/bench_train_scale.XXXXXX)}
steps=${4:-5}
lcfm=$build/lcfm
[ -x "$lcfm" ] || { echo "bench_train_scale: no $lcfm (build lcfm first)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_train_scale: needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
cores=$(nproc --all)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
cd "$work"
cat > job.ini <<EOF
[job]
name = bench-train-scale
seed = 3
[simulate]
output = sim.h5
instruments = 8
curves_per_star = 4
T = 32
instrument_terms = 8
block_stars = 4096
stars_per_field = 10000
[model]
kind = causal
encoder = mlp
T = 32
latent = 16
mlp_hidden = 64
[train]
store = sim.h5
checkpoint = model.h5
batch_triplets = 64
steps = $steps
validation_every = $steps
validation_triplets = 64
validation_fraction = 0.2
checkpoint_minutes = 0
log_every = 1
resume = false
EOF
echo "$("$lcfm" --version 2>/dev/null | head -1); $cores cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A peak
for objects in "$n" $((8 * n)); do
  store=sim-$objects.h5
  if [ ! -e "$store" ]; then
    mpirun --oversubscribe -np 2 "$lcfm" simulate -o simulate.stars=$((objects / 4)) -o simulate.output="$store" \
      job.ini > "simulate-$objects.log" 2>&1 || { cat "simulate-$objects.log"; exit 1; }
  fi
  rm -f model-$objects.h5 model-$objects.best.h5
  start=$(date +%s.%N)
  mpirun --oversubscribe -np 2 /usr/bin/time -f "PEAK_KIB %M" "$lcfm" train -o train.store="$store" \
    -o train.checkpoint=model-$objects.h5 job.ini > "train-$objects.log" 2>&1 || { cat "train-$objects.log"; exit 1; }
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  ranks=$(grep '^PEAK_KIB' "train-$objects.log" | awk '{ printf "%s%d", n++ ? ", " : "", $2 }')
  peak[$objects]=$(grep '^PEAK_KIB' "train-$objects.log" | awk '$2 > m { m = $2 } END { print m }')
  bytes=$(grep -o 'data read per rank.*' "train-$objects.log" | sed 's/data read per rank (the most of any rank): //')
  printf "N = %9d (%s, %s): peak RSS per rank %s KiB; %s; train wall %.1f s\n" "$objects" "$store" \
    "$(du -h "$store" | cut -f1)" "$ranks" "$bytes" "$seconds"
done
awk -v a="${peak[$n]}" -v b="${peak[$((8 * n))]}" -v n="$n" 'BEGIN {
  printf "peak RSS per rank (largest rank): %d KiB at N = %d, %d KiB at 8N: ratio %.3f (target <= 1.15)\n", a, n, b, b / a }'
echo "stores and logs in $work"

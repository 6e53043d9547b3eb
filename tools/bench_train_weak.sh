#!/usr/bin/env bash
# bench_train_weak.sh: weak scaling of `lcfm train` (issue 12 item 7): the per-rank batch stays
# fixed while the rank count grows, so an ideal machine keeps the time per step constant.
# Usage: tools/bench_train_weak.sh [BUILD_DIR (build)] [MODEL (mlp|paper)] [TRIPLETS_PER_RANK (8)]
#                                  [STEPS (12)] [RANKS... (1 2 4)]
# LCFM overrides the binary (e.g. a bundle's `lcfm` on PATH: LCFM=lcfm). The store is simulated
# once per work directory (WORK, default a new /tmp dir): 50,000 light curves, 8 instruments, T 100
# for `paper` (the paper's Conformer: 4 blocks, d 64, 4 heads, ff 128, kernel 31) or T 32 for
# `mlp` (MLP encoders). One thread per rank. Prints per rank count: the mean wall time of a
# step (steps after the first two, from the log's time stamps), the weak-scaling efficiency
# t(1 rank) / t(P ranks), triplets/s, and the bytes the busiest rank read per step. A small
# validation split keeps the end-of-training separation check (it embeds validation objects) short.
# More ranks than cores are oversubscribed: such rows only show that the run works.
# Ranks run unbound (--bind-to none; MPIRUN_ARGS replaces it): a node whose topology Open MPI
# misreads can otherwise bind every rank to one core, which looks exactly like a step time
# growing with the rank count. Rank 0's affinity line is printed with each row.
set -euo pipefail
build=${1:-build}
model=${2:-mlp}
per_rank=${3:-8}
steps=${4:-12}
shift 4 2>/dev/null || shift $#
ranks=("$@"); [ ${#ranks[@]} -gt 0 ] || ranks=(1 2 4)
lcfm=${LCFM:-$(cd "$build" && pwd)/lcfm}
work=${WORK:-$(mktemp -d /tmp/bench_train_weak.XXXXXX)}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cores=$(nproc --all)
mpirun_args=${MPIRUN_ARGS:---bind-to none}
case $model in
  paper) T=100; encoder="encoder = conformer
d_model = 64
heads = 4
feed_forward = 128
blocks = 4
kernel = 31
latent = 20" ;;
  mlp) T=32; encoder="encoder = mlp
latent = 16
mlp_hidden = 64" ;;
  *) echo "bench_train_weak: MODEL is mlp or paper, not '$model'" >&2; exit 2 ;;
esac
mkdir -p "$work"
cd "$work"
cat > weak-$model.ini <<EOF
[job]
name = bench-train-weak
seed = 5
[simulate]
output = weak-$model.h5
stars = 2500
instruments = 8
curves_per_star = 20
instrument_terms = 8
T = $T
[model]
kind = causal
T = $T
$encoder
[train]
store = weak-$model.h5
checkpoint = weak-$model-model.h5
steps = $steps
validation_every = 1000000
validation_fraction = 0.02
checkpoint_minutes = 0
log_every = 1
resume = false
threads = 1
EOF
[ -e weak-$model.h5 ] || mpirun --oversubscribe -np $((cores < 4 ? cores : 4)) "$lcfm" simulate weak-$model.ini \
  > simulate-$model.log 2>&1 || { cat simulate-$model.log; exit 1; }
echo "$("$lcfm" --version 2>/dev/null | head -1); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $cores cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model $model (T $T), $per_rank triplets per rank, $steps steps, 1 thread per rank"
printf "%6s %12s %11s %12s %s\n" ranks "s/step" efficiency triplets/s "read per step (busiest rank)"
base=""
for p in "${ranks[@]}"; do
  log=train-$model-$p.log
  rm -f weak-$model-model*.h5
  mpirun --oversubscribe $mpirun_args -np "$p" "$lcfm" train -o train.batch_triplets=$((per_rank * p)) weak-$model.ini \
    > "$log" 2>&1 || { cat "$log"; exit 1; }
  # mean over the steps after the first two (time stamps are in milliseconds; MLP steps take ~1 ms)
  step=$(grep -E '^\[ *[0-9.]+s\] step [0-9]+/' "$log" | sed -E 's/^\[ *([0-9.]+)s\].*/\1/' |
         awk 'NR == 3 { first = $1 } NR > 3 { last = $1; n++ } END { print n ? (last - first) / n : "nan" }')
  [ -n "$base" ] || base=$step
  bytes=$(grep -o 'data read per rank.*' "$log" | sed 's/data read per rank (the most of any rank): //' | head -1)
  note=""; [ "$p" -le "$cores" ] || note=" (oversubscribed: shows only that it runs)"
  awk -v p="$p" -v s="$step" -v b="$base" -v t=$((per_rank * p)) -v r="${bytes:-?}" -v n="$note" \
    'BEGIN { printf "%6d %12.4f %10.0f%% %12.1f %s%s\n", p, s, 100 * b / s, t / s, r, n }'
  grep -m1 -o 'threads [0-9]* OpenMP.*' "$log" | sed 's/^/       rank 0: /'
  grep -m1 -o 'warning: .* may run on only .*(the union[^)]*)' "$log" | sed 's/^/       /' || true
done
echo "logs in $work"

#!/usr/bin/env bash
# bench_nn.sh: the engine's training-step benchmark next to PyTorch's, same models, batches and
# threads (issue 3). Usage: tools/bench_nn.sh [BUILD_DIR (build)] [THREADS (2)] [STEPS (5)]
# Needs BUILD_DIR/bench_nn (cmake --build BUILD_DIR --target bench_nn) and /usr/bin/python3 with
# torch. OpenMP, OpenBLAS and torch thread counts are all set to THREADS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-2}
steps=${3:-5}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
c_out=$("$build/bench_nn" --threads "$threads" --steps "$steps")
echo "$c_out" | grep -v '^RESULT'
t_out=$(/usr/bin/python3 "$here/reference/bench_torch.py" --threads "$threads" --steps "$steps")
echo "$t_out" | grep -v '^RESULT'
echo
printf '%-9s %12s %12s %9s %10s %10s %14s\n' model "lcfm ms" "torch ms" speedup "GFLOP/s" "% sgemm" "act MiB/LC"
for m in causal astromer; do
  c=$(echo "$c_out" | grep "^RESULT $m ")
  t=$(echo "$t_out" | grep "^RESULT $m ")
  cms=$(echo "$c" | sed 's/.* ms=\([^ ]*\).*/\1/')
  gf=$(echo "$c" | sed 's/.* gflops=\([^ ]*\).*/\1/')
  pf=$(echo "$c" | sed 's/.* peak_frac=\([^ ]*\).*/\1/')
  act=$(echo "$c" | sed 's/.* act_mib_per_lc=\([^ ]*\).*/\1/')
  tms=$(echo "$t" | sed 's/.* ms=\([^ ]*\).*/\1/')
  awk -v m="$m" -v c="$cms" -v t="$tms" -v g="$gf" -v p="$pf" -v a="$act" 'BEGIN {
    printf "%-9s %12.1f %12.1f %8.2fx %10.1f %9.1f%% %14.2f\n", m, c, t, t / c, g, 100 * p, a }'
done

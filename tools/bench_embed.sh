#!/usr/bin/env bash
# bench_embed.sh: embedding (inference) throughput of the causal paper's model, lcfm's engine next
# to PyTorch's, same model, batch and threads, in one run (issue 5: target at least 3x).
# Usage: tools/bench_embed.sh [BUILD_DIR (build)] [THREADS (1)] [BATCH (256)] [REPEATS (3)] [ROUNDS (3)]
# Each round runs BUILD_DIR/bench_nn_embed, then tools/reference/bench_embed_torch.py, each timing
# REPEATS x 4 calls of BATCH windows; alternating the two in rounds keeps a shared machine's load
# from favouring either side. Prints every round, then the medians over rounds of light curves per
# second per core and of the per-round ratio.
# Needs BUILD_DIR/bench_nn_embed (cmake --build BUILD_DIR --target bench_nn_embed) and
# /usr/bin/python3 with torch. OpenMP, OpenBLAS and torch thread counts are all set to THREADS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-1}
batch=${3:-256}
repeats=${4:-3}
rounds=${5:-3}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
args=(--threads "$threads" --batch "$batch" --repeats "$repeats")
per_core() { echo "$1" | grep '^RESULT embed ' | sed 's/.* per_core=\([^ ]*\).*/\1/'; }
results=""
for round in $(seq "$rounds"); do
  c_out=$("$build/bench_nn_embed" "${args[@]}")
  t_out=$(/usr/bin/python3 "$here/reference/bench_embed_torch.py" "${args[@]}")
  echo "round $round:"
  echo "$c_out" | grep -v '^RESULT'
  echo "$t_out" | grep -v '^RESULT'
  results+="$(per_core "$c_out") $(per_core "$t_out")"$'\n'
done
echo "$results" | awk -v n="$threads" -v b="$batch" 'NF == 2 { c[++k] = $1; t[k] = $2; r[k] = $1 / $2 }
  function median(a, k,   i, j, x, s) {
    for (i = 1; i <= k; i++) s[i] = a[i]
    for (i = 2; i <= k; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
    return k % 2 ? s[(k + 1) / 2] : (s[k / 2] + s[k / 2 + 1]) / 2 }
  END {
    printf "\nlight curves per second per core, causal model (2 encoders), batch %d, %d threads, median of %d rounds:\n", b, n, k
    printf "lcfm %.0f, torch %.0f; lcfm/torch per round:", median(c, k), median(t, k)
    for (i = 1; i <= k; i++) printf " %.2fx", r[i]
    printf "; median %.2fx\n", median(r, k) }'

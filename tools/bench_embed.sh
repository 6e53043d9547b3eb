#!/usr/bin/env bash
# bench_embed.sh: embedding (inference) throughput of the causal paper's model, lcfm's engine next
# to PyTorch's, same model, batch and threads, in one run (issue 5: target at least 3x).
# Usage: tools/bench_embed.sh [BUILD_DIR (build-native)] [THREADS (1)] [BATCH (256)] [REPEATS (3)] [ROUNDS (3)]
# BUILD_DIR is configured, when new, as a Release build with -DLCFM_NATIVE=ON (tools/bench_build.sh
# says why) and bench_nn_embed is built there. Each round runs BUILD_DIR/bench_nn_embed, then
# tools/reference/bench_embed_torch.py (/usr/bin/python3 with torch), each timing REPEATS x 4
# calls of BATCH windows; alternating the two in rounds keeps a shared machine's load from
# favouring either side. Prints every round, then the medians over rounds of light curves per
# second per core (wall time) and per CPU second (the process's CPU time, all threads, which a
# loaded machine disturbs less), and of the per-round lcfm/torch ratios of both; and lcfm's GFLOP/s
# (analytic forward FLOPs) as a share of the FP32 FMA peak of the widest vector ISA at THREADS
# threads, which BUILD_DIR/bench_fma measures in each round (the machine's physical limit, issue 16).
# OpenMP, OpenBLAS and torch thread counts are all set to THREADS; OMP_WAIT_POLICY is left as the
# caller set it (for both sides).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build-native}
threads=${2:-1}
batch=${3:-256}
repeats=${4:-3}
rounds=${5:-3}
source "$here/bench_build.sh"
bench_build "$build" bench_nn_embed bench_fma
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
args=(--threads "$threads" --batch "$batch" --repeats "$repeats")
field() { echo "$1" | grep '^RESULT embed ' | sed "s/.* $2=\([^ ]*\).*/\1/"; }
echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)} for both sides"
results=""
for round in $(seq "$rounds"); do
  f_out=$("$build/bench_fma" --threads "$threads")
  c_out=$("$build/bench_nn_embed" "${args[@]}")
  t_out=$(/usr/bin/python3 "$here/reference/bench_embed_torch.py" "${args[@]}")
  echo "round $round ($(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/load average /')):"
  echo "$f_out" | grep '^FMA'
  echo "$c_out" | grep -v '^RESULT'
  echo "$t_out" | grep -v '^RESULT'
  fma=$(echo "$f_out" | grep '^RESULT fma isa=best ' | sed 's/.* gflops=\([^ ]*\).*/\1/')
  results+="$(field "$c_out" per_core) $(field "$t_out" per_core) $(field "$c_out" per_cpu_s) $(field "$t_out" per_cpu_s)"
  results+=" $(field "$c_out" gflops) $fma"$'\n'
done
echo "$results" | awk -v n="$threads" -v b="$batch" 'NF == 6 { c[++k] = $1; t[k] = $2; r[k] = $1 / $2
    cc[k] = $3; tc[k] = $4; rc[k] = $3 / $4; g[k] = $5; f[k] = $6; share[k] = $5 / $6 }
  function median(a, k,   i, j, x, s) {
    for (i = 1; i <= k; i++) s[i] = a[i]
    for (i = 2; i <= k; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
    return k % 2 ? s[(k + 1) / 2] : (s[k / 2] + s[k / 2 + 1]) / 2 }
  END {
    printf "\nlight curves per second, causal model (2 encoders), batch %d, %d threads, median of %d rounds:\n", b, n, k
    printf "per core (wall):  lcfm %.0f, torch %.0f; lcfm/torch per round:", median(c, k), median(t, k)
    for (i = 1; i <= k; i++) printf " %.2fx", r[i]
    printf "; median %.2fx\n", median(r, k)
    printf "per CPU second:   lcfm %.0f, torch %.0f; lcfm/torch per round:", median(cc, k), median(tc, k)
    for (i = 1; i <= k; i++) printf " %.2fx", rc[i]
    printf "; median %.2fx\n", median(rc, k)
    printf "lcfm GFLOP/s:     %.1f, FMA peak (%d threads) %.1f: %.1f%% of it\n", median(g, k), n, median(f, k),
      100 * median(share, k) }'

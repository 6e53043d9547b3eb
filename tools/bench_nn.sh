#!/usr/bin/env bash
# bench_nn.sh: the engine's training-step benchmark next to PyTorch's, same models, batches and
# threads (issue 3). Usage: tools/bench_nn.sh [BUILD_DIR (build-native)] [THREADS (2)] [STEPS (3)] [ROUNDS (3)]
# BUILD_DIR is configured, when new, as a Release build with -DLCFM_NATIVE=ON (tools/bench_build.sh
# says why) and bench_nn is built there. Each round runs BUILD_DIR/bench_nn, then
# tools/reference/bench_torch.py (/usr/bin/python3 with torch), each timing STEPS steps after a
# warm-up; alternating the two keeps a shared machine's load from favouring either. Prints every
# round, then per model the medians over rounds of ms/step (wall) and CPU ms/step (the process's
# CPU time, all threads; a loaded machine disturbs it less) and of the per-round torch/lcfm ratios;
# GFLOP/s and % sgemm compare each round's step with the GEMM peak bench_nn measures in that round,
# % FMA with the FP32 FMA peak of the widest vector ISA at THREADS threads (BUILD_DIR/bench_fma,
# also once per round: the machine's physical limit, issue 16);
# "3x needs" is the % of that peak a step with these FLOPs would need to run 3x faster than torch.
# OpenMP, OpenBLAS and torch thread counts are all set to THREADS; OMP_WAIT_POLICY is left as the
# caller set it (it applies to both sides: PASSIVE helps both on a machine whose cores are busy).
# BENCH_NN_ARGS, when set, is passed on to bench_nn (e.g. --keep-acts: the causal encoders keep
# every block activation instead of recomputing them in backward; "act MiB/LC" shows the memory).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build-native}
threads=${2:-2}
steps=${3:-3}
rounds=${4:-3}
source "$here/bench_build.sh"
bench_build "$build" bench_nn bench_fma
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
field() { echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)} for both sides; bench_nn options: ${BENCH_NN_ARGS:-(none)}"
rows=""
peaks=""
fma_peaks=""
for round in $(seq "$rounds"); do
  # every round measures the GEMM peak again, under the load of that round
  f_out=$("$build/bench_fma" --threads "$threads")
  # shellcheck disable=SC2086 # BENCH_NN_ARGS is a list of options
  c_out=$("$build/bench_nn" --threads "$threads" --steps "$steps" ${BENCH_NN_ARGS:-})
  t_out=$(/usr/bin/python3 "$here/reference/bench_torch.py" --threads "$threads" --steps "$steps")
  peaks+=" $(field "$(echo "$c_out" | grep '^RESULT sgemm ')" gflops)"
  fma=$(field "$(echo "$f_out" | grep '^RESULT fma isa=best ')" gflops)
  fma_peaks+=" $fma"
  echo "round $round ($(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/load average /')):"
  echo "$f_out" | grep '^FMA'
  echo "$c_out" | grep -v '^RESULT'
  echo "$t_out" | grep -v '^RESULT'
  for m in causal astromer; do
    c=$(echo "$c_out" | grep "^RESULT $m ")
    t=$(echo "$t_out" | grep "^RESULT $m ")
    rows+="$m $(field "$c" ms) $(field "$c" cpu_ms) $(field "$t" ms) $(field "$t" cpu_ms) $(field "$c" gflops)"
    rows+=" $(field "$c" peak_frac) $(field "$c" act_mib_per_lc) $fma"$'\n'
  done
done
echo
echo "threads $threads, sgemm peak per round (GFLOP/s, $threads threads):$peaks; FMA peak per round:$fma_peaks;"
echo "medians of $rounds rounds of $steps steps:"
printf '%-9s %10s %10s %8s %10s %10s %8s %9s %8s %8s %11s %10s\n' model "lcfm ms" "torch ms" speedup "lcfm CPU" "torch CPU" "CPU x" \
  "GFLOP/s" "% sgemm" "% FMA" "act MiB/LC" "3x needs"
echo "$rows" | awk 'NF == 9 { k = ++n[$1]; c[$1, k] = $2; cc[$1, k] = $3; t[$1, k] = $4; tc[$1, k] = $5
    g[$1, k] = $6; p[$1, k] = $7; a[$1] = $8; f[$1, k] = $6 / $9 }
  function median(arr, m, k,   i, j, x, s) {
    for (i = 1; i <= k; i++) s[i] = arr[m, i]
    for (i = 2; i <= k; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
    return k % 2 ? s[(k + 1) / 2] : (s[k / 2] + s[k / 2 + 1]) / 2 }
  END {
    split("causal astromer", models, " ")
    for (mi = 1; mi <= 2; mi++) {
      m = models[mi]; k = n[m]
      if (!k) continue
      # 3x needs: the share of the sgemm peak at which the FLOPs of this step would take a third of the
      # torch time (above 100%: 3x torch is out of reach on this machine at this FLOP count)
      for (i = 1; i <= k; i++) { r[m, i] = t[m, i] / c[m, i]; rc[m, i] = tc[m, i] / cc[m, i]; nd[m, i] = 3 * c[m, i] * p[m, i] / t[m, i] }
      printf "%-9s %10.1f %10.1f %7.2fx %10.1f %10.1f %7.2fx %9.1f %7.1f%% %7.1f%% %11.2f %9.0f%%\n", m, median(c, m, k), median(t, m, k),
        median(r, m, k), median(cc, m, k), median(tc, m, k), median(rc, m, k), median(g, m, k), 100 * median(p, m, k),
        100 * median(f, m, k), a[m],
        100 * median(nd, m, k)
    } }'

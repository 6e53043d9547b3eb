#!/usr/bin/env bash
# bench_nn_ab.sh: the engine's training steps (tools/bench_nn: causal paper model and Astromer 2)
# from two builds, alternating in rounds (A B, then B A, ...) so that a shared machine's load
# favours neither; e.g. LCFM_GEMM=openblas against the default (issue 16).
# Usage: tools/bench_nn_ab.sh BUILD_A BUILD_B [THREADS (2)] [ROUNDS (5)] [STEPS (3)]
# Both builds must exist (configure one with e.g. -DLCFM_NATIVE=ON -DLCFM_GEMM=openblas; bench_nn
# is built there). Prints each round, then per model the medians of ms/step (wall) and CPU ms/step
# (all threads; a loaded machine disturbs it less) and of the per-round A/B ratios of both
# (above 1: B is faster).
set -euo pipefail
build_a=$1
build_b=$2
threads=${3:-2}
rounds=${4:-5}
steps=${5:-3}
for b in "$build_a" "$build_b"; do cmake --build "$b" -j "$(nproc)" --target bench_nn > /dev/null; done
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
field() { echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
rows=""
for round in $(seq "$rounds"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  order="A B"
  [ $((round % 2)) -eq 0 ] && order="B A"
  for which in $order; do
    build=$build_a
    [ "$which" = B ] && build=$build_b
    # --peak skips bench_nn's sgemm measurement: only the step times are compared here
    out=$("$build/bench_nn" --threads "$threads" --steps "$steps" --peak 1)
    [ "$round" -eq 1 ] && echo "$which = $build:" && echo "$out" | grep '^\[.*\] gemm'
    for m in causal astromer; do
      r=$(echo "$out" | grep "^RESULT $m ")
      rows+="$round $which $m $(field "$r" ms) $(field "$r" cpu_ms)"$'\n'
      echo "round $round (load average $load): $which $m $(field "$r" ms) ms/step, $(field "$r" cpu_ms) CPU ms/step"
    done
  done
done
echo "$rows" | awk -v threads="$threads" 'NF == 5 { v[$1, $2, $3, "ms"] = $4; v[$1, $2, $3, "cpu"] = $5; seen[$1] = 1 }
  function median(a, n,   i, j, x) {
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END {
    printf "\n%d threads, medians over rounds:\n", threads
    split("causal astromer", models, " ")
    for (mi = 1; mi <= 2; mi++) {
      m = models[mi]; n = 0; split("", wa); split("", wb); split("", rw); split("", ca); split("", cb); split("", rc)
      for (r in seen) { n++
        wa[n] = v[r, "A", m, "ms"]; wb[n] = v[r, "B", m, "ms"]; rw[n] = wa[n] / wb[n]
        ca[n] = v[r, "A", m, "cpu"]; cb[n] = v[r, "B", m, "cpu"]; rc[n] = ca[n] / cb[n] }
      printf "%-8s ms/step A %.0f, B %.0f, A/B %.3f;  CPU ms/step A %.0f, B %.0f, A/B %.3f  (%d rounds)\n", m,
        median(wa, n), median(wb, n), median(rw, n), median(ca, n), median(cb, n), median(rc, n), n } }'

#!/usr/bin/env bash
# bench_gemm.sh: single-precision GEMM at the engine's shapes with every GEMM library the build
# found (OpenBLAS, BLIS, libxsmm, oneDNN: tools/bench_gemm.c), one thread, in one run, as GFLOP/s
# and as a share of the FP32 FMA peak per core that tools/bench_fma measures first (issue 16).
# Usage: tools/bench_gemm.sh [BUILD_DIR (build-native)] [causal|astromer|both (both)]
# BUILD_DIR is configured, when new, as a Release build with -DLCFM_NATIVE=ON (tools/bench_build.sh).
# BLIS and oneDNN are measured when installed (apt-get install libblis-dev libdnnl-dev; the build
# skips each one it does not find). OPENBLAS_CORETYPE, when set, picks OpenBLAS's kernels (the
# line "OpenBLAS ..." says which ran).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build-native}
model=${2:-both}
source "$here/bench_build.sh"
bench_build "$build" bench_gemm bench_fma
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 BLIS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
f_out=$("$build/bench_fma" --threads 1)
echo "$f_out" | grep '^FMA'
peak=$(echo "$f_out" | grep '^RESULT fma isa=best ' | sed 's/.* gflops=\([^ ]*\).*/\1/')
"$build/bench_gemm" --peak "$peak" --model "$model" | grep -v '^RESULT'
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"

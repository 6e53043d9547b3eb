#!/bin/bash
# bench_memory.sh: peak memory per rank of `lcfm simulate` for growing numbers of light curves
# (paper configuration: 20 curves per star, 17 instruments, K 13, T 100), with 2 ranks.
#   tools/bench_memory.sh BUILD_DIR [DIR [MILLIONS...]]     defaults: build, /tmp, 1 10
# Memory per rank should stay flat: ranks simulate and write block_stars stars at a time.
# The stores are deleted after each run (10 million light curves take 17 GB).
set -euo pipefail
build=${1:-build}; dir=${2:-/tmp}; shift 2 || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1 10)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
printf '[simulate]\noutput = %s/bench_memory.h5\n' "$dir" > "$dir/bench_memory.ini"
for millions in "${sizes[@]}"; do
  stars=$(awk -v m="$millions" 'BEGIN { printf "%d", m * 1000000 / 20 }')
  line=$(mpirun -np 2 "$build/lcfm" simulate -o simulate.stars=$stars "$dir/bench_memory.ini" | grep SUCCESS)
  size=$(du -h "$dir/bench_memory.h5" | cut -f1)
  rm -f "$dir/bench_memory.h5"
  echo "$millions million light curves ($size): $line"
done
rm -f "$dir/bench_memory.ini"

#!/bin/bash
# bench_store.sh: the store's write bandwidth against dd to the same disk, in the same run.
#   tools/bench_store.sh BUILD_DIR [DIR [GIB [RANKS]]]     defaults: build, /tmp, 2 GiB, 2 ranks
# dd and the store both count the time to get the bytes onto the disk (fdatasync / fsync).
# Repeats each 5 times, alternating (the disk is noisy), and prints the medians of both and
# the median of the per-run ratios.
set -euo pipefail
build=${1:-build}; dir=${2:-/tmp}; gib=${3:-2}; ranks=${4:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mib=$(awk -v g="$gib" 'BEGIN { printf "%d", g * 1024 }')
dd_rates=(); store_rates=()
ratios=()
for i in 1 2 3 4 5; do
  # MB/s from dd's byte count and seconds (its own rate is rounded to two digits).
  dd_rates+=("$(dd if=/dev/zero of="$dir/bench_dd.bin" bs=1M count="$mib" conv=fdatasync 2>&1 |
               awk '/copied/ { printf "%.0f", $1 / $(NF-3) / 1e6 }')")
  rm -f "$dir/bench_dd.bin"
  line=$(mpirun -np "$ranks" "$build/bench_store" "$dir/bench_store.h5" "$gib" | tail -1)
  echo "  run $i: dd ${dd_rates[-1]} MB/s; $line"
  rm -f "$dir/bench_store.h5"
  store_rates+=("$(echo "$line" | sed -E 's/.*= ([0-9]+) MB\/s.*/\1/')")
  ratios+=("$(awk -v s="${store_rates[-1]}" -v d="${dd_rates[-1]}" 'BEGIN { printf "%.0f", 100 * s / d }')")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
dd_median=$(median "${dd_rates[@]}"); store_median=$(median "${store_rates[@]}")
echo "dd (1 MiB blocks, fdatasync): median $dd_median MB/s"
echo "store, $ranks ranks, $gib GiB:     median $store_median MB/s"
echo "store / dd, median of the per-run ratios: $(median "${ratios[@]}")% (runs: ${ratios[*]})"

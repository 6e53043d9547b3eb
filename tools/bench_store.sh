#!/bin/bash
# bench_store.sh: the store's write bandwidth against dd to the same disk, in the same run; or,
# with MODE, what compression and appends cost.
#   tools/bench_store.sh BUILD_DIR [DIR [GIB [RANKS [MODE]]]]
#     defaults: build, /tmp, 2 GiB, 2 ranks, MODE dd
#   MODE dd:          dd and the store both count the time to get the bytes onto the disk
#                     (fdatasync / fsync). Repeats each 5 times, alternating (the disk is noisy),
#                     and prints the medians of both and the median of the per-run ratios.
#   MODE compression: a GIB store written uncompressed and with shuffle + deflate (levels 1, 4),
#                     3 times each, alternating: file size, write MB/s and whole-store read MB/s
#                     (page cache warm), medians; MB are of the uncompressed data.
#   MODE append:      a store of GIB, then an append of GIB/20 ([store] mode = append: copy to
#                     .partial, extend, rename) against writing the grown store (1.05 GIB) anew,
#                     3 times each, alternating; medians of the seconds.
set -euo pipefail
build=${1:-build}; dir=${2:-/tmp}; gib=${3:-2}; ranks=${4:-2}; mode=${5:-dd}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mib=$(awk -v g="$gib" 'BEGIN { printf "%d", g * 1024 }')
bench() { mpirun -np "$ranks" "$build/bench_store" "$@" | tail -1; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
field() { echo "$1" | sed -E "s|.*$2.*|\\1|"; } # field LINE REGEX-WITH-ONE-GROUP

if [ "$mode" = compression ]; then
  for level in 0 1 4; do
    writes=(); reads=(); size=""
    for i in 1 2 3; do
      line=$(bench "$dir/bench_store.h5" "$gib" 10000 "$level" create read)
      rm -f "$dir/bench_store.h5"
      writes+=("$(field "$line" '= ([0-9]+) MB/s \(peak')"); reads+=("$(field "$line" 'read .* = ([0-9]+) MB/s')")
      size=$(field "$line" 'file ([0-9.]+) GB')
    done
    echo "deflate $level: file $size GB; write median $(median3 "${writes[@]}") MB/s (${writes[*]}); read median $(median3 "${reads[@]}") MB/s (${reads[*]})"
  done
  exit 0
fi

if [ "$mode" = append ]; then
  small=$(awk -v g="$gib" 'BEGIN { printf "%.4f", g / 20 }'); grown=$(awk -v g="$gib" 'BEGIN { printf "%.4f", g * 1.05 }')
  appends=(); rewrites=()
  for i in 1 2 3; do
    bench "$dir/bench_store.h5" "$gib" > /dev/null
    line=$(bench "$dir/bench_store.h5" "$small" 10000 0 append)
    appends+=("$(field "$line" 'in ([0-9.]+) s')")
    rm -f "$dir/bench_store.h5"
    line=$(bench "$dir/bench_store.h5" "$grown" 10000 0 create)
    rewrites+=("$(field "$line" 'in ([0-9.]+) s')")
    rm -f "$dir/bench_store.h5"
    echo "  run $i: append $small GiB to $gib GiB: ${appends[-1]} s; write $grown GiB anew: ${rewrites[-1]} s"
  done
  echo "append of $small GiB to a $gib GiB store: median $(median3 "${appends[@]}") s; writing the $grown GiB store anew: median $(median3 "${rewrites[@]}") s"
  exit 0
fi

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

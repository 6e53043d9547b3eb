# bench_scale_lib.sh: what the memory-scaling benchmarks share (sourced by bench_train_scale.sh,
# bench_astromer_scale.sh and bench_scale_memory.sh): the checks, the simulated stores of N and
# 8N light curves (4 per star, 8 instruments, T 32; kept in the work directory, so one directory
# serves every script), a verb run on 2 ranks under GNU time, and the 8N / N ratio line.

# bench_scale_begin NAME BUILD_DIR WORK_DIR: checks lcfm and GNU time, sets $lcfm, enters WORK_DIR.
bench_scale_begin() {
  local name=$1
  lcfm=$(cd "$2" && pwd)/lcfm
  [ -x "$lcfm" ] || { echo "$name: no $lcfm (build lcfm first)" >&2; exit 2; }
  [ -x /usr/bin/time ] || { echo "$name: needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 2; }
  export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
  mkdir -p "$3"
  cd "$3"
  echo "$("$lcfm" --version 2>/dev/null | head -1); $(nproc --all) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_scale_simulate_sections NAME: the [job] and [simulate] sections of every script's job.
bench_scale_simulate_sections() {
  printf '[job]\nname = %s\nseed = 3\n[simulate]\noutput = sim.h5\ninstruments = 8\ncurves_per_star = 4\n' "$1"
  printf 'T = 32\ninstrument_terms = 8\nblock_stars = 4096\nstars_per_field = 10000\n'
}

# bench_scale_store JOB OBJECTS: simulates sim-OBJECTS.h5 (2 ranks) unless it exists.
bench_scale_store() {
  local job=$1 objects=$2
  [ -e "sim-$objects.h5" ] && return 0
  mpirun --oversubscribe -np 2 "$lcfm" simulate -o simulate.stars=$((objects / 4)) -o simulate.output="sim-$objects.h5" \
    "$job" > "simulate-$objects.log" 2>&1 || { cat "simulate-$objects.log"; exit 1; }
}

# bench_scale_run LOG VERB ARGS...: lcfm VERB on 2 ranks under GNU time. Sets bench_peaks (each
# rank's peak RSS, KiB), bench_peak (the largest) and bench_seconds (wall).
bench_scale_run() {
  local log=$1 start
  shift
  start=$(date +%s.%N)
  mpirun --oversubscribe -np 2 /usr/bin/time -f "PEAK_KIB %M" "$lcfm" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }
  bench_seconds=$(echo "$(date +%s.%N) - $start" | bc)
  bench_peaks=$(grep '^PEAK_KIB' "$log" | awk '{ printf "%s%d", n++ ? ", " : "", $2 }')
  bench_peak=$(grep '^PEAK_KIB' "$log" | awk '$2 > m { m = $2 } END { print m }')
}

# bench_scale_bytes LOG: the "data read per rank" figures a training log ends with.
bench_scale_bytes() { grep -o 'data read per rank.*' "$1" | sed 's/data read per rank (the most of any rank): //'; }

# bench_scale_ratio LABEL PEAK_N PEAK_8N N: the line the issue's target reads.
bench_scale_ratio() {
  awk -v label="$1" -v a="$2" -v b="$3" -v n="$4" 'BEGIN {
    printf "%s peak RSS per rank (largest rank): %d KiB at N = %d, %d KiB at 8N: ratio %.3f (target <= 1.15)\n",
      label, a, n, b, b / a }'
}

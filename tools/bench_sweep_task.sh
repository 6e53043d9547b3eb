#!/bin/bash
# bench_sweep_task.sh: seconds that `lcfm sweep --task 0` takes on grids of 1,000 and 8,000 points
# whose point is a 1-star simulation, so the figure is the task's own overhead (reading and checking
# the grid); it must not grow with the grid (an array job of G tasks would cost O(G^2) otherwise).
#   tools/bench_sweep_task.sh BUILD_DIR [WORK_DIR]
set -euo pipefail
lcfm=$(cd "$1" && pwd)/lcfm
work=${2:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
values() { seq -s ' ' "$1" "$2"; }
grid() { # grid NAME N: a job whose grid has N^3 points
  cat > "$1.ini" <<INI
[job]
name = $1
[simulate]
output = sim.h5
stars = 1
curves_per_star = 1
instruments = 1
instrument_terms = 1
T = 8
[run]
stages = simulate
[sweep]
directory = $1
simulate.stars = $(values 1 "$2")
simulate.T = $(values 8 $((7 + $2)))
job.seed = $(values 1 "$2")
INI
}
for n in 10 20; do
  grid "g$n" "$n"
  rm -rf "g$n"
  start=$(date +%s.%N)
  "$lcfm" sweep --task 0 "g$n.ini" > "g$n.log" 2>&1 || { cat "g$n.log"; exit 1; }
  end=$(date +%s.%N)
  awk -v g=$((n * n * n)) -v a="$start" -v b="$end" 'BEGIN { printf "grid of %5d points: sweep --task 0 took %.3f s\n", g, b - a }'
done

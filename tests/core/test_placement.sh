#!/bin/bash
# test_placement.sh: two ranks pinned to one CPU (taskset) are warned about; unpinned ranks are not.
# usage: test_placement.sh TEST_PLACEMENT_BINARY
set -euo pipefail
binary=$1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mpirun --oversubscribe --bind-to none -np 2 taskset -c 0 "$binary" 2>&1)
echo "$out"
echo "$out" | grep -q "2 ranks x 1 threads on one node may run on only 1 CPUs" || { echo "FAIL: no warning for ranks on one CPU"; exit 1; }
out=$(mpirun --oversubscribe --bind-to none -np 2 "$binary" 2>&1)
echo "$out"
if [ "$(nproc)" -ge 2 ] && echo "$out" | grep -q "may run on only"; then echo "FAIL: warned with every CPU available"; exit 1; fi
echo "test_placement.sh: passed"

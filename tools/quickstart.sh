#!/bin/bash
# quickstart.sh: install the packages, build lcfm in ./build, and run the quickstart job
# (jobs/quickstart.ini: 4,000 simulated light curves, then a small causal model trained on them)
# on 2 MPI ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mpirun --oversubscribe -np 2 build/lcfm simulate jobs/quickstart.ini
build/lcfm info quickstart.h5
mpirun --oversubscribe -np 2 build/lcfm train jobs/quickstart.ini

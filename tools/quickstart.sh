#!/bin/bash
# quickstart.sh: install the packages, build lcfm in ./build, and run the quickstart job
# (jobs/quickstart.ini) through every stage on 2 MPI ranks: simulate 4,000 light curves, train a
# small causal model and its baseline, embed every light curve with both, probe what the latents
# know about the stars' periods, and plot the paper's figures. It ends with the probe table and
# the paths of the PNGs. Run it again: every stage is skipped (its output is there and current).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" > /dev/null
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mpirun --oversubscribe -np 2 build/lcfm run jobs/quickstart.ini

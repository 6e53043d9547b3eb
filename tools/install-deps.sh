#!/bin/bash
# install-deps.sh: the Debian packages lcfm builds, tests and benchmarks with (Debian 12).
# Run as root or with sudo available. Python packages are only for tests and plots.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin            # MPI
  libhdf5-openmpi-dev hdf5-tools        # parallel HDF5 and h5diff
  libfftw3-dev                          # FFTW, double and single precision
  libopenblas-dev                       # BLAS and LAPACK (the probes' QR and PCA)
  liblapacke-dev                        # lapack.h: the declarations of those LAPACK routines
  libxsmm-dev                           # the engine's GEMM kernels (LCFM_GEMM=xsmm, the default)
  libcfitsio-dev libinih-dev librandom123-dev zlib1g-dev
  libxxhash-dev                         # XXH3-128: duplicate light curves at ingest
  python3-h5py python3-numpy python3-astropy   # layout and ingest tests
  python3-matplotlib                    # lcfm run's plots stage, tools/plot_*.py
  slurm-wlm munge                       # tests/slurm: a local Slurm for the sbatch scripts
  clang libclang-rt-dev libomp-dev      # -DLCFM_FUZZ=ON builds (libFuzzer, tests/fuzz)
)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"

#!/bin/bash
# test.sh: build lcfm with warnings as errors and run the whole ctest suite.
#   tools/test.sh              Release build in ./build
#   tools/test.sh --sanitize   address + undefined-behaviour sanitizers in ./build-asan
# Sample survey files are looked for in ../shared/data (or $LCFM_SHARED_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build; options=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan; options=(-DCMAKE_BUILD_TYPE=Debug -DLCFM_SANITIZE=ON)
fi
data=${LCFM_SHARED_DATA:-$(pwd)/../shared/data}
cmake -S . -B "$dir" -DLCFM_WERROR=ON -DLCFM_SHARED_DATA="$data" "${options[@]}"
cmake --build "$dir" -j "$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j 2

# bench_build.sh: sourced by the engine benchmarks (bench_nn.sh, bench_embed.sh).
#   bench_build DIR TARGET...   builds TARGETs in DIR, first configuring DIR as a Release build
#                               tuned for this machine (-DLCFM_NATIVE=ON) when it has no cache.
# The comparison is fair only that way: PyTorch and OpenBLAS pick AVX2/FMA kernels at run time,
# while lcfm's own loops (activations, softmax, layer norm, LSTM gates) get them only from the
# compiler flag; a generic x86-64 build runs them with SSE2. An existing DIR is used as it is
# configured, and the line printed says which it is.
bench_build() {
  local dir=$1 root
  shift
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DLCFM_NATIVE=ON -DLCFM_BUILD_TESTS=OFF > /dev/null
  fi
  cmake --build "$dir" -j "$(nproc)" --target "$@" > /dev/null
  local native type
  native=$(sed -n 's/^LCFM_NATIVE:BOOL=//p' "$dir/CMakeCache.txt")
  type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$dir/CMakeCache.txt")
  echo "lcfm build: $dir (CMAKE_BUILD_TYPE=$type, LCFM_NATIVE=$native$([ "$native" = ON ] && echo ': -march=native'))"
}

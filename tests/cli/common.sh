# common.sh: shared setup for the shell tests. Arguments: LCFM SOURCE_DIR WORK_DIR.
set -euo pipefail
LCFM=$1
SOURCE=$2
WORK=$3
MPIEXEC=${MPIEXEC:-mpirun}
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
run_np() { local n=$1; shift; "$MPIEXEC" --oversubscribe -np "$n" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

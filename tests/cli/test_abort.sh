# An error on one rank aborts every rank with a non-zero exit code and names rank, file and line.
source "$(dirname "$0")/common.sh"
PROGRAM=$4
set +e
timeout 60 "$MPIEXEC" --oversubscribe -np 3 "$PROGRAM" > out.txt 2> err.txt
code=$?
set -e
[ $code -ne 0 ] && [ $code -ne 124 ] || { cat err.txt; fail "exit code $code (124 = hung)"; }
grep -q "^\[1\] .*abort_program.c:[0-9]*: rank 1 gives up" err.txt || { cat err.txt; fail "message"; }
grep -q "^\[1\] FAILED" err.txt || fail "no FAILED line"
echo "one failing rank aborted the job with exit code $code"

# The README's quickstart: the embedded job file runs under mpirun and gives a readable store.
source "$(dirname "$0")/common.sh"
run_np 2 "$LCFM" simulate "$SOURCE/jobs/quickstart.ini" > quickstart.log
grep -q "SUCCESS simulate" quickstart.log || { cat quickstart.log; fail "no SUCCESS"; }
"$LCFM" info quickstart.h5 > info.txt
grep -q "objects      4000" info.txt || { cat info.txt; fail "quickstart object count"; }
grep -q "truth        present" info.txt || fail "quickstart truth"
echo "quickstart runs"

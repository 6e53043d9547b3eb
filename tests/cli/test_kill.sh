# A simulate killed with SIGKILL part way leaves no file under the final name (only NAME.partial),
# an existing store of that name is left intact, and the next run replaces the stale partial.
source "$(dirname "$0")/common.sh"
printf '[simulate]\noutput = big.h5\nstars = 100000\nT = 200\n' > big.ini
printf '[simulate]\noutput = big.h5\nstars = 10\n' > small.ini
"$LCFM" simulate small.ini > /dev/null
cp big.h5 previous.h5
setsid "$MPIEXEC" --oversubscribe -np 2 "$LCFM" simulate big.ini > big.log 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  [ -f big.h5.partial ] && [ "$(stat -c %s big.h5.partial)" -gt 1000000 ] && break
  sleep 0.05
done
[ -f big.h5.partial ] || fail "no partial file appeared"
kill -KILL -- -$pid 2>/dev/null || kill -KILL $pid
wait $pid 2>/dev/null || true
pkill -KILL -f "lcfm simulate big.ini" 2>/dev/null || true
sleep 0.5
grep -q SUCCESS big.log && fail "the run finished before it was killed; make it bigger"
cmp -s big.h5 previous.h5 || fail "the earlier big.h5 was changed by the killed run"
rm big.h5
"$LCFM" simulate -o simulate.stars=20 big.ini > rerun.log
[ -f big.h5 ] && [ ! -f big.h5.partial ] || fail "rerun did not publish big.h5 cleanly"
"$LCFM" info big.h5 | grep -q "objects      400" || fail "rerun store content"
echo "killed runs leave no half-written store"

# Issue 14, item 2: a full disk is an error, never a hang. On a small tmpfs (root only; skipped
# otherwise), simulate on 2 ranks (the issue's case: a 2 MiB tmpfs and T = 251), embed and
# probe (collective writers) and train (rank 0 writes the checkpoint) each exit 1 within the
# time limit with "No space left on device: NAME.partial", leave no NAME.partial, no NAME.lock
# and no process behind, and a size that fits still publishes a file h5ls opens. The same for a
# compressed store (filtered collective writes), and an append that runs out of space leaves
# the store it appends to as it was.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/tiny_job.sh"
if [ "$(id -u)" -ne 0 ]; then echo "skipped: not root (a small tmpfs is mounted for the full disk)"; exit 77; fi
mkdir -p fulldisk
mount -t tmpfs -o size=2m tmpfs fulldisk 2>/dev/null || { echo "skipped: cannot mount a tmpfs"; exit 77; }
trap 'umount "$WORK/fulldisk" 2>/dev/null || true' EXIT
resize() { umount fulldisk; mount -t tmpfs -o "size=$1" tmpfs fulldisk; }
"$LCFM" simulate tiny.ini > /dev/null
"$LCFM" train tiny.ini > /dev/null
"$LCFM" embed tiny.ini > /dev/null
expect_full() { # name, output, verb and arguments...
  local name=$1 output=$2
  shift 2
  set +e
  timeout 60 "$MPIEXEC" --oversubscribe -np 2 "$LCFM" "$@" > "$name.log" 2>&1; local code=$?
  set -e
  [ $code -ne 124 ] || fail "$name: hung (killed after 60 s)"
  [ $code -eq 1 ] || { tail -5 "$name.log"; fail "$name: exit $code, expected 1"; }
  grep -q "No space left on device: $output.partial" "$name.log" || { cat "$name.log"; fail "$name: no 'No space left on device: $output.partial'"; }
  [ -z "$(ls fulldisk)" ] || fail "$name: left in the full file system: $(ls fulldisk)"
  pgrep -f "lcfm .*=fulldisk/" > /dev/null && fail "$name: a process was left"
  echo "$name: exit 1, $(grep -o "No space left on device: [^ ]*" "$name.log" | head -1)"
}
expect_full simulate-T251 fulldisk/x.h5 simulate -o simulate.T=251 -o simulate.output=fulldisk/x.h5 "$SOURCE/jobs/quickstart.ini"
expect_full simulate-deflate fulldisk/z.h5 simulate -o store.compression=deflate -o simulate.T=251 \
  -o simulate.output=fulldisk/z.h5 "$SOURCE/jobs/quickstart.ini"
# An append with room for the copy of the store but not for the objects it adds.
resize $(( $(stat -c %s sim.h5) / 1024 * 3 / 2 + 8 ))k
cp sim.h5 fulldisk/grow.h5
set +e
timeout 60 "$MPIEXEC" --oversubscribe -np 2 "$LCFM" simulate -o store.mode=append -o simulate.stars=400 \
  -o simulate.output=fulldisk/grow.h5 tiny.ini > append.log 2>&1; code=$?
set -e
[ $code -eq 1 ] || { tail -5 append.log; fail "append on a full disk: exit $code, expected 1"; }
grep -q "No space left on device" append.log || { cat append.log; fail "append: no 'No space left on device'"; }
[ "$(ls fulldisk)" = grow.h5 ] || fail "append: left in the full file system: $(ls fulldisk)"
cmp -s sim.h5 fulldisk/grow.h5 || fail "append on a full disk changed the store it appends to"
echo "append on a full disk: exit 1, the store as it was"
resize 64k
expect_full simulate fulldisk/sim.h5 simulate -o simulate.output=fulldisk/sim.h5 tiny.ini
expect_full train "fulldisk/model[.a-z]*h5" train -o train.checkpoint=fulldisk/model.h5 tiny.ini
resize 12k
expect_full embed fulldisk/emb.h5 embed -o embed.output=fulldisk/emb.h5 tiny.ini
expect_full probe fulldisk/probe.h5 probe -o probe.output=fulldisk/probe.h5 tiny.ini
# The same disk, large enough: the store is published and opens.
resize 4m
run_np 2 "$LCFM" simulate -o simulate.output=fulldisk/sim.h5 tiny.ini > fits.log || { cat fits.log; fail "a disk large enough"; }
h5ls fulldisk/sim.h5 > /dev/null || fail "the store on a disk large enough does not open"
h5diff -q sim.h5 fulldisk/sim.h5 /points/value /points/value || fail "the store on a disk large enough differs"
echo "a full disk is an error, not a hang"

# Issue 14, item 8: output paths are checked when the job is loaded: an empty path, a directory,
# a missing directory (the checkpoint's too) and, as root on a read-only mount, an unwritable
# directory are job-file errors (exit 2) before any work, with nothing written. A partial that
# cannot be created and a store HDF5 cannot open are reported with a reason, never an empty one.
source "$(dirname "$0")/common.sh"
printf '[simulate]\noutput = sim.h5\nstars = 20\nT = 32\n' > sim.ini
"$LCFM" simulate sim.ini > /dev/null
printf '[model]\nT = 32\nencoder = mlp\n[train]\nstore = sim.h5\ncheckpoint = model.h5\nsteps = 5\n' > train.ini
expect_bad() { # verb, job, expected text, overrides...
  local verb=$1 job=$2 expected=$3
  shift 3
  set +e
  run_np 2 "$LCFM" "$verb" "$@" "$job" > out.log 2> err.log; local code=$?
  set -e
  [ $code -eq 2 ] || { cat out.log err.log; fail "$verb $*: exit $code, expected 2"; }
  grep -qF -- "$expected" err.log || { cat err.log; fail "$verb $*: stderr lacks '$expected'"; }
  grep -q "step\|done in" out.log && fail "$verb $*: work was done before the refusal"
  [ -z "$(find . -name '*.partial' -o -name '*.lock' -o -name model.h5)" ] || fail "$verb $*: wrote $(find . -name '*.partial' -o -name '*.lock')"
}
mkdir -p adir
expect_bad simulate sim.ini "[simulate] output: is empty" -o simulate.output=
expect_bad simulate sim.ini "[simulate] output: '/' is a directory" -o simulate.output=/
expect_bad simulate sim.ini "[simulate] output: 'adir' is a directory" -o simulate.output=adir
expect_bad simulate sim.ini "[simulate] output: 'adir/' is a directory" -o simulate.output=adir/
expect_bad simulate sim.ini "[simulate] output: the directory 'nowhere' of 'nowhere/x.h5' does not exist" -o simulate.output=nowhere/x.h5
expect_bad train train.ini "[train] checkpoint: the directory 'nowhere' of 'nowhere/model.h5' does not exist" -o train.checkpoint=nowhere/model.h5
expect_bad train train.ini "[train] checkpoint: 'adir' is a directory" -o train.checkpoint=adir
printf '[run]\nstages = simulate\n[simulate]\noutput = x.h5\nstars = 20\nT = 32\n' > run.ini
expect_bad run run.ini "[simulate] output: the directory 'nowhere' of 'nowhere/x.h5' does not exist" -o simulate.output=nowhere/x.h5
expect_bad run run.ini "[run] record: 'adir' is a directory" -o run.record=adir
if [ "$(id -u)" -eq 0 ] && mkdir -p ro && mount -t tmpfs -o size=1m,ro tmpfs ro 2>/dev/null; then
  trap 'umount "$WORK/ro" 2>/dev/null || true' EXIT
  expect_bad simulate sim.ini "[simulate] output: cannot write in the directory 'ro': Read-only file system" -o simulate.output=ro/x.h5
  expect_bad train train.ini "[train] checkpoint: cannot write in the directory 'ro': Read-only file system" -o train.checkpoint=ro/model.h5
else
  echo "not root (or no mount): the read-only directory case is skipped"
fi
# NAME.partial cannot be created (it is a directory): the reason is given.
mkdir -p blocked.h5.partial
set +e
run_np 2 "$LCFM" simulate -o simulate.output=blocked.h5 sim.ini > out.log 2> err.log; code=$?
set -e
[ $code -eq 1 ] || { cat err.log; fail "a blocked partial: exit $code, expected 1"; }
grep -q "blocked.h5.partial.*cannot create: [^ ]" err.log || { cat err.log; fail "a blocked partial: no reason"; }
[ -d blocked.h5.partial ] || fail "the directory blocked.h5.partial was removed"
[ -f blocked.h5 ] || [ -f blocked.h5.lock ] && fail "a blocked partial left blocked.h5 or its lock"
# A store HDF5 cannot open: the reason is given.
head -c 3000 sim.h5 > cut.h5
set +e
"$LCFM" info cut.h5 > out.log 2> err.log; code=$?
set -e
[ $code -eq 1 ] || { cat err.log; fail "a cut store: exit $code, expected 1"; }
grep -q "cut.h5: HDF5 cannot open it: [^ ]" err.log || { cat err.log; fail "a cut store: no reason"; }
echo "output paths are checked at job load"

# A training run stopped by SIGTERM (checkpoint, exit 75) or killed with SIGKILL after a periodic
# checkpoint, then resumed, ends with parameters and Adam moments bitwise equal to an
# uninterrupted run; the checkpoint opens in h5py with every tensor named; resuming with another
# model configuration is refused.
source "$(dirname "$0")/../cli/common.sh"
cat > job.ini <<'INI'
[job]
seed = 4
[simulate]
output = sim.h5
stars = 60
instruments = 5
curves_per_star = 6
T = 64
[model]
T = 64
d_model = 16
heads = 2
feed_forward = 32
blocks = 1
kernel = 5
latent = 8
[train]
store = sim.h5
checkpoint = full.h5
batch_triplets = 24
steps = 150
validation_every = 25
validation_triplets = 24
log_every = 1
checkpoint_minutes = 0
INI
"$LCFM" simulate job.ini > /dev/null
"$LCFM" train job.ini > full.log || { cat full.log; fail "uninterrupted run"; }

wait_for_step() { # log file, step, pid: up to 5 minutes (sanitizer builds on a loaded machine), not past the run
  for _ in $(seq 1 15000); do
    grep -q "step $2/" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}
same_state() { # checkpoint
  for group in /params /adam_m /adam_v; do
    h5diff full.h5 "$1" $group $group > diff.txt || { head diff.txt; fail "$1: $group differs from the uninterrupted run"; }
  done
}

# SIGTERM: checkpoint at the next step boundary, exit 75, then resume.
"$LCFM" train -o train.checkpoint=term.h5 job.ini > term.log 2>&1 &
pid=$!
wait_for_step term.log 20 $pid || fail "no step 20 in term.log"
kill -TERM $pid
set +e; wait $pid; code=$?; set -e
[ $code -eq 75 ] || { tail term.log; fail "SIGTERM exit code $code, expected 75"; }
grep -q "signal: requeue me" term.log || fail "no checkpoint on SIGTERM"
stopped=$(grep -o "checkpoint term.h5 at step [0-9]*" term.log | tail -1)
"$LCFM" train -o train.checkpoint=term.h5 job.ini > term2.log || { cat term2.log; fail "resume after SIGTERM"; }
grep -q "resumed from term.h5" term2.log || fail "did not resume"
same_state term.h5
echo "SIGTERM: $stopped, resumed, bitwise equal"

# SIGKILL after a periodic checkpoint (one every ~0.1 s), then resume.
"$LCFM" train -o train.checkpoint=kill.h5 -o train.checkpoint_minutes=0.002 job.ini > kill.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q "checkpoint kill.h5 at step .* (periodic)" kill.log && break; sleep 0.02; done
kill -KILL $pid
set +e; wait $pid; set -e
grep -q "SUCCESS" kill.log && fail "the run ended before SIGKILL; make it longer"
killed=$(grep -o "checkpoint kill.h5 at step [0-9]*" kill.log | tail -1)
[ -n "$killed" ] || fail "no periodic checkpoint before SIGKILL"
"$LCFM" train -o train.checkpoint=kill.h5 job.ini > kill2.log || { cat kill2.log; fail "resume after SIGKILL"; }
grep -q "resumed from kill.h5" kill2.log || fail "did not resume after SIGKILL"
same_state kill.h5
echo "SIGKILL after $killed: resumed, bitwise equal"

# Another configuration must not resume from this checkpoint.
set +e
"$LCFM" train -o model.latent=9 job.ini > other.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "another model configuration" other.log || { cat other.log; fail "mismatched resume: exit $code"; }

# A store where no triplet can be formed (one light curve per star) is refused, saying why.
set +e
"$LCFM" simulate -o simulate.curves_per_star=1 -o simulate.output=single.h5 job.ini > /dev/null
"$LCFM" train -o train.store=single.h5 -o train.checkpoint=single_model.h5 job.ini > single.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "no training triplet can be formed" single.log || { cat single.log; fail "untrainable store: exit $code"; }

# With no held-out source there is nothing to validate on: refused, saying why, not a crash.
set +e
"$LCFM" train -o train.validation_fraction=0 -o train.checkpoint=noval_model.h5 job.ini > noval.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "no validation triplet can be formed" noval.log && [ ! -e noval_model.h5 ] ||
  { cat noval.log; fail "no validation split: exit $code"; }

# Non-finite values (here in the input) stop the run with exit code 1, naming where they appeared,
# and leave the last good checkpoint intact.
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  cp sim.h5 poisoned.h5
  /usr/bin/python3 -c "
import h5py, numpy as np
with h5py.File('poisoned.h5', 'r+') as f:
    v = f['points/value']; v[...] = np.full(v.shape, np.inf, dtype=np.float32)"
  cp full.h5 last_good.h5
  set +e
  "$LCFM" train -o train.store=poisoned.h5 -o train.checkpoint=last_good.h5 -o train.steps=200 job.ini > nan.log 2>&1; code=$?
  set -e
  [ $code -eq 1 ] && grep -q "non-finite" nan.log || { cat nan.log; fail "non-finite loss: exit $code"; }
  cmp -s full.h5 last_good.h5 || fail "the last good checkpoint was changed by the failed run"
fi

# Every tensor is named in the checkpoint (h5py).
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  /usr/bin/python3 - <<'PY' || fail "checkpoint layout"
import h5py, sys
f = h5py.File("full.h5", "r")
names = list(f["params"].keys())
assert f.attrs["schema"] in (b"lcfm-checkpoint", "lcfm-checkpoint"), f.attrs["schema"]
assert "stellar.block0.mhsa.qkv.w" in names and "instrumental.block0.mhsa.qkv.w" in names, names[:5]
assert "dec_out.w" in names and "proj_star.fc0.w" in names
assert set(names) == set(f["adam_m"].keys()) == set(f["adam_v"].keys())
assert int(f.attrs["step"]) == 150, f.attrs["step"]
for key in ["model_signature", "job", "git_revision", "ranks", "seed"]:
    assert key in f.attrs, key
print(f"checkpoint: {len(names)} named tensors")
PY
fi
echo "resume is exact"

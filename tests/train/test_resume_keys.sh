# Resuming with changed keys: the keys that change neither the model nor its data (steps,
# learning_rate, patience, ...) take effect, each change is logged, and the new checkpoint
# records the value in force (a changed learning_rate used to be silently ignored while the
# provenance recorded it); keys that change the model or the data are refused with the reason.
source "$(dirname "$0")/../cli/common.sh"
write_tiny_conformer_job job.ini train.checkpoint=first.h5 train.steps=10 train.validation_every=5
"$LCFM" simulate job.ini > sim.log || { cat sim.log; fail "simulate"; }
"$LCFM" train job.ini > first.log || { cat first.log; fail "first 10 steps"; }
for name in same changed; do cp first.h5 $name.h5; cp first.best.h5 $name.best.h5; done
"$LCFM" train -o train.checkpoint=same.h5 -o train.steps=20 job.ini > same.log || { cat same.log; fail "resume"; }
"$LCFM" train -o train.checkpoint=changed.h5 -o train.steps=20 -o train.learning_rate=5e-4 -o train.patience=20 \
  job.ini > changed.log || { cat changed.log; fail "resume with a new learning rate"; }
for line in "resume: \[train\] steps 10 -> 20" "resume: \[train\] learning_rate 0.001 -> 0.0005" "resume: \[train\] patience 10 -> 20"; do
  grep -q "$line" changed.log || { cat changed.log; fail "no '$line' in the log"; }
done
grep -q "resume: \[train\] learning_rate" same.log && fail "an unchanged learning rate was logged as changed"
h5diff same.h5 changed.h5 /params /params > /dev/null && fail "the new learning rate did not take effect"
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  /usr/bin/python3 - <<'PY' || fail "the checkpoint does not record the learning rate in force"
import h5py, re
for name, lr in (("same.h5", 1e-3), ("changed.h5", 5e-4)):
    f = h5py.File(name, "r")
    job = f.attrs["job"].decode() if isinstance(f.attrs["job"], bytes) else f.attrs["job"]
    recorded = float(re.search(r"^learning_rate = (\S+)", job, re.M).group(1))
    assert abs(f.attrs["adam_lr"] - lr) < 1e-9 and abs(recorded - lr) < 1e-12, (name, f.attrs["adam_lr"], recorded)
    assert int(f.attrs["step"]) == 20
print("adam_lr and the recorded job agree with the value in force")
PY
fi

# Keys that change the model or the data it is trained on are refused; the checkpoint stays.
refused() { # override, expected text
  cp changed.h5 refused.h5
  cp changed.best.h5 refused.best.h5
  set +e
  "$LCFM" train -o train.checkpoint=refused.h5 -o train.steps=30 -o "$1" job.ini > refused.log 2>&1; code=$?
  set -e
  [ $code -eq 1 ] && grep -qF "$2" refused.log && grep -q "changes the model or the data" refused.log ||
    { cat refused.log; fail "$1: exit $code, expected a refusal with '$2'"; }
  cmp -s changed.h5 refused.h5 || fail "$1: the checkpoint was changed"
  echo "$1: $(grep -F "$2" refused.log)"
}
refused train.batch_triplets=6 "[train] batch_triplets was 12 and is now 6"
refused job.seed=6 "[job] seed was 4 and is now 6"
refused model.tau=0.2 "[model] tau was 0.1 and is now 0.2"
refused train.validation_fraction=0.3 "[train] validation_fraction was 0.25 and is now 0.3"
echo "changed keys on resume: logged and in force, or refused"

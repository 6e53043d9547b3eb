# The README's quickstart: the embedded job file runs under mpirun and gives a readable store.
source "$(dirname "$0")/common.sh"
run_np 2 "$LCFM" simulate "$SOURCE/jobs/quickstart.ini" > quickstart.log
grep -q "SUCCESS simulate" quickstart.log || { cat quickstart.log; fail "no SUCCESS"; }
"$LCFM" info quickstart.h5 > info.txt
grep -q "objects      4000" info.txt || { cat info.txt; fail "quickstart object count"; }
grep -q "truth        present" info.txt || fail "quickstart truth"
# The training stage, shortened: the full one takes about a minute.
run_np 2 "$LCFM" train -o train.steps=20 -o train.validation_every=10 "$SOURCE/jobs/quickstart.ini" > train.log
grep -q "SUCCESS train" train.log || { cat train.log; fail "training stage"; }
grep -q "latent separation" train.log || fail "no latent separation report"
[ -f quickstart-model.h5 ] && [ -f quickstart-model.best.h5 ] || fail "checkpoints missing"
echo "quickstart runs"

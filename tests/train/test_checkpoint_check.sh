# Checkpoint tensors are checked against the model before use: a tensor larger or smaller than
# the model's, of another rank or type, missing, or holding a NaN, and impossible state
# attributes, are refused by embed and by a resumed train with exit 1, naming the file, the
# tensor and both shapes (a larger tensor used to overflow the buffer, abort in malloc and hang;
# a smaller one was accepted and embed exited 0).
source "$(dirname "$0")/../cli/common.sh"
/usr/bin/python3 -c "import h5py" 2>/dev/null || { echo "SKIP: no h5py"; exit 77; }
write_tiny_conformer_job job.ini
"$LCFM" simulate job.ini > sim.log || { cat sim.log; fail "simulate"; }
"$LCFM" train job.ini > train.log || { cat train.log; fail "train"; }
read -r tensor rows cols < <(/usr/bin/python3 "$SOURCE/tests/train/damage_checkpoint.py" model.h5 larger smaller flat \
  integer double missing nan step_array best_after_step) || fail "damage"

expect_refused() { # kind, expected text
  set +e
  timeout 60 "$LCFM" embed -o embed.checkpoint="$1.h5" -o embed.output="$1.emb.h5" job.ini > "$1.log" 2>&1; code=$?
  set -e
  [ $code -eq 1 ] && grep -qF "$1.h5: $2" "$1.log" && [ ! -e "$1.emb.h5" ] ||
    { cat "$1.log"; fail "$1: embed exit $code, expected 1 with '$1.h5: $2'"; }
  echo "$1: $(grep -F "$1.h5:" "$1.log" | head -1)"
}
expect_refused larger "damaged checkpoint: tensor /params/$tensor has shape [$rows, $((cols + 1000))], this model's is [$rows, $cols]"
expect_refused smaller "damaged checkpoint: tensor /params/$tensor has shape [$rows, $((cols - 1))], this model's is [$rows, $cols]"
expect_refused flat "damaged checkpoint: tensor /params/$tensor has shape [$((rows * cols))], this model's is [$rows, $cols]"
expect_refused integer "damaged checkpoint: tensor /params/$tensor [$rows, $cols] is not 32-bit floating point"
expect_refused double "damaged checkpoint: tensor /params/$tensor [$rows, $cols] is not 32-bit floating point"
expect_refused missing "damaged checkpoint: tensor /adam_v/$tensor is missing (this model's shape is [$rows, $cols])"
expect_refused nan "damaged checkpoint: tensor /params/$tensor holds a non-finite value (nan) at element 1"
expect_refused step_array "damaged checkpoint (missing or malformed state attributes)"
expect_refused best_after_step "damaged checkpoint: impossible state"

# A resumed train on 2 ranks refuses too, before any step, and leaves the checkpoint as it was.
cp larger.h5 larger_copy.h5
set +e
timeout 120 "$MPIEXEC" --oversubscribe -np 2 "$LCFM" train -o train.checkpoint=larger.h5 -o train.steps=8 job.ini > resume.log 2>&1
code=$?
set -e
[ $code -eq 1 ] && grep -q "cannot resume: larger.h5: damaged checkpoint: tensor /params/$tensor has shape" resume.log ||
  { cat resume.log; fail "resume from a larger tensor: exit $code"; }
cmp -s larger.h5 larger_copy.h5 || fail "the refused checkpoint was changed"
echo "damaged checkpoints refused"

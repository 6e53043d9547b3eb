# SIGTERM sent to the launcher (not to the ranks) during `lcfm train` on 2 ranks:
# - through tools/lcfm-mpirun: every rank checkpoints, the exit code is 75 and a rerun resumes;
# - to bare mpirun: Open MPI's own exit code is 1 (it sets it before stopping the ranks), but
#   lcfm has written the checkpoint and LCFM_EXIT_FILE says 75 (written before MPI_Finalize,
#   which mpirun's teardown never lets return). mpirun sends SIGKILL one second after its SIGTERM
#   (and raising odls_base_sigkill_timeout blocks mpirun's I/O forwarding and PMIx server for that
#   long, so the ranks hang in MPI_Finalize): the model is tiny so that a step and the checkpoint
#   fit in that second, under the sanitizers too.
source "$(dirname "$0")/common.sh"
cat > job.ini <<'INI'
[simulate]
output = s.h5
stars = 40
instruments = 4
curves_per_star = 4
T = 32
[model]
T = 32
d_model = 8
heads = 2
feed_forward = 16
blocks = 1
kernel = 5
latent = 4
[train]
store = s.h5
checkpoint = model.h5
batch_triplets = 4
validation_fraction = 0.5
validation_triplets = 8
steps = 100000
log_every = 1
checkpoint_minutes = 60
INI
"$LCFM" simulate job.ini > /dev/null

wait_for_step() { # log file: waits until training has logged step 3
  for _ in $(seq 1 1200); do
    grep -q "step 3/" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  cat "$1"
  fail "training did not reach step 3"
}

# Starts `launcher ... lcfm train` in the background, sends SIGTERM to the launcher at step 3 and
# prints its exit code (a launcher that never ends is caught by ctest's timeout).
stop_with_sigterm() { # log file, launcher and its arguments
  local log=$1
  shift
  "$@" "$LCFM" train job.ini > "$log" 2>&1 &
  local pid=$! code=0
  wait_for_step "$log"
  kill -TERM "$pid"
  wait "$pid" || code=$?
  echo "$code"
}

code=$(stop_with_sigterm wrapped.log "$SOURCE/tools/lcfm-mpirun" --oversubscribe -np 2)
[ "$code" -eq 75 ] || { cat wrapped.log; fail "tools/lcfm-mpirun after SIGTERM: exit $code, expected 75"; }
grep -q "checkpoint model.h5 at step .* (signal: requeue me)" wrapped.log \
  || { cat wrapped.log; fail "no checkpoint on SIGTERM"; }
step=$(sed -n 's/.*checkpoint model.h5 at step \([0-9]*\) (signal.*/\1/p' wrapped.log)
"$MPIEXEC" --oversubscribe -np 2 "$LCFM" train -o train.steps=$((step + 2)) job.ini > resumed.log 2>&1 \
  || { cat resumed.log; fail "resume after the SIGTERM"; }
grep -q "resumed from model.h5 at step $step" resumed.log \
  || { cat resumed.log; fail "the rerun did not resume at step $step"; }

rm -f model.h5 model.best.h5
export LCFM_EXIT_FILE=$PWD/exit-code
code=$(stop_with_sigterm bare.log "$MPIEXEC" --oversubscribe -np 2)
unset LCFM_EXIT_FILE
recorded=$(cat exit-code 2>/dev/null || true)
if grep -q "checkpoint model.h5 at step .* (signal: requeue me)" bare.log; then
  [ "$recorded" = 75 ] || { cat bare.log; fail "bare mpirun: LCFM_EXIT_FILE holds '$recorded', not 75"; }
  echo "SIGTERM to the launcher: tools/lcfm-mpirun exits 75; bare mpirun exits $code with 75 in LCFM_EXIT_FILE"
else
  # mpirun's SIGKILL came within its one second, before the step and the checkpoint (a loaded
  # machine): what must hold then is that nothing is left half-written under the final name.
  [ "$recorded" != 75 ] || fail "bare mpirun: 75 recorded without a checkpoint"
  [ ! -e model.h5 ] || h5ls model.h5 > /dev/null || fail "bare mpirun: a damaged model.h5 under its final name"
  echo "SIGTERM to the launcher: tools/lcfm-mpirun exits 75; bare mpirun (exit $code) was killed before its checkpoint: nothing half-written"
fi

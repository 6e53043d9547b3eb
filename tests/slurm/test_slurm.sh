# A real Slurm on localhost: munged (as the munge user), slurmctld and slurmd are started from a
# slurm.conf written here (no systemd, no cgroups), then
#   1. the quickstart (shortened) goes through slurm/train.sbatch with 2 tasks: SUCCESS, exit 0;
#      tasks that MPI cannot connect (singletons) are refused at start with exit 1; a step whose
#      tasks never launch (srun then ends with 0) makes the script say FAILED, exit 1;
#      slurm/simulate.sbatch simulates on 2 tasks; the survey
#      samples (when LCFM_SHARED_DATA has them) go through slurm/reprocess.sbatch;
#   2. a 3-point sweep goes through slurm/sweep.sbatch as a job array (throttled): every task
#      ends with SUCCESS and `lcfm sweep --collect` finds all 3 points done;
#   3. a training job receives Slurm's own time-limit warning (--signal, after its time limit
#      was shortened while it trained), checkpoints, exits 75, is requeued by the script and
#      finishes; its parameters are bitwise equal to an uninterrupted run's. To be sure the
#      warning lands during training (Slurm sends it up to a minute early), the test holds the
#      step with SIGSTOP while waiting for it and releases it with SIGCONT;
# and stops every daemon it started, by PID. Skipped (77) without Slurm and munge, or as non-root.
source "$(dirname "$0")/../cli/common.sh"
for tool in slurmctld slurmd munged sbatch scontrol squeue scancel srun; do
  command -v $tool > /dev/null || PATH=$PATH:/usr/sbin:/sbin
  command -v $tool > /dev/null || { echo "skipped: $tool is not installed (Debian: slurm-wlm munge)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "skipped: slurmd must start as root to run jobs"; exit 77; }
id munge > /dev/null 2>&1 || { echo "skipped: no munge user (Debian: munge)"; exit 77; }

# ---- the cluster ----
daemons=()
stop_daemons() {
  for pid in "${daemons[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${daemons[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap stop_daemons EXIT

mkdir -p munge state spool log
chown munge:munge munge && chmod 711 munge # munged checks who owns its directories
key=/etc/munge/munge.key
if ! runuser -u munge -- test -r $key; then
  key=$WORK/munge/munge.key
  mungekey -c -k "$key" 2>/dev/null || dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
  chown munge:munge "$key" && chmod 400 "$key"
fi
runuser -u munge -- munged --socket="$WORK/munge/socket" --key-file="$key" --pid-file="$WORK/munge/munged.pid" \
  --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/munged.seed" || fail "munged did not start"
daemons+=("$(cat munge/munged.pid)")

port=$((20000 + $$ % 20000))
cpus=$(getconf _NPROCESSORS_ONLN) # not nproc: it follows OMP_NUM_THREADS
[ "$cpus" -ge 2 ] || cpus=2              # 2-task jobs; slurmd accepts more CPUs than it sees (config_overrides)
cat > slurm.conf <<CONF
ClusterName=lcfmtest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$WORK/munge/socket
CredType=cred/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobRequeue=1
MinJobAge=600
SlurmdParameters=config_overrides
NodeName=localhost CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
# PMIx's per-step directories (spmix_appdir_UID_JOB.STEP) go under this test's directory, not
# /tmp: job ids restart at 1 with every fresh cluster, and a directory left in /tmp by another
# run (another build's suite, a killed step) makes srun fail to launch that job's step.
mkdir -p pmix
echo "PMIxCliTmpDirBase=$WORK/pmix" > mpi.conf
export SLURM_CONF=$WORK/slurm.conf
slurmctld -D -c -f "$SLURM_CONF" > log/slurmctld.out 2>&1 &
daemons+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" > log/slurmd.out 2>&1 &
daemons+=($!)
for _ in $(seq 1 100); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 0.3; done
sinfo -h -o %T | grep -q idle || { tail log/*; fail "the local Slurm did not come up"; }
echo "local Slurm up: slurmctld and slurmd on ports $port-$((port + 1)), $cpus CPUs"

state_of() { scontrol show job "$1" | grep -o "JobState=[A-Z_]*" | cut -d= -f2; }
wait_done() { # job [seconds]: until COMPLETED, FAILED, CANCELLED or TIMEOUT
  for _ in $(seq 1 $((${2:-300} * 2))); do
    case "$(state_of "$1")" in COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL) return 0;; esac
    sleep 0.5
  done
  scontrol show job "$1" | head -5
  fail "job $1 did not end (state $(state_of "$1"))"
}
export LCFM OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 # sbatch passes the environment on

# ---- 1. the quickstart through train.sbatch, 2 tasks ----
quick=(-o simulate.stars=30 -o train.steps=10 -o train.validation_every=5 -o train.validation_triplets=16
       -o train.validation_fraction=0.2 -o "probe.sizes=20 50" -o probe.runs=2 -o probe.mlp_steps=50
       -o run.stages="simulate train embed probe")
job=$(sbatch --parsable --nodes=1 --ntasks-per-node=2 --time=20 --output=quickstart-%j.log \
      "$SOURCE/slurm/train.sbatch" "$SOURCE/jobs/quickstart.ini" "${quick[@]}")
wait_done "$job"
[ "$(state_of "$job")" = COMPLETED ] || { cat quickstart-$job.log; fail "quickstart job $(state_of "$job")"; }
scontrol show job "$job" | grep -q "ExitCode=0:0" || fail "quickstart exit code"
tail -1 quickstart-$job.log | grep -q "^SUCCESS slurm job $job" || { tail quickstart-$job.log; fail "no final SUCCESS"; }
grep -q "batch 16 triplets over 2 ranks" quickstart-$job.log || fail "training did not see 2 ranks"
grep -q "MLP probe R^2 (mean +- std over runs) from quickstart-probe.h5" quickstart-$job.log || fail "no probe table"
echo "1. quickstart through slurm/train.sbatch on 2 tasks: SUCCESS"

# Tasks that MPI cannot connect become singletons: lcfm refuses them before any work.
set +e
srun -n 2 --mpi=pmix bash -c "env -i PATH=\$PATH SLURM_STEP_NUM_TASKS=\$SLURM_STEP_NUM_TASKS \
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 $LCFM keys" > singletons.log 2>&1
code=$?
set -e
[ $code -ne 0 ] && [ "$(grep -c "Slurm started 2 tasks (SLURM_STEP_NUM_TASKS) but MPI sees 1 rank" singletons.log)" -eq 2 ] ||
  { cat singletons.log; fail "singleton tasks were not refused (exit $code)"; }
grep -q "^| job | name" singletons.log && fail "a singleton ran the verb"
echo "   tasks started as singletons are refused at start"

# A step whose tasks never launch: srun itself ends with 0, the script must still say FAILED.
# The job is held while the PMIx directory of its first step is put in the way, then released.
job=$(sbatch --parsable --hold --nodes=1 --ntasks-per-node=2 --time=5 --output=nolaunch-%j.log \
      "$SOURCE/slurm/train.sbatch" "$SOURCE/jobs/quickstart.ini" -o run.stages=simulate)
mkdir -p "pmix/spmix_appdir_$(id -u)_$job.0"
scontrol release "$job"
wait_done "$job"
[ "$(state_of "$job")" = FAILED ] || { cat nolaunch-$job.log; fail "a step that never launched: job $(state_of "$job")"; }
scontrol show job "$job" | grep -q "ExitCode=1:0" || fail "a step that never launched: exit code not 1"
grep -q "srun ended with 0 but lcfm reported no exit code" nolaunch-$job.log &&
  tail -1 nolaunch-$job.log | grep -q "^FAILED slurm job $job" || { cat nolaunch-$job.log; fail "no FAILED line"; }
rmdir "pmix/spmix_appdir_$(id -u)_$job.0"
echo "   a step whose tasks never launch ends FAILED with exit code 1"

job=$(sbatch --parsable --nodes=1 --ntasks-per-node=2 --time=5 --output=simulate-%j.log \
      "$SOURCE/slurm/simulate.sbatch" "$SOURCE/jobs/quickstart.ini" -o simulate.stars=20 -o simulate.output=sbatch-sim.h5)
wait_done "$job"
[ "$(state_of "$job")" = COMPLETED ] && tail -1 simulate-$job.log | grep -q "^SUCCESS slurm job $job" &&
  grep -q "seed [0-9]*, 2 ranks" simulate-$job.log && [ -f sbatch-sim.h5 ] || { cat simulate-$job.log; fail "simulate.sbatch"; }
echo "   slurm/simulate.sbatch on 2 tasks: SUCCESS"

# The survey samples through reprocess.sbatch (ingest, then embed with the quickstart's model).
data=${LCFM_SHARED_DATA:-}
if [ -d "$data/tess" ] && [ -d "$data/kepler" ]; then
  job=$(sbatch --parsable --nodes=1 --ntasks-per-node=2 --time=30 --output=reprocess-%j.log \
        "$SOURCE/slurm/reprocess.sbatch" "$SOURCE/jobs/tess-reprocess.ini" -o "ingest.inputs=$data/tess $data/kepler")
  wait_done "$job"
  [ "$(state_of "$job")" = COMPLETED ] || { cat reprocess-$job.log; fail "reprocess job $(state_of "$job")"; }
  tail -1 reprocess-$job.log | grep -q "^SUCCESS slurm job $job" || { tail reprocess-$job.log; fail "reprocess: no SUCCESS"; }
  grep -q "SUCCESS ingest" reprocess-$job.log && grep -q "SUCCESS embed" reprocess-$job.log || fail "reprocess steps"
  grep -q "restart 1" reprocess-$job.log && fail "reprocess was requeued (its time limit must exceed the warning offset)"
  [ -f tess-reprocess-embeddings.h5 ] || fail "no embeddings from reprocess.sbatch"
  echo "   survey samples through slurm/reprocess.sbatch (ingest, embed on 2 tasks): SUCCESS"
fi

# ---- 2. a 3-point sweep as a job array ----
cat > sweep.ini <<'INI'
[simulate]
output = sim.h5
stars = 30
curves_per_star = 6
instrument_terms = 5
K = 5
T = 32
[model]
encoder = mlp
T = 32
mlp_hidden = 16
latent = 4
projection_hidden = 8
projection_dim = 4
decoder_hidden = 8
[train]
checkpoint = model.h5
validation_fraction = 0.25
batch_triplets = 8
steps = 30
validation_every = 10
validation_triplets = 16
[embed]
output = emb.h5
[probe]
output = probe.h5
sizes = 10 20
runs = 1
mlp_steps = 20
test_objects = 30
[run]
stages = simulate train embed probe
[sweep]
directory = grid
simulate.K = 3 5 7
INI
array=$(sbatch --parsable --array=0-2%2 --ntasks=1 --time=10 --output=sweep-%A_%a.log "$SOURCE/slurm/sweep.sbatch" sweep.ini)
for i in 0 1 2; do wait_done "${array}_$i"; done
for i in 0 1 2; do
  log=sweep-${array}_$i.log
  [ "$(state_of "${array}_$i")" = COMPLETED ] || { cat "$log"; fail "array task $i $(state_of "${array}_$i")"; }
  tail -1 "$log" | grep -q "^SUCCESS slurm job .* (sweep point $i)" || { tail "$log"; fail "array task $i: no SUCCESS"; }
done
"$LCFM" sweep --collect sweep.ini > collect.log 2>&1 || { cat collect.log; fail "--collect"; }
grep -q "all 3 points done" collect.log || { cat collect.log; fail "not all sweep points done"; }
echo "2. 3-point sweep through slurm/sweep.sbatch (array, %2 throttle): every task SUCCESS, all collected"

# ---- 3. the time-limit warning: checkpoint, requeue, same result ----
# 2,000 steps: the step must still be training when the test stops it, some 0.1-0.3 s after it
# has logged step 50 (400 steps of this model take 0.3 s on a quiet machine in a Release build)
write_long_mlp_job long.ini "run.stages=simulate train" train.steps=2000
mkdir -p reference limit
cp long.ini reference/ && cp long.ini limit/
(cd reference && run_np 2 "$LCFM" run long.ini > run.log 2>&1) || { cat reference/run.log; fail "the uninterrupted run"; }
cd limit
job=$(sbatch --parsable --nodes=1 --ntasks-per-node=2 --time=10 --signal=B:USR1@60 --output=limit-%j.log \
      "$SOURCE/slurm/train.sbatch" long.ini)
log=limit-$job.log
for _ in $(seq 1 1200); do grep -q "step 50/" "$log" 2>/dev/null && break; sleep 0.1; done
grep -q "step 50/" "$log" || { cat "$log"; fail "training did not start"; }
scancel --signal=STOP "$job" # hold the step (only the step: the batch script must catch the warning)
scontrol update JobId="$job" TimeLimit=2 # the warning (60 s before the end) is due now or soon
for _ in $(seq 1 200); do grep -q "time-limit warning" "$log" && break; sleep 0.5; done
grep -q "time-limit warning" "$log" || { scancel --signal=CONT "$job"; cat "$log"; fail "no time-limit warning from Slurm"; }
scancel --signal=CONT "$job"
for _ in $(seq 1 240); do
  [ "$(scontrol show job "$job" | grep -o "Restarts=[0-9]*")" != "Restarts=0" ] && break
  sleep 0.5
done
grep -q "checkpoint model.h5 at step [0-9]* (signal: requeue me)" "$log" || { cat "$log"; fail "no checkpoint on the warning"; }
grep -q "lcfm-train: requeueing job $job (lcfm exit code 75)" "$log" || { cat "$log"; fail "not requeued on exit 75"; }
# A requeued job waits 2 minutes before it may start again; the test shortens that to a few
# seconds (slurmd refuses a restart in the same second its old credential was revoked).
for _ in $(seq 1 60); do [ "$(state_of "$job")" = PENDING ] && break; sleep 0.5; done
sleep 3
scontrol update JobId="$job" TimeLimit=10 StartTime=now
wait_done "$job" 240
[ "$(state_of "$job")" = COMPLETED ] || { cat "$log"; fail "after the requeue: $(state_of "$job")"; }
tail -1 "$log" | grep -q "^SUCCESS slurm job $job" || { tail "$log"; fail "no final SUCCESS after the requeue"; }
grep -q "stage train: running (training stopped at step [0-9]* of 2000), continuing its checkpoint" "$log" ||
  { cat "$log"; fail "the requeued run did not continue the checkpoint"; }
for group in /params /adam_m /adam_v; do
  h5diff ../reference/model.h5 model.h5 $group $group > diff.txt || { head diff.txt; fail "$group differs from the uninterrupted run"; }
done
stopped=$(grep -o "checkpoint model.h5 at step [0-9]* (signal" "$log" | grep -o "step [0-9]*" | grep -o "[0-9]*")
echo "3. time-limit warning at step $stopped: checkpoint, exit 75, requeued, finished bitwise equal to the uninterrupted run"
cd ..
stop_daemons
trap - EXIT
echo "local Slurm stopped"

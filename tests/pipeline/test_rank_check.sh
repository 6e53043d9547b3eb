# lcfm refuses to run inside a Slurm step whose task count is not its MPI rank count (tasks
# started as singletons: each would run the whole job alone), before any output; a matching
# count, mpirun inside an allocation, and LCFM_SKIP_RANK_CHECK=1 pass; one rank in a batch
# step of a several-task job only gets a warning. The real srun case is in tests/slurm.
source "$(dirname "$0")/../cli/common.sh"
printf '[simulate]\noutput = out.h5\nstars = 5\n' > job.ini
set +e
env SLURM_JOB_ID=1 SLURM_STEP_NUM_TASKS=2 SLURM_NTASKS=2 "$LCFM" simulate job.ini > singleton.log 2>&1; code=$?
set -e
[ $code -eq 1 ] || { cat singleton.log; fail "2 Slurm tasks seen as 1 rank: exit $code, expected 1"; }
grep -q "Slurm started 2 tasks (SLURM_STEP_NUM_TASKS) but MPI sees 1 rank (the tasks were started as singletons" singleton.log ||
  { cat singleton.log; fail "message"; }
grep -q "^FAILED" singleton.log || fail "no FAILED line"
[ ! -e out.h5 ] && [ ! -e out.h5.partial ] || fail "output written despite the failed check"

env SLURM_JOB_ID=1 SLURM_STEP_NUM_TASKS=1 SLURM_NTASKS=1 "$LCFM" simulate job.ini > one.log 2>&1 || { cat one.log; fail "1 task, 1 rank refused"; }
rm -f out.h5
env SLURM_JOB_ID=1 SLURM_STEP_NUM_TASKS=3 "$MPIEXEC" --oversubscribe -np 2 "$LCFM" simulate job.ini > mpirun.log 2>&1 ||
  { cat mpirun.log; fail "mpirun inside a Slurm step refused"; }
rm -f out.h5
env SLURM_JOB_ID=1 SLURM_STEP_NUM_TASKS=2 LCFM_SKIP_RANK_CHECK=1 "$LCFM" simulate job.ini > skip.log 2>&1 || { cat skip.log; fail "LCFM_SKIP_RANK_CHECK=1 refused"; }
rm -f out.h5
env SLURM_JOB_ID=1 SLURM_NTASKS=4 "$LCFM" simulate job.ini > batch.log 2>&1 || { cat batch.log; fail "batch step refused"; }
grep -q "warning: 1 MPI rank in a Slurm job of 4 tasks" batch.log || { cat batch.log; fail "no warning in a batch step"; }
echo "rank-count check: singletons refused, the rest runs"

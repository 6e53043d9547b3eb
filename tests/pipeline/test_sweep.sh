# lcfm sweep on 2 ranks over a 2 x 2 grid: --list shows every point; a bad grid value, a point
# that is not a valid job (by --list, and by its own --task) and a task out of range are refused with exit 2 before anything is
# written; a task killed with SIGKILL during training, run again, skips its simulation,
# continues its checkpoint and ends bitwise equal to the same point run without interruption;
# --collect writes one table (grid values, status, wall time, probe R^2, linear probes; h5py
# checks it against the points' probe stores) and
# lists a point whose output was removed as not done; tools/plot_sweep.py draws a metric.
source "$(dirname "$0")/../cli/common.sh"
write_long_mlp_job sweep.ini job.seed=11 train.validation_every=100 train.checkpoint_minutes=0.002
cat >> sweep.ini <<'INI'
[embed]
output = emb.h5
[probe]
output = probe.h5
sizes = 20 40
runs = 1
mlp_steps = 40
test_objects = 60
[run]
stages = simulate train embed probe
[sweep]
directory = grid
simulate.instruments = 3 5
simulate.alpha = 1 2.5
INI

"$LCFM" sweep --list sweep.ini > list.log || { cat list.log; fail "--list"; }
grep -q "4 points in grid/" list.log || fail "--list point count"
[ "$(grep -c " missing$" list.log)" -eq 4 ] || { cat list.log; fail "--list statuses"; }
grep -q "sbatch --array=0-3%4 slurm/sweep.sbatch sweep.ini" list.log || fail "--list sbatch line"

expect_refused() { # log, what, command...
  local log=$1 what=$2; shift 2
  set +e; "$@" > "$log" 2>&1; local code=$?; set -e
  [ $code -eq 2 ] || { cat "$log"; fail "$what: exit $code, expected 2"; }
  [ ! -e grid ] || fail "$what: the sweep directory was created"
}
expect_refused bad_value.log "K = 1 in the grid" "$LCFM" sweep --list -o "sweep.simulate.K=1 5" sweep.ini
grep -q "\[sweep\] simulate.K: value 1: 1 is outside" bad_value.log || { cat bad_value.log; fail "bad value message"; }
# A grid value that would not read back from a point's job file (" ;" starts an INI comment).
expect_refused unwritable.log "a grid value with ' ;'" "$LCFM" sweep --list -o "sweep.job.name=x ;y|z" sweep.ini
grep -q "\[sweep\] job.name: the value cannot be written back" unwritable.log || { cat unwritable.log; fail "unwritable value message"; }
# --list checks every point; --task I only its own (an array job's tasks cost O(1) each in the grid).
expect_refused bad_point.log "instrument_terms > T at one point" "$LCFM" sweep --list -o "sweep.simulate.instrument_terms=5 50" sweep.ini
grep -q "point 1 (.*simulate.instrument_terms=50) is not a valid job" bad_point.log || { cat bad_point.log; fail "bad point message"; }
expect_refused bad_task.log "--task of the bad point" "$LCFM" sweep --task 1 -o "sweep.simulate.instrument_terms=5 50" sweep.ini
grep -q "point 1 (.*simulate.instrument_terms=50) is not a valid job" bad_task.log || { cat bad_task.log; fail "bad task message"; }
expect_refused range.log "--task 4 of 4 points" "$LCFM" sweep --task 4 sweep.ini
grep -q "has points 0 to 3" range.log || fail "out-of-range message"
expect_refused mode.log "no mode" "$LCFM" sweep sweep.ini
echo "bad grids and tasks refused before any output"

# The uninterrupted reference of point 3. Its training is 10x longer than the other points' (a few
# seconds on an idle machine), so the kill below lands during training, not after it.
long=(-o train.steps=4000)
run_np 2 "$LCFM" sweep --task 3 "${long[@]}" -o sweep.directory=reference sweep.ini > reference.log 2>&1 ||
  { cat reference.log; fail "reference point"; }

# Point 3 killed during training (after a periodic checkpoint), then run again.
setsid "$MPIEXEC" --oversubscribe -np 2 "$LCFM" sweep --task 3 "${long[@]}" sweep.ini > killed.log 2>&1 &
group=$! # setsid gives mpirun and its ranks a process group of their own
for _ in $(seq 1 1500); do grep -q "checkpoint grid/point-0003/model.h5 at step [1-9][0-9]* (periodic)" killed.log && break; sleep 0.02; done
kill -KILL -- -$group
set +e; wait $group; set -e
grep -q "SUCCESS" killed.log && fail "point 3 finished before it was killed; make training longer"
grep -q "(periodic)" killed.log || { cat killed.log; fail "no periodic checkpoint before the kill"; }
[ -f grid/point-0003/sim.h5 ] && [ ! -f grid/point-0003/probe.h5 ] || fail "state after the kill"
run_np 2 "$LCFM" sweep --task 3 "${long[@]}" sweep.ini > again.log 2>&1 || { cat again.log; fail "point 3 run again"; }
grep -q "stage simulate: skipped" again.log || fail "the simulation ran again"
grep -q "stage train: running (training stopped at step [0-9]* of 4000), continuing its checkpoint" again.log ||
  { grep stage again.log; fail "training did not continue its checkpoint"; }
grep -q "resumed from grid/point-0003/model.h5" again.log || fail "the trainer did not resume"
for object in /params /adam_m /adam_v; do
  h5diff reference/point-0003/model.h5 grid/point-0003/model.h5 $object $object > diff.txt || { head diff.txt; fail "$object differs"; }
done
h5diff reference/point-0003/probe.h5 grid/point-0003/probe.h5 /mlp/r2 /mlp/r2 > diff.txt || { head diff.txt; fail "probe R^2 differs"; }
echo "killed task: run again, reused its simulation and checkpoint, bitwise equal to the uninterrupted point"

# Every point of the grid as it is written (point 3 again: its job differs from the longer run's,
# so it is trained again).
for i in 0 1 2 3; do
  run_np 2 "$LCFM" sweep --task $i sweep.ini > task$i.log 2>&1 || { cat task$i.log; fail "task $i"; }
done
grep -q "stage train: running (grid/point-0003/model.h5 was made by another job" task3.log ||
  { grep stage task3.log; fail "point 3's longer checkpoint was not trained again for the grid's job"; }
grep -q "job.ini" <(ls grid/point-0001) || fail "no job.ini in the point directory"
grep -q "^instruments = 3" grid/point-0001/job.ini && grep -q "^alpha = 2.5" grid/point-0001/job.ini || fail "point 1's job values"
"$LCFM" simulate -o simulate.output=check.h5 grid/point-0001/job.ini > /dev/null 2>&1 || fail "a point's job.ini is not a job file lcfm reads"

"$LCFM" sweep --collect sweep.ini > collect.log || { cat collect.log; fail "--collect"; }
grep -q "all 4 points done" collect.log || { cat collect.log; fail "not all done"; }
/usr/bin/python3 - <<'PY' || fail "the sweep table"
import h5py, numpy as np
t = h5py.File("grid/sweep.h5", "r")
assert t.attrs["schema"] == b"lcfm-sweep" and b"[sweep]" in t.attrs["job"]
assert list(t["points/status"][:]) == [2, 2, 2, 2], t["points/status"][:]
assert list(t["grid/simulate.instruments"][:]) == [3, 3, 5, 5]
assert list(t["grid/simulate.alpha"][:]) == [1, 2.5, 1, 2.5]
assert (t["points/wall_seconds"][:] > 0).all()
assert [x.decode() for x in t["probe/inputs"][:]] == ["raw", "z_star", "z_instr", "oracle"]
assert list(t["probe/sizes"][:]) == [20, 40]
r2 = t["probe/r2_mean"][:]
assert r2.shape == (4, 4, 2) and np.isfinite(r2).all(), r2
p = h5py.File("grid/point-0002/probe.h5", "r")
assert np.array_equal(r2[2], p["mlp/r2_mean"][:]), "row 2 is not point 2's probe"
assert [x.decode() for x in t["linear/inputs"][:]] == ["z_star", "z_instr"], t["linear/inputs"][:]
accuracy = t["linear/accuracy_test"][:]
assert accuracy.shape == (4, 2) and ((accuracy >= 0) & (accuracy <= 1)).all(), accuracy
assert np.array_equal(accuracy[2], p["linear/accuracy_test"][:]), "row 2 is not point 2's linear probe"
assert np.array_equal(t["linear/majority_accuracy"][:][[2]], [p["linear"].attrs["majority_accuracy"]])
PY

rm grid/point-0001/probe.h5
"$LCFM" sweep --collect sweep.ini > collect2.log || fail "--collect with a point missing"
grep -q "1 of 4 points not done: 1" collect2.log && grep -q "sbatch --array=1 slurm/sweep.sbatch" collect2.log ||
  { cat collect2.log; fail "the missing point is not listed"; }
/usr/bin/python3 -c "
import h5py, numpy as np; t = h5py.File('grid/sweep.h5', 'r')
assert list(t['points/status'][:]) == [2, 1, 2, 2] and np.isnan(t['probe/r2_mean'][1]).all()" || fail "table with a missing point"
echo "--collect: one table, missing points listed"

if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  for metric in z_star linear:z_star instrument:z_instr wall_seconds; do
    /usr/bin/python3 "$SOURCE/tools/plot_sweep.py" grid/sweep.h5 --x simulate.alpha --metric $metric \
      --lines simulate.instruments --out alpha.png > plot.log || { cat plot.log; fail "plot_sweep.py --metric $metric"; }
    [ -s alpha.png ] && grep -q "alpha.png" plot.log || fail "no PNG for $metric"
  done
  set +e; /usr/bin/python3 "$SOURCE/tools/plot_sweep.py" grid/sweep.h5 --x simulate.K --metric z_star --out k.png > bad.log 2>&1; code=$?; set -e
  [ $code -ne 0 ] && grep -q "simulate.K" bad.log && ! grep -q Traceback bad.log || { cat bad.log; fail "plot of a key not in the grid"; }
  echo "plot_sweep.py draws a metric against a key"
  /usr/bin/python3 "$SOURCE/tools/plot_sweep.py" grid/sweep.h5 --print --metric z_star@40 --metric instrument:z_instr \
    > print.log || { cat print.log; fail "plot_sweep.py --print"; }
  /usr/bin/python3 - <<PY || { cat print.log; fail "plot_sweep.py --print: rows differ from the table"; }
import h5py
t = h5py.File("grid/sweep.h5", "r")
rows = [l.split("|")[1:-1] for l in open("print.log") if l.startswith("| ") and not l.startswith("| point")]
done = [k for k, s in enumerate(t["points/status"][:]) if s == 2]
assert [int(r[0]) for r in rows] == done, (rows, done)
n = list(t["probe/sizes"][:]).index(40)
z = [x.decode() for x in t["probe/inputs"][:]].index("z_star")
for r in rows:
    assert abs(float(r[-2]) - t["probe/r2_mean"][int(r[0]), z, n]) < 1e-3, r
PY
  echo "plot_sweep.py --print: one Markdown row per done point"
fi
echo "lcfm sweep: list, task, kill and rerun, collect behave"

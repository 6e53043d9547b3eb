# lcfm run on 2 ranks: every stage of a small job (simulate, causal and baseline training,
# both embeddings, probe, plots when matplotlib is there) ends with the probe table and the PNG
# paths; run again, every stage is skipped and no file changes; a changed probe key reruns the
# probe (and plots) only; SIGUSR1 during training gives exit 75 and a record saying
# "requeued", and the next run continues the checkpoint and ends with parameters bitwise equal
# to an uninterrupted run; a run job with a [sweep] section is refused.
source "$(dirname "$0")/../cli/common.sh"
stages="simulate train embed probe plots"
if ! /usr/bin/python3 -c "import matplotlib, h5py" 2>/dev/null || [ ! -f "$SOURCE/tools/plot_paper.py" ]; then
  stages="simulate train embed probe"
  echo "no matplotlib or tools/plot_paper.py: the plots stage is left out"
fi
write_long_mlp_job job.ini job.seed=7 simulate.stars=60 simulate.instruments=5 \
  simulate.curves_per_star=10 simulate.T=48 model.T=48 train.steps=3000 train.validation_every=100 \
  train.patience=1000
cat >> job.ini <<INI
[embed]
output = emb.h5
[probe]
output = probe.h5
sizes = 20 50
runs = 2
mlp_steps = 50
test_objects = 100
[run]
stages = $stages
baseline = true
record = run.h5
INI
short="-o train.steps=60 -o train.validation_every=20"

run_np 2 "$LCFM" run $short job.ini > first.log 2>&1 || { cat first.log; fail "first run"; }
for f in sim.h5 model.h5 model.best.h5 model-baseline.h5 model-baseline.best.h5 emb.h5 emb-baseline.h5 probe.h5 run.h5; do
  [ -f "$f" ] || fail "$f missing after the first run"
done
grep -q "MLP probe R^2 (mean +- std over runs) from probe.h5" first.log || fail "no probe table at the end"
grep -A3 "MLP probe R^2" first.log | tail -1 | grep -q "^ *50 " || fail "probe table rows"
grep -q "SUCCESS run" first.log || fail "no SUCCESS line"
if [[ $stages == *plots* ]]; then
  grep -A10 "^plots:" first.log | grep -q "probe-plots/.*\.png" || fail "no PNG paths at the end"
  for png in $(grep -v "^#" probe-plots/plots.txt); do [ -s "$png" ] || fail "$png listed but missing"; done
fi
/usr/bin/python3 - <<'PY' || fail "run record"
import h5py
r = h5py.File("run.h5", "r")
assert r.attrs["status"] == b"done", r.attrs["status"]
assert r.attrs["schema"] == b"lcfm-run"
names = [n.decode() for n in r["stages/name"][:]]
assert names[:6] == ["simulate", "train", "train-baseline", "embed", "embed-baseline", "probe"], names
assert all(a == b"ran" for a in r["stages/action"][:]), r["stages/action"][:]
assert (r["stages/seconds"][:] > 0).all()
assert r.attrs["seconds"] > 0 and b"[run]" in r.attrs["job"]
e = h5py.File("emb-baseline.h5", "r")
assert "z" in e and "z_star" not in e, list(e)
assert e.attrs["checkpoint"] == b"model-baseline.best.h5"
p = h5py.File("probe.h5", "r")
assert [n.decode() for n in p["mlp/inputs"][:]] == ["raw", "baseline z", "z_star", "z_instr", "oracle"], p["mlp/inputs"][:]
PY
echo "first run: every stage ran, the table and the outputs are there"

# Again: everything skipped, nothing rewritten.
stat -c '%n %Y %s' sim.h5 model.h5 emb.h5 emb-baseline.h5 probe.h5 > before.txt
run_np 2 "$LCFM" run $short job.ini > second.log 2>&1 || { cat second.log; fail "second run"; }
ran=$(grep -c "stage .*: running" second.log || true)
[ "$ran" -eq 0 ] || { grep "stage" second.log; fail "$ran stages ran again"; }
[ "$(grep -c "stage .*: skipped" second.log)" -eq "$(grep -c "stage .*: running" first.log)" ] || fail "not every stage skipped"
stat -c '%n %Y %s' sim.h5 model.h5 emb.h5 emb-baseline.h5 probe.h5 | diff - before.txt || fail "a skipped stage touched its output"
grep -q "MLP probe R^2" second.log || fail "no probe table after a run with every stage skipped"
echo "second run: every stage skipped"

# A probe key changes: only the probe (and the plots) run.
run_np 2 "$LCFM" run $short -o probe.runs=3 job.ini > third.log 2>&1 || { cat third.log; fail "third run"; }
grep "stage .*: running" third.log | grep -qv -e "stage probe" -e "stage plots" && fail "a stage before the probe ran"
grep -q "stage probe: running (probe.h5 was made by another job: \[probe\] runs is '2' there and '3' here)" third.log ||
  { grep stage third.log; fail "the probe did not rerun for its changed key"; }
echo "third run: a changed probe key reran the probe only"

# Reference: the same training without interruption.
mkdir -p reference && cp job.ini reference/ && cd reference
run_np 2 "$LCFM" run -o run.stages="simulate train" -o run.baseline=false job.ini > ref.log 2>&1 || { cat ref.log; fail "reference run"; }
cd ..

# SIGUSR1 (Slurm's warning) during training: checkpoint, exit 75; the next run continues and matches the reference.
# (3,000 steps: about a second on an idle machine, so the signal after step 150 lands during training.)
mkdir -p term && cp job.ini term/ && cd term
"$MPIEXEC" --oversubscribe -np 2 "$LCFM" run -o run.stages="simulate train" -o run.baseline=false job.ini > term.log 2>&1 &
pid=$! # mpirun's own id: it passes SIGUSR1 on to the ranks
for _ in $(seq 1 1500); do grep -q "step 150/" term.log 2>/dev/null && break; sleep 0.02; done
grep -q "step 150/" term.log || { kill $pid; cat term.log; fail "training never reached step 150"; }
kill -USR1 $pid
set +e; wait $pid; code=$?; set -e
[ $code -eq 75 ] || { tail term.log; fail "SIGUSR1 exit code $code, expected 75"; }
grep -q "exit 75 asks to be requeued" term.log || fail "no requeue message"
/usr/bin/python3 -c "
import h5py; r = h5py.File('run.h5', 'r')
assert r.attrs['status'] == b'requeued', r.attrs['status']
assert [a.decode() for a in r['stages/action'][:]] == ['ran', 'requeued'], r['stages/action'][:]" || fail "record after SIGUSR1"
run_np 2 "$LCFM" run -o run.stages="simulate train" -o run.baseline=false job.ini > resume.log 2>&1 || { cat resume.log; fail "run after SIGUSR1"; }
grep -q "stage simulate: skipped" resume.log || fail "simulate ran again after SIGUSR1"
grep -q "stage train: running (training stopped at step [0-9]* of 3000), continuing its checkpoint" resume.log ||
  { grep stage resume.log; fail "training did not continue its checkpoint"; }
grep -q "resumed from model.h5" resume.log || fail "the trainer did not resume"
for group in /params /adam_m /adam_v; do
  h5diff ../reference/model.h5 model.h5 $group $group > diff.txt || { head diff.txt; fail "$group differs from the uninterrupted run"; }
done
cd ..
echo "SIGUSR1: exit 75, then continued to parameters bitwise equal to an uninterrupted run"

# A grid job is not a run job.
printf '[sweep]\nsimulate.K = 4 5\n' >> job.ini
set +e; "$LCFM" run job.ini > grid.log 2>&1; code=$?; set -e
[ $code -eq 2 ] && grep -q "lcfm sweep --task" grid.log || { cat grid.log; fail "a [sweep] job was run (exit $code)"; }
echo "lcfm run: stages, skips, reruns and requeue behave"

# The README's quickstart: `lcfm run jobs/quickstart.ini` on 2 ranks, shortened (30 stars, 10
# training steps, a smaller probe), runs every stage with the baseline, ends with the probe table (raw,
# baseline z, z_star, z_instr) and the PNG paths, and gives a readable store; run again, every
# stage is skipped.
source "$(dirname "$0")/common.sh"
short=(-o simulate.stars=30 -o train.steps=10 -o train.validation_every=5 -o train.validation_triplets=16
       -o train.validation_fraction=0.2 -o "probe.sizes=20 50" -o probe.runs=2 -o probe.mlp_steps=50)
stages="simulate train embed probe plots"
/usr/bin/python3 -c "import matplotlib, h5py" 2>/dev/null || stages="simulate train embed probe"
run_np 2 "$LCFM" run "${short[@]}" -o run.stages="$stages" "$SOURCE/jobs/quickstart.ini" > quickstart.log 2>&1 ||
  { cat quickstart.log; fail "lcfm run jobs/quickstart.ini"; }
grep -q "SUCCESS run" quickstart.log || { cat quickstart.log; fail "no SUCCESS"; }
grep -q "latent separation" quickstart.log || fail "no latent separation report"
for f in quickstart.h5 quickstart-model.h5 quickstart-model.best.h5 quickstart-model-baseline.h5 \
         quickstart-embeddings.h5 quickstart-embeddings-baseline.h5 quickstart-probe.h5; do
  [ -f "$f" ] || fail "$f missing"
done
grep -A1 "^MLP probe R^2 (mean +- std over runs) from quickstart-probe.h5" quickstart.log | tail -1 |
  grep -q "raw *baseline z *z_star *z_instr" || { cat quickstart.log; fail "the probe table at the end"; }
if [[ $stages == *plots* ]]; then
  grep -A5 "^plots:" quickstart.log | grep -q "quickstart-plots/r2_vs_size.png" || fail "no PNG paths at the end"
  [ -s quickstart-plots/r2_vs_size.png ] || fail "PNG missing"
fi
"$LCFM" info quickstart.h5 > info.txt
grep -q "objects      600" info.txt || { cat info.txt; fail "quickstart object count"; }
grep -q "truth        present" info.txt || fail "quickstart truth"
run_np 2 "$LCFM" run "${short[@]}" -o run.stages="$stages" "$SOURCE/jobs/quickstart.ini" > again.log 2>&1 || fail "second run"
grep -q "stage .*: running" again.log && { grep stage again.log; fail "a stage ran again"; }
grep -q "MLP probe R^2" again.log || fail "no table on the second run"
echo "quickstart runs"

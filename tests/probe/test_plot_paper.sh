# tools/plot_paper.py on a probe store from lcfm probe: figure 3 and one figure-2 map per latent
# are written as PNG files and printed one per line; without /pca the maps come from the
# embedding store; missing or wrong inputs give one line and a non-zero exit, never a traceback.
# Skipped (77) where matplotlib is not installed.
source "$(dirname "$0")/../cli/common.sh"
/usr/bin/python3 -c "import matplotlib, h5py" 2> /dev/null || { echo "matplotlib or h5py missing: skipped"; exit 77; }
source "$SOURCE/tests/probe/common_probe.sh"
make_probe_inputs
"$LCFM" probe job.ini > probe.log 2>&1 || { cat probe.log; fail "probe"; }
PLOT="/usr/bin/python3 $SOURCE/tools/plot_paper.py"
$PLOT --probe probe.h5 --store sim.h5 --out figs > written.txt 2> plot.err || { cat plot.err; fail "plot_paper.py"; }
cat written.txt
expected="figs/r2_vs_size.png figs/map_baseline_z.png figs/map_z_star.png figs/map_z_instr.png"
[ "$(tr '\n' ' ' < written.txt)" = "$expected " ] || fail "printed paths: $(cat written.txt)"
for png in $expected; do
  [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$png is not a PNG"
  [ "$(stat -c %s "$png")" -gt 10000 ] || fail "$png is nearly empty"
done
# no /pca in the probe store: maps from the embedding store
/usr/bin/python3 -c "
import h5py, shutil
shutil.copy('probe.h5', 'nopca.h5')
with h5py.File('nopca.h5', 'a') as f: del f['pca']
"
$PLOT --probe nopca.h5 --embeddings emb.h5 --out figs2 > written2.txt || fail "maps from the embedding store"
[ "$(tr '\n' ' ' < written2.txt)" = "figs2/r2_vs_size.png figs2/map_z_star.png figs2/map_z_instr.png " ] \
  || fail "maps from embeddings: $(cat written2.txt)"
expect_error() { # expect_error MESSAGE ARGS...: exit non-zero, one line naming the problem
  local message=$1; shift
  set +e
  $PLOT "$@" > out.txt 2> err.txt; local code=$?
  set -e
  [ $code -ne 0 ] && [ ! -s out.txt ] && [ "$(wc -l < err.txt)" -eq 1 ] && grep -q "$message" err.txt \
    && ! grep -q Traceback err.txt || { cat err.txt; fail "$* (exit $code): expected '$message'"; }
}
expect_error "missing.h5: no such probe store" --probe missing.h5 --out figs3
expect_error "sim.h5: not an lcfm probe store" --probe sim.h5 --out figs3
expect_error "job.ini: cannot read as HDF5" --probe job.ini --out figs3
expect_error "give --embeddings" --probe nopca.h5 --out figs3
expect_error "nothere.h5: no such embedding store" --probe probe.h5 --embeddings nothere.h5 --out figs3
echo "plots written"

# cmake --install ships what the installed binary needs: bin/lcfm and share/lcfm/plot_paper.py,
# plot_sweep.py; the plots stage of the installed binary finds its plot_paper.py beside it
# (PREFIX/share/lcfm, the prefix moved elsewhere too) before the source tree's, with LCFM_TOOLS
# unset; with matplotlib, the installed script draws the figures.
source "$(dirname "$0")/../cli/common.sh"
/usr/bin/python3 -c "import h5py" 2>/dev/null || { echo "SKIP: no h5py"; exit 77; }
unset LCFM_TOOLS
"$CMAKE_COMMAND" --install "$LCFM_BUILD_DIR" --prefix "$WORK/prefix" > install.log ||
  { cat install.log; fail "install"; }
for tool in plot_paper.py plot_sweep.py; do
  [ -x "prefix/share/lcfm/$tool" ] && cmp -s "prefix/share/lcfm/$tool" "$SOURCE/tools/$tool" ||
    fail "$tool not installed"
done
[ -x prefix/bin/lcfm ] || fail "bin/lcfm not installed"

source "$SOURCE/tests/probe/common_probe.sh"
make_probe_inputs
"$LCFM" probe job.ini > probe.log 2>&1 || { cat probe.log; fail "probe"; }
printf '[run]\nstages = plots\n' >> job.ini

# A moved prefix whose plot_paper.py is a stub: the stub's PNG in the manifest shows which script ran.
cp -r prefix moved
cat > moved/share/lcfm/plot_paper.py <<'PY'
import sys
out = sys.argv[sys.argv.index("--out") + 1]
open(out + "/installed.png", "wb").write(b"stub")
print(out + "/installed.png")
PY
moved/bin/lcfm run -o run.plots=stub-plots job.ini > stub.log 2>&1 ||
  { cat stub.log; fail "plots stage of the moved prefix"; }
grep -qx "stub-plots/installed.png" stub-plots/plots.txt ||
  { cat stub.log; fail "the installed plot_paper.py did not run"; }

if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  prefix/bin/lcfm run -o run.plots=figs job.ini > figs.log 2>&1 ||
    { cat figs.log; fail "plots stage of the installed binary"; }
  grep -qx "figs/r2_vs_size.png" figs/plots.txt && [ -s figs/r2_vs_size.png ] || { cat figs.log; fail "no figure"; }
fi
echo "installed: lcfm and its plot tools; the plots stage runs the installed plot_paper.py"

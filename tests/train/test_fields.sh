# [train]/[embed] fields: embedding one field gives the whole-store rows of its objects (ids and
# latents, bitwise), through /index and through a scan of /objects/field; training on a field
# gives the same losses on 1 and 2 ranks and draws only its objects; a bad value is refused (exit 2).
source "$(dirname "$0")/../cli/common.sh"
cat > job.ini <<'INI'
[job]
seed = 8
[simulate]
output = sim.h5
stars = 30
instruments = 4
curves_per_star = 4
stars_per_field = 10
T = 80
[model]
T = 32
d_model = 8
heads = 2
feed_forward = 16
blocks = 1
kernel = 3
latent = 4
[train]
store = sim.h5
checkpoint = model.h5
batch_triplets = 8
steps = 6
log_every = 1
validation_every = 3
validation_triplets = 8
validation_fraction = 0.3
[embed]
store = sim.h5
checkpoint = model.h5
output = all.h5
block_objects = 1000
batch_windows = 50
INI
"$LCFM" simulate job.ini > /dev/null
"$LCFM" train job.ini > train.log || { cat train.log; fail "training"; }
"$LCFM" embed job.ini > embed.log || { cat embed.log; fail "whole-store embed"; }
run_np 2 "$LCFM" embed -o embed.fields=1 -o embed.output=f1.h5 -o embed.block_objects=7 job.ini > f1.log \
  || { cat f1.log; fail "embed fields = 1 on 2 ranks"; }
/usr/bin/python3 - <<'PY' || fail "copy without /index"
import h5py, shutil
shutil.copy("sim.h5", "noindex.h5")
with h5py.File("noindex.h5", "r+") as f: del f["index"]
PY
"$LCFM" embed -o embed.store=noindex.h5 -o "embed.fields=0, 2-2" -o embed.output=f02.h5 job.ini > f02.log \
  || { cat f02.log; fail "embed fields = 0 2 without /index"; }
/usr/bin/python3 - <<'PY' || fail "selected embeddings differ from the whole-store rows"
import h5py, numpy as np
s, a = h5py.File("sim.h5", "r"), h5py.File("all.h5", "r")
field = s["objects/field"][:]
for name, chosen in (("f1.h5", [1]), ("f02.h5", [0, 2])):
    e = h5py.File(name, "r")
    rows = np.flatnonzero(np.isin(field, chosen))
    assert len(rows) == 40 * len(chosen), (name, len(rows))
    assert np.array_equal(e["objects/id"][:], s["objects/id"][rows]), name
    for col in ("source", "instrument", "field", "label"):
        assert np.array_equal(e["objects/" + col][:], s["objects/" + col][rows]), (name, col)
    for z in ("z_star", "z_instr"):
        assert e[z].shape == (len(rows), 4)
        assert np.array_equal(e[z][:].view(np.uint32), a[z][rows].view(np.uint32)), (name, z, np.abs(e[z][:] - a[z][rows]).max())
    assert e.attrs["fields"] in (b"1", "1", b"0, 2-2", "0, 2-2"), e.attrs["fields"]
print("selected rows equal the whole-store rows")
PY
# Training on field 2 alone: the same losses on 1 and 2 ranks.
for np_ in 1 2; do
  run_np $np_ "$LCFM" train -o train.fields=2 -o train.checkpoint=ckpt$np_.h5 job.ini > trainf$np_.log \
    || { cat trainf$np_.log; fail "train fields = 2 on $np_ ranks"; }
  grep -q "train on fields 2: 40 of the store's objects" trainf$np_.log || { cat trainf$np_.log; fail "no selection logged"; }
  grep -o "loss [0-9.]*" trainf$np_.log > loss$np_.txt
done
[ "$(wc -l < loss1.txt)" -ge 6 ] && cmp -s loss1.txt loss2.txt || { paste loss1.txt loss2.txt; fail "losses differ between 1 and 2 ranks"; }
# ... and they are not the whole store's (the selection changes what is drawn).
grep -o "loss [0-9.]*" train.log > loss_all.txt
! cmp -s loss1.txt loss_all.txt || fail "training on field 2 gave the whole store's losses"
# Probe of field 1: from its own embeddings or the whole store's; another selection's are refused.
cat >> job.ini <<'INI'
[probe]
store = sim.h5
embeddings = all.h5
output = probe.h5
sizes = 10 20
runs = 1
mlp_steps = 20
test_objects = 10
stopping_objects = 0
INI
"$LCFM" probe -o probe.fields=1 job.ini > probe.log || { cat probe.log; fail "probe fields = 1 of the whole-store embeddings"; }
"$LCFM" probe -o probe.fields=1 -o probe.embeddings=f1.h5 -o probe.output=probe1.h5 job.ini > probe1.log \
  || { cat probe1.log; fail "probe fields = 1 of its own embeddings"; }
set +e
"$LCFM" probe -o probe.fields=2 -o probe.embeddings=f1.h5 -o probe.output=probe2.h5 job.ini > probe2.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "not those probed" probe2.log && [ ! -e probe2.h5 ] || { cat probe2.log; fail "probe of another selection: exit $code"; }
# A bad value is a job-file error: exit 2 before any work, for every verb's key.
for bad in "train.fields=3-1" "embed.fields=x" "probe.fields=1-" "train.fields=-4"; do
  set +e
  "$LCFM" train -o "$bad" -o train.checkpoint=bad.h5 job.ini > bad.log 2>&1; code=$?
  set -e
  [ $code -eq 2 ] && grep -q "fields" bad.log && [ ! -e bad.h5 ] || { cat bad.log; fail "$bad: exit $code"; }
done
echo "fields selection ok"

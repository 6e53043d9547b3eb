# lcfm embed: the same latents at 1 and 2 ranks and at any block size; ids joinable with the
# store; long light curves averaged over windows; the baseline writes /z; a checkpoint of
# another model is refused.
source "$(dirname "$0")/../cli/common.sh"
cat > job.ini <<'INI'
[job]
seed = 8
[simulate]
output = sim.h5
stars = 30
instruments = 4
curves_per_star = 4
T = 150
[model]
T = 64
d_model = 16
heads = 2
feed_forward = 32
blocks = 1
kernel = 5
latent = 6
[train]
store = sim.h5
checkpoint = model.h5
batch_triplets = 12
steps = 30
validation_every = 30
validation_triplets = 12
[embed]
store = sim.h5
checkpoint = model.h5
output = emb.h5
block_objects = 1000
batch_windows = 50
INI
"$LCFM" simulate job.ini > /dev/null
"$LCFM" train job.ini > train.log || { cat train.log; fail "training"; }
run_np 1 "$LCFM" embed -o embed.output=emb1.h5 job.ini > embed1.log || { cat embed1.log; fail "embed, 1 rank"; }
run_np 2 "$LCFM" embed -o embed.output=emb2.h5 -o embed.block_objects=7 -o embed.batch_windows=9 job.ini > embed2.log \
  || { cat embed2.log; fail "embed, 2 ranks"; }
for path in /objects /z_star /z_instr; do
  h5diff -d 1e-5 emb1.h5 emb2.h5 $path $path > diff.txt || { head diff.txt; fail "$path differs between 1 and 2 ranks"; }
done
set +e
"$LCFM" embed -o model.latent=7 -o embed.output=bad.h5 job.ini > bad.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "another model configuration" bad.log && [ ! -f bad.h5 ] || { cat bad.log; fail "mismatched checkpoint: exit $code"; }
"$LCFM" train -o model.kind=baseline -o train.checkpoint=base.h5 job.ini > base.log || { cat base.log; fail "baseline training"; }
"$LCFM" embed -o model.kind=baseline -o embed.checkpoint=base.h5 -o embed.output=base_emb.h5 job.ini > /dev/null
/usr/bin/python3 - <<'PY' || fail "embedding layout"
import h5py, numpy as np
e, s, b = h5py.File("emb1.h5", "r"), h5py.File("sim.h5", "r"), h5py.File("base_emb.h5", "r")
assert e.attrs["schema"] in (b"lcfm-embeddings", "lcfm-embeddings")
assert np.array_equal(e["objects/id"][:], s["objects/id"][:]) and np.array_equal(e["objects/source"][:], s["objects/source"][:])
assert e["z_star"].shape == (120, 6) and e["z_instr"].shape == (120, 6)
assert np.all(np.isfinite(e["z_star"][:])) and e["z_star"][:].std() > 0
assert "z" in b and b["z"].shape == (120, 6) and "z_star" not in b
print("embedding store layout ok")
PY
echo "embed is consistent"

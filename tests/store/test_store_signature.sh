# A store's content signature (store_check.h) does not depend on the rank count that wrote it,
# differs between simulations with the same ids, is copied by embed into its embeddings, and
# probe refuses embeddings of another store even when the ids agree (it used to accept them).
source "$(dirname "$0")/../cli/common.sh"
/usr/bin/python3 -c "import h5py" 2>/dev/null || { echo "SKIP: no h5py"; exit 77; }
write_tiny_conformer_job job.ini simulate.output=a.h5 simulate.stars=30 train.store=a.h5 embed.store=a.h5 \
  probe.store=a.h5
"$LCFM" simulate job.ini > a.log || { cat a.log; fail "simulate a"; }
run_np 2 "$LCFM" simulate -o simulate.output=a2.h5 job.ini > a2.log || { cat a2.log; fail "simulate a, 2 ranks"; }
"$LCFM" simulate -o job.seed=5 -o simulate.output=b.h5 job.ini > b.log || { cat b.log; fail "simulate b"; }
"$LCFM" train job.ini > train.log || { cat train.log; fail "train"; }
"$LCFM" embed job.ini > embed.log || { cat embed.log; fail "embed"; }
/usr/bin/python3 - <<'PY' || fail "signatures"
import h5py, re
sig = {n: h5py.File(n, "r").attrs["store_signature"].decode() for n in ("a.h5", "a2.h5", "b.h5", "emb.h5")}
for n, s in sig.items(): print(n, s)
objects = {n: re.match(r"(\d+ objects \(crc32 [0-9a-f]{8}\), \d+ points)", s).group(1) for n, s in sig.items()}
assert objects["a.h5"] == objects["a2.h5"], "the signature depends on the rank count"
assert h5py.File("a.h5")["objects/id"][:].tolist() == h5py.File("b.h5")["objects/id"][:].tolist()
assert sig["a.h5"] != sig["b.h5"], "two simulations with the same ids share a signature"
assert sig["emb.h5"] == sig["a.h5"], "embed did not copy the store's signature"
PY
"$LCFM" probe job.ini > probe.log 2>&1 || { cat probe.log; fail "probe of the store the embeddings came from"; }
set +e
"$LCFM" probe -o probe.store=b.h5 -o probe.output=other.h5 job.ini > other.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "emb.h5: made from another store than b.h5" other.log && [ ! -e other.h5 ] ||
  { cat other.log; fail "embeddings of another store: probe exit $code"; }
grep "made from another store" other.log
echo "store signatures: rank-count independent, distinct per simulation, checked by probe"

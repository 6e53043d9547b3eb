# lcfm probe, linear part: on planted latents (make_embeddings.py) the streamed least squares
# (TSQR) finds what was planted (theta in z_star only, the instrument in z_instr only), equals numpy's
# least squares on the training rows and numpy's PCA, and 1, 2 and 4 ranks write the same
# /linear and /pca within 1e-8.
source "$(dirname "$0")/../cli/common.sh"
source "$SOURCE/tests/probe/common_probe.sh"
make_probe_inputs
for n in 1 2 4; do
  run_np $n "$LCFM" probe -o probe.output=probe$n.h5 job.ini > probe$n.log 2>&1 || { cat probe$n.log; fail "probe, $n ranks"; }
done
cat probe2.log
grep -q "streamed TSQR and covariance over 2 ranks" probe2.log || fail "2 ranks: no streamed linear probe in the log"
for path in /linear/r2_test /linear/r2_train /linear/accuracy_test /linear/accuracy_train \
            /linear/z_star/coefficients /linear/z_instr/coefficients /linear/baseline_z/coefficients \
            /pca/z_star/xy /pca/z_instr/xy /pca/baseline_z/xy /pca/z_star/eigenvalues /pca/z_instr/components; do
  for n in 2 4; do
    h5diff -d 1e-8 probe1.h5 probe$n.h5 $path $path > diff.txt || { head diff.txt; fail "$path: 1 and $n ranks differ"; }
  done
done
/usr/bin/python3 - <<'PY' || fail "linear probe results"
import h5py, numpy as np
p, e, b, s = (h5py.File(f, "r") for f in ("probe1.h5", "emb.h5", "emb.baseline.h5", "sim.h5"))
names = [x.decode() for x in p["linear/inputs"][:]]
assert names == ["baseline_z", "z_star", "z_instr"], names
assert [x.decode() for x in p["pca/inputs"][:]] == names
r2, acc = dict(zip(names, p["linear/r2_test"][:])), dict(zip(names, p["linear/accuracy_test"][:]))
majority = p["linear"].attrs["majority_accuracy"]
print("R^2 test", r2, "\ninstrument accuracy", acc, "majority", majority)
assert r2["z_star"] > 0.98 and r2["z_instr"] < 0.1 and r2["baseline_z"] > 0.9
assert acc["z_instr"] > 0.95 and acc["z_star"] < majority + 0.1 and acc["baseline_z"] > 0.8
test = p["objects/test"][:].astype(bool)
assert p["linear"].attrs["train_objects"] == (~test).sum() and p["linear"].attrs["test_objects"] == test.sum()
theta = s["truth/theta"][:, 0][e["objects/source"][:]]
assert np.array_equal(p["objects/id"][:], e["objects/id"][:])
for name, z in (("z_star", e["z_star"][:]), ("z_instr", e["z_instr"][:]), ("baseline_z", b["z"][:])):
    z = z.astype(np.float64)
    A = np.column_stack([np.ones(len(z)), z])[~test]
    coef = np.linalg.lstsq(A, theta[~test], rcond=None)[0]
    got = p[f"linear/{name}/coefficients"][:]
    assert np.max(np.abs(coef - got)) < 1e-8, (name, coef, got)
    zc = z - z.mean(0)
    w, v = np.linalg.eigh(zc.T @ zc / (len(z) - 1))
    w, v = w[::-1], v[:, ::-1]
    assert np.allclose(p[f"pca/{name}/eigenvalues"][:], w, rtol=1e-9, atol=1e-12), name
    xy = p[f"pca/{name}/xy"][:]
    for c in range(2):
        ref = zc @ v[:, c]
        ref *= np.sign(v[np.argmax(np.abs(v[:, c])), c])
        assert np.max(np.abs(xy[:, c] - ref)) < 1e-8, (name, c)
    assert np.allclose(p[f"pca/{name}/explained"][:], w[:2] / w.sum())
assert abs(np.corrcoef(p["pca/z_star/xy"][:, 0], theta)[0, 1]) > 0.99
print("linear probes and PCA agree with numpy")
PY
echo "linear probes are consistent"

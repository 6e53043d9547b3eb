# lcfm probe's oracle and protocol on a small aliased simulation (lambda 0.1, T 40: periods of 4
# steps, so the oracle is far from perfect; the planted latents hold theta_0 itself and do better):
#   - the input "oracle" is E[theta_0 | folded frequency] of each object's star: /objects/oracle
#     equals a NumPy posterior mean over the preimages, and its R^2 in every run equals NumPy's R^2
#     on that run's test objects, at every size (also where the MLP has too few training objects);
#   - /mlp/draw: in every run the training, early-stopping and test stars are disjoint, the
#     stopping pool and the test set are within their caps, size n trains on n objects of
#     training stars only, and every run has test stars of its own; run 0's test stars are the
#     linear probes' (/objects/test);
#   - 1, 2 and 4 ranks write the same /mlp/r2, /mlp/draw and /objects/oracle;
#   - another target: no oracle, and the log says why;
#   - test and stopping stars that leave too few training stars: exit 2 before any work.
source "$(dirname "$0")/../cli/common.sh"
source "$SOURCE/tests/probe/common_probe.sh"
make_probe_inputs -o simulate.lambda=0.1
args=(-o probe.runs=3 -o "probe.sizes=10 40 5000" -o probe.stopping_objects=40 -o probe.test_objects=200)
for n in 1 2 4; do
  run_np $n "$LCFM" probe "${args[@]}" -o probe.output=probe$n.h5 job.ini > probe$n.log 2>&1 || { cat probe$n.log; fail "probe, $n ranks"; }
done
cat probe2.log
grep -q "oracle: E\[theta_0 | folded frequency\] of each star (lambda 0.1, T 40): alias bound" probe2.log || fail "no oracle log line"
for path in /mlp/r2 /mlp/draw /objects/oracle; do
  for n in 2 4; do
    h5diff probe1.h5 probe$n.h5 $path $path > diff.txt || { head diff.txt; fail "$path: 1 and $n ranks differ"; }
  done
done
/usr/bin/python3 - <<'PY' || fail "oracle and protocol"
import h5py, numpy as np
p, s = h5py.File("probe2.h5", "r"), h5py.File("sim.h5", "r")
lam, T = float(s["truth"].attrs["lambda"]), int(s["truth"].attrs["T"])
source = s["objects/source"][:]
theta = s["truth/theta"][:, 0][source]
f = 1 / (T * np.exp(theta) * lam)
g = np.abs(f - np.round(f))
n = np.arange(int(np.exp(9) / (T * lam)) + 2, dtype=float)            # preimages down to theta = -9
pre = np.concatenate([n[None, :] + g[:, None], n[None, :] + 1 - g[:, None]], axis=1)
with np.errstate(divide="ignore", invalid="ignore"):
    th = np.where(pre > 0, -np.log(pre * T * lam), 0.0)
    logw = np.where(pre > 0, -0.5 * th * th - np.log(pre), -np.inf)
w = np.exp(logw - logw.max(1, keepdims=True))
posterior = (w * th).sum(1) / w.sum(1)
oracle = p["objects/oracle"][:]
assert np.max(np.abs(oracle - posterior)) < 1e-6 * (1 + np.abs(posterior).max()), np.max(np.abs(oracle - posterior))

inputs = [x.decode() for x in p["mlp/inputs"][:]]
assert inputs == ["raw", "baseline z", "z_star", "z_instr", "oracle"], inputs
sizes, runs = list(p["mlp/sizes"][:]), 3
r2 = p["mlp/r2"][:].reshape(len(inputs), len(sizes), runs)
draw = p["mlp/draw"][:]
assert draw.shape == (runs, len(source)), draw.shape
y = p["objects/target"][:].astype(np.float32).astype(np.float64)
test_stars = []
for r in range(runs):
    test, stop, train = draw[r] == -1, draw[r] == -2, draw[r] >= 0
    assert 0 < test.sum() <= 200 and 0 < stop.sum() <= 40, (test.sum(), stop.sum())
    stars = [set(source[m]) for m in (test, stop, train)]
    assert not (stars[0] & stars[1]) and not (stars[0] & stars[2]) and not (stars[1] & stars[2]), f"run {r}: shared stars"
    assert sorted(draw[r][train]) == list(range(train.sum())), f"run {r}: training places"
    for k, size in enumerate(sizes):   # size n trains on places < n: n objects, none stopping or test
        used = train & (draw[r] < size)
        assert used.sum() == min(size, train.sum())
        if size > train.sum():
            assert np.isnan(r2[:4, k, r]).all(), "an MLP trained on more objects than its training stars have"
    m = oracle[test].astype(np.float32).astype(np.float64)
    ref = 1 - ((y[test] - m) ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum()
    assert np.allclose(r2[4, :, r], ref, atol=1e-6), (r, r2[4, :, r], ref)
    test_stars.append(stars[0])
    print(f"run {r}: {train.sum()} training, {stop.sum()} stopping, {test.sum()} test objects; oracle R^2 {ref:.4f}")
assert test_stars[0] != test_stars[1] and test_stars[1] != test_stars[2], "the runs share their test stars"
assert set(source[p["objects/test"][:] == 1]) >= test_stars[0], "run 0's test stars are not the linear probes'"
assert np.isfinite(r2[:4, :2]).all() and (r2[4] < 0.99).all() and (r2[4] > 0.1).all(), r2[4]  # alias bound 0.42
print("oracle =", np.round(r2[4, 0], 4), "numpy agrees; draws are disjoint by star")
PY
# another target: no oracle, with the reason in the log
"$LCFM" probe "${args[@]}" -o probe.target=theta1 -o probe.output=theta1.h5 job.ini > theta1.log 2>&1 || { cat theta1.log; fail "probe of theta1"; }
grep -q "no oracle input: only for target theta0 (the target is theta1)" theta1.log || { cat theta1.log; fail "no reason for the missing oracle"; }
/usr/bin/python3 -c "
import h5py
p = h5py.File('theta1.h5', 'r')
assert b'oracle' not in list(p['mlp/inputs'][:]) and 'oracle' not in p['objects']
" || fail "theta1: an oracle was written"
set +e
"$LCFM" probe -o probe.test_fraction=0.6 -o probe.stopping_fraction=0.4 -o probe.output=bad.h5 job.ini > bad.log 2>&1
code=$?
set -e
[ $code -eq 2 ] && [ ! -e bad.h5 ] && grep -q "stopping_fraction.*leaves less than 5% of the stars for training" bad.log ||
  { cat bad.log; fail "too few training stars: exit $code"; }
echo "oracle and protocol checked"

#!/usr/bin/python3
"""check_alias.py MPIEXEC TEST_ALIAS: lcfm's alias bound, instrument-band fraction and posterior means
(alias.h, printed by `test_alias --print`) against an independent NumPy computation:
  - E[theta_0 | g]: the preimages f = n + g, n + 1 - g of the folded frequency, weights phi(theta)/f,
    summed over every pair up to theta < -9 (vectorised, no stopping rule);
  - the bound Var(E[theta_0 | g]): a midpoint rule over theta_0 in [-7.5, 7.5] (not lcfm's quadrature
    over g), 60,000 points;
  - P(g < J / 2T): the same rule over theta_0 with 2,000,000 points.
"""
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("numpy missing: skipped")
    sys.exit(77)


def folded(theta, c):
    f = np.exp(-theta) / c
    return np.abs(f - np.round(f))


def posterior_mean(g, c, cut=9.0):
    pairs = int(np.exp(cut) / c) + 2
    n = np.arange(pairs, dtype=float)
    f = np.concatenate([n[None, :] + g[:, None], n[None, :] + 1 - g[:, None]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(f > 0, -np.log(f * c), 0.0)
        log_w = np.where(f > 0, -0.5 * theta * theta - np.log(f), -np.inf)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    return (w * theta).sum(1) / w.sum(1)


def grid(points, cut=7.5):
    h = 2 * cut / points
    theta = -cut + h * (np.arange(points) + 0.5)
    return theta, np.exp(-0.5 * theta * theta) / np.sqrt(2 * np.pi) * h


def bound(lam, T):
    c = T * lam
    theta, weight = grid(60000)
    g = folded(theta, c)
    m = np.concatenate([posterior_mean(g[i:i + 4000], c, cut=7.5) for i in range(0, len(g), 4000)])
    return (weight * m * m).sum() - (weight * m).sum() ** 2


def band(lam, T, J):
    theta, weight = grid(2000000)
    return weight[folded(theta, T * lam) < J / (2 * T)].sum()


out = subprocess.run([sys.argv[1], "-np", "1", sys.argv[2], "--print"], check=True, capture_output=True, text=True).stdout
worst = {"mean": 0.0, "bound": 0.0, "band": 0.0}
for line in out.splitlines():
    kind, *values = line.split()
    values = [float(v) for v in values]
    if kind == "mean":
        theta, lam, T, got = values
        ref = posterior_mean(folded(np.array([theta]), T * lam), T * lam)[0]
    elif kind == "bound":
        lam, T, got = values
        ref = bound(lam, T)
        print(f"lambda {lam}: alias bound lcfm {got:.10f}, numpy {ref:.10f}")
    else:
        lam, T, J, got = values
        ref = band(lam, T, J)
        print(f"lambda {lam}: band fraction lcfm {got:.6f}, numpy {ref:.6f}")
    worst[kind] = max(worst[kind], abs(got - ref))
print("largest differences:", worst)
assert worst["mean"] < 1e-11, worst
assert worst["bound"] < 2e-6, worst  # the midpoint rule's own accuracy
assert worst["band"] < 1e-4, worst
assert sum(1 for line in out.splitlines() if line.startswith("mean")) == 24
print("alias bound, band fraction and posterior means agree with numpy")

#!/usr/bin/python3
"""make_embeddings.py STORE OUT: an embedding store with planted latents for the probe tests.

Objects (ids, sources, instruments...) are copied from the light-curve store STORE. Latents
(float32, like `lcfm embed`), with theta = /truth/theta[source, 0] and e_m a fixed random unit
code of instrument m:
  z_star  [N, 6]: column 0 = 3 theta, the rest N(0, 0.1^2) noise       (knows theta only)
  z_instr [N, 5]: 2 e_m + N(0, 0.1^2) noise                             (knows the instrument only)
OUT.baseline.h5 holds /z [N, 4] = [theta, 2 e_m[:3]] + noise (knows both).
A linear probe must find R^2(theta | z_star) near 1, R^2(theta | z_instr) near 0, instrument
accuracy near 1 from z_instr and near the majority rate from z_star; PC 1 of z_star is theta.
"""
import sys

import h5py
import numpy as np

store, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
with h5py.File(store, "r") as s:
    objects = {k: s["objects"][k][:] for k in ("id", "source", "instrument", "field", "label")}
    theta = s["truth/theta"][:, 0][objects["source"]]
n = len(objects["id"])
instruments = int(objects["instrument"].max()) + 1
codes = rng.normal(size=(instruments, 5))
codes /= np.linalg.norm(codes, axis=1, keepdims=True)
e = codes[objects["instrument"]]
z_star = np.column_stack([3 * theta, 0.1 * rng.normal(size=(n, 5))])
z_instr = 2 * e + 0.1 * rng.normal(size=(n, 5))
base = np.column_stack([theta, 2 * e[:, :3]]) + 0.1 * rng.normal(size=(n, 4))


def write(path, latents):
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = "lcfm-embeddings"
        f.attrs["schema_version"] = 1
        for k, v in objects.items():
            f["objects/" + k] = v
        for k, v in latents.items():
            f[k] = v.astype(np.float32)


write(out, {"z_star": z_star, "z_instr": z_instr})
write(out.replace(".h5", ".baseline.h5"), {"z": base})

#!/usr/bin/python3
"""make_layers.py STORE OUT: an Astromer 2 embedding store with planted layers for the
classification probe's tests: /objects/id and label copied from the labelled store STORE,
/layers [N, 3 x 8] float32 = (0.2, 1.0, 0.5) x c_label + N(0, 1) noise per layer (c_label a fixed
random code of the class, so the middle layer knows the class best), /z = the mean of the layers."""
import sys

import h5py
import numpy as np

store, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(11)
with h5py.File(store, "r") as s:
    ids, labels = s["objects/id"][:], s["objects/label"][:]
n, L, D = len(ids), 3, 8
codes = rng.normal(size=(labels.max() + 1, D))
layers = (codes[labels][:, None, :] * np.array([0.2, 1.0, 0.5])[None, :, None] + rng.normal(size=(n, L, D))).astype(np.float32)
with h5py.File(out, "w") as e:
    e["objects/id"] = ids
    e["objects/label"] = labels
    e["layers"] = layers.reshape(n, L * D)
    e["z"] = layers.mean(axis=1)

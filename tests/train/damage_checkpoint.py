"""damage_checkpoint.py: copies of a good checkpoint, each with one damaged tensor or attribute.
  damage_checkpoint.py GOOD.h5 KIND...   writes KIND.h5 for each KIND of DAMAGE and prints
  "TENSOR ROWS COLS" of the damaged 2-D tensor."""
import shutil
import sys

import h5py
import numpy as np


def tensor_name(f):
    return next(n for n in sorted(f["params"]) if f["params"][n].ndim == 2)


def replace(make):
    def damage(f):
        name = "params/" + tensor_name(f)
        new = make(f[name][...])
        del f[name]
        f[name] = new
    return damage


def attribute(name, value):
    def damage(f):
        f.attrs[name] = value
    return damage


def nan(f):
    name = "params/" + tensor_name(f)
    data = f[name][...]
    data[0, 1] = np.nan
    f[name][...] = data


DAMAGE = {
    "larger": replace(lambda x: np.zeros((x.shape[0], x.shape[1] + 1000), dtype=np.float32)),
    "smaller": replace(lambda x: x[:, :-1]),
    "flat": replace(lambda x: x.reshape(-1)),
    "integer": replace(lambda x: x.astype(np.int32)),
    "double": replace(lambda x: x.astype(np.float64)),
    "missing": lambda f: f.__delitem__("adam_v/" + tensor_name(f)),
    "nan": nan,
    "step_array": attribute("step", np.arange(5, dtype=np.int64)),
    "best_after_step": attribute("best_step", np.int64(10 ** 6)),
}

good = sys.argv[1]
for kind in sys.argv[2:]:
    shutil.copy(good, kind + ".h5")
    with h5py.File(kind + ".h5", "r+") as f:
        DAMAGE[kind](f)
with h5py.File(good, "r") as f:
    name = tensor_name(f)
    print(name, *f["params"][name].shape)

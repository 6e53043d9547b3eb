"""damage_store.py: copies of a good store, each with one broken invariant, for the store-check
tests.   damage_store.py GOOD.h5 KIND...   writes KIND.h5 for each KIND of DAMAGE."""
import shutil
import sys

import h5py
import numpy as np


def set_item(column, index, value):
    def damage(f):
        data = f[column][...]
        data[index] = value
        f[column][...] = data
    return damage


def replace(column, data):
    def damage(f):
        new = data(f)
        del f[column]
        f[column] = new
    return damage


DAMAGE = {
    "instrument_99": set_item("objects/instrument", 5, 99),
    "instrument_negative": set_item("objects/instrument", 70, -3),
    "label": set_item("objects/label", 9, -5),
    "negative_length": set_item("objects/length", 11, -4),
    "overlap": set_item("objects/offset", 40, 2555),         # 5 points into object 39 (2 ranks: across shards)
    "past_end": set_item("objects/length", -1, 164),         # 100 points past /points
    "short_points": replace("points/error", lambda f: f["points/error"][:-10]),
    "ragged": replace("objects/label", lambda f: np.zeros(10, dtype=np.int32)),
    "float_instrument": replace("objects/instrument", lambda f: f["objects/instrument"][...].astype(np.float32)),
    "missing_error": lambda f: f.__delitem__("points/error"),
    "nan_value": set_item("points/value", 4000, np.nan),      # object 62, point 32
    "inf_time": set_item("points/time", 64 * 40 + 7, np.inf),  # object 40, point 7
    "duplicate_id": set_item("objects/id", 3, 2),
}

good = sys.argv[1]
for kind in sys.argv[2:]:
    shutil.copy(good, kind + ".h5")
    with h5py.File(kind + ".h5", "r+") as f:
        DAMAGE[kind](f)

#!/usr/bin/python3
"""Reads a simulated store with h5py and checks the layout the README and store.h document.

Usage: check_layout.py LCFM WORK_DIR   (exit 77 = skipped: h5py or numpy missing)
"""
import os
import shutil
import subprocess
import sys

try:
    import h5py
    import numpy as np
except ImportError as missing:
    print(f"skipped: {missing} (install python3-h5py)")
    sys.exit(77)

lcfm, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
job = os.path.join(work, "job.ini")
with open(job, "w") as f:
    f.write("[job]\nseed = 3\n[simulate]\noutput = %s\nstars = 31\ninstruments = 5\n"
            "curves_per_star = 4\ninstrument_terms = 6\nK = 9\nT = 40\n" % os.path.join(work, "s.h5"))
mpiexec = os.environ.get("MPIEXEC", "mpirun")
subprocess.run([mpiexec, "--oversubscribe", "-np", "2", lcfm, "simulate", job], check=True,
               stdout=subprocess.DEVNULL)

problems = []


def expect(condition, what):
    if not condition:
        problems.append(what)


N, P_pts, S, M, K, J, T = 31 * 4, 31 * 4 * 40, 31, 5, 9, 6, 40
with h5py.File(os.path.join(work, "s.h5"), "r") as f:
    attrs = f.attrs
    expect(attrs["schema"] == b"lcfm-store" or attrs["schema"] == "lcfm-store", "schema attribute")
    expect(int(attrs["schema_version"]) == 2, "schema_version")
    expect(int(attrs["next_id"]) == N, "next_id = N")
    for name in ["producer", "lcfm_version", "git_revision", "build_type", "build_flags", "compiler",
                 "library_versions", "machine", "job", "job_path", "seed", "ranks", "created_utc", "host", "command"]:
        expect(name in attrs, f"provenance attribute {name}")
    expect(int(attrs["ranks"]) == 2, "ranks = 2")
    expect(int(attrs["seed"]) == 3, "seed = 3")
    job_text = attrs["job"].decode() if isinstance(attrs["job"], bytes) else attrs["job"]
    expect("[simulate]" in job_text and "stars = 31" in job_text, "effective job text")

    columns = {"id": np.int64, "source": np.int64, "instrument": np.int32, "field": np.int32,
               "label": np.int32, "offset": np.int64, "length": np.int32}
    for name, dtype in columns.items():
        d = f["objects"][name]
        expect(d.shape == (N,) and d.dtype == dtype, f"/objects/{name} shape {d.shape} dtype {d.dtype}")
    for name, dtype, shape in [("time", np.float64, (P_pts,)), ("value", np.float32, (P_pts,)),
                               ("error", np.float32, (P_pts,))]:
        d = f["points"][name]
        expect(d.shape == shape and d.dtype == dtype, f"/points/{name} shape {d.shape} dtype {d.dtype}")
    for name in ["id", "survey", "season", "unit", "subunit", "band", "time_zero", "name"]:
        expect(f["instruments"][name].shape == (M,), f"/instruments/{name} shape")
    for name in ["key", "reason", "message"]:
        expect(f["rejects"][name].shape == (0,), f"/rejects/{name} is empty for a simulation")
    for name, shape in [("theta", (S, K)), ("phase", (N, K - 1)), ("beta", (M, J)), ("gamma", (M, J))]:
        expect(f["truth"][name].shape == shape, f"/truth/{name} shape {f['truth'][name].shape}")
    for name in ["alpha", "lambda", "T", "K", "noise_sigma", "seed"]:
        expect(name in f["truth"].attrs, f"/truth attribute {name}")

    ids, source = f["objects/id"][:], f["objects/source"][:]
    offset, length = f["objects/offset"][:], f["objects/length"][:]
    expect(np.array_equal(ids, np.arange(N)), "ids are 0..N-1 in order")
    expect(np.array_equal(source, np.arange(N) // 4), "source = id // curves_per_star")
    expect(np.all(length == T) and offset[0] == 0 and np.all(np.diff(offset) == length[:-1]),
           "points of object i follow those of object i-1")
    inst = f["objects/instrument"][:].reshape(S, 4)
    expect(all(len(set(row)) == 4 for row in inst), "each star seen by 4 different instruments")
    expect(np.array_equal(f["points/time"][:T], np.arange(T)), "times are steps 0..T-1")
    value = f["points/value"][:]
    expect(np.all(np.isfinite(value)) and value.std() > 0.05, "values finite and varied")
    expect(np.allclose(f["points/error"][:], 0.03), "error = noise_sigma")

    # Schema 2: per-object metadata (unknown for simulations), instrument meaning, and a unit and
    # a description on every dataset that astropy parses.
    for name, dtype in [("ra", np.float64), ("dec", np.float64), ("magnitude", np.float32),
                        ("median_flux", np.float32)]:
        d = f["objects"][name]
        expect(d.shape == (N,) and d.dtype == dtype and np.all(np.isnan(d[:])), f"/objects/{name} NaN for a simulation")
    expect(f["objects/path"].shape == (N,) and all(p == b"" for p in f["objects/path"][:]), "/objects/path empty")
    expect("quality" not in f["points"], "no /points/quality unless the producer keeps it")
    expect(np.all(f["instruments/value_kind"][:] == 2), "value_kind = simulated")
    expect(f["objects/id"].maxshape == (None,) and f["objects/id"].chunks is not None, "/objects/id chunked, growable")
    datasets = []
    f.visititems(lambda name, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
    try:
        import astropy.units as u
    except ImportError:
        u = None
    for d in datasets:
        expect("unit" in d.attrs and "description" in d.attrs, f"{d.name} has a unit and a description")
        if u is not None and "unit" in d.attrs:
            unit = d.attrs["unit"]
            unit = unit.decode() if isinstance(unit, bytes) else unit
            try:
                u.Unit(unit)
            except ValueError:
                problems.append(f"{d.name}: astropy cannot parse its unit '{unit}'")

if problems:
    print("layout problems:\n  " + "\n  ".join(problems))
    sys.exit(1)
print("store layout matches the documentation")

#!/usr/bin/python3
"""bench_ingest_astropy.py: the astropy loop lcfm ingest is measured against (tools/bench_ingest.sh).

Usage: bench_ingest_astropy.py MANIFEST     prints "FILES files POINTS points SECONDS s"

For every file of MANIFEST (one path a line), on one core: open it with astropy.io.fits, read
TIME, PDCSAP_FLUX, PDCSAP_FLUX_ERR and QUALITY, keep the finite points with (QUALITY & 175) == 0
and an error >= 0, and normalise flux and error by the median flux: what lcfm ingest does per
file before writing (it also hashes the columns and writes the store, which this loop does not).
"""
import sys
import time

import numpy as np
from astropy.io import fits

paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
start, points = time.perf_counter(), 0
for path in paths:
    with fits.open(path, memmap=False) as f:
        table = f[1].data
        t = np.array(table["TIME"], dtype=np.float64)
        flux = np.array(table["PDCSAP_FLUX"], dtype=np.float64)
        err = np.array(table["PDCSAP_FLUX_ERR"], dtype=np.float64)
        quality = np.array(table["QUALITY"])
    keep = np.isfinite(t) & np.isfinite(flux) & np.isfinite(err) & (err >= 0) & ((quality & 175) == 0)
    median = np.median(flux[keep])
    value = (flux[keep] / median - 1.0).astype(np.float32)
    error = (err[keep] / median).astype(np.float32)
    points += len(value)
print(f"{len(paths)} files {points} points {time.perf_counter() - start:.3f} s")

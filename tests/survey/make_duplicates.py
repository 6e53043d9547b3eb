#!/usr/bin/python3
"""Writes a corpus of repeated light curves (made from the sample files) into DIR, and prints the
expected outcome of each file: "file kept", or "file duplicate KEPT" (the file whose object is
kept), "file points N" for a kept file whose good points astropy counts, "file objects N" for a
MACHO file whose N objects are kept or "file duplicates KEPT N" for one whose N objects repeat KEPT.

Usage: make_duplicates.py DATA_DIR OUT_DIR      (exit 77: astropy missing)
"""
import gzip
import os
import shutil
import sys

try:
    import numpy as np
    from astropy.io import fits
except ImportError as missing:
    print(f"skipped: {missing} (install python3-astropy)")
    sys.exit(77)

data, out = sys.argv[1], sys.argv[2]
tess_a = os.path.join(data, "tess", "tess2018206045859-s0001-0000000117544915-0120-s_lc.fits")
tess_b = os.path.join(data, "tess", "tess2018206045859-s0001-0000000126602778-0120-s_lc.fits")
tess_c = os.path.join(data, "tess", "tess2018206045859-s0001-0000000150065151-0120-s_lc.fits")
macho = os.path.join(data, "macho", "macho_field1_rrc_tap.csv")


def path(name):
    return os.path.join(out, name)


def rewrite(source, name, change):
    with fits.open(source) as f:
        hdus = fits.HDUList([h.copy() for h in f])
    change(hdus)
    hdus.writeto(path(name), overwrite=True)


def as_a(hdus):
    """Another star's data under the identity of tess_a: TIC, sector, camera and CCD."""
    with fits.open(tess_a) as a:
        for key in ("TICID", "SECTOR", "CAMERA", "CCD"):
            hdus[0].header[key] = a[0].header[key]


def negative_errors(hdus):
    err = hdus[1].data["PDCSAP_FLUX_ERR"]
    good = np.flatnonzero(np.isfinite(err))[:50]
    err[good] = -err[good]


def good_points(name):
    with fits.open(path(name)) as f:
        t = f[1].data
        err = t["PDCSAP_FLUX_ERR"]
        keep = (np.isfinite(t["TIME"]) & np.isfinite(t["PDCSAP_FLUX"]) & np.isfinite(err) & (err >= 0)
                & ((t["QUALITY"] & 175) == 0))
        return int(keep.sum())


shutil.copy(tess_a, path("a_tess.fits"))
shutil.copy(tess_a, path("b_renamed.fits"))
open(path("c_packed.fits.gz"), "wb").write(gzip.compress(open(tess_a, "rb").read()))
rewrite(tess_a, "d_relabelled.fits", lambda h: h[0].header.__setitem__("TICID", 999))
rewrite(tess_b, "e_same_ccd.fits", as_a)
rewrite(tess_c, "f_negative_errors.fits", negative_errors)
text = open(macho, "rb").read()
shutil.copy(macho, path("g_macho.csv"))
open(path("h_macho_bom.csv"), "wb").write(b"\xef\xbb\xbf" + text)
open(path("i_macho.csv.gz"), "wb").write(gzip.compress(text))

print(path("a_tess.fits"), "kept")
for name in ("b_renamed.fits", "c_packed.fits.gz", "d_relabelled.fits", "e_same_ccd.fits"):
    print(path(name), "duplicate", path("a_tess.fits"))
print(path("f_negative_errors.fits"), "points", good_points("f_negative_errors.fits"))
print(path("g_macho.csv"), "objects", 52)
print(path("h_macho_bom.csv"), "duplicates", path("g_macho.csv"), 52)
print(path("i_macho.csv.gz"), "duplicates", path("g_macho.csv"), 52)

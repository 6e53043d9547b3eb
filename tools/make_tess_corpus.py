#!/usr/bin/python3
"""make_tess_corpus.py: writes N TESS-format light-curve files derived from the sample files, for
ingest benchmarks and scale tests.

Usage: make_tess_corpus.py SAMPLE_DIR OUT_DIR N [--first-tic T] [--sectors-per-star P]

File k copies sample k mod S (S TESS samples in SAMPLE_DIR, their light-curve tables unchanged)
and rewrites the primary header of the copy: star s = k // P gets TICID = T + s and is observed in
P consecutive sectors, 1 + (s + j) mod 26 for j = k mod P, on CAMERA 1 + s mod 4 and CCD
1 + (s // 4) mod 4; OBJECT follows the TIC id. One kept point of the copy gets its TIME moved by
k nanodays (k < 10^6: less than a cadence), so that no two files hold the same light curve
(lcfm ingest stores a repeated one once). Names follow SPOC's:
tess2018206045859-s0001-0000000117544915-0120-s_lc.fits. CHECKSUM and DATASUM are dropped (they
would be stale). Every header card is rewritten in place at its fixed 80-byte slot, so a file is
one byte copy of its template: thousands of files take seconds (I/O bound).
Prints the number of files and of table rows written. Exit 77 when astropy is missing.
"""
import argparse
import glob
import io
import os
import struct
import sys

try:
    import numpy as np
    from astropy.io import fits
except ImportError as missing:
    print(f"skipped: {missing} (install python3-astropy)")
    sys.exit(77)

SECTORS = 26  # TESS's first two years
CARD = 80


def template(path):
    """The sample as bytes without checksums, and the byte offsets of the cards to rewrite."""
    with fits.open(path) as f:
        hdus = fits.HDUList([h.copy() for h in f])
    for hdu in hdus:
        for key in ("CHECKSUM", "DATASUM"):
            hdu.header.remove(key, ignore_missing=True)
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    raw = buffer.getvalue()
    with fits.open(io.BytesIO(raw)) as f:
        table = f[1].data
        rows = len(table)
        spans = [(f.fileinfo(i)["hdrLoc"], f.fileinfo(i)["datLoc"]) for i in range(len(f))]
        # The TIME (the table's first column: a big-endian double) of the first point lcfm keeps.
        if table.columns.names[0] != "TIME" or table.columns["TIME"].format != "D":
            sys.exit(f"{path}: TIME is not the first column, a double")
        keep = (np.isfinite(table["TIME"]) & np.isfinite(table["PDCSAP_FLUX"]) & np.isfinite(table["PDCSAP_FLUX_ERR"])
                & ((table["QUALITY"] & 175) == 0))
        first = int(np.flatnonzero(keep)[0])
        time_at = f.fileinfo(1)["datLoc"] + first * f[1].header["NAXIS1"]
        time = float(table["TIME"][first])
    slots = {}
    for start, end in spans:
        for at in range(start, end, CARD):
            key = raw[at:at + 8].decode("ascii", "replace").strip()
            if key in ("TICID", "SECTOR", "CAMERA", "CCD", "OBJECT") and raw[at + 8:at + 10] == b"= ":
                slots.setdefault(key, []).append(at)
    for key in ("TICID", "SECTOR", "CAMERA", "CCD"):
        if key not in slots:
            sys.exit(f"{path}: no {key} card in its headers: not a TESS light curve")
    return bytearray(raw), slots, rows, (time_at, time)


def card(key, value, raw, at):
    """An 80-byte card for `key` keeping the template's comment."""
    old = fits.Card.fromstring(bytes(raw[at:at + CARD]).decode("ascii"))
    return fits.Card(key, value, old.comment).image.encode("ascii")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("samples")
    parser.add_argument("out")
    parser.add_argument("count", type=int)
    parser.add_argument("--first-tic", type=int, default=900000000)
    parser.add_argument("--sectors-per-star", type=int, default=2)
    args = parser.parse_args()
    paths = sorted(glob.glob(os.path.join(args.samples, "*_lc.fits")))
    if not paths:
        sys.exit(f"{args.samples}: no TESS *_lc.fits samples")
    templates = [template(p) for p in paths]
    os.makedirs(args.out, exist_ok=True)
    per_star, rows = args.sectors_per_star, 0
    for k in range(args.count):
        raw, slots, n, (time_at, time) = templates[k % len(templates)]
        star, visit = k // per_star, k % per_star
        tic = args.first_tic + star
        values = {"TICID": tic, "SECTOR": 1 + (star + visit) % SECTORS, "CAMERA": 1 + star % 4,
                  "CCD": 1 + (star // 4) % 4, "OBJECT": f"TIC {tic}"}
        for key, offsets in slots.items():
            for at in offsets:
                raw[at:at + CARD] = card(key, values[key], raw, at)
        raw[time_at:time_at + 8] = struct.pack(">d", time + k * 1e-9)
        name = f"tess2018206045859-s{values['SECTOR']:04d}-{tic:016d}-0120-s_lc.fits"
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(raw)
        rows += n
    print(f"{args.count} files, {rows} table rows, {args.count // per_star + (args.count % per_star > 0)} stars "
          f"in {args.out}")


main()

#!/usr/bin/python3
"""Writes a corpus of damaged survey files (and the expected reject reason of each) into DIR.

Usage: make_damaged.py DATA_DIR OUT_DIR      (exit 77: astropy missing)
Prints lines "file reason" (reason codes of store.h: 1 io, 2 format, 3 empty, 4 non-finite,
5 time order, 6 parse, 7 range); a file with malformed rows is listed once per bad row as
"file:line".
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
tess = os.path.join(data, "tess", "tess2018206045859-s0001-0000000117544915-0120-s_lc.fits")
kepler = os.path.join(data, "kepler", "kplr011442793-2009350155506_llc.fits")
macho = os.path.join(data, "macho", "macho_field1_rrc_tap.csv")
expected = []


def path(name):
    return os.path.join(out, name)


def variant(name, reason, change, source=tess):
    """A copy of the TESS (or another) sample with `change(hdulist)` applied."""
    with fits.open(source) as f:
        hdus = fits.HDUList([h.copy() for h in f])
    change(hdus)
    hdus.writeto(path(name), overwrite=True)
    expected.append((path(name), reason))


def drop_column(hdus, name):
    table = hdus[1]
    cols = [c for c in table.columns if c.name != name]
    hdus[1] = fits.BinTableHDU.from_columns(cols, header=table.header)


def nan_flux(hdus):
    hdus[1].data["PDCSAP_FLUX"][:] = np.nan


def zero_rows(hdus):
    cols = [fits.Column(name=c.name, format=c.format, array=c.array[:0]) for c in hdus[1].columns]
    hdus[1] = fits.BinTableHDU.from_columns(cols, header=hdus[1].header)


def string_time(hdus):
    cols = [fits.Column(name="TIME", format="16A", array=np.array(["t"] * len(hdus[1].data)))]
    cols += [c for c in hdus[1].columns if c.name != "TIME"]
    hdus[1] = fits.BinTableHDU.from_columns(cols, header=hdus[1].header)


def nan_time(hdus):
    hdus[1].data["TIME"][:] = np.nan


def backwards(hdus):
    hdus[1].data["TIME"][:] = hdus[1].data["TIME"][::-1]


def foreign_telescope(hdus):
    hdus[0].header["TELESCOP"] = "HST"


def header(key, value):
    def change(hdus):
        hdus[0].header[key] = value
    return change


def huge_flux(hdus):
    hdus[1].data["PDCSAP_FLUX"][100:103] = 1e38  # among normal fluxes


def double_flux(hdus):
    """A float64 flux column of 1e39 everywhere: a median beyond float32."""
    table = hdus[1]
    cols = [fits.Column(name=c.name, format="D", array=np.where(np.isfinite(c.array), 1e39, np.nan))
            if c.name == "PDCSAP_FLUX" else c for c in table.columns]
    hdus[1] = fits.BinTableHDU.from_columns(cols, header=table.header)


variant("sector_2_40.fits", 7, header("SECTOR", 2**40))  # must not wrap to sector 0
variant("camera_negative.fits", 7, header("CAMERA", -7))
variant("ccd_99999.fits", 7, header("CCD", 99999))
variant("ticid_negative.fits", 7, header("TICID", -5))
variant("kepler_quarter_40.fits", 7, header("QUARTER", 40), kepler)
variant("kepler_module_5.fits", 7, header("MODULE", 5), kepler)
variant("kepler_id_zero.fits", 7, header("KEPLERID", 0), kepler)
variant("huge_flux.fits", 7, huge_flux)
variant("flux_1e38.fits", 7, lambda h: h[1].data["PDCSAP_FLUX"].__setitem__(slice(None), 1e38))


def tiny_median(hdus):
    flux = hdus[1].data["PDCSAP_FLUX"]
    flux[np.isfinite(flux)] = 1e-30
    flux[100] = 1.0  # 1 / 1e-30: flux / median overflows the value range


variant("tiny_median.fits", 7, tiny_median)
variant("double_flux.fits", 7, double_flux)
variant("no_flux.fits", 2, lambda h: drop_column(h, "PDCSAP_FLUX"))
variant("no_quality.fits", 2, lambda h: drop_column(h, "QUALITY"))
variant("nan_flux.fits", 4, nan_flux)
variant("zero_rows.fits", 3, zero_rows)
variant("nan_time.fits", 3, nan_time)
variant("string_time.fits", 2, string_time)
variant("backwards.fits", 5, backwards)
variant("foreign.fits", 2, foreign_telescope)

raw = open(tess, "rb").read()
open(path("truncated.fits"), "wb").write(raw[:40000])
expected.append((path("truncated.fits"), 1))
corrupt = bytearray(raw)
corrupt[0:80] = b"GARBAGE!" * 10
open(path("corrupt_header.fits"), "wb").write(bytes(corrupt))
expected.append((path("corrupt_header.fits"), 1))
open(path("empty.fits"), "wb").write(b"")
expected.append((path("empty.fits"), 1))

packed_fits = gzip.compress(raw)
open(path("truncated_lc.fits.gz"), "wb").write(packed_fits[:len(packed_fits) // 2])
expected.append((path("truncated_lc.fits.gz"), 1))
zeroed = bytearray(packed_fits)
zeroed[len(zeroed) // 2: len(zeroed) // 2 + 100] = bytes(100)
open(path("corrupt_lc.fits.gz"), "wb").write(bytes(zeroed))
expected.append((path("corrupt_lc.fits.gz"), 1))

text = open(macho, "rb").read()
packed = bytearray(gzip.compress(text))
packed[len(packed) // 2: len(packed) // 2 + 64] = b"\xff" * 64
open(path("broken.csv.gz"), "wb").write(bytes(packed))
expected.append((path("broken.csv.gz"), 1))
truncated_gzip = gzip.compress(text)[:5000]
open(path("truncated.csv.gz"), "wb").write(truncated_gzip)
expected.append((path("truncated.csv.gz"), 1))
rng = np.random.default_rng(7)
open(path("garbage.csv"), "wb").write(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
expected.append((path("garbage.csv"), 2))
open(path("empty.csv"), "wb").write(b"")
expected.append((path("empty.csv"), 3))

lines = text.decode().splitlines()
rows = lines[:40] + ["2,1,3441,not-a-number,1,48823.6,-5.2,0.2,-5.3,0.2", "1,2,3", "\x01\x02binary"] + lines[40:80]
open(path("some_bad_rows.csv"), "w").write("\n".join(rows) + "\n")
for bad_line in (41, 42, 43):
    expected.append((f"{path('some_bad_rows.csv')}:{bad_line}", 6))


header = lines[0]
missing = header.rsplit(",", 1)[0]  # no berr column
open(path("missing_column.csv"), "w").write("\n".join([missing] + [r.rsplit(",", 1)[0] for r in lines[1:20]]) + "\n")
expected.append((path("missing_column.csv"), 2))
sentinels = [header] + [f"2,3,7,9,{i},{49000 + i}.5,-99,-99,-99.000,0.1" for i in range(12)]
open(path("all_sentinels.csv"), "w").write("\n".join(sentinels) + "\n")
expected += [(f"{path('all_sentinels.csv')}#3.7.9/red", 3), (f"{path('all_sentinels.csv')}#3.7.9/blue", 3)]
typed = [header] + [f"2,abc,7,9,{i},49000.5,-5.1,0.1,-5.3,0.1" for i in range(3)]
open(path("wrong_types.csv"), "w").write("\n".join(typed) + "\n")
expected += [(f"{path('wrong_types.csv')}:{line}", 6) for line in (2, 3, 4)]
open(path("blank_lines.csv"), "w").write("\n\n\r\n")
expected.append((path("blank_lines.csv"), 3))


def archive_line(field, tile, seqn, date, rmag, rerr, bmag, berr):
    fields = [""] * 39
    fields[1:6] = [str(field), str(tile), str(seqn), f"{date:.4f}", "100"]
    fields[9], fields[10], fields[24], fields[25] = f"{rmag:.3f}", f"{rerr:.3f}", f"{bmag:.3f}", f"{berr:.3f}"
    return ";".join(fields)


archive = [archive_line(5, 1234, 77, 49000 + i * 1.5, -6 + 0.1 * np.sin(i), 0.05, -6.3, 0.06) for i in range(30)]
archive.insert(10, "only;a;few;fields")
open(path("F_5.1234.gz"), "wb").write(gzip.compress(("\n".join(archive) + "\n").encode()))
expected.append((f"{path('F_5.1234.gz')}:11", 6))

shutil.copy(tess, path("good_tess_lc.fits"))
for name, reason in expected:
    print(name, reason)

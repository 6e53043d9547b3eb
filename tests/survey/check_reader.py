#!/usr/bin/python3
"""tools/lcfm_store.py's tables against astropy's reading of the sample files (see
test_python_reader.sh). Usage: check_reader.py STORE DATA_DIR (exit 77: astropy or h5py missing)."""
import glob
import os
import sys
import warnings

try:
    import h5py
    import numpy as np
    from astropy import units as u
    from astropy.io import ascii, fits
    from astropy.table import Table
    from astropy.time import Time
except ImportError as missing:
    print(f"skipped: {missing} (install python3-astropy and python3-h5py)")
    sys.exit(77)
import lcfm_store

store, data = sys.argv[1], sys.argv[2]
warnings.simplefilter("ignore", UserWarning)  # astropy's IERS leap-second table may be stale offline
problems = []


def expect(ok, what):
    if not ok:
        problems.append(what)


def fits_unit(text):
    """A TUNITn of the light-curve table as an astropy unit: SPOC writes electrons as "e-"."""
    return u.Unit(text.replace("e-", "electron"))


def check_fits(path):
    head = fits.getheader(path, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", u.UnitsWarning)  # "e-/s" and "BJD - 2457000" are not FITS units
        table = Table.read(path, hdu=1)
    with fits.open(path) as f:
        units = {c.name: c.unit for c in f[1].columns}
    tess = head["TELESCOP"] == "TESS"
    source = head["TICID"] if tess else head["KEPLERID"]
    name = (f"tess-s{head['SECTOR']:02d}-cam{head['CAMERA']}-ccd{head['CCD']}" if tess else
            f"kepler-q{head['QUARTER']:02d}-mod{head['MODULE']}-out{head['OUTPUT']}")
    lc = lcfm_store.light_curve(store, source=source, instrument=name)
    what = os.path.basename(path)
    quality = np.asarray(table["QUALITY" if tess else "SAP_QUALITY"])
    flux = np.asarray(table["PDCSAP_FLUX"], float) * fits_unit(units["PDCSAP_FLUX"])
    err = np.asarray(table["PDCSAP_FLUX_ERR"], float) * fits_unit(units["PDCSAP_FLUX_ERR"])
    time = np.asarray(table["TIME"], float)
    keep = (np.isfinite(time) & np.isfinite(flux.value) & np.isfinite(err.value) &
            ((quality & 175) == 0))
    expect(len(lc) == keep.sum(), f"{what}: {len(lc)} points, astropy keeps {keep.sum()}")
    if len(lc) != keep.sum():
        return
    lchead = fits.getheader(path, 1)
    bjd = Time(lchead["BJDREFI"] + lchead["BJDREFF"], time[keep], format="jd",
               scale=lchead["TIMESYS"].lower())
    expect(lc["time"].scale == "tdb", f"{what}: time scale {lc['time'].scale}")
    expect(np.max(np.abs((lc["time"] - bjd).to_value(u.s))) < 1e-3, f"{what}: times differ from BJD")
    expect(lc.meta["time_reference"] == "BJD", f"{what}: time reference {lc.meta['time_reference']}")
    for mine, theirs, label in ((lc["flux"], flux[keep], "flux"), (lc["flux_err"], err[keep], "flux error")):
        expect(mine.unit == u.electron / u.s and theirs.unit.is_equivalent(u.electron / u.s),
               f"{what}: {label} units {mine.unit} / {theirs.unit}")
        expect(np.allclose(mine.to_value(u.electron / u.s), theirs.to_value(u.electron / u.s), rtol=2e-6, atol=0),
               f"{what}: {label} differs")
    expect(lc["value"].unit == u.dimensionless_unscaled, f"{what}: value unit {lc['value'].unit}")
    expect(np.array_equal(lc["quality"], quality[keep]), f"{what}: quality flags differ")
    expect(np.isclose(lc.meta["ra"], head["RA_OBJ"]) and np.isclose(lc.meta["dec"], head["DEC_OBJ"]),
           f"{what}: RA/Dec {lc.meta['ra']}, {lc.meta['dec']}")
    expect(np.isclose(lc.meta["magnitude"], head["TESSMAG" if tess else "KEPMAG"], rtol=1e-6),
           f"{what}: magnitude {lc.meta['magnitude']}")
    expect(lc.meta["path"].endswith(what), f"{what}: path {lc.meta['path']}")


def check_macho():
    table = ascii.read(os.path.join(data, "macho", "macho_field1_rrc_tap.csv"), format="csv")
    star = table[(table["fieldid"] == table["fieldid"][0]) & (table["tileid"] == table["tileid"][0]) &
                 (table["seqn"] == table["seqn"][0])]
    star.sort("dateobs", kind="stable")
    source = int(star["fieldid"][0]) * 10**10 + int(star["tileid"][0]) * 10**5 + int(star["seqn"][0])
    good = (np.asarray(star["rmag"], float) != -99) & (np.asarray(star["rerr"], float) >= 0)
    lc = lcfm_store.light_curve(store, source=source, instrument="macho-red")
    expect(lc["time"].scale == "utc", f"MACHO: time scale {lc['time'].scale}")
    mjd = Time(np.asarray(star["dateobs"], float)[good], format="mjd", scale="utc")
    expect(len(lc) == good.sum() and np.max(np.abs((lc["time"] - mjd).to_value(u.s))) < 1e-3, "MACHO: times")
    expect(lc["value"].unit == u.mag and np.allclose(lc["value"].value, np.asarray(star["rmag"], float)[good],
                                                    rtol=1e-6), "MACHO: magnitudes")
    expect("flux" not in lc.colnames, "MACHO: a flux column for magnitudes")
    expect(not np.any(lc["quality"]), "MACHO: quality flags other than 0")


def check_objects_and_embeddings():
    everything = lcfm_store.objects(store)
    # field 2: TESS sector 2; field 3: Kepler quarter 3 (MACHO's field is 1)
    sector1 = lcfm_store.objects(store, fields=[2, 3], columns=["id", "source", "ra", "dec", "median_flux"])
    expect(len(everything) == 58, f"objects: {len(everything)} rows")
    expect(list(sector1["source"]) == [11442793, 150065151] or list(sector1["source"]) == [150065151, 11442793],
           f"objects(fields=[2, 3]): {list(sector1['source'])}")
    expect(sector1["ra"].unit == u.deg and sector1["median_flux"].unit == u.electron / u.s,
           f"objects: units {sector1['ra'].unit}, {sector1['median_flux'].unit}")
    # A small embedding store as lcfm embed writes one: /objects/* and /z, some objects only.
    ids = np.array(everything["id"])[::-7][:5]
    with h5py.File("embeddings.h5", "w") as f:
        f["objects/id"] = ids
        f["objects/source"] = np.array(everything["source"])[np.searchsorted(everything["id"], ids)]
        f["z"] = np.arange(len(ids) * 3, dtype=np.float32).reshape(len(ids), 3)
    got_ids, arrays, table = lcfm_store.embeddings("embeddings.h5", store)
    expect(np.array_equal(got_ids, ids) and np.array_equal(table["id"], ids), "embeddings: id order")
    expect(np.array_equal(table["source_store"], table["source_embedding"]), "embeddings: join on id")
    expect(arrays["z"].shape == (5, 3), f"embeddings: z {arrays['z'].shape}")


files = sorted(glob.glob(os.path.join(data, "tess", "*.fits")) + glob.glob(os.path.join(data, "kepler", "*.fits")))
for path in files:
    check_fits(path)
check_macho()
check_objects_and_embeddings()
for p in problems:
    print("FAIL:", p)
print(f"check_reader: {len(files)} FITS files and one MACHO star through lcfm_store.py: "
      f"{'OK' if not problems else f'{len(problems)} problems'}")
sys.exit(1 if problems else 0)

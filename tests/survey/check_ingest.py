#!/usr/bin/python3
"""An independent reading of the sample survey files (astropy: io.fits and io.ascii) compared with
the store lcfm ingest wrote: objects, ids, sources, sectors/quarters, instruments, kept points,
times, normalised values and errors, MACHO grouping, sentinels and labels.

Usage: check_ingest.py STORE DATA_DIR      (exit 77: astropy or h5py missing)
"""
import glob
import os
import sys

try:
    import h5py
    import numpy as np
    from astropy.io import ascii, fits
except ImportError as missing:
    print(f"skipped: {missing} (install python3-astropy and python3-h5py)")
    sys.exit(77)

store, data = sys.argv[1], sys.argv[2]
problems = []


def expect(ok, what):
    if not ok:
        problems.append(what)


def fits_objects():
    """One expected object per FITS file, in the ingest's order (sorted paths)."""
    out = []
    for path in sorted(glob.glob(os.path.join(data, "tess", "*.fits")) + glob.glob(os.path.join(data, "kepler", "*.fits"))):
        with fits.open(path) as f:
            head, table = f[0].header, f[1].data
            tess = head["TELESCOP"] == "TESS"
            quality = table["QUALITY"] if tess else table["SAP_QUALITY"]
            flux, err, time = table["PDCSAP_FLUX"], table["PDCSAP_FLUX_ERR"], table["TIME"]
            keep = np.isfinite(time) & np.isfinite(flux) & np.isfinite(err) & ((quality & 175) == 0)
            median = np.median(flux[keep])
            out.append(dict(path=path, source=head["TICID"] if tess else head["KEPLERID"],
                            field=head["SECTOR"] if tess else head["QUARTER"],
                            unit=head["CAMERA"] if tess else head["MODULE"],
                            subunit=head["CCD"] if tess else head["OUTPUT"],
                            survey=1 if tess else 2, points=int(keep.sum()), time=time[keep],
                            value=flux[keep] / median - 1.0, error=err[keep] / median))
    return out


def macho_objects():
    """Two objects (red, blue) per star of the service CSV (read by astropy.io.ascii), sorted by
    field, tile, seqn; points by date, -99 sentinels and negative errors dropped."""
    table = ascii.read(os.path.join(data, "macho", "macho_field1_rrc_tap.csv"), format="csv")
    table.sort(["fieldid", "tileid", "seqn", "dateobs"], kind="stable")  # ties keep file order, as lcfm does
    out = []
    for star in table.group_by(["fieldid", "tileid", "seqn"]).groups:
        field, tile, seqn = (int(star[k][0]) for k in ("fieldid", "tileid", "seqn"))
        for band, (mag, err) in enumerate([("rmag", "rerr"), ("bmag", "berr")]):
            good = (np.asarray(star[mag], float) != -99) & (np.asarray(star[err], float) >= 0)
            out.append(dict(source=field * 10**10 + tile * 10**5 + seqn, field=field, band=band,
                            label=int(star["classification"][0]), points=int(good.sum()),
                            time=np.asarray(star["dateobs"], float)[good], value=np.asarray(star[mag], float)[good],
                            error=np.asarray(star[err], float)[good]))
    return out


with h5py.File(store, "r") as f:
    objects = {k: f["objects"][k][:] for k in f["objects"]}
    time, value, error = f["points/time"][:], f["points/value"][:], f["points/error"][:]
    inst = {k: f["instruments"][k][:] for k in f["instruments"]}
    rejects = f["rejects/reason"].shape[0]

# The store lists files in sorted path order: kepler, macho, tess under DATA_DIR.
expected_fits = {o["path"]: o for o in fits_objects()}
macho = macho_objects()
kepler = [expected_fits[p] for p in sorted(expected_fits) if "/kepler/" in p]
tess = [expected_fits[p] for p in sorted(expected_fits) if "/tess/" in p]
expected = kepler + macho + tess
expect(len(objects["id"]) == len(expected), f"{len(objects['id'])} objects in the store, {len(expected)} expected")
expect(np.array_equal(objects["id"], np.arange(len(objects["id"]))), "ids are not 0..N-1")
expect(rejects == 0, f"{rejects} rejects from clean sample files")
for i, e in enumerate(expected[:len(objects["id"])]):
    where = f"object {i} (source {e['source']})"
    expect(objects["source"][i] == e["source"], f"{where}: source {objects['source'][i]}")
    expect(objects["field"][i] == e["field"], f"{where}: field {objects['field'][i]}, expected {e['field']}")
    expect(objects["length"][i] == e["points"], f"{where}: {objects['length'][i]} points, astropy keeps {e['points']}")
    sl = slice(objects["offset"][i], objects["offset"][i] + objects["length"][i])
    if objects["length"][i] == e["points"]:
        expect(np.allclose(time[sl], e["time"], rtol=0, atol=1e-9), f"{where}: times differ")
        expect(np.allclose(value[sl], e["value"], rtol=1e-5, atol=1e-6), f"{where}: values differ from the rule")
        expect(np.allclose(error[sl], e["error"], rtol=1e-5, atol=1e-7), f"{where}: errors differ from the rule")
    m = objects["instrument"][i]
    if "band" in e:
        expect(inst["survey"][m] == 4 and inst["band"][m] == e["band"], f"{where}: instrument {m}")
        expect(objects["label"][i] == e["label"], f"{where}: label {objects['label'][i]}")
    else:
        expect(inst["survey"][m] == e["survey"] and inst["season"][m] == e["field"] and inst["unit"][m] == e["unit"]
               and inst["subunit"][m] == e["subunit"], f"{where}: instrument row {m} does not match the header")
        expect(objects["label"][i] == -1, f"{where}: label")
twice = objects["instrument"][objects["source"] == 150065151]
expect(len(twice) == 2 and twice[0] != twice[1], "TIC 150065151 is not one source under two instruments")

if problems:
    print("ingest disagrees with astropy:\n  " + "\n  ".join(problems[:30]))
    sys.exit(1)
print(f"ingest agrees with astropy on {len(expected)} objects ({len(kepler)} Kepler, {len(tess)} TESS, "
      f"{len(macho)} MACHO)")

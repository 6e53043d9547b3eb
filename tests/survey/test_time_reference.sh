# Time references read from each FITS header (TIMESYS, TIMEREF, BJDREFI + BJDREFF): a file
# whose BJDREFI differs from the first file of its instrument is stored with its times shifted
# to the instrument's time_zero (equal to the original's), a file in another time scale (UTC)
# on the same instrument is a FORMAT reject, and a file without the keywords gets the mission's
# documented BJD TDB reference and a note in the log. The same holds for an append: a file of an
# instrument already in the store takes the stored time reference (shifted to it, or a FORMAT
# reject in another time scale), and the instrument keeps its one row.
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
mkdir files
/usr/bin/python3 - "$DATA" <<'PY' || { [ $? -eq 77 ] && exit 77; fail "making the files"; }
import sys, shutil
try:
    from astropy.io import fits
except ImportError as missing:
    print(f"skipped: {missing}"); sys.exit(77)
data = sys.argv[1]
original = f"{data}/tess/tess2018206045859-s0001-0000000117544915-0120-s_lc.fits"
shutil.copy(original, "files/a_original.fits")
def variant(name, tic, change, template=original):
    with fits.open(template) as f:
        f[0].header["TICID"] = tic
        change(f)
        f.writeto(f"files/{name}", checksum=False)
def shifted(f):
    f[1].header["BJDREFI"] = 2457001
    f[1].data["TIME"] = f[1].data["TIME"] - 1.0
def utc(f):
    f[1].header["TIMESYS"] = "UTC"
    f[1].data["TIME"] = f[1].data["TIME"] + 1e-3  # another light curve, not a copy
def no_keywords(f):
    for hdu in f:
        for key in ("BJDREFI", "BJDREFF", "TIMESYS", "TIMEREF"):
            hdu.header.remove(key, ignore_missing=True)
variant("b_shifted.fits", 1, shifted)
variant("c_utc.fits", 2, utc)
variant("d_no_keywords.fits", 3, no_keywords, f"{data}/tess/tess2018206045859-s0001-0000000126602778-0120-s_lc.fits")
PY
printf '[ingest]\noutput = times.h5\ninputs = files\n' > job.ini
run_np 2 "$LCFM" ingest job.ini > ingest.log 2>&1 || { cat ingest.log; fail "ingest"; }
grep -q "note: 1 light curves without BJDREFI" ingest.log || { cat ingest.log; fail "no note for the missing keywords"; }
grep -q "1 rejected (format)" ingest.log || { cat ingest.log; fail "the UTC file was not rejected"; }
/usr/bin/python3 - <<'PY' || fail "time references"
import h5py, numpy as np
with h5py.File("times.h5", "r") as f:
    source, offset, length = (f["objects"][c][:] for c in ("source", "offset", "length"))
    time = f["points/time"][:]
    names = [n.decode() for n in f["instruments/name"][:]]
    zero, scale, ref = f["instruments/time_zero"][:], f["instruments/time_scale"][:], f["instruments/time_reference"][:]
    rejects = [(k.decode(), m.decode()) for k, m in zip(f["rejects/key"][:], f["rejects/message"][:])]
assert sorted(source) == [1, 3, 117544915], f"sources {source}"
at = {s: time[o:o + n] for s, o, n in zip(source, offset, length)}
assert np.array_equal(at[1], at[117544915]), "shifted times differ from the original's"
assert list(zero) == [2457000.0, 2457000.0] and all(s == b"TDB" for s in scale) and all(r == b"BJD" for r in ref), \
    f"instruments {names} {zero} {scale} {ref}"
assert len(rejects) == 1 and rejects[0][0].endswith("c_utc.fits") and "UTC" in rejects[0][1], rejects
print("time references: OK")
PY

mkdir first rest
cp files/a_original.fits first/ && cp files/b_shifted.fits files/c_utc.fits rest/
printf '[ingest]\noutput = grown.h5\ninputs = first\n' > first.ini
printf '[ingest]\noutput = grown.h5\ninputs = rest\n[store]\nmode = append\n' > rest.ini
run_np 1 "$LCFM" ingest first.ini > first.log 2>&1 || { cat first.log; fail "ingest of the first file"; }
run_np 2 "$LCFM" ingest rest.ini > rest.log 2>&1 || { cat rest.log; fail "append"; }
grep -q "1 rejected (format)" rest.log || { cat rest.log; fail "append: the UTC file was not rejected"; }
/usr/bin/python3 - <<'PY' || fail "time references of an append"
import h5py, numpy as np
with h5py.File("grown.h5", "r") as f:
    source, offset, length, instrument = (f["objects"][c][:] for c in ("source", "offset", "length", "instrument"))
    time, zero = f["points/time"][:], f["instruments/time_zero"][:]
    rejects = [m.decode() for m in f["rejects/message"][:]]
assert list(source) == [117544915, 1] and list(instrument) == [0, 0], f"objects {source} {instrument}"
assert list(zero) == [2457000.0], f"an append split the instrument: time_zero {zero}"
assert np.array_equal(time[offset[1]:offset[1] + length[1]], time[offset[0]:offset[0] + length[0]]), \
    "appended times not shifted to the stored time_zero"
assert len(rejects) == 1 and "UTC" in rejects[0], rejects
print("time references of an append: OK")
PY

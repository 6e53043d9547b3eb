# The two ways a FITS light curve is read give the same points: a plain file's table decoded
# where it lies in the mapped file (fits_reader.c, raw_layout) and CFITSIO's column reader, which
# reads a gzip-compressed copy of the same file. Every TESS and Kepler sample, quality kept, and
# a copy with the values CFITSIO reads specially: infinities (as NaN), denormals and -0 (as 0),
# and one with a scaled flux column (TSCALn, TZEROn: only CFITSIO's reader applies them);
# the same objects are stored and the same points dropped.
source "$(dirname "$0")/../cli/common.sh"
DATA=${LCFM_SHARED_DATA:-}
if [ -z "$DATA" ] || [ ! -d "$DATA/tess" ]; then echo "skipped: no sample data (set LCFM_SHARED_DATA)"; exit 77; fi
mkdir plain packed
cp "$DATA"/tess/*.fits "$DATA"/kepler/*.fits plain/
/usr/bin/python3 - "$DATA" <<'PY' || { [ $? -eq 77 ] && exit 77; fail "making the special values"; }
import sys
import numpy as np
try:
    from astropy.io import fits
except ImportError as missing:
    print(f"skipped: {missing}"); sys.exit(77)
with fits.open(f"{sys.argv[1]}/tess/tess2018206045859-s0001-0000000117544915-0120-s_lc.fits") as f:
    f[0].header["TICID"] = 7
    d = f[1].data
    d["PDCSAP_FLUX"][5010:5014] = [np.inf, -np.inf, np.float32(1e-41), -0.0]
    d["PDCSAP_FLUX_ERR"][5020:5023] = [np.float32(1e-42), np.inf, -0.0]
    d["TIME"][5030:5032] = [np.inf, np.nan]  # dropped points, not a time-order reject
    f.writeto("plain/special.fits", checksum=False)
    # a scaled flux column (TSCALn, TZEROn): the decoder must leave it to CFITSIO
    f[0].header["TICID"] = 8
    columns = []
    for c in f[1].columns:
        if c.name == "PDCSAP_FLUX":
            c = fits.Column(name=c.name, format="E", unit=c.unit, bscale=2.0, bzero=100.0,
                            array=1.5 * np.asarray(d[c.name], dtype=np.float64))
        columns.append(c)
    table = fits.BinTableHDU.from_columns(columns, header=f[1].header)
    fits.HDUList([f[0], table]).writeto("plain/scaled.fits", checksum=False)
PY
for f in plain/*.fits; do gzip -c "$f" > "packed/$(basename "$f").gz"; done
for kind in plain packed; do
  printf '[ingest]\noutput = %s.h5\ninputs = %s\nkeep_quality = true\n' $kind $kind > $kind.ini
  "$LCFM" ingest $kind.ini > $kind.log 2>&1 || { cat $kind.log; fail "ingest of the $kind files"; }
done
objects=$(h5ls plain.h5/objects/id | grep -o '{[0-9]*' | tr -d '{')
[ "$objects" -ge 8 ] || { cat plain.log; fail "only $objects objects from the samples and the special copy"; }
for d in /points/time /points/value /points/error /points/quality /objects/source \
         /objects/length /objects/median_flux /instruments/time_zero; do
  h5diff plain.h5 packed.h5 $d $d > diff.txt || { head diff.txt; fail "$d: the decoded table differs from CFITSIO's reading"; }
done
echo "$objects light curves: the mapped-table decoder and CFITSIO's reader agree bit for bit"

"""lcfm_store: lcfm light-curve and embedding stores as astropy tables and numpy arrays.

Needs only Debian's python3-h5py, python3-numpy and python3-astropy; run with /usr/bin/python3.

    import sys; sys.path.insert(0, "tools")
    import lcfm_store
    lc = lcfm_store.light_curve("tess.h5", source=150065151, instrument="tess-s01-cam4-ccd4")
    lc["time"].tdb.jd, lc["flux"].to("electron/s")     # BJD TDB, e-/s
    cat = lcfm_store.objects("tess.h5", fields=[1], columns=["id", "source", "ra", "dec"])
    ids, z, table = lcfm_store.embeddings("embeddings.h5", "tess.h5")

light_curve  one object's points: `time` (astropy Time: /points/time + the instrument's time_zero,
             format jd, in the instrument's time_scale: TDB for TESS and Kepler, whose times are
             BJD; UTC for MACHO, JD), `value` and `error` in their unit (relative flux, which
             is dimensionless, or mag), for relative flux also `flux` and `flux_err` in electron / s
             (value times the object's median flux), and `quality` when the ingest kept it.
             The table's meta holds the object's columns and its instrument.
objects      the /objects columns (with the instrument's name and value kind), optionally of
             some fields (TESS sectors, Kepler quarters, MACHO fields) only.
embeddings   an embedding store's arrays with its ids, and the objects table joined on id.

Units come from each dataset's `unit` attribute (astropy strings); a store written before the
attributes existed gets the documented ones (DOCUMENTED_UNITS).
"""
import h5py
import numpy as np
from astropy import units as u
from astropy.table import QTable, join
from astropy.time import Time

__all__ = ["light_curve", "objects", "embeddings", "instruments", "DOCUMENTED_UNITS"]

VALUE_RELATIVE_FLUX, VALUE_MAGNITUDE, VALUE_SIMULATED = 0, 1, 2

# The units src/README.md documents, for stores without unit attributes.
DOCUMENTED_UNITS = {
    "/objects/ra": "deg", "/objects/dec": "deg", "/objects/magnitude": "mag",
    "/objects/median_flux": "electron / s", "/points/time": "d", "/instruments/time_zero": "d",
}


def _open(store):
    return store if isinstance(store, h5py.File) else h5py.File(store, "r")


def _text(raw):
    return raw.decode("utf-8", "replace").rstrip("\0") if isinstance(raw, bytes) else str(raw)


def _unit(dataset):
    """The dataset's unit: its attribute, else the documented one, else none."""
    text = dataset.attrs.get("unit")
    text = _text(text) if text is not None else DOCUMENTED_UNITS.get(dataset.name)
    return u.Unit(text) if text else None


def _column(dataset, rows=slice(None)):
    data = dataset[rows]
    if data.dtype.kind == "S":
        return np.char.rstrip(data.astype(str), "\0")
    unit = _unit(dataset)
    return data * unit if unit is not None and unit != u.dimensionless_unscaled else data


def instruments(store):
    """The /instruments table (names and time systems as text)."""
    with _open(store) as f:
        group = f["instruments"]
        return QTable({name: _column(group[name]) for name in group})


def _instrument(f, instrument):
    """The instrument row: an id, or a name such as "tess-s01-cam4-ccd4"."""
    names = [_text(n) for n in f["instruments/name"][:]]
    row = names.index(instrument) if isinstance(instrument, str) and instrument in names else instrument
    if not isinstance(row, (int, np.integer)) or not 0 <= row < len(names):
        raise KeyError(f"{f.filename}: no instrument {instrument!r} (instruments: {', '.join(names)})")
    return int(row)


def _value_kind(f, row):
    group = f["instruments"]
    if "value_kind" in group:
        return int(group["value_kind"][row])
    return VALUE_MAGNITUDE if int(group["survey"][row]) == 4 else VALUE_RELATIVE_FLUX  # schema 1


def _time_scale(f, row):
    group = f["instruments"]
    if "time_scale" in group and _text(group["time_scale"][row]):
        return _text(group["time_scale"][row]).lower()
    return "utc" if int(group["survey"][row]) == 4 else "tdb"  # schema 1: the documented scales


def _rows_of_source(f, source):
    if "index/source_key" in f:
        keys = f["index/source_key"][:]
        g = np.searchsorted(keys, source)
        if g == len(keys) or keys[g] != source:
            return np.array([], dtype=np.int64)
        start = f["index/source_start"][g:g + 2]
        return np.sort(f["index/by_source"][start[0]:start[1]])
    return np.flatnonzero(f["objects/source"][:] == source)


def light_curve(store, source, instrument=None):
    """The points of `source` seen by `instrument` (id or name; optional when the source has one
    object) as an astropy QTable (a Table whose columns are Quantities) with units and a Time column (see the module's help)."""
    with _open(store) as f:
        rows = _rows_of_source(f, source)
        if instrument is not None:
            wanted = _instrument(f, instrument)
            rows = rows[f["objects/instrument"][:][rows] == wanted] if len(rows) else rows
        names = [_text(n) for n in f["instruments/name"][:]]
        if len(rows) != 1:
            seen = ", ".join(names[i] for i in f["objects/instrument"][:][rows]) if len(rows) else "none"
            raise KeyError(f"{f.filename}: source {source} has {len(rows)} light curves"
                           f"{'' if instrument is None else f' with instrument {instrument!r}'} "
                           f"(instruments: {seen}); name one instrument")
        row = int(rows[0])
        meta = {name: f["objects"][name][row] for name in f["objects"]}
        meta = {k: _text(v) if isinstance(v, bytes) else v.item() for k, v in meta.items()}
        inst = int(meta["instrument"])
        first, count = int(meta["offset"]), int(meta["length"])
        points = f["points"]
        time_zero = float(f["instruments/time_zero"][inst])
        kind = _value_kind(f, inst)
        reference = _text(f["instruments/time_reference"][inst]) if "time_reference" in f["instruments"] else ""
        table = QTable(meta=dict(meta, instrument_name=names[inst], time_zero=time_zero, value_kind=kind,
                                time_reference=reference or ("JD" if kind == VALUE_MAGNITUDE else "BJD")))
        # time_zero + time as the two parts of a Julian date keeps the times' full precision
        table["time"] = Time(np.full(count, time_zero), points["time"][first:first + count], format="jd",
                             scale=_time_scale(f, inst))
        value_unit = u.mag if kind == VALUE_MAGNITUDE else u.dimensionless_unscaled
        table["value"] = points["value"][first:first + count].astype(np.float64) * value_unit
        table["error"] = points["error"][first:first + count].astype(np.float64) * value_unit
        median = meta.get("median_flux", np.nan)
        if kind == VALUE_RELATIVE_FLUX and np.isfinite(median):
            flux_unit = _unit(f["objects/median_flux"]) or u.electron / u.s
            table["flux"] = (table["value"].value + 1.0) * median * flux_unit
            table["flux_err"] = table["error"].value * median * flux_unit
        if "quality" in points:
            table["quality"] = points["quality"][first:first + count]
        return table


def objects(store, fields=None, columns=None):
    """The /objects columns (all, or `columns`) with units, plus the instrument's name; only the
    objects whose field is in `fields` when given."""
    with _open(store) as f:
        group = f["objects"]
        field = group["field"][:]
        rows = np.flatnonzero(np.isin(field, np.asarray(fields))) if fields is not None else slice(None)
        names = [c for c in group if columns is None or c in columns]
        missing = set(columns or []) - set(group)
        if missing:
            raise KeyError(f"{f.filename}: no object column(s) {sorted(missing)} (columns: {sorted(group)})")
        table = QTable({name: _column(group[name], rows) for name in names})
        instrument = group["instrument"][rows]
        table["instrument_name"] = np.array([_text(n) for n in f["instruments/name"][:]] or [""])[instrument]
        return table


def embeddings(path, store=None):
    """An embedding store: (ids, {name: float32 array [N, latent]}, table). The table joins the
    embedding store's own object columns with `store`'s object columns on id when given."""
    with _open(path) as f:
        ids = f["objects/id"][:]
        arrays = {name: f[name][:] for name in f if isinstance(f[name], h5py.Dataset)}
        table = QTable({name: f["objects"][name][:] for name in f["objects"]})
    if store is not None:
        table = join(table, objects(store), keys="id", join_type="left",
                     table_names=["embedding", "store"], uniq_col_name="{col_name}_{table_name}")
        table.sort("id")
        order = np.argsort(np.argsort(ids))  # the embedding rows in the order of the sorted table
        table = table[order]
    return ids, arrays, table

"""Zones d'activités (ZAE) in the CNIG "Sites économiques" standard.

The standard (CNIG, v1.0.1, 2024) describes four tables: ``pole_eco`` (pôle économique),
``site_eco`` (site économique: a ZAE, a historic industrial site, an isolated plant …),
``terrain_eco`` (a plot of a site) and ``etablissement`` (a business). This module

- reads and writes them as a GeoPackage made from the official template (same layers, field
  types, EPSG:2154 and QGIS styles) or as a folder of CSV files (the standard's exchange
  format, one file per table);
- validates them against the standard's Table Schemas with ``frictionless``
  (:func:`validate_sites_economiques`), reporting every failing row and field;
- maps zones from IGN BD TOPO, OpenStreetMap or any user file to the ``site_eco`` columns
  (:func:`load_zae`).

In memory each table is a GeoDataFrame whose columns are the schema's fields in schema order
(geometry fields excepted: the geometry is the GeoDataFrame's geometry, in EPSG:2154 or the
territory's CRS), then any extra column. Areas are in hectares as the standard says
(``site_surf_brute``, ``terr_surf_brute``), distances in km.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.cnig import (
    CNIG_DATA,
    ID_PATTERNS,
    ValidationReport,
    load_cnig_schema,
    numeric_or_text,
    prepare_schema,
    schema_field_names,
    validate_package,
)
from layers.crs import require_crs, to_crs
from layers.errors import ArgumentError, CRSError, DataSourceError, GeometryError, SchemaError
from layers.files import atomic_path
from layers.geometry import repair_geometries
from layers.plausibility import pick_layer

if TYPE_CHECKING:
    from layers.territories import Territory

__all__ = [
    "BDTOPO_ECONOMIC_NATURES",
    "CNIG_SITE_COLUMNS",
    "CNIG_TABLES",
    "OSM_ECONOMIC_LANDUSE",
    "cnig_columns",
    "cnig_dtypes",
    "cnig_typed",
    "empty_sites_economiques",
    "load_zae",
    "read_sites_economiques",
    "validate_sites_economiques",
    "write_sites_economiques",
]

log = logging.getLogger(__name__)

#: The four tables of the standard, in dependency order (parents first).
CNIG_TABLES: tuple[str, ...] = ("pole_eco", "site_eco", "terrain_eco", "etablissement")

#: Table name -> name of its Table Schema (and CSV file) in the standard.
_SCHEMA_NAME = {
    "pole_eco": "pole-eco",
    "site_eco": "site-eco",
    "terrain_eco": "terrain-eco",
    "etablissement": "etablissement",
}
#: Fields of the exchange format that hold geometries; the first is the table's geometry.
_GEOMETRY_FIELDS = {
    "pole_eco": ("pole_geompoint",),
    "site_eco": ("site_geomsurf", "site_geompoint"),
    "terrain_eco": ("terr_geomsurf",),
    "etablissement": ("etab_geompoint",),
}
#: Geometry type of each layer of the official template.
_GPKG_GEOMETRY = {
    "pole_eco": "Point",
    "site_eco": "MultiPolygon",
    "terrain_eco": "Polygon",
    "etablissement": "MultiPoint",
}
#: Field names that differ between the exchange format (CSV) and the official GeoPackage.
_GPKG_NAMES = {
    "etablissement": {"SIRET": "siret", "SIREN": "siren", "ban-id": "ban_id", "bat-id": "bat_id"}
}
#: Foreign keys between tables: (table, field, parent table, parent field).
_FOREIGN_KEYS = (
    ("site_eco", "pole_id", "pole_eco", "pole_id"),
    ("terrain_eco", "site_id", "site_eco", "site_id"),
)
#: ``etablissement.terr_id`` lists terrain ids separated by "|".
_LIST_FOREIGN_KEYS = (("etablissement", "terr_id", "|", "terrain_eco", "terr_id"),)

_TEMPLATE = CNIG_DATA / "sites_economiques.gpkg"
_L93 = CRS.from_epsg(2154)
_WGS84 = CRS.from_epsg(4326)

#: BD TOPO ``zone_d_activite_ou_d_interet`` natures kept as economic zones, within the
#: category "Industriel et commercial". Left out: "Déchèterie", "Carrière", "Mine",
#: "Centrale électrique", "Elevage", "Marché" … (facilities, not land for businesses).
BDTOPO_ECONOMIC_NATURES: tuple[str, ...] = (
    "Zone industrielle",
    "Divers commercial",
    "Divers industriel",
    "Usine",
)
#: OSM ``landuse`` values read as economic zones.
OSM_ECONOMIC_LANDUSE: tuple[str, ...] = ("industrial", "commercial")


def cnig_columns(table: str) -> list[str]:
    """Return the attribute columns of a CNIG table, in schema order (no geometry fields).

    Parameters
    ----------
    table : str
        ``"pole_eco"``, ``"site_eco"``, ``"terrain_eco"`` or ``"etablissement"``.
    """
    if table not in _SCHEMA_NAME:
        raise SchemaError(
            f"unknown CNIG table {table!r}; expected one of {', '.join(CNIG_TABLES)}."
        )
    fields = schema_field_names(load_cnig_schema(_SCHEMA_NAME[table]))
    return [f for f in fields if f not in _GEOMETRY_FIELDS[table]]


#: Columns of the ``site_eco`` table in schema order, without its geometry fields
#: (``site_geomsurf``, ``site_geompoint``): site_id, pole_id, site_nom, site_type, …,
#: gare_fret_nom, gare_fret_dist, aeroport_nom, aeroport_dist, port_nom, port_dist.
#: Distances in km, areas in ha.
CNIG_SITE_COLUMNS: list[str] = cnig_columns("site_eco")


def cnig_dtypes(table: str) -> dict[str, str]:
    """Return the pandas dtypes of a CNIG table's numeric fields, as typed by its template.

    The GeoPackage template stores counts and rates (``site_uf_nbre``, ``site_nb_emploi``,
    ``site_taux_vacance`` …) as ``MEDIUMINT`` and areas (``site_surf_brute`` …) as ``REAL``.
    Distances (``*_dist``, km) are ``MEDIUMINT`` in the template but ``number`` in the
    standard's schema: they stay decimal (``float64``) so that 0.1 km is not lost.

    Parameters
    ----------
    table : str
        ``"pole_eco"``, ``"site_eco"``, ``"terrain_eco"`` or ``"etablissement"``.

    Returns
    -------
    dict of str to str
        Field -> ``"Int32"`` (written as ``MEDIUMINT`` by GDAL, ``integer`` in PostgreSQL)
        or ``"float64"`` (``REAL``, ``double precision``); text fields are absent.
    """
    with sqlite3.connect(f"file:{_TEMPLATE}?mode=ro", uri=True) as con:
        rows = con.execute(f'PRAGMA table_info("{table}")').fetchall()  # table: a known name
    template = {str(r[1]): str(r[2]).upper() for r in rows}
    out: dict[str, str] = {}
    for name in _number_fields(table):
        sql_type = template.get(_GPKG_NAMES.get(table, {}).get(name, name), "REAL")
        integer = _is_integer_type(sql_type) and not name.endswith("_dist")
        out[name] = "Int32" if integer else "float64"
    return out


def cnig_typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the numeric fields of a CNIG table cast to :func:`cnig_dtypes`.

    Parameters
    ----------
    table : str
        CNIG table name.
    frame : DataFrame
        Rows of that table; columns that are absent are left absent.

    Returns
    -------
    DataFrame
        A copy; empty cells become missing values. Integer fields holding decimals are
        rounded (the template stores integers), with a warning.

    Raises
    ------
    SchemaError
        A numeric field holds text that is not a number.
    """
    out = frame.copy()
    for name, dtype in cnig_dtypes(table).items():
        if name not in out.columns:
            continue
        raw = out[name]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            raise SchemaError(
                f"{table}.{name}: {int(bad.sum())} value(s) are not numbers "
                f"(e.g. {raw[bad].iloc[0]!r})."
            )
        if dtype == "Int32":
            rounded = values.round()
            if bool((values.notna() & (rounded != values)).any()):
                log.warning("%s.%s: decimals rounded to the template's integers", table, name)
            out[name] = rounded.astype("Int32")
        else:
            out[name] = values.astype("float64")
    return out


def _number_fields(table: str) -> list[str]:
    schema = load_cnig_schema(_SCHEMA_NAME[table])
    return [f["name"] for f in schema["fields"] if f.get("type") in ("number", "integer")]


def empty_sites_economiques(*, crs: CRS | str = "EPSG:2154") -> dict[str, gpd.GeoDataFrame]:
    """Return the four CNIG tables, empty, with their columns (a start for a new inventory).

    Parameters
    ----------
    crs : pyproj.CRS or str
        CRS of the geometries (projected, metres), Lambert-93 by default.
    """
    return {t: _empty_table(t, crs) for t in CNIG_TABLES}


def _empty_table(table: str, crs: CRS | str) -> gpd.GeoDataFrame:
    cols = cnig_columns(table)
    numbers = set(_number_fields(table))
    data = {c: pd.Series([], dtype="float64" if c in numbers else "object") for c in cols}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


# --------------------------------------------------------------------------- reading


def read_sites_economiques(
    path: str | os.PathLike[str],
    *,
    validate: bool = True,
    crs: CRS | str | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Read CNIG "Sites économiques" tables from a GeoPackage or a folder of CSV files.

    Parameters
    ----------
    path : path-like
        A GeoPackage with layers ``pole_eco``, ``site_eco``, ``terrain_eco``,
        ``etablissement`` (the official template's layout), or a folder of CSV files named
        after the tables (``site-eco.csv``, ``site_eco.csv``, ``site-eco.exemple-valide.csv``
        …), ``;`` or ``,`` separated, UTF-8. In CSV the geometry is the schema's field
        (``site_geomsurf`` GeoJSON, ``pole_geompoint`` "lon, lat" …), a ``geometry`` column
        of WKT, or ``lon``/``lat`` columns.
    validate : bool
        Check the tables with :func:`validate_sites_economiques` and raise
        :class:`SchemaError` listing the errors when they do not follow the standard.
    crs : pyproj.CRS or str, optional
        CRS of CSV coordinates. By default GeoJSON/WKT coordinates within ±180/±90 are read
        as longitude/latitude (EPSG:4326, as GeoJSON requires) and larger ones as
        Lambert-93 (EPSG:2154, which some producers use).

    Returns
    -------
    dict of str to GeoDataFrame
        The tables found, by name, in EPSG:2154; columns as :func:`cnig_columns` plus any
        extra column; numbers as float64 (ha, km), dates as text (``YYYY-MM-DD``).

    Raises
    ------
    DataSourceError
        The path does not exist or holds none of the tables.
    SchemaError
        ``validate=True`` and the tables break the standard, or a geometry cell cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise DataSourceError(f"{path} does not exist: give a GeoPackage or a folder of CSV files.")
    if path.is_dir():
        tables = _read_csv_folder(path, crs=crs, strict=validate)
    elif path.suffix.lower() == ".csv":
        table = _table_of_csv(path)
        if table is None:
            raise DataSourceError(
                f"cannot tell which CNIG table {path.name} holds: name it after the table "
                "(pole-eco.csv, site-eco.csv, terrain-eco.csv or etablissement.csv)."
            )
        tables = {table: _read_csv_table(path, table, crs=crs, strict=validate)}
    else:
        tables = _read_gpkg(path)
    if not tables:
        raise DataSourceError(f"{path} holds none of the CNIG tables ({', '.join(CNIG_TABLES)}).")
    if validate:
        validate_sites_economiques(tables).raise_if_invalid()
    return tables


def _read_gpkg(path: Path) -> dict[str, gpd.GeoDataFrame]:
    import pyogrio

    try:
        layers = {str(name) for name, _ in pyogrio.list_layers(path)}
    except Exception as exc:
        raise DataSourceError(f"cannot open {path} as a GeoPackage: {exc}") from exc
    tables = {}
    for table in CNIG_TABLES:
        if table not in layers:
            log.warning("%s has no layer %r", path, table)
            continue
        gdf = pyogrio.read_dataframe(path, layer=table, fid_as_index=False)
        renames = {v: k for k, v in _GPKG_NAMES.get(table, {}).items()}
        gdf = gdf.rename(columns=renames)
        tables[table] = _normalise(gdf, table)
    return tables


def _normalise(gdf: gpd.GeoDataFrame, table: str) -> gpd.GeoDataFrame:
    """Schema column order, float64 numbers, missing columns added, EPSG:2154 geometry."""
    if gdf.crs is None:
        raise CRSError(f"CNIG table {table} has no CRS: the standard uses EPSG:2154.")
    gdf = gdf.rename_geometry("geometry") if gdf.geometry.name != "geometry" else gdf
    cols = cnig_columns(table)
    numbers = set(_number_fields(table))
    out = {}
    for c in cols:
        if c in gdf.columns:
            s = gdf[c]
            if c in numbers:
                s = numeric_or_text(s)
            elif s.dtype != object:
                s = s.astype(object).where(s.notna(), None)
            out[c] = s
        else:
            out[c] = pd.Series(
                np.nan if c in numbers else None,
                index=gdf.index,
                dtype="float64" if c in numbers else "object",
            )
    extra = [c for c in gdf.columns if c not in out and c != "geometry"]
    for c in extra:
        out[c] = gdf[c]
    result = gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs, index=gdf.index)
    result = result.reset_index(drop=True)
    return to_crs(result, _L93, name=table)


_CSV_NAMES = {t: (t, s) for t, s in _SCHEMA_NAME.items()}


def _table_of_csv(path: Path) -> str | None:
    stem = path.name.lower().split(".")[0]
    for table, names in _CSV_NAMES.items():
        if stem in names:
            return table
    return None


def _read_csv_folder(
    folder: Path, *, crs: CRS | str | None, strict: bool
) -> dict[str, gpd.GeoDataFrame]:
    tables = {}
    for file in sorted(folder.glob("*.csv")):
        table = _table_of_csv(file)
        if table is None:
            log.info("%s: not a CNIG table name, skipped", file)
            continue
        if table in tables:
            raise DataSourceError(f"{folder} holds two files for the table {table!r}.")
        tables[table] = _read_csv_table(file, table, crs=crs, strict=strict)
    return {t: tables[t] for t in CNIG_TABLES if t in tables}


def _read_csv_table(
    path: Path, table: str, *, crs: CRS | str | None, strict: bool
) -> gpd.GeoDataFrame:
    text_head = path.read_text(encoding="utf-8-sig").split("\n", 1)[0]
    sep = ";" if text_head.count(";") >= text_head.count(",") else ","
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    # The standard's missing values: '', 'NA', 'NaN', 'N/A'.
    df = df.apply(lambda s: s.str.strip()).replace({"": None, "NA": None, "NaN": None, "N/A": None})
    geoms = _csv_geometry(df, table, path, crs=crs, strict=strict)
    df = df.drop(
        columns=[c for c in (*_GEOMETRY_FIELDS[table], "geometry", "lon", "lat") if c in df.columns]
    )
    gdf = gpd.GeoDataFrame(df, geometry=geoms)
    return _normalise(gdf, table)


def _csv_geometry(
    df: pd.DataFrame, table: str, path: Path, *, crs: CRS | str | None, strict: bool
) -> gpd.GeoSeries:
    main = _GEOMETRY_FIELDS[table][0]
    if main in df.columns:
        text = df[main]
        if main.endswith("geompoint") and table == "pole_eco":
            geoms = _parse_geopoints(text, path, main, strict)
        else:
            geoms = _parse_geojson(text, path, main, strict)
    elif "geometry" in df.columns:
        text = df["geometry"]
        geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        _report_unparsed(text, geoms, path, "geometry", "WKT", strict)
    elif {"lon", "lat"} <= set(df.columns):
        geoms = shapely.points(
            pd.to_numeric(df["lon"], errors="coerce"), pd.to_numeric(df["lat"], errors="coerce")
        )
        crs = crs or _WGS84
    else:
        raise SchemaError(
            f"{path.name}: no geometry: give the field {main!r} (GeoJSON), a 'geometry' "
            "column (WKT) or 'lon'/'lat' columns."
        )
    geoms = np.asarray(geoms, dtype=object)
    source_crs = CRS.from_user_input(crs) if crs is not None else _guess_crs(geoms, path)
    return gpd.GeoSeries(geoms, crs=source_crs, index=df.index)


def _parse_geojson(text: pd.Series, path: Path, name: str, strict: bool) -> np.ndarray:
    values = text.to_numpy(dtype=object)
    out = np.full(len(values), None, dtype=object)
    present = np.array([v is not None for v in values], dtype=bool)
    if present.any():
        out[present] = shapely.from_geojson(values[present], on_invalid="ignore")
    _report_unparsed(text, out, path, name, "GeoJSON", strict)
    return out


def _parse_geopoints(text: pd.Series, path: Path, name: str, strict: bool) -> np.ndarray:
    parts = text.str.extract(r"^\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*$")
    lon = pd.to_numeric(parts[0], errors="coerce").to_numpy()
    lat = pd.to_numeric(parts[1], errors="coerce").to_numpy()
    geoms = np.asarray(shapely.points(lon, lat), dtype=object)
    geoms[np.isnan(lon) | np.isnan(lat)] = None
    _report_unparsed(text, geoms, path, name, '"lon, lat" geopoint', strict)
    return geoms


def _report_unparsed(
    text: pd.Series, geoms: Any, path: Path, name: str, kind: str, strict: bool
) -> None:
    bad = text.notna().to_numpy() & pd.isna(np.asarray(geoms, dtype=object))
    if not bad.any():
        return
    rows = np.flatnonzero(bad)
    reasons = [f"row {i + 1}: {_parse_reason(text.iloc[i], kind)}" for i in rows[:10]]
    message = (
        f"{path.name}: field {name!r} is not valid {kind} on {len(rows)} data row(s): "
        + "; ".join(reasons)
        + (" …" if len(rows) > 10 else "")
    )
    if strict:
        raise SchemaError(message + ". Fix the geometry text, or read with validate=False.")
    log.warning("%s; these rows get no geometry", message)


def _parse_reason(value: str, kind: str) -> str:
    try:
        if kind == "GeoJSON":
            shapely.from_geojson(value)
        elif kind == "WKT":
            shapely.from_wkt(value)
    except Exception as exc:  # the parser's own words say what is wrong
        return str(exc)
    return f"{value[:40]!r} is not a {kind}"


def _guess_crs(geoms: np.ndarray, path: Path) -> CRS:
    present = geoms[~pd.isna(geoms)]
    if len(present) == 0:
        return _L93
    xmin, ymin, xmax, ymax = shapely.total_bounds(present)
    if -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90:
        return _WGS84
    log.info("%s: coordinates beyond ±180/±90, read as Lambert-93 (EPSG:2154)", path.name)
    return _L93


# --------------------------------------------------------------------------- validation


def validate_sites_economiques(
    tables: Mapping[str, pd.DataFrame], *, check_ids: bool = True
) -> ValidationReport:
    """Check CNIG "Sites économiques" tables against the standard with ``frictionless``.

    Each table is checked against its shipped Table Schema (types, enums, required fields,
    URL and cadastral-reference patterns, unique primary key); foreign keys are checked
    between the tables given: ``site_eco.pole_id`` → ``pole_eco``, ``terrain_eco.site_id`` →
    ``site_eco``, each id of ``etablissement.terr_id`` ("|"-separated) → ``terrain_eco``.

    Parameters
    ----------
    tables : mapping of str to GeoDataFrame
        Tables by name (``pole_eco``, ``site_eco``, ``terrain_eco``, ``etablissement``),
        as returned by :func:`read_sites_economiques`; the geometry fills the table's
        geometry field (``pole_geompoint`` as "lon, lat" in EPSG:4326).
    check_ids : bool
        Also check identifiers and codes against :data:`layers.cnig.ID_PATTERNS`
        (``<INSEE>_SITE-ECO_<5 digits>``, SIREN, INSEE codes).

    Returns
    -------
    ValidationReport
        Every failing row and field; ``report.valid``, ``report.errors``,
        ``report.summary()``, ``report.raise_if_invalid()``.
    """
    unknown = set(tables) - set(CNIG_TABLES)
    if unknown:
        raise SchemaError(
            f"unknown CNIG table(s) {sorted(unknown)}; expected {', '.join(CNIG_TABLES)}."
        )
    prepared: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {}
    for table in CNIG_TABLES:
        if table not in tables:
            continue
        schema_name = _SCHEMA_NAME[table]
        fks = [
            {"fields": f, "reference": {"resource": parent, "fields": pf}}
            for child, f, parent, pf in _FOREIGN_KEYS
            if child == table and parent in tables
        ]
        schema = prepare_schema(
            load_cnig_schema(schema_name),
            patterns=ID_PATTERNS[schema_name] if check_ids else None,
            foreign_keys=fks,
        )
        prepared[table] = (_exchange_cells(tables[table], table), schema)
    return validate_package(prepared, list_foreign_keys=_LIST_FOREIGN_KEYS)


def _exchange_cells(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """The table with its geometry written in the schema's geometry field."""
    out = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
    main = _GEOMETRY_FIELDS[table][0]
    if isinstance(df, gpd.GeoDataFrame) and main not in out.columns:
        geoms = df.geometry
        if main.endswith("geompoint") and table == "pole_eco":
            out[main] = _geopoint_text(geoms)
        else:
            text = shapely.to_geojson(geoms.to_numpy())
            out[main] = [json.loads(t) if t is not None else None for t in text]
    return out


def _geopoint_text(geoms: gpd.GeoSeries) -> list[str | None]:
    if len(geoms) == 0:
        return []
    pts = geoms.to_crs(_WGS84) if geoms.crs is not None else geoms
    pts = pts.where(pts.geom_type == "Point", pts.representative_point())
    x, y = shapely.get_x(pts.to_numpy()), shapely.get_y(pts.to_numpy())
    return [None if np.isnan(a) else f"{a:.7f}, {b:.7f}" for a, b in zip(x, y, strict=True)]


# --------------------------------------------------------------------------- writing


def write_sites_economiques(
    tables: Mapping[str, gpd.GeoDataFrame],
    path: str | os.PathLike[str],
    *,
    driver: Literal["GPKG", "CSV"] = "GPKG",
) -> Path:
    """Write CNIG "Sites économiques" tables, atomically.

    ``GPKG`` writes a copy of the official template GeoPackage with the features appended:
    same layer names, field names and types, EPSG:2154, and the template's ``layer_styles``
    so that QGIS shows the official styles. Columns that are not in the template are added
    as extra fields. ``CSV`` writes one ``<table>.csv`` per table (``pole-eco.csv``,
    ``site-eco.csv`` …) in the standard's exchange format: ``;``-separated UTF-8, schema
    field order, geometries as GeoJSON in longitude/latitude (EPSG:4326) and points as
    "lon, lat".

    The output is written to temporary files next to ``path`` and renamed at the end, so an
    error leaves no half-written file.

    Parameters
    ----------
    tables : mapping of str to GeoDataFrame
        Tables by name (any subset of ``pole_eco``, ``site_eco``, ``terrain_eco``,
        ``etablissement``), with a CRS (reprojected to EPSG:2154 for the GeoPackage).
    path : path-like
        The GeoPackage file (``GPKG``) or the folder (``CSV``, created if needed).
    driver : {"GPKG", "CSV"}
        Output format.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    SchemaError
        An unknown table name or driver.
    CRSError
        A table without CRS.
    GeometryError
        A geometry that the template's layer type cannot hold (e.g. a multi-part terrain).
    """
    unknown = set(tables) - set(CNIG_TABLES)
    if unknown:
        raise SchemaError(
            f"unknown CNIG table(s) {sorted(unknown)}; expected {', '.join(CNIG_TABLES)}."
        )
    for name, gdf in tables.items():
        require_crs(gdf, name)
    path = Path(path)
    if driver == "GPKG":
        _write_gpkg(tables, path)
    elif driver == "CSV":
        _write_csv(tables, path)
    else:
        raise SchemaError(f"driver must be 'GPKG' or 'CSV', not {driver!r}.")
    return path


def _write_gpkg(tables: Mapping[str, gpd.GeoDataFrame], path: Path) -> None:
    import pyogrio

    with atomic_path(path) as tmp:
        shutil.copyfile(_TEMPLATE, tmp)
        for table in CNIG_TABLES:
            if table not in tables or len(tables[table]) == 0:
                continue
            gdf = _gpkg_frame(tables[table], table, tmp)
            pyogrio.write_dataframe(
                gdf,
                tmp,
                layer=table,
                driver="GPKG",
                append=True,
                promote_to_multi=_GPKG_GEOMETRY[table].startswith("Multi"),
            )
    log.info("wrote %s (%s)", path, {t: len(g) for t, g in tables.items()})


def _layer_fields(path: Path, table: str) -> dict[str, str]:
    """Attribute fields of a GeoPackage layer in table order, with their SQL types."""
    with sqlite3.connect(path) as con:
        rows = con.execute(f'PRAGMA table_info("{table}")').fetchall()
    return {r[1]: r[2] for r in rows if r[1] not in ("fid", "geom") and r[5] == 0}


def _gpkg_frame(gdf: gpd.GeoDataFrame, table: str, path: Path) -> gpd.GeoDataFrame:
    gdf = to_crs(gdf, _L93, name=table)
    renames = _GPKG_NAMES.get(table, {})
    drop = [c for c in _GEOMETRY_FIELDS[table] if c in gdf.columns]
    out = pd.DataFrame(gdf.drop(columns=[*drop, gdf.geometry.name])).rename(columns=renames)
    _add_extra_fields(path, table, out, _layer_fields(path, table))
    field_types = _layer_fields(path, table)
    # pyogrio appends values by position: order the columns exactly as the layer's fields
    # (the template's order differs from the schema's in places).
    out = out.reindex(columns=list(field_types))
    for name, sql_type in field_types.items():
        if not _is_integer_type(sql_type):
            continue
        values = pd.to_numeric(out[name], errors="coerce")
        rounded = values.round()
        changed = values.notna() & (rounded != values)
        if changed.any():
            # The template stores these as integers (km, counts, %): round, do not truncate.
            log.warning(
                "%s.%s: %d non-integer value(s) rounded to fit the template's integer field",
                table,
                name,
                int(changed.sum()),
            )
        out[name] = rounded.astype("Int64")
    geoms = gdf.geometry.to_numpy()
    if _GPKG_GEOMETRY[table] == "Polygon":
        geoms = _single_polygons(geoms, gdf, table)
    return gpd.GeoDataFrame(out, geometry=geoms, crs=_L93)


def _is_integer_type(sql_type: str) -> bool:
    return sql_type.upper() in {"INTEGER", "MEDIUMINT", "SMALLINT", "TINYINT", "INT"}


def _single_polygons(geoms: np.ndarray, gdf: gpd.GeoDataFrame, table: str) -> np.ndarray:
    multi = shapely.get_type_id(geoms) == 6
    if not multi.any():
        return geoms
    n_parts = shapely.get_num_geometries(geoms)
    bad = multi & (n_parts > 1)
    if bad.any():
        ids = gdf.loc[bad, "terr_id"].tolist() if "terr_id" in gdf.columns else np.flatnonzero(bad)
        raise GeometryError(
            f"{table}: the official template stores one Polygon per terrain, but "
            f"{int(bad.sum())} terrain(s) have several parts: {list(ids)[:10]}. "
            "Split them into several terrains."
        )
    out = geoms.copy()
    out[multi] = shapely.get_geometry(geoms[multi], 0)
    return out


def _add_extra_fields(
    path: Path, table: str, df: pd.DataFrame, field_types: Mapping[str, str]
) -> None:
    extra = [c for c in df.columns if c not in field_types]
    if not extra:
        return
    log.info("%s: adding fields not in the official template: %s", table, extra)
    with sqlite3.connect(path) as con:
        for c in extra:
            kind = df[c].dtype.kind
            sql_type = "REAL" if kind == "f" else "INTEGER" if kind in "iub" else "TEXT"
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", c):
                raise SchemaError(f"{table}: column name {c!r} cannot be a GeoPackage field.")
            con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{c}" {sql_type}')


def _write_csv(tables: Mapping[str, gpd.GeoDataFrame], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for table in CNIG_TABLES:
            if table not in tables:
                continue
            df = _csv_frame(tables[table], table)
            fd, name = tempfile.mkstemp(prefix=f".{table}.", suffix=".tmp", dir=folder)
            os.close(fd)
            tmp = Path(name)
            staged.append((tmp, folder / f"{_SCHEMA_NAME[table]}.csv"))
            df.to_csv(tmp, sep=";", index=False, encoding="utf-8")
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def _csv_frame(gdf: gpd.GeoDataFrame, table: str) -> pd.DataFrame:
    schema_fields = schema_field_names(load_cnig_schema(_SCHEMA_NAME[table]))
    wgs = to_crs(gdf, _WGS84, name=table)
    geoms = wgs.geometry.to_numpy()
    out = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    main = _GEOMETRY_FIELDS[table][0]
    if main.endswith("geompoint") and table == "pole_eco":
        out[main] = _geopoint_text(wgs.geometry)
    else:
        out[main] = shapely.to_geojson(geoms)
    if table == "site_eco" and "site_geompoint" not in out.columns:
        out["site_geompoint"] = _geopoint_text(
            to_crs(gdf.geometry.centroid, _WGS84, name=table)
            if len(gdf) and CRS.from_user_input(gdf.crs).is_projected
            else wgs.geometry.centroid
        )
    ordered = [c for c in schema_fields if c in out.columns]
    extra = [c for c in out.columns if c not in ordered]
    for c in schema_fields:
        if c not in out.columns:
            out[c] = None
    return out[[*schema_fields, *extra]].map(_csv_text)


def _csv_text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


# --------------------------------------------------------------------------- ZAE loading


def load_zae(
    territory: Territory | None = None,
    *,
    source: str | os.PathLike[str],
    data: gpd.GeoDataFrame | None = None,
    path: str | os.PathLike[str] | None = None,
    layer: str | None = None,
    columns: Mapping[str, str] | None = None,
    natures: Sequence[str] = BDTOPO_ECONOMIC_NATURES,
    landuse: Sequence[str] = OSM_ECONOMIC_LANDUSE,
    crs: CRS | str | None = None,
    clip: bool = False,
) -> gpd.GeoDataFrame:
    """Return zones d'activités mapped to the CNIG ``site_eco`` columns.

    Parameters
    ----------
    territory : Territory, optional
        Keep the zones that intersect its perimeter (whole zones; cut them with
        ``clip=True``), in its CRS. Needed to query OpenStreetMap online.
    source : str or path-like
        ``"bdtopo"``: IGN BD TOPO ``zone_d_activite_ou_d_interet`` (``path=`` a file or
        ``data=`` a GeoDataFrame; shapefile upper-case or WFS lower-case field names), kept
        when CATEGORIE is "Industriel et commercial" and NATURE in ``natures``.
        ``"osm"``: OpenStreetMap areas with ``landuse`` in ``landuse`` (``data=`` a
        GeoDataFrame in EPSG:4326 as made by ``layers.overpass.overpass_to_gdf``, else an
        Overpass query over the territory). Any other value (or ``path=`` with
        ``source="file"``) is a user file (GeoPackage, GeoJSON, shapefile, or CSV with a WKT
        ``geometry`` column in ``crs``) whose columns are renamed by ``columns``.
    data : GeoDataFrame, optional
        Features already in memory (``"bdtopo"`` or ``"osm"``).
    path : path-like, optional
        File to read for ``"bdtopo"`` or ``"file"``.
    layer : str, optional
        Layer of a multi-layer file (default ``zone_d_activite_ou_d_interet`` when present).
    columns : mapping of str to str, optional
        Renaming of a user file's columns to CNIG names, e.g.
        ``{"NOM_ZAE": "site_nom", "INSEE": "site_comm_insee"}``.
    natures : sequence of str
        BD TOPO natures kept (default :data:`BDTOPO_ECONOMIC_NATURES`).
    landuse : sequence of str
        OSM landuse values kept (default :data:`OSM_ECONOMIC_LANDUSE`).
    crs : pyproj.CRS or str, optional
        Output CRS (projected, metres); default the territory's, else EPSG:2154. For a CSV
        user file, the CRS of its coordinates.
    clip : bool
        Cut the zones at the territory's perimeter (the area is then the part inside).

    Returns
    -------
    GeoDataFrame
        One row per zone, columns :data:`CNIG_SITE_COLUMNS` then ``source`` (``"bdtopo"``,
        ``"osm"`` or the file name) and ``source_id``, polygonal geometries in the output
        CRS. ``site_surf_brute`` is the area in hectares computed in that projected CRS when
        the source does not give it. Unknown fields are empty (None/NaN), not guessed.

    Raises
    ------
    SchemaError
        Unknown source, missing BD TOPO/OSM columns, or a ``columns`` mapping to non-CNIG
        names.
    DataSourceError
        The file cannot be read.
    CRSError
        Input without CRS, or a geographic output CRS.
    """
    out_crs = CRS.from_user_input(crs or (territory.crs if territory is not None else _L93))
    if not out_crs.is_projected:
        raise CRSError(f"load_zae needs a projected CRS in metres, not {out_crs.to_string()}.")
    kind = str(source).lower() if str(source).lower() in ("bdtopo", "osm", "file") else "file"
    if kind == "file" and path is None and str(source).lower() != "file":
        path = source
    if kind == "bdtopo":
        raw = data if data is not None else _read_any(path, layer=layer, crs=None, kind="bdtopo")
        sites = _from_bdtopo(raw, natures=natures)
    elif kind == "osm":
        raw = data if data is not None else _query_osm(territory, landuse)
        sites = _from_osm(raw, landuse=landuse)
    else:
        if path is None:
            raise SchemaError("load_zae(source='file') needs path= (a GeoPackage, GeoJSON, …).")
        raw = _read_any(path, layer=layer, crs=crs, kind="file")
        sites = _from_user(raw, columns=columns or {}, name=Path(path).name)
    sites = to_crs(sites, out_crs, name=f"ZAE ({kind})")
    sites = repair_geometries(sites, name=f"ZAE ({kind})", id_column="source_id", drop_empty=True)
    polygonal = sites.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.all():
        log.info("ZAE (%s): %d non-polygonal feature(s) left out", kind, int((~polygonal).sum()))
        sites = sites.loc[polygonal]
    if territory is not None:
        perimeter = territory.perimeter
        if not CRS.from_user_input(territory.crs).equals(out_crs):
            perimeter = gpd.GeoSeries([perimeter], crs=territory.crs).to_crs(out_crs).iloc[0]
        sites = sites.loc[sites.intersects(perimeter)]
        if clip:
            sites = sites.assign(geometry=sites.intersection(perimeter))
    sites = sites.reset_index(drop=True)
    area_ha = sites.area.to_numpy() / 10_000.0
    surf = pd.to_numeric(sites["site_surf_brute"], errors="coerce")
    if clip:
        surf = pd.Series(area_ha, index=sites.index)
    sites["site_surf_brute"] = surf.fillna(pd.Series(area_ha, index=sites.index)).astype(float)
    _fill_communes(sites, territory)
    sites["site_id"] = _site_ids(sites)
    log.info("ZAE (%s): %d zone(s), %.1f ha", kind, len(sites), float(area_ha.sum()))
    return sites[[*CNIG_SITE_COLUMNS, "source", "source_id", "geometry"]]


def _read_any(
    path: str | os.PathLike[str] | None, *, layer: str | None, crs: CRS | str | None, kind: str
) -> gpd.GeoDataFrame:
    import pyogrio

    if path is None:
        raise SchemaError(f"load_zae(source={kind!r}) needs path= or data=.")
    p = Path(path)
    if not p.exists():
        raise DataSourceError(f"{p} does not exist.")
    try:
        if p.suffix.lower() == ".csv":
            df = pd.read_csv(p, sep=None, engine="python", dtype=str, encoding="utf-8-sig")
            if "geometry" not in df.columns:
                raise SchemaError(f"{p.name}: a CSV of zones needs a 'geometry' column of WKT.")
            if crs is None:
                raise CRSError(f"{p.name}: give crs= for the WKT coordinates of a CSV file.")
            geoms = shapely.from_wkt(df["geometry"].to_numpy(dtype=object), on_invalid="ignore")
            return gpd.GeoDataFrame(df.drop(columns="geometry"), geometry=geoms, crs=crs)
        # BD TOPO's zones, or the site_eco table of a CNIG "Sites économiques" GeoPackage;
        # a file of several other layers is refused rather than read from its first one
        layer = pick_layer(
            p, layer=layer, prefer=("zone_d_activite_ou_d_interet", "site_eco"), what="zones"
        )
        gdf = pyogrio.read_dataframe(p, layer=layer)
    except (SchemaError, CRSError, ArgumentError):
        raise
    except Exception as exc:
        raise DataSourceError(f"cannot read {p}: {exc}") from exc
    if gdf.crs is None:
        if crs is None:
            raise CRSError(f"{p.name} has no CRS: give crs= (e.g. 'EPSG:2154').")
        gdf = gdf.set_crs(crs)
    return gdf


def _blank_sites(n: int, crs: Any, geoms: Any) -> gpd.GeoDataFrame:
    numbers = set(_number_fields("site_eco"))
    data = {
        c: pd.Series(
            np.nan if c in numbers else None,
            index=range(n),
            dtype="float64" if c in numbers else "object",
        )
        for c in CNIG_SITE_COLUMNS
    }
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=crs, index=range(n)))


# BD TOPO field names: shapefile (upper-case, 10 characters) -> WFS (lower-case).
_BDTOPO_FIELDS = {
    "ID": "cleabs",
    "CATEGORIE": "categorie",
    "NATURE": "nature",
    "NAT_DETAIL": "nature_detaillee",
    "TOPONYME": "toponyme",
    "ETAT": "etat_de_l_objet",
    "DATE_CREAT": "date_creation",
    "DATE_MAJ": "date_modification",
}
_BDTOPO_VOCATION = {
    "Zone artisanale": "artisanale",
    "Zone commerciale": "commerciale",
    "Zone portuaire": "portuaire",
    "Zone industrielle": "industrielle",
    "Divers commercial": "commerciale",
    "Divers industriel": "industrielle",
    "Usine": "industrielle",
}
_BDTOPO_ETAT = {
    "En service": "existant et actif",
    "En projet": "en projet",
    "En construction": "création",
}


def _col(gdf: pd.DataFrame, shp_name: str) -> pd.Series:
    for name in (shp_name, _BDTOPO_FIELDS.get(shp_name, ""), shp_name.lower()):
        if name and name in gdf.columns:
            return gdf[name]
    return pd.Series(None, index=gdf.index, dtype=object)


def _from_bdtopo(raw: gpd.GeoDataFrame, *, natures: Sequence[str]) -> gpd.GeoDataFrame:
    require_crs(raw, "BD TOPO zone_d_activite_ou_d_interet")
    categorie, nature = _col(raw, "CATEGORIE"), _col(raw, "NATURE")
    if categorie.isna().all() and nature.isna().all() and len(raw):
        raise SchemaError(
            "BD TOPO data needs the CATEGORIE/NATURE (or categorie/nature) columns of the "
            "layer zone_d_activite_ou_d_interet."
        )
    keep = (categorie == "Industriel et commercial") & nature.isin(list(natures))
    log.info(
        "BD TOPO: %d of %d zone(s) are economic (%s)", int(keep.sum()), len(raw), list(natures)
    )
    raw = raw.loc[keep.to_numpy()].reset_index(drop=True)
    sites = _blank_sites(len(raw), raw.crs, raw.geometry.to_numpy())
    nature, detail = _col(raw, "NATURE"), _col(raw, "NAT_DETAIL")
    sites["site_nom"] = _col(raw, "TOPONYME").where(lambda s: s.notna(), nature).astype(object)
    sites["site_type"] = np.where(
        nature == "Zone industrielle",
        "zone d'activité économique",
        np.where(nature == "Usine", "établissement économique isolé", "inconnu"),
    )
    voca = detail.map(_BDTOPO_VOCATION).fillna(nature.map(_BDTOPO_VOCATION))
    sites["site_vocadomi"] = voca.fillna("inconnu").astype(object)
    sites["site_etat"] = _col(raw, "ETAT").map(_BDTOPO_ETAT).fillna("inconnu").astype(object)
    sites["site_identif_date"] = _date_text(_col(raw, "DATE_CREAT"))
    sites["site_actu_date"] = _date_text(_col(raw, "DATE_MAJ")).fillna(sites["site_identif_date"])
    sites["source_producteur"] = "IGN BD TOPO"
    sites["site_moa_type"] = "inconnu"
    for target, name in (
        ("site_comm_insee", "INSEE_COM"),
        ("site_comm_nom", "NOM"),
        ("site_epci_siren", "SIREN_EPCI"),
    ):
        if name in raw.columns:
            sites[target] = raw[name].astype(object).where(raw[name].notna(), None)
    sites["source"] = "bdtopo"
    sites["source_id"] = _col(raw, "ID").astype(object)
    return sites


def _date_text(s: pd.Series) -> pd.Series:
    dates = pd.to_datetime(s, errors="coerce")
    return dates.dt.strftime("%Y-%m-%d").astype(object).where(dates.notna(), None)


def _query_osm(territory: Territory | None, landuse: Sequence[str]) -> gpd.GeoDataFrame:
    if territory is None:
        raise SchemaError("load_zae(source='osm') needs a territory (or data= a GeoDataFrame).")
    from layers import overpass

    values = "|".join(re.escape(v) for v in landuse)
    query = overpass.bbox_query(
        territory.bbox_lonlat(0.0),
        [f'way["landuse"~"^({values})$"]', f'relation["landuse"~"^({values})$"]'],
    )
    gdf: gpd.GeoDataFrame = overpass.overpass_to_gdf(overpass.query_overpass(query))
    return gdf


def _from_osm(raw: gpd.GeoDataFrame, *, landuse: Sequence[str]) -> gpd.GeoDataFrame:
    require_crs(raw, "OSM features")
    if "landuse" not in raw.columns:
        if len(raw) == 0:
            raw = raw.assign(landuse=pd.Series(dtype=object))
        else:
            raise SchemaError("OSM features need a 'landuse' column (one column per OSM tag).")
    keep = raw["landuse"].isin(list(landuse)).to_numpy()
    raw = raw.loc[keep].reset_index(drop=True)
    sites = _blank_sites(len(raw), raw.crs, raw.geometry.to_numpy())
    if "name" in raw.columns:
        sites["site_nom"] = raw["name"].astype(object).where(raw["name"].notna(), None)
    sites["site_type"] = "inconnu"
    sites["site_vocadomi"] = (
        raw["landuse"]
        .map({"industrial": "industrielle", "commercial": "commerciale", "retail": "commerciale"})
        .fillna("inconnu")
        .astype(object)
    )
    sites["site_etat"] = "inconnu"
    sites["site_moa_type"] = "inconnu"
    sites["source_producteur"] = "OpenStreetMap"
    sites["source"] = "osm"
    sites["source_id"] = _osm_ids(raw)
    return sites


def _osm_ids(raw: pd.DataFrame) -> pd.Series:
    if {"osm_type", "osm_id"} <= set(raw.columns):
        return raw["osm_type"].astype(str) + "/" + raw["osm_id"].astype(str)
    if "osm_way_id" in raw.columns or "osm_id" in raw.columns:
        # GDAL's OSM driver: osm_id for relations, osm_way_id for closed ways.
        way = raw.get("osm_way_id", pd.Series(None, index=raw.index))
        rel = raw.get("osm_id", pd.Series(None, index=raw.index))
        return ("way/" + way.astype(str)).where(way.notna(), "relation/" + rel.astype(str))
    for name in ("id", "@id", "osmid"):
        if name in raw.columns:
            return raw[name].astype(str)
    return pd.Series([str(i) for i in raw.index], index=raw.index, dtype=object)


def _from_user(raw: gpd.GeoDataFrame, *, columns: Mapping[str, str], name: str) -> gpd.GeoDataFrame:
    wrong = {k: v for k, v in columns.items() if v not in CNIG_SITE_COLUMNS}
    if wrong:
        raise SchemaError(
            f"columns maps to names that are not CNIG site_eco fields: {wrong}. "
            "Use names of layers.zae.CNIG_SITE_COLUMNS (site_nom, site_comm_insee, …)."
        )
    missing = [k for k in columns if k not in raw.columns]
    if missing:
        raise SchemaError(f"{name}: columns {missing} not found; the file has {list(raw.columns)}.")
    raw = raw.rename(columns=dict(columns)).reset_index(drop=True)
    sites = _blank_sites(len(raw), raw.crs, raw.geometry.to_numpy())
    numbers = set(_number_fields("site_eco"))
    for c in CNIG_SITE_COLUMNS:
        if c in raw.columns:
            sites[c] = (
                pd.to_numeric(raw[c], errors="coerce")
                if c in numbers
                else raw[c].astype(object).where(raw[c].notna(), None)
            )
    sites["source"] = name
    sites["source_id"] = (
        sites["site_id"]
        if sites["site_id"].notna().all() and len(sites)
        else pd.Series([str(i) for i in range(len(sites))], dtype=object)
    )
    return sites


def _fill_communes(sites: gpd.GeoDataFrame, territory: Territory | None) -> None:
    """Fill the commune INSEE code / name and EPCI from the territory's communes."""
    if territory is None or len(territory.communes) == 0 or len(sites) == 0:
        return
    todo = sites["site_comm_insee"].isna().to_numpy()
    if not todo.any():
        return
    communes = to_crs(territory.communes, sites.crs, name="territory communes")
    points = sites.geometry.iloc[np.flatnonzero(todo)].representative_point()
    idx_pt, idx_com = communes.sindex.query(points.to_numpy(), predicate="within")
    rows = np.flatnonzero(todo)[idx_pt]
    for target, col in (
        ("site_comm_insee", "insee"),
        ("site_comm_nom", "nom"),
        ("site_epci_siren", "epci_siren"),
        ("site_epci_nom", "epci_nom"),
    ):
        if col in communes.columns:
            values = communes[col].to_numpy(dtype=object)[idx_com]
            sites.iloc[rows, sites.columns.get_loc(target)] = values


def _site_ids(sites: gpd.GeoDataFrame) -> pd.Series:
    """Keep given ids; else ``<INSEE>_SITE-ECO_<n>`` numbered per commune by source id."""
    given = sites["site_id"]
    insee = sites["site_comm_insee"].fillna("00000").astype(str)
    order = sites.assign(_insee=insee).sort_values(["_insee", "source_id"], kind="stable")
    serial = order.groupby("_insee").cumcount() + 1
    serial = serial.reindex(sites.index)
    made = pd.Series(
        [f"{c}_SITE-ECO_{int(n):05d}" for c, n in zip(insee, serial, strict=True)],
        index=sites.index,
        dtype=object,
    )
    return given.where(given.notna(), made).astype(object)

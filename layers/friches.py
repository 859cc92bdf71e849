"""Brownfields (friches) in the CNIG "Friches" standard, the exchange format of Cartofriches.

A friche is land that was built on or used (industry, retail, housing, public facility …)
and cannot be reused without works. The CNIG standard (v1.0.6) describes one row per site:
``site_id, site_nom, site_type`` ("friche industrielle" …), ``site_statut``, ``comm_insee``,
building and soil-pollution fields, ``unite_fonciere_surface`` (m²), ``urba_zone_type`` …,
with the location as WKT text in ``geompoint`` (required) and ``geomsurf`` (optional).

:func:`load_friches` reads such a file (CSV as exported by Cartofriches, or any GeoPackage /
GeoJSON / shapefile with those columns) into a GeoDataFrame in a projected CRS;
:func:`validate_friches` checks a table against the shipped Table Schema with
``frictionless`` and reports every failing row and field.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.cnig import (
    ID_PATTERNS,
    ValidationReport,
    load_cnig_schema,
    numeric_or_text,
    schema_field_names,
    validate_table,
)
from layers.crs import require_crs, to_crs
from layers.errors import CRSError, DataSourceError, SchemaError
from layers.geometry import repair_geometries

if TYPE_CHECKING:
    from layers.territories import Territory

__all__ = ["FRICHES_COLUMNS", "load_friches", "validate_friches"]

log = logging.getLogger(__name__)

_GEOMETRY_FIELDS = ("geompoint", "geomsurf")
_L93 = CRS.from_epsg(2154)
_WGS84 = CRS.from_epsg(4326)

#: Attribute columns of the "Friches" standard in schema order (without ``geompoint`` and
#: ``geomsurf``, which become the geometry).
FRICHES_COLUMNS: list[str] = [
    f for f in schema_field_names(load_cnig_schema("friches")) if f not in _GEOMETRY_FIELDS
]


def _field_types() -> dict[str, str]:
    return {f["name"]: f.get("type", "string") for f in load_cnig_schema("friches")["fields"]}


def validate_friches(df: pd.DataFrame, *, check_ids: bool = True) -> ValidationReport:
    """Check brownfields against the CNIG "Friches" Table Schema with ``frictionless``.

    Parameters
    ----------
    df : DataFrame or GeoDataFrame
        Rows with the standard's columns (as returned by :func:`load_friches`, or a plain
        table read from a CSV file). For a GeoDataFrame without ``geompoint``/``geomsurf``
        columns, they are written from the geometry as WKT in longitude/latitude.
    check_ids : bool
        Also check ``comm_insee`` against :data:`layers.cnig.ID_PATTERNS` (5 characters).

    Returns
    -------
    ValidationReport
        Every failing row and field (``report.valid``, ``report.errors``, ``summary()``,
        ``raise_if_invalid()``).
    """
    table = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
    if isinstance(df, gpd.GeoDataFrame) and "geompoint" not in table.columns and len(df):
        wgs = to_crs(df, _WGS84, name="friches").geometry
        points = wgs.where(wgs.geom_type == "Point", wgs.representative_point())
        table["geompoint"] = shapely.to_wkt(points.to_numpy(), rounding_precision=7)
        polygonal = wgs.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        surfaces = np.where(polygonal, shapely.to_wkt(wgs.to_numpy(), rounding_precision=7), None)
        table["geomsurf"] = pd.Series(surfaces, index=table.index, dtype=object)
    return validate_table(
        table,
        load_cnig_schema("friches"),
        table="friches",
        patterns=ID_PATTERNS["friches"] if check_ids else None,
    )


def load_friches(
    territory: Territory | None = None,
    *,
    source: str | os.PathLike[str] | gpd.GeoDataFrame,
    validate: bool = True,
    crs: CRS | str | None = None,
    axis_order: Literal["auto", "lonlat", "latlon"] = "auto",
) -> gpd.GeoDataFrame:
    """Read brownfields in the CNIG "Friches" format (Cartofriches export).

    Parameters
    ----------
    territory : Territory, optional
        Keep the sites that intersect its perimeter, in its CRS; None keeps every site.
    source : path-like or GeoDataFrame
        A CSV file (``,`` or ``;`` separated, UTF-8) with WKT in ``geompoint`` /
        ``geomsurf``; a GeoPackage, GeoJSON or shapefile with the standard's columns; or a
        GeoDataFrame.
    validate : bool
        Check the rows with :func:`validate_friches` and raise :class:`SchemaError` listing
        every error.
    crs : pyproj.CRS or str, optional
        CRS of the WKT of a CSV file. By default coordinates within ±180/±90 are degrees
        (EPSG:4326) and larger ones Lambert-93 (EPSG:2154).
    axis_order : {"auto", "lonlat", "latlon"}
        Order of degree coordinates in the WKT. The standard's own example writes
        ``POINT(49.2527 3.9815)`` (latitude first); ``"auto"`` swaps the axes when every
        point reads as metropolitan France only that way (x in 41..51.5, y in -5.5..10).

    Returns
    -------
    GeoDataFrame
        One row per site: :data:`FRICHES_COLUMNS` (integers as ``Int64``: m², counts; years
        and dates as text) then extra columns, geometry = the perimeter (``geomsurf``) when
        given and readable, else the point (``geompoint``); in the territory's CRS, else
        EPSG:2154.

    Raises
    ------
    DataSourceError
        The file does not exist or cannot be read.
    SchemaError
        ``validate=True`` and a row breaks the standard, or a ``geompoint`` is not WKT; or
        ``territory`` is not a Territory (the data goes in ``source=``).
    CRSError
        A GeoDataFrame or file without CRS.
    """
    from layers.territories import Territory

    if territory is not None and not isinstance(territory, Territory):
        raise SchemaError(
            f"load_friches takes the territory first and the data as source=: "
            f"load_friches(territory, source=...) or load_friches(source=...), got {territory!r}."
        )
    if isinstance(source, gpd.GeoDataFrame):
        require_crs(source, "friches")
        gdf = source.copy()
        name = "friches"
    else:
        path = Path(source)
        name = path.name
        if not path.is_file():
            raise DataSourceError(f"{path} does not exist: give a Cartofriches CSV/GeoPackage.")
        if path.suffix.lower() == ".csv":
            gdf = _read_csv(path, crs=crs, axis_order=axis_order, strict=validate)
        else:
            gdf = _read_file(path)
    gdf = _typed(gdf)
    if validate:
        validate_friches(gdf).raise_if_invalid()
    out_crs = territory.crs if territory is not None else _L93
    gdf = to_crs(gdf, out_crs, name=name)
    gdf = repair_geometries(
        gdf, name=name, id_column="site_id" if "site_id" in gdf else None, drop_empty=True
    )
    if territory is not None:
        gdf = gdf.loc[gdf.intersects(territory.perimeter)]
    log.info("%s: %d friche(s)", name, len(gdf))
    return gdf.reset_index(drop=True)


def _read_file(path: Path) -> gpd.GeoDataFrame:
    import pyogrio

    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:
        raise DataSourceError(f"cannot read {path}: {exc}") from exc
    require_crs(gdf, path.name)
    return gdf.drop(columns=[c for c in _GEOMETRY_FIELDS if c in gdf.columns])


def _read_csv(
    path: Path, *, crs: CRS | str | None, axis_order: str, strict: bool
) -> gpd.GeoDataFrame:
    try:
        df = pd.read_csv(
            path, sep=None, engine="python", dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
    except Exception as exc:
        raise DataSourceError(f"cannot read {path} as CSV: {exc}") from exc
    df = df.apply(lambda s: s.str.strip()).replace({"": None, "NA": None, "NaN": None, "N/A": None})
    if "geompoint" not in df.columns:
        raise SchemaError(f"{path.name}: no 'geompoint' column (WKT point, required).")
    points = _wkt(df["geompoint"], path, "geompoint", strict=strict)
    surfaces = (
        _wkt(df["geomsurf"], path, "geomsurf", strict=False)
        if "geomsurf" in df.columns
        else np.full(len(df), None, dtype=object)
    )
    geoms = np.where(pd.isna(surfaces), points, surfaces)
    source_crs = CRS.from_user_input(crs) if crs is not None else _guess_crs(geoms)
    if source_crs.is_geographic:
        geoms = _axis_order(geoms, axis_order, path)
    return gpd.GeoDataFrame(
        df.drop(columns=[c for c in _GEOMETRY_FIELDS if c in df.columns]),
        geometry=gpd.GeoSeries(geoms, crs=source_crs, index=df.index),
    )


def _wkt(text: pd.Series, path: Path, name: str, *, strict: bool) -> np.ndarray:
    values = text.to_numpy(dtype=object)
    geoms = np.asarray(shapely.from_wkt(values, on_invalid="ignore"), dtype=object)
    bad = text.notna().to_numpy() & pd.isna(geoms)
    if bad.any():
        rows = (np.flatnonzero(bad) + 1).tolist()
        message = f"{path.name}: field {name!r} is not WKT on data row(s) {rows[:20]}"
        if strict:
            raise SchemaError(message + "; fix it or read with validate=False.")
        log.warning(
            "%s; %s",
            message,
            "the point is used instead" if name == "geomsurf" else "these rows get no geometry",
        )
    return geoms


def _guess_crs(geoms: np.ndarray) -> CRS:
    present = geoms[~pd.isna(geoms)]
    if len(present) == 0:
        return _WGS84
    xmin, ymin, xmax, ymax = shapely.total_bounds(present)
    if -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90:
        return _WGS84
    return _L93


def _axis_order(geoms: np.ndarray, axis_order: str, path: Path) -> np.ndarray:
    present = ~pd.isna(geoms)
    if axis_order == "lonlat" or not present.any():
        return geoms
    if axis_order == "auto":
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms[present])
        as_lonlat = xmin >= -5.5 and xmax <= 10 and ymin >= 41 and ymax <= 51.5
        as_latlon = xmin >= 41 and xmax <= 51.5 and ymin >= -5.5 and ymax <= 10
        if as_lonlat or not as_latlon:
            return geoms
        log.warning(
            "%s: coordinates are latitude, longitude (as in the standard's example): swapped",
            path.name,
        )
    out = geoms.copy()
    out[present] = shapely.transform(geoms[present], lambda xy: xy[:, ::-1])
    return out


def _typed(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Standard's columns first, integers as Int64 when they parse, text elsewhere."""
    types = _field_types()
    out = {}
    for c in FRICHES_COLUMNS:
        if c in gdf.columns:
            s = gdf[c]
            if types[c] in ("integer", "number"):
                s = numeric_or_text(s, integer=types[c] == "integer")
            elif s.dtype != object:
                s = s.astype(object).where(s.notna(), None)
            out[c] = s
        else:
            out[c] = pd.Series(None, index=gdf.index, dtype=object)
    for c in gdf.columns:
        if c not in out and c != gdf.geometry.name:
            out[c] = gdf[c]
    if gdf.crs is None:
        raise CRSError("friches: the geometry has no CRS; give crs=.")
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs, index=gdf.index)

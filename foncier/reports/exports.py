"""Files for candidature dossiers: GeoPackage with QGIS styles, GeoParquet, CSV, CNIG table.

:func:`export_study` picks the format from the file suffix:

- ``.gpkg``: layer ``sites`` (every score column, in the territory's CRS), one layer per
  vector layer of the study (infrastructure and constraints used), ``territoire``
  (perimeter), ``communes`` (member communes), ``site_eco`` (the candidate sites in the CNIG
  "Sites économiques" standard, see :func:`cnig_site_table`) and the ``layer_styles`` table
  that QGIS reads, with one default style per layer: a graduated renderer on ``score`` for
  the sites (quantile classes and YlGnBu colours, as on the siting map) and the map colours
  of :func:`maps.styles.layer_style` for the other layers. The communes of the study's
  surroundings (the population layer) are written as ``communes_alentour``. Each table holds
  one kind of geometry and its style is of that kind: the features of a layer known only at
  their commune (``precision == "commune"``, the commune's area) are drawn as on the siting
  map, a dashed outline in the layer's colour without fill, and go to a table
  ``<layer>_commune`` when the layer has precise features too.
- ``.parquet`` / ``.geoparquet``: the sites with their scores (GeoParquet 1.x, geometry in
  the territory's CRS); profile, territory, date and sources as JSON under the ``foncier``
  key of the file's key-value metadata.
- ``.csv``: one row per site without geometry but with the centroid's ``lon``/``lat``
  (EPSG:4326, degrees). Separator ``;``, decimal comma, UTF-8 with a byte-order mark: the
  settings French spreadsheet software (Excel, LibreOffice) opens without an import dialog.
  Read it back with ``pandas.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")``.

Every file is written atomically: to a temporary file in the same folder, then renamed, so an
error leaves no half-written file (and an older file of the same name untouched).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from foncier.reports.cnig import CNIG_QUAY_MAX_M, CNIG_RAIL_BRANCH_MAX_M, cnig_site_table
from foncier.reports.qgis import layer_qml, score_classes, score_qml
from foncier.reports.tables import (
    _scalar_text,
    _writable,
    sites_table,
    study_metadata,
    study_tables,
)
from layers.crs import check_projected
from layers.errors import ArgumentError
from layers.files import atomic_path, csv_safe_text

if TYPE_CHECKING:
    from foncier.reports.study import SitingStudy

__all__ = [
    "CNIG_QUAY_MAX_M",
    "CNIG_RAIL_BRANCH_MAX_M",
    "cnig_site_table",
    "export_study",
    "layer_qml",
    "score_classes",
    "score_qml",
    "sites_table",
    "study_metadata",
    "study_tables",
    "write_csv",
    "write_geopackage",
    "write_geoparquet",
    "write_xlsx",
]

log = logging.getLogger(__name__)


#: DDL of the ``layer_styles`` table, exactly as QGIS creates it (and as in the CNIG template).
LAYER_STYLES_DDL = (
    'CREATE TABLE "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    "\"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)

#: GeoPackage version written (``PRAGMA user_version`` 10200), as in the CNIG template.
GPKG_VERSION = "1.2"
_CSV_OPTIONS: dict[str, Any] = {"sep": ";", "decimal": ",", "encoding": "utf-8-sig"}


def _write_layer_styles(
    gpkg: Path, styles: list[tuple[str, str, str]], *, geometry_columns: Mapping[str, str]
) -> None:
    """Create the ``layer_styles`` table and register it as an attribute table."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    con = sqlite3.connect(gpkg)
    try:
        con.execute(LAYER_STYLES_DDL)
        con.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
            "last_change, srs_id) VALUES ('layer_styles', 'attributes', 'layer_styles', "
            "'', ?, 0)",
            (now,),
        )
        con.executemany(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
            "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', NULL, ?)",
            [
                (name, geometry_columns.get(name, "geom"), name, qml, description, now)
                for name, qml, description in styles
            ],
        )
        con.commit()
    finally:
        con.close()


def _geometry_columns(gpkg: Path) -> dict[str, str]:
    con = sqlite3.connect(gpkg)
    try:
        rows = con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
    finally:
        con.close()
    return {str(t): str(c) for t, c in rows}


def write_geopackage(
    study: SitingStudy, path: str | os.PathLike[str], *, with_layers: bool = True
) -> Path:
    """Write a study as a GeoPackage with a QGIS style per layer, atomically.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    path : str or path-like
        Output ``.gpkg`` file (replaced if it exists).
    with_layers : bool
        Also write the study's vector layers (infrastructure, constraints).

    Returns
    -------
    pathlib.Path
        The file written. Layers: ``sites``, ``territoire``, ``communes`` (when the territory
        has member communes), ``site_eco`` and, with ``with_layers=True``, one per vector
        layer of the study (more when a layer mixes geometry kinds or features known only at
        their commune, see :func:`foncier.reports.tables.study_tables`); all in the
        territory's CRS. Table ``layer_styles`` holds one default QGIS style per layer. The
        ``sites`` layer carries :func:`study_metadata` as JSON under its ``foncier`` metadata
        item (``pyogrio.read_info(path, layer="sites")
        ["layer_metadata"]["foncier"]``), ranking rule and diagnostics included.
    """
    import pyogrio

    out = Path(path)
    todo = study_tables(study, with_layers=with_layers)
    # The study's metadata (profile, sources, ranking rule and diagnostics) as JSON on the
    # sites layer: GDAL stores it in the GeoPackage metadata tables (gpkg_metadata).
    sites_metadata = {"foncier": json.dumps(study_metadata(study), ensure_ascii=False, default=str)}
    with atomic_path(out) as tmp:
        for name, gdf, _qml, _description in todo:
            # GeoPackage 1.2: what the GDAL of every QGIS LTR in use reads without the
            # "may only be partially supported" warning that newer versions raise there.
            pyogrio.write_dataframe(
                gdf,
                tmp,
                layer=name,
                driver="GPKG",
                dataset_options={"VERSION": GPKG_VERSION},
                layer_metadata=sites_metadata if name == "sites" else None,
            )
        _write_layer_styles(
            tmp,
            [(name, qml, description) for name, _gdf, qml, description in todo],
            geometry_columns=_geometry_columns(tmp),
        )
    log.info("GeoPackage saved to %s (%d layers)", out, len(todo))
    return out


# --------------------------------------------------------------------------- GeoParquet


def write_geoparquet(study: SitingStudy, path: str | os.PathLike[str]) -> Path:
    """Write the scored sites as GeoParquet with the study's metadata, atomically.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    path : str or path-like
        Output ``.parquet`` / ``.geoparquet`` file.

    Returns
    -------
    pathlib.Path
        The file written: the columns of :func:`sites_table`, geometry in the territory's
        CRS; :func:`study_metadata` as JSON under the ``foncier`` key of the file's
        key-value metadata (read it with ``pyarrow.parquet.read_schema(path).metadata``).
    """
    import pyarrow.parquet as pq

    out = Path(path)
    sites = _writable(sites_table(study))
    buffer = io.BytesIO()
    sites.to_parquet(buffer, index=False)
    table = pq.read_table(io.BytesIO(buffer.getvalue()))
    meta = dict(table.schema.metadata or {})
    meta[b"foncier"] = json.dumps(study_metadata(study), ensure_ascii=False, default=str).encode()
    with atomic_path(out) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)
    log.info("GeoParquet saved to %s (%d sites)", out, len(sites))
    return out


# --------------------------------------------------------------------------- CSV


def _lonlat(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (EPSG:4326, degrees) of each geometry's centroid."""
    check_projected(geoms, "sites")
    centroids = gpd.GeoSeries(shapely.centroid(geoms.to_numpy()), crs=geoms.crs)
    wgs = centroids.to_crs(4326).to_numpy()
    return shapely.get_x(wgs), shapely.get_y(wgs)


def csv_safe_frame(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells (and column names) cannot run in a spreadsheet.

    See :func:`layers.files.csv_safe_text` (OWASP CSV injection rule): text starting with
    ``= + - @``, a tab or a carriage return is prefixed with a single quote; numbers are kept.
    """
    out = table.copy()
    out.columns = [csv_safe_text(c) for c in out.columns]
    for i, dtype in enumerate(out.dtypes):
        if not (
            pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)
        ):
            out.isetitem(i, out.iloc[:, i].map(csv_safe_text).to_numpy())
    return out


def write_csv(study: SitingStudy, path: str | os.PathLike[str]) -> Path:
    """Write one row per site (no geometry) for spreadsheets, atomically.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    path : str or path-like
        Output ``.csv`` file.

    Returns
    -------
    pathlib.Path
        The file written: the columns of :func:`sites_table` without geometry, plus
        ``area_ha`` (hectares) and ``lon``, ``lat`` (centroid, EPSG:4326, degrees) after
        ``site_id``. ``;`` separated, decimal comma, UTF-8 with BOM. Text cells that a
        spreadsheet would run as a formula are prefixed with ``'`` (:func:`csv_safe_frame`).
    """
    out = Path(path)
    sites = sites_table(study)
    lon, lat = _lonlat(sites.geometry)
    table = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    position = 1
    if "area_m2" in table.columns:
        table.insert(list(table.columns).index("area_m2") + 1, "area_ha", table["area_m2"] / 1e4)
    table.insert(position, "lat", lat)
    table.insert(position, "lon", lon)
    table = table.map(_scalar_text) if len(table) else table
    table = csv_safe_frame(table)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, **_CSV_OPTIONS)
    log.info("CSV saved to %s (%d sites)", out, len(table))
    return out


# --------------------------------------------------------------------------- Excel

#: French headers of the site columns (criterion columns are named from the profile).
XLSX_HEADERS = {
    "site_id": "Identifiant du site",
    "name": "Nom",
    "nom": "Nom",
    "commune": "Commune",
    "insee": "Code INSEE",
    "epci_siren": "SIREN de l'EPCI",
    "epci_nom": "EPCI",
    "lon": "Longitude (°, WGS 84)",
    "lat": "Latitude (°, WGS 84)",
    "area_m2": "Surface (m²)",
    "area_ha": "Surface (ha)",
    "score": "Score (0 à 100)",
    "rank": "Rang",
    "excluded": "Exclu",
    "exclusion_reasons": "Raisons de l'exclusion",
    "why": "En bref",
    "p_top_n": "Probabilité de rester dans la sélection",
    "rank_median": "Rang médian (simulations)",
    "rank_p05": "Rang, 5e centile",
    "rank_p95": "Rang, 95e centile",
}
_SUFFIXES = {
    "raw": "valeur mesurée",
    "score": "note (0 à 1)",
    "weight": "poids",
    "contrib": "contribution au score",
    "nearest": "élément le plus proche",
}


def _xlsx_headers(columns: list[str], criteria: list[dict[str, Any]]) -> list[str]:
    labels = {c.get("id"): (c.get("label") or c.get("id"), c.get("unit")) for c in criteria}
    out = []
    for col in columns:
        cid, sep, part = col.partition("__")
        if sep and cid in labels and part in _SUFFIXES:
            label, unit = labels[cid]
            text = f"{label} – {_SUFFIXES[part]}"
            out.append(text + (f" ({unit})" if part == "raw" and unit else ""))
        else:
            out.append(XLSX_HEADERS.get(col, col))
    return out


def write_xlsx(study: SitingStudy, path: str | os.PathLike[str]) -> Path:
    """Write the sites as an Excel workbook for spreadsheet users, atomically.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    path : str or path-like
        Output ``.xlsx`` file.

    Returns
    -------
    pathlib.Path
        The file written, with two sheets. ``Sites``: one row per site, the columns of
        :func:`write_csv` under French headers (criterion columns named after the
        profile's labels and units), typed cells: numbers as numbers, yes/no as booleans,
        codes (INSEE, SIREN, identifiers) and every other text as text, never as a formula.
        ``Profil et sources``: profile, territory, date, criteria (unit, weight),
        exclusions, criteria left out and the sources of each layer.
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    out = Path(path)
    meta = study_metadata(study)
    sites = sites_table(study)
    lon, lat = _lonlat(sites.geometry)
    table = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    if "area_m2" in table.columns:
        table.insert(list(table.columns).index("area_m2") + 1, "area_ha", table["area_m2"] / 1e4)
    table.insert(1, "lat", lat)
    table.insert(1, "lon", lon)
    table = table.map(_scalar_text) if len(table) else table
    book = Workbook()
    sheet = book.active
    sheet.title = "Sites"
    sheet.append(_xlsx_headers([str(c) for c in table.columns], meta["criteria"]))
    for row in table.itertuples(index=False, name=None):
        sheet.append([_xlsx_value(v) for v in row])
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if cell.data_type == "f":  # text that starts with "=" stays text
                cell.data_type = "s"
    sheet.freeze_panes = "B2"
    for i, header in enumerate(sheet[1], start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(40, max(10, len(header.value)))
    info = book.create_sheet("Profil et sources")
    info.append(["Profil", f"{meta['profile']['name']} ({meta['profile']['id']})"])
    info.append(["Territoire", f"{meta['territory']['name']} ({meta['territory']['id']})"])
    info.append(["Système de coordonnées", meta["territory"]["crs"]])
    info.append(["Date", meta["created"]])
    info.append(["Agrégation", str(meta.get("aggregation") or "")])
    info.append(["Sites", meta["n_sites"]])
    info.append(["Sites exclus", meta["n_excluded"]])
    info.append([])
    info.append(["Critère", "Unité", "Couche", "Poids"])
    for c in meta["criteria"]:
        info.append([c.get("label"), c.get("unit"), c.get("layer"), c.get("weight")])
    info.append([])
    info.append(["Exclusions"])
    for e in meta["exclusions"]:
        info.append([str(e.get("label", e)) if isinstance(e, dict) else str(e)])
    if meta["skipped"]:
        info.append([])
        info.append(["Non évalués"])
        for item in meta["skipped"]:
            info.append([str(item)])
    if meta.get("online"):
        from layers.online import summary_lines

        info.append([])
        info.append(["Couches en ligne"])
        for line in summary_lines(meta["online"]):
            info.append([line])
    info.append([])
    info.append(["Couche", "Sources", "Dates"])
    for name, entry in meta["sources"].items():
        info.append([name, "; ".join(entry.get("source", [])), "; ".join(entry.get("date", []))])
    for column in info.iter_cols():
        for cell in column:
            if cell.data_type == "f":
                cell.data_type = "s"
    info.column_dimensions["A"].width = 28
    info.column_dimensions["B"].width = 60
    with atomic_path(out) as tmp:
        book.save(tmp)
    log.info("Excel workbook saved to %s (%d sites)", out, len(table))
    return out


def _xlsx_value(value: Any) -> Any:
    """A cell value openpyxl writes with the right type (missing as an empty cell)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        x = float(value)
        return x if np.isfinite(x) else (None if np.isnan(x) else ("∞" if x > 0 else "-∞"))
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------- dispatcher


def export_study(
    study: SitingStudy, path: str | os.PathLike[str], *, with_layers: bool = True
) -> Path | str:
    """Export a study; the format follows the suffix of ``path``.

    Parameters
    ----------
    study : SitingStudy
        A siting study (:func:`foncier.pipeline.siting_study`).
    path : str or path-like
        ``.gpkg`` (GeoPackage with QGIS styles), ``.parquet`` / ``.geoparquet``
        (GeoParquet), ``.csv`` (spreadsheet: ``;``, decimal comma, UTF-8 with BOM),
        ``.xlsx`` (Excel workbook) or a ``postgresql://…?schema=S&table=T`` URL (PostGIS
        tables and QGIS styles, see :func:`foncier.reports.postgis.write_postgis`).
    with_layers : bool
        GeoPackage and PostGIS: also write the study's infrastructure and constraint layers.

    Returns
    -------
    pathlib.Path or str
        The file written, or the database URL with its password masked.

    Raises
    ------
    ArgumentError
        When the suffix is none of the above.
    """
    from layers.postgis import is_postgis_url, mask_url

    if is_postgis_url(path):
        from foncier.reports.postgis import write_postgis

        write_postgis(study, str(path), with_layers=with_layers)
        return mask_url(str(path))
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix == ".gpkg":
        return write_geopackage(study, out, with_layers=with_layers)
    if suffix in (".parquet", ".geoparquet"):
        return write_geoparquet(study, out)
    if suffix == ".csv":
        return write_csv(study, out)
    if suffix == ".xlsx":
        return write_xlsx(study, out)
    raise ArgumentError(
        f"cannot export to {out.name!r}: unknown suffix {suffix or '(none)'!r}. Use .gpkg "
        "(GeoPackage with QGIS styles), .parquet / .geoparquet (GeoParquet), .csv, .xlsx "
        "or a postgresql:// URL."
    )

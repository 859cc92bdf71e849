"""Files for candidature dossiers: GeoPackage with QGIS styles, GeoParquet, CSV, CNIG table.

:func:`export_study` picks the format from the file suffix:

- ``.gpkg``: layer ``sites`` (every score column, in the territory's CRS), one layer per
  vector layer of the study (infrastructure and constraints used), ``territoire``
  (perimeter), ``communes`` (member communes), ``site_eco`` (the candidate sites in the CNIG
  "Sites économiques" standard, see :func:`cnig_site_table`) and the ``layer_styles`` table
  that QGIS reads, with one default style per layer: a graduated renderer on ``score`` for
  the sites (quantile classes and YlGnBu colours, as on the siting map) and the map colours
  of :func:`maps.styles.layer_style` for the other layers. The communes of the study's
  surroundings (the population layer) are written as ``communes_alentour``.
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
from foncier.reports.qgis import layer_qml, qml_kind, score_classes, score_qml
from layers.crs import check_projected, require_crs, to_crs
from layers.errors import CRSError, FoncierError, SchemaError
from layers.files import atomic_path

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
]

log = logging.getLogger(__name__)

#: Layers of the GeoPackage besides the study's layers.
SITES_LAYER = "sites"
TERRITORY_LAYER = "territoire"
COMMUNES_LAYER = "communes"
CNIG_LAYER = "site_eco"
#: The study's population layer is called ``communes`` too: it is renamed in the GeoPackage.
_RENAMED = {"communes": "communes_alentour"}

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


# --------------------------------------------------------------------------- helpers


def _study_crs(study: SitingStudy) -> Any:
    crs = study.territory.crs
    if crs is None:
        raise CRSError("the study's territory has no CRS: build it with layers.territory(...).")
    return crs


def _scalar_text(value: Any) -> Any:
    """Lists, dicts and other containers as JSON text: file formats want scalar cells."""
    if isinstance(value, list | tuple | set | dict | np.ndarray):
        seq = sorted(value) if isinstance(value, set) else value
        if isinstance(seq, np.ndarray):
            seq = seq.tolist()
        return json.dumps(seq, ensure_ascii=False, default=str)
    return value


def _writable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy whose object columns hold scalars only and whose attrs are empty."""
    out = gdf.copy()
    out.attrs = {}
    geom = out.geometry.name
    for col in out.columns:
        if col != geom and out[col].dtype == object:
            out[col] = out[col].map(_scalar_text)
    return out


def sites_table(study: SitingStudy) -> gpd.GeoDataFrame:
    """The scored sites with their rank-stability columns, ready to write.

    Parameters
    ----------
    study : SitingStudy
        A siting study (:func:`foncier.pipeline.siting_study`).

    Returns
    -------
    GeoDataFrame
        One row per site in the territory's CRS: ``site_id`` first, then the columns of
        ``study.scored`` (``area_m2`` in m², ``score`` 0..100, ``rank``, per criterion
        ``c__raw`` in the criterion's unit, ``c__score`` 0..1, ``c__weight``,
        ``c__contrib`` …) and, when the study has a sensitivity analysis, ``p_top_n``,
        ``rank_median``, ``rank_p05``, ``rank_p95`` … The index is a plain range.
    """
    scored = study.scored
    require_crs(scored, "scored sites")
    if "score" not in scored.columns:
        raise SchemaError(
            "the study's sites have no 'score' column: pass a study made by "
            "foncier.siting_study(...) or foncier.score(...)."
        )
    out = scored.copy()
    if study.sensitivity is not None and len(study.sensitivity.columns):
        extra = study.sensitivity.drop(columns=[c for c in study.sensitivity if c in out])
        out = out.join(extra)
    if "site_id" not in out.columns:
        out.insert(0, "site_id", out.index.astype(str))
    out = out.reset_index(drop=True)
    out.attrs = {}
    return out


def study_metadata(study: SitingStudy) -> dict[str, Any]:
    """What a reader of an exported file needs to know: profile, territory, date, sources.

    Parameters
    ----------
    study : SitingStudy
        A siting study.

    Returns
    -------
    dict
        JSON-serialisable: ``generator``, ``created`` (ISO 8601, UTC), ``territory``
        (id, name, crs), ``profile`` (id, name), ``criteria`` (id, label, unit, layer,
        weight), ``exclusions``, ``skipped`` (criteria or rules left out and why),
        ``sources`` (per layer: the ``source`` and ``date`` values of its features),
        ``n_sites`` and ``n_excluded``.
    """
    meta = study.scored.attrs.get("foncier", {})
    crs = _study_crs(study)
    epsg = crs.to_epsg()
    sources: dict[str, dict[str, list[str]]] = {}
    for name, layer in study.layers.items():
        entry: dict[str, list[str]] = {}
        if isinstance(layer, pd.DataFrame):
            for col in ("source", "date"):
                if col in layer.columns:
                    entry[col] = sorted({str(v) for v in layer[col].dropna().unique()})
        else:
            source = getattr(layer, "source", None)
            if source:
                entry["source"] = [str(source)]
        sources[name] = entry
    excluded = study.scored.get("excluded")
    return {
        "generator": "foncier",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "territory": {
            "id": study.territory.id,
            "name": study.territory.name,
            "crs": f"EPSG:{epsg}" if epsg else crs.to_string(),
        },
        "profile": {"id": study.profile.id, "name": study.profile.name},
        "aggregation": meta.get("aggregation"),
        "criteria": [
            {k: c.get(k) for k in ("id", "label", "unit", "layer", "weight")}
            for c in meta.get("criteria", [])
        ],
        "exclusions": meta.get("exclusions", []),
        "skipped": list(meta.get("skipped", [])),
        "sources": sources,
        "n_sites": len(study.scored),
        "n_excluded": int(excluded.astype(bool).sum()) if excluded is not None else 0,
    }


# --------------------------------------------------------------------------- GeoPackage


def study_tables(
    study: SitingStudy, *, with_layers: bool = True
) -> list[tuple[str, gpd.GeoDataFrame, str, str]]:
    """Every table a study writes (GeoPackage layers, PostGIS tables), sites first.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    with_layers : bool
        Also give the study's non-empty vector layers.

    Returns
    -------
    list of (str, GeoDataFrame, str, str)
        Table name, data (territory's CRS, scalar cells), QGIS style (QML) and a French
        description: ``sites`` (graduated style as on the siting map), ``territoire``,
        ``communes`` (when the territory has member communes), ``site_eco`` (CNIG) and,
        with ``layers``, one per vector layer (``communes`` of the surroundings renamed
        ``communes_alentour``).
    """
    crs = _study_crs(study)
    sites = _writable(sites_table(study))
    kind = qml_kind(sites)
    classes = score_classes(sites["score"], excluded=sites.get("excluded"))
    out = [
        (
            SITES_LAYER,
            sites,
            score_qml(classes, kind=kind),
            f"Sites candidats notés (profil {study.profile.id})",
        )
    ]
    terr = study.territory
    perimeter = gpd.GeoDataFrame(
        {"id": [terr.id], "nom": [terr.name]}, geometry=[terr.perimeter], crs=crs
    )
    out.append((TERRITORY_LAYER, perimeter, layer_qml("territory", kind="polygon"), terr.name))
    if len(terr.communes):
        communes = _writable(to_crs(terr.communes, crs, name="territory communes"))
        out.append(
            (COMMUNES_LAYER, communes, layer_qml("communes", kind="polygon"), "Communes membres")
        )
    cnig = _writable(cnig_site_table(study, validate=False))
    out.append(
        (CNIG_LAYER, cnig, layer_qml("zae", kind="polygon"), "Sites au standard CNIG site_eco")
    )
    if with_layers:
        for name, layer in study.layers.items():
            if not isinstance(layer, gpd.GeoDataFrame):
                log.info("layer %s is not a vector layer: not written to the GeoPackage", name)
                continue
            if len(layer) == 0:
                log.info("layer %s is empty: not written to the GeoPackage", name)
                continue
            data = _writable(to_crs(layer, crs, name=name))
            out.append((_RENAMED.get(name, name), data, layer_qml(name, kind=qml_kind(data)), name))
    return out


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
        has member communes), ``site_eco`` and, with ``with_layers=True``, one per vector layer of
        the study; all in the territory's CRS. Table ``layer_styles`` holds one default QGIS
        style per layer.
    """
    import pyogrio

    out = Path(path)
    todo = study_tables(study, with_layers=with_layers)
    with atomic_path(out) as tmp:
        for name, gdf, _qml, _description in todo:
            # GeoPackage 1.2: what the GDAL of every QGIS LTR in use reads without the
            # "may only be partially supported" warning that newer versions raise there.
            pyogrio.write_dataframe(
                gdf, tmp, layer=name, driver="GPKG", dataset_options={"VERSION": GPKG_VERSION}
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
        ``site_id``. ``;`` separated, decimal comma, UTF-8 with BOM.
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
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, **_CSV_OPTIONS)
    log.info("CSV saved to %s (%d sites)", out, len(table))
    return out


# --------------------------------------------------------------------------- dispatcher


def export_study(
    study: SitingStudy, path: str | os.PathLike[str], *, with_layers: bool = True
) -> Path:
    """Export a study; the format follows the suffix of ``path``.

    Parameters
    ----------
    study : SitingStudy
        A siting study (:func:`foncier.pipeline.siting_study`).
    path : str or path-like
        ``.gpkg`` (GeoPackage with QGIS styles), ``.parquet`` / ``.geoparquet``
        (GeoParquet) or ``.csv`` (spreadsheet: ``;``, decimal comma, UTF-8 with BOM).
    with_layers : bool
        GeoPackage only: also write the study's infrastructure and constraint layers.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    FoncierError
        When the suffix is none of the above.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix == ".gpkg":
        return write_geopackage(study, out, with_layers=with_layers)
    if suffix in (".parquet", ".geoparquet"):
        return write_geoparquet(study, out)
    if suffix == ".csv":
        return write_csv(study, out)
    raise FoncierError(
        f"cannot export to {out.name!r}: unknown suffix {suffix or '(none)'!r}. Use .gpkg "
        "(GeoPackage with QGIS styles), .parquet / .geoparquet (GeoParquet) or .csv."
    )

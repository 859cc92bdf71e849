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
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from foncier.engine.measures import distance_to
from layers.crs import check_projected, require_crs, to_crs
from layers.errors import CRSError, FoncierError, SchemaError
from layers.files import atomic_path
from layers.registry import LAYERS
from layers.zae import CNIG_SITE_COLUMNS, validate_sites_economiques

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
    "write_csv",
    "write_geopackage",
    "write_geoparquet",
]

log = logging.getLogger(__name__)

#: A site has rail freight access (CNIG ``reseau_fret_ferroviaire = "oui"``, i.e. an ITE)
#: when a rail branch / siding of the ``rail_branches`` layer runs within this distance of
#: its outline, metres: a branch that close can serve the plot with a short spur.
CNIG_RAIL_BRANCH_MAX_M = 200.0
#: A site has a river quay (CNIG ``reseau_fluvial = "oui"``) when a port lies within this
#: distance of its outline, metres (a port area next to the site, not a haul by truck).
CNIG_QUAY_MAX_M = 500.0

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

_QGIS_VERSION = "3.28.0-Firenze"
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


# --------------------------------------------------------------------------- QGIS styles


def _rgba(color: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` as QGIS's ``r,g,b,a`` (0..255)."""
    text = color.lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", text):
        raise SchemaError(f"colour {color!r} is not a #rrggbb hex colour.")
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(max(0.0, min(1.0, alpha)) * 255)}"


def _options(parent: ET.Element, values: Mapping[str, str]) -> None:
    opt = ET.SubElement(parent, "Option", type="Map")
    for key, value in values.items():
        ET.SubElement(opt, "Option", name=key, type="QString", value=value)


def _symbol(
    parent: ET.Element,
    name: str,
    kind: str,
    *,
    color: str,
    fill: str | None = None,
    fill_alpha: float = 0.25,
    width_mm: float = 0.5,
    dash: bool = False,
) -> None:
    """One QGIS symbol (marker, line or fill) with a single simple layer."""
    qtype = {"point": "marker", "line": "line"}.get(kind, "fill")
    sym = ET.SubElement(
        parent,
        "symbol",
        name=name,
        type=qtype,
        alpha="1",
        clip_to_extent="1",
        force_rhr="0",
    )
    layer_class = {"marker": "SimpleMarker", "line": "SimpleLine", "fill": "SimpleFill"}[qtype]
    layer = ET.SubElement(sym, "layer", {"class": layer_class, "enabled": "1", "locked": "0"})
    layer.set("pass", "0")
    style = "dash" if dash else "solid"
    if qtype == "marker":
        _options(
            layer,
            {
                "name": "circle",
                "color": _rgba(color),
                "outline_color": "255,255,255,255",
                "outline_width": "0.4",
                "outline_width_unit": "MM",
                "size": "3.5",
                "size_unit": "MM",
            },
        )
    elif qtype == "line":
        _options(
            layer,
            {
                "line_color": _rgba(color),
                "line_width": f"{width_mm:g}",
                "line_width_unit": "MM",
                "line_style": style,
            },
        )
    else:
        _options(
            layer,
            {
                "color": _rgba(fill or color, fill_alpha),
                "style": "solid" if fill_alpha > 0 else "no",
                "outline_color": _rgba(color),
                "outline_width": f"{width_mm:g}",
                "outline_width_unit": "MM",
                "outline_style": style,
            },
        )


def _qml_document(renderer: ET.Element, geometry_type: int) -> str:
    root = ET.Element(
        "qgis",
        version=_QGIS_VERSION,
        styleCategories="Symbology",
        hasScaleBasedVisibilityFlag="0",
    )
    root.append(renderer)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.SubElement(root, "layerGeometryType").text = str(geometry_type)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


def _renderer(kind: str) -> ET.Element:
    return ET.Element(
        "renderer-v2",
        type=kind,
        forceraster="0",
        symbollevels="0",
        enableorderby="0",
        referencescale="-1",
    )


_GEOMETRY_TYPE = {"point": 0, "line": 1, "polygon": 2}


def _kind_of(gdf: gpd.GeoDataFrame) -> str:
    """``point``, ``line`` or ``polygon``: the dominant geometry kind of a layer."""
    types = gdf.geometry.geom_type.dropna()
    if types.empty:
        return "polygon"
    top = str(types.mode().iloc[0])
    if "Point" in top:
        return "point"
    if "Line" in top:
        return "line"
    return "polygon"


def layer_qml(name: str, *, kind: str) -> str:
    """A QGIS style (QML) drawing a layer with one symbol in its siting-map colours.

    Parameters
    ----------
    name : str
        Layer name (``"rail_freight_stations"``, ``"flood_zones"`` …), looked up with
        :func:`maps.styles.layer_style`.
    kind : {"point", "line", "polygon"}
        Geometry kind of the layer.

    Returns
    -------
    str
        The QML document (XML), as stored in ``layer_styles.styleQML``.
    """
    from maps.styles import layer_style

    if kind not in _GEOMETRY_TYPE:
        raise SchemaError(f"geometry kind {kind!r}: expected 'point', 'line' or 'polygon'.")
    style = layer_style(name, kind=kind)  # type: ignore[arg-type]
    renderer = _renderer("singleSymbol")
    symbols = ET.SubElement(renderer, "symbols")
    # The map styles give widths in CSS pixels; QGIS wants millimetres (1 px ≈ 0.26 mm).
    _symbol(
        symbols,
        "0",
        kind,
        color=style.color,
        fill=style.fill_color,
        fill_alpha=style.fill_opacity,
        width_mm=round(style.weight * 0.26, 2),
        dash=style.dash is not None,
    )
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    return _qml_document(renderer, _GEOMETRY_TYPE[kind])


def score_classes(
    scores: pd.Series, *, excluded: pd.Series | None = None, k: int = 5, cmap: str = "YlGnBu"
) -> list[tuple[float, float, str]]:
    """Score classes as on the siting map: (lower, upper, colour) for each class.

    Parameters
    ----------
    scores : Series
        Scores, 0..100.
    excluded : Series of bool, optional
        Sites left out of the classification (they keep a score but are drawn apart on
        the map); the outer classes are widened so that they still fall in a class.
    k : int
        Number of classes (mapclassify Quantiles).
    cmap : str
        branca colormap.

    Returns
    -------
    list of (float, float, str)
        Class bounds (score, 0..100) and hex colour, lowest class first.
    """
    from maps.choropleth import class_colors

    values = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    keep = finite.copy()
    if excluded is not None:
        keep &= ~excluded.fillna(False).to_numpy(dtype=bool)
    if not keep.any():
        keep = finite
    if not keep.any():
        return []
    # The quantile bins of mapclassify's Quantiles (what the siting map uses), computed with
    # numpy: importing mapclassify pulls in scipy.stats, seconds for a few percentiles.
    kept = values[keep]
    k_eff = max(1, min(int(k), int(np.unique(kept).size)))
    step = 100.0 / k_eff
    percents = np.minimum(np.arange(step, 100.0 + step / 2, step), 100.0)
    bins = [float(b) for b in np.unique(np.percentile(kept, percents))]
    colors = class_colors(cmap, len(bins))
    lowers = [float(kept.min()), *bins[:-1]]
    lowers[0] = min(lowers[0], float(values[finite].min()))
    bins[-1] = max(bins[-1], float(values[finite].max()))
    return [(lo, hi, c) for lo, hi, c in zip(lowers, bins, colors, strict=True)]


def score_qml(classes: list[tuple[float, float, str]], *, kind: str = "polygon") -> str:
    """A QGIS graduated style (QML) colouring sites by their ``score`` column.

    Parameters
    ----------
    classes : list of (float, float, str)
        Lower and upper score bounds (0..100) and hex colour of each class, as given by
        :func:`score_classes`.
    kind : {"point", "line", "polygon"}
        Geometry kind of the sites.

    Returns
    -------
    str
        The QML document (XML).
    """
    renderer = _renderer("graduatedSymbol")
    renderer.set("attr", "score")
    renderer.set("graduatedMethod", "GraduatedColor")
    ranges = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (lower, upper, color) in enumerate(classes):
        ET.SubElement(
            ranges,
            "range",
            lower=f"{lower:.6f}",
            upper=f"{upper:.6f}",
            symbol=str(i),
            label=f"{lower:.1f} – {upper:.1f}",
            render="true",
        )
        _symbol(symbols, str(i), kind, color="#555555", fill=color, fill_alpha=0.8, width_mm=0.2)
    method = ET.SubElement(renderer, "classificationMethod", id="Quantile")
    ET.SubElement(method, "symmetricMode", enabled="0", symmetrypoint="0", astride="0")
    ET.SubElement(
        method, "labelFormat", format="%1 – %2", labelprecision="1", trimtrailingzeroes="1"
    )
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    return _qml_document(renderer, _GEOMETRY_TYPE.get(kind, 2))


# --------------------------------------------------------------------------- GeoPackage


def _gpkg_layers(
    study: SitingStudy, *, with_layers: bool
) -> list[tuple[str, gpd.GeoDataFrame, str, str]]:
    """(layer name, data, QML, description) of every layer to write, sites first."""
    crs = _study_crs(study)
    sites = _writable(sites_table(study))
    kind = _kind_of(sites)
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
            out.append((_RENAMED.get(name, name), data, layer_qml(name, kind=_kind_of(data)), name))
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
    todo = _gpkg_layers(study, with_layers=with_layers)
    with atomic_path(out) as tmp:
        for name, gdf, _qml, _description in todo:
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG")
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


# --------------------------------------------------------------------------- CNIG site_eco

_INSEE_RE = r"(?:\d{5}|2[AB]\d{3})"
_SITE_ID_RE = re.compile(rf"^{_INSEE_RE}_SITE-ECO_\d{{5}}$")
_POLE_ID_RE = re.compile(rf"^{_INSEE_RE}_POLE-ECO_\d{{5}}$")
#: Required text fields of ``site_eco`` that a candidate site cannot know.
_UNKNOWN_TEXT = ("site_type", "site_vocadomi", "site_etat", "site_moa_type")
#: Standard field → (layers searched in order, name of the distance field), from the
#: ``key_distance`` of the layer registry's entries.
_NEAREST = {
    e.key_distance.cnig_name: (e.nearest_layers, e.key_distance.cnig_distance)
    for e in LAYERS.values()
    if e.key_distance is not None
    and e.key_distance.cnig_name is not None
    and e.key_distance.cnig_distance is not None
}


def _layer_features(study: SitingStudy, spec: str) -> gpd.GeoDataFrame | None:
    """A vector layer of the study (``"named_sites:port"`` keeps ``kind == "port"``)."""
    name, _, kind = spec.partition(":")
    layer = study.layers.get(name)
    if not isinstance(layer, gpd.GeoDataFrame):
        return None
    if kind:
        if "kind" not in layer.columns:
            return None
        layer = layer[layer["kind"] == kind]
    return layer


def _features(study: SitingStudy, specs: tuple[str, ...], crs: Any) -> gpd.GeoDataFrame | None:
    parts = [f for f in (_layer_features(study, s) for s in specs) if f is not None]
    if not parts:
        return None
    parts = [to_crs(p, crs, name="layer") for p in parts]
    merged = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return gpd.GeoDataFrame(merged, geometry=merged.geometry.name, crs=crs)


def _feature_label(features: gpd.GeoDataFrame) -> pd.Series:
    """Name of each feature; a motorway junction with an exit number reads "Name (ref)"."""
    name = features["name"] if "name" in features.columns else pd.Series(None, index=features.index)
    name = name.astype(object).where(name.notna() & (name.astype(str) != ""), None)
    if "ref" in features.columns:
        ref = features["ref"].astype(object)
        has_ref = ref.notna() & (ref.astype(str) != "")
        both = name.notna() & has_ref
        name = name.where(~both, name.astype(str) + " (" + ref.astype(str) + ")")
        name = name.where(name.notna() | ~has_ref, "sortie " + ref.astype(str))
    return name


def _first_column(gdf: pd.DataFrame, names: tuple[str, ...]) -> pd.Series | None:
    for name in names:
        if name in gdf.columns:
            return gdf[name]
    return None


def _serial_ids(insee: pd.Series, order: pd.Series, kind: str) -> pd.Series:
    """``<INSEE>_<kind>_<5 digits>`` numbered per commune in the given order."""
    code = insee.fillna("00000").astype(str)
    frame = pd.DataFrame({"insee": code, "order": order.to_numpy()}, index=insee.index)
    ranked = frame.sort_values(["insee", "order"], kind="stable")
    serial = ranked.groupby("insee").cumcount() + 1
    return code + f"_{kind}_" + serial.reindex(insee.index).map("{:05d}".format)


def cnig_site_table(
    study: SitingStudy, *, sites: gpd.GeoDataFrame | None = None, validate: bool = True
) -> gpd.GeoDataFrame:
    """Candidate sites (or ZAE) as rows of the CNIG "Sites économiques" ``site_eco`` table.

    Columns the sites already carry under their standard name (ZAE read with
    :func:`layers.zae.load_zae`) are kept; the others are filled from the study:

    - ``site_surf_brute`` in hectares (the outline's area in the territory's projected
      CRS); ``site_surf_utile`` = ``site_surf_brute`` when unknown (a candidate site is a
      plot of land considered as a whole: to be revised with the real layout);
    - ``site_comm_insee``, ``site_comm_nom``, ``site_epci_siren``, ``site_epci_nom`` from
      the site's commune (the territory's member communes);
    - ``site_id`` ``<INSEE>_SITE-ECO_<n>`` numbered per commune by rank when the sites have
      no standard identifier; ``pole_id`` ``<INSEE>_POLE-ECO_00000`` (serial 00000 = not
      attached to any pôle: the standard makes the field mandatory);
    - ``site_identif_date`` and ``site_actu_date``: the day of the export (the study
      identified the site); ``site_type``, ``site_vocadomi``, ``site_etat``,
      ``site_moa_type``: ``"inconnu"`` (mandatory in the standard, unknown to a study);
    - ``gare_fret_nom`` / ``gare_fret_dist`` (``rail_freight_stations``), ``port_nom`` /
      ``port_dist`` (``ports`` and the named sites of kind ``port``), ``autoroute_nom`` /
      ``autoroute_echang_dist`` (``motorway_junctions``: junction name and exit number),
      ``aeroport_nom`` / ``aeroport_dist`` (``aerodromes``): nearest feature and
      straight-line distance from the site's outline in **km** rounded to 0.1 km (the
      standard asks for road distances, which need a road network: these are a lower
      bound). Null when the study has no such layer;
    - ``reseau_fret_ferroviaire`` ``"oui"`` when a rail branch (``rail_branches``) lies
      within :data:`CNIG_RAIL_BRANCH_MAX_M`, ``"non"`` otherwise, null without that
      layer; ``reseau_fluvial`` likewise with ports within :data:`CNIG_QUAY_MAX_M`;
    - ``site_description``: score, rank and profile; ``source_producteur``: foncier.

    Parameters
    ----------
    study : SitingStudy
        A siting study (its layers and territory are used).
    sites : GeoDataFrame, optional
        Sites to describe, any CRS (reprojected to the territory's); default: every scored
        site of the study.
    validate : bool
        Check the table with :func:`layers.zae.validate_sites_economiques` and put the
        outcome in ``attrs["cnig_validation"]`` (``rows``, ``valid_rows``, ``errors``,
        ``fields``: failing fields and counts); the count is logged.

    Returns
    -------
    GeoDataFrame
        The ``site_eco`` columns in standard order, then ``source_site_id`` (the site's id
        in the study), geometry in the territory's CRS, index of ``sites``.
    """
    crs = _study_crs(study)
    base = study.scored if sites is None else to_crs(sites, crs, name="sites")
    check_projected(base, "sites")
    n = len(base)
    today = dt.date.today().isoformat()
    geoms = base.geometry
    table = pd.DataFrame(index=base.index)
    for col in CNIG_SITE_COLUMNS:
        table[col] = base[col].astype(object) if col in base.columns else None
    table = table.astype(object).where(table.notna(), None)

    def fill(col: str, values: Any) -> None:
        values = pd.Series(values, index=base.index, dtype=object) if n else values
        table[col] = table[col].where(table[col].notna(), values)

    # Commune and EPCI.
    insee = _first_column(base, ("site_comm_insee", "insee"))
    communes = study.territory.communes
    if insee is None and len(communes) and n:
        pts = gpd.GeoSeries(geoms.representative_point(), crs=crs)
        com = to_crs(communes, crs, name="territory communes")
        i_pt, i_com = com.sindex.query(pts.to_numpy(), predicate="within")
        found = np.full(n, None, dtype=object)
        found[i_pt] = com["insee"].to_numpy(dtype=object)[i_com]
        insee = pd.Series(found, index=base.index, dtype=object)
    if insee is not None:
        fill("site_comm_insee", insee.astype(object))
    if len(communes) and "insee" in communes.columns:
        lookup = pd.DataFrame(communes.drop(columns=communes.geometry.name)).set_index("insee")
        lookup = lookup[~lookup.index.duplicated()]
        codes = table["site_comm_insee"]
        for target, col in (
            ("site_comm_nom", "nom"),
            ("site_epci_siren", "epci_siren"),
            ("site_epci_nom", "epci_nom"),
        ):
            if col in lookup.columns:
                fill(target, codes.map(lookup[col]).astype(object))
    commune_name = _first_column(base, ("commune",))
    if commune_name is not None:
        fill("site_comm_nom", commune_name)
    epci = _first_column(base, ("epci_siren",))
    if epci is not None:
        fill("site_epci_siren", epci.astype(object))
    table = table.astype(object).where(table.notna(), None)

    # Identifiers and names.
    source_id = _first_column(base, ("site_id",))
    source_id = (
        source_id.astype(str) if source_id is not None else pd.Series(base.index.astype(str))
    )
    source_id.index = base.index
    given = table["site_id"].astype(object)
    valid_given = given.map(lambda v: isinstance(v, str) and bool(_SITE_ID_RE.match(v)))
    rank_order = (
        pd.to_numeric(base["rank"], errors="coerce").astype("float64").fillna(np.inf)
        if "rank" in base.columns
        else pd.Series(np.arange(n, dtype=float), index=base.index)
    )
    made = _serial_ids(table["site_comm_insee"], rank_order, "SITE-ECO") if n else given
    table["site_id"] = given.where(valid_given, made)
    pole = table["pole_id"].map(lambda v: isinstance(v, str) and bool(_POLE_ID_RE.match(v)))
    code = table["site_comm_insee"].fillna("00000").astype(str)
    table["pole_id"] = table["pole_id"].where(pole, code + "_POLE-ECO_00000")
    name = _first_column(base, ("site_nom", "name", "nom"))
    fill("site_nom", name if name is not None else "Site candidat " + source_id)
    fill("site_nom", "Site candidat " + source_id)

    # Areas (ha), dates, unknown mandatory texts, producer, description.
    area_ha = np.round(shapely.area(geoms.to_numpy()) / 1e4, 2)
    fill("site_surf_brute", area_ha)
    fill("site_surf_utile", table["site_surf_brute"])
    fill("site_identif_date", today)
    fill("site_actu_date", today)
    for col in _UNKNOWN_TEXT:
        fill(col, "inconnu")
    fill("source_producteur", f"foncier (étude « {study.profile.name} »)")
    if "score" in base.columns:
        score = pd.to_numeric(base["score"], errors="coerce")
        rank_text = (
            base["rank"].map(lambda r: "exclu" if pd.isna(r) else f"rang {int(r)}")
            if "rank" in base.columns
            else ""
        )
        description = (
            "Score "
            + score.map(lambda s: f"{s:.1f}")
            + "/100, "
            + rank_text
            + f" (profil {study.profile.id})"
        )
        fill("site_description", description.where(score.notna(), None))

    # Nearest infrastructure, km.
    for name_col, (specs, dist_col) in _NEAREST.items():
        features = _features(study, specs, crs)
        if features is None or n == 0:
            continue
        if len(features) == 0:
            log.warning("layer %s is empty: %s stays null", "/".join(specs), dist_col)
            continue
        labels = _feature_label(features)
        near = distance_to(geoms, features.assign(_label=labels.to_numpy()), name_column="_label")
        dist_km = (near["distance_m"] / 1000).round(1)
        dist_km = dist_km.where(np.isfinite(dist_km), None)
        fill(dist_col, dist_km.astype(object))
        fill(name_col, near["nearest_name"].astype(object))
    for col, specs, limit in (
        ("reseau_fret_ferroviaire", ("rail_branches",), CNIG_RAIL_BRANCH_MAX_M),
        ("reseau_fluvial", ("ports", "named_sites:port"), CNIG_QUAY_MAX_M),
    ):
        features = _features(study, specs, crs)
        if features is None or n == 0:
            continue
        dist = distance_to(geoms, features, max_distance=limit, name_column=None)["distance_m"]
        fill(col, np.where(dist <= limit, "oui", "non"))

    for col in table.columns:
        if col.endswith(("_surf_brute", "_surf_utile", "_dist")):
            table[col] = pd.to_numeric(table[col], errors="coerce")
    table["source_site_id"] = source_id.to_numpy() if n else []
    out = gpd.GeoDataFrame(table, geometry=geoms.to_numpy(), crs=crs)
    out.index = base.index
    if validate:
        report = validate_sites_economiques({"site_eco": out})
        errors = report.errors
        bad_rows = int(errors["row"].nunique()) if len(errors) else 0
        summary = {
            "rows": n,
            "valid_rows": n - bad_rows,
            "errors": len(errors),
            "fields": {str(k): int(v) for k, v in errors["field"].value_counts().items()}
            if len(errors)
            else {},
        }
        out.attrs["cnig_validation"] = summary
        log.info("CNIG site_eco: %d of %d rows pass the standard", n - bad_rows, n)
    return out

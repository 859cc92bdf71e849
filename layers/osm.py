"""OpenStreetMap features -> the canonical infrastructure schemas, and the Overpass queries.

Two shapes of OSM features are accepted everywhere in this module:

* the GeoDataFrame made by :func:`layers.overpass.overpass_to_gdf` from an Overpass JSON
  answer: ``osm_type, osm_id, geometry`` and one column per OSM tag;
* a GeoDataFrame read from an OSM XML/PBF file with the GDAL OSM driver (pyogrio,
  see :func:`read_osm_file`): a few tags as columns, the others packed in ``other_tags`` as
  ``"key"=>"value"`` pairs, and ``osm_id`` / ``osm_way_id`` instead of ``osm_type``.

:func:`osm_features` turns either into the first shape; every ``*_from_osm`` function calls it,
then keeps the features of one layer and returns them in that layer's canonical schema
(documented in :data:`layers.registry.LAYERS`): ``id, name, kind, source, date`` plus
kind-specific fields, in EPSG:4326. Clipping and reprojection to the territory's CRS happen in
:mod:`layers.infrastructure`.

Tags are interpreted as documented on the OSM wiki: ``railway=rail`` + ``service=siding|spur|
yard`` or ``usage=industrial`` for rail branches, ``electrified``/``voltage`` (volts)/
``frequency`` (Hz) for electrification, ``CEMT`` for the inland-waterway class, ``voltage``
(volts, ``;`` between circuits) for substations.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.crs import require_crs, to_crs
from layers.errors import DataSourceError, SchemaError
from layers.overpass import bbox_query
from layers.registry import LAYERS

__all__ = [
    "OSM_SOURCE",
    "OVERPASS_FILTERS",
    "aerodromes_from_osm",
    "motorway_junctions_from_osm",
    "osm_features",
    "overpass_date",
    "overpass_query",
    "parse_other_tags",
    "platforms_from_osm",
    "ports_from_osm",
    "rail_branches_from_osm",
    "rail_lines_from_osm",
    "read_osm_file",
    "substations_from_osm",
    "tagged_from_osm",
    "trunk_roads_from_osm",
    "waterways_from_osm",
]

log = logging.getLogger(__name__)

#: Value of the ``source`` column of every feature mapped from OpenStreetMap.
OSM_SOURCE = "osm"

#: Overpass QL statements selecting the features of each layer (the bbox is set globally),
#: from the ``osm_filters`` of the layer registry.
OVERPASS_FILTERS: dict[str, tuple[str, ...]] = {
    name: entry.overpass_filters for name, entry in LAYERS.items() if entry.overpass_filters
}

_BRANCH_SERVICES = ("siding", "spur", "yard")
# Values of electrified=* that mean "no power supply"; every other value is a system.
_NOT_ELECTRIFIED = {"no", "none", "false", "0"}
_OTHER_TAGS_RE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_ESCAPE_RE = re.compile(r"\\(.)")


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


def overpass_query(layer: str, *, bbox: Sequence[float], timeout_s: int = 180) -> str:
    """Return the Overpass QL query that fetches one infrastructure layer in a bounding box.

    Parameters
    ----------
    layer : str
        A layer of the registry with Overpass filters (keys of :data:`OVERPASS_FILTERS`:
        ``"rail_lines"``, ``"ports"`` …).
    bbox : sequence of 4 floats
        ``(west, south, east, north)`` in degrees (EPSG:4326), e.g.
        ``territory.bbox_lonlat(margin_m)``.
    timeout_s : int
        Server-side time limit of the query, seconds.

    Returns
    -------
    str
        The query (``[out:json]``, global ``[bbox:south,west,north,east]``, ``out geom``), as
        built by :func:`layers.overpass.bbox_query`.

    Raises
    ------
    SchemaError
        Unknown layer.
    GeometryError
        ``bbox`` is not ``(west, south, east, north)`` in degrees.
    """
    filters = LAYERS[layer].overpass_filters if layer in LAYERS else ()
    if not filters:
        raise SchemaError(
            f"No Overpass query for layer {layer!r}. Known layers: {', '.join(OVERPASS_FILTERS)}."
        )
    return bbox_query(bbox, filters, timeout=timeout_s)


def overpass_date(data: Mapping[str, Any]) -> str | None:
    """Return the date (``YYYY-MM-DD``) of the OSM data in an Overpass JSON answer, if given."""
    stamp = (data.get("osm3s") or {}).get("timestamp_osm_base")
    return str(stamp)[:10] if stamp else None


# --------------------------------------------------------------------------------------------
# Reading and normalising OSM features
# --------------------------------------------------------------------------------------------


def parse_other_tags(text: str | None) -> dict[str, str]:
    r"""Parse the ``other_tags`` field of the GDAL OSM driver into a dict.

    Parameters
    ----------
    text : str or None
        ``"key"=>"value","key2"=>"value2"`` (HSTORE syntax, ``\"`` inside values).

    Returns
    -------
    dict
        Tag key -> value; empty for ``None`` or an empty string.
    """
    if not isinstance(text, str) or not text:
        return {}
    return {_unescape(k): _unescape(v) for k, v in _OTHER_TAGS_RE.findall(text)}


def _unescape(text: str) -> str:
    return _ESCAPE_RE.sub(r"\1", text)


def read_osm_file(
    path: str | Path,
    *,
    layers: Sequence[str] = ("points", "lines", "multilinestrings", "multipolygons"),
) -> gpd.GeoDataFrame:
    """Read OSM features from a file: OSM XML (``.osm``, ``.osm.gz``), PBF, or any vector file.

    OSM XML/PBF files are read with the GDAL OSM driver, one layer after the other, and
    normalised by :func:`osm_features`. Other vector files (GeoPackage, GeoJSON, GeoParquet
    of OSM features with tag columns) are read as they are.

    Parameters
    ----------
    path : str or Path
        File to read.
    layers : sequence of str
        GDAL OSM layers to read (OSM XML/PBF only).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns ``osm_type, osm_id, geometry`` and one column per tag.
    """
    path = Path(path)
    if not path.exists():
        raise DataSourceError(f"OSM file not found: {path}.")
    name = path.name.lower()
    if name.endswith((".parquet", ".geoparquet")):
        return osm_features(gpd.read_parquet(path))
    if not name.endswith((".osm", ".osm.gz", ".pbf", ".osm.pbf", ".osm.bz2")):
        return osm_features(gpd.read_file(path))
    source = f"/vsigzip/{path}" if name.endswith(".gz") else str(path)
    frames = []
    for layer in layers:
        try:
            gdf = gpd.read_file(source, layer=layer, on_invalid="ignore")
        except Exception as exc:
            raise DataSourceError(f"Cannot read layer {layer!r} of OSM file {path}: {exc}") from exc
        if len(gdf):
            frames.append(osm_features(gdf, layer=layer))
    if not frames:
        return osm_features(gpd.GeoDataFrame({"osm_id": []}, geometry=[], crs=4326))
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


def osm_features(features: gpd.GeoDataFrame, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Normalise OSM features to ``osm_type, osm_id, geometry`` + one column per tag, EPSG:4326.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features from :func:`layers.overpass.overpass_to_gdf` or from the GDAL OSM driver
        (with ``other_tags`` and ``osm_way_id`` columns). Must have a CRS.
    layer : str, optional
        GDAL OSM layer the features come from (``"points"`` …), used to tell nodes from ways
        when there is no ``osm_type`` column.

    Returns
    -------
    GeoDataFrame
        A new frame; columns already present win over keys of ``other_tags``.
    """
    require_crs(features, "OSM features")
    gdf = to_crs(features, "EPSG:4326", "OSM features").copy()
    if "other_tags" in gdf.columns:
        extra = _expand_other_tags(gdf["other_tags"])
        extra = extra[[c for c in extra.columns if c not in gdf.columns]]
        gdf = gdf.drop(columns="other_tags")
        if len(extra.columns):
            gdf = gpd.GeoDataFrame(pd.concat([gdf, extra], axis=1), crs=gdf.crs)
    if "osm_type" not in gdf.columns:
        gdf["osm_type"], gdf["osm_id"] = _gdal_osm_ids(gdf, layer)
    if "osm_id" not in gdf.columns:
        raise SchemaError("OSM features need an 'osm_id' column (and 'osm_type').")
    gdf["osm_type"] = gdf["osm_type"].astype("string")
    gdf["osm_id"] = _id_text(gdf["osm_id"])
    return gdf


def _id_text(values: pd.Series) -> pd.Series:
    """OSM ids as text without a trailing ``.0`` (GDAL may read them as floats)."""
    numeric = pd.to_numeric(values, errors="coerce")
    as_int = numeric.round().astype("Int64").astype("string")
    return as_int.where(numeric.notna(), values.astype("string"))


def _expand_other_tags(other: pd.Series) -> pd.DataFrame:
    """One column per key of ``other_tags`` (vectorised with ``str.extractall``)."""
    text = other.astype("string")
    found = text.str.extractall(_OTHER_TAGS_RE.pattern)
    if found.empty:
        return pd.DataFrame(index=other.index)
    found = found.apply(lambda col: col.str.replace(_ESCAPE_RE.pattern, r"\1", regex=True))
    found = found.droplevel("match").set_index(0, append=True)[1]
    found = found[~found.index.duplicated(keep="first")]
    wide = found.unstack()
    wide.columns.name = None
    return wide.reindex(other.index)


def _gdal_osm_ids(gdf: gpd.GeoDataFrame, layer: str | None) -> tuple[pd.Series, pd.Series]:
    """``osm_type`` and ``osm_id`` of features read by the GDAL OSM driver."""
    index = gdf.index
    osm_id = gdf["osm_id"] if "osm_id" in gdf.columns else pd.Series(pd.NA, index=index)
    if "osm_way_id" in gdf.columns:
        # multipolygons layer: closed ways carry osm_way_id, relations carry osm_id.
        way = gdf["osm_way_id"].notna()
        kind = pd.Series(np.where(way, "way", "relation"), index=index)
        ids = gdf["osm_way_id"].where(way, osm_id)
        return kind, ids
    if layer in ("multilinestrings", "other_relations"):
        return pd.Series("relation", index=index), osm_id
    if layer == "points":
        return pd.Series("node", index=index), osm_id
    if layer == "lines":
        return pd.Series("way", index=index), osm_id
    points = shapely.get_type_id(gdf.geometry.to_numpy()) == 0
    return pd.Series(np.where(points, "node", "way"), index=index), osm_id


# --------------------------------------------------------------------------------------------
# Tag helpers (all vectorised over the frame)
# --------------------------------------------------------------------------------------------


def _tag(gdf: pd.DataFrame, key: str) -> pd.Series:
    """The values of one tag as a string Series (missing -> NA, empty strings -> NA)."""
    if key not in gdf.columns:
        return pd.Series(pd.NA, index=gdf.index, dtype="string")
    values = gdf[key].astype("string").str.strip()
    return values.mask(values == "")


def _name(gdf: pd.DataFrame) -> pd.Series:
    return _tag(gdf, "name").fillna(_tag(gdf, "name:fr"))


def _numbers(values: pd.Series) -> pd.DataFrame:
    """Split ``;``-separated tag values into a frame of floats (non-numbers -> NaN)."""
    parts = values.astype("string").str.split(";", expand=True)
    if parts.shape[1] == 0:
        return pd.DataFrame({0: np.full(len(values), np.nan)}, index=values.index)
    return parts.apply(lambda col: pd.to_numeric(col.str.strip(), errors="coerce"))


def _max_number(values: pd.Series) -> pd.Series:
    return _numbers(values).max(axis=1).astype("float64")


def _electrified(values: pd.Series) -> pd.Series:
    flag = ~values.str.lower().isin(_NOT_ELECTRIFIED)
    return flag.astype("boolean").mask(values.isna())


def _base(gdf: gpd.GeoDataFrame, kind: pd.Series, date: str | None) -> dict[str, Any]:
    return {
        "id": ("osm:" + gdf["osm_type"] + "/" + gdf["osm_id"]).to_numpy(),
        "name": _name(gdf).to_numpy(),
        "kind": kind.astype("string").to_numpy(),
        "source": OSM_SOURCE,
        "date": pd.Series(date, index=gdf.index, dtype="string").to_numpy(),
    }


def _frame(columns: dict[str, Any], gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame(columns, geometry=gdf.geometry.to_numpy(), crs=4326)
    # Plain numpy arrays of nullable values arrive as object columns: give them their
    # nullable dtype back so that exports and comparisons behave.
    nullable = {"string": "string", "boolean": "boolean", "empty": "string"}
    for name in out.columns:
        if name != "geometry" and out[name].dtype == object:
            inferred = pd.api.types.infer_dtype(out[name], skipna=True)
            if inferred in nullable:
                out[name] = out[name].astype(nullable[inferred])
    out = out[~(out.geometry.isna() | out.geometry.is_empty)]
    out = out.drop_duplicates("id").reset_index(drop=True)
    log.debug("%s: %d OSM features", layer, len(out))
    return out


def _rail(sel: gpd.GeoDataFrame, kind: pd.Series, date: str | None, layer: str) -> gpd.GeoDataFrame:
    electrification = _tag(sel, "electrified")
    voltage = _numbers(_tag(sel, "voltage"))
    frequency = _numbers(_tag(sel, "frequency"))
    # Several systems are listed as "1500;25000" / "0;50": take the highest voltage and the
    # frequency written at the same position.
    volt_max = voltage.max(axis=1)
    position = voltage.fillna(-1).to_numpy().argmax(axis=1)
    if frequency.shape[1] == voltage.shape[1]:
        freq = frequency.to_numpy()[np.arange(len(sel)), position]
    else:
        freq = frequency.iloc[:, 0].to_numpy()
    line_code = _tag(sel, "ref:FR:SNCF_Reseau").fillna(_tag(sel, "ref:FR:RFN"))
    columns = _base(sel, kind, date) | {
        "usage": _tag(sel, "usage").to_numpy(),
        "service": _tag(sel, "service").to_numpy(),
        "electrified": _electrified(electrification).to_numpy(),
        "electrification": electrification.to_numpy(),
        "voltage_v": volt_max.astype("float64").to_numpy(),
        "frequency_hz": np.asarray(freq, dtype="float64"),
        "gauge_mm": _max_number(_tag(sel, "gauge")).to_numpy(),
        "line_code": line_code.to_numpy(),
        "operator": _tag(sel, "operator").to_numpy(),
        "status": "existing",
        "precision": "exact",
        "communes": None,
    }
    return _frame(columns, sel, layer)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def rail_lines_from_osm(features: gpd.GeoDataFrame, *, date: str | None = None) -> gpd.GeoDataFrame:
    """Rail running lines: ``railway=rail`` ways that are not sidings, spurs or yards.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``), written in the ``date`` column.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``rail_lines``: ``id, name, kind`` (``usage`` value: main, branch,
        industrial …, else ``"rail"``), ``source, date, usage, service, electrified`` (bool,
        NA when untagged), ``electrification`` (tag value: contact_line, rail …),
        ``voltage_v`` (V), ``frequency_hz`` (Hz, 0 = direct current), ``gauge_mm``,
        ``line_code`` (SNCF Réseau line code when tagged), ``operator``, ``geometry``.
    """
    gdf = osm_features(features)
    rail = _tag(gdf, "railway").eq("rail").fillna(False)
    service = _tag(gdf, "service")
    sel = gdf[rail & ~service.isin(_BRANCH_SERVICES).fillna(False)]
    kind = _tag(sel, "usage").fillna("rail")
    return _rail(sel, kind, date, "rail_lines")


def rail_branches_from_osm(
    features: gpd.GeoDataFrame, *, date: str | None = None
) -> gpd.GeoDataFrame:
    """Rail branches: ``railway=rail`` with ``service=siding|spur|yard`` or ``usage=industrial``.

    These are the tracks that serve sites (embranchements, ITE), sidings and yards. An
    industrial line without a ``service`` tag is both a rail line and a rail branch.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``rail_branches`` (same columns as ``rail_lines``); ``kind`` is
        ``siding``, ``spur``, ``yard`` or ``industrial``.
    """
    gdf = osm_features(features)
    rail = _tag(gdf, "railway").eq("rail").fillna(False)
    service = _tag(gdf, "service")
    usage = _tag(gdf, "usage")
    is_service = service.isin(_BRANCH_SERVICES).fillna(False)
    is_industrial = usage.eq("industrial").fillna(False)
    sel = gdf[rail & (is_service | is_industrial)]
    kind = _tag(sel, "service").where(is_service[sel.index], "industrial")
    return _rail(sel, kind, date, "rail_branches")


def ports_from_osm(features: gpd.GeoDataFrame, *, date: str | None = None) -> gpd.GeoDataFrame:
    """Ports, harbours and quays: ``landuse=port``, ``industrial=port``, ``harbour=*``, quays.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``ports``: ``id, name, kind`` (``port`` for landuse/industrial=port,
        ``quay`` for man_made=quay, else ``harbour``), ``source, date, harbour`` (tag value),
        ``operator``, ``status``, ``precision``, ``geometry``.
    """
    gdf = osm_features(features)
    landuse_port = _tag(gdf, "landuse").eq("port").fillna(False)
    industrial_port = _tag(gdf, "industrial").eq("port").fillna(False)
    harbour = _tag(gdf, "harbour")
    is_harbour = (harbour.notna() & harbour.str.lower().ne("no")).fillna(False)
    quay = _tag(gdf, "man_made").eq("quay").fillna(False)
    keep = landuse_port | industrial_port | is_harbour | quay
    sel = gdf[keep]
    kind = pd.Series("harbour", index=sel.index, dtype="string")
    kind = kind.mask(quay[sel.index], "quay").mask(
        (landuse_port | industrial_port)[sel.index], "port"
    )
    columns = _base(sel, kind, date) | {
        "harbour": _tag(sel, "harbour").to_numpy(),
        "operator": _tag(sel, "operator").to_numpy(),
        "status": "existing",
        "precision": "exact",
        "communes": None,
    }
    return _frame(columns, sel, "ports")


def waterways_from_osm(features: gpd.GeoDataFrame, *, date: str | None = None) -> gpd.GeoDataFrame:
    """Canals and rivers (``waterway=canal|river``) with their CEMT class where tagged.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``waterways``: ``id, name, kind`` (canal/river), ``source, date,
        cemt_class`` (``CEMT`` tag: 0, I … VII), ``freight_navigable`` (True for CEMT class I
        or more, False for class 0, NA when untagged), ``status, geometry``.
    """
    gdf = osm_features(features)
    waterway = _tag(gdf, "waterway")
    sel = gdf[waterway.isin(["canal", "river"]).fillna(False)]
    cemt = _tag(sel, "CEMT").fillna(_tag(sel, "cemt"))
    # CEMT class 0 is recreational navigation only; classes I to VII carry freight barges.
    freight = cemt.str.upper().ne("0").astype("boolean").mask(cemt.isna())
    columns = _base(sel, _tag(sel, "waterway"), date) | {
        "cemt_class": cemt.to_numpy(),
        "freight_navigable": freight.to_numpy(),
        "status": "existing",
        "precision": "exact",
        "communes": None,
    }
    return _frame(columns, sel, "waterways")


def platforms_from_osm(features: gpd.GeoDataFrame, *, date: str | None = None) -> gpd.GeoDataFrame:
    """Industrial platforms: named ``landuse=industrial`` areas and features with ``industrial=*``.

    Unnamed ``landuse=industrial`` polygons are left out: they are mostly single plots that
    say nothing about a platform.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``platforms``: ``id, name, kind`` (``industrial`` tag value such as
        chemical, logistics, port …, else ``industrial``), ``source, date, industrial``
        (tag value), ``operator``, ``status``, ``precision``, ``geometry``.
    """
    gdf = osm_features(features)
    named_industrial = (_tag(gdf, "landuse").eq("industrial") & _name(gdf).notna()).fillna(False)
    industrial = _tag(gdf, "industrial")
    has_industrial = (industrial.notna() & industrial.str.lower().ne("no")).fillna(False)
    sel = gdf[named_industrial | has_industrial]
    kind = _tag(sel, "industrial").fillna("industrial")
    columns = _base(sel, kind, date) | {
        "industrial": _tag(sel, "industrial").to_numpy(),
        "operator": _tag(sel, "operator").to_numpy(),
        "status": "existing",
        "precision": "exact",
        "communes": None,
    }
    return _frame(columns, sel, "platforms")


def motorway_junctions_from_osm(
    features: gpd.GeoDataFrame, *, date: str | None = None
) -> gpd.GeoDataFrame:
    """Motorway junctions (``highway=motorway_junction`` nodes).

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``motorway_junctions``: ``id, name, kind`` (motorway_junction),
        ``source, date, ref`` (exit number), ``geometry`` (points).
    """
    gdf = osm_features(features)
    sel = gdf[_tag(gdf, "highway").eq("motorway_junction").fillna(False)]
    kind = pd.Series("motorway_junction", index=sel.index)
    columns = _base(sel, kind, date) | {
        "ref": _tag(sel, "ref").to_numpy(),
        "status": "existing",
        "precision": "exact",
        "communes": None,
    }
    return _frame(columns, sel, "motorway_junctions")


def tagged_from_osm(
    features: gpd.GeoDataFrame,
    *,
    layer: str,
    key: str,
    values: Sequence[str],
    columns: Sequence[str] = (),
    date: str | None = None,
) -> gpd.GeoDataFrame:
    """Features with a tag among some values, for layers declared by ``osm_tag`` in the registry.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    layer : str
        Name of the layer (logging).
    key : str
        Tag key (``"highway"``).
    values : sequence of str
        Tag values kept (``("bus_stop",)``).
    columns : sequence of str
        Further columns, each read from the tag of the same name (``"operator"``, ``"ref"``).
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326: ``id, name, kind`` (the tag value), ``source, date``, then ``columns``,
        ``geometry``.
    """
    gdf = osm_features(features)
    value = _tag(gdf, key)
    sel = gdf[value.isin(list(values)).fillna(False).to_numpy()]
    extra = {c: _tag(sel, c).to_numpy() for c in columns}
    return _frame(_base(sel, value.loc[sel.index], date) | extra, sel, layer)


def trunk_roads_from_osm(
    features: gpd.GeoDataFrame, *, date: str | None = None
) -> gpd.GeoDataFrame:
    """Trunk roads (``highway=trunk|trunk_link``).

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``trunk_roads``: ``id, name, kind`` (trunk/trunk_link), ``source,
        date, ref`` (road number, e.g. ``N 31``), ``maxspeed_kmh``, ``geometry`` (lines).
    """
    gdf = osm_features(features)
    highway = _tag(gdf, "highway")
    sel = gdf[highway.isin(["trunk", "trunk_link"]).fillna(False)]
    columns = _base(sel, _tag(sel, "highway"), date) | {
        "ref": _tag(sel, "ref").to_numpy(),
        "maxspeed_kmh": _max_number(_tag(sel, "maxspeed")).to_numpy(),
    }
    return _frame(columns, sel, "trunk_roads")


def substations_from_osm(
    features: gpd.GeoDataFrame, *, date: str | None = None
) -> gpd.GeoDataFrame:
    """Electrical substations (``power=substation``) with their highest voltage in kV.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``substations``: ``id, name, kind`` (``substation`` tag value:
        transmission, distribution, traction …, else ``substation``), ``source, date,
        voltage_kv`` (highest of the ``voltage`` tag values, kV), ``voltage_label`` (tag as
        written, volts), ``operator``, ``status``, ``geometry``.
    """
    gdf = osm_features(features)
    sel = gdf[_tag(gdf, "power").eq("substation").fillna(False)]
    voltage = _tag(sel, "voltage")
    columns = _base(sel, _tag(sel, "substation").fillna("substation"), date) | {
        "voltage_kv": (_max_number(voltage) / 1000.0).to_numpy(),
        "voltage_label": voltage.to_numpy(),
        "operator": _tag(sel, "operator").to_numpy(),
        "status": "existing",
        "precision": "exact",
        "communes": None,
    }
    return _frame(columns, sel, "substations")


def aerodromes_from_osm(features: gpd.GeoDataFrame, *, date: str | None = None) -> gpd.GeoDataFrame:
    """Aerodromes (``aeroway=aerodrome``) with their ICAO and IATA codes.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (see :func:`osm_features`), any CRS.
    date : str, optional
        Date of the OSM data (``YYYY-MM-DD``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, schema ``aerodromes``: ``id, name, kind`` (aerodrome), ``source, date,
        icao, iata, elevation_m`` (``ele`` tag, metres), ``geometry``.
    """
    gdf = osm_features(features)
    sel = gdf[_tag(gdf, "aeroway").eq("aerodrome").fillna(False)]
    kind = pd.Series("aerodrome", index=sel.index)
    columns = _base(sel, kind, date) | {
        "icao": _tag(sel, "icao").to_numpy(),
        "iata": _tag(sel, "iata").to_numpy(),
        "elevation_m": _max_number(_tag(sel, "ele")).to_numpy(),
    }
    return _frame(columns, sel, "aerodromes")

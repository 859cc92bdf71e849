"""OpenStreetMap through the Overpass API: build a query, run it, turn the answer into features.

Typical use::

    q = bbox_query(territory.bbox_lonlat(5_000), ['nwr["landuse"="industrial"]'])
    features = overpass_to_gdf(query_overpass(q)).to_crs(territory.crs)

Data © OpenStreetMap contributors, ODbL 1.0: keep the attribution on maps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from layers.answers import describe
from layers.config import settings
from layers.errors import BadAnswerError, DataSourceError, GeometryError, SchemaError
from layers.geometry import repair_geometries

__all__ = ["bbox_query", "is_area", "overpass_to_gdf", "query_overpass"]

log = logging.getLogger(__name__)

SOURCE = "Overpass"

# When a closed way is an area rather than a closed line. These are the usual OSM rules
# (the "osm-polygon-features" table used by iD, osmtogeojson and osmnx): a key alone makes an
# area ("all"), only some of its values do ("passlist"), or all values but some ("blocklist").
# ``harbour`` and ``industrial`` are added because industrial-land users query them.
_AREA_ALL = frozenset(
    {
        "amenity",
        "area:highway",
        "boundary",
        "building",
        "building:part",
        "craft",
        "golf",
        "harbour",
        "historic",
        "indoor",
        "industrial",
        "landuse",
        "leisure",
        "military",
        "office",
        "place",
        "public_transport",
        "ruins",
        "shop",
        "tourism",
    }
)
_AREA_PASSLIST: dict[str, frozenset[str]] = {
    "barrier": frozenset({"city_wall", "ditch", "hedge", "retaining_wall", "wall", "spikes"}),
    "highway": frozenset({"services", "rest_area", "escape", "elevator"}),
    "power": frozenset({"plant", "substation", "generator", "transformer"}),
    "railway": frozenset({"station", "turntable", "roundhouse", "platform"}),
    "waterway": frozenset({"riverbank", "dock", "boatyard", "dam"}),
}
_AREA_BLOCKLIST: dict[str, frozenset[str]] = {
    "aeroway": frozenset({"taxiway"}),
    "man_made": frozenset({"cutline", "embankment", "pipeline"}),
    "natural": frozenset({"coastline", "cliff", "ridge", "arete", "tree_row"}),
}

_POLYGON_RELATIONS = frozenset({"multipolygon", "boundary"})
_SELECTOR = re.compile(r"^\s*(node|way|relation|rel|nwr|nw|nr|wr|area)\b")
_TIMEOUT = re.compile(r"\[timeout:(\d+)\]")


def is_area(tags: Mapping[str, str]) -> bool:
    """Tell whether a closed way with these tags is an area (polygon) or a closed line.

    Parameters
    ----------
    tags : mapping
        OSM tags of the way.

    Returns
    -------
    bool
        ``True`` for an area (``area=yes``, ``building=*``, ``landuse=*``, ``amenity=*``,
        ``harbour=*``, ``power=substation`` …), ``False`` for a closed line (``area=no``,
        ``highway=residential`` roundabouts, ``barrier=fence`` …).
    """
    area = tags.get("area")
    if area == "no":
        return False
    if area is not None:
        return True
    for key, value in tags.items():
        if value == "no":
            continue
        if key in _AREA_ALL:
            return True
        if key in _AREA_PASSLIST and value in _AREA_PASSLIST[key]:
            return True
        if key in _AREA_BLOCKLIST and value not in _AREA_BLOCKLIST[key]:
            return True
    return False


def bbox_query(
    bbox: Sequence[float],
    selectors: Iterable[str],
    *,
    timeout: int = 180,
    maxsize_mb: int | None = None,
) -> str:
    """Build an Overpass QL query for features inside a lon/lat bounding box.

    Parameters
    ----------
    bbox : sequence of 4 floats
        ``(west, south, east, north)`` in degrees (EPSG:4326), as given by
        ``Territory.bbox_lonlat``.
    selectors : iterable of str
        Overpass statements without the final ``;``, e.g. ``'nwr["landuse"="industrial"]'``,
        ``'way["railway"="rail"]["service"~"siding|spur|yard"]'``, ``'node["power"="substation"]'``.
    timeout : int
        Server-side time limit of the query, seconds.
    maxsize_mb : int, optional
        Server-side memory limit, MiB (the server's default when omitted).

    Returns
    -------
    str
        The query, asking for JSON output with full geometries (``out geom``), which
        :func:`overpass_to_gdf` turns into features.

    Raises
    ------
    GeometryError
        The bounding box is not ``(west, south, east, north)`` in degrees.
    SchemaError
        A selector does not start with ``node``, ``way``, ``relation``, ``nwr`` … or there is
        none.
    """
    if len(bbox) != 4:
        raise GeometryError(f"bbox must be (west, south, east, north) in degrees, got {bbox!r}.")
    west, south, east, north = (float(v) for v in bbox)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise GeometryError(
            f"bbox {bbox!r} is not (west, south, east, north) in degrees with west < east and "
            "south < north. Give longitudes/latitudes (EPSG:4326), e.g. territory.bbox_lonlat()."
        )
    statements = []
    for selector in selectors:
        text = selector.strip().rstrip(";").strip()
        if not _SELECTOR.match(text):
            raise SchemaError(
                f"Overpass selector {selector!r} must start with node, way, relation, nwr, nw, "
                'nr, wr or area, e.g. \'nwr["landuse"="industrial"]\'.'
            )
        statements.append(f"  {text};")
    if not statements:
        raise SchemaError("bbox_query needs at least one selector, e.g. 'node[\"power\"]'.")
    settings_line = f"[out:json][timeout:{int(timeout)}]"
    if maxsize_mb is not None:
        settings_line += f"[maxsize:{int(maxsize_mb) * 1024 * 1024}]"
    settings_line += f"[bbox:{south:.7f},{west:.7f},{north:.7f},{east:.7f}];"
    return "\n".join([settings_line, "(", *statements, ");", "out geom;"])


def _check_remark(data: Any) -> None:
    """Raise for an Overpass answer whose ``remark`` reports a failed query."""
    if not isinstance(data, dict):
        raise BadAnswerError(
            f"Overpass returned {describe(data)} instead of a JSON object; "
            "ask for [out:json] output."
        )
    _check_elements(data.get("elements"))
    remark = data.get("remark")
    if remark and "runtime error" in str(remark).lower():
        # The server stops the query (time or memory limit) but still answers 200 with a partial
        # or empty element list: using it would silently miss features.
        raise DataSourceError(
            f"Overpass could not complete the query: {remark} Reduce the area or the number of "
            "selectors, or raise the [timeout:…]/[maxsize:…] of the query."
        )


def _check_elements(elements: Any) -> None:
    """Raise for an ``elements`` member that is not a list of OSM elements in lon/lat."""
    if not isinstance(elements, list):
        raise BadAnswerError(
            f"the answer's 'elements' is {describe(elements)}, not a list (a foreign or "
            "damaged answer)"
        )
    for i, el in enumerate(elements):
        if not isinstance(el, dict) or el.get("type") not in ("node", "way", "relation"):
            raise BadAnswerError(f"element {i} is {describe(el)}, not an OSM node, way or relation")
    lonlat = np.array(
        [
            (el["lon"], el["lat"])
            for el in elements
            if el["type"] == "node" and "lon" in el and "lat" in el
        ],
        dtype=object,
    ).reshape(-1, 2)
    try:
        xy = lonlat.astype(float)
    except (TypeError, ValueError):
        raise BadAnswerError("a node has a 'lon' or 'lat' that is not a number") from None
    bad = ~(np.isfinite(xy).all(axis=1) & (np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90))
    if bad.any():
        x, y = xy[int(np.argmax(bad))]
        raise BadAnswerError(
            f"a node lies at lon {x:g}, lat {y:g}, out of the range of degrees (damaged answer)"
        )


def query_overpass(query: str, *, timeout_s: float | None = None) -> dict[str, Any]:
    """Run an Overpass QL query (``[out:json]``) on ``settings.overpass_url``.

    Answers are cached on disk (see :mod:`layers.http`); a failed query is never cached.

    Parameters
    ----------
    query : str
        Overpass QL asking for JSON output, e.g. from :func:`bbox_query`.
    timeout_s : float, optional
        HTTP timeout of one attempt, seconds. By default the larger of ``settings.timeout_s``
        and the query's own ``[timeout:N]`` plus 30 s, so the server has time to answer.

    Returns
    -------
    dict
        The Overpass JSON document (``elements``, ``osm3s`` …).

    Raises
    ------
    DataSourceError
        The server failed, or its ``remark`` reports a runtime error (e.g. "runtime error:
        Query timed out …"); the message quotes the remark.
    OfflineError
        ``settings.offline`` is on and this query is not cached.
    """
    if timeout_s is None:
        found = _TIMEOUT.search(query)
        server_s = float(found.group(1)) + 30 if found else 0.0
        timeout_s = max(float(settings.timeout_s), server_s)
    from layers import http  # requests-cache is only imported when a query is made

    data = http.post_json(
        settings.overpass_url,
        data={"data": query},
        source=SOURCE,
        timeout_s=timeout_s,
        check=_check_remark,
    )
    remark = data.get("remark")
    if remark:
        log.warning("Overpass remark: %s", remark)
    result: dict[str, Any] = data
    return result


def _coords_of(points: Iterable[Mapping[str, Any] | None]) -> list[tuple[float, float]]:
    """``(lon, lat)`` pairs of an ``out geom`` list, skipping the nulls of clipped outputs."""
    return [(p["lon"], p["lat"]) for p in points if p is not None and "lon" in p]


def _way_coords(
    element: Mapping[str, Any], nodes: Mapping[int, tuple[float, float]]
) -> list[tuple[float, float]]:
    if element.get("geometry"):
        return _coords_of(element["geometry"])
    refs = element.get("nodes") or []
    if refs and all(r in nodes for r in refs):
        return [nodes[r] for r in refs]
    return []


def _center(element: Mapping[str, Any]) -> Point | None:
    c = element.get("center") or {}
    if "lon" in c and "lat" in c:
        return Point(c["lon"], c["lat"])
    return None


def _multipolygon(outer: list[LineString], inner: list[LineString]) -> MultiPolygon | None:
    """Assemble the rings of a multipolygon relation from its member ways.

    Rings may be split over several ways, so the member lines are noded and polygonized.
    Faces of outer rings lying inside an inner ring are islands and are kept.
    """
    if not outer:
        return None
    outer_faces = shapely.get_parts(shapely.polygonize([shapely.union_all(outer)]))
    if len(outer_faces) == 0:
        return None
    area = shapely.union_all(outer_faces)
    if inner:
        inner_faces = shapely.get_parts(shapely.polygonize([shapely.union_all(inner)]))
        if len(inner_faces):
            holes = shapely.union_all(inner_faces)
            islands = [f for f in outer_faces if shapely.within(f, holes)]
            area = shapely.union_all([shapely.difference(area, holes), *islands])
    if not area.is_valid:
        area = shapely.make_valid(area)
    polygons = [g for g in shapely.get_parts(area) if isinstance(g, Polygon) and not g.is_empty]
    return MultiPolygon(polygons) if polygons else None


def overpass_to_gdf(data: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Turn an Overpass JSON answer into a GeoDataFrame of features.

    Geometries come from ``out geom`` (full geometries), from node coordinates present in the
    answer (``out body; >; out skel;``), or from ``out center`` (points):

    - nodes → Points (untagged nodes that are only vertices of ways are dropped);
    - open ways → LineStrings; closed ways that are areas by the usual OSM rules
      (:func:`is_area`) → Polygons;
    - ``type=multipolygon`` / ``boundary`` relations → MultiPolygons assembled from their
      member ways (outer minus inner rings);
    - other relations (routes …) → MultiLineStrings of their member ways;
    - elements with only a ``center`` → Points. Elements without any geometry (``out tags``,
      ``area`` elements) are left out, with a logged count.

    Untagged ways that are members of a relation of the answer are building blocks of that
    relation and are not returned on their own.

    Parameters
    ----------
    data : mapping
        Overpass ``[out:json]`` document, as returned by :func:`query_overpass`.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 (lon/lat degrees), columns ``osm_type`` (``node``/``way``/``relation``),
        ``osm_id`` (int64), one column per tag key (a key named like a reserved column is
        prefixed with ``tag:``), ``geometry``. Invalid geometries (self-intersecting rings) are
        repaired with a logged warning. Empty (with those first columns) when the answer
        holds no feature.

    Raises
    ------
    SchemaError
        ``data`` has no ``elements`` list.
    """
    elements = data.get("elements") if isinstance(data, Mapping) else None
    if not isinstance(elements, list):
        raise SchemaError(
            "Overpass data must be a JSON object with an 'elements' list (ask for [out:json])."
        )
    odd = next((el for el in elements if not isinstance(el, Mapping)), None)
    if odd is not None:
        raise SchemaError(
            f"Overpass data: every element must be a JSON object, got {odd!r:.60} (a damaged "
            "or foreign answer; delete the cached file or fetch again)."
        )

    nodes: dict[int, tuple[float, float]] = {}
    ways: dict[int, Mapping[str, Any]] = {}
    way_vertices: set[int] = set()
    relation_ways: set[int] = set()
    for el in elements:
        kind = el.get("type")
        if kind == "node" and "lon" in el and "lat" in el:
            nodes[el["id"]] = (el["lon"], el["lat"])
        elif kind == "way":
            ways[el["id"]] = el
            way_vertices.update(el.get("nodes") or ())
        elif kind == "relation":
            relation_ways.update(
                m["ref"] for m in el.get("members") or () if m.get("type") == "way"
            )

    rows: list[tuple[str, int, Mapping[str, str]]] = []
    geoms: list[BaseGeometry] = []
    skipped: dict[str, int] = {}

    def add(kind: str, el: Mapping[str, Any], geom: BaseGeometry | None) -> None:
        if geom is None or geom.is_empty:
            skipped[kind] = skipped.get(kind, 0) + 1
            return
        rows.append((kind, int(el["id"]), el.get("tags") or {}))
        geoms.append(geom)

    # Coordinates are gathered first and geometries built in one vectorised call per type.
    point_xy: list[tuple[float, float]] = []
    point_rows: list[Mapping[str, Any]] = []
    line_coords: list[np.ndarray] = []
    ring_coords: list[np.ndarray] = []
    way_rows: list[tuple[Mapping[str, Any], str]] = []
    for el in elements:
        kind = el.get("type")
        tags = el.get("tags") or {}
        if kind == "node":
            if "lon" not in el or "lat" not in el:
                add("node", el, _center(el))
            elif tags or el["id"] not in way_vertices:
                point_xy.append((el["lon"], el["lat"]))
                point_rows.append(el)
        elif kind == "way":
            if not tags and el["id"] in relation_ways:
                continue
            coords = _way_coords(el, nodes)
            if len(coords) >= 2:
                closed = len(coords) >= 4 and coords[0] == coords[-1]
                if closed and is_area(tags):
                    ring_coords.append(np.asarray(coords, dtype=float))
                    way_rows.append((el, "ring"))
                else:
                    line_coords.append(np.asarray(coords, dtype=float))
                    way_rows.append((el, "line"))
            else:
                add("way", el, _center(el))
        elif kind == "relation":
            add("relation", el, _relation_geometry(el, ways, nodes))
        else:
            skipped[str(kind)] = skipped.get(str(kind), 0) + 1

    points = shapely.points(np.asarray(point_xy, dtype=float)) if point_xy else []
    for el, point in zip(point_rows, points, strict=True):
        add("node", el, point)
    lines = _build(line_coords, shapely.linestrings)
    rings = _build(
        ring_coords, lambda c, indices: shapely.polygons(shapely.linearrings(c, indices=indices))
    )
    it_lines, it_rings = iter(lines), iter(rings)
    for el, shape in way_rows:
        add("way", el, next(it_rings) if shape == "ring" else next(it_lines))

    if skipped:
        log.info("Overpass elements without geometry left out: %s", skipped)

    reserved = {"osm_type", "osm_id", "geometry"}
    tag_records = [
        {(f"tag:{k}" if k in reserved else k): v for k, v in tags.items()} for _, _, tags in rows
    ]
    frame = pd.DataFrame(
        {
            "osm_type": pd.Series([r[0] for r in rows], dtype=object),
            "osm_id": pd.Series([r[1] for r in rows], dtype="int64"),
        }
    )
    if any(tag_records):
        frame = pd.concat([frame, pd.DataFrame.from_records(tag_records)], axis=1)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    # Self-intersecting rings are common in OSM: repair them (logged) rather than let a later
    # area or overlay be silently wrong.
    return repair_geometries(gdf, name="Overpass features", id_column="osm_id", drop_empty=True)


def _build(coords: list[np.ndarray], make: Any) -> np.ndarray:
    """Build many geometries from per-feature coordinate arrays in one shapely call."""
    if not coords:
        return np.empty(0, dtype=object)
    flat = np.concatenate(coords)
    indices = np.repeat(np.arange(len(coords)), [len(c) for c in coords])
    result: np.ndarray = make(flat, indices=indices)
    return result


def _relation_geometry(
    el: Mapping[str, Any],
    ways: Mapping[int, Mapping[str, Any]],
    nodes: Mapping[int, tuple[float, float]],
) -> BaseGeometry | None:
    tags = el.get("tags") or {}
    outer: list[LineString] = []
    inner: list[LineString] = []
    for member in el.get("members") or ():
        if member.get("type") != "way":
            continue
        if member.get("geometry"):
            coords = _coords_of(member["geometry"])
        elif member.get("ref") in ways:
            coords = _way_coords(ways[member["ref"]], nodes)
        else:
            coords = []
        if len(coords) < 2:
            continue
        (inner if member.get("role") == "inner" else outer).append(LineString(coords))
    if tags.get("type") in _POLYGON_RELATIONS:
        polygon = _multipolygon(outer, inner) if outer else None
        if polygon is None and outer:
            log.warning(
                "Overpass relation %s: member ways do not close into rings; left out.", el["id"]
            )
        return polygon if polygon is not None else _center(el)
    if outer or inner:
        return MultiLineString([*outer, *inner])
    return _center(el)

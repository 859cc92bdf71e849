"""IGN Géoplateforme WFS (``data.geopf.fr``): list the layers, download features page by page.

The service publishes IGN and partner layers: Admin Express (``ADMINEXPRESS-COG.LATEST:*``),
BD TOPO (``BDTOPO_V3:*``), protected areas (``PROTECTEDAREAS.SIC:sic`` …), Parcellaire Express,
the Géoportail de l'Urbanisme (``wfs_du:*``, ``wfs_sup:*``) … Data © IGN and partners,
Licence Ouverte 2.0 unless stated otherwise in the layer's metadata.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from layers import http
from layers.answers import check_capabilities, check_feature_collection
from layers.config import settings
from layers.errors import CRSError, GeometryError, SchemaError
from layers.geometry import repair_geometries

__all__ = ["features_to_gdf", "wfs_features", "wfs_layers"]

log = logging.getLogger(__name__)

SOURCE = "IGN Géoplateforme WFS"

_NS = {"wfs": "http://www.opengis.net/wfs/2.0", "ows": "http://www.opengis.net/ows/1.1"}
_EPSG_URN = re.compile(r"EPSG:+(\d+)$", re.IGNORECASE)


def wfs_layers() -> pd.DataFrame:
    """List the feature types of the Géoplateforme WFS (GetCapabilities, cached).

    Returns
    -------
    DataFrame
        One row per feature type: ``name`` (the ``typename`` to give to :func:`wfs_features`,
        e.g. ``"PROTECTEDAREAS.ZNIEFF1:znieff1"``), ``title``, ``abstract``, ``default_crs``
        (``"EPSG:2154"`` …), and the extent ``west, south, east, north`` in degrees
        (EPSG:4326).

    Raises
    ------
    DataSourceError
        The service failed or returned something that is not a WFS 2.0 capabilities document.
    OfflineError
        Offline mode and the capabilities are not cached.
    """
    root = http.get_xml(
        settings.geopf_wfs_url,
        params={"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetCapabilities"},
        source=SOURCE,
        check=check_capabilities,
    )
    rows: list[dict[str, Any]] = []
    for ft in root.iterfind("wfs:FeatureTypeList/wfs:FeatureType", _NS):
        lower = (ft.findtext("ows:WGS84BoundingBox/ows:LowerCorner", "", _NS) or "").split()
        upper = (ft.findtext("ows:WGS84BoundingBox/ows:UpperCorner", "", _NS) or "").split()
        bbox = [float(v) for v in lower + upper] if len(lower) == len(upper) == 2 else [None] * 4
        rows.append(
            {
                "name": (ft.findtext("wfs:Name", "", _NS) or "").strip(),
                "title": (ft.findtext("wfs:Title", "", _NS) or "").strip(),
                "abstract": (ft.findtext("wfs:Abstract", "", _NS) or "").strip(),
                "default_crs": _short_crs(ft.findtext("wfs:DefaultCRS", "", _NS) or ""),
                "west": bbox[0],
                "south": bbox[1],
                "east": bbox[2],
                "north": bbox[3],
            }
        )
    if not rows:
        raise SchemaError(
            f"{SOURCE}: the GetCapabilities answer of {settings.geopf_wfs_url} lists no feature "
            "type; check settings.geopf_wfs_url."
        )
    return pd.DataFrame(rows)


def _short_crs(text: str) -> str:
    """``urn:ogc:def:crs:EPSG::2154`` → ``EPSG:2154``; other forms are kept."""
    found = _EPSG_URN.search(text.strip())
    return f"EPSG:{found.group(1)}" if found else text.strip()


def _epsg_code(crs: CRS | str, what: str) -> int:
    code = CRS.from_user_input(crs).to_epsg()
    if code is None:
        raise CRSError(f"{what} {crs!r} has no EPSG code; the WFS only understands EPSG codes.")
    return int(code)


def features_to_gdf(
    collection: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    crs: CRS | str = "EPSG:4326",
    name: str = "features",
) -> gpd.GeoDataFrame:
    """Turn a GeoJSON FeatureCollection (or a list of features) into a GeoDataFrame.

    Invalid geometries are repaired with a logged warning; features without geometry are
    dropped with a warning.

    Parameters
    ----------
    collection : mapping or sequence
        A GeoJSON ``FeatureCollection`` or its list of ``features``.
    crs : pyproj.CRS or str
        CRS of the coordinates (GeoJSON is lon/lat EPSG:4326 unless the service says otherwise).
    name : str
        Layer name used in messages.

    Returns
    -------
    GeoDataFrame
        One row per feature with its properties as columns, in ``crs``.

    Raises
    ------
    SchemaError
        ``collection`` is not GeoJSON features.
    """
    if isinstance(collection, Mapping):
        features = collection.get("features")
        if features is None and collection.get("type") == "Feature":
            features = [collection]
    else:
        features = list(collection)
    if not isinstance(features, list):
        raise SchemaError(f"{name}: expected a GeoJSON FeatureCollection with a 'features' list.")
    if not features:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    try:
        gdf = gpd.GeoDataFrame.from_features(features, crs=crs)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SchemaError(f"{name}: features are not valid GeoJSON ({exc}).") from exc
    return repair_geometries(gdf, name=name, drop_empty=True)


def _parse_bbox(
    bbox: Sequence[Any], bbox_crs: CRS | str
) -> tuple[tuple[float, float, float, float], CRS]:
    values = list(bbox)
    if len(values) == 5:
        bbox_crs = values.pop()
    if len(values) != 4:
        raise GeometryError(
            "bbox must be (west, south, east, north) or (minx, miny, maxx, maxy, crs), "
            f"got {bbox!r}."
        )
    w, s, e, n = (float(v) for v in values)
    if not (w < e and s < n):
        raise GeometryError(f"bbox {bbox!r} must have west < east and south < north.")
    crs = CRS.from_user_input(bbox_crs)
    if crs.is_geographic and not (w >= -180 and e <= 180 and s >= -90 and n <= 90):
        raise GeometryError(
            f"bbox {bbox!r} is not in degrees although its CRS is {crs.to_string()}: give "
            "bbox_crs (e.g. 'EPSG:2154') for a bbox in metres."
        )
    return (w, s, e, n), crs


def wfs_features(
    typename: str,
    *,
    bbox: Sequence[Any] | None = None,
    bbox_crs: CRS | str = "EPSG:4326",
    crs_out: CRS | str = "EPSG:4326",
    page_size: int = 1000,
    max_features: int | None = None,
) -> gpd.GeoDataFrame:
    """Download the features of one WFS layer, page by page, as a GeoDataFrame.

    Pages of ``page_size`` features are asked with ``STARTINDEX``/``COUNT`` until a page comes
    back with fewer features (or ``numberMatched`` is reached). Each page is cached.

    Parameters
    ----------
    typename : str
        Feature type, e.g. ``"PROTECTEDAREAS.SIC:sic"``,
        ``"BDTOPO_V3:zone_d_activite_ou_d_interet"`` (see :func:`wfs_layers`).
    bbox : sequence, optional
        ``(west, south, east, north)`` in degrees (EPSG:4326), e.g.
        ``territory.bbox_lonlat(margin_m)``; or ``(minx, miny, maxx, maxy, crs)``; or four
        numbers in ``bbox_crs``. Features intersecting it are returned; all when omitted.
    bbox_crs : pyproj.CRS or str
        CRS of a four-number ``bbox`` (EPSG:4326 by default).
    crs_out : pyproj.CRS or str
        CRS of the result (and of the coordinates asked from the service), e.g.
        ``territory.crs``.
    page_size : int
        Features per request (the Géoplateforme serves at most 5 000).
    max_features : int, optional
        Stop after this many features.

    Returns
    -------
    GeoDataFrame
        The features with their attributes, in ``crs_out``; empty when none matches.

    Raises
    ------
    DataSourceError
        The service failed (unknown typename: HTTP 400 with the server's message).
    OfflineError
        Offline mode and a page is not cached.
    GeometryError, CRSError
        Bad ``bbox`` or a CRS without EPSG code.
    """
    if page_size < 1:
        raise SchemaError(f"page_size must be at least 1, got {page_size}.")
    out_code = _epsg_code(crs_out, "crs_out")
    params: dict[str, Any] = {
        "SERVICE": "WFS",
        "VERSION": "2.0.0",
        "REQUEST": "GetFeature",
        "TYPENAMES": typename,
        "OUTPUTFORMAT": "application/json",
        # The "EPSG:n" form (not the URN) keeps GeoServer in x/y (lon/lat) axis order.
        "SRSNAME": f"EPSG:{out_code}",
    }
    if bbox is not None:
        (w, s, e, n), crs = _parse_bbox(bbox, bbox_crs)
        params["BBOX"] = f"{w!r},{s!r},{e!r},{n!r},EPSG:{_epsg_code(crs, 'bbox_crs')}"

    # Each page must be GeoJSON in the CRS asked (GeoServer declares it in a 'crs' member).
    check = check_feature_collection(epsg=out_code)
    features: list[Mapping[str, Any]] = []
    start = 0
    while True:
        count = page_size if max_features is None else min(page_size, max_features - len(features))
        if count <= 0:
            break
        page = http.get_json(
            settings.geopf_wfs_url,
            params={**params, "STARTINDEX": start, "COUNT": count},
            source=SOURCE,
            check=check,  # a FeatureCollection: the page has a 'features' list
        )
        batch = page["features"]
        features.extend(batch)
        matched = page.get("numberMatched")
        log.debug("%s %s: %d features (matched %s)", SOURCE, typename, len(features), matched)
        if len(batch) < count:
            break
        if isinstance(matched, int) and len(features) >= matched:
            break
        start += len(batch)
    log.info("%s %s: %d features", SOURCE, typename, len(features))
    return features_to_gdf(features, crs=f"EPSG:{out_code}", name=typename)

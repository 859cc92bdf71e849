"""IGN API Carto: cadastral parcels and communes (module ``cadastre``), postal codes.

Cadastre data: DGFiP / IGN Parcellaire Express (PCI), Licence Ouverte 2.0. Requests go through
the cached HTTP layer (:mod:`layers.http`); pages of at most 1 000 features are asked with
``_start``/``_limit`` until the last one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry

from layers import http
from layers.answers import check_feature_collection, check_records
from layers.config import settings
from layers.crs import require_crs
from layers.errors import GeometryError, SchemaError
from layers.geopf import features_to_gdf

__all__ = ["cadastre_communes", "cadastre_parcels", "postal_code_communes"]

log = logging.getLogger(__name__)

SOURCE = "IGN API Carto"

#: Largest page API Carto serves.
MAX_PAGE = 1000
# Beyond this many characters a GeoJSON query geometry makes URLs too long for the service;
# its bounding box is sent instead and the answer is filtered here.
_MAX_GEOM_CHARS = 4000

_INSEE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_POSTAL = re.compile(r"^\d{5}$")


# What each endpoint answers: outlines in lon/lat, with the fields the callers read.
_CHECKS = {
    "cadastre/parcelle": check_feature_collection(
        epsg=4326, geometry_types=("Polygon", "MultiPolygon"), required=("idu",)
    ),
    "cadastre/commune": check_feature_collection(
        epsg=4326, geometry_types=("Polygon", "MultiPolygon"), required=("code_insee",)
    ),
}
_POSTAL_CHECK = check_records(required=("codePostal", "codeCommune", "nomCommune"))


def _insee_codes(insee: str | Iterable[str]) -> list[str]:
    codes = [insee] if isinstance(insee, str) else list(insee)
    bad = [c for c in codes if not isinstance(c, str) or not _INSEE.match(c.strip().upper())]
    if bad or not codes:
        raise SchemaError(
            f"INSEE commune code(s) {bad or codes!r} are not valid: give 5 characters like "
            "'60159' (Compiègne) or '2A004' (Corsica), as strings."
        )
    return [c.strip().upper() for c in codes]


def _query_geometry(
    geometry: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None,
    bbox: Sequence[float] | None,
) -> BaseGeometry | None:
    """The query area in lon/lat (EPSG:4326), from a bbox or a geometry."""
    if bbox is not None and geometry is not None:
        raise SchemaError("Give either bbox or geometry, not both.")
    if bbox is not None:
        if len(bbox) != 4:
            raise GeometryError(
                f"bbox must be (west, south, east, north) in degrees, got {bbox!r}."
            )
        w, s, e, n = (float(v) for v in bbox)
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise GeometryError(
                f"bbox {bbox!r} is not (west, south, east, north) in degrees (EPSG:4326)."
            )
        return box(w, s, e, n)
    if geometry is None:
        return None
    if isinstance(geometry, gpd.GeoDataFrame | gpd.GeoSeries):
        require_crs(geometry, "query geometry")
        geom = shapely.union_all(geometry.to_crs(4326).geometry.to_numpy())
    else:
        geom = geometry
        w, s, e, n = geom.bounds
        if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
            raise GeometryError(
                "The query geometry is not in degrees: give a shapely geometry in lon/lat "
                "(EPSG:4326) or a GeoSeries/GeoDataFrame with its CRS."
            )
    if geom.is_empty:
        raise GeometryError("The query geometry is empty.")
    if not geom.is_valid:
        log.warning("%s: query geometry is invalid; repairing it with make_valid.", SOURCE)
        geom = shapely.make_valid(geom)
    return geom


def _geojson_text(geom: BaseGeometry) -> tuple[str, bool]:
    """GeoJSON of the query area (6 decimals ≈ 0.1 m) and whether it is the exact area."""
    text = json.dumps(mapping(shapely.set_precision(geom, 1e-6)), separators=(",", ":"))
    if len(text) <= _MAX_GEOM_CHARS:
        return text, True
    return json.dumps(mapping(box(*geom.bounds)), separators=(",", ":")), False


def _paged(endpoint: str, params: Mapping[str, Any], *, page_size: int) -> list[dict[str, Any]]:
    """All features of an API Carto query, asked ``page_size`` at a time."""
    limit = max(1, min(int(page_size), MAX_PAGE))
    url = f"{settings.apicarto_url.rstrip('/')}/{endpoint}"
    features: list[dict[str, Any]] = []
    start = 0
    while True:
        page = http.get_json(
            url,
            params={**params, "_start": start, "_limit": limit},
            source=SOURCE,
            check=_CHECKS[endpoint],  # a FeatureCollection: the page has a 'features' list
        )
        batch = page["features"]
        features.extend(batch)
        total = page.get("numberMatched", page.get("totalFeatures"))
        if len(batch) < limit or (isinstance(total, int) and len(features) >= total):
            return features
        start += len(batch)


def _cadastre(
    endpoint: str,
    *,
    insee: str | Iterable[str] | None,
    filters: Mapping[str, str],
    area: BaseGeometry | None,
    source_ign: str,
    page_size: int,
) -> gpd.GeoDataFrame:
    if insee is None and area is None:
        raise SchemaError(
            f"{SOURCE} {endpoint}: give insee (commune codes), bbox or geometry to say where."
        )
    base: dict[str, Any] = {"source_ign": source_ign.upper(), **filters}
    exact = True
    if area is not None:
        base["geom"], exact = _geojson_text(area)
    queries = [{**base, "code_insee": c} for c in _insee_codes(insee)] if insee else [base]
    features: list[dict[str, Any]] = []
    for params in queries:
        features.extend(_paged(endpoint, params, page_size=page_size))
    gdf = features_to_gdf(features, crs="EPSG:4326", name=f"{SOURCE} {endpoint}")
    if area is not None and not exact and len(gdf):
        # The service was asked for the bounding box: keep what touches the real area.
        gdf = gdf[gdf.intersects(area)]
    return gdf.reset_index(drop=True)


def cadastre_parcels(
    *,
    insee: str | Iterable[str] | None = None,
    section: str | None = None,
    numero: str | int | None = None,
    bbox: Sequence[float] | None = None,
    geometry: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    source_ign: str = "PCI",
    page_size: int = MAX_PAGE,
) -> gpd.GeoDataFrame:
    """Cadastral parcels of communes, of a section, or intersecting an area (API Carto).

    Parameters
    ----------
    insee : str or iterable of str, optional
        INSEE code(s) of the commune(s) (``"41231"``).
    section : str, optional
        Cadastral section (``"A"`` is sent as ``"0A"``, ``"AW"`` as is).
    numero : str or int, optional
        Parcel number within the section (``75`` is sent as ``"0075"``).
    bbox : sequence of 4 floats, optional
        ``(west, south, east, north)`` in degrees (EPSG:4326).
    geometry : shapely geometry, GeoSeries or GeoDataFrame, optional
        Query area: a shapely geometry in lon/lat, or geo-data with a CRS (reprojected).
    source_ign : str
        ``"PCI"`` (Parcellaire Express, current) or ``"BDP"`` (BD Parcellaire, discontinued).
    page_size : int
        Features per request (at most 1 000).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, the service's columns: ``idu`` (14-character parcel id), ``code_insee``,
        ``section``, ``numero``, ``feuille``, ``contenance`` (declared area, m²), ``nom_com``,
        ``code_dep``, ``code_com``, ``com_abs``, ``code_arr``, ``gid``, ``geometry``.

    Raises
    ------
    SchemaError
        No place given, or a malformed INSEE code.
    GeometryError
        Bad bbox or geometry.
    DataSourceError, OfflineError
        The service failed, or offline mode without cached answer.
    """
    filters: dict[str, str] = {}
    if section is not None:
        filters["section"] = str(section).strip().upper().rjust(2, "0")
    if numero is not None:
        filters["numero"] = str(numero).strip().rjust(4, "0")
    return _cadastre(
        "cadastre/parcelle",
        insee=insee,
        filters=filters,
        area=_query_geometry(geometry, bbox),
        source_ign=source_ign,
        page_size=page_size,
    )


def cadastre_communes(
    *,
    insee: str | Iterable[str] | None = None,
    bbox: Sequence[float] | None = None,
    geometry: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    source_ign: str = "PCI",
) -> gpd.GeoDataFrame:
    """Cadastral outlines of communes, by INSEE code or intersecting an area (API Carto).

    Parameters
    ----------
    insee : str or iterable of str, optional
        INSEE code(s) of the commune(s).
    bbox : sequence of 4 floats, optional
        ``(west, south, east, north)`` in degrees (EPSG:4326).
    geometry : shapely geometry, GeoSeries or GeoDataFrame, optional
        Query area (lon/lat, or geo-data with a CRS).
    source_ign : str
        ``"PCI"`` or ``"BDP"``.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns ``code_insee``, ``nom_com``, ``code_dep``, ``gid``, ``geometry``
        (MultiPolygon of the cadastral commune).

    Raises
    ------
    SchemaError, GeometryError, DataSourceError, OfflineError
        As :func:`cadastre_parcels`.
    """
    return _cadastre(
        "cadastre/commune",
        insee=insee,
        filters={},
        area=_query_geometry(geometry, bbox),
        source_ign=source_ign,
        page_size=MAX_PAGE,
    )


def postal_code_communes(code: str) -> pd.DataFrame:
    """Communes served by a postal code (API Carto ``codes-postaux``).

    Parameters
    ----------
    code : str
        Five-digit postal code, e.g. ``"08170"``.

    Returns
    -------
    DataFrame
        Columns ``code_postal``, ``insee``, ``nom``, ``libelle_acheminement``; one row per
        commune.

    Raises
    ------
    SchemaError
        ``code`` is not five digits.
    DataSourceError, OfflineError
        The service failed, or offline mode without cached answer.
    """
    code = str(code).strip()
    if not _POSTAL.match(code):
        raise SchemaError(f"Postal code {code!r} must be five digits, e.g. '08170'.")
    url = f"{settings.apicarto_url.rstrip('/')}/codes-postaux/communes/{code}"
    rows = http.get_json(url, source=SOURCE, check=_POSTAL_CHECK)  # a list of records
    columns = {
        "codePostal": "code_postal",
        "codeCommune": "insee",
        "nomCommune": "nom",
        "libelleAcheminement": "libelle_acheminement",
    }
    frame = pd.DataFrame(rows, columns=list(columns)).rename(columns=columns)
    return frame.astype("string")

"""geo.api.gouv.fr (API Découpage administratif): commune outlines and commune search.

Data: INSEE Code officiel géographique and IGN Admin Express, Licence Ouverte 2.0. Requests go
through the cached HTTP layer (:mod:`layers.http`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import pandas as pd

from layers import http
from layers.answers import check_feature_collection, check_records
from layers.config import settings
from layers.errors import SchemaError, UnknownTerritoryError
from layers.geopf import features_to_gdf

__all__ = ["COMMUNE_COLUMNS", "communes_geojson", "search_communes"]

log = logging.getLogger(__name__)

SOURCE = "geo.api.gouv.fr"

#: Columns of :func:`communes_geojson` (the same names as ``Territory.communes``).
COMMUNE_COLUMNS = ["insee", "nom", "dep", "reg", "epci_siren", "population", "geometry"]

_FIELDS = "code,nom,codeDepartement,codeRegion,codeEpci,population"
_RENAME = {
    "code": "insee",
    "nom": "nom",
    "codeDepartement": "dep",
    "codeRegion": "reg",
    "codeEpci": "epci_siren",
    "population": "population",
}
_DEP = re.compile(r"^(\d{2}|2[AB]|97\d)$")
_SIREN = re.compile(r"^\d{9}$")
_INSEE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


# Commune outlines in lon/lat; every feature names its INSEE code.
_COMMUNES = check_feature_collection(
    epsg=4326, geometry_types=("Polygon", "MultiPolygon"), required=("code", "nom")
)
_SEARCH = check_records(required=("code", "nom"))


def _as_list(value: str | Iterable[str]) -> list[str]:
    return (
        [value.strip().upper()]
        if isinstance(value, str)
        else [str(v).strip().upper() for v in value]
    )


def _check(values: list[str], pattern: re.Pattern[str], what: str, example: str) -> None:
    bad = [v for v in values if not pattern.match(v)]
    if bad or not values:
        raise SchemaError(f"{what} {bad or values!r} not valid; expected e.g. {example!r}.")


def communes_geojson(
    *,
    departement: str | Iterable[str] | None = None,
    epci: str | Iterable[str] | None = None,
    codes: str | Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """Outlines of communes of départements, of EPCI, or given by INSEE code.

    Give exactly one of ``departement``, ``epci`` or ``codes``.

    Parameters
    ----------
    departement : str or iterable of str, optional
        Département code(s): ``"60"``, ``"2A"``, ``"974"``.
    epci : str or iterable of str, optional
        SIREN(s) of EPCI, e.g. ``"200067965"`` (CA Région de Compiègne et Basse Automne).
    codes : str or iterable of str, optional
        INSEE commune code(s), e.g. ``"60159"``.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, one row per commune sorted by ``insee``, columns ``insee``, ``nom``,
        ``dep``, ``reg``, ``epci_siren``, ``population`` (municipal population, inhabitants,
        Int64), ``geometry`` (outline).

    Raises
    ------
    SchemaError
        Not exactly one selector, or a malformed code.
    UnknownTerritoryError
        A code matches no commune (or a département/EPCI has none).
    DataSourceError, OfflineError
        The service failed, or offline mode without cached answer.
    """
    given = {
        k: v
        for k, v in {"departement": departement, "epci": epci, "codes": codes}.items()
        if v is not None
    }
    if len(given) != 1:
        raise SchemaError("communes_geojson needs exactly one of departement, epci or codes.")
    ((kind, value),) = given.items()
    values = _as_list(value)
    if kind == "departement":
        _check(values, _DEP, "Département code(s)", "60")
        queries = [("codeDepartement", v) for v in values]
    elif kind == "epci":
        _check(values, _SIREN, "EPCI SIREN(s)", "200067965")
        queries = [("codeEpci", v) for v in values]
    else:
        _check(values, _INSEE, "INSEE code(s)", "60159")
        queries = [("code", v) for v in values]

    url = f"{settings.geoapi_url.rstrip('/')}/communes"
    features: list[dict[str, Any]] = []
    empty: list[str] = []
    for key, code in queries:
        doc = http.get_json(
            url,
            params={key: code, "fields": _FIELDS, "format": "geojson", "geometry": "contour"},
            source=SOURCE,
            check=_COMMUNES,  # a FeatureCollection: the answer has a 'features' list
        )
        found = doc["features"]
        if not found:
            empty.append(code)
        features.extend(found)
    if empty:
        raise UnknownTerritoryError(
            f"{SOURCE} knows no commune for {kind} {', '.join(empty)}. Check the code(s) "
            "(INSEE codes of the current year's COG; merged communes get a new code)."
        )
    gdf = features_to_gdf(features, crs="EPSG:4326", name=f"{SOURCE} communes")
    return _commune_schema(gdf)


def _commune_schema(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(index=gdf.index)
    for src, dst in _RENAME.items():
        frame[dst] = gdf[src] if src in gdf.columns else None
    for col in ("insee", "nom", "dep", "reg", "epci_siren"):
        frame[col] = frame[col].astype("string")
    frame["population"] = pd.to_numeric(frame["population"], errors="coerce").astype("Int64")
    out = gpd.GeoDataFrame(frame, geometry=gdf.geometry, crs=gdf.crs)
    return out.drop_duplicates(subset="insee").sort_values("insee").reset_index(drop=True)


def search_communes(name: str, *, limit: int = 10) -> pd.DataFrame:
    """Find communes by name, most populated first (geo.api.gouv.fr fuzzy search).

    Parameters
    ----------
    name : str
        Name or part of it, accents optional (``"compiegne"``).
    limit : int
        Most answers returned.

    Returns
    -------
    DataFrame
        Columns ``insee``, ``nom``, ``dep``, ``reg``, ``epci_siren``, ``population``
        (inhabitants), ``score`` (match quality from the service, higher is better).

    Raises
    ------
    SchemaError
        Empty name.
    DataSourceError, OfflineError
        The service failed, or offline mode without cached answer.
    """
    if not name or not name.strip():
        raise SchemaError("search_communes needs a (part of a) commune name.")
    rows = http.get_json(
        f"{settings.geoapi_url.rstrip('/')}/communes",
        params={"nom": name.strip(), "fields": _FIELDS, "boost": "population", "limit": int(limit)},
        source=SOURCE,
        check=_SEARCH,  # a list of records
    )
    frame = pd.DataFrame(rows)
    out = pd.DataFrame(index=frame.index)
    for src, dst in _RENAME.items():
        out[dst] = frame[src].astype("string") if src in frame.columns else pd.NA
    out["population"] = pd.to_numeric(out["population"], errors="coerce").astype("Int64")
    out["score"] = pd.to_numeric(frame["_score"], errors="coerce") if "_score" in frame else pd.NA
    return out.reset_index(drop=True)

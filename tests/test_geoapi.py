"""geo.api.gouv.fr client on a local server.

No recorded geo.api.gouv.fr answer exists in tests/data: the documents below are BUILT IN
CODE in the shape of the service's answers (``/communes?format=geojson&geometry=contour``).
The two communes are real (Compiègne 60159 and Margny-lès-Compiègne 60382, members of the
CA Région de Compiègne et Basse Automne, SIREN 200067965), but their outlines are simple
made-up rectangles near the real places and the populations are only of the right order.
"""

from __future__ import annotations

import json
import math

import pytest
from test_http import LocalServer, Reply

from layers.config import settings
from layers.errors import OfflineError, SchemaError, UnknownTerritoryError
from layers.geoapi import COMMUNE_COLUMNS, communes_geojson, search_communes

# Built in code (see the module docstring): rectangles, not the real outlines.
COMPIEGNE = {
    "type": "Feature",
    "properties": {
        "code": "60159",
        "nom": "Compiègne",
        "codeDepartement": "60",
        "codeRegion": "32",
        "codeEpci": "200067965",
        "population": 40000,
    },
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[2.80, 49.38], [2.90, 49.38], [2.90, 49.44], [2.80, 49.44], [2.80, 49.38]]
        ],
    },
}
MARGNY = {
    "type": "Feature",
    "properties": {
        "code": "60382",
        "nom": "Margny-lès-Compiègne",
        "codeDepartement": "60",
        "codeRegion": "32",
        "codeEpci": "200067965",
        "population": 8000,
    },
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[2.78, 49.42], [2.82, 49.42], [2.82, 49.45], [2.78, 49.45], [2.78, 49.42]]
        ],
    },
}


def collection(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


@pytest.fixture
def geo(monkeypatch: pytest.MonkeyPatch):
    with LocalServer() as server:
        monkeypatch.setattr(settings, "geoapi_url", server.url)
        yield server


def test_communes_of_an_epci(geo: LocalServer) -> None:
    geo.script("/communes", Reply(collection(MARGNY, COMPIEGNE)))
    gdf = communes_geojson(epci="200067965")
    assert list(gdf.columns) == COMMUNE_COLUMNS
    assert list(gdf["insee"]) == ["60159", "60382"]  # sorted by code
    assert list(gdf["population"]) == [40000, 8000]
    assert gdf.crs == "EPSG:4326"
    # Compiègne's rectangle is 0.10° x 0.06°: compare its Lambert-93 area with a hand
    # computation (cos(49.41°) shrinks longitudes; 1° of latitude ≈ 111.2 km).
    expected_km2 = 0.10 * 111.32 * math.cos(math.radians(49.41)) * 0.06 * 111.2
    area_km2 = gdf.to_crs(2154).area.iloc[0] / 1e6
    assert area_km2 == pytest.approx(expected_km2, rel=0.01)
    query = geo.requests[0][2]
    assert query["codeEpci"] == ["200067965"]
    assert query["format"] == ["geojson"]
    assert query["geometry"] == ["contour"]
    assert "codeEpci" in query["fields"][0]


def test_communes_by_code_one_request_each_and_cached(geo: LocalServer) -> None:
    def reply(query: dict, body: bytes) -> Reply:
        feature = {"60159": COMPIEGNE, "60382": MARGNY}.get(query["code"][0])
        return Reply(collection(feature) if feature else collection())

    geo.script("/communes", reply)
    gdf = communes_geojson(codes=["60382", "60159"])
    assert set(gdf["nom"]) == {"Compiègne", "Margny-lès-Compiègne"}
    assert geo.hits["/communes"] == 2
    communes_geojson(codes="60159")
    assert geo.hits["/communes"] == 2  # cached
    with pytest.raises(UnknownTerritoryError, match="99999"):
        communes_geojson(codes=["60159", "99999"])


def test_bad_selectors(geo: LocalServer) -> None:
    with pytest.raises(SchemaError, match="exactly one"):
        communes_geojson()
    with pytest.raises(SchemaError, match="exactly one"):
        communes_geojson(departement="60", epci="200067965")
    with pytest.raises(SchemaError, match="Département"):
        communes_geojson(departement="600")
    with pytest.raises(SchemaError, match="SIREN"):
        communes_geojson(epci="2000679")
    assert geo.requests == []


def test_search_communes(geo: LocalServer) -> None:
    rows = [
        {**COMPIEGNE["properties"], "_score": 0.91},
        {**MARGNY["properties"], "_score": 0.52},
    ]
    geo.script("/communes", Reply(json.dumps(rows).encode()))
    found = search_communes("compiegne", limit=2)
    assert list(found["insee"]) == ["60159", "60382"]
    assert list(found["score"]) == [0.91, 0.52]
    query = geo.requests[0][2]
    assert query["nom"] == ["compiegne"]
    assert query["boost"] == ["population"]
    assert query["limit"] == ["2"]
    with pytest.raises(SchemaError):
        search_communes("  ")


def test_offline_without_cache_is_refused(geo: LocalServer, monkeypatch) -> None:
    monkeypatch.setattr(settings, "offline", True)
    with pytest.raises(OfflineError, match="codeDepartement=60"):
        communes_geojson(departement="60")


@pytest.mark.web
def test_live_communes_of_compiegne_agglomeration() -> None:
    gdf = communes_geojson(epci="200067965")
    assert "60159" in set(gdf["insee"])
    assert search_communes("Compiègne", limit=1)["insee"].iloc[0] == "60159"

"""IGN API Carto on the recorded answers of tests/data/fixtures/apicarto (local server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyproj import Geod
from shapely.geometry import Point, box, shape
from test_http import LocalServer, Reply

from layers.apicarto import cadastre_communes, cadastre_parcels, postal_code_communes
from layers.config import settings
from layers.errors import GeometryError, OfflineError, SchemaError

GEOD = Geod(ellps="GRS80")


@pytest.fixture
def carto(monkeypatch: pytest.MonkeyPatch):
    with LocalServer() as server:
        monkeypatch.setattr(settings, "apicarto_url", server.url + "/api")
        yield server


@pytest.fixture
def fixture(test_data: Path):
    def load(name: str) -> bytes:
        return (test_data / "fixtures/apicarto" / name).read_bytes()

    return load


def test_parcel_of_saint_viatre(carto: LocalServer, fixture) -> None:
    raw = fixture("cadastre_parcelle.json")
    carto.script("/api/cadastre/parcelle", Reply(raw))
    gdf = cadastre_parcels(insee="41231", section="A", numero=75)
    assert len(gdf) == 1
    row = gdf.iloc[0]
    assert row["idu"] == "412310000A0075"
    assert row["contenance"] == 24810
    assert row["nom_com"] == "Saint-Viâtre"
    assert gdf.crs == "EPSG:4326"
    query = carto.requests[0][2]
    assert query["code_insee"] == ["41231"]
    assert query["section"] == ["0A"]
    assert query["numero"] == ["0075"]
    assert query["_start"] == ["0"]
    assert query["_limit"] == ["1000"]
    assert query["source_ign"] == ["PCI"]
    # The drawn parcel matches its declared area (24 810 m²) within 2 %: geodesic area on
    # GRS80, computed by pyproj independently of geopandas.
    area = abs(GEOD.geometry_area_perimeter(row.geometry)[0])
    assert area == pytest.approx(24810, rel=0.02)
    # and the Lambert-93 area agrees with the geodesic one to 0.3 %.
    assert gdf.to_crs(2154).area.iloc[0] == pytest.approx(area, rel=0.003)


def test_penmarch_commune_outline_and_area(carto: LocalServer, fixture) -> None:
    raw = fixture("cadastre_commune_penmarch.json")
    carto.script("/api/cadastre/commune", Reply(raw))
    gdf = cadastre_communes(insee="29158")
    assert list(gdf["code_insee"]) == ["29158"]
    assert gdf.iloc[0]["nom_com"] == "Penmarch"
    geom = gdf.geometry.iloc[0]
    assert geom.geom_type == "MultiPolygon"
    # Same geometry as the raw GeoJSON, area checked against a geodesic computation and
    # against the official area of Penmarch (INSEE: 16.34 km²).
    expected = shape(json.loads(raw)["features"][0]["geometry"])
    assert geom.equals(expected)
    geodesic_km2 = abs(GEOD.geometry_area_perimeter(expected)[0]) / 1e6
    assert gdf.to_crs(2154).area.iloc[0] / 1e6 == pytest.approx(geodesic_km2, rel=0.003)
    assert geodesic_km2 == pytest.approx(16.34, rel=0.01)


def test_postal_code_08170_has_5_communes(carto: LocalServer, fixture) -> None:
    carto.script(
        "/api/codes-postaux/communes/08170", Reply(fixture("codes_postaux_communes_08170.json"))
    )
    communes = postal_code_communes("08170")
    assert len(communes) == 5
    assert list(communes.columns) == ["code_postal", "insee", "nom", "libelle_acheminement"]
    assert list(communes["insee"]) == ["08166", "08185", "08214", "08222", "08304"]
    assert "Fumay" in set(communes["nom"])
    assert set(communes["code_postal"]) == {"08170"}
    with pytest.raises(SchemaError, match="five digits"):
        postal_code_communes("8170")


def _parcel(i: int) -> dict:
    x = 2.0 + i * 1e-4
    return {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x, 49.0], [x + 5e-5, 49.0], [x + 5e-5, 49.00005], [x, 49.0]]],
        },
        "properties": {"idu": f"60159000AB{i:04d}", "code_insee": "60159", "contenance": 100},
    }


def test_parcels_are_paged_with_start_and_limit(carto: LocalServer) -> None:
    total = 2300

    def reply(query: dict, body: bytes) -> Reply:
        start, limit = int(query["_start"][0]), int(query["_limit"][0])
        feats = [_parcel(i) for i in range(start, min(start + limit, total))]
        doc = {"type": "FeatureCollection", "features": feats, "totalFeatures": total}
        return Reply(json.dumps(doc).encode())

    carto.script("/api/cadastre/parcelle", reply)
    gdf = cadastre_parcels(insee="60159")
    assert len(gdf) == total
    assert gdf["idu"].is_unique
    assert [q["_start"][0] for _, _, q, _ in carto.requests] == ["0", "1000", "2000"]


def test_bbox_and_geometry_queries_send_geojson(carto: LocalServer, fixture) -> None:
    carto.script("/api/cadastre/parcelle", Reply(fixture("cadastre_parcelle.json")))
    cadastre_parcels(bbox=(1.95, 47.55, 1.96, 47.56))
    sent = json.loads(carto.requests[0][2]["geom"][0])
    assert shape(sent).equals(box(1.95, 47.55, 1.96, 47.56))
    assert "code_insee" not in carto.requests[0][2]


def test_long_query_geometry_is_sent_as_its_box_and_filtered(carto: LocalServer) -> None:
    # A ring of 2 000 vertices (too long for a URL) around (2.05, 49.0); two parcels in the
    # answer, only one of them inside the ring.
    ring = Point(2.05, 49.0).buffer(0.02, quad_segs=500)
    inside, outside = _parcel(500), _parcel(0)  # x = 2.05 and x = 2.0
    doc = {"type": "FeatureCollection", "features": [inside, outside], "totalFeatures": 2}
    carto.script("/api/cadastre/parcelle", Reply(json.dumps(doc).encode()))
    gdf = cadastre_parcels(geometry=ring)
    assert list(gdf["idu"]) == ["60159000AB0500"]
    sent = shape(json.loads(carto.requests[0][2]["geom"][0]))
    assert sent.equals(box(*ring.bounds))


def test_bad_input_is_refused_before_any_request(carto: LocalServer) -> None:
    with pytest.raises(SchemaError, match="give insee"):
        cadastre_parcels()
    with pytest.raises(SchemaError, match="not valid"):
        cadastre_parcels(insee="6015")
    with pytest.raises(GeometryError, match="degrees"):
        cadastre_parcels(bbox=(640000, 6850000, 660000, 6870000))
    with pytest.raises(GeometryError, match="not in degrees"):
        cadastre_parcels(geometry=box(640000, 6850000, 660000, 6870000))
    assert carto.requests == []


def test_offline_without_cache(carto: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "offline", True)
    with pytest.raises(OfflineError, match="foncier fetch"):
        cadastre_parcels(insee="41231")
    assert carto.requests == []


@pytest.mark.web
def test_live_saint_viatre_parcel() -> None:
    gdf = cadastre_parcels(insee="41231", section="A", numero=75)
    assert list(gdf["idu"]) == ["412310000A0075"]

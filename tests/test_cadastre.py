"""Cadastral parcels of a territory (API Carto recorded answer, local server)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import CRS
from shapely.geometry import box, shape
from test_http import LocalServer, Reply

from layers.cadastre import PARCEL_COLUMNS, load_parcels
from layers.config import settings
from layers.errors import SchemaError
from layers.territories import Territory


@pytest.fixture
def carto(monkeypatch: pytest.MonkeyPatch):
    with LocalServer() as server:
        monkeypatch.setattr(settings, "apicarto_url", server.url + "/api")
        yield server


@pytest.fixture
def parcel_doc(test_data: Path) -> bytes:
    return (test_data / "fixtures/apicarto/cadastre_parcelle.json").read_bytes()


def _parcel_l93(doc: bytes):
    geom = shape(json.loads(doc)["features"][0]["geometry"])
    return gpd.GeoSeries([geom], crs=4326).to_crs(2154).iloc[0]


def test_parcels_of_a_bare_territory(carto: LocalServer, parcel_doc: bytes) -> None:
    carto.script("/api/cadastre/parcelle", Reply(parcel_doc))
    parcel = _parcel_l93(parcel_doc)
    territory = Territory.from_perimeter(parcel.buffer(200), crs="EPSG:2154")
    gdf = load_parcels(territory)
    assert list(gdf.columns) == PARCEL_COLUMNS
    assert gdf.crs == CRS(2154)
    row = gdf.iloc[0]
    assert (row["idu"], row["insee"], row["section"], row["numero"]) == (
        "412310000A0075",
        "41231",
        "0A",
        "0075",
    )
    assert row["contenance_m2"] == 24810
    assert row.geometry.area == pytest.approx(parcel.area)
    # The query sent the territory outline, in lon/lat, to the service.
    sent = shape(json.loads(carto.requests[0][2]["geom"][0]))
    assert sent.contains(shape(json.loads(parcel_doc)["features"][0]["geometry"]))


def test_parcels_outside_the_perimeter_are_dropped(carto: LocalServer, parcel_doc: bytes) -> None:
    carto.script("/api/cadastre/parcelle", Reply(parcel_doc))
    parcel = _parcel_l93(parcel_doc)
    x, y = parcel.centroid.x, parcel.centroid.y
    far = box(x + 5_000, y, x + 6_000, y + 1_000)
    communes = gpd.GeoDataFrame({"insee": ["41231"]}, geometry=[far], crs=2154)
    territory = Territory(
        id="t",
        name="t",
        crs=CRS(2154),
        perimeter=far,
        communes=communes,
        epci=gpd.GeoDataFrame(geometry=[], crs=2154),
    )
    gdf = load_parcels(territory)
    assert gdf.empty
    assert list(gdf.columns) == PARCEL_COLUMNS
    assert carto.requests[0][2]["code_insee"] == ["41231"]  # member communes were asked


def test_parcels_by_insee_deduplicated_and_crs_of_the_departement(
    carto: LocalServer, parcel_doc: bytes
) -> None:
    carto.script("/api/cadastre/parcelle", Reply(parcel_doc))
    gdf = load_parcels(insee=["41231", "41232"])  # the server answers the same parcel twice
    assert len(gdf) == 1
    assert gdf.crs == CRS(2154)
    assert carto.hits["/api/cadastre/parcelle"] == 2
    reunion = load_parcels(insee="97411")
    assert reunion.crs == CRS(2975)  # RGR92 / UTM 40S
    assert load_parcels(bbox=(1.95, 47.55, 1.96, 47.56), crs="EPSG:3949").crs == CRS(3949)


def test_nothing_to_load_is_an_error() -> None:
    with pytest.raises(SchemaError, match="territory, insee codes or a bbox"):
        load_parcels()

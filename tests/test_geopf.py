"""IGN Géoplateforme WFS: capabilities from the recorded answer, paging on a local server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pyproj import CRS
from test_http import LocalServer, Reply

from layers.config import settings
from layers.errors import DataSourceError, GeometryError, SchemaError
from layers.geopf import features_to_gdf, wfs_features, wfs_layers


@pytest.fixture
def wfs(monkeypatch: pytest.MonkeyPatch):
    with LocalServer() as server:
        monkeypatch.setattr(settings, "geopf_wfs_url", server.url + "/wfs/ows")
        yield server


@pytest.fixture
def capabilities(test_data: Path) -> bytes:
    return (test_data / "fixtures/geopf_wfs/wfs_getcapabilities_data_geopf_fr.xml").read_bytes()


def test_wfs_layers_from_recorded_capabilities(wfs: LocalServer, capabilities: bytes) -> None:
    wfs.script("/wfs/ows", Reply(capabilities, content_type="text/xml"))
    layers = wfs_layers()
    # Independent count: the raw <Name> elements inside <FeatureType>.
    names = re.findall(rb"<FeatureType[^>]*><Name>([^<]+)</Name>", capabilities)
    assert len(layers) == len(names) == 436
    assert list(layers["name"]) == [n.decode() for n in names]
    for name in [
        "PROTECTEDAREAS.SIC:sic",
        "PROTECTEDAREAS.ZPS:zps",
        "PROTECTEDAREAS.ZNIEFF1:znieff1",
        "PROTECTEDAREAS.ZNIEFF2:znieff2",
        "BDTOPO_V3:zone_d_activite_ou_d_interet",
        "ADMINEXPRESS-COG.LATEST:commune",
    ]:
        assert name in set(layers["name"])
    sic = layers.set_index("name").loc["PROTECTEDAREAS.SIC:sic"]
    assert sic["title"] == "Sites Natura 2000 au titre de la Directive Habitats"
    assert sic["default_crs"] == "EPSG:3857"
    assert (sic["west"], sic["south"], sic["east"], sic["north"]) == (
        -10.1953125,
        41.2009375,
        9.84375,
        51.501171875,
    )
    gers = layers.set_index("name").loc["OCS-GERS_BDD_LAMB93_2016:oscge_gers_32_2016"]
    assert gers["default_crs"] == "EPSG:2154"
    # The request asked for the capabilities, and the second call is served from the cache.
    query = wfs.requests[0][2]
    assert query["REQUEST"] == ["GetCapabilities"]
    assert query["VERSION"] == ["2.0.0"]
    wfs_layers()
    assert wfs.hits["/wfs/ows"] == 1


def test_wfs_layers_rejects_an_empty_document(wfs: LocalServer) -> None:
    wfs.script(
        "/wfs/ows", Reply(b"<html><body>maintenance</body></html>", content_type="text/html")
    )
    with pytest.raises(SchemaError, match=r"<html> document, not WFS 2\.0 capabilities"):
        wfs_layers()


def _paged_server(total: int, *, matched: bool):
    """Made-up point features 0..total-1, served by STARTINDEX/COUNT like the Géoplateforme."""

    def reply(query: dict, body: bytes) -> Reply:
        start = int(query["STARTINDEX"][0])
        count = int(query["COUNT"][0])
        ids = range(start, min(start + count, total))
        doc = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": f"layer.{i}",
                    "geometry": {"type": "Point", "coordinates": [2.0 + i * 1e-4, 49.0]},
                    "properties": {"fid": i, "nom": f"site {i}"},
                }
                for i in ids
            ],
            "numberReturned": len(ids),
        }
        if matched:
            doc["numberMatched"] = total
        return Reply(json.dumps(doc).encode())

    return reply


def test_paging_2500_features_in_3_requests(wfs: LocalServer) -> None:
    wfs.script("/wfs/ows", _paged_server(2500, matched=False))
    gdf = wfs_features("TEST:points", bbox=(2.0, 48.9, 2.5, 49.1))
    assert len(gdf) == 2500
    assert wfs.hits["/wfs/ows"] == 3
    assert list(gdf["fid"]) == list(range(2500))
    assert gdf.crs == "EPSG:4326"
    starts = [(q["STARTINDEX"][0], q["COUNT"][0]) for _, _, q, _ in wfs.requests]
    assert starts == [("0", "1000"), ("1000", "1000"), ("2000", "1000")]
    query = wfs.requests[0][2]
    assert query["TYPENAMES"] == ["TEST:points"]
    assert query["BBOX"] == ["2.0,48.9,2.5,49.1,EPSG:4326"]
    assert query["SRSNAME"] == ["EPSG:4326"]
    assert query["OUTPUTFORMAT"] == ["application/json"]
    # Every page is cached: a second download asks nothing.
    assert len(wfs_features("TEST:points", bbox=(2.0, 48.9, 2.5, 49.1))) == 2500
    assert wfs.hits["/wfs/ows"] == 3


def test_paging_stops_on_number_matched(wfs: LocalServer) -> None:
    wfs.script("/wfs/ows", _paged_server(2000, matched=True))
    assert len(wfs_features("TEST:points")) == 2000
    assert wfs.hits["/wfs/ows"] == 2  # no third, empty page


def test_paging_without_number_matched_asks_one_empty_page(wfs: LocalServer) -> None:
    wfs.script("/wfs/ows", _paged_server(2000, matched=False))
    assert len(wfs_features("TEST:points")) == 2000
    assert wfs.hits["/wfs/ows"] == 3


def test_max_features_and_page_size(wfs: LocalServer) -> None:
    wfs.script("/wfs/ows", _paged_server(2500, matched=True))
    gdf = wfs_features("TEST:points", page_size=400, max_features=1000)
    assert len(gdf) == 1000
    counts = [q["COUNT"][0] for _, _, q, _ in wfs.requests]
    assert counts == ["400", "400", "200"]


def test_projected_output_and_bbox(wfs: LocalServer) -> None:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [652000.0, 6862000.0]},
        "properties": {"nom": "Paris"},
    }
    wfs.script("/wfs/ows", Reply(json.dumps({"features": [feature]}).encode()))
    gdf = wfs_features(
        "TEST:x", bbox=(640000, 6850000, 660000, 6870000, "EPSG:2154"), crs_out=CRS(2154)
    )
    assert gdf.crs == "EPSG:2154"
    assert gdf.geometry.iloc[0].x == 652000.0
    query = wfs.requests[0][2]
    assert query["BBOX"] == ["640000.0,6850000.0,660000.0,6870000.0,EPSG:2154"]
    assert query["SRSNAME"] == ["EPSG:2154"]


def test_empty_result_and_bad_requests(wfs: LocalServer) -> None:
    wfs.script("/wfs/ows", Reply(b'{"type": "FeatureCollection", "features": []}'))
    empty = wfs_features("TEST:none", crs_out="EPSG:2154")
    assert empty.empty
    assert empty.crs == "EPSG:2154"
    with pytest.raises(GeometryError, match="west < east"):
        wfs_features("TEST:none", bbox=(3, 49, 2, 50))
    with pytest.raises(GeometryError, match="not in degrees"):
        wfs_features("TEST:none", bbox=(640000, 6850000, 660000, 6870000))
    wfs.script(
        "/wfs/ows",
        Reply(b"<ows:ExceptionReport>Unknown TypeName</ows:ExceptionReport>", status=400),
    )
    with pytest.raises(DataSourceError, match="Unknown TypeName"):
        wfs_features("NOPE:nope")


def test_features_to_gdf_repairs_invalid_polygons() -> None:
    bowtie = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]},
        "properties": {"id": 1},
    }
    gdf = features_to_gdf({"features": [bowtie]}, crs="EPSG:2154")
    assert gdf.geometry.iloc[0].is_valid
    assert gdf.geometry.iloc[0].area == pytest.approx(2.0)  # two triangles of 1 m² each
    with pytest.raises(SchemaError, match="FeatureCollection"):
        features_to_gdf({"type": "nothing"})


@pytest.mark.web
def test_live_capabilities_list_protected_areas() -> None:
    names = set(wfs_layers()["name"])
    assert {"PROTECTEDAREAS.SIC:sic", "ADMINEXPRESS-COG.LATEST:commune"} <= names

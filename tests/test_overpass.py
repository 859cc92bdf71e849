"""Overpass: query building, remark handling, and JSON → GeoDataFrame on real recorded answers."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon
from test_http import LocalServer, Reply

from layers.config import settings
from layers.errors import DataSourceError, GeometryError, SchemaError
from layers.overpass import bbox_query, is_area, overpass_to_gdf, query_overpass


@pytest.fixture
def overpy(test_data: Path):
    folder = test_data / "fixtures/overpass/overpy_json"

    def load(name: str) -> dict:
        return json.loads((folder / name).read_text())

    return load


@pytest.fixture
def overpass_server(monkeypatch: pytest.MonkeyPatch):
    with LocalServer() as server:
        monkeypatch.setattr(settings, "overpass_url", server.url + "/api/interpreter")
        yield server


def test_nodes_are_points_with_their_tags(overpy) -> None:
    raw = overpy("node-01.json")
    gdf = overpass_to_gdf(raw)
    assert gdf.crs == "EPSG:4326"
    assert len(gdf) == 3
    assert list(gdf["osm_type"]) == ["node"] * 3
    assert list(gdf["osm_id"]) == [e["id"] for e in raw["elements"]]
    for geom, el in zip(gdf.geometry, raw["elements"], strict=True):
        assert geom.equals(Point(el["lon"], el["lat"]))
    assert gdf.set_index("osm_id").loc[100793192, "highway"] == "turning_circle"
    assert gdf.set_index("osm_id")["highway"].isna().sum() == 2


def test_closed_building_way_from_node_coordinates_is_a_polygon(overpy) -> None:
    raw = overpy("way-02.json")
    gdf = overpass_to_gdf(raw)
    # The 6 vertex nodes are untagged parts of the way: only the building remains.
    assert len(gdf) == 1
    row = gdf.iloc[0]
    assert (row["osm_type"], row["osm_id"], row["building"]) == ("way", 317146077, "yes")
    assert isinstance(row.geometry, Polygon)
    coords = {e["id"]: (e["lon"], e["lat"]) for e in raw["elements"] if e["type"] == "node"}
    way = next(e for e in raw["elements"] if e["type"] == "way")
    assert list(row.geometry.exterior.coords) == [coords[n] for n in way["nodes"]]


def test_polygon_bbox_centre_matches_overpass_center(overpy) -> None:
    raw = overpy("way-03.json")
    (geom,) = overpass_to_gdf(raw).geometry
    assert isinstance(geom, Polygon)
    assert len(geom.exterior.coords) == 5
    # Overpass computes "center" as the middle of the bounding box: an independent check.
    w, s, e, n = geom.bounds
    center = raw["elements"][-1]["center"]
    assert (w + e) / 2 == pytest.approx(center["lon"], abs=1e-7)
    assert (s + n) / 2 == pytest.approx(center["lat"], abs=1e-7)


def test_way_with_empty_center_and_no_coordinates_is_left_out(overpy) -> None:
    assert overpass_to_gdf(overpy("way-04.json")).empty
    assert overpass_to_gdf(overpy("way-01.json")).empty  # node refs only, no coordinates
    assert overpass_to_gdf(overpy("area-01.json")).empty  # area elements carry no geometry


def test_open_way_is_a_linestring(overpy) -> None:
    gdf = overpass_to_gdf(overpy("result-expand-01.json"))
    (geom,) = gdf.geometry
    assert geom.equals(LineString([(7.1758731, 50.7494187), (7.1758731, 50.7494287)]))


def test_route_relation_with_member_geometry_is_a_multilinestring(overpy) -> None:
    raw = overpy("relation-04.json")
    gdf = overpass_to_gdf(raw)
    assert len(gdf) == 1
    row = gdf.iloc[0]
    assert row["ref"] == "A 555"
    assert isinstance(row.geometry, MultiLineString)
    rel = raw["elements"][0]
    members = [m for m in rel["members"] if m["type"] == "way" and len(m["geometry"]) >= 2]
    assert len(row.geometry.geoms) == len(members) == 133
    assert sum(len(g.coords) for g in row.geometry.geoms) == sum(
        len(m["geometry"]) for m in members
    )
    b = rel["bounds"]
    assert row.geometry.bounds == pytest.approx(
        (b["minlon"], b["minlat"], b["maxlon"], b["maxlat"]), abs=1e-7
    )


def test_relation_with_center_only_is_a_point(overpy) -> None:
    raw = overpy("relation-03.json")
    (geom,) = overpass_to_gdf(raw).geometry
    c = raw["elements"][0]["center"]
    assert geom.equals(Point(c["lon"], c["lat"]))
    assert overpass_to_gdf(overpy("relation-01.json")).empty  # no geometry at all


def test_untagged_member_way_is_only_part_of_its_relation(overpy) -> None:
    gdf = overpass_to_gdf(overpy("relation-02.json"))
    assert list(zip(gdf.osm_type, gdf.osm_id, strict=True)) == [("relation", 2046898)]
    # The member way 317146078 goes through nodes ...33 → ...34 → ...35.
    (line,) = gdf.geometry.iloc[0].geoms
    assert len(line.coords) == 3


def _way(id_: int, coords: list[tuple[float, float]], role: str = "outer") -> dict:
    return {
        "type": "way",
        "ref": id_,
        "role": role,
        "geometry": [{"lon": x, "lat": y} for x, y in coords],
    }


def test_multipolygon_relation_rings_holes_and_islands() -> None:
    # Built in code: a 10x10 outer ring split over two ways, a 6x6 hole, a 2x2 island inside
    # the hole. Expected area 100 - 36 + 4 = 68 (square degrees, plain planar geometry here).
    relation = {
        "type": "relation",
        "id": 1,
        "tags": {"type": "multipolygon", "landuse": "industrial", "name": "ZI test"},
        "members": [
            _way(10, [(0, 0), (10, 0), (10, 10)]),
            _way(11, [(10, 10), (0, 10), (0, 0)]),
            _way(12, [(2, 2), (8, 2), (8, 8), (2, 8), (2, 2)], role="inner"),
            _way(13, [(4, 4), (6, 4), (6, 6), (4, 6), (4, 4)], role="outer"),
        ],
    }
    gdf = overpass_to_gdf({"elements": [relation]})
    (geom,) = gdf.geometry
    assert isinstance(geom, MultiPolygon)
    assert len(geom.geoms) == 2
    assert geom.area == pytest.approx(68.0)
    assert geom.is_valid
    assert not geom.contains(Point(3, 3))  # in the hole
    assert geom.contains(Point(5, 5))  # on the island
    assert geom.contains(Point(1, 1))
    assert gdf.iloc[0]["landuse"] == "industrial"


def test_multipolygon_that_does_not_close_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    relation = {
        "type": "relation",
        "id": 2,
        "tags": {"type": "multipolygon"},
        "members": [_way(20, [(0, 0), (1, 0), (1, 1)])],
    }
    with caplog.at_level(logging.WARNING, logger="layers.overpass"):
        assert overpass_to_gdf({"elements": [relation]}).empty
    assert "do not close" in caplog.text


@pytest.mark.parametrize(
    ("tags", "area"),
    [
        ({"building": "yes"}, True),
        ({"landuse": "industrial"}, True),
        ({"harbour": "yes"}, True),
        ({"amenity": "parking"}, True),
        ({"power": "substation"}, True),
        ({"power": "line"}, False),
        ({"highway": "residential"}, False),
        ({"highway": "pedestrian", "area": "yes"}, True),
        ({"building": "yes", "area": "no"}, False),
        ({"barrier": "fence"}, False),
        ({"barrier": "wall"}, True),
        ({"natural": "coastline"}, False),
        ({"natural": "wood"}, True),
        ({"building": "no"}, False),
        ({}, False),
    ],
)
def test_area_rules(tags: dict, area: bool) -> None:
    assert is_area(tags) is area


def test_closed_way_that_is_not_an_area_stays_a_line() -> None:
    ring = [(0, 0), (1, 0), (1, 1), (0, 0)]
    data = {
        "elements": [
            {
                "type": "way",
                "id": 5,
                "tags": {"highway": "residential", "junction": "roundabout"},
                "geometry": [{"lon": x, "lat": y} for x, y in ring],
            },
            {
                "type": "way",
                "id": 6,
                "tags": {"landuse": "industrial"},
                "geometry": [{"lon": x, "lat": y} for x, y in ring],
            },
        ]
    }
    gdf = overpass_to_gdf(data).set_index("osm_id")
    assert gdf.geometry[5].geom_type == "LineString"
    assert gdf.geometry[6].geom_type == "Polygon"
    assert gdf.geometry[6].area == pytest.approx(0.5)


def test_clipped_geometry_nulls_are_skipped_and_reserved_tag_names_prefixed() -> None:
    data = {
        "elements": [
            {
                "type": "way",
                "id": 7,
                "tags": {"railway": "rail", "geometry": "odd"},
                "geometry": [None, {"lon": 1, "lat": 1}, {"lon": 2, "lat": 1}, None],
            }
        ]
    }
    gdf = overpass_to_gdf(data)
    assert gdf.geometry.iloc[0].equals(LineString([(1, 1), (2, 1)]))
    assert gdf["tag:geometry"].iloc[0] == "odd"


def test_empty_answer_and_bad_input() -> None:
    empty = overpass_to_gdf({"elements": []})
    assert empty.empty
    assert empty.crs == "EPSG:4326"
    assert list(empty.columns) == ["osm_type", "osm_id", "geometry"]
    with pytest.raises(SchemaError, match="elements"):
        overpass_to_gdf({"version": 0.6})


def test_bbox_query_text() -> None:
    q = bbox_query(
        (2.6, 49.3, 2.9, 49.5),
        ['nwr["landuse"="industrial"];', 'way["railway"="rail"]["service"~"siding|spur"]'],
        timeout=90,
    )
    assert q.splitlines() == [
        "[out:json][timeout:90][bbox:49.3000000,2.6000000,49.5000000,2.9000000];",
        "(",
        '  nwr["landuse"="industrial"];',
        '  way["railway"="rail"]["service"~"siding|spur"];',
        ");",
        "out geom;",
    ]


@pytest.mark.parametrize(
    "bbox", [(49.3, 2.6, 49.5, 2.9, 0), (2.9, 49.3, 2.6, 49.5), (600, 0, 700, 1)]
)
def test_bbox_query_rejects_bad_bbox(bbox) -> None:
    with pytest.raises(GeometryError, match="west, south, east, north"):
        bbox_query(bbox, ['node["power"]'])


def test_bbox_query_rejects_bad_selectors() -> None:
    with pytest.raises(SchemaError, match="must start with node"):
        bbox_query((2.6, 49.3, 2.9, 49.5), ['["landuse"="industrial"]'])
    with pytest.raises(SchemaError, match="at least one selector"):
        bbox_query((2.6, 49.3, 2.9, 49.5), [])


def test_query_overpass_posts_the_query_and_caches(overpass_server: LocalServer, overpy) -> None:
    raw = overpy("way-02.json")
    overpass_server.script("/api/interpreter", Reply(json.dumps(raw).encode()))
    q = bbox_query((7.17, 50.74, 7.18, 50.75), ['way["building"]'], timeout=25)
    assert query_overpass(q) == raw
    assert query_overpass(q) == raw
    assert overpass_server.hits["/api/interpreter"] == 1
    method, _, _, body = overpass_server.requests[0]
    assert method == "POST"
    assert parse_qs(body.decode())["data"] == [q]


def test_runtime_error_remark_raises_and_is_not_cached(
    overpass_server: LocalServer, test_data: Path
) -> None:
    remark = test_data / "fixtures/overpass/overpy_json/remark-runtime-error-01.json"
    overpass_server.script("/api/interpreter", Reply(remark.read_bytes()))
    with pytest.raises(DataSourceError) as err:
        query_overpass("[out:json];node(1);out;")
    assert 'runtime error: Query timed out in "query" at line 4 after 2 seconds.' in str(err.value)
    with pytest.raises(DataSourceError):
        query_overpass("[out:json];node(1);out;")
    assert overpass_server.hits["/api/interpreter"] == 2  # never served from the cache


@pytest.mark.parametrize(
    ("name", "text"),
    [("remark-runtime-remark-01.json", "runtime remark: Test"), ("remark-unknown-01.json", "Test")],
)
def test_other_remarks_are_logged(
    overpass_server: LocalServer,
    test_data: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    text: str,
) -> None:
    path = test_data / "fixtures/overpass/overpy_json" / name
    overpass_server.script("/api/interpreter", Reply(path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="layers.overpass"):
        data = query_overpass("[out:json];node(1);out;")
    assert data["elements"] == []
    assert text in caplog.text


def test_self_intersecting_area_is_repaired_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bowtie = [(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)]
    data = {
        "elements": [
            {
                "type": "way",
                "id": 99,
                "tags": {"landuse": "industrial"},
                "geometry": [{"lon": x, "lat": y} for x, y in bowtie],
            }
        ]
    }
    with caplog.at_level(logging.WARNING, logger="layers.geometry"):
        gdf = overpass_to_gdf(data)
    geom = gdf.geometry.iloc[0]
    assert geom.is_valid
    assert geom.area == pytest.approx(2.0)  # two triangles of area 1
    assert "99" in caplog.text


@pytest.mark.web
def test_live_substations_near_compiegne() -> None:
    q = bbox_query((2.75, 49.35, 2.95, 49.45), ['nwr["power"="substation"]'], timeout=60)
    gdf = overpass_to_gdf(query_overpass(q))
    assert len(gdf) > 0
    assert set(gdf["power"]) == {"substation"}

"""OSM features -> canonical infrastructure schemas, checked against independent XML counts."""

from __future__ import annotations

import functools
import gzip
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers import osm
from layers.errors import CRSError, GeometryError, SchemaError
from layers.infrastructure import SCHEMAS
from layers.overpass import overpass_to_gdf

REDON = "fixtures/overpass/overpass_redon_35_2019.osm.gz"
VEYLE = "fixtures/overpass/overpass_pont_de_veyle_ain_2022.osm.gz"


# ---------------------------------------------------------------- independent XML reading


@functools.cache
def _xml(path: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Tags of the ways and of the nodes of an OSM XML file, parsed with xml.etree.

    Only the ways with at least 2 nodes present in the file are kept: no OSM reader can build
    a line from fewer known nodes, so these are the ways a correct reader returns.
    """
    with gzip.open(path) as stream:
        root = ET.parse(stream).getroot()
    node_ids = {n.get("id") for n in root.iter("node")}
    ways = []
    for way in root.iter("way"):
        refs = [nd.get("ref") for nd in way.findall("nd")]
        if sum(r in node_ids for r in refs) >= 2:
            ways.append({t.get("k"): t.get("v") for t in way.findall("tag")})
    nodes = [{t.get("k"): t.get("v") for t in n.findall("tag")} for n in root.iter("node")]
    return ways, nodes


def _xml_ways(path: Path) -> list[dict[str, str]]:
    return _xml(path)[0]


def _xml_nodes(path: Path) -> list[dict[str, str]]:
    return _xml(path)[1]


@pytest.fixture(scope="module")
def redon(test_data: Path) -> gpd.GeoDataFrame:
    return osm.read_osm_file(test_data / REDON)


@pytest.fixture(scope="module")
def veyle(test_data: Path) -> gpd.GeoDataFrame:
    return osm.read_osm_file(test_data / VEYLE)


# ---------------------------------------------------------------- other_tags parsing


def test_parse_other_tags_handles_escapes_and_empty():
    text = r'"name:br"=>"Kae \"Jean\" Bart","maxspeed"=>"50","note"=>"a=>b"'
    assert osm.parse_other_tags(text) == {
        "name:br": 'Kae "Jean" Bart',
        "maxspeed": "50",
        "note": "a=>b",
    }
    assert osm.parse_other_tags(None) == {}
    assert osm.parse_other_tags("") == {}


def test_osm_features_expands_other_tags_and_ids(redon):
    assert redon.crs.to_epsg() == 4326
    # Tags that GDAL leaves in other_tags become columns.
    for key in ("electrified", "voltage", "usage", "service", "CEMT"):
        assert key in redon.columns
    assert "other_tags" not in redon.columns
    assert set(redon["osm_type"].unique()) <= {"node", "way", "relation"}
    assert not redon["osm_id"].str.endswith(".0").any()


def test_osm_features_requires_a_crs():
    gdf = gpd.GeoDataFrame({"osm_id": [1], "railway": ["rail"]}, geometry=[shapely.Point(0, 0)])
    with pytest.raises(CRSError, match="no CRS"):
        osm.rail_lines_from_osm(gdf)


# ---------------------------------------------------------------- rail


def test_redon_rail_counts_match_xml(redon, test_data):
    ways = [w for w in _xml_ways(test_data / REDON) if w.get("railway") == "rail"]
    assert len(ways) == 41  # the 41 railway=rail ways of the source (DATA.md, test fixtures)
    branches_xml = [w for w in ways if w.get("service") in ("siding", "spur", "yard")]
    lines = osm.rail_lines_from_osm(redon, date="2019-09-09")
    branches = osm.rail_branches_from_osm(redon)
    assert len(branches) == len(branches_xml) == 13
    assert len(lines) == len(ways) - len(branches_xml) == 28
    assert set(branches["kind"]) == {"siding"}
    # kind of a running line = its usage tag, "rail" when untagged (the crossover here).
    assert lines["kind"].value_counts().to_dict() == {
        "main": sum(w.get("usage") == "main" for w in ways if w not in branches_xml),
        "rail": sum("usage" not in w for w in ways if w not in branches_xml),
    }
    assert set(lines["date"]) == {"2019-09-09"}
    assert lines["source"].eq("osm").all()
    assert lines["id"].str.match(r"^osm:way/\d+$").all()


def test_redon_electrification_matches_xml(redon, test_data):
    ways = [w for w in _xml_ways(test_data / REDON) if w.get("railway") == "rail"]
    both = gpd.pd.concat([osm.rail_lines_from_osm(redon), osm.rail_branches_from_osm(redon)])
    electrified_xml = sum(w.get("electrified", "no") != "no" for w in ways)
    assert int(both["electrified"].sum()) == electrified_xml
    assert int(both["electrified"].isna().sum()) == sum("electrified" not in w for w in ways)
    on = both[both["electrified"].fillna(False).astype(bool)]
    on_xml = [w for w in ways if w.get("electrified", "no") != "no"]
    assert sorted(on["voltage_v"]) == sorted(float(w["voltage"]) for w in on_xml)
    assert sorted(on["frequency_hz"]) == sorted(float(w["frequency"]) for w in on_xml)
    assert set(on["voltage_v"]) == {25000.0}
    assert set(on["electrification"]) == {"contact_line"}


def test_pont_de_veyle_spurs_and_dc_voltage(veyle, test_data):
    ways = [w for w in _xml_ways(test_data / VEYLE) if w.get("railway") == "rail"]
    branches = osm.rail_branches_from_osm(veyle)
    assert len(branches) == sum(w.get("service") == "spur" for w in ways) == 6
    assert set(branches["kind"]) == {"spur"}
    lines = osm.rail_lines_from_osm(veyle)
    assert len(lines) + len(branches) == len(ways)
    # 1.5 kV DC lines: voltage=1500, frequency=0.
    on = lines[lines["electrified"].fillna(False).astype(bool)]
    assert len(on) == sum(w.get("voltage") == "1500" for w in ways)
    assert set(on["voltage_v"]) == {1500.0}
    assert set(on["frequency_hz"]) == {0.0}


# ---------------------------------------------------------------- waterways, platforms, power


def test_redon_waterways_and_cemt(redon, test_data):
    ways = [w for w in _xml_ways(test_data / REDON) if w.get("waterway") in ("canal", "river")]
    water = osm.waterways_from_osm(redon)
    assert len(water) == len(ways) == 10
    assert water["kind"].value_counts().to_dict() == {
        "canal": sum(w["waterway"] == "canal" for w in ways),
        "river": sum(w["waterway"] == "river" for w in ways),
    }
    cemt0 = sum(w.get("CEMT") == "0" for w in ways)
    assert int((water["cemt_class"] == "0").sum()) == cemt0 == 8
    # CEMT 0 = recreational only: not navigable by freight barges.
    assert not water.loc[water["cemt_class"] == "0", "freight_navigable"].any()
    assert water.loc[water["cemt_class"].isna(), "freight_navigable"].isna().all()


def test_pont_de_veyle_platforms_are_named_industrial(veyle, test_data):
    ways = _xml_ways(test_data / VEYLE)
    expected = [
        w for w in ways if (w.get("landuse") == "industrial" and "name" in w) or "industrial" in w
    ]
    platforms = osm.platforms_from_osm(veyle)
    assert len(platforms) == len(expected)
    assert sorted(platforms["name"]) == sorted(w["name"] for w in expected)
    assert (platforms.geom_type == "MultiPolygon").all()
    unnamed = sum(w.get("landuse") == "industrial" and "name" not in w for w in ways)
    assert unnamed >= 1  # the unnamed industrial plot is left out on purpose


def test_redon_substations_voltage(redon, test_data):
    nodes = [n for n in _xml_nodes(test_data / REDON) if n.get("power") == "substation"]
    subs = osm.substations_from_osm(redon)
    assert len(subs) == len(nodes) == 4
    # voltage=20000;400 (volts): the highest is 20 kV.
    assert set(subs["voltage_kv"]) == {20.0}
    assert set(subs["voltage_label"]) == {"20000;400"}
    assert set(subs["operator"]) == {n.get("operator") for n in nodes}
    assert subs["id"].str.startswith("osm:node/").all()


def test_layers_without_features_are_empty_with_schema(redon):
    for mapper, layer in (
        (osm.ports_from_osm, "ports"),
        (osm.motorway_junctions_from_osm, "motorway_junctions"),
        (osm.trunk_roads_from_osm, "trunk_roads"),
    ):
        out = mapper(redon)
        assert len(out) == 0
        expected = [c for c in SCHEMAS[layer] if c != "area_ha"]
        assert list(out.columns) == [*expected, "geometry"]
        assert out.crs.to_epsg() == 4326


@pytest.mark.parametrize(
    ("mapper", "layer"),
    [
        (osm.rail_lines_from_osm, "rail_lines"),
        (osm.rail_branches_from_osm, "rail_branches"),
        (osm.waterways_from_osm, "waterways"),
        (osm.platforms_from_osm, "platforms"),
        (osm.substations_from_osm, "substations"),
        (osm.aerodromes_from_osm, "aerodromes"),
    ],
)
def test_mapped_columns_follow_schemas(mapper, layer, veyle):
    out = mapper(veyle)
    expected = [c for c in SCHEMAS[layer] if c != "area_ha"]  # area is added after projection
    assert list(out.columns) == [*expected, "geometry"]


# ---------------------------------------------------------------- Overpass JSON shape


def _overpass_answer() -> dict:
    """A small Overpass [out:json] answer (out geom), values chosen by hand."""

    def geom(*pts):
        return [{"lon": x, "lat": y} for x, y in pts]

    square = geom((2.70, 49.34), (2.71, 49.34), (2.71, 49.35), (2.70, 49.35), (2.70, 49.34))
    return {
        "osm3s": {"timestamp_osm_base": "2026-11-20T10:00:00Z"},
        "elements": [
            {
                "type": "way",
                "id": 1,
                "geometry": geom((2.70, 49.30), (2.72, 49.31)),
                "tags": {"railway": "rail", "service": "siding", "electrified": "no"},
            },
            {
                "type": "way",
                "id": 2,
                "geometry": geom((2.70, 49.30), (2.80, 49.40)),
                "tags": {
                    "railway": "rail",
                    "usage": "main",
                    "electrified": "contact_line",
                    "voltage": "1500;25000",
                    "frequency": "0;50",
                    "ref:FR:SNCF_Reseau": "242000",
                },
            },
            {
                "type": "node",
                "id": 3,
                "lon": 2.75,
                "lat": 49.35,
                "tags": {"power": "substation", "voltage": "225000;63000", "name": "Poste X"},
            },
            {
                "type": "node",
                "id": 4,
                "lon": 2.76,
                "lat": 49.36,
                "tags": {"highway": "motorway_junction", "ref": "10", "name": "Compiègne-Sud"},
            },
            {"type": "way", "id": 5, "geometry": square, "tags": {"landuse": "port"}},
            {
                "type": "way",
                "id": 6,
                "geometry": geom((2.6, 49.3), (2.7, 49.4)),
                "tags": {"waterway": "canal", "CEMT": "Va", "name": "Canal latéral à l'Oise"},
            },
            {
                "type": "way",
                "id": 7,
                "geometry": geom((2.6, 49.2), (2.7, 49.25)),
                "tags": {"highway": "trunk", "ref": "N 31", "maxspeed": "110"},
            },
        ],
    }


def test_mapping_of_overpass_json_shape():
    answer = _overpass_answer()
    feats = overpass_to_gdf(answer)
    date = osm.overpass_date(answer)
    assert date == "2026-11-20"

    branches = osm.rail_branches_from_osm(feats, date=date)
    assert branches["id"].tolist() == ["osm:way/1"]
    assert branches["electrified"].tolist() == [False]

    lines = osm.rail_lines_from_osm(feats, date=date)
    assert lines["id"].tolist() == ["osm:way/2"]
    row = lines.iloc[0]
    # Highest system (25 kV) and the frequency written at the same position (50 Hz).
    assert (row["voltage_v"], row["frequency_hz"]) == (25000.0, 50.0)
    assert row["line_code"] == "242000"
    assert row["date"] == "2026-11-20"

    subs = osm.substations_from_osm(feats)
    assert subs["voltage_kv"].tolist() == [225.0]
    assert subs["name"].tolist() == ["Poste X"]

    junctions = osm.motorway_junctions_from_osm(feats)
    assert junctions[["ref", "name"]].values.tolist() == [["10", "Compiègne-Sud"]]

    ports = osm.ports_from_osm(feats)
    assert ports["kind"].tolist() == ["port"]
    assert ports.geom_type.tolist() == ["Polygon"]

    water = osm.waterways_from_osm(feats)
    assert water[["cemt_class", "freight_navigable"]].values.tolist() == [["Va", True]]

    trunk = osm.trunk_roads_from_osm(feats)
    assert trunk[["ref", "maxspeed_kmh"]].values.tolist() == [["N 31", 110.0]]


def test_empty_overpass_answer_maps_to_empty_layers():
    feats = overpass_to_gdf({"elements": []})
    out = osm.substations_from_osm(feats)
    assert len(out) == 0
    assert list(out.columns) == [*SCHEMAS["substations"], "geometry"]


# ---------------------------------------------------------------- queries


def test_overpass_query_uses_south_west_north_east():
    q = osm.overpass_query("rail_branches", bbox=(2.5, 49.2, 3.0, 49.6), timeout_s=90)
    assert "[timeout:90]" in q
    assert "[bbox:49.2000000,2.5000000,49.6000000,3.0000000]" in q
    assert 'way["railway"="rail"]["service"~"^(siding|spur|yard)$"];' in q
    assert 'way["railway"="rail"]["usage"="industrial"];' in q
    assert q.rstrip().endswith("out geom;")


def test_every_layer_has_a_query():
    for layer in osm.OVERPASS_FILTERS:
        q = osm.overpass_query(layer, bbox=(2.5, 49.2, 3.0, 49.6))
        assert q.count(";") >= len(osm.OVERPASS_FILTERS[layer]) + 2


def test_overpass_query_rejects_bad_input():
    with pytest.raises(SchemaError, match="rail_lines"):
        osm.overpass_query("railways", bbox=(2.5, 49.2, 3.0, 49.6))
    with pytest.raises(GeometryError, match="west, south, east, north"):
        osm.overpass_query("ports", bbox=(49.6, 3.0, 49.2, 2.5))


def test_read_osm_file_missing(tmp_path):
    from layers.errors import DataSourceError

    with pytest.raises(DataSourceError, match="not found"):
        osm.read_osm_file(tmp_path / "nothing.osm")


def test_numbers_helper_is_vectorised():
    s = gpd.pd.Series(["1500;25000", None, "abc", "63000"], dtype="string")
    assert np.array_equal(
        osm._max_number(s).to_numpy(), np.array([25000.0, np.nan, np.nan, 63000.0]), equal_nan=True
    )

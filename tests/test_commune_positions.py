"""Features known only at their commune: measured to the commune's area, and said so."""

from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from foncier.engine.nearest import nearest_by_site
from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import breakdown, score
from foncier.reports.exports import export_study
from foncier.reports.mapping import siting_map
from foncier.reports.study import SitingStudy
from layers import infrastructure as infra
from layers.formatting import (
    commune_note,
    distance_phrase,
    distance_text,
    split_commune_note,
)
from layers.infrastructure import known_at_commune
from layers.territories import Territory
from maps.export import render_html
from maps.styles import layer_style

L93 = "EPSG:2154"
X0, Y0 = 680_000.0, 6_900_000.0
# A U-shaped commune (its notch is outside it) and a precise port 6 km east.
COMMUNE = shapely.box(X0, Y0, X0 + 2000, Y0 + 2000).difference(
    shapely.box(X0 + 500, Y0 + 500, X0 + 1500, Y0 + 2000)
)


def _ports() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["a", "b"],
            "name": ["Port A", "Port B"],
            "status": ["existing", "existing"],
            "precision": ["commune", "exact"],
            "communes": ["Trosly-Breuil", None],
        },
        geometry=[COMMUNE, shapely.Point(X0 + 8000, Y0 + 1000)],
        crs=L93,
    )


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": ["in", "notch", "east"]},
        geometry=[
            shapely.box(X0 + 100, Y0 + 100, X0 + 300, Y0 + 300),  # in the commune
            shapely.box(X0 + 900, Y0 + 1200, X0 + 1100, Y0 + 1400),  # in the notch
            shapely.box(X0 + 7000, Y0 + 900, X0 + 7100, Y0 + 1000),
        ],
        crs=L93,
    )


def test_wording_inside_outside_several_communes_and_elision():
    one = "Port" + commune_note("Longueil-Sainte-Marie")
    two = "Canal" + commune_note("Compiègne, Aubencheul-au-Bac")
    vowel = "Port" + commune_note("Alençon")
    assert distance_text(0.0, one) == (
        "dans la commune de Longueil-Sainte-Marie, position exacte inconnue"
    )
    assert distance_text(3210.0, one) == (
        "3,2 km de la commune de Longueil-Sainte-Marie (position exacte inconnue)"
    )
    assert distance_text(0.0, two) == (
        "dans l'une des communes de Compiègne, Aubencheul-au-Bac, position exacte inconnue"
    )
    assert distance_text(640.0, two) == (
        "640 m des communes de Compiègne, Aubencheul-au-Bac (position exacte inconnue)"
    )
    assert distance_text(640.0, vowel) == "640 m de la commune d'Alençon (position exacte inconnue)"
    # Nothing in reach, and precise features, read as before.
    assert distance_text(float("inf"), one) == "aucun"
    assert distance_text(640.0, "Gare de Compiègne") == "640 m"
    assert split_commune_note(two) == ("Canal", "Compiègne, Aubencheul-au-Bac")
    assert split_commune_note(None) == (None, None)
    assert distance_phrase("Port fluvial", 0.0, one) == (
        "Port fluvial : dans la commune de Longueil-Sainte-Marie, position exacte inconnue (Port)"
    )
    assert distance_phrase("Port fluvial", 3210.0, one) == (
        "Port fluvial à 3,2 km de la commune de Longueil-Sainte-Marie (position exacte inconnue)"
        " (Port)"
    )
    assert distance_phrase("Gare fret", 1234.0, "Compiègne") == "Gare fret à 1,2 km (Compiègne)"


def test_position_notes_follow_the_precision_column():
    ports = _ports()
    notes = infra.position_notes(ports)
    assert notes.tolist() == [" (commune de Trosly-Breuil, position exacte inconnue)", ""]
    # Without the commune names the note still says the position is only the commune's.
    bare = infra.position_notes(ports.drop(columns="communes"))
    assert bare.tolist() == [infra.PRECISIONS["commune"], ""]
    assert infra.position_notes(ports.drop(columns="precision")).tolist() == ["", ""]


def test_nearest_by_site_measures_to_the_commune_area_and_shows_no_point():
    sites, ports = _sites(), _ports()
    near = nearest_by_site(sites, {"ports": ports}, {"port": ("ports",)}, nearest_point=True)[
        "port"
    ]
    geoms = sites.geometry.to_numpy()
    # Independent figures: 0 inside; the notch site (x0+900..x0+1100) is 400 m from the U's
    # arms (x0+500 and x0+1500), by hand and by plain shapely; the east site is 900 m from
    # Port B.
    expected_notch = shapely.distance(geoms[1], COMMUNE)
    assert expected_notch == pytest.approx(400.0)  # arms at x0+500 and x0+1500, by hand
    assert near["distance_m"].tolist() == pytest.approx([0.0, expected_notch, 900.0])
    assert near["nearest_name"].tolist() == [
        "Port A (commune de Trosly-Breuil, position exacte inconnue)",
        "Port A (commune de Trosly-Breuil, position exacte inconnue)",
        "Port B",
    ]
    # The commune's outline is no position of the port: no point is given for it.
    assert np.isnan(near["x"].iloc[:2]).all()
    assert (near["x"].iloc[2], near["y"].iloc[2]) == (X0 + 8000, Y0 + 1000)


PROFILE = {
    "profile": {"id": "p", "name": "P"},
    "criteria": [
        {
            "id": "port",
            "label": "Port fluvial",
            "measure": "distance",
            "layer": "ports",
            "transform": {"kind": "linear", "from": 0, "to": 10000, "direction": "decreasing"},
            "weight": 1,
        }
    ],
}


def _scored() -> gpd.GeoDataFrame:
    return score(
        _sites().set_index("site_id", drop=False), {"ports": _ports()}, profile_from_dict(PROFILE)
    )


def test_scores_and_texts_of_sites_near_a_commune_level_port():
    out = _scored()
    assert out["port__raw"].tolist() == pytest.approx([0.0, 400.0, 900.0])
    assert out.loc["in", "why"] == (
        "Port fluvial : dans la commune de Trosly-Breuil, position exacte inconnue (Port A)"
    )
    assert out.loc["notch", "why"] == (
        "Port fluvial à 400 m de la commune de Trosly-Breuil (position exacte inconnue) (Port A)"
    )
    assert out.loc["east", "why"] == "Port fluvial à 900 m (Port B)"
    assert breakdown(out, "notch")["raw_text"].tolist() == [
        "400 m de la commune de Trosly-Breuil (position exacte inconnue)"
    ]


def test_siting_map_draws_the_commune_outline_with_its_caveat_not_a_pin():
    out = _scored()
    perimeter = shapely.box(X0 - 1000, Y0 - 1000, X0 + 9000, Y0 + 3000)
    territory = Territory.from_perimeter(perimeter, crs=L93)
    page = render_html(siting_map(out, territory=territory, layers={"ports": _ports()}))
    blocks = [json.loads(b) for b in re.findall(r"_add\((\{.*\})\);", page)]
    caveat = "Port A (commune de Trosly-Breuil, position exacte inconnue)"
    outlines = [
        f for b in blocks for f in b["features"] if f["properties"].get("_tooltip") == caveat
    ]
    assert len(outlines) == 1
    assert outlines[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert "Position" in outlines[0]["properties"]["_popup"]
    assert "Ports – position connue à la commune seulement" in page
    # The precise port is still a pin; the commune-level one is not among the points.
    points = [
        f
        for b in blocks
        for f in b["features"]
        if f["geometry"]["type"] == "Point" and "Port A" in json.dumps(f["properties"])
    ]
    assert points == []
    assert "dans la commune de Trosly-Breuil, position exacte inconnue" in page


def test_real_named_port_from_a_neighbouring_commune():
    # The port of Longueil-Sainte-Marie is known at its commune only. A site at a point of
    # the neighbouring commune of Chevrières (both from the embedded COG boundaries, nothing
    # typed) is measured to Longueil's area, as plain shapely computes it.
    from layers.admin import load_communes

    communes = load_communes(insee=["60369", "60149"], crs=L93).set_index("insee")
    site_point = shapely.point_on_surface(communes.geometry["60149"])
    territory = Territory.from_perimeter(communes.geometry["60149"], crs=L93)
    ports = infra.load_ports(territory, source="named")
    assert ports["id"].tolist() == ["gc-port-longueil-sainte-marie"]
    assert ports.geometry.iloc[0].equals(communes.geometry["60369"])
    site = gpd.GeoDataFrame(geometry=[site_point.buffer(50)], crs=L93)
    near = nearest_by_site(site, {"ports": ports}, {"port": ("ports",)})["port"]
    expected = shapely.distance(site_point.buffer(50), communes.geometry["60369"])
    assert expected > 0
    assert near["distance_m"].iloc[0] == pytest.approx(expected)
    assert near["nearest_name"].iloc[0] == (
        "Port fluvial de Longueil-Sainte-Marie (Paris-Oise Port Intérieur) "
        "(commune de Longueil-Sainte-Marie, position exacte inconnue)"
    )


# ------------------------------------------------------------------------------ exports
_QGIS_KIND = {"POINT": 0, "MULTIPOINT": 0, "LINESTRING": 1, "MULTILINESTRING": 1}
_QGIS_KIND |= {"POLYGON": 2, "MULTIPOLYGON": 2}
_SYMBOL_OF_KIND = {0: "marker", 1: "line", 2: "fill"}


def _ports_with_unknown_precision() -> gpd.GeoDataFrame:
    # A user layer read with pandas' nullable strings: one precision missing (NA).
    ports = pd.concat(
        [_ports(), _ports().iloc[[1]].assign(id="c", name="Port C", precision=None)],
        ignore_index=True,
    )
    ports.loc[2, "geometry"] = shapely.Point(X0 + 8000, Y0 + 2500)
    ports["precision"] = ports["precision"].astype("string")
    assert ports["precision"].isna().tolist() == [False, False, True]
    return gpd.GeoDataFrame(ports, geometry="geometry", crs=L93)


def _commune_study() -> tuple[SitingStudy, gpd.GeoDataFrame]:
    """Ports: A at its commune, B exact, C with no precision given; a branch at its commune.

    The ``precision`` column is pandas' nullable ``"string"`` dtype with a missing value.
    """
    ports = _ports_with_unknown_precision()
    branches = gpd.GeoDataFrame(
        {"name": ["ITE"], "precision": pd.array(["commune"], dtype="string")},
        geometry=[COMMUNE],
        crs=L93,
    )
    perimeter = shapely.box(X0 - 1000, Y0 - 1000, X0 + 10000, Y0 + 3000)
    study = SitingStudy(
        territory=Territory.from_perimeter(perimeter, crs=L93),
        profile=profile_from_dict(PROFILE),
        layers={"ports": ports, "rail_branches": branches},
        scored=_scored(),
    )
    return study, ports


def test_known_at_commune_reads_a_nullable_string_column_with_missing_values():
    _, ports = _commune_study()
    assert str(ports["precision"].dtype) == "string"
    assert ports["precision"].isna().tolist() == [False, False, True]
    assert known_at_commune(ports).tolist() == [True, False, False]
    assert known_at_commune(ports.drop(columns="precision")).tolist() == [False] * 3


def _exported(
    study: SitingStudy, folder: Path
) -> tuple[Path | str, dict[str, str], dict[str, str], dict[str, str]]:
    """The study's GeoPackage: its path, then per table geometry type, QML style, description."""
    path = export_study(study, folder / "etude.gpkg")
    con = sqlite3.connect(path)
    try:
        kinds = dict(
            con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns")
        )
        rows = con.execute("SELECT f_table_name, styleQML, description FROM layer_styles")
        styles, described = {}, {}
        for table, qml, description in rows:
            styles[table], described[table] = qml, description
    finally:
        con.close()
    return path, kinds, styles, described


def test_geopackage_tables_have_one_geometry_kind_and_a_style_of_that_kind(tmp_path):
    study, _ = _commune_study()
    path, kinds, styles, described = _exported(study, tmp_path)
    # The ports known exactly (B) or without a precision (C) stay points; A, known at its
    # commune, is the commune's area in a table of its own; the branch is one table.
    assert {"ports", "ports_commune", "rail_branches"} <= set(styles)
    ports = gpd.read_file(path, layer="ports")
    assert sorted(ports["name"]) == ["Port B", "Port C"]
    areas = gpd.read_file(path, layer="ports_commune")
    assert areas["name"].tolist() == ["Port A"]
    assert shapely.equals(areas.geometry.iloc[0], COMMUNE)
    assert described["ports_commune"] == "Ports – position connue à la commune seulement"
    for table, qml in styles.items():
        root = ET.fromstring(qml.split("\n", 1)[1])
        kind = _QGIS_KIND[kinds[table]]  # a mixed table (GEOMETRY) would fail here
        assert root.findtext("layerGeometryType") == str(kind), table
        assert {s.get("type") for s in root.iter("symbol")} == {_SYMBOL_OF_KIND[kind]}, table
    assert _QGIS_KIND[kinds["ports"]] == 0
    assert _QGIS_KIND[kinds["ports_commune"]] == _QGIS_KIND[kinds["rail_branches"]] == 2


def _outline(qml: str) -> dict[str, str]:
    """Options of the only symbol layer of a commune-area style (which must be a line)."""
    root = ET.fromstring(qml.split("\n", 1)[1])
    layers = list(root.iter("layer"))
    assert [layer.get("class") for layer in layers] == ["SimpleLine"]  # no fill at all
    return {o.get("name"): o.get("value") for o in layers[0].iter("Option") if o.get("name")}


def test_commune_areas_are_styled_in_qgis_as_the_siting_map_draws_them(tmp_path):
    study, _ = _commune_study()
    _, _, styles, _ = _exported(study, tmp_path)
    # How the siting map draws Port A, read from the page (Leaflet path options, CSS px).
    page = render_html(siting_map(_scored(), territory=study.territory, layers={"ports": _ports()}))
    drawn = [
        json.loads(s)
        for s in re.findall(r"var s = (\[.*?\]);", page)
        if '"dashArray"' in s and '"fill": false' in s
    ]
    assert [len(styles_of_layer) for styles_of_layer in drawn] == [1]
    on_map = drawn[0][0]
    px_mm = 25.4 / 96
    for table, name in (("ports_commune", "ports"), ("rail_branches", "rail_branches")):
        opts = _outline(styles[table])
        color = layer_style(name).color.lstrip("#")
        assert (
            opts["line_color"]
            == ",".join(str(int(color[i : i + 2], 16)) for i in (0, 2, 4)) + ",255"
        )
        assert float(opts["line_width"]) == pytest.approx(on_map["weight"] * px_mm, abs=1e-3)
        dash = [float(v) for v in opts["customdash"].split(";")]
        expected = [float(v) * px_mm for v in on_map["dashArray"].split()]
        assert dash == pytest.approx(expected, abs=1e-2)
        assert (opts["use_custom_dash"], opts["customdash_unit"]) == ("1", "MM")
    assert on_map["color"] == layer_style("ports").color


def test_nearest_point_and_map_read_a_nullable_precision_with_missing_values():
    ports = _ports_with_unknown_precision()
    near = nearest_by_site(_sites(), {"ports": ports}, {"port": ("ports",)}, nearest_point=True)[
        "port"
    ]
    # The commune-level port has no point; the precise one (missing precision is not
    # "commune") has its own, 900 m east of the east site.
    assert np.isnan(near["x"].iloc[:2]).all()
    assert (near["x"].iloc[2], near["y"].iloc[2]) == (X0 + 8000, Y0 + 1000)
    perimeter = shapely.box(X0 - 1000, Y0 - 1000, X0 + 9000, Y0 + 3000)
    territory = Territory.from_perimeter(perimeter, crs=L93)
    page = render_html(siting_map(_scored(), territory=territory, layers={"ports": ports}))
    blocks = [json.loads(b) for b in re.findall(r"_add\((\{.*\})\);", page)]
    pins = {
        f["properties"].get("_tooltip")
        for b in blocks
        for f in b["features"]
        if f["geometry"]["type"] == "Point"
    }
    assert {"Port B", "Port C"} <= pins
    assert "Ports – position connue à la commune seulement" in page

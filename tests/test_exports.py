"""Exports of a siting study: GeoPackage + QGIS styles, GeoParquet, CSV, CNIG site_eco table.

A tiny study is made by hand (three square sites, two freight stations, a port, a
substation and a rail branch at known distances), so every expected value is computed
here, independently of the code under test.
"""

from __future__ import annotations

import json
import math
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

from foncier.engine.diagnostics import ranking_diagnostics
from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import score
from foncier.pipeline import SitingStudy
from foncier.reports import exports
from foncier.reports.exports import cnig_site_table, export_study, score_classes
from foncier.reports.qgis import SCORE_EXPRESSION
from layers.errors import FoncierError
from layers.territories import Territory
from layers.zae import validate_sites_economiques

X0, Y0 = 650_000.0, 6_850_000.0
L93 = "EPSG:2154"


def tiny_study() -> SitingStudy:
    """Three 2154 squares: A (25 ha) and B (25 ha) scored, C (4 ha) excluded as too small."""
    communes = gpd.GeoDataFrame(
        {
            "insee": ["60001", "60002"],
            "nom": ["Alpha", "Beta"],
            "epci_siren": ["200000001", "200000001"],
            "epci_nom": ["CC Test", "CC Test"],
            "dep": ["60", "60"],
            "reg": ["32", "32"],
            "population": [1000, 2000],
        },
        geometry=[box(X0, Y0, X0 + 5000, Y0 + 10000), box(X0 + 5000, Y0, X0 + 10000, Y0 + 10000)],
        crs=L93,
    )
    epci = gpd.GeoDataFrame(
        {"siren": [], "nom": [], "type": [], "population": [], "n_communes": []},
        geometry=[],
        crs=L93,
    )
    terr = Territory(
        id="test",
        name="Territoire test",
        crs=communes.crs,
        perimeter=box(X0, Y0, X0 + 10000, Y0 + 10000),
        communes=communes,
        epci=epci,
    )
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["A", "B", "C"],
            "name": ["<script>alert(1)</script>", "Site B", "Site C"],
            "area_m2": [250_000.0, 250_000.0, 40_000.0],
            "insee": ["60001", "60002", "60002"],
            "commune": ["Alpha", "Beta", "Beta"],
            "epci_siren": ["200000001"] * 3,
        },
        geometry=[
            box(X0 + 1000, Y0 + 1000, X0 + 1500, Y0 + 1500),
            box(X0 + 6000, Y0 + 6000, X0 + 6500, Y0 + 6500),
            box(X0 + 8000, Y0 + 1000, X0 + 8200, Y0 + 1200),
        ],
        crs=L93,
        index=pd.Index(["A", "B", "C"], name="site"),
    )
    layers = {
        # "Gare Un" 300 m east of A's east edge; "Gare Deux" 500 m north of B's north edge.
        "rail_freight_stations": gpd.GeoDataFrame(
            {"name": ["Gare Un", "Gare Deux"], "source": ["sncf", "sncf"]},
            geometry=[Point(X0 + 1800, Y0 + 1200), Point(X0 + 6200, Y0 + 7000)],
            crs=L93,
        ),
        # 500 m east and 500 m north of A's north-east corner: 707.1 m.
        "ports": gpd.GeoDataFrame(
            {"name": ["Port Test"], "source": ["vnf"]},
            geometry=[Point(X0 + 2000, Y0 + 2000)],
            crs=L93,
        ),
        # 100 m west of A's west edge.
        "substations": gpd.GeoDataFrame(
            {"name": ["Poste X"], "voltage_kv": [63.0], "source": ["rte"]},
            geometry=[Point(X0 + 900, Y0 + 1250)],
            crs=L93,
        ),
        # A siding 150 m east of A (an ITE within 200 m), 4,350 m from B.
        "rail_branches": gpd.GeoDataFrame(
            {"name": ["ITE"], "source": ["osm"]},
            geometry=[LineString([(X0 + 1650, Y0), (X0 + 1650, Y0 + 3000)])],
            crs=L93,
        ),
    }
    profile = profile_from_dict(
        {
            "profile": {"id": "test-profile", "name": "Profil test", "description": "test"},
            "criteria": [
                {
                    "id": "rail_freight",
                    "label": "Gare fret",
                    "measure": "distance",
                    "layer": "rail_freight_stations",
                    "unit": "m",
                    "weight": 2,
                    "transform": {
                        "kind": "linear",
                        "from": 200,
                        "to": 1000,
                        "direction": "decreasing",
                    },
                },
                {
                    "id": "river_port",
                    "label": "Port fluvial",
                    "measure": "distance",
                    "layer": "ports",
                    "unit": "m",
                    "weight": 1,
                    "transform": {
                        "kind": "linear",
                        "from": 500,
                        "to": 10000,
                        "direction": "decreasing",
                    },
                },
            ],
            "exclusions": [
                {
                    "id": "too_small",
                    "label": "Surface trop petite",
                    "measure": "area",
                    "op": "<",
                    "value": 50000,
                }
            ],
        }
    )
    scored = score(sites, layers, profile, top_n=2)
    sens = pd.DataFrame(
        {
            "p_top_n": [0.9, 0.6, 0.0],
            "rank_p05": [1.0, 1.0, np.nan],
            "rank_p95": [2.0, 2.0, np.nan],
        },
        index=scored.index,
    )
    return SitingStudy(
        territory=terr, profile=profile, layers=layers, scored=scored, sensitivity=sens, top_n=2
    )


@pytest.fixture(scope="module")
def study() -> SitingStudy:
    return tiny_study()


def test_tiny_study_is_what_the_tests_assume(study: SitingStudy) -> None:
    s = study.scored
    assert s.loc["A", "rail_freight__raw"] == pytest.approx(300.0)
    assert s.loc["A", "river_port__raw"] == pytest.approx(math.hypot(500, 500))
    assert bool(s.loc["C", "excluded"])
    assert not bool(s.loc["A", "excluded"])
    assert s.loc["A", "rank"] == 1


# --------------------------------------------------------------------------- GeoPackage


def test_geopackage_layers_and_qgis_styles(
    study: SitingStudy, tmp_path: Path, test_data: Path
) -> None:
    path = export_study(study, tmp_path / "etude.gpkg")
    names = [str(n) for n, _ in pyogrio.list_layers(path)]
    feature_layers = [n for n in names if n != "layer_styles"]
    assert {"sites", "territoire", "communes", "site_eco"} <= set(feature_layers)
    assert {"rail_freight_stations", "ports", "substations", "rail_branches"} <= set(names)

    con = sqlite3.connect(path)
    try:
        ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = 'layer_styles'").fetchone()
        rows = con.execute(
            "SELECT f_table_name, f_geometry_column, styleQML, useAsDefault FROM layer_styles"
        ).fetchall()
        geom_cols = dict(
            con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
        )
        contents = con.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'"
        ).fetchone()
    finally:
        con.close()
    # Same table definition as the official CNIG template (written by QGIS).
    template = test_data / "zae" / "cnig_schema_sites_economiques" / "sites_economiques.gpkg"
    con = sqlite3.connect(template)
    try:
        official = con.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'layer_styles'"
        ).fetchone()
    finally:
        con.close()
    assert ddl[0] == official[0]
    assert contents == ("attributes",)
    # One default style per feature layer, on the right geometry column.
    assert sorted(r[0] for r in rows) == sorted(feature_layers)
    for table, geom_col, qml, default in rows:
        assert default == 1
        assert geom_col == geom_cols[table]
        root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
        assert root.tag == "qgis"
        assert root.find("renderer-v2") is not None
    by_table = {r[0]: r[2] for r in rows}
    # Sites: graduated on score; substations: the map's colour (#e08a00 = 224,138,0).
    renderer = ET.fromstring(by_table["sites"].split("\n", 1)[1]).find("renderer-v2")
    assert renderer is not None
    assert renderer.get("type") == "graduatedSymbol"
    assert renderer.get("attr") == SCORE_EXPRESSION
    assert 'value="224,138,0,255"' in by_table["substations"]


def test_geopackage_sites_equal_scored_values(study: SitingStudy, tmp_path: Path) -> None:
    path = export_study(study, tmp_path / "etude.gpkg", with_layers=False)
    assert "rail_branches" not in [str(n) for n, _ in pyogrio.list_layers(path)]
    back = pyogrio.read_dataframe(path, layer="sites").set_index("site_id")
    assert back.crs.to_epsg() == 2154
    s = study.scored.set_index("site_id")
    for col in ("score", "rail_freight__raw", "rail_freight__score", "river_port__contrib"):
        np.testing.assert_allclose(back.loc[s.index, col], s[col].astype(float), rtol=1e-12)
    assert back.loc["A", "rank"] == 1
    assert back.loc["B", "rank"] == 2
    assert pd.isna(back.loc["C", "rank"])
    assert bool(back.loc["C", "excluded"])
    assert back.loc["A", "rail_freight__nearest"] == "Gare Un"
    assert back.loc["A", "p_top_n"] == pytest.approx(0.9)
    assert back.loc["A", "geometry"].area == pytest.approx(250_000.0)


def test_geopackage_carries_the_ranking_rule_and_diagnostics(
    study: SitingStudy, tmp_path: Path
) -> None:
    path = export_study(study, tmp_path / "etude.gpkg", with_layers=False)
    meta = json.loads(pyogrio.read_info(path, layer="sites")["layer_metadata"]["foncier"])
    assert meta["profile"]["id"] == study.profile.id
    assert meta["ranking"].startswith("score décroissant")
    diag = meta["diagnostics"]
    assert diag == ranking_diagnostics(study.scored, top_n=study.top_n).as_dict()
    assert (diag["n_ranked"], diag["n_tied_first"]) == (2, 1)
    back = pyogrio.read_dataframe(path, layer="sites").set_index("site_id")
    assert back["ex_aequo"].tolist() == study.scored.set_index("site_id")["ex_aequo"].tolist()
    np.testing.assert_allclose(back["tiebreak"], study.scored["tiebreak"].to_numpy())


def test_geopackage_write_is_atomic(
    study: SitingStudy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "etude.gpkg"
    target.write_bytes(b"older file")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports, "_write_layer_styles", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_study(study, target)
    assert target.read_bytes() == b"older file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etude.gpkg"]

    fresh = tmp_path / "nouveau.gpkg"
    with pytest.raises(RuntimeError):
        export_study(study, fresh)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etude.gpkg"]


# --------------------------------------------------------------------------- GeoParquet / CSV


def test_geoparquet_round_trip_with_metadata(study: SitingStudy, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = export_study(study, tmp_path / "etude.parquet")
    back = gpd.read_parquet(path)
    assert back.crs.to_epsg() == 2154
    assert list(back["site_id"]) == ["A", "B", "C"]
    np.testing.assert_allclose(back["score"], study.scored["score"].astype(float))
    assert back.geometry.iloc[1].equals(study.scored.geometry.iloc[1])
    meta = json.loads(pq.read_schema(path).metadata[b"foncier"])
    assert meta["profile"] == {"id": "test-profile", "name": "Profil test"}
    assert meta["territory"]["crs"] == "EPSG:2154"
    assert meta["sources"]["rail_freight_stations"]["source"] == ["sncf"]
    assert meta["n_excluded"] == 1
    assert {c["id"] for c in meta["criteria"]} == {"rail_freight", "river_port"}


def test_csv_for_french_spreadsheets(study: SitingStudy, tmp_path: Path) -> None:
    path = export_study(study, tmp_path / "etude.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    header = raw.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("site_id;lon;lat;")
    table = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig").set_index("site_id")
    assert "geometry" not in table.columns
    # Centroid of A by hand, projected with pyproj.
    lon, lat = Transformer.from_crs(2154, 4326, always_xy=True).transform(X0 + 1250, Y0 + 1250)
    assert table.loc["A", "lon"] == pytest.approx(lon, abs=1e-9)
    assert table.loc["A", "lat"] == pytest.approx(lat, abs=1e-9)
    assert table.loc["A", "area_ha"] == pytest.approx(25.0)
    assert table.loc["B", "score"] == pytest.approx(float(study.scored.loc["B", "score"]))
    assert table.loc["A", "name"] == "<script>alert(1)</script>"


def test_unknown_suffix_is_a_clear_error(study: SitingStudy, tmp_path: Path) -> None:
    with pytest.raises(FoncierError, match=r"\.gpkg"):
        export_study(study, tmp_path / "etude.docx")
    assert not (tmp_path / "etude.docx").exists()


def test_xlsx_typed_cells_french_headers_and_profile_sheet(
    study: SitingStudy, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    hostile = tiny_study()
    hostile.scored.loc["B", "name"] = '=HYPERLINK("http://x","clic")'
    path = export_study(hostile, tmp_path / "etude.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["Sites", "Profil et sources"]
    sheet = book["Sites"]
    headers = [c.value for c in sheet[1]]
    rows = {r[0]: dict(zip(headers, r, strict=True)) for r in sheet.iter_rows(2, values_only=True)}
    assert headers[0] == "Identifiant du site"
    assert "Score (0 à 100)" in headers
    assert "Gare fret – valeur mesurée (m)" in headers
    a = rows["A"]
    assert a["Gare fret – valeur mesurée (m)"] == pytest.approx(300.0)
    assert isinstance(a["Score (0 à 100)"], float)
    assert a["Rang"] == 1
    assert a["Exclu"] is False
    assert rows["C"]["Exclu"] is True
    assert rows["C"]["Rang"] is None
    assert a["Surface (ha)"] == pytest.approx(25.0)
    assert a["Code INSEE"] == "60001"  # a code stays text
    # Text that looks like a formula is stored as text, not as a formula.
    cells = {c.value: c for c in sheet["B"] if isinstance(c.value, str)}
    assert cells == {} or all(c.data_type == "s" for c in cells.values())
    name_col = headers.index("Nom") + 1
    b_cell = next(r[name_col - 1] for r in sheet.iter_rows(2) if r[0].value == "B")
    assert b_cell.value == '=HYPERLINK("http://x","clic")'
    assert b_cell.data_type == "s"
    info = {r[0]: r[1] for r in book["Profil et sources"].iter_rows(values_only=True) if r}
    assert info["Profil"] == "Profil test (test-profile)"
    assert info["Territoire"] == "Territoire test (test)"
    assert info["rail_freight_stations"] == "sncf"
    assert info["Gare fret"] == "m"


def test_score_classes_match_mapclassify_quantiles() -> None:
    import mapclassify

    rng = np.random.default_rng(3)
    values = pd.Series(rng.uniform(0, 100, 400))
    classes = score_classes(values, k=5)
    expected = mapclassify.Quantiles(values.to_numpy(), k=5).bins
    np.testing.assert_allclose([hi for _lo, hi, _c in classes], expected)
    assert classes[0][0] == pytest.approx(values.min())
    assert len({c for _lo, _hi, c in classes}) == 5


# --------------------------------------------------------------------------- CNIG site_eco


def test_cnig_table_distances_names_and_validation(study: SitingStudy) -> None:
    table = cnig_site_table(study)
    a = table.loc["A"]
    assert a["gare_fret_nom"] == "Gare Un"
    assert a["gare_fret_dist"] == pytest.approx(0.3)
    assert table.loc["B", "gare_fret_nom"] == "Gare Deux"
    assert table.loc["B", "gare_fret_dist"] == pytest.approx(0.5)
    assert a["port_nom"] == "Port Test"
    assert a["port_dist"] == pytest.approx(0.7)
    assert table.loc["B", "port_dist"] == pytest.approx(5.7)  # hypot(4000, 4000) = 5,657 m
    assert a["reseau_fret_ferroviaire"] == "oui"  # siding 150 m away
    assert table.loc["B", "reseau_fret_ferroviaire"] == "non"
    assert a["reseau_fluvial"] == "non"  # port 707 m away, beyond 500 m
    assert a["autoroute_nom"] is None
    assert pd.isna(a["autoroute_echang_dist"])
    assert a["site_surf_brute"] == pytest.approx(25.0)
    assert a["site_comm_insee"] == "60001"
    assert a["site_epci_nom"] == "CC Test"
    assert a["site_id"] == "60001_SITE-ECO_00001"
    assert table.loc["B", "site_id"] == "60002_SITE-ECO_00001"
    assert table.loc["C", "site_id"] == "60002_SITE-ECO_00002"  # excluded: numbered last
    assert a["source_site_id"] == "A"
    assert table.crs.to_epsg() == 2154
    assert table.attrs["cnig_validation"] == {
        "rows": 3,
        "valid_rows": 3,
        "errors": 0,
        "fields": {},
    }
    assert validate_sites_economiques({"site_eco": table}).valid


def test_cnig_table_for_other_sites_in_another_crs(study: SitingStudy) -> None:
    zae = gpd.GeoDataFrame(
        {"site_nom": ["ZA des Tests"]},
        geometry=[box(X0 + 6000, Y0 + 7100, X0 + 6400, Y0 + 7300)],  # 100 m north of Gare Deux
        crs=L93,
    ).to_crs(4326)
    table = cnig_site_table(study, sites=zae)
    row = table.iloc[0]
    assert table.crs.to_epsg() == 2154
    assert row["site_nom"] == "ZA des Tests"
    assert row["gare_fret_nom"] == "Gare Deux"
    assert row["gare_fret_dist"] == pytest.approx(0.1)
    assert row["site_comm_insee"] == "60002"
    assert row["site_surf_brute"] == pytest.approx(8.0, abs=0.01)
    assert pd.isna(row["site_description"])  # not a scored site


def test_real_preset_site_next_to_longueil_freight_station(test_data: Path) -> None:
    from foncier.pipeline import siting_study

    gares = gpd.read_file(test_data / "infrastructure" / "sncf_liste_des_gares_france.geojson")
    station = gares[(gares["libelle"] == "Longueil-Ste-Marie") & (gares["fret"] == "O")].iloc[0]
    x, y = float(station["x_l93"]), float(station["y_l93"])
    # A 200 m square whose west edge is 400 m east of the station.
    sites = gpd.GeoDataFrame(
        {"site_id": ["L1"]}, geometry=[box(x + 400, y - 100, x + 600, y + 100)], crs=L93
    )
    study = siting_study("grand-compiegnois", sites=sites, draws=0)
    table = cnig_site_table(study)
    row = table.iloc[0]
    assert row["gare_fret_nom"] == "Longueil-Ste-Marie"
    assert row["gare_fret_dist"] == pytest.approx(0.4)
    assert row["site_comm_insee"] == "60369"  # Longueil-Sainte-Marie
    assert row["site_epci_siren"] in {"200067965", "246000749", "246000897", "246000772"}
    assert table.attrs["cnig_validation"]["valid_rows"] == 1

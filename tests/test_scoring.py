"""score / rank / breakdown on hand-made sites and layers with hand-computed values."""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from foncier.engine.profiles import load_profile, profile_from_dict
from foncier.engine.scoring import breakdown, measure_criteria, rank, score, score_from_raw
from layers.errors import CRSError, ProfileError, SchemaError
from layers.raster import Raster

L93 = "EPSG:2154"


def sq(x, y, s=100.0):
    return shapely.box(x, y, x + s, y + s)


def rail_criterion(**kw):
    c = {
        "id": "rail",
        "label": "Gare fret",
        "measure": "distance",
        "layer": "rail_freight_stations",
        "transform": {"kind": "linear", "from": 0, "to": 10000, "direction": "decreasing"},
        "weight": 3,
    }
    c.update(kw)
    return c


POWER = {
    "id": "power",
    "label": "Poste 225 kV",
    "measure": "distance",
    "layer": "substations",
    "filter": {"column": "voltage_kv", "op": ">=", "value": 225},
    "transform": {"kind": "linear", "from": 0, "to": 10000, "direction": "decreasing"},
    "weight": 1,
}


def make_profile(criteria, exclusions=(), **head):
    return profile_from_dict(
        {
            "profile": {"id": "test", "name": "Test", **head},
            "criteria": list(criteria),
            "exclusions": list(exclusions),
        }
    )


@pytest.fixture
def sites():
    # Three 100 m squares on the x axis, 1 km, 3 km and 6 km east of the station at (0, 50).
    return gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]},
        geometry=[sq(1000, 0), sq(3000, 0), sq(6000, 0)],
        index=pd.Index(["A", "B", "C"], name="site"),
        crs=L93,
    )


@pytest.fixture
def station():
    return gpd.GeoDataFrame(
        {"name": ["Longueil-Sainte-Marie"]}, geometry=[shapely.Point(0, 50)], crs=L93
    )


@pytest.fixture
def substations():
    return gpd.GeoDataFrame(
        {"name": ["P400", "P63"], "voltage_kv": [400, 63]},
        geometry=[shapely.Point(6050, 500), shapely.Point(1050, 120)],
        crs=L93,
    )


def test_distances_scores_and_ranks_by_hand(sites, station):
    prof = make_profile([rail_criterion()])
    out = score(sites, {"rail_freight_stations": station}, prof)
    np.testing.assert_allclose(out["rail__raw"], [1000, 3000, 6000])
    np.testing.assert_allclose(out["rail__score"], [0.9, 0.7, 0.4])
    np.testing.assert_allclose(out["score"], [90, 70, 40])
    assert out["rank"].tolist() == [1, 2, 3]
    assert out["rail__nearest"].tolist() == ["Longueil-Sainte-Marie"] * 3
    assert out.loc["A", "why"] == "Gare fret à 1,0 km (Longueil-Sainte-Marie)"
    assert out.index.equals(sites.index)
    assert out["name"].tolist() == ["a", "b", "c"]  # the sites' columns are kept
    assert out.crs == sites.crs


def test_two_criteria_weighted_sum_with_filter(sites, station, substations):
    prof = make_profile([rail_criterion(), POWER])
    out = score(sites, {"rail_freight_stations": station, "substations": substations}, prof)
    # The 63 kV substation is filtered out: every site measures to the 400 kV one at (6050, 500).
    d_power = [math.hypot(6050 - 1100, 400), math.hypot(6050 - 3100, 400), 400.0]
    np.testing.assert_allclose(out["power__raw"], d_power)
    assert out["power__nearest"].tolist() == ["P400"] * 3
    s_rail = np.array([0.9, 0.7, 0.4])
    s_power = 1 - np.array(d_power) / 10000
    expected = 0.75 * s_rail + 0.25 * s_power
    np.testing.assert_allclose(out["score"], 100 * expected)
    np.testing.assert_allclose(out["rail__weight"], 0.75)
    np.testing.assert_allclose(out["rail__contrib"] + out["power__contrib"], expected)
    assert out["rank"].tolist() == list(pd.Series(-expected).rank(method="min").astype(int))
    meta = out.attrs["foncier"]
    assert meta["profile"] == "test"
    assert [c["id"] for c in meta["criteria"]] == ["rail", "power"]
    assert meta["criteria"][1]["filter"] == ["voltage_kv >= 225"]
    assert meta["criteria_skipped"] == []


def test_exclusions_with_reasons(sites, station):
    flood = gpd.GeoDataFrame(geometry=[shapely.box(3000, 0, 3063, 100)], crs=L93)  # 63 % of B
    housing = gpd.GeoDataFrame(geometry=[sq(6250, 0)], crs=L93)  # 150 m from C
    prof = make_profile(
        [rail_criterion()],
        [
            {
                "id": "flood",
                "label": "En zone inondable",
                "measure": "overlap_share",
                "layer": "flood_zones",
                "op": ">",
                "value": 0.2,
            },
            {
                "id": "housing",
                "label": "Trop près de l'habitat",
                "measure": "distance",
                "layer": "housing",
                "op": "<",
                "value": 500,
            },
            {
                "id": "small",
                "label": "Surface trop petite",
                "measure": "area",
                "op": "<",
                "value": 20000,
            },
        ],
    )
    layers = {"rail_freight_stations": station, "flood_zones": flood, "housing": housing}
    out = score(sites, layers, prof)
    assert out["excluded"].tolist() == [True, True, True]  # every 1 ha site is too small
    assert out.loc["B", "exclusion_reasons"] == (
        "En zone inondable (63 % de la surface); Surface trop petite (1,0 ha)"
    )
    assert out.loc["C", "exclusion_reasons"].startswith("Trop près de l'habitat (150 m)")
    assert out["rank"].isna().all()
    # Without the area rule only B and C go; A ranks first, scores are kept for all.
    prof2 = make_profile([rail_criterion()], prof_exclusions(prof)[:2])
    out2 = score(sites, layers, prof2)
    assert out2["excluded"].tolist() == [False, True, True]
    assert out2.loc["A", "exclusion_reasons"] == ""
    assert out2["rank"].tolist()[0] == 1
    assert out2["rank"].isna().tolist() == [False, True, True]
    np.testing.assert_allclose(out2["score"], [90, 70, 40])


def prof_exclusions(prof):
    return [
        {
            "id": e.id,
            "label": e.label,
            "measure": e.measure,
            "layer": e.layer,
            "op": e.op,
            "value": e.value,
        }
        for e in prof.exclusions
    ]


def test_missing_layer_skipped_and_weights_renormalised(sites, station, caplog):
    prof = make_profile(
        [rail_criterion(weight=3), POWER],
        [
            {
                "id": "flood",
                "label": "En zone inondable",
                "measure": "overlap_share",
                "layer": "flood_zones",
                "op": ">",
                "value": 0.2,
            }
        ],
    )
    with caplog.at_level(logging.WARNING, logger="foncier"):
        out = score(sites, {"rail_freight_stations": station, "substations": None}, prof)
    assert "power__score" not in out.columns
    np.testing.assert_allclose(out["rail__weight"], 1.0)
    np.testing.assert_allclose(out["score"], [90, 70, 40])
    meta = out.attrs["foncier"]
    assert [s["id"] for s in meta["criteria_skipped"]] == ["power"]
    assert [s["id"] for s in meta["exclusions_skipped"]] == ["flood"]
    assert "Poste 225 kV : couche substations non disponible" in meta["skipped"]
    assert "layer 'substations' not available" in caplog.text


def test_empty_layer_is_not_missing(sites, station, substations, caplog):
    prof = make_profile([rail_criterion(), POWER])
    only_63 = substations[substations["voltage_kv"] < 100]  # nothing passes the filter
    with caplog.at_level(logging.WARNING, logger="foncier"):
        out = score(sites, {"rail_freight_stations": station, "substations": only_63}, prof)
    assert np.isinf(out["power__raw"]).all()
    np.testing.assert_allclose(out["power__score"], 0.0)
    np.testing.assert_allclose(out["score"], 75 * np.array([0.9, 0.7, 0.4]))
    assert out.attrs["foncier"]["criteria_skipped"] == []
    assert "no feature matching voltage_kv >= 225" in caplog.text


def test_all_layers_missing_is_an_error(sites):
    with pytest.raises(ProfileError, match="none of the criteria"):
        score(sites, {}, make_profile([rail_criterion()]))


def test_crs_problems(sites, station):
    prof = make_profile([rail_criterion()])
    with pytest.raises(CRSError, match="reproject"):
        score(sites, {"rail_freight_stations": station.to_crs(3857)}, prof)
    with pytest.raises(CRSError, match="geographic"):
        score(sites.to_crs(4326), {"rail_freight_stations": station.to_crs(4326)}, prof)
    with pytest.raises(CRSError, match="no CRS"):
        score(sites.set_crs(None, allow_override=True), {"rail_freight_stations": station}, prof)


def test_bad_inputs(sites, station):
    prof = make_profile([rail_criterion()])
    dup = sites.set_axis(["A", "A", "B"])
    with pytest.raises(SchemaError, match="duplicates"):
        score(dup, {"rail_freight_stations": station}, prof)
    with pytest.raises(SchemaError, match="must be a GeoDataFrame"):
        score(pd.DataFrame({"x": [1]}), {"rail_freight_stations": station}, prof)
    prof_filter = make_profile(
        [rail_criterion(filter={"column": "kind", "op": "==", "value": "x"})]
    )
    with pytest.raises(SchemaError, match="no column 'kind'"):
        score(sites, {"rail_freight_stations": station}, prof_filter)


def test_labour_pool_counts_communes_by_centroid(sites, station):
    # Commune centroids at 5 km (pop 1000) and 30 km (pop 50000) from site A's centre.
    communes = gpd.GeoDataFrame(
        {"population": [1000, 50000]},
        geometry=[sq(1050 - 500, 5050 - 500, 1000), sq(1050 - 500, 30050 - 500, 1000)],
        crs=L93,
    )
    labour = {
        "id": "labour",
        "label": "Population à 20 km",
        "measure": "sum_within",
        "layer": "communes",
        "column": "population",
        "radius_m": 20000,
        "unit": "hab.",
        "transform": {"kind": "linear", "from": 0, "to": 10000},
        "weight": 1,
    }
    out = score(sites, {"communes": communes}, make_profile([labour]))
    np.testing.assert_allclose(out["labour__raw"], [1000, 1000, 1000])
    np.testing.assert_allclose(out["labour__score"], 0.1)
    assert out.loc["A", "why"] == "Population à 20 km : 1\u202f000 hab."


def test_slope_raster_exclusion_and_criterion(sites):
    # 100 m pixels over x 0..8000, y -500..500: slope 2 degrees west of x = 5000, 10 east.
    arr = np.where(np.arange(80)[None, :] < 50, 2.0, 10.0).repeat(10, axis=0)
    slope = Raster(
        arr, Affine(100, 0, 0, 0, -100, 500), CRS.from_user_input(L93), "slope", "degrees"
    )
    prof = make_profile(
        [
            {
                "id": "flat",
                "label": "Pente moyenne",
                "measure": "zonal_mean",
                "layer": "slope",
                "unit": "degrés",
                "transform": {"kind": "linear", "from": 1, "to": 5, "direction": "decreasing"},
                "weight": 1,
            }
        ],
        [
            {
                "id": "steep",
                "label": "Pente trop forte",
                "measure": "zonal_mean",
                "layer": "slope",
                "unit": "degrés",
                "op": ">",
                "value": 5,
            }
        ],
    )
    out = score(sites, {"slope": slope}, prof)
    np.testing.assert_allclose(out["flat__raw"], [2, 2, 10])
    np.testing.assert_allclose(out["flat__score"], [0.75, 0.75, 0.0])
    assert out["excluded"].tolist() == [False, False, True]
    assert out.loc["C", "exclusion_reasons"] == "Pente trop forte (10,0°)"
    # Equal raw values, equal scores: the id decides, and both are flagged ex aequo.
    assert out["rank"].tolist()[:2] == [1, 2]
    assert out["ex_aequo"].tolist() == [True, True, False]


def test_owa_contributions_add_up(sites, station, substations):
    prof = make_profile([rail_criterion(), POWER], aggregation="owa", owa_weights=[0.8, 0.2])
    out = score(sites, {"rail_freight_stations": station, "substations": substations}, prof)
    total = out["rail__contrib"] + out["power__contrib"]
    np.testing.assert_allclose(100 * total, out["score"])
    # Site C: rail 0.4 (u=.75), power 0.96 (u=.25, best) -> (.25*.8*.96 + .75*.2*.4) / (.2+.15)
    expected_c = (0.25 * 0.8 * 0.96 + 0.75 * 0.2 * 0.4) / (0.25 * 0.8 + 0.75 * 0.2)
    assert out.loc["C", "score"] == pytest.approx(100 * expected_c)


def test_min_contiguous_area():
    # A block of four touching 100 m cells (4 ha) and one isolated cell (1 ha).
    cells = [sq(0, 0), sq(100, 0), sq(0, 100), sq(100, 100), sq(1000, 1000)]
    sites = gpd.GeoDataFrame(geometry=cells, crs=L93)
    station = gpd.GeoDataFrame({"name": ["g"]}, geometry=[shapely.Point(0, 0)], crs=L93)
    prof = make_profile([rail_criterion()], min_contiguous_area_m2=30000)
    out = score(sites, {"rail_freight_stations": station}, prof)
    assert out["excluded"].tolist() == [False, False, False, False, True]
    assert out.loc[4, "exclusion_reasons"] == "Ensemble contigu trop petit (1,0 ha < 3,0 ha)"


def test_rank_and_breakdown(sites, station, substations):
    prof = make_profile([rail_criterion(), POWER])
    out = score(
        sites, {"rail_freight_stations": station, "substations": substations}, prof, top_n=1
    )
    ranked = rank(out)
    assert ranked["rank"].tolist() == sorted(out["rank"].tolist())
    assert len(rank(out, top_n=1)) == 1
    best = ranked.index[0]
    assert out.loc[best, "why"] != ""
    assert (out.loc[out["rank"] > 1, "why"] == "").all()
    b = breakdown(out, "C")
    assert b["criterion"].tolist() == ["rail", "power"]
    assert b.loc[1, "raw_text"] == "400 m"
    assert b.loc[1, "nearest"] == "P400"
    assert b["contribution"].sum() == pytest.approx(out.loc["C", "score"] / 100)
    assert b.attrs["rank"] == out.loc["C", "rank"]
    with pytest.raises(KeyError):
        breakdown(out, "Z")


def test_score_from_raw_reuses_measures(sites, station, substations):
    layers = {"rail_freight_stations": station, "substations": substations}
    prof = make_profile([rail_criterion(), POWER])
    raw = measure_criteria(sites, layers, prof)
    heavier = prof.with_weights({"power": 3})  # rail 0.75, power 3 -> 0.2 / 0.8
    table = score_from_raw(raw, heavier)
    np.testing.assert_allclose(table["power__weight"], 0.8)
    np.testing.assert_allclose(
        table["score"], 100 * (0.2 * table["rail__score"] + 0.8 * table["power__score"])
    )


def test_shipped_profile_on_embedded_like_layers(sites, station, substations):
    # Offline case: only stations, substations, named ports and communes exist.
    ports = gpd.GeoDataFrame(
        {"name": ["Port de Longueil"], "kind": ["port"]},
        geometry=[shapely.Point(3050, 2000)],
        crs=L93,
    )
    communes = gpd.GeoDataFrame({"population": [40000]}, geometry=[sq(0, 0, 2000)], crs=L93)
    layers = {
        "rail_freight_stations": station,
        "substations": substations,
        "ports": ports,
        "communes": communes,
    }
    out = score(
        sites.assign(geometry=[sq(0, 0, 200), sq(3000, 0, 200), sq(6000, 0, 200)]),
        layers,
        "logistique-multimodale",
    )
    meta = out.attrs["foncier"]
    assert [s["layer"] for s in meta["criteria_skipped"]] == ["motorway_junctions"]
    p = load_profile("logistique-multimodale")
    w = p.weights
    kept = w.drop("motorway")
    np.testing.assert_allclose(
        out["rail_freight__weight"].iloc[0], kept["rail_freight"] / kept.sum()
    )
    assert out.loc["B", "river_port__nearest"] == "Port de Longueil"
    # The 200 m sites (4 ha) are smaller than 5 ha: all excluded by the area rule.
    assert out["excluded"].all()
    assert meta["ahp"]["consistency_ratio"] < 0.1


def test_why_for_a_criterion_where_far_is_good(sites):
    housing = gpd.GeoDataFrame({"name": ["Lotissement"]}, geometry=[sq(0, 0)], crs=L93)
    far = {
        "id": "far",
        "label": "Distance à l'habitat",
        "measure": "distance",
        "layer": "housing",
        "transform": {"kind": "linear", "from": 500, "to": 2000},
        "weight": 1,
    }
    out = score(sites, {"housing": housing}, make_profile([far]))
    # C is 5 900 m from the housing polygon (6000 - 100): the best and its line says so.
    assert out.loc["C", "rank"] == 1
    assert out.loc["C", "why"] == "Distance à l'habitat : 5,9 km (Lotissement)"


def test_outside_the_territory_exclusion(sites, station):
    # The territory stops at x = 3020: B has 20 % of its area inside, C none.
    outline = gpd.GeoDataFrame(geometry=[shapely.box(-5000, -5000, 3020, 5000)], crs=L93)
    prof = make_profile(
        [rail_criterion()],
        [
            {
                "id": "outside",
                "label": "Hors du territoire",
                "measure": "overlap_share",
                "layer": "territory",
                "op": "<",
                "value": 0.5,
            }
        ],
    )
    out = score(sites, {"rail_freight_stations": station, "territory": outline}, prof)
    assert out["excluded"].tolist() == [False, True, True]
    assert out.loc["B", "exclusion_reasons"] == "Hors du territoire (20 % de la surface)"
    assert out.loc["C", "exclusion_reasons"] == "Hors du territoire (0 % de la surface)"


def test_real_rte_substations_match_geodesic_distances(test_data):
    # RTE substations (ODRE open data). A 2 m site at Compiègne town hall (2.8265 E, 49.4173 N):
    # its nearest 225 kV substation is the COMPIEGNE one; the Lambert-93 distance must agree
    # with the geodesic distance computed by pyproj on the ellipsoid (scale error < 0.1 %).
    from pyproj import Geod

    rte = gpd.read_file(test_data / "infrastructure" / "rte_postes_electriques_france.geojson")
    rte["voltage_kv"] = pd.to_numeric(rte["tension"].str.extract(r"(\d+)")[0])
    rte = rte.rename(columns={"nom_poste": "name"}).to_crs(L93)
    lon, lat = 2.8265, 49.4173
    centre = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(L93).iloc[0]
    site = gpd.GeoDataFrame(geometry=[centre.buffer(1, cap_style="square")], crs=L93)
    prof = make_profile([POWER])
    out = score(site, {"substations": rte}, prof)
    assert out.loc[0, "power__nearest"] == "COMPIEGNE"
    post = rte.loc[rte["name"] == "COMPIEGNE"].to_crs(4326).geometry.iloc[0]
    _, _, geodesic = Geod(ellps="GRS80").inv(lon, lat, post.x, post.y)
    assert out.loc[0, "power__raw"] == pytest.approx(geodesic, rel=1e-3, abs=3)
    assert out.loc[0, "power__score"] == pytest.approx(1 - out.loc[0, "power__raw"] / 10000)


def test_feature_located_at_its_commune_is_measured_to_the_commune_area(sites):
    # A port known only by its commune is that commune's area: the distance is 0 for a site
    # in it (read "dans la commune de …", not "à 0 m") and the distance to the area, a lower
    # bound, for a site outside; every text shown (why, breakdown) names the commune.
    commune = shapely.box(400, -1000, 2400, 1000)
    ports = gpd.GeoDataFrame(
        {
            "name": ["Port A", "Port B"],
            "precision": ["commune", "point"],
            "communes": ["Longueil-Sainte-Marie", None],
        },
        geometry=[commune, shapely.Point(6100, 100)],
        crs=L93,
    )
    profile = {
        "profile": {"id": "p", "name": "P"},
        "criteria": [
            {
                "id": "port",
                "label": "Port",
                "measure": "distance",
                "layer": "ports",
                "transform": {"kind": "linear", "from": 0, "to": 10000, "direction": "decreasing"},
                "weight": 1,
            }
        ],
    }
    geoms = [sq(0, 0, 200), sq(1000, 0, 200), sq(6000, 0, 200)]
    out = score(sites.assign(geometry=geoms), {"ports": ports}, profile_from_dict(profile))
    note = " (commune de Longueil-Sainte-Marie, position exacte inconnue)"
    assert out["port__nearest"].tolist() == ["Port A" + note, "Port A" + note, "Port B"]
    # 400 - 200 m by hand; plain shapely agrees; the site in the commune reads 0.
    assert out["port__raw"].tolist() == pytest.approx([200.0, 0.0, 0.0])
    assert out.loc["A", "port__raw"] == pytest.approx(shapely.distance(geoms[0], commune))
    assert out.loc["A", "why"] == (
        "Port à 200 m de la commune de Longueil-Sainte-Marie (position exacte inconnue) (Port A)"
    )
    assert out.loc["B", "why"] == (
        "Port : dans la commune de Longueil-Sainte-Marie, position exacte inconnue (Port A)"
    )
    assert out.loc["C", "why"] == "Port à 0 m (Port B)"
    table = breakdown(out, "B")
    assert table["raw_text"].tolist() == [
        "dans la commune de Longueil-Sainte-Marie, position exacte inconnue"
    ]

"""Layers whose offline data is known to be incomplete: 'partial' coverage, honest skips.

The embedded motorway layer holds the tolled interchanges of the conceded network only, and
the embedded waterways miss the lower Seine and Dunkerque's port canals: where such a layer
has nothing within a criterion's reach, the criterion is "non couvert hors ligne", not
"nothing near".
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from foncier.engine.nearest import nearest_by_site
from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import criterion_reach_m, score
from layers.catalog import available_layers, load_layer
from layers.infrastructure import COVERAGE_ATTR
from layers.registry import FRANCE, LAYERS, TOLL_NETWORK, WATERWAYS, Coverage
from layers.territories import Territory, territory

L93 = "EPSG:2154"
NOTE = "le plus proche des échangeurs à péage"
GAPS = "échangeurs à péage seulement"


def _criterion(cid: str, layer: str, to: float, **extra):
    return {
        "id": cid,
        "label": cid.capitalize(),
        "measure": "distance",
        "layer": layer,
        "weight": 1,
        "transform": {"kind": "linear", "from": 1000, "to": to, "direction": "decreasing"},
        **extra,
    }


PROFILE = profile_from_dict(
    {
        "profile": {"id": "t", "name": "t"},
        "criteria": [
            _criterion("motorway", "motorway_junctions", 15000),
            _criterion("rail", "rail_freight_stations", 20000),
        ],
    }
)


def _layers(junction_x: float) -> dict[str, gpd.GeoDataFrame]:
    """A territory 2 km wide at the origin, one tolled junction at x, one station at 5 km."""
    perimeter = shapely.box(0, 0, 2000, 2000)
    junctions = gpd.GeoDataFrame(
        {"name": ["Entree"], "ref": ["A84"]}, geometry=[shapely.Point(junction_x, 1000)], crs=L93
    )
    junctions.attrs[COVERAGE_ATTR] = {
        "covered": True,
        "coverage": "échangeurs à péage",
        "gaps": GAPS,
        "nearest_note": NOTE,
        "perimeter": perimeter,
    }
    stations = gpd.GeoDataFrame({"name": ["Gare"]}, geometry=[shapely.Point(7000, 1000)], crs=L93)
    return {"motorway_junctions": junctions, "rail_freight_stations": stations}


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(1900, 900, 2000, 1000)], crs=L93
    )


def test_reach_of_a_linear_criterion_by_hand():
    # score(d) = (15000 - d) / 14000 stays above 0.01 until d = 15000 - 140 = 14860 m.
    crit = PROFILE.criteria[0]
    assert criterion_reach_m(crit) == pytest.approx(14_860.0, abs=10.0)


def test_nothing_in_reach_of_an_incomplete_layer_is_skipped_and_weights_renormalised():
    # The junction is 16 km east of the territory's edge: beyond the 14.86 km reach.
    scored = score(_sites(), _layers(2000 + 16_000), PROFILE)
    meta = scored.attrs["foncier"]
    assert [s["id"] for s in meta["criteria_skipped"]] == ["motorway"]
    assert meta["criteria_skipped"][0]["reason"] == f"non couvert hors ligne ({GAPS})"
    assert meta["skipped"] == [f"Motorway : non couvert hors ligne ({GAPS})"]
    assert "motorway__raw" not in scored.columns
    # Only the rail criterion counts: the score is the rail score, not half of it.
    assert np.allclose(scored["score"], 100 * scored["rail__score"])


def test_a_tolled_junction_in_reach_is_scored_and_named_as_such():
    scored = score(_sites(), _layers(2000 + 10_000), PROFILE)
    assert scored.attrs["foncier"]["criteria_skipped"] == []
    # Distances by hand: from the first site's corner (100, 100) and the second's east edge.
    assert scored["motorway__raw"].tolist() == pytest.approx([math.hypot(11_900, 900), 10_000.0])
    assert scored["motorway__nearest"].tolist() == [f"Entree, {NOTE}"] * 2
    best = scored["rank"].idxmin()
    assert f"à 10,0 km (Entree, {NOTE})" in scored.loc[best, "why"]


def test_complete_layers_still_read_nothing_near():
    # Without known gaps, a far feature is a true "nothing near": scored 0, not skipped.
    layers = _layers(2000 + 16_000)
    layers["motorway_junctions"].attrs[COVERAGE_ATTR] = {"covered": True, "gaps": ""}
    scored = score(_sites(), layers, PROFILE)
    assert scored.attrs["foncier"]["criteria_skipped"] == []
    assert (scored["motorway__score"] == 0).all()


def test_nearest_by_site_carries_the_note_for_exports_and_sheets():
    near = nearest_by_site(_sites(), _layers(12_000), {"motorway": ("motorway_junctions",)})[
        "motorway"
    ]
    assert near["nearest_name"].tolist() == [f"Entree (A84), {NOTE}"] * 2
    assert near["distance_m"].tolist() == pytest.approx([math.hypot(11_900, 900), 10_000.0])


def _territory_in(dep: str) -> Territory:
    perimeter = shapely.box(0, 0, 1000, 1000)
    communes = gpd.GeoDataFrame(
        {"insee": [f"{dep}001"], "nom": ["X"], "dep": [dep], "population": [1]},
        geometry=[perimeter],
        crs=L93,
    )
    base = Territory.from_perimeter(perimeter, crs=L93)
    return Territory(
        id="t", name="t", crs=L93, perimeter=perimeter, communes=communes, epci=base.epci
    )


def test_coverage_status_with_gaps():
    brittany, seine_maritime, oise = (_territory_in(d) for d in ("35", "76", "60"))
    assert TOLL_NETWORK.status(brittany) == "partial"
    assert TOLL_NETWORK.gaps_for(brittany).startswith(GAPS)
    assert TOLL_NETWORK.status(_territory_in("974")) == "none"
    assert TOLL_NETWORK.gaps_for(_territory_in("974")) == ""
    assert WATERWAYS.status(seine_maritime) == "partial"
    assert "Le Havre" in WATERWAYS.gaps_for(seine_maritime)
    assert WATERWAYS.status(oise) == "full"
    assert WATERWAYS.gaps_for(oise) == ""
    assert FRANCE.status(brittany) == "full"
    some = Coverage("x", gaps="y", gaps_in=frozenset({"59"}))
    assert some.has_gaps("59")
    assert not some.has_gaps("60")
    assert LAYERS["motorway_junctions"].coverage is TOLL_NETWORK
    assert LAYERS["waterways"].coverage is WATERWAYS


# ------------------------------------------------------ real EPCIs, embedded data only


def test_brittany_epci_offline_motorway_is_not_nothing_near():
    # CC Roche aux Fées (Ille-et-Vilaine): Brittany's expressways are free, so the embedded
    # tolled interchanges have none within 30 km; offline this is not "nothing near".
    t = territory("243500634")
    junctions = load_layer(t, "motorway_junctions", source="embedded")
    assert len(junctions) == 0
    assert junctions.attrs[COVERAGE_ATTR]["gaps"].startswith(GAPS)
    stations = load_layer(t, "rail_freight_stations", source="embedded")
    x0, y0, x1, y1 = t.perimeter.bounds
    sites = gpd.GeoDataFrame(
        geometry=[shapely.Point((x0 + x1) / 2, (y0 + y1) / 2).buffer(100)], crs=t.crs
    )
    scored = score(
        sites, {"motorway_junctions": junctions, "rail_freight_stations": stations}, PROFILE
    )
    reasons = {s["id"]: s["reason"] for s in scored.attrs["foncier"]["criteria_skipped"]}
    assert reasons == {"motorway": f"non couvert hors ligne ({TOLL_NETWORK.gaps})"}
    row = available_layers(t).set_index("layer").loc["motorway_junctions"]
    assert row["covered"] == "partial"
    assert row["covered_online"] == "full"
    assert row["gaps"] == TOLL_NETWORK.gaps


def test_le_havre_and_dunkerque_waterways_are_partial():
    # CU Le Havre Seine Métropole: the embedded selection has no waterway within 30 km (the
    # Seine stops upstream of Rouen); CU de Dunkerque: only the Aa and the Calais canal, none
    # of the port canals. Both are "partial", with the gap said.
    havre = territory("200084952")
    ways = load_layer(havre, "waterways", source="embedded")
    assert len(ways) == 0
    assert "Le Havre" in ways.attrs[COVERAGE_ATTR]["gaps"]
    dunkerque = territory("245900428")
    ways = load_layer(dunkerque, "waterways", source="embedded")
    assert "Dunkerque" in ways.attrs[COVERAGE_ATTR]["gaps"]
    names = set(ways["name"].dropna())
    assert not any("Bourbourg" in n or "Bergues" in n or "Colme" in n for n in names)
    inside = ways[ways.intersects(dunkerque.perimeter)]
    assert set(inside["name"].dropna()) == {"River Aa"}
    assert ways.attrs[COVERAGE_ATTR]["nearest_note"] == WATERWAYS.nearest_note

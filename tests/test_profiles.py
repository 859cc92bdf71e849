"""Profiles: shipped TOML files, validation messages, layer filters."""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pytest
import shapely

from foncier.engine.profiles import (
    KNOWN_LAYERS,
    LayerFilter,
    format_value,
    list_profiles,
    load_profile,
    profile_from_dict,
)
from layers.errors import ProfileError, SchemaError

SHIPPED = [
    "agroalimentaire",
    "chimie-process",
    "industrie-manufacturiere",
    "logistique-multimodale",
    "materiaux-biosources",
]

GOOD = {
    "profile": {"id": "test", "name": "Test"},
    "criteria": [
        {
            "id": "rail",
            "label": "Gare fret",
            "measure": "distance",
            "layer": "rail_freight_stations",
            "transform": {"kind": "linear", "from": 500, "to": 10000, "direction": "decreasing"},
            "weight": 3,
        },
        {
            "id": "power",
            "label": "Poste 225 kV",
            "measure": "distance",
            "layer": "substations",
            "filter": {"column": "voltage_kv", "op": ">=", "value": 225},
            "transform": {"kind": "linear", "from": 1000, "to": 15000, "direction": "decreasing"},
            "weight": 1,
        },
    ],
    "exclusions": [
        {
            "id": "flood",
            "label": "En zone inondable",
            "measure": "overlap_share",
            "layer": "flood_zones",
            "op": ">",
            "value": 0.2,
        }
    ],
}


def _bad(mutate):
    data = copy.deepcopy(GOOD)
    mutate(data)
    return data


def test_every_shipped_profile_loads_with_weights_summing_to_one():
    listed = list_profiles()
    assert sorted(listed["id"]) == SHIPPED
    for pid in SHIPPED:
        p = load_profile(pid)
        assert p.id == pid
        assert sum(c.weight for c in p.criteria) == pytest.approx(1.0)
        assert p.description
        assert all(c.layer in KNOWN_LAYERS for c in p.criteria if c.layer)


def test_list_profiles_shows_criteria_and_weights():
    row = list_profiles().set_index("id").loc["chimie-process"]
    # weights 3, 3, 2, 2, 1 -> 3/11 = 27 %
    assert "Poste 225 kV (27%)" in row["criteria"]
    assert row["weights"]["hv_power"] == pytest.approx(3 / 11, abs=1e-4)


def test_logistics_weights_come_from_ahp_with_low_cr():
    p = load_profile("logistique-multimodale")
    assert p.ahp is not None
    assert p.ahp.consistency_ratio < 0.1
    w = p.weights
    assert w["rail_freight"] == pytest.approx(w["river_port"])
    assert w["rail_freight"] > w["motorway"] > w["labour_pool"]


def test_user_profile_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        """
[profile]
id = "mine"
name = "Mon profil"
aggregation = "weighted_product"

[[criteria]]
id = "rail"
measure = "distance"
layer = "rail_freight_stations"
transform = { kind = "gaussian", center = 2000, width = 1000 }
weight = 2

[[criteria]]
id = "big"
measure = "area"
transform = { kind = "linear", from = 1e4, to = 1e5 }
weight = 2
""",
        encoding="utf-8",
    )
    p = load_profile(path)
    assert p.aggregation == "weighted_product"
    assert [c.weight for c in p.criteria] == [0.5, 0.5]
    assert p.criteria[1].unit == "m²"


def test_unknown_profile_suggests_close_match():
    with pytest.raises(ProfileError, match="Did you mean 'chimie-process'"):
        load_profile("chimie-proces")


def test_invalid_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[profile\nid = 1", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["criteria"][0].update(layer="rail_fret"), "unknown layer 'rail_fret'. Known"),
        (
            lambda d: d["criteria"][0].update(transform={"kind": "lin", "from": 0, "to": 1}),
            "unknown transform kind 'lin'. Known kinds",
        ),
        (lambda d: d["criteria"][0].update(weight=-1), "weight must be a number >= 0"),
        (
            lambda d: d["criteria"][0].update(transform={"kind": "linear", "from": 0}),
            "missing 'to'",
        ),
        (
            lambda d: d["criteria"][0].update(wieght=2),
            "unknown key 'wieght'.*Did you mean 'weight'",
        ),
        (lambda d: d["profile"].update(agregation="owa"), "Did you mean 'aggregation'"),
        (lambda d: d["criteria"][0].update(measure="distanse"), "Did you mean 'distance'"),
        (lambda d: d["criteria"][1].update(id="rail"), "duplicate criterion id"),
        (lambda d: d["criteria"][0].pop("weight"), "have no 'weight'"),
        (lambda d: d["criteria"][0].update(id="Rail Fret"), "lower-case"),
        (lambda d: d["exclusions"][0].update(op="=>"), "'op' must be one of"),
        (lambda d: d["exclusions"][0].pop("value"), "missing 'value'"),
        (
            lambda d: d["criteria"][1].update(
                filter={"column": "voltage_kv", "op": "~", "value": 1}
            ),
            "unknown filter operator",
        ),
        (lambda d: d["criteria"][0].update(radius_m=100), "does not use radius_m"),
        (
            lambda d: d["criteria"][0].update(measure="sum_within"),
            "needs 'radius_m'",
        ),
        (lambda d: d["criteria"].__setitem__(slice(None), []), "at least one"),
        (lambda d: d.pop("profile"), r"missing \[profile\]"),
        (lambda d: d["profile"].update(aggregation="median"), "unknown aggregation"),
        (
            lambda d: d["profile"].update(aggregation="owa", owa_weights=[1, 2, 3]),
            "owa_weights needs 2 numbers",
        ),
        (lambda d: [c.update(weight=0) for c in d["criteria"]], "all weights are zero"),
    ],
)
def test_bad_profiles_raise_clear_errors(mutate, message):
    with pytest.raises(ProfileError, match=message):
        profile_from_dict(_bad(mutate))


def test_ahp_table_and_weight_conflict():
    def with_ahp(d, force=False, matrix=None):
        for c in d["criteria"]:
            c.pop("weight")
        d["ahp"] = {"criteria": ["power", "rail"], "matrix": matrix or [[1, 0.5], [2, 1]]}
        if force:
            d["ahp"]["force"] = True

    p = profile_from_dict(_bad(with_ahp))
    assert p.weights["rail"] == pytest.approx(2 / 3)
    assert p.weights["power"] == pytest.approx(1 / 3)

    def both(d):
        with_ahp(d)
        d["criteria"][0]["weight"] = 1

    with pytest.raises(ProfileError, match="derives weights from"):
        profile_from_dict(_bad(both))

    def wrong_ids(d):
        with_ahp(d)
        d["ahp"]["criteria"] = ["power", "motorway"]

    with pytest.raises(ProfileError, match="must list every criterion id"):
        profile_from_dict(_bad(wrong_ids))


def test_inconsistent_ahp_in_profile_needs_force():
    def three(d, force):
        d["criteria"].append(
            {
                "id": "labour",
                "measure": "sum_within",
                "layer": "communes",
                "column": "population",
                "radius_m": 20000,
                "transform": {"kind": "linear", "from": 0, "to": 1e5},
            }
        )
        for c in d["criteria"]:
            c.pop("weight", None)
        d["ahp"] = {
            "criteria": ["rail", "power", "labour"],
            "matrix": [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]],
            "force": force,
        }

    with pytest.raises(ProfileError, match="force = true"):
        profile_from_dict(_bad(lambda d: three(d, False)))
    p = profile_from_dict(_bad(lambda d: three(d, True)))
    assert p.ahp.consistency_ratio > 0.1


def test_with_weights_renormalises():
    p = profile_from_dict(GOOD).with_weights({"power": 0.75})
    # rail keeps 0.75, power becomes 0.75 -> 0.5 / 0.5
    assert p.weights.tolist() == [0.5, 0.5]
    with pytest.raises(ProfileError, match="no criterion 'motorway'"):
        p.with_weights({"motorway": 1})


def test_layer_filters_select_features():
    subs = gpd.GeoDataFrame(
        {"voltage_kv": [63, 225, 400, None], "kind": ["a", "b", "c", "d"]},
        geometry=[shapely.Point(i, 0) for i in range(4)],
        crs=2154,
    )
    p = profile_from_dict(GOOD)
    kept = p.criteria[1].select(subs)
    assert kept["voltage_kv"].tolist() == [225, 400]
    assert LayerFilter("kind", "in", ("a", "c")).mask(subs).tolist() == [True, False, True, False]
    assert LayerFilter("kind", "!=", "a").mask(subs).tolist() == [False, True, True, True]
    with pytest.raises(SchemaError, match="no column 'tension'"):
        LayerFilter("tension", ">", 1).mask(subs, layer="substations")


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (450.4, "m", "450 m"),
        (1234.0, "m", "1,2 km"),
        (np.inf, "m", "aucun"),
        (0.634, "share", "63 %"),
        (180000, "hab.", "180\u202f000 hab."),
        (25_000, "m²", "2,5 ha"),
        (6.25, "degrés", "6,2°"),
        (True, "bool", "oui"),
        (np.nan, "m", "n.d."),
    ],
)
def test_format_value_french(value, unit, text):
    assert format_value(value, unit) == text

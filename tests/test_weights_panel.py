"""Live weights, the Python side: profiles written as TOML, --weights, the data the page gets."""

from __future__ import annotations

import base64
import json
import re
import tomllib

import geopandas as gpd
import numpy as np
import pytest
import shapely
from test_mapping import X0, Y0, make_territory
from typer.testing import CliRunner

import foncier
from foncier.cli import app
from foncier.engine.profiles import (
    list_profiles,
    load_profile,
    parse_weights,
    profile_from_dict,
    profile_to_toml,
)
from foncier.reports.live_weights import weights_panel_data
from foncier.reports.mapping import siting_map
from layers.errors import ProfileError
from maps.export import render_html

HOSTILE_LABEL = '<img src=x onerror="alert(1)">Gare'


def make_sites(n_side: int = 16) -> gpd.GeoDataFrame:
    cells = [
        shapely.box(X0 + i * 500, Y0 + j * 500, X0 + i * 500 + 480, Y0 + j * 500 + 480)
        for i in range(n_side)
        for j in range(n_side)
    ]
    ids = [f"S{i:04d}" for i in range(len(cells))]
    return gpd.GeoDataFrame({"site_id": ids}, geometry=cells, crs=2154)


def make_layers() -> dict[str, gpd.GeoDataFrame]:
    def points(xy, **cols):
        return gpd.GeoDataFrame(
            cols, geometry=gpd.points_from_xy(*np.asarray(xy, dtype=float).T), crs=2154
        )

    rng = np.random.default_rng(7)
    stations = points([(X0 + 1200, Y0 + 900), (X0 + 6100, Y0 + 7300)], nom=["Gare A", "Gare <B>"])
    ports = points([(X0 + 7900, Y0 + 400)], nom=["Port de l'Oise"])
    subs = points(
        np.c_[rng.uniform(X0, X0 + 8000, 6), rng.uniform(Y0, Y0 + 8000, 6)],
        nom=[f"Poste {i}" for i in range(6)],
        voltage_kv=[63, 225, 90, 400, 63, 225],
    )
    flood = gpd.GeoDataFrame(
        {"nom": ["PPRi"]}, geometry=[shapely.Point(X0 + 3000, Y0 + 5000).buffer(1300)], crs=2154
    )
    return {
        "rail_freight_stations": stations,
        "ports": ports,
        "substations": subs,
        "flood_zones": flood,
        "communes": make_territory(4).communes,
    }


def make_profile(aggregation: str):
    head = {
        "id": f"essai-{aggregation.replace('_', '-')}",
        "name": "Essai",
        "aggregation": aggregation,
    }
    if aggregation == "owa":
        head["owa_weights"] = [0.35, 0.25, 0.2, 0.12, 0.08]
    return profile_from_dict(
        {
            "profile": head,
            "criteria": [
                {
                    "id": "rail",
                    "label": HOSTILE_LABEL,
                    "measure": "distance",
                    "layer": "rail_freight_stations",
                    "transform": {
                        "kind": "linear",
                        "from": 300,
                        "to": 6000,
                        "direction": "decreasing",
                    },
                    "weight": 4,
                },
                {
                    "id": "port",
                    "label": "Port fluvial",
                    "measure": "distance",
                    "layer": "ports",
                    "transform": {
                        "kind": "sigmoid",
                        "midpoint": 4000,
                        "scale": 900,
                        "direction": "decreasing",
                    },
                    "weight": 3,
                },
                {
                    # Steps: many sites share a score, the tie-break has work to do.
                    "id": "power",
                    "label": "Poste 90 kV ou plus",
                    "measure": "distance",
                    "layer": "substations",
                    "filter": {"column": "voltage_kv", "op": ">=", "value": 90},
                    "transform": {
                        "kind": "step",
                        "thresholds": [1500, 3000],
                        "scores": [1, 0.5, 0.1],
                    },
                    "weight": 2,
                },
                {
                    "id": "labour",
                    "label": "Population à 6 km",
                    "measure": "sum_within",
                    "layer": "communes",
                    "column": "population",
                    "radius_m": 6000,
                    "unit": "hab.",
                    "transform": {
                        "kind": "linear",
                        "from": 2000,
                        "to": 12000,
                        "direction": "increasing",
                    },
                    "weight": 1,
                },
                {
                    "id": "motorway",
                    "label": "Échangeur",
                    "measure": "distance",
                    "layer": "motorway_junctions",
                    "transform": {
                        "kind": "linear",
                        "from": 1000,
                        "to": 9000,
                        "direction": "decreasing",
                    },
                    "weight": 2,
                },
            ],
            "exclusions": [
                {
                    "id": "flood",
                    "label": "En zone inondable",
                    "measure": "overlap_share",
                    "layer": "flood_zones",
                    "op": ">",
                    "value": 0.3,
                }
            ],
        }
    )


def _same_profile(a, b) -> None:
    for x, y in zip(a.criteria, b.criteria, strict=True):
        assert (x.id, x.label, x.measure, x.layer, x.unit, x.filters, x.description) == (
            y.id,
            y.label,
            y.measure,
            y.layer,
            y.unit,
            y.filters,
            y.description,
        )
        assert dict(x.params) == dict(y.params)
        assert dict(x.transform) == dict(y.transform)
    assert [vars(e) for e in a.exclusions] == [vars(e) for e in b.exclusions]
    assert (a.id, a.name, a.description, a.aggregation, a.order_weights) == (
        b.id,
        b.name,
        b.description,
        b.aggregation,
        b.order_weights,
    )
    assert a.min_contiguous_area_m2 == b.min_contiguous_area_m2


@pytest.mark.parametrize("pid", list(list_profiles()["id"]))
def test_every_shipped_profile_round_trips_through_toml(pid):
    prof = load_profile(pid)
    back = profile_from_dict(tomllib.loads(profile_to_toml(prof)))
    _same_profile(prof, back)
    # Weights written explicitly (AHP matrices become their weights): same normalised values.
    np.testing.assert_allclose(
        [c.weight for c in back.criteria], [c.weight for c in prof.criteria], rtol=1e-15
    )
    assert back.ahp is None


def test_toml_with_new_weights_and_hostile_text():
    prof = make_profile("owa")
    text = profile_to_toml(prof, weights={"rail": 0, "port": 5}, comment="Première ligne\nSeconde")
    assert text.startswith("# Première ligne\n# Seconde\n[profile]")
    back = profile_from_dict(tomllib.loads(text))
    _same_profile(prof, back)
    assert back.criteria[0].label == HOSTILE_LABEL
    raw = [0, 5, *(c.weight for c in prof.criteria[2:])]
    np.testing.assert_allclose([c.weight for c in back.criteria], np.array(raw) / sum(raw))
    # Quotes, backslashes, new lines and control characters stay text.
    data = {
        "profile": {"id": "x", "name": 'Nom "cité" \\ \x7f', "description": "a\nb\tc"},
        "criteria": [
            {
                "id": "a",
                "label": "l'\u2028é",
                "measure": "area",
                "transform": {"kind": "linear", "from": 0, "to": 1},
                "weight": 1,
            }
        ],
    }
    odd = profile_from_dict(data)
    _same_profile(odd, profile_from_dict(tomllib.loads(profile_to_toml(odd))))
    with pytest.raises(ProfileError, match="no criterion 'rial'"):
        profile_to_toml(prof, weights={"rial": 1})


def test_parse_weights():
    assert parse_weights("rail_freight=0.4, river_port=0.3,labour_pool=2") == {
        "rail_freight": 0.4,
        "river_port": 0.3,
        "labour_pool": 2.0,
    }
    for bad, message in [
        ("", "no weight given"),
        ("rail_freight", "not criterion=number"),
        ("rail_freight=0,4", "decimal comma"),
        ("rail_freight=abc", "not a number"),
        ("rail_freight=-1", ">= 0"),
        ("rail_freight=inf", ">= 0"),
        ("a=1,a=2", "two weights"),
        ("a=1,,b=2", "empty item"),
    ]:
        with pytest.raises(ProfileError, match=message):
            parse_weights(bad)


def test_cli_map_rejects_bad_weights_clearly(tmp_path):
    runner = CliRunner()
    out = tmp_path / "carte.html"
    result = runner.invoke(
        app, ["map", "grand-compiegnois", "-o", str(out), "--weights", "rail_freight=0,4"]
    )
    assert result.exit_code == 3  # bad input (documented exit codes)
    assert "decimal comma" in " ".join(result.output.split())
    result = runner.invoke(
        app, ["map", "grand-compiegnois", "-o", str(out), "--weights", "rail=1", "--draws", "0"]
    )
    assert result.exit_code == 3
    assert "no criterion 'rail'" in " ".join(result.output.split())
    assert "rail_freight" in result.output
    assert not out.exists()


@pytest.fixture(scope="module")
def scored():
    sites, layers = make_sites(8), make_layers()
    return foncier.score(sites, layers, make_profile("weighted_sum")), layers


def test_panel_data_carries_exact_scores_and_the_ranking_keys(scored):
    table, _ = scored
    prof = make_profile("weighted_sum")
    data = weights_panel_data(table, profile=prof, top_n=5)
    assert [c["id"] for c in data["criteria"]] == ["rail", "port", "power", "labour"]
    assert [c["id"] for c in data["all"]] == ["rail", "port", "power", "labour", "motorway"]
    assert data["skipped"][0]["id"] == "motorway"
    for c in data["criteria"]:
        got = np.frombuffer(base64.b64decode(c["scores"]), dtype="<f8")
        assert (got == table[f"{c['id']}__score"].to_numpy()).all()  # every bit
        ties = np.frombuffer(base64.b64decode(c["tiebreak"]), dtype="<f8")
        assert (ties == table[f"{c['id']}__tiebreak"].to_numpy()).all()
    rail = data["criteria"][0]
    idx = np.frombuffer(base64.b64decode(rail["nearest"]["idx"]), dtype="<i4")
    names = [rail["nearest"]["names"][i] for i in idx]
    assert names == table["rail__nearest"].tolist()
    assert rail["distance"]
    assert rail["near_is_good"]
    # Last key of the ranking: site id order.
    order = np.frombuffer(base64.b64decode(data["id_order"]), dtype="<i4")
    assert table["site_id"].to_numpy()[np.argsort(order)].tolist() == sorted(table["site_id"])
    excluded = np.frombuffer(base64.b64decode(data["excluded"]), dtype="u1").astype(bool)
    assert (excluded == table["excluded"].to_numpy()).all()
    assert excluded.any()
    # Initial points: the profile's weights (4, 3, 2, 1, 2 out of 12) in points of 100.
    assert [c["points"] for c in data["all"]] == [33, 25, 17, 8, 17]
    # The TOML template becomes the profile once its weights are filled in.
    toml = data["toml"]
    for j, c in enumerate(data["all"]):
        toml = toml.replace(f"@@weight{j}@@", str(c["points"]))
    _same_profile(prof, profile_from_dict(tomllib.loads(toml)))


def test_siting_map_with_and_without_the_panel(scored):
    table, _ = scored
    terr = make_territory(4)
    page = render_html(siting_map(table, territory=terr, profile=make_profile("weighted_sum")))
    assert 'class="foncier-weights"' in page
    assert page.count('type="range"') == 4  # the skipped criterion has no slider
    # Names stay inert: the label is escaped in the panel and in the page's data.
    assert HOSTILE_LABEL not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Gare" in page
    data = re.search(r"foncierLiveWeights\((\{.*?\}), map,", page, re.S)
    assert data is not None
    assert json.loads(data.group(1))["criteria"][0]["label"] == HOSTILE_LABEL
    # Each site feature knows its row, for the page's script.
    assert '"_r": 0' in page
    plain = render_html(siting_map(table, territory=terr, live_weights=False))
    assert "foncier-weights" not in plain
    assert "foncierLiveWeights(" not in plain


def test_siting_study_scores_with_the_given_weights():
    from foncier.pipeline import siting_study

    study = siting_study(
        "alencon",
        profile="logistique-multimodale",
        sites="hex:4000",
        draws=0,
        weights={"rail_freight": 0, "river_port": 3},
    )
    scored = study.scored
    assert (scored["rail_freight__weight"] == 0).all()
    assert (scored["rail_freight__contrib"] == 0).all()
    # The others keep their profile weight, all normalised over the criteria scored.
    base = load_profile("logistique-multimodale")
    active = [c["id"] for c in scored.attrs["foncier"]["criteria"]]
    raw = {c.id: c.weight for c in base.criteria} | {"rail_freight": 0.0, "river_port": 3.0}
    total = sum(raw[c] for c in active)
    for cid in active:
        assert scored[f"{cid}__weight"].iloc[0] == pytest.approx(raw[cid] / total, rel=1e-12)
    assert study.profile.criterion("river_port").weight > 0.7

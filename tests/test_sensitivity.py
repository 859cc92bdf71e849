"""Monte-Carlo sensitivity and one-at-a-time weight sweeps."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import RawMeasures, score, score_from_raw
from foncier.engine.sensitivity import sensitivity, weight_sweep
from layers.errors import ArgumentError, ProfileError

L93 = "EPSG:2154"
DEC = {"kind": "linear", "from": 0, "to": 10000, "direction": "decreasing"}


def profile(*layers, exclusions=(), aggregation="weighted_sum"):
    return profile_from_dict(
        {
            "profile": {"id": "s", "name": "S", "aggregation": aggregation},
            "criteria": [
                {"id": lay, "measure": "distance", "layer": lay, "transform": DEC, "weight": 1}
                for lay in layers
            ],
            "exclusions": list(exclusions),
        }
    )


def raw_measures(values: dict[str, list[float]], index) -> RawMeasures:
    idx = pd.Index(index)
    return RawMeasures(
        values=pd.DataFrame(values, index=idx),
        nearest=pd.DataFrame(index=idx),
        exclusion_values=pd.DataFrame(index=idx),
        area_m2=pd.Series(1.0, index=idx),
    )


def points(*xy):
    return gpd.GeoDataFrame(
        {"name": [f"p{i}" for i in range(len(xy))]},
        geometry=[shapely.Point(x, y) for x, y in xy],
        crs=L93,
    )


def test_dominant_site_is_always_first():
    sites = gpd.GeoDataFrame(
        geometry=[shapely.box(x, 0, x + 100, 100) for x in (100, 4000, 8000)], crs=L93
    )
    layers = {"rail_freight_stations": points((0, 50)), "substations": points((0, 500))}
    prof = profile("rail_freight_stations", "substations")
    out = sensitivity(sites, layers, prof, n=300, weight_noise=0.5, top_n=1, seed=1)
    assert out["p_top_n"].tolist() == [1.0, 0.0, 0.0]
    assert out.loc[0, ["rank_p05", "rank_median", "rank_p95"]].tolist() == [1, 1, 1]
    assert out.loc[2, "rank_min"] == 3
    assert out.attrs["sensitivity"]["n"] == 300


def test_symmetric_sites_share_the_first_place():
    # A is at the rail station and far from the substation, B the opposite; equal weights,
    # log-normal noise symmetric around them: each is first in about half of the draws.
    raw = raw_measures({"rail_freight_stations": [0, 10000], "substations": [10000, 0]}, ["A", "B"])
    prof = profile("rail_freight_stations", "substations")
    out = sensitivity(None, raw, prof, n=2000, weight_noise=0.3, top_n=1, seed=0)
    assert out.loc["A", "p_top_n"] == pytest.approx(0.5, abs=0.05)
    assert out["p_top_n"].sum() == pytest.approx(1.0)
    assert out.loc["A", "rank_p05"] == 1
    assert out.loc["A", "rank_p95"] == 2


def test_identical_sites_follow_the_tie_broken_rank():
    # Four sites identical on every raw value: the shortlist of one shows the first id, in
    # every draw, so the probability is that of the shortlist, not a share of a tied place.
    raw = raw_measures({"rail_freight_stations": [500.0] * 4}, list("DBCA"))
    out = sensitivity(None, raw, profile("rail_freight_stations"), n=400, top_n=1, seed=3)
    assert out["p_top_n"].to_dict() == {"D": 0.0, "B": 0.0, "C": 0.0, "A": 1.0}


def test_tied_scores_are_split_by_closeness_in_every_draw():
    # A and B both within the full-score distance (500 m): equal scores; A is closer on the
    # raw axis, so A stays first in every draw although the scores tie.
    raw = raw_measures(
        {"rail_freight_stations": [300.0, 100.0, 5000.0], "substations": [0.0, 0.0, 0.0]},
        list("BAC"),
    )
    prof = profile_from_dict(
        {
            "profile": {"id": "s", "name": "S"},
            "criteria": [
                {
                    "id": lay,
                    "measure": "distance",
                    "layer": lay,
                    "transform": {**DEC, "from": 500},
                    "weight": 1,
                }
                for lay in ("rail_freight_stations", "substations")
            ],
        }
    )
    scored = score_from_raw(raw, prof)
    assert scored.loc["A", "score"] == scored.loc["B", "score"]
    out = sensitivity(None, raw, prof, n=300, weight_noise=0.5, top_n=1, seed=1)
    assert out["p_top_n"].to_dict() == {"B": 0.0, "A": 1.0, "C": 0.0}


def test_scored_table_reused_and_same_seed_same_result():
    sites = gpd.GeoDataFrame(
        geometry=[shapely.box(x, 0, x + 100, 100) for x in (0, 3000, 6000)], crs=L93
    )
    layers = {"rail_freight_stations": points((2000, 50)), "substations": points((6500, 50))}
    flood = gpd.GeoDataFrame(geometry=[shapely.box(5900, -10, 6200, 200)], crs=L93)
    layers["flood_zones"] = flood
    prof = profile(
        "rail_freight_stations",
        "substations",
        exclusions=[
            {
                "id": "flood",
                "measure": "overlap_share",
                "layer": "flood_zones",
                "op": ">",
                "value": 0.5,
            }
        ],
    )
    scored = score(sites, layers, prof)
    a = sensitivity(None, scored, prof, n=200, top_n=1, seed=7)
    b = sensitivity(sites, layers, prof, n=200, top_n=1, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[2, "p_top_n"] == 0.0  # excluded
    assert np.isnan(a.loc[2, "rank_median"])
    assert a.attrs["sensitivity"]["n_excluded"] == 1


def test_bounds_noise_keeps_the_order_of_a_monotone_criterion():
    raw = raw_measures({"rail_freight_stations": [1000, 2000, 9000]}, ["A", "B", "C"])
    out = sensitivity(
        None, raw, profile("rail_freight_stations"), n=300, bounds_noise=0.5, top_n=1, seed=2
    )
    assert out["p_top_n"].tolist() == [1.0, 0.0, 0.0]
    assert out["rank_max"].tolist() == [1, 2, 3]


def test_bounds_noise_matches_an_independent_simulation():
    # A: rail 4000 m, power 9000 m; B: rail 6000 m, power 6500 m. Unperturbed, B wins
    # (0.6 + 0.1 < 0.4 + 0.35). Stretching both curves by f1, f2 ~ exp(0.3 Z) scores
    # A - B = 0.2 / f1 + clip(1 - 0.9 / f2) - clip(1 - 0.65 / f2): A's chance is computed
    # here directly from that formula.
    raw = raw_measures(
        {"rail_freight_stations": [4000, 6000], "substations": [9000, 6500]}, ["A", "B"]
    )
    prof = profile("rail_freight_stations", "substations")
    fixed = sensitivity(None, raw, prof, n=200, weight_noise=0.0, top_n=1)
    assert fixed["p_top_n"].tolist() == [0.0, 1.0]
    out = sensitivity(None, raw, prof, n=4000, weight_noise=0.0, bounds_noise=0.3, top_n=1)
    rng = np.random.default_rng(12345)
    f1, f2 = np.exp(0.3 * rng.standard_normal((2, 200_000)))
    diff = 0.2 / f1 + np.clip(1 - 0.9 / f2, 0, 1) - np.clip(1 - 0.65 / f2, 0, 1)
    assert out.loc["A", "p_top_n"] == pytest.approx((diff > 0).mean(), abs=0.03)


def test_weight_sweep_by_hand():
    # A scores (1, 0), B scores (0.4, 0.8). Equal weights: A 0.5, B 0.6 -> B first.
    # Rail weight x2: rail 2/3 -> A 0.667, B 0.533 -> A first.
    raw = raw_measures(
        {"rail_freight_stations": [0, 6000], "substations": [10000, 2000]}, ["A", "B"]
    )
    prof = profile("rail_freight_stations", "substations")
    out = weight_sweep(raw, prof, criterion="rail_freight_stations", factors=(0.5, 1, 2))
    assert out[1.0].tolist() == [2, 1]
    assert out[2.0].tolist() == [1, 2]
    assert out[0.5].tolist() == [2, 1]
    assert out.attrs["weights"][2.0] == pytest.approx(2 / 3)
    assert out.attrs["weights"][0.5] == pytest.approx(1 / 3)
    with pytest.raises(ProfileError, match="unknown"):
        weight_sweep(raw, prof, criterion="motorway")


def test_bad_arguments():
    raw = raw_measures({"rail_freight_stations": [0, 1]}, ["A", "B"])
    prof = profile("rail_freight_stations")
    with pytest.raises(ArgumentError, match=">= 1"):
        sensitivity(None, raw, prof, n=0)
    with pytest.raises(ArgumentError, match=">= 0"):
        sensitivity(None, raw, prof, weight_noise=-1)


def test_without_noise_every_draw_is_the_scored_ranking():
    # Ties (saturated rail), a relative transform (percentile over all sites, the excluded
    # one included) and an excluded site: the draws must rank exactly as score() does.
    idx = pd.Index([f"s{i}" for i in range(8)])
    raw = RawMeasures(
        values=pd.DataFrame(
            {
                "rail_freight_stations": [0, 0, 100, 300, 300, 9000, 400, 0],
                "substations": [5, 1, 4, 2, 2, 9, 7, 3],
            },
            index=idx,
            dtype=float,
        ),
        nearest=pd.DataFrame(index=idx),
        exclusion_values=pd.DataFrame({"flood": [0.0] * 7 + [1.0]}, index=idx),
        area_m2=pd.Series(1.0, index=idx),
    )
    prof = profile_from_dict(
        {
            "profile": {"id": "s", "name": "S"},
            "criteria": [
                {
                    "id": "rail_freight_stations",
                    "measure": "distance",
                    "layer": "rail_freight_stations",
                    "transform": {**DEC, "from": 500},
                    "weight": 2,
                },
                {
                    "id": "substations",
                    "measure": "distance",
                    "layer": "substations",
                    "transform": {"kind": "percentile", "direction": "decreasing"},
                    "weight": 1,
                },
            ],
            "exclusions": [
                {
                    "id": "flood",
                    "measure": "overlap_share",
                    "layer": "flood_zones",
                    "op": ">",
                    "value": 0.5,
                }
            ],
        }
    )
    scored = score_from_raw(raw, prof, top_n=3)
    out = sensitivity(None, raw, prof, n=20, weight_noise=0.0, top_n=3)
    top = set(scored.index[scored["rank"].fillna(99) <= 3])
    assert len(top) == 3
    assert out["p_top_n"].to_dict() == {s: float(s in top) for s in idx}
    ranked = scored["rank"].dropna()
    assert (out.loc[ranked.index, "rank_median"] == ranked.astype(float)).all()

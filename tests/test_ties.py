"""Tie-break, unique ranks, ex aequo, and results independent of the order of criteria."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foncier.engine.aggregation import aggregate, owa, owa_position_weights
from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import RawMeasures, rank, score_from_raw
from foncier.engine.ties import midrank_quantile, round_key, site_id_codes
from foncier.engine.transforms import closeness_key

DISTANCE_LAYERS = (
    "rail_freight_stations",
    "substations",
    "motorway_junctions",
    "ports",
    "aerodromes",
)


def raw_measures(values: dict[str, list[float]], index, site_ids=None) -> RawMeasures:
    idx = pd.Index(index)
    return RawMeasures(
        values=pd.DataFrame(values, index=idx),
        nearest=pd.DataFrame(index=idx),
        exclusion_values=pd.DataFrame(index=idx),
        area_m2=pd.Series(1.0, index=idx),
        site_ids=None if site_ids is None else pd.Series(site_ids, index=idx),
    )


def distance_profile(criteria, *, aggregation="weighted_sum", order_weights=None):
    """criteria: (layer, weight, from, to) — decreasing linear distance curves."""
    head = {"id": "t", "name": "T", "aggregation": aggregation}
    if order_weights is not None:
        head["owa_weights"] = list(order_weights)
    return profile_from_dict(
        {
            "profile": head,
            "criteria": [
                {
                    "id": layer,
                    "measure": "distance",
                    "layer": layer,
                    "weight": weight,
                    "transform": {
                        "kind": "linear",
                        "from": lo,
                        "to": hi,
                        "direction": "decreasing",
                    },
                }
                for layer, weight, lo, hi in criteria
            ],
        }
    )


# -- the pieces ---------------------------------------------------------------------------------


def test_midrank_quantile_by_hand():
    # Sorted: 10 | 20 20 | 40 -> below 0, 1, 1, 3; equal 1, 2, 2, 1; N - 1 = 3.
    q = midrank_quantile([20.0, 40.0, 10.0, 20.0])
    np.testing.assert_allclose(q, [1.5 / 3, 1.0, 0.0, 1.5 / 3])
    # Missing values rank below every known value, together.
    np.testing.assert_allclose(midrank_quantile([np.nan, 5.0, np.nan]), [0.25, 1.0, 0.25])
    assert midrank_quantile([7.0]).tolist() == [0.5]
    assert midrank_quantile([3.0, 3.0, 3.0]).tolist() == [0.5, 0.5, 0.5]


def test_round_key_rounds_halves_up_like_javascript_math_round():
    assert round_key([0.5, 1.5, 2.5, -0.5], 0).tolist() == [1.0, 2.0, 3.0, 0.0]
    assert round_key([99.1234567894], 9)[0] == 99123456789.0


def test_site_ids_compare_as_text():
    # "S10" < "S9" as text: the order a spreadsheet or JavaScript sort gives.
    codes = site_id_codes(["S9", "S10", 3, "S9"])
    assert codes[2] < codes[1] < codes[0] == codes[3]  # "3" < "S10" < "S9"


@pytest.mark.parametrize(
    ("spec", "raw", "expected"),
    [
        ({"kind": "linear", "from": 0, "to": 10, "direction": "decreasing"}, [1, 5], [-1, -5]),
        ({"kind": "sigmoid", "midpoint": 5, "scale": 1, "direction": "increasing"}, [1], [1]),
        ({"kind": "step", "thresholds": [2, 5], "scores": [0, 0.5, 1]}, [3], [3]),
        ({"kind": "step", "thresholds": [2, 5], "scores": [1, 0.6, 0.6]}, [3], [-3]),
        ({"kind": "piecewise", "points": [[0, 1], [2000, 0.8], [5000, 0]]}, [10], [-10]),
        ({"kind": "gaussian", "center": 50, "width": 10}, [40, 65], [-10, -15]),
        # Not monotonic: the score itself orders (0.2 below 2, 1 between 2 and 5, 0.5 above).
        ({"kind": "step", "thresholds": [2, 5], "scores": [0.2, 1, 0.5]}, [1, 3, 9], [0.2, 1, 0.5]),
        ({"kind": "categorical", "map": {"a": 0.3}, "default": 0.0}, ["a", "b"], [0.3, 0.0]),
    ],
)
def test_closeness_key_direction(spec, raw, expected):
    from foncier.engine.transforms import validate_transform

    values = np.asarray(raw, dtype=object if isinstance(raw[0], str) else float)
    np.testing.assert_allclose(closeness_key(values, validate_transform(spec)), expected)


def test_closeness_key_missing_is_worst():
    spec = {"kind": "linear", "from": 0.0, "to": 10.0, "direction": "increasing"}
    assert closeness_key(np.array([np.nan, 1.0]), spec).tolist() == [-np.inf, 1.0]


# -- the ranking rule ---------------------------------------------------------------------------


def test_saturated_sites_are_split_by_closeness_then_id():
    # Full score up to 1 km: A (800 m), B (200 m), C (200 m) and D (600 m) all score 1 on the
    # rail criterion; E (5.5 km) scores 0.5. Substations: all at 0 m (constant).
    raw = raw_measures(
        {
            "rail_freight_stations": [800.0, 200.0, 200.0, 600.0, 5500.0],
            "substations": [0.0] * 5,
        },
        list("ABCDE"),
        site_ids=["s-a", "s-c", "s-b", "s-d", "s-e"],
    )
    prof = distance_profile(
        [("rail_freight_stations", 3, 1000, 10000), ("substations", 1, 1000, 10000)]
    )
    out = score_from_raw(raw, prof)
    np.testing.assert_allclose(out["score"], [100, 100, 100, 100, 62.5])
    # Rail quantiles, closer = better: E 0, A 1/4, D 2/4, B and C (tied) (3 + 0.5) / 4.
    np.testing.assert_allclose(
        out["rail_freight_stations__tiebreak"], [0.25, 0.875, 0.875, 0.5, 0.0]
    )
    np.testing.assert_allclose(out["substations__tiebreak"], 0.5)
    np.testing.assert_allclose(
        out["tiebreak"], 0.75 * out["rail_freight_stations__tiebreak"] + 0.125
    )
    # B and C tie on everything: site_id "s-b" (C) before "s-c" (B).
    assert out["rank"].to_dict() == {"A": 4, "B": 2, "C": 1, "D": 3, "E": 5}
    assert out["ex_aequo"].tolist() == [True, True, True, True, False]
    top = rank(out, top_n=2)
    assert top.index.tolist() == ["C", "B"]


def test_excluded_sites_have_no_rank_and_are_not_ex_aequo():
    idx = pd.Index(list("XYZ"))
    raw = RawMeasures(
        values=pd.DataFrame({"rail_freight_stations": [100.0, 100.0, 100.0]}, index=idx),
        nearest=pd.DataFrame(index=idx),
        exclusion_values=pd.DataFrame({"flood": [0.9, 0.0, 0.0]}, index=idx),
        area_m2=pd.Series(1.0, index=idx),
    )
    base = distance_profile([("rail_freight_stations", 1, 500, 5000)])
    flood = {
        "id": "flood",
        "measure": "overlap_share",
        "layer": "flood_zones",
        "op": ">",
        "value": 0.5,
    }
    prof = profile_from_dict(
        {
            "profile": {"id": "t", "name": "T"},
            "criteria": [
                {
                    "id": "rail_freight_stations",
                    "measure": "distance",
                    "layer": "rail_freight_stations",
                    "weight": 1,
                    "transform": dict(base.criteria[0].transform),
                }
            ],
            "exclusions": [flood],
        }
    )
    out = score_from_raw(raw, prof)
    assert out["rank"].isna().tolist() == [True, False, False]
    assert out.loc[["Y", "Z"], "rank"].tolist() == [1, 2]
    assert out["ex_aequo"].tolist() == [False, True, True]


def test_rank_top_n_is_exactly_n_sites():
    raw = raw_measures({"rail_freight_stations": [0.0] * 30}, range(30))
    prof = distance_profile([("rail_freight_stations", 1, 500, 5000)])
    out = score_from_raw(raw, prof)
    assert (out["score"] == 100).all()
    top = rank(out, top_n=10)
    assert top["rank"].tolist() == list(range(1, 11))
    # The index is the id when there is no site_id column: compared as text.
    assert top.index.tolist() == sorted(range(30), key=str)[:10]


# -- OWA with tied criterion scores ------------------------------------------------------------


def test_owa_tied_scores_share_their_places_order_weights():
    s = np.array([[0.8, 0.8, 0.2]])
    v = [0.5, 0.3, 0.2]
    np.testing.assert_allclose(owa_position_weights(s, v), [[0.4, 0.4, 0.2]])
    # u = (0.5, 0.25, 0.25): (0.5·0.4·0.8 + 0.25·0.4·0.8 + 0.25·0.2·0.2) / (0.2 + 0.1 + 0.05)
    expected = (0.16 + 0.08 + 0.01) / 0.35
    assert owa(s, [2, 1, 1], order_weights=v)[0] == pytest.approx(expected, abs=1e-15)
    assert owa(s[:, [1, 0, 2]], [1, 2, 1], order_weights=v)[0] == pytest.approx(expected, abs=1e-15)


def test_owa_without_ties_is_the_sorted_form():
    s = np.array([[0.1, 0.9, 0.5]])
    np.testing.assert_array_equal(owa_position_weights(s, [0.5, 0.3, 0.2]), [[0.2, 0.5, 0.3]])


@st.composite
def scores_and_permutation(draw):
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 8))
    # Few distinct levels, so that criteria often tie (saturated at 0 or 1, equal steps).
    level = st.sampled_from([0.0, 0.25, 0.5, 0.8, 1.0])
    scores = np.array(
        draw(st.lists(st.lists(level, min_size=k, max_size=k), min_size=n, max_size=n))
    )
    weight = st.floats(0.05, 5.0, allow_nan=False)
    weights = np.array(draw(st.lists(weight, min_size=k, max_size=k)))
    order = np.array(draw(st.lists(weight, min_size=k, max_size=k)))
    perm = np.array(draw(st.permutations(range(k))))
    return scores, weights, order, perm


@settings(max_examples=150, deadline=None)
@given(scores_and_permutation())
def test_aggregation_does_not_depend_on_the_order_of_criteria(case):
    scores, weights, order, perm = case
    for method in ("weighted_sum", "weighted_product", "owa"):
        ow = order if method == "owa" else None
        a = aggregate(scores, weights, method=method, order_weights=ow)
        b = aggregate(scores[:, perm], weights[perm], method=method, order_weights=ow)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=method)


@st.composite
def raw_table_and_permutation(draw):
    k = draw(st.integers(2, 5))
    n = draw(st.integers(2, 12))
    # Distances on a coarse grid: many equal raw values and many saturated scores.
    dist = st.sampled_from([0.0, 400.0, 900.0, 1500.0, 3000.0, 8000.0, 20000.0])
    columns = {lay: draw(st.lists(dist, min_size=n, max_size=n)) for lay in DISTANCE_LAYERS[:k]}
    weights = draw(st.lists(st.integers(1, 5), min_size=k, max_size=k))
    bounds = draw(
        st.lists(st.sampled_from([(500, 2000), (1000, 10000), (0, 5000)]), min_size=k, max_size=k)
    )
    order = draw(st.lists(st.integers(1, 4), min_size=k, max_size=k))
    perm = draw(st.permutations(range(k)))
    method = draw(st.sampled_from(["weighted_sum", "weighted_product", "owa"]))
    return columns, weights, bounds, order, perm, method


@settings(max_examples=80, deadline=None)
@given(raw_table_and_permutation())
def test_scores_and_ranks_do_not_depend_on_the_order_of_criteria(case):
    columns, weights, bounds, order, perm, method = case
    layers = list(columns)
    crits = [(lay, w, lo, hi) for lay, w, (lo, hi) in zip(layers, weights, bounds, strict=True)]
    ow = order if method == "owa" else None
    raw = raw_measures(columns, [f"site{i}" for i in range(len(columns[layers[0]]))])
    a = score_from_raw(raw, distance_profile(crits, aggregation=method, order_weights=ow))
    b = score_from_raw(
        raw, distance_profile([crits[i] for i in perm], aggregation=method, order_weights=ow)
    )
    # Bit for bit: sums run in criterion-id order whatever the profile's order.
    pd.testing.assert_series_equal(a["score"], b["score"])
    pd.testing.assert_series_equal(a["tiebreak"], b["tiebreak"])
    pd.testing.assert_series_equal(a["rank"], b["rank"])
    pd.testing.assert_series_equal(a["ex_aequo"], b["ex_aequo"])

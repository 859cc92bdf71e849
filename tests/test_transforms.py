"""Transforms: values at bounds and mid-points computed by hand, properties with hypothesis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foncier.engine.transforms import (
    RELATIVE_KINDS,
    SCALABLE_KINDS,
    TRANSFORM_KINDS,
    TRANSFORMS,
    apply_transform,
    boolean,
    categorical,
    gaussian,
    linear,
    minmax,
    percentile,
    piecewise,
    sigmoid,
    step,
    transform_meaning,
    validate_transform,
)
from layers.errors import ProfileError

finite = st.floats(min_value=-1e7, max_value=1e7, allow_nan=False, allow_infinity=False)


def test_linear_decreasing_at_bounds_and_midpoint():
    spec = validate_transform(
        {"kind": "linear", "from": 500, "to": 10000, "direction": "decreasing"}
    )
    x = np.array([0, 500, 5250, 10000, 20000, np.inf])
    np.testing.assert_allclose(apply_transform(x, spec), [1, 1, 0.5, 0, 0, 0])


def test_linear_increasing_quarter_point():
    # (2875 - 500) / 9500 = 0.25
    assert linear(2875, lower=500, upper=10000) == pytest.approx(0.25)
    assert linear(-np.inf, lower=0, upper=1) == 0.0


def test_sigmoid_midpoint_and_one_scale_away():
    assert sigmoid(5000, midpoint=5000, scale=1000) == pytest.approx(0.5)
    assert sigmoid(6000, midpoint=5000, scale=1000) == pytest.approx(1 / (1 + math.exp(-1)))
    assert sigmoid(6000, midpoint=5000, scale=1000, direction="decreasing") == pytest.approx(
        1 / (1 + math.exp(1))
    )
    assert sigmoid(np.inf, midpoint=5000, scale=1000, direction="decreasing") == 0.0


def test_gaussian_peak_and_one_width():
    assert gaussian(20, center=20, width=5) == pytest.approx(1.0)
    assert gaussian(25, center=20, width=5) == pytest.approx(math.exp(-0.5))
    assert gaussian(15, center=20, width=5) == pytest.approx(math.exp(-0.5))


def test_step_thresholds_belong_to_the_class_above():
    out = step(
        [0, 1999, 2000, 4999, 5000, 10000, 1e9],
        thresholds=[2000, 5000, 10000],
        scores=[1.0, 0.6, 0.3, 0.0],
    )
    np.testing.assert_allclose(out, [1.0, 1.0, 0.6, 0.6, 0.3, 0.0, 0.0])


def test_piecewise_interpolation_and_flat_ends():
    pts = [[0, 1.0], [2000, 0.8], [5000, 0.3], [10000, 0.0]]
    # 3500 is half-way between 2000 (0.8) and 5000 (0.3): 0.55
    out = piecewise([-10, 1000, 3500, 7500, 20000], points=pts)
    np.testing.assert_allclose(out, [1.0, 0.9, 0.55, 0.15, 0.0])


def test_categorical_map_with_default_and_missing():
    out = categorical(
        ["port", "platform", "gare", None], mapping={"port": 1, "platform": 0.8}, default=0.1
    )
    np.testing.assert_allclose(out, [1.0, 0.8, 0.1, 0.1])


def test_boolean_and_nan_raw_values_score_zero():
    np.testing.assert_allclose(boolean([True, False], true=0.0, false=1.0), [0.0, 1.0])
    assert linear(np.nan, lower=0, upper=1) == 0.0
    assert step(np.nan, thresholds=[1], scores=[1, 1]) == 0.0


def test_stretch_scales_every_bound():
    spec = validate_transform({"kind": "linear", "from": 0, "to": 1000, "direction": "decreasing"})
    # Bounds doubled: 0..2000, so 1000 m scores 0.5 instead of 0.
    assert apply_transform(1000.0, spec, stretch=2.0) == pytest.approx(0.5)
    grid = apply_transform(np.array([500.0, 1000.0]), spec, stretch=np.array([[1.0], [2.0]]))
    np.testing.assert_allclose(grid, [[0.5, 0.0], [0.75, 0.5]])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "lineer", "from": 0, "to": 1}, "Did you mean 'linear'"),
        ({"kind": "linear", "from": 0}, "missing 'to'"),
        ({"kind": "linear", "from": 5, "to": 1}, "from < to"),
        ({"kind": "linear", "from": 0, "to": 1, "direction": "down"}, "direction"),
        ({"kind": "sigmoid", "midpoint": 0, "scale": -1}, "positive"),
        ({"kind": "gaussian", "center": 0, "width": 0}, "positive"),
        ({"kind": "step", "thresholds": [1, 2], "scores": [1, 0]}, "one more score"),
        ({"kind": "step", "thresholds": [2, 1], "scores": [1, 0.5, 0]}, "ascending"),
        ({"kind": "piecewise", "points": [[0, 1], [0, 0]]}, "strictly ascending"),
        ({"kind": "piecewise", "points": [[0, 1.5], [1, 0]]}, "between 0 and 1"),
        ({"kind": "categorical", "map": {"a": 2}}, "between 0 and 1"),
        ({"kind": "linear", "from": 0, "to": 1, "form": 3}, "unknown parameter 'form'"),
        ({"kind": "linear", "from": "0", "to": 1}, "must be a number"),
    ],
)
def test_bad_transforms_raise_profile_error(spec, message):
    with pytest.raises(ProfileError, match=message):
        validate_transform(spec, where="criterion 'x'")


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(ProfileError, match="Known kinds: linear, sigmoid, gaussian"):
        validate_transform({"kind": "cubic"})


@st.composite
def monotone_specs(draw):
    kind = draw(st.sampled_from(["linear", "sigmoid", "step", "piecewise"]))
    direction = draw(st.sampled_from(["increasing", "decreasing"]))
    a = draw(st.floats(min_value=-1e5, max_value=1e5))
    b = a + draw(st.floats(min_value=1.0, max_value=1e5))
    if kind == "linear":
        return {"kind": kind, "from": a, "to": b, "direction": direction}
    if kind == "sigmoid":
        return {"kind": kind, "midpoint": a, "scale": (b - a) / 4, "direction": direction}
    if kind == "step":
        scores = [0.0, 0.5, 1.0] if direction == "increasing" else [1.0, 0.5, 0.0]
        return {"kind": kind, "thresholds": [a, b], "scores": scores}
    ys = [0.0, 0.7, 1.0] if direction == "increasing" else [1.0, 0.7, 0.0]
    return {"kind": kind, "points": [[a, ys[0]], [(a + b) / 2, ys[1]], [b, ys[2]]]}


@settings(max_examples=150, deadline=None)
@given(spec=monotone_specs(), xs=st.lists(finite, min_size=2, max_size=20))
def test_monotone_kinds_stay_in_unit_interval_and_are_monotone(spec, xs):
    v = validate_transform(spec)
    x = np.sort(np.asarray(xs))
    y = apply_transform(x, v)
    assert ((y >= 0) & (y <= 1)).all()
    increasing = spec.get("direction", "increasing") == "increasing"
    if spec["kind"] in ("step", "piecewise"):
        ys = [p[1] for p in spec.get("points", [])] or spec["scores"]
        increasing = ys[-1] > ys[0]
    diffs = np.diff(y)
    assert (diffs >= -1e-12).all() if increasing else (diffs <= 1e-12).all()


@settings(max_examples=100, deadline=None)
@given(
    x=st.lists(st.one_of(finite, st.just(np.inf), st.just(np.nan)), min_size=1, max_size=10),
    center=finite,
    width=st.floats(min_value=1e-3, max_value=1e6),
)
def test_gaussian_stays_in_unit_interval(x, center, width):
    y = gaussian(np.asarray(x), center=center, width=width)
    assert ((y >= 0) & (y <= 1)).all()


# -- relative kinds and the registry ------------------------------------------------------------


def test_percentile_by_hand():
    spec = validate_transform({"kind": "percentile"})
    assert spec == {"kind": "percentile", "direction": "increasing"}
    # Sorted 10 | 20 20 | 40: below 0, 1, 1, 3; equal 1, 2, 2, 1; N - 1 = 3.
    np.testing.assert_allclose(apply_transform([20, 40, 10, 20], spec), [0.5, 1, 0, 0.5])
    down = validate_transform({"kind": "percentile", "direction": "decreasing"})
    np.testing.assert_allclose(apply_transform([20, 40, 10, 20], down), [0.5, 0, 1, 0.5])
    # Missing values score 0 and do not count among the N; rows of a matrix rank on their own.
    np.testing.assert_allclose(apply_transform([np.nan, 1.0, 2.0], spec), [0, 0, 1])
    np.testing.assert_allclose(percentile([[1, 2, 3], [3, 2, 1]]), [[0, 0.5, 1], [1, 0.5, 0]])
    assert percentile([5.0, 5.0]).tolist() == [0.5, 0.5]
    # An infinite distance (empty layer) is the worst when near is good.
    np.testing.assert_allclose(apply_transform([np.inf, 100.0, 50.0], down), [0, 0.5, 1])


def test_minmax_by_hand():
    spec = validate_transform({"kind": "minmax", "direction": "decreasing"})
    np.testing.assert_allclose(apply_transform([0.0, 250.0, 1000.0], spec), [1, 0.75, 0])
    up = validate_transform({"kind": "minmax"})
    np.testing.assert_allclose(apply_transform([2.0, 4.0, np.nan], up), [0, 1, 0])
    np.testing.assert_allclose(minmax([7.0, 7.0]), [0.5, 0.5])
    # Infinite values sit beyond the ends; the span comes from the finite values.
    np.testing.assert_allclose(apply_transform([np.inf, 10.0, 30.0], spec), [0, 1, 0])
    np.testing.assert_allclose(minmax([[0, 10], [10, 30]]), [[0, 1], [0, 1]])


def test_relative_kinds_ignore_the_stretch():
    spec = validate_transform({"kind": "percentile", "direction": "decreasing"})
    x = np.array([[100.0, 300.0, 200.0]])
    np.testing.assert_allclose(
        apply_transform(x, spec, stretch=np.array([[0.5], [2.0]])), [[1, 0, 0.5]]
    )


def test_meaning_of_each_kind_in_french():
    assert transform_meaning(
        validate_transform({"kind": "linear", "from": 500, "to": 10000, "direction": "decreasing"}),
        "m",
    ) == ("1 à 500 m ou moins, 0 à 10000 m ou plus")
    text = transform_meaning(validate_transform({"kind": "percentile"}), "hab.")
    assert text.startswith("note relative aux sites candidats")
    assert "pas un seuil absolu" in text
    mm = transform_meaning(validate_transform({"kind": "minmax", "direction": "decreasing"}))
    assert "1 au minimum du jeu de sites, 0 au maximum" in mm
    for name, kind in TRANSFORMS.items():
        assert kind.name == name
        assert (name in RELATIVE_KINDS) == kind.relative


def test_saturation_note_is_kept_and_checked():
    spec = validate_transform(
        {"kind": "sigmoid", "midpoint": 1, "scale": 1, "saturation": "  no platform  "}
    )
    assert spec["saturation"] == "no platform"
    np.testing.assert_allclose(apply_transform([1.0], spec), [0.5])
    with pytest.raises(ProfileError, match="'saturation' must be a sentence"):
        validate_transform({"kind": "percentile", "saturation": ""})
    with pytest.raises(ProfileError, match="unknown parameter 'from' for transform 'percentile'"):
        validate_transform({"kind": "percentile", "from": 1})


def test_registry_lists_are_derived():
    assert set(TRANSFORM_KINDS) == set(TRANSFORMS)
    assert set(SCALABLE_KINDS) == {"linear", "sigmoid", "gaussian", "step", "piecewise"}
    assert set(RELATIVE_KINDS) == {"percentile", "minmax"}

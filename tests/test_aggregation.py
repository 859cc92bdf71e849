"""Aggregation and AHP: textbook values, hand computations and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from foncier.engine.aggregation import (
    RANDOM_INDEX,
    aggregate,
    ahp_weights,
    normalise_weights,
    owa,
    weighted_product,
    weighted_sum,
)
from layers.errors import ProfileError

# The classic 3x3 Saaty example (A three times as important as B and five times as C, B three
# times as C), reproduced in most AHP courses with eigenvector weights 0.637 / 0.258 / 0.105,
# lambda_max 3.039, CI 0.019 and CR 0.033 (RI(3) = 0.58).
SAATY_3 = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]


def _power_iteration(a, iterations=200):
    """Principal eigenvector by repeated multiplication: an independent computation."""
    a = np.asarray(a, dtype=float)
    v = np.ones(len(a)) / len(a)
    for _ in range(iterations):
        v = a @ v
        v = v / v.sum()
    lam = float((a @ v / v).mean())
    return v, lam


def test_saaty_textbook_3x3():
    r = ahp_weights(SAATY_3, labels=["a", "b", "c"])
    np.testing.assert_allclose(r.weights, [0.637, 0.258, 0.105], atol=5e-4)
    assert r.lambda_max == pytest.approx(3.0385, abs=1e-3)
    assert r.consistency_index == pytest.approx(0.0193, abs=2e-4)
    assert r.consistency_ratio == pytest.approx(0.0332, abs=5e-4)
    v, lam = _power_iteration(SAATY_3)
    np.testing.assert_allclose(r.weights, v, atol=1e-9)
    assert r.consistency_ratio == pytest.approx((lam - 3) / 2 / 0.58, rel=1e-6)


def test_saaty_random_index_table():
    assert (RANDOM_INDEX[3], RANDOM_INDEX[4], RANDOM_INDEX[5]) == (0.58, 0.90, 1.12)


def test_perfectly_consistent_matrix_gives_exact_ratios():
    w = np.array([0.5, 0.3, 0.15, 0.05])
    a = w[:, None] / w[None, :]
    r = ahp_weights(a)
    np.testing.assert_allclose(r.weights, w, atol=1e-12)
    assert r.lambda_max == pytest.approx(4.0)
    assert r.consistency_ratio == pytest.approx(0.0, abs=1e-9)


def test_inconsistent_matrix_raises_unless_forced():
    # A > B, B > C, C > A, all strongly: circular judgements.
    bad = [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]
    with pytest.raises(ProfileError, match=r"inconsistent: consistency ratio .* > 0\.10"):
        ahp_weights(bad)
    r = ahp_weights(bad, force=True)
    assert r.consistency_ratio > 0.1
    np.testing.assert_allclose(r.weights, [1 / 3] * 3, atol=1e-9)  # symmetric cycle


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1, 2], [2, 1]], "not reciprocal"),
        ([[1, 2, 3], [0.5, 1, 1]], "square"),
        ([[1, -2], [-0.5, 1]], "positive"),
    ],
)
def test_bad_matrices(matrix, message):
    with pytest.raises(ProfileError, match=message):
        ahp_weights(matrix)


def test_weighted_sum_by_hand():
    s = np.array([[1.0, 0.0], [0.5, 0.5], [0.2, 0.8]])
    np.testing.assert_allclose(weighted_sum(s, [3, 1]), [0.75, 0.5, 0.35])


def test_weighted_product_by_hand_and_zero_weight():
    s = np.array([[0.25, 1.0], [0.0, 0.5]])
    # 0.25 ** 0.5 * 1 ** 0.5 = 0.5 ; 0 ** 0.5 = 0
    np.testing.assert_allclose(weighted_product(s, [1, 1]), [0.5, 0.0])
    # A zero-weight criterion that scores 0 must not matter.
    np.testing.assert_allclose(weighted_product(s, [0, 1]), [1.0, 0.5])


def test_owa_equal_order_weights_is_the_mean_and_the_weighted_sum():
    s = np.array([[0.9, 0.1, 0.5], [0.3, 0.3, 0.6]])
    np.testing.assert_allclose(owa(s, [1, 1, 1], order_weights=[1, 1, 1]), s.mean(axis=1))
    np.testing.assert_allclose(owa(s, [2, 1, 1]), weighted_sum(s, [2, 1, 1]))


def test_owa_extreme_order_weights_give_max_and_min():
    s = np.array([[0.9, 0.1, 0.5]])
    assert owa(s, [1, 1, 1], order_weights=[1, 0, 0])[0] == pytest.approx(0.9)
    assert owa(s, [1, 1, 1], order_weights=[0, 0, 1])[0] == pytest.approx(0.1)


def test_owa_with_criterion_weights_by_hand():
    # scores 0.9 (u=0.5), 0.1 (u=0.25), 0.5 (u=0.25); order weights best->worst 0.5, 0.3, 0.2
    # u*v = 0.25, 0.05 (0.1 is worst), 0.075 -> (0.225 + 0.005 + 0.0375) / 0.375
    s = np.array([[0.9, 0.1, 0.5]])
    expected = (0.25 * 0.9 + 0.05 * 0.1 + 0.075 * 0.5) / 0.375
    assert owa(s, [2, 1, 1], order_weights=[0.5, 0.3, 0.2])[0] == pytest.approx(expected)


def test_draws_of_weights_aggregate_at_once():
    s = np.array([[1.0, 0.0], [0.0, 1.0]])
    out = aggregate(s, np.array([[1, 0], [0, 1], [1, 1]]))
    np.testing.assert_allclose(out, [[1, 0], [0, 1], [0.5, 0.5]])


@pytest.mark.parametrize(
    ("weights", "message"),
    [([1, -1], "negative"), ([0, 0], "all weights are zero"), ([], "no weights")],
)
def test_bad_weights(weights, message):
    with pytest.raises(ProfileError, match=message):
        normalise_weights(weights)


weights_st = arrays(float, st.integers(1, 6), elements=st.floats(0, 100)).filter(
    lambda w: w.sum() > 1e-6
)


@settings(max_examples=100, deadline=None)
@given(w=weights_st)
def test_normalised_weights_sum_to_one(w):
    n = normalise_weights(w)
    assert n.sum() == pytest.approx(1.0)
    assert (n >= 0).all()


@settings(max_examples=100, deadline=None)
@given(data=st.data(), w=weights_st)
def test_aggregates_stay_in_unit_interval(data, w):
    k = len(w)
    s = data.draw(arrays(float, (5, k), elements=st.floats(0, 1)))
    for method in ("weighted_sum", "weighted_product", "owa"):
        out = aggregate(s, w, method=method)
        assert ((out >= -1e-12) & (out <= 1 + 1e-12)).all()
    ws = weighted_sum(s, w)
    assert (ws >= s.min(axis=1) - 1e-9).all()
    assert (ws <= s.max(axis=1) + 1e-9).all()

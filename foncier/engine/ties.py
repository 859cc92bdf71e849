"""Deterministic ranking: tie-break values, unique ranks and ex-aequo flags.

A profile often cannot tell sites apart: every site within the distance that already gets the
full score scores 1 on that criterion, and when this happens on every criterion many sites
share the best score. A "top 10" must still be ten sites, chosen by a rule anyone can state
and reproduce (the interactive map re-ranks in the browser with the same rule).

The rule
--------
For each criterion ``c`` scored, ``c__tiebreak`` is the site's *closeness quantile* on the
criterion's **raw** value among all the sites scored (excluded ones included): with the raw
values oriented so that larger is better (:func:`foncier.engine.transforms.closeness_key`),

    c__tiebreak = (L + (E − 1) / 2) / (N − 1)

where ``N`` is the number of sites, ``L`` the number of sites with a strictly worse oriented
value and ``E`` the number of sites with exactly the same one (the site itself included): the
mid-rank percentile, in ``[0, 1]``, 1 for the best site alone, 0 for the worst alone, equal
raw values get equal values, and ``0.5`` when ``N = 1``. Missing raw values rank below every
known value. It does not depend on the weights, nor on the bounds of the curve, so a site
"closer" to the rail freight station keeps its advantage inside the saturated plateau of the
curve.

``tiebreak = Σᵢ wᵢ · cᵢ__tiebreak / Σᵢ wᵢ`` with the normalised criterion weights in force.

Sites that are not excluded are ordered by

1. ``score`` descending, compared on ``round(score · 10⁹)`` (halves rounded up, i.e.
   ``floor(x · 10⁹ + 0.5)``, JavaScript's ``Math.round``);
2. ``tiebreak`` descending, compared on ``floor(tiebreak · 10¹² + 0.5)``;
3. the site id ascending: the text of the ``site_id`` column when the sites have one, else
   the text of the index, compared by Unicode code point (JavaScript's ``<`` on strings
   agrees for identifiers of the Basic Multilingual Plane); duplicate ids keep the sites'
   order.

``rank`` is ``1..N``, unique, over the non-excluded sites (``<NA>`` for excluded sites), so a
top N is always N sites. ``ex_aequo`` is True for a non-excluded site when another
non-excluded site has the same rounded score: the tie is broken but stays visible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SCORE_DECIMALS",
    "TIEBREAK_DECIMALS",
    "midrank_from_counts",
    "midrank_quantile",
    "ranks_and_ties",
    "round_key",
    "site_id_codes",
    "tie_broken_order",
]

#: Decimals of the 0..100 score compared when ordering sites.
SCORE_DECIMALS = 9
#: Decimals of the tie-break value compared when ordering sites.
TIEBREAK_DECIMALS = 12


def round_key(values: Any, decimals: int) -> np.ndarray:
    """``floor(x · 10^decimals + 0.5)``: the comparison key of a rounded value.

    Halves go up, as JavaScript's ``Math.round`` does, so the browser compares the same keys.

    Parameters
    ----------
    values : array-like
        Values (any shape).
    decimals : int
        Number of decimals kept.

    Returns
    -------
    numpy.ndarray
        Float array of whole numbers; ``nan`` stays ``nan``.
    """
    return np.floor(np.asarray(values, dtype=float) * 10.0**decimals + 0.5)


def midrank_quantile(key: Any) -> np.ndarray:
    """Mid-rank percentile of each value among all values, larger = better.

    Parameters
    ----------
    key : array-like
        One value per site, oriented so that larger is better; ``nan`` ranks below all.

    Returns
    -------
    numpy.ndarray
        ``(L + (E − 1) / 2) / (N − 1)`` in ``[0, 1]`` (``L`` values strictly below, ``E`` equal
        values including itself, ``N`` values); ``0.5`` for a single value.
    """
    k = np.asarray(key, dtype=float).ravel()
    n = len(k)
    if n == 0:
        return np.zeros(0)
    k = np.where(np.isnan(k), -np.inf, k)
    ordered = np.sort(k)
    below = np.searchsorted(ordered, k, side="left")
    equal = np.searchsorted(ordered, k, side="right") - below
    return midrank_from_counts(below, equal, n)


def midrank_from_counts(below: Any, equal: Any, n: int) -> np.ndarray:
    """Mid-rank percentile from counts made elsewhere (e.g. over a partitioned dataset).

    Parameters
    ----------
    below : array-like of int
        ``L``: number of values strictly worse than each value.
    equal : array-like of int
        ``E``: number of values equal to each value, itself included.
    n : int
        ``N``: number of values.

    Returns
    -------
    numpy.ndarray
        ``(L + (E − 1) / 2) / (N − 1)``, the same floats as :func:`midrank_quantile` gives
        for the same counts; ``0.5`` when ``N = 1``.
    """
    below = np.asarray(below, dtype=np.int64)
    equal = np.asarray(equal, dtype=np.int64)
    if n <= 1:
        return np.full(below.shape, 0.5)
    return (below + (equal - 1) / 2.0) / (n - 1)


def site_id_codes(ids: Any) -> np.ndarray:
    """Integer codes of the site ids in ascending text (code point) order.

    Parameters
    ----------
    ids : array-like
        Site ids (any type; compared as text).

    Returns
    -------
    numpy.ndarray
        ``codes[i] < codes[j]`` exactly when ``str(ids[i]) < str(ids[j])``; equal ids share
        a code.
    """
    text = np.asarray([str(v) for v in np.asarray(ids, dtype=object).ravel()], dtype=object)
    if not len(text):
        return np.zeros(0, dtype=np.int64)
    _, codes = np.unique(text.astype(str), return_inverse=True)
    return codes.astype(np.int64).ravel()


def tie_broken_order(score: Any, tiebreak: Any, id_codes: Any) -> np.ndarray:
    """Order of sites by score, then tie-break value, then id (see the module docstring).

    Parameters
    ----------
    score : array-like
        Scores 0..100, shape ``(sites,)`` or ``(draws, sites)``.
    tiebreak : array-like
        Tie-break values in ``[0, 1]``, same shape as ``score``.
    id_codes : array-like
        Shape ``(sites,)``: codes from :func:`site_id_codes`.

    Returns
    -------
    numpy.ndarray
        Integer positions (along the last axis), best site first.
    """
    s = np.asarray(score, dtype=float)
    t = np.broadcast_to(np.asarray(tiebreak, dtype=float), s.shape)
    codes = np.broadcast_to(np.asarray(id_codes, dtype=np.int64), s.shape)
    # lexsort sorts by the last key first; it is stable, so equal ids keep the sites' order.
    return np.lexsort(
        (codes, -round_key(t, TIEBREAK_DECIMALS), -round_key(s, SCORE_DECIMALS)), axis=-1
    )


def ranks_and_ties(
    score: pd.Series, tiebreak: pd.Series, excluded: pd.Series, ids: Any
) -> tuple[pd.Series, pd.Series]:
    """Unique ranks of the non-excluded sites and their ex-aequo flags.

    Parameters
    ----------
    score, tiebreak : pandas.Series
        Scores 0..100 and tie-break values, indexed like the sites.
    excluded : pandas.Series
        True for sites excluded by a hard rule (no rank).
    ids : array-like
        Site ids in the sites' order (``site_id`` column or the index).

    Returns
    -------
    (pandas.Series, pandas.Series)
        ``rank`` (``Int64``, 1..N, ``<NA>`` when excluded) and ``ex_aequo`` (bool).
    """
    keep = ~excluded.to_numpy(dtype=bool)
    kept = np.flatnonzero(keep)
    codes = site_id_codes(ids)
    order = tie_broken_order(
        score.to_numpy(dtype=float)[kept], tiebreak.to_numpy(dtype=float)[kept], codes[kept]
    )
    ranks = np.zeros(len(score), dtype=np.int64)
    ranks[kept[order]] = np.arange(1, len(kept) + 1)
    rank = pd.Series(ranks, index=score.index).where(keep).astype("Int64")
    key = round_key(score.to_numpy(dtype=float), SCORE_DECIMALS)
    tied = np.zeros(len(score), dtype=bool)
    if len(kept):
        _, inverse, counts = np.unique(key[kept], return_inverse=True, return_counts=True)
        tied[kept] = counts[inverse.ravel()] > 1
    return rank, pd.Series(tied, index=score.index, name="ex_aequo")

"""Stability of a ranking when the weights (and the bounds) of a profile move.

Weights in a profile are judgements. :func:`sensitivity` perturbs them at random and reports,
per site, the probability of staying in the top N and the interval of ranks it takes;
:func:`weight_sweep` changes one criterion's weight at a time and shows the ranks.

The raw measures (distances, overlaps, slopes …) are computed once; each draw only re-runs
the transforms and the aggregation, on a ``(draws, sites)`` matrix at a time.

Perturbation model
------------------
- Weights: each weight is multiplied by an independent log-normal factor
  ``exp(σ Z)``, ``Z ~ N(0, 1)``, ``σ = weight_noise`` (0.2 ≈ ±20 %, median factor 1), then
  the weights are renormalised to sum to 1. Zero weights stay zero.
- Bounds (optional): each criterion's curve is stretched along its raw axis by a log-normal
  factor ``exp(σ_b Z)`` (``σ_b = bounds_noise``): every bound of the curve (``from``/``to``,
  midpoint and scale, center and width, thresholds, piecewise x) is multiplied by the same
  factor, so their order is kept. Categorical and boolean transforms are not stretched.
- Exclusions are hard rules: they are not perturbed, excluded sites stay excluded.
- Ranks are the tie-broken ranks of :mod:`foncier.engine.ties`, in each draw: score, then
  the tie-break value under that draw's weights (the criteria's closeness quantiles on their
  raw values, which the bounds do not change), then the site id. ``p_top_n`` is thus the
  probability that the site is among the N sites a shortlist of N would show, not the
  probability of sharing a tied place; sites identical on every raw value are still told
  apart by their id, as the shortlist itself does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from foncier.engine.aggregation import aggregate, normalise_weights
from foncier.engine.exclusions import apply_exclusions
from foncier.engine.profiles import Profile, load_profile
from foncier.engine.scoring import (
    RawMeasures,
    active_criteria,
    canonical_order,
    criterion_scores,
    criterion_tiebreaks,
    measure_criteria,
    owa_order_weights,
    raw_from_scored,
)
from foncier.engine.ties import ranks_and_ties, site_id_codes, tie_broken_order
from layers.arguments import check_int, check_number
from layers.errors import ProfileError, SchemaError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["sensitivity", "weight_sweep"]

log = logging.getLogger(__name__)

#: Largest number of (draw, site, criterion) cells scored at once (bounds the memory).
_CHUNK_CELLS = 4_000_000


def _inputs(
    sites: gpd.GeoDataFrame | None,
    layers_or_scored: Any,
    prof: Profile,
) -> tuple[RawMeasures, pd.Series]:
    """Raw measures and the exclusion flag, from layers (measured now) or a scored table."""
    if isinstance(layers_or_scored, RawMeasures):
        raw = layers_or_scored
        excluded = apply_exclusions(
            raw.exclusion_values,
            prof.exclusions,
            geometries=raw.geometry,
            area_m2=raw.area_m2,
            min_contiguous_area_m2=prof.min_contiguous_area_m2,
        )["excluded"]
        return raw, excluded
    if isinstance(layers_or_scored, pd.DataFrame):
        if "excluded" not in layers_or_scored.columns:
            raise SchemaError("no 'excluded' column: pass the result of foncier.score(...).")
        raw = raw_from_scored(layers_or_scored, prof)
        return raw, layers_or_scored["excluded"].astype(bool)
    if isinstance(layers_or_scored, Mapping):
        if sites is None:
            raise SchemaError("give the sites when passing layers (or pass a scored table).")
        return _inputs(None, measure_criteria(sites, layers_or_scored, prof), prof)
    raise SchemaError(
        "layers_or_scored must be a mapping of layers, the result of foncier.score(...) or "
        f"RawMeasures, got {type(layers_or_scored).__name__}."
    )


def _ranks(agg: np.ndarray, tiebreak: np.ndarray, id_codes: np.ndarray) -> np.ndarray:
    """Tie-broken ranks (1 = best) along the last axis: score, tie-break value, id."""
    order = tie_broken_order(100.0 * agg, tiebreak, id_codes)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, agg.shape[-1] + 1)[None, :], axis=-1)
    return ranks


def sensitivity(
    sites: gpd.GeoDataFrame | None,
    layers_or_scored: Mapping[str, Any] | pd.DataFrame | RawMeasures,
    profile: str | Path | Profile,
    *,
    n: int = 500,
    weight_noise: float = 0.2,
    bounds_noise: float = 0.0,
    top_n: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """Monte-Carlo stability of the ranking under perturbed weights (and bounds).

    Parameters
    ----------
    sites : GeoDataFrame or None
        Candidate sites (projected CRS); may be None when ``layers_or_scored`` is a scored
        table or :class:`~foncier.engine.scoring.RawMeasures`.
    layers_or_scored : mapping, DataFrame or RawMeasures
        The layers (measured once here), or the result of :func:`foncier.score` (its
        ``<criterion>__raw`` columns and ``excluded`` flag are reused, nothing is measured).
    profile : str, Path or Profile
        The profile.
    n : int
        Number of draws.
    weight_noise : float
        σ of the log-normal factor applied to each weight (0.2 ≈ ±20 %).
    bounds_noise : float
        σ of the log-normal factor stretching each criterion's curve (0 = bounds fixed).
    top_n : int
        Size of the shortlist whose membership is counted.
    seed : int
        Seed of the random generator (same seed, same result).

    Returns
    -------
    pandas.DataFrame
        Indexed like the sites: ``p_top_n`` (share of draws in the top ``top_n``, 0..1),
        ``rank_median``, ``rank_p05``, ``rank_p95`` (5th and 95th percentiles of the rank),
        ``rank_min``, ``rank_max``; excluded sites get ``p_top_n = 0`` and missing ranks.
        ``attrs["sensitivity"]`` records the settings.

    Examples
    --------
    Reuse a scored table (nothing is measured again): 200 draws of the weights, ±20 %.

    >>> import foncier
    >>> t = foncier.territory("60159")
    >>> sites = foncier.grid_sites(t, cell_size_m=2000, shape="hex")
    >>> scored = foncier.score(sites, foncier.load_layers(t), "logistique-multimodale")
    >>> stab = foncier.sensitivity(None, scored, "logistique-multimodale", n=200, top_n=3)
    >>> best = foncier.rank(scored, top_n=1).index[0]
    >>> stab.loc[best, ["p_top_n", "rank_p05", "rank_p95"]].tolist()
    [1.0, 1.0, 1.0]
    """
    prof = load_profile(profile)
    n = check_int(n, "n (draws)", minimum=1)
    top_n = check_int(top_n, "top_n", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    check_number(weight_noise, "weight_noise (a standard deviation)", minimum=0)
    check_number(bounds_noise, "bounds_noise (a standard deviation)", minimum=0)
    raw, excluded = _inputs(sites, layers_or_scored, prof)
    active = active_criteria(raw.values.columns, prof)
    k = len(active)
    base_w = normalise_weights([c.weight for c in active])
    keep = ~excluded.reindex(raw.index).fillna(False).to_numpy(dtype=bool)
    m = int(keep.sum())
    rng = np.random.default_rng(seed)
    weights = normalise_weights(base_w * np.exp(weight_noise * rng.standard_normal((n, k))))
    stretch = np.exp(bounds_noise * rng.standard_normal((n, k))) if bounds_noise > 0 else None
    order_w = owa_order_weights(prof, k)
    # Criteria in id order, as score() sums them, so that the draws rank like the scored table.
    canon = canonical_order(active)
    # Scores, closeness quantiles and ids of all the sites (relative transforms and quantiles
    # compare every candidate site, as in the scored table), then the kept ones.
    ties = criterion_tiebreaks(raw, prof)[keep][:, canon]
    codes = site_id_codes(raw.ids())[keep]
    ranks = np.zeros((n, m), dtype=np.int32)
    if m:
        fixed = criterion_scores(raw, prof)[keep][:, canon] if stretch is None else None
        chunk = max(1, _CHUNK_CELLS // max(1, len(keep) * k))
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            if stretch is None:
                scores = fixed
            else:
                drawn = criterion_scores(raw, prof, stretch=stretch[lo:hi])
                scores = drawn[:, keep][..., canon]
            w = weights[lo:hi][:, canon]
            agg = aggregate(scores, w, method=prof.aggregation, order_weights=order_w)
            ranks[lo:hi] = _ranks(agg, w @ ties.T, codes)
    out = pd.DataFrame(index=raw.index)
    out["p_top_n"] = 0.0
    for col in ("rank_median", "rank_p05", "rank_p95", "rank_min", "rank_max"):
        out[col] = np.nan
    if m:
        kept_index = raw.index[keep]
        out.loc[kept_index, "p_top_n"] = (ranks <= top_n).mean(axis=0)
        # Sort in place (no float copy of the draws x sites matrix), then read the
        # percentiles with linear interpolation between order statistics, as numpy does.
        ranks.sort(axis=0)
        for col, q in (("rank_p05", 0.05), ("rank_median", 0.5), ("rank_p95", 0.95)):
            pos = q * (n - 1)
            lo, hi = int(np.floor(pos)), int(np.ceil(pos))
            out.loc[kept_index, col] = ranks[lo] + (pos - lo) * (
                ranks[hi].astype(float) - ranks[lo]
            )
        out.loc[kept_index, "rank_min"] = ranks[0]
        out.loc[kept_index, "rank_max"] = ranks[-1]
    out.attrs["sensitivity"] = {
        "profile": prof.id,
        "n": n,
        "weight_noise": weight_noise,
        "bounds_noise": bounds_noise,
        "top_n": top_n,
        "seed": seed,
        "criteria": [c.id for c in active],
        "n_sites": len(out),
        "n_excluded": int((~keep).sum()),
    }
    return out


def weight_sweep(
    scored_or_inputs: pd.DataFrame | RawMeasures,
    profile: str | Path | Profile,
    *,
    criterion: str,
    factors: Sequence[float] = (0.5, 0.75, 1.0, 1.25, 1.5),
) -> pd.DataFrame:
    """Ranks of the sites when one criterion's weight is multiplied by each factor.

    The other weights keep their ratios; all are renormalised to sum to 1.

    Parameters
    ----------
    scored_or_inputs : DataFrame or RawMeasures
        The result of :func:`foncier.score`, or raw measures from
        :func:`foncier.engine.scoring.measure_criteria`.
    profile : str, Path or Profile
        The profile.
    criterion : str
        Id of the criterion whose weight moves.
    factors : sequence of float
        Multipliers (>= 0) of that weight.

    Returns
    -------
    pandas.DataFrame
        Indexed like the sites, one column per factor with the site's rank (1 = best,
        unique: ties broken as in :func:`foncier.score` under that factor's weights,
        ``<NA>`` for excluded sites). ``attrs["weights"]`` maps each
        factor to the criterion's normalised weight.

    Examples
    --------
    >>> import foncier
    >>> t = foncier.territory("60159")
    >>> sites = foncier.grid_sites(t, cell_size_m=2000, shape="hex")
    >>> scored = foncier.score(sites, foncier.load_layers(t), "logistique-multimodale")
    >>> sweep = foncier.weight_sweep(
    ...     scored, "logistique-multimodale", criterion="rail_freight", factors=(0.5, 1.0, 2.0)
    ... )
    >>> best = foncier.rank(scored, top_n=1).index[0]
    >>> sweep.loc[best].tolist()  # its rank when the rail weight is halved, kept, doubled
    [1, 1, 1]
    """
    prof = load_profile(profile)
    raw, excluded = _inputs(None, scored_or_inputs, prof)
    active = active_criteria(raw.values.columns, prof)
    ids = [c.id for c in active]
    if criterion not in ids:
        known = [c.id for c in prof.criteria]
        why = "was skipped (layer not available)" if criterion in known else "is unknown"
        raise ProfileError(f"criterion {criterion!r} {why}; criteria scored: {', '.join(ids)}.")
    for f in factors:
        check_number(f, "factors", minimum=0)
    j = ids.index(criterion)
    base_w = normalise_weights([c.weight for c in active])
    w = np.tile(base_w, (len(factors), 1))
    w[:, j] *= np.asarray(factors, dtype=float)
    w = normalise_weights(w)
    scores = criterion_scores(raw, prof)
    agg = aggregate(
        scores, w, method=prof.aggregation, order_weights=owa_order_weights(prof, len(ids))
    )
    keep = ~excluded.reindex(raw.index).fillna(False).to_numpy(dtype=bool)
    ties = criterion_tiebreaks(raw, prof)
    out = pd.DataFrame(index=raw.index)
    for i, f in enumerate(factors):
        rank, _ = ranks_and_ties(
            pd.Series(100.0 * agg[i], index=raw.index),
            pd.Series(ties @ w[i], index=raw.index),
            pd.Series(~keep, index=raw.index),
            raw.ids(),
        )
        out[float(f)] = rank
    out.columns.name = f"{criterion} × factor"
    out.attrs["weights"] = {float(f): float(w[i, j]) for i, f in enumerate(factors)}
    out.attrs["criterion"] = criterion
    return out

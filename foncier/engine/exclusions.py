"""Exclusions: hard rules that remove sites, with the reason kept for every site.

A rule compares a raw measure with a threshold (``overlap_share > 0.2`` of a flood zone,
``zonal_mean`` of the slope ``> 5`` degrees, ``distance`` to housing ``< 500`` m, ``area < 1 ha``,
``overlap_share`` of the territory ``< 0.5`` = outside it). A site is excluded when any rule
holds; its reasons are joined with ``"; "`` as French labels with the measured value, e.g.
``"En zone inondable (63 % de la surface)"``. A missing value (``nan``, e.g. a slope outside
the raster) never excludes a site.

After the rules, an optional minimum contiguous area drops the groups of touching
non-excluded sites whose total area is too small (a 5 ha project does not fit in isolated
1 ha scraps left between a flood zone and a village).
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from foncier.engine.profiles import Exclusion
from layers.errors import ArgumentError
from layers.formatting import format_measure as format_value

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["apply_exclusions", "contiguous_groups", "exclusion_mask", "format_reasons"]

log = logging.getLogger(__name__)

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def exclusion_mask(values: pd.Series, rule: Exclusion) -> pd.Series:
    """Sites where ``values op rule.value`` holds (missing values never excluded).

    Parameters
    ----------
    values : pandas.Series
        Raw measure of the rule, aligned on the sites' index, in the rule's unit.
    rule : Exclusion
        The rule.

    Returns
    -------
    pandas.Series of bool
    """
    if rule.measure == "intersects" or isinstance(rule.value, bool):
        left = values.astype("boolean")
        result = _OPS[rule.op](left, bool(rule.value))
    elif isinstance(rule.value, int | float):
        left = pd.to_numeric(values, errors="coerce")
        result = _OPS[rule.op](left, float(rule.value))
    else:
        result = _OPS[rule.op](values.astype(object), rule.value)
    return pd.Series(result, index=values.index).fillna(False).astype(bool)


def format_reasons(values: pd.Series, rule: Exclusion) -> pd.Series:
    """Reason text of ``rule`` per value, e.g. ``"En zone inondable (63 % de la surface)"``.

    Values are rounded before formatting and each distinct rounded value is formatted once,
    so this stays fast on a million sites.

    Parameters
    ----------
    values : pandas.Series
        Raw values of the rule's measure.
    rule : Exclusion
        The rule (its label and unit are used).

    Returns
    -------
    pandas.Series of str
    """
    if rule.measure == "intersects":
        return pd.Series(rule.label, index=values.index, dtype=object)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().any() or values.isna().all():
        if rule.unit == "share":
            key = numeric.round(2)
        elif rule.unit == "m":
            key = numeric.where(numeric.abs() < 1000, numeric.round(-2)).round(0)
        else:
            key = numeric.round(1)
    else:
        key = values.astype(str)
    share_of = "de la surface" if rule.unit == "share" else ""
    table = {
        v: f"{rule.label} ({format_value(v, rule.unit, share_of=share_of)})" for v in pd.unique(key)
    }
    return key.map(table).astype(object)


def contiguous_groups(geometries: gpd.GeoSeries) -> np.ndarray:
    """Label groups of touching (or overlapping) geometries.

    Parameters
    ----------
    geometries : GeoSeries
        Site geometries in a projected CRS.

    Returns
    -------
    numpy.ndarray of int
        Group label of each geometry (0 … groups − 1), in the input order.
    """
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    geoms = geometries.to_numpy()
    n = len(geoms)
    if n == 0:
        return np.zeros(0, dtype=int)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=int)


def apply_exclusions(
    values: pd.DataFrame,
    rules: Sequence[Exclusion],
    *,
    geometries: gpd.GeoSeries | None = None,
    area_m2: pd.Series | None = None,
    min_contiguous_area_m2: float = 0.0,
) -> pd.DataFrame:
    """Evaluate the exclusion rules on raw measures.

    Parameters
    ----------
    values : pandas.DataFrame
        One column per rule id (raw values), indexed like the sites. Rules without a column
        (their layer was not available) are ignored here; the caller records them.
    rules : sequence of Exclusion
        The profile's rules.
    geometries : GeoSeries, optional
        Site geometries (projected CRS), needed for ``min_contiguous_area_m2``.
    area_m2 : pandas.Series, optional
        Site areas in m², needed for ``min_contiguous_area_m2``.
    min_contiguous_area_m2 : float
        Groups of touching non-excluded sites with a total area below this (m²) are
        excluded; 0 turns the check off.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``values``: ``excluded`` (bool) and ``exclusion_reasons`` (str, ``""``
        for kept sites), plus one boolean column ``excl__<rule id>`` per evaluated rule.
    """
    index = values.index
    excluded = pd.Series(False, index=index)
    reasons = pd.Series("", index=index, dtype=object)
    out = pd.DataFrame(index=index)
    for rule in rules:
        if rule.id not in values.columns:
            continue
        mask = exclusion_mask(values[rule.id], rule)
        out[f"excl__{rule.id}"] = mask
        if mask.any():
            text = format_reasons(values.loc[mask, rule.id], rule)
            sep = np.where(reasons.loc[mask] == "", "", "; ")
            reasons.loc[mask] = reasons.loc[mask] + sep + text
            log.info("exclusion %r: %d site(s)", rule.id, int(mask.sum()))
        excluded |= mask
    if min_contiguous_area_m2 > 0:
        if geometries is None or area_m2 is None:
            raise ArgumentError("min_contiguous_area_m2 needs the site geometries and areas.")
        kept = ~excluded.to_numpy()
        if kept.any():
            labels = contiguous_groups(geometries[kept])
            group_area = np.bincount(labels, weights=area_m2.to_numpy()[kept])
            small = group_area[labels] < min_contiguous_area_m2
            small_idx = index[kept][small]
            if len(small_idx):
                limit = format_value(min_contiguous_area_m2, "m²")
                # One text per group, not per site.
                group_text = [
                    f"Ensemble contigu trop petit ({format_value(a, 'm²')} < {limit})"
                    for a in group_area
                ]
                reasons.loc[small_idx] = np.asarray(group_text, dtype=object)[labels[small]]
                excluded.loc[small_idx] = True
                log.info("minimum contiguous area: %d site(s) excluded", len(small_idx))
        out["excl__min_contiguous_area"] = excluded & ~pd.Series(~kept, index=index)
    out.insert(0, "exclusion_reasons", reasons)
    out.insert(0, "excluded", excluded)
    return out

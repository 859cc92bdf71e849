"""Transforms: turn a raw measure (metres, %, degrees, inhabitants …) into a 0..1 score.

Every transform returns floats in ``[0, 1]`` (1 = best) and broadcasts like numpy, so the same
code scores one site, a million sites, or a ``(draws, sites)`` matrix in a sensitivity run.
A picture of each curve is in ``docs/transforms.svg`` (made by ``scripts/plot_transforms.py``).

Kinds and their parameters, as written in a profile (``transform = { kind = ..., ... }``):

``linear``
    ``from``, ``to`` (``from < to``, in the raw unit), ``direction`` = ``"increasing"``
    (0 at ``from`` or below, 1 at ``to`` or above) or ``"decreasing"`` (1 at ``from`` or below,
    0 at ``to`` or above). Straight line in between.
``sigmoid``
    ``midpoint`` (score 0.5 there), ``scale`` (> 0, raw units: from ``midpoint`` to
    ``midpoint + scale`` the score goes from 0.5 to 0.73), ``direction``.
``gaussian``
    ``center`` (score 1 there), ``width`` (> 0, standard deviation in raw units): for values
    that are best around a target (e.g. a site area close to the project's need).
``step``
    ``thresholds`` (ascending) and ``scores`` (one more than thresholds): a value below
    ``thresholds[0]`` scores ``scores[0]``, a value in ``[thresholds[i-1], thresholds[i])``
    scores ``scores[i]``, a value at or above the last threshold scores ``scores[-1]``.
``piecewise``
    ``points`` = ``[[x0, y0], [x1, y1], …]`` with ascending ``x`` and ``y`` in ``[0, 1]``:
    linear interpolation, constant beyond the first and last points.
``categorical``
    ``map`` = ``{ category = score, … }`` and ``default`` (score of any other category,
    0 unless given): for text or class attributes such as the kind of a named site.
``boolean``
    ``true``, ``false``: the scores of a yes/no measure (``intersects``), 1 and 0 by default.
``percentile`` (relative)
    ``direction``: the site's mid-rank percentile among the candidate sites scored together,
    ``(L + (E − 1)/2) / (N − 1)`` — 1 for the best site, 0 for the worst, 0.5 at the median.
    It always separates the sites but says nothing absolute: the best site of a poor
    territory scores 1. Use it when the question is "which of these sites", not "is this
    site good enough".
``minmax`` (relative)
    ``direction``: linear between the worst (0) and the best (1) value among the candidate
    sites; 0.5 for all when they are all equal.

Any kind also accepts ``saturation``: a sentence saying why the curve is meant to put most
sites at 0 or at 1 on some territories (e.g. "no chemical platform within reach: 0 for every
site, the criterion then separates nothing"); the calibration tests accept a saturated
criterion only with it.

Each kind is one :class:`TransformKind` entry of :data:`TRANSFORMS`: its parameters, their
checks, its curve, its direction (which way is better, used to break ties) and the French
sentence that tells a map reader what its 0..1 score means (:func:`transform_meaning`);
adding a kind means adding one entry.

Missing raw values (``nan``) score 0 — an unknown value never makes a site look better.
Infinite distances (an empty layer) follow the curve: 0 for a decreasing curve, 1 for an
increasing one.
"""

from __future__ import annotations

import abc
import difflib
import itertools
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import ProfileError

__all__ = [
    "RELATIVE_KINDS",
    "SCALABLE_KINDS",
    "TRANSFORMS",
    "TRANSFORM_KINDS",
    "TransformKind",
    "apply_transform",
    "boolean",
    "categorical",
    "closeness_key",
    "gaussian",
    "linear",
    "minmax",
    "percentile",
    "percentile_from_counts",
    "percentile_key",
    "piecewise",
    "sigmoid",
    "step",
    "transform_kind",
    "transform_meaning",
    "validate_transform",
]

log = logging.getLogger(__name__)

_DIRECTIONS = ("increasing", "decreasing")


def _as_float(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr


def _clean(score: np.ndarray) -> np.ndarray:
    # nan raw values (unknown) score 0; clip guards against rounding just outside [0, 1].
    return np.clip(np.nan_to_num(score, nan=0.0), 0.0, 1.0)


def linear(
    values: Any,
    *,
    lower: Any,
    upper: Any,
    direction: str = "increasing",
) -> np.ndarray:
    """Score on a straight line between two bounds.

    Parameters
    ----------
    values : array-like
        Raw values, in the unit of the bounds (e.g. metres).
    lower, upper : float or array-like
        Bounds, ``lower < upper``, broadcast against ``values``.
    direction : {"increasing", "decreasing"}
        ``increasing``: 0 at ``lower`` or below, 1 at ``upper`` or above;
        ``decreasing``: 1 at ``lower`` or below, 0 at ``upper`` or above.

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    x = _as_float(values)
    lo = _as_float(lower)
    hi = _as_float(upper)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    # inf - lo / finite span gives inf, clipped to 1: an infinite distance is "far", as wanted.
    return _clean(up if direction == "increasing" else 1.0 - up)


def sigmoid(
    values: Any,
    *,
    midpoint: Any,
    scale: Any,
    direction: str = "increasing",
) -> np.ndarray:
    """Logistic S-curve: 0.5 at ``midpoint``, steepness set by ``scale``.

    Parameters
    ----------
    values : array-like
        Raw values.
    midpoint : float or array-like
        Raw value scoring 0.5.
    scale : float or array-like
        Positive, in raw units: the score is 0.73 at ``midpoint + scale`` (increasing).
    direction : {"increasing", "decreasing"}
        Whether large raw values are good or bad.

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    x = _as_float(values)
    with np.errstate(invalid="ignore", over="ignore"):
        z = (x - _as_float(midpoint)) / _as_float(scale)
    # Logistic function written with tanh: no overflow for large |z|, exact 0/1 at ±inf.
    s = 0.5 * (1.0 + np.tanh(0.5 * (z if direction == "increasing" else -z)))
    return _clean(s)


def gaussian(values: Any, *, center: Any, width: Any) -> np.ndarray:
    """Bell curve: 1 at ``center``, ``exp(-1/2)`` = 0.61 at ``center ± width``.

    Parameters
    ----------
    values : array-like
        Raw values.
    center : float or array-like
        Best raw value.
    width : float or array-like
        Standard deviation of the bell, positive, raw units.

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    x = _as_float(values)
    with np.errstate(invalid="ignore", over="ignore"):
        z = (x - _as_float(center)) / _as_float(width)
        s = np.exp(-0.5 * z * z)
    return _clean(s)


def step(values: Any, *, thresholds: Sequence[float], scores: Sequence[float]) -> np.ndarray:
    """Score by classes: constant between ascending thresholds.

    Parameters
    ----------
    values : array-like
        Raw values.
    thresholds : sequence of float
        Ascending class limits (raw units). A value equal to a threshold belongs to the
        class above it.
    scores : sequence of float
        ``len(thresholds) + 1`` scores in ``[0, 1]``, from the lowest class to the highest.

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    x = _as_float(values)
    t = np.asarray(thresholds, dtype=float)
    s = np.asarray(scores, dtype=float)
    idx = np.searchsorted(t, np.nan_to_num(x, nan=-np.inf), side="right")
    out = s[idx]
    return _clean(np.where(np.isnan(x), np.nan, out))


def piecewise(values: Any, *, points: Sequence[Sequence[float]]) -> np.ndarray:
    """Interpolate linearly in a table of ``(raw value, score)`` points.

    Parameters
    ----------
    values : array-like
        Raw values.
    points : sequence of (float, float)
        ``(x, score)`` pairs with ascending ``x`` and scores in ``[0, 1]``; the score is
        constant before the first and after the last point.

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    x = _as_float(values)
    pts = np.asarray(points, dtype=float)
    return _clean(np.interp(x, pts[:, 0], pts[:, 1]))


def categorical(values: Any, *, mapping: Mapping[Any, float], default: float = 0.0) -> np.ndarray:
    """Score categories from a table; any category not in it scores ``default``.

    Parameters
    ----------
    values : array-like
        Categories (text, integers, booleans).
    mapping : mapping
        Category → score in ``[0, 1]``. Keys are compared as text, so ``"1"`` matches ``1``.
    default : float
        Score of missing values and of categories not in ``mapping``.

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    series = pd.Series(np.asarray(values, dtype=object).ravel())
    table = {str(k): float(v) for k, v in mapping.items()}
    # Vectorised lookup: compare as text, then missing values and unknown categories.
    scores = series.astype(str).map(table).astype(float)
    scores[series.isna().to_numpy()] = np.nan
    out = scores.fillna(float(default)).to_numpy(dtype=float)
    return _clean(out.reshape(np.shape(values)))


def boolean(values: Any, *, true: float = 1.0, false: float = 0.0) -> np.ndarray:
    """Score a yes/no measure: ``true`` where the value is true, ``false`` elsewhere.

    Parameters
    ----------
    values : array-like
        Booleans (or 0/1); missing values count as false.
    true, false : float
        Scores in ``[0, 1]``.

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    flat = np.asarray(values, dtype=object).ravel()
    missing = np.asarray(pd.isna(flat), dtype=bool)
    arr = np.zeros(flat.shape, dtype=bool)
    arr[~missing] = flat[~missing].astype(bool)
    return _clean(np.where(arr, float(true), float(false)).reshape(np.shape(values)))


def percentile(values: Any, *, direction: str = "increasing") -> np.ndarray:
    """Score relative to the candidate sites: the value's mid-rank percentile among them.

    Parameters
    ----------
    values : array-like
        Raw values of all the candidate sites, shape ``(sites,)`` or ``(draws, sites)`` (each
        row ranked on its own).
    direction : {"increasing", "decreasing"}
        Whether large raw values are good (``increasing``) or bad.

    Returns
    -------
    numpy.ndarray
        ``(L + (E − 1) / 2) / (N − 1)``: ``L`` known values worse, ``E`` equal values (itself
        included) among the ``N`` known values; 1 for the best site alone, 0 for the worst
        alone, 0.5 when every site has the same value. Missing values score 0.
    """
    from foncier.engine.ties import midrank_quantile

    x = _as_float(values)
    oriented = percentile_key(x, direction=direction)
    flat = np.atleast_2d(oriented)
    out = np.zeros(flat.shape)
    for i, row in enumerate(flat):  # one row per draw: a handful, never one per site
        known = ~np.isnan(row)
        out[i, known] = midrank_quantile(row[known])
    return _clean(out.reshape(x.shape))


def percentile_key(values: Any, *, direction: str = "increasing") -> np.ndarray:
    """Raw values oriented as :func:`percentile` ranks them (larger = better; ``nan`` kept).

    Parameters
    ----------
    values : array-like
        Raw values.
    direction : {"increasing", "decreasing"}
        The transform's direction.

    Returns
    -------
    numpy.ndarray
    """
    x = _as_float(values)
    return x if direction == "increasing" else -x


def percentile_from_counts(below: Any, equal: Any, n_known: int, known: Any) -> np.ndarray:
    """:func:`percentile` scores from counts made over a larger candidate set.

    Parameters
    ----------
    below, equal : array-like of int
        For each site, the number of known values of the whole candidate set strictly below
        its :func:`percentile_key`, and equal to it (itself included); ignored where unknown.
    n_known : int
        Number of known (not ``nan``) values in the whole candidate set.
    known : array-like of bool
        Whether each site's value is known (missing values score 0).

    Returns
    -------
    numpy.ndarray
        The same floats :func:`percentile` gives on the whole candidate set.
    """
    from foncier.engine.ties import midrank_from_counts

    mask = np.asarray(known, dtype=bool)
    out = np.zeros(mask.shape)
    out[mask] = midrank_from_counts(np.asarray(below)[mask], np.asarray(equal)[mask], n_known)
    return _clean(out)


def minmax(
    values: Any,
    *,
    direction: str = "increasing",
    bounds: tuple[float, float] | None = None,
) -> np.ndarray:
    """Score relative to the candidate sites: linear between their worst and best values.

    Parameters
    ----------
    values : array-like
        Raw values of all the candidate sites, shape ``(sites,)`` or ``(draws, sites)``.
    direction : {"increasing", "decreasing"}
        Whether large raw values are good (``increasing``) or bad.
    bounds : (float, float), optional
        ``(min, max)`` of the finite values of the whole candidate set when ``values`` are
        only part of it (a partition of a national dataset); ``nan`` when it has none.

    Returns
    -------
    numpy.ndarray
        ``(x − min) / (max − min)`` over the sites' finite values (``1 −`` that when
        decreasing); 0.5 for every site when all finite values are equal; infinite values
        (an empty layer) sit beyond the ends (0 or 1 by direction); missing values score 0.
    """
    x = _as_float(values)
    finite = np.where(np.isfinite(x), x, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan rows: nanmin warns
        if bounds is None:
            lo = np.nanmin(finite, axis=-1, keepdims=True)
            hi = np.nanmax(finite, axis=-1, keepdims=True)
        else:
            lo, hi = np.float64(bounds[0]), np.float64(bounds[1])
        span = hi - lo
        up = np.where(span > 0, np.clip((x - lo) / np.where(span > 0, span, 1.0), 0.0, 1.0), 0.5)
    up = np.where(np.isnan(x), np.nan, up)
    score = up if direction == "increasing" else 1.0 - up
    return _clean(score)


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _num(spec: Mapping[str, Any], key: str, where: str) -> float:
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{where}: transform parameter {key!r} must be a number, got {value!r}.")
    if not np.isfinite(value):
        raise ProfileError(f"{where}: transform parameter {key!r} must be finite, got {value!r}.")
    return float(value)


def _unit_score(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ProfileError(f"{where}: {what} must be a score between 0 and 1, got {value!r}.")
    return float(value)


def _monotony(ys: Sequence[float]) -> str | None:
    """``"increasing"`` / ``"decreasing"`` for a non-constant monotonic list of scores."""
    steps = np.diff(np.asarray(ys, dtype=float))
    if not steps.any():
        return None
    if (steps >= 0).all():
        return "increasing"
    if (steps <= 0).all():
        return "decreasing"
    return None


class TransformKind(abc.ABC):
    """One kind of transform: its parameters, their checks, its curve and its direction.

    Subclasses set the class attributes and override :meth:`parse` (checks and conversion of
    their own parameters) and :meth:`score` (the curve); the common checks (unknown kind,
    missing or unknown parameters, direction) are done once in :func:`validate_transform`.
    """

    #: Name written in profiles (``kind = "..."``).
    name: str = ""
    #: Parameters that must be given, and those that may be.
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    #: The curve lives on the raw axis and can be stretched (bounds sensitivity).
    scalable: bool = False
    #: Scores depend on the other candidate sites, not only on the site's own value.
    relative: bool = False

    def parse(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The kind's own parameters, checked and converted (defaults filled in)."""
        return {}

    @abc.abstractmethod
    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        """Scores in ``[0, 1]`` of raw values (already divided by any stretch factor)."""

    def direction(self, spec: Mapping[str, Any]) -> str | None:
        """Which way is better: ``"increasing"``, ``"decreasing"`` or None (no order).

        Used by :func:`closeness_key` to break ties between sites.
        """
        value = spec.get("direction")
        return str(value) if value in _DIRECTIONS else None

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        """What a 0..1 score means, in French, for legends and site sheets."""
        return ""


class _Linear(TransformKind):
    name, required, optional, scalable = "linear", ("from", "to"), ("direction",), True

    def parse(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        lo, hi = _num(spec, "from", where), _num(spec, "to", where)
        if not lo < hi:
            raise ProfileError(
                f"{where}: linear transform needs from < to (got from={lo:g}, to={hi:g}); "
                "use direction = 'decreasing' for a curve that goes down."
            )
        return {"from": lo, "to": hi}

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return linear(values, lower=spec["from"], upper=spec["to"], direction=spec["direction"])

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        lo, hi = (f"{spec[k]:g} {unit}".strip() for k in ("from", "to"))
        if spec["direction"] == "increasing":
            return f"0 à {lo} ou moins, 1 à {hi} ou plus"
        return f"1 à {lo} ou moins, 0 à {hi} ou plus"


class _Sigmoid(TransformKind):
    name, required, optional, scalable = "sigmoid", ("midpoint", "scale"), ("direction",), True

    def parse(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        out = {"midpoint": _num(spec, "midpoint", where), "scale": _num(spec, "scale", where)}
        if out["scale"] <= 0:
            raise ProfileError(f"{where}: sigmoid scale must be positive, got {out['scale']:g}.")
        return out

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return sigmoid(
            values, midpoint=spec["midpoint"], scale=spec["scale"], direction=spec["direction"]
        )

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        return f"courbe en S, 0,5 à {spec['midpoint']:g} {unit}".strip()


class _Gaussian(TransformKind):
    name, required, scalable = "gaussian", ("center", "width"), True

    def parse(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        out = {"center": _num(spec, "center", where), "width": _num(spec, "width", where)}
        if out["width"] <= 0:
            raise ProfileError(f"{where}: gaussian width must be positive, got {out['width']:g}.")
        return out

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return gaussian(values, center=spec["center"], width=spec["width"])

    def direction(self, spec: Mapping[str, Any]) -> str | None:
        return None  # best around the center: closeness_key orders by |x - center|

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        return f"1 à {spec['center']:g} {unit}, décroît de part et d'autre".replace("  ", " ")


class _Step(TransformKind):
    name, required, scalable = "step", ("thresholds", "scores"), True

    def parse(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        thresholds, scores = spec["thresholds"], spec["scores"]
        if not isinstance(thresholds, Sequence) or not isinstance(scores, Sequence):
            raise ProfileError(f"{where}: step thresholds and scores must be lists.")
        t = [_num({"t": v}, "t", where) for v in thresholds]
        if not t or any(b <= a for a, b in itertools.pairwise(t)):
            raise ProfileError(f"{where}: step thresholds must be a non-empty ascending list.")
        if len(scores) != len(t) + 1:
            raise ProfileError(
                f"{where}: step needs one more score than thresholds "
                f"({len(t)} thresholds → {len(t) + 1} scores, got {len(scores)})."
            )
        return {
            "thresholds": t,
            "scores": [_unit_score(v, "each step score", where) for v in scores],
        }

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return step(values, thresholds=spec["thresholds"], scores=spec["scores"])

    def direction(self, spec: Mapping[str, Any]) -> str | None:
        return _monotony(spec["scores"])

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        return f"par paliers, seuils {', '.join(f'{t:g}' for t in spec['thresholds'])} {unit}"


class _Piecewise(TransformKind):
    name, required, scalable = "piecewise", ("points",), True

    def parse(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        points = spec["points"]
        if (
            not isinstance(points, Sequence)
            or len(points) < 2
            or not all(isinstance(p, Sequence) and len(p) == 2 for p in points)
        ):
            raise ProfileError(
                f"{where}: piecewise points must be a list of at least two [x, score] pairs."
            )
        xs = [_num({"x": p[0]}, "x", where) for p in points]
        if any(b <= a for a, b in itertools.pairwise(xs)):
            raise ProfileError(f"{where}: piecewise x values must be strictly ascending.")
        ys = [_unit_score(p[1], "each piecewise score", where) for p in points]
        return {"points": [[x, y] for x, y in zip(xs, ys, strict=True)]}

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return piecewise(values, points=spec["points"])

    def direction(self, spec: Mapping[str, Any]) -> str | None:
        return _monotony([p[1] for p in spec["points"]])

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        pts = ", ".join(f"{x:g} → {y:g}" for x, y in spec["points"])
        return f"interpolée entre les points ({unit}) {pts}".replace(" ()", "")


class _Categorical(TransformKind):
    name, required, optional = "categorical", ("map",), ("default",)

    def parse(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        mapping = spec["map"]
        if not isinstance(mapping, Mapping) or not mapping:
            raise ProfileError(f"{where}: categorical map must be a non-empty table.")
        return {
            "map": {str(k): _unit_score(v, f"score of {k!r}", where) for k, v in mapping.items()},
            "default": _unit_score(spec.get("default", 0.0), "default", where),
        }

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return categorical(values, mapping=spec["map"], default=spec.get("default", 0.0))

    def direction(self, spec: Mapping[str, Any]) -> str | None:
        return None

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        return "note par catégorie"


class _Boolean(TransformKind):
    name, optional = "boolean", ("true", "false")

    def parse(self, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        return {
            "true": _unit_score(spec.get("true", 1.0), "true", where),
            "false": _unit_score(spec.get("false", 0.0), "false", where),
        }

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return boolean(values, true=spec.get("true", 1.0), false=spec.get("false", 0.0))

    def direction(self, spec: Mapping[str, Any]) -> str | None:
        return None

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        return f"{spec.get('true', 1.0):g} si oui, {spec.get('false', 0.0):g} si non"


class _Percentile(TransformKind):
    name, optional, relative = "percentile", ("direction",), True

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return percentile(values, direction=spec["direction"])

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        better = "plus grande" if spec["direction"] == "increasing" else "plus petite"
        return (
            "note relative aux sites candidats : part des sites moins bien placés (rang "
            f"centile ; 1 = valeur la {better} du jeu de sites, 0,5 = médiane), pas un seuil absolu"
        )


class _MinMax(TransformKind):
    name, optional, relative = "minmax", ("direction",), True

    def score(self, values: Any, spec: Mapping[str, Any]) -> np.ndarray:
        return minmax(values, direction=spec["direction"])

    def meaning(self, spec: Mapping[str, Any], unit: str = "") -> str:
        best, worst = ("maximum", "minimum")[:: 1 if spec["direction"] == "increasing" else -1]
        return (
            f"note relative aux sites candidats : 1 au {best} du jeu de sites, 0 au {worst}, "
            "linéaire entre les deux, pas un seuil absolu"
        )


#: Every transform kind, by the name written in profiles.
TRANSFORMS: dict[str, TransformKind] = {
    k.name: k
    for k in (
        _Linear(),
        _Sigmoid(),
        _Gaussian(),
        _Step(),
        _Piecewise(),
        _Categorical(),
        _Boolean(),
        _Percentile(),
        _MinMax(),
    )
}

#: Parameters of each kind: (required, optional), derived from :data:`TRANSFORMS`.
TRANSFORM_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    name: (k.required, k.optional) for name, k in TRANSFORMS.items()
}

#: Kinds whose curve lives on a numeric axis and can be stretched (bounds sensitivity).
SCALABLE_KINDS = frozenset(name for name, k in TRANSFORMS.items() if k.scalable)

#: Kinds whose scores depend on the whole candidate set.
RELATIVE_KINDS = frozenset(name for name, k in TRANSFORMS.items() if k.relative)

#: Key any kind accepts: why this curve is meant to put most sites at 0 or at 1 on some
#: territories (checked by the profile calibration tests, shown by the diagnostics).
SATURATION_KEY = "saturation"


def validate_transform(spec: Mapping[str, Any], *, where: str = "transform") -> dict[str, Any]:
    """Check a transform specification and return it normalised (defaults filled in).

    Parameters
    ----------
    spec : mapping
        ``{"kind": ..., <parameters>}`` as written in a profile; any kind also accepts
        ``saturation`` (text: why the curve may put most sites at 0 or 1).
    where : str
        Location used in error messages (e.g. ``"criterion 'rail_freight'"``).

    Returns
    -------
    dict
        A new dict with the kind, its parameters converted to floats/lists, and defaults.

    Raises
    ------
    ProfileError
        Unknown kind (the message lists the kinds), missing bounds, unknown parameters,
        bounds in the wrong order, scores outside ``[0, 1]``.
    """
    if not isinstance(spec, Mapping):
        raise ProfileError(
            f"{where}: the transform must be a table like {{ kind = 'linear', ... }}."
        )
    name = spec.get("kind")
    kind = TRANSFORMS.get(str(name)) if isinstance(name, str) else None
    if kind is None:
        raise ProfileError(
            f"{where}: unknown transform kind {name!r}. Known kinds: "
            f"{', '.join(TRANSFORMS)}.{_suggest(str(name), list(TRANSFORMS))}"
        )
    missing = [k for k in kind.required if k not in spec]
    if missing:
        raise ProfileError(
            f"{where}: transform {kind.name!r} is missing {', '.join(repr(m) for m in missing)} "
            f"(it needs {', '.join(kind.required)})."
        )
    allowed = {"kind", SATURATION_KEY, *kind.required, *kind.optional}
    for key in spec:
        if key not in allowed:
            raise ProfileError(
                f"{where}: unknown parameter {key!r} for transform {kind.name!r} (allowed: "
                f"{', '.join(sorted(allowed - {'kind'}))}).{_suggest(key, sorted(allowed))}"
            )
    out: dict[str, Any] = {"kind": kind.name}
    if "direction" in kind.optional:
        direction = spec.get("direction", "increasing")
        if direction not in _DIRECTIONS:
            raise ProfileError(
                f"{where}: direction must be 'increasing' or 'decreasing', got {direction!r}."
            )
        out["direction"] = direction
    out.update(kind.parse(spec, where))
    if SATURATION_KEY in spec:
        note = spec[SATURATION_KEY]
        if not isinstance(note, str) or not note.strip():
            raise ProfileError(
                f"{where}: {SATURATION_KEY!r} must be a sentence saying why the curve may put "
                f"most sites at 0 or 1, got {note!r}."
            )
        out[SATURATION_KEY] = note.strip()
    return out


def transform_kind(spec: Mapping[str, Any]) -> TransformKind:
    """The :class:`TransformKind` of a validated specification.

    Raises
    ------
    ProfileError
        Unknown kind.
    """
    kind = TRANSFORMS.get(str(spec.get("kind")))
    if kind is None:
        raise ProfileError(
            f"unknown transform kind {spec.get('kind')!r}. Known kinds: {', '.join(TRANSFORMS)}."
        )
    return kind


def apply_transform(values: Any, spec: Mapping[str, Any], *, stretch: Any = 1.0) -> np.ndarray:
    """Apply a transform given as a profile specification.

    Parameters
    ----------
    values : array-like
        Raw values (any shape; numpy broadcasting rules apply with ``stretch``). Relative
        kinds (``percentile``, ``minmax``) rank along the last axis: pass all the candidate
        sites at once.
    spec : mapping
        A transform as returned by :func:`validate_transform`.
    stretch : float or array-like
        Factor applied to every bound of a numeric curve (``from``/``to``, midpoint and scale,
        center and width, thresholds, piecewise ``x``), i.e. the curve is stretched along the
        raw axis. Used by the sensitivity analysis; ignored by categorical, boolean and
        relative kinds (stretching every value alike changes no rank).

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    kind = transform_kind(spec)
    if kind.scalable:
        # Scaling every bound by f is the same as evaluating the curve at x / f.
        return kind.score(_as_float(values) / _as_float(stretch), spec)
    return kind.score(values, spec)


def transform_meaning(spec: Mapping[str, Any], unit: str = "") -> str:
    """What a criterion's 0..1 score means, in French (legends, site sheets).

    Parameters
    ----------
    spec : mapping
        A validated transform.
    unit : str
        The raw value's unit (``"m"``, ``"hab."`` …).

    Returns
    -------
    str
        E.g. ``"1 à 500 m ou moins, 0 à 10000 m ou plus"``, or for a relative kind a sentence
        that says the score compares the candidate sites with one another.
    """
    return transform_kind(spec).meaning(spec, unit)


def closeness_key(values: Any, spec: Mapping[str, Any]) -> np.ndarray:
    """Raw values oriented so that larger means better, for breaking ties between sites.

    The direction comes from the transform kind (:meth:`TransformKind.direction`):
    ``linear``, ``sigmoid``, ``percentile`` and ``minmax`` use their ``direction``; ``step``
    and ``piecewise`` are increasing (decreasing) when their scores never go down (never go
    up) along the raw axis; ``gaussian`` orders by closeness to its ``center``
    (``-|x - center|``). Transforms with no order on the raw axis (``categorical``,
    ``boolean``, a non-monotonic or constant ``step`` / ``piecewise``) order by their score,
    so ties on a plateau of such a curve stay ties.

    Parameters
    ----------
    values : array-like
        Raw values, shape ``(sites,)``.
    spec : mapping
        A transform as returned by :func:`validate_transform`.

    Returns
    -------
    numpy.ndarray
        Float array, larger = better; missing values are ``-inf`` (worse than any value).
    """
    kind = transform_kind(spec)
    direction = kind.direction(spec)
    if kind.name == "gaussian":
        key = -np.abs(_as_float(values) - float(spec["center"]))
    elif direction == "increasing":
        key = _as_float(values)
    elif direction == "decreasing":
        key = -_as_float(values)
    else:
        key = apply_transform(values, spec).astype(float)
    return np.where(np.isnan(key), -np.inf, key)

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

Missing raw values (``nan``) score 0 — an unknown value never makes a site look better.
Infinite distances (an empty layer) follow the curve: 0 for a decreasing curve, 1 for an
increasing one.
"""

from __future__ import annotations

import difflib
import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import ProfileError

__all__ = [
    "SCALABLE_KINDS",
    "TRANSFORM_KINDS",
    "apply_transform",
    "boolean",
    "categorical",
    "closeness_key",
    "gaussian",
    "linear",
    "piecewise",
    "sigmoid",
    "step",
    "validate_transform",
]

log = logging.getLogger(__name__)

#: Parameters of each kind: (required, optional).
TRANSFORM_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "linear": (("from", "to"), ("direction",)),
    "sigmoid": (("midpoint", "scale"), ("direction",)),
    "gaussian": (("center", "width"), ()),
    "step": (("thresholds", "scores"), ()),
    "piecewise": (("points",), ()),
    "categorical": (("map",), ("default",)),
    "boolean": ((), ("true", "false")),
}

#: Kinds whose curve lives on a numeric axis and can be stretched (bounds sensitivity).
SCALABLE_KINDS = frozenset({"linear", "sigmoid", "gaussian", "step", "piecewise"})

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


def validate_transform(spec: Mapping[str, Any], *, where: str = "transform") -> dict[str, Any]:
    """Check a transform specification and return it normalised (defaults filled in).

    Parameters
    ----------
    spec : mapping
        ``{"kind": ..., <parameters>}`` as written in a profile.
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
    kind = spec.get("kind")
    if kind not in TRANSFORM_KINDS:
        raise ProfileError(
            f"{where}: unknown transform kind {kind!r}. Known kinds: "
            f"{', '.join(TRANSFORM_KINDS)}.{_suggest(str(kind), list(TRANSFORM_KINDS))}"
        )
    required, optional = TRANSFORM_KINDS[kind]
    missing = [k for k in required if k not in spec]
    if missing:
        raise ProfileError(
            f"{where}: transform {kind!r} is missing {', '.join(repr(m) for m in missing)} "
            f"(it needs {', '.join(required)})."
        )
    allowed = {"kind", *required, *optional}
    for key in spec:
        if key not in allowed:
            raise ProfileError(
                f"{where}: unknown parameter {key!r} for transform {kind!r} (allowed: "
                f"{', '.join(sorted(allowed - {'kind'}))}).{_suggest(key, sorted(allowed))}"
            )
    out: dict[str, Any] = {"kind": kind}
    if "direction" in optional:
        direction = spec.get("direction", "increasing")
        if direction not in _DIRECTIONS:
            raise ProfileError(
                f"{where}: direction must be 'increasing' or 'decreasing', got {direction!r}."
            )
        out["direction"] = direction
    if kind == "linear":
        lo, hi = _num(spec, "from", where), _num(spec, "to", where)
        if not lo < hi:
            raise ProfileError(
                f"{where}: linear transform needs from < to (got from={lo:g}, to={hi:g}); "
                "use direction = 'decreasing' for a curve that goes down."
            )
        out.update({"from": lo, "to": hi})
    elif kind == "sigmoid":
        out["midpoint"] = _num(spec, "midpoint", where)
        out["scale"] = _num(spec, "scale", where)
        if out["scale"] <= 0:
            raise ProfileError(f"{where}: sigmoid scale must be positive, got {out['scale']:g}.")
    elif kind == "gaussian":
        out["center"] = _num(spec, "center", where)
        out["width"] = _num(spec, "width", where)
        if out["width"] <= 0:
            raise ProfileError(f"{where}: gaussian width must be positive, got {out['width']:g}.")
    elif kind == "step":
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
        out.update(
            {"thresholds": t, "scores": [_unit_score(s, "each step score", where) for s in scores]}
        )
    elif kind == "piecewise":
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
        out["points"] = [[x, y] for x, y in zip(xs, ys, strict=True)]
    elif kind == "categorical":
        mapping = spec["map"]
        if not isinstance(mapping, Mapping) or not mapping:
            raise ProfileError(f"{where}: categorical map must be a non-empty table.")
        out["map"] = {str(k): _unit_score(v, f"score of {k!r}", where) for k, v in mapping.items()}
        out["default"] = _unit_score(spec.get("default", 0.0), "default", where)
    elif kind == "boolean":
        out["true"] = _unit_score(spec.get("true", 1.0), "true", where)
        out["false"] = _unit_score(spec.get("false", 0.0), "false", where)
    return out


def apply_transform(values: Any, spec: Mapping[str, Any], *, stretch: Any = 1.0) -> np.ndarray:
    """Apply a transform given as a profile specification.

    Parameters
    ----------
    values : array-like
        Raw values (any shape; numpy broadcasting rules apply with ``stretch``).
    spec : mapping
        A transform as returned by :func:`validate_transform`.
    stretch : float or array-like
        Factor applied to every bound of a numeric curve (``from``/``to``, midpoint and scale,
        center and width, thresholds, piecewise ``x``), i.e. the curve is stretched along the
        raw axis. Used by the sensitivity analysis; ignored by categorical and boolean kinds.

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``.
    """
    kind = spec["kind"]
    if kind in SCALABLE_KINDS:
        # Scaling every bound by f is the same as evaluating the curve at x / f.
        x = _as_float(values) / _as_float(stretch)
        if kind == "linear":
            return linear(x, lower=spec["from"], upper=spec["to"], direction=spec["direction"])
        if kind == "sigmoid":
            return sigmoid(
                x, midpoint=spec["midpoint"], scale=spec["scale"], direction=spec["direction"]
            )
        if kind == "gaussian":
            return gaussian(x, center=spec["center"], width=spec["width"])
        if kind == "step":
            return step(x, thresholds=spec["thresholds"], scores=spec["scores"])
        return piecewise(x, points=spec["points"])
    if kind == "categorical":
        return categorical(values, mapping=spec["map"], default=spec.get("default", 0.0))
    if kind == "boolean":
        return boolean(values, true=spec.get("true", 1.0), false=spec.get("false", 0.0))
    raise ProfileError(
        f"unknown transform kind {kind!r}. Known kinds: {', '.join(TRANSFORM_KINDS)}."
    )


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


def closeness_key(values: Any, spec: Mapping[str, Any]) -> np.ndarray:
    """Raw values oriented so that larger means better, for breaking ties between sites.

    The direction comes from the transform: ``linear`` and ``sigmoid`` use their
    ``direction``; ``step`` and ``piecewise`` are increasing (decreasing) when their scores
    never go down (never go up) along the raw axis; ``gaussian`` orders by closeness to its
    ``center`` (``-|x - center|``). Transforms with no order on the raw axis (``categorical``,
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
    kind = spec["kind"]
    direction: str | None = spec.get("direction")
    if kind == "step":
        direction = _monotony(spec["scores"])
    elif kind == "piecewise":
        direction = _monotony([p[1] for p in spec["points"]])
    if kind == "gaussian":
        key = -np.abs(_as_float(values) - float(spec["center"]))
    elif direction == "increasing":
        key = _as_float(values)
    elif direction == "decreasing":
        key = -_as_float(values)
    else:
        key = apply_transform(values, spec).astype(float)
    return np.where(np.isnan(key), -np.inf, key)

"""Aggregation of criterion scores into one site score, and weights from AHP.

Scores are arrays of shape ``(..., sites, criteria)`` in ``[0, 1]``; weights are arrays of
shape ``(criteria,)`` or ``(draws, criteria)`` so that a Monte-Carlo sensitivity run aggregates
every draw at once (result ``(draws, sites)``).

Methods
-------
``weighted_sum``
    Weighted linear combination ``Σ wᵢ sᵢ`` (weights normalised to sum to 1): a good score on
    one criterion compensates a poor one on another.
``weighted_product``
    ``Π sᵢ^wᵢ``: a zero on any weighted criterion gives zero, so weak points are hardly
    compensated.
``owa``
    Ordered weighted averaging with criterion weights, in the form used in GIS
    multi-criteria analysis (Malczewski 2006, IDRISI/TerrSet): for each site the criteria are
    sorted by score, best first, order weight ``vⱼ`` goes to the j-th best, and
    ``OWA = Σ uᵢ v'ᵢ sᵢ / Σ uᵢ v'ᵢ``. Order weights weighted towards the best scores
    make the result optimistic ("OR"-like), towards the worst pessimistic ("AND"-like); equal
    order weights give back the weighted sum.

    **Ties between criteria.** Sorting alone would hand different order weights to criteria
    with equal scores depending on the order in which the profile lists them. Instead, with
    the order weights ``v₁..v_k`` normalised to sum to 1 (best rank first) and
    ``Vⱼ = v₁ + … + vⱼ`` (``V₀ = 0``, cumulated in rank order), each criterion ``i`` gets

        ``aᵢ = #{j : rⱼ > rᵢ}``, ``bᵢ = #{j : rⱼ ≥ rᵢ}``,
        ``v'ᵢ = v_{aᵢ+1}`` when ``bᵢ − aᵢ = 1``, else ``v'ᵢ = (V_{bᵢ} − V_{aᵢ}) / (bᵢ − aᵢ)``

    where ``rᵢ = floor(sᵢ · 10¹² + 0.5)`` is the score rounded to 12 decimals: the criteria
    tied on a score share the mean of the order weights of the places they occupy together.
    The result no longer depends on the order of the criteria, and equals the sorted form when
    no two scores are equal.

AHP (Saaty's analytic hierarchy process) derives weights from a reciprocal pairwise matrix:
``A[i, j]`` says how much more important criterion *i* is than *j* on Saaty's 1–9 scale.
The weights are the principal eigenvector; the consistency ratio ``CR = CI / RI`` with
``CI = (λmax − n) / (n − 1)`` and Saaty's random index RI must stay at or below 0.10.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from layers.errors import ProfileError

__all__ = [
    "AGGREGATIONS",
    "RANDOM_INDEX",
    "AHPResult",
    "aggregate",
    "ahp_weights",
    "normalise_weights",
    "owa",
    "owa_position_weights",
    "weighted_product",
    "weighted_sum",
]

log = logging.getLogger(__name__)

AGGREGATIONS = ("weighted_sum", "weighted_product", "owa")

#: Saaty's random consistency index by matrix size (Saaty 1980, The Analytic Hierarchy Process).
RANDOM_INDEX: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}

#: Largest acceptable consistency ratio (Saaty's 10 % rule).
MAX_CONSISTENCY_RATIO = 0.10


def normalise_weights(weights: Any) -> np.ndarray:
    """Return weights divided by their sum (along the last axis).

    Parameters
    ----------
    weights : array-like
        Non-negative weights, shape ``(criteria,)`` or ``(draws, criteria)``.

    Returns
    -------
    numpy.ndarray
        Weights summing to 1 along the last axis.

    Raises
    ------
    ProfileError
        A weight is negative or not finite, or all weights are zero.
    """
    w = np.asarray(weights, dtype=float)
    if w.size == 0:
        raise ProfileError("no weights given: a profile needs at least one weighted criterion.")
    if not np.isfinite(w).all():
        raise ProfileError(f"weights must be finite numbers, got {w.tolist()}.")
    if (w < 0).any():
        raise ProfileError(f"weights must not be negative, got {w.tolist()}.")
    total = w.sum(axis=-1, keepdims=True)
    if (total <= 0).any():
        raise ProfileError("all weights are zero: give at least one criterion a positive weight.")
    return w / total


def _check_scores(scores: Any, n_criteria: int) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    if s.shape[-1] != n_criteria:
        raise ProfileError(
            f"{s.shape[-1]} criterion score column(s) but {n_criteria} weight(s): "
            "give one weight per criterion."
        )
    return s


def weighted_sum(scores: Any, weights: Any) -> np.ndarray:
    """Weighted linear combination of criterion scores.

    Parameters
    ----------
    scores : array-like
        Scores in ``[0, 1]``, shape ``(sites, criteria)`` or ``(draws, sites, criteria)``.
    weights : array-like
        Non-negative weights, shape ``(criteria,)`` (result ``(sites,)``) or
        ``(draws, criteria)`` (result ``(draws, sites)``); normalised here.

    Returns
    -------
    numpy.ndarray
        Aggregated scores in ``[0, 1]``.
    """
    w = normalise_weights(weights)
    s = _check_scores(scores, w.shape[-1])
    if s.ndim == 2:
        return np.clip(np.einsum("...k,sk->...s", w, s), 0.0, 1.0)
    # Scores that vary per draw too: (draws, sites, criteria) with weights (draws, criteria).
    return np.clip(np.einsum("...k,...sk->...s", w, s), 0.0, 1.0)


def weighted_product(scores: Any, weights: Any) -> np.ndarray:
    """Weighted product ``Π sᵢ^wᵢ`` of criterion scores (weights normalised).

    Parameters
    ----------
    scores : array-like
        Scores in ``[0, 1]``, shape ``(sites, criteria)``.
    weights : array-like
        Shape ``(criteria,)`` or ``(draws, criteria)``.

    Returns
    -------
    numpy.ndarray
        Aggregated scores in ``[0, 1]``: 0 as soon as a criterion of positive weight scores 0.
    """
    w = normalise_weights(weights)
    s = _check_scores(scores, w.shape[-1])
    with np.errstate(divide="ignore"):
        logs = np.log(s)
    # A zero-weight criterion must not matter even where it scores 0 (0 * -inf would be nan).
    wl = w[..., None, :] * np.where(w[..., None, :] > 0, logs, 0.0)
    return np.clip(np.exp(wl.sum(axis=-1)), 0.0, 1.0)


def owa_position_weights(scores: Any, order_weights: Any) -> np.ndarray:
    """Order weight received by each criterion score, tied scores sharing their places' mean.

    Parameters
    ----------
    scores : array-like
        Scores in ``[0, 1]``, shape ``(..., criteria)``.
    order_weights : array-like
        One weight per rank, best first, shape ``(criteria,)``; normalised here.

    Returns
    -------
    numpy.ndarray
        Same shape as ``scores``: ``v'ᵢ`` of the module docstring (independent of the order
        of the criteria).
    """
    v = normalise_weights(order_weights)
    s = np.asarray(scores, dtype=float)
    k = s.shape[-1]
    if v.shape[-1] != k:
        raise ProfileError(f"OWA needs {k} order weights (one per criterion), got {v.shape[-1]}.")
    cumulated = np.concatenate([[0.0], np.cumsum(v)])
    r = np.floor(s * 1e12 + 0.5)
    # above[..., i] = number of criteria scoring strictly better than i; upto: better or equal.
    above = (r[..., None, :] > r[..., :, None]).sum(axis=-1)
    upto = (r[..., None, :] >= r[..., :, None]).sum(axis=-1)
    size = upto - above
    shared = (cumulated[upto] - cumulated[above]) / size
    return np.where(size == 1, v[np.minimum(above, k - 1)], shared)


def owa(scores: Any, weights: Any, *, order_weights: Sequence[float] | None = None) -> np.ndarray:
    """Ordered weighted average with criterion weights (Malczewski 2006).

    Parameters
    ----------
    scores : array-like
        Scores in ``[0, 1]``, shape ``(sites, criteria)``.
    weights : array-like
        Criterion weights, shape ``(criteria,)`` or ``(draws, criteria)``.
    order_weights : sequence of float, optional
        One non-negative weight per rank, best score first; equal weights (the default) give
        the weighted sum, all weight on the last rank gives a weighted minimum-like "AND".

    Returns
    -------
    numpy.ndarray
        Aggregated scores in ``[0, 1]``.
    """
    w = normalise_weights(weights)
    s = _check_scores(scores, w.shape[-1])
    k = w.shape[-1]
    v = normalise_weights(np.ones(k) if order_weights is None else order_weights)
    if v.shape[-1] != k:
        raise ProfileError(f"OWA needs {k} order weights (one per criterion), got {v.shape[-1]}.")
    vj = owa_position_weights(s, v)  # same shape as the scores
    uv = w[..., None, :] * vj  # (..., sites, criteria)
    denom = uv.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (uv * s).sum(axis=-1) / denom
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)


def aggregate(
    scores: Any,
    weights: Any,
    *,
    method: str = "weighted_sum",
    order_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Aggregate criterion scores with the named method.

    Parameters
    ----------
    scores : array-like
        Scores in ``[0, 1]``, shape ``(sites, criteria)``.
    weights : array-like
        Criterion weights, shape ``(criteria,)`` or ``(draws, criteria)``.
    method : {"weighted_sum", "weighted_product", "owa"}
        Aggregation method.
    order_weights : sequence of float, optional
        OWA order weights (best first).

    Returns
    -------
    numpy.ndarray
        Scores in ``[0, 1]``, shape ``(sites,)`` or ``(draws, sites)``.
    """
    if method == "weighted_sum":
        return weighted_sum(scores, weights)
    if method == "weighted_product":
        return weighted_product(scores, weights)
    if method == "owa":
        return owa(scores, weights, order_weights=order_weights)
    raise ProfileError(f"unknown aggregation {method!r}. Known methods: {', '.join(AGGREGATIONS)}.")


@dataclass(frozen=True)
class AHPResult:
    """Weights derived by AHP from a pairwise comparison matrix.

    Attributes
    ----------
    weights : numpy.ndarray
        Principal eigenvector, normalised to sum to 1.
    lambda_max : float
        Principal eigenvalue.
    consistency_index : float
        ``CI = (λmax − n) / (n − 1)``.
    consistency_ratio : float
        ``CR = CI / RI(n)``; 0 for ``n ≤ 2`` (always consistent).
    labels : tuple of str
        Criterion ids, in matrix order.
    """

    weights: np.ndarray
    lambda_max: float
    consistency_index: float
    consistency_ratio: float
    labels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python summary (for result metadata and reports)."""
        return {
            "weights": dict(zip(self.labels, map(float, self.weights), strict=False))
            if self.labels
            else [float(w) for w in self.weights],
            "lambda_max": self.lambda_max,
            "consistency_index": self.consistency_index,
            "consistency_ratio": self.consistency_ratio,
        }


def ahp_weights(
    matrix: Any,
    *,
    labels: Sequence[str] = (),
    force: bool = False,
    max_cr: float = MAX_CONSISTENCY_RATIO,
) -> AHPResult:
    """Derive criterion weights from a pairwise comparison matrix (Saaty's AHP).

    Parameters
    ----------
    matrix : array-like
        Square reciprocal matrix, ``A[i, j] > 0`` and ``A[j, i] = 1 / A[i, j]`` (checked to
        1 %), ``A[i, i] = 1``.
    labels : sequence of str
        Criterion ids in matrix order (used in messages).
    force : bool
        Accept a matrix whose consistency ratio is above ``max_cr`` (logged as a warning).
    max_cr : float
        Largest accepted consistency ratio (Saaty: 0.10).

    Returns
    -------
    AHPResult
        Weights, λmax, CI and CR.

    Raises
    ------
    ProfileError
        Not square, non-positive or non-reciprocal entries, size beyond the random-index
        table, or CR above ``max_cr`` without ``force``.

    Examples
    --------
    Rail matters moderately more than the port (3) and strongly more than the road (5); the
    port moderately more than the road (3):

    >>> from foncier import ahp_weights
    >>> matrix = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]
    >>> ahp = ahp_weights(matrix, labels=["rail", "port", "road"])
    >>> ahp.weights.round(3).tolist(), round(ahp.consistency_ratio, 3)
    ([0.637, 0.258, 0.105], 0.033)

    Judgements that contradict each other are refused (consistency ratio above 0.10):

    >>> ahp_weights([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])
    Traceback (most recent call last):
    ...
    layers.errors.ProfileError: AHP matrix is inconsistent: consistency ratio 6.130 > 0.10 ...
    """
    try:
        A = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"AHP matrix must be a square table of numbers: {exc}.") from exc
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ProfileError(f"AHP matrix must be square, got shape {A.shape}.")
    n = A.shape[0]
    if labels and len(labels) != n:
        raise ProfileError(f"AHP matrix is {n}×{n} but {len(labels)} criteria are listed.")
    if n not in RANDOM_INDEX:
        raise ProfileError(f"AHP supports up to {max(RANDOM_INDEX)} criteria, got {n}.")
    if not np.isfinite(A).all() or (A <= 0).any():
        raise ProfileError("AHP matrix entries must be positive numbers (Saaty scale 1/9 … 9).")
    if not np.allclose(A * A.T, 1.0, rtol=0.01):
        i, j = np.argwhere(~np.isclose(A * A.T, 1.0, rtol=0.01))[0]
        names = labels or [str(k) for k in range(n)]
        raise ProfileError(
            f"AHP matrix is not reciprocal: A[{names[i]}][{names[j]}] = {A[i, j]:g} but "
            f"A[{names[j]}][{names[i]}] = {A[j, i]:g} (should be {1 / A[i, j]:.3g})."
        )
    eigvals, eigvecs = np.linalg.eig(A)
    k = int(np.argmax(eigvals.real))
    lam = float(eigvals[k].real)
    vec = np.abs(eigvecs[:, k].real)
    weights = vec / vec.sum()
    ci = (lam - n) / (n - 1) if n > 2 else 0.0
    cr = ci / RANDOM_INDEX[n] if n > 2 else 0.0
    result = AHPResult(
        weights=weights,
        lambda_max=lam,
        consistency_index=float(ci),
        consistency_ratio=float(max(cr, 0.0)),
        labels=tuple(labels),
    )
    if result.consistency_ratio > max_cr:
        message = (
            f"AHP matrix is inconsistent: consistency ratio {result.consistency_ratio:.3f} > "
            f"{max_cr:.2f} (λmax = {lam:.3f}, n = {n}). Revise the pairwise judgements, or set "
            "force = true to accept it anyway."
        )
        if not force:
            raise ProfileError(message)
        log.warning("%s (accepted: force = true)", message)
    return result

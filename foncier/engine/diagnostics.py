"""Does a ranking discriminate? Saturation, spread and separation of each criterion.

A siting map is read from its top. Before anyone reads "the ten best sites", these figures
say whether the profile actually tells them apart on this territory:

- per criterion, over the ranked (non-excluded) sites: the share of sites at the bottom of
  the 0..1 scale (score 0) and at its top (score 1), the spread of the scores (max − min),
  and its *separation*: the mean score of the top N minus the median score of the other
  ranked sites; the criterion *separates* the top N when the separation is at least
  :data:`MIN_SEPARATION`;
- the number of ranked sites tied with the best score, and the spread of the top N (score of
  the first minus score of the N-th, points out of 100).

When nothing discriminates, :attr:`RankingDiagnostics.discriminates` is False and
:attr:`RankingDiagnostics.reasons` says why in French, for the command line, the map and the
site sheets:

- no site is ranked (all excluded);
- every criterion is constant over the ranked sites (the ranking would be the tie-break alone);
- more than N sites share the best score (a "top N" would be an arbitrary pick among them);
- the top N spread is below :data:`MIN_TOP_SPREAD` points.

:func:`foncier.score` stores :meth:`RankingDiagnostics.as_dict` in
``result.attrs["foncier"]["diagnostics"]``; :func:`ranking_diagnostics` recomputes them for
any scored table and any N.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from foncier.engine.ties import SCORE_DECIMALS, round_key
from layers.errors import SchemaError

__all__ = [
    "MIN_SEPARATION",
    "MIN_TOP_SPREAD",
    "SATURATION_SHARE",
    "TOLERANCE",
    "CriterionDiagnostic",
    "RankingDiagnostics",
    "diagnostics_from_stats",
    "ranking_diagnostics",
]

#: Smallest top-N spread, in points out of 100, for a ranking to single out its top N. Scores
#: are shown with one decimal (map, command line, site sheets): below 0.1 point the N best
#: sites read as the same score, and the order among them comes from the tie-break only.
MIN_TOP_SPREAD = 0.1

#: Smallest separation (on the 0..1 scale) for a criterion to count as separating the top N:
#: a tenth of the scale, e.g. 950 m closer on average on a linear 500–10,000 m distance curve.
MIN_SEPARATION = 0.1

#: A criterion is saturated when more than this share of the ranked sites sits at 0 or at 1.
SATURATION_SHARE = 0.5

#: A 0..1 criterion score within this of 0 (or of 1) counts as at the bottom (top) of the scale,
#: and a spread within it as none.
TOLERANCE = 1e-12


@dataclass(frozen=True)
class CriterionDiagnostic:
    """How one criterion spreads the ranked sites.

    Attributes
    ----------
    id, label : str
        The criterion.
    share_at_min, share_at_max : float
        Share (0..1) of the ranked sites whose score is 0, and 1.
    spread : float
        Max − min of its 0..1 scores over the ranked sites.
    top_mean : float
        Mean 0..1 score of the top N.
    rest_median : float
        Median 0..1 score of the other ranked sites (``nan`` if there are none).
    separation : float
        ``top_mean − rest_median``.
    separates : bool
        ``separation >= MIN_SEPARATION``.
    saturated : bool
        More than :data:`SATURATION_SHARE` of the ranked sites at 0 or at 1.
    intended : str or None
        The profile's reason why this criterion may saturate (the transform's
        ``saturation`` sentence), if it gives one.
    """

    id: str
    label: str
    share_at_min: float
    share_at_max: float
    spread: float
    top_mean: float
    rest_median: float
    separation: float
    separates: bool
    saturated: bool
    intended: str | None = None


@dataclass(frozen=True)
class RankingDiagnostics:
    """Whether, and how much, a ranking singles out its top N.

    Attributes
    ----------
    top_n : int
        The N of the top N.
    n_ranked : int
        Number of non-excluded sites.
    n_tied_first : int
        Ranked sites whose score (rounded as the ranking compares it) equals the best one.
    best_score : float
        Best score, 0..100 (``nan`` when no site is ranked).
    top_n_spread : float
        Best score minus the N-th best score (or the last one when fewer sites are ranked),
        points out of 100.
    criteria : tuple of CriterionDiagnostic
        One per criterion scored, in profile order.
    discriminates : bool
        False when no site is ranked, every criterion is constant, more than N sites tie for
        first, or the top N spread is below :data:`MIN_TOP_SPREAD`.
    reasons : tuple of str
        Why it does not discriminate, in French (empty when it does).
    """

    top_n: int
    n_ranked: int
    n_tied_first: int
    best_score: float
    top_n_spread: float
    criteria: tuple[CriterionDiagnostic, ...]
    discriminates: bool
    reasons: tuple[str, ...]

    @property
    def separating(self) -> list[str]:
        """Ids of the criteria that separate the top N from the rest."""
        return [c.id for c in self.criteria if c.separates]

    @property
    def saturated(self) -> list[str]:
        """Ids of the saturated criteria."""
        return [c.id for c in self.criteria if c.saturated]

    @property
    def message(self) -> str:
        """One French sentence: the verdict, for the command line and the map."""
        if self.discriminates:
            return (
                f"Le classement distingue ses {min(self.top_n, self.n_ranked)} premiers sites "
                f"(écart de {_fr(self.top_n_spread)} points entre le 1er et le "
                f"{min(self.top_n, self.n_ranked)}e)."
            )
        return "Aucun site ne se détache : " + " ; ".join(self.reasons) + "."

    def lines(self) -> list[str]:
        """French lines for notes and sheets: verdict, ties, spread, criteria."""
        out = [self.message]
        if self.n_ranked:
            out.append(
                f"{self.n_tied_first} site(s) à égalité en tête ; écart du top {self.top_n} : "
                f"{_fr(self.top_n_spread)} points."
            )
        for c in self.criteria:
            verdict = "sépare le top" if c.separates else "ne sépare pas le top"
            sat = " (saturé)" if c.saturated else ""
            if c.saturated and c.intended:
                sat = f" (saturé, voulu : {c.intended})"
            out.append(
                f"{c.label} : {_pct(c.share_at_min)} des sites à 0, {_pct(c.share_at_max)} à 1, "
                f"étendue {_fr(c.spread, 2)}, {verdict}{sat}."
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form (JSON-serialisable, ``nan`` as ``None``)."""
        data = asdict(self)
        data["separating"] = self.separating
        data["saturated"] = self.saturated
        data["message"] = self.message
        data["reasons"] = list(self.reasons)
        return _clean(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RankingDiagnostics:
        """Rebuild from :meth:`as_dict` (e.g. read back from a file's metadata)."""

        def num(v: Any) -> float:
            return float("nan") if v is None else float(v)

        crits = tuple(
            CriterionDiagnostic(
                id=str(c["id"]),
                label=str(c["label"]),
                share_at_min=num(c["share_at_min"]),
                share_at_max=num(c["share_at_max"]),
                spread=num(c["spread"]),
                top_mean=num(c["top_mean"]),
                rest_median=num(c["rest_median"]),
                separation=num(c["separation"]),
                separates=bool(c["separates"]),
                saturated=bool(c["saturated"]),
                intended=c.get("intended"),
            )
            for c in data.get("criteria", [])
        )
        return cls(
            top_n=int(data["top_n"]),
            n_ranked=int(data["n_ranked"]),
            n_tied_first=int(data["n_tied_first"]),
            best_score=num(data["best_score"]),
            top_n_spread=num(data["top_n_spread"]),
            criteria=crits,
            discriminates=bool(data["discriminates"]),
            reasons=tuple(data.get("reasons", ())),
        )


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fr(x: float, decimals: int = 1) -> str:
    if x is None or np.isnan(x):
        return "—"
    return f"{x:.{decimals}f}".replace(".", ",")


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def ranking_diagnostics(scored: pd.DataFrame, *, top_n: int | None = None) -> RankingDiagnostics:
    """Diagnose how well a scored table singles out its top N.

    Parameters
    ----------
    scored : DataFrame or GeoDataFrame
        Output of :func:`foncier.score` (``score``, ``rank``, ``excluded``, the
        ``c__score`` columns and ``attrs["foncier"]``).
    top_n : int, optional
        The N of the top N (default: the one the table was scored with, else 10).

    Returns
    -------
    RankingDiagnostics

    Raises
    ------
    SchemaError
        When the table is not the result of :func:`foncier.score`.
    ValueError
        When ``top_n`` is below 1.
    """
    meta = scored.attrs.get("foncier") or {}
    missing = [c for c in ("score", "rank", "excluded") if c not in scored.columns]
    if missing or "criteria" not in meta:
        raise SchemaError(
            "ranking diagnostics need the result of foncier.score(...) "
            f"(missing: {', '.join(missing) or 'attrs metadata'})."
        )
    n = int(top_n if top_n is not None else meta.get("top_n", 10))
    if n < 1:
        raise ValueError(f"top_n must be at least 1, got {n}.")
    ranks = pd.to_numeric(scored["rank"], errors="coerce").to_numpy(dtype=float)
    ranked = np.isfinite(ranks) & ~scored["excluded"].astype(bool).to_numpy()
    m = int(ranked.sum())
    order = np.flatnonzero(ranked)[np.argsort(ranks[ranked], kind="stable")]
    score = scored["score"].to_numpy(dtype=float)
    top, rest = order[:n], order[n:]
    if m:
        keys = round_key(score[order], SCORE_DECIMALS)
        n_tied = int((keys == keys[0]).sum())
        best = float(score[order[0]])
        spread = float(score[order[0]] - score[top[-1]])
    else:
        n_tied, best, spread = 0, float("nan"), float("nan")

    crits = []
    for c in meta["criteria"]:
        col = f"{c['id']}__score"
        if col not in scored.columns:
            continue
        s = scored[col].to_numpy(dtype=float)
        sr = s[ranked]
        at_min = float((sr <= TOLERANCE).mean()) if m else float("nan")
        at_max = float((sr >= 1 - TOLERANCE).mean()) if m else float("nan")
        top_mean = float(s[top].mean()) if len(top) else float("nan")
        rest_median = float(np.median(s[rest])) if len(rest) else float("nan")
        crits.append(
            {
                "id": str(c["id"]),
                "label": str(c.get("label", c["id"])),
                "share_at_min": at_min,
                "share_at_max": at_max,
                "spread": float(sr.max() - sr.min()) if m else float("nan"),
                "top_mean": top_mean,
                "rest_median": rest_median,
                "intended": (c.get("transform") or {}).get("saturation"),
            }
        )
    return diagnostics_from_stats(
        top_n=n,
        n_ranked=m,
        n_tied_first=n_tied,
        best_score=best,
        top_n_spread=spread,
        criteria=crits,
    )


def diagnostics_from_stats(
    *,
    top_n: int,
    n_ranked: int,
    n_tied_first: int,
    best_score: float,
    top_n_spread: float,
    criteria: list[dict[str, Any]],
) -> RankingDiagnostics:
    """Diagnostics from figures computed elsewhere (e.g. over a partitioned dataset).

    Parameters
    ----------
    top_n, n_ranked, n_tied_first : int
        See :class:`RankingDiagnostics`.
    best_score, top_n_spread : float
        Points out of 100 (``nan`` when no site is ranked).
    criteria : list of dict
        Per criterion: ``id``, ``label``, ``share_at_min``, ``share_at_max``, ``spread``,
        ``top_mean``, ``rest_median`` (see :class:`CriterionDiagnostic`) and ``intended``.

    Returns
    -------
    RankingDiagnostics
        With the separation, saturation and verdict rules of :func:`ranking_diagnostics`.
    """
    n, m, n_tied = top_n, n_ranked, n_tied_first
    best, spread = best_score, top_n_spread
    crits = []
    for c in criteria:
        separation = c["top_mean"] - c["rest_median"]
        crits.append(
            CriterionDiagnostic(
                **{"intended": None, **c},
                separation=separation,
                separates=bool(np.isfinite(separation) and separation >= MIN_SEPARATION),
                saturated=bool(m and max(c["share_at_min"], c["share_at_max"]) > SATURATION_SHARE),
            )
        )

    reasons = []
    if not m:
        reasons.append("aucun site n'est classé (tous sont exclus)")
    else:
        if m > 1 and all(c.spread <= TOLERANCE for c in crits):
            reasons.append("aucun critère ne varie d'un site à l'autre")
        if n_tied > n:
            reasons.append(f"{n_tied} sites ont le meilleur score ({_fr(best)}) pour un top {n}")
        elif min(n, m) > 1 and spread < MIN_TOP_SPREAD:
            reasons.append(
                f"les {min(n, m)} premiers sites tiennent en {_fr(spread, 2)} point "
                f"(moins de {_fr(MIN_TOP_SPREAD)} point)"
            )
    return RankingDiagnostics(
        top_n=n,
        n_ranked=m,
        n_tied_first=n_tied,
        best_score=best,
        top_n_spread=spread,
        criteria=tuple(crits),
        discriminates=not reasons,
        reasons=tuple(reasons),
    )

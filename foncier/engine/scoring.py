"""Score, rank and explain candidate sites for a project profile.

The work is split so that the costly part runs once:

1. :func:`measure_criteria` computes the raw value of every criterion and exclusion rule for
   every site (distances in metres, shares of area, slopes in degrees, inhabitants …), with
   :mod:`foncier.engine.measures`. Criteria whose layer is not given are skipped and recorded.
2. :func:`score_from_raw` turns raw values into 0..1 scores (:mod:`foncier.engine.transforms`),
   applies the exclusion rules (:mod:`foncier.engine.exclusions`), aggregates
   (:mod:`foncier.engine.aggregation`) and ranks. It is cheap, so the sensitivity analysis re-runs
   it (vectorised) thousands of times.

:func:`score` does both and returns the sites with, for each criterion ``c``:
``c__raw`` (raw value in the criterion's unit), ``c__score`` (0..1), ``c__weight``
(normalised weight over the criteria actually scored), ``c__contrib`` (``weight × score``;
for a weighted sum the contributions add up to the aggregated score, for OWA they use the
effective weights so they still add up, for a weighted product they are indicative) and,
for distance criteria, ``c__nearest`` (name of the nearest feature), and ``c__tiebreak``
(the site's closeness quantile on the raw value, 0..1, weight-independent). Then ``score``
(aggregated score × 100, 0..100, kept for excluded sites too), ``tiebreak`` (weighted mean of
the ``c__tiebreak``), ``excluded``, ``exclusion_reasons``, ``rank`` (1 = best non-excluded
site, unique; ``<NA>`` when excluded), ``ex_aequo`` (another non-excluded site has the same
score) and ``why`` (one line in French for the top sites).

Ranking rule (the browser's live re-weighting applies the same one, see
:mod:`foncier.engine.ties`): non-excluded sites are ordered by ``score`` descending compared
on ``floor(score · 10⁹ + 0.5)``, then by ``tiebreak = Σᵢ wᵢ cᵢ__tiebreak / Σᵢ wᵢ`` descending
compared on ``floor(tiebreak · 10¹² + 0.5)``, then by site id ascending (text of ``site_id``
when the sites have that column, else of the index; code-point order). ``cᵢ__tiebreak`` is the
mid-rank percentile ``(L + (E − 1)/2) / (N − 1)`` of the site's raw value among all N sites,
oriented so that higher is better (direction from the transform, see
:func:`foncier.engine.transforms.closeness_key`). Sums over criteria run in criterion-id
order, so results do not depend on the order in which a profile lists its criteria.

Metadata go to ``result.attrs["foncier"]``: profile id and name, aggregation, the criteria
scored (id, label, unit, layer, weight, transform), ``criteria_skipped`` and
``exclusions_skipped`` (dicts with id, label, layer, reason), ``skipped`` (the same as
readable lines, e.g. ``"Échangeur autoroutier : couche motorway_junctions non disponible"``),
the AHP consistency ratio when the weights come from AHP, ``ranking`` (the rule above in one
French line) and ``diagnostics``: whether the ranking singles out its top N, with per-criterion
saturation, spread and separation (:mod:`foncier.engine.diagnostics`).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from foncier.engine.aggregation import aggregate, normalise_weights, owa_position_weights
from foncier.engine.diagnostics import ranking_diagnostics
from foncier.engine.exclusions import apply_exclusions
from foncier.engine.measure_registry import measure_rule
from foncier.engine.nearest import noted_name
from foncier.engine.profiles import Criterion, Exclusion, Profile, load_profile
from foncier.engine.ties import midrank_quantile, ranks_and_ties
from foncier.engine.transforms import (
    apply_transform,
    closeness_key,
    transform_kind,
    transform_meaning,
)
from layers.arguments import check_int
from layers.crs import check_projected
from layers.errors import CRSError, ProfileError, SchemaError, UnknownSiteError
from layers.formatting import distance_phrase, distance_text
from layers.formatting import format_measure as format_value
from layers.geometry import repair_geometries
from layers.infrastructure import COVERAGE_ATTR

if TYPE_CHECKING:
    import geopandas as gpd

    from layers.raster import Raster

__all__ = [
    "RawMeasures",
    "breakdown",
    "canonical_order",
    "criterion_scores",
    "criterion_tiebreaks",
    "criterion_weights",
    "measure_criteria",
    "rank",
    "raw_array",
    "raw_from_scored",
    "score",
    "score_from_raw",
    "score_metadata",
    "scored_columns",
    "warn_missing",
    "why_sentences",
]

log = logging.getLogger(__name__)

LayerMapping = Mapping[str, "gpd.GeoDataFrame | Raster | None"]


@dataclass(frozen=True, eq=False)
class RawMeasures:
    """Raw values of a profile's criteria and exclusion rules, aligned on the sites' index.

    Attributes
    ----------
    values : pandas.DataFrame
        One column per criterion actually measured (id), raw values in the criterion's unit.
    nearest : pandas.DataFrame
        Name of the nearest feature for distance criteria (column = criterion id).
    exclusion_values : pandas.DataFrame
        One column per exclusion rule actually measured (id), raw values.
    area_m2 : pandas.Series
        Site areas, m² (projected CRS).
    geometry : GeoSeries or None
        Site geometries (for the minimum contiguous area rule).
    criteria_skipped : tuple of dict
        Criteria whose layer was not available: ``id, label, layer, reason``.
    exclusions_skipped : tuple of dict
        Exclusion rules whose layer was not available.
    site_ids : pandas.Series or None
        The sites' ``site_id`` column when they have one (last key of the tie-break);
        ``None``: the index is the id.
    """

    values: pd.DataFrame
    nearest: pd.DataFrame
    exclusion_values: pd.DataFrame
    area_m2: pd.Series
    geometry: gpd.GeoSeries | None = None
    criteria_skipped: tuple[dict[str, Any], ...] = field(default=())
    exclusions_skipped: tuple[dict[str, Any], ...] = field(default=())
    site_ids: pd.Series | None = None

    @property
    def index(self) -> pd.Index:
        """The sites' index."""
        return self.values.index

    def ids(self) -> np.ndarray:
        """Site ids compared by the tie-break: ``site_id`` if known, else the index."""
        if self.site_ids is not None:
            return self.site_ids.reindex(self.index).to_numpy(dtype=object)
        return self.index.to_numpy(dtype=object)


#: The ranking rule in one line (stored in the result's metadata and written in exports).
RANKING_RULE = (
    "score décroissant (arrondi à 1e-9), puis départage décroissant (Σ poids × quantile de "
    "proximité sur la valeur brute de chaque critère, arrondi à 1e-12), puis identifiant "
    "croissant ; rangs uniques, ex aequo signalés"
)


def _skip_record(rule: Criterion | Exclusion, reason: str) -> dict[str, Any]:
    return {"id": rule.id, "label": rule.label, "layer": rule.layer, "reason": reason}


#: Start of the skip reason of a criterion whose layer has nothing in reach and is known to
#: be incomplete offline there.
NOT_COVERED_OFFLINE = "non couvert hors ligne"
#: A distance whose 0..1 score is within this of the "nothing near" score gives nothing.
REACH_TOLERANCE = 0.01
#: Longest reach considered, metres (a curve still rising beyond it is cut there).
_MAX_REACH_M = 200_000.0


def criterion_reach_m(c: Criterion) -> float:
    """Distance beyond which a distance criterion scores as if nothing were near, metres.

    The largest distance whose score differs from the score of an infinite distance by more
    than :data:`REACH_TOLERANCE` (read on a 10 m grid up to 200 km); ``inf`` for relative
    transforms (their scores depend on the other sites, not on a distance).

    Parameters
    ----------
    c : Criterion
        A criterion with ``measure = "distance"``.

    Returns
    -------
    float
        Metres.
    """
    if transform_kind(c.transform).relative:
        return float("inf")
    grid = np.arange(0.0, _MAX_REACH_M + 10.0, 10.0)
    scores = apply_transform(np.append(grid, np.inf), c.transform)
    scores = np.asarray(scores, dtype=float)
    gives = np.abs(scores[:-1] - scores[-1]) > REACH_TOLERANCE
    return float(grid[gives].max() + 10.0) if gives.any() else 0.0


def _feature_in_reach(
    c: Criterion, features: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, area: Any
) -> bool:
    """True when a feature of the rule lies within its reach of the territory (or sites)."""
    import shapely

    if len(features) == 0:
        return False
    reach = criterion_reach_m(c)
    if not np.isfinite(reach):
        return True
    if area is None:
        # A layer made by hand: judge from the sites' extent.
        area = shapely.box(*sites.total_bounds)
    return bool(shapely.dwithin(features.geometry.to_numpy(), area, reach).any())


def _with_nearest_note(near: pd.Series, note: str) -> pd.Series:
    """:func:`~foncier.engine.nearest.noted_name` of each site's nearest name.

    Written once per distinct name (a handful), not once per site.
    """
    codes, names = pd.factorize(near)
    known = codes >= 0
    values = near.to_numpy(dtype=object, copy=True)
    values[known] = np.asarray([noted_name(n, note) for n in names], dtype=object)[codes[known]]
    return pd.Series(values, index=near.index, name=near.name, dtype=object)


def _check_layer_crs(layer: Any, name: str, crs: Any) -> None:
    from pyproj import CRS

    layer_crs = getattr(layer, "crs", None)
    if layer_crs is None:
        raise CRSError(f"layer {name!r} has no CRS: set it (e.g. .set_crs('EPSG:2154')).")
    if not CRS.from_user_input(layer_crs).equals(CRS.from_user_input(crs)):
        raise CRSError(
            f"layer {name!r} is in {CRS.from_user_input(layer_crs).to_string()} but the sites "
            f"are in {CRS.from_user_input(crs).to_string()}: reproject it to the territory's CRS "
            "(layer.to_crs(sites.crs)) before scoring."
        )


def _check_sites(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    import geopandas as gpd

    if not isinstance(sites, gpd.GeoDataFrame):
        raise SchemaError(f"sites must be a GeoDataFrame, got {type(sites).__name__}.")
    check_projected(sites, "sites")
    if not sites.index.is_unique:
        raise SchemaError(
            "the sites' index has duplicates: results are aligned on it, make it unique "
            "(e.g. sites.reset_index(drop=True) or set_index('site_id'))."
        )
    return repair_geometries(sites, name="sites")


def measure_criteria(
    sites: gpd.GeoDataFrame,
    layers: LayerMapping,
    profile: str | Path | Profile,
    *,
    progress: Callable[[str], None] | None = None,
) -> RawMeasures:
    """Compute the raw value of every criterion and exclusion rule of a profile.

    Parameters
    ----------
    sites : GeoDataFrame
        Candidate sites in a projected CRS (metres), with a unique index.
    layers : mapping
        Layer name → GeoDataFrame (same CRS as the sites) or :class:`layers.raster.Raster`
        (``slope``, degrees). A name that is absent or maps to ``None`` is *missing*: its
        criteria are skipped (logged, recorded). A layer given but empty is *not* missing:
        distances are infinite, with a warning.
    profile : str, Path or Profile
        Profile id, TOML path or loaded profile.
    progress : callable, optional
        Called with the rule id after each measure (e.g. to advance a progress bar).

    Returns
    -------
    RawMeasures

    Raises
    ------
    CRSError
        The sites or a layer have no CRS, a geographic CRS, or a CRS different from the sites'.
    SchemaError
        A column a rule needs is missing, or a layer has the wrong type.
    """
    from foncier.engine import measures

    prof = load_profile(profile)
    sites = _check_sites(sites)
    prepared = measures.prepare_sites(sites)
    area = pd.Series(np.asarray(measures.area_m2(prepared), dtype=float), index=sites.index)

    def run(
        rules: tuple[Criterion, ...] | tuple[Exclusion, ...], kind: str
    ) -> tuple[dict[str, pd.Series], dict[str, pd.Series], list[dict[str, Any]]]:
        values: dict[str, pd.Series] = {}
        nearest: dict[str, pd.Series] = {}
        skipped: list[dict[str, Any]] = []
        for rule in rules:
            layer = layers.get(rule.layer) if rule.layer else None
            coverage = getattr(layer, "attrs", {}).get(COVERAGE_ATTR) if layer is not None else None
            if coverage is not None and not coverage.get("covered", True):
                # No data here is not "nothing near": the rule is left out and a criterion's
                # weight spread over the others.
                log.warning(
                    "%s %r (%s): territory outside the coverage of layer %r (%s), skipped.",
                    kind,
                    rule.id,
                    rule.label,
                    rule.layer,
                    coverage.get("coverage", ""),
                )
                skipped.append(
                    _skip_record(rule, f"hors couverture ({coverage.get('coverage', '')})")
                )
                continue
            if rule.layer and layer is None:
                log.warning(
                    "%s %r (%s): layer %r not available, skipped.",
                    kind,
                    rule.id,
                    rule.label,
                    rule.layer,
                )
                skipped.append(_skip_record(rule, "couche non disponible"))
                continue
            if layer is not None:
                # Only the layers the profile uses are checked: extra entries do not matter.
                _check_layer_crs(layer, str(rule.layer), sites.crs)
            gaps = str(coverage.get("gaps") or "") if coverage is not None else ""
            # The offline data is known to lack features here (the free motorway junctions
            # …): with none of its features within the criterion's reach of the territory,
            # "nothing near" would be a guess. Skipped, and said.
            if (
                gaps
                and kind == "criterion"
                and rule.measure == "distance"
                and not _feature_in_reach(
                    cast(Criterion, rule),
                    rule.select(layer),
                    sites,
                    (coverage or {}).get("perimeter"),
                )
            ):
                log.warning(
                    "criterion %r (%s): no feature of layer %r within reach, and its "
                    "offline data is incomplete here (%s): skipped (non couvert hors ligne).",
                    rule.id,
                    rule.label,
                    rule.layer,
                    gaps,
                )
                skipped.append(_skip_record(rule, f"{NOT_COVERED_OFFLINE} ({gaps})"))
                continue
            v, near = measure_rule(rule, prepared, sites, layer)
            note = str(coverage.get("nearest_note") or "") if coverage is not None else ""
            if gaps and note and near is not None:
                near = _with_nearest_note(near, note)
            if kind == "criterion" and len(v) and bool(pd.isna(v).all()):
                # Unknown everywhere (e.g. no population in the source for any commune near
                # the territory): no site can be told from another on it.
                log.warning(
                    "criterion %r (%s): value unknown for every site, skipped.", rule.id, rule.label
                )
                skipped.append(_skip_record(rule, "valeur inconnue partout (absente de la source)"))
                continue
            values[rule.id] = v
            if near is not None:
                nearest[rule.id] = near
            if progress is not None:
                progress(rule.id)
        return values, nearest, skipped

    crit_values, crit_nearest, crit_skipped = run(prof.criteria, "criterion")
    ex_values, _, ex_skipped = run(prof.exclusions, "exclusion")
    return RawMeasures(
        values=pd.DataFrame(crit_values, index=sites.index),
        nearest=pd.DataFrame(crit_nearest, index=sites.index),
        exclusion_values=pd.DataFrame(ex_values, index=sites.index),
        area_m2=area,
        geometry=sites.geometry,
        criteria_skipped=tuple(crit_skipped),
        exclusions_skipped=tuple(ex_skipped),
        site_ids=_site_ids(sites),
    )


def _site_ids(sites: pd.DataFrame) -> pd.Series | None:
    return sites["site_id"] if "site_id" in sites.columns else None


def active_criteria(measured: Collection[str], prof: Profile) -> list[Criterion]:
    """The criteria scored: those of the profile that were measured, in profile order.

    Parameters
    ----------
    measured : collection of str
        Ids of the criteria measured (the columns of :attr:`RawMeasures.values`).
    prof : Profile
        The profile.

    Returns
    -------
    list of Criterion

    Raises
    ------
    ProfileError
        None of the profile's criteria was measured.
    """
    active = [c for c in prof.criteria if c.id in measured]
    if not active:
        missing = sorted({str(c.layer) for c in prof.criteria})
        raise ProfileError(
            f"none of the criteria of profile {prof.id!r} could be measured: give at least one "
            f"of the layers {', '.join(missing)}."
        )
    return active


def raw_array(values: pd.Series) -> np.ndarray:
    """A criterion's raw values as the transforms take them: floats, or objects (text).

    Parameters
    ----------
    values : pandas.Series
        One column of :attr:`RawMeasures.values`.

    Returns
    -------
    numpy.ndarray
    """
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float)
    return values.to_numpy(dtype=object)


def criterion_scores(
    raw: RawMeasures,
    profile: Profile,
    *,
    stretch: np.ndarray | None = None,
    relative: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """0..1 scores of the measured criteria.

    Parameters
    ----------
    raw : RawMeasures
        Output of :func:`measure_criteria`.
    profile : Profile
        The profile whose transforms apply.
    stretch : numpy.ndarray, optional
        Shape ``(draws, criteria)``: factor stretching each criterion's curve along its raw
        axis (see :func:`foncier.engine.transforms.apply_transform`), for the sensitivity analysis.
    relative : mapping, optional
        Criterion id → scores of a relative criterion (``percentile``, ``minmax``) computed
        over a larger candidate set than these sites (:mod:`foncier.engine.national`); used
        as given instead of the transform over these sites only.

    Returns
    -------
    numpy.ndarray
        ``(sites, criteria)``, or ``(draws, sites, criteria)`` with ``stretch``; criteria in
        profile order, skipped ones left out.
    """
    active = active_criteria(raw.values.columns, profile)
    cols = []
    for j, c in enumerate(active):
        x = raw_array(raw.values[c.id])
        if relative is not None and c.id in relative:
            cols.append(np.asarray(relative[c.id], dtype=float))
        elif stretch is None:
            cols.append(apply_transform(x, c.transform))
        else:
            f = stretch[:, j][:, None]
            s = apply_transform(x[None, :] if x.dtype != object else x, c.transform, stretch=f)
            cols.append(np.broadcast_to(s, (stretch.shape[0], len(x))))
    return np.stack(cols, axis=-1)


def _effective_weights(scores: np.ndarray, weights: np.ndarray, prof: Profile) -> np.ndarray:
    """Per-site weights whose product with the scores adds up to the aggregate (OWA)."""
    order_weights = owa_order_weights(prof, scores.shape[1])
    if order_weights is None:
        return np.broadcast_to(weights, scores.shape)
    uv = weights[None, :] * owa_position_weights(scores, order_weights)
    total = uv.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(uv / total)


def owa_order_weights(prof: Profile, k: int) -> list[float] | None:
    if prof.aggregation != "owa":
        return None
    v = list(prof.order_weights or [1.0] * len(prof.criteria))
    return [float(x) for x in normalise_weights(v[:k])]


def criterion_tiebreaks(raw: RawMeasures, profile: Profile) -> np.ndarray:
    """Closeness quantile of every site on each measured criterion's raw value.

    Parameters
    ----------
    raw : RawMeasures
        Output of :func:`measure_criteria`.
    profile : Profile
        The profile (its transforms give each criterion's direction).

    Returns
    -------
    numpy.ndarray
        ``(sites, criteria)`` in ``[0, 1]``, criteria in profile order, skipped ones left out:
        the ``c__tiebreak`` values of :mod:`foncier.engine.ties` (weight-independent).
    """
    active = active_criteria(raw.values.columns, profile)
    cols = []
    for c in active:
        x = raw_array(raw.values[c.id])
        cols.append(midrank_quantile(closeness_key(x, c.transform)))
    if not cols:
        return np.zeros((len(raw.index), 0))
    return np.stack(cols, axis=-1)


def canonical_order(active: list[Criterion]) -> np.ndarray:
    """Permutation putting the criteria in id order.

    Sums over criteria are computed in this order, so that the scores, and so the ranks, are
    the same to the last bit whatever the order in which the profile lists its criteria.
    """
    return np.argsort(np.asarray([c.id for c in active], dtype=str), kind="stable")


def criterion_weights(active: list[Criterion]) -> np.ndarray:
    """Normalised weights of the criteria scored, in their order, summed in id order."""
    canon = canonical_order(active)
    back = np.argsort(canon)
    return normalise_weights(np.asarray([c.weight for c in active], dtype=float)[canon])[back]


def warn_missing(counts: pd.Series) -> None:
    """Log, per criterion, how many sites have no raw value (they score 0 on it).

    Parameters
    ----------
    counts : pandas.Series
        Criterion id → number of sites without a raw value.
    """
    for cid, count in counts.items():
        if count:
            log.warning("%s: %d site(s) without a raw value score 0.", cid, int(count))


def scored_columns(
    raw: RawMeasures,
    prof: Profile,
    weights: np.ndarray,
    scores: np.ndarray,
    ties: np.ndarray,
) -> pd.DataFrame:
    """Per-site columns of a scored table, before the ranks.

    Every column depends on the site's own row only, given its criterion scores and
    tie-break quantiles (which may come from a larger candidate set, see
    :mod:`foncier.engine.national`): the ``c__*`` columns, ``score``, ``tiebreak``,
    ``excluded`` and ``exclusion_reasons``.

    Parameters
    ----------
    raw : RawMeasures
        Raw measures of the sites.
    prof : Profile
        The profile.
    weights : numpy.ndarray
        :func:`criterion_weights` of the criteria scored.
    scores, ties : numpy.ndarray
        ``(sites, criteria)``: 0..1 scores and tie-break quantiles, criteria in profile order.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``raw``.
    """
    active = active_criteria(raw.values.columns, prof)
    canon = canonical_order(active)
    agg = aggregate(
        scores[:, canon],
        weights[canon],
        method=prof.aggregation,
        order_weights=owa_order_weights(prof, len(active)),
    )
    eff = _effective_weights(scores, weights, prof)
    out = pd.DataFrame(index=raw.index)
    for j, c in enumerate(active):
        out[f"{c.id}__raw"] = raw.values[c.id]
        if c.id in raw.nearest.columns:
            out[f"{c.id}__nearest"] = raw.nearest[c.id]
        out[f"{c.id}__score"] = scores[:, j]
        out[f"{c.id}__weight"] = weights[j]
        out[f"{c.id}__contrib"] = eff[:, j] * scores[:, j]
        out[f"{c.id}__tiebreak"] = ties[:, j]
    out["score"] = 100.0 * agg
    # Σ wᵢ tᵢ / Σ wᵢ, summed in id order (weights already sum to 1 but are divided again so
    # the browser, which re-weights live, computes the same expression). A product then a
    # numpy sum, not a matrix product: BLAS picks its kernel (and its rounding) by processor,
    # numpy's pairwise sum is the same everywhere and the browser can repeat it exactly.
    out["tiebreak"] = (ties[:, canon] * weights[canon]).sum(axis=1) / weights[canon].sum()
    ex = apply_exclusions(
        raw.exclusion_values,
        prof.exclusions,
        geometries=raw.geometry,
        area_m2=raw.area_m2,
        min_contiguous_area_m2=prof.min_contiguous_area_m2,
    )
    out["excluded"] = ex["excluded"].to_numpy()
    out["exclusion_reasons"] = ex["exclusion_reasons"].to_numpy()
    return out


def score_metadata(
    prof: Profile,
    weights: np.ndarray,
    *,
    criteria: Collection[str],
    exclusions: Collection[str],
    criteria_skipped: Sequence[dict[str, Any]] = (),
    exclusions_skipped: Sequence[dict[str, Any]] = (),
    top_n: int,
    n_sites: int,
    n_excluded: int,
) -> dict[str, Any]:
    """The ``attrs["foncier"]`` metadata of a scored table, without its diagnostics.

    Parameters
    ----------
    prof : Profile
        The profile.
    weights : numpy.ndarray
        :func:`criterion_weights` of the criteria scored.
    criteria, exclusions : collection of str
        Ids of the criteria and exclusion rules measured (the columns of
        :attr:`RawMeasures.values` and :attr:`RawMeasures.exclusion_values`).
    criteria_skipped, exclusions_skipped : sequence of dict
        The rules skipped (:attr:`RawMeasures.criteria_skipped` and
        :attr:`RawMeasures.exclusions_skipped`).
    top_n : int
        Number of best sites that get a ``why`` sentence.
    n_sites, n_excluded : int
        Number of sites scored, and excluded.

    Returns
    -------
    dict
        Plain-Python metadata (see this module's docstring).
    """
    active = active_criteria(criteria, prof)
    skipped = [
        # "non couvert hors ligne" speaks of the criterion: "Échangeur autoroutier : non
        # couvert hors ligne (…)"; the other reasons of its layer.
        f"{s['label']} : {s['reason']}"
        if str(s.get("reason", "")).startswith(NOT_COVERED_OFFLINE)
        else f"{s['label']} : couche {s['layer']} "
        + ("non disponible" if s.get("reason") == "couche non disponible" else s["reason"])
        for s in (*criteria_skipped, *exclusions_skipped)
    ]
    return {
        "profile": prof.id,
        "profile_name": prof.name,
        "aggregation": prof.aggregation,
        "order_weights": owa_order_weights(prof, len(active)),
        "criteria": [
            {
                "id": c.id,
                "label": c.label,
                "unit": c.unit,
                "layer": c.layer,
                "measure": c.measure,
                "weight": float(w),
                "profile_weight": c.weight,
                "transform": dict(c.transform),
                "relative": transform_kind(c.transform).relative,
                "meaning": transform_meaning(c.transform, c.unit),
                "filter": [str(f) for f in c.filters],
            }
            for c, w in zip(active, weights, strict=True)
        ],
        "exclusions": [
            {"id": e.id, "label": e.label, "op": e.op, "value": e.value, "unit": e.unit}
            for e in prof.exclusions
            if e.id in exclusions
        ],
        "criteria_skipped": list(criteria_skipped),
        "exclusions_skipped": list(exclusions_skipped),
        "skipped": skipped,
        "ahp": prof.ahp.as_dict() if prof.ahp is not None else None,
        "top_n": top_n,
        "ranking": RANKING_RULE,
        "n_sites": n_sites,
        "n_excluded": n_excluded,
    }


def score_from_raw(
    raw: RawMeasures,
    profile: str | Path | Profile,
    *,
    top_n: int = 10,
) -> pd.DataFrame:
    """Transform, exclude, aggregate and rank from raw measures.

    Parameters
    ----------
    raw : RawMeasures
        Output of :func:`measure_criteria`.
    profile : str, Path or Profile
        The profile (the same one the raw values were measured for).
    top_n : int
        Number of best sites that get a ``why`` sentence.

    Returns
    -------
    pandas.DataFrame
        Indexed like the sites: the ``c__*`` columns, ``score`` (0..100), ``excluded``,
        ``exclusion_reasons``, ``rank``, ``why``. ``attrs["foncier"]`` holds the metadata.
    """
    prof = load_profile(profile)
    active = active_criteria(raw.values.columns, prof)
    weights = criterion_weights(active)
    scores = criterion_scores(raw, prof)
    ties = criterion_tiebreaks(raw, prof)
    warn_missing(raw.values[[c.id for c in active]].isna().sum())
    out = scored_columns(raw, prof, weights, scores, ties)
    out["rank"], out["ex_aequo"] = ranks_and_ties(
        out["score"], out["tiebreak"], out["excluded"], raw.ids()
    )
    out["why"] = why_sentences(out, active, top_n=top_n)
    out.attrs["foncier"] = score_metadata(
        prof,
        weights,
        criteria=raw.values.columns,
        exclusions=raw.exclusion_values.columns,
        criteria_skipped=raw.criteria_skipped,
        exclusions_skipped=raw.exclusions_skipped,
        top_n=top_n,
        n_sites=len(out),
        n_excluded=int(out["excluded"].sum()),
    )
    diagnostics = ranking_diagnostics(out, top_n=top_n)
    out.attrs["foncier"]["diagnostics"] = diagnostics.as_dict()
    if not diagnostics.discriminates:
        log.warning(
            "the ranking does not single out a top %d: %s",
            top_n,
            " ; ".join(diagnostics.reasons),
        )
    return out


def _phrase(c: Criterion, raw: Any, nearest: Any) -> str:
    if c.measure == "distance":
        # "Gare fret à 1,2 km (Compiègne)" when being near is what scores; "Distance à
        # l'habitat : 1,2 km" when being far is; "Port fluvial : dans la commune de X,
        # position exacte inconnue (…)" for a feature known only at its commune.
        near_is_good = bool(np.diff(apply_transform(np.array([0.0, 1e9]), c.transform))[0] < 0)
        return distance_phrase(c.label, raw, nearest, near_is_good=near_is_good, unit=c.unit)
    return f"{c.label} : {format_value(raw, c.unit)}"


def why_sentences(
    out: pd.DataFrame, active: list[Criterion], *, top_n: int, n_reasons: int = 3
) -> pd.Series:
    """One French line per top site: its strongest contributions, best first.

    The ``why`` column of :func:`score`. Only the sites ranked ``1..top_n`` get a sentence
    (the others an empty string), so ``out`` may hold every site or only the best ones (the
    national ranking, :mod:`foncier.engine.national`, passes its top sites only).

    Parameters
    ----------
    out : pandas.DataFrame
        Scored sites: ``rank`` and, for each criterion of ``active``, ``c__contrib`` and
        ``c__raw`` (raw value in the criterion's unit), and ``c__nearest`` when it has one.
    active : list of Criterion
        The criteria scored, in the order of the columns (:func:`active_criteria`).
    top_n : int
        Sites ranked up to ``top_n`` get a sentence.
    n_reasons : int
        Most contributions named a site (those above 0 only).

    Returns
    -------
    pandas.Series
        Text indexed like ``out``: e.g. ``"Gare fret à 1,2 km (Compiègne), Pente moyenne :
        2,1°"``; ``"aucun critère favorable"`` when no criterion adds to the score.
    """
    why = pd.Series("", index=out.index, dtype=object)
    top = out.index[out["rank"].notna().to_numpy() & (out["rank"].fillna(0) <= top_n).to_numpy()]
    if not len(top) or not active:
        return why
    contrib = out.loc[top, [f"{c.id}__contrib" for c in active]].to_numpy()
    # A loop over the top sites only (top_n, typically 10), never over all sites.
    for row, site in enumerate(top):
        order = np.argsort(-contrib[row], kind="stable")[:n_reasons]
        parts = []
        for j in order:
            if contrib[row, j] <= 0:
                continue
            c = active[j]
            nearest = out.at[site, f"{c.id}__nearest"] if f"{c.id}__nearest" in out else None
            parts.append(_phrase(c, out.at[site, f"{c.id}__raw"], nearest))
        why.at[site] = ", ".join(parts) if parts else "aucun critère favorable"
    return why


def score(
    sites: gpd.GeoDataFrame,
    layers: LayerMapping,
    profile: str | Path | Profile,
    *,
    top_n: int = 10,
    progress: Callable[[str], None] | None = None,
) -> gpd.GeoDataFrame:
    """Score and rank candidate sites for a project profile.

    Parameters
    ----------
    sites : GeoDataFrame or dask_geopandas.GeoDataFrame
        Candidate sites in a projected CRS (metres; EPSG:2154 in metropolitan France) with a
        unique index. A partitioned (dask) GeoDataFrame is measured partition by partition
        on the dask scheduler and ranked globally
        (:func:`foncier.engine.distributed.measure_partitioned`).
    layers : mapping
        Layer name → GeoDataFrame in the sites' CRS, or Raster (``slope``, degrees). Missing
        layers skip their criteria (weights renormalised over the others; recorded in
        ``attrs["foncier"]["criteria_skipped"]``).
    profile : str, Path or Profile
        Shipped profile id (see :func:`foncier.engine.profiles.list_profiles`), TOML path or
        profile.
    top_n : int
        Number of best sites that get a ``why`` sentence.
    progress : callable, optional
        Called with each rule id once it is measured.

    Returns
    -------
    GeoDataFrame
        The sites' columns plus the score columns described in this module's docstring,
        same index and order as ``sites``.

    Examples
    --------
    Score 2 km hexagons of Compiègne for multimodal logistics, on the layers available
    offline (the criteria whose layer is missing are skipped and said so):

    >>> import foncier
    >>> t = foncier.territory("60159")
    >>> sites = foncier.grid_sites(t, cell_size_m=2000, shape="hex")
    >>> scored = foncier.score(sites, foncier.load_layers(t), "logistique-multimodale")
    >>> scored[["score", "rank", "excluded"]].dtypes.tolist()
    [dtype('float64'), Int64Dtype(), dtype('bool')]
    >>> scored.attrs["foncier"]["skipped"][0]
    'En zone inondable : couche flood_zones non disponible'
    """
    prof = load_profile(profile)
    if type(sites).__module__.startswith("dask_geopandas"):
        from foncier.engine.distributed import measure_partitioned

        probe, sites, tables = measure_partitioned(sites, measure_criteria, layers, prof)
        raw = RawMeasures(
            values=tables["values"],
            nearest=tables["nearest"],
            exclusion_values=tables["exclusion_values"],
            area_m2=tables["area_m2"],
            geometry=sites.geometry,
            criteria_skipped=probe.criteria_skipped,
            exclusions_skipped=probe.exclusions_skipped,
            site_ids=_site_ids(sites),
        )
    else:
        raw = measure_criteria(sites, layers, prof, progress=progress)
    table = score_from_raw(raw, prof, top_n=top_n)
    clash = [c for c in table.columns if c in sites.columns]
    base = sites.drop(columns=clash) if clash else sites
    if clash:
        log.warning("replacing existing column(s) of the sites: %s", clash)
    result = base.join(table)
    result.attrs["foncier"] = table.attrs["foncier"]
    return result


def rank(scored: pd.DataFrame, *, top_n: int | None = None) -> pd.DataFrame:
    """Sites sorted by rank (best first, excluded sites last).

    Parameters
    ----------
    scored : DataFrame or GeoDataFrame
        Output of :func:`score`.
    top_n : int, optional
        Keep only the non-excluded sites ranked ``top_n`` or better: exactly ``top_n`` rows
        (fewer if fewer sites are ranked), ranks being unique (ties broken by the rule of
        :mod:`foncier.engine.ties`; the ``ex_aequo`` column shows sites whose scores are
        equal).

    Returns
    -------
    DataFrame or GeoDataFrame
        Same columns, sorted; metadata in ``attrs`` kept.

    Examples
    --------
    >>> import foncier
    >>> t = foncier.territory("60159")
    >>> sites = foncier.grid_sites(t, cell_size_m=2000, shape="hex")
    >>> scored = foncier.score(sites, foncier.load_layers(t), "logistique-multimodale")
    >>> top = foncier.rank(scored, top_n=3)
    >>> top["rank"].tolist(), top["score"].round(1).tolist()
    ([1, 2, 3], [77.4, 73.3, 70.0])
    """
    if "rank" not in scored.columns:
        raise SchemaError("no 'rank' column: pass the result of foncier.score(...).")
    out = scored.sort_values(["rank", "score"], ascending=[True, False], na_position="last")
    if top_n is not None:
        top_n = check_int(top_n, "top_n", minimum=1)
        out = out[out["rank"].notna().to_numpy() & (out["rank"].fillna(0) <= top_n).to_numpy()]
    out.attrs = dict(scored.attrs)
    return out


def breakdown(scored: pd.DataFrame, site: Any) -> pd.DataFrame:
    """The score of one site, criterion by criterion.

    Parameters
    ----------
    scored : DataFrame or GeoDataFrame
        Output of :func:`score`.
    site : index label
        The site (a label of the sites' index).

    Returns
    -------
    pandas.DataFrame
        One row per criterion: ``criterion`` (id), ``label``, ``raw``, ``unit``,
        ``raw_text`` (formatted in French), ``nearest``, ``score`` (0..1), ``weight``,
        ``contribution``. ``attrs`` holds the site's ``score``, ``rank``, ``excluded`` and
        ``exclusion_reasons``.

    Examples
    --------
    >>> import foncier
    >>> t = foncier.territory("60159")
    >>> sites = foncier.grid_sites(t, cell_size_m=2000, shape="hex")
    >>> scored = foncier.score(sites, foncier.load_layers(t), "logistique-multimodale")
    >>> best = foncier.rank(scored, top_n=1).index[0]
    >>> table = foncier.breakdown(scored, best)
    >>> for row in table.itertuples():
    ...     print(row.criterion, row.raw_text, round(row.score, 2), round(row.weight, 3))
    rail_freight 1,1 km 0.93 0.351
    river_port 5,6 km de la commune de Longueil-Sainte-Marie (position exacte inconnue) 0.67 0.351
    motorway 6,8 km 0.58 0.189
    labour_pool 201\u202f324 hab. 0.93 0.109
    >>> round(float(table["contribution"].sum()) * 100, 1)  # the site's score, out of 100
    77.4
    """
    meta = scored.attrs.get("foncier")
    if not meta:
        raise SchemaError("no foncier metadata in attrs: pass the result of foncier.score(...).")
    if site not in scored.index:
        near = difflib.get_close_matches(str(site), [str(i) for i in scored.index], n=3)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise UnknownSiteError(f"site {site!r} is not in the scored sites' index.{hint}")
    row = scored.loc[site]
    records = []
    for c in meta["criteria"]:
        cid = c["id"]
        raw = row.get(f"{cid}__raw")
        records.append(
            {
                "criterion": cid,
                "label": c["label"],
                "raw": raw,
                "unit": c["unit"],
                "raw_text": (
                    distance_text(raw, row.get(f"{cid}__nearest"), c["unit"])
                    if c.get("measure") == "distance"
                    else format_value(raw, c["unit"])
                ),
                "nearest": row.get(f"{cid}__nearest"),
                "score": float(row[f"{cid}__score"]),
                "weight": float(row[f"{cid}__weight"]),
                "contribution": float(row[f"{cid}__contrib"]),
            }
        )
    out = pd.DataFrame.from_records(records)
    out.attrs = {
        "site": site,
        "score": float(row["score"]),
        "rank": row["rank"],
        "excluded": bool(row["excluded"]),
        "exclusion_reasons": row["exclusion_reasons"],
        "skipped": list(meta.get("skipped", [])),
    }
    return out


def raw_from_scored(scored: pd.DataFrame, profile: str | Path | Profile) -> RawMeasures:
    """Rebuild the raw measures from a scored table (to re-score without measuring again).

    Exclusions are carried over as decided (``excluded`` column), not re-measured.

    Parameters
    ----------
    scored : DataFrame or GeoDataFrame
        Output of :func:`score`.
    profile : str, Path or Profile
        The profile it was scored with.

    Returns
    -------
    RawMeasures
        Raw criterion values and nearest names; no exclusion values (callers take the
        ``excluded`` column of the scored table, as :func:`foncier.engine.sensitivity.sensitivity`
        does) and unknown areas.
    """
    prof = load_profile(profile)
    cols = {c.id: scored[f"{c.id}__raw"] for c in prof.criteria if f"{c.id}__raw" in scored}
    if not cols:
        raise SchemaError(
            f"no '<criterion>__raw' column of profile {prof.id!r} in the table: pass the result "
            "of foncier.score(...) with the same profile."
        )
    nearest = {
        c.id: scored[f"{c.id}__nearest"] for c in prof.criteria if f"{c.id}__nearest" in scored
    }
    meta = scored.attrs.get("foncier", {})
    geometry = getattr(scored, "geometry", None) if hasattr(scored, "crs") else None
    return RawMeasures(
        values=pd.DataFrame(cols, index=scored.index),
        nearest=pd.DataFrame(nearest, index=scored.index),
        exclusion_values=pd.DataFrame(index=scored.index),
        area_m2=pd.Series(np.nan, index=scored.index),
        geometry=geometry,
        criteria_skipped=tuple(meta.get("criteria_skipped", ())),
        exclusions_skipped=tuple(meta.get("exclusions_skipped", ())),
        site_ids=_site_ids(scored),
    )

"""Project profiles: which criteria matter for a kind of industrial project, and how much.

A profile is a TOML file. The shipped ones live in ``foncier/profiles/*.toml``
(:func:`list_profiles`); a user file is loaded by path with :func:`load_profile`.

Format
------
::

    [profile]
    id = "logistique-multimodale"
    name = "Logistique multimodale (rail, fleuve, autoroute)"
    description = "Why these criteria, for whom."
    aggregation = "weighted_sum"       # weighted_sum | weighted_product | owa
    owa_weights = [0.4, 0.3, 0.2, 0.1] # owa only: one per criterion, best score first
    min_contiguous_area_m2 = 50000     # optional: drop groups of touching sites smaller than this

    [[criteria]]
    id = "rail_freight"                # unique, lower-case, used in column names
    label = "Gare fret"                # French label shown in maps and explanations
    measure = "distance"               # see MEASURES below
    layer = "rail_freight_stations"    # see KNOWN_LAYERS below
    unit = "m"                         # unit of the raw value (defaults from the measure)
    transform = { kind = "linear", from = 500, to = 10000, direction = "decreasing" }
    weight = 3                         # >= 0, normalised over the criteria actually scored
    filter = { column = "voltage_kv", op = ">=", value = 225 }   # optional, or a list (AND)

    [[exclusions]]
    id = "flood"
    label = "En zone inondable"
    measure = "overlap_share"
    layer = "flood_zones"
    op = ">"                           # > >= < <= == !=
    value = 0.2

    [ahp]                              # optional: weights from a pairwise matrix
    criteria = ["rail_freight", "port", "motorway"]
    matrix = [[1, 2, 3], [0.5, 1, 2], [0.333, 0.5, 1]]
    force = false                      # accept a consistency ratio above 0.10

Measures (``measure``, the registry :data:`foncier.engine.measure_registry.MEASURES`) and
their extra keys: ``distance`` (m to the nearest feature;
``max_distance``, ``name_column``), ``overlap_share`` (share 0..1 of the site area covered),
``intersects`` (true/false), ``zonal_mean`` / ``zonal_max`` / ``zonal_min`` (statistic of a
raster layer such as ``slope`` in degrees), ``count_within`` (features within ``radius_m``),
``sum_within`` (sum of ``column`` over features within ``radius_m``, e.g. the population of
communes whose centroid is within 20 km = labour pool), ``nearest_attribute`` (``column`` of
the nearest feature), ``site_attribute`` (``column`` of the site itself, no layer), ``area``
(site area in m², no layer).

Layer filters are plain comparisons, never evaluated code: ``column``, ``op`` among
``== != < <= > >= in not in``, ``value`` (a number, text, boolean, or a list for ``in``).
Features whose ``status`` is planned, under construction or authorised only count only when
the rule says ``include_planned = true``.

When the criteria carry an ``[ahp]`` table, their weights come from the principal
eigenvector of the matrix; a ``weight`` given on such a criterion is an error (one source of
truth). The consistency ratio is kept in ``Profile.ahp``.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from foncier.engine.aggregation import AGGREGATIONS, AHPResult, ahp_weights, normalise_weights
from foncier.engine.measure_registry import MEASURES
from foncier.engine.profile_values import (
    check_area_m2,
    check_distance_m,
    check_exclusion_value,
    check_filter_value,
)
from foncier.engine.transforms import validate_transform
from layers.errors import ProfileError, SchemaError
from layers.formatting import format_measure as format_value
from layers.registry import LAYERS

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "KNOWN_LAYERS",
    "MEASURES",
    "PROFILES_FOLDER",
    "Criterion",
    "Exclusion",
    "LayerFilter",
    "Profile",
    "format_value",
    "list_profiles",
    "load_profile",
    "parse_weights",
    "profile_from_dict",
    "profile_to_toml",
]

log = logging.getLogger(__name__)

PROFILES_FOLDER = Path(__file__).parent.parent / "profiles"

#: Layer names a profile may use (the layer registry), with their French label.
KNOWN_LAYERS: dict[str, str] = {name: entry.label for name, entry in LAYERS.items()}

FILTER_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
EXCLUSION_OPS = ("==", "!=", "<", "<=", ">", ">=")

_PROFILE_KEYS = (
    "id",
    "name",
    "description",
    "aggregation",
    "owa_weights",
    "min_contiguous_area_m2",
    "references",
)
_TOP_KEYS = ("profile", "criteria", "exclusions", "ahp")
_MEASURE_KEYS = ("radius_m", "column", "max_distance", "name_column")
_COMMON_KEYS = (
    "id",
    "label",
    "measure",
    "layer",
    "unit",
    "filter",
    "include_planned",
    "description",
    *_MEASURE_KEYS,
)
_CRITERION_KEYS = (*_COMMON_KEYS, "transform", "weight")
_EXCLUSION_KEYS = (*_COMMON_KEYS, "op", "value")
_AHP_KEYS = ("criteria", "matrix", "force")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class LayerFilter:
    """A comparison that keeps some features of a layer (``column op value``).

    Attributes
    ----------
    column : str
        Column of the layer.
    op : str
        One of ``== != < <= > >= in not in``.
    value : Any
        Number, text, boolean, or a tuple for ``in`` / ``not in``.
    """

    column: str
    op: str
    value: Any

    def mask(self, gdf: pd.DataFrame, *, layer: str = "layer") -> pd.Series:
        """Boolean mask of the rows of ``gdf`` that pass the filter.

        Raises
        ------
        SchemaError
            The column is not in the layer (the message lists the columns).
        """
        if self.column not in gdf.columns:
            raise SchemaError(
                f"layer {layer!r} has no column {self.column!r} to filter on (columns: "
                f"{', '.join(map(str, gdf.columns))})."
            )
        col = gdf[self.column]
        if self.op == "in":
            return col.isin(list(self.value))
        if self.op == "not in":
            return ~col.isin(list(self.value))
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            col = pd.to_numeric(col, errors="coerce")
        result = {
            "==": lambda: col == self.value,
            "!=": lambda: col != self.value,
            "<": lambda: col < self.value,
            "<=": lambda: col <= self.value,
            ">": lambda: col > self.value,
            ">=": lambda: col >= self.value,
        }[self.op]()
        return result.fillna(False).astype(bool)

    def __str__(self) -> str:
        return f"{self.column} {self.op} {self.value!r}"


@dataclass(frozen=True, eq=False)
class _Rule:
    id: str
    label: str
    measure: str
    layer: str | None
    unit: str
    filters: tuple[LayerFilter, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    include_planned: bool = False

    def select(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The features of ``gdf`` that pass every filter of this rule.

        Features whose ``status`` is not ``existing`` (planned, under construction,
        authorised only) count only when the rule says ``include_planned``; a missing
        status counts as existing.
        """
        if not self.include_planned and "status" in gdf.columns:
            status = gdf["status"].astype("string").fillna("existing")
            gdf = gdf.loc[(status == "existing").to_numpy()]
        if not self.filters:
            return gdf
        keep = np.ones(len(gdf), dtype=bool)
        for f in self.filters:
            keep &= f.mask(gdf, layer=self.layer or "layer").to_numpy()
        return gdf.loc[keep]


@dataclass(frozen=True, eq=False)
class Criterion(_Rule):
    """One scored criterion of a profile.

    Attributes
    ----------
    id, label : str
        Identifier (column prefix) and French label.
    measure : str
        Measure name (see :data:`MEASURES`).
    layer : str or None
        Canonical layer name (see :data:`KNOWN_LAYERS`); None for site measures.
    unit : str
        Unit of the raw value (``m``, ``share``, ``degrees``, ``hab.`` …).
    filters : tuple of LayerFilter
        Conditions on the layer's features (all must hold).
    params : mapping
        Extra measure keys (``radius_m``, ``column``, ``max_distance``, ``name_column``).
    transform : mapping
        Validated transform specification (see :mod:`foncier.engine.transforms`).
    weight : float
        Weight normalised over all the profile's criteria (sums to 1).
    """

    transform: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 0.0


@dataclass(frozen=True, eq=False)
class Exclusion(_Rule):
    """A hard rule: sites where ``measure op value`` holds are excluded.

    Attributes
    ----------
    op : str
        Comparison (``> >= < <= == !=``).
    value : Any
        Threshold in the measure's unit (share 0..1 for ``overlap_share``, metres for
        ``distance``, m² for ``area``, true/false for ``intersects``).
    """

    op: str = ">"
    value: Any = 0.0


@dataclass(frozen=True, eq=False)
class Profile:
    """A validated project profile.

    Attributes
    ----------
    id, name, description : str
        Identity and rationale.
    aggregation : str
        ``weighted_sum``, ``weighted_product`` or ``owa``.
    criteria : tuple of Criterion
        Scored criteria, weights normalised to sum to 1.
    exclusions : tuple of Exclusion
        Hard rules.
    order_weights : tuple of float or None
        OWA order weights (best first).
    min_contiguous_area_m2 : float
        Groups of touching non-excluded sites smaller than this are excluded (0 = off).
    ahp : AHPResult or None
        AHP weights and consistency ratio when the profile has an ``[ahp]`` table.
    source : str
        File the profile was read from.
    """

    id: str
    name: str
    description: str
    aggregation: str
    criteria: tuple[Criterion, ...]
    exclusions: tuple[Exclusion, ...] = ()
    order_weights: tuple[float, ...] | None = None
    min_contiguous_area_m2: float = 0.0
    ahp: AHPResult | None = None
    source: str = ""

    @property
    def weights(self) -> pd.Series:
        """Normalised weights indexed by criterion id (sum 1)."""
        return pd.Series({c.id: c.weight for c in self.criteria}, name="weight", dtype=float)

    def criterion(self, criterion_id: str) -> Criterion:
        """The criterion with this id (ProfileError with a suggestion otherwise)."""
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        ids = [c.id for c in self.criteria]
        raise ProfileError(
            f"profile {self.id!r} has no criterion {criterion_id!r} (criteria: {', '.join(ids)})."
            f"{_suggest(criterion_id, ids)}"
        )

    def with_weights(self, weights: Mapping[str, float]) -> Profile:
        """A copy with new weights (renormalised), e.g. ``{"rail_freight": 5}``.

        Criteria not named keep their current (normalised) weight before renormalisation.
        """
        for key in weights:
            self.criterion(key)
        raw = [float(weights.get(c.id, c.weight)) for c in self.criteria]
        norm = normalise_weights(raw)
        crits = tuple(
            _replace_weight(c, float(w)) for c, w in zip(self.criteria, norm, strict=True)
        )
        return Profile(
            id=self.id,
            name=self.name,
            description=self.description,
            aggregation=self.aggregation,
            criteria=crits,
            exclusions=self.exclusions,
            order_weights=self.order_weights,
            min_contiguous_area_m2=self.min_contiguous_area_m2,
            ahp=None,
            source=self.source,
        )


def _replace_weight(c: Criterion, weight: float) -> Criterion:
    return Criterion(
        id=c.id,
        label=c.label,
        measure=c.measure,
        layer=c.layer,
        unit=c.unit,
        filters=c.filters,
        params=c.params,
        description=c.description,
        include_planned=c.include_planned,
        transform=c.transform,
        weight=weight,
    )


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ProfileError(
                f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})."
                f"{_suggest(key, allowed)}"
            )


def _text(table: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    value = table.get(key, default)
    if value is None:
        raise ProfileError(f"{where}: missing {key!r}.")
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}: {key!r} must be a non-empty text, got {value!r}.")
    return value


def _flag(table: Mapping[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ProfileError(f"{where}: {key!r} must be true or false, got {value!r}.")
    return value


def _parse_filters(raw: Any, where: str) -> tuple[LayerFilter, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        raise ProfileError(f"{where}: filter must be a table or a list of tables.")
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            raise ProfileError(f"{where}: each filter must be {{ column, op, value }}.")
        _check_keys(item, ("column", "op", "value"), f"{where}, filter")
        missing = [k for k in ("column", "op", "value") if k not in item]
        if missing:
            raise ProfileError(f"{where}: filter is missing {', '.join(missing)}.")
        op = item["op"]
        if op not in FILTER_OPS:
            raise ProfileError(
                f"{where}: unknown filter operator {op!r} (known: {', '.join(FILTER_OPS)})."
            )
        value = check_filter_value(item["value"], op, where)
        if op in ("in", "not in"):
            value = tuple(value)
        out.append(LayerFilter(column=str(item["column"]), op=op, value=value))
    return tuple(out)


def _parse_rule_id(table: Mapping[str, Any], where: str) -> str:
    rid = _text(table, "id", where)
    if not _ID_RE.match(rid):
        raise ProfileError(
            f"{where}: id {rid!r} must be lower-case letters, digits and underscores, starting "
            "with a letter (it is used in column names)."
        )
    return rid


def _parse_measure(table: Mapping[str, Any], where: str) -> str:
    measure = _text(table, "measure", where)
    if measure not in MEASURES:
        raise ProfileError(
            f"{where}: unknown measure {measure!r}. Known measures: {', '.join(MEASURES)}."
            f"{_suggest(measure, list(MEASURES))}"
        )
    return measure


def _parse_layer(
    table: Mapping[str, Any], measure: str, where: str, extra_layers: Sequence[str]
) -> str | None:
    layer = table.get("layer")
    if MEASURES[measure].layer is None:
        if layer is not None:
            raise ProfileError(
                f"{where}: measure {measure!r} works on the sites themselves: no layer."
            )
        return None
    known = [*LAYERS, *extra_layers]  # the registry as it is now
    if layer is None:
        raise ProfileError(f"{where}: measure {measure!r} needs a 'layer'.")
    if layer not in known:
        raise ProfileError(
            f"{where}: unknown layer {layer!r}. Known layers: {', '.join(known)}."
            f"{_suggest(str(layer), known)}"
        )
    return str(layer)


def _parse_measure_params(table: Mapping[str, Any], measure: str, where: str) -> dict[str, Any]:
    spec = MEASURES[measure]
    params = {k: table[k] for k in spec.keys if k in table}
    stray = [k for k in _MEASURE_KEYS if k in table and k not in spec.keys]
    if stray:
        raise ProfileError(
            f"{where}: measure {measure!r} does not use {', '.join(stray)} "
            f"(it takes: {', '.join(spec.keys) or 'no extra key'})."
        )
    missing = [need for need in spec.needs if need not in params]
    if missing:
        raise ProfileError(f"{where}: measure {measure!r} needs {missing[0]!r}.")
    for key in ("radius_m", "max_distance"):
        if key in params:
            check_distance_m(params[key], where, key)
    return params


def _parse_rule_common(
    table: Mapping[str, Any], where: str, extra_layers: Sequence[str]
) -> dict[str, Any]:
    """The keys criteria and exclusions share; ``_where`` names the rule in messages."""
    rid = _parse_rule_id(table, where)
    where = f"{where} {rid!r}"
    measure = _parse_measure(table, where)
    layer = _parse_layer(table, measure, where, extra_layers)
    params = _parse_measure_params(table, measure, where)
    return {
        "id": rid,
        "label": _text(table, "label", where, default=rid),
        "measure": measure,
        "layer": layer,
        "unit": str(table.get("unit", MEASURES[measure].unit)),
        "filters": _parse_filters(table.get("filter"), where),
        "include_planned": _flag(table, "include_planned", where),
        "params": params,
        "description": str(table.get("description", "")),
        "_where": where,
    }


def _duplicates(ids: Sequence[str]) -> list[str]:
    return sorted({i for i in ids if ids.count(i) > 1})


def _parse_head(data: Mapping[str, Any], source: str) -> tuple[Mapping[str, Any], str, str]:
    """The ``[profile]`` table, its id and its aggregation."""
    _check_keys(data, _TOP_KEYS, source)
    head = data.get("profile")
    if not isinstance(head, Mapping):
        raise ProfileError(f"{source}: missing [profile] table (id, name, description).")
    _check_keys(head, _PROFILE_KEYS, f"{source} [profile]")
    pid = _text(head, "id", f"{source} [profile]")
    aggregation = head.get("aggregation", "weighted_sum")
    if aggregation not in AGGREGATIONS:
        raise ProfileError(
            f"profile {pid!r}: unknown aggregation {aggregation!r} "
            f"(known: {', '.join(AGGREGATIONS)}).{_suggest(str(aggregation), AGGREGATIONS)}"
        )
    return head, pid, str(aggregation)


def _parse_criteria(raw: Any, where0: str, extra_layers: Sequence[str]) -> list[dict[str, Any]]:
    """The ``[[criteria]]`` tables, validated; ``weight`` is None where not given."""
    if not isinstance(raw, list) or not raw:
        raise ProfileError(f"{where0}: needs at least one [[criteria]] table.")
    parsed: list[dict[str, Any]] = []
    for i, table in enumerate(raw):
        where = f"{where0}, criterion #{i + 1}"
        if not isinstance(table, Mapping):
            raise ProfileError(f"{where}: must be a table.")
        _check_keys(table, _CRITERION_KEYS, where)
        common = _parse_rule_common(table, f"{where0}, criterion", extra_layers)
        where = common.pop("_where")
        if "transform" not in table:
            raise ProfileError(f"{where}: missing 'transform' (e.g. {{ kind = 'linear', ... }}).")
        common["transform"] = validate_transform(table["transform"], where=where)
        weight = table.get("weight")
        if weight is not None and (
            isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0
        ):
            raise ProfileError(f"{where}: weight must be a number >= 0, got {weight!r}.")
        common["weight"] = weight
        parsed.append(common)
    dup = _duplicates([c["id"] for c in parsed])
    if dup:
        raise ProfileError(f"{where0}: duplicate criterion id(s): {', '.join(dup)}.")
    return parsed


def _parse_ahp(
    ahp: Any, parsed: Sequence[Mapping[str, Any]], where0: str
) -> tuple[list[float], AHPResult | None]:
    """Raw weights of the criteria (in their order): from ``[ahp]`` if given, else ``weight``."""
    ids = [c["id"] for c in parsed]
    if ahp is None:
        missing_w = [c["id"] for c in parsed if c["weight"] is None]
        if missing_w:
            raise ProfileError(
                f"{where0}: criteria {', '.join(missing_w)} have no 'weight' (and there is no "
                "[ahp] table)."
            )
        return [float(c["weight"]) for c in parsed], None
    if not isinstance(ahp, Mapping):
        raise ProfileError(f"{where0}: [ahp] must be a table (criteria, matrix, force).")
    _check_keys(ahp, _AHP_KEYS, f"{where0} [ahp]")
    order = ahp.get("criteria")
    if not isinstance(order, list) or sorted(order) != sorted(ids):
        raise ProfileError(
            f"{where0} [ahp]: 'criteria' must list every criterion id once, in matrix order "
            f"(criteria: {', '.join(ids)}; got {order!r})."
        )
    given = [c["id"] for c in parsed if c["weight"] is not None]
    if given:
        raise ProfileError(
            f"{where0}: criteria {', '.join(given)} have a 'weight' but the profile derives "
            "weights from [ahp]; remove one of the two."
        )
    if "matrix" not in ahp:
        raise ProfileError(f"{where0} [ahp]: missing 'matrix'.")
    result = ahp_weights(ahp["matrix"], labels=order, force=bool(ahp.get("force", False)))
    by_id = dict(zip(order, result.weights, strict=True))
    return [float(by_id[i]) for i in ids], result


def _parse_exclusions(raw: Any, where0: str, extra_layers: Sequence[str]) -> tuple[Exclusion, ...]:
    """The ``[[exclusions]]`` tables, validated."""
    if not isinstance(raw, list):
        raise ProfileError(f"{where0}: exclusions must be [[exclusions]] tables.")
    exclusions = []
    for i, table in enumerate(raw):
        where = f"{where0}, exclusion #{i + 1}"
        if not isinstance(table, Mapping):
            raise ProfileError(f"{where}: must be a table.")
        _check_keys(table, _EXCLUSION_KEYS, where)
        common = _parse_rule_common(table, f"{where0}, exclusion", extra_layers)
        where = common.pop("_where")
        op = table.get("op")
        if op not in EXCLUSION_OPS:
            raise ProfileError(
                f"{where}: 'op' must be one of {', '.join(EXCLUSION_OPS)}, got {op!r}."
            )
        if "value" not in table:
            raise ProfileError(f"{where}: missing 'value' (the threshold).")
        value = check_exclusion_value(table["value"], op, where)
        exclusions.append(Exclusion(**common, op=op, value=value))
    dup = _duplicates([e.id for e in exclusions])
    if dup:
        raise ProfileError(f"{where0}: duplicate exclusion id(s): {', '.join(dup)}.")
    return tuple(exclusions)


def _parse_order_weights(
    head: Mapping[str, Any], aggregation: str, n_criteria: int, where0: str
) -> tuple[float, ...] | None:
    """OWA order weights (best score first): one per criterion, only for ``owa``."""
    order_weights = head.get("owa_weights")
    if aggregation != "owa":
        if order_weights is not None:
            raise ProfileError(f"{where0}: owa_weights only applies to aggregation = 'owa'.")
        return None
    if order_weights is None:
        order_weights = [1.0] * n_criteria
    if not isinstance(order_weights, list) or len(order_weights) != n_criteria:
        raise ProfileError(
            f"{where0}: owa_weights needs {n_criteria} numbers (one per criterion, best "
            f"score first), got {order_weights!r}."
        )
    normalise_weights(order_weights)
    return tuple(float(v) for v in order_weights) if order_weights else None


def _parse_min_area(head: Mapping[str, Any], where0: str) -> float:
    return check_area_m2(head.get("min_contiguous_area_m2", 0.0), where0)


def profile_from_dict(
    data: Mapping[str, Any],
    *,
    source: str = "<dict>",
    extra_layers: Sequence[str] = (),
) -> Profile:
    """Validate a parsed profile (the TOML tables as a dict) and build a :class:`Profile`.

    Parameters
    ----------
    data : mapping
        ``{"profile": {...}, "criteria": [...], "exclusions": [...], "ahp": {...}}``.
    source : str
        Where it comes from (for messages).
    extra_layers : sequence of str
        Layer names accepted besides :data:`KNOWN_LAYERS` (user-supplied layers).

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        With a message naming the file, the criterion and the problem.
    """
    head, pid, aggregation = _parse_head(data, source)
    where0 = f"profile {pid!r}"
    parsed = _parse_criteria(data.get("criteria"), where0, extra_layers)
    raw_weights, ahp_result = _parse_ahp(data.get("ahp"), parsed, where0)
    try:
        weights = normalise_weights(raw_weights)
    except ProfileError as exc:
        raise ProfileError(f"{where0}: {exc}") from None
    criteria = tuple(_criterion(c, float(w)) for c, w in zip(parsed, weights, strict=True))
    exclusions = _parse_exclusions(data.get("exclusions", []), where0, extra_layers)
    order_weights = _parse_order_weights(head, aggregation, len(criteria), where0)
    min_area = _parse_min_area(head, where0)
    return Profile(
        id=pid,
        name=_text(head, "name", f"{source} [profile]", default=pid),
        description=str(head.get("description", "")).strip(),
        aggregation=aggregation,
        criteria=criteria,
        exclusions=exclusions,
        order_weights=order_weights,
        min_contiguous_area_m2=min_area,
        ahp=ahp_result,
        source=source,
    )


def _criterion(c: Mapping[str, Any], weight: float) -> Criterion:
    fields = {k: v for k, v in c.items() if k != "weight"}
    return Criterion(**fields, weight=weight)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system, …: not a file we can read
        return False


def _shipped() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PROFILES_FOLDER.glob("*.toml"))}


def load_profile(profile: str | Path | Profile, *, extra_layers: Sequence[str] = ()) -> Profile:
    """Load a shipped profile by id, or a user profile from a TOML file.

    Parameters
    ----------
    profile : str, pathlib.Path or Profile
        Shipped id (``"logistique-multimodale"``), path to a ``.toml`` file, or a profile
        (returned unchanged).
    extra_layers : sequence of str
        Layer names accepted besides :data:`KNOWN_LAYERS`.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Unknown id (with the shipped ids and a close match), unreadable TOML, invalid content.

    Examples
    --------
    >>> from foncier import load_profile
    >>> p = load_profile("logistique-multimodale")
    >>> p.aggregation, [c.id for c in p.criteria]
    ('weighted_sum', ['rail_freight', 'river_port', 'motorway', 'labour_pool'])
    >>> p.weights.round(3).tolist(), [e.id for e in p.exclusions]
    ([0.351, 0.351, 0.189, 0.109], ['flood', 'protected', 'too_small'])
    >>> load_profile("logistique")
    Traceback (most recent call last):
    ...
    layers.errors.ProfileError: unknown profile 'logistique': ... 'logistique-multimodale'?
    """
    if isinstance(profile, Profile):
        return profile
    if not isinstance(profile, str | os.PathLike) or not str(profile).strip():
        raise ProfileError(
            f"profile must be a shipped profile id or a .toml file, got {profile!r}. "
            f"Shipped profiles: {', '.join(_shipped())}."
        )
    shipped = _shipped()
    path = Path(profile)
    if str(profile) in shipped:
        path = shipped[str(profile)]
    elif path.suffix.lower() != ".toml" or not _is_file(path):
        raise ProfileError(
            f"unknown profile {str(profile)!r}: neither a shipped profile nor a .toml file. "
            f"Shipped profiles: {', '.join(shipped)}.{_suggest(str(profile), list(shipped))}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the profile as UTF-8 (TOML "
            "files are always UTF-8)."
        ) from exc
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc.strerror or exc}.") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}.") from exc
    return profile_from_dict(data, source=str(path), extra_layers=extra_layers)


def list_profiles() -> pd.DataFrame:
    """The shipped profiles with their criteria and weights.

    Returns
    -------
    pandas.DataFrame
        One row per profile: ``id``, ``name``, ``aggregation``, ``n_criteria``,
        ``criteria`` (text "label (weight %)" joined by "; "), ``exclusions`` (labels),
        ``weights`` (dict criterion id → normalised weight), ``description``.

    Examples
    --------
    >>> from foncier import list_profiles
    >>> profiles = list_profiles()
    >>> profiles["id"].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['agroalimentaire', 'chimie-process', 'industrie-manufacturiere',
     'logistique-multimodale', 'materiaux-biosources']
    >>> int(profiles.set_index("id").loc["logistique-multimodale", "n_criteria"])
    4
    """
    rows = []
    for pid in _shipped():
        p = load_profile(pid)
        rows.append(
            {
                "id": p.id,
                "name": p.name,
                "aggregation": p.aggregation,
                "n_criteria": len(p.criteria),
                "criteria": "; ".join(f"{c.label} ({c.weight:.0%})" for c in p.criteria),
                "exclusions": "; ".join(e.label for e in p.exclusions),
                "weights": {c.id: round(c.weight, 4) for c in p.criteria},
                "description": p.description,
            }
        )
    return pd.DataFrame(rows)


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_value(value: Any) -> str:
    """One TOML value (string, number, boolean, array or inline table)."""
    import json
    import math

    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(value, str):
        # A JSON string is a TOML basic string once DEL (allowed raw in JSON) is escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, LayerFilter):
        return _toml_value({"column": value.column, "op": value.op, "value": value.value})
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ProfileError(f"cannot write {value!r} ({type(value).__name__}) in a TOML profile.")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_value(str(key))


def _rule_lines(rule: _Rule) -> list[str]:
    lines = [
        f"id = {_toml_value(rule.id)}",
        f"label = {_toml_value(rule.label)}",
        f"measure = {_toml_value(rule.measure)}",
    ]
    if rule.layer is not None:
        lines.append(f"layer = {_toml_value(rule.layer)}")
    lines.append(f"unit = {_toml_value(rule.unit)}")
    if rule.description:
        lines.append(f"description = {_toml_value(rule.description)}")
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in rule.params.items()]
    if rule.filters:
        lines.append(f"filter = {_toml_value(list(rule.filters))}")
    return lines


def profile_to_toml(
    profile: Profile,
    *,
    weights: Mapping[str, float] | None = None,
    weight_text: Sequence[str] | None = None,
    comment: str = "",
) -> str:
    """Write a profile as TOML that :func:`load_profile` reads back to the same profile.

    Weights are written explicitly on every criterion (an ``[ahp]`` table is not kept: its
    weights are written instead), so the file states the priorities in force.

    Parameters
    ----------
    profile : Profile
        The profile to write.
    weights : mapping of str to float, optional
        Weight per criterion id (any non-negative scale; normalised when read). Criteria not
        named keep their weight in the profile.
    weight_text : sequence of str, optional
        Text written as the weight of each criterion, in profile order, instead of a number
        (lets a page fill in the weights later).
    comment : str
        Lines written as TOML comments at the top of the file.

    Returns
    -------
    str
        TOML text.

    Raises
    ------
    ProfileError
        A weight names an unknown criterion, or ``weight_text`` has the wrong length.
    """
    weights = dict(weights or {})
    for key in weights:
        profile.criterion(key)
    if weight_text is not None and len(weight_text) != len(profile.criteria):
        raise ProfileError(
            f"{len(weight_text)} weight texts for the {len(profile.criteria)} criteria of "
            f"profile {profile.id!r}."
        )
    out = [f"# {line}".rstrip() for line in comment.splitlines()]
    out += [
        "[profile]",
        f"id = {_toml_value(profile.id)}",
        f"name = {_toml_value(profile.name)}",
    ]
    if profile.description:
        out.append(f"description = {_toml_value(profile.description)}")
    out.append(f"aggregation = {_toml_value(profile.aggregation)}")
    if profile.aggregation == "owa" and profile.order_weights:
        out.append(f"owa_weights = {_toml_value(list(profile.order_weights))}")
    if profile.min_contiguous_area_m2:
        out.append(f"min_contiguous_area_m2 = {_toml_value(profile.min_contiguous_area_m2)}")
    for j, c in enumerate(profile.criteria):
        if weight_text is not None:
            weight = weight_text[j]
        else:
            weight = _toml_value(float(weights.get(c.id, c.weight)))
        out += ["", "[[criteria]]", *_rule_lines(c)]
        out.append(f"transform = {_toml_value(dict(c.transform))}")
        out.append(f"weight = {weight}")
    for e in profile.exclusions:
        out += ["", "[[exclusions]]", *_rule_lines(e)]
        out += [f"op = {_toml_value(e.op)}", f"value = {_toml_value(e.value)}"]
    return "\n".join(out) + "\n"


def parse_weights(text: str) -> dict[str, float]:
    """Read criterion weights written ``id=weight,id=weight`` (e.g. ``rail_freight=0.4,port=0.3``).

    Weights are non-negative numbers on any scale (they are normalised with the profile's
    other criteria, see :meth:`Profile.with_weights`); a decimal comma is not accepted, since
    the comma separates the criteria.

    Parameters
    ----------
    text : str
        The weights.

    Returns
    -------
    dict of str to float
        Weight by criterion id, in the order given.

    Raises
    ------
    ProfileError
        An item is not ``id=number``, a number is negative or not finite, or an id is repeated.
    """
    out: dict[str, float] = {}
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise ProfileError("no weight given: write them as criterion=weight,criterion=weight.")
    for item in items:
        if not item:
            raise ProfileError(f"empty item in weights {text!r}: write criterion=weight,...")
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            hint = " (a decimal comma? write 0.4)" if item.isdigit() else ""
            raise ProfileError(
                f"weight {item!r} is not criterion=number (e.g. rail_freight=0.4); "
                f"separate criteria with commas{hint}."
            )
        try:
            number = float(value)
        except ValueError:
            raise ProfileError(
                f"weight of {key!r} is not a number: {value!r} (use a decimal point: 0.4)."
            ) from None
        if not np.isfinite(number) or number < 0:
            raise ProfileError(f"weight of {key!r} must be a number >= 0, got {value!r}.")
        if key in out:
            raise ProfileError(f"criterion {key!r} is given two weights in {text!r}.")
        out[key] = number
    return out

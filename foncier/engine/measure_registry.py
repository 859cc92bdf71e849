"""The measures a profile rule may use: one registry entry per measure.

Each entry of :data:`MEASURES` says what a measure needs and how it is computed: its default
unit, the kind of layer it reads (none: the site itself; ``vector``: a GeoDataFrame;
``raster``: a :class:`layers.raster.Raster`), the extra keys a rule may give and the ones it
must give, and the function that returns the raw values. Profile validation
(:mod:`foncier.engine.profiles`) and scoring (:mod:`foncier.engine.scoring`) both read this
registry, so adding a measure is one entry and its function.

The functions run the vectorised measures of :mod:`foncier.engine.measures` (imported
lazily: reading a profile does not load shapely or the distance engine).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd

from layers.errors import ProfileError, SchemaError
from layers.infrastructure import PRECISIONS, position_notes

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["COMMUNE_PRECISION_NOTE", "MEASURES", "MeasureSpec", "MeasuredRule", "measure_rule"]

log = logging.getLogger(__name__)

#: Appended to the name of a nearest feature located only at its commune.
COMMUNE_PRECISION_NOTE = PRECISIONS["commune"]

LayerKind = Literal["vector", "raster"]


class MeasuredRule(Protocol):
    """What a measure reads of a profile rule (a criterion or an exclusion)."""

    @property
    def id(self) -> str:
        """Rule id (column prefix)."""

    @property
    def measure(self) -> str:
        """Measure name, a key of :data:`MEASURES`."""

    @property
    def layer(self) -> str | None:
        """Layer name, None for measures of the sites themselves."""

    @property
    def params(self) -> Mapping[str, Any]:
        """Extra measure keys (``radius_m``, ``column``, ``max_distance``, ``name_column``)."""

    @property
    def filters(self) -> tuple[Any, ...]:
        """Conditions on the layer's features."""

    def select(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The features of ``gdf`` that pass every filter of the rule."""


#: ``compute(rule, prepared_sites, sites, data)`` → raw values (and nearest names or None);
#: ``data`` is the rule's selected features (vector), the raster, or None (site measures).
Compute = Callable[
    [MeasuredRule, Any, "gpd.GeoDataFrame", Any], "tuple[pd.Series, pd.Series | None]"
]


@dataclass(frozen=True)
class MeasureSpec:
    """One measure of the registry.

    Attributes
    ----------
    name : str
        Name used in profiles (``measure = "distance"``).
    unit : str
        Default unit of the raw value (``m``, ``share``, ``bool``, ``count``, ``m²``, or ``""``
        when it depends on the layer: degrees of slope, inhabitants …).
    layer : {"vector", "raster"} or None
        Kind of layer the measure reads; None for measures of the sites themselves.
    keys : tuple of str
        Extra keys a rule may give (``radius_m``, ``column``, ``max_distance``,
        ``name_column``).
    needs : tuple of str
        Extra keys a rule must give.
    compute : callable
        ``compute(rule, prepared, sites, data)`` returning the raw values aligned on the
        sites' index and, for distances, the names of the nearest features (else None).
    """

    name: str
    unit: str
    layer: LayerKind | None
    compute: Compute
    keys: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()


def _series(values: Any, sites: gpd.GeoDataFrame, dtype: Any = float) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=dtype), index=sites.index)


def _need_column(rule: MeasuredRule, frame: pd.DataFrame, column: str, what: str) -> None:
    if column not in frame.columns:
        raise SchemaError(
            f"{rule.id!r}: {what} no column {column!r} "
            f"(columns: {', '.join(map(str, frame.columns))})."
        )


def _area(rule: MeasuredRule, prepared: Any, sites: Any, data: Any) -> tuple[pd.Series, None]:
    from foncier.engine import measures

    return pd.Series(measures.area_m2(prepared), index=sites.index, dtype=float), None


def _site_attribute(
    rule: MeasuredRule, prepared: Any, sites: Any, data: Any
) -> tuple[pd.Series, None]:
    from foncier.engine import measures

    column = rule.params["column"]
    _need_column(rule, sites, column, "the sites have")
    return pd.Series(measures.site_attribute(prepared, column), index=sites.index), None


def _zonal(stat: Literal["mean", "max", "min"]) -> Compute:
    def compute(
        rule: MeasuredRule, prepared: Any, sites: Any, raster: Any
    ) -> tuple[pd.Series, None]:
        from foncier.engine import measures

        return _series(measures.zonal_stat(prepared, raster, stat=stat), sites), None

    return compute


def _distance(
    rule: MeasuredRule, prepared: Any, sites: Any, features: Any
) -> tuple[pd.Series, pd.Series]:
    from foncier.engine import measures

    name_column = rule.params.get("name_column")
    if name_column is None:
        name_column = next((c for c in ("name", "nom") if c in features.columns), None)
    frame = measures.distance_to(
        prepared, features, max_distance=rule.params.get("max_distance"), name_column=name_column
    )
    dist = _series(frame["distance_m"], sites)
    nearest = _series(frame["nearest_name"], sites, dtype=object)
    if "precision" in features.columns:
        # A feature whose position is coarse (known at its commune, on a 1-arc-minute grid,
        # rounded to a locality, placed by hand) gives a distance that is not metre-precise:
        # say so wherever its name is shown. A feature known at its commune is the commune's
        # area: its note names the commune, and reports read the distance as "dans la
        # commune de X" (0) or "… de la commune de X" (a lower bound).
        by_feature = pd.Series(position_notes(features), index=features.index)
        notes = by_feature.reindex(frame["nearest_id"].to_numpy()).fillna("").to_numpy()
        rough = (notes != "") & nearest.notna().to_numpy()
        nearest[rough] = nearest[rough].astype(str) + notes[rough]
    return dist, nearest


def _overlap_share(
    rule: MeasuredRule, prepared: Any, sites: Any, features: Any
) -> tuple[pd.Series, None]:
    from foncier.engine import measures

    return _series(measures.overlap_share(prepared, features), sites), None


def _intersects(
    rule: MeasuredRule, prepared: Any, sites: Any, features: Any
) -> tuple[pd.Series, None]:
    from foncier.engine import measures

    return _series(measures.intersects(prepared, features), sites, dtype=bool), None


def _within(rule: MeasuredRule, prepared: Any, sites: Any, features: Any) -> tuple[pd.Series, None]:
    from foncier.engine import measures

    column = rule.params.get("column")
    if column is not None:
        _need_column(rule, features, column, f"layer {rule.layer!r} has")
    # Polygon features (communes) count by their centroid, as measures.count_within does:
    # "population within 20 km" = communes whose centre is within 20 km.
    values = measures.count_within(
        prepared, features, radius_m=float(rule.params["radius_m"]), weight_column=column
    )
    return _series(values, sites), None


def _nearest_attribute(
    rule: MeasuredRule, prepared: Any, sites: Any, features: Any
) -> tuple[pd.Series, None]:
    from foncier.engine import measures

    column = rule.params["column"]
    _need_column(rule, features, column, f"layer {rule.layer!r} has")
    values = measures.nearest_attribute(
        prepared, features, column, max_distance=rule.params.get("max_distance")
    )
    return _series(values, sites, dtype=object), None


#: Every measure a profile rule may use, by name (see :class:`MeasureSpec`).
MEASURES: dict[str, MeasureSpec] = {
    spec.name: spec
    for spec in (
        MeasureSpec("distance", "m", "vector", _distance, keys=("max_distance", "name_column")),
        MeasureSpec("overlap_share", "share", "vector", _overlap_share),
        MeasureSpec("intersects", "bool", "vector", _intersects),
        MeasureSpec("zonal_mean", "", "raster", _zonal("mean")),
        MeasureSpec("zonal_max", "", "raster", _zonal("max")),
        MeasureSpec("zonal_min", "", "raster", _zonal("min")),
        MeasureSpec(
            "count_within", "count", "vector", _within, keys=("radius_m",), needs=("radius_m",)
        ),
        MeasureSpec(
            "sum_within",
            "",
            "vector",
            _within,
            keys=("radius_m", "column"),
            needs=("radius_m", "column"),
        ),
        MeasureSpec(
            "nearest_attribute",
            "",
            "vector",
            _nearest_attribute,
            keys=("column", "max_distance"),
            needs=("column",),
        ),
        MeasureSpec(
            "site_attribute", "", None, _site_attribute, keys=("column",), needs=("column",)
        ),
        MeasureSpec("area", "m²", None, _area),
    )
}


def measure_rule(
    rule: MeasuredRule, prepared: Any, sites: gpd.GeoDataFrame, layer: Any
) -> tuple[pd.Series, pd.Series | None]:
    """Raw values of one rule on the sites (and the nearest names for distances).

    Parameters
    ----------
    rule : Criterion or Exclusion
        A validated profile rule.
    prepared : foncier.engine.measures.PreparedSites
        The sites prepared once by :func:`foncier.engine.measures.prepare_sites`.
    sites : GeoDataFrame
        The candidate sites (projected CRS, metres).
    layer : GeoDataFrame, Raster or None
        The rule's layer (None for measures of the sites themselves).

    Returns
    -------
    tuple of (pandas.Series, pandas.Series or None)
        Raw values in the measure's unit, aligned on the sites' index; the names of the
        nearest features for distances, else None.

    Raises
    ------
    SchemaError
        The layer is of the wrong kind, or a column the rule needs is missing.
    ProfileError
        The measure is not in :data:`MEASURES`.
    """
    import geopandas as gpd

    spec = MEASURES.get(rule.measure)
    if spec is None:
        raise ProfileError(f"{rule.id!r}: unknown measure {rule.measure!r}.")
    if spec.layer is None:
        return spec.compute(rule, prepared, sites, None)
    if spec.layer == "raster":
        if isinstance(layer, gpd.GeoDataFrame):
            raise SchemaError(
                f"{rule.id!r}: measure {rule.measure!r} needs a raster for layer "
                f"{rule.layer!r}, got a GeoDataFrame."
            )
        return spec.compute(rule, prepared, sites, layer)
    if not isinstance(layer, gpd.GeoDataFrame):
        raise SchemaError(
            f"{rule.id!r}: layer {rule.layer!r} must be a GeoDataFrame for measure "
            f"{rule.measure!r}, got {type(layer).__name__}."
        )
    features = rule.select(layer)
    if len(features) == 0:
        log.warning(
            "%s: layer %r has no feature%s: the criterion scores as if nothing were near.",
            rule.id,
            rule.layer,
            f" matching {', '.join(map(str, rule.filters))}" if rule.filters else "",
        )
    return spec.compute(rule, prepared, sites, features)

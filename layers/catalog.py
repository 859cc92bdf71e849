"""The catalogue of every layer foncier can load for a territory, and one call to load many.

The layers themselves are declared once, in :data:`layers.registry.LAYERS` (name, label,
geometry kind, schema, coverage, loader, style, source, licence); this module loads them by
name (:func:`load_layer`, :func:`load_layers`) and lists them (:func:`available_layers`).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import pandas as pd
import shapely

from layers import admin
from layers.config import OnlineMode, settings
from layers.errors import ArgumentError, DataSourceError, FoncierError
from layers.infrastructure import COVERAGE_ATTR
from layers.online import OnlineStatus, load_online, online_mode
from layers.postgis import is_postgis_url
from layers.raster import Raster
from layers.registry import LAYERS, LayerEntry, suggest_layer
from layers.territories import Territory

__all__ = [
    "LAYERS",
    "LayerEntry",
    "LayerInfo",
    "available_layers",
    "load_layer",
    "load_layers",
    "load_perimeter",
    "load_population",
]

log = logging.getLogger(__name__)

Layer: TypeAlias = gpd.GeoDataFrame | Raster
#: Former name of :class:`layers.registry.LayerEntry`.
LayerInfo = LayerEntry


def _embedded_only(source: object, layer: str) -> None:
    if not (isinstance(source, str) and source == "embedded"):
        raise DataSourceError(
            f"{layer}: unknown source {source!r}; this layer comes from the embedded "
            "administrative data only (source='embedded')."
        )


def load_population(
    territory: Territory, *, source: str = "embedded", margin_m: float | None = None
) -> gpd.GeoDataFrame:
    """Communes of the territory and around it, with their population (labour pool).

    Parameters
    ----------
    territory : Territory
        Study area; the result is in ``territory.crs``.
    source : {"embedded"}
        The embedded communes (IGN Admin Express / INSEE COG), the only source.
    margin_m : float, optional
        Margin around the perimeter in metres (default ``settings.infrastructure_margin_m``):
        labour within reach often lives outside the territory.

    Returns
    -------
    GeoDataFrame
        ``id`` (INSEE code), ``name``, ``kind`` ("commune"), ``population`` (inhabitants,
        municipal population), ``dep``, ``in_territory`` (bool), ``source``, polygons.
    """
    _embedded_only(source, "communes")
    margin = settings.infrastructure_margin_m if margin_m is None else float(margin_m)
    box = shapely.box(*territory.bbox_lonlat(margin))
    deps = admin.load_departements()
    touched = deps.loc[shapely.intersects(deps.geometry.to_numpy(), box), "code"].tolist()
    communes = admin.load_communes(departements=touched)
    communes = communes[shapely.intersects(communes.geometry.to_numpy(), box)]
    communes = communes.to_crs(territory.crs)
    communes = communes.iloc[territory.within_margin(communes, margin)]
    members = set(territory.communes["insee"])
    return gpd.GeoDataFrame(
        {
            "id": communes["insee"].to_numpy(),
            "name": communes["nom"].to_numpy(),
            "kind": "commune",
            "population": communes["population"].to_numpy(),
            "dep": communes["dep"].to_numpy(),
            "in_territory": communes["insee"].isin(members).to_numpy(),
            "source": admin.ADMIN_SOURCE.get("name", "IGN Admin Express / INSEE COG"),
        },
        geometry=communes.geometry.to_numpy(),
        crs=territory.crs,
    ).reset_index(drop=True)


def load_perimeter(territory: Territory, *, source: str = "embedded") -> gpd.GeoDataFrame:
    """The territory's perimeter as a layer (e.g. to exclude sites mostly outside it).

    Parameters
    ----------
    territory : Territory
        Study area.
    source : {"embedded"}
        The territory's own perimeter, the only source.

    Returns
    -------
    GeoDataFrame
        One row: ``id`` (territory id), ``name``, ``kind`` ("territory"), ``source``
        ("territory"), the perimeter in ``territory.crs``.
    """
    _embedded_only(source, "territory")
    outline = territory.outline()
    outline.insert(2, "kind", "territory")
    outline.insert(3, "source", "territory")
    return outline


def _is_file(source: Any) -> bool:
    """A source that names a file (not a keyword such as ``"osm"`` or a GeoDataFrame)."""
    if not isinstance(source, str | os.PathLike):
        return False
    try:
        return Path(source).is_file()
    except (OSError, ValueError):
        return False


def _check_overlap(layer: Layer, name: str, source: Any, territory: Territory) -> None:
    """Refuse a file the caller named that has nothing over the territory (another area)."""
    if isinstance(layer, gpd.GeoDataFrame):
        if len(layer) == 0:
            raise DataSourceError(
                f"{name}: the file {str(source)!r} has no feature over {territory.name} (and "
                "its margin): is it a file of another area, or in a wrong CRS?"
            )
        return
    bounds = getattr(layer, "bounds", None)
    crs = getattr(layer, "crs", None)
    if bounds is None or crs is None:
        return
    try:
        box = gpd.GeoSeries([shapely.box(*bounds)], crs=crs).to_crs(territory.crs).iloc[0]
    except Exception:  # a CRS pyproj cannot transform: the loader checked what it could
        return
    if not shapely.intersects(box, territory.perimeter):
        raise DataSourceError(
            f"{name}: the raster {str(source)!r} does not cover {territory.name} (its extent "
            "lies elsewhere): give a file of this area."
        )


def _check_names(names: Iterable[str]) -> list[str]:
    names = list(names)
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        hints = "".join(suggest_layer(n) for n in unknown)
        raise ArgumentError(
            f"Unknown layer(s) {unknown}.{hints} Known layers: {', '.join(sorted(LAYERS))}."
        )
    return names


def load_layer(
    territory: Territory, name: str, *, source: Any = None, margin_m: float | None = None
) -> Layer:
    """Load one layer of :data:`LAYERS` for a territory.

    Parameters
    ----------
    territory : Territory
        Study area; vector layers come back in ``territory.crs``.
    name : str
        Layer name (see :data:`LAYERS` or :func:`available_layers`).
    source : optional
        Source passed to the loader (a file path, a GeoDataFrame, ``"osm"``, ``"embedded"`` …)
        or a PostGIS table, view or query (``"postgresql:///?service=sig&table=risques.ppri"``,
        see :mod:`layers.postgis`: only the rows near the territory are read); default: the
        loader's own default.
    margin_m : float, optional
        Margin around the perimeter, metres, for infrastructure and population layers.
    """
    entry = LAYERS[_check_names([name])[0]]
    if is_postgis_url(source):
        source = _read_database_layer(territory, name, source, entry, margin_m)
    layer = entry.call(territory, source=source, margin_m=margin_m)
    return _mark_coverage(layer, entry, territory, source)


def _mark_coverage(layer: Layer, entry: LayerEntry, territory: Territory, source: Any) -> Layer:
    """Record in ``layer.attrs`` whether the embedded data used covers the territory.

    Only embedded data is limited by the entry's coverage: a file or an online source
    covers what it holds. A territory none of whose départements is covered is "hors
    couverture": the scoring engine skips the criteria on the layer instead of reading
    "nothing near". Where the data is known to be incomplete (``Coverage.gaps``), the gaps
    are recorded too: a distance criterion that finds nothing within its reach is skipped
    ("non couvert hors ligne"), and the nearest feature's name carries ``nearest_note``.
    """
    embedded = (source is None and entry.offline) or (
        isinstance(source, str) and source in ("embedded", "named")
    )
    if not isinstance(layer, gpd.GeoDataFrame) or not embedded:
        return layer
    covered = entry.coverage.status(territory) != "none"
    gaps = entry.coverage.gaps_for(territory) if covered else ""
    layer.attrs[COVERAGE_ATTR] = {
        "covered": covered,
        "coverage": entry.coverage.label,
        # Known holes of the data here (tolled interchanges only …): a distance criterion
        # with nothing in reach is then "non couvert hors ligne", not "nothing near".
        "gaps": gaps,
        "nearest_note": entry.coverage.nearest_note if gaps else "",
    }
    if gaps:
        # Whether a feature lies within a criterion's reach is judged from the territory.
        layer.attrs[COVERAGE_ATTR]["perimeter"] = territory.perimeter
    if not covered:
        log.warning(
            "layer %r: territory %r is outside the coverage of the embedded data (%s): its "
            "criteria are skipped (hors couverture).",
            entry.name,
            territory.id,
            entry.coverage.label,
        )
    return layer


def _read_database_layer(
    territory: Territory, name: str, url: str, entry: LayerEntry, margin_m: float | None
) -> gpd.GeoDataFrame:
    """Rows of a PostGIS table that the territory needs; the loader then validates them.

    Infrastructure and population are read within the loading margin around the perimeter,
    other layers within 5 km of it (candidate sites may cross the perimeter), so the server
    sends only what the loader keeps.
    """
    from layers.postgis import read_postgis

    if entry.margin:
        margin = settings.infrastructure_margin_m if margin_m is None else margin_m
    else:
        margin = 5_000.0
    area = shapely.envelope(territory.perimeter).buffer(margin)
    return read_postgis(url, mask=area, crs=territory.crs, name=name)


def load_layers(
    territory: Territory,
    names: Iterable[str] | None = None,
    *,
    sources: Mapping[str, Any] | None = None,
    margin_m: float | None = None,
    online: OnlineMode | None = False,
    errors: str = "warn",
    progress: Callable[[str, int, int], None] | None = None,
    status: dict[str, OnlineStatus] | None = None,
) -> dict[str, Layer]:
    """Load several layers for a territory; what cannot be loaded is skipped with a warning.

    Parameters
    ----------
    territory : Territory
        Study area.
    names : iterable of str, optional
        Layers to load (default: every layer available offline).
    sources : mapping of str to source, optional
        Source per layer, e.g. ``{"flood_zones": "ppr.gpkg", "slope": "dem.tif"}``. A layer
        given here is loaded even when it is not embedded.
    margin_m : float, optional
        Margin around the perimeter for infrastructure and population, metres.
    online : {False, True, "auto"} or None
        Also load the online layers (OpenStreetMap, IGN WFS) that have no source given,
        through the cache (see :mod:`layers.online`): ``"auto"`` when their hosts answer a
        quick probe, True always; a layer not obtained falls back on its embedded part (or is
        left out) with a warning. None reads ``settings.online``. When False (default), only
        embedded layers and layers with a source are loaded.
    errors : {"warn", "raise"}
        What to do when a layer fails: log a warning and skip it, or raise. A layer whose
        source is given in ``sources`` always raises: a file the caller named that is
        missing, unreadable, of the wrong kind or with no feature over the territory is an
        error, never a silently dropped rule.
    progress : callable, optional
        Called as ``progress(name, i, n)`` before each layer.
    status : dict, optional
        Filled with an :class:`~layers.online.OnlineStatus` per online layer asked for: used
        online or from the cache (with the date), or not obtained and why.

    Returns
    -------
    dict of str to GeoDataFrame or Raster
        Loaded layers. Skipped layers are absent: the scoring engine then skips the criteria
        that need them and says so.

    Examples
    --------
    >>> import foncier
    >>> t = foncier.territory("60159")
    >>> layers = foncier.load_layers(t, ["rail_freight_stations", "substations"])
    >>> sorted(layers), layers["rail_freight_stations"].crs.to_epsg()
    (['rail_freight_stations', 'substations'], 2154)
    >>> "Compiègne" in set(layers["rail_freight_stations"]["name"])
    True
    """
    sources = dict(sources or {})
    mode = online_mode(online)
    if errors not in ("warn", "raise"):
        raise ArgumentError(f"errors must be 'warn' or 'raise', got {errors!r}.")
    if names is None:
        names = [n for n, i in LAYERS.items() if i.embedded]
    wanted = _check_names(names)
    _check_names(sources)
    out: dict[str, Layer] = {}
    for i, name in enumerate(wanted):
        if progress is not None:
            progress(name, i, len(wanted))
        info = LAYERS[name]
        source = sources.get(name)
        if source is None and mode is not False and info.online:
            layer, state = load_online(
                info,
                functools.partial(load_layer, territory, name, margin_m=margin_m),
                mode=mode,
                strict=errors == "raise",
            )
            if status is not None:
                status[name] = state
            elif not state.used:
                # nobody collects the statuses: say it here
                log.warning("layer %r: %s", name, state.message())
            if layer is not None:
                out[name] = layer
            continue
        if source is None and info.offline_source is not None:
            # Offline, layers complete only online still load their embedded part.
            source = info.offline_source
        elif source is None and not info.offline:
            # An expected gap (the caller did not give a file or ask for the web): the scoring
            # engine reports the criteria it skips, so this is only information.
            log.info("layer %r skipped: %s", name, "needs a file" if info.needs else "online")
            continue
        explicit = name in sources
        try:
            out[name] = load_layer(territory, name, source=source, margin_m=margin_m)
        except FoncierError as exc:
            if errors == "raise" or explicit:
                raise
            log.warning("layer %r skipped: %s", name, exc)
            continue
        if explicit and _is_file(source):
            _check_overlap(out[name], name, source, territory)
    if progress is not None:
        progress("", len(wanted), len(wanted))
    return out


def available_layers(territory: Territory | None = None, *, count: bool = False) -> pd.DataFrame:
    """Table of the layers, with what is available offline and what needs the web or a file.

    Parameters
    ----------
    territory : Territory, optional
        Tells how much of it each layer covers (``covered``); with ``count=True``, embedded
        layers are loaded and their features counted.
    count : bool
        Count the features of the offline layers for ``territory`` (for ports and platforms:
        the embedded named sites).

    Returns
    -------
    DataFrame
        ``layer, theme, description, offline, embedded`` (the layer or part of it loads
        offline), ``online, needs, source, coverage`` (where the layer has data as loaded
        by default), ``coverage_online`` (when loaded online), and
        with a territory ``covered`` and ``covered_online`` (``"full"``, ``"partial"`` or
        ``"none"``), ``gaps`` (what the offline data is known to lack there, ``""`` when
        nothing) and ``features``.
    """
    rows = []
    for name, info in LAYERS.items():
        row: dict[str, Any] = {
            "layer": name,
            "theme": info.theme,
            "description": info.description,
            "offline": info.offline,
            "embedded": info.embedded,
            "online": info.online,
            "needs": info.needs,
            "source": info.source,
            "coverage": info.coverage.label,
            "coverage_online": info.coverage_when(online=True).label,
        }
        if territory is not None:
            row["covered"] = info.coverage.status(territory)
            row["gaps"] = info.coverage.gaps_for(territory)
            row["covered_online"] = info.coverage_when(online=True).status(territory)
        if count and territory is not None:
            row["features"] = pd.NA
            if info.embedded:
                layer = load_layer(territory, name, source=info.offline_source)
                row["features"] = len(layer) if isinstance(layer, gpd.GeoDataFrame) else 1
        rows.append(row)
    return pd.DataFrame(rows)

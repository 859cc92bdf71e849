"""The main job in one call: territory → layers → sites → score → sensitivity → map.

:func:`siting_study` chains these steps with sensible defaults, so that the
command line, the notebooks and a one-line Python call do the same thing::

    study = foncier.siting_study("grand-compiegnois")
    study.top(10)
    study.map()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from foncier.engine.profiles import Profile, load_profile
from foncier.engine.scoring import score
from foncier.engine.sensitivity import sensitivity
from foncier.engine.sites import parse_sites_spec
from foncier.reports.study import SitingStudy
from layers.arguments import check_int, check_number
from layers.catalog import LAYERS, load_layers
from layers.config import OnlineMode, settings
from layers.errors import ArgumentError
from layers.online import OnlineStatus
from layers.territories import Territory, presets, territory

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_SITES",
    "SitingStudy",
    "default_profile",
    "profile_layers",
    "siting_study",
]

log = logging.getLogger(__name__)

#: Profile used when a territory has no preferred one.
DEFAULT_PROFILE = "logistique-multimodale"
#: Candidate sites when none are given: about a thousand hexagons clipped to the territory.
DEFAULT_SITES = "hex:auto"

#: Layers drawn on a siting map besides the ones the profile uses (``map_context`` entries of
#: the layer registry).
MAP_CONTEXT_LAYERS = tuple(name for name, entry in LAYERS.items() if entry.map_context)


def default_profile(where: Territory | str) -> str:
    """The profile a siting map uses when none is asked for.

    Parameters
    ----------
    where : Territory or str
        A territory or a preset id.

    Returns
    -------
    str
        The preset's own profile (its leading industry) or :data:`DEFAULT_PROFILE`.
    """
    key = where.id if isinstance(where, Territory) else str(where)
    preset = presets().get(key)
    return preset.profile if preset is not None and preset.profile else DEFAULT_PROFILE


def profile_layers(profile: Profile) -> list[str]:
    """Names of the layers a profile's criteria and exclusions measure, in profile order."""
    names: dict[str, None] = {}
    for rule in (*profile.criteria, *profile.exclusions):
        if rule.layer:
            names.setdefault(rule.layer, None)
    return list(names)


def profile_reach_m(profile: Profile) -> float:
    """Largest ``radius_m`` of the profile's rules, metres (0 when none counts within a radius)."""
    radii = [
        float(rule.params["radius_m"])
        for rule in (*profile.criteria, *profile.exclusions)
        if "radius_m" in rule.params
    ]
    return max(radii, default=0.0)


def _margin_for(profile: Profile, margin_m: float | None) -> float | None:
    """The loading margin: wide enough for the profile's largest radius, never silently short."""
    reach = profile_reach_m(profile)
    if margin_m is None:
        if reach > settings.infrastructure_margin_m:
            log.info("loading margin widened to %.0f m (the profile's largest radius)", reach)
            return reach
        return None
    if reach > margin_m:
        raise ArgumentError(
            f"margin_m={margin_m:g} m is smaller than the {reach:g} m radius of a criterion of "
            f"{profile.id!r}: features beyond the margin would be missed. Use margin_m >= "
            f"{reach:g} (or leave it out)."
        )
    return margin_m


def siting_study(
    where: Territory | str,
    *,
    profile: str | Path | Profile | None = None,
    sites: str | gpd.GeoDataFrame = DEFAULT_SITES,
    sources: Mapping[str, Any] | None = None,
    online: OnlineMode | None = False,
    margin_m: float | None = None,
    draws: int = 200,
    top_n: int = 10,
    weights: Mapping[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SitingStudy:
    """Run the whole siting job for a territory and a project profile.

    Parameters
    ----------
    where : Territory or str
        Territory or anything :func:`layers.territory` accepts (preset id, SIREN …).
    profile : str, Path or Profile, optional
        Shipped profile id, TOML file or Profile (default: :func:`default_profile`).
    sites : str or GeoDataFrame
        Candidate sites: ``"hex:auto"`` (about 1,000 hexagons), ``"hex:1000"``, ``"grid:500"``,
        a vector file, or a GeoDataFrame
        in the territory's CRS.
    sources : mapping, optional
        Source per layer (``{"flood_zones": "ppr.gpkg", "slope": "dem.tif"}``). A source
        given here that cannot be used (missing, unreadable, of the wrong kind, with nothing
        over the territory) is an error, not a skipped layer.
    online : {False, True, "auto"} or None
        Also load the online layers (OpenStreetMap, IGN WFS) through the cache: ``"auto"``
        when their hosts answer a quick probe, True always; a layer not obtained falls back
        on its embedded data (see :func:`layers.catalog.load_layers`). None reads
        ``settings.online`` (``"auto"`` unless changed; the command line's default).
        Default: embedded data only. What became of each online layer is in
        ``study.online_status`` and ``study.scored.attrs["foncier"]["online"]``.
    margin_m : float, optional
        Margin around the territory for infrastructure, metres (default 30 km).
    draws : int
        Monte-Carlo draws of the sensitivity analysis (0 to skip it).
    top_n : int
        Size of the shortlist.
    weights : mapping of str to float, optional
        New weights for some criteria of the profile (``{"rail_freight": 0.4}``; the others
        keep theirs, all are normalised again, see :meth:`Profile.with_weights`).
    progress : callable, optional
        Called with a short description of each step.

    Returns
    -------
    SitingStudy

    Examples
    --------
    >>> import foncier
    >>> study = foncier.siting_study("60159", sites="hex:2000", draws=50)
    >>> study.profile.id, len(study.scored)
    ('logistique-multimodale', 28)
    >>> study.top(3)["score"].round(1).tolist()
    [77.4, 73.3, 70.0]
    >>> "flood_zones" in study.skipped_layers  # needs a file or the web
    True
    """

    def step(text: str) -> None:
        log.info(text)
        if progress is not None:
            progress(text)

    # everything that can be refused is refused before the territory and layers are loaded
    make_sites = None if isinstance(sites, gpd.GeoDataFrame) else parse_sites_spec(sites)
    draws = check_int(draws, "draws", minimum=0)
    top_n = check_int(top_n, "top_n", minimum=1)
    if margin_m is not None:
        margin_m = check_number(margin_m, "margin_m", minimum=0, unit="metres")
    t = territory(where)
    prof = load_profile(default_profile(t) if profile is None else profile)
    if weights:
        prof = prof.with_weights(weights)
    margin_m = _margin_for(prof, margin_m)
    wanted = list(dict.fromkeys([*profile_layers(prof), *MAP_CONTEXT_LAYERS]))
    wanted = [n for n in wanted if n in LAYERS]
    # a source the caller names is loaded (and so checked) even if nothing uses it
    wanted += [n for n in (sources or {}) if n not in wanted]
    step(f"couches : {', '.join(wanted)}")
    status: dict[str, OnlineStatus] = {}
    loaded = load_layers(
        t,
        wanted,
        sources=sources,
        online=online,
        margin_m=margin_m,
        progress=lambda name, i, n: step(f"couche {name}") if name else None,
        status=status,
    )
    step("sites candidats")
    candidates = sites if make_sites is None else make_sites(t)
    step(f"score de {len(candidates)} sites")
    scored = score(candidates, loaded, prof, top_n=top_n, progress=lambda rid: step(rid))
    # Which data the ranking used: the online layers obtained, from the cache or not at all.
    scored.attrs.setdefault("foncier", {})["online"] = [s.as_dict() for s in status.values()]
    sens = None
    if draws > 0:
        step(f"sensibilité ({draws} tirages)")
        sens = sensitivity(None, scored, prof, n=draws, top_n=top_n)
    return SitingStudy(
        territory=t,
        profile=prof,
        layers=loaded,
        scored=scored,
        sensitivity=sens,
        top_n=top_n,
        skipped_layers=[n for n in wanted if n not in loaded],
        online_status=status,
    )

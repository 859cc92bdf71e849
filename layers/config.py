"""Settings read at call time, like ``osmnx.settings``.

Change an attribute of :data:`settings` and every later call sees it::

    from layers import settings
    settings.offline = True
    settings.cache_folder = "/data/foncier-cache"

Every assignment is checked: an unknown name (``settings.ofline = True``) raises
:class:`~layers.errors.UnknownSettingError` with the closest name, and a value of the wrong
type or out of range raises :class:`~layers.errors.SettingsError`, so that a typo never
leaves a setting silently unchanged.

Environment variables give the initial values: ``FONCIER_CACHE`` (cache folder),
``FONCIER_OFFLINE`` (``1``/``true`` to never touch the network: cached answers only),
``FONCIER_ONLINE`` (``auto``, ``1``/``true`` or ``0``/``false``: the online mode of the command
line), ``FONCIER_THREADS`` (threads of the measures).
"""

from __future__ import annotations

import difflib
import logging
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeAlias

from layers.errors import SettingsError, UnknownSettingError

__all__ = ["ONLINE_MODES", "OnlineMode", "Settings", "settings"]

#: ``"auto"`` (online layers when reachable), True (always try them), False (embedded only).
OnlineMode: TypeAlias = Literal["auto"] | bool


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


#: Values of ``settings.online``: use the online layers when their hosts answer, always, never.
ONLINE_MODES = ("auto", True, False)


def _online_mode(value: Any) -> OnlineMode:
    """``settings.online`` from a Python value or an environment text; SettingsError if neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
    raise SettingsError(f"settings.online must be 'auto', True or False, got {value!r}.")


def _default_online() -> OnlineMode:
    value = os.environ.get("FONCIER_ONLINE", "").strip()
    if not value:
        return "auto"
    try:
        return _online_mode(value)
    except SettingsError:
        logging.getLogger(__name__).warning(
            "FONCIER_ONLINE=%r is not auto, 1/true (always) or 0/false (never): using auto.",
            value,
        )
        return "auto"


def _default_threads() -> int:
    value = os.environ.get("FONCIER_THREADS", "").strip()
    if value.isdigit() and int(value) >= 1:
        return int(value)
    return max(1, min(os.cpu_count() or 1, 8))


def _default_cache() -> Path:
    if os.environ.get("FONCIER_CACHE"):
        return Path(os.environ["FONCIER_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "foncier"


def _number(name: str, value: Any, *, minimum: float, strict: bool, finite: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"settings.{name} must be a number, got {value!r}.")
    number = float(value)
    if math.isnan(number) or (finite and math.isinf(number)):
        raise SettingsError(f"settings.{name} must be a finite number, got {value!r}.")
    if number < minimum or (strict and number == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise SettingsError(f"settings.{name} must be {bound}, got {value!r}.")
    return number


def _checked(name: str, value: Any) -> Any:
    """The value to store for setting ``name``, or a SettingsError saying what is wrong."""
    if name == "cache_folder":
        if not isinstance(value, str | os.PathLike) or not str(value):
            raise SettingsError(f"settings.cache_folder must be a folder path, got {value!r}.")
        return Path(value)
    if name == "offline":
        if not isinstance(value, bool):
            raise SettingsError(f"settings.offline must be True or False, got {value!r}.")
        return value
    if name == "online":
        if isinstance(value, str) and value != "auto":
            raise SettingsError(f"settings.online must be 'auto', True or False, got {value!r}.")
        return _online_mode(value)
    if name == "default_crs":
        from pyproj import CRS
        from pyproj.exceptions import CRSError as PyprojCRSError

        try:
            crs = CRS.from_user_input(value)
        except (PyprojCRSError, TypeError) as exc:
            raise SettingsError(f"settings.default_crs: {value!r} is not a CRS ({exc}).") from None
        if not crs.is_projected:
            raise SettingsError(
                f"settings.default_crs must be a projected CRS in metres (e.g. 'EPSG:2154'), "
                f"got {value!r}."
            )
        return str(value)
    if name == "infrastructure_margin_m":
        return _number(name, value, minimum=0, strict=False)
    if name in ("timeout_s", "probe_timeout_s"):
        return _number(name, value, minimum=0, strict=True)
    if name == "backoff_s":
        return _number(name, value, minimum=0, strict=False)
    if name == "cache_expire_days":
        return _number(name, value, minimum=0, strict=True, finite=False)
    if name == "max_retries":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SettingsError(f"settings.max_retries must be an integer >= 0, got {value!r}.")
        return value
    if name == "threads":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"settings.threads must be an integer >= 1, got {value!r}.")
        return value
    if name == "user_agent":
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(f"settings.user_agent must be a non-empty text, got {value!r}.")
        return value
    if name.endswith("_url"):
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise SettingsError(
                f"settings.{name} must be an http:// or https:// address, got {value!r}."
            )
        return value
    raise AssertionError(f"no check for setting {name!r}")  # every field has one above


@dataclass
class Settings:
    """Mutable settings of foncier, read by every function when it runs.

    Attributes
    ----------
    cache_folder : pathlib.Path
        Folder of the on-disk HTTP cache (successful responses only). A text path is turned
        into a :class:`~pathlib.Path`. Initial value: ``FONCIER_CACHE``, else
        ``$XDG_CACHE_HOME/foncier``, else ``~/.cache/foncier``.
    offline : bool
        Never use the network: answer from the cache or raise ``OfflineError``. Initial
        value: ``FONCIER_OFFLINE``. With ``online`` on or ``"auto"``, online layers already
        in the cache are still used; the others fall back on the embedded data.
    online : {"auto", True, False}
        Whether the command line (and any call with ``online=None``) uses the online layers
        (OpenStreetMap, IGN Géoplateforme): ``"auto"`` uses them when they are in the cache or
        their hosts answer a quick probe (``probe_timeout_s``), falling back on the embedded
        data otherwise; True always tries them (same fallback, with a warning); False uses the
        embedded data only. Initial value: ``FONCIER_ONLINE``, else ``"auto"``.
    probe_timeout_s : float
        Longest wait (seconds, > 0) of the reachability check made once per process before
        the first download: all hosts are probed at once, so the check costs at most this.
    default_crs : str
        Projected CRS for metropolitan France (Lambert-93, ``"EPSG:2154"``).
    infrastructure_margin_m : float
        Margin (metres, >= 0) around a territory within which infrastructure, population and
        housing are loaded.
    timeout_s : float
        Timeout of one HTTP request, in seconds (> 0).
    max_retries : int
        Retries (>= 0) on HTTP 429 / 5xx and connection errors, with exponential backoff.
    backoff_s : float
        First backoff delay in seconds (>= 0), doubled at each retry.
    cache_expire_days : float
        Age (days, > 0; ``math.inf`` for never) after which a cached response is fetched
        again when online.
    threads : int
        Threads (>= 1) the measures use on large site sets: chunks of at least 25,000 sites,
        GEOS and numpy releasing the GIL. Initial value: ``FONCIER_THREADS``, else the
        number of cores (at most 8). 1 runs everything in the calling thread.
    user_agent : str
        User-Agent header sent to web services.
    overpass_url : str
        Overpass API interpreter endpoint (OpenStreetMap infrastructure, ZAE, ports …).
    geopf_wfs_url : str
        IGN Géoplateforme WFS endpoint (protected areas, BD TOPO, PPR easements of the GPU).
    apicarto_url : str
        Root of IGN API Carto (cadastre parcels, GPU).
    geoapi_url : str
        Root of geo.api.gouv.fr (communes, EPCI, départements by code or name).
    georisques_url : str
        Root of the Géorisques API v1 (natural hazards by commune).

    Raises
    ------
    UnknownSettingError
        On assignment to a name that is not a setting (the message names the closest one).
    SettingsError
        On assignment of a value of the wrong type or out of range.
    """

    cache_folder: Path = field(default_factory=_default_cache)
    offline: bool = field(default_factory=lambda: _env_flag("FONCIER_OFFLINE"))
    online: OnlineMode = field(default_factory=_default_online)
    probe_timeout_s: float = 1.5
    default_crs: str = "EPSG:2154"
    infrastructure_margin_m: float = 30_000.0
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 1.0
    cache_expire_days: float = 30.0
    threads: int = field(default_factory=_default_threads)
    user_agent: str = "foncier (industrial land siting toolkit)"
    overpass_url: str = "https://overpass-api.de/api/interpreter"
    geopf_wfs_url: str = "https://data.geopf.fr/wfs/ows"
    apicarto_url: str = "https://apicarto.ign.fr/api"
    geoapi_url: str = "https://geo.api.gouv.fr"
    georisques_url: str = "https://georisques.gouv.fr/api/v1"

    def __setattr__(self, name: str, value: Any) -> None:
        names = [f.name for f in fields(self)]
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownSettingError(
                f"{name!r} is not a setting.{hint} Settings: {', '.join(names)}."
            )
        object.__setattr__(self, name, _checked(name, value))


#: The settings every function of foncier reads (also ``layers.settings``, ``foncier.settings``).
settings = Settings()

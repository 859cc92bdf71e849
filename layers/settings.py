"""Settings read at call time, like ``osmnx.settings``.

Change an attribute of :data:`settings` and every later call sees it::

    from layers import settings
    settings.offline = True
    settings.cache_folder = "/data/foncier-cache"

Environment variables give the initial values: ``FONCIER_CACHE`` (cache folder),
``FONCIER_OFFLINE`` (``1``/``true`` to never touch the network).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "settings"]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _default_cache() -> Path:
    base = os.environ.get("FONCIER_CACHE") or os.environ.get("XDG_CACHE_HOME")
    if os.environ.get("FONCIER_CACHE"):
        return Path(os.environ["FONCIER_CACHE"])
    return Path(base or Path.home() / ".cache") / "foncier"


@dataclass
class Settings:
    """Mutable settings of foncier, read by every function when it runs.

    Attributes
    ----------
    cache_folder : pathlib.Path
        Folder of the on-disk HTTP cache (successful responses only).
    offline : bool
        Never use the network: answer from the cache or raise ``OfflineError``.
    default_crs : str
        Projected CRS for metropolitan France (Lambert-93).
    infrastructure_margin_m : float
        Margin (metres) around a territory within which infrastructure is loaded.
    timeout_s : float
        Timeout of one HTTP request, in seconds.
    max_retries : int
        Retries on HTTP 429 / 5xx and connection errors, with exponential backoff.
    backoff_s : float
        First backoff delay in seconds (doubled at each retry).
    cache_expire_days : float
        Age after which a cached response is fetched again (when online).
    user_agent : str
        User-Agent header sent to web services.
    """

    cache_folder: Path = field(default_factory=_default_cache)
    offline: bool = field(default_factory=lambda: _env_flag("FONCIER_OFFLINE"))
    default_crs: str = "EPSG:2154"
    infrastructure_margin_m: float = 30_000.0
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 1.0
    cache_expire_days: float = 30.0
    user_agent: str = "foncier (industrial land siting toolkit)"
    overpass_url: str = "https://overpass-api.de/api/interpreter"
    geopf_wfs_url: str = "https://data.geopf.fr/wfs/ows"
    apicarto_url: str = "https://apicarto.ign.fr/api"
    geoapi_url: str = "https://geo.api.gouv.fr"
    georisques_url: str = "https://georisques.gouv.fr/api/v1"


settings = Settings()

"""Online layers when the machine is online: from the cache, the web, or the embedded data.

:func:`load_online` loads one layer of :data:`layers.registry.LAYERS` from its online source
(OpenStreetMap through Overpass, the IGN Géoplateforme WFS …) in this order:

1. **the cache**: answers already downloaded and younger than ``settings.cache_expire_days``
   are used without touching the network (no reachability check either);
2. **the web**, when the service's host answers the quick check of
   :mod:`layers.reachability` (mode ``"auto"``) or unconditionally (mode True, except
   for a host that already failed in this process);
3. **an expired cached copy**, when the web cannot be reached;
4. otherwise the layer is **not obtained**: its embedded part is used instead (tolled
   motorway interchanges, World Port Index seaports …) or, for a layer with none (protected
   areas), it is left out and the criteria on it are skipped.

Each call returns an :class:`OnlineStatus` saying which of these happened, with the date of
the data and, when the layer could not be obtained, why. Loaded layers carry the same record
in ``layer.attrs["foncier_online"]``. With ``settings.offline`` on, step 2 is skipped.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from layers.config import OnlineMode, settings
from layers.errors import (
    ArgumentError,
    BadAnswerError,
    DataSourceError,
    FoncierError,
    OfflineError,
    RequestRefusedError,
    ServiceUnavailableError,
)

if TYPE_CHECKING:
    from layers import http
    from layers.registry import LayerEntry

__all__ = [
    "ONLINE_ATTR",
    "OnlineStatus",
    "load_online",
    "online_mode",
    "online_source",
    "service_of",
    "summary_lines",
]

log = logging.getLogger(__name__)

#: Key of ``layer.attrs`` where a layer loaded by :func:`load_online` keeps its status.
ONLINE_ATTR = "foncier_online"

State = Literal["online", "cache", "fallback", "absent"]

#: Web service of each online source keyword: (setting holding its address, French name).
SERVICES: dict[str, tuple[str, str]] = {
    "osm": ("overpass_url", "OpenStreetMap (Overpass)"),
    "geopf": ("geopf_wfs_url", "IGN Géoplateforme (WFS)"),
    "georisques": ("geopf_wfs_url", "Géoportail de l'Urbanisme (IGN WFS)"),
}


def online_mode(value: Any) -> OnlineMode:
    """The online mode asked: ``None`` reads ``settings.online``.

    Raises
    ------
    ArgumentError
        ``value`` is not None, ``"auto"``, True or False.
    """
    if value is None:
        return settings.online
    if isinstance(value, bool) or value == "auto":
        return "auto" if value == "auto" else bool(value)
    raise ArgumentError(f"online must be 'auto', True, False or None, got {value!r}.")


def online_source(entry: LayerEntry) -> Any:
    """Source keyword a layer is loaded from online.

    Its ``online_source``, else its loader's default (``"geopf"`` for protected areas).
    """
    if entry.online_source is not None:
        return entry.online_source
    param = inspect.signature(entry.load_function()).parameters.get("source")
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


def service_of(source: Any) -> tuple[str, str] | None:
    """``(url, French name)`` of the web service behind an online source keyword, or None."""
    if not isinstance(source, str) or source not in SERVICES:
        return None
    setting, name = SERVICES[source]
    return str(getattr(settings, setting)), name


def _fr_date(iso: str | None) -> str:
    if not iso:
        return "date inconnue"
    year, month, day = iso[:10].split("-")
    return f"{day}/{month}/{year}"


@dataclass(frozen=True)
class OnlineStatus:
    """What became of one online layer.

    Attributes
    ----------
    layer : str
        Layer name (``"motorway_junctions"``).
    label : str
        French label of the layer.
    service : str
        Web service asked (``"OpenStreetMap (Overpass)"``).
    host : str
        Host name of the service (``"overpass-api.de"``).
    state : {"online", "cache", "fallback", "absent"}
        ``online``: downloaded now; ``cache``: every answer came from the cache;
        ``fallback``: not obtained, the embedded part of the layer was used instead;
        ``absent``: not obtained and the layer has no embedded part (left out).
    fetched : str or None
        Date (``YYYY-MM-DD``, UTC) of the oldest answer used, for ``online`` and ``cache``.
    expired : bool
        True when a cached answer older than ``settings.cache_expire_days`` was used.
    reason : str
        Why the layer was not obtained, in French (empty when it was).
    fallback : str
        What was used instead, in French (``"données embarquées"``), empty when obtained.
    """

    layer: str
    label: str
    service: str
    host: str
    state: State
    fetched: str | None = None
    expired: bool = False
    reason: str = ""
    fallback: str = ""

    @property
    def used(self) -> bool:
        """True when the online data was used (downloaded now or from the cache)."""
        return self.state in ("online", "cache")

    def message(self) -> str:
        """One line in French: the layer, where its data came from, or why it is missing."""
        if self.state == "online":
            return f"{self.label} : {self.service}, téléchargée le {_fr_date(self.fetched)}"
        if self.state == "cache":
            old = ", expiré" if self.expired else ""
            return f"{self.label} : {self.service}, en cache du {_fr_date(self.fetched)}{old}"
        return f"{self.label} : non obtenue ({self.reason}) ; {self.fallback}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy, with ``message``."""
        return {**asdict(self), "message": self.message()}


def _short_reason(exc: BaseException) -> str:
    """French reason of a failed download, without the long request text."""
    text = str(exc)
    # The status comes from the HTTP client's error, never from a text that may quote one.
    if isinstance(exc, RequestRefusedError) and exc.status is not None:
        return f"réponse HTTP {exc.status}"
    # A request that failed after its retries: what went wrong at the last attempt.
    problem = exc.problem if isinstance(exc, ServiceUnavailableError) else ""
    if isinstance(exc, ServiceUnavailableError) and exc.status is not None:
        return f"réponse {problem}"  # "HTTP 503 Service Unavailable"
    if "could not be resolved" in problem:
        return "nom d'hôte introuvable (DNS : pas de réseau ?)"
    timeout = re.match(r"no answer within ([\d.]+) s", problem)
    if timeout:
        return f"aucune réponse en {timeout.group(1).replace('.', ',')} s"
    if problem.startswith("connection failed"):
        return "connexion impossible ou coupée"
    if "cannot be read" in text:
        return "réponse illisible"
    if isinstance(exc, BadAnswerError):
        problem = exc.problem or text
        return f"réponse inutilisable ({problem[:160]}{'…' if len(problem) > 160 else ''})"
    first = text.split(". ")[0]
    return f"{first[:160]}{'…' if len(first) > 160 else ''}"


def _status_from(answers: list[http.Answer], base: dict[str, Any]) -> OnlineStatus:
    state: State = "cache" if answers and all(a.from_cache for a in answers) else "online"
    fetched = min((a.fetched for a in answers), default=None)
    return OnlineStatus(
        **base,
        state=state,
        fetched=fetched.date().isoformat() if fetched is not None else None,
        expired=any(a.expired for a in answers),
    )


def load_online(
    entry: LayerEntry,
    load: Callable[..., Any],
    *,
    mode: OnlineMode,
    strict: bool = False,
) -> tuple[Any, OnlineStatus]:
    """Load a layer from its online source, the cache or its embedded part, and say which.

    Parameters
    ----------
    entry : LayerEntry
        The layer (``entry.online`` is True).
    load : callable
        ``load(source=...)`` loads the layer from a source keyword (``"osm"``,
        ``"embedded"`` …) for the territory, e.g. a :func:`layers.catalog.load_layer` partial.
    mode : {"auto", True}
        ``"auto"``: probe the service's host first (at most ``settings.probe_timeout_s``
        seconds, once per process) and fall back at once when it does not answer; True: ask
        the service with its full retries.
    strict : bool
        Raise the failure (:class:`~layers.errors.DataSourceError`) instead of falling back.

    Returns
    -------
    (layer or None, OnlineStatus)
        The layer (None when not obtained and without embedded part) and its status, also
        stored in ``layer.attrs["foncier_online"]``.

    Raises
    ------
    DataSourceError
        With ``strict``, when the layer could not be obtained online.
    """
    # requests-cache (tens of milliseconds to import) only when an online layer is asked for
    from layers import http

    source = online_source(entry)
    service = service_of(source)
    url, service_name = service if service is not None else ("", "service en ligne")
    host = urlsplit(url).hostname or "" if url else ""
    base: dict[str, Any] = {
        "layer": entry.name,
        "label": entry.label,
        "service": service_name,
        "host": host,
    }

    def done(layer: Any, status: OnlineStatus) -> tuple[Any, OnlineStatus]:
        if layer is not None and hasattr(layer, "attrs"):
            layer.attrs[ONLINE_ATTR] = status.as_dict()
        return layer, status

    def attempt(*, cache: str | None) -> tuple[Any, list[http.Answer]]:
        with http.recording() as answers:
            if cache is None:
                layer = load(source=source)
            else:
                with http.cache_only(expired=cache == "any"):
                    layer = load(source=source)
        return layer, answers

    # 1. Fresh answers in the cache: no network, no probe.
    reason = ""
    try:
        layer, answers = attempt(cache="fresh")
        return done(layer, _status_from(answers, base))
    except OfflineError:
        pass
    except FoncierError as exc:
        reason = f"{host or entry.name} : {_short_reason(exc)}"

    # 2. The web, when allowed and the host answers.
    if not reason:
        from layers import reachability  # imports requests: only when a layer goes online

        if settings.offline:
            reason = "mode hors ligne (settings.offline, FONCIER_OFFLINE) et absente du cache"
        elif url:
            # mode True asks the service without a probe, but not a host that already failed
            checked = reachability.probe(url)[url] if mode == "auto" else reachability.known(url)
            if checked is not None and not checked.reachable:
                reason = f"{host} injoignable : {checked.reason}"
        if not reason:
            try:
                layer, answers = attempt(cache=None)
                return done(layer, _status_from(answers, base))
            except FoncierError as exc:
                why = _short_reason(exc)
                reason = f"{host or entry.name} : {why}"
                if url and isinstance(exc, ServiceUnavailableError):
                    # down or overloaded: the next layers of this run do not wait for it again
                    reachability.mark_unreachable(url, f"{why} (pour {entry.label})")

    # 3. An expired cached copy is better than nothing.
    if not settings.offline:
        try:
            layer, answers = attempt(cache="any")
            return done(layer, _status_from(answers, base))
        except FoncierError:
            pass

    # 4. Not obtained.
    if strict:
        raise DataSourceError(f"layer {entry.name!r} could not be obtained online: {reason}.")
    if entry.offline_source is not None:
        log.info("layer %r not obtained online (%s): embedded data used.", entry.name, reason)
        layer = load(source=entry.offline_source)
        return done(
            layer,
            OnlineStatus(**base, state="fallback", reason=reason, fallback="données embarquées"),
        )
    log.info("layer %r not obtained online (%s): left out.", entry.name, reason)
    return done(
        None,
        OnlineStatus(
            **base, state="absent", reason=reason, fallback="couche absente, critères non évalués"
        ),
    )


def summary_lines(statuses: Any) -> list[str]:
    """Short French lines on the online layers: one per layer used, one per failure reason.

    Parameters
    ----------
    statuses : iterable of OnlineStatus or of their :meth:`OnlineStatus.as_dict`
        E.g. ``study.online_status.values()`` or ``scored.attrs["foncier"]["online"]``.

    Returns
    -------
    list of str
        ``"Échangeurs autoroutiers : OpenStreetMap (Overpass), en cache du 28/11/2026"`` for
        each layer used, then ``"Non obtenues (overpass-api.de injoignable : …) : Ports,
        Voies ferrées ; données embarquées"`` for the layers that failed for one reason.
    """
    items = [s if isinstance(s, OnlineStatus) else OnlineStatus(**_fields(s)) for s in statuses]
    lines = [s.message() for s in items if s.used]
    groups: dict[tuple[str, str], list[str]] = {}
    for s in items:
        if not s.used:
            groups.setdefault((s.reason, s.fallback), []).append(s.label)
    for (reason, fallback), labels in groups.items():
        if len(labels) == 1:
            lines.append(f"{labels[0]} : non obtenue ({reason}) ; {fallback}")
        else:
            lines.append(f"Non obtenues ({reason}) : {', '.join(labels)} ; {fallback}")
    return lines


def _fields(record: Any) -> dict[str, Any]:
    names = OnlineStatus.__dataclass_fields__
    return {k: v for k, v in dict(record).items() if k in names}

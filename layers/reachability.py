"""A quick check that the web services of the online layers answer, before asking them.

:func:`probe` sends one ``HEAD`` request to the root of each host (``https://overpass-api.de/``
…), all hosts at once, each in its own thread, and waits at most ``settings.probe_timeout_s``
seconds in all: a host whose name does not resolve, that refuses the connection or that does
not answer in time is unreachable, and the online layers it serves fall back on the embedded
data at once instead of going through the retries of :mod:`layers.http`. Any HTTP answer,
whatever its status, means the host is there. Proxies configured in the environment
(``HTTPS_PROXY`` …) are used as for the real requests.

The result of each host is kept for the life of the process (:func:`forget` clears it), so a
command probes each host once, and :func:`mark_unreachable` records a host that failed a real
request, so that the next layers served by it do not wait for it again.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from layers.config import settings

__all__ = ["Probe", "forget", "known", "mark_unreachable", "origin", "probe"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Probe:
    """Whether one host answered the reachability check.

    Attributes
    ----------
    host : str
        ``scheme://host:port`` probed.
    reachable : bool
        True when the host sent an HTTP answer (any status) in time.
    reason : str
        Why it is unreachable, in French (``"nom d'hôte introuvable (DNS)"``,
        ``"connexion refusée"``, ``"aucune réponse en 1,5 s"`` …); empty when reachable.
    timeout_s : float
        Longest wait granted, seconds.
    elapsed_s : float
        Time the answer (or the failure) took, seconds; ``timeout_s`` when none came.
    """

    host: str
    reachable: bool
    reason: str
    timeout_s: float
    elapsed_s: float


_LOCK = threading.Lock()
_KNOWN: dict[str, Probe] = {}


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL (the port made explicit), the key of a probed host.

    Raises
    ------
    ValueError
        The URL has no host.
    """
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host name")
    scheme = parts.scheme or "https"
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{parts.hostname}:{port}"


def forget() -> None:
    """Forget every probe result and failure recorded in this process."""
    with _LOCK:
        _KNOWN.clear()


def known(url: str) -> Probe | None:
    """What is known of the host of ``url`` in this process (probe or failure), or None."""
    with _LOCK:
        return _KNOWN.get(origin(url))


def mark_unreachable(url: str, reason: str) -> None:
    """Record that the host of ``url`` failed a real request: later probes return that.

    Parameters
    ----------
    url : str
        Any address on the host.
    reason : str
        What happened, in French (shown to users).
    """
    key = origin(url)
    with _LOCK:
        _KNOWN[key] = Probe(key, False, reason, float(settings.probe_timeout_s), 0.0)


def _fr_seconds(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _why(exc: BaseException, timeout_s: float) -> str:
    """French reason of a failed probe, from the exception and its causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror) or type(current).__name__ == "NameResolutionError":
            return "nom d'hôte introuvable (DNS : pas de réseau ?)"
        if isinstance(current, ConnectionRefusedError):
            return "connexion refusée"
        if isinstance(current, requests.exceptions.SSLError):
            return "échec de la connexion sécurisée (TLS : certificat refusé ou interception)"
        if isinstance(current, requests.Timeout | socket.timeout | TimeoutError):
            return f"aucune réponse en {_fr_seconds(timeout_s)} s"
        nxt = current.__cause__ or current.__context__
        if nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt = current.args[0]
        if nxt is None:
            nxt = getattr(current.args[0], "reason", None) if current.args else None
            nxt = nxt if isinstance(nxt, BaseException) else None
        current = nxt
    text = str(exc)
    if "Failed to resolve" in text or "Name or service not known" in text:
        return "nom d'hôte introuvable (DNS : pas de réseau ?)"
    if "Connection refused" in text:
        return "connexion refusée"
    return f"connexion impossible ({type(exc).__name__})"


def _probe_one(key: str, timeout_s: float, out: dict[str, Probe]) -> None:
    start = time.monotonic()
    try:
        with requests.Session() as session:
            session.head(
                f"{key}/",
                timeout=(timeout_s, timeout_s),
                allow_redirects=False,
                headers={"User-Agent": settings.user_agent},
            ).close()
    except requests.RequestException as exc:
        out[key] = Probe(key, False, _why(exc, timeout_s), timeout_s, time.monotonic() - start)
    except Exception as exc:  # any failure of the check means "not reachable", never a crash
        out[key] = Probe(key, False, _why(exc, timeout_s), timeout_s, time.monotonic() - start)
    else:
        out[key] = Probe(key, True, "", timeout_s, time.monotonic() - start)


def probe(urls: Any, *, timeout_s: float | None = None) -> dict[str, Probe]:
    """Check at once whether the hosts of some URLs answer; remembered for the process.

    Parameters
    ----------
    urls : str or iterable of str
        Addresses of web services (``settings.overpass_url`` …); each host is probed once.
    timeout_s : float, optional
        Longest wait, seconds, for all the hosts together (default
        ``settings.probe_timeout_s``). A host that has not answered by then is unreachable.

    Returns
    -------
    dict of str to Probe
        For each URL given, the result of its host.
    """
    if isinstance(urls, str):
        urls = [urls]
    wait = float(settings.probe_timeout_s if timeout_s is None else timeout_s)
    keys = {url: origin(url) for url in urls}
    with _LOCK:
        todo = sorted({k for k in keys.values() if k not in _KNOWN})
    if todo:
        found: dict[str, Probe] = {}
        threads = [
            threading.Thread(
                target=_probe_one, args=(k, wait, found), name=f"probe {k}", daemon=True
            )
            for k in todo
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + wait
        for thread in threads:
            # A DNS look-up cannot be timed out: the thread is left behind (a daemon) and the
            # host counts as silent once the deadline has passed.
            thread.join(max(0.0, deadline - time.monotonic()))
        with _LOCK:
            for k in todo:
                result = found.get(k) or Probe(
                    k, False, f"aucune réponse en {_fr_seconds(wait)} s", wait, wait
                )
                _KNOWN.setdefault(k, result)
                log.info(
                    "reachability of %s: %s",
                    k,
                    "answers" if result.reachable else result.reason,
                )
    with _LOCK:
        return {url: _KNOWN[key] for url, key in keys.items()}

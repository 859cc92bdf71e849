"""The shared HTTP layer of every web source: cache, retries, offline mode.

Every client module (``overpass``, ``geopf``, ``apicarto``, ``geoapi``, ``georisques``) goes
through the four functions :func:`get_json`, :func:`post_json`, :func:`get_text` and
:func:`get_bytes`, so all web sources share the same behaviour:

- **Cache on disk** (a :mod:`requests_cache` ``CachedSession`` per cache folder, one file per
  response under ``settings.cache_folder / "http"``). Only ``200`` responses whose body can be
  read (valid JSON, valid XML …) are stored, each file written to a temporary name and then
  renamed, so an interrupted run never leaves a half-written entry. An entry that cannot be read
  back (corrupted file) is deleted and treated as a miss. The key covers the method, the URL
  with its query parameters and the request body, so different queries never collide.
  Entries are reused for ``settings.cache_expire_days`` days.
- **Retries** on HTTP 429 (honouring ``Retry-After``), 5xx, timeouts and dropped connections:
  ``settings.max_retries`` retries with exponential backoff starting at ``settings.backoff_s``
  seconds; each request waits at most ``settings.timeout_s`` seconds. A service that fails
  every attempt raises :class:`~layers.errors.ServiceUnavailableError`; another error status
  (4xx) is not retried and raises :class:`~layers.errors.RequestRefusedError`. Both carry the
  HTTP status in ``status``.
- **Shape checks**: a client passes a ``check`` (see :mod:`layers.answers`) that refuses an
  answer of the wrong shape with :class:`~layers.errors.BadAnswerError`; such an answer is
  never cached, a cached copy of it is deleted and downloaded again, and the error names the
  source, the request, the problem (and the deleted cache file).
- **Offline mode** (``settings.offline``): answers come from the cache only (even expired
  entries); a request that is not cached raises :class:`~layers.errors.OfflineError`.
  :func:`cache_only` does the same for the requests made inside a ``with`` block, optionally
  refusing expired entries, and :func:`recording` lists the answers used (from the cache or the
  network, with their date), so that a caller can say where its data came from.

Settings are read when a request is made, never at import time.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import json
import logging
import os
import socket
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import requests
import requests_cache
from requests_cache.backends.base import BaseCache, DictStorage
from requests_cache.backends.filesystem import FileDict
from requests_cache.models import CachedResponse

from layers.config import settings
from layers.errors import (
    BadAnswerError,
    DataSourceError,
    OfflineError,
    RequestRefusedError,
    ServiceUnavailableError,
)

__all__ = [
    "Answer",
    "cache_only",
    "cached_session",
    "clear_cache",
    "get_bytes",
    "get_json",
    "get_text",
    "get_xml",
    "post_json",
    "recording",
]

log = logging.getLogger(__name__)

Kind = Literal["json", "xml", "text", "bytes"]

#: Longest wait (seconds) granted to a ``Retry-After`` header; longer asks are cut to this.
MAX_RETRY_AFTER_S = 120.0


class _AtomicFileDict(FileDict):
    """One file per response, written atomically; unreadable files count as misses.

    ``requests_cache``'s own ``FileDict`` opens the final path and writes into it, so a crash
    or a full disk in the middle leaves a truncated entry; and a file that is not valid UTF-8
    makes reading raise instead of missing. Both are fixed here.
    """

    def __getitem__(self, key: str) -> Any:
        path = self._key2path(key)
        try:
            value = super().__getitem__(key)
        except KeyError:
            raise
        except Exception as exc:  # any decoding problem of a damaged file
            value = None
            log.debug("cache file %s unreadable: %s", path, exc)
        # Only 200 responses are ever written; anything else read back is a damaged file.
        if not isinstance(value, CachedResponse) or value.status_code != 200:
            with self._lock:
                if path.exists():
                    log.warning(
                        "Deleting unreadable cache file %s; it will be downloaded again.", path
                    )
                    path.unlink(missing_ok=True)
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        path = self._key2path(key)
        payload = self.serialize(value)
        data = payload if isinstance(payload, bytes) else str(payload).encode("utf-8")
        with self._lock:
            # A hidden temporary name in the same folder: os.replace is atomic on one file
            # system, and the name does not match the ``*.json`` pattern of cache entries.
            tmp: str | None = None
            try:
                fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".", suffix=".tmp")
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
                tmp = None
            except OSError as exc:
                # A full disk must not lose the answer we already have: keep going uncached.
                log.warning("Could not write cache file %s (%s); response not cached.", path, exc)
            finally:
                if tmp is not None:
                    Path(tmp).unlink(missing_ok=True)


class _AtomicFileCache(BaseCache):
    """``requests_cache`` backend: one file per response (:class:`_AtomicFileDict`).

    Unlike ``requests_cache``'s ``FileCache``, redirect aliases are kept in memory instead of
    a side SQLite file: losing them between runs only costs one more request for a URL that
    redirects, whereas a damaged SQLite file would make every request fail.
    """

    def __init__(self, cache_dir: str) -> None:
        super().__init__(cache_name=cache_dir)
        self.responses = _AtomicFileDict(cache_dir, decode_content=True)
        self.redirects = DictStorage()

    def clear(self) -> None:
        """Delete every cached response."""
        self.responses.clear()
        self.redirects.clear()


@dataclass
class _BodyCheck:
    """Reads the body of the response being fetched; shared with the cache filter."""

    kind: Kind
    check: Callable[[Any], None] | None = None
    response: Any = None
    ok: bool = False
    value: Any = None
    error: str = ""
    refused: DataSourceError | None = None

    def __call__(self, response: requests.Response) -> bool:
        # Called by requests-cache before writing (and once more on the way out): a body that
        # cannot be read is never written, and a cached one that cannot be read is deleted.
        if response.status_code != 200:
            return True
        if response is not self.response:
            self.response = response
            self.refused = None
            try:
                self.value = _parse(response, self.kind)
                self.ok, self.error = True, ""
            except (ValueError, ET.ParseError) as exc:
                self.value, self.ok, self.error = None, False, str(exc)
                return self.ok
            if self.check is not None:
                # A well-formed answer that reports a failure (an Overpass "runtime error"
                # remark …) must not be cached either.
                try:
                    self.check(self.value)
                except DataSourceError as exc:
                    self.ok, self.refused, self.error = False, exc, str(exc)
        return self.ok


_CHECK: contextvars.ContextVar[_BodyCheck | None] = contextvars.ContextVar(
    "foncier_http_check", default=None
)


@dataclass(frozen=True)
class Answer:
    """One answer used by a request made inside :func:`recording`.

    Attributes
    ----------
    source : str
        Name of the web source (``"Overpass"`` …).
    url : str
        Address asked (without the query string).
    from_cache : bool
        True when the answer came from the on-disk cache.
    fetched : datetime.datetime
        When the answer was downloaded (UTC): now, or when the cached copy was made.
    expired : bool
        True for a cached copy older than ``settings.cache_expire_days``.
    """

    source: str
    url: str
    from_cache: bool
    fetched: datetime
    expired: bool = False


_CACHE_ONLY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "foncier_http_cache_only", default=None
)
_RECORD: contextvars.ContextVar[list[Answer] | None] = contextvars.ContextVar(
    "foncier_http_record", default=None
)


@contextlib.contextmanager
def cache_only(*, expired: bool = True) -> Iterator[None]:
    """Answer the requests made inside the block from the cache only, never the network.

    A request whose answer is not cached raises :class:`~layers.errors.OfflineError`, as in
    offline mode.

    Parameters
    ----------
    expired : bool
        Also use cached answers older than ``settings.cache_expire_days`` (offline mode does);
        False treats them as missing.
    """
    token = _CACHE_ONLY.set("any" if expired else "fresh")
    try:
        yield
    finally:
        _CACHE_ONLY.reset(token)


@contextlib.contextmanager
def recording() -> Iterator[list[Answer]]:
    """List the answers used by the requests made inside the block.

    Yields
    ------
    list of Answer
        Filled as requests succeed: one :class:`Answer` per request, in order.
    """
    answers: list[Answer] = []
    token = _RECORD.set(answers)
    try:
        yield answers
    finally:
        _RECORD.reset(token)


def _record(source: str, url: str, *, from_cache: bool, fetched: datetime | None) -> None:
    answers = _RECORD.get()
    if answers is None:
        return
    when = fetched or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    age = datetime.now(UTC) - when
    expired = from_cache and age > timedelta(days=float(settings.cache_expire_days))
    answers.append(Answer(source, url.split("?")[0], from_cache, when, expired))


def _created_at(response: Any) -> datetime | None:
    created = getattr(response, "created_at", None)
    return created if isinstance(created, datetime) else None


def _filter(response: requests.Response) -> bool:
    check = _CHECK.get()
    return True if check is None else check(response)


@dataclass
class _Sessions:
    lock: threading.Lock = field(default_factory=threading.Lock)
    by_folder: dict[Path, requests_cache.CachedSession] = field(default_factory=dict)


_SESSIONS = _Sessions()


def cached_session() -> requests_cache.CachedSession:
    """Return the cached HTTP session of the current ``settings.cache_folder``.

    One session is made per cache folder and reused, so connections are kept alive between
    calls. Responses are stored under ``settings.cache_folder / "http"``.

    Returns
    -------
    requests_cache.CachedSession
        The session (filesystem backend, only ``200`` responses stored).
    """
    folder = (Path(settings.cache_folder).expanduser() / "http").resolve()
    with _SESSIONS.lock:
        session = _SESSIONS.by_folder.get(folder)
        if session is None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                backend = _AtomicFileCache(str(folder))
            except OSError as exc:
                raise DataSourceError(
                    f"Cannot use the cache folder {folder}: {exc}. Set settings.cache_folder "
                    "(or the FONCIER_CACHE environment variable) to a writable folder."
                ) from exc
            session = requests_cache.CachedSession(
                backend=backend,
                allowable_codes=(200,),
                allowable_methods=("GET", "POST"),
                cache_control=False,
                filter_fn=_filter,
            )
            _SESSIONS.by_folder[folder] = session
        # Read at call time so a change of settings applies to the next request.
        session.settings.expire_after = timedelta(days=settings.cache_expire_days)
        return session


def clear_cache() -> None:
    """Delete every cached response of the current ``settings.cache_folder``."""
    session = cached_session()
    session.cache.clear()
    log.info("Cleared the HTTP cache in %s", Path(settings.cache_folder) / "http")


def _parse(response: requests.Response, kind: Kind) -> Any:
    if kind == "json":
        if not response.content:
            raise ValueError("empty body")
        return json.loads(response.content)
    if kind == "xml":
        return ET.fromstring(response.content)
    if kind == "text":
        return response.text
    return response.content


def _describe(request: requests.PreparedRequest) -> str:
    """Method, URL with its query string, and the start of a POST body, for messages."""
    text = f"{request.method} {request.url}"
    if request.body:
        body = (
            request.body if isinstance(request.body, str) else request.body.decode(errors="replace")
        )
        text += f" (body: {body[:200]}{'…' if len(body) > 200 else ''})"
    return text


def _retry_after_s(response: requests.Response) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delay or HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _cache_path(session: requests_cache.CachedSession, prepared: requests.PreparedRequest) -> Path:
    """The file that holds (or would hold) the cached response of ``prepared``."""
    key = session.cache.create_key(prepared)
    responses = session.cache.responses
    to_path = getattr(responses, "_key2path", None)
    return Path(to_path(key)) if to_path else Path(settings.cache_folder) / "http" / key


def _cached_value(
    session: requests_cache.CachedSession,
    prepared: requests.PreparedRequest,
    kind: Kind,
    check: Callable[[Any], None] | None = None,
    *,
    source: str = "",
    expired: bool = True,
) -> tuple[bool, Any, str]:
    """Read a cached response.

    Returns ``(True, value, "")``, or ``(False, None, problem)`` when it is missing (empty
    problem) or unusable (the entry is then deleted and the problem says why). An entry older
    than ``settings.cache_expire_days`` counts as missing unless ``expired``.
    """
    key = session.cache.create_key(prepared)
    cached = session.cache.get_response(key)
    if cached is None:
        return False, None, ""
    created = _created_at(cached)
    if not expired and created is not None:
        when = created if created.tzinfo is not None else created.replace(tzinfo=UTC)
        if datetime.now(UTC) - when > timedelta(days=float(settings.cache_expire_days)):
            return False, None, ""
    try:
        value = _parse(cached, kind)
        if check is not None:
            check(value)
        _record(source, str(prepared.url), from_cache=True, fetched=created)
        return True, value, ""
    except (ValueError, ET.ParseError, DataSourceError) as exc:
        path = _cache_path(session, prepared)
        log.warning("Deleting unusable cached response %s for %s (%s).", path, prepared.url, exc)
        session.cache.delete(key)
        return False, None, f"the cached answer {path} was unusable ({exc}) and was deleted"


def _request(
    method: str,
    url: str,
    *,
    kind: Kind,
    source: str,
    params: Mapping[str, Any] | None = None,
    data: Any = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    check: Callable[[Any], None] | None = None,
) -> Any:
    session = cached_session()
    all_headers = {"User-Agent": settings.user_agent, **(headers or {})}
    prepared = session.prepare_request(
        requests.Request(method, url, params=params, data=data, json=json_body, headers=all_headers)
    )
    what = _describe(prepared)

    cache_mode = _CACHE_ONLY.get()
    if cache_mode is not None and not settings.offline:
        found, value, bad = _cached_value(
            session, prepared, kind, check, source=source, expired=cache_mode == "any"
        )
        if found:
            log.debug("%s: served from the cache: %s", source, what)
            return value
        state = (
            f": {bad}"
            if bad
            else " is not in the cache"
            + ("" if cache_mode == "any" else " (or is older than settings.cache_expire_days)")
        )
        raise OfflineError(f"The {source} response for {what}{state}.")
    if settings.offline:
        found, value, bad = _cached_value(session, prepared, kind, check, source=source)
        if found:
            log.debug("%s: offline, served from the cache: %s", source, what)
            return value
        state = f": {bad}" if bad else " is not in the cache"
        raise OfflineError(
            f"Offline mode: the {source} response for {what}{state} "
            f"({Path(settings.cache_folder) / 'http'}). Run `foncier fetch TERRITORY` with network "
            "access first to fill the cache, or set settings.offline = False "
            "(FONCIER_OFFLINE=0) to download it."
        )

    timeout = float(settings.timeout_s if timeout_s is None else timeout_s)
    attempts = int(settings.max_retries) + 1
    problem = ""
    last_status: int | None = None  # HTTP status of the last attempt, None without an answer
    refetched_bad_cache = False
    deleted: Path | None = None
    attempt = 0
    while attempt < attempts:
        delay = float(settings.backoff_s) * 2**attempt
        last_status = None
        body_check = _BodyCheck(kind, check)
        token = _CHECK.set(body_check)
        try:
            response = session.request(
                method,
                url,
                params=params,
                data=data,
                json=json_body,
                headers=all_headers,
                timeout=timeout,
            )
        except requests.Timeout:
            problem = f"no answer within {timeout:g} s (settings.timeout_s)"
            response = None
        except requests.exceptions.ContentDecodingError as exc:
            # A body announced as gzip (or deflate …) that does not decompress: a broken proxy
            # or a cut transfer. Nothing was cached; another attempt may get it whole.
            problem = f"the compressed body could not be decoded ({exc.__class__.__name__})"
            response = None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            problem = f"connection failed or was cut ({exc.__class__.__name__}: {exc})"
            response = None
            if _name_not_resolved(exc):
                # No DNS answer: the machine is offline or the host name is wrong, and waiting
                # will not change that. Fail now instead of sleeping through the retries.
                problem = f"host name of {url} could not be resolved (no network?)"
                attempts = attempt + 1
        except requests.RequestException as exc:
            raise DataSourceError(f"{source}: request {what} could not be sent: {exc}") from exc
        finally:
            _CHECK.reset(token)

        if response is not None:
            status = response.status_code
            from_cache = bool(getattr(response, "from_cache", False))
            if status == 200:
                if body_check.response is not response:
                    body_check(response)
                if body_check.ok:
                    log.debug("%s: %s (%s)", source, what, "cache" if from_cache else "network")
                    _record(
                        source,
                        url,
                        from_cache=from_cache,
                        fetched=_created_at(response) if from_cache else None,
                    )
                    return body_check.value
                if from_cache and not refetched_bad_cache:
                    # requests-cache deleted the entry through the filter; fetch it once more.
                    deleted = _cache_path(session, prepared)
                    log.warning(
                        "%s: cached response %s for %s was unusable (%s); deleted, fetching again.",
                        source,
                        deleted,
                        what,
                        body_check.error,
                    )
                    refetched_bad_cache = True
                    continue
                also = (
                    f" The cached copy {deleted} had a problem too and was deleted."
                    if deleted is not None
                    else ""
                )
                if body_check.refused is not None:
                    refused = body_check.refused
                    error = type(refused)(
                        f"{source}: {what}: {str(refused).rstrip('.')}. The answer was not "
                        f"cached.{also}"
                    )
                    if isinstance(error, BadAnswerError):
                        error.problem = str(refused).rstrip(".")
                    raise error from refused
                raise DataSourceError(
                    f"{source}: {what} returned a {kind.upper()} body that cannot be read "
                    f"({body_check.error}); it was not cached. The transfer was probably cut "
                    f"or the service answered with an error page: try again later.{also}"
                )
            if status == 429 or 500 <= status < 600:
                problem = f"HTTP {status} {response.reason or ''}".strip()
                last_status = status
                asked = _retry_after_s(response) if status in (429, 503) else None
                if asked is not None:
                    delay = max(delay, min(asked, MAX_RETRY_AFTER_S))
            else:
                excerpt = response.text[:300].strip() if response.content else ""
                refusal = RequestRefusedError(
                    f"{source}: {what} failed with HTTP {status} {response.reason or ''}. "
                    f"Check the request parameters. Server said: {excerpt!r}"
                )
                refusal.status = status
                raise refusal

        attempt += 1
        if attempt < attempts:
            log.info(
                "%s: %s — %s; retry %d/%d in %.2f s",
                source,
                what,
                problem,
                attempt,
                attempts - 1,
                delay,
            )
            time.sleep(delay)

    # Every attempt failed: an expired cached copy is better than nothing.
    found, value, _ = _cached_value(session, prepared, kind, check, source=source)
    if found:
        log.warning("%s: %s failed (%s); using an expired cached copy.", source, what, problem)
        return value
    error = ServiceUnavailableError(
        f"{source}: {what} failed after {attempts} attempts (last: {problem}). The service may "
        "be down or overloaded: try again later, raise settings.max_retries or "
        "settings.timeout_s, or work from the cache with settings.offline = True."
    )
    error.problem = problem
    error.status = last_status
    raise error


def _name_not_resolved(exc: BaseException) -> bool:
    """True when a connection error comes from a failed DNS look-up."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror) or type(current).__name__ == "NameResolutionError":
            return True
        current = current.__cause__ or current.__context__ or _first_arg_exception(current)
    return "Failed to resolve" in str(exc)


def _first_arg_exception(exc: BaseException) -> BaseException | None:
    arg = exc.args[0] if exc.args else None
    if isinstance(arg, BaseException):
        return arg
    reason = getattr(arg, "reason", None)  # urllib3 MaxRetryError
    return reason if isinstance(reason, BaseException) else None


def get_json(
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    source: str,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    check: Callable[[Any], None] | None = None,
) -> Any:
    """GET a URL and return its JSON body, through the cache.

    Parameters
    ----------
    url : str
        Address of the resource.
    params : mapping, optional
        Query-string parameters (part of the cache key).
    source : str
        Name of the web source, used in log and error messages (``"Overpass"`` …).
    headers : mapping, optional
        Extra request headers (the ``User-Agent`` comes from ``settings.user_agent``).
    timeout_s : float, optional
        Timeout of one attempt, seconds; ``settings.timeout_s`` by default.
    check : callable, optional
        Called with the decoded document; if it raises :class:`~layers.errors.DataSourceError`
        (a well-formed answer that reports a failure), the response is not cached and the
        error is raised.

    Returns
    -------
    Any
        The decoded JSON document.

    Raises
    ------
    DataSourceError
        The service failed after ``settings.max_retries`` retries
        (:class:`~layers.errors.ServiceUnavailableError`), answered with an error status
        (:class:`~layers.errors.RequestRefusedError`), or returned a body that is not JSON.
    OfflineError
        ``settings.offline`` is on and the response is not cached.
    """
    return _request(
        "GET",
        url,
        kind="json",
        source=source,
        params=params,
        headers=headers,
        timeout_s=timeout_s,
        check=check,
    )


def post_json(
    url: str,
    *,
    data: Any = None,
    json: Any = None,
    source: str,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    check: Callable[[Any], None] | None = None,
) -> Any:
    """POST a form or a JSON document and return the JSON answer, through the cache.

    The request body is part of the cache key, so two different queries never share an entry.

    Parameters
    ----------
    url : str
        Address of the service.
    data : mapping or str, optional
        Form fields (or raw body) to send.
    json : Any, optional
        Document sent as JSON instead of ``data``.
    source : str
        Name of the web source, used in messages.
    headers : mapping, optional
        Extra request headers.
    timeout_s : float, optional
        Timeout of one attempt, seconds; ``settings.timeout_s`` by default.
    check : callable, optional
        Validation of the decoded document, as in :func:`get_json`.

    Returns
    -------
    Any
        The decoded JSON document.

    Raises
    ------
    DataSourceError, OfflineError
        As :func:`get_json`.
    """
    return _request(
        "POST",
        url,
        kind="json",
        source=source,
        data=data,
        json_body=json,
        headers=headers,
        timeout_s=timeout_s,
        check=check,
    )


def get_text(
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    source: str,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> str:
    """GET a URL and return its body decoded as text, through the cache.

    Parameters are those of :func:`get_json`.

    Returns
    -------
    str
        The body, decoded with the charset the server announced (or detected).
    """
    value: str = _request(
        "GET", url, kind="text", source=source, params=params, headers=headers, timeout_s=timeout_s
    )
    return value


def get_xml(
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    source: str,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    check: Callable[[Any], None] | None = None,
) -> ET.Element:
    """GET a URL and return its XML body parsed, through the cache.

    A body that is not well-formed XML (e.g. a cut transfer) is never cached and raises
    :class:`~layers.errors.DataSourceError`. Parameters are those of :func:`get_json`
    (``check`` gets the root element).

    Returns
    -------
    xml.etree.ElementTree.Element
        Root element of the document.
    """
    value: ET.Element = _request(
        "GET",
        url,
        kind="xml",
        source=source,
        params=params,
        headers=headers,
        timeout_s=timeout_s,
        check=check,
    )
    return value


def get_bytes(
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    source: str,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> bytes:
    """GET a URL and return its raw body (e.g. a GeoTIFF or a zip), through the cache.

    Parameters are those of :func:`get_json`.

    Returns
    -------
    bytes
        The body as received (after HTTP content decoding).
    """
    value: bytes = _request(
        "GET", url, kind="bytes", source=source, params=params, headers=headers, timeout_s=timeout_s
    )
    return value

"""The shared HTTP layer against a local server on 127.0.0.1: cache, retries, faults, offline.

The server replays the recorded responses of tests/data/fixtures and injects faults
(slow answers, 429, 500, cut bodies). It counts the requests it really receives, which is how
the tests prove that an answer came from the cache or that a request was retried.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from layers import http
from layers.config import settings
from layers.errors import (
    DataSourceError,
    FoncierError,
    OfflineError,
    RequestRefusedError,
    ServiceUnavailableError,
)


@dataclass
class Reply:
    """One scripted answer of the local server."""

    body: bytes = b"{}"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"
    # Announce more bytes than sent, then close: a transfer cut in the middle.
    cut_transfer: bool = False
    # Send half the body, then reset the connection (TCP RST): a connection dropped mid-body.
    reset_mid_body: bool = False


class LocalServer:
    """Threaded HTTP server on 127.0.0.1 answering scripted replies per path.

    ``script(path, *replies)`` queues replies for a path; the last one repeats. A callable
    reply gets ``(query, body)`` and returns a :class:`Reply`. ``hits[path]`` counts requests.
    """

    def __init__(self) -> None:
        self.replies: dict[str, list] = {}
        self.hits: dict[str, int] = defaultdict(int)
        self.requests: list[tuple[str, str, dict, bytes]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = parse_qs(parts.query)
                with server.lock:
                    server.hits[parts.path] += 1
                    server.requests.append((self.command, parts.path, query, body))
                    queue = server.replies.get(parts.path)
                    if not queue:
                        reply = Reply(status=404, body=b"not found")
                    else:
                        reply = queue.pop(0) if len(queue) > 1 else queue[0]
                if callable(reply):
                    reply = reply(query, body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    size = len(reply.body) * 2 if reply.cut_transfer else len(reply.body)
                    self.send_header("Content-Length", str(size))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if reply.reset_mid_body:
                        self.wfile.write(reply.body[: len(reply.body) // 2])
                        self.wfile.flush()
                        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
                        self.connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        self.connection.close()
                        self.close_connection = True
                        return
                    self.wfile.write(reply.body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): expected in fault tests

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def do_HEAD(self) -> None:  # the reachability probe: counted, empty answer
                with server.lock:
                    server.hits[urlsplit(self.path).path] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def script(self, path: str, *replies: object) -> None:
        with self.lock:
            self.replies[path] = list(replies)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


def cache_files() -> list[Path]:
    return sorted((Path(settings.cache_folder) / "http").glob("*.json"))


@pytest.fixture
def penmarch(test_data: Path) -> bytes:
    return (test_data / "fixtures/apicarto/cadastre_commune_penmarch.json").read_bytes()


def test_replayed_fixture_is_parsed_and_cached(server: LocalServer, penmarch: bytes) -> None:
    server.script("/commune", Reply(penmarch))
    first = http.get_json(server.url + "/commune", params={"code_insee": "29158"}, source="test")
    again = http.get_json(server.url + "/commune", params={"code_insee": "29158"}, source="test")
    assert first == json.loads(penmarch)
    assert first["features"][0]["properties"]["code_insee"] == "29158"
    assert again == first
    assert server.hits["/commune"] == 1  # the second answer came from the disk cache
    assert len(cache_files()) == 1


def test_cache_key_includes_params_and_body(server: LocalServer) -> None:
    def echo(query: dict, body: bytes) -> Reply:
        return Reply(json.dumps({"q": query, "body": body.decode()}).encode())

    server.script("/echo", echo)
    a = http.get_json(server.url + "/echo", params={"x": "1"}, source="test")
    b = http.get_json(server.url + "/echo", params={"x": "2"}, source="test")
    assert a["q"] == {"x": ["1"]}
    assert b["q"] == {"x": ["2"]}
    p1 = http.post_json(server.url + "/echo", data={"data": "node(1);out;"}, source="test")
    p2 = http.post_json(server.url + "/echo", data={"data": "node(2);out;"}, source="test")
    j1 = http.post_json(server.url + "/echo", json={"geom": [1, 2]}, source="test")
    assert p1["body"] == "data=node%281%29%3Bout%3B"
    assert p2["body"] == "data=node%282%29%3Bout%3B"
    assert json.loads(j1["body"]) == {"geom": [1, 2]}
    assert server.hits["/echo"] == 5
    # Same requests again: all from the cache.
    assert http.get_json(server.url + "/echo", params={"x": "1"}, source="test") == a
    assert http.post_json(server.url + "/echo", data={"data": "node(2);out;"}, source="t") == p2
    assert server.hits["/echo"] == 5
    assert len(cache_files()) == 5


def test_slow_server_is_retried_then_fails(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "timeout_s", 0.2)
    server.script("/slow", Reply(b"{}", delay_s=0.8))
    with pytest.raises(DataSourceError) as err:
        http.get_json(server.url + "/slow", source="Slow service")
    assert server.hits["/slow"] == settings.max_retries + 1 == 3
    message = str(err.value)
    assert "Slow service" in message
    assert "/slow" in message
    assert "no answer within 0.2 s" in message
    assert "3 attempts" in message
    assert isinstance(err.value, ServiceUnavailableError)
    assert err.value.status is None  # no answer: no status
    assert cache_files() == []


def test_429_with_retry_after_then_success(server: LocalServer) -> None:
    server.script(
        "/busy",
        Reply(b"rate limited", status=429, headers={"Retry-After": "1"}, content_type="text/plain"),
        Reply(b'{"ok": true}'),
    )
    start = time.monotonic()
    assert http.get_json(server.url + "/busy", source="test") == {"ok": True}
    elapsed = time.monotonic() - start
    assert server.hits["/busy"] == 2
    # backoff_s is 0.01 s in tests: only the Retry-After header explains a 1 s wait.
    assert elapsed >= 1.0
    assert len(cache_files()) == 1  # only the 200 is stored


def test_500_every_time_gives_error_with_url_and_status(server: LocalServer) -> None:
    server.script("/down", Reply(b"<html>oops</html>", status=500, content_type="text/html"))
    with pytest.raises(DataSourceError) as err:
        http.get_json(server.url + "/down", params={"code": "60159"}, source="API Carto")
    message = str(err.value)
    assert server.hits["/down"] == settings.max_retries + 1
    assert f"GET {server.url}/down?code=60159" in message
    assert "HTTP 500" in message
    assert "API Carto" in message
    # Down or overloaded, as a type (a run stops asking that host), with the last problem.
    assert isinstance(err.value, ServiceUnavailableError)
    assert err.value.problem == "HTTP 500 Internal Server Error"
    assert err.value.status == 500
    assert cache_files() == []
    # Errors are not cached: the next call asks the server again.
    server.script("/down", Reply(b'{"fine": 1}'))
    assert http.get_json(server.url + "/down", params={"code": "60159"}, source="x") == {"fine": 1}
    assert server.hits["/down"] == 4


def test_500_then_success_is_retried(server: LocalServer) -> None:
    server.script("/flaky", Reply(b"", status=503), Reply(b"", status=502), Reply(b"[1, 2]"))
    assert http.get_json(server.url + "/flaky", source="test") == [1, 2]
    assert server.hits["/flaky"] == 3


def test_client_error_is_not_retried(server: LocalServer) -> None:
    server.script("/bad", Reply(b"parse error: line 1", status=400, content_type="text/plain"))
    with pytest.raises(DataSourceError, match=r"HTTP 400.*parse error: line 1") as err:
        http.get_json(server.url + "/bad", source="test")
    assert server.hits["/bad"] == 1
    assert not isinstance(err.value, ServiceUnavailableError)  # a refused request, not a host down
    assert isinstance(err.value, RequestRefusedError)
    assert err.value.status == 400


def test_error_status_is_an_attribute_not_only_text(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The status callers act on is the one the server sent, whatever the texts around it say.
    server.script("/gone", Reply(b"failed with HTTP 500", status=410, content_type="text/plain"))
    with pytest.raises(RequestRefusedError) as refused:
        http.get_json(server.url + "/gone", source="test")
    assert refused.value.status == 410
    # The last attempt decides: a 503 then a 502 is reported as 502 …
    server.script("/busy", Reply(b"", status=503), Reply(b"", status=502))
    with pytest.raises(ServiceUnavailableError) as busy:
        http.get_json(server.url + "/busy", source="test")
    assert (busy.value.status, busy.value.problem) == (502, "HTTP 502 Bad Gateway")
    # … and a 503 then no answer in time as no status at all.
    monkeypatch.setattr(settings, "timeout_s", 0.2)
    monkeypatch.setattr(settings, "max_retries", 1)
    server.script("/late", Reply(b"", status=503), Reply(b"{}", delay_s=0.5))
    with pytest.raises(ServiceUnavailableError) as late:
        http.get_json(server.url + "/late", source="test")
    assert late.value.status is None
    assert late.value.problem.startswith("no answer within 0.2 s")


def test_truncated_json_raises_and_is_not_cached(server: LocalServer, penmarch: bytes) -> None:
    server.script("/commune", Reply(penmarch[: len(penmarch) // 2]), Reply(penmarch))
    with pytest.raises(DataSourceError, match="JSON body that cannot be read"):
        http.get_json(server.url + "/commune", source="test")
    assert cache_files() == []
    assert http.get_json(server.url + "/commune", source="test") == json.loads(penmarch)
    assert server.hits["/commune"] == 2  # the second call went to the server again
    assert len(cache_files()) == 1


def test_cut_transfer_is_retried(server: LocalServer, penmarch: bytes) -> None:
    server.script("/commune", Reply(penmarch, cut_transfer=True), Reply(penmarch))
    assert http.get_json(server.url + "/commune", source="test") == json.loads(penmarch)
    assert server.hits["/commune"] == 2
    assert len(cache_files()) == 1


def test_truncated_xml_raises_and_is_not_cached(server: LocalServer, test_data: Path) -> None:
    xml = (test_data / "fixtures/geopf_wfs/wfs_getcapabilities_data_geopf_fr.xml").read_bytes()
    server.script(
        "/wfs",
        Reply(xml[:5000], content_type="text/xml"),
        Reply(xml, content_type="text/xml"),
    )
    with pytest.raises(DataSourceError, match="XML body"):
        http.get_xml(server.url + "/wfs", source="test")
    assert cache_files() == []
    root = http.get_xml(server.url + "/wfs", source="test")
    assert root.tag.endswith("WFS_Capabilities")
    assert server.hits["/wfs"] == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: b"\xff\xfe\x00garbage",  # not even UTF-8
        lambda raw: raw[: len(raw) // 3],  # cut in the middle
        lambda raw: b'{"unexpected": "structure"}',  # valid JSON, not a cached response
        lambda raw: b"",
    ],
    ids=["binary", "truncated", "foreign-json", "empty"],
)
def test_corrupted_cache_file_is_a_miss(server: LocalServer, penmarch: bytes, damage) -> None:
    server.script("/commune", Reply(penmarch))
    expected = http.get_json(server.url + "/commune", source="test")
    (entry,) = cache_files()
    entry.write_bytes(damage(entry.read_bytes()))
    assert http.get_json(server.url + "/commune", source="test") == expected
    assert server.hits["/commune"] == 2  # refetched instead of crashing
    (entry,) = cache_files()
    assert json.loads(entry.read_text())  # rewritten whole
    assert http.get_json(server.url + "/commune", source="test") == expected
    assert server.hits["/commune"] == 2


def test_failed_cache_write_keeps_no_partial_file(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server.script("/x", Reply(b'{"a": 1}'))

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(http.os, "replace", broken_replace)
    with caplog.at_level(logging.WARNING, logger="layers.http"):
        assert http.get_json(server.url + "/x", source="test") == {"a": 1}
    assert "No space left on device" in caplog.text
    folder = Path(settings.cache_folder) / "http"
    assert [p.name for p in folder.iterdir() if p.suffix in {".json", ".tmp"}] == []
    monkeypatch.undo()


def test_offline_serves_cache_and_refuses_the_rest(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, penmarch: bytes
) -> None:
    server.script("/commune", Reply(penmarch))
    online = http.get_json(server.url + "/commune", params={"insee": "29158"}, source="test")
    monkeypatch.setattr(settings, "offline", True)
    assert http.get_json(server.url + "/commune", params={"insee": "29158"}, source="t") == online
    with pytest.raises(OfflineError) as err:
        http.get_json(server.url + "/commune", params={"insee": "41231"}, source="API Carto")
    assert server.hits["/commune"] == 1  # offline never touched the server
    message = str(err.value)
    assert "/commune?insee=41231" in message
    assert "foncier fetch" in message
    assert isinstance(err.value, FoncierError)


def test_offline_serves_expired_entries(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "cache_expire_days", 1e-6)  # 0.09 s
    server.script("/x", Reply(b'{"v": 1}'))
    http.get_json(server.url + "/x", source="test")
    time.sleep(0.2)
    monkeypatch.setattr(settings, "offline", True)
    assert http.get_json(server.url + "/x", source="test") == {"v": 1}
    assert server.hits["/x"] == 1


def test_expired_entry_is_refetched_and_used_when_server_fails(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "cache_expire_days", 1e-6)
    server.script("/x", Reply(b'{"v": 1}'), Reply(b'{"v": 2}'), Reply(b"", status=500))
    assert http.get_json(server.url + "/x", source="test") == {"v": 1}
    time.sleep(0.2)
    assert http.get_json(server.url + "/x", source="test") == {"v": 2}  # expired: fetched again
    time.sleep(0.2)
    # Server now fails 3 times: the expired copy is better than an error.
    assert http.get_json(server.url + "/x", source="test") == {"v": 2}
    assert server.hits["/x"] == 2 + settings.max_retries + 1


def test_check_refuses_and_does_not_cache(server: LocalServer) -> None:
    server.script("/api", Reply(b'{"error": "quota"}'), Reply(b'{"data": 1}'))

    def check(doc: dict) -> None:
        if "error" in doc:
            raise DataSourceError(f"service said {doc['error']}")

    with pytest.raises(DataSourceError, match="service said quota"):
        http.get_json(server.url + "/api", source="test", check=check)
    assert cache_files() == []
    assert http.get_json(server.url + "/api", source="test", check=check) == {"data": 1}
    assert server.hits["/api"] == 2


def test_text_bytes_and_clear_cache(server: LocalServer) -> None:
    server.script("/t", Reply("Compiègne".encode(), content_type="text/plain; charset=utf-8"))
    server.script("/b", Reply(bytes(range(256)), content_type="application/octet-stream"))
    assert http.get_text(server.url + "/t", source="test") == "Compiègne"
    assert http.get_bytes(server.url + "/b", source="test") == bytes(range(256))
    assert http.get_bytes(server.url + "/b", source="test") == bytes(range(256))
    assert server.hits["/b"] == 1
    http.clear_cache()
    assert cache_files() == []
    assert http.get_text(server.url + "/t", source="test") == "Compiègne"
    assert server.hits["/t"] == 2


def test_one_session_per_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = http.cached_session()
    assert http.cached_session() is first
    monkeypatch.setattr(settings, "cache_folder", tmp_path / "other")
    assert http.cached_session() is not first
    assert (tmp_path / "other" / "http").is_dir()


def test_unusable_cache_folder_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(settings, "cache_folder", blocker)
    with pytest.raises(DataSourceError, match="cache_folder"):
        http.get_json("http://127.0.0.1:9/x", source="test")


def test_unresolvable_host_fails_at_once_without_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # A failed DNS look-up (machine offline) is not retried: waiting would not help.
    import socket

    import requests

    calls: list[str] = []

    def no_dns(self: object, method: str, url: str, **kwargs: object) -> None:
        calls.append(url)
        raise requests.ConnectionError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(settings, "max_retries", 4)
    monkeypatch.setattr(http.cached_session().__class__, "request", no_dns)
    with pytest.raises(DataSourceError, match="could not be resolved"):
        http.get_json("https://example.invalid/api", source="test")
    assert len(calls) == 1

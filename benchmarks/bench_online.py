"""What the online mode costs when loading the layers of a siting map, whatever the network.

Loads the layers `foncier map PRESET` loads (default profile + map context), in one process,
in interleaved rounds, under six conditions:

- ``offline``: ``online=False``, embedded data only (the reference);
- ``auto, this machine``: the real service addresses, empty cache (no network: the DNS or
  the connection fails; with network: real downloads, so this can take minutes);
- ``auto, refused``: the services point at a closed port of 127.0.0.1;
- ``auto, silent``: the services point at a socket that accepts and never answers, so the
  probe waits its whole ``settings.probe_timeout_s``;
- ``auto, local service``: a local server answering every Overpass query with an empty
  document and every other request with 404 (protected areas not obtained);
- ``auto, warm cache``: the same, second time: every Overpass answer from the cache.

Probe results are forgotten before each load (as in a new process); each condition gets its
own cache folder. Prints the load average, the median time per condition and the states of
the online layers.

    uv run python benchmarks/bench_online.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from foncier.engine.profiles import load_profile
from foncier.pipeline import MAP_CONTEXT_LAYERS, default_profile, profile_layers
from layers import reachability
from layers.catalog import LAYERS, load_layers
from layers.config import settings
from layers.territories import territory

EMPTY_OVERPASS = json.dumps(
    {"version": 0.6, "osm3s": {"timestamp_osm_base": "2026-11-30T00:00:00Z"}, "elements": []}
).encode()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, body: bytes | None) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status = 200 if body is not None else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._reply(None)

    def do_GET(self) -> None:
        self._reply(None)

    def do_POST(self) -> None:
        self._reply(EMPTY_OVERPASS if self.path.startswith("/api/interpreter") else None)


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--territory", default="grand-compiegnois")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    t = territory(args.territory)
    prof = load_profile(default_profile(t))
    wanted = [n for n in dict.fromkeys([*profile_layers(prof), *MAP_CONTEXT_LAYERS]) if n in LAYERS]

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    local = f"http://127.0.0.1:{httpd.server_address[1]}"
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    refused = f"http://127.0.0.1:{_closed_port()}"
    real = (settings.overpass_url, settings.geopf_wfs_url)
    root = Path(tempfile.mkdtemp(prefix="bench-online-"))

    conditions: dict[str, tuple[object, tuple[str, str] | None, bool]] = {
        # name: (online mode, (overpass, wfs) addresses or None for the real ones, fresh cache)
        "offline": (False, None, True),
        "auto, this machine": ("auto", None, True),
        "auto, refused": ("auto", (f"{refused}/api/interpreter", f"{refused}/wfs/ows"), True),
        "auto, silent": (
            "auto",
            (f"{silent_url}/api/interpreter", f"{silent_url}/wfs/ows"),
            True,
        ),
        "auto, local service": ("auto", (f"{local}/api/interpreter", f"{local}/wfs/ows"), True),
        "auto, warm cache": ("auto", (f"{local}/api/interpreter", f"{local}/wfs/ows"), False),
    }
    times: dict[str, list[float]] = {name: [] for name in conditions}
    states: dict[str, dict[str, str]] = {}
    print(f"load average {os.getloadavg()}, {len(wanted)} layers: {', '.join(wanted)}")
    print(f"probe timeout {settings.probe_timeout_s:g} s")
    for r in range(args.rounds):
        for name, (mode, urls, fresh) in conditions.items():
            overpass, wfs = urls or real
            settings.overpass_url, settings.geopf_wfs_url = overpass, wfs
            folder = root / (f"{r}-{name}" if fresh else f"{r}-auto, local service")
            settings.cache_folder = folder
            reachability.forget()
            status: dict = {}
            start = time.perf_counter()
            load_layers(t, wanted, online=mode, status=status)  # type: ignore[arg-type]
            times[name].append(time.perf_counter() - start)
            states[name] = {k: s.state for k, s in status.items()}
    print(f"\n{'condition':<22} {'median s':>9} {'extra s':>8}  online layers")
    base = statistics.median(times["offline"])
    for name, values in times.items():
        med = statistics.median(values)
        summary = ", ".join(
            f"{state} {sum(1 for s in states[name].values() if s == state)}"
            for state in ("online", "cache", "fallback", "absent")
            if any(s == state for s in states[name].values())
        )
        print(f"{name:<22} {med:9.2f} {med - base:+8.2f}  {summary or '—'}")
    httpd.shutdown()
    silent.close()


if __name__ == "__main__":
    main()

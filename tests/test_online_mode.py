"""Online layers when the machine is online: the quick probe, the cache first, the fallback.

Every service is a local stand-in on 127.0.0.1: a threaded HTTP server answering a recorded
Overpass document, a closed port (connection refused) and a socket that accepts connections
but never answers. Host names other than the local machine's do not resolve in the tests
(tests/conftest.py), which is how a machine without network fails.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator

import pytest
import requests
from test_http import LocalServer, Reply
from test_online_layers import ANSWER
from typer.testing import CliRunner

from foncier.cli import app
from layers import reachability
from layers.catalog import load_layer, load_layers
from layers.config import Settings, settings
from layers.errors import DataSourceError, SettingsError
from layers.online import OnlineStatus, summary_lines
from layers.territories import territory

TODAY = dt.datetime.now(dt.UTC).date().isoformat()


@pytest.fixture
def closed_url() -> str:
    """An address on 127.0.0.1 where nothing listens: the connection is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/wfs/ows"


@pytest.fixture
def silent() -> Iterator[tuple[str, socket.socket]]:
    """A server that accepts connections (kernel backlog) but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api/interpreter", sock
    finally:
        sock.close()


@pytest.fixture
def overpass(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    with LocalServer() as server:
        server.script("/api/interpreter", Reply(body=json.dumps(ANSWER).encode()))
        monkeypatch.setattr(settings, "overpass_url", f"{server.url}/api/interpreter")
        yield server


@pytest.fixture
def compiegne():
    return territory("grand-compiegnois")


# ------------------------------------------------------------------------------ settings
@pytest.mark.parametrize("value", ["auto", True, False])
def test_online_setting_takes_the_three_modes(value, monkeypatch):
    monkeypatch.setattr(settings, "online", value)
    assert settings.online == value


@pytest.mark.parametrize("value", ["yes", "on", 1, None, "AUTO "])
def test_online_setting_refuses_anything_else(value):
    with pytest.raises(SettingsError, match=r"settings\.online must be .auto., True or False"):
        settings.online = value


@pytest.mark.parametrize(
    ("env", "mode"), [("", "auto"), ("auto", "auto"), ("0", False), ("true", True)]
)
def test_online_setting_reads_foncier_online(env, mode, monkeypatch):
    monkeypatch.setenv("FONCIER_ONLINE", env)
    assert Settings().online == mode


def test_probe_timeout_must_be_positive():
    with pytest.raises(SettingsError, match="probe_timeout_s must be > 0"):
        settings.probe_timeout_s = 0


# ------------------------------------------------------------------------------ the probe
def test_probe_of_a_live_server_is_remembered(overpass):
    url = settings.overpass_url
    first = reachability.probe(url, timeout_s=2)[url]
    assert first.reachable
    assert first.reason == ""
    assert first.host == overpass.url  # http://127.0.0.1:port
    assert overpass.hits["/"] == 1  # one HEAD on the root
    again = reachability.probe([url, overpass.url + "/other"])
    assert again[url] is first
    assert again[overpass.url + "/other"] is first
    assert overpass.hits["/"] == 1  # remembered for the process


def test_probe_of_a_closed_port_says_refused(closed_url):
    result = reachability.probe(closed_url, timeout_s=1)[closed_url]
    assert not result.reachable
    assert result.reason == "connexion refusée"


def test_probe_of_an_unknown_host_says_dns():
    url = "https://overpass-api.de/api/interpreter"
    result = reachability.probe(url, timeout_s=1)[url]
    assert not result.reachable
    assert result.reason.startswith("nom d'hôte introuvable (DNS")
    assert result.host == "https://overpass-api.de:443"


def test_probe_gives_up_on_a_silent_server_after_its_timeout(silent, monkeypatch):
    url, sock = silent
    asked: list[object] = []
    head = requests.Session.head

    def spy(self, *args, **kwargs):
        asked.append(kwargs.get("timeout"))
        return head(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "head", spy)
    result = reachability.probe(url, timeout_s=0.3)[url]
    assert not result.reachable
    assert result.reason == "aucune réponse en 0,3 s"
    assert result.timeout_s == 0.3
    assert asked == [(0.3, 0.3)]  # connect and read timeouts of the HEAD request
    sock.settimeout(1)
    conn, _ = sock.accept()  # the probe did connect: the silence came from the server
    conn.close()


def test_probes_of_several_hosts_run_at_once(silent, closed_url):
    url, _ = silent
    results = reachability.probe([url, closed_url], timeout_s=0.3)
    assert [r.reason for r in results.values()] == ["aucune réponse en 0,3 s", "connexion refusée"]


# ------------------------------------------------------------------------------ auto mode
def test_auto_uses_reachable_services_and_says_what_it_could_not_get(
    overpass, closed_url, compiegne, monkeypatch
):
    monkeypatch.setattr(settings, "geopf_wfs_url", closed_url)
    status: dict[str, OnlineStatus] = {}
    names = ["motorway_junctions", "protected_areas", "rail_freight_stations"]
    layers = load_layers(compiegne, names, online="auto", status=status)

    assert list(status) == ["motorway_junctions", "protected_areas"]  # stations: embedded
    junctions = status["motorway_junctions"]
    assert (junctions.state, junctions.fetched, junctions.host) == ("online", TODAY, "127.0.0.1")
    assert list(layers["motorway_junctions"]["name"]) == ["Compiègne-Sud"]  # from Overpass
    assert layers["motorway_junctions"].attrs["foncier_online"]["state"] == "online"
    protected = status["protected_areas"]
    assert protected.state == "absent"
    assert "protected_areas" not in layers
    assert protected.reason == "127.0.0.1 injoignable : connexion refusée"
    assert "rail_freight_stations" in layers
    assert overpass.hits["/api/interpreter"] == 1


def test_cached_answers_are_used_without_probe(overpass, compiegne, closed_url, monkeypatch):
    load_layers(compiegne, ["motorway_junctions"], online="auto")
    reachability.forget()
    # the same service now moved to a dead address: the cache still answers for it
    overpass_url = settings.overpass_url
    status: dict[str, OnlineStatus] = {}
    again = load_layers(compiegne, ["motorway_junctions"], online="auto", status=status)
    assert status["motorway_junctions"].state == "cache"
    assert status["motorway_junctions"].fetched == TODAY
    assert reachability.known(overpass_url) is None  # no probe was needed
    assert overpass.hits["/api/interpreter"] == 1
    assert list(again["motorway_junctions"]["name"]) == ["Compiègne-Sud"]


def test_offline_with_a_warm_cache_still_uses_the_cached_online_layers(
    overpass, compiegne, monkeypatch
):
    load_layers(compiegne, ["motorway_junctions"], online="auto")
    monkeypatch.setattr(settings, "offline", True)
    status: dict[str, OnlineStatus] = {}
    layers = load_layers(compiegne, ["motorway_junctions", "ports"], online="auto", status=status)
    assert status["motorway_junctions"].state == "cache"
    assert list(layers["motorway_junctions"]["name"]) == ["Compiègne-Sud"]
    ports = status["ports"]  # never downloaded: the embedded ports instead
    assert ports.state == "fallback"
    assert ports.fallback == "données embarquées"
    assert ports.reason.startswith("mode hors ligne")
    assert overpass.hits["/api/interpreter"] == 1


def test_unreachable_host_falls_back_on_the_embedded_layer(compiegne, closed_url, monkeypatch):
    monkeypatch.setattr(settings, "overpass_url", closed_url)
    status: dict[str, OnlineStatus] = {}
    layers = load_layers(compiegne, ["motorway_junctions"], online="auto", status=status)
    embedded = load_layer(compiegne, "motorway_junctions", source="embedded")
    assert status["motorway_junctions"].state == "fallback"
    assert status["motorway_junctions"].reason == "127.0.0.1 injoignable : connexion refusée"
    assert sorted(layers["motorway_junctions"]["id"]) == sorted(embedded["id"])
    assert len(embedded) > 0


def test_expired_cache_is_used_when_the_host_is_unreachable(
    overpass, compiegne, closed_url, monkeypatch
):
    load_layers(compiegne, ["motorway_junctions"], online="auto")
    reachability.forget()
    monkeypatch.setattr(settings, "cache_expire_days", 1e-9)  # every entry is now expired
    monkeypatch.setattr(settings, "overpass_url", closed_url)
    status: dict[str, OnlineStatus] = {}
    # the request of the new address is not cached: nothing to fall back on but the embedded
    load_layers(compiegne, ["motorway_junctions"], online="auto", status=status)
    assert status["motorway_junctions"].state == "fallback"
    monkeypatch.setattr(settings, "overpass_url", f"{overpass.url}/api/interpreter")
    overpass.script("/api/interpreter", Reply(status=503, body=b"busy"))
    status = {}
    layers = load_layers(compiegne, ["motorway_junctions"], online="auto", status=status)
    junctions = status["motorway_junctions"]
    assert (junctions.state, junctions.expired) == ("cache", True)
    assert "expiré" in junctions.message()
    assert list(layers["motorway_junctions"]["name"]) == ["Compiègne-Sud"]


def test_a_failing_service_is_not_asked_again_for_the_next_layers(overpass, compiegne, monkeypatch):
    monkeypatch.setattr(settings, "max_retries", 0)
    overpass.script("/api/interpreter", Reply(status=500, body=b"error"))
    status: dict[str, OnlineStatus] = {}
    load_layers(compiegne, ["motorway_junctions", "ports"], online="auto", status=status)
    assert overpass.hits["/api/interpreter"] == 1  # ports did not wait for it again
    assert (
        status["motorway_junctions"].reason == "127.0.0.1 : réponse HTTP 500 Internal Server Error"
    )
    assert status["ports"].reason == (
        "127.0.0.1 injoignable : réponse HTTP 500 Internal Server Error "
        "(pour Échangeurs autoroutiers)"
    )
    assert {s.state for s in status.values()} == {"fallback"}


def test_a_refused_request_does_not_mark_the_host_as_down(overpass, compiegne, monkeypatch):
    # protected areas asked on the same host, which answers 404 to the WFS path: a request
    # problem of that layer, not a host down; the Overpass layers after it are still asked
    monkeypatch.setattr(settings, "geopf_wfs_url", f"{overpass.url}/wfs/ows")
    status: dict[str, OnlineStatus] = {}
    load_layers(compiegne, ["protected_areas", "ports"], online="auto", status=status)
    assert status["protected_areas"].reason == "127.0.0.1 : réponse HTTP 404"
    assert status["protected_areas"].state == "absent"
    assert status["ports"].state == "online"
    assert overpass.hits["/api/interpreter"] == 1


def test_an_answer_that_only_mentions_a_status_is_not_reported_as_that_status(
    overpass, compiegne, monkeypatch
):
    # A 200 answer whose query stopped on the server, with a remark quoting a backend's status:
    # the service answered, so the reason is the failed query, not "réponse HTTP 504".
    remark = "runtime error: the area query failed with HTTP 504 from a backend."
    overpass.script(
        "/api/interpreter", Reply(body=json.dumps({**ANSWER, "remark": remark}).encode())
    )
    status: dict[str, OnlineStatus] = {}
    load_layers(compiegne, ["motorway_junctions", "ports"], online="auto", status=status)
    junctions = status["motorway_junctions"]
    assert junctions.state == "fallback"
    assert "HTTP 504" not in junctions.reason
    assert junctions.reason.startswith("127.0.0.1 : ")
    assert status["ports"].state == "fallback"  # asked too: the host is not marked down
    assert overpass.hits["/api/interpreter"] == 2


def test_explicit_online_asks_without_probe_and_strict_raises(
    overpass, compiegne, closed_url, monkeypatch
):
    status: dict[str, OnlineStatus] = {}
    load_layers(compiegne, ["motorway_junctions"], online=True, status=status)
    assert status["motorway_junctions"].state == "online"
    assert reachability.known(settings.overpass_url) is None  # no probe in mode True
    assert overpass.hits["/"] == 0
    monkeypatch.setattr(settings, "geopf_wfs_url", closed_url)
    with pytest.raises(DataSourceError, match=r"protected_areas.*could not be obtained online"):
        load_layers(compiegne, ["protected_areas"], online="auto", errors="raise")


def test_summary_groups_the_layers_that_failed_for_one_reason():
    common = {"service": "OpenStreetMap (Overpass)", "host": "overpass-api.de"}
    failed = {"state": "fallback", "reason": "overpass-api.de injoignable : connexion refusée"}
    statuses = [
        OnlineStatus("ports", "Ports", **common, **failed, fallback="données embarquées"),
        OnlineStatus(
            "waterways", "Voies navigables", **common, **failed, fallback="données embarquées"
        ),
        OnlineStatus("rail_lines", "Voies ferrées", **common, state="cache", fetched="2026-11-28"),
    ]
    lines = summary_lines([s.as_dict() for s in statuses])
    assert lines == [
        "Voies ferrées : OpenStreetMap (Overpass), en cache du 28/11/2026",
        "Non obtenues (overpass-api.de injoignable : connexion refusée) : Ports, Voies "
        "navigables ; données embarquées",
    ]


# ------------------------------------------------------------------------------ command line
def test_map_command_in_auto_mode_reports_the_online_layers(
    overpass, closed_url, tmp_path, monkeypatch
):
    monkeypatch.setattr(settings, "online", "auto")
    monkeypatch.setattr(settings, "geopf_wfs_url", closed_url)
    out = tmp_path / "carte.html"
    result = CliRunner().invoke(
        app,
        ["map", "grand-compiegnois", "-o", str(out), "--sites", "hex:4000", "--draws", "0"],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 0, result.output
    assert "Couches en ligne (mode auto) : 6 utilisée(s), 1 non obtenue(s)" in result.output
    assert "Échangeurs autoroutiers : OpenStreetMap (Overpass), téléchargée le" in result.output
    assert "Espaces naturels protégés : non obtenue (127.0.0.1 injoignable : connexion " in (
        result.output
    )
    page = out.read_text(encoding="utf-8")
    assert "En ligne – Espaces naturels protégés : non obtenue" in page


def test_score_command_offline_flag_uses_no_online_layer(tmp_path, overpass, monkeypatch):
    monkeypatch.setattr(settings, "online", "auto")
    out = tmp_path / "sites.parquet"
    result = CliRunner().invoke(
        app,
        ["score", "grand-compiegnois", "--offline", "-o", str(out), "--sites", "hex:4000",
         "--draws", "0"],
        env={"COLUMNS": "400"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Couches en ligne : non demandées (--offline)" in result.output
    assert overpass.hits == {}
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(out).metadata[b"foncier"])
    assert meta["online"] == []


def test_score_command_auto_records_the_online_layers_in_the_export(
    tmp_path, overpass, closed_url, monkeypatch
):
    monkeypatch.setattr(settings, "online", "auto")
    monkeypatch.setattr(settings, "geopf_wfs_url", closed_url)
    out = tmp_path / "sites.parquet"
    result = CliRunner().invoke(
        app,
        ["score", "grand-compiegnois", "-o", str(out), "--sites", "hex:4000", "--draws", "0"],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(out).metadata[b"foncier"])
    states = {item["layer"]: item["state"] for item in meta["online"]}
    assert states["motorway_junctions"] == "online"
    assert states["protected_areas"] == "absent"
    reasons = {item["layer"]: item["reason"] for item in meta["online"]}
    assert reasons["protected_areas"] == "127.0.0.1 injoignable : connexion refusée"


def test_fiches_name_the_online_layers_in_their_sources(
    tmp_path, overpass, closed_url, monkeypatch
):
    monkeypatch.setattr(settings, "online", "auto")
    monkeypatch.setattr(settings, "geopf_wfs_url", closed_url)
    out = tmp_path / "fiches"
    result = CliRunner().invoke(
        app,
        ["fiches", "grand-compiegnois", "-o", str(out), "--sites", "hex:4000", "--draws", "0",
         "--top", "2", "--force"],
        env={"COLUMNS": "400"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sheets = [p for p in sorted(out.glob("*.html")) if p.name != "index.html"]
    assert len(sheets) == 2
    sheet = sheets[0].read_text(encoding="utf-8")
    assert "En ligne – Échangeurs autoroutiers : OpenStreetMap (Overpass), téléchargée le" in sheet
    assert "En ligne – Espaces naturels protégés : non obtenue (127.0.0.1 injoignable" in sheet

"""Online layers end to end through a local Overpass server: load, cache, then offline."""

from __future__ import annotations

import json

import pytest
from test_http import LocalServer, Reply
from typer.testing import CliRunner

from foncier.cli import app
from layers.catalog import load_layers
from layers.config import settings
from layers.territories import territory

# An Overpass answer made in code: a motorway junction and a harbour in Compiègne, and a named
# industrial estate in Venette (coordinates taken inside these communes).
ANSWER = {
    "version": 0.6,
    "osm3s": {"timestamp_osm_base": "2026-11-01T00:00:00Z"},
    "elements": [
        {
            "type": "node",
            "id": 1,
            "lat": 49.4045,
            "lon": 2.8020,
            "tags": {"highway": "motorway_junction", "name": "Compiègne-Sud", "ref": "10"},
        },
        {
            "type": "node",
            "id": 2,
            "lat": 49.4190,
            "lon": 2.8290,
            "tags": {"harbour": "yes", "name": "Port de Compiègne"},
        },
        {
            "type": "way",
            "id": 3,
            "tags": {"landuse": "industrial", "name": "ZI de Venette"},
            "geometry": [
                {"lat": 49.410, "lon": 2.790},
                {"lat": 49.410, "lon": 2.800},
                {"lat": 49.416, "lon": 2.800},
                {"lat": 49.416, "lon": 2.790},
                {"lat": 49.410, "lon": 2.790},
            ],
        },
    ],
}


@pytest.fixture
def overpass(monkeypatch: pytest.MonkeyPatch):
    with LocalServer() as server:
        server.script("/api/interpreter", Reply(body=json.dumps(ANSWER).encode()))
        monkeypatch.setattr(settings, "overpass_url", f"{server.url}/api/interpreter")
        yield server


def test_online_layers_load_then_serve_offline_from_the_cache(overpass, monkeypatch):
    t = territory("grand-compiegnois")
    names = ["motorway_junctions", "ports", "zae"]
    online = load_layers(t, names, online=True, errors="raise")
    assert list(online["motorway_junctions"]["name"]) == ["Compiègne-Sud"]
    ports = set(online["ports"]["name"])
    assert "Port de Compiègne" in ports  # from OpenStreetMap
    assert any("Longueil-Sainte-Marie" in p for p in ports)  # the embedded named port
    assert list(online["zae"]["site_nom"]) == ["ZI de Venette"]
    for layer in online.values():
        assert layer.crs == t.crs
    hits = overpass.hits["/api/interpreter"]
    assert hits == 3  # one query per layer

    monkeypatch.setattr(settings, "offline", True)
    again = load_layers(t, names, online=True, errors="raise")
    assert overpass.hits["/api/interpreter"] == hits  # all from the cache
    assert list(again["motorway_junctions"]["name"]) == ["Compiègne-Sud"]


def test_fetch_command_fills_the_cache(overpass):
    result = CliRunner().invoke(app, ["fetch", "grand-compiegnois", "-l", "motorway_junctions"])
    assert result.exit_code == 0, result.output
    assert "motorway_junctions: 1 entités" in result.output
    assert overpass.hits["/api/interpreter"] == 1

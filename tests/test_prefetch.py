"""Pre-fetching a territory fills the cache; failures are collected per layer."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box
from test_http import LocalServer, Reply

from layers.apicarto import cadastre_communes
from layers.config import settings
from layers.errors import DataSourceError, OfflineError, SchemaError
from layers.prefetch import prefetch
from layers.territories import Territory


@pytest.fixture
def territory() -> Territory:
    return Territory.from_perimeter(box(170_000, 6_770_000, 180_000, 6_780_000), crs="EPSG:2154")


def test_prefetch_fills_the_cache_for_offline_use(
    territory: Territory, monkeypatch: pytest.MonkeyPatch, test_data: Path
) -> None:
    doc = (test_data / "fixtures/apicarto/cadastre_commune_penmarch.json").read_bytes()
    calls: list[tuple[str, int, int]] = []

    def broken(t: Territory) -> gpd.GeoDataFrame:
        raise DataSourceError("service down")

    with LocalServer() as server:
        server.script("/api/cadastre/commune", Reply(doc))
        server.script("/api/down", Reply(b"", status=500))
        monkeypatch.setattr(settings, "apicarto_url", server.url + "/api")
        results = prefetch(
            territory,
            layers=[
                ("communes", lambda t: cadastre_communes(insee="29158")),
                ("broken", broken),
                ("nothing", lambda t: None),
            ],
            progress=lambda name, done, total: calls.append((name, done, total)),
        )
        assert results["communes"] == 1
        assert isinstance(results["broken"], DataSourceError)
        assert results["nothing"] == 0
        assert calls == [("communes", 1, 3), ("broken", 2, 3), ("nothing", 3, 3)]
        # Offline now: the same request is answered from the cache, the server is not asked.
        monkeypatch.setattr(settings, "offline", True)
        again = cadastre_communes(insee="29158")
        assert list(again["nom_com"]) == ["Penmarch"]
        assert server.hits["/api/cadastre/commune"] == 1


def test_prefetch_refuses_offline_mode_and_duplicate_names(
    territory: Territory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SchemaError, match="unique"):
        prefetch(territory, layers=[("a", lambda t: []), ("a", lambda t: [])])
    monkeypatch.setattr(settings, "offline", True)
    with pytest.raises(OfflineError, match="offline"):
        prefetch(territory, layers=[("a", lambda t: [])])

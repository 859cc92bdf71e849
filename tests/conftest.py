"""Shared test fixtures: paths to the real datasets in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real datasets and recorded responses (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test gets its own empty cache folder and default settings; never the network."""
    from layers.settings import settings

    monkeypatch.setattr(settings, "cache_folder", tmp_path_factory.mktemp("cache"))
    monkeypatch.setattr(settings, "offline", False)
    monkeypatch.setattr(settings, "max_retries", 2)
    monkeypatch.setattr(settings, "backoff_s", 0.01)
    monkeypatch.setattr(settings, "timeout_s", 5.0)

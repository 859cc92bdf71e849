"""Settings: one object (``layers.settings``), every assignment checked, typos rejected."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import pytest

import foncier
import layers
from layers.config import Settings, settings
from layers.errors import FoncierError, SettingsError, UnknownSettingError


def test_one_object_under_every_name():
    assert layers.settings is settings
    assert foncier.settings is settings
    assert isinstance(settings, Settings)
    # the module has its own name: nothing hides it
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("layers.settings")


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("ofline", "offline"), ("timeout", "timeout_s"), ("overpass_uri", "overpass_url")],
)
def test_a_typo_raises_with_the_closest_setting(typo, meant):
    before = settings.offline
    with pytest.raises(
        UnknownSettingError, match=f"'{typo}' is not a setting. Did you mean '{meant}'"
    ):
        setattr(settings, typo, True)
    assert not hasattr(settings, typo)
    assert settings.offline is before


def test_typo_errors_are_attribute_errors_of_foncier():
    with pytest.raises(AttributeError):
        settings.ofline = True  # type: ignore[attr-defined]
    with pytest.raises(FoncierError):
        settings.ofline = True  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("offline", "false", "True or False"),
        ("offline", 1, "True or False"),
        ("timeout_s", 0, "> 0"),
        ("timeout_s", "60", "a number"),
        ("backoff_s", -1.0, ">= 0"),
        ("max_retries", 2.5, "integer >= 0"),
        ("max_retries", True, "integer >= 0"),
        ("infrastructure_margin_m", math.nan, "finite"),
        ("infrastructure_margin_m", -10, ">= 0"),
        ("cache_expire_days", 0, "> 0"),
        ("cache_folder", 3, "folder path"),
        ("user_agent", " ", "non-empty"),
        ("overpass_url", "overpass-api.de/api/interpreter", "http:// or https://"),
        ("geopf_wfs_url", None, "http:// or https://"),
        ("default_crs", "EPSG:4326", "projected CRS"),
        ("default_crs", "not a crs", "is not a CRS"),
        ("threads", 0, "integer >= 1"),
        ("threads", 2.0, "integer >= 1"),
    ],
)
def test_wrong_values_are_rejected_and_the_old_value_kept(name, value, message):
    before = getattr(settings, name)
    with pytest.raises(SettingsError, match=message):
        setattr(settings, name, value)
    assert getattr(settings, name) == before


def test_valid_values_are_kept_normalised(monkeypatch, tmp_path):
    monkeypatch.setattr(settings, "cache_folder", str(tmp_path / "c"))
    assert settings.cache_folder == tmp_path / "c"
    assert isinstance(settings.cache_folder, Path)
    monkeypatch.setattr(settings, "timeout_s", 5)
    assert settings.timeout_s == 5.0
    monkeypatch.setattr(settings, "cache_expire_days", math.inf)  # never expire
    monkeypatch.setattr(settings, "default_crs", "EPSG:2975")  # RGR92 / UTM 40S, La Réunion
    monkeypatch.setattr(settings, "overpass_url", "http://127.0.0.1:8080/api/interpreter")
    assert settings.default_crs == "EPSG:2975"


def test_environment_gives_the_initial_values(monkeypatch, tmp_path):
    monkeypatch.setenv("FONCIER_CACHE", str(tmp_path))
    monkeypatch.setenv("FONCIER_OFFLINE", "yes")
    monkeypatch.setenv("FONCIER_THREADS", "3")
    fresh = Settings()
    assert fresh.cache_folder == tmp_path
    assert fresh.offline is True
    assert fresh.threads == 3
    with pytest.raises(SettingsError, match="timeout_s"):
        Settings(timeout_s=-1)


def test_every_setting_is_documented():
    doc = Settings.__doc__ or ""
    for name in Settings.__dataclass_fields__:
        assert f"\n    {name} : " in doc, name

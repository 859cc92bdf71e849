"""Headless Chromium: find Debian's browser and driver, start them with safe flags.

Pictures of maps (PNG, PDF) and the browser tests use the Chromium installed by the
system package manager (``apt-get install chromium chromium-driver`` on Debian/Ubuntu).
Nothing here downloads a browser: both programs are found on the ``PATH`` (or given with
the ``FONCIER_CHROMIUM`` / ``FONCIER_CHROMEDRIVER`` environment variables), and Selenium
gets their explicit paths so that its own driver manager never runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from layers.errors import MissingDependencyError

__all__ = ["CHROMIUM_FLAGS", "chromedriver_path", "chromium_path", "headless_chromium"]

log = logging.getLogger(__name__)

#: Flags for a quiet, sandbox-friendly headless run that makes no background requests.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)

_INSTALL_HINT = (
    "Install Debian's Chromium with `apt-get install chromium chromium-driver` "
    "(Ubuntu: the chromium snap or the `chromium-browser` package), or point "
    "FONCIER_CHROMIUM / FONCIER_CHROMEDRIVER to the programs."
)


def _find(env: str, names: tuple[str, ...], fallbacks: tuple[str, ...]) -> str | None:
    given = os.environ.get(env)
    if given:
        return given if Path(given).exists() else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for path in fallbacks:
        if Path(path).exists():
            return path
    return None


def chromium_path() -> str:
    """Return the path of the Chromium executable.

    Raises
    ------
    MissingDependencyError
        When no Chromium is installed (the message says which package to install).
    """
    path = _find(
        "FONCIER_CHROMIUM",
        ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
        ("/usr/bin/chromium", "/usr/lib/chromium/chromium"),
    )
    if path is None:
        raise MissingDependencyError(f"Chromium was not found. {_INSTALL_HINT}")
    return path


def chromedriver_path() -> str:
    """Return the path of chromedriver (package ``chromium-driver``).

    Raises
    ------
    MissingDependencyError
        When chromedriver is not installed.
    """
    path = _find("FONCIER_CHROMEDRIVER", ("chromedriver",), ("/usr/bin/chromedriver",))
    if path is None:
        raise MissingDependencyError(f"chromedriver was not found. {_INSTALL_HINT}")
    return path


@contextlib.contextmanager
def headless_chromium(
    *, width: int = 1600, height: int = 1000, console_log: bool = True
) -> Iterator[Any]:
    """Start headless Chromium under Selenium; yield the driver and clean up after.

    Parameters
    ----------
    width, height : int
        Size of the page's viewport, CSS pixels.
    console_log : bool
        Record the browser console (read it with ``driver.get_log("browser")``).

    Yields
    ------
    selenium.webdriver.Chrome
        A driver with a fresh, temporary profile.

    Raises
    ------
    MissingDependencyError
        When selenium, Chromium or chromedriver is missing.
    """
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise MissingDependencyError(
            "selenium is needed to drive the browser: `pip install selenium`."
        ) from exc
    binary, driver_path = chromium_path(), chromedriver_path()
    profile = tempfile.mkdtemp(prefix="foncier-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        # The window size includes no browser chrome in headless mode, but fix the viewport
        # exactly anyway: screenshots must have the size that was asked for.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

"""The siting map in a real browser: Debian's headless Chromium driven by Selenium.

Nothing is downloaded: the browser and chromedriver are the system packages
(``apt-get install chromium chromium-driver``); the tests are skipped when they are absent.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pytest
import shapely
from test_mapping import HOSTILE, X0, Y0, make_scored, make_territory

from layers.errors import MissingDependencyError

pytestmark = pytest.mark.browser


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401

        from maps.browser import chromedriver_path, chromium_path

        chromium_path()
        chromedriver_path()
    except (ImportError, MissingDependencyError) as exc:
        return str(exc)
    return None


_MISSING = _missing_browser()
if _MISSING:
    pytest.skip(f"headless Chromium is not available: {_MISSING}", allow_module_level=True)

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from foncier.reports.mapping import siting_map  # noqa: E402
from maps.browser import headless_chromium  # noqa: E402
from maps.choropleth import class_colors  # noqa: E402
from maps.export import save_html, save_png  # noqa: E402

# The network is closed on the test machines: every basemap tile request fails. Those
# failures (and only those) are expected console errors, so they are filtered by host.
TILE_HOSTS = ("data.geopf.fr", "tile.openstreetmap.org")


def wait_for(check: Callable[[], object], timeout: float = 10.0) -> object:
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {check}")
        time.sleep(0.1)


def layers_off_the_sites() -> dict[str, gpd.GeoDataFrame]:
    """Infrastructure east of the sites' grid, so that nothing covers a site we click."""
    xs = X0 + 7000 + np.arange(6) * 700.0
    ys = Y0 + np.arange(6) * 900.0
    stations = gpd.GeoDataFrame(
        {"nom": [f"Gare {i}" for i in range(6)], "source": "SNCF, liste des gares (ODbL)"},
        geometry=gpd.points_from_xy(xs, ys),
        crs=2154,
    )
    substations = gpd.GeoDataFrame(
        {"nom": [f"Poste {i}" for i in range(60)], "source": "RTE / ODRE (Licence Ouverte 2.0)"},
        geometry=gpd.points_from_xy(
            X0 + 9000 + (np.arange(60) % 6) * 300.0, Y0 + (np.arange(60) // 6) * 400.0
        ),
        crs=2154,
    )
    rail = gpd.GeoDataFrame(
        {"nom": ["Ligne 242000"]},
        geometry=[shapely.LineString([(X0 + 6000, Y0 - 2000), (X0 + 6500, Y0 + 12000)])],
        crs=2154,
    )
    return {"rail_freight_stations": stations, "substations": substations, "rail_lines": rail}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    scored, sens = make_scored(10)
    m = siting_map(
        scored, territory=make_territory(4), layers=layers_off_the_sites(), sensitivity=sens
    )
    path = save_html(m, tmp_path_factory.mktemp("map") / "siting.html", self_contained=True)
    with headless_chromium(width=1400, height=900) as driver:
        # Record any alert() instead of letting it block the page.
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "window.__alerts = []; window.alert = function (m) { __alerts.push(m); };"},
        )
        driver.get(path.as_uri())
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".foncier-legend-entry"))
        yield driver, scored, path


def map_var(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, ".folium-map").get_attribute("id")


def open_site_popup(driver, scored, site_id: str):
    """Click the site like a user: zoom on it, then click inside it, off its centre."""
    row = scored.loc[scored["site_id"] == site_id].iloc[0]
    minx, miny, maxx, maxy = row.geometry.bounds
    target = gpd.GeoSeries(
        [shapely.Point(minx + 0.25 * (maxx - minx), miny + 0.25 * (maxy - miny))], crs=2154
    ).to_crs(4326)
    lat, lon = float(target.y.iloc[0]), float(target.x.iloc[0])
    var = map_var(driver)
    driver.execute_script(
        f"{var}.closePopup(); {var}.setView([arguments[0], arguments[1]], 16, {{animate: false}});",
        lat,
        lon,
    )
    # Leaflet fades a closed popup out and removes it 200 ms later: wait for it to go, so
    # that the popup read below is the new one.
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, ".leaflet-popup"))
    x, y = driver.execute_script(
        f"var p = {var}.latLngToContainerPoint([arguments[0], arguments[1]]); return [p.x, p.y];",
        lat,
        lon,
    )
    element = driver.find_element(By.ID, var)
    rect = element.rect
    ActionChains(driver).move_to_element_with_offset(
        element, int(x - rect["width"] / 2), int(y - rect["height"] / 2)
    ).click().perform()
    popup = wait_for(
        lambda: driver.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content .foncier-popup")
    )[0]
    # Leaflet fades the popup in: Selenium reads no text from a still transparent element.
    wait_for(lambda: popup.text)
    return popup


def test_no_javascript_error_and_no_request_but_tiles(browser):
    driver, _, _ = browser
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    unexpected = [e for e in severe if not any(h in e["message"] for h in TILE_HOSTS)]
    assert unexpected == []
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (r) { return r.name; });"
    )
    external = [
        r for r in resources if r.startswith("http") and not any(h in r for h in TILE_HOSTS)
    ]
    assert external == []


def test_toggling_an_overlay_hides_and_shows_its_legend_entry(browser):
    driver, _, _ = browser
    label = "Gares fret SNCF"
    entry = driver.find_element(By.CSS_SELECTOR, f'.foncier-legend-entry[data-label="{label}"]')
    (item,) = [
        el
        for el in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")
        if el.text.strip() == label
    ]
    checkbox = item.find_element(By.CSS_SELECTOR, "input")
    assert checkbox.is_selected()
    assert entry.is_displayed()
    checkbox.click()
    wait_for(lambda: not entry.is_displayed())
    assert not checkbox.is_selected()
    # The other entries stay.
    other = driver.find_element(
        By.CSS_SELECTOR, '.foncier-legend-entry[data-label="Postes électriques RTE"]'
    )
    assert other.is_displayed()
    checkbox.click()
    wait_for(entry.is_displayed)


def test_clicking_a_site_shows_its_score_breakdown(browser):
    driver, scored, _ = browser
    ranked = scored.loc[scored["rank"].notna()].sort_values("rank")
    row = ranked.iloc[12]  # outside the top 10: no rank badge on it
    popup = open_site_popup(driver, scored, row["site_id"])
    rows = [
        [td.text for td in tr.find_elements(By.CSS_SELECTOR, "td, th")]
        for tr in popup.find_elements(By.CSS_SELECTOR, "table.foncier-breakdown tr")
    ]
    assert rows[0] == ["Critère", "Valeur", "Note 0–1", "Poids", "Contribution"]
    by_label = {r[0]: r for r in rows[1:]}

    def fr(x: float, d: int) -> str:
        return f"{x:.{d}f}".replace(".", ",")

    d = row["rail__raw"]
    assert by_label["Gare fret"][1] == (f"{d:.0f} m" if d < 1000 else f"{fr(d / 1000, 1)} km")
    assert by_label["Gare fret"][2] == fr(row["rail__score"], 2)
    assert by_label["Gare fret"][3] == "60 %"
    assert by_label["Gare fret"][4] == f"{fr(100 * row['rail__contrib'], 1)} pts"
    assert by_label["Zone inondable"][1] == f"{100 * row['flood__raw']:.0f} %"
    assert by_label["Zone inondable"][4] == f"{fr(100 * row['flood__contrib'], 1)} pts"
    lines = [el.text for el in popup.find_elements(By.CSS_SELECTOR, ".fp-line")]
    assert lines[0] == f"Rang {int(row['rank'])} · score {fr(row['score'], 1)} / 100"
    assert any(line.startswith("Robustesse : dans le top 10 dans") for line in lines)


def test_hostile_names_are_shown_as_text(browser):
    driver, scored, _ = browser
    for site_id, raw in zip(("S0000", "S0001"), HOSTILE, strict=True):
        popup = open_site_popup(driver, scored, site_id)
        title = popup.find_element(By.CSS_SELECTOR, ".fp-title")
        assert title.text == f"Site {site_id} – {raw}"
        assert title.find_elements(By.CSS_SELECTOR, "*") == []
    assert driver.find_elements(By.CSS_SELECTOR, "img[src='x']") == []
    assert driver.execute_script("return window.__alerts.length;") == 0
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_save_png_has_the_requested_size_and_draws_the_map(browser, tmp_path):
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    _, _, html_path = browser
    out = save_png(html_path, tmp_path / "map.png", width=900, height=600, wait_s=3)
    assert _png_size(out) == (900, 600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a picture, not a map file
        src = rasterio.open(out)
    with src:
        img = src.read()[:3].transpose(1, 2, 0).reshape(-1, 3).astype(int)
    colours, counts = np.unique(img, axis=0, return_counts=True)
    assert len(colours) > 50  # not blank: sites, legend, title, icons
    # Offline, the background is the plain one, not Leaflet's grey.
    top = colours[np.argmax(counts)]
    assert np.abs(top - np.array([242, 239, 233])).max() <= 3
    # The darkest score class is drawn (vector layers render without tiles): its colour at
    # 75 % opacity over the plain background.
    dark = class_colors("YlGnBu", 5)[-1]
    rgb = np.array([int(dark[i : i + 2], 16) for i in (1, 3, 5)])
    blended = 0.75 * rgb + 0.25 * np.array([242, 239, 233])
    assert (np.abs(img - blended).max(axis=1) <= 12).sum() > 100


def test_save_pdf(browser, tmp_path):
    _, _, html_path = browser
    out = save_png(html_path, tmp_path / "map.pdf", width=900, height=600, wait_s=2, pdf=True)
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) == 1

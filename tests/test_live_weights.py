"""Live weights in the siting map, in a real browser (Debian's headless Chromium + Selenium).

The reader moves sliders; every site's score, the ranks, the badges, the classes and the
popups recomputed by the page are compared with ``foncier.score`` run in Python with the
same weights, for a weighted sum, a weighted product and an OWA profile.
"""

from __future__ import annotations

import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from test_browser import TILE_HOSTS, _missing_browser, open_site_popup, wait_for
from test_mapping import make_territory
from test_weights_panel import HOSTILE_LABEL, make_layers, make_profile, make_sites

import foncier
from foncier.engine.diagnostics import ranking_diagnostics
from foncier.engine.profiles import load_profile
from foncier.reports.mapping import siting_map
from maps.choropleth import classify_values
from maps.export import save_html

pytestmark = pytest.mark.browser

_MISSING = _missing_browser()
if _MISSING:
    pytest.skip(f"headless Chromium is not available: {_MISSING}", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from maps.browser import headless_chromium  # noqa: E402


class Page:
    """A siting map open in the browser, and the Python side it was made from."""

    def __init__(self, driver, sites, layers, profile, path):
        self.driver, self.sites, self.layers, self.profile, self.path = (
            driver,
            sites,
            layers,
            profile,
            path,
        )

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def slider(self, cid: str):
        return self.driver.find_element(By.CSS_SELECTOR, f'input[data-criterion="{cid}"]')

    def move(self, cid: str, value: int) -> None:
        """Set a slider like a user: keyboard for small values, else the value + an input event."""
        el = self.slider(cid)
        if value <= 12:
            el.send_keys(Keys.HOME)
            for _ in range(value):
                el.send_keys(Keys.ARROW_RIGHT)
        else:
            self.js(
                "arguments[0].value = arguments[1];"
                "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                el,
                value,
            )
        assert int(el.get_attribute("value")) == value

    def state(self) -> pd.DataFrame:
        got = self.js(
            "var r = foncierWeights.result; return [Array.from(r.score), Array.from(r.rank),"
            " Array.from(r.exAequo), Array.from(r.tiebreak)];"
        )
        return pd.DataFrame(
            {"score": got[0], "rank": got[1], "ex_aequo": got[2], "tiebreak": got[3]},
            index=self.sites.index,
        )

    def python(self, points: dict[str, float]) -> gpd.GeoDataFrame:
        return foncier.score(self.sites, self.layers, self.profile.with_weights(points))


@pytest.fixture(scope="module", params=["weighted_sum", "weighted_product", "owa"])
def page(request, tmp_path_factory):
    sites, layers = make_sites(), make_layers()
    layers = {k: v for k, v in layers.items() if k != "motorway_junctions"}  # skipped criterion
    prof = make_profile(request.param)
    scored = foncier.score(sites, layers, prof)
    m = siting_map(
        scored, territory=make_territory(4), layers=layers, profile=prof, basemaps=("plain",)
    )
    path = save_html(m, tmp_path_factory.mktemp("live") / "carte.html", self_contained=True)
    with headless_chromium(width=1400, height=900) as driver:
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "window.__alerts = []; window.alert = function (m) { __alerts.push(m); };"},
        )
        driver.get(path.as_uri())
        wait_for(lambda: driver.execute_script("return !!window.foncierWeights;"))
        driver.find_element(By.CSS_SELECTOR, ".fw-toggle").click()
        yield Page(driver, sites, layers, prof, path)


WEIGHT_SETS = [
    {"rail": 7, "port": 0, "power": 55, "labour": 3},
    {"rail": 100, "port": 100, "power": 100, "labour": 100},
    {"rail": 0, "port": 9, "power": 0, "labour": 0},
    {"rail": 31, "port": 77, "power": 12, "labour": 64},
]


def test_opens_with_the_profile_weights_and_python_ranking(page):
    scored = foncier.score(page.sites, page.layers, page.profile)
    got = page.state()
    assert np.abs(got["score"] - scored["score"]).max() <= 1e-9
    assert (got["rank"] == scored["rank"].fillna(0).astype(int)).all()
    # The panel: one labelled slider per scored criterion, the skipped one greyed, the
    # aggregation named, the note on exclusions.
    panel = page.driver.find_element(By.CSS_SELECTOR, ".foncier-weights")
    sliders = panel.find_elements(By.CSS_SELECTOR, "input[type=range]")
    assert [s.get_attribute("data-criterion") for s in sliders] == [
        "rail",
        "port",
        "power",
        "labour",
    ]
    for s in sliders:
        label = panel.find_element(By.CSS_SELECTOR, f'label[for="{s.get_attribute("id")}"]')
        assert label.text
        assert s.get_attribute("aria-valuetext").endswith("%")
    assert HOSTILE_LABEL in panel.text  # shown as text
    assert page.driver.find_elements(By.CSS_SELECTOR, ".foncier-weights img") == []
    skipped = panel.find_element(By.CSS_SELECTOR, ".fw-skipped")
    assert "Échangeur" in skipped.text
    assert "non évalué" in skipped.text
    assert "Agrégation" in panel.text
    assert "En zone inondable" in panel.text
    assert "non repondérées" in panel.text
    # Shown weights: the profile's, normalised over the criteria actually scored (4+3+2+1).
    shares = [o.text for o in panel.find_elements(By.CSS_SELECTOR, "output")]
    assert shares == ["40 %", "30 %", "20 %", "10 %"]


@pytest.mark.parametrize("weights", WEIGHT_SETS)
def test_moving_sliders_gives_python_scores_and_ranking(page, weights):
    for cid, value in weights.items():
        page.move(cid, value)
    points = page.js("return foncierWeights.points();")
    assert points == {**weights, "motorway": 17}  # the skipped criterion keeps its points
    got = page.state()
    py = page.python(points)
    # Every site's score, to 1e-9 (in fact to the bit: same arithmetic as numpy).
    assert np.abs(got["score"].to_numpy() - py["score"].to_numpy()).max() <= 1e-9
    if page.profile.aggregation != "weighted_product":
        # Sums and products only: the browser repeats numpy's operations in numpy's order.
        # (A weighted product goes through log and exp, whose last bit differs between
        # JavaScript engines and C libraries.)
        assert (got["score"].to_numpy() == py["score"].to_numpy()).all()
    # Same unique ranks, ex aequo flags and top N; excluded sites stay out.
    assert (got["rank"] == py["rank"].fillna(0).astype(int)).all()
    assert (got["ex_aequo"].astype(bool) == py["ex_aequo"].astype(bool)).all()
    assert (got.loc[py["excluded"], "rank"] == 0).all()
    top_py = py.loc[py["rank"] <= 10].sort_values("rank")["site_id"].tolist()
    top_js = [
        page.sites["site_id"].iloc[i]
        for i in page.js("return foncierWeights.result.order.slice(0, 10);")
    ]
    assert top_js == top_py
    assert len(top_js) == 10
    # Never more than N badges, numbered 1..N.
    badges = page.driver.find_elements(By.CSS_SELECTOR, ".foncier-rank-icon .foncier-rank")
    assert sorted(int(b.text) for b in badges) == list(range(1, 11))
    # The URL fragment keeps the weights.
    assert page.driver.current_url.endswith(
        "#poids=" + ",".join(f"{c}:{weights[c]}" for c in ("rail", "port", "power", "labour"))
    )
    # Shown shares are the weights in force.
    shares = [o.text for o in page.driver.find_elements(By.CSS_SELECTOR, ".foncier-weights output")]
    assert shares == [
        f"{100 * py[f'{c}__weight'].iloc[0]:.0f} %" for c in ("rail", "port", "power", "labour")
    ]


# ------------------------------------------------------------------ ranking diagnostics


def js_diagnostics(page) -> dict:
    return page.js("return foncierWeights.result.diagnostics;")


def assert_same_diagnostics(got: dict, py) -> None:
    """The page's diagnostics equal foncier.engine.diagnostics.ranking_diagnostics."""

    def same(a, b, tol):
        a = float("nan") if a is None else float(a)
        b = float("nan") if b is None else float(b)
        return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= tol

    want = py.as_dict()
    for key in ("top_n", "n_ranked", "n_tied_first", "discriminates", "reasons", "message"):
        assert got[key] == want[key], (key, got[key], want[key])
    assert same(got["best_score"], want["best_score"], 1e-9)
    assert same(got["top_n_spread"], want["top_n_spread"], 1e-9)
    assert [c["id"] for c in got["criteria"]] == [c["id"] for c in want["criteria"]]
    for g, w in zip(got["criteria"], want["criteria"], strict=True):
        for key in ("separates", "saturated", "intended", "label"):
            assert g[key] == w[key], (g["id"], key)
        for key in ("share_at_min", "share_at_max", "spread", "top_mean", "rest_median"):
            assert same(g[key], w[key], 1e-12), (g["id"], key, g[key], w[key])
    assert got["lines"] == py.lines()[1:]


def banner(page):
    return page.driver.find_element(By.CSS_SELECTOR, '.foncier-notice[data-name="ranking"]')


def badge_numbers(page) -> list[int]:
    badges = page.driver.find_elements(By.CSS_SELECTOR, ".foncier-rank-icon .foncier-rank")
    return sorted(int(b.text) for b in badges)


def note_text(page) -> tuple[str, list[str]]:
    note = next(
        e
        for e in page.driver.find_elements(By.CSS_SELECTOR, ".foncier-note")
        if e.find_element(By.CSS_SELECTOR, "summary")
        .get_attribute("textContent")
        .startswith("Classement : ")
    )
    summary = note.find_element(By.CSS_SELECTOR, "summary").get_attribute("textContent")
    lines = [li.get_attribute("textContent") for li in note.find_elements(By.CSS_SELECTOR, "li")]
    return summary, lines


# Only the stepped criterion (1 for every site within 1.5 km of a 90 kV+ substation) counts:
# 105 of the 256 sites share the best score. Then that criterion with a pinch of the labour
# pool: a weighted sum and product single out their top 10 again, an OWA keeps its first ten
# within 0.04 point. Figures from ranking_diagnostics on the Python side.
SATURATED_ONLY = {"rail": 0, "port": 0, "power": 100, "labour": 0}
NEARLY_SATURATED = {"rail": 0, "port": 0, "power": 100, "labour": 1}


@pytest.mark.parametrize("weights", WEIGHT_SETS)
def test_page_diagnostics_equal_python_for_any_weights(page, weights):
    for cid, value in weights.items():
        page.move(cid, value)
    py = page.python(page.js("return foncierWeights.points();"))
    assert_same_diagnostics(js_diagnostics(page), ranking_diagnostics(py))


def test_only_a_saturated_criterion_shows_the_banner_and_no_badge(page):
    scored = foncier.score(page.sites, page.layers, page.profile)
    py0 = ranking_diagnostics(scored)
    assert py0.discriminates  # the map opens with a clear top 10
    page.driver.find_element(By.CSS_SELECTOR, ".fw-reset").click()
    assert not banner(page).is_displayed()
    assert badge_numbers(page) == list(range(1, 11))
    # The page rewrites the ranking note with the same text as Python wrote.
    summary0, lines0 = note_text(page)
    assert summary0 == "Classement : " + py0.message
    assert lines0[: len(py0.lines()) - 1] == py0.lines()[1:]

    for cid, value in SATURATED_ONLY.items():
        page.move(cid, value)
    py = ranking_diagnostics(page.python(page.js("return foncierWeights.points();")))
    assert not py.discriminates
    assert py.n_tied_first == 105
    assert_same_diagnostics(js_diagnostics(page), py)
    assert banner(page).is_displayed()
    assert "Aucun site ne se détache" in banner(page).text
    items = [li.text for li in banner(page).find_elements(By.CSS_SELECTOR, "li")]
    assert items == ["105 sites ont le meilleur score (100,0) pour un top 10"]
    assert badge_numbers(page) == []
    summary, lines = note_text(page)
    assert summary == "Classement : " + py.message
    assert lines[: len(py.lines()) - 1] == py.lines()[1:]
    assert lines[len(py.lines()) - 1 :] == lines0[len(py.lines()) - 1 :]  # other notes kept

    page.move("labour", NEARLY_SATURATED["labour"])
    py = ranking_diagnostics(page.python(page.js("return foncierWeights.points();")))
    assert_same_diagnostics(js_diagnostics(page), py)
    assert banner(page).is_displayed() is (not py.discriminates)
    assert badge_numbers(page) == ([] if not py.discriminates else list(range(1, 11)))
    if page.profile.aggregation == "owa":
        assert py.reasons == ("les 10 premiers sites tiennent en 0,04 point (moins de 0,1 point)",)
    else:
        assert py.discriminates

    # Back to the profile's weights: the banner goes, the ten badges and the note come back.
    page.driver.find_element(By.CSS_SELECTOR, ".fw-reset").click()
    assert not banner(page).is_displayed()
    assert badge_numbers(page) == list(range(1, 11))
    assert note_text(page) == (summary0, lines0)
    assert_same_diagnostics(js_diagnostics(page), ranking_diagnostics(scored))


def test_a_map_that_opens_with_nothing_standing_out_gets_its_badges_back(tmp_path):
    sites, layers = make_sites(), make_layers()
    layers = {k: v for k, v in layers.items() if k != "motorway_junctions"}
    prof = make_profile("weighted_sum").with_weights({**SATURATED_ONLY, "motorway": 17})
    scored = foncier.score(sites, layers, prof)
    assert not ranking_diagnostics(scored).discriminates
    m = siting_map(
        scored, territory=make_territory(4), layers=layers, profile=prof, basemaps=("plain",)
    )
    path = save_html(m, tmp_path / "carte.html", self_contained=True)
    with headless_chromium(width=1400, height=900) as driver:
        driver.get(path.as_uri())
        wait_for(lambda: driver.execute_script("return !!window.foncierWeights;"))
        pg = Page(driver, sites, layers, prof, path)
        driver.find_element(By.CSS_SELECTOR, ".fw-toggle").click()
        # As Python drew it: the banner, no badge.
        assert banner(pg).is_displayed()
        assert badge_numbers(pg) == []
        assert_same_diagnostics(js_diagnostics(pg), ranking_diagnostics(scored))
        pg.move("rail", 40)
        py = pg.python(pg.js("return foncierWeights.points();"))
        assert ranking_diagnostics(py).discriminates
        assert_same_diagnostics(js_diagnostics(pg), ranking_diagnostics(py))
        assert not banner(pg).is_displayed()
        assert badge_numbers(pg) == list(range(1, 11))
        top_py = py.loc[py["rank"] <= 10].sort_values("rank")["site_id"].tolist()
        order = pg.js("return foncierWeights.result.order.slice(0, 10);")
        assert [sites["site_id"].iloc[i] for i in order] == top_py
        driver.find_element(By.CSS_SELECTOR, ".fw-reset").click()
        assert banner(pg).is_displayed()
        assert badge_numbers(pg) == []
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert [e for e in severe if not any(h in e["message"] for h in TILE_HOSTS)] == []


def test_classes_and_legend_follow_the_new_scores(page):
    weights = WEIGHT_SETS[3]
    for cid, value in weights.items():
        page.move(cid, value)
    py = page.python(page.js("return foncierWeights.points();"))
    kept = py.loc[~py["excluded"], "score"].to_numpy()
    bins = classify_values(kept, scheme="Quantiles", k=5).bins
    rows = page.driver.find_elements(
        By.CSS_SELECTOR, ".foncier-legend .foncier-classes .foncier-class"
    )
    uppers = [float(r.get_attribute("data-upper")) for r in rows]
    np.testing.assert_allclose(uppers, bins, rtol=0, atol=1e-12)
    texts = [r.text for r in rows]
    assert texts[0].startswith(f"{kept.min():.1f}".replace(".", ","))
    assert (
        "recalculées (quantiles)"
        in page.driver.find_element(By.CSS_SELECTOR, ".foncier-reclassed").text
    )


def test_popup_after_a_change_shows_the_new_rank_weights_and_why(page):
    weights = WEIGHT_SETS[0]
    for cid, value in weights.items():
        page.move(cid, value)
    py = page.python(page.js("return foncierWeights.points();"))
    best = py.loc[py["rank"] == 1].iloc[0]
    popup = open_site_popup(page.driver, page.sites.assign(geometry=py.geometry), best["site_id"])
    lines = [el.text for el in popup.find_elements(By.CSS_SELECTOR, ".fp-line")]
    tie = " (ex aequo)" if best["ex_aequo"] else ""
    assert lines[0] == f"Rang 1{tie} · score {best['score']:.1f} / 100".replace(".", ",")
    assert lines[1] == f"Pourquoi : {best['why']}"  # the same sentence as Python's
    rows = {
        r.find_elements(By.CSS_SELECTOR, "td")[0].text: [
            td.text for td in r.find_elements(By.CSS_SELECTOR, "td")
        ]
        for r in popup.find_elements(By.CSS_SELECTOR, "tr")[1:]
    }
    assert rows["Port fluvial"][3] == f"{100 * best['port__weight']:.0f} %"
    assert rows["Port fluvial"][4] == f"{100 * best['port__contrib']:.1f} pts".replace(".", ",")
    assert page.js("return window.__alerts.length;") == 0


def test_copied_profile_reproduces_the_ranking(page, tmp_path):
    weights = WEIGHT_SETS[3]
    for cid, value in weights.items():
        page.move(cid, value)
    page.driver.find_element(By.CSS_SELECTOR, ".fw-copy").click()
    area = page.driver.find_element(By.CSS_SELECTOR, ".fw-toml")
    wait_for(lambda: area.get_attribute("value"))
    text = area.get_attribute("value")
    assert tomllib.loads(text)["criteria"][0]["weight"] == 31
    path = tmp_path / "profil.toml"
    path.write_text(text, encoding="utf-8")
    prof = load_profile(path)  # what `foncier map --profile profil.toml` reads
    assert prof.aggregation == page.profile.aggregation
    py = foncier.score(page.sites, page.layers, prof)
    got = page.state()
    assert (got["rank"] == py["rank"].fillna(0).astype(int)).all()
    assert np.abs(got["score"].to_numpy() - py["score"].to_numpy()).max() <= 1e-9


def test_a_shared_link_opens_with_its_weights_and_reset_goes_back(page):
    weights = WEIGHT_SETS[1 if page.profile.aggregation == "owa" else 2]
    for cid, value in weights.items():
        page.move(cid, value)
    url = page.driver.current_url
    before = page.state()
    page.driver.get("about:blank")
    page.driver.get(url)
    wait_for(lambda: page.js("return !!window.foncierWeights;"))
    assert page.js("return foncierWeights.points();") == {**weights, "motorway": 17}
    assert page.js("return foncierWeights.changed();") is True
    pd.testing.assert_frame_equal(page.state(), before)
    page.driver.find_element(By.CSS_SELECTOR, ".fw-toggle").click()
    page.driver.find_element(By.CSS_SELECTOR, ".fw-reset").click()
    assert "#poids" not in page.driver.current_url
    scored = foncier.score(page.sites, page.layers, page.profile)
    assert (page.state()["rank"] == scored["rank"].fillna(0).astype(int)).all()
    severe = [e for e in page.driver.get_log("browser") if e["level"] == "SEVERE"]
    assert [e for e in severe if not any(h in e["message"] for h in TILE_HOSTS)] == []


@pytest.mark.parametrize(
    "fragment", ["#poids=rail:abc,inconnu:3", "#poids=rail:101", "#poids=%E0%A4%A:3,rail:2"]
)
def test_a_bad_link_keeps_the_profile_weights(page, fragment):
    page.driver.get("about:blank")
    page.driver.get(page.path.as_uri() + fragment)
    wait_for(lambda: page.js("return !!window.foncierWeights;"))
    assert page.js("return foncierWeights.changed();") is False
    state = page.driver.find_element(By.CSS_SELECTOR, ".fw-state").get_attribute("textContent")
    assert "illisibles" in state
    severe = [e for e in page.driver.get_log("browser") if e["level"] == "SEVERE"]
    assert [e for e in severe if not any(h in e["message"] for h in TILE_HOSTS)] == []
    page.driver.find_element(By.CSS_SELECTOR, ".fw-toggle").click()


@pytest.mark.slow
def test_the_five_presets_open_with_the_panel_and_no_console_error(tmp_path):
    from foncier.pipeline import siting_study
    from layers.territories import presets

    with headless_chromium(width=1400, height=900) as driver:
        for pid in presets():
            study = siting_study(pid, draws=20)
            path = save_html(study.map(), tmp_path / f"{pid}.html", self_contained=True)
            assert path.stat().st_size <= 3_000_000, (pid, path.stat().st_size)
            driver.get(path.as_uri())
            wait_for(lambda: driver.execute_script("return !!window.foncierWeights;"))
            active = [c["id"] for c in study.scored.attrs["foncier"]["criteria"]]
            sliders = driver.find_elements(By.CSS_SELECTOR, ".foncier-weights input[type=range]")
            assert [s.get_attribute("data-criterion") for s in sliders] == active
            driver.find_element(By.CSS_SELECTOR, ".fw-toggle").click()
            sliders[0].send_keys(Keys.END)
            assert driver.execute_script("return foncierWeights.changed();") is True
            badges = driver.find_elements(By.CSS_SELECTOR, ".foncier-rank-icon .foncier-rank")
            stands_out = driver.execute_script(
                "return foncierWeights.result.diagnostics.discriminates;"
            )
            expected = list(range(1, study.top_n + 1)) if stands_out else []
            assert sorted(int(b.text) for b in badges) == expected, pid
            severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert [e for e in severe if not any(h in e["message"] for h in TILE_HOSTS)] == [], pid

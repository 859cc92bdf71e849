"""The printable "fiche site": figures, breakdown, escaping, inline SVG map, index, PDF."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

# The hand-made study shared with the export tests (same folder, on pytest's import path).
from test_exports import tiny_study

from foncier.pipeline import SitingStudy
from foncier.reports.fiche import site_figures, site_map_svg, site_sheet, site_sheets
from layers.errors import RankingError, SchemaError

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def study() -> SitingStudy:
    return tiny_study()


def fr(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def svg_of(page: str) -> ET.Element:
    match = re.search(r"<svg .*?</svg>", page, re.S)
    assert match is not None
    return ET.fromstring(match.group(0))


def path_points(d: str) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in re.findall(r"-?[\d.]+,-?[\d.]+", d)])


def test_key_figures_are_the_hand_computed_distances(study: SitingStudy) -> None:
    figs = site_figures(study, "A").set_index("figure")
    assert figs.loc["rail_freight", "name"] == "Gare Un"
    assert figs.loc["rail_freight", "distance_m"] == pytest.approx(300.0)
    assert figs.loc["port", "distance_m"] == pytest.approx(math.hypot(500, 500))
    assert figs.loc["substation", "name"] == "Poste X (63 kV)"
    assert figs.loc["substation", "distance_m"] == pytest.approx(100.0)
    assert math.isnan(
        figs.to_dict("index")["motorway"]["distance_m"]
    )  # no motorway layer in the study
    # The nearest point of the station is the station itself.
    assert (figs.loc["rail_freight", "x"], figs.loc["rail_freight", "y"]) == (
        651_800.0,
        6_851_200.0,
    )


def test_sheet_has_rank_figures_and_breakdown_equal_to_scored(study: SitingStudy) -> None:
    page = site_sheet(study, "A")
    row = study.scored.loc["A"]
    assert "rang <b>1</b> sur 2" in page
    assert "25,0 ha" in page
    assert "300 m" in page
    assert "Gare Un" in page
    assert "Poste X (63 kV)" in page
    assert "couche absente" in page  # motorway junctions
    for crit in ("rail_freight", "river_port"):
        assert f">{fr(row[f'{crit}__score'], 2)}<" in page
        assert f">{fr(row[f'{crit}__weight'], 2)}<" in page
        assert f">{fr(100 * row[f'{crit}__contrib'], 1)}<" in page
    assert f">{fr(row['score'], 1)}<" in page
    assert "rang entre 1 et 2" in page
    assert "90 %" in page
    assert "@page" in page
    assert "size: A4" in page


def test_hostile_site_name_is_escaped(study: SitingStudy) -> None:
    page = site_sheet(study, "A")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_svg_draws_the_site_polygon_to_scale(study: SitingStudy) -> None:
    svg = svg_of(site_sheet(study, "A"))
    site = svg.find(f"{SVG}path[@class='site']")
    assert site is not None
    pts = path_points(site.get("d", ""))
    assert len(pts) == 5  # the square's ring, closed
    width_px = pts[:, 0].max() - pts[:, 0].min()
    height_px = pts[:, 1].max() - pts[:, 1].min()
    assert width_px == pytest.approx(height_px, abs=0.2)  # a square stays a square
    # The scale bar is drawn at the site's scale: 500 m of site = width_px pixels.
    bar = svg.find(f"{SVG}g[@class='scalebar']")
    assert bar is not None
    bar_path = bar.find(f"{SVG}path")
    assert bar_path is not None
    bar_pts = path_points(bar_path.get("d", ""))
    bar_px = bar_pts[:, 0].max() - bar_pts[:, 0].min()
    label = "".join(bar.itertext())
    metres = float(label.split()[0].replace(",", ".")) * (1000 if "km" in label else 1)
    assert bar_px / metres == pytest.approx(width_px / 500.0, rel=0.01)
    # The station 300 m east of the site is drawn 300 m east of the site's east edge.
    texts = [t for t in svg.iter(f"{SVG}text") if t.text == "Gare Un"]
    assert texts
    circles = [(float(c.get("cx", 0)), float(c.get("cy", 0))) for c in svg.iter(f"{SVG}circle")]
    east = pts[:, 0].max()
    assert any(cx - east == pytest.approx(300 * width_px / 500, abs=0.3) for cx, _ in circles)


def test_svg_is_well_formed_even_with_hostile_labels(study: SitingStudy) -> None:
    svg = site_map_svg(study, "B")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"


def test_excluded_site_shows_its_reason(study: SitingStudy) -> None:
    page = site_sheet(study, "C")
    assert "site exclu" in page
    reasons = study.scored.loc["C", "exclusion_reasons"]
    assert reasons
    assert reasons.split(" (")[0].replace("'", "&#x27;") in page


def test_unknown_site_is_a_clear_error(study: SitingStudy) -> None:
    with pytest.raises(SchemaError, match=r"study\.top"):
        site_sheet(study, "ZZZ")


def test_site_sheets_writes_top_sites_and_index(study: SitingStudy, tmp_path: Path) -> None:
    paths = site_sheets(study, tmp_path / "fiches", top_n=5)
    names = [p.name for p in paths]
    # Two sites are ranked (C is excluded): two sheets, best first, then the index.
    assert names == ["fiche_01_A.html", "fiche_02_B.html", "index.html"]
    index = (tmp_path / "fiches" / "index.html").read_text(encoding="utf-8")
    assert "href='fiche_01_A.html'" in index
    assert "href='fiche_02_B.html'" in index
    assert "&lt;script&gt;" in index
    assert "<script>" not in index
    sheet = paths[1].read_text(encoding="utf-8")
    assert "Site B" in sheet
    assert "rang <b>2</b>" in sheet
    assert sorted(p.name for p in (tmp_path / "fiches").iterdir()) == sorted(names)


def test_site_sheet_by_site_id_and_written_file(study: SitingStudy, tmp_path: Path) -> None:
    target = tmp_path / "b.html"
    page = site_sheet(study, "B", path=target)
    assert target.read_text(encoding="utf-8") == page
    assert "Gare Deux" in page
    assert "500 m" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_site_sheets_print_to_pdf(study: SitingStudy, tmp_path: Path) -> None:
    paths = site_sheets(study, tmp_path, top_n=1, pdf=True)
    pdf = tmp_path / "fiche_01_A.pdf"
    assert pdf in paths
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) == 1  # one A4 page


def _undiscriminating(study: SitingStudy) -> SitingStudy:
    """The same study with every ranked site at the same scores (nothing separates them)."""
    scored = study.scored.copy()
    for c in scored.attrs["foncier"]["criteria"]:
        scored[f"{c['id']}__score"] = 1.0
    scored["score"] = 100.0
    scored["ex_aequo"] = ~scored["excluded"].astype(bool)
    return dataclasses.replace(study, scored=scored)


def test_site_sheets_refuse_when_nothing_discriminates(study: SitingStudy, tmp_path: Path) -> None:
    flat = _undiscriminating(study)
    with pytest.raises(RankingError, match="Aucun site ne se détache") as err:
        site_sheets(flat, tmp_path / "fiches", top_n=5)
    assert "aucun critère ne varie d'un site à l'autre" in str(err.value)
    assert "--force" in str(err.value)
    assert not (tmp_path / "fiches").exists()  # nothing half-written
    paths = site_sheets(flat, tmp_path / "fiches", top_n=5, force=True)
    assert [p.name for p in paths] == ["fiche_01_A.html", "fiche_02_B.html", "index.html"]
    index = paths[-1].read_text(encoding="utf-8")
    assert "Aucun site ne se détache" in index
    assert index.count("(ex aequo)") == 2
    sheet = paths[0].read_text(encoding="utf-8")
    assert "rang <b>1</b> sur 2 (ex aequo : même score que 1 autre site)" in sheet
    assert "<h2>Classement</h2><p class='excluded'>Aucun site ne se détache" in sheet


def test_sheet_states_the_ranking_diagnostics(study: SitingStudy) -> None:
    page = site_sheet(study, "A")
    assert "<h2>Classement</h2><p class='why'>Le classement distingue ses 2 premiers sites" in page
    assert "ex aequo" not in page

"""The ``foncier`` command as a user runs it."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from foncier.cli import app
from foncier.engine.profiles import load_profile
from foncier.pipeline import default_profile

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("territories", "profiles", "layers", "map", "score", "fetch"):
        assert command in result.output


def test_territories_lists_the_presets():
    result = runner.invoke(app, ["territories"])
    assert result.exit_code == 0
    for pid in (
        "grand-compiegnois",
        "chalons-en-champagne",
        "chartres-metropole",
        "alencon",
        "soissonnais-valois",
    ):
        assert pid in result.output


def test_profiles_lists_criteria_and_weights():
    result = runner.invoke(app, ["profiles"])
    assert result.exit_code == 0
    assert "logistique-multimodale" in result.output
    assert "Gare fret" in result.output
    assert re.search(r"\d+%", result.output)


def test_unknown_territory_fails_with_suggestions(tmp_path):
    result = runner.invoke(app, ["map", "compiegne", "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 3  # bad input
    assert "grand-compiegnois" in result.output
    assert not (tmp_path / "x.html").exists()


def test_layers_counts_offline_features(test_data):
    import json

    import shapely

    from layers.territories import territory

    result = runner.invoke(app, ["layers", "alencon"])
    assert result.exit_code == 0
    # Independent count: distinct UIC codes of SNCF freight points within 30 km of the CU
    # d'Alençon, read from the raw SNCF file.
    raw = json.loads(
        (test_data / "infrastructure" / "sncf_liste_des_gares_france.geojson").read_text()
    )
    t = territory("alencon")
    area = t.area_with_margin(30_000)
    codes = {
        f["properties"]["code_uic"]
        for f in raw["features"]
        if f["properties"]["fret"] == "O"
        and shapely.intersects(
            area, shapely.Point(float(f["properties"]["x_l93"]), float(f["properties"]["y_l93"]))
        )
    }
    row = next(line for line in result.output.splitlines() if "rail_freight_stations" in line)
    assert f" {len(codes)} " in row

    def cells(layer: str) -> list[str]:
        line = next(x for x in result.output.splitlines() if f" {layer} " in x)
        return [c.strip() for c in line.split("│")[1:-1]]

    # Columns: layer, offline, online. Rail lines and tolled interchanges are embedded (and
    # also online); flood zones need a file; the stations are embedded only.
    assert cells("rail_lines")[1:3] == ["oui", "oui"]
    assert cells("motorway_junctions")[1:3] == ["oui", "oui"]
    assert cells("rail_stations")[1:3] == ["oui", "—"]
    assert cells("flood_zones")[1] == "—"


def test_plain_territory_map(tmp_path):
    out = tmp_path / "alencon.html"
    result = runner.invoke(app, ["map", "alencon", "--no-score", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Alençon" in html
    assert out.stat().st_size < 3_000_000


@pytest.mark.parametrize("preset", ["soissonnais-valois", "chartres-metropole"])
def test_siting_map_command_with_defaults_stays_small(tmp_path, preset):
    # The README's main command on the preset with the most communes (163) and on a
    # single-EPCI one: default sites and profile, HTML under 3 MB.
    out = tmp_path / "carte.html"
    result = runner.invoke(app, ["map", preset, "--draws", "20", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    expected_profile = default_profile(preset)
    assert load_profile(expected_profile).name.split(" (")[0] in html
    assert out.stat().st_size < 3_000_000


def test_bad_sites_option_is_a_clear_error(tmp_path):
    result = runner.invoke(
        app, ["map", "alencon", "--sites", "hex:-5", "-o", str(tmp_path / "x.html")]
    )
    assert result.exit_code == 2  # bad usage
    assert "cell size" in result.output


def test_fetch_refuses_offline_mode(monkeypatch):
    from layers.config import settings

    monkeypatch.setattr(settings, "offline", True)
    result = runner.invoke(app, ["fetch", "alencon"])
    assert result.exit_code == 4  # a data source cannot deliver
    assert "offline" in result.output


def test_fiches_command_writes_one_sheet_per_top_site(tmp_path):
    out = tmp_path / "fiches"
    result = runner.invoke(
        app,
        ["fiches", "alencon", "--sites", "hex:3000", "--top", "3", "--draws", "0", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    sheets = sorted(out.glob("fiche_*.html"))
    assert len(sheets) == 3
    assert (out / "index.html").exists()
    assert "Alençon" in sheets[0].read_text(encoding="utf-8")


@pytest.mark.browser
def test_map_png_and_pdf_at_the_chosen_size(tmp_path):
    import shutil
    import struct

    if not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    png, pdf = tmp_path / "carte.png", tmp_path / "carte.pdf"
    result = runner.invoke(
        app,
        [
            "map", "alencon", "--no-score", "-o", str(tmp_path / "carte.html"),
            "--png", str(png), "--pdf", str(pdf), "--size", "800x500",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (800, 500)  # IHDR width, height
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_bad_picture_size_is_refused(tmp_path):
    result = runner.invoke(
        app, ["map", "alencon", "--no-score", "-o", str(tmp_path / "x.html"), "--size", "big"]
    )
    assert result.exit_code != 0
    assert "WIDTHxHEIGHT" in result.output


FLAT_PROFILE = """
[profile]
id = "rail-seul"
name = "Rail seul"

[[criteria]]
id = "rail_freight"
label = "Gare fret"
measure = "distance"
layer = "rail_freight_stations"
unit = "m"
weight = 1
transform = { kind = "linear", from = 500, to = 10000, direction = "decreasing" }
"""


def test_nothing_discriminates_is_said_and_fiches_refuse(tmp_path):
    # La Réunion has no rail freight station: every site scores 0 on the only criterion.
    profile = tmp_path / "rail.toml"
    profile.write_text(FLAT_PROFILE, encoding="utf-8")
    common = ["249740077", "-p", str(profile), "--sites", "hex:4000", "--draws", "0"]
    result = runner.invoke(app, ["score", *common, "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Aucun site ne se détache : aucun critère ne varie d'un site à l'autre" in text
    assert "(ex aequo)" in text
    out = tmp_path / "fiches"
    refused = runner.invoke(app, ["fiches", *common, "-o", str(out)])
    assert refused.exit_code == 3  # bad input: the ranking cannot single out sites
    assert "Fiches non écrites. Aucun site ne se détache" in " ".join(refused.output.split())
    assert not out.exists()
    forced = runner.invoke(app, ["fiches", *common, "--top", "2", "--force", "-o", str(out)])
    assert forced.exit_code == 0, forced.output
    assert len(list(out.glob("fiche_*.html"))) == 2

"""The composed maps: territory map and siting map (popups, legend, escaping, size)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from foncier.reports.mapping import site_popups, siting_map, territory_map
from layers.errors import CRSError, SchemaError
from layers.territories import Territory
from maps.export import render_html, save_html
from maps.styles import LAYER_STYLES

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
X0, Y0 = 680_000.0, 6_900_000.0


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.lines: list[str] = []
        self.title = ""
        self._cell: list[str] | None = None
        self._div: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "div" and a.get("class") in ("fp-line", "fp-title"):
            self._div = a["class"]
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "div" and self._div and self._cell is not None:
            text = "".join(self._cell)
            if self._div == "fp-title":
                self.title = text
            else:
                self.lines.append(text)
            self._div, self._cell = None, None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_popup(fragment: str) -> _Cells:
    p = _Cells()
    p.feed(fragment)
    return p


def site_popup(page: str, props: dict) -> _Cells:
    """The popup of a site as the browser builds it from its compact data (``_pt``)."""
    header = json.loads(re.search(r"var header = (\[.*?\]);", page).group(1))
    shared = json.loads(re.search(r"var shared = (\[.*?\]);", page).group(1))
    data = props["_pt"]
    p = _Cells()
    p.title = data["t"]
    p.rows = [header, *data["r"]]
    p.lines = [*data["f"], *shared]
    return p


def geojson_blocks(page: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r"_add\((\{.*\})\);", page)]


def site_features(page: str) -> dict[str, dict]:
    """Properties of the scored sites' features, by (escaped) site id."""
    return {
        f["properties"]["_id"]: f["properties"]
        for b in geojson_blocks(page)
        for f in b["features"]
        if "_id" in f["properties"]
    }


def make_territory(n_side: int = 4, *, vertices: int = 8) -> Territory:
    """Communes as n_side × n_side squares (each with ``vertices`` per side), two EPCI."""
    step = 5000.0
    comms = []
    for i in range(n_side):
        for j in range(n_side):
            x, y = X0 - 2000 + i * step, Y0 - 2000 + j * step
            t = np.linspace(0, 1, vertices, endpoint=False)
            ring = np.concatenate(
                [
                    np.c_[x + step * t, np.full_like(t, y)],
                    np.c_[np.full_like(t, x + step), y + step * t],
                    np.c_[x + step * (1 - t), np.full_like(t, y + step)],
                    np.c_[np.full_like(t, x), y + step * (1 - t)],
                ]
            )
            # A few metres of wobble, as real boundaries have; a function of the position, so
            # that neighbours still share their boundary exactly (as in Admin Express).
            wobble = np.c_[3 * np.sin(ring[:, 1] / 7.0), 3 * np.cos(ring[:, 0] / 11.0)]
            comms.append(shapely.Polygon(ring + wobble))
    n = len(comms)
    half = n // 2
    communes = gpd.GeoDataFrame(
        {
            "insee": [f"60{i:03d}" for i in range(n)],
            "nom": [f"Commune {i}" for i in range(n)],
            "epci_siren": ["200067965"] * half + ["246000749"] * (n - half),
            "epci_nom": ["CA de la Région de Compiègne"] * half + ["CC des Lisières"] * (n - half),
            "dep": "60",
            "reg": "32",
            "population": [1000 + 37 * i for i in range(n)],
        },
        geometry=comms,
        crs=2154,
    )
    communes.loc[2, "nom"] = HOSTILE[0]
    epci = (
        communes.dissolve("epci_siren", aggfunc={"epci_nom": "first", "population": "sum"})
        .reset_index()
        .rename(columns={"epci_siren": "siren", "epci_nom": "nom"})
    )
    epci["type"] = ["CA", "CC"]
    epci["n_communes"] = [half, n - half]
    return Territory(
        id="test",
        name="Grand Test",
        crs=communes.crs,
        perimeter=communes.union_all(),
        communes=communes,
        epci=epci[["siren", "nom", "type", "population", "n_communes", "geometry"]],
    )


def make_scored(n_side: int = 10, *, seed: int = 0) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """A scored table in the format of foncier.engine.scoring.score, with known values."""
    rng = np.random.default_rng(seed)
    cells = [
        shapely.box(X0 + i * 500, Y0 + j * 500, X0 + i * 500 + 480, Y0 + j * 500 + 480)
        for i in range(n_side)
        for j in range(n_side)
    ]
    n = len(cells)
    s = gpd.GeoDataFrame({"site_id": [f"S{i:04d}" for i in range(n)]}, geometry=cells, crs=2154)
    s["nom"] = [f"Parcelle {i}" for i in range(n)]
    s.loc[0, "nom"], s.loc[1, "nom"] = HOSTILE
    d = rng.uniform(50, 20_000, n)
    d[2], d[3] = 640.0, 2340.0  # one distance below 1 km, one above
    share = rng.uniform(0, 1, n)
    share[2], share[3] = 0.0, 0.25
    s["rail__raw"] = d
    s["rail__score"] = np.clip(1 - d / 20_000, 0, 1)
    s["rail__weight"] = 0.6
    s["rail__contrib"] = 0.6 * s["rail__score"]
    s["rail__nearest"] = "Longueil-Sainte-Marie"
    s["flood__raw"] = share
    s["flood__score"] = 1 - share
    s["flood__weight"] = 0.4
    s["flood__contrib"] = 0.4 * (1 - share)
    s["score"] = 100 * (s["rail__contrib"] + s["flood__contrib"])
    s["excluded"] = share > 0.9
    s.loc[[2, 3], "excluded"] = False
    s["exclusion_reasons"] = np.where(s["excluded"], "En zone inondable (plus de 90 %)", "")
    ranks = s["score"].where(~s["excluded"]).rank(ascending=False, method="min")
    s["rank"] = pd.array(ranks, dtype="Int64")
    s["why"] = ""
    s.attrs["foncier"] = {
        "profile": "logistique",
        "profile_name": "Logistique",
        "aggregation": "weighted_sum",
        "criteria": [
            {
                "id": "rail",
                "label": "Gare fret",
                "unit": "m",
                "layer": "rail_freight_stations",
                "weight": 0.6,
            },
            {
                "id": "flood",
                "label": "Zone inondable",
                "unit": "share",
                "layer": "flood_zones",
                "weight": 0.4,
            },
        ],
        "skipped": ["Échangeur autoroutier : couche motorway_junctions non disponible"],
    }
    sens = pd.DataFrame(
        {"p_top_n": rng.uniform(0, 1, n), "rank_p05": 2.0, "rank_p95": 5.0}, index=s.index
    )
    sens.loc[2, "p_top_n"] = 0.87
    sens.attrs["sensitivity"] = {"top_n": 10}
    return s, sens


def make_layers(n_points: int = 12, *, seed: int = 1) -> dict[str, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)

    def pts(n: int, name: str, source: str) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            {"nom": [f"{name} {i}" for i in range(n)], "source": source},
            geometry=gpd.points_from_xy(
                rng.uniform(X0, X0 + 15_000, n), rng.uniform(Y0, Y0 + 15_000, n)
            ),
            crs=2154,
        )

    rail = gpd.GeoDataFrame(
        {"nom": ["Ligne 242000"]},
        geometry=[shapely.LineString([(X0, Y0), (X0 + 7000, Y0 + 9000), (X0 + 15000, Y0 + 15000)])],
        crs=2154,
    )
    flood = gpd.GeoDataFrame(
        {"nom": ["PPRi de l'Oise"], "source": "Géorisques (Licence Ouverte 2.0)"},
        geometry=[shapely.Point(X0 + 4000, Y0 + 11000).buffer(2500)],
        crs=2154,
    )
    return {
        "rail_freight_stations": pts(n_points, "Gare", "SNCF, liste des gares (ODbL)"),
        "substations": pts(n_points, "Poste", "RTE / ODRE (Licence Ouverte 2.0)"),
        "rail_lines": rail,
        "flood_zones": flood,
    }


@pytest.fixture(scope="module")
def siting():
    scored, sens = make_scored()
    terr = make_territory()
    layers = make_layers()
    m = siting_map(
        scored,
        territory=terr,
        layers=layers,
        sensitivity=sens,
        attributions={"rail_lines": "SNCF Réseau, RFN (ODbL)"},
    )
    return scored, sens, layers, render_html(m)


# -------------------------------------------------------------------- siting map


def test_siting_map_has_every_layer_and_one_legend_entry_each(siting):
    _, _, layers, page = siting
    labels = re.findall(
        r'class="foncier-legend-entry[^"]*"\s+data-entry="\d+" data-label="([^"]*)"', page
    )
    for name in layers:
        assert labels.count(html.escape(LAYER_STYLES[name].label)) == 1
    for name in ("communes", "epci", "territory"):
        assert labels.count(html.escape(LAYER_STYLES[name].label)) == 1
    assert any(lab.startswith("Score (0–100), profil Logistique") for lab in labels)
    control = page[page.rindex("L.control.layers(") - 3000 :]
    for name in [*layers, "communes", "epci", "territory"]:
        assert json.dumps(LAYER_STYLES[name].label) in control or (
            json.dumps(html.escape(LAYER_STYLES[name].label)) in control
        )
    assert '"Sites candidats (score)"' in control


def test_siting_popups_equal_the_scores_of_the_table(siting):
    scored, _, _, page = siting
    feats = site_features(page)
    assert len(feats) == len(scored)
    for _, row in scored.iterrows():
        props = feats[html.escape(row["site_id"])]
        popup = site_popup(page, props)
        header, *rows = popup.rows
        assert header == ["Critère", "Valeur", "Note 0–1", "Poids", "Contribution"]
        by_label = {r[0]: r for r in rows}
        for cid, label, w in (("rail", "Gare fret", "60 %"), ("flood", "Zone inondable", "40 %")):
            cells = by_label[label]
            expected_score = f"{row[f'{cid}__score']:.2f}".replace(".", ",")
            expected_contrib = f"{100 * row[f'{cid}__contrib']:.1f}".replace(".", ",")
            assert cells[2] == expected_score
            assert cells[3] == w
            assert cells[4] == f"{expected_contrib} pts"
        score = f"{row['score']:.1f}".replace(".", ",")
        if row["excluded"]:
            assert popup.lines[0] == f"Exclu · score {score} / 100"
            assert "Exclu : En zone inondable (plus de 90 %)" in popup.lines
        else:
            assert popup.lines[0] == f"Rang {int(row['rank'])} · score {score} / 100"
        assert props["_v"] == pytest.approx(row["score"], abs=1e-4)


def test_popup_units_nearest_robustness_and_skipped(siting):
    _, _, _, page = siting
    feats = site_features(page)
    p2 = site_popup(page, feats["S0002"])
    p3 = site_popup(page, feats["S0003"])
    val2 = {r[0]: r[1] for r in p2.rows[1:]}
    val3 = {r[0]: r[1] for r in p3.rows[1:]}
    assert val2["Gare fret"] == "640 m"
    assert val3["Gare fret"] == "2,3 km"
    assert val2["Zone inondable"] == "0 %"
    assert val3["Zone inondable"] == "25 %"
    assert "Le plus proche — Gare fret : Longueil-Sainte-Marie (2,3 km)" in p3.lines
    assert "Robustesse : dans le top 10 dans 87 % des tirages, rang 2–5" in p2.lines
    assert (
        "Non évalués : Échangeur autoroutier : couche motorway_junctions non disponible" in p2.lines
    )
    assert p2.title == "Site S0002 – Parcelle 2"


def test_hostile_site_names_only_escaped(siting):
    _, _, _, page = siting
    for raw in HOSTILE:
        assert raw not in page
    feats = site_features(page)
    assert site_popup(page, feats["S0000"]).title == f"Site S0000 – {HOSTILE[0]}"
    assert site_popup(page, feats["S0001"]).title == f"Site S0001 – {HOSTILE[1]}"


def test_excluded_sites_are_grey_and_top_n_labelled(siting):
    scored, _, _, page = siting
    feats = site_features(page)
    styles = max((json.loads(x) for x in re.findall(r"var s = (\[.*?\]); var k", page)), key=len)
    for _, row in scored.iterrows():
        k = feats[row["site_id"]]["_k"]
        assert (styles[k]["fillColor"] == "#9e9e9e") == bool(row["excluded"])
    for _, row in scored.iterrows():
        tip = html.unescape(feats[row["site_id"]]["_tooltip"])
        if row["excluded"]:
            assert (
                tip == f"Site {row['site_id']} – {row['nom']} – exclu : {row['exclusion_reasons']}"
            )
        else:
            assert tip.startswith(
                f"Site {row['site_id']} – {row['nom']} – rang {int(row['rank'])}, score "
                f"{row['score']:.1f}".replace(".", ",")
            )
            assert tip.endswith("% des tirages)")
    tip2 = html.unescape(feats["S0002"]["_tooltip"])
    assert tip2.endswith("(top 10 dans 87 % des tirages)")
    badges = re.findall(r"bindTooltip\(\s*`<div>\s*Rang (\d+) – Site", page)
    assert sorted(map(int, badges)) == list(range(1, 11))


def test_siting_map_rejects_bad_input():
    scored, _ = make_scored(3)
    terr = make_territory(2)
    with pytest.raises(SchemaError, match="rank"):
        siting_map(scored.drop(columns=["rank"]), territory=terr)
    with pytest.raises(CRSError):
        siting_map(scored.set_crs(None, allow_override=True), territory=terr)
    no_crs = make_layers(2)["rail_lines"].set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="rail_lines"):
        siting_map(scored, territory=terr, layers={"rail_lines": no_crs})


def test_site_popups_without_sensitivity_or_metadata():
    scored, _ = make_scored(2)
    bare = scored.copy()
    bare.attrs = {}
    pops = site_popups(bare)
    parsed = parse_popup(pops.iloc[0])
    assert parsed.rows == [["Critère", "Valeur", "Note 0–1", "Poids", "Contribution"]]
    assert not any(line.startswith("Robustesse") for line in parsed.lines)


# ------------------------------------------------------------------ territory map


def test_territory_map_communes_epci_title():
    terr = make_territory()
    page = render_html(territory_map(terr))
    assert "<h1>Grand Test</h1>" in page
    assert "2 EPCI · 16 communes" in page
    pops = [
        f["properties"]["_popup"]
        for b in geojson_blocks(page)
        for f in b["features"]
        if "Code INSEE" in f["properties"].get("_popup", "")
    ]
    assert len(pops) == 16
    rows = {parse_popup(p).rows[1][1]: parse_popup(p).rows for p in pops}
    assert rows["60005"] == [["Commune", "Commune 5"], ["Code INSEE", "60005"],
                             ["Population", "1\u202f185"]]  # fmt: skip
    assert rows["60002"][0][1] == HOSTILE[0]
    assert HOSTILE[0] not in page
    name = "CA de la Région de Compiègne"
    assert name in page or json.dumps(name)[1:-1] in page
    assert "IGN Admin Express" in page


def test_territory_map_composes_onto_an_existing_map():
    terr = make_territory(2)
    m = territory_map(terr)
    scored, _ = make_scored(3)
    m2 = siting_map(scored, territory=terr, m=m)
    assert m2 is m
    page = render_html(m2)
    assert page.count("L.control.layers(") == 1
    assert page.count("L.map(") == 1


def test_territory_map_of_a_bare_perimeter():
    terr = Territory.from_perimeter(
        shapely.box(X0, Y0, X0 + 10_000, Y0 + 8_000), crs="EPSG:2154", name="Zone <A>"
    )
    page = render_html(territory_map(terr, basemaps=("plain",)))
    assert "<h1>Zone &lt;A&gt;</h1>" in page
    assert "80 km²" in page


# ------------------------------------------------------------------ size, imports


def test_reference_territory_html_stays_under_3_mb(tmp_path):
    # About a reference territory: 90 communes with detailed boundaries, 1,000 grid sites,
    # a few hundred infrastructure points.
    terr = make_territory(10, vertices=200)
    scored, sens = make_scored(32)
    layers = make_layers(150)
    m = siting_map(scored, territory=terr, layers=layers, sensitivity=sens)
    out = save_html(m, tmp_path / "map.html")
    size = out.stat().st_size
    assert size <= 3_000_000, f"{size / 1e6:.2f} MB"
    coords = re.findall(r"\[(-?\d+\.\d+), (-?\d+\.\d+)\]", out.read_text(encoding="utf-8"))
    assert coords
    assert all(len(x.split(".")[1]) <= 5 and len(y.split(".")[1]) <= 5 for x, y in coords)


def test_import_foncier_mapping_does_not_import_folium():
    code = (
        "import sys, foncier.reports.mapping;"
        "print(','.join(x for x in ('folium', 'branca', 'rasterio', 'selenium')"
        " if x in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -------------------------------------------------------------------- ties and notices

BADGE = r"bindTooltip\(\s*`<div>\s*Rang (\d+) – Site"


def test_ex_aequo_in_popup_and_a_ranking_note():
    scored, sens = make_scored()
    # Two ranked sites with the same score, told apart by the tie-break.
    scored.loc[5, "score"] = scored.loc[4, "score"]
    scored["ex_aequo"] = False
    scored.loc[[4, 5], "ex_aequo"] = True
    page = render_html(siting_map(scored, territory=make_territory(), sensitivity=sens))
    feats = site_features(page)
    assert not scored.loc[[4, 5], "excluded"].any()
    for i in (4, 5):
        popup_lines = site_popup(page, feats[scored.loc[i, "site_id"]]).lines
        assert popup_lines[0] == (
            f"Rang {scored.loc[i, 'rank']} (ex aequo) · score {scored.loc[i, 'score']:.1f} / 100"
        ).replace(".", ",", 1)
    untied = scored.loc[~scored["ex_aequo"] & ~scored["excluded"], "site_id"].iloc[0]
    assert not any("ex aequo" in x for x in site_popup(page, feats[untied]).lines)
    # The note states the verdict; the table discriminates, so badges 1..10 are drawn.
    assert "Classement : Le classement distingue ses 10 premiers sites" in html.unescape(page)
    assert sorted(map(int, re.findall(BADGE, page))) == list(range(1, 11))
    # The banner is written for the live weights to show, but hidden.
    notices = re.findall(r'<div class="foncier-notice"[^>]*>', page)
    assert len(notices) == 1
    assert 'data-name="ranking"' in notices[0]
    assert "display:none;" in notices[0]


def test_nothing_discriminates_gives_a_notice_and_no_badge():
    scored, sens = make_scored()
    for col in ("rail__score", "flood__score"):
        scored[col] = 1.0
    scored["score"] = 100.0
    page = render_html(siting_map(scored, territory=make_territory(), sensitivity=sens))
    text = html.unescape(page)
    assert "Aucun site ne se détache : la carte ne désigne pas de meilleur site." in text
    assert "aucun critère ne varie d'un site à l'autre" in text
    assert re.findall(BADGE, page) == []
    (notice,) = re.findall(r'<div class="foncier-notice"[^>]*>', page)
    assert "display:none" not in notice  # shown when the map opens


def test_never_more_badges_than_n():
    from maps.base import base_map
    from maps.labels import add_rank_labels

    scored, _ = make_scored()
    tied = scored.assign(rank=pd.array([1] * len(scored), dtype="Int64"))  # 100 sites "rank 1"
    m = base_map(tied, title="t")
    add_rank_labels(m, tied, n=10, label_column="site_id")
    badges = re.findall(r"bindTooltip\(\s*`<div>\s*Rang (\d+)", render_html(m))
    assert badges == ["1"] * 10


def test_relative_criteria_are_explained_in_the_legend_and_note():
    scored, _ = make_scored()
    crit = scored.attrs["foncier"]["criteria"][0]
    crit["relative"] = True
    crit["transform"] = {"kind": "percentile", "direction": "decreasing"}
    crit["meaning"] = "note relative aux sites candidats : rang centile"
    text = html.unescape(render_html(siting_map(scored, territory=make_territory())))
    assert (
        "notes relatives au jeu de sites : Gare fret (rang centile parmi les sites candidats)"
        in text
    )
    assert "Gare fret : note relative aux sites candidats : rang centile." in text
    flat, _ = make_scored()
    assert "notes relatives" not in html.unescape(
        render_html(siting_map(flat, territory=make_territory()))
    )


def test_popup_rows_are_the_rows_to_dict_gives_without_geometry():
    from foncier.reports.mapping import _records

    frame = gpd.GeoDataFrame(
        {
            "site_id": ["a", "b", "c"],
            "rank": pd.array([1, None, 3], dtype="Int64"),
            "score": [91.5, float("nan"), 40.0],
            "excluded": [False, True, False],
            "why": ["près", None, pd.NA],
            "when": pd.to_datetime(["2026-01-01", None, "2026-03-01"]),
        },
        geometry=[shapely.Point(0, 0), shapely.Point(1, 1), None],
        crs=2154,
    )
    frame.attrs["foncier"] = {"criteria": [{"id": "x"}]}
    ours = _records(frame)
    theirs = pd.DataFrame(frame.drop(columns="geometry")).to_dict("records")
    assert [list(r) for r in ours] == [list(r) for r in theirs]
    for a, b in zip(ours, theirs, strict=True):
        for key in a:
            assert type(a[key]) is type(b[key]), key
            assert a[key] == b[key] or (pd.isna(a[key]) and pd.isna(b[key])), key
    assert ours[1]["rank"] is None
    assert frame.attrs["foncier"] == {"criteria": [{"id": "x"}]}

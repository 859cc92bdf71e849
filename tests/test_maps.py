"""The generic map package: geometries for the web, layers, legend, choropleth, popups, files."""

from __future__ import annotations

import html
import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import mapclassify
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from layers.errors import CRSError, FoncierError, GeometryError, MissingDependencyError, SchemaError
from maps.base import base_map, bounds_lonlat, finish_map
from maps.basemaps import add_basemaps, basemap
from maps.choropleth import EXCLUDED_COLOR, add_choropleth, class_colors, classify_values
from maps.export import inline_assets, render_html, save_html, save_png
from maps.labels import add_rank_labels
from maps.legend import legend_entries
from maps.popups import escape_text, format_value, html_table, popup_from_columns
from maps.styles import LAYER_STYLES, icon_svg, layer_style
from maps.vector import add_lines, add_points, add_polygons, to_web_geometries

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
X0, Y0 = 690_000.0, 6_920_000.0  # Lambert-93, near Compiègne


class _Text(HTMLParser):
    """Collects the visible text of an HTML fragment, and the tags it contains."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.parts.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(fragment: str) -> _Text:
    p = _Text()
    p.feed(fragment)
    return p


def geojson_blocks(page: str) -> list[dict]:
    """The FeatureCollections embedded in a folium page (``<layer>_add({...});``)."""
    return [json.loads(m) for m in re.findall(r"_add\((\{.*\})\);", page)]


def points(n: int, *, seed: int = 0, name: str = "Gare") -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {"nom": [f"{name} {i}" for i in range(n)], "source": "SNCF (ODbL)"},
        geometry=gpd.points_from_xy(rng.uniform(X0, X0 + 9000, n), rng.uniform(Y0, Y0 + 9000, n)),
        crs=2154,
    )


def grid(n_side: int = 6) -> gpd.GeoDataFrame:
    cells = [
        shapely.box(X0 + i * 500, Y0 + j * 500, X0 + i * 500 + 480, Y0 + j * 500 + 480)
        for i in range(n_side)
        for j in range(n_side)
    ]
    n = len(cells)
    gdf = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i}" for i in range(n)],
            "score": np.linspace(3.0, 97.0, n),
            "excluded": [i % 7 == 0 for i in range(n)],
            "nom": [f"Site {i}" for i in range(n)],
        },
        geometry=cells,
        crs=2154,
    )
    gdf.loc[1, "nom"] = HOSTILE[0]
    gdf.loc[2, "nom"] = HOSTILE[1]
    return gdf


# ---------------------------------------------------------------------------- popups


def test_html_table_escapes_every_piece_and_keeps_the_text():
    frag = html_table(HOSTILE[0], [HOSTILE[1], "Valeur"], [(HOSTILE[0], 1234567)], footer=HOSTILE)
    for raw in HOSTILE:
        assert raw not in frag
    parsed = parse(frag)
    # No tag was smuggled in: only the table's own markup.
    assert set(parsed.tags) <= {"div", "table", "tr", "th", "td"}
    text = "".join(parsed.parts)
    assert HOSTILE[0] in text
    assert HOSTILE[1] in text
    # Integers get French thin-space thousands.
    assert "1\u202f234\u202f567" in parsed.cells


def test_escape_text_handles_missing_values_and_template_literals():
    assert escape_text(None) == ""
    assert escape_text(float("nan")) == ""
    assert escape_text("a & b") == "a &amp; b"
    # Inert inside a JavaScript template literal too (folium puts tooltips in backquotes).
    out = escape_text("`${alert(1)}` \\")
    assert not set("`$\\") & set(out)
    assert html.unescape(out) == "`${alert(1)}` \\"


def test_popup_from_columns_values_and_missing_column():
    gdf = gpd.GeoDataFrame(
        {"nom": [HOSTILE[0], "Lamotte"], "population": [12000, 850]},
        geometry=[shapely.Point(0, 0), shapely.Point(1, 1)],
        crs=2154,
    )
    pops = popup_from_columns(gdf, {"Commune": "nom", "Population": "population"})
    assert list(pops.index) == list(gdf.index)
    assert parse(pops.iloc[0]).cells == ["Commune", HOSTILE[0], "Population", "12\u202f000"]
    assert parse(pops.iloc[1]).cells == ["Commune", "Lamotte", "Population", "850"]
    with pytest.raises(SchemaError, match="insee"):
        popup_from_columns(gdf, {"Code": "insee"})


# ------------------------------------------------------------------ web geometries


def test_to_web_geometries_requires_a_crs():
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(1, 1)])
    with pytest.raises(CRSError, match="no CRS"):
        to_web_geometries(gdf)
    m = base_map((2.0, 49.0, 3.0, 50.0), basemaps=("plain",))
    with pytest.raises(CRSError):
        add_polygons(m, gdf)
    with pytest.raises(CRSError):
        add_points(m, gdf)
    with pytest.raises(CRSError):
        add_choropleth(m, gdf.assign(score=1.0), "score")
    with pytest.raises(CRSError):
        base_map(gdf)


def test_coordinates_are_reprojected_and_rounded_to_about_one_metre():
    pts = points(30)
    web = to_web_geometries(pts, simplify_m=0)
    assert web.crs.to_epsg() == 4326
    # Independent reprojection with pyproj.
    tr = Transformer.from_crs(2154, 4326, always_xy=True)
    lon, lat = tr.transform(pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy())
    np.testing.assert_allclose(web.geometry.x, lon, atol=0.5e-5 + 1e-12)
    np.testing.assert_allclose(web.geometry.y, lat, atol=0.5e-5 + 1e-12)
    coords = shapely.get_coordinates(web.geometry.to_numpy())
    np.testing.assert_array_equal(coords, np.round(coords, 5))


def test_lines_are_simplified_in_metres_before_reprojection():
    # A 10 km line with 1,001 vertices wobbling by 2 m: at 5 m tolerance only its ends stay.
    x = np.linspace(X0, X0 + 10_000, 1001)
    y = Y0 + 2.0 * np.sin(np.arange(1001))
    line = gpd.GeoDataFrame(geometry=[shapely.LineString(np.c_[x, y])], crs=2154)
    web = to_web_geometries(line, simplify_m=5.0)
    assert shapely.get_num_coordinates(web.geometry.iloc[0]) == 2
    kept = to_web_geometries(line, simplify_m=1.0)
    assert shapely.get_num_coordinates(kept.geometry.iloc[0]) > 100


def test_invalid_geometry_is_repaired_with_a_warning_and_empty_layer_draws_nothing(caplog):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    gdf = gpd.GeoDataFrame({"nom": ["noeud"]}, geometry=[bowtie], crs=2154)
    with caplog.at_level(logging.WARNING):
        web = to_web_geometries(gdf, name="zones")
    assert "repairing" in caplog.text
    assert web.geometry.iloc[0].is_valid
    m = base_map(gdf, basemaps=("plain",))
    empty = gdf.iloc[:0]
    with caplog.at_level(logging.WARNING):
        group = add_polygons(m, empty, style="flood_zones")
    assert "empty layer" in caplog.text
    assert group.get_name() in render_html(finish_map(m))


# ------------------------------------------------------------------- layers, legend


def test_points_cluster_above_threshold_and_use_inline_svg_icons():
    m = base_map(points(5), basemaps=("plain",))
    add_points(m, points(120), style="substations", tooltip="nom")
    add_points(m, points(5, seed=1), style="ports", tooltip="nom")
    page = render_html(finish_map(m))
    assert page.count("L.markerClusterGroup(") == 1
    assert "DivIcon(iconOptions)" in page
    assert "\\u003csvg" in page  # the inline SVG icon, JSON-escaped in the script
    # No icon font is needed.
    assert "fontawesome" not in page.lower()
    assert "awesome-markers" not in page.lower()


def test_legend_has_one_entry_per_layer_tied_to_its_overlay():
    m = base_map(points(5), basemaps=("plain",))
    groups = {
        "rail_freight_stations": add_points(m, points(8), style="rail_freight_stations"),
        "substations": add_points(m, points(8, seed=2), style="substations", show=False),
        "rail_lines": add_lines(
            m,
            gpd.GeoDataFrame(
                geometry=[shapely.LineString([(X0, Y0), (X0 + 5000, Y0 + 5000)])], crs=2154
            ),
            style="rail_lines",
        ),
        "flood_zones": add_polygons(
            m,
            gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0).buffer(800)], crs=2154),
            style="flood_zones",
        ),
    }
    page = render_html(finish_map(m))
    labels = re.findall(
        r'class="foncier-legend-entry[^"]*"\s+data-entry="\d+" data-label="([^"]*)"', page
    )
    assert labels == [LAYER_STYLES[k].label for k in groups]
    # Each entry is paired with its overlay's JavaScript variable, and the script listens
    # to the layer control's events.
    for i, group in enumerate(groups.values()):
        assert f"[div.querySelector('[data-entry=\"{i}\"]'), {group.get_name()}]" in page
    assert "overlayadd overlayremove" in page
    assert "map.hasLayer(p[1])" in page
    # The layer control (added last) lists the overlays by their French labels.
    control = page[page.index("L.control.layers(") - 2000 :]
    for key in groups:
        assert json.dumps(LAYER_STYLES[key].label)[1:-1] in control or LAYER_STYLES[
            key
        ].label in html.unescape(control)
    assert page.rindex("L.control.layers(") > page.rindex("foncier-legend-entry")


def test_layer_names_are_escaped_in_the_layer_control():
    m = base_map(points(3), basemaps=("plain",))
    add_points(m, points(3), name=HOSTILE[1], style="ports")
    page = render_html(finish_map(m))
    assert HOSTILE[1] not in page
    assert html.escape(HOSTILE[1]) in page


def test_finish_map_twice_keeps_one_control_and_one_legend():
    m = base_map(points(3), basemaps=("plain",))
    add_points(m, points(3), style="ports")
    finish_map(m)
    add_points(m, points(3, seed=4), style="platforms")
    page = render_html(finish_map(m))
    assert page.count("L.control.layers(") == 1
    assert page.count('class="foncier-legend"') == 1
    assert "Plateformes industrielles" in page


def test_styles_cover_every_layer_name_of_the_project():
    names = [
        "rail_freight_stations", "rail_stations", "rail_lines", "rail_branches", "ports",
        "waterways", "platforms", "motorway_junctions", "trunk_roads", "substations",
        "aerodromes", "named_sites", "flood_zones", "hazard_zones", "protected_areas", "zae",
        "friches",
    ]  # fmt: skip
    labels = [layer_style(n).label for n in names]
    assert len(set(labels)) == len(names)
    point_icons = {(layer_style(n).shape, layer_style(n).color) for n in names
                   if layer_style(n).kind == "point"}  # fmt: skip
    assert len(point_icons) == sum(layer_style(n).kind == "point" for n in names)
    assert layer_style("unknown_layer").label == "Unknown layer"
    svg = icon_svg(layer_style("ports"))
    assert svg.startswith("<svg")
    assert ">P</text>" in svg


# --------------------------------------------------------------------- choropleth


def test_choropleth_classes_equal_mapclassify_bins_and_excluded_are_grey():
    sites = grid(6)
    m = base_map(sites, basemaps=("plain",))
    add_choropleth(
        m, sites, "score", scheme="Quantiles", k=5, excluded="excluded",
        label_column="nom", legend_title="Score", id_column="site_id",
    )  # fmt: skip
    page = render_html(finish_map(m))
    kept = sites.loc[~sites["excluded"], "score"].to_numpy()
    expected = mapclassify.Quantiles(kept, k=5)
    uppers = [float(v) for v in re.findall(r'data-upper="([^"]+)"', page)]
    np.testing.assert_allclose(uppers, expected.bins)
    assert EXCLUDED_COLOR in page
    (data,) = [
        b for b in geojson_blocks(page) if b["features"] and "_v" in b["features"][0]["properties"]
    ]
    by_id = {f["properties"]["_id"]: f["properties"] for f in data["features"]}
    colors = class_colors("YlGnBu", 5)
    style_js = re.search(r"var s = (\[.*?\]); var k", page).group(1)
    styles = json.loads(style_js)
    for _, row in sites.iterrows():
        props = by_id[row["site_id"]]
        assert props["_v"] == pytest.approx(row["score"], abs=1e-4)
        if row["excluded"]:
            assert styles[props["_k"]]["fillColor"] == EXCLUDED_COLOR
        else:
            cls = int(
                expected.yb[list(sites.loc[~sites["excluded"], "site_id"]).index(row["site_id"])]
            )
            assert styles[props["_k"]]["fillColor"] == colors[cls]


def test_choropleth_hostile_names_only_escaped():
    sites = grid(4)
    m = base_map(sites, basemaps=("plain",))
    add_choropleth(m, sites, "score", label_column="nom", id_column="nom")
    page = render_html(finish_map(m))
    for raw in HOSTILE:
        assert raw not in page
    props = [f["properties"] for b in geojson_blocks(page) for f in b["features"]]
    tooltips = {p["_id"]: p["_tooltip"] for p in props if "_id" in p}
    for raw in HOSTILE:
        esc = html.escape(raw)
        assert esc in tooltips
        assert "".join(parse(tooltips[esc]).parts).startswith(raw)


def test_choropleth_bad_inputs():
    sites = grid(3)
    m = base_map(sites, basemaps=("plain",))
    with pytest.raises(SchemaError, match="nope"):
        add_choropleth(m, sites, "nope")
    with pytest.raises(FoncierError, match="scheme"):
        add_choropleth(m, sites, "score", scheme="NoSuchScheme")
    with pytest.raises(FoncierError, match="colormap"):
        class_colors("NoSuchRamp", 3)


def test_rank_labels_on_the_top_n_only():
    sites = grid(4)
    import pandas as pd

    sites["rank"] = pd.array(range(1, len(sites) + 1), dtype="Int64")
    sites.loc[1, "rank"] = pd.NA  # rank 2 is excluded: badges 1, 3, 4
    sites.loc[0, "nom"] = "`); alert(1); (`${alert(2)}"  # folium tooltips sit in backquotes
    m = base_map(sites, basemaps=("plain",))
    add_rank_labels(m, sites, n=4, label_column="nom")
    page = render_html(finish_map(m))
    assert "alert(1); (`" not in page
    assert "${alert(2)}" not in page
    assert "Rang 1 – &#96;); alert(1); (&#96;&#36;{alert(2)}" in page
    badges = re.findall(
        r"foncier-rank\\?\" style=[^>]*>(\d+)<",
        page.replace("\\u003e", ">").replace("\\u003c", "<"),
    )
    assert sorted(int(b) for b in badges) == [1, 3, 4]


# --------------------------------------------------------------- basemaps, bounds


def test_basemaps_and_attributions():
    assert "OpenStreetMap" in basemap("osm").attribution
    assert "PLANIGNV2" in basemap("ign_plan").url
    assert "ORTHOIMAGERY.ORTHOPHOTOS" in basemap("ign_ortho").url
    assert basemap("plain").url.startswith("data:image/png;base64,")
    with pytest.raises(FoncierError, match="Unknown basemap"):
        basemap("satellite")
    m = base_map((2.5, 49.2, 3.0, 49.5), basemaps=("plain",))
    added = add_basemaps(m, ("osm",))
    assert [b.key for b in added] == ["osm"]


def test_bounds_validation():
    assert bounds_lonlat((2.0, 49.0, 3.0, 50.0)) == (2.0, 49.0, 3.0, 50.0)
    with pytest.raises(GeometryError, match="degrees"):
        bounds_lonlat((690000.0, 6900000.0, 700000.0, 6910000.0))
    with pytest.raises(GeometryError):
        bounds_lonlat(grid(2).iloc[:0])


def test_title_block_escapes_and_lists_sources():
    m = base_map(points(3), title=HOSTILE[0], subtitle="Profil : logistique", basemaps=("osm",))
    add_points(m, points(3), style="rail_freight_stations")
    page = render_html(finish_map(m))
    assert HOSTILE[0] not in page
    assert html.escape(HOSTILE[0]) in page
    sources = re.search(r'<div class="foncier-sources">(.*?)</div>', page, re.S).group(1)
    assert "OpenStreetMap" in sources
    assert "SNCF (ODbL)" in sources
    assert len(legend_entries(m)) == 1


# ----------------------------------------------------------------------- files


def test_self_contained_html_makes_no_external_request(tmp_path):
    m = base_map(points(60), title="Carte", basemaps=("osm", "plain"))
    add_points(m, points(60), style="substations")  # clustered: the plugin is inlined too
    finish_map(m)
    light = save_html(m, tmp_path / "light.html")
    full = save_html(m, tmp_path / "full.html", self_contained=True)
    page = full.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=[\"'](https?:)?//", page)
    assert not re.search(r"<link[^>]+href=[\"'](https?:)?//", page)
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page  # tiles excepted
    assert "leaflet.markercluster" in page
    assert "L.Control.Measure" in page
    # CSS images (layer-control icon) are inlined as data URIs.
    assert "url(images/layers.png)" not in page
    assert "data:image/png;base64" in page
    assert "cdn.jsdelivr.net" in light.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.html", "light.html"]


def test_inline_assets_drops_unknown_stylesheets_and_escapes_script_end(caplog):
    page = (
        '<head><link rel="stylesheet" href="https://example.org/icons.css"/>'
        '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script></head>'
    )
    with caplog.at_level(logging.WARNING):
        out = inline_assets(page)
    assert "example.org" not in out
    assert "icons.css" in caplog.text
    assert "Leaflet" in out
    assert out.count("</script>") == 1


def test_save_png_without_chromium_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("FONCIER_CHROMIUM", str(tmp_path / "no-such-chromium"))
    m = base_map(points(3), basemaps=("plain",))
    with pytest.raises(MissingDependencyError, match="apt-get install chromium"):
        save_png(m, tmp_path / "map.png")
    assert not (tmp_path / "map.png").exists()


@pytest.mark.parametrize("kind", ["uniform", "rounded", "few", "one"])
def test_quantile_classes_are_mapclassify_quantiles_bit_for_bit(kind):
    rng = np.random.default_rng(11)
    for n in (1, 2, 7, 50, 333, 1000):
        values = {
            "uniform": rng.uniform(0, 100, n),
            "rounded": np.round(rng.normal(50, 20, n), 1),
            "few": rng.integers(0, 4, n).astype(float),
            "one": np.full(n, 42.0),
        }[kind]
        for k in (1, 3, 5, 7):
            k_eff = max(1, min(k, int(np.unique(values).size)))
            expected = mapclassify.Quantiles(values, k=k_eff)
            got = classify_values(values, scheme="Quantiles", k=k)
            np.testing.assert_array_equal(got.bins, expected.bins)
            np.testing.assert_array_equal(got.yb, expected.yb)
            np.testing.assert_array_equal(got.counts, expected.counts)


def test_import_maps_is_light():
    import subprocess
    import sys

    code = (
        "import sys, maps, maps.base, maps.vector, maps.export, maps.choropleth;"
        "print(','.join(x for x in ('folium', 'branca', 'mapclassify', 'selenium', 'rasterio')"
        " if x in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_static_assets_ship_with_their_licences():
    static = Path(__file__).resolve().parents[1] / "maps" / "static"
    text = (static / "LICENSES").read_text(encoding="utf-8")
    for name in ("leaflet 1.9.3", "leaflet.markercluster", "leaflet.fullscreen", "leaflet-measure"):
        assert name in text
    assert (static / "leaflet" / "leaflet.js").stat().st_size > 100_000


def test_compact_popup_script_cannot_end_the_page_script():
    import json
    import re

    from maps.popups import table_popup_data, table_popup_js

    hostile = "</script><script>alert(1)</script>"
    js = table_popup_js([hostile, "Valeur"], shared_footer=["a & b"], css_class="x")
    assert "<" not in js  # no "</script>" can close the page's script element
    assert "&" not in js
    header = json.loads(re.search(r"var header = (\[.*?\]);", js).group(1))
    assert header == [hostile, "Valeur"]  # decodes back to the raw text, shown via textContent
    data = table_popup_data("Site <b>1</b>", [("Gare", 1234.5)], ["ligne"])
    assert data == {"t": "Site <b>1</b>", "r": [["Gare", format_value(1234.5)]], "f": ["ligne"]}


# ------------------------------------------------------------------------- rendering


def _busy_map(name: str):
    sites = grid(4)
    sites.loc[3, "nom"] = name
    m = base_map(sites, basemaps=("plain",))
    add_polygons(m, sites, style="zae", tooltip="nom", popup={"Nom": "nom"})
    add_lines(m, sites.boundary.to_frame("geometry").assign(nom="ligne"), style="railways")
    add_points(m, points(120), style="substations", tooltip="nom")
    add_points(m, points(5, seed=1), style="ports", tooltip="nom")
    return finish_map(m)


def _same_ids(page: str) -> str:
    return re.sub(r"_[0-9a-f]{32}", "_ID", page)


def test_render_html_gives_branca_page_and_puts_back_the_classes():
    m1, m2 = _busy_map("Zone A"), _busy_map("Zone A")
    before = {id(e): type(e) for e in _elements(m1.get_root())}
    page = render_html(m1)
    assert _same_ids(page) == _same_ids(m2.get_root().render())
    assert {id(e): type(e) for e in _elements(m1.get_root()) if id(e) in before} == before
    assert page.count("L.geoJson(") >= 2
    assert page.count("L.markerClusterGroup(") == 1


def test_render_html_keeps_template_syntax_in_names_as_text():
    # Rendered text is not a template: branca's second pass would drop the comment and fail on
    # the unknown variable.
    name = "Zone {# a #} {{ b }}"
    page = render_html(_busy_map(name))
    assert json.dumps(name) in page


def _elements(root):
    stack, out = [root], []
    while stack:
        element = stack.pop()
        out.append(element)
        stack.extend(element._children.values())
    return out


def test_plugin_controls_load_their_leaflet_plugins_with_the_maps_options():
    m = base_map(points(5), basemaps=("plain",))
    add_points(m, points(120), style="substations", tooltip="nom")
    page = render_html(finish_map(m))
    assert "L.control.fullscreen(" in page
    assert '"titleCancel": "Quitter le plein \\u00e9cran"' in page
    assert "new L.Control.Measure(" in page
    assert '"primaryLengthUnit": "kilometers"' in page
    assert '"localization": "fr"' in page
    assert "autoPanOnFocus = false" in page
    assert '"maxClusterRadius": 45' in page
    assert "options.iconCreateFunction = function (cluster)" in page
    # Each plugin's files are linked once and have a local copy for self-contained pages.
    for name in (
        "Control.FullScreen.min.js",
        "leaflet-measure.min.js",
        "leaflet-measure.min.css",
        "leaflet.markercluster.js",
        "MarkerCluster.Default.css",
    ):
        assert page.count(f"/{name}") == 1, name
    inlined = inline_assets(page)
    assert "cdn.jsdelivr.net/npm/leaflet.fullscreen" not in inlined
    assert "leaflet-measure@2.1.7" not in inlined
    assert "cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster" not in inlined


def test_a_map_does_not_import_folium_plugins(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, geopandas as gpd, shapely;"
        "from maps import base_map, add_points, finish_map, save_html;"
        "pts = gpd.GeoDataFrame({'nom': [str(i) for i in range(60)]},"
        " geometry=[shapely.Point(690000 + 50 * i, 6920000) for i in range(60)], crs=2154);"
        "m = base_map(pts, basemaps=('plain',)); add_points(m, pts, style='ports', tooltip='nom');"
        f"save_html(finish_map(m), {str(tmp_path / 'carte.html')!r});"
        "print('folium.plugins' in sys.modules, 'folium' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]

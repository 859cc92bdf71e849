"""The layer registry: complete entries, lists derived from it, coverage, uniform loading."""

from __future__ import annotations

import inspect
import json
import re
from urllib.parse import unquote_plus

import geopandas as gpd
import pytest
import shapely
from test_http import LocalServer, Reply

import foncier
from foncier.engine.profiles import KNOWN_LAYERS, profile_from_dict
from foncier.pipeline import MAP_CONTEXT_LAYERS
from layers import osm
from layers.admin import load_communes
from layers.catalog import available_layers, load_layers
from layers.config import settings
from layers.errors import ArgumentError, DataSourceError, ProfileError
from layers.infrastructure import SCHEMAS, _named_sites_table
from layers.registry import (
    FRANCE,
    LAYERS,
    METROPOLE,
    REFERENCE_TERRITORIES,
    RFN,
    RTE_NETWORK,
    LayerEntry,
    Style,
    get_layer,
)
from layers.territories import Territory, presets, territory
from maps.styles import LAYER_STYLES, layer_style, legend_swatch

HEX = re.compile(r"#[0-9a-fA-F]{6}")
L93 = "EPSG:2154"


# ---------------------------------------------------------------- entries


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_entry_is_complete(name):
    e = LAYERS[name]
    assert e.name == name
    for field in ("label", "description", "source", "attribution", "licence", "date", "theme"):
        assert getattr(e, field).strip(), f"{name}: empty {field}"
    assert e.kind in ("point", "line", "polygon", "raster")
    assert e.coverage.label
    assert HEX.fullmatch(e.style.color)
    assert e.style.fill_color is None or HEX.fullmatch(e.style.fill_color)
    # a vector layer names its required columns; a raster has none
    assert bool(e.schema) == (e.kind != "raster")
    if e.needs:
        assert e.hint, f"{name}: a layer that needs a source says which"
    if e.osm_filters:
        assert e.osm_mapper_function() is not None


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_loader_has_the_uniform_signature(name):
    e = LAYERS[name]
    params = inspect.signature(e.load_function()).parameters
    first = next(iter(params.values()))
    assert first.name == "territory"
    assert params["source"].kind is inspect.Parameter.KEYWORD_ONLY
    if e.margin:
        assert params["margin_m"].kind is inspect.Parameter.KEYWORD_ONLY
    # every other parameter has a default: the registry passes nothing else (but the
    # layer's name to a generic loader)
    given = ("territory", "source", "margin_m", "layer")
    others = [p for n, p in params.items() if n not in given]
    assert all(p.default is not inspect.Parameter.empty for p in others)


def test_labels_and_point_icons_tell_layers_apart():
    labels = [e.label for e in LAYERS.values()]
    assert len(set(labels)) == len(labels)
    icons = [(e.style.shape, e.style.color) for e in LAYERS.values() if e.kind == "point"]
    assert len(set(icons)) == len(icons)


def test_unknown_layer_names_get_a_suggestion():
    with pytest.raises(ArgumentError, match="Did you mean 'flood_zones'"):
        get_layer("flood_zone")
    with pytest.raises(ArgumentError, match="Did you mean 'substations'"):
        load_layers(territory("alencon"), ["substation"])


# ---------------------------------------------------------------- derived lists


def test_lists_are_derived_from_the_registry():
    assert set(KNOWN_LAYERS) == set(LAYERS)
    assert set(LAYER_STYLES) == {*LAYERS, "epci"}
    for name, entry in LAYERS.items():
        style = layer_style(name)
        assert (style.kind, style.label, style.color) == (
            entry.kind,
            entry.label,
            entry.style.color,
        )
    assert {
        n: e.overpass_filters for n, e in LAYERS.items() if e.overpass_filters
    } == osm.OVERPASS_FILTERS
    assert osm.OVERPASS_FILTERS["housing"] == ('nwr["landuse"="residential"]',)
    assert set(SCHEMAS) == {n for n, e in LAYERS.items() if e.theme == "infrastructure"}
    assert list(available_layers()["layer"]) == list(LAYERS)
    assert foncier.LAYERS is LAYERS


def test_siting_maps_show_the_same_context_layers_as_before():
    # The layers every siting map loads besides the profile's, in drawing-list order (rail
    # lines and waterways since they ship offline).
    assert MAP_CONTEXT_LAYERS == (
        "rail_freight_stations",
        "rail_lines",
        "rail_branches",
        "ports",
        "waterways",
        "platforms",
        "motorway_junctions",
        "substations",
        "aerodromes",
        "named_sites",
        "flood_zones",
        "protected_areas",
    )


def test_slope_has_a_style_and_a_legend_swatch():
    style = layer_style("slope")
    assert (style.kind, style.label) == ("raster", "Pente")
    swatch = legend_swatch(style)
    assert "linearGradient" in swatch
    assert style.color in swatch


# ---------------------------------------------------------------- profiles


def _profile(layer: str) -> dict:
    return {
        "profile": {"id": "t", "name": "t"},
        "criteria": [
            {
                "id": "c",
                "measure": "distance",
                "layer": layer,
                "transform": {"kind": "linear", "from": 0, "to": 1000},
                "weight": 1,
            }
        ],
    }


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("rail_freight_station", "rail_freight_stations"), ("flod_zones", "flood_zones")],
)
def test_profiles_reject_unknown_layers_with_a_suggestion(typo, meant):
    with pytest.raises(ProfileError, match=f"unknown layer '{typo}'.*Did you mean '{meant}'"):
        profile_from_dict(_profile(typo))


def test_profiles_accept_registry_layers_and_declared_extra_layers():
    for name in ("housing", "territory", "slope"):
        assert profile_from_dict(_profile(name)).criteria[0].layer == name
    with pytest.raises(ProfileError, match="unknown layer 'schools'"):
        profile_from_dict(_profile("schools"))
    assert profile_from_dict(_profile("schools"), extra_layers=["schools"]).criteria[0].layer


def test_every_shipped_profile_uses_registry_layers():
    for pid in foncier.list_profiles()["id"]:
        prof = foncier.load_profile(pid)
        for rule in (*prof.criteria, *prof.exclusions):
            assert rule.layer is None or rule.layer in LAYERS, (pid, rule.id)


# ---------------------------------------------------------------- coverage


def _communes_of(dep: str) -> gpd.GeoDataFrame:
    return load_communes(departements=[dep])


def test_coverage_of_the_reference_territories():
    gc = territory("grand-compiegnois")
    for entry in LAYERS.values():
        if entry.name == "rail_branches":
            # The embedded sidings are an extract of the Nord and the Pas-de-Calais only.
            assert entry.coverage.status(gc) == "none"
            continue
        if entry.name == "motorway_junctions":
            # Tolled interchanges only, everywhere: the free junctions come online.
            assert entry.coverage.status(gc) == "partial"
            assert entry.coverage_when(online=True).status(gc) == "full"
            continue
        assert entry.coverage.status(gc) == "full", entry.name
    # every named site and every preset lies in the départements the named sites cover
    for preset in presets():
        assert REFERENCE_TERRITORIES.status(territory(preset)) == "full", preset
    sites = _named_sites_table()
    deps = {code[:2] for codes in sites["insee"] for code in codes.split(";")}
    assert deps <= set(REFERENCE_TERRITORIES.only or ())


def test_coverage_outside_the_networks():
    ajaccio = territory(_communes_of("2A")["insee"].iloc[0])
    assert ajaccio.departements == ["2A"]
    assert RFN.status(ajaccio) == "none"
    assert RTE_NETWORK.status(ajaccio) == "none"
    assert METROPOLE.status(ajaccio) == "full"
    reunion = territory(_communes_of("974")["insee"].iloc[0])
    assert METROPOLE.status(reunion) == "none"
    # airportsdata lists the overseas aerodromes under their own country codes: shipped too.
    assert LAYERS["aerodromes"].coverage.status(reunion) == "full"
    # No railway overseas: "no station" there is a true zero, not "hors couverture".
    assert RFN.status(reunion) == "full"
    assert LAYERS["substations"].coverage.status(reunion) == "full"  # EDF SEI list
    assert FRANCE.status(reunion) == "full"


def test_partial_coverage_across_a_network_boundary():
    # One commune of the Oise (named sites covered) and one of the Somme (not covered).
    codes = [_communes_of("60")["insee"].iloc[0], _communes_of("80")["insee"].iloc[0]]
    both = territory(codes)
    assert both.departements == ["60", "80"]
    assert REFERENCE_TERRITORIES.status(both) == "partial"
    assert RFN.status(both) == "full"


def test_coverage_of_a_bare_boundary_uses_the_departements_it_touches():
    commune = _communes_of("974").iloc[[0]]
    utm = commune.estimate_utm_crs()
    shape = commune.to_crs(utm).geometry.iloc[0]
    zone = Territory.from_perimeter(shapely.buffer(shape, -10), crs=utm)
    assert zone.departements == []
    assert RTE_NETWORK.status(zone) == "none"
    assert FRANCE.status(zone) == "full"


# ---------------------------------------------------------------- loading


@pytest.fixture(scope="module")
def square() -> Territory:
    return Territory.from_perimeter(shapely.box(0, 0, 10_000, 10_000), crs=L93, id="square")


def test_a_layer_that_needs_a_file_says_so(square):
    for name in ("flood_zones", "hazard_zones", "slope", "friches", "housing"):
        with pytest.raises(DataSourceError, match=f"Layer '{name}' needs a source"):
            LAYERS[name].load(square)
    assert "housing" not in load_layers(square, ["housing"])


def test_housing_from_a_file_keeps_what_is_near(square, tmp_path):
    homes = gpd.GeoDataFrame(
        {"nom": ["in", "across", "far"]},
        geometry=[
            shapely.box(1_000, 1_000, 2_000, 2_000),  # inside: kept whole (1 km²)
            shapely.box(9_000, 9_000, 11_000, 11_000),  # across the 500 m margin: clipped
            shapely.Point(20_000, 20_000).buffer(100),  # 10 km out: dropped
        ],
        crs=L93,
    ).to_crs(4326)
    path = tmp_path / "habitat.gpkg"
    homes.to_file(path)
    out = load_layers(square, ["housing"], sources={"housing": path}, margin_m=500)["housing"]
    assert out.crs == square.crs
    assert list(out["name"]) == ["in", "across"]
    assert list(out.columns[:6]) == list(LAYERS["housing"].schema)
    areas = out.geometry.area.to_numpy()
    assert areas[0] == pytest.approx(1e6, rel=1e-6)
    # the clipped square keeps 9..10.5 km on each side (1.5 km x 1.5 km) less the round
    # corner of the margin: 1.5e3² - (500² - π 500²/4) = 2.196e6 m², up to the buffer's facets
    expected = shapely.box(9_000, 9_000, 11_000, 11_000).intersection(square.area_with_margin(500))
    assert expected.area == pytest.approx(2.196e6, rel=3e-3)
    assert areas[1] == pytest.approx(expected.area, rel=1e-4)


def test_territory_layer_is_the_perimeter(square):
    out = LAYERS["territory"].load(square)
    assert list(out.columns) == [*LAYERS["territory"].schema, "geometry"]
    assert out.geometry.iloc[0].area == pytest.approx(1e8)
    # drawn by the territory outline already: not a map layer
    assert not LAYERS["territory"].on_map


def test_exports_and_sheets_take_their_key_distances_from_the_registry():
    from foncier.reports.cnig import _NEAREST
    from foncier.reports.fiche import KEY_FIGURES

    assert [(f[0], f[2]) for f in KEY_FIGURES] == [
        ("rail_freight", ("rail_freight_stations",)),
        ("port", ("ports", "named_sites:port")),
        ("motorway", ("motorway_junctions",)),
        ("substation", ("substations",)),
    ]
    assert _NEAREST == {
        "gare_fret_nom": (("rail_freight_stations",), "gare_fret_dist"),
        "port_nom": (("ports", "named_sites:port"), "port_dist"),
        "autoroute_nom": (("motorway_junctions",), "autoroute_echang_dist"),
        "aeroport_nom": (("aerodromes",), "aeroport_dist"),
    }
    # every CNIG distance field exists in the standard's site_eco table
    from layers.zae import CNIG_SITE_COLUMNS

    for name_field, (_, distance_field) in _NEAREST.items():
        assert {name_field, distance_field} <= set(CNIG_SITE_COLUMNS)


def test_a_layer_declared_by_its_osm_tag_needs_no_code_of_its_own(monkeypatch, square):
    # A point layer of plain tagged OSM features: one registry entry, then a profile uses it.
    entry = LayerEntry(
        name="bus_stops",
        label="Arrêts de bus",
        description="Bus stops",
        theme="infrastructure",
        kind="point",
        schema={**SCHEMAS["motorway_junctions"]} | {"shelter": "OSM shelter tag"},
        coverage=FRANCE,
        loader="layers.infrastructure:load_osm_layer",
        style=Style("#00665e", shape="circle", glyph="B"),
        source="OpenStreetMap (Overpass)",
        attribution="© OpenStreetMap contributors, ODbL 1.0",
        licence="ODbL 1.0",
        date="date of the Overpass answer",
        margin=True,
        osm_tag=("highway", ("bus_stop",)),
    )
    monkeypatch.setitem(LAYERS, "bus_stops", entry)
    assert entry.overpass_filters == ('nwr["highway"="bus_stop"]',)
    assert 'nwr["highway"="bus_stop"]' in osm.overpass_query("bus_stops", bbox=(2, 49, 3, 50))
    # OSM features as read from Overpass: two stops (one 12 km out) and a crossing
    features = gpd.GeoDataFrame(
        {
            "osm_type": ["node", "node", "node"],
            "osm_id": ["1", "2", "3"],
            "highway": ["bus_stop", "bus_stop", "crossing"],
            "name": ["Mairie", "Loin", None],
            "shelter": ["yes", None, None],
        },
        geometry=[shapely.Point(5_000, 3_000), shapely.Point(22_000, 5_000), shapely.Point(0, 0)],
        crs=L93,
    ).to_crs(4326)
    stops = entry.load(square, source=features, margin_m=1_000)
    assert list(stops.columns) == [*entry.schema, "geometry"]
    assert list(stops["id"]) == ["osm:node/1"]
    assert (stops["kind"].iloc[0], stops["shelter"].iloc[0]) == ("bus_stop", "yes")
    assert stops.crs == square.crs
    # ... and a criterion on it: a 100 m x 100 m site 1 km east of the stop
    prof = profile_from_dict(_profile("bus_stops"))
    site = gpd.GeoDataFrame(
        {"site_id": ["s"]}, geometry=[shapely.box(6_000, 2_950, 6_100, 3_050)], crs=L93
    )
    scored = foncier.score(site, {"bus_stops": stops}, prof)
    assert scored["c__raw"].iloc[0] == pytest.approx(1_000, abs=0.01)


def test_listing_tells_what_covers_an_overseas_territory():
    from typer.testing import CliRunner

    from foncier.cli import app

    reunion = territory("974")
    table = available_layers(reunion).set_index("layer")
    # no railway overseas (a true zero, covered); EDF SEI substations and WPI seaports are
    # embedded; the tolled motorway interchanges are not, OpenStreetMap has the junctions
    assert table.loc["rail_freight_stations", "covered"] == "full"
    assert table.loc["substations", ["covered", "covered_online"]].tolist() == ["full", "full"]
    assert table.loc["ports", ["covered", "covered_online"]].tolist() == ["full", "full"]
    assert table.loc["motorway_junctions", ["covered", "covered_online"]].tolist() == [
        "none",
        "full",
    ]
    assert table.loc["waterways", "covered"] == "none"
    assert table.loc["communes", "coverage"] == "France entière"
    result = CliRunner().invoke(app, ["layers", "974", "--no-count"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "motorway_junctions" in line)
    assert "hors couverture (en ligne : oui)" in row


def test_housing_online_from_openstreetmap_residential_areas(monkeypatch, square):
    # One residential area of 1 km² inside the square (its outline computed here in L93).
    ring = gpd.GeoSeries([shapely.box(2_000, 2_000, 3_000, 3_000)], crs=L93).to_crs(4326)
    lonlat = list(ring.iloc[0].exterior.coords)
    answer = {
        "version": 0.6,
        "osm3s": {"timestamp_osm_base": "2026-11-01T00:00:00Z"},
        "elements": [
            {
                "type": "way",
                "id": 7,
                "tags": {"landuse": "residential", "name": "Lotissement"},
                "geometry": [{"lat": lat, "lon": lon} for lon, lat in lonlat],
            },
            {"type": "node", "id": 8, "lat": lonlat[0][1], "lon": lonlat[0][0], "tags": {}},
        ],
    }
    with LocalServer() as server:
        server.script("/api/interpreter", Reply(body=json.dumps(answer).encode()))
        monkeypatch.setattr(settings, "overpass_url", f"{server.url}/api/interpreter")
        homes = load_layers(square, ["housing"], online=True, margin_m=500, errors="raise")
        bodies = [body for _, path, _, body in server.requests if path == "/api/interpreter"]
    homes = homes["housing"]
    assert list(homes["id"]) == ["osm:way/7"]
    assert (homes["kind"].iloc[0], homes["source"].iloc[0]) == ("residential", "osm")
    assert str(homes["date"].iloc[0]) == "2026-11-01"
    assert homes.crs == square.crs
    assert homes.geometry.area.iloc[0] == pytest.approx(1e6, rel=1e-6)
    # one query, asking for the registry's tag
    assert len(bodies) == 1
    assert 'nwr["landuse"="residential"]' in unquote_plus(bodies[0].decode())

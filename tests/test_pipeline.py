"""The main job end to end on embedded data, and the layer catalogue."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from foncier.pipeline import default_profile, profile_layers, siting_study
from layers import ArgumentError
from layers.catalog import LAYERS, available_layers, load_layers
from layers.territories import territory


@pytest.fixture(scope="module")
def study():
    return siting_study("grand-compiegnois", sites="hex:2000", draws=50)


def test_default_profiles_follow_the_territory():
    assert default_profile("grand-compiegnois") == "logistique-multimodale"
    assert default_profile("soissonnais-valois") == "materiaux-biosources"
    assert default_profile("60") == "logistique-multimodale"


def test_logistics_ranks_the_longueil_port_area_first(study, test_data):
    # Independent check: the SNCF freight station of Longueil-Sainte-Marie, read from the raw
    # SNCF file, and the port of Longueil-Sainte-Marie are in the same commune; the best
    # multimodal logistics site must be close to that station.
    raw = json.loads(
        (test_data / "infrastructure" / "sncf_liste_des_gares_france.geojson").read_text()
    )
    longueil = [
        f["properties"]
        for f in raw["features"]
        if f["properties"]["libelle"].startswith("Longueil-Ste-Marie")
        and f["properties"]["fret"] == "O"
    ]
    assert longueil
    station = shapely.Point(float(longueil[0]["x_l93"]), float(longueil[0]["y_l93"]))
    best = study.top(1).iloc[0]
    assert shapely.distance(best.geometry, station) < 3000
    assert "Longueil" in best["why"]


def test_missing_layers_are_reported_not_fatal(study):
    meta = study.scored.attrs["foncier"]
    skipped_layers = {s["layer"] for s in meta["criteria_skipped"]}
    # Offline, motorway junctions come from the embedded tolled interchanges; flood zones
    # and protected areas need a file or the web.
    assert "motorway_junctions" not in skipped_layers
    assert "flood_zones" in {s["layer"] for s in meta["exclusions_skipped"]}
    active = [c for c in meta["criteria"] if c["layer"] not in skipped_layers]
    assert sum(c["weight"] for c in active) == pytest.approx(1.0)
    assert "flood_zones" in study.skipped_layers


def test_sensitivity_aligned_on_sites(study):
    assert study.sensitivity is not None
    assert study.sensitivity.index.equals(study.scored.index)
    top = study.top(10)
    assert len(top) == 10
    assert top["p_top_n"].between(0, 1).all()


def test_study_map_contains_the_scored_sites(study):
    m = study.map()
    html = m.get_root().render()
    assert "Grand Compiégnois" in html
    # one compact popup per scored site, the drawn layers named, the population table and
    # the layers not loaded left out
    assert html.count('"_pt":') == len(study.scored)
    assert "Gares fret SNCF" in html
    assert "Postes électriques RTE" in html
    # Offline, the motorway layer holds the tolled interchanges, and its source line says so.
    assert "Échangeurs autoroutiers" in html
    assert "échangeurs à péage seulement" in html
    assert "Voies ferrées" in html
    assert "Voies navigables" in html
    assert "Zones inondables" not in html  # needs a file or the web
    from foncier.reports.mapping import map_layers

    drawn = map_layers(study.layers)
    assert "communes" in study.layers
    assert "communes" not in drawn  # the population table is not drawn
    assert set(drawn) <= set(study.layers)
    # the skipped criterion is told once, in every popup's shared lines
    assert html.count("Non évalués : ") == 1


def test_profile_layers_in_profile_order():
    from foncier.engine.profiles import load_profile

    names = profile_layers(load_profile("logistique-multimodale"))
    assert names[0] == "rail_freight_stations"
    assert "flood_zones" in names


def test_catalogue_loads_embedded_layers_in_territory_crs():
    t = territory("chartres-metropole")
    loaded = load_layers(t, ["rail_freight_stations", "substations", "communes"])
    assert set(loaded) == {"rail_freight_stations", "substations", "communes"}
    for layer in loaded.values():
        assert layer.crs == t.crs
    pop = loaded["communes"]
    # the labour pool reaches 30 km beyond the perimeter: more communes than members,
    # all the members flagged, and their population equal to the territory's
    assert len(pop) > len(t.communes)
    assert pop["in_territory"].sum() == len(t.communes)
    assert pop.loc[pop["in_territory"], "population"].sum() == t.population


def test_catalogue_skips_what_needs_a_file_or_the_web():
    t = territory("chartres-metropole")
    loaded = load_layers(t, ["flood_zones", "trunk_roads", "aerodromes"])
    assert set(loaded) == {"aerodromes"}
    # Motorway junctions load offline from the tolled interchanges (A11 around Chartres).
    junctions = load_layers(t, ["motorway_junctions"])["motorway_junctions"]
    assert set(junctions["kind"]) == {"toll_interchange"}
    assert junctions["name"].str.contains("Chartres").any()
    with pytest.raises(ArgumentError, match="Unknown layer"):
        load_layers(t, ["railways"])


def test_catalogue_table_lists_every_layer():
    table = available_layers()
    assert set(table["layer"]) == set(LAYERS)
    offline = set(table.loc[table["offline"], "layer"])
    assert {"rail_freight_stations", "substations", "aerodromes", "communes"} <= offline
    assert "motorway_junctions" not in offline


def test_flood_zones_from_a_file_exclude_sites(test_data):
    # A territory in the Romanche valley (Isère) with the real PPR: sites in flood zones are
    # excluded with their reason.
    ppr = test_data / "constraints" / "ppr_cnig_38DDT20200002_isere.gpkg"
    outline = gpd.read_file(ppr, layer="n_perimetre_pprn").to_crs(2154)
    from layers.territories import Territory

    zone = Territory.from_perimeter(outline.geometry.iloc[0], crs="EPSG:2154", name="PPR")
    result = siting_study(zone, sites="grid:500", sources={"flood_zones": ppr}, draws=0)
    reasons = result.scored.loc[result.scored["excluded"], "exclusion_reasons"]
    assert reasons.str.contains("inondable").any()


def test_slope_from_a_dem_file_scores_and_excludes(test_data):
    # A 12 km box on the Grenoble plain and the Chartreuse / Vercors slopes around it, with
    # the real Copernicus DEM: the slope criterion is measured (not skipped) and steep cells
    # are excluded for manufacturing.
    import pyproj

    from layers.raster import Raster
    from layers.terrain import load_slope, sample_raster
    from layers.territories import Territory

    dem = test_data / "dem" / "copernicus_dem_N45E005_grenoble_0p002deg.tif"
    x, y = pyproj.Transformer.from_crs(4326, 2154, always_xy=True).transform(5.72, 45.19)
    zone = Territory.from_perimeter(
        shapely.box(x - 6000, y - 6000, x + 6000, y + 6000), crs="EPSG:2154", name="Grenoble"
    )
    study = siting_study(
        zone,
        profile="industrie-manufacturiere",
        sites="grid:2000",
        sources={"slope": dem},
        draws=0,
    )
    assert isinstance(study.layers["slope"], Raster)
    meta = study.scored.attrs["foncier"]
    assert "flat_land" in [c["id"] for c in meta["criteria"]]
    assert "slope" not in {s["layer"] for s in meta["criteria_skipped"]}
    raw = study.scored["flat_land__raw"]
    assert raw.notna().all()
    # independent check: the slope at each cell's centre, sampled from the same raster,
    # brackets the cell means (a 2 km cell mixes plain and mountain)
    slope = load_slope(zone, source=dem)
    centres = study.scored.geometry.centroid
    at_centre = sample_raster(slope, centres.x.to_numpy(), centres.y.to_numpy())
    assert abs(float(raw.median()) - float(np.nanmedian(at_centre))) < 3.0
    steep = study.scored["exclusion_reasons"].fillna("").str.contains("Pente trop forte")
    assert steep.any()
    assert (raw[steep] > 5).all()
    assert (raw[~steep] <= 5).all()

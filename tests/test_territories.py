"""Territories: presets, codes, files, errors — checked against the reference table."""

from __future__ import annotations

import csv
from collections import defaultdict

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers import TerritoryError, UnknownTerritoryError
from layers.territories import normalize_text, presets, suggest, territory

PRESET_OF = {
    "Grand Compiégnois": "grand-compiegnois",
    "Pays de Châlons-en-Champagne": "chalons-en-champagne",
    "Chartres métropole": "chartres-metropole",
    "Communauté urbaine d'Alençon": "alencon",
    "PETR Soissonnais-Valois": "soissonnais-valois",
}


@pytest.fixture(scope="module")
def reference(test_data):
    """Member EPCI, commune counts and populations of the five territories (tests/data)."""
    table: dict[str, dict] = defaultdict(lambda: {"epci": set(), "communes": 0, "population": 0})
    path = test_data / "territoires" / "reference_territories_epci.csv"
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ref = table[PRESET_OF[row["territoire_reference"]]]
            ref["epci"].add(row["epci_siren"])
            ref["communes"] += int(row["nb_communes"])
            ref["population"] += int(row["population_municipale"])
            ref.setdefault("deps", set()).update(row["departements"].split("|"))
    return dict(table)


def test_five_presets_are_shipped():
    assert set(presets()) == set(PRESET_OF.values())


@pytest.mark.parametrize("preset_id", sorted(PRESET_OF.values()))
def test_preset_members_match_reference_table(preset_id, reference):
    t = territory(preset_id)
    ref = reference[preset_id]
    assert t.id == preset_id
    assert set(t.epci["siren"]) == ref["epci"]
    assert len(t.communes) == ref["communes"]
    assert t.population == ref["population"]
    assert set(t.communes["dep"]) == ref["deps"]
    assert t.crs.to_epsg() == 2154
    assert t.epci["complete"].all()
    assert t.epci["n_communes"].sum() == ref["communes"]


def test_perimeter_area_matches_unsimplified_communes():
    t = territory("grand-compiegnois")
    source_km2 = t.communes["area_km2_source"].sum()
    assert t.area_km2 == pytest.approx(source_km2, rel=0.01)
    # the perimeter is one piece (the four EPCI are contiguous) with no holes of slivers
    assert shapely.get_num_geometries(t.perimeter) == 1


def test_alencon_spans_two_departements():
    t = territory("alencon")
    assert t.departements == ["61", "72"]
    assert t.name == "Communauté urbaine d'Alençon"


def test_epci_siren_and_commune_codes():
    agglo = territory("200067965")
    assert len(agglo.communes) == 22
    assert agglo.population == 82281
    compiegne = territory("60159")
    assert list(compiegne.communes["nom"]) == ["Compiègne"]
    # INSEE publishes 53.1 km² for Compiègne
    assert compiegne.area_km2 == pytest.approx(53.1, rel=0.01)
    both = territory(["60159", "60382"])  # Compiègne + Margny-lès-Compiègne
    assert sorted(both.communes["nom"]) == ["Compiègne", "Margny-lès-Compiègne"]


def test_departement_and_overseas_crs():
    oise = territory("60")
    assert oise.crs.to_epsg() == 2154
    assert len(oise.communes) > 600  # the Oise has ~680 communes
    reunion = territory("974")
    assert reunion.crs.to_epsg() == 2975  # RGR92 / UTM 40S, the official CRS of La Réunion
    assert len(reunion.communes) == 24
    assert 2400 < reunion.area_km2 < 2600  # La Réunion: 2,504 km²


def test_keywords_make_a_union():
    # CU d'Alençon (31 communes) + Alménêches (61002), which is not a member
    alencon = set(territory("alencon").communes["insee"])
    assert "61002" not in alencon
    t = territory(epci=["246100663"], communes=["61002"])
    assert set(t.communes["insee"]) == alencon | {"61002"}
    assert t.population == territory("alencon").population + int(
        t.communes.loc[t.communes["insee"] == "61002", "population"].iloc[0]
    )


def test_unknown_id_suggests_close_matches():
    with pytest.raises(UnknownTerritoryError) as err:
        territory("compiegne")
    text = str(err.value)
    assert "grand-compiegnois" in text
    assert "200067965" in text  # CA de la Région de Compiègne et de la Basse Automne
    assert isinstance(err.value, LookupError)


def test_suggestions_ignore_accents_and_case():
    assert any(s.startswith("chalons-en-champagne") for s in suggest("CHALONS"))
    assert any("Alençon" in s for s in suggest("alencon"))


def test_unknown_codes_raise_clear_errors():
    with pytest.raises(UnknownTerritoryError, match="not an EPCI"):
        territory("123456789")
    with pytest.raises(UnknownTerritoryError, match="not a commune"):
        territory("60999")
    with pytest.raises(UnknownTerritoryError, match="Département"):
        territory("99")


def test_mixed_list_is_rejected():
    with pytest.raises(TerritoryError, match="mixes kinds"):
        territory(["200067965", "60159"])


def test_overseas_and_metropolitan_cannot_mix():
    with pytest.raises(TerritoryError, match="different projected CRS"):
        territory(departements=["60", "974"])


def test_boundary_file(tmp_path):
    compiegne = territory("60159")
    boundary = gpd.GeoDataFrame(geometry=[compiegne.perimeter.buffer(-200)], crs=compiegne.crs)
    path = tmp_path / "zone.gpkg"
    boundary.to_file(path)
    t = territory(path)
    assert list(t.communes["insee"]) == ["60159"]
    assert t.area_km2 == pytest.approx(shapely.area(boundary.geometry[0]) / 1e6, rel=1e-6)
    with pytest.raises(UnknownTerritoryError, match="does not exist"):
        territory(tmp_path / "missing.gpkg")


def test_boundary_file_without_crs_is_rejected(tmp_path):
    from layers import CRSError

    path = tmp_path / "nocrs.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Point","coordinates":[0,0]}}]}'
    )
    gdf = gpd.read_file(path)
    if gdf.crs is not None:  # GeoJSON implies WGS84; use a shapefile without .prj instead
        shp = tmp_path / "nocrs.shp"
        with pytest.warns(UserWarning, match="crs"):  # pyogrio warns about the missing CRS
            gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]).to_file(shp)
        path = shp
    with pytest.raises(CRSError):
        territory(path)


def test_normalize_text():
    assert normalize_text("Compiègne") == "compiegne"
    assert normalize_text("  Saint-Étienne-du-Rouvray ") == "saint etienne du rouvray"


def test_grown_perimeter_is_computed_once_per_margin():
    t = territory("alencon")
    area = t.area_with_margin(30_000)
    # the buffer a caller would compute, and the same object on the next call
    expected = shapely.buffer(t.perimeter, 30_000, quad_segs=4)
    assert shapely.equals_exact(area, expected, tolerance=0)
    assert t.area_with_margin(30_000) is area
    assert t.area_with_margin(0) is t.perimeter
    assert shapely.area(t.area_with_margin(10_000)) < shapely.area(area)
    assert t.bbox_lonlat(0) != t.bbox_lonlat(30_000)


def test_lonlat_box_holds_the_grown_perimeter_and_little_more():
    t = territory("alencon")
    west, south, east, north = t.bbox_lonlat(30_000)
    # The perimeter grown by 30 km with fine arcs (the true distance within 2 m), in lon/lat.
    fine = gpd.GeoSeries([shapely.buffer(t.perimeter, 30_000, quad_segs=64)], crs=t.crs)
    w, s, e, n = fine.to_crs(4326).total_bounds
    assert (west, south) <= (w, s)
    assert (east, north) >= (e, n)
    # At 48.4° N a degree of longitude is about 74 km, of latitude 111 km: under 3 km more
    # (the corners of the box reach further than the grown perimeter's arcs).
    assert max(w - west, e - east) < 3 / 74
    assert max(s - south, n - north) < 3 / 111
    assert t.bbox_lonlat(30_000) is t.bbox_lonlat(30_000)


def test_within_margin_is_the_distance_to_the_perimeter():
    t = territory("alencon")
    x0, y0, x1, y1 = shapely.bounds(t.perimeter)
    rng = np.random.default_rng(3)
    n = 3000
    pts = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(
            rng.uniform(x0 - 40_000, x1 + 40_000, n), rng.uniform(y0 - 40_000, y1 + 40_000, n)
        ),
        crs=t.crs,
    )
    dist = shapely.distance(pts.geometry.to_numpy(), t.perimeter)
    for margin in (0.0, 5_000.0, 30_000.0):
        expected = np.flatnonzero(dist <= margin)
        assert np.array_equal(t.within_margin(pts, margin), expected)
    # The grown polygon cuts its arcs short: points it leaves out are still within 30 km.
    inside_polygon = shapely.intersects(pts.geometry.to_numpy(), t.area_with_margin(30_000))
    assert set(np.flatnonzero(inside_polygon)) <= set(t.within_margin(pts, 30_000))
    assert len(t.within_margin(pts.iloc[:0], 30_000)) == 0

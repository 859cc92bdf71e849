"""Candidate sites: grids (cell areas by formula), clipping, removal, communes, files."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from foncier.engine.sites import (
    grid_sites,
    parse_sites_spec,
    sites_from_file,
    sites_from_parcels,
    sites_from_zae,
)
from layers.errors import ArgumentError, CRSError, DataSourceError, GeometryError, SchemaError
from layers.territories import Territory

L93 = "EPSG:2154"


@pytest.fixture
def territory():
    # A 10 km x 5 km rectangle in Lambert-93 split into two communes at x = 6 km.
    x0, y0 = 680_000.0, 6_920_000.0
    communes = gpd.GeoDataFrame(
        {
            "insee": ["60159", "60360"],
            "nom": ["Compiègne", "Longueil-Sainte-Marie"],
            "epci_siren": ["200067965", "246000749"],
            "population": [40000, 2500],
        },
        geometry=[
            shapely.box(x0, y0, x0 + 6000, y0 + 5000),
            shapely.box(x0 + 6000, y0, x0 + 10000, y0 + 5000),
        ],
        crs=L93,
    )
    base = Territory.from_perimeter(shapely.box(x0, y0, x0 + 10000, y0 + 5000), crs=L93)
    return Territory(
        id="t",
        name="Test",
        crs=base.crs,
        perimeter=base.perimeter,
        communes=communes,
        epci=base.epci,
    )


def test_hex_cell_area_is_sqrt3_over_2_s_squared(territory):
    g = grid_sites(territory, cell_size_m=1000, shape="hex", clip=False)
    # Whole cells: area (sqrt(3)/2) s^2 = 866 025.4 m2, side s / sqrt(3).
    np.testing.assert_allclose(g["area_m2"], math.sqrt(3) / 2 * 1000**2, rtol=1e-9)
    ring = np.asarray(g.geometry.iloc[0].exterior.coords)
    sides = np.hypot(*np.diff(ring, axis=0).T)
    np.testing.assert_allclose(sides, 1000 / math.sqrt(3), rtol=1e-9)
    # Neighbour centres are s apart (flat-to-flat width).
    c = np.column_stack([g.centroid.x, g.centroid.y])
    d = np.hypot(*(c[:, None, :] - c[None, :, :]).transpose(2, 0, 1))
    d[d == 0] = np.inf
    np.testing.assert_allclose(d.min(axis=1), 1000, rtol=1e-9)


def test_clipped_grid_tiles_the_territory(territory):
    for shape in ("hex", "square"):
        g = grid_sites(territory, cell_size_m=700, shape=shape)
        assert g["area_m2"].sum() == pytest.approx(50e6, rel=1e-9)
        assert g["site_id"].is_unique
        assert (g.index == g["site_id"]).all()
        assert g.crs == territory.crs
        assert (g.geometry.within(territory.perimeter.buffer(1e-6))).all()


def test_square_grid_count_and_communes(territory):
    g = grid_sites(territory, cell_size_m=1000, shape="square")
    # 680 000 and 6 920 000 are multiples of 1000: exactly 10 x 5 cells of 1 km2.
    assert len(g) == 50
    np.testing.assert_allclose(g["area_m2"], 1e6)
    assert (g["commune"] == "Compiègne").sum() == 30
    assert (g["epci_siren"] == "246000749").sum() == 20
    assert set(g["insee"]) == {"60159", "60360"}


def test_commune_with_the_largest_part_wins(territory):
    x0, y0 = 680_000.0, 6_920_000.0
    # 700 m of this 1 km wide parcel lie west of x0 + 6000 (Compiègne), 300 m east.
    parcel = gpd.GeoDataFrame(
        {"idu": ["601590000A0001"]},
        geometry=[shapely.box(x0 + 5300, y0, x0 + 6300, y0 + 100)],
        crs=L93,
    )
    out = sites_from_parcels(parcel, territory)
    assert out.loc["601590000A0001", "commune"] == "Compiègne"
    assert out.loc["601590000A0001", "area_m2"] == pytest.approx(100_000)


def test_minus_and_min_area(territory):
    x0, y0 = 680_000.0, 6_920_000.0
    built = gpd.GeoDataFrame(geometry=[shapely.box(x0, y0, x0 + 2500, y0 + 5000)], crs=L93)
    g = grid_sites(territory, cell_size_m=1000, shape="square", minus=built, min_area_m2=600_000)
    # Columns x0..x0+2 km removed, the half cells at 2-2.5 km are 0.5 km2 < 0.6 km2: dropped.
    assert len(g) == 7 * 5
    assert g["area_m2"].sum() == pytest.approx(35e6)
    # minus given in another CRS is reprojected at the boundary.
    g2 = grid_sites(territory, cell_size_m=1000, shape="square", minus=built.to_crs(4326))
    assert g2["area_m2"].sum() == pytest.approx(50e6 - 12.5e6, rel=1e-4)


def test_sites_from_zae_reprojects_and_drops_outside(territory):
    x0, y0 = 680_000.0, 6_920_000.0
    zae = gpd.GeoDataFrame(
        {"site_id": ["Z1", "Z2"], "site_nom": ["ZAC du Bois de Plaisance", "Ailleurs"]},
        geometry=[
            shapely.box(x0 + 100, y0 + 100, x0 + 300, y0 + 300),
            shapely.box(x0 + 50_000, y0, x0 + 50_100, y0 + 100),
        ],
        crs=L93,
    ).to_crs(4326)
    out = sites_from_zae(zae, territory)
    assert out["site_id"].tolist() == ["Z1"]
    assert out.loc["Z1", "name"] == "ZAC du Bois de Plaisance"
    assert out.crs == territory.crs
    assert out.loc["Z1", "area_m2"] == pytest.approx(40_000, rel=1e-6)


def test_sites_from_file_and_spec(tmp_path, territory):
    x0, y0 = 680_000.0, 6_920_000.0
    path = tmp_path / "terrains.gpkg"
    gpd.GeoDataFrame(
        {"ref": ["a", "b"]},
        geometry=[
            shapely.box(x0, y0, x0 + 100, y0 + 100),
            shapely.box(x0 + 9000, y0, x0 + 9200, y0 + 100),
        ],
        crs=L93,
    ).to_file(path)
    out = sites_from_file(path, territory, id_column="ref")
    assert out["site_id"].tolist() == ["a", "b"]
    assert out["commune"].tolist() == ["Compiègne", "Longueil-Sainte-Marie"]
    assert parse_sites_spec(str(path))(territory)["area_m2"].tolist() == [10_000, 20_000]
    assert len(parse_sites_spec("grid:1000")(territory)) == 50
    hexes = parse_sites_spec("hex:1000m")(territory)
    assert hexes["site_id"].str.startswith("H").all()
    with pytest.raises(SchemaError, match="no column 'nope'"):
        sites_from_file(path, territory, id_column="nope")
    with pytest.raises(DataSourceError, match="not found"):
        sites_from_file(tmp_path / "missing.gpkg", territory)


@pytest.mark.parametrize("spec", ["grid:-5", "hex:abc", "sites.txt", "grid"])
def test_bad_specs(spec):
    with pytest.raises(ArgumentError, match="bad sites option"):
        parse_sites_spec(spec)


def test_bad_inputs(territory):
    with pytest.raises(ArgumentError, match="> 0"):
        grid_sites(territory, cell_size_m=0)
    with pytest.raises(ArgumentError, match="'hex', 'square'"):
        grid_sites(territory, cell_size_m=100, shape="triangle")
    no_crs = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)])
    with pytest.raises(CRSError, match="no CRS"):
        sites_from_parcels(no_crs, territory)
    with pytest.raises(GeometryError, match="about"):
        grid_sites(territory, cell_size_m=1)


def test_auto_cell_size_gives_about_a_thousand_cells(territory):
    from foncier.engine.sites import auto_cell_size

    size = auto_cell_size(territory, n_sites=50, step_m=1.0, min_m=1.0)
    # hand computation: a hexagon of width s covers (√3/2)·s²
    expected = math.sqrt(territory.area_km2 * 1e6 / (50 * math.sqrt(3) / 2))
    assert size == pytest.approx(round(expected), abs=1.0)
    cells = parse_sites_spec("hex:auto")(territory)
    auto = auto_cell_size(territory)
    assert len(cells) == len(grid_sites(territory, cell_size_m=auto, shape="hex"))

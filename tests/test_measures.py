"""Measures: exact distances, overlap shares, zonal statistics, counts, attributes."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon, box

from foncier.engine import distances, measures
from layers import settings as foncier_settings
from layers.errors import CRSError, FoncierError, ProfileError, SchemaError
from layers.raster import Raster

L93 = "EPSG:2154"


def gdf(geoms, crs=L93, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


def unit_square(x=0.0, y=0.0, size=1.0):
    return box(x, y, x + size, y + size)


# --------------------------------------------------------------------------------------
# Distances on hand-made geometries


def test_distance_3_4_5_triangle_from_square_corner():
    # Nearest point of the unit square to (4, 5) is its corner (1, 1): sqrt(3² + 4²) = 5.
    res = measures.distance_to(gdf([unit_square()]), gdf([Point(4, 5)], name=["gare"]))
    assert res.loc[0, "distance_m"] == pytest.approx(5.0, abs=1e-9)
    assert res.loc[0, "nearest_name"] == "gare"
    assert res.loc[0, "nearest_id"] == 0


def test_point_inside_site_gives_zero():
    res = measures.distance_to(gdf([unit_square(size=10)]), gdf([Point(3, 7)]))
    assert res["distance_m"].tolist() == [0.0]


def test_line_crossing_site_gives_zero_although_its_vertices_are_far():
    line = LineString([(-100, 5), (100, 5)])
    res = measures.distance_to(gdf([unit_square(size=10)]), gdf([line]))
    assert res["distance_m"].tolist() == [0.0]


def test_nearest_to_the_middle_of_a_segment_is_perpendicular():
    # Segment y = 5 from x = -1000 to 1000: both vertices are ~1000 m away, the
    # perpendicular from the square's top edge (y = 1) is 4 m.
    line = LineString([(-1000, 5), (1000, 5)])
    far_point = Point(0, 30)
    res = measures.distance_to(
        gdf([unit_square()]), gdf([far_point, line], name=["point", "ligne"])
    )
    assert res.loc[0, "distance_m"] == pytest.approx(4.0, abs=1e-9)
    assert res.loc[0, "nearest_name"] == "ligne"
    assert res.loc[0, "nearest_id"] == 1


def test_site_inside_a_polygon_feature_and_in_its_hole():
    outer = box(-1000, -1000, 1000, 1000)
    hole = box(-100, -100, 100, 100)
    zone = Polygon(outer.exterior.coords, [hole.exterior.coords])
    sites = gdf([unit_square(500, 500, 10), unit_square(-5, -5, 10), Point(0, 0)])
    res = measures.distance_to(sites, gdf([zone]))
    # Deep inside the zone: 0 although its boundary is ~490 m away; inside the hole:
    # distance to the hole's ring (100 - 5 = 95 m; the point at the centre: 100 m).
    assert res["distance_m"].tolist() == pytest.approx([0.0, 95.0, 100.0])


def test_feature_inside_the_site_gives_zero():
    small = box(40, 40, 41, 41)
    res = measures.distance_to(
        gdf([unit_square(size=100)]), gdf([small, LineString([(10, 10), (20, 20)])])
    )
    assert res["distance_m"].tolist() == [0.0]


def test_max_distance_and_ids_from_a_column():
    sites = gdf([unit_square(), unit_square(1000, 0)])
    feats = gdf([Point(11, 0.5)], code=["P1"], name=["poste"])
    res = measures.distance_to(sites, feats, max_distance=50, id_column="code")
    assert res.loc[0, "distance_m"] == pytest.approx(10.0)
    assert res.loc[0, "nearest_id"] == "P1"
    assert np.isinf(res.loc[1, "distance_m"])
    assert pd.isna(res.loc[1, "nearest_name"])
    assert pd.isna(res.loc[1, "nearest_id"])


def test_results_keep_the_sites_index():
    sites = gpd.GeoDataFrame(
        geometry=[unit_square(0, 0), unit_square(10, 0)], index=["zae-b", "zae-a"], crs=L93
    )
    feats = gpd.GeoDataFrame(geometry=[Point(14, 0.5)], index=["gare-x"], crs=L93)
    res = measures.distance_to(sites, feats)
    assert list(res.index) == ["zae-b", "zae-a"]
    assert res["distance_m"].tolist() == pytest.approx([13.0, 3.0])
    assert res["nearest_id"].tolist() == ["gare-x", "gare-x"]


def test_empty_layer_gives_inf_and_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="foncier.engine.measures"):
        res = measures.distance_to(gdf([unit_square()]), gdf([]))
    assert np.isinf(res["distance_m"]).all()
    assert "empty" in caplog.text


def test_point_sites():
    sites = gdf([Point(0, 0), Point(10, 10)])
    res = measures.distance_to(sites, gdf([LineString([(3, -10), (3, 10)])]))
    assert res["distance_m"].tolist() == pytest.approx([3.0, 7.0])


def test_invalid_site_is_repaired_with_a_warning(caplog):
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    with caplog.at_level(logging.WARNING):
        res = measures.distance_to(gdf([bowtie]), gdf([Point(20, 5)]))
    assert "invalid" in caplog.text
    assert res.loc[0, "distance_m"] == pytest.approx(10.0)


# --------------------------------------------------------------------------------------
# Random layers versus brute force


def random_polygons(rng, n, *, box_m, rmin, rmax, nv=8):
    c = rng.uniform(0, box_m, (n, 2))
    ang = np.linspace(0, 2 * np.pi, nv, endpoint=False) + rng.uniform(0, 0.5, (n, nv))
    rad = rng.uniform(rmin, rmax, (n, nv))
    x = c[:, 0, None] + rad * np.cos(ang)
    y = c[:, 1, None] + rad * np.sin(ang)
    return shapely.polygons(np.stack([x, y], axis=2))


def random_lines(rng, n, *, box_m, steps=30, step_m=300):
    start = rng.uniform(0, box_m, (n, 1, 2))
    walk = start + rng.normal(0, step_m, (n, steps, 2)).cumsum(axis=1)
    return shapely.linestrings(walk)


@pytest.fixture(scope="module")
def random_sites():
    rng = np.random.default_rng(42)
    geoms = random_polygons(rng, 3000, box_m=20_000, rmin=10, rmax=60)
    # A few point sites in the mix.
    geoms[:50] = shapely.points(rng.uniform(0, 20_000, (50, 2)))
    return gdf(geoms)


@pytest.mark.parametrize("kind", ["points", "lines", "polygons", "mixed"])
def test_random_layers_match_brute_force(random_sites, kind):
    rng = np.random.default_rng({"points": 1, "lines": 2, "polygons": 3, "mixed": 4}[kind])
    if kind == "points":
        feats = shapely.points(rng.uniform(0, 20_000, (150, 2)))
    elif kind == "lines":
        feats = random_lines(rng, 12, box_m=20_000)
    elif kind == "polygons":
        feats = random_polygons(rng, 120, box_m=20_000, rmin=100, rmax=900)
    else:
        feats = np.concatenate(
            [
                shapely.points(rng.uniform(0, 20_000, (40, 2))),
                random_lines(rng, 4, box_m=20_000),
                random_polygons(rng, 40, box_m=20_000, rmin=100, rmax=900),
            ]
        )
    names = [f"f{i}" for i in range(len(feats))]
    layer = gdf(feats, name=names)
    res = measures.distance_to(random_sites, layer)
    # Brute force: every site against every feature with GEOS.
    s = random_sites.geometry.to_numpy()
    full = shapely.distance(s[:, None], np.asarray(feats)[None, :])
    ref = full.min(axis=1)
    assert np.abs(res["distance_m"].to_numpy() - ref).max() <= 1.0
    # Also exact in practice, far below the 1 m requirement.
    assert np.abs(res["distance_m"].to_numpy() - ref).max() < 1e-6
    assert ((res["distance_m"].to_numpy() == 0) == (ref == 0)).all()
    # The nearest feature is right wherever the runner-up is more than 1 m farther.
    second = np.partition(full, 1, axis=1)[:, 1]
    clear = second - ref > 1.0
    expected = np.asarray(names)[full.argmin(axis=1)]
    assert (res["nearest_name"].to_numpy()[clear] == expected[clear]).all()
    assert clear.mean() > 0.9


def test_sites_around_the_vertices_of_a_zigzag_line_match_shapely():
    # Sharp turns: a site near a vertex is often nearest to the vertex two segments share
    # (the second segment is then skipped without a GEOS call), but a site inside a turn
    # is nearer to the second segment than to the one nearest its centroid.
    xs = np.arange(0, 2001, 200.0)
    ys = np.where(np.arange(xs.size) % 2 == 0, 0.0, 150.0)
    line = LineString(np.c_[xs, ys])
    rng = np.random.default_rng(31)
    centres = rng.uniform([-100, -200], [2100, 350], (1500, 2))
    sites = shapely.buffer(shapely.points(centres), rng.uniform(1, 40, 1500), quad_segs=2)
    got = measures.distance_to(gdf(sites), gdf([line]))["distance_m"].to_numpy()
    np.testing.assert_array_equal(got, shapely.distance(sites, line))


def test_equally_near_features_go_to_the_first_one_whatever_the_candidates_order():
    # Sites across the shared edge of two squares (distance 0 to both), and sites midway
    # between two parallel lines, in many places so that the cells and their candidate
    # lists differ: the nearest feature is always the layer's first of the tied ones.
    left, right = box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)
    ys = np.linspace(50, 950, 40)
    straddling = [box(990, y - 5, 1010, y + 5) for y in ys]
    for feats, first in (([left, right], 0), ([right, left], 0)):
        res = measures.distance_to(gdf(straddling), gdf(feats, name=["a", "b"]))
        assert (res["distance_m"] == 0).all()
        assert (res["nearest_id"] == first).all()
    lines = [LineString([(0, 5000), (3000, 5000)]), LineString([(0, 5100), (3000, 5100)])]
    midway = [box(x - 5, 5045, x + 5, 5055) for x in np.linspace(100, 2900, 40)]
    for feats in (lines, lines[::-1]):
        res = measures.distance_to(gdf(midway), gdf(feats))
        assert res["distance_m"].tolist() == pytest.approx([45.0] * 40)
        assert (res["nearest_id"] == 0).all()


@pytest.mark.parametrize("seed", range(16))
def test_random_layers_distance_and_first_of_ties_match_brute_force(seed, monkeypatch):
    # Points, random walks, overlapping polygons and a doubled zigzag, with and without a
    # search radius, on 1 to 3 threads: every distance is GEOS's to the brute-force pair,
    # and the feature named is the first of the layer at that distance (argmin's rule).
    rng = np.random.default_rng(seed)
    n, size = int(rng.integers(1, 300)), float(rng.choice([200.0, 5_000.0, 50_000.0]))
    centres = rng.uniform(0, size, (n, 2))
    sites = shapely.buffer(
        shapely.points(centres), rng.uniform(1, size / 50 + 2, n), quad_segs=int(rng.integers(1, 4))
    )
    m = int(rng.integers(1, 50))
    kind = seed % 4
    if kind == 0:
        feats = shapely.points(rng.uniform(-0.2 * size, 1.2 * size, (m, 2)))
    elif kind == 1:
        start = rng.uniform(0, size, (m, 1, 2))
        steps = rng.normal(0, size / 20, (m, int(rng.integers(2, 30)), 2))
        feats = shapely.linestrings(start + steps.cumsum(axis=1))
    elif kind == 2:
        feats = shapely.buffer(
            shapely.points(rng.uniform(0, size, (m, 2))), rng.uniform(size / 100, size / 10, m)
        )
    else:
        zig = np.c_[np.linspace(0, size, 40), np.where(np.arange(40) % 2, 0.1 * size, 0) + size / 2]
        feats = np.array([LineString(zig), LineString(zig + 1.0)])
    monkeypatch.setattr(foncier_settings, "threads", int(rng.integers(1, 4)))
    radius = None if seed % 3 else float(rng.uniform(0, size / 3))
    res = measures.distance_to(gdf(sites), gdf(feats), max_distance=radius)
    full = shapely.distance(sites[:, None], np.asarray(feats)[None, :])
    ref = full.min(axis=1)
    if radius is not None:
        ref[ref > radius] = np.inf
    got = res["distance_m"].to_numpy()
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    near = np.isfinite(ref)
    np.testing.assert_allclose(got[near], ref[near], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(res["nearest_id"].to_numpy()[near], full.argmin(axis=1)[near])


def test_random_layer_with_max_distance(random_sites):
    rng = np.random.default_rng(7)
    feats = random_lines(rng, 5, box_m=20_000)
    res = measures.distance_to(random_sites, gdf(feats), max_distance=800)
    ref = shapely.distance(random_sites.geometry.to_numpy()[:, None], feats[None, :]).min(axis=1)
    near = ref <= 800
    assert np.abs(res["distance_m"].to_numpy()[near] - ref[near]).max() < 1e-6
    assert np.isinf(res["distance_m"].to_numpy()[~near]).all()
    assert near.sum() > 100
    assert (~near).sum() > 100


def test_prepared_sites_give_the_same_results(random_sites):
    rng = np.random.default_rng(9)
    feats = gdf(shapely.points(rng.uniform(0, 20_000, (30, 2))))
    prepared = measures.prepare_sites(random_sites)
    a = measures.distance_to(prepared, feats)
    b = measures.distance_to(random_sites, feats)
    pd.testing.assert_frame_equal(a, b)
    assert measures.prepare_sites(prepared) is prepared


# --------------------------------------------------------------------------------------
# Properties

# Millimetre coordinates: GEOS itself is wrong on subnormal floats, which are no land data.
coord = st.integers(-1_000_000, 1_000_000).map(lambda v: v / 1000)
size = st.integers(500, 300_000).map(lambda v: v / 1000)


@settings(max_examples=150, deadline=None)
@given(x=coord, y=coord, w=size, h=size, ax=coord, ay=coord, bx=coord, by=coord)
def test_property_distance_matches_shapely(x, y, w, h, ax, ay, bx, by):
    site = box(x, y, x + w, y + h)
    seg = LineString([(ax, ay), (bx, by)]) if (ax, ay) != (bx, by) else Point(ax, ay)
    d = measures.distance_to(gdf([site]), gdf([seg]))["distance_m"].iloc[0]
    assert d >= 0
    assert d == pytest.approx(shapely.distance(site, seg), abs=1e-6)
    if site.intersects(seg):
        assert d == 0
    if d == 0:
        assert shapely.distance(site, seg) < 1e-6


@settings(max_examples=60, deadline=None)
@given(x=size, y=coord, w=size, h=size, shift=st.integers(0, 5_000_000).map(lambda v: v / 1000))
def test_property_monotone_when_moved_away(x, y, w, h, shift):
    # Feature: the long vertical segment x = 0; the site lies to its right, so moving it
    # right by `shift` adds exactly `shift` to the distance.
    line = gdf([LineString([(0, -1e5), (0, 1e5)])])
    d0 = measures.distance_to(gdf([box(x, y, x + w, y + h)]), line)["distance_m"].iloc[0]
    d1 = measures.distance_to(gdf([box(x + shift, y, x + shift + w, y + h)]), line)[
        "distance_m"
    ].iloc[0]
    assert d1 >= d0
    assert d1 - d0 == pytest.approx(shift, abs=1e-6)


# --------------------------------------------------------------------------------------
# Overlap


def test_half_covered_square_has_share_one_half():
    sites = gdf([unit_square(size=100)])
    zones = gdf([box(50, -50, 200, 200)])
    assert measures.overlap_share(sites, zones).iloc[0] == pytest.approx(0.5)
    assert bool(measures.intersects(sites, zones).iloc[0])


def test_overlapping_zones_are_not_counted_twice():
    sites = gdf([unit_square(size=100)])
    zones = gdf([box(50, -50, 200, 200), box(50, -10, 150, 110)])
    assert measures.overlap_share(sites, zones).iloc[0] == pytest.approx(0.5)


def test_share_inside_outside_and_points():
    zone = box(0, 0, 10_000, 10_000)
    sites = gdf(
        [unit_square(5000, 5000, 10), unit_square(20_000, 0, 10), Point(5, 5), Point(-5, 5)],
    )
    share = measures.overlap_share(sites, gdf([zone]))
    assert share.tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0])
    assert measures.intersects(sites, gdf([zone])).tolist() == [True, False, True, False]


def test_random_shares_match_shapely(random_sites):
    rng = np.random.default_rng(11)
    zones = random_polygons(rng, 60, box_m=20_000, rmin=300, rmax=2500)
    share = measures.overlap_share(random_sites, gdf(zones)).to_numpy()
    union = shapely.union_all(zones)
    geoms = random_sites.geometry.to_numpy()
    area = shapely.area(geoms)
    inter = shapely.area(shapely.intersection(geoms, union))
    areal = area > 0
    expected = inter[areal] / area[areal]
    assert np.abs(share[areal] - expected).max() < 1e-9
    assert ((share > 0) & (share < 1)).sum() > 20  # boundary sites were exercised
    hit = measures.intersects(random_sites, gdf(zones)).to_numpy()
    assert (hit == shapely.intersects(geoms, union)).all()


def test_empty_zone_layer_gives_zero_share(caplog):
    with caplog.at_level(logging.WARNING, logger="foncier.engine.measures"):
        share = measures.overlap_share(gdf([unit_square()]), gdf([]))
    assert share.tolist() == [0.0]
    assert "empty" in caplog.text


def test_prepared_zones_are_reusable():
    zones = measures.prepare_zones(gdf([box(50, -50, 200, 200)]))
    a = measures.overlap_share(gdf([unit_square(size=100)]), zones)
    b = measures.overlap_share(gdf([unit_square(100, 0, 100)]), zones)
    assert (a.iloc[0], b.iloc[0]) == pytest.approx((0.5, 1.0))


# --------------------------------------------------------------------------------------
# Zonal statistics


@pytest.fixture
def raster4():
    # 4 × 4 pixels of 10 m, values 1..16 row by row from the north-west corner (0, 40).
    values = np.arange(1, 17, dtype=float).reshape(4, 4)
    values[3, 3] = np.nan
    return Raster(
        values, Affine(10, 0, 0, 0, -10, 40), CRS.from_user_input(L93), "slope", "degrees"
    )


def test_zonal_stats_over_pixel_centres(raster4):
    # Box (0, 20)-(20, 40) holds the centres of pixels 1, 2, 5, 6.
    sites = gdf([box(0, 20, 20, 40), box(20, 0, 40, 20)])
    # Second site: pixels 11, 12, 15 and the missing 16: mean 38 / 3.
    assert measures.zonal_stat(sites, raster4, stat="mean").tolist() == pytest.approx([3.5, 38 / 3])
    assert measures.zonal_stat(sites, raster4, stat="max").tolist() == pytest.approx([6.0, 15.0])
    assert measures.zonal_stat(sites, raster4, stat="min").tolist() == pytest.approx([1.0, 11.0])
    assert measures.zonal_stat(sites, raster4, stat="median").tolist() == pytest.approx([3.5, 12.0])
    assert measures.zonal_stat(sites, raster4).name == "mean_slope"


def test_zonal_stat_small_site_point_and_off_raster(raster4):
    # A 2 m square holds no pixel centre: it takes the pixel under its centroid (row 1,
    # column 2 → value 7); a point takes its pixel; a site off the raster gets nan.
    sites = gdf([box(21, 21, 23, 23), Point(25, 5), unit_square(500, 500, 10)])
    got = measures.zonal_stat(sites, raster4).to_numpy()
    assert got[:2].tolist() == [7.0, 15.0]
    assert np.isnan(got[2])


def test_zonal_stat_site_over_missing_pixels_only_is_nan(raster4):
    # The only pixel centre inside is (35, 5), missing; the centroid (29.4, 5.7) lies over
    # pixel 15, which must not stand in for the missing one.
    strip = Polygon([(20, 5.5), (34, 5.5), (34, 4.5), (36, 4.5), (36, 6), (20, 6)])
    assert shapely.centroid(strip).x == pytest.approx(29.4)
    got = measures.zonal_stat(gdf([strip, box(24, 4, 36, 6)]), raster4).to_numpy()
    assert np.isnan(got[0])
    assert got[1] == 15.0


def test_zonal_stat_checks_crs_and_stat(raster4):
    with pytest.raises(CRSError, match="EPSG:3857"):
        measures.zonal_stat(gdf([unit_square()], crs="EPSG:3857"), raster4)
    with pytest.raises(ProfileError, match="stat"):
        measures.zonal_stat(gdf([unit_square()]), raster4, stat="sum")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Counts and sums within a radius


def test_count_and_sum_within_radius():
    sites = gdf([unit_square(-0.5, -0.5), unit_square(99.5, -0.5)])  # centroids (0,0), (100,0)
    communes = gdf(
        [Point(30, 40), Point(0, -50), Point(60, 80), Point(200, 0)],
        population=[100, 20, 3, 4000],
    )
    # From (0, 0): distances 50, 50, 100, 200. From (100, 0): 80.6, 111.8, 89.4, 100.
    count = measures.count_within(sites, communes, radius_m=50)
    assert count.tolist() == [2, 0]
    total = measures.count_within(sites, communes, radius_m=100, weight_column="population")
    assert total.tolist() == pytest.approx([123.0, 4103.0])
    assert total.name == "sum_population_within_100m"


def test_count_within_uses_polygon_centroids_and_checks_weights():
    sites = gdf([Point(0, 0)])
    communes = gdf([box(-10, -10, 10, 10), box(990, -10, 1010, 10)], nom=["a", "b"])
    assert measures.count_within(sites, communes, radius_m=999).tolist() == [1]
    with pytest.raises(SchemaError, match="numeric"):
        measures.count_within(sites, communes, radius_m=10, weight_column="nom")
    with pytest.raises(SchemaError, match="population"):
        measures.count_within(sites, communes, radius_m=10, weight_column="population")
    with pytest.raises(ProfileError):
        measures.count_within(sites, communes, radius_m=0)


# --------------------------------------------------------------------------------------
# Attributes and areas


def test_attributes_and_area():
    sites = gdf([unit_square(size=100), unit_square(1000, 0, 50)], taux_vacance=[12.5, 0.0])
    substations = gdf([Point(-10, 0), Point(1100, 0)], tension=[63, 225], name=["A", "B"])
    assert measures.area_m2(sites).tolist() == pytest.approx([10_000.0, 2_500.0])
    assert measures.site_attribute(sites, "taux_vacance").tolist() == [12.5, 0.0]
    assert measures.site_attribute(measures.prepare_sites(sites), "taux_vacance").tolist() == [
        12.5,
        0.0,
    ]
    volts = measures.nearest_attribute(sites, substations, "tension")
    assert volts.tolist() == [63, 225]
    limited = measures.nearest_attribute(sites, substations, "tension", max_distance=20)
    assert limited.iloc[0] == 63
    assert pd.isna(limited.iloc[1])
    with pytest.raises(SchemaError, match="tension"):
        measures.site_attribute(sites, "tension")
    with pytest.raises(SchemaError, match="nom_poste"):
        measures.distance_to(sites, substations, name_column="nom_poste")


# --------------------------------------------------------------------------------------
# CRS discipline


def test_sites_without_crs():
    with pytest.raises(CRSError, match="no CRS"):
        measures.distance_to(gpd.GeoDataFrame(geometry=[unit_square()]), gdf([Point(0, 0)]))


def test_geographic_crs_is_refused():
    with pytest.raises(CRSError, match="geographic"):
        measures.area_m2(gdf([unit_square()], crs="EPSG:4326"))
    with pytest.raises(CRSError, match="geographic"):
        measures.distance_to(gdf([unit_square()]), gdf([Point(0, 0)], crs="EPSG:4326"))


def test_mismatched_crs_names_both():
    sites = gdf([unit_square()])
    other = gdf([Point(0, 0)], crs="EPSG:32631")
    for call in (
        lambda: measures.distance_to(sites, other),
        lambda: measures.overlap_share(sites, gdf([unit_square()], crs="EPSG:32631")),
        lambda: measures.intersects(sites, gdf([unit_square()], crs="EPSG:32631")),
        lambda: measures.count_within(sites, other, radius_m=10),
    ):
        with pytest.raises(CRSError) as info:
            call()
        assert "EPSG:32631" in str(info.value)
        assert "EPSG:2154" in str(info.value)
        assert isinstance(info.value, FoncierError)


def test_no_sites_gives_empty_results(raster4):
    sites = gdf([])
    feats = gdf([Point(0, 0)], population=[5])
    assert measures.distance_to(sites, feats).shape == (0, 3)
    assert measures.overlap_share(sites, gdf([unit_square()])).size == 0
    assert measures.zonal_stat(sites, raster4).size == 0
    assert measures.count_within(sites, feats, radius_m=10, weight_column="population").size == 0


def test_multipart_sites_and_collection_features():
    from shapely.geometry import GeometryCollection, MultiPolygon

    site = MultiPolygon([unit_square(0, 0, 10), unit_square(100, 0, 10)])
    feats = gdf(
        [
            GeometryCollection([Point(130, 5), LineString([(-50, 40), (-50, 60)])]),
            MultiPolygon([box(-30, -30, -20, -20), box(55, 100, 60, 120)]),
        ],
        name=["collection", "multi"],
    )
    res = measures.distance_to(gdf([site]), feats)
    expected = shapely.distance(site, np.asarray(feats.geometry)).min()
    assert expected == pytest.approx(20.0)  # the point (130, 5) to the right part
    assert res.loc[0, "distance_m"] == pytest.approx(expected)
    assert res.loc[0, "nearest_name"] == "collection"


# --------------------------------------------------------------------------------------
# Threads over chunks of sites


def test_threads_over_chunks_give_the_single_thread_values(random_sites, monkeypatch):
    rng = np.random.default_rng(5)
    lines = gdf(random_lines(rng, 20, box_m=20_000))
    points = gdf(shapely.points(rng.uniform(0, 20_000, (40, 2))))
    zones = gdf(random_polygons(rng, 40, box_m=20_000, rmin=300, rmax=2500))
    size = 200
    yy, xx = np.mgrid[0:size, 0:size]
    raster = Raster(
        np.sin(xx / 7.0) + np.cos(yy / 5.0),
        Affine(100, 0, 0, 0, -100, 20_000),
        CRS.from_user_input(L93),
        "slope",
        "degrees",
    )

    def measure_all():
        sites = measures.prepare_sites(random_sites)
        return pd.concat(
            [
                measures.distance_to(sites, lines)[["distance_m", "nearest_id"]],
                measures.distance_to(sites, points)["distance_m"].rename("d_points"),
                measures.overlap_share(sites, zones),
                measures.intersects(sites, zones),
                measures.zonal_stat(sites, raster, stat="median"),
            ],
            axis=1,
        ), sites

    monkeypatch.setattr(foncier_settings, "threads", 1)
    one, sites_one = measure_all()
    # Chunks of 400 sites on 3 threads: 3000 sites give 6 uneven chunks; and the exact
    # step of each chunk in blocks of 500 (site, candidate) rows.
    monkeypatch.setattr(measures, "_MIN_CHUNK", 400)
    monkeypatch.setattr(distances, "_CHUNK_ROWS", 500)
    monkeypatch.setattr(foncier_settings, "threads", 3)
    assert len(measures._chunk_bounds(len(random_sites))) == 6
    many, sites_many = measure_all()
    pd.testing.assert_frame_equal(one, many)
    np.testing.assert_array_equal(sites_one.radius, sites_many.radius)
    np.testing.assert_array_equal(sites_one.edges.owner, sites_many.edges.owner)
    # The chunked values are also the right ones, not just the same ones.
    expected = shapely.distance(
        random_sites.geometry.to_numpy()[:, None], lines.geometry.to_numpy()[None, :]
    ).min(axis=1)
    np.testing.assert_allclose(many["distance_m"], expected, atol=1e-6)


# --------------------------------------------------------------------------------------
# Fast paths against plain shapely


def _sites_with_holes_and_parts(rng, n, box_m):
    """Polygons in both ring directions, with holes, and two-part multipolygons."""
    base = random_polygons(rng, n, box_m=box_m, rmin=40, rmax=160)
    geoms = np.asarray(base, dtype=object)
    k = n // 4
    # Reversed rings (clockwise shells).
    geoms[:k] = shapely.reverse(geoms[:k])
    # A hole in the middle of each (a square of 20 m around the centroid).
    c = shapely.centroid(geoms[k : 2 * k])
    holes = shapely.buffer(c, 10, cap_style="square")
    geoms[k : 2 * k] = shapely.difference(geoms[k : 2 * k], holes)
    # Two parts: the polygon and a copy moved 400 m east.
    moved = shapely.transform(geoms[2 * k : 3 * k], lambda xy: xy + np.array([400.0, 0.0]))
    geoms[2 * k : 3 * k] = shapely.multipolygons(
        [[a, b] for a, b in zip(geoms[2 * k : 3 * k], moved, strict=True)]
    )
    return geoms


def test_box_overlap_area_matches_shapely():
    rng = np.random.default_rng(21)
    geoms = _sites_with_holes_and_parts(rng, 400, 2_000)
    # A clockwise hole inside a clockwise shell: rings in the same direction, left to GEOS.
    same_way = Polygon(
        [(0, 0), (0, 100), (100, 100), (100, 0)], [[(40, 40), (40, 60), (60, 60), (60, 40)]]
    )
    geoms = np.append(geoms, same_way)
    prepared = measures.prepare_sites(gdf(geoms))
    site = np.repeat(np.arange(geoms.size), 3)
    b = prepared.bounds[site]
    # Boxes cutting each site, containing it, and missing it.
    u = rng.uniform(0, 1, (site.size, 2))
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    x0 = b[:, 0] + (u[:, 0] - 0.5) * w
    y0 = b[:, 1] + (u[:, 1] - 0.5) * h
    boxes = np.stack([x0, y0, x0 + 0.7 * w, y0 + 0.7 * h], axis=1)
    boxes[1::3] = b[1::3] + np.array([-1.0, -1.0, 1.0, 1.0])
    boxes[2::3] = b[2::3] + np.array([1.0, 0.0, 1.0, 0.0]) * (w[2::3, None] + 5)
    area, ok = measures._box_overlap_area(prepared, site, boxes)
    expected = shapely.area(shapely.intersection(geoms[site], shapely.box(*boxes.T)))
    assert ok[:-3].all()
    assert not ok[-3:].any()
    np.testing.assert_allclose(area[ok], expected[ok], rtol=0, atol=1e-6)
    assert (expected[ok] > 0).sum() > 500
    assert (expected[ok] == 0).sum() > 300


def test_piece_overlap_area_inside_outside_touching_and_crossing():
    # A zone piece with a hole; sites wholly inside, in the hole, outside, touching the
    # outer edge from outside, touching it from inside, and crossing each boundary.
    piece = Polygon(
        [(0, 0), (0, 100), (100, 100), (100, 0)], [[(40, 40), (40, 60), (60, 60), (60, 40)]]
    )
    sites = np.array(
        [
            box(10, 10, 20, 20),  # inside: its own area, no intersection
            box(45, 45, 55, 55),  # in the hole: 0
            box(200, 0, 210, 10),  # outside: 0
            box(100, 10, 110, 20),  # touching from outside: 0
            box(0, 10, 10, 20),  # touching the outer edge from inside: all of it
            box(90, 10, 110, 20),  # crossing the outer edge: half
            box(35, 45, 45, 55),  # crossing the hole's edge: half
            Polygon([(20, 20), (30, 20), (25, 30)]),  # inside, not a box
        ]
    )
    prepared = measures.prepare_sites(gdf(sites))
    pieces = np.full(sites.size, piece, dtype=object)
    expected = shapely.area(shapely.intersection(sites, piece))
    # With the R-tree of the piece's own boundary (the piece is the whole union) or none:
    # no site is both in the union and off its boundary without lying inside the piece.
    tree = measures._boundary_tree(np.array([piece]))
    for boundary in (None, tree):
        got, whole = measures._piece_overlap_area(prepared, np.arange(sites.size), pieces, boundary)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        assert got.tolist() == pytest.approx([100.0, 0.0, 0.0, 0.0, 100.0, 100.0, 50.0, 50.0])
        assert whole.size == 0


def test_sites_across_grid_lines_inside_zones_and_around_them():
    # A zone with a hole, an island zone in the hole; a grid of 100 m cells cuts them.
    zones = [
        Polygon(
            [(0, 0), (0, 1000), (1000, 1000), (1000, 0)],
            [[(400, 400), (400, 600), (600, 600), (600, 400)]],
        ),
        box(450, 450, 550, 550),
    ]
    sites = np.array(
        [
            box(95, 95, 305, 305),  # inside, across grid lines: all of it
            shapely.MultiPolygon([box(95, 95, 105, 105), box(1095, 95, 1105, 105)]),  # half
            Polygon(  # round the island, in the zone's hole: none of it
                [(420, 420), (420, 580), (580, 580), (580, 420)],
                [[(440, 440), (440, 560), (560, 560), (560, 440)]],
            ),
            Polygon(  # the same with its hole smaller than the island: the island's ring
                [(420, 420), (420, 580), (580, 580), (580, 420)],
                [[(460, 460), (460, 540), (540, 540), (540, 460)]],
            ),
            box(950, 95, 1050, 105),  # across the outer edge: half
            box(395, 495, 405, 505),  # across the hole's edge on a grid line: half
            box(199.5, 100, 200.5, 900),  # along a grid line, inside: all of it
        ]
    )
    prep = measures.prepare_zones(gdf(zones), cell_size=100.0)
    share = measures.overlap_share(gdf(sites), prep).to_numpy()
    union = shapely.union_all(zones)
    expected = shapely.area(shapely.intersection(sites, union)) / shapely.area(sites)
    np.testing.assert_allclose(share, expected, rtol=0, atol=1e-12)
    assert share[[0, 1, 2, 4, 5, 6]].tolist() == pytest.approx([1, 0.5, 0, 0.5, 0.5, 1])
    assert share[3] == pytest.approx((100**2 - 80**2) / (160**2 - 80**2))


def test_grid_cut_of_zones_matches_cell_by_cell_clipping():
    rng = np.random.default_rng(22)
    zones = np.asarray(random_polygons(rng, 30, box_m=20_000, rmin=300, rmax=4000))
    zones[:5] = shapely.difference(zones[:5], shapely.buffer(shapely.centroid(zones[:5]), 200))
    prep = measures.prepare_zones(gdf(zones), cell_size=250)
    g, (ox, oy) = prep.cell_size, prep.origin
    cx, cy = prep.cell // prep.n_rows, prep.cell % prep.n_rows
    cells = shapely.box(ox + cx * g, oy + cy * g, ox + (cx + 1) * g, oy + (cy + 1) * g)
    union = shapely.union_all(zones)
    # Every piece lies in its cell, the pieces cover the union once, full flags are right.
    assert shapely.covers(shapely.buffer(cells, 1e-6), prep.pieces).all()
    assert shapely.area(prep.pieces).sum() == pytest.approx(shapely.area(union), rel=1e-12)
    keys, first = np.unique(prep.cell, return_index=True)
    per_cell = shapely.area(shapely.intersection(union, cells[first]))
    np.testing.assert_allclose(
        np.bincount(np.searchsorted(keys, prep.cell), weights=shapely.area(prep.pieces)),
        per_cell,
        rtol=1e-12,
        atol=1e-6,
    )
    np.testing.assert_array_equal(prep.full, np.abs(shapely.area(prep.pieces) - g * g) < 1e-3)
    assert prep.full.sum() > 1000
    assert (~prep.full).sum() > 500
    np.testing.assert_allclose(prep.bounds, shapely.bounds(prep.pieces))


@pytest.mark.parametrize("cell_size", [None, 150.0])
def test_shares_of_awkward_sites_match_shapely(cell_size):
    rng = np.random.default_rng(23)
    sites = _sites_with_holes_and_parts(rng, 800, 10_000)
    zones = np.asarray(random_polygons(rng, 25, box_m=10_000, rmin=500, rmax=3000))
    # Away from the others: a zone with a hole, and sites exactly on its edges and corners.
    zones[0] = Polygon(
        [(22000, 22000), (22000, 26000), (26000, 26000), (26000, 22000)],
        [[(23000, 23000), (23000, 25000), (25000, 25000), (25000, 23000)]],
    )
    on_edges = [
        box(21900, 22500, 22100, 22700),  # half in
        box(22950, 22950, 23050, 23050),  # on the hole's corner: 3/4 in
        box(26000, 23000, 26100, 23100),  # touching the outer edge from outside
    ]
    sites = np.concatenate(
        [sites, on_edges, [Point(22000, 22100), LineString([(19000, 19000), (23000, 23000)])]]
    )
    prep = measures.prepare_zones(gdf(zones), cell_size=cell_size)
    share = measures.overlap_share(gdf(sites), prep).to_numpy()
    union = shapely.union_all(zones)
    area = shapely.area(sites)
    areal = area > 0
    expected = shapely.area(shapely.intersection(sites[areal], union)) / area[areal]
    np.testing.assert_allclose(share[areal], expected, rtol=0, atol=1e-9)
    assert share[-5:-2].tolist() == pytest.approx([0.5, 0.75, 0.0])
    assert share[-2:].tolist() == [1.0, 1.0]
    hit = measures.intersects(gdf(sites), prep).to_numpy()
    np.testing.assert_array_equal(hit, shapely.intersects(sites, union))
    assert ((share > 0) & (share < 1)).sum() > 50


def test_distances_of_awkward_sites_match_shapely():
    rng = np.random.default_rng(24)
    sites = _sites_with_holes_and_parts(rng, 600, 10_000)
    feats = np.concatenate(
        [
            shapely.points(rng.uniform(0, 10_000, (30, 2))),
            random_lines(rng, 4, box_m=10_000),
            shapely.difference(
                np.asarray(random_polygons(rng, 20, box_m=10_000, rmin=200, rmax=900)),
                shapely.buffer(shapely.points(rng.uniform(0, 10_000, (20, 2))), 150),
            ),
        ]
    )
    # Sites on features: a point on a site's vertex, a site in a feature's hole.
    first = shapely.get_coordinates(sites[0])[0]
    feats = np.append(feats, shapely.points(*first))
    ref = shapely.distance(sites[:, None], feats[None, :]).min(axis=1)
    res = measures.distance_to(gdf(sites), gdf(feats))["distance_m"].to_numpy()
    np.testing.assert_allclose(res, ref, rtol=0, atol=1e-6)
    assert res[0] == 0.0
    assert ((ref == 0) == (res == 0)).all()
    assert (ref == 0).sum() > 20
    assert (ref > 0).sum() > 300


def test_site_invariants_match_geos():
    rng = np.random.default_rng(25)
    geoms = np.concatenate(
        [
            _sites_with_holes_and_parts(rng, 200, 5_000),
            shapely.points(rng.uniform(0, 5_000, (10, 2))),
            random_lines(rng, 5, box_m=5_000),
        ]
    )
    prepared = measures.prepare_sites(gdf(geoms))
    c = shapely.centroid(geoms)
    np.testing.assert_allclose(prepared.cx, shapely.get_x(c), rtol=0, atol=1e-6)
    np.testing.assert_allclose(prepared.cy, shapely.get_y(c), rtol=0, atol=1e-6)
    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    far = np.zeros(geoms.size)
    np.maximum.at(far, idx, np.hypot(xy[:, 0] - prepared.cx[idx], xy[:, 1] - prepared.cy[idx]))
    np.testing.assert_allclose(prepared.radius, far, rtol=0, atol=1e-6)
    first = shapely.get_point(shapely.get_exterior_ring(geoms[:100]), 0)
    np.testing.assert_array_equal(prepared.first_x[:100], shapely.get_x(first))
    np.testing.assert_allclose(prepared.bounds, shapely.bounds(geoms))
    # The edges, made on demand, go round every ring and line once: total length = perimeter.
    e = prepared.edges
    length = np.bincount(e.owner, np.hypot(e.x1 - e.x0, e.y1 - e.y0), minlength=geoms.size)
    np.testing.assert_allclose(length, shapely.length(geoms), rtol=1e-12)


def _rings_to_check(rng, n):
    """Polygons valid and invalid: stars (valid), concave rings, bow-ties, spikes,
    repeated vertices, a vertex a few nanometres across an edge, holes, one-part and
    two-part multipolygons, far from the origin (Lambert-93 magnitudes)."""
    out = []
    for _ in range(n):
        kind = rng.integers(0, 8)
        cx, cy = rng.uniform(600_000, 700_000), rng.uniform(6_800_000, 6_900_000)
        nv = int(rng.integers(3, 12))
        ang = np.sort(rng.uniform(0, 2 * np.pi, nv))
        rad = rng.uniform(5, 80, nv)
        if kind == 1:  # concave: a deep notch, the centroid may fall outside
            rad[:: max(nv // 2, 1)] *= 0.05
        xy = np.c_[cx + rad * np.cos(ang), cy + rad * np.sin(ang)]
        if kind == 2:  # bow-tie: two vertices swapped
            i = int(rng.integers(0, nv - 1))
            xy[[i, i + 1]] = xy[[i + 1, i]]
        elif kind == 3:  # a repeated vertex
            xy = np.insert(xy, 1, xy[1], axis=0)
        elif kind == 4:  # vertices in a random order (often self-crossing)
            xy = xy[rng.permutation(nv)]
        ring = xy[::-1] if rng.random() < 0.5 else xy  # both orientations
        poly = Polygon(ring)
        if kind == 5:  # a hole (the polygon is invalid when its shell misses it)
            poly = Polygon(ring, [box(cx - 1, cy - 1, cx + 1, cy + 1).exterior.coords])
        elif kind == 6:
            poly = shapely.MultiPolygon([poly])
        elif kind == 7:
            far = shapely.affinity.translate(poly, 500, 0)
            poly = shapely.MultiPolygon([poly, far]) if far.is_valid else poly
        out.append(poly)
    # A vertex a few nanometres across the opposite edge of a thin triangle.
    x, y = 650_000.0, 6_850_000.0
    out.append(Polygon([(x, y), (x + 100, y), (x + 50, y + 1e-9), (x + 50, y - 1e-8)]))
    out.append(Polygon([(x, y), (x + 100, y), (x + 50, y - 1e-9)]))  # valid, very thin
    return np.array(out, dtype=object)


def test_validity_proved_in_numpy_only_for_polygons_geos_finds_valid():
    geoms = _rings_to_check(np.random.default_rng(31), 4_000)
    inv = measures._site_invariants(geoms)
    valid = shapely.is_valid(geoms)
    proven = inv["proven"]
    # Never proven when GEOS finds the polygon invalid.
    assert not (proven & ~valid).any()
    assert (~valid).sum() > 500
    # Every convex polygon (star-shaped about its centroid) without a repeated vertex is
    # proven, in both orientations, one-part multipolygons included; so are many others.
    single = measures._single_ring(geoms, shapely.get_type_id(geoms))
    convex = shapely.area(shapely.convex_hull(geoms)) - shapely.area(geoms) < 1e-6
    plain = shapely.get_num_coordinates(shapely.remove_repeated_points(geoms)) == (
        shapely.get_num_coordinates(geoms)
    )
    ordinary = convex & single & plain & valid
    ordinary[-2:] = False  # the thin triangles: their centroid rounds onto an edge
    assert ordinary.sum() > 300
    assert proven[ordinary].all()
    assert proven.sum() > (convex & single & plain & valid).sum() + 200
    assert proven[shapely.get_type_id(geoms) == 6].sum() > 50
    assert not proven[~single].any()


def test_invalid_sites_among_proven_ones_are_repaired_and_named(caplog):
    rng = np.random.default_rng(32)
    stars = random_polygons(rng, 300, box_m=5_000, rmin=10, rmax=40)
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    geoms = [*stars[:100], bowtie, *stars[100:]]
    sites = gpd.GeoDataFrame(geometry=geoms, index=[f"p{i}" for i in range(301)], crs=L93)
    with caplog.at_level(logging.WARNING):
        prepared = measures.prepare_sites(sites)
    assert "repairing 1 invalid geometry" in caplog.text
    assert "p100" in caplog.text
    assert shapely.is_valid(prepared.geometry).all()
    # The repaired bow-tie: two triangles of 25 m² each.
    assert prepared.area[100] == pytest.approx(50.0)
    np.testing.assert_allclose(prepared.area[:100], shapely.area(stars[:100]))


@pytest.mark.parametrize(("steps", "reach"), [(0, 1.0), (2, 4.0), (3, 8.0)])
def test_sites_far_from_a_dense_cluster_of_pieces_match_brute_force(monkeypatch, steps, reach):
    # 600 segments and 40 points in a 4 km square, 2,000 sites over 60 km: most cells of
    # sites are far from every piece, found in squares 2, 4, 8 times as wide as the first
    # one or beyond them (GEOS's nearest search), and reach past the first square.
    rng = np.random.default_rng(33)
    feats = np.concatenate(
        [
            random_lines(rng, 20, box_m=4_000, steps=31, step_m=60),
            shapely.points(rng.uniform(0, 4_000, (40, 2))),
        ]
    )
    sites = random_polygons(rng, 2_000, box_m=60_000, rmin=15, rmax=70)
    monkeypatch.setattr(distances, "_SQUARE_STEPS", steps)
    monkeypatch.setattr(distances, "_SQUARE_REACH", reach)
    found = []
    real = distances._nearest_in_squares

    def spy(*args):
        out = real(*args)
        found.append(int(out[0].sum()))
        return out

    monkeypatch.setattr(distances, "_nearest_in_squares", spy)
    res = measures.distance_to(gdf(sites), gdf(feats, name=[f"f{i}" for i in range(feats.size)]))
    d = shapely.distance(sites[:, None], feats[None, :])
    ref = d.min(axis=1)
    np.testing.assert_allclose(res["distance_m"].to_numpy(), ref, rtol=0, atol=1e-6)
    assert res["nearest_id"].tolist() == np.argmin(d, axis=1).tolist()
    assert ref.max() > 40_000
    assert (sum(found) > 20) == (steps > 0)
    # Within a search radius: beyond it, inf and no feature.
    near = measures.distance_to(gdf(sites), gdf(feats), max_distance=5_000)
    beyond = ref > 5_000
    assert np.isinf(near["distance_m"].to_numpy()[beyond]).all()
    np.testing.assert_allclose(near["distance_m"].to_numpy()[~beyond], ref[~beyond], atol=1e-6)


def test_point_to_ring_distances_are_geos_values_to_the_bit():
    # One-ring polygons of 3 to 40 vertices far from the origin (Lambert-93), both
    # orientations, some with a repeated vertex (an edge of length 0), one-part
    # multipolygons; points around them at 1 mm to 5 km, some level with a vertex or an
    # edge's line.
    rng = np.random.default_rng(34)
    geoms = []
    for _ in range(3_000):
        nv = int(rng.integers(3, 40))
        ang = np.sort(rng.uniform(0, 2 * np.pi, nv))
        c = rng.uniform([600_000, 6_800_000], [700_000, 6_900_000])
        xy = c + rng.uniform(5, 80, nv)[:, None] * np.c_[np.cos(ang), np.sin(ang)]
        if rng.random() < 0.2:
            xy = np.insert(xy, 1, xy[1], axis=0)
        ring = xy[::-1] if rng.random() < 0.5 else xy
        poly = Polygon(ring)
        geoms.append(shapely.MultiPolygon([poly]) if rng.random() < 0.2 else poly)
    sites = measures.prepare_sites(gdf(geoms))
    assert sites.coords is not None
    assert sites.coord_offsets is not None
    single = np.flatnonzero(sites.single_ring)
    assert single.size > 2_900  # the others were repaired into several parts
    n = single.size
    gap = sites.radius[single] + 10 ** rng.uniform(-3, 3.7, n)
    ang = rng.uniform(0, 2 * np.pi, n)
    px, py = sites.cx[single] + gap * np.cos(ang), sites.cy[single] + gap * np.sin(ang)
    first = sites.coords[sites.coord_offsets[single]]
    level = rng.random(n) < 0.2  # level with the first vertex, to the east of the disk
    py[level] = first[level, 1]
    px[level] = sites.cx[single][level] + gap[level]
    got = distances._point_to_rings(single, px, py, sites.coords, sites.coord_offsets)
    ref = shapely.distance(sites.geometry[single], shapely.points(px, py))
    np.testing.assert_array_equal(got, ref)
    # In any order, repeated, in blocks.
    order = rng.integers(0, n, 3 * n)
    got = distances._point_to_rings(
        single[order], px[order], py[order], sites.coords, sites.coord_offsets
    )
    np.testing.assert_array_equal(got, ref[order])

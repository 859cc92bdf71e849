"""Terrain: DEM loading and reprojection, slope (Horn), pixel sampling."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from layers.errors import CRSError, DataSourceError
from layers.raster import Raster
from layers.terrain import load_dem, load_slope, sample_raster, slope
from layers.territories import Territory

DEM_NAME = "copernicus_dem_N45E005_grenoble_0p002deg.tif"
L93 = CRS.from_epsg(2154)


def _plane(rows: int = 20, cols: int = 30, res: float = 25.0, gx: float = 0.1, gy: float = 0.0):
    """A DEM z = gx·x + gy·y on a Lambert-93 grid (x, y of the pixel centres)."""
    transform = Affine(res, 0, 900_000.0, 0, -res, 6_450_000.0)
    r = Raster(np.zeros((rows, cols)), transform, L93)
    x, y = r.pixel_centres()
    return Raster(gx * x + gy * y, transform, L93, name="elevation", units="m")


def _write_tif(path: Path, raster: Raster, crs: CRS | None) -> Path:
    import rasterio

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=raster.shape[1],
        height=raster.shape[0],
        count=1,
        dtype="float32",
        crs=crs.to_wkt() if crs else None,
        transform=raster.transform,
        nodata=-9999.0,
    ) as dst:
        dst.write(raster.array.astype("float32"), 1)
    return path


def _l93(lon: float, lat: float) -> tuple[float, float]:
    return Transformer.from_crs(4326, 2154, always_xy=True).transform(lon, lat)


def _box_territory(lon: float, lat: float, half_m: float) -> Territory:
    x, y = _l93(lon, lat)
    return Territory.from_perimeter(
        shapely.box(x - half_m, y - half_m, x + half_m, y + half_m), crs="EPSG:2154"
    )


# ------------------------------------------------------------------------------ slope, exact
def test_slope_of_a_plane_is_exact_in_degrees_and_percent():
    dem = _plane(gx=0.1)
    deg = slope(dem, units="degrees")
    pct = slope(dem, units="percent")
    inner = deg.array[1:-1, 1:-1]
    # atan(0.1) = 5.7106°, 0.1 rise over run = 10 %
    np.testing.assert_allclose(inner, math.degrees(math.atan(0.1)), rtol=1e-12)
    assert math.degrees(math.atan(0.1)) == pytest.approx(5.7106, abs=1e-4)
    np.testing.assert_allclose(pct.array[1:-1, 1:-1], 10.0, rtol=1e-12)
    assert deg.units == "degrees"
    assert pct.units == "percent"
    assert deg.name == "slope"
    # Horn's 3x3 window is undefined on the border.
    assert np.isnan(deg.array[0]).all()
    assert np.isnan(deg.array[-1]).all()
    assert np.isnan(deg.array[:, 0]).all()
    assert np.isnan(deg.array[:, -1]).all()


def test_slope_of_a_diagonal_plane():
    # gradient (0.03, 0.04) -> |grad| = 0.05 -> 5 %, whatever the orientation.
    pct = slope(_plane(gx=0.03, gy=0.04), units="percent")
    np.testing.assert_allclose(pct.array[1:-1, 1:-1], 5.0, rtol=1e-9)


def test_slope_nan_neighbours_give_nan():
    dem = _plane()
    arr = dem.array.copy()
    arr[10, 10] = np.nan
    s = slope(Raster(arr, dem.transform, dem.crs), units="degrees").array
    assert np.isnan(s[9:12, 9:12]).all()  # the hole and its 8 neighbours
    assert np.isfinite(s[1:-1, 1:-1]).sum() == (18 * 28) - 9


def test_slope_rejects_geographic_raster_and_bad_units():
    geo = Raster(np.zeros((5, 5)), Affine(0.01, 0, 5, 0, -0.01, 46), CRS.from_epsg(4326))
    with pytest.raises(CRSError, match="projected"):
        slope(geo)
    with pytest.raises(ValueError, match="units"):
        slope(_plane(), units="radians")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ load_dem, synthetic
def test_load_dem_and_load_slope_on_a_synthetic_plane_file(tmp_path):
    dem = _plane(rows=80, cols=80, res=25.0, gx=0.1)
    path = _write_tif(tmp_path / "plane.tif", dem, L93)
    # A territory well inside the file: 1 km square.
    terr = Territory.from_perimeter(shapely.box(900_500, 6_448_500, 901_500, 6_449_500), crs=L93)
    loaded = load_dem(path, territory=terr)
    assert loaded.crs.equals(L93)
    assert loaded.resolution == (25.0, 25.0)
    assert loaded.bounds == (900_500.0, 6_448_500.0, 901_500.0, 6_449_500.0)
    # Bilinear resampling keeps a plane: z = 0.1·x at every pixel centre.
    x, _y = loaded.pixel_centres()
    np.testing.assert_allclose(loaded.array, 0.1 * x, rtol=1e-6)
    s = load_slope(terr, source=path, units="percent")
    assert s.shape == loaded.shape
    assert s.bounds == loaded.bounds
    # Read one pixel wider, so even the border pixels have a slope.
    assert np.isfinite(s.array).all()
    np.testing.assert_allclose(s.array, 10.0, rtol=1e-5)


def test_load_dem_resolution_argument(tmp_path):
    path = _write_tif(tmp_path / "plane.tif", _plane(rows=80, cols=80), L93)
    terr = Territory.from_perimeter(shapely.box(900_500, 6_448_500, 901_500, 6_449_500), crs=L93)
    r = load_dem(path, territory=terr, resolution=50.0)
    assert r.resolution == (50.0, 50.0)
    assert r.shape == (20, 20)


# ------------------------------------------------------------------------------ the real DEM
@pytest.fixture(scope="module")
def dem_path(test_data: Path) -> Path:
    return test_data / "dem" / DEM_NAME


@pytest.fixture(scope="module")
def geographic_reference(dem_path):
    """Slope median and p95 computed independently on the geographic grid (numpy.gradient)."""
    import rasterio

    with rasterio.open(dem_path) as src:
        z = src.read(1).astype(float)
        t = src.transform
        assert src.nodata == -32767
        z[z == src.nodata] = np.nan
    lat = t.f + (np.arange(z.shape[0]) + 0.5) * t.e
    r_earth = 6_371_008.8
    dy = math.radians(-t.e) * r_earth
    dx = (np.radians(t.a) * r_earth * np.cos(np.radians(lat)))[:, None]
    gy = np.gradient(z, axis=0) / dy
    gx = np.gradient(z, axis=1) / dx
    s = np.degrees(np.arctan(np.hypot(gx, gy)))
    return float(np.nanmedian(s)), float(np.nanpercentile(s, 95))


def test_independent_reference_matches_published_figures(geographic_reference):
    # DATA.md (test fixtures): median 5.3°, p95 30.6° with numpy.gradient after degrees -> metres.
    median, p95 = geographic_reference
    assert median == pytest.approx(5.3, abs=0.1)
    assert p95 == pytest.approx(30.6, abs=0.2)


def test_real_dem_slope_in_lambert93_close_to_independent(dem_path, geographic_reference):
    ref_median, ref_p95 = geographic_reference
    # At 100 m (finer than the native 157 m x 222 m pixels) bilinear resampling barely
    # smooths: Horn on Lambert-93 within 3 % of the geographic central differences.
    fine = slope(load_dem(dem_path, crs="EPSG:2154", resolution=100.0)).array
    v = fine[np.isfinite(fine)]
    assert np.median(v) == pytest.approx(ref_median, rel=0.03)
    assert np.percentile(v, 95) == pytest.approx(ref_p95, rel=0.03)
    # At the default resolution (geometric mean of the native pixel sizes, ~186 m) the
    # coarser grid and Horn's smoothing lower the slopes: within 15 % (median), 10 % (p95).
    dem = load_dem(dem_path, crs="EPSG:2154")
    assert dem.resolution[0] == pytest.approx(186.2, abs=0.5)
    coarse = slope(dem).array
    v = coarse[np.isfinite(coarse)]
    assert np.median(v) == pytest.approx(ref_median, rel=0.15)
    assert np.median(v) < ref_median
    assert np.percentile(v, 95) == pytest.approx(ref_p95, rel=0.10)


def test_real_dem_cropped_to_grenoble(dem_path):
    terr = _box_territory(5.72, 45.19, 5_000)
    dem = load_dem(dem_path, territory=terr)
    assert dem.crs.equals(L93)
    assert np.isfinite(dem.array).all()
    # The box is 10 km wide: about 54 pixels of ~186 m.
    assert dem.shape[0] == pytest.approx(10_000 / dem.resolution[1], abs=2)
    x, y = _l93(5.72, 45.19)
    centre = float(sample_raster(dem, x, y))
    assert 190 < centre < 250  # Grenoble lies at about 210 m in the Isère valley floor
    assert 180 < np.nanmin(dem.array) < 230  # valley floor
    assert 800 < np.nanmax(dem.array) < 2000  # first slopes of Chartreuse / Vercors / Belledonne
    s = load_slope(terr, source=dem_path)
    assert np.isfinite(s.array).all()
    assert float(sample_raster(s, x, y)) < 5  # the city centre is flat


def test_dem_outside_the_territory(dem_path):
    paris = _box_territory(2.35, 48.85, 5_000)
    with pytest.raises(DataSourceError, match="does not cover") as err:
        load_dem(dem_path, territory=paris)
    msg = str(err.value)
    assert "4.9999" in msg
    assert "46.0001" in msg
    assert "2.28" in msg or "2.29" in msg  # the territory's west bound (lon)


def test_dem_missing_or_not_a_raster(tmp_path):
    with pytest.raises(DataSourceError, match=r"nope\.tif"):
        load_dem(tmp_path / "nope.tif")
    txt = tmp_path / "notes.tif"
    txt.write_text("not a raster")
    with pytest.raises(DataSourceError, match="not a raster"):
        load_dem(txt)


def test_dem_without_crs(tmp_path):
    path = _write_tif(tmp_path / "nocrs.tif", _plane(), None)
    with pytest.raises(CRSError, match="no CRS"):
        load_dem(path)


# ------------------------------------------------------------------------------ sampling
def test_sample_raster_nearest_pixel_and_outside():
    arr = np.arange(12, dtype=float).reshape(3, 4)
    r = Raster(arr, Affine(10, 0, 1000, 0, -10, 2000), L93)
    # pixel (row 1, col 2) spans x 1020-1030, y 1980-1990
    xs = np.array([1025.0, 1000.1, 1039.9, 999.9, 1025.0, 1020.0])
    ys = np.array([1985.0, 1999.9, 1970.1, 1985.0, 2000.1, 1990.0])
    out = sample_raster(r, xs, ys)
    np.testing.assert_array_equal(out[:3], [6.0, 0.0, 11.0])
    assert np.isnan(out[3])
    assert np.isnan(out[4])
    assert out[5] == 6.0  # on a corner: the pixel to the east / south
    assert sample_raster(r, 1025.0, 1985.0).shape == ()
    with pytest.raises(ValueError, match="same shape"):
        sample_raster(r, [1.0, 2.0], [1.0])

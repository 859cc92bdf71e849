"""Terrain: a DEM reprojected to the territory's CRS, its slope, and pixel sampling.

Every raster handed over is a :class:`layers.raster.Raster` in a projected CRS (metres), so
that slopes are computed on a metric grid and zonal statistics can sample pixel centres that
fall in each parcel (see :func:`sample_raster`) instead of rasterising polygons.

rasterio is imported inside the functions: ``import layers`` stays fast.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS

from layers.config import settings
from layers.errors import ArgumentError, CRSError, DataSourceError
from layers.raster import Raster

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from layers.territories import Territory

__all__ = ["load_dem", "load_slope", "sample_raster", "slope"]

log = logging.getLogger(__name__)

# Mean Earth radius (IUGG, metres): converts a DEM's native pixel size in degrees to metres.
_EARTH_RADIUS_M = 6_371_008.8

SlopeUnits = Literal["degrees", "percent"]


def load_dem(
    path: str | Path,
    *,
    territory: Territory | None = None,
    resolution: float | None = None,
    margin_m: float = 0.0,
    crs: CRS | str | None = None,
) -> Raster:
    """Read a digital elevation model and reproject it to a projected CRS in metres.

    Only the window around the territory (plus ``margin_m``) is read, then reprojected with
    bilinear resampling (:func:`rasterio.warp.reproject`) onto a north-up grid of square
    pixels aligned on multiples of ``resolution``. The grid covers the bounding box of the
    territory's perimeter grown by ``margin_m`` (pixels outside the perimeter are kept).

    Parameters
    ----------
    path : str or pathlib.Path
        Any single-band raster rasterio/GDAL reads (GeoTIFF, VRT …) with a CRS; elevations
        in metres.
    territory : Territory, optional
        Area to read. Without it the whole DEM is reprojected.
    resolution : float, optional
        Pixel size of the output grid, metres. Default: the native pixel size converted to
        metres (for a DEM in degrees, the geometric mean of the east-west and north-south
        pixel sizes at the centre of the area, so the pixel count is about the same).
    margin_m : float
        Margin around the territory's perimeter, metres.
    crs : pyproj.CRS or str, optional
        Target CRS when no territory is given. Default: the DEM's own CRS when it is
        projected, else ``settings.default_crs`` (Lambert-93).

    Returns
    -------
    Raster
        Elevations in metres (float64, ``nan`` where the DEM has no data or does not reach),
        in ``territory.crs``; ``name="elevation"``, ``units="m"``.

    Raises
    ------
    DataSourceError
        The file does not exist, is not a raster, or does not cover the territory.
    CRSError
        The DEM has no CRS, or the target CRS is not projected in metres.
    """
    return _load_dem(
        path, territory=territory, resolution=resolution, margin_m=margin_m, crs=crs, pad=0
    )


def _load_dem(
    path: str | Path,
    *,
    territory: Territory | None,
    resolution: float | None,
    margin_m: float,
    crs: CRS | str | None,
    pad: int,
) -> Raster:
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioIOError
    from rasterio.warp import reproject, transform_bounds
    from rasterio.windows import Window, from_bounds

    path = Path(path)
    if not path.exists():
        raise DataSourceError(f"DEM file {path} does not exist. Check the path.")
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise DataSourceError(
            f"DEM file {path} is not a raster GDAL can read ({exc}). Give a GeoTIFF or any "
            "single-band raster with a CRS."
        ) from exc
    with src:
        if src.crs is None:
            raise CRSError(
                f"DEM file {path} has no CRS: assign one (e.g. with gdal_edit.py -a_srs)."
            )
        src_crs = CRS.from_user_input(src.crs.to_wkt())
        if territory is not None:
            dst_crs = CRS.from_user_input(territory.crs)
        elif crs is not None:
            dst_crs = CRS.from_user_input(crs)
        elif src_crs.is_projected:
            dst_crs = src_crs
        else:
            dst_crs = CRS.from_user_input(settings.default_crs)
        if not dst_crs.is_projected:
            raise CRSError(
                f"cannot compute on a DEM in {dst_crs.to_string()}: give a projected CRS in metres."
            )

        # Area wanted, in the target CRS.
        if territory is not None:
            # The box of the perimeter grown by the margin: its bounds grown by the margin.
            x0, y0, x1, y1 = (float(v) for v in shapely.bounds(territory.perimeter))
            grow = max(float(margin_m), 0.0)
            area_bounds = (x0 - grow, y0 - grow, x1 + grow, y1 + grow)
        else:
            area_bounds = tuple(
                transform_bounds(src.crs, dst_crs.to_wkt(), *src.bounds, densify_pts=21)
            )
        minx, miny, maxx, maxy = area_bounds

        res = (
            float(resolution)
            if resolution is not None
            else _native_resolution_m(src, src_crs, area_bounds, dst_crs)
        )
        if not res > 0:
            raise ArgumentError(
                f"resolution must be a positive number of metres, got {resolution!r}"
            )

        # Snap the output grid on multiples of the resolution so that two loads line up.
        x0 = math.floor(minx / res) * res - pad * res
        y1 = math.ceil(maxy / res) * res + pad * res
        x1 = math.ceil(maxx / res) * res + pad * res
        y0 = math.floor(miny / res) * res - pad * res
        width = max(1, round((x1 - x0) / res))
        height = max(1, round((y1 - y0) / res))
        dst_transform = Affine(res, 0.0, x0, 0.0, -res, y1)

        # Window of the source to read: the output extent in the DEM's CRS, plus a few
        # source pixels so that bilinear resampling has neighbours at the edges.
        need = transform_bounds(dst_crs.to_wkt(), src.crs, x0, y0, x1, y1, densify_pts=21)
        sb = src.bounds
        if need[0] >= sb.right or need[2] <= sb.left or need[1] >= sb.top or need[3] <= sb.bottom:
            raise DataSourceError(
                f"DEM {path.name} does not cover the territory: DEM bounds "
                f"({sb.left:.4f}, {sb.bottom:.4f}, {sb.right:.4f}, {sb.top:.4f}) vs territory "
                f"bounds ({need[0]:.4f}, {need[1]:.4f}, {need[2]:.4f}, {need[3]:.4f}) in "
                f"{src_crs.to_string()}. Use a DEM tile that covers the area."
            )
        if need[0] < sb.left or need[2] > sb.right or need[1] < sb.bottom or need[3] > sb.top:
            log.warning(
                "DEM %s covers the territory only partly: uncovered pixels are nan.", path.name
            )
        win = from_bounds(*need, transform=src.transform)
        win = Window(
            math.floor(win.col_off) - 2,
            math.floor(win.row_off) - 2,
            math.ceil(win.width) + 5,
            math.ceil(win.height) + 5,
        )
        win = win.intersection(Window(0, 0, src.width, src.height))
        try:
            data = src.read(1, window=win, out_dtype="float64")
        except Exception as exc:  # damaged or truncated file: GDAL raises several types
            raise DataSourceError(
                f"DEM file {path} cannot be read (damaged or truncated?): {exc}"
            ) from exc
        nodata = src.nodata
        if nodata is not None and not np.isnan(nodata):
            data[data == nodata] = np.nan
        src_transform = src.window_transform(win)

    out = np.full((height, width), np.nan, dtype="float64")
    reproject(
        source=data,
        destination=out,
        src_transform=src_transform,
        src_crs=src_crs.to_wkt(),
        src_nodata=np.nan,
        dst_transform=dst_transform,
        dst_crs=dst_crs.to_wkt(),
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    log.debug("DEM %s read: window %s, output %dx%d at %.1f m", path.name, win, width, height, res)
    return Raster(
        array=out,
        transform=dst_transform,
        crs=dst_crs,
        name="elevation",
        units="m",
        source=f"DEM {path.name}",
    )


def _native_resolution_m(
    src: object, src_crs: CRS, area_bounds: tuple[float, ...], dst_crs: CRS
) -> float:
    """Native pixel size of ``src`` in metres (geometric mean of x and y sizes)."""
    rx, ry = src.res  # type: ignore[attr-defined]
    if src_crs.is_projected:
        unit = src_crs.axis_info[0].unit_conversion_factor if src_crs.axis_info else 1.0
        return float(math.sqrt(rx * ry) * unit)
    from pyproj import Transformer

    cx = (area_bounds[0] + area_bounds[2]) / 2
    cy = (area_bounds[1] + area_bounds[3]) / 2
    _lon, lat = Transformer.from_crs(dst_crs, 4326, always_xy=True).transform(cx, cy)
    dx = math.radians(rx) * _EARTH_RADIUS_M * math.cos(math.radians(lat))
    dy = math.radians(ry) * _EARTH_RADIUS_M
    return float(math.sqrt(dx * dy))


def slope(dem: Raster, *, units: SlopeUnits = "degrees") -> Raster:
    """Return the slope of a DEM by Horn's method (3 × 3 finite differences).

    Horn (1981) weights the centre row/column twice: ``dz/dx = ((c + 2f + i) - (a + 2d + g))
    / (8 Δx)`` and likewise in y, the same formula as ``gdaldem slope``. A plane gives its
    exact slope. The first and last rows and columns, and every pixel with a ``nan``
    neighbour, are ``nan``.

    Parameters
    ----------
    dem : Raster
        Elevations in metres on a north-up grid in a projected CRS (metres), e.g. from
        :func:`load_dem`.
    units : {"degrees", "percent"}
        ``"degrees"``: angle from the horizontal, 0–90°. ``"percent"``: rise over run × 100
        (45° = 100 %).

    Returns
    -------
    Raster
        Same grid as ``dem``; ``name="slope"``, ``units`` as asked.

    Raises
    ------
    CRSError
        The DEM is not in a projected CRS in metres.
    ArgumentError
        Unknown ``units`` or a rotated grid.
    """
    if units not in ("degrees", "percent"):
        raise ArgumentError(f"units must be 'degrees' or 'percent', got {units!r}")
    crs = CRS.from_user_input(dem.crs)
    if not crs.is_projected:
        raise CRSError(
            f"slope needs a DEM in a projected CRS in metres, got {crs.to_string()}: load it "
            "with load_dem(..., territory=...) to reproject it."
        )
    t = dem.transform
    if t.b != 0 or t.d != 0:
        raise ArgumentError("slope needs a north-up grid (no rotation); reproject the DEM first.")
    dx, dy = abs(t.a), abs(t.e)
    z = np.asarray(dem.array, dtype="float64")
    out = np.full(z.shape, np.nan)
    if z.shape[0] >= 3 and z.shape[1] >= 3:
        a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
        d, f = z[1:-1, :-2], z[1:-1, 2:]
        g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
        dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
        dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy)
        grad = np.hypot(dzdx, dzdy)
        out[1:-1, 1:-1] = np.degrees(np.arctan(grad)) if units == "degrees" else 100.0 * grad
        # Horn's kernel skips the centre pixel: a hole must not get a slope of its own.
        out[np.isnan(z)] = np.nan
    return Raster(
        array=out,
        transform=dem.transform,
        crs=crs,
        name="slope",
        units=units,
        source=dem.source,
    )


def load_slope(
    territory: Territory,
    *,
    source: str | Path,
    units: SlopeUnits = "degrees",
    resolution: float | None = None,
    margin_m: float = 0.0,
) -> Raster:
    """Load a DEM around a territory and return its slope (Horn's method).

    The DEM is read one pixel wider than the area so that the border pixels of the area
    get a slope too; the result covers the same grid as
    ``load_dem(source, territory=territory, resolution=resolution, margin_m=margin_m)``.

    Parameters
    ----------
    territory : Territory
        Area of interest; the result is in ``territory.crs``.
    source : str or pathlib.Path
        DEM file (elevations in metres), any CRS.
    units : {"degrees", "percent"}
        Units of the slope.
    resolution : float, optional
        Pixel size, metres (default: the DEM's native one).
    margin_m : float
        Margin around the perimeter, metres.

    Returns
    -------
    Raster
        Slope in ``units``, ``name="slope"``.
    """
    padded = _load_dem(
        source, territory=territory, resolution=resolution, margin_m=margin_m, crs=None, pad=1
    )
    s = slope(padded, units=units)
    t = padded.transform
    return Raster(
        array=s.array[1:-1, 1:-1].copy(),
        transform=Affine(t.a, t.b, t.c + t.a, t.d, t.e, t.f + t.e),
        crs=s.crs,
        name="slope",
        units=units,
        source=s.source,
    )


def sample_raster(raster: Raster, x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Return the values of the pixels containing points (nearest pixel, no interpolation).

    Parameters
    ----------
    raster : Raster
        Raster to sample.
    x, y : array-like of float
        Coordinates in ``raster.crs`` (metres), same shape (scalars allowed).

    Returns
    -------
    numpy.ndarray
        float64 values, same shape as ``x``; ``nan`` outside the raster or on missing data.
        A point on a pixel edge belongs to the pixel to its east / south.
    """
    xs = np.asarray(x, dtype="float64")
    ys = np.asarray(y, dtype="float64")
    if xs.shape != ys.shape:
        raise ArgumentError(f"x and y must have the same shape, got {xs.shape} and {ys.shape}")
    inv = ~raster.transform
    cols = np.floor(inv.a * xs + inv.b * ys + inv.c)
    rows = np.floor(inv.d * xs + inv.e * ys + inv.f)
    nrows, ncols = raster.shape
    inside = (cols >= 0) & (cols < ncols) & (rows >= 0) & (rows < nrows)
    out = np.full(xs.shape, np.nan)
    out[inside] = raster.array[rows[inside].astype(np.intp), cols[inside].astype(np.intp)]
    return out

"""Measures: raw values per candidate site, with units, aligned on the sites' index.

Each function takes the candidate sites (a GeoDataFrame, a GeoSeries or the
:class:`PreparedSites` made once by :func:`prepare_sites`) and one layer, and returns a
Series or DataFrame with the sites' index, like momepy. Sites and layers must share one
projected CRS in metres (the territory's CRS, e.g. EPSG:2154): nothing is reprojected
here, a mismatch raises :class:`~layers.errors.CRSError` naming both CRS.

Nothing loops over sites in Python: distances use the exact engine of
:mod:`foncier.engine.distances` (cells + STRtree candidates, numpy exact distances), overlaps use
zones cut on a grid so that only the sites crossing a zone boundary are intersected, zonal
statistics sample pixel centres, counts use an R-tree of the feature points.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from foncier.engine.distances import (
    Segments,
    nearest_exact,
    piece_geometries,
    segments_of,
    site_cells,
)
from layers.config import settings
from layers.crs import check_projected
from layers.errors import CRSError, GeometryError, ProfileError, SchemaError
from layers.geometry import repair_geometries

if TYPE_CHECKING:
    from affine import Affine

    from layers.raster import Raster

__all__ = [
    "PreparedSites",
    "PreparedZones",
    "area_m2",
    "count_within",
    "distance_to",
    "intersects",
    "nearest_attribute",
    "overlap_share",
    "prepare_sites",
    "prepare_zones",
    "site_attribute",
    "zonal_stat",
]

log = logging.getLogger(__name__)

Stat = Literal["mean", "max", "min", "median"]

_POLYGON_TYPES = (3, 6)


@dataclass(frozen=True, eq=False)
class PreparedSites:
    """Per-site invariants computed once and shared by every measure.

    Build it with :func:`prepare_sites`; every measure accepts it in place of the sites.

    Attributes
    ----------
    index : pandas.Index
        Index of the sites; every result is aligned on it.
    crs : pyproj.CRS
        Projected CRS (metres) of the sites.
    geometry : numpy.ndarray
        Shapely geometries (repaired when they were invalid).
    cx, cy : numpy.ndarray
        Centroids (metres).
    radius : numpy.ndarray
        Largest distance from the centroid to a vertex of the site (metres): the whole site
        lies within this distance of its centroid.
    bounds : numpy.ndarray
        ``(n, 4)`` array of ``minx, miny, maxx, maxy`` (metres).
    area : numpy.ndarray
        Area in m² (0 for points and lines).
    edges : Segments
        Edges of the sites (rings of polygons, segments of lines, points as 0-length),
        made on first use (no measure needs them for every site).
    areal : numpy.ndarray of bool
        Whether each site is a polygon.
    first_x, first_y : numpy.ndarray
        One vertex of each site.
    frame : GeoDataFrame
        The (repaired) sites with their attribute columns.
    coords : numpy.ndarray, optional
        ``(m, 2)`` coordinates of the sites, site after site (metres).
    coord_offsets : numpy.ndarray, optional
        The coordinates of site ``i`` are ``coords[coord_offsets[i]:coord_offsets[i + 1]]``.
    single_ring : numpy.ndarray of bool, optional
        Whether each site is a polygon (or one-part multipolygon) without holes: its
        coordinates are then its one closed ring.
    """

    index: pd.Index
    crs: CRS
    geometry: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    radius: np.ndarray
    bounds: np.ndarray
    area: np.ndarray
    areal: np.ndarray
    first_x: np.ndarray
    first_y: np.ndarray
    frame: gpd.GeoDataFrame
    coords: np.ndarray | None = None
    coord_offsets: np.ndarray | None = None
    single_ring: np.ndarray | None = None
    #: The sites' cells of the distance engine per slice ``(lo, hi)``, made on first use and
    #: shared by every layer measured from these sites.
    _cells: dict[tuple[int, int], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __len__(self) -> int:
        return int(self.index.size)

    def cells(self, lo: int, hi: int) -> Any:
        """The distance engine's cells of the sites at positions ``lo:hi`` (made once)."""
        got = self._cells.get((lo, hi))
        if got is None:
            got = site_cells(self.cx[lo:hi], self.cy[lo:hi], self.radius[lo:hi])
            self._cells[(lo, hi)] = got
        return got

    @functools.cached_property
    def edges(self) -> Segments:
        """Edges of the sites, made on first use."""
        return segments_of(self.geometry)

    def take(self, lo: int, hi: int) -> PreparedSites:
        """The sites at positions ``lo:hi``, as views of these arrays (no copy of geometry)."""
        return PreparedSites(
            index=self.index[lo:hi],
            crs=self.crs,
            geometry=self.geometry[lo:hi],
            cx=self.cx[lo:hi],
            cy=self.cy[lo:hi],
            radius=self.radius[lo:hi],
            bounds=self.bounds[lo:hi],
            area=self.area[lo:hi],
            areal=self.areal[lo:hi],
            first_x=self.first_x[lo:hi],
            first_y=self.first_y[lo:hi],
            frame=self.frame.iloc[lo:hi],
            **self._rings(lo, hi),
        )

    @property
    def rings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(coords, coord_offsets, single_ring)`` when all three are known, else None."""
        if self.coords is None or self.coord_offsets is None or self.single_ring is None:
            return None
        return self.coords, self.coord_offsets, self.single_ring

    def _rings(self, lo: int, hi: int) -> dict[str, Any]:
        if self.rings is None:
            return {}
        coords, off, single = self.rings
        return {
            "coords": coords[off[lo] : off[hi]],
            "coord_offsets": off[lo : hi + 1] - off[lo],
            "single_ring": single[lo:hi],
        }


#: Smallest chunk of sites handed to a thread: below it, the per-chunk set-up (trees of
#: the layer's pieces) outweighs the gain.
_MIN_CHUNK = 25_000

T = TypeVar("T")


def _chunk_bounds(n: int, min_chunk: int | None = None) -> list[tuple[int, int]]:
    """Contiguous slices of ``n`` items, two per thread, each of ``min_chunk`` or more."""
    min_chunk = _MIN_CHUNK if min_chunk is None else min_chunk
    threads = max(1, int(settings.threads))
    if threads == 1 or n < 2 * min_chunk:
        return [(0, n)]
    k = min(2 * threads, n // min_chunk)
    cuts = np.linspace(0, n, k + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts)]


def _in_chunks(n: int, func: Callable[[int, int], T], min_chunk: int | None = None) -> list[T]:
    """``func(lo, hi)`` over slices of the sites, on ``settings.threads`` threads.

    Every measure is a function of each site alone, so chunks give the same values as one
    pass; shapely 2 and numpy release the GIL in their loops, so the threads run on all
    the cores. Results come back in the order of the slices.
    """
    bounds = _chunk_bounds(n, min_chunk)
    if len(bounds) == 1:
        return [func(0, n)]
    with ThreadPoolExecutor(max_workers=min(int(settings.threads), len(bounds))) as pool:
        return list(pool.map(lambda b: func(*b), bounds))


def _intersection_on_threads(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``shapely.intersection(a, b)``, element-wise, in slices on ``settings.threads`` threads.

    GEOS releases the GIL while it intersects, so the slices run on all the cores.
    """
    parts = _in_chunks(
        a.size, lambda lo, hi: shapely.intersection(a[lo:hi], b[lo:hi]), min_chunk=500
    )
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _site_invariants(geoms: np.ndarray) -> dict[str, Any]:
    """Centroid, radius, first vertex, bounds and area of an array of site geometries.

    One pass over the coordinates: the centroid of a polygon without holes by the
    shoelace formula (triangles from its first vertex, as GEOS computes it), of anything
    else by GEOS; the radius as the largest centroid-vertex distance; ``proven``, the
    polygons whose validity that pass proves (see :func:`_star_shaped`).
    """
    n = geoms.size
    cx, cy = np.full(n, np.nan), np.full(n, np.nan)
    radius = np.zeros(n)
    first_x, first_y = np.full(n, np.nan), np.full(n, np.nan)
    types = shapely.get_type_id(geoms)
    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    if idx.size:
        start = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        first_x[idx[start]] = xy[start, 0]
        first_y[idx[start]] = xy[start, 1]
        simple = (types == 3) & (shapely.get_num_interior_rings(geoms) == 0)
        # Shoelace over the single ring, relative to its first vertex.
        u = xy[:, 0] - np.repeat(xy[start, 0], np.diff(np.r_[start, idx.size]))
        v = xy[:, 1] - np.repeat(xy[start, 1], np.diff(np.r_[start, idx.size]))
        cross = u[:-1] * v[1:] - u[1:] * v[:-1]
        same = idx[:-1] == idx[1:]
        cross[~same] = 0.0
        owner = idx[:-1]
        a2 = np.bincount(owner, weights=cross, minlength=n)
        sx = np.bincount(owner, weights=(u[:-1] + u[1:]) * cross, minlength=n)
        sy = np.bincount(owner, weights=(v[:-1] + v[1:]) * cross, minlength=n)
        ok = simple & (a2 != 0)
        ok_pos = np.flatnonzero(ok)
        cx[ok_pos] = xy[start, 0][np.searchsorted(idx[start], ok_pos)] + sx[ok] / (3 * a2[ok])
        cy[ok_pos] = xy[start, 1][np.searchsorted(idx[start], ok_pos)] + sy[ok] / (3 * a2[ok])
        rest = np.flatnonzero(~ok)
        if rest.size:
            c = shapely.centroid(geoms[rest])
            cx[rest] = shapely.get_x(c)
            cy[rest] = shapely.get_y(c)
        ax, ay = xy[:, 0] - cx[idx], xy[:, 1] - cy[idx]
        radius[idx[start]] = np.maximum.reduceat(np.hypot(ax, ay), start)
        single = _single_ring(geoms, types)
        proven = _star_shaped(ax, ay, idx, same, single)
    else:
        single = proven = np.zeros(n, dtype=bool)
    return {
        "cx": cx,
        "cy": cy,
        "radius": radius,
        "bounds": shapely.bounds(geoms).reshape(n, 4),
        "area": shapely.area(geoms),
        "areal": np.isin(types, _POLYGON_TYPES),
        "first_x": first_x,
        "first_y": first_y,
        "proven": proven,
        "coords": xy,
        "n_coords": np.bincount(idx, minlength=n),
        "single_ring": single,
    }


def _single_ring(geoms: np.ndarray, types: np.ndarray) -> np.ndarray:
    """Whether each geometry is a polygon (or a one-part multipolygon) without holes."""
    single = (types == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    multi = np.flatnonzero((types == 6) & (shapely.get_num_geometries(geoms) == 1))
    if multi.size:
        part = shapely.get_geometry(geoms[multi], 0)
        single[multi] = shapely.get_num_interior_rings(part) == 0
    return single


def _star_shaped(
    ax: np.ndarray, ay: np.ndarray, idx: np.ndarray, same: np.ndarray, single: np.ndarray
) -> np.ndarray:
    """Whether each single-ring site is proven a valid polygon, without GEOS.

    ``ax, ay`` are the ring's coordinates relative to a point c (the centroid), ``idx``
    the site of each coordinate, ``same`` whether coordinates k and k + 1 belong to the
    same site. When every edge turns the same way around c, each one sweeping an angle
    in (0, π), the ring winds around c some k >= 1 times and crosses the horizontal line
    through c 2k times; with exactly 2 crossings (k = 1) the edges are the outer sides of
    triangles fanning once around c without overlap: the ring is simple (a polygon
    star-shaped about c), hence valid. The sign of each orientation is certain: it must
    exceed the bound on its rounding error (Shewchuk's, about 3.3e-16 of the sum of the
    magnitudes of its two products; 1e-12 is used); the sign of a difference of two
    floats is always exact. Rings not proven so (concave about their centroid, a
    vertex repeated, non-finite coordinates …) are left to GEOS's validity check.
    """
    left, right = ax[:-1] * ay[1:], ay[:-1] * ax[1:]
    cross = left - right
    margin = (np.abs(left) + np.abs(right)) * 1e-12
    owner = idx[:-1][same]
    n = single.size
    edges = np.bincount(owner, minlength=n)
    ccw = np.bincount(owner[(cross > margin)[same]], minlength=n)
    cw = np.bincount(owner[(cross < -margin)[same]], minlength=n)
    below = ay < 0
    crossings = np.bincount(owner[(below[:-1] != below[1:])[same]], minlength=n)
    return single & (edges >= 3) & ((ccw == edges) | (cw == edges)) & (crossings == 2)


#: Sites handled at once by :func:`_site_invariants`: blocks of about half a million
#: coordinates keep its temporaries in the processor's cache and in memory the allocator
#: reuses (whole chunks made each temporary a fresh mapping, 15 % more CPU).
_INVARIANT_BLOCK = 65_536


def _invariants(geoms: np.ndarray) -> dict[str, Any]:
    """:func:`_site_invariants` of ``geoms``: blocks of each thread's slice, joined once."""

    def blocks(lo: int, hi: int) -> list[dict[str, Any]]:
        part = geoms[lo:hi]
        return [
            _site_invariants(part[b : b + _INVARIANT_BLOCK])
            for b in range(0, max(part.size, 1), _INVARIANT_BLOCK)
        ]

    return _join_invariants([b for chunk in _in_chunks(geoms.size, blocks) for b in chunk])


def _all_valid(geoms: np.ndarray, proven: np.ndarray) -> bool:
    """Whether every geometry is present, non-empty and valid.

    The geometries ``proven`` valid in numpy (see :func:`_star_shaped`) are not checked
    again; GEOS checks the others, on the threads (it releases the GIL).
    """
    rest = geoms[~proven]
    if rest.size and (shapely.is_missing(rest) | shapely.is_empty(rest)).any():
        return False
    return all(_in_chunks(rest.size, lambda lo, hi: bool(shapely.is_valid(rest[lo:hi]).all())))


def _join_invariants(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def prepare_sites(sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites) -> PreparedSites:
    """Compute the per-site invariants once (centroid, radius, bounds, area, edges).

    Parameters
    ----------
    sites : GeoDataFrame or GeoSeries
        Candidate sites (polygons, or points / lines) in a projected CRS in metres.
        Invalid geometries are repaired with a logged warning; missing or empty ones raise
        :class:`~layers.errors.GeometryError`. A :class:`PreparedSites` is returned as is.

    Returns
    -------
    PreparedSites
        Invariants in the sites' CRS, aligned on the sites' index.

    Raises
    ------
    CRSError
        When the sites have no CRS or a geographic one.
    """
    if isinstance(sites, PreparedSites):
        return sites
    if isinstance(sites, gpd.GeoSeries):
        sites = sites.to_frame("geometry").set_geometry("geometry", crs=sites.crs)
    if not isinstance(sites, gpd.GeoDataFrame):
        raise GeometryError(
            f"sites must be a GeoDataFrame, GeoSeries or PreparedSites, not {type(sites).__name__}."
        )
    crs = check_projected(sites, "sites")
    geoms = sites.geometry.to_numpy()
    inv = _invariants(geoms)
    # The polygons the invariants' pass proved valid skip GEOS's check; the repair, rare,
    # is followed by a new pass.
    if len(sites) and not _all_valid(geoms, inv.pop("proven")):
        sites = repair_geometries(sites, name="sites")
        geoms = sites.geometry.to_numpy()
        inv = _invariants(geoms)
    inv.pop("proven", None)
    offsets = np.zeros(geoms.size + 1, dtype=np.int64)
    np.cumsum(inv.pop("n_coords"), out=offsets[1:])
    return PreparedSites(
        index=sites.index, crs=crs, geometry=geoms, frame=sites, coord_offsets=offsets, **inv
    )


def _check_layer(
    prepared: PreparedSites, layer: gpd.GeoDataFrame | gpd.GeoSeries, name: str
) -> gpd.GeoDataFrame:
    """Check that ``layer`` shares the sites' projected CRS; return it as a GeoDataFrame."""
    if isinstance(layer, gpd.GeoSeries):
        layer = layer.to_frame("geometry").set_geometry("geometry", crs=layer.crs)
    if not isinstance(layer, gpd.GeoDataFrame):
        raise GeometryError(f"{name} must be a GeoDataFrame or GeoSeries, not {type(layer)}.")
    crs = check_projected(layer, name)
    if not crs.equals(prepared.crs):
        raise CRSError(
            f"{name} is in {crs.to_string()} but the sites are in {prepared.crs.to_string()}. "
            f"Reproject {name} with .to_crs(sites.crs) (or load it for the same territory) "
            "before measuring: measures never reproject silently."
        )
    if len(layer):
        layer = repair_geometries(layer, name=name, drop_empty=True)
    return layer


def distance_to(
    sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites,
    features: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_distance: float | None = None,
    name_column: str | None = "name",
    id_column: str | None = None,
) -> pd.DataFrame:
    """Exact distance from each site to the nearest feature of a layer, and which feature.

    Distances are measured between the geometries themselves (the site's polygon, not its
    centroid), exact to floating-point precision (well under 1 m) against
    ``shapely.distance`` on the same pair.

    Parameters
    ----------
    sites : GeoDataFrame, GeoSeries or PreparedSites
        Candidate sites (polygons or points) in a projected CRS in metres.
    features : GeoDataFrame or GeoSeries
        Points, lines or polygons in the same CRS as the sites.
    max_distance : float, optional
        Search radius in metres: sites farther than this from every feature get ``inf``.
        Speeds up the search on large layers.
    name_column : str, optional
        Column of ``features`` giving the ``nearest_name``. When the default ``"name"`` is
        absent, ``nearest_name`` is missing; any other absent column is an error.
    id_column : str, optional
        Column giving ``nearest_id`` (default: the features' index label).

    Returns
    -------
    DataFrame
        Indexed like the sites, columns ``distance_m`` (metres, float: 0 when the site
        touches or overlaps a feature, ``inf`` beyond ``max_distance`` or when the layer is
        empty), ``nearest_name`` and ``nearest_id`` (missing when no feature is in reach).

    Raises
    ------
    CRSError
        When sites or features lack a projected CRS, or their CRS differ.
    SchemaError
        When ``name_column`` (other than the default) or ``id_column`` is not a column.
    """
    prepared = prepare_sites(sites)
    layer = _check_layer(prepared, features, "features")
    names = _column_or_none(layer, name_column, default="name")
    ids = layer.index.to_series() if id_column is None else _column(layer, id_column)
    dist, pos = _nearest(prepared, layer, max_distance)
    return pd.DataFrame(
        {
            "distance_m": dist,
            "nearest_name": _take_features(names, pos),
            "nearest_id": _take_features(ids, pos),
        },
        index=prepared.index,
    )


def _take_features(values: pd.Series | None, pos: np.ndarray) -> Any:
    """``values`` of the features at ``pos`` (missing where ``pos`` is -1), one per site.

    Strings are taken from the layer's string array as it is: no Python string per site
    and no conversion back (a third of a second at 1M sites); other values become Python
    objects once per feature, not once per site.
    """
    if values is not None and isinstance(values.dtype, pd.StringDtype):
        return values.array.take(pos, allow_fill=True)
    out = np.full(pos.size, None, dtype=object)
    if values is not None:
        found = pos >= 0
        out[found] = values.to_numpy().astype(object, copy=False)[pos[found]]
    return out


def nearest_attribute(
    sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites,
    features: gpd.GeoDataFrame,
    column: str,
    *,
    max_distance: float | None = None,
) -> pd.Series:
    """An attribute of the nearest feature (e.g. the voltage in kV of the nearest substation).

    Parameters
    ----------
    sites : GeoDataFrame, GeoSeries or PreparedSites
        Candidate sites in a projected CRS in metres.
    features : GeoDataFrame
        Layer in the same CRS, holding ``column``.
    column : str
        Column of ``features`` to read (its units are those of the layer).
    max_distance : float, optional
        Search radius in metres; sites with no feature in reach get a missing value.

    Returns
    -------
    Series
        Indexed like the sites, named ``column``, with the nearest feature's value.
    """
    prepared = prepare_sites(sites)
    layer = _check_layer(prepared, features, "features")
    values = _column(layer, column).to_numpy()
    _dist, pos = _nearest(prepared, layer, max_distance)
    found = pos >= 0
    out = pd.Series(pd.NA, index=prepared.index, dtype=object, name=column)
    out.iloc[np.flatnonzero(found)] = values[pos[found]]
    return out.infer_objects()


def _nearest(
    prepared: PreparedSites, layer: gpd.GeoDataFrame, max_distance: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest distance (metres) and feature position for each site."""
    if max_distance is not None and not max_distance >= 0:
        raise ProfileError(f"max_distance must be >= 0 metres, got {max_distance!r}.")
    n = len(prepared)
    if len(layer) == 0:
        log.warning("the feature layer is empty; every distance is inf.")
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    feature_geoms = layer.geometry.to_numpy()

    def chunk(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        part = prepared.take(lo, hi)
        return nearest_exact(
            site_cx=part.cx,
            site_cy=part.cy,
            site_radius=part.radius,
            site_geoms=part.geometry,
            site_first_x=part.first_x,
            site_first_y=part.first_y,
            feature_geoms=feature_geoms,
            max_distance=max_distance,
            cells=prepared.cells(lo, hi) if hi > lo else None,
            site_rings=part.rings,
        )

    parts = _in_chunks(n, chunk)
    return np.concatenate([d for d, _ in parts]), np.concatenate([p for _, p in parts])


def site_attribute(
    sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites, column: str
) -> pd.Series:
    """An attribute of the site itself (e.g. the CNIG vacancy rate in %, brownfield status).

    Parameters
    ----------
    sites : GeoDataFrame or PreparedSites
        Candidate sites holding ``column``.
    column : str
        Column to read; units are those of the column.

    Returns
    -------
    Series
        The column, indexed like the sites.

    Raises
    ------
    SchemaError
        When the column does not exist.
    """
    frame = sites.frame if isinstance(sites, PreparedSites) else sites
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(
            f"sites have no attribute columns (got a {type(frame).__name__}); pass the "
            f"GeoDataFrame holding {column!r}."
        )
    return _column(frame, column).rename(column)


def area_m2(sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites) -> pd.Series:
    """Area of each site in m² (0 for points and lines), in the sites' projected CRS.

    Returns
    -------
    Series
        Named ``area_m2``, indexed like the sites.
    """
    prepared = prepare_sites(sites)
    return pd.Series(prepared.area, index=prepared.index, name="area_m2")


# --------------------------------------------------------------------------------------
# Overlap with zones


@dataclass(frozen=True, eq=False)
class PreparedZones:
    """A zone layer dissolved and cut on a square grid, ready for overlap measures.

    Overlapping zones are merged first (``shapely.union_all``) so that an area covered by
    two zones counts once. The union is then cut into grid cells of ``cell_size`` metres
    (like PostGIS ``ST_Subdivide``): cells wholly inside the zones are flagged ``full`` and
    the sites lying inside one of them need no geometric operation.

    Attributes
    ----------
    crs : pyproj.CRS
        CRS of the zones.
    pieces : numpy.ndarray
        Polygonal pieces of the union, one or more per cell.
    cell : numpy.ndarray of int64
        Cell key of each piece, sorted ascending.
    full : numpy.ndarray of bool
        Whether the piece is its whole cell.
    origin : tuple of float
        Lower-left corner ``(x, y)`` of cell ``(0, 0)`` (metres).
    cell_size : float
        Side of a cell (metres).
    n_rows : int
        Number of cell rows (used in cell keys).
    bounds : numpy.ndarray
        ``(pieces, 4)`` boxes ``minx, miny, maxx, maxy`` of the pieces (metres).
    boundary : shapely.STRtree or None
        R-tree of the 2-point segments of the union's rings (its boundary, without the
        grid's lines); None when the union is empty.
    """

    crs: CRS
    pieces: np.ndarray
    cell: np.ndarray
    full: np.ndarray
    origin: tuple[float, float]
    cell_size: float
    n_rows: int
    bounds: np.ndarray
    boundary: shapely.STRtree | None = None

    def __len__(self) -> int:
        return int(self.pieces.size)


def prepare_zones(
    zones: gpd.GeoDataFrame | gpd.GeoSeries | PreparedZones,
    *,
    cell_size: float | None = None,
) -> PreparedZones:
    """Dissolve a zone layer (flood zone, Natura 2000 …) and cut it on a grid.

    Parameters
    ----------
    zones : GeoDataFrame or GeoSeries
        Polygons in a projected CRS in metres. Non-polygonal features are ignored.
    cell_size : float, optional
        Side of the grid cells in metres. By default about 1/150 of the zones' extent,
        between 200 m and 5 km; it depends only on the zones, so results do not depend on
        how the sites are split.

    Returns
    -------
    PreparedZones
        Reusable by :func:`overlap_share` and :func:`intersects` for many site batches.
    """
    if isinstance(zones, PreparedZones):
        return zones
    if isinstance(zones, gpd.GeoSeries):
        zones = zones.to_frame("geometry").set_geometry("geometry", crs=zones.crs)
    crs = check_projected(zones, "zones")
    if len(zones):
        zones = repair_geometries(zones, name="zones", drop_empty=True)
    geoms = zones.geometry.to_numpy()
    polys = geoms[np.isin(shapely.get_type_id(geoms), (*_POLYGON_TYPES, 7))]
    union = shapely.union_all(polys) if polys.size else shapely.Polygon()
    parts = shapely.get_parts(union)
    parts = parts[np.isin(shapely.get_type_id(parts), _POLYGON_TYPES)]
    parts = parts[shapely.area(parts) > 0]
    if parts.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return PreparedZones(
            crs,
            np.empty(0, dtype=object),
            empty,
            empty.astype(bool),
            (0.0, 0.0),
            1.0,
            1,
            np.empty((0, 4)),
        )
    pb = shapely.bounds(parts)
    x0, y0 = float(pb[:, 0].min()), float(pb[:, 1].min())
    x1, y1 = float(pb[:, 2].max()), float(pb[:, 3].max())
    if cell_size is None:
        cell_size = float(np.clip(max(x1 - x0, y1 - y0) / 150.0, 200.0, 5_000.0))
    g = float(cell_size)
    n_rows = int(np.floor((y1 - y0) / g)) + 1
    ix0 = np.floor((pb[:, 0] - x0) / g).astype(np.int64)
    ix1 = np.floor((pb[:, 2] - x0) / g).astype(np.int64)
    iy0 = np.floor((pb[:, 1] - y0) / g).astype(np.int64)
    iy1 = np.floor((pb[:, 3] - y0) / g).astype(np.int64)
    pieces_parts, cx, cy = _cut_on_grid(parts, ix0, ix1, iy0, iy1, (x0, y0), g)
    key = cx * n_rows + cy
    full = np.abs(shapely.area(pieces_parts) - g * g) <= 1e-9 * g * g
    order = np.argsort(key, kind="stable")
    pieces_parts = pieces_parts[order]
    return PreparedZones(
        crs=crs,
        pieces=pieces_parts,
        cell=key[order],
        full=full[order],
        origin=(x0, y0),
        cell_size=g,
        n_rows=n_rows,
        bounds=shapely.bounds(pieces_parts).reshape(-1, 4),
        boundary=_boundary_tree(parts),
    )


def _boundary_tree(parts: np.ndarray) -> shapely.STRtree:
    """R-tree of the 2-point segments of the rings of ``parts`` (the union's boundary)."""
    return shapely.STRtree(piece_geometries(segments_of(parts)))


def _polygon_parts(geoms: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygons of positive area among the parts of ``geoms``, with their owner."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), _POLYGON_TYPES) & (shapely.area(parts) > 0)
    return parts[keep], owner[idx[keep]]


#: Below this many cells, a piece is clipped to each cell directly (see _cut_on_grid).
_DIRECT_CELLS = 16


def _cut_on_grid(
    parts: np.ndarray,
    ix0: np.ndarray,
    ix1: np.ndarray,
    iy0: np.ndarray,
    iy1: np.ndarray,
    origin: tuple[float, float],
    g: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut polygons on the grid of side ``g``: the polygonal pieces and their cell.

    ``ix0..ix1, iy0..iy1`` are the (inclusive) cell ranges of each polygon's box. The
    ranges are halved level by level (a quadtree, as PostGIS ``ST_Subdivide``), each
    piece being clipped to the box of its half: a polygon of V vertices over C cells costs
    about V log C instead of the V C of clipping it to every cell. A piece that fills the
    whole box of its range gives one square per cell without further clipping.
    """
    x0, y0 = origin
    out_geoms: list[np.ndarray] = []
    out_cx: list[np.ndarray] = []
    out_cy: list[np.ndarray] = []
    geom = parts
    while geom.size:
        done = (ix0 == ix1) & (iy0 == iy1)
        if done.any():
            out_geoms.append(geom[done])
            out_cx.append(ix0[done])
            out_cy.append(iy0[done])
        geom, ix0, ix1, iy0, iy1 = (a[~done] for a in (geom, ix0, ix1, iy0, iy1))
        if geom.size == 0:
            break
        # Pieces filling their whole range: every cell of it is full.
        range_area = (ix1 - ix0 + 1) * (iy1 - iy0 + 1) * g * g
        filled = np.abs(shapely.area(geom) - range_area) <= 1e-9 * range_area
        if filled.any():
            owner, cx, cy = _cells_of_boxes(ix0[filled], ix1[filled], iy0[filled], iy1[filled])
            out_geoms.append(
                shapely.box(x0 + cx * g, y0 + cy * g, x0 + (cx + 1) * g, y0 + (cy + 1) * g)
            )
            out_cx.append(cx)
            out_cy.append(cy)
            geom, ix0, ix1, iy0, iy1 = (a[~filled] for a in (geom, ix0, ix1, iy0, iy1))
        # Small ranges: one clip per cell costs less than further halving.
        small = (ix1 - ix0 + 1) * (iy1 - iy0 + 1) <= _DIRECT_CELLS
        if small.any():
            owner, cx, cy = _cells_of_boxes(ix0[small], ix1[small], iy0[small], iy1[small])
            boxes = shapely.box(x0 + cx * g, y0 + cy * g, x0 + (cx + 1) * g, y0 + (cy + 1) * g)
            pieces, k = _polygon_parts(
                _intersection_on_threads(geom[small][owner], boxes), np.arange(owner.size)
            )
            out_geoms.append(pieces)
            out_cx.append(cx[k])
            out_cy.append(cy[k])
            geom, ix0, ix1, iy0, iy1 = (a[~small] for a in (geom, ix0, ix1, iy0, iy1))
        # Halve each range along both axes (a range of one cell stays whole).
        mx = (ix0 + ix1) // 2
        my = (iy0 + iy1) // 2
        child: list[tuple[np.ndarray, ...]] = []
        for sx in (0, 1):
            for sy in (0, 1):
                a0 = ix0 if sx == 0 else mx + 1
                a1 = mx if sx == 0 else ix1
                b0 = iy0 if sy == 0 else my + 1
                b1 = my if sy == 0 else iy1
                ok = (a0 <= a1) & (b0 <= b1)
                child.append((np.flatnonzero(ok), a0[ok], a1[ok], b0[ok], b1[ok]))
        src = np.concatenate([c[0] for c in child])
        a0, a1, b0, b1 = (np.concatenate([c[k] for c in child]) for k in (1, 2, 3, 4))
        boxes = shapely.box(x0 + a0 * g, y0 + b0 * g, x0 + (a1 + 1) * g, y0 + (b1 + 1) * g)
        clipped = _intersection_on_threads(geom[src], boxes)
        # Keep polygonal results only: a piece touching a box along an edge gives a line.
        geom, k = _polygon_parts(clipped, np.arange(src.size))
        ix0, ix1, iy0, iy1 = a0[k], a1[k], b0[k], b1[k]
    if not out_geoms:
        empty = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=object), empty, empty
    return np.concatenate(out_geoms), np.concatenate(out_cx), np.concatenate(out_cy)


def _cells_of_boxes(
    ix0: np.ndarray, ix1: np.ndarray, iy0: np.ndarray, iy1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every grid cell ``(cx, cy)`` covered by each box of cell ranges, with the box id."""
    nx = ix1 - ix0 + 1
    ny = iy1 - iy0 + 1
    counts = nx * ny
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    first = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    k = np.arange(int(counts.sum()), dtype=np.int64) - first[owner]
    return owner, ix0[owner] + k // ny[owner], iy0[owner] + k % ny[owner]


def _site_zone_pairs(
    prepared: PreparedSites, zones: PreparedZones
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (site, piece) whose cells overlap, and whether the site's box is in that cell."""
    n = len(prepared)
    if n == 0 or len(zones) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty.astype(bool)
    g = zones.cell_size
    ox, oy = zones.origin
    b = prepared.bounds
    max_col = int(zones.cell.max() // zones.n_rows)
    ix0 = np.floor((b[:, 0] - ox) / g)
    ix1 = np.floor((b[:, 2] - ox) / g)
    iy0 = np.floor((b[:, 1] - oy) / g)
    iy1 = np.floor((b[:, 3] - oy) / g)
    # Sites wholly outside the grid have no pair; the others are clipped to it.
    inside = (ix1 >= 0) & (ix0 <= max_col) & (iy1 >= 0) & (iy0 <= zones.n_rows - 1)
    sites = np.flatnonzero(inside)
    jx0 = np.clip(ix0[sites], 0, max_col).astype(np.int64)
    jx1 = np.clip(ix1[sites], 0, max_col).astype(np.int64)
    jy0 = np.clip(iy0[sites], 0, zones.n_rows - 1).astype(np.int64)
    jy1 = np.clip(iy1[sites], 0, zones.n_rows - 1).astype(np.int64)
    single = (ix0[sites] == ix1[sites]) & (iy0[sites] == iy1[sites])
    owner, cx, cy = _cells_of_boxes(jx0, jx1, jy0, jy1)
    key = cx * zones.n_rows + cy
    lo = np.searchsorted(zones.cell, key, side="left")
    hi = np.searchsorted(zones.cell, key, side="right")
    row, piece = _expand_ranges(lo, hi - lo)
    site = sites[owner[row]]
    # Only the pairs whose boxes meet (touching counts) can share a point.
    sb, pb = b[site], zones.bounds[piece]
    meet = (sb[:, 0] <= pb[:, 2]) & (pb[:, 0] <= sb[:, 2])
    meet &= (sb[:, 1] <= pb[:, 3]) & (pb[:, 1] <= sb[:, 3])
    return site[meet], piece[meet], single[owner[row[meet]]]


def _expand_ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    row = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    first = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    within = np.arange(int(counts.sum()), dtype=np.int64) - first[row]
    return row, starts[row] + within


def overlap_share(
    sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites,
    zones: gpd.GeoDataFrame | gpd.GeoSeries | PreparedZones,
) -> pd.Series:
    """Share (0..1) of each site's area inside the union of the zones.

    Zones that overlap are merged first, so an area covered twice counts once. Sites wholly
    inside a cell that the zones cover completely get 1 without any geometric operation;
    only the sites that cross a zone boundary are intersected (vectorised GEOS calls).
    For point and line sites (no area) the share is 1 when they touch a zone, else 0.

    Parameters
    ----------
    sites : GeoDataFrame, GeoSeries or PreparedSites
        Candidate sites in a projected CRS in metres.
    zones : GeoDataFrame, GeoSeries or PreparedZones
        Polygons (flood zone, Natura 2000 …) in the same CRS.

    Returns
    -------
    Series
        Named ``overlap_share``, float in 0..1, indexed like the sites; 0 everywhere (with
        a logged warning) when the zone layer is empty.
    """
    prepared = prepare_sites(sites)
    prep_zones = _prepared_zones(prepared, zones)
    n = len(prepared)
    share = np.zeros(n)
    if len(prep_zones) == 0:
        log.warning("overlap_share: the zone layer is empty; every share is 0.")
        return pd.Series(share, index=prepared.index, name="overlap_share")
    share = np.concatenate(
        _in_chunks(n, lambda lo, hi: _share_array(prepared.take(lo, hi), prep_zones))
    )
    return pd.Series(share, index=prepared.index, name="overlap_share")


def _share_array(prepared: PreparedSites, prep_zones: PreparedZones) -> np.ndarray:
    """Share of each site's area inside the zones (see :func:`overlap_share`)."""
    n = len(prepared)
    share = np.zeros(n)
    site, piece, single = _site_zone_pairs(prepared, prep_zones)
    area_in = np.zeros(site.size)
    whole = single & prep_zones.full[piece]
    area_in[whole] = prepared.area[site[whole]]
    # A site across a full cell's edge: the part of it inside the square, in numpy.
    boxed = np.flatnonzero(~whole & prep_zones.full[piece])
    if boxed.size:
        pb = prep_zones.bounds[piece[boxed]]
        a, ok = _box_overlap_area(prepared, site[boxed], pb)
        area_in[boxed[ok]] = a[ok]
        whole[boxed[ok]] = True
    rest = np.flatnonzero(~whole)
    inside_union = np.empty(0, dtype=np.int64)
    if rest.size:
        area_in[rest], inside_union = _piece_overlap_area(
            prepared, site[rest], prep_zones.pieces[piece[rest]], prep_zones.boundary
        )
    covered = np.bincount(site, weights=area_in, minlength=n)
    areal = prepared.area > 0
    share[areal] = np.clip(covered[areal] / prepared.area[areal], 0.0, 1.0)
    share[inside_union] = 1.0
    if (~areal).any():
        touching = _intersects_array(prepared, prep_zones)
        share[~areal] = touching[~areal].astype(float)
    return share


def _piece_overlap_area(
    prepared: PreparedSites, site: np.ndarray, pieces: np.ndarray, boundary: shapely.STRtree | None
) -> tuple[np.ndarray, np.ndarray]:
    """Area (m²) of each site ``site[k]`` inside the zone piece ``pieces[k]``.

    Most sites near a zone boundary lie wholly inside or outside the piece of their cell:
    two predicates (about 1 µs each, the piece prepared on the fly) settle them, a site
    inside taking its own area. A site that crosses a piece's boundary often crosses only
    the grid's lines, inside the zones: a one-part site that meets the union but not its
    boundary lies wholly inside it (it is connected), which one query of the R-tree of the
    boundary's segments tells. Only the other sites are intersected (about 8 µs each).

    Returns the area of each pair, and the sites found wholly inside the union (their
    pairs are left at 0: their share is 1).
    """
    geoms = prepared.geometry[site]
    out = np.zeros(geoms.size)
    inside = shapely.contains_properly(pieces, geoms)
    out[inside] = prepared.area[site[inside]]
    other = np.flatnonzero(~inside)
    cross = other[shapely.intersects(pieces[other], geoms[other])]
    whole = np.empty(0, dtype=np.int64)
    if cross.size and boundary is not None:
        one_part = np.unique(site[cross])
        types = shapely.get_type_id(prepared.geometry[one_part])
        one_part = one_part[types == 3]
        hit, _ = boundary.query(prepared.geometry[one_part], predicate="intersects")
        touching = np.zeros(one_part.size, dtype=bool)
        touching[hit] = True
        whole = one_part[~touching]
        cross = cross[~np.isin(site[cross], whole)]
    if cross.size:
        out[cross] = shapely.area(shapely.intersection(geoms[cross], pieces[cross]))
    return out, whole


def _box_overlap_area(
    prepared: PreparedSites, site: np.ndarray, boxes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Area (m²) of each site ``site[k]`` inside the axis-aligned box ``boxes[k]``.

    With ``F(X, Y)`` the area of the site in the quadrant ``x <= X, y <= Y``, the area in
    the box ``[x0, x1] × [y0, y1]`` is ``F(x1, y1) - F(x0, y1) - F(x1, y0) + F(x0, y0)``.
    By Green's theorem ``F(X, Y)`` is the sum over the site's edges, each clipped to the
    quadrant, of the integral of ``(x - X) dy``: along the quadrant's sides either
    ``x = X`` or ``dy = 0``, so they add nothing and every edge is handled on its own.
    This holds for any rings (holes, several parts) whose shells and holes run in opposite
    directions; the second array tells for which sites it does (the others are left to
    GEOS). Exact to rounding: coordinates are taken relative to the box's corner.
    """
    # The edges of these sites only.
    which, local = np.unique(site, return_inverse=True)
    edges = segments_of(prepared.geometry[which])
    offsets = edges.offsets(which.size)
    counts = offsets[local + 1] - offsets[local]
    row, e = _expand_ranges(offsets[local], counts)
    x0, y0 = boxes[:, 0], boxes[:, 1]
    # Coordinates relative to the box's lower-left corner keep the products small.
    ax, ay = edges.x0[e] - x0[row], edges.y0[e] - y0[row]
    bx, by = edges.x1[e] - x0[row], edges.y1[e] - y0[row]
    w, h = (boxes[:, 2] - x0)[row], (boxes[:, 3] - y0)[row]
    zero = np.zeros(row.size)
    total = _quadrant_integral(ax, ay, bx, by, w, h)
    total -= _quadrant_integral(ax, ay, bx, by, zero, h)
    total -= _quadrant_integral(ax, ay, bx, by, w, zero)
    total += _quadrant_integral(ax, ay, bx, by, zero, zero)
    area = np.bincount(row, weights=total, minlength=site.size)
    # Orientation: the signed shoelace area of all the rings is ±area when shells and
    # holes run in opposite directions.
    shoelace = np.bincount(row, weights=ax * by - bx * ay, minlength=site.size) / 2.0
    true_area = prepared.area[site]
    ok = (true_area > 0) & (np.abs(np.abs(shoelace) - true_area) <= 1e-9 * true_area)
    return area * np.sign(shoelace), ok


def _quadrant_integral(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, qx: np.ndarray, qy: np.ndarray
) -> np.ndarray:
    """Integral of ``(x - qx) dy`` along each segment a→b clipped to ``x <= qx, y <= qy``."""
    dx, dy = bx - ax, by - ay
    t0 = np.zeros(ax.size)
    t1 = np.ones(ax.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        for a, d, q in ((ax, dx, qx), (ay, dy, qy)):
            t = (q - a) / d
            pos, neg = d > 0, d < 0
            np.minimum(t1, t, out=t1, where=pos)
            np.maximum(t0, t, out=t0, where=neg)
            # A segment parallel to the side lies wholly on one side of it.
            t1[(d == 0) & (a > q)] = 0.0
    span = np.maximum(t1 - t0, 0.0)
    x_mid = ax + dx * ((t0 + t1) / 2.0)
    return (x_mid - qx) * dy * span


def intersects(
    sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites,
    zones: gpd.GeoDataFrame | gpd.GeoSeries | PreparedZones,
) -> pd.Series:
    """Whether each site touches or overlaps any zone.

    Parameters
    ----------
    sites : GeoDataFrame, GeoSeries or PreparedSites
        Candidate sites in a projected CRS in metres.
    zones : GeoDataFrame, GeoSeries or PreparedZones
        Polygons in the same CRS.

    Returns
    -------
    Series of bool
        Named ``intersects``, indexed like the sites; all False (with a logged warning)
        when the zone layer is empty.
    """
    prepared = prepare_sites(sites)
    prep_zones = _prepared_zones(prepared, zones)
    if len(prep_zones) == 0:
        log.warning("intersects: the zone layer is empty; no site intersects it.")
    hit = np.concatenate(
        _in_chunks(
            len(prepared), lambda lo, hi: _intersects_array(prepared.take(lo, hi), prep_zones)
        )
    )
    return pd.Series(hit, index=prepared.index, name="intersects")


def _prepared_zones(
    prepared: PreparedSites, zones: gpd.GeoDataFrame | gpd.GeoSeries | PreparedZones
) -> PreparedZones:
    crs = zones.crs if isinstance(zones, PreparedZones) else check_projected(zones, "zones")
    if not crs.equals(prepared.crs):
        raise CRSError(
            f"zones are in {crs.to_string()} but the sites are in {prepared.crs.to_string()}. "
            "Reproject the zones with .to_crs(sites.crs) before measuring: measures never "
            "reproject silently."
        )
    return prepare_zones(zones)


def _intersects_array(prepared: PreparedSites, zones: PreparedZones) -> np.ndarray:
    n = len(prepared)
    hit = np.zeros(n, dtype=bool)
    if len(zones) == 0:
        return hit
    site, piece, single = _site_zone_pairs(prepared, zones)
    whole = single & zones.full[piece]
    hit[site[whole]] = True
    rest = np.flatnonzero(~whole & ~hit[site])
    if rest.size:
        touch = shapely.intersects(prepared.geometry[site[rest]], zones.pieces[piece[rest]])
        hit[site[rest][touch]] = True
    return hit


# --------------------------------------------------------------------------------------
# Zonal statistics


def zonal_stat(
    sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites,
    raster: Raster,
    *,
    stat: Stat = "mean",
) -> pd.Series:
    """A statistic of a raster over each site (e.g. mean or max slope in degrees).

    The raster is sampled at the pixel centres that fall inside each site (no polygon is
    rasterised). A site too small to contain any pixel centre, and a point or line site,
    takes the value of the pixel under its centroid. Missing pixels (``nan``) are ignored.

    Parameters
    ----------
    sites : GeoDataFrame, GeoSeries or PreparedSites
        Candidate sites in a projected CRS in metres.
    raster : layers.raster.Raster
        North-up raster in the same CRS as the sites.
    stat : {"mean", "max", "min", "median"}
        Statistic of the sampled values.

    Returns
    -------
    Series
        Named ``"{stat}_{raster.name}"``, in ``raster.units``, indexed like the sites;
        ``nan`` where the site lies off the raster or only over missing pixels.
    """
    if stat not in ("mean", "max", "min", "median"):
        raise ProfileError(f"stat must be 'mean', 'max', 'min' or 'median', not {stat!r}.")
    prepared = prepare_sites(sites)
    rcrs = CRS.from_user_input(raster.crs) if raster.crs is not None else None
    if rcrs is None:
        raise CRSError(f"raster {raster.name!r} has no CRS.")
    if not rcrs.equals(prepared.crs):
        raise CRSError(
            f"raster {raster.name!r} is in {rcrs.to_string()} but the sites are in "
            f"{prepared.crs.to_string()}. Warp the raster to the sites' CRS first: measures "
            "never reproject silently."
        )
    t = raster.transform
    if t.b != 0 or t.d != 0:
        raise SchemaError(
            f"raster {raster.name!r} is rotated (transform {tuple(t)[:6]}); warp it to a "
            "north-up grid first."
        )
    name = f"{stat}_{raster.name}"
    n = len(prepared)
    values = np.asarray(raster.array, dtype=float)
    out = (
        np.concatenate(
            _in_chunks(n, lambda lo, hi: _zonal_array(prepared.take(lo, hi), values, t, stat))
        )
        if n
        else np.full(0, np.nan)
    )
    return pd.Series(out, index=prepared.index, name=name)


def _zonal_array(prepared: PreparedSites, values: np.ndarray, t: Affine, stat: str) -> np.ndarray:
    """``stat`` of the pixel centres inside each site (see :func:`zonal_stat`)."""
    n = len(prepared)
    rows, cols = values.shape
    out = np.full(n, np.nan)
    b = prepared.bounds
    # Column j has its centre at x = c + (j + 0.5) a; row i at y = f + (i + 0.5) e.
    jx_a = (b[:, 0] - t.c) / t.a - 0.5
    jx_b = (b[:, 2] - t.c) / t.a - 0.5
    iy_a = (b[:, 1] - t.f) / t.e - 0.5
    iy_b = (b[:, 3] - t.f) / t.e - 0.5
    j0 = np.clip(np.ceil(np.minimum(jx_a, jx_b)), 0, cols)
    j1 = np.clip(np.floor(np.maximum(jx_a, jx_b)), -1, cols - 1)
    i0 = np.clip(np.ceil(np.minimum(iy_a, iy_b)), 0, rows)
    i1 = np.clip(np.floor(np.maximum(iy_a, iy_b)), -1, rows - 1)
    ncol = np.maximum(j1 - j0 + 1, 0).astype(np.int64)
    nrow = np.maximum(i1 - i0 + 1, 0).astype(np.int64)
    counts = np.where(prepared.areal, ncol * nrow, 0)
    site_s, val_s, has_centre = _sample_inside(prepared, values, t, j0, i0, ncol, counts)
    # Fallback: the pixel under the centroid for sites with no pixel centre inside (a site
    # whose pixel centres are all missing stays nan).
    need = np.flatnonzero(~has_centre)
    if need.size:
        cj = np.floor((prepared.cx[need] - t.c) / t.a).astype(np.int64)
        ci = np.floor((prepared.cy[need] - t.f) / t.e).astype(np.int64)
        on = (cj >= 0) & (cj < cols) & (ci >= 0) & (ci < rows)
        v = values[ci[on], cj[on]]
        ok = ~np.isnan(v)
        site_s = np.concatenate([site_s, need[on][ok]])
        val_s = np.concatenate([val_s, v[ok]])
    if site_s.size and stat == "mean":
        # Sums and counts per site: no sort needed.
        total = np.bincount(site_s, weights=val_s, minlength=n)
        count = np.bincount(site_s, minlength=n)
        got = count > 0
        out[got] = total[got] / count[got]
    elif site_s.size:
        order = np.lexsort((val_s, site_s))
        site_s, val_s = site_s[order], val_s[order]
        starts = np.flatnonzero(np.r_[True, site_s[1:] != site_s[:-1]])
        ends = np.r_[starts[1:], site_s.size]
        who = site_s[starts]
        if stat == "min":
            out[who] = val_s[starts]
        elif stat == "max":
            out[who] = val_s[ends - 1]
        else:
            lo_mid = starts + (ends - starts - 1) // 2
            hi_mid = starts + (ends - starts) // 2
            out[who] = (val_s[lo_mid] + val_s[hi_mid]) / 2.0
    return out


def _sample_inside(
    prepared: PreparedSites,
    values: np.ndarray,
    t: Affine,
    j0: np.ndarray,
    i0: np.ndarray,
    ncol: np.ndarray,
    counts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values of the non-missing pixels whose centre lies inside each site (chunked).

    Returns the site and value of each such pixel, and whether each site holds any pixel
    centre at all (missing or not).
    """
    n = counts.size
    cum = np.cumsum(counts)
    chunk = 262_144
    cuts = (
        np.searchsorted(cum, np.arange(chunk, int(cum[-1]) + 1, chunk))
        if n
        else np.empty(0, dtype=np.int64)
    )
    edges = np.unique(np.concatenate([[0], cuts, [n]])).astype(np.int64)
    sites_out, vals_out = [], []
    has_centre = np.zeros(n, dtype=bool)
    a, c, e, f = t.a, t.c, t.e, t.f
    for lo, hi in itertools.pairwise(edges):
        idx = np.arange(lo, hi, dtype=np.int64)
        row, k = _expand_ranges(np.zeros(idx.size, dtype=np.int64), counts[idx])
        site = idx[row]
        jj = j0[site].astype(np.int64) + k % ncol[site]
        ii = i0[site].astype(np.int64) + k // ncol[site]
        inside = shapely.contains_xy(
            prepared.geometry[site], c + (jj + 0.5) * a, f + (ii + 0.5) * e
        )
        has_centre[site[inside]] = True
        v = values[ii[inside], jj[inside]]
        ok = ~np.isnan(v)
        sites_out.append(site[inside][ok])
        vals_out.append(v[ok])
    if not sites_out:
        return np.empty(0, dtype=np.int64), np.empty(0), has_centre
    return np.concatenate(sites_out), np.concatenate(vals_out), has_centre


# --------------------------------------------------------------------------------------
# Counts and sums within a radius


def count_within(
    sites: gpd.GeoDataFrame | gpd.GeoSeries | PreparedSites,
    features: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    radius_m: float,
    weight_column: str | None = None,
) -> pd.Series:
    """Count features, or sum one of their columns, within a radius of each site.

    Distances go from the site's **centroid** to each feature's point (its centroid for
    lines and polygons), so this suits radii of 1 km and more where the site's own size
    does not matter (labour pool: population of communes within 20 km; firms within 5 km).
    A feature exactly at ``radius_m`` counts.

    Parameters
    ----------
    sites : GeoDataFrame, GeoSeries or PreparedSites
        Candidate sites in a projected CRS in metres.
    features : GeoDataFrame or GeoSeries
        Features in the same CRS.
    radius_m : float
        Radius in metres (> 0).
    weight_column : str, optional
        Numeric column of ``features`` to sum (e.g. ``"population"``). A missing value is
        unknown, not 0: a site whose features within the radius all lack the value gets
        ``nan`` (e.g. the communes of Mayotte, which have no population in the boundary
        source); where only some lack it, the sum of the known values is returned (a lower
        bound) and the number of such sites is logged. Without it, features are counted.

    Returns
    -------
    Series
        Indexed like the sites: ``count_within_{radius}m`` (int) or
        ``sum_{weight_column}_within_{radius}m`` (float, in the column's units).
    """
    if not radius_m > 0:
        raise ProfileError(f"radius_m must be > 0 metres, got {radius_m!r}.")
    prepared = prepare_sites(sites)
    layer = _check_layer(prepared, features, "features")
    label = f"{radius_m:g}m"
    n = len(prepared)
    weights = None
    if weight_column is not None:
        col = _column(layer, weight_column)
        if not pd.api.types.is_numeric_dtype(col):
            raise SchemaError(
                f"weight_column {weight_column!r} is not numeric (dtype {col.dtype}); "
                "convert it with pd.to_numeric first."
            )
        raw_weights = col.to_numpy(dtype=float)
        known = ~np.isnan(raw_weights)
        weights = np.where(known, raw_weights, 0.0)
        name = f"sum_{weight_column}_within_{label}"
    else:
        name = f"count_within_{label}"
    if len(layer) == 0 or n == 0:
        if len(layer) == 0:
            log.warning("count_within: the feature layer is empty; every count is 0.")
        zeros = np.zeros(n) if weights is not None else np.zeros(n, dtype=np.int64)
        return pd.Series(zeros, index=prepared.index, name=name)
    geoms = layer.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == 0
    pts = np.where(is_point, geoms, shapely.centroid(geoms))
    # An R-tree of the feature points answers "within r" exactly (GEOS distance <= r) and is
    # part of shapely, already loaded: no scipy import (half a second) for a count.
    tree = shapely.STRtree(pts)
    centres = shapely.points(prepared.cx, prepared.cy)
    step = 50_000
    if weights is None:
        counts = np.zeros(n, dtype=np.int64)
        for lo in range(0, n, step):
            # One batch of sites at a time bounds the memory of the (site, feature) pairs.
            i, _ = tree.query(centres[lo : lo + step], predicate="dwithin", distance=radius_m)
            counts[lo : lo + step] = np.bincount(i, minlength=min(step, n - lo))
        return pd.Series(counts, index=prepared.index, name=name)
    total = np.zeros(n)
    n_known = np.zeros(n)
    n_all = np.zeros(n)
    for lo in range(0, n, step):
        i, j = tree.query(centres[lo : lo + step], predicate="dwithin", distance=radius_m)
        # Sum in feature order within each site, as the pairs come sorted by site.
        order = np.lexsort((j, i))
        i, j = i[order], j[order]
        size = min(step, n - lo)
        total[lo : lo + step] = np.bincount(i, weights=weights[j], minlength=size)
        n_known[lo : lo + step] = np.bincount(i, weights=known[j].astype(float), minlength=size)
        n_all[lo : lo + step] = np.bincount(i, minlength=size)
    unknown = (n_all > 0) & (n_known == 0)
    partial = (n_known > 0) & (n_known < n_all)
    if unknown.any() or partial.any():
        log.warning(
            "count_within: %r is missing for features near %d site(s) (value unknown) and "
            "for some of the features near %d other(s) (sum of the known values).",
            weight_column,
            int(unknown.sum()),
            int(partial.sum()),
        )
    total[unknown] = np.nan
    return pd.Series(total, index=prepared.index, name=name)


# --------------------------------------------------------------------------------------
# Helpers


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise SchemaError(
            f"column {column!r} not found; available columns: {', '.join(map(str, frame.columns))}."
        )
    return frame[column]


def _column_or_none(frame: pd.DataFrame, column: str | None, *, default: str) -> pd.Series | None:
    if column is None:
        return None
    if column not in frame.columns and column == default:
        return None
    return _column(frame, column)

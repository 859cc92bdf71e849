"""Exact nearest-feature distances for many sites at once, without a Python loop per site.

The engine behind :func:`foncier.engine.measures.distance_to`. Every feature layer is broken into
elementary *pieces* (line segments of lines and polygon rings, zero-length segments for
points). The sites are grouped in square cells; for each cell centre ``q`` the exact distance
``D_q`` to the nearest piece is found (one box query of a ``shapely.STRtree`` around every
centre and distances in numpy; GEOS's nearest search for the cells far from every piece)
and every piece within
``D_q + 2 h + 2 r`` of ``q`` (``h`` the half-diagonal of the cell, ``r`` the largest site
radius in the cell) is a candidate for all sites of the cell: a site whose centroid ``c``
lies within ``h`` of ``q`` and whose vertices lie within ``r`` of ``c`` cannot be nearest to
any other piece. The cell's list is sorted by distance to ``q`` and each site takes the
prefix it needs (``d(q, p) <= U + |c - q| + 2 r`` with ``U`` the centroid's distance to the
cell's nearest piece). For each site the candidates are then narrowed with the bounds
``d(c, p) - r <= d(site, p) <= d(c, p) + r`` (centroid distances in numpy) and GEOS's
exact distance (``shapely.distance``, one small call per pair) is computed only for the
pieces that can still be nearest (a segment continuing the first one from a vertex the
whole site lies behind cannot be). A site inside a polygon feature (no boundary crossing)
is found with one point-in-polygon test of its first vertex (the whole site when it has
several parts).

All coordinates are in one projected CRS in metres; the callers check that.
"""

from __future__ import annotations

import functools
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

log = logging.getLogger(__name__)

__all__ = ["Segments", "nearest_exact", "piece_geometries", "segments_of", "site_cells"]

#: Distances below this (metres) are reported as 0: they are rounding noise of touching
#: geometries, so that "distance 0" and "intersects" agree.
ZERO_TOLERANCE_M = 1e-6

#: (site, candidate) rows handled at once by the exact step. Blocks of 2 MB arrays stay in
#: the processor's cache and in memory the allocator reuses: blocks of 8 million rows made
#: every temporary a fresh mapping whose pages the kernel zeroes first (the step took
#: 1.5 times the CPU at 1 million sites).
_CHUNK_ROWS = 262_144

#: Target number of sites per cell (see nearest_exact).
_SITES_PER_CELL = 16.0

_POINT_TYPES = (0, 4)
_LINE_TYPES = (1, 2, 5)
_POLYGON_TYPES = (3, 6)


@dataclass(frozen=True)
class Segments:
    """Elementary segments of a geometry array, grouped by owner.

    Attributes
    ----------
    x0, y0, x1, y1 : numpy.ndarray
        Segment ends (metres). Points are zero-length segments.
    owner : numpy.ndarray
        Position (0-based) of the geometry each segment comes from, sorted ascending.
    """

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    owner: np.ndarray

    def __len__(self) -> int:
        return int(self.owner.size)

    @functools.cached_property
    def direction(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``x1 - x0``, ``y1 - y0`` and the inverse squared length (0 for points)."""
        dx, dy = self.x1 - self.x0, self.y1 - self.y0
        l2 = dx * dx + dy * dy
        inv = np.zeros_like(l2)
        np.divide(1.0, l2, out=inv, where=l2 > 0)
        return dx, dy, inv

    def offsets(self, n_owners: int) -> np.ndarray:
        """CSR offsets: segments of owner ``i`` are ``offsets[i]:offsets[i + 1]``."""
        counts = np.bincount(self.owner, minlength=n_owners)
        out = np.zeros(n_owners + 1, dtype=np.int64)
        np.cumsum(counts, out=out[1:])
        return out


def segments_of(geoms: np.ndarray) -> Segments:
    """Break geometries into segments (rings of polygons, lines, and points as 0-length).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        Any mix of points, lines and polygons (multi-parts and collections allowed);
        missing or empty geometries give no segment.

    Returns
    -------
    Segments
        Segments sorted by owner position.
    """
    geoms = np.asarray(geoms, dtype=object)
    types = shapely.get_type_id(geoms)
    types[shapely.is_empty(geoms)] = -1
    chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    # Points and multipoints: one 0-length segment per point.
    pts = np.flatnonzero(np.isin(types, _POINT_TYPES))
    if pts.size:
        xy, idx = shapely.get_coordinates(geoms[pts], return_index=True)
        chunks.append((xy[:, 0], xy[:, 1], xy[:, 0], xy[:, 1], pts[idx]))
    # Lines and polygons go through the ragged-array encoding: coordinates plus offsets,
    # built in C without one Python object per ring.
    # Fast path: a line, or a polygon without holes, is one coordinate sequence, so its
    # segments join consecutive coordinates of the same geometry.
    simple = (types == 1) | ((types == 3) & (shapely.get_num_interior_rings(geoms) == 0))
    sel = np.flatnonzero(simple)
    if sel.size:
        xy, idx = shapely.get_coordinates(geoms[sel], return_index=True)
        same = idx[:-1] == idx[1:]
        chunks.append(
            (
                xy[:-1, 0][same],
                xy[:-1, 1][same],
                xy[1:, 0][same],
                xy[1:, 1][same],
                sel[idx[:-1][same]],
            )
        )
    for family in ((5,), _POLYGON_TYPES):
        sel = np.flatnonzero(np.isin(types, family) & ~simple)
        if sel.size:
            chunks.append(_ragged_segments(geoms[sel], sel))
    # Anything else (linear rings, collections) is split into parts first.
    other = np.flatnonzero(np.isin(types, (2, 7)))
    if other.size:
        parts, idx = shapely.get_parts(geoms[other], return_index=True)
        parts = np.where(
            shapely.get_type_id(parts) == 2,
            shapely.linestrings(
                shapely.get_coordinates(parts),
                indices=np.repeat(np.arange(parts.size), shapely.get_num_coordinates(parts)),
            )
            if (shapely.get_type_id(parts) == 2).any()
            else parts,
            parts,
        )
        sub = segments_of(parts)
        chunks.append((sub.x0, sub.y0, sub.x1, sub.y1, other[idx[sub.owner]]))
    if not chunks:
        empty = np.empty(0)
        return Segments(empty, empty, empty, empty, np.empty(0, dtype=np.int64))
    own = np.concatenate([c[4] for c in chunks]).astype(np.int64)
    if len(chunks) == 1 and (own.size < 2 or bool(np.all(own[1:] >= own[:-1]))):
        c = chunks[0]
        return Segments(c[0], c[1], c[2], c[3], own)
    order = np.argsort(own, kind="stable")
    return Segments(
        np.concatenate([c[0] for c in chunks])[order],
        np.concatenate([c[1] for c in chunks])[order],
        np.concatenate([c[2] for c in chunks])[order],
        np.concatenate([c[3] for c in chunks])[order],
        own[order],
    )


def _ragged_segments(
    geoms: np.ndarray, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments of lines or polygons (one family) from ``shapely.to_ragged_array``."""
    _, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    # offsets[0] delimits the innermost coordinate sequences (lines or rings); each further
    # level groups the previous one, the last level giving the geometries.
    seq_owner = np.arange(offsets[0].size - 1)
    for level in offsets[1:]:
        groups = np.repeat(np.arange(level.size - 1), np.diff(level))
        seq_owner = groups[seq_owner]
    seq_of_coord = np.repeat(np.arange(offsets[0].size - 1), np.diff(offsets[0]))
    same = seq_of_coord[:-1] == seq_of_coord[1:]
    x, y = coords[:, 0], coords[:, 1]
    return (
        x[:-1][same],
        y[:-1][same],
        x[1:][same],
        y[1:][same],
        positions[seq_owner[seq_of_coord[:-1][same]]],
    )


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR expansion: for each row ``i`` the indices ``starts[i] .. starts[i]+counts[i]-1``.

    Returns the row of each output and the expanded index.
    """
    total = int(counts.sum())
    row = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    if total == 0:
        return row, np.empty(0, dtype=np.int64)
    first = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    within = np.arange(total, dtype=np.int64) - np.repeat(first, counts)
    return row, np.repeat(starts.astype(np.int64), counts) + within


def exact_pair_distance(
    pair_site: np.ndarray,
    pair_piece: np.ndarray,
    *,
    site_geoms: np.ndarray,
    piece_geoms: np.ndarray,
) -> np.ndarray:
    """Exact distance between each (site, piece) pair, in metres.

    GEOS's own distance (``shapely.distance``) between the site and the piece: 0 when
    they cross or when the piece lies inside the site. Each pair is one small GEOS call
    (a site against one segment or point, well under a microsecond), with the GIL released.
    """
    if pair_site.size == 0:
        return np.full(0, np.inf)
    out = shapely.distance(site_geoms[pair_site], piece_geoms[pair_piece])
    out[out < ZERO_TOLERANCE_M] = 0.0
    return out


#: A point piece farther than this (metres) beyond a site's radius lies outside it: its
#: distance is measured in numpy (see _point_to_rings).
_OUTSIDE_MARGIN_M = 1e-3


#: Pairs measured at once by _point_to_rings: temporaries of a few hundred kB stay in the
#: processor's cache.
_RING_BLOCK = 4_096


def _point_to_rings(
    sites: np.ndarray, px: np.ndarray, py: np.ndarray, coords: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Distance from each point ``(px[k], py[k])`` to the ring of site ``sites[k]`` (metres).

    The minimum over the ring's edges of GEOS's ``Distance::pointToSegment``, written with
    the same operations in the same order, so that each value is GEOS's to the bit: for a
    point outside a one-ring polygon, ``shapely.distance`` is exactly this minimum (GEOS
    finds the point exterior, then takes the nearest of the ring's segments). An edge of
    length 0 gives the distance to its vertex, as in GEOS.
    """
    if sites.size > _RING_BLOCK:
        return np.concatenate(
            [
                _point_to_rings(
                    sites[lo : lo + _RING_BLOCK],
                    px[lo : lo + _RING_BLOCK],
                    py[lo : lo + _RING_BLOCK],
                    coords,
                    offsets,
                )
                for lo in range(0, sites.size, _RING_BLOCK)
            ]
        )
    count = offsets[sites + 1] - offsets[sites]
    _, k = _expand(offsets[sites], count)
    x, y = coords[k, 0], coords[k, 1]
    ux = np.repeat(px, count) - x
    uy = np.repeat(py, count) - y
    to_vertex = np.sqrt(ux * ux + uy * uy)
    ex, ey = x[1:] - x[:-1], y[1:] - y[:-1]
    length2 = ex * ex + ey * ey
    ux, uy = ux[:-1], uy[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (ux * ex + uy * ey) / length2
        d = np.abs(ux * ey - uy * ex) / length2
    d *= np.sqrt(length2)
    d = np.where(r >= 1.0, to_vertex[1:], d)
    d = np.where((r <= 0.0) | (length2 == 0.0), to_vertex[:-1], d)
    starts = np.zeros(sites.size, dtype=np.int64)
    np.cumsum(count[:-1], out=starts[1:])
    # The edge from a site's last coordinate to the next site's first is no edge.
    d = np.append(d, np.inf)
    d[starts[1:] - 1] = np.inf
    return np.minimum.reduceat(d, starts)


def _exact_pairs(
    pair_site: np.ndarray,
    pair_piece: np.ndarray,
    pair_dc: np.ndarray,
    pieces: Segments,
    exact: dict[str, Any],
) -> np.ndarray:
    """Exact distance of each (site, piece) pair (metres), ``pair_dc`` its centroid bound.

    A point piece lying outside the disk of a one-ring site is measured in numpy
    (:func:`_point_to_rings`, GEOS's value to the bit); every other pair by GEOS.
    """
    out = np.empty(pair_site.size)
    fast = np.zeros(pair_site.size, dtype=bool)
    rings = exact.get("site_rings")
    if rings is not None and pair_site.size:
        coords, offsets, single = rings
        x, y = pieces.x0[pair_piece], pieces.y0[pair_piece]
        fast = (x == pieces.x1[pair_piece]) & (y == pieces.y1[pair_piece]) & single[pair_site]
        fast &= pair_dc - exact["site_radius"][pair_site] > _OUTSIDE_MARGIN_M
        if fast.any():
            out[fast] = _point_to_rings(pair_site[fast], x[fast], y[fast], coords, offsets)
    slow = ~fast
    out[slow] = exact_pair_distance(
        pair_site[slow],
        pair_piece[slow],
        site_geoms=exact["site_geoms"],
        piece_geoms=exact["piece_geoms"],
    )
    return out


def _group_min(
    group: np.ndarray, values: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum of ``values`` per group and the position of its first occurrence.

    ``group`` must be sorted ascending. Ties go to the lowest position, which keeps results
    independent of how the sites are chunked or partitioned.
    """
    best = np.full(n_groups, np.inf)
    arg = np.full(n_groups, -1, dtype=np.int64)
    if group.size == 0:
        return best, arg
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    who = group[starts]
    best[who] = np.minimum.reduceat(values, starts)
    hits = np.flatnonzero(values == best[group])
    first = hits[np.r_[True, group[hits[1:]] != group[hits[:-1]]]]
    arg[group[first]] = first
    return best, arg


@dataclass(frozen=True)
class _Cells:
    """Square cells grouping the sites (about _SITES_PER_CELL sites a cell)."""

    size: float
    site_cell: np.ndarray  # cell of each site
    qx: np.ndarray  # cell centres (metres)
    qy: np.ndarray
    half_diag: float
    rmax: np.ndarray  # largest site radius in each cell

    @property
    def n(self) -> int:
        return int(self.qx.size)


@dataclass(frozen=True)
class _Candidates:
    """Pieces near each cell, sorted by cell then by distance to the cell centre."""

    cell: np.ndarray
    piece: np.ndarray
    start: np.ndarray  # first candidate of each cell
    count: np.ndarray  # candidates of each cell
    key: np.ndarray  # cell * span + distance, ascending: one searchsorted finds a prefix
    span: float


def site_cells(site_cx: np.ndarray, site_cy: np.ndarray, site_radius: np.ndarray) -> _Cells:
    """Stage 1: square cells of sites (made once per set of sites, shared by every layer).

    About 16 sites a cell (measured best between 2 and 64) balances the number of tree
    queries against the number of candidate pairs.
    """
    n = site_cx.size
    xmin, xmax = float(site_cx.min()), float(site_cx.max())
    ymin, ymax = float(site_cy.min()), float(site_cy.max())
    extent = max((xmax - xmin) * (ymax - ymin), 1.0)
    size = float(np.clip(np.sqrt(extent * _SITES_PER_CELL / n), 25.0, 5_000.0))
    ix = np.floor((site_cx - xmin) / size).astype(np.int64)
    iy = np.floor((site_cy - ymin) / size).astype(np.int64)
    cell_key = ix * (int((ymax - ymin) / size) + 2) + iy
    cells, site_cell = np.unique(cell_key, return_inverse=True)
    n_cells = cells.size
    # Cell centre: from the first site of each cell (ix, iy recovered from that site).
    first_site = np.zeros(n_cells, dtype=np.int64)
    first_site[site_cell[::-1]] = np.arange(n - 1, -1, -1)
    rmax = np.zeros(n_cells)
    np.maximum.at(rmax, site_cell, site_radius)
    return _Cells(
        size=size,
        site_cell=site_cell,
        qx=xmin + (ix[first_site] + 0.5) * size,
        qy=ymin + (iy[first_site] + 0.5) * size,
        half_diag=size * np.sqrt(0.5),
        rmax=rmax,
    )


def _cell_candidates(
    cells: _Cells, pieces: Segments, tree: shapely.STRtree, limit: float
) -> _Candidates:
    """Stage 2: the candidate pieces of each cell.

    For a cell centre ``q`` at distance ``D_q`` of its nearest piece: every piece within
    ``D_q + 2 h + 2 r`` (capped by the search limit), sorted by distance to ``q`` so that
    each site takes only the prefix it needs.

    One box query around every cell centre (half-side ``R``, from the pieces' density)
    gives, in numpy, ``D_q`` and the candidates of every cell whose pieces lie within
    ``R``: every piece within ``R`` of ``q`` has its box in the square. Only the other
    cells (far from every piece) go through GEOS's nearest search and a distance query.
    """
    qx, qy = cells.qx, cells.qy
    h, rmax = cells.half_diag, cells.rmax
    radius = _box_radius(pieces, cells)
    c_cell, c_piece = tree.query(shapely.box(qx - radius, qy - radius, qx + radius, qy + radius))
    dq = _to_pieces(qx[c_cell], qy[c_cell], pieces, c_piece)
    d_q = np.full(cells.n, np.inf)
    if c_cell.size:
        starts = np.flatnonzero(np.r_[True, c_cell[1:] != c_cell[:-1]])
        d_q[c_cell[starts]] = np.minimum.reduceat(dq, starts)
    far = np.flatnonzero(~(d_q <= radius))
    # Cells far from every piece: squares twice, four, eight times as wide (numpy distances
    # to the pieces they hold), then GEOS's nearest search for the few left.
    side = radius
    for _ in range(_SQUARE_STEPS):
        if far.size == 0:
            break
        side *= 2
        found, d_min = _nearest_in_squares(qx[far], qy[far], side, pieces, tree)
        d_q[far[found]] = d_min[found]
        far = far[~found]
    if far.size:
        near_idx, near_d = tree.query_nearest(
            shapely.points(qx[far], qy[far]), return_distance=True, all_matches=False
        )
        d_q[far[near_idx[0]]] = near_d
    reach = np.minimum(d_q + 2 * h + 2 * rmax, limit + h + rmax)
    wanted = d_q - h - rmax <= limit
    within = reach * (1 + 1e-9) + 1e-6
    # Cells whose reach fits in the square: their candidates are among the box's pieces.
    fits = wanted & (within <= radius)
    keep = fits[c_cell] & (dq <= within[c_cell])
    parts = [(c_cell[keep], c_piece[keep], dq[keep])]
    wide = np.flatnonzero(wanted & ~fits)
    # Cells reaching a little farther: a square of their own reach, numpy distances.
    boxed = wide[within[wide] <= _SQUARE_REACH * radius]
    step = _square_batch(pieces)
    for lo in range(0, boxed.size, step):
        b = boxed[lo : lo + step]
        w = within[b]
        b_cell, b_piece = tree.query(shapely.box(qx[b] - w, qy[b] - w, qx[b] + w, qy[b] + w))
        b_cell = b[b_cell]
        d = _to_pieces(qx[b_cell], qy[b_cell], pieces, b_piece)
        ok = d <= within[b_cell]
        parts.append((b_cell[ok], b_piece[ok], d[ok]))
    wide = wide[within[wide] > _SQUARE_REACH * radius]
    if wide.size:
        w_cell, w_piece = tree.query(
            shapely.points(qx[wide], qy[wide]), predicate="dwithin", distance=within[wide]
        )
        w_cell = wide[w_cell]
        parts.append((w_cell, w_piece, _to_pieces(qx[w_cell], qy[w_cell], pieces, w_piece)))
    c_cell, c_piece, dq = (np.concatenate([p[k] for p in parts]) for k in range(3))
    # One sort on cell * span + distance (distances are far below `span`: rounding of the
    # key stays under a micrometre, far inside the prefixes' margin of a millimetre).
    span = float(dq.max()) + 1.0 if dq.size else 1.0
    key = c_cell * span + dq
    order = np.argsort(key, kind="stable")
    c_cell, c_piece, key = c_cell[order], c_piece[order], key[order]
    count = np.bincount(c_cell, minlength=cells.n)
    start = np.zeros(cells.n, dtype=np.int64)
    np.cumsum(count[:-1], out=start[1:])
    return _Candidates(c_cell, c_piece, start, count, key, span)


#: Cells far from every piece look in squares up to 2 ** _SQUARE_STEPS times as wide as
#: the first one, and cells reaching up to _SQUARE_REACH times its half-side take their
#: candidates from a square; beyond, GEOS's nearest and distance searches (measured at 1M
#: sites: 2 and 4 save a quarter to a half of the candidates' search on line layers).
_SQUARE_STEPS = 2
_SQUARE_REACH = 4.0

#: Bound on the (cell, piece) pairs of one batch of squares, whatever the squares hold.
_SQUARE_PAIRS = 4_000_000


def _square_batch(pieces: Segments) -> int:
    """Cells whose squares are queried at once: at most _SQUARE_PAIRS pairs in all."""
    return int(np.clip(_SQUARE_PAIRS // max(len(pieces), 1), 16, 4_096))


def _nearest_in_squares(
    qx: np.ndarray, qy: np.ndarray, side: float, pieces: Segments, tree: shapely.STRtree
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to its nearest piece, when one lies within ``side``.

    One box query of half-side ``side`` around each point: every piece within ``side`` of
    the point has its box in the square, so the nearest of the square's pieces is the
    nearest of all when it lies within ``side``. Returns whether it does, and the
    distance (metres).
    """
    best = np.full(qx.size, np.inf)
    step = _square_batch(pieces)
    for lo in range(0, qx.size, step):
        x, y = qx[lo : lo + step], qy[lo : lo + step]
        cell, piece = tree.query(shapely.box(x - side, y - side, x + side, y + side))
        if cell.size == 0:
            continue
        d = _to_pieces(x[cell], y[cell], pieces, piece)
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        who = lo + cell[starts]
        best[who] = np.minimum.reduceat(d, starts)
    return best <= side, best


def _box_radius(pieces: Segments, cells: _Cells) -> float:
    """Half-side (metres) of the square searched around each cell centre.

    Twice the mean spacing of the pieces over their extent, plus a cell's reach beyond its
    centre (``2 h`` and twice the median site radius): most cells then find their nearest
    piece and all their candidates in the square.
    """
    x0 = float(min(pieces.x0.min(), pieces.x1.min()))
    x1 = float(max(pieces.x0.max(), pieces.x1.max()))
    y0 = float(min(pieces.y0.min(), pieces.y1.min()))
    y1 = float(max(pieces.y0.max(), pieces.y1.max()))
    spacing = np.sqrt(max((x1 - x0) * (y1 - y0), 1.0) / len(pieces))
    return float(2 * spacing + 2 * cells.half_diag + 2 * np.median(cells.rmax))


def _to_pieces(px: np.ndarray, py: np.ndarray, pieces: Segments, idx: np.ndarray) -> np.ndarray:
    """Distance from points to the pieces ``idx`` (element-wise, metres).

    The projection of each point on the segment, clamped to its ends; the pieces'
    directions are computed once per layer, as this runs on several pieces per site.
    """
    dx, dy, inv = pieces.direction
    ex, ey = dx[idx], dy[idx]
    ux = px - pieces.x0[idx]
    uy = py - pieces.y0[idx]
    t = ux * ex
    t += uy * ey
    t *= inv[idx]
    np.clip(t, 0.0, 1.0, out=t)
    ex *= t
    ey *= t
    ux -= ex
    uy -= ey
    ux *= ux
    uy *= uy
    ux += uy
    return np.sqrt(ux, out=ux)


def _site_prefixes(
    cells: _Cells,
    cands: _Candidates,
    pieces: Segments,
    site_cx: np.ndarray,
    site_cy: np.ndarray,
    site_radius: np.ndarray,
    limit: float,
) -> np.ndarray:
    """How many of its cell's candidates each site needs.

    ``U``, the centroid's distance to the cell's nearest piece, bounds the centroid's
    nearest distance; a piece p can be nearest to the site only if ``d(c, p) <= U + 2 r``,
    hence ``d(q, p) <= U + |c - q| + 2 r``.
    """
    n = site_cx.size
    site_cell = cells.site_cell
    has_cand = cands.count[site_cell] > 0
    first = cands.start[site_cell[has_cand]]
    u = np.full(n, np.inf)
    u[has_cand] = _to_pieces(site_cx[has_cand], site_cy[has_cand], pieces, cands.piece[first])
    off = np.hypot(site_cx - cells.qx[site_cell], site_cy - cells.qy[site_cell])
    thresh = np.minimum(u + off + 2 * site_radius, limit + off + site_radius) + 1e-3
    per_site = np.zeros(n, dtype=np.int64)
    span = cands.span
    end = np.searchsorted(
        cands.key,
        site_cell[has_cand] * span + np.minimum(thresh[has_cand], span - 1e-3),
        side="right",
    )
    per_site[has_cand] = np.maximum(end - first, 0)
    return np.minimum(per_site, cands.count[site_cell])


def _nearest_of_chunk(
    sites: np.ndarray,
    cells: _Cells,
    cands: _Candidates,
    per_site: np.ndarray,
    pieces: Segments,
    limit: float,
    **exact: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 3 on the sites ``sites`` (consecutive positions): nearest distance and piece.

    Centroid bounds ``d(c, p) - r <= d(site, p) <= d(c, p) + r`` narrow the candidates:
    the exact distance to the piece nearest to the centroid (A) is computed first, then to
    every other piece whose lower bound beats it (B). Returns, per site, the distance
    (``inf`` when none) and the piece (-1 when none).
    """
    m = sites.size
    d_out = np.full(m, np.inf)
    p_out = np.full(m, -1, dtype=np.int64)
    row, slot = _expand(cands.start[cells.site_cell[sites]], per_site[sites])
    if row.size == 0:
        return d_out, p_out
    piece = cands.piece[slot]
    site = sites[row]
    site_cx, site_cy, site_radius = exact["site_cx"], exact["site_cy"], exact["site_radius"]
    dc = _to_pieces(site_cx[site], site_cy[site], pieces, piece)
    _, best = _group_min(row, dc, m)
    has = best >= 0
    # Stage A: exact distance to the piece nearest to the centroid.
    exact_a = np.full(m, np.inf)
    a = best[has]
    exact_a[has] = _exact_pairs(site[a], piece[a], dc[a], pieces, exact)
    # Stage B: any other piece whose lower bound beats it.
    r = site_radius[site]
    maybe = (dc - r <= exact_a[row] + 1e-9) & (dc - r <= limit)
    maybe[best[has]] = False
    rows_b = np.flatnonzero(maybe)
    # A piece continuing the A piece on the same line, from their shared vertex v, cannot
    # be nearer than it when the whole site lies behind v along the piece: the piece's
    # nearest point to every point of the site is then v, which the A piece holds too.
    # This often drops the other segment at the vertex nearest to the site.
    a_of_site = np.full(m, -1, dtype=np.int64)
    a_of_site[has] = piece[best[has]]
    a_b, p_b = a_of_site[row[rows_b]], piece[rows_b]
    after, before = exact["continues"]
    behind = _behind_shared_vertex(
        pieces, p_b, (p_b == a_b + 1) & after[a_b], (p_b == a_b - 1) & before[a_b],
        site_cx[site[rows_b]], site_cy[site[rows_b]], r[rows_b],
    )  # fmt: skip
    rows_b = rows_b[~behind]
    exact_b = _exact_pairs(site[rows_b], piece[rows_b], dc[rows_b], pieces, exact)
    log.debug("nearest: exact step on %d + %d pairs", int(has.sum()), rows_b.size)
    all_rows = np.concatenate([best[has], rows_b])
    all_d = np.concatenate([exact_a[has], exact_b])
    keep = np.argsort(all_rows, kind="stable")
    all_rows, all_d = all_rows[keep], all_d[keep]
    owner = row[all_rows]
    # Per site, the least distance; of equally near pieces (a site across the boundary of
    # two communes) the lowest, that is the first feature of the layer, whatever the order
    # of the candidates.
    if owner.size:
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        who = owner[starts]
        d_out[who] = np.minimum.reduceat(all_d, starts)
        tied = np.where(all_d == d_out[owner], piece[all_rows], np.iinfo(np.int64).max)
        p_out[who] = np.minimum.reduceat(tied, starts)
    return d_out, p_out


def _continuations(pieces: Segments) -> tuple[np.ndarray, np.ndarray]:
    """Which pieces continue one another on the same line.

    ``after[p]``: piece ``p + 1`` starts where ``p`` ends, on the same feature;
    ``before[p]``: piece ``p - 1`` ends where ``p`` starts. Points (0-length pieces) never
    continue anything.
    """
    x0, y0, x1, y1 = pieces.x0, pieces.y0, pieces.x1, pieces.y1
    real = (x0 != x1) | (y0 != y1)
    link = (
        (pieces.owner[1:] == pieces.owner[:-1])
        & (x0[1:] == x1[:-1])
        & (y0[1:] == y1[:-1])
        & real[1:]
        & real[:-1]
    )
    return np.r_[link, False], np.r_[False, link]


def _behind_shared_vertex(
    pieces: Segments,
    p: np.ndarray,
    starts_at_v: np.ndarray,
    ends_at_v: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    r: np.ndarray,
) -> np.ndarray:
    """Whether the disk ``(c, r)`` holding a site lies behind the vertex v along piece ``p``.

    v is the start of ``p`` where ``starts_at_v``, its end where ``ends_at_v`` (neither:
    False). Behind means ``(c - v) . u + r <= 0`` with ``u`` the unit direction of ``p``
    away from v: every point of the site then projects on ``p`` at v or before it.
    """
    out = np.zeros(p.size, dtype=bool)
    k = np.flatnonzero(starts_at_v | ends_at_v)
    if k.size == 0:
        return out
    q = p[k]
    sx, sy = pieces.x0[q], pieces.y0[q]
    ex, ey = pieces.x1[q], pieces.y1[q]
    flip = ends_at_v[k]
    vx, vy = np.where(flip, ex, sx), np.where(flip, ey, sy)
    ux, uy = np.where(flip, sx - ex, ex - sx), np.where(flip, sy - ey, ey - sy)
    length = np.hypot(ux, uy)
    along = ((cx[k] - vx) * ux + (cy[k] - vy) * uy) / length
    # A margin of a micrometre keeps rounding on the safe side (the piece is then measured).
    out[k] = along + r[k] <= -1e-6
    return out


def _inside_polygons(
    dist: np.ndarray,
    pos: np.ndarray,
    cells: _Cells,
    feature_geoms: np.ndarray,
    site_first_x: np.ndarray,
    site_first_y: np.ndarray,
    site_geoms: np.ndarray,
) -> None:
    """Stage 4: sites inside a polygon feature without crossing its boundary get 0.

    A one-part site lies inside when one of its vertices does; a site of several parts
    is tested whole (one part may lie inside a polygon while another lies outside all).
    Sites already at 0 (across a boundary) are tested too, so that of the features at 0
    the first of the layer is named (a site across one zone and inside another).
    """
    areal_features = np.isin(shapely.get_type_id(feature_geoms), (*_POLYGON_TYPES, 7))
    if not areal_features.any():
        return
    poly_pos = np.flatnonzero(areal_features)
    poly_tree = shapely.STRtree(feature_geoms[poly_pos])
    # Only the sites of cells whose square (grown by the sites' radius, since a vertex
    # may stick out of the cell) meets a polygon's bounding box can be inside one: one
    # box query per cell instead of one point query per site.
    half = cells.size / 2 + cells.rmax
    qx, qy = cells.qx, cells.qy
    cell_hit = np.zeros(cells.n, dtype=bool)
    cell_hit[poly_tree.query(shapely.box(qx - half, qy - half, qx + half, qy + half))[0]] = True
    candidates = np.flatnonzero(cell_hit[cells.site_cell])
    if candidates.size == 0:
        return
    probes = shapely.points(site_first_x[candidates], site_first_y[candidates])
    multi = np.isin(shapely.get_type_id(site_geoms[candidates]), (4, 5, 6, 7))
    probes[multi] = site_geoms[candidates[multi]]
    hit_site, hit_poly = poly_tree.query(probes, predicate="intersects")
    if hit_site.size:
        order = np.lexsort((hit_poly, hit_site))
        hit_site, hit_poly = hit_site[order], hit_poly[order]
        first = np.flatnonzero(np.r_[True, hit_site[1:] != hit_site[:-1]])
        inside = candidates[hit_site[first]]
        found = poly_pos[hit_poly[first]]
        at_zero = (dist[inside] == 0) & (pos[inside] >= 0)
        pos[inside] = np.where(at_zero, np.minimum(pos[inside], found), found)
        dist[inside] = 0.0


def piece_geometries(pieces: Segments) -> np.ndarray:
    """The pieces as GEOS geometries: points for 0-length pieces, 2-point lines otherwise.

    Parameters
    ----------
    pieces : Segments
        Segments (end coordinates in metres), e.g. from :func:`segments_of`.

    Returns
    -------
    numpy.ndarray
        One shapely geometry per piece, in the pieces' order.
    """
    out = np.empty(len(pieces), dtype=object)
    point = (pieces.x0 == pieces.x1) & (pieces.y0 == pieces.y1)
    out[point] = shapely.points(pieces.x0[point], pieces.y0[point])
    seg = ~point
    if seg.any():
        coords = np.stack(
            [
                np.stack([pieces.x0[seg], pieces.x1[seg]], axis=1),
                np.stack([pieces.y0[seg], pieces.y1[seg]], axis=1),
            ],
            axis=2,
        )
        out[seg] = shapely.linestrings(coords)
    return out


def nearest_exact(
    *,
    site_cx: np.ndarray,
    site_cy: np.ndarray,
    site_radius: np.ndarray,
    site_geoms: np.ndarray,
    site_first_x: np.ndarray,
    site_first_y: np.ndarray,
    feature_geoms: np.ndarray,
    max_distance: float | None = None,
    cells: _Cells | None = None,
    site_rings: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact distance from each site to the nearest feature, and that feature's position.

    Parameters
    ----------
    site_cx, site_cy : numpy.ndarray
        Site centroids (metres).
    site_radius : numpy.ndarray
        Largest distance from each centroid to the site's vertices (metres).
    site_geoms : numpy.ndarray of shapely geometries
        The sites themselves (polygons, lines or points).
    site_first_x, site_first_y : numpy.ndarray
        One vertex of each site, used to detect one-part sites lying inside a polygon
        feature.
    feature_geoms : numpy.ndarray of shapely geometries
        Features, all in the sites' CRS.
    max_distance : float, optional
        Distances above this (metres) are reported as ``inf`` with position -1, and
        the search stops there.
    cells : optional
        The sites' cells made by :func:`site_cells` from these centroids and radii, when
        several layers are measured from the same sites (made here otherwise).
    site_rings : tuple of numpy.ndarray, optional
        ``(coords, offsets, single)``: the sites' coordinates (``(m, 2)``, site after site),
        their CSR offsets, and whether each site is one closed ring (a polygon without
        holes); with them, distances to point features outside a site are measured in
        numpy rather than by one GEOS call each (the same values).

    Returns
    -------
    distance : numpy.ndarray
        Metres; 0 when the site touches or overlaps the feature, ``inf`` when no feature
        is within ``max_distance`` or there is none.
    position : numpy.ndarray of int64
        Position of the nearest feature in ``feature_geoms``, -1 when none.
    """
    n = site_cx.size
    dist = np.full(n, np.inf)
    pos = np.full(n, -1, dtype=np.int64)
    pieces = segments_of(feature_geoms)
    if n == 0 or len(pieces) == 0:
        return dist, pos
    limit = np.inf if max_distance is None else float(max_distance)
    if cells is None:
        cells = site_cells(site_cx, site_cy, site_radius)
    piece_geoms = piece_geometries(pieces)
    tree = shapely.STRtree(piece_geoms)
    cands = _cell_candidates(cells, pieces, tree, limit)
    per_site = _site_prefixes(cells, cands, pieces, site_cx, site_cy, site_radius, limit)
    log.debug(
        "nearest: %d sites, %d cells of %.0f m, %d cell candidates, %.1f pairs a site",
        n,
        cells.n,
        cells.size,
        cands.cell.size,
        per_site.sum() / max(n, 1),
    )
    exact = {
        "site_geoms": site_geoms,
        "piece_geoms": piece_geoms,
        "continues": _continuations(pieces),
        "site_cx": site_cx,
        "site_cy": site_cy,
        "site_radius": site_radius,
        "site_rings": site_rings,
    }
    # Blocks of sites bound the memory of the (site, candidate) rows.
    cum = np.cumsum(per_site)
    cuts = np.searchsorted(cum, np.arange(_CHUNK_ROWS, int(cum[-1]) + 1, _CHUNK_ROWS))
    for lo, hi in itertools.pairwise(np.unique(np.concatenate([[0], cuts, [n]]))):
        d, p = _nearest_of_chunk(
            np.arange(lo, hi, dtype=np.int64), cells, cands, per_site, pieces, limit, **exact
        )
        ok = p >= 0
        dist[lo:hi][ok] = d[ok]
        pos[lo:hi][ok] = pieces.owner[p[ok]]
    _inside_polygons(dist, pos, cells, feature_geoms, site_first_x, site_first_y, site_geoms)
    far = dist > limit
    dist[far] = np.inf
    pos[far] = -1
    return dist, pos

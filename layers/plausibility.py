"""Is a file of the user plausible? Declared CRS against coordinates, France, layers.

A file whose CRS is declared wrong (Lambert-93 metres written in a GeoJSON that says CRS84,
degrees in a file that says Lambert-93) does not fail by itself: it lands in the sea or
off the map, every site is then dropped or scored against nothing. These checks turn that
into a clear error that names the file, what it declares and what its coordinates look
like. "France" is the union of the embedded départements (metropolitan, Corsica and the
overseas départements), each taken with a margin.
"""

from __future__ import annotations

import functools
import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from layers.errors import ArgumentError, CRSError, GeometryError, SchemaError

__all__ = [
    "check_coordinates_match_crs",
    "check_in_france",
    "france_boxes",
    "pick_layer",
]

log = logging.getLogger(__name__)

#: Margin around each département's bounding box, degrees (about 55 km of latitude):
#: infrastructure just across a border or offshore ports still count as in France.
FRANCE_MARGIN_DEG = 0.5
#: Largest number of geometries transformed to check where a file lies.
_SAMPLE = 5_000


@functools.lru_cache(maxsize=1)
def france_boxes(margin_deg: float = FRANCE_MARGIN_DEG) -> np.ndarray:
    """Bounding boxes of the départements (lon/lat, degrees), widened by ``margin_deg``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, 4)``: west, south, east, north of each département, EPSG:4326.
    """
    from layers.admin import load_departements

    deps = load_departements()
    boxes = shapely.bounds(deps.geometry.to_numpy())
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    return boxes + np.array([-margin_deg, -margin_deg, margin_deg, margin_deg])


def _lonlat_bounds(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Bounds of each geometry in EPSG:4326 (rows of nan where it cannot be transformed)."""
    geoms = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    points = gpd.GeoSeries(
        shapely.envelope(geoms.to_numpy()), index=geoms.index, crs=geoms.crs
    ).to_crs(4326)
    with np.errstate(invalid="ignore"):
        return np.asarray(shapely.bounds(points.to_numpy()), dtype=float)


def check_coordinates_match_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, name: str) -> None:
    """Refuse coordinates that cannot be in the declared CRS.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        Data with its declared CRS.
    name : str
        File or layer name, for the message.

    Raises
    ------
    CRSError
        The CRS is geographic (degrees) and a coordinate lies beyond ±180° / ±90° (typically
        metres of Lambert-93 or UTM in a file that declares CRS84 / EPSG:4326), or the
        coordinates cannot be transformed to longitude and latitude.
    """
    geoms = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    if geoms.crs is None or len(geoms) == 0:
        return
    raw = np.asarray(shapely.bounds(geoms.to_numpy()), dtype=float)
    raw = raw[np.isfinite(raw).all(axis=1)]
    if not len(raw):
        return
    west, south = raw[:, 0].min(), raw[:, 1].min()
    east, north = raw[:, 2].max(), raw[:, 3].max()
    crs = CRS.from_user_input(geoms.crs)
    declared = crs.to_string()
    if crs.is_geographic and (
        min(west, south) < -180 or east > 180 or north > 90 or south < -90 or west < -180
    ):
        raise CRSError(
            f"{name}: the file declares {declared} (degrees) but its coordinates reach "
            f"({west:,.0f}, {south:,.0f}) – ({east:,.0f}, {north:,.0f}), which look like "
            "metres (Lambert-93 or UTM): declare the right CRS in the file (e.g. EPSG:2154)."
        )
    ll = _lonlat_bounds(geoms)
    if not np.isfinite(ll).all():
        raise CRSError(
            f"{name}: its coordinates ({west:,.2f}, {south:,.2f}) – ({east:,.2f}, "
            f"{north:,.2f}) cannot be placed on the Earth in the declared {declared}: is the "
            "declared CRS the right one?"
        )


def check_in_france(gdf: gpd.GeoDataFrame | gpd.GeoSeries, name: str) -> None:
    """Refuse data none of which lies in France (metropolitan or overseas).

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        Data with a CRS (checked first with :func:`check_coordinates_match_crs`).
    name : str
        File or layer name, for the message.

    Raises
    ------
    CRSError
        See :func:`check_coordinates_match_crs`.
    GeometryError
        No geometry lies in or near a French département: the message gives where the data
        lies (lon/lat) and the declared CRS, the usual culprit.
    """
    geoms = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    if geoms.crs is None or len(geoms) == 0:
        return
    if len(geoms) > _SAMPLE:  # an even sample tells where a large file lies, at a fixed cost
        geoms = geoms.iloc[:: math.ceil(len(geoms) / _SAMPLE)]
    check_coordinates_match_crs(geoms, name)
    ll = _lonlat_bounds(geoms)
    boxes = france_boxes()
    hit = (
        (ll[:, None, 0] <= boxes[None, :, 2])
        & (ll[:, None, 2] >= boxes[None, :, 0])
        & (ll[:, None, 1] <= boxes[None, :, 3])
        & (ll[:, None, 3] >= boxes[None, :, 1])
    ).any(axis=1)
    if hit.any():
        if not hit.all():
            log.warning(
                "%s: %d of %d feature(s) checked lie outside France (metropolitan and overseas).",
                name,
                int((~hit).sum()),
                int(hit.size),
            )
        return
    lon = (ll[:, 0].min() + ll[:, 2].max()) / 2
    lat = (ll[:, 1].min() + ll[:, 3].max()) / 2
    where = f"around lon {lon:.2f}°, lat {lat:.2f}°" if math.isfinite(lon + lat) else "nowhere"
    raise GeometryError(
        f"{name}: none of its {len(geoms)} feature(s) lies in France (metropolitan or overseas); "
        f"they lie {where} in the declared {CRS.from_user_input(geoms.crs).to_string()}. "
        "Is the declared CRS the right one?"
    )


def pick_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    prefer: tuple[str, ...] = (),
    what: str = "features",
) -> str | None:
    """The layer of a vector file to read: the one asked for, the only one, or a preferred one.

    Parameters
    ----------
    path : str or Path
        Vector file (GeoPackage, GeoJSON, Shapefile …).
    layer : str, optional
        The layer asked for.
    prefer : tuple of str
        Layer names chosen, in this order, in a file of several layers (``("site_eco",)``
        for a CNIG "Sites économiques" GeoPackage).
    what : str
        What the layer holds, for the message.

    Returns
    -------
    str or None
        The layer name (None for a single-layer file).

    Raises
    ------
    SchemaError
        ``layer`` is not in the file, or the file holds several layers none of which is
        preferred: the message lists them and says how to choose.
    ArgumentError
        ``layer`` is empty.
    """
    import pyogrio

    if layer is not None and not str(layer).strip():
        raise ArgumentError(f"{Path(path).name}: the layer name is empty.")
    try:
        listed = pyogrio.list_layers(path)
    except Exception:  # unreadable: the reader that follows reports it in its own words
        return layer
    names = [str(n) for n, _ in listed]
    with_geometry = [str(n) for n, kind in listed if kind is not None]
    if layer is not None:
        if layer not in names:
            raise SchemaError(
                f"{Path(path).name} has no layer {layer!r}; its layers: {', '.join(names)}."
            )
        return layer
    candidates = with_geometry or names
    if len(candidates) <= 1:
        return candidates[0] if candidates and len(names) > 1 else None
    for name in prefer:
        if name in names:
            log.info("%s: reading layer %r of %s", Path(path).name, name, ", ".join(names))
            return name
    raise SchemaError(
        f"{Path(path).name} holds several layers of {what} ({', '.join(candidates)}): say "
        f"which one (in Python layer='{candidates[0]}'; on the command line "
        f"FILE:{candidates[0]})."
    )

"""Geometry hygiene: repair invalid geometries with a logged warning, never silently."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import shapely

from layers.errors import GeometryError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["repair_geometries"]

log = logging.getLogger(__name__)


def repair_geometries(
    gdf: gpd.GeoDataFrame,
    *,
    name: str = "layer",
    id_column: str | None = None,
    drop_empty: bool = False,
) -> gpd.GeoDataFrame:
    """Return ``gdf`` with invalid geometries repaired by ``shapely.make_valid``.

    Each repair is logged as a warning naming the features (by ``id_column`` or index).
    Polygonal inputs keep only their polygonal parts after repair, so that an area is never
    silently computed on a stray line.

    Parameters
    ----------
    gdf : GeoDataFrame
        Data to check; not modified.
    name : str
        Layer name used in messages.
    id_column : str, optional
        Column that identifies features in messages (default: the index).
    drop_empty : bool
        Drop missing or empty geometries (with a warning) instead of raising
        :class:`GeometryError`.

    Returns
    -------
    GeoDataFrame
        A copy when anything was repaired or dropped, else ``gdf`` itself.
    """
    geoms = gdf.geometry.to_numpy()
    ids = gdf[id_column].to_numpy() if id_column else gdf.index.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        bad = [str(i) for i in ids[missing][:10]]
        if not drop_empty:
            raise GeometryError(
                f"{name}: {int(missing.sum())} feature(s) without geometry (e.g. {', '.join(bad)})."
            )
        log.warning("%s: dropping %d feature(s) without geometry: %s", name, missing.sum(), bad)
        gdf = gdf.loc[~missing]
        geoms = geoms[~missing]
        ids = ids[~missing]
    invalid = ~shapely.is_valid(geoms)
    if not invalid.any():
        return gdf
    log.warning(
        "%s: repairing %d invalid geometr%s with make_valid: %s",
        name,
        invalid.sum(),
        "y" if invalid.sum() == 1 else "ies",
        [str(i) for i in ids[invalid][:10]],
    )
    fixed = geoms.copy()
    repaired = shapely.make_valid(geoms[invalid])
    polygonal = np.isin(shapely.get_type_id(geoms[invalid]), (3, 6))
    if polygonal.any():
        # make_valid may return a GeometryCollection with lines: keep the polygons only.
        parts = repaired[polygonal]
        repaired[polygonal] = [_polygonal_part(g) for g in parts]
    fixed[invalid] = repaired
    out = gdf.copy()
    out[out.geometry.name] = fixed
    return out


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    polys = [
        g
        for g in shapely.get_parts(geom)
        if shapely.get_type_id(g) in (3, 6) and not shapely.is_empty(g)
    ]
    if not polys:
        return shapely.Polygon()
    return shapely.multipolygons(shapely.get_parts(polys))

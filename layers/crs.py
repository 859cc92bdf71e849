"""Coordinate reference systems: which projected CRS a place uses, and CRS checks.

Distances and areas are computed in the territory's projected CRS, never in degrees.
Reprojection happens at the boundaries (loading, mapping), never silently in a measure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pyproj import CRS

from layers.errors import CRSError

if TYPE_CHECKING:
    import geopandas as gpd

GeoT = TypeVar("GeoT", "gpd.GeoDataFrame", "gpd.GeoSeries")

__all__ = ["OVERSEAS_CRS", "check_projected", "crs_for_departement", "require_crs", "to_crs"]

#: Official projected CRS of the overseas départements (IGN / decree 2019-165).
OVERSEAS_CRS: dict[str, str] = {
    "971": "EPSG:5490",  # Guadeloupe: RGAF09 / UTM zone 20N
    "972": "EPSG:5490",  # Martinique: RGAF09 / UTM zone 20N
    "973": "EPSG:2972",  # Guyane: RGFG95 / UTM zone 22N
    "974": "EPSG:2975",  # La Réunion: RGR92 / UTM zone 40S
    "975": "EPSG:4467",  # Saint-Pierre-et-Miquelon: RGSPM06 / UTM zone 21N
    "976": "EPSG:4471",  # Mayotte: RGM04 / UTM zone 38S
}
LAMBERT93 = "EPSG:2154"


def crs_for_departement(code: str) -> CRS:
    """Return the projected CRS used for computations in a département.

    Parameters
    ----------
    code : str
        Département code (``"60"``, ``"2A"``, ``"974"`` …).

    Returns
    -------
    pyproj.CRS
        Lambert-93 (EPSG:2154) in metropolitan France and Corsica, the official UTM
        CRS overseas.
    """
    return CRS.from_user_input(OVERSEAS_CRS.get(str(code), LAMBERT93))


def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, name: str = "layer") -> CRS:
    """Return the CRS of ``gdf`` or raise :class:`CRSError` if it has none.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        Data to check.
    name : str
        Name used in the error message.
    """
    if gdf.crs is None:
        raise CRSError(
            f"{name} has no CRS. Set it with .set_crs(...) (e.g. 'EPSG:2154' for Lambert-93 "
            "or 'EPSG:4326' for longitude/latitude) before using it."
        )
    return CRS.from_user_input(gdf.crs)


def check_projected(gdf: gpd.GeoDataFrame | gpd.GeoSeries, name: str = "layer") -> CRS:
    """Check that ``gdf`` has a projected CRS in metres, else raise :class:`CRSError`."""
    crs = require_crs(gdf, name)
    if not crs.is_projected:
        raise CRSError(
            f"{name} is in a geographic CRS ({crs.to_string()}): distances and areas would be "
            "in degrees. Reproject it to the territory's CRS first (territory.crs)."
        )
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    if unit not in {"metre", "meter", "m"}:
        raise CRSError(f"{name} uses a CRS in {unit}, not metres: {crs.to_string()}.")
    return crs


def to_crs(gdf: GeoT, crs: CRS | str, name: str = "layer") -> GeoT:
    """Reproject ``gdf`` to ``crs`` (no copy when it is already there).

    Raises :class:`CRSError` when ``gdf`` has no CRS: a missing CRS is never guessed.
    """
    current = require_crs(gdf, name)
    target = CRS.from_user_input(crs)
    if current.equals(target):
        return gdf
    return gdf.to_crs(target)

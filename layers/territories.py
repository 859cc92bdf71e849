"""Territories: a perimeter, its member communes and EPCI, a name and a projected CRS."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import shapely
from pyproj import CRS

from layers.crs import check_projected

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = ["Territory"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Territory:
    """A study area: perimeter, member communes and EPCI, in a projected CRS.

    Build one with :func:`layers.territory`; the constructor is for code that already has
    the pieces.

    Attributes
    ----------
    id : str
        Preset id (``"grand-compiegnois"``) or an id derived from the input.
    name : str
        Human-readable name.
    crs : pyproj.CRS
        Projected CRS (metres) of every computation on this territory: EPSG:2154 in
        metropolitan France, the official UTM CRS overseas.
    perimeter : shapely geometry
        Outline of the territory, in ``crs``.
    communes : GeoDataFrame
        Member communes in ``crs``: ``insee, nom, epci_siren, epci_nom, dep, reg,
        population, geometry`` (may be empty for a territory made from a bare boundary).
    epci : GeoDataFrame
        Member EPCI in ``crs``: ``siren, nom, type, population, n_communes, geometry``.
    """

    id: str
    name: str
    crs: CRS
    perimeter: BaseGeometry
    communes: gpd.GeoDataFrame = field(repr=False)
    epci: gpd.GeoDataFrame = field(repr=False)

    def __post_init__(self) -> None:
        check_projected(gpd.GeoSeries([], crs=self.crs), f"territory {self.id!r}")

    @classmethod
    def from_perimeter(
        cls, perimeter: BaseGeometry, *, crs: CRS | str, name: str = "Zone d'étude", id: str = "zone"
    ) -> Territory:
        """Make a territory from a bare outline (no member communes).

        Parameters
        ----------
        perimeter : shapely geometry
            Outline, in ``crs``.
        crs : pyproj.CRS or str
            Projected CRS of ``perimeter`` (metres).
        name, id : str
            Name and id of the territory.
        """
        crs = CRS.from_user_input(crs)
        empty_c = gpd.GeoDataFrame(
            {c: [] for c in ("insee", "nom", "epci_siren", "epci_nom", "dep", "reg", "population")},
            geometry=[],
            crs=crs,
        )
        empty_e = gpd.GeoDataFrame(
            {c: [] for c in ("siren", "nom", "type", "population", "n_communes")},
            geometry=[],
            crs=crs,
        )
        return cls(id=id, name=name, crs=crs, perimeter=perimeter, communes=empty_c, epci=empty_e)

    @property
    def population(self) -> int:
        """Municipal population of the member communes (INSEE), inhabitants."""
        return int(self.communes["population"].sum())

    @property
    def area_km2(self) -> float:
        """Area of the perimeter, km²."""
        return float(shapely.area(self.perimeter)) / 1e6

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` of the perimeter, metres in ``crs``."""
        b = shapely.bounds(self.perimeter)
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))

    @property
    def departements(self) -> list[str]:
        """Codes of the départements the member communes belong to, sorted."""
        return sorted(self.communes["dep"].dropna().unique().tolist())

    def outline(self) -> gpd.GeoDataFrame:
        """The perimeter as a one-row GeoDataFrame (``id``, ``name``, ``geometry``)."""
        return gpd.GeoDataFrame(
            {"id": [self.id], "name": [self.name]}, geometry=[self.perimeter], crs=self.crs
        )

    def area_with_margin(self, margin_m: float) -> BaseGeometry:
        """The perimeter grown by ``margin_m`` metres (in ``crs``)."""
        if margin_m <= 0:
            return self.perimeter
        return shapely.buffer(self.perimeter, margin_m, quad_segs=4)

    def bbox_lonlat(self, margin_m: float = 0.0) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees (EPSG:4326) of the area plus a margin.

        Parameters
        ----------
        margin_m : float
            Margin around the perimeter, metres.
        """
        area = gpd.GeoSeries([self.area_with_margin(margin_m)], crs=self.crs).to_crs(4326)
        w, s, e, n = area.total_bounds
        return (float(w), float(s), float(e), float(n))

    def __repr__(self) -> str:
        return (
            f"Territory(id={self.id!r}, name={self.name!r}, communes={len(self.communes)}, "
            f"epci={len(self.epci)}, crs={self.crs.to_string()})"
        )

"""An in-memory raster in a projected CRS: the shape every raster layer is handed over in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pyproj import CRS

if TYPE_CHECKING:
    # Only an annotation here: affine (and attrs under it) load with the rasters themselves.
    from affine import Affine

__all__ = ["Raster"]


@dataclass(frozen=True, eq=False)
class Raster:
    """A single-band raster held in memory.

    Attributes
    ----------
    array : numpy.ndarray
        2-D float array, rows from north to south; ``nan`` marks missing values.
    transform : affine.Affine
        Pixel → CRS coordinates transform (top-left corner of pixel ``(0, 0)``).
    crs : pyproj.CRS
        CRS of ``transform`` (projected, metres, for every computation).
    name : str
        Name of the quantity (``"slope"``).
    units : str
        Units of the values (``"degrees"``, ``"percent"``, ``"m"``).
    source : str
        Where the values come from (shown in map attributions and exports).
    """

    array: np.ndarray
    transform: Affine
    crs: CRS
    name: str = "raster"
    units: str = ""
    source: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return (int(self.array.shape[0]), int(self.array.shape[1]))

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in CRS units (metres), both positive."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` in CRS units."""
        rows, cols = self.shape
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def pixel_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates ``(x, y)`` of every pixel centre, each of shape ``self.shape``."""
        rows, cols = self.shape
        c, r = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
        t = self.transform
        return (t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f)

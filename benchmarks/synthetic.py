"""Synthetic parcels and layers shared by the benchmarks (100 km box in Lambert-93).

* N parcels, 8-vertex star-shaped polygons on a jittered grid (like a cadastre);
* 6 distance layers: 200 rail freight stations, 500 substations, 150 motorway junctions
  (points), railways (50 lines, 5,000 segments), rivers (10 lines, 2,000 segments),
  300 industrial zones (polygons of 24 vertices);
* 3 overlap layers: flood zones (buffers of the rivers), 120 Natura 2000 blobs, 200 ZNIEFF
  blobs (they overlap each other);
* 1 slope raster (2,000 × 2,000 pixels of 50 m, degrees, 0.1 % missing).

The parcels of row ``k`` depend only on ``k`` and the seed, so a large set can be made
(and written) chunk by chunk: :func:`make_parcels` with ``start``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyproj import CRS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foncier.engine import measures
from layers.raster import Raster

BOX = 100_000.0
ORIGIN = (650_000.0, 6_850_000.0)  # near Compiègne in Lambert-93
L93 = "EPSG:2154"
DISTANCE_LAYERS = ("rail_stations", "substations", "junctions", "railways", "rivers", "zae")
OVERLAP_LAYERS = ("flood", "natura2000", "znieff")


def make_parcels(
    n: int, seed: int = 0, *, start: int = 0, count: int | None = None
) -> gpd.GeoDataFrame:
    """Rows ``start .. start + count`` of a set of ``n`` parcels (all of them by default).

    Each row's shape comes from its own random stream (seed, row), so a chunk is the same
    whether the set is made at once or chunk by chunk.
    """
    count = n - start if count is None else count
    side = int(np.ceil(np.sqrt(n)))
    spacing = BOX / side
    k = np.arange(start, start + count)
    # One generator per block of 4,096 rows keeps rows reproducible chunk by chunk.
    u = np.empty((count, 18))
    for block in range(start // 4096, (start + count - 1) // 4096 + 1):
        lo, hi = max(block * 4096, start), min((block + 1) * 4096, start + count)
        values = np.random.default_rng([seed, block]).random((4096, 18))
        u[lo - start : hi - start] = values[lo - block * 4096 : hi - block * 4096]
    cx = ORIGIN[0] + (k % side + 0.5) * spacing + (u[:, 0] * 0.2 - 0.1) * spacing
    cy = ORIGIN[1] + (k // side + 0.5) * spacing + (u[:, 1] * 0.2 - 0.1) * spacing
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False) + u[:, 2:10] * 0.6
    rad = (0.25 + 0.15 * u[:, 10:18]) * spacing
    x = cx[:, None] + rad * np.cos(ang)
    y = cy[:, None] + rad * np.sin(ang)
    geoms = shapely.polygons(np.stack([x, y], axis=2))
    return gpd.GeoDataFrame({"parcel_id": k}, geometry=geoms, index=k, crs=L93)


def random_points(rng: np.random.Generator, n: int) -> np.ndarray:
    return shapely.points(rng.uniform(0, BOX, (n, 2)) + ORIGIN)


def random_walks(rng: np.random.Generator, n: int, steps: int, step_m: float) -> np.ndarray:
    start = rng.uniform(0.1 * BOX, 0.9 * BOX, (n, 1, 2)) + ORIGIN
    heading = rng.uniform(0, 2 * np.pi, (n, 1)) + rng.normal(0, 0.35, (n, steps)).cumsum(axis=1)
    step = np.stack([np.cos(heading), np.sin(heading)], axis=2) * step_m
    return shapely.linestrings(np.concatenate([start, start + step.cumsum(axis=1)], axis=1))


def blobs(rng: np.random.Generator, n: int, rmin: float, rmax: float, nv: int) -> np.ndarray:
    c = rng.uniform(0, BOX, (n, 2)) + ORIGIN
    ang = np.linspace(0, 2 * np.pi, nv, endpoint=False)
    rad = rng.uniform(rmin, rmax, (n, 1)) * (1 + 0.3 * np.sin(rng.integers(2, 6, (n, 1)) * ang))
    x = c[:, 0, None] + rad * np.cos(ang)
    y = c[:, 1, None] + rad * np.sin(ang)
    return shapely.polygons(np.stack([x, y], axis=2))


def make_layers(rng: np.random.Generator) -> dict[str, gpd.GeoDataFrame]:
    def frame(geoms: np.ndarray, prefix: str) -> gpd.GeoDataFrame:
        names = [f"{prefix} {i}" for i in range(len(geoms))]
        return gpd.GeoDataFrame({"name": names}, geometry=geoms, crs=L93)

    rivers = random_walks(rng, 10, 200, 400.0)
    return {
        "rail_stations": frame(random_points(rng, 200), "gare"),
        "substations": frame(random_points(rng, 500), "poste"),
        "junctions": frame(random_points(rng, 150), "échangeur"),
        "railways": frame(random_walks(rng, 50, 100, 300.0), "voie"),
        "rivers": frame(rivers, "rivière"),
        "zae": frame(blobs(rng, 300, 200, 1500, 24), "ZAE"),
        "flood": frame(shapely.buffer(rivers, rng.uniform(300, 900, rivers.size)), "PPRI"),
        "natura2000": frame(blobs(rng, 120, 500, 4000, 64), "N2000"),
        "znieff": frame(blobs(rng, 200, 300, 3000, 48), "ZNIEFF"),
    }


def make_slope(rng: np.random.Generator, res: float = 50.0) -> Raster:
    size = int(BOX / res)
    yy, xx = np.mgrid[0:size, 0:size] * (2 * np.pi / size)
    slope = 4 + 3 * np.sin(3 * xx) * np.cos(2 * yy) + rng.gamma(1.5, 1.0, (size, size))
    slope[rng.random((size, size)) < 0.001] = np.nan
    return Raster(
        slope,
        Affine(res, 0, ORIGIN[0], 0, -res, ORIGIN[1] + BOX),
        CRS.from_user_input(L93),
        name="slope",
        units="degrees",
        source="synthetic",
    )


def prepared_layers(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, object]:
    """The layers as scored: distance layers as they are, overlap layers dissolved + cut."""
    out: dict[str, object] = {name: layers[name] for name in DISTANCE_LAYERS}
    for name in OVERLAP_LAYERS:
        out[name] = measures.prepare_zones(layers[name])
    return out


def score_parcels(parcels: gpd.GeoDataFrame, layers: dict[str, object], slope: Raster):
    """The 10 criteria of the benchmarks (foncier's way) on parcels, with prepared layers."""
    import pandas as pd

    sites = measures.prepare_sites(parcels)
    out = pd.DataFrame(index=parcels.index)
    for name in DISTANCE_LAYERS:
        out[f"d_{name}"] = measures.distance_to(sites, layers[name])["distance_m"]  # type: ignore[arg-type]
    for name in OVERLAP_LAYERS:
        out[f"share_{name}"] = measures.overlap_share(sites, layers[name])  # type: ignore[arg-type]
    out["slope_mean"] = measures.zonal_stat(sites, slope, stat="mean")
    return out

"""Benchmark: scoring N parcels with foncier's measures versus the plain geopandas way.

Synthetic data in a 100 km × 100 km box in Lambert-93 (EPSG:2154):

* N parcels, 8-vertex star-shaped polygons on a jittered grid (like a cadastre);
* 6 distance layers: 200 rail freight stations, 500 substations, 150 motorway junctions
  (points), railways (50 lines, 5,000 segments), rivers (10 lines, 2,000 segments),
  300 industrial zones (polygons);
* 3 overlap layers: flood zones (buffers of the rivers), 120 Natura 2000 blobs, 200 ZNIEFF
  blobs (they overlap each other);
* 1 slope raster (50 m pixels, degrees).

Our way: ``prepare_sites`` once, then ``distance_to`` × 6, ``overlap_share`` × 3,
``zonal_stat`` × 1. Plain way: ``geopandas.sjoin_nearest(distance_col=...)`` × 6,
``zones.dissolve()`` + ``geopandas.overlay`` × 3, ``exactextract`` mean slope.

Usage::

    uv run python benchmarks/bench_score.py                 # 100,000 parcels
    uv run python benchmarks/bench_score.py --n 1000000 --plain-subset 200000
    uv run python benchmarks/bench_score.py --n 200000 --dask-workers 1,2

Prints both timings, the ratio, the peak memory (max RSS) and the largest distance
difference between the two ways (which is the error of ours: sjoin_nearest computes GEOS
distances on the polygons).
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
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


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_parcels(n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    side = int(np.ceil(np.sqrt(n)))
    spacing = BOX / side
    k = np.arange(n)
    cx = ORIGIN[0] + (k % side + 0.5) * spacing + rng.uniform(-0.1, 0.1, n) * spacing
    cy = ORIGIN[1] + (k // side + 0.5) * spacing + rng.uniform(-0.1, 0.1, n) * spacing
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False) + rng.uniform(0, 0.6, (n, 8))
    rad = rng.uniform(0.25, 0.4, (n, 8)) * spacing
    x = cx[:, None] + rad * np.cos(ang)
    y = cy[:, None] + rad * np.sin(ang)
    geoms = shapely.polygons(np.stack([x, y], axis=2))
    return gpd.GeoDataFrame({"parcel_id": k}, geometry=geoms, crs=L93)


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


def score_parcels(
    parcels: gpd.GeoDataFrame, layers: dict[str, object], slope: Raster
) -> pd.DataFrame:
    """6 distances + 3 overlap shares + 1 mean slope per parcel (our way)."""
    sites = measures.prepare_sites(parcels)
    out = pd.DataFrame(index=parcels.index)
    for name in DISTANCE_LAYERS:
        out[f"d_{name}"] = measures.distance_to(sites, layers[name])["distance_m"]  # type: ignore[arg-type]
    for name in OVERLAP_LAYERS:
        out[f"share_{name}"] = measures.overlap_share(sites, layers[name])  # type: ignore[arg-type]
    out["slope_mean"] = measures.zonal_stat(sites, slope, stat="mean")
    return out


def plain_way(
    parcels: gpd.GeoDataFrame, layers: dict[str, gpd.GeoDataFrame], slope_path: Path
) -> tuple[pd.DataFrame, dict[str, float]]:
    from exactextract import exact_extract

    times: dict[str, float] = {}
    out = pd.DataFrame(index=parcels.index)
    base = parcels[["geometry"]]
    for name in DISTANCE_LAYERS:
        t = time.perf_counter()
        joined = gpd.sjoin_nearest(base, layers[name][["geometry"]], distance_col="dist")
        out[f"d_{name}"] = joined.groupby(level=0)["dist"].min()
        times[f"d_{name}"] = time.perf_counter() - t
    area = parcels.geometry.area
    for name in OVERLAP_LAYERS:
        t = time.perf_counter()
        zones = layers[name][["geometry"]].dissolve()
        inter = gpd.overlay(parcels[["parcel_id", "geometry"]], zones, how="intersection")
        covered = inter.geometry.area.groupby(inter["parcel_id"].to_numpy()).sum()
        out[f"share_{name}"] = (
            covered.reindex(parcels["parcel_id"]).fillna(0.0).to_numpy() / area.to_numpy()
        )
        times[f"share_{name}"] = time.perf_counter() - t
    t = time.perf_counter()
    stats = exact_extract(str(slope_path), parcels, "mean", output="pandas")
    out["slope_mean"] = stats["mean"].to_numpy()
    times["slope_mean"] = time.perf_counter() - t
    return out, times


def write_raster(raster: Raster, path: Path) -> None:
    import rasterio

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=raster.shape[1],
        height=raster.shape[0],
        count=1,
        dtype="float64",
        crs=raster.crs.to_wkt(),
        transform=raster.transform,
        nodata=np.nan,
    ) as dst:
        dst.write(raster.array, 1)


def run_ours(parcels, layers, slope) -> tuple[pd.DataFrame, dict[str, float], float, float]:
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    c0 = time.process_time()
    t = time.perf_counter()
    sites = measures.prepare_sites(parcels)
    times["prepare_sites"] = time.perf_counter() - t
    out = pd.DataFrame(index=parcels.index)
    for name in DISTANCE_LAYERS:
        t = time.perf_counter()
        out[f"d_{name}"] = measures.distance_to(sites, layers[name])["distance_m"]
        times[f"d_{name}"] = time.perf_counter() - t
    for name in OVERLAP_LAYERS:
        t = time.perf_counter()
        out[f"share_{name}"] = measures.overlap_share(sites, layers[name])
        times[f"share_{name}"] = time.perf_counter() - t
    t = time.perf_counter()
    out["slope_mean"] = measures.zonal_stat(sites, slope, stat="mean")
    times["slope_mean"] = time.perf_counter() - t
    return out, times, time.perf_counter() - t0, time.process_time() - c0


def _warm_up() -> None:
    # Import the scoring stack in each worker before timing (a cold import takes seconds).
    import foncier.engine.measures  # noqa: F401


def run_dask(parcels, layers, slope, workers: list[int], partitions: int, expected) -> None:
    import dask_geopandas

    from foncier.engine.distributed import local_cluster, score_dask

    prepared = prepared_layers(layers)
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Like a national parcel file: partitions on disk that each worker reads itself,
        # instead of a frame shipped from this process.
        path = Path(tmp) / "parcels.parquet"
        dask_geopandas.from_geopandas(parcels, npartitions=partitions).to_parquet(path)
        for w in workers:
            with local_cluster(w, threads_per_worker=1, processes=True, memory_limit="3GB") as c:
                c.run(_warm_up)
                ddf = dask_geopandas.read_parquet(path)
                t = time.perf_counter()
                got = score_dask(score_parcels, ddf, prepared, slope)
                timings[w] = time.perf_counter() - t
            got = got.sort_index()
            same = bool(np.array_equal(got.to_numpy(), expected.to_numpy(), equal_nan=True))
            diff = float(np.nanmax(np.abs(got.to_numpy() - expected.to_numpy())))
            print(
                f"dask, {w} worker(s), {ddf.npartitions} partitions: {timings[w]:8.2f} s   "
                f"identical to in-memory: {same} (max abs difference {diff:.3g})"
            )
    if len(timings) > 1:
        lo, hi = min(timings), max(timings)
        print(f"dask speed-up from {lo} to {hi} workers: {timings[lo] / timings[hi]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of parcels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--plain-subset",
        type=int,
        default=None,
        help="run the plain way on K random parcels only and extrapolate linearly",
    )
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--dask-workers", default="", help="e.g. 1,2: run the dask path too")
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    parcels = make_parcels(args.n, rng)
    layers = make_layers(rng)
    slope = make_slope(rng)
    rail = layers["railways"].geometry.to_numpy()
    n_seg = int(shapely.get_num_coordinates(rail).sum() - rail.size)
    print(
        f"data: {args.n:,} parcels, {n_seg:,} railway segments, "
        f"slope {slope.shape[0]}×{slope.shape[1]} px "
        f"({time.perf_counter() - t:.1f} s to generate); peak RSS {peak_rss_mb():,.0f} MB"
    )

    ours, our_times, our_total, our_cpu = run_ours(parcels, layers, slope)
    rss_ours = peak_rss_mb()
    print(
        f"\nours: {our_total:8.2f} s wall, {our_cpu:.2f} s CPU  "
        f"(peak RSS so far {rss_ours:,.0f} MB)"
    )
    for k, v in our_times.items():
        print(f"    {k:<20} {v:7.2f} s")

    if not args.skip_plain:
        k = min(args.plain_subset or args.n, args.n)
        # A random sample (not the first rows, which form a strip of the box) so that the
        # extrapolation sees parcels spread like the whole set.
        subset = parcels if k == args.n else parcels.sample(k, random_state=0).sort_index()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "slope.tif"
            write_raster(slope, path)
            t = time.perf_counter()
            c = time.process_time()
            plain, plain_times = plain_way(subset, layers, path)
            plain_total = time.perf_counter() - t
            plain_cpu = time.process_time() - c
        scale = args.n / k
        note = "" if k == args.n else f" measured on {k:,} parcels, ×{scale:g} extrapolated"
        print(
            f"\nplain geopandas way: {plain_total * scale:8.2f} s{note}  "
            f"(peak RSS {peak_rss_mb():,.0f} MB)"
        )
        for name, v in plain_times.items():
            print(f"    {name:<20} {v * scale:7.2f} s")
        print(
            f"plain way CPU time: {plain_cpu * scale:.2f} s\n\n"
            f"speed-up: {plain_total * scale / our_total:.1f}x wall, "
            f"{plain_cpu * scale / our_cpu:.1f}x CPU"
        )
        mine = ours.loc[subset.index]
        d_cols = [f"d_{name}" for name in DISTANCE_LAYERS]
        err = np.abs(mine[d_cols].to_numpy() - plain[d_cols].to_numpy())
        print(f"max distance difference vs sjoin_nearest: {np.nanmax(err):.3g} m")
        s_cols = [f"share_{name}" for name in OVERLAP_LAYERS]
        s_err = np.abs(mine[s_cols].to_numpy() - plain[s_cols].to_numpy())
        print(f"max overlap share difference vs overlay: {np.nanmax(s_err):.3g}")
        sl = np.abs(mine["slope_mean"].to_numpy() - plain["slope_mean"].to_numpy())
        print(
            f"mean slope: centre sampling vs exactextract coverage-weighted mean, "
            f"median |difference| {np.nanmedian(sl):.3f}°, 95th percentile "
            f"{np.nanpercentile(sl, 95):.3f}°"
        )

    if args.dask_workers:
        workers = [int(w) for w in args.dask_workers.split(",") if w]
        print()
        run_dask(parcels, layers, slope, workers, args.partitions, ours)
    print(f"\npeak RSS of the whole run: {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()

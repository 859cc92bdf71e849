"""Benchmark: 10 criteria on N parcels, foncier against the tuned plain way and the naive way.

Three ways to measure the same 10 criteria on the synthetic data of ``synthetic.py``
(6 distances, 3 overlap shares, 1 mean slope); see README.md for what each one does:

* ``foncier``: ``prepare_sites`` once, then ``distance_to`` × 6, ``overlap_share`` × 3 and
  ``zonal_stat`` (pixel centres inside each parcel), on ``settings.threads`` threads;
* ``tuned``: what an expert writes with shapely / geopandas / rasterio on the same semantics:
  ``STRtree.query_nearest`` against *segments* (lines exploded into 2-point pieces), an
  ``STRtree`` of the *exploded* union of the zones (parcels properly inside a prepared part
  take their area, the others are intersected), and the mean of the pixels whose centre
  is inside each parcel (the same statistic as foncier) by the pixel centres of each
  parcel's box, one ``shapely.contains_xy`` call and ``np.bincount``; run once apart,
  timed and compared, and in no total: the same statistic by the common idiom
  ``rasterio.features.rasterize`` + ``np.bincount`` (about 15 times slower), and the
  coverage-weighted mean of ``exactextract`` (array raster source, WKB features), another
  statistic;
* ``naive``: the idiomatic first try: ``sjoin_nearest`` on whole polylines, ``dissolve()``
  + ``overlay``, ``exact_extract`` on a GeoTIFF with a GeoDataFrame.

Each run happens in a forked child process (same data, own peak memory), the repetitions
interleaved (round 1: foncier, tuned, naive; round 2: tuned, naive, foncier; ...). Prints the
median and spread of the wall time of each way, the ratio of medians, the peak RSS of each
child, the per-criterion times, and the largest disagreement per criterion between foncier
and each other way.

Usage::

    uv run python benchmarks/bench_score.py                          # 100,000 parcels
    uv run python benchmarks/bench_score.py --n 1000000 --rounds 2 --naive-subset 20000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic
from synthetic import DISTANCE_LAYERS, OVERLAP_LAYERS

from foncier.engine import measures
from layers import settings
from layers.raster import Raster

POINT_LAYERS = ("rail_stations", "substations", "junctions")
LINE_LAYERS = ("railways", "rivers")
COLUMNS = [f"d_{n}" for n in DISTANCE_LAYERS] + [f"share_{n}" for n in OVERLAP_LAYERS]
COLUMNS += ["slope_mean"]

# The data, made once in the parent and inherited by the forked children.
DATA: dict[str, Any] = {}


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- foncier


def foncier_way(parcels: gpd.GeoDataFrame, times: dict[str, float]) -> pd.DataFrame:
    layers, slope = DATA["layers"], DATA["slope"]
    out = pd.DataFrame(index=parcels.index)
    t = time.perf_counter()
    sites = measures.prepare_sites(parcels)
    times["prepare_sites"] = time.perf_counter() - t
    t = time.perf_counter()
    zones = {name: measures.prepare_zones(layers[name]) for name in OVERLAP_LAYERS}
    times["prepare_zones"] = time.perf_counter() - t
    for name in DISTANCE_LAYERS:
        t = time.perf_counter()
        out[f"d_{name}"] = measures.distance_to(sites, layers[name])["distance_m"]
        times[f"d_{name}"] = time.perf_counter() - t
    for name in OVERLAP_LAYERS:
        t = time.perf_counter()
        out[f"share_{name}"] = measures.overlap_share(sites, zones[name])
        times[f"share_{name}"] = time.perf_counter() - t
    t = time.perf_counter()
    out["slope_mean"] = measures.zonal_stat(sites, slope, stat="mean")
    times["slope_mean"] = time.perf_counter() - t
    return out


# ------------------------------------------------------------------------- tuned plain


def segments(lines: np.ndarray) -> np.ndarray:
    """Every line cut into its 2-point segments (what an expert indexes, not polylines)."""
    xy, idx = shapely.get_coordinates(lines, return_index=True)
    same = idx[:-1] == idx[1:]
    pairs = np.stack([xy[:-1][same], xy[1:][same]], axis=1)
    return shapely.linestrings(pairs)


def tuned_slope_centres(parcels: gpd.GeoDataFrame, slope: Raster) -> np.ndarray:
    """Mean of the pixels whose centre is inside each parcel (centres in each box + bincount).

    The pixel centres inside each parcel's bounding box, tested with one vectorised
    ``shapely.contains_xy`` call, then sums and counts per parcel with ``np.bincount``.
    Parcels holding no pixel centre take the pixel under their centroid, as foncier does.
    Much faster than rasterising the parcels (see :func:`rasterize_slope_centres`).
    """
    geoms = parcels.geometry.to_numpy()
    values, t = slope.array, slope.transform
    rows, cols = values.shape
    b = shapely.bounds(geoms)
    j0 = np.clip(np.ceil((b[:, 0] - t.c) / t.a - 0.5), 0, cols).astype(np.int64)
    j1 = np.clip(np.floor((b[:, 2] - t.c) / t.a - 0.5), -1, cols - 1).astype(np.int64)
    i0 = np.clip(np.ceil((b[:, 3] - t.f) / t.e - 0.5), 0, rows).astype(np.int64)
    i1 = np.clip(np.floor((b[:, 1] - t.f) / t.e - 0.5), -1, rows - 1).astype(np.int64)
    ncol, nrow = np.maximum(j1 - j0 + 1, 0), np.maximum(i1 - i0 + 1, 0)
    count = ncol * nrow
    owner = np.repeat(np.arange(geoms.size), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    jj = j0[owner] + k % ncol[owner]
    ii = i0[owner] + k // ncol[owner]
    inside = shapely.contains_xy(geoms[owner], t.c + (jj + 0.5) * t.a, t.f + (ii + 0.5) * t.e)
    n = geoms.size
    sampled = np.bincount(owner[inside], minlength=n) > 0
    v = values[ii[inside], jj[inside]]
    ok = ~np.isnan(v)
    total = np.bincount(owner[inside][ok], weights=v[ok], minlength=n)
    hits = np.bincount(owner[inside][ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / hits
    return _centroid_pixel(geoms, slope, mean, ~sampled)


def _centroid_pixel(
    geoms: np.ndarray, slope: Raster, mean: np.ndarray, need: np.ndarray
) -> np.ndarray:
    """``mean`` with the pixel under the centroid for the parcels ``need`` (a mask)."""
    need = np.flatnonzero(need)
    t = slope.transform
    c = shapely.centroid(geoms[need])
    cj = np.floor((shapely.get_x(c) - t.c) / t.a).astype(np.int64)
    ci = np.floor((shapely.get_y(c) - t.f) / t.e).astype(np.int64)
    mean[need] = slope.array[ci, cj]
    return mean


def rasterize_slope_centres(parcels: gpd.GeoDataFrame, slope: Raster) -> np.ndarray:
    """The same statistic by the common idiom: ``rasterize`` the parcels' ids + bincount.

    rasterio reads each shapely polygon through ``__geo_interface__`` (a Python dict per
    parcel): about 15 times slower than :func:`tuned_slope_centres` at 1M parcels. Timed
    apart, in no total.
    """
    from rasterio.features import rasterize

    values = slope.array
    labels = rasterize(
        zip(parcels.geometry.to_numpy(), np.arange(1, len(parcels) + 1), strict=True),
        out_shape=values.shape,
        transform=slope.transform,
        fill=0,
        all_touched=False,
        dtype="int32",
    )
    ok = (labels > 0) & ~np.isnan(values)
    n = len(parcels)
    total = np.bincount(labels[ok] - 1, weights=values[ok], minlength=n)
    count = np.bincount(labels[ok] - 1, minlength=n)
    sampled = np.bincount(labels[labels > 0] - 1, minlength=n) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return _centroid_pixel(parcels.geometry.to_numpy(), slope, mean, ~sampled)


def exactextract_mean(parcels: gpd.GeoDataFrame, slope: Raster) -> np.ndarray:
    """Coverage-weighted mean slope by exactextract: array raster source, WKB features."""
    from exactextract import exact_extract
    from exactextract.feature import Feature, FeatureSource
    from exactextract.raster import NumPyRasterSource

    class WKBFeature(Feature):
        def __init__(self, fid: int, wkb: bytes) -> None:
            Feature.__init__(self)
            self.fid, self.wkb, self.props = fid, wkb, {}

        def geometry(self) -> bytes:
            return self.wkb

        def set_geometry(self, wkb: bytes) -> None:
            self.wkb = wkb

        def set_geometry_format(self) -> str:
            return "wkb"

        def get(self, name: str) -> Any:
            return self.fid if name == "id" else self.props[name]

        def set(self, name: str, value: Any) -> None:
            if name == "id":
                self.fid = value
            else:
                self.props[name] = value

        def fields(self) -> list[str]:
            return ["id"]

    class WKBSource(FeatureSource):
        def __init__(self, geoms: np.ndarray) -> None:
            super().__init__()
            self.wkb = shapely.to_wkb(geoms)

        def count(self) -> int:
            return len(self.wkb)

        def __iter__(self):
            for i, w in enumerate(self.wkb):
                yield WKBFeature(i, w)

        def srs_wkt(self) -> None:
            return None

    t = slope.transform
    rows, cols = slope.shape
    raster = NumPyRasterSource(
        slope.array, t.c, t.f + rows * t.e, t.c + cols * t.a, t.f, nodata=np.nan
    )
    stats = exact_extract(
        raster, WKBSource(parcels.geometry.to_numpy()), ["mean"], output="pandas",
        include_cols=["id"],
    )  # fmt: skip
    return stats.sort_values("id")["mean"].to_numpy()


def tuned_way(parcels: gpd.GeoDataFrame, times: dict[str, float]) -> pd.DataFrame:
    layers, slope = DATA["raw_layers"], DATA["slope"]
    out = pd.DataFrame(index=parcels.index)
    geoms = parcels.geometry.to_numpy()
    for name in DISTANCE_LAYERS:
        t = time.perf_counter()
        feats = layers[name].geometry.to_numpy()
        if name in LINE_LAYERS:
            feats = segments(feats)
        tree = shapely.STRtree(feats)
        (src, _), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
        d = np.full(len(parcels), np.inf)
        d[src] = dist
        out[f"d_{name}"] = d
        times[f"d_{name}"] = time.perf_counter() - t
    area = shapely.area(geoms)
    for name in OVERLAP_LAYERS:
        t = time.perf_counter()
        # Exploded union: non-overlapping parts whose boxes prune well (not one huge
        # multipolygon), and an area covered by two zones counts once. An R-tree gives the
        # (parcel, part) pairs; a parcel properly inside a prepared part takes its own area,
        # the others are intersected (2-3 times faster than geopandas.overlay, same values).
        parts = shapely.get_parts(shapely.union_all(layers[name].geometry.to_numpy()))
        shapely.prepare(parts)
        i, j = shapely.STRtree(parts).query(geoms, predicate="intersects")
        inside = shapely.contains_properly(parts[j], geoms[i])
        part_area = np.where(inside, area[i], 0.0)
        rest = ~inside
        part_area[rest] = shapely.area(shapely.intersection(geoms[i[rest]], parts[j[rest]]))
        out[f"share_{name}"] = np.bincount(i, weights=part_area, minlength=len(geoms)) / area
        times[f"share_{name}"] = time.perf_counter() - t
    t = time.perf_counter()
    out["slope_mean"] = tuned_slope_centres(parcels, slope)
    times["slope_mean"] = time.perf_counter() - t
    return out


def apart_way(parcels: gpd.GeoDataFrame, times: dict[str, float]) -> pd.DataFrame:
    """Two other slope computations, timed apart and counted in no total.

    exactextract's coverage-weighted mean (another statistic), and the pixel-centre mean by
    rasterising the parcels (the same statistic as the tuned way, by a slower idiom).
    """
    out = pd.DataFrame(index=parcels.index)
    t = time.perf_counter()
    out["slope_exactextract"] = exactextract_mean(parcels, DATA["slope"])
    times["slope_exactextract"] = time.perf_counter() - t
    t = time.perf_counter()
    out["slope_rasterize"] = rasterize_slope_centres(parcels, DATA["slope"])
    times["slope_rasterize"] = time.perf_counter() - t
    return out


# ------------------------------------------------------------------------------ naive


def naive_way(parcels: gpd.GeoDataFrame, times: dict[str, float]) -> pd.DataFrame:
    from exactextract import exact_extract

    layers = DATA["raw_layers"]
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
    stats = exact_extract(str(DATA["slope_path"]), parcels, "mean", output="pandas")
    out["slope_mean"] = stats["mean"].to_numpy()
    times["slope_mean"] = time.perf_counter() - t
    return out


WAYS: dict[str, Callable[[gpd.GeoDataFrame, dict[str, float]], pd.DataFrame]] = {
    "foncier": foncier_way,
    "tuned": tuned_way,
    "naive": naive_way,
    # Not one of the compared ways: run once, beside them, for the slope statistics.
    "apart": apart_way,
}


def _run(way: str, subset: bool) -> tuple[pd.DataFrame, dict[str, float], float, float, float]:
    """One run in a forked child: result, per-criterion times, wall, CPU, peak RSS (MB)."""
    parcels = DATA["subset"] if subset else DATA["parcels"]
    times: dict[str, float] = {}
    t, c = time.perf_counter(), time.process_time()
    out = WAYS[way](parcels, times)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return out, times, wall, cpu, peak_rss_mb()


def write_raster(raster: Raster, path: Path) -> None:
    import rasterio

    with rasterio.open(
        path, "w", driver="GTiff", width=raster.shape[1], height=raster.shape[0], count=1,
        dtype="float64", crs=raster.crs.to_wkt(), transform=raster.transform, nodata=np.nan,
    ) as dst:  # fmt: skip
        dst.write(raster.array, 1)


def spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:8.2f} s  [{min(values):.2f}–{max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of parcels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    parser.add_argument(
        "--ways", default="foncier,tuned,naive", help="comma-separated: foncier,tuned,naive"
    )
    parser.add_argument(
        "--naive-subset",
        type=int,
        default=20_000,
        help="run the naive way on K random parcels and extrapolate linearly (0: all)",
    )
    parser.add_argument("--naive-rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="settings.threads")
    args = parser.parse_args()
    if args.threads:
        settings.threads = args.threads
    ways = [w for w in args.ways.split(",") if w]

    t = time.perf_counter()
    parcels = synthetic.make_parcels(args.n, args.seed)
    raw = synthetic.make_layers(np.random.default_rng(args.seed + 1))
    slope = synthetic.make_slope(np.random.default_rng(args.seed + 2))
    k = args.naive_subset if 0 < args.naive_subset < args.n else args.n
    subset = parcels if k == args.n else parcels.sample(k, random_state=0).sort_index()
    DATA.update(parcels=parcels, subset=subset, raw_layers=raw, layers=raw, slope=slope)
    rail = raw["railways"].geometry.to_numpy()
    n_seg = int(shapely.get_num_coordinates(rail).sum() - rail.size)
    load = os.getloadavg()
    print(
        f"data: {args.n:,} parcels, {n_seg:,} railway segments, slope {slope.shape[0]}×"
        f"{slope.shape[1]} px, made in {time.perf_counter() - t:.1f} s; RSS of the data "
        f"{peak_rss_mb():,.0f} MB; foncier threads: {settings.threads}; load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores"
    )

    results: dict[str, pd.DataFrame] = {}
    walls: dict[str, list[float]] = {w: [] for w in ways}
    cpus: dict[str, list[float]] = {w: [] for w in ways}
    peaks: dict[str, float] = {}
    crit: dict[str, dict[str, list[float]]] = {w: {} for w in ways}
    ctx = mp.get_context("fork")
    with tempfile.TemporaryDirectory() as tmp:
        DATA["slope_path"] = Path(tmp) / "slope.tif"
        write_raster(slope, DATA["slope_path"])
        loads = []
        for r in range(args.rounds):
            order = ways[r % len(ways) :] + ways[: r % len(ways)]
            for way in order:
                if way == "naive" and r >= args.naive_rounds:
                    continue
                loads.append(os.getloadavg()[0])
                with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                    out, times, wall, cpu, peak = pool.submit(_run, way, way == "naive").result()
                results.setdefault(way, out)
                walls[way].append(wall)
                cpus[way].append(cpu)
                peaks[way] = max(peaks.get(way, 0.0), peak)
                for name, v in times.items():
                    crit[way].setdefault(name, []).append(v)
                print(f"  round {r + 1}: {way:<8} {wall:8.2f} s wall, {cpu:8.2f} s CPU", flush=True)
        if "tuned" in ways:
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                extra, times, wall, _, _ = pool.submit(_run, "apart", False).result()
            results["apart"] = extra
            print(
                f"  apart (in no total): exactextract's coverage-weighted mean slope "
                f"{times['slope_exactextract']:.2f} s wall; the tuned pixel-centre mean by "
                f"rasterize + bincount {times['slope_rasterize']:.2f} s wall"
            )
    print(f"load average (1 min) during the runs: {min(loads):.1f}–{max(loads):.1f}\n")

    scale = {w: (args.n / k if w == "naive" else 1.0) for w in ways}
    ref = statistics.median(walls["foncier"]) if "foncier" in ways else None
    print(f"{'way':<10} {'wall median [min–max]':>28} {'CPU median':>11} {'peak RSS':>9} ratio")
    for w in ways:
        med = statistics.median(walls[w]) * scale[w]
        note = f" (on {k:,} parcels, ×{scale[w]:g})" if scale[w] != 1 else ""
        ratio = f"{med / ref:6.1f}x" if ref else ""
        print(
            f"{w:<10} {spread([v * scale[w] for v in walls[w]]):>28} "
            f"{statistics.median(cpus[w]) * scale[w]:9.2f} s {peaks[w]:7,.0f} MB {ratio}{note}"
        )
    names = sorted({c for w in ways for c in crit[w]}, key=lambda c: (c not in COLUMNS, c))
    print("\nper criterion, median seconds" + " (naive extrapolated)" * ("naive" in ways))
    print(f"{'criterion':<20}" + "".join(f"{w:>10}" for w in ways))
    for c in names:
        row = "".join(
            f"{statistics.median(crit[w][c]) * scale[w]:10.2f}" if c in crit[w] else f"{'':>10}"
            for w in ways
        )
        print(f"{c:<20}{row}")

    if "foncier" in results:
        mine = results["foncier"]
        print("\nlargest |foncier − other| per criterion (metres for d_, share 0..1, degrees)")
        others = [w for w in ways if w != "foncier"]
        print(f"{'criterion':<20}" + "".join(f"{w:>14}" for w in others))
        for c in COLUMNS:
            cells = []
            for w in others:
                other = results[w]
                a = mine.loc[other.index, c].to_numpy()
                b = other[c].to_numpy()
                both = np.isfinite(a) & np.isfinite(b)
                bad = int((np.isfinite(a) != np.isfinite(b)).sum())
                diff = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
                cells.append(f"{diff:10.3g}" + (f" ({bad} nan)" if bad else "    "))
            print(f"{c:<20}" + "".join(f"{x:>14}" for x in cells))
        if "tuned" in results:
            coverage = results["apart"]["slope_exactextract"].to_numpy()
            d = np.abs(mine["slope_mean"].to_numpy() - coverage)
            d = d[np.isfinite(d)]
            raster = results["apart"]["slope_rasterize"].to_numpy()
            differ = np.abs(mine["slope_mean"].to_numpy() - raster) > 1e-9
            print(
                f"slope: pixel centres (foncier, tuned) vs exactextract's coverage-weighted "
                f"mean: median |difference| {np.median(d):.3f}°, 95th percentile "
                f"{np.percentile(d, 95):.3f}°; parcels where rasterize differs from foncier: "
                f"{int(differ.sum())} (a pixel centre on a shared edge goes to one parcel only)"
            )


if __name__ == "__main__":
    main()

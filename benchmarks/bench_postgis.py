"""Write and read scored sites in PostGIS: foncier's COPY path against geopandas' own.

    uv run python benchmarks/bench_postgis.py --sizes 100000 1000000
    uv run python benchmarks/bench_postgis.py --url "postgresql:///bench?service=sig"

Without ``--url`` a throwaway cluster is started (as the tests do) and removed at the end.
Synthetic scored parcels (8-vertex polygons in EPSG:2154, 24 float columns as a profile of
six criteria gives, a rank, a flag and three text columns) are written with
:func:`foncier.reports.postgis.write_frame` (``COPY … FROM STDIN``) and with
``GeoDataFrame.to_postgis`` (SQLAlchemy + GeoAlchemy2, the plain way), then read back with
:func:`layers.postgis.read_postgis` (``COPY … TO STDOUT``) and ``geopandas.read_postgis``.
Repetitions are interleaved; the tables written by both ways are compared (same rows, same
values, same geometries) and the volume is the heap size of the table (MB = 10⁶ bytes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def synthetic_sites(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    cx = rng.uniform(600_000, 700_000, n)
    cy = rng.uniform(6_800_000, 6_900_000, n)
    angles = np.linspace(0, 2 * np.pi, 9)[:-1]
    radius = rng.uniform(30, 120, (n, 1))
    xs = cx[:, None] + radius * np.cos(angles)
    ys = cy[:, None] + radius * np.sin(angles)
    rings = np.stack([xs, ys], axis=-1)
    rings = np.concatenate([rings, rings[:, :1]], axis=1)
    geoms = shapely.polygons(rings)
    data: dict[str, object] = {"site_id": [f"P{i:07d}" for i in range(n)]}
    for c in ("rail", "port", "motorway", "substation", "flood", "slope"):
        data[f"{c}__raw"] = rng.uniform(0, 20_000, n)
        data[f"{c}__score"] = rng.uniform(0, 1, n)
        data[f"{c}__weight"] = np.full(n, 1 / 6)
        data[f"{c}__contrib"] = rng.uniform(0, 1 / 6, n)
    data["score"] = rng.uniform(0, 100, n)
    data["rank"] = np.arange(1, n + 1)
    data["excluded"] = rng.uniform(0, 1, n) < 0.1
    data["commune"] = rng.choice(["Compiègne", "Longueil-Sainte-Marie", "Noyon"], n)
    data["why"] = "gare fret à 1,2 km ; port à 3,4 km"
    return gpd.GeoDataFrame(data, geometry=geoms, crs=2154)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--url", help="database to use (default: a throwaway cluster)")
    parser.add_argument("--skip-plain-above", type=int, default=2_000_000)
    args = parser.parse_args()

    import psycopg
    import sqlalchemy

    from foncier.reports.postgis import write_frame
    from layers.postgis import parse_postgis_url, read_postgis

    server = None
    if args.url:
        url = args.url
    else:
        from pgserver import start_server

        server = start_server()
        url = server.socket_url()
    src = parse_postgis_url(url)
    engine = sqlalchemy.create_engine(
        src.conninfo.replace("postgresql://", "postgresql+psycopg://")
    )
    rows = []
    try:
        for n in args.sizes:
            sites = synthetic_sites(n)
            times: dict[str, list[float]] = {
                k: [] for k in ("copy_w", "plain_w", "copy_r", "plain_r")
            }
            for _ in range(args.repeat):
                with psycopg.connect(src.conninfo) as conn:
                    t0 = time.perf_counter()
                    with conn.transaction():
                        write_frame(conn, sites, schema="public", table="bench_copy", run_id="b")
                    times["copy_w"].append(time.perf_counter() - t0)
                if n <= args.skip_plain_above:
                    t0 = time.perf_counter()
                    sites.to_postgis("bench_plain", engine, if_exists="replace", index=False)
                    times["plain_w"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                sep = "&" if "?" in url else "?"
                ours = read_postgis(parse_postgis_url(url + sep + "table=public.bench_copy"))
                times["copy_r"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                with engine.connect() as c:
                    plain = gpd.read_postgis("SELECT * FROM public.bench_copy", c, geom_col="geom")
                times["plain_r"].append(time.perf_counter() - t0)
            with psycopg.connect(src.conninfo) as conn:
                mb = (
                    conn.execute("SELECT pg_relation_size('public.bench_copy')").fetchone()[0] / 1e6
                )
            # Agreement: both reads give the same rows; the COPY table equals the input.
            ours = ours.sort_values("site_id").reset_index(drop=True)
            plain = plain.sort_values("site_id").reset_index(drop=True)
            same_read = bool(
                np.array_equal(ours["score"].to_numpy(), plain["score"].to_numpy())
                and shapely.equals_exact(
                    ours.geometry.to_numpy(), plain.geometry.to_numpy(), 0
                ).all()
            )
            same_input = bool(
                np.array_equal(ours["rail__raw"].to_numpy(), sites["rail__raw"].to_numpy())
                and shapely.equals_exact(
                    ours.geometry.to_numpy(), sites.geometry.to_numpy(), 0
                ).all()
            )
            med = {k: statistics.median(v) if v else float("nan") for k, v in times.items()}
            rows.append(
                {
                    "sites": n,
                    "MB": round(mb, 1),
                    "write COPY s": round(med["copy_w"], 2),
                    "write to_postgis s": round(med["plain_w"], 2),
                    "write ratio": round(med["plain_w"] / med["copy_w"], 1),
                    "write COPY MB/s": round(mb / med["copy_w"], 1),
                    "write to_postgis MB/s": round(mb / med["plain_w"], 1),
                    "read COPY s": round(med["copy_r"], 2),
                    "read read_postgis s": round(med["plain_r"], 2),
                    "read ratio": round(med["plain_r"] / med["copy_r"], 1),
                    "read COPY MB/s": round(mb / med["copy_r"], 1),
                    "read read_postgis MB/s": round(mb / med["plain_r"], 1),
                    "same rows": same_read and same_input,
                }
            )
            print(pd.DataFrame(rows).T.to_string(), flush=True)
    finally:
        engine.dispose()
        if server is not None:
            import shutil

            server.stop()
            shutil.rmtree(server.folder, ignore_errors=True)


if __name__ == "__main__":
    main()

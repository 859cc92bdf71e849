"""Benchmark: score N parcels beyond memory, from a partitioned GeoParquet dataset, with dask.

1. Writes N synthetic parcels (``synthetic.make_parcels``) as a GeoParquet dataset, one file
   per partition, made chunk by chunk (never all in memory); kept for the next runs.
2. For each worker count: a ``dask.distributed`` LocalCluster of worker processes (1 thread
   each, ``FONCIER_THREADS=1``), the layers scattered once to every worker, each worker
   reading its partitions, scoring the 10 criteria of ``bench_score.py`` and writing its
   result file (``foncier.engine.distributed.score_to_parquet``): nothing is gathered.
   A thread samples the resident memory of this process and all its children every 0.2 s.
3. The in-memory reference: the same function on the first ``--ref`` parcels in this
   process (1 thread, then ``--ref-threads``), for the per-parcel cost; the dask result of
   those parcels must be identical to it.

Usage::

    uv run python benchmarks/bench_dask.py --n 1000000 --workers 1,2
    uv run python benchmarks/bench_dask.py --n 10000000 --workers 2 --data /tmp/parcels-10M
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic

from foncier.engine.distributed import local_cluster, score_to_parquet
from layers import settings


class MemorySampler:
    """Peak of the summed RSS of this process and its children (MB), sampled in a thread."""

    def __init__(self, period: float = 0.2) -> None:
        self.period, self.peak, self._stop = period, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total / 2**20)
            time.sleep(self.period)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_dataset(path: Path, n: int, partition: int, seed: int) -> None:
    if (path / "_done").exists():
        return
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    t = time.perf_counter()
    for i, start in enumerate(range(0, n, partition)):
        chunk = synthetic.make_parcels(n, seed, start=start, count=min(partition, n - start))
        chunk.to_parquet(path / f"part.{i:05d}.parquet")
    (path / "_done").write_text(str(n))
    size = sum(f.stat().st_size for f in path.glob("*.parquet")) / 2**20
    print(
        f"wrote {n:,} parcels in {i + 1} files ({size:,.0f} MB) in {time.perf_counter() - t:.0f} s"
    )


def _warm_up() -> None:
    # Import the scoring stack in each worker before timing (a cold import takes seconds).
    import foncier.engine.measures  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--partition", type=int, default=250_000, help="parcels a file")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--data", default=None, help="dataset folder (default under /tmp)")
    parser.add_argument("--out", default=None, help="results folder (default under /tmp)")
    parser.add_argument("--ref", type=int, default=250_000, help="parcels of the reference")
    parser.add_argument("--ref-threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="1.8GB", help="per worker")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import dask_geopandas

    data = Path(args.data or f"/tmp/foncier-bench/parcels-{args.n}")
    out = Path(args.out or f"/tmp/foncier-bench/scores-{args.n}")
    write_dataset(data, args.n, args.partition, args.seed)
    layers = synthetic.prepared_layers(synthetic.make_layers(np.random.default_rng(args.seed + 1)))
    slope = synthetic.make_slope(np.random.default_rng(args.seed + 2))

    # In-memory reference on the first parcels, in this process.
    ref_parcels = dask_geopandas.read_parquet(data).head(args.ref, npartitions=-1)
    ref_times = {}
    for threads in sorted({1, args.ref_threads}):
        settings.threads = threads
        t = time.perf_counter()
        expected = synthetic.score_parcels(ref_parcels, layers, slope)
        ref_times[threads] = time.perf_counter() - t
    meta = expected.iloc[:0]
    load = os.getloadavg()
    print(
        f"in memory, {len(ref_parcels):,} parcels: "
        + ", ".join(
            f"{th} thread(s) {v:.2f} s = {v / len(ref_parcels) * 1e6:.1f} µs a parcel"
            for th, v in ref_times.items()
        )
        + f"; load average {load[0]:.1f}"
    )

    for w in [int(x) for x in args.workers.split(",") if x]:
        shutil.rmtree(out, ignore_errors=True)
        with local_cluster(
            w, threads_per_worker=1, processes=True, memory_limit=args.memory_limit
        ) as client:
            client.run(_warm_up)
            ddf = dask_geopandas.read_parquet(data)
            load0 = os.getloadavg()[0]
            with MemorySampler() as mem:
                t = time.perf_counter()
                parts = score_to_parquet(
                    synthetic.score_parcels, ddf, out, layers, slope, meta=meta
                )
                wall = time.perf_counter() - t
        got = pd.concat(
            pd.read_parquet(f)
            for f in sorted(out.glob("*.parquet"))[: -(-args.ref // args.partition)]
        ).loc[expected.index]
        same = bool(np.array_equal(got.to_numpy(), expected.to_numpy(), equal_nan=True))
        per = wall / args.n * 1e6
        ref_per = ref_times[1] / len(ref_parcels) * 1e6
        print(
            f"dask, {w} worker(s) × 1 thread, {parts} partitions of {args.partition:,}: "
            f"{wall:8.1f} s = {per:.1f} µs a parcel ({per / ref_per:.2f}× "
            f"the 1-thread in-memory cost); peak RSS of all processes {mem.peak:,.0f} MB; "
            f"first {len(expected):,} parcels identical to in-memory: {same}; load average "
            f"{load0:.1f}→{os.getloadavg()[0]:.1f}",
            flush=True,
        )
    print(f"results: {out}")


if __name__ == "__main__":
    main()

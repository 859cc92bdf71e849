"""Benchmark: what one task a partition saves, interleaved on one cluster.

On the dataset ``bench_dask.py`` writes (``/tmp/foncier-bench/parcels-N-P``, make it with
``bench_dask.py --n N`` first), the first ``--files`` files are scored, round after round, four
ways (six with several workers), and the CPU seconds of the work are printed per parcel:

* ``unfused``: the graph ``score_to_parquet`` built before partitions were fused
  (``dask_geopandas.read_parquet``, then ``map_partitions`` and dask's ``to_parquet``, computed
  as is): on ``dask.distributed`` reading, scoring, re-indexing and writing a partition are
  separate tasks, and work stealing may move a read partition between workers;
* ``fused``: ``foncier.engine.distributed.score_to_parquet`` (one task a partition);
* ``plain files``: a process reads, scores and writes the same files one by one on 1
  thread, no dask (the floor of any path that writes partition by partition); with
  ``--workers`` above 1, the same in as many processes at once, the files dealt out (what
  the workers do without dask, side by side on the cores);
* ``in memory``: a process reads the same files, then scores all the parcels at once on 1
  thread, writing nothing (the in-memory path with its read); with ``--workers`` above 1,
  on as many threads too (the ratios are printed against the 1-thread run).

For the two dask ways the CPU is the workers' own (reading, scoring, writing); the ways
without dask run in forked children of this process, so that their CPU leaves out the
LocalCluster's scheduler and nannies (threads of this process) as the workers' does. The tasks
they ran and the data they sent each other are printed. Each round runs them one after
the other, so that a change in the machine's load touches them alike; the medians close.

Usage::

    uv run python benchmarks/bench_dask.py --n 1000000 --workers 1 --rank-n 0  # the data
    uv run python benchmarks/bench_dask_tasks.py --n 1000000 --files 5 --workers 2 --rounds 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic

from foncier.engine import distributed
from layers import settings


def _own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def _counts(dask_worker: Any) -> tuple[int, int, int]:
    return (
        dask_worker.state.executed_count,
        dask_worker.transfer_outgoing_count_total,
        dask_worker.transfer_outgoing_bytes_total,
    )


def _warm_up() -> None:
    import dask.dataframe  # noqa: F401
    import dask_geopandas  # noqa: F401
    import geopandas.io.arrow  # noqa: F401
    import pyarrow.dataset
    import pyarrow.parquet  # noqa: F401

    import foncier.engine.measures  # noqa: F401


def unfused(folder: Path, out: Path, layers: Any, slope: Any, meta: Any) -> None:
    """The graph of ``score_to_parquet`` before partitions were fused, computed as is."""
    import dask_geopandas

    client = distributed._active_client()
    payload = client.scatter([((layers, slope), {})], broadcast=True)[0]
    sites = dask_geopandas.read_parquet(folder)
    lazy = sites.map_partitions(
        distributed._apply, payload, score_func=synthetic.score_parcels, meta=meta
    )
    lazy.to_parquet(
        str(out), write_index=True, schema=None, overwrite=True, write_metadata_file=False
    )


def fused(folder: Path, out: Path, layers: Any, slope: Any, meta: Any) -> None:
    import dask_geopandas

    distributed.score_to_parquet(
        synthetic.score_parcels,
        dask_geopandas.read_parquet(folder),
        out,
        layers,
        slope,
        meta=meta,
        overwrite=True,
    )


def plain_files(files: list[Path], out: Path, layers: Any, slope: Any) -> float:
    c = time.process_time()
    for i, f in enumerate(files):
        scored = synthetic.score_parcels(gpd.read_parquet(f), layers, slope)
        scored.to_parquet(out / f"part.{i}.parquet")
    return time.process_time() - c


def _plain_child(files: list[Path], out: Path, layers: Any, slope: Any, conn: Any) -> None:
    conn.send(plain_files(files, out, layers, slope))
    conn.close()


def plain_processes(files: list[Path], out: Path, layers: Any, slope: Any, k: int) -> float:
    """``plain_files`` in ``k`` forked processes at once, the files dealt out; summed CPU."""
    ctx = multiprocessing.get_context("fork")
    children = []
    for i in range(k):
        recv, send = ctx.Pipe(duplex=False)
        (out / str(i)).mkdir(exist_ok=True)
        child = ctx.Process(
            target=_plain_child, args=(files[i::k], out / str(i), layers, slope, send)
        )
        child.start()
        children.append((child, recv))
    total = sum(recv.recv() for _, recv in children)
    for child, _ in children:
        child.join()
    return total


def in_memory(files: list[Path], layers: Any, slope: Any) -> float:
    c = time.process_time()
    sites = pd.concat([gpd.read_parquet(f) for f in files])
    synthetic.score_parcels(sites, layers, slope)
    return time.process_time() - c


def _send(func: Any, args: tuple[Any, ...], conn: Any) -> None:
    conn.send(func(*args))
    conn.close()


def forked(func: Any, *args: Any) -> float:
    """``func(*args)`` (CPU seconds it measures) in a forked child.

    The LocalCluster's scheduler and nannies are threads of this process: timed here, the
    ways without dask would pay their upkeep too, which the workers' CPU leaves out.
    """
    recv, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_send, args=(func, args, send))
    child.start()
    seconds = float(recv.recv())
    child.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="parcels of the dataset")
    parser.add_argument("--partition", type=int, default=100_000, help="parcels a file")
    parser.add_argument("--files", type=int, default=5, help="files scored each round")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--task-threads",
        type=int,
        default=1,
        help="partitions a worker scores at once (its threads; the measures on 1 thread each)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = Path(f"/tmp/foncier-bench/parcels-{args.n}-{args.partition}")
    files = sorted(data.glob("*.parquet"))[: args.files]
    if not files:
        sys.exit(f"no dataset in {data}: run bench_dask.py --n {args.n} first")
    layers = synthetic.prepared_layers(synthetic.make_layers(np.random.default_rng(args.seed + 1)))
    slope = synthetic.make_slope(np.random.default_rng(args.seed + 2))
    settings.threads = 1  # this process's own runs, as a worker
    # Read, scored and written once here: the forked children inherit the imports and caches.
    warm = synthetic.score_parcels(gpd.read_parquet(files[0]).head(10), layers, slope)
    meta = warm.iloc[:0]
    n = sum(len(gpd.read_parquet(f, columns=["geometry"])) for f in files)
    ways = ["unfused", "fused", "plain files", "in memory"]
    if args.workers > 1:
        ways.insert(3, f"plain files, {args.workers} processes at once")
        ways.append(f"in memory, {args.workers} threads")
    cpu: dict[str, list[float]] = {w: [] for w in ways}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "parcels"  # the first files only, as their own dataset
        folder.mkdir()
        for f in files:
            (folder / f.name).symlink_to(f.resolve())
        out = Path(tmp) / "out"
        out.mkdir()
        warm.to_parquet(out / "warm-up.parquet")
        with distributed.local_cluster(
            args.workers,
            threads_per_worker=args.task_threads,
            processes=True,
            memory_limit="2GB",
            env={"FONCIER_THREADS": "1"},
        ) as client:
            client.run(_warm_up)
            for r in range(args.rounds):
                for way in ways:
                    load = os.getloadavg()[0]
                    moved = ""
                    if way in ("unfused", "fused"):
                        c0 = sum(client.run(_own_cpu).values())
                        k0 = np.sum(list(client.run(_counts).values()), axis=0)
                        run = unfused if way == "unfused" else fused
                        t = time.perf_counter()
                        run(folder, out / way, layers, slope, meta)
                        wall = time.perf_counter() - t
                        seconds = sum(client.run(_own_cpu).values()) - c0
                        k = np.sum(list(client.run(_counts).values()), axis=0) - k0
                        moved = (
                            f"; wall {wall:.1f} s, {k[0]} tasks, data sent between workers "
                            f"{k[1]} times, "
                            f"{k[2] / 2**20:.0f} MB"
                        )
                    elif way == "plain files":
                        (out / "plain").mkdir(exist_ok=True)
                        seconds = forked(plain_files, files, out / "plain", layers, slope)
                    elif way.startswith("plain files,"):
                        (out / "plain-k").mkdir(exist_ok=True)
                        seconds = plain_processes(
                            files, out / "plain-k", layers, slope, args.workers
                        )
                    else:
                        settings.threads = 1 if way == "in memory" else args.workers
                        seconds = forked(in_memory, files, layers, slope)
                        settings.threads = 1
                    cpu[way].append(seconds / n * 1e6)
                    print(
                        f"round {r + 1}, {way}: {cpu[way][-1]:.2f} CPU µs a parcel{moved} "
                        f"(load average {load:.1f})",
                        flush=True,
                    )
    ref = float(np.median(cpu["in memory"]))
    print(f"\n{n:,} parcels in {len(files)} files, {args.workers} worker(s), {args.rounds} rounds")
    for way in ways:
        med = float(np.median(cpu[way]))
        print(
            f"{way:33s} median {med:5.2f} CPU µs a parcel = {med / ref:.2f}× in memory "
            f"(rounds: {', '.join(f'{x:.2f}' for x in cpu[way])})"
        )


if __name__ == "__main__":
    main()

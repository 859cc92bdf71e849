"""Benchmark: score N parcels beyond memory, from a partitioned GeoParquet dataset, with dask.

1. Writes N synthetic parcels (``synthetic.make_parcels``) as a GeoParquet dataset, one file
   per partition, made chunk by chunk (never all in memory); kept for the next runs.
2. The in-memory reference, in a forked child (so that its memory is its own): the same
   function (``synthetic.score_parcels``, the 10 criteria of ``bench_score.py``) on the
   first ``--ref`` parcels read with geopandas, on 1 thread and on ``--ref-threads``
   threads (the CPU of reading the files is printed apart); then the same files one by
   one, each read, scored and written on 1 thread as a worker does it without dask (the
   floor of any path that writes partition by partition: read, score and write CPU are
   printed); then, untimed, on the last file, for the agreement check.
3. For each worker count: a ``dask.distributed`` LocalCluster of worker processes (1 thread
   each: ``local_cluster`` sets the measures' threads in each worker), the read, scoring
   and write stack imported in each worker before timing (as it is in the reference),
   the layers scattered once to every worker, each worker
   reading its partitions, scoring them and writing its result file
   (``foncier.engine.distributed.score_to_parquet``: one task a partition): nothing is
   gathered. The tasks run and the data sent between workers are printed too. With
   ``--scheduler ADDRESS`` the same runs on an existing cluster instead.
4. Memory: a thread sums the resident memory (RSS) of this process and all its children
   (nannies, workers) every 0.1 s and keeps the peak; after the run, each process's own
   high-water mark (``ru_maxrss``, which no sampling can miss) is summed too, an upper
   bound of the simultaneous peak. ``RUSAGE_CHILDREN`` is not used: it counts only children
   that have ended and gives the largest one, not the sum. CPU: user + system seconds of
   every process of the tree, before and after; the idle cluster's own rate (heartbeats,
   event loops, the sampler: CPU seconds per wall second, measured ``--idle`` seconds
   before the run) times the wall time is subtracted to give the CPU of the work; the
   workers' own CPU (reading, scoring, writing) is printed apart from this process's
   (client, scheduler, a LocalCluster's nannies, the sampler). Per-parcel CPU is compared
   with the in-memory path on 1 thread and on ``--ref-threads``, wall time with the
   in-memory path on as many threads as workers.
5. Agreement: the dask results of the reference parcels and of the last file must be
   identical (bit for bit, NaN where NaN) to the in-memory ones.
6. National ranking (``--rank-n`` rows, 0 to skip): a measured dataset as
   ``measure_to_parquet`` writes it (``v:``/``n:``/``x:`` columns of the
   ``industrie-manufacturiere`` profile, with ties and missing values) is generated in
   code, partition by partition, then ranked on the same cluster by
   ``foncier.engine.national.score_measures_parquet``: scores, national ranks and the top
   sites written partition by partition, nothing gathered. Wall, CPU and peak memory are
   printed, and, up to ``--rank-check`` rows, agreement with ``foncier.score``'s in-memory
   ranking of the same raw values. ``--rank-only`` skips steps 1–5.

Usage::

    uv run python benchmarks/bench_dask.py --n 1000000 --workers 1,2
    uv run python benchmarks/bench_dask.py --n 10000000 --workers 1,2   # ~1.3 GB under /tmp
    uv run python benchmarks/bench_dask.py --n 10000000 --scheduler tcp://scheduler:8786 \\
        --data /shared/parcels-10M --out /shared/scores-10M
    uv run python benchmarks/bench_dask.py --rank-only --rank-n 10000000 --workers 1,2
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic

from foncier.engine.distributed import local_cluster, score_to_parquet, use_scheduler
from foncier.engine.national import score_measures_parquet
from layers import settings


class MemorySampler:
    """Peak of the summed RSS of this process and its children (MB), sampled in a thread."""

    def __init__(self, period: float = 0.1) -> None:
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


def tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its live children (the workers)."""
    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _own_cpu() -> float:
    """User + system CPU seconds of the calling process (run in a worker or nanny)."""
    t = psutil.Process().cpu_times()
    return t.user + t.system


def _workers_cpu(client: Any) -> float:
    """CPU seconds so far of the cluster's worker processes (summed)."""
    return sum(client.run(_own_cpu).values())


def _task_counts(dask_worker: Any) -> tuple[int, int, int]:
    """Tasks run by a worker, and data sent to other workers (count, bytes), so far."""
    return (
        dask_worker.state.executed_count,
        dask_worker.transfer_outgoing_count_total,
        dask_worker.transfer_outgoing_bytes_total,
    )


def _tasks(client: Any) -> np.ndarray:
    """Summed :func:`_task_counts` of the cluster's workers."""
    return np.sum(list(client.run(_task_counts).values()), axis=0)


def _pid_max_rss() -> tuple[int, float]:
    return os.getpid(), max_rss_mb()


def max_rss_mb() -> float:
    """High-water mark of this process's resident memory (MB, Linux ``ru_maxrss`` in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def _warm_up() -> float:
    """Import the scoring, reading and writing stack in a worker; return its CPU seconds.

    Run before timing, as the in-memory reference has all of it imported: a worker's
    first partition would otherwise pay about 1 CPU s of imports (dask.dataframe,
    dask_geopandas, pyarrow's parquet and dataset modules), once per worker, whatever N.
    """
    c = time.process_time()
    import dask.dataframe  # noqa: F401
    import dask_geopandas  # noqa: F401
    import geopandas.io.arrow  # noqa: F401
    import pyarrow.dataset
    import pyarrow.parquet  # noqa: F401

    import foncier.engine.measures  # noqa: F401

    return time.process_time() - c


def _reference(
    files: list[Path], ref: int, thread_counts: list[int], layers: Any, slope: Any, conn: Any
) -> None:
    """In a forked child: time the in-memory path, then score the last file for agreement."""
    parcels, count = [], 0
    c = time.process_time()
    for f in files:
        if count >= ref:
            break
        parcels.append(gpd.read_parquet(f))
        count += len(parcels[-1])
    sites = pd.concat(parcels).iloc[:ref]
    ref = len(sites)
    read_cpu = time.process_time() - c
    # Warm up (first calls build lazy state: imports, caches), untimed.
    synthetic.score_parcels(sites.iloc[:2000], layers, slope)
    times = {}
    for threads in thread_counts:
        settings.threads = threads
        t, c = time.perf_counter(), time.process_time()
        expected = synthetic.score_parcels(sites, layers, slope)
        times[threads] = (time.perf_counter() - t, time.process_time() - c)
    del sites
    # The same files one by one, read, scored and written on 1 thread in this process, as a
    # worker does without dask: the floor of any path that writes partition by partition.
    settings.threads = 1
    per_file = np.zeros(3)
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(files[: len(parcels)]):
            c = time.process_time()
            part = gpd.read_parquet(f)
            c1 = time.process_time()
            scored = synthetic.score_parcels(part, layers, slope)
            c2 = time.process_time()
            scored.to_parquet(Path(tmp) / f"part.{i}.parquet")
            per_file += (c1 - c, c2 - c1, time.process_time() - c2)
    n_files = sum(len(p) for p in parcels)
    if len(parcels) < len(files):  # the last file is not in the reference: score it too
        last = synthetic.score_parcels(gpd.read_parquet(files[-1]), layers, slope)
        expected = pd.concat([expected, last])
    conn.send((ref, times, expected, max_rss_mb(), read_cpu, per_file / n_files * 1e6))
    conn.close()


#: Profile of the synthetic measured dataset (it has a relative ``percentile`` criterion).
RANK_PROFILE = "industrie-manufacturiere"


def _measured_partition(profile: Any, start: int, count: int, seed: int) -> pd.DataFrame:
    """Rows ``start .. start + count`` of a synthetic measured dataset (cheap numpy)."""
    rng = np.random.default_rng([seed, start])
    cols: dict[str, Any] = {}
    for rule, prefix in [
        *((c, "v:") for c in profile.criteria),
        *((e, "x:") for e in profile.exclusions),
    ]:
        if rule.measure == "distance":
            x = np.round(rng.exponential(6000.0, count), -1)  # 10 m steps: ties
            if prefix == "v:":  # name of the nearest feature
                cols[f"n:{rule.id}"] = pd.Categorical.from_codes(
                    rng.integers(0, 50, count), [f"{rule.id} {k}" for k in range(50)]
                )
        elif rule.measure == "overlap_share":
            x = np.where(rng.random(count) < 0.8, 0.0, np.round(rng.random(count), 2))
        elif rule.measure == "intersects":
            x = rng.random(count) < 0.05
        elif rule.measure == "zonal_mean":
            x = np.round(rng.gamma(1.5, 1.5, count), 1)
        else:  # sums, counts, areas
            x = np.round(rng.lognormal(11, 1.0, count), 0)
        if x.dtype == float:
            x[rng.random(count) < 0.01] = np.nan  # unknown values
        cols[f"{prefix}{rule.id}"] = x
    cols["area_m2"] = rng.uniform(200.0, 50_000.0, count)
    return pd.DataFrame(cols, index=pd.RangeIndex(start, start + count, name="fid"))


def write_measured(path: Path, n: int, partition: int, seed: int) -> None:
    """A measured dataset of ``n`` rows, written partition by partition (kept for reruns)."""
    from foncier.engine.profiles import load_profile

    if (path / "_done").exists():
        return
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    profile = load_profile(RANK_PROFILE)
    t = time.perf_counter()
    for i, start in enumerate(range(0, n, partition)):
        part = _measured_partition(profile, start, min(partition, n - start), seed)
        part.to_parquet(path / f"part.{i}.parquet")
    (path / "_done").write_text(str(n))
    print(f"wrote {n:,} measured rows in {i + 1} files in {time.perf_counter() - t:.0f} s")


def rank_step(args: argparse.Namespace, label: str, client: Any) -> None:
    """Rank the synthetic measured dataset nationally on the running cluster; print figures."""
    if args.rank_n <= 0:
        return
    root = Path("/tmp/foncier-bench")
    data = root / f"measured-{args.rank_n}-{args.partition}"
    out = root / f"ranked-{args.rank_n}-{args.partition}"
    write_measured(data, args.rank_n, args.partition, args.seed)
    load0 = os.getloadavg()[0]
    with MemorySampler() as mem:
        t, c = time.perf_counter(), tree_cpu_seconds()
        ranking = score_measures_parquet(data, out, RANK_PROFILE, overwrite=True)
        wall, cpu = time.perf_counter() - t, tree_cpu_seconds() - c
    hwm = sum(client.run(max_rss_mb).values()) if client is not None else 0.0
    print(
        f"national ranking, {label}: {args.rank_n:,} measured rows in {ranking.n_partitions} "
        f"partitions: {wall:.1f} s, CPU {cpu:.1f} s = {wall / args.rank_n * 1e6:.2f} µs a row "
        f"(CPU {cpu / args.rank_n * 1e6:.2f} µs); peak RSS of all local processes "
        f"{mem.peak:,.0f} MB sampled (workers' high-water marks {hwm:,.0f} MB, this process "
        f"{max_rss_mb():,.0f} MB); {ranking.n_ranked:,} ranked, {ranking.n_excluded:,} "
        f"excluded; {ranking.message}; load average {load0:.1f}→{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if args.rank_n <= args.rank_check:
        # In a forked child: the in-memory ranking's memory stays out of the next runs' peaks.
        recv, send = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("fork").Process(
            target=_check_ranking, args=(data, out, send)
        )
        child.start()
        same, seconds, cpu, peak = recv.recv()
        child.join()
        print(
            f"national ranking identical to foncier.score in memory: {same}; in memory "
            f"(score_from_raw on all the rows in one process, reading included): {seconds:.1f} s, "
            f"CPU {cpu:.1f} s = {cpu / args.rank_n * 1e6:.2f} µs a row, peak {peak:,.0f} MB",
            flush=True,
        )


def _check_ranking(data: Path, out: Path, conn: Any) -> None:
    """Compare the national ranking with ``score_from_raw`` on all the rows in memory."""
    from foncier.engine.profiles import load_profile
    from foncier.engine.scoring import RawMeasures, score_from_raw

    def read(folder: Path) -> pd.DataFrame:
        files = sorted(folder.glob("part.*.parquet"), key=lambda f: int(f.stem.split(".")[1]))
        return pd.concat(pd.read_parquet(f) for f in files)

    t, c = time.perf_counter(), time.process_time()
    table = read(data)

    def block(prefix: str) -> pd.DataFrame:
        cols = [c for c in table.columns if c.startswith(prefix)]
        return table[cols].rename(columns=lambda c: c[len(prefix) :])

    raw = RawMeasures(block("v:"), block("n:"), block("x:"), table["area_m2"])
    expected = score_from_raw(raw, load_profile(RANK_PROFILE))
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    got = read(out)
    num = [c for c in expected.columns if pd.api.types.is_float_dtype(expected[c])]
    same = bool(
        np.array_equal(got[num].to_numpy(), expected[num].to_numpy(), equal_nan=True)
        and got["rank"].equals(expected["rank"])
        and got["ex_aequo"].equals(expected["ex_aequo"])
    )
    conn.send((same, seconds, cpu, max_rss_mb()))
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--partition", type=int, default=250_000, help="parcels a file")
    parser.add_argument("--workers", default="1,2", help="local worker counts to compare")
    parser.add_argument(
        "--scheduler", default=None, help="address of an existing dask.distributed cluster"
    )
    parser.add_argument("--data", default=None, help="dataset folder (default under /tmp)")
    parser.add_argument("--out", default=None, help="results folder (default under /tmp)")
    parser.add_argument("--ref", type=int, default=1_000_000, help="parcels of the reference")
    parser.add_argument("--ref-threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB", help="per local worker")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rank-n", type=int, default=1_000_000, help="measured rows to rank (0: skip)"
    )
    parser.add_argument(
        "--rank-check", type=int, default=1_000_000, help="check the ranking up to this N"
    )
    parser.add_argument("--rank-only", action="store_true", help="only the national ranking step")
    parser.add_argument(
        "--idle", type=float, default=10.0, help="seconds to measure the idle cluster's CPU"
    )
    args = parser.parse_args()
    import dask_geopandas

    if args.rank_only:
        for w in [int(x) for x in args.workers.split(",") if x]:
            with local_cluster(
                w, threads_per_worker=1, processes=True, memory_limit=args.memory_limit
            ) as client:
                rank_step(args, f"{w} local worker(s)", client)
        return
    root = Path("/tmp/foncier-bench")
    data = Path(args.data or root / f"parcels-{args.n}-{args.partition}")
    out = Path(args.out or root / f"scores-{args.n}-{args.partition}")
    write_dataset(data, args.n, args.partition, args.seed)
    files = sorted(data.glob("*.parquet"))
    layers = synthetic.prepared_layers(synthetic.make_layers(np.random.default_rng(args.seed + 1)))
    slope = synthetic.make_slope(np.random.default_rng(args.seed + 2))

    # In-memory reference in a forked child: its peak memory is its own.
    thread_counts = sorted({1, args.ref_threads})
    recv, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_reference,
        args=(files, min(args.ref, args.n), thread_counts, layers, slope, send),
    )
    load = os.getloadavg()[0]
    child.start()
    n_ref, ref_times, expected, ref_peak, ref_read, per_file = recv.recv()
    child.join()
    print(
        f"in memory, {n_ref:,} parcels (1 process, data included, peak {ref_peak:,.0f} MB): "
        + ", ".join(
            f"{th} thread(s) {w:.1f} s, CPU {c:.1f} s = {w / n_ref * 1e6:.1f} µs a parcel "
            f"(CPU {c / n_ref * 1e6:.1f} µs)"
            for th, (w, c) in ref_times.items()
        )
        + f"; reading the files (not in these times) CPU {ref_read:.1f} s = "
        f"{ref_read / n_ref * 1e6:.1f} µs a parcel; load average "
        f"{load:.1f}→{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        "one plain process reading, scoring and writing the same files one by one on 1 "
        f"thread (no dask): read {per_file[0]:.2f} + score {per_file[1]:.2f} + write "
        f"{per_file[2]:.2f} = {per_file.sum():.2f} CPU µs a parcel",
        flush=True,
    )
    # µs a parcel of the in-memory path on each thread count: (wall, CPU).
    ref_per = {th: (w / n_ref * 1e6, c / n_ref * 1e6) for th, (w, c) in ref_times.items()}

    def vs_memory(n_workers: int, per: float, per_cpu: float, per_work: float) -> str:
        # Wall time against the in-memory path on as many cores (threads) as workers; CPU
        # and work against both thread counts: per-parcel cost is CPU, and which of the two
        # in-memory runs is cheaper depends on their chunks (see benchmarks/README.md).
        wall_ref = ref_per[max(th for th in ref_per if th <= max(n_workers, 1))][0]
        cost = ", ".join(
            f"{per_cpu / c:.2f}× / work {per_work / c:.2f}× the {th}-thread CPU"
            for th, (_, c) in ref_per.items()
        )
        return f"wall {per / wall_ref:.2f}× the same cores; CPU {cost}"

    meta = expected.iloc[:0]

    rows = []
    runs = [None] if args.scheduler else [int(x) for x in args.workers.split(",") if x]
    for w in runs:
        if args.scheduler:
            cluster = use_scheduler(args.scheduler)
            label = args.scheduler
        else:
            cluster = local_cluster(
                w, threads_per_worker=1, processes=True, memory_limit=args.memory_limit
            )
            label = f"{w} local worker(s)"
        with cluster as maybe_client:
            from distributed import default_client

            client = maybe_client or default_client()
            start_up = client.run(_warm_up).values()
            print(
                f"{label}: imports in each worker before timing, CPU "
                + ", ".join(f"{x:.2f}" for x in start_up)
                + " s (once per worker, not in the figures)",
                flush=True,
            )
            ddf = dask_geopandas.read_parquet(data)
            load0 = os.getloadavg()[0]
            with MemorySampler() as mem:
                # What the idle cluster and the sampler cost a second (heartbeats, event
                # loops): paid per second of wall time, so a loaded machine inflates it.
                c = tree_cpu_seconds()
                time.sleep(args.idle)
                idle_rate = (tree_cpu_seconds() - c) / args.idle
                w0, k0 = _workers_cpu(client), _tasks(client)
                t, c = time.perf_counter(), tree_cpu_seconds()
                parts = score_to_parquet(
                    synthetic.score_parcels, ddf, out, layers, slope, meta=meta, overwrite=True
                )
                wall, cpu = time.perf_counter() - t, tree_cpu_seconds() - c
                w1, k1 = _workers_cpu(client), _tasks(client)
            load1 = os.getloadavg()[0]
            # Each process once: a LocalCluster's nannies live in this process (so do the
            # scheduler and the client); a remote cluster's nannies are not counted.
            peaks = dict(client.run(_pid_max_rss).values())
            if not args.scheduler:
                peaks.update(client.run(_pid_max_rss, nanny=True).values())
            peaks[os.getpid()] = max_rss_mb()
            n_workers = len(client.scheduler_info()["workers"])
            rank_step(args, label, client)
        hwm = sum(peaks.values())
        # Agreement: the reference rows are the first files and the last file.
        out_files = sorted(out.glob("*.parquet"), key=lambda f: int(f.stem.split(".")[1]))
        k = -(-n_ref // args.partition)
        sample = out_files[:k] if k >= len(out_files) else [*out_files[:k], out_files[-1]]
        got = pd.concat([pd.read_parquet(f) for f in sample])
        got = got.loc[expected.index]
        same = bool(np.array_equal(got.to_numpy(), expected.to_numpy(), equal_nan=True))
        work = cpu - idle_rate * wall
        per, per_cpu, per_work = wall / args.n * 1e6, cpu / args.n * 1e6, work / args.n * 1e6
        rows.append((n_workers, wall, cpu, per, per_cpu, per_work, mem.peak, hwm, same))
        workers_cpu = w1 - w0
        print(
            f"dask, {label} × 1 thread, {parts} partitions of {args.partition:,}: "
            f"{wall:.1f} s, CPU {cpu:.1f} s = {per:.1f} µs a parcel (CPU {per_cpu:.1f} µs): "
            f"workers {workers_cpu:.1f} s (reading, scoring, writing), the rest (this "
            f"process: client, scheduler, nannies, sampler) {cpu - workers_cpu:.1f} s; "
            "vs in memory: "
            f"{vs_memory(n_workers, per, per_cpu, per_work)}; idle cluster "
            f"{idle_rate:.3f} CPU s a second, so the work took {work:.1f} CPU s = "
            f"{per_work:.1f} µs a parcel; peak RSS of all local processes "
            f"{mem.peak:,.0f} MB sampled, {hwm:,.0f} MB summed high-water marks; "
            f"{len(expected):,} parcels identical to in-memory: {same}; tasks run "
            f"{k1[0] - k0[0]:,} (layers included), data sent between workers "
            f"{k1[1] - k0[1]:,} times, {(k1[2] - k0[2]) / 2**20:,.0f} MB; load average "
            f"{load0:.1f}→{load1:.1f}",
            flush=True,
        )

    print()
    print(f"N = {args.n:,}, partitions of {args.partition:,}; in memory on {n_ref:,} parcels")
    ths = list(ref_per)
    print(
        "workers   wall s    CPU s  µs/parcel  CPU µs/parcel  work µs/parcel"
        "  peak MB (sampled / high-water)  wall vs in memory on as many threads  "
        + "  ".join(f"CPU, work vs {th} thread(s)" for th in ths)
        + "  work vs in memory + read ("
        + " / ".join(f"{th} thread(s)" for th in ths)
        + ")  work vs plain files  identical"
    )
    read_per = ref_read / n_ref * 1e6
    for n_workers, wall, cpu, per, per_cpu, per_work, peak, hwm, same in rows:
        wall_ref = ref_per[max(th for th in ths if th <= max(n_workers, 1))][0]
        print(
            f"{n_workers:>7} {wall:8.1f} {cpu:8.1f} {per:10.1f} {per_cpu:14.1f} "
            f"{per_work:15.1f} {peak:9,.0f} / {hwm:,.0f}   {per / wall_ref:.2f}×   "
            + "   ".join(
                f"{per_cpu / ref_per[th][1]:.2f}×, {per_work / ref_per[th][1]:.2f}×" for th in ths
            )
            + "   "
            + " / ".join(f"{per_work / (ref_per[th][1] + read_per):.2f}×" for th in ths)
            + f"   {per_work / per_file.sum():.2f}×   {same}"
        )
    if len(rows) > 1:
        print(
            "wall time, "
            + ", ".join(f"{r[0]} worker(s) {r[1]:.1f} s" for r in rows)
            + f": {rows[0][1] / rows[-1][1]:.2f}× faster with {rows[-1][0]}"
        )
    for th, (w, c) in ref_per.items():
        print(
            f"in memory, {th} thread(s): {w:.1f} µs/parcel, CPU {c:.1f} µs/parcel "
            f"(+ {ref_read / n_ref * 1e6:.1f} µs CPU to read the files), peak {ref_peak:,.0f} MB"
        )
    print(f"results: {out}")


if __name__ == "__main__":
    main()

"""Scoring beyond one machine: the same per-site function over a partitioned parcel file.

A national parcel file does not fit in memory, but every measure of foncier depends only
on the site and the layers, so a ``dask_geopandas.GeoDataFrame`` can be scored partition by
partition with the very function used in memory (for instance ``foncier.score``), on the
local threads, a :func:`local_cluster` or any ``dask.distributed`` cluster. The layers are
put in the task graph once (one ``dask.delayed`` key), so each worker receives them once
instead of once per partition. Each partition is read, scored and written by one task (see
:func:`fuse_partitions`): no partition travels between workers. Results are identical to
the in-memory run.

The scheduler is, in this order: the ``scheduler`` argument (``"synchronous"``,
``"threads"``, ``"processes"`` or a ``dask.distributed`` address such as
``"tcp://scheduler:8786"``), the active ``dask.distributed`` client, the address in dask's
configuration (``DASK_SCHEDULER_ADDRESS`` in the environment, or ``scheduler-address`` in a
dask YAML file), else dask's threads.

``dask``, ``dask_geopandas`` and ``distributed`` are optional (``pip install
foncier[dask]``) and imported only when these functions are called.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from layers.arguments import check_int
from layers.errors import ArgumentError, MissingDependencyError, OutputError

if TYPE_CHECKING:
    from pathlib import Path

    import dask_geopandas
    import distributed
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "fuse_partitions",
    "local_cluster",
    "map_sites",
    "measure_partitioned",
    "measure_to_parquet",
    "partition_sites",
    "score_dask",
    "score_to_parquet",
    "use_scheduler",
]

log = logging.getLogger(__name__)


def _require_dask() -> None:
    try:
        import dask  # noqa: F401
        import dask_geopandas  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "scoring a partitioned GeoDataFrame needs dask and dask-geopandas: "
            "install them with `pip install foncier[dask]`."
        ) from exc


def partition_sites(sites: gpd.GeoDataFrame, *, npartitions: int) -> dask_geopandas.GeoDataFrame:
    """Split an in-memory GeoDataFrame of sites into a dask GeoDataFrame.

    Parameters
    ----------
    sites : GeoDataFrame
        Candidate sites (any CRS; the measures check it).
    npartitions : int
        Number of partitions (>= 1).

    Returns
    -------
    dask_geopandas.GeoDataFrame
        The same rows, index and CRS, in ``npartitions`` partitions.
    """
    _require_dask()
    import dask_geopandas

    check_int(npartitions, "npartitions", minimum=1)
    return dask_geopandas.from_geopandas(sites, npartitions=npartitions)


class _Lineage:
    """The tasks that make one partition of a dask frame, run by one task of a fused frame."""

    def __init__(self, graph: dict[Any, Any], key: Any) -> None:
        self.graph, self.key = graph, key

    def __dask_tokenize__(self) -> tuple[str, Any]:
        # The key names the partition and its whole lineage (dask keys are tokens of their
        # inputs): no need to hash the data a graph of in-memory partitions holds.
        return ("foncier-lineage", self.key)


def _run_lineage(lineage: _Lineage) -> Any:
    import dask

    return dask.get(lineage.graph, lineage.key)


def fuse_partitions(sites: dask_geopandas.GeoDataFrame) -> dask_geopandas.GeoDataFrame:
    """The same partitions, each made inside the task that consumes it.

    ``dask_geopandas.read_parquet`` (and any frame built from a materialised graph) gives
    partitions whose reading is a task of its own: dask then runs reading, scoring and
    writing a partition as separate tasks, holds read partitions in memory until they are
    scored, and its work stealing moves read partitions (a 100,000-parcel GeoDataFrame is
    15 MB, about 0.2 CPU s to send and rebuild) between workers. Here each partition's own
    tasks (reading the file, ``to_crs`` …) are run inside one task, which dask fuses with
    the per-partition function and the write that follow: one task a partition, nothing
    but its result leaves the worker.

    Partitions are fused only when their lineages share no task (a file read, an
    in-memory partition, a per-partition transform): a shared task (a shuffle, a
    repartition mixing partitions) would be recomputed for each partition, so such a frame
    is returned unchanged.

    Parameters
    ----------
    sites : dask_geopandas.GeoDataFrame
        Partitioned sites (e.g. ``dask_geopandas.read_parquet(folder)``).

    Returns
    -------
    dask_geopandas.GeoDataFrame
        The same partitions (rows, index, dtypes, divisions), one task each.
    """
    _require_dask()
    import dask
    import dask.dataframe as dd
    from dask.optimization import cull

    sites = sites.optimize()
    graph = dict(sites.__dask_graph__())
    keys = sites.__dask_keys__()
    lineages: list[_Lineage] = []
    seen: set[Any] = set()
    for key in keys:
        sub, _ = cull(graph, [key])
        if seen & sub.keys():
            log.debug("partitions share tasks: left unfused")
            return sites
        seen |= sub.keys()
        lineages.append(_Lineage(sub, key))
    # The partitions come out as the original tasks make them: no second string
    # conversion of their columns.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_map(
            _run_lineage,
            lineages,
            meta=sites._meta,
            divisions=sites.divisions,
            label="sites",
            enforce_metadata=False,
        )


def _apply(
    partition: gpd.GeoDataFrame,
    payload: Any,
    score_func: Callable[..., Any],
) -> Any:
    args, kwargs = payload
    return score_func(partition, *args, **kwargs)


def _active_client() -> Any:
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


_NAMED_SCHEDULERS = ("synchronous", "sync", "single-threaded", "threads", "processes")


@contextlib.contextmanager
def use_scheduler(scheduler: str | None = None) -> Iterator[None]:
    """Run the dask computations of a ``with`` block on the given scheduler.

    Parameters
    ----------
    scheduler : str, optional
        ``"synchronous"``, ``"threads"`` or ``"processes"`` (dask's local schedulers), or
        the address of a ``dask.distributed`` scheduler (``"tcp://host:8786"``, or any
        address ``distributed.Client`` accepts): a client is connected for the block and
        disconnected after it (the cluster keeps running). ``None`` keeps the active
        ``dask.distributed`` client if there is one, else connects to dask's configured
        ``scheduler-address`` (environment variable ``DASK_SCHEDULER_ADDRESS``) if set,
        else leaves dask's default (threads).

    Raises
    ------
    ArgumentError
        When ``scheduler`` is neither a local scheduler name nor an address.
    MissingDependencyError
        When an address is given and ``distributed`` is not installed.
    """
    _require_dask()
    import dask

    if scheduler is None:
        address = dask.config.get("scheduler-address", None)
        if _active_client() is not None or not address:
            yield
            return
        scheduler = str(address)
    if scheduler in _NAMED_SCHEDULERS:
        with dask.config.set(scheduler=scheduler):
            yield
        return
    if not isinstance(scheduler, str) or ("://" not in scheduler and ":" not in scheduler):
        raise ArgumentError(
            f"scheduler {scheduler!r} is neither one of {', '.join(_NAMED_SCHEDULERS)} "
            "nor a dask.distributed address such as 'tcp://scheduler:8786'"
        )
    try:
        from distributed import Client
    except ImportError as exc:
        raise MissingDependencyError(
            "a dask.distributed scheduler address needs the distributed package: "
            "`pip install foncier[dask]`."
        ) from exc
    log.info("connecting to the dask scheduler at %s", scheduler)
    with Client(scheduler, set_as_default=True):
        yield


def map_sites(
    func: Callable[..., gpd.GeoDataFrame | pd.DataFrame | pd.Series],
    sites: dask_geopandas.GeoDataFrame,
    *args: Any,
    meta: Any = None,
    **kwargs: Any,
) -> Any:
    """Apply a per-site function to every partition of a dask GeoDataFrame, lazily.

    ``func(partition, *args, **kwargs)`` must return a result aligned on the partition's
    index (a GeoDataFrame, DataFrame or Series), like every measure of foncier and
    ``foncier.score``. ``args`` and ``kwargs`` (the layers, the profile …) are shipped
    once: scattered to every worker when a ``dask.distributed`` client is active, else
    wrapped in one ``dask.delayed`` object (a single key of the graph).

    Parameters
    ----------
    func : callable
        Function scoring one in-memory partition. With a process-based cluster it must be
        picklable (a module-level function).
    sites : dask_geopandas.GeoDataFrame
        Partitioned candidate sites, in the CRS expected by ``func``.
    *args, **kwargs
        Passed to ``func`` after the partition.
    meta : optional
        Empty object of the result's type and columns. By default ``func`` is run once on
        the empty ``sites._meta``; if that fails, on the first row of the first partition
        (which computes that partition once).

    Returns
    -------
    dask DataFrame, GeoDataFrame or Series
        Lazy result with the sites' index, one task a partition when its partitions
        share no task (see :func:`fuse_partitions`). Use :func:`score_dask` or
        :func:`score_to_parquet`, or call ``.optimize().compute()``: a plain ``.compute()``
        does not fuse, and on ``dask.distributed`` it runs each step of a partition as a
        task of its own.
    """
    _require_dask()
    import dask

    client = _active_client()
    payload: Any
    if client is not None:
        # With a dask.distributed client the layers are scattered to every worker once,
        # instead of travelling inside the task graph. The future itself is the argument
        # of each partition task, resolved from the worker's own copy: a task wrapping it
        # would make one more key, copied again to every worker that runs a partition.
        payload = client.scatter([(args, kwargs)], broadcast=True)[0]
    else:
        payload = dask.delayed((args, kwargs), pure=True, traverse=False)
    if meta is None:
        meta = _infer_meta(func, sites, args, kwargs)
    # One task a partition: read, scored (and written, by the caller's next step) together.
    return fuse_partitions(sites).map_partitions(_apply, payload, score_func=func, meta=meta)


def _infer_meta(
    func: Callable[..., Any],
    sites: dask_geopandas.GeoDataFrame,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    try:
        return func(sites._meta, *args, **kwargs)
    except Exception as exc:  # any failure on 0 rows: fall back to one real row
        log.debug("meta from the empty frame failed (%s); using the first row", exc)
    head = sites.partitions[0].compute().head(1)
    return func(head, *args, **kwargs).iloc[:0]


def score_dask(
    func: Callable[..., gpd.GeoDataFrame | pd.DataFrame | pd.Series],
    sites: dask_geopandas.GeoDataFrame,
    *args: Any,
    scheduler: str | None = None,
    meta: Any = None,
    **kwargs: Any,
) -> Any:
    """Score a partitioned GeoDataFrame and collect the result in memory.

    Same as ``map_sites(func, sites, *args, **kwargs).compute()`` on ``scheduler``.

    Parameters
    ----------
    func : callable
        Per-partition function, e.g. ``foncier.score``.
    sites : dask_geopandas.GeoDataFrame
        Partitioned candidate sites.
    *args, **kwargs
        Passed to ``func`` (layers, profile …), shipped once.
    scheduler : str, optional
        Local scheduler name or ``dask.distributed`` address (see :func:`use_scheduler`).
    meta : optional
        See :func:`map_sites`.

    Returns
    -------
    GeoDataFrame, DataFrame or Series
        The concatenated result, indexed like the sites, equal to ``func`` run on all the
        sites in memory.
    """
    with use_scheduler(scheduler):
        return _fused(map_sites(func, sites, *args, meta=meta, **kwargs)).compute()


def score_to_parquet(
    func: Callable[..., pd.DataFrame],
    sites: dask_geopandas.GeoDataFrame,
    path: str | Path,
    *args: Any,
    meta: Any = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    **kwargs: Any,
) -> int:
    """Score a partitioned GeoDataFrame and write the result partition by partition.

    Nothing is gathered in this process: each worker reads its partition, scores it and
    writes ``part.N.parquet`` under ``path`` (the rows of partition ``N``, with their
    index), so memory stays that of a few partitions whatever the number of sites (a
    national parcel file).

    Parameters
    ----------
    func : callable
        Per-partition function returning a DataFrame aligned on the partition (e.g. a
        function calling the measures, or ``foncier.score`` without its geometry column).
    sites : dask_geopandas.GeoDataFrame
        Partitioned candidate sites (e.g. ``dask_geopandas.read_parquet(folder)``).
    path : str or Path
        Output folder (a parquet dataset, one file per partition); it may be any
        fsspec URL the workers can write to (``s3://…``) on a remote cluster.
    *args, **kwargs
        Passed to ``func`` after the partition (layers, profile …), shipped once.
    meta : optional
        See :func:`map_sites`.
    scheduler : str, optional
        Local scheduler name or ``dask.distributed`` address (see :func:`use_scheduler`).
    overwrite : bool
        Replace an existing, non-empty output folder. By default such a folder is an
        error, so that files of an earlier, larger run are never mixed with these.

    Returns
    -------
    int
        Number of partitions (and files) written.

    Raises
    ------
    OutputError
        When ``path`` exists, is not empty and ``overwrite`` is false.
    """
    _require_dask()
    _check_output(path, overwrite=overwrite)
    with use_scheduler(scheduler):
        lazy = map_sites(func, sites, *args, meta=meta, **kwargs)
        # Each partition writes its own schema: object columns (names of the nearest
        # features) cannot be typed from an empty meta. No _metadata file: it would gather
        # every partition's footer in this process.
        write = lazy.to_parquet(
            str(path),
            write_index=True,
            schema=None,
            overwrite=overwrite,
            write_metadata_file=False,
            compute=False,
        )
        _fused(write).compute()
    return int(lazy.npartitions)


def _fused(lazy: Any) -> Any:
    """``lazy`` with its per-partition steps fused: one task a partition.

    ``compute`` optimises a dask frame without fusing its blockwise steps (the
    ``dask.distributed`` scheduler then runs, and may move between workers, each step of a
    partition as a task of its own); this fuses them (with :func:`fuse_partitions`,
    reading included) before the graph leaves this process.
    """
    return lazy.optimize(fuse=True)


def _check_output(path: str | Path, *, overwrite: bool) -> None:
    import fsspec

    fs, target = fsspec.core.url_to_fs(str(path))
    if not overwrite and fs.exists(target):
        if not fs.isdir(target):
            raise OutputError(f"{path} exists and is not a folder: give a folder for the results")
        if fs.ls(target):
            raise OutputError(
                f"{path} is not empty: give an empty or new folder, or overwrite=True to "
                "replace it (its files would otherwise mix with the new ones)"
            )


def _raw_table(
    partition: gpd.GeoDataFrame, measure: Callable[..., Any], *args: Any
) -> pd.DataFrame:
    """Raw measures of one partition as one flat table (``v:``, ``n:``, ``x:`` columns)."""
    return _flatten(partition, measure(partition, *args))


def _flatten(partition: gpd.GeoDataFrame, raw: Any) -> pd.DataFrame:
    """The measures ``raw`` of ``partition`` as one flat table (see :func:`_raw_table`)."""
    import pandas as pd

    parts = [
        # The tie-break's last key is the ``site_id`` column when the sites have one.
        *([partition[["site_id"]]] if "site_id" in partition.columns else []),
        raw.values.add_prefix("v:"),
        raw.nearest.add_prefix("n:"),
        raw.exclusion_values.add_prefix("x:"),
        raw.area_m2.rename("area_m2").to_frame(),
    ]
    return pd.concat(parts, axis=1)


def _sites_and_table(
    partition: gpd.GeoDataFrame, mark: str, measure: Callable[..., Any], *args: Any
) -> gpd.GeoDataFrame:
    """The sites of ``partition`` and their flat table of measures (columns ``mark`` + name)."""
    return _concat_columns(partition, _raw_table(partition, measure, *args).add_prefix(mark))


def _concat_columns(sites: gpd.GeoDataFrame, table: pd.DataFrame) -> gpd.GeoDataFrame:
    import pandas as pd

    return pd.concat([sites, table], axis=1)


def _probe(
    sites: dask_geopandas.GeoDataFrame, measure: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[Any, pd.DataFrame]:
    """The measures of the first site, and the empty flat table that types the results."""
    head = sites.partitions[0].compute().head(1)
    probe = measure(head, *args)
    return probe, _flatten(head, probe).iloc[:0]


def measure_partitioned(
    sites: dask_geopandas.GeoDataFrame,
    measure: Callable[..., Any],
    *args: Any,
    scheduler: str | None = None,
) -> tuple[Any, gpd.GeoDataFrame, dict[str, Any]]:
    """Run a raw-measure function partition by partition and gather its tables in memory.

    The costly part of scoring (distances, overlaps, zonal statistics) runs on the workers,
    with the layers shipped once; the caller then transforms, excludes, aggregates and ranks
    over all the sites, so ranks and ``why`` sentences are global, not per partition.
    :func:`foncier.score` calls this when it is given a ``dask_geopandas.GeoDataFrame``.

    Parameters
    ----------
    sites : dask_geopandas.GeoDataFrame
        Partitioned candidate sites in a projected CRS (metres), unique index.
    measure : callable
        ``measure(partition, *args)`` returning an object with ``values``, ``nearest``,
        ``exclusion_values`` (DataFrames) and ``area_m2`` (Series) aligned on the partition.
    *args
        Passed to ``measure`` (the layers and the profile).
    scheduler : str, optional
        Local scheduler name or ``dask.distributed`` address (see :func:`use_scheduler`).

    Returns
    -------
    probe : object
        ``measure`` run on the first site: which rules are skipped depends only on the layers.
    sites : GeoDataFrame
        The sites in memory.
    tables : dict
        ``values``, ``nearest``, ``exclusion_values`` (DataFrames with the probe's dtypes) and
        ``area_m2`` (Series), indexed like ``sites``.
    """
    _require_dask()
    # The sites come back with their measures, from the same task: each partition is read
    # once. The measures' columns get a prefix no column of the sites starts with.
    mark = "_measure:"
    while any(str(c).startswith(mark) for c in sites.columns):
        mark = "_" + mark
    with use_scheduler(scheduler):
        probe, meta = _probe(sites, measure, args)
        both_meta = _concat_columns(sites._meta, meta.add_prefix(mark))
        lazy = map_sites(_sites_and_table, sites, mark, measure, *args, meta=both_meta)
        both = _fused(lazy).compute()
    computed = both[list(sites.columns)]
    table = both[[c for c in both.columns if str(c).startswith(mark)]]
    table = table.rename(columns=lambda c: c[len(mark) :])

    def block(prefix: str, like: pd.DataFrame) -> pd.DataFrame:
        # Dask may store text as pyarrow strings: give back the in-memory dtypes.
        cols = [c for c in table.columns if c.startswith(prefix)]
        out = table[cols].rename(columns=lambda c: c[len(prefix) :])
        return out.astype(like.dtypes.to_dict())

    tables = {
        "values": block("v:", probe.values),
        "nearest": block("n:", probe.nearest),
        "exclusion_values": block("x:", probe.exclusion_values),
        "area_m2": table["area_m2"].astype(float),
    }
    return probe, computed, tables


def measure_to_parquet(
    sites: dask_geopandas.GeoDataFrame,
    path: str | Path,
    measure: Callable[..., Any],
    *args: Any,
    scheduler: str | None = None,
    overwrite: bool = False,
) -> int:
    """Write the raw measures of every partition to its own file, gathering nothing.

    The national path: ``measure(partition, *args)`` (typically
    :func:`foncier.engine.scoring.measure_criteria` with the layers and a loaded profile)
    runs on each partition in its worker, and its tables are written as ``part.N.parquet``
    under ``path``. Columns: ``v:RULE`` (raw value: metres, shares 0..1, degrees …),
    ``n:RULE`` (name of the nearest feature, for distance rules), ``x:RULE`` (exclusion
    rule values), ``area_m2`` and ``site_id`` when the sites have it, indexed like the
    sites; ``_foncier.json`` records the profile and the rules skipped for want of a layer.
    :func:`foncier.engine.national.score_measures_parquet` then scores and ranks all the
    sites from these columns, partition by partition.

    Parameters
    ----------
    sites : dask_geopandas.GeoDataFrame
        Partitioned candidate sites in the layers' projected CRS (metres), unique index.
    path : str or Path
        Output folder (local, shared or any fsspec URL the workers can write to).
    measure : callable
        ``measure(partition, *args)`` returning an object with ``values``, ``nearest``,
        ``exclusion_values`` (DataFrames) and ``area_m2`` (Series) aligned on the partition.
    *args
        Passed to ``measure`` (the layers and the profile), shipped once to each worker.
    scheduler : str, optional
        Local scheduler name or ``dask.distributed`` address (see :func:`use_scheduler`).
    overwrite : bool
        Replace an existing, non-empty output folder (see :func:`score_to_parquet`).

    Returns
    -------
    int
        Number of partitions (and files) written.

    Examples
    --------
    >>> from foncier.engine.profiles import load_profile
    >>> from foncier.engine.scoring import measure_criteria
    >>> profile = load_profile("logistique-multimodale")
    >>> measure_to_parquet(parcels, "s3://bucket/mesures/", measure_criteria, layers,
    ...                    profile, scheduler="tcp://scheduler:8786")  # doctest: +SKIP
    """
    _require_dask()
    _check_output(path, overwrite=overwrite)
    with use_scheduler(scheduler):
        probe, meta = _probe(sites, measure, args)
        count = score_to_parquet(
            _raw_table, sites, path, measure, *args, meta=meta, overwrite=overwrite
        )
    _write_measures_record(path, probe, args)
    return count


#: File of a measured dataset recording its profile and the rules skipped (no layer).
MEASURES_RECORD = "_foncier.json"


def _write_measures_record(path: str | Path, probe: Any, args: tuple[Any, ...]) -> None:
    """Write which rules were skipped (the same for every partition: it depends on the layers)."""
    import json

    import fsspec

    profile = next((a for a in args if hasattr(a, "criteria") and hasattr(a, "id")), None)
    record = {
        "profile": getattr(profile, "id", None),
        "criteria_skipped": list(getattr(probe, "criteria_skipped", ())),
        "exclusions_skipped": list(getattr(probe, "exclusions_skipped", ())),
    }
    fs, target = fsspec.core.url_to_fs(str(path))
    with fs.open(f"{target.rstrip('/')}/{MEASURES_RECORD}", "w") as f:
        json.dump(record, f, ensure_ascii=False, indent=1)


def local_cluster(
    n_workers: int = 2,
    *,
    threads_per_worker: int = 1,
    processes: bool = True,
    **kwargs: Any,
) -> distributed.Client:
    """Start a ``dask.distributed`` cluster on this machine and return its client.

    The client owns the cluster: closing it (or leaving a ``with`` block) stops the workers.
    While it is open, it is the default scheduler of :func:`score_dask`. Dask's own upkeep
    is cut for the measures: no statistical profiler in the workers, the event-loop
    watchdog ticks every second and the system monitor (dashboard figures) runs every 5 s;
    memory checks keep dask's defaults.

    Parameters
    ----------
    n_workers : int
        Number of workers.
    threads_per_worker : int
        Threads per worker (1 suits the numpy/GEOS work of the measures); with
        ``processes``, the measures inside a worker use that many threads
        (``settings.threads``, set in each worker, and ``FONCIER_THREADS`` in its
        environment).
    processes : bool
        Workers in separate processes (true parallelism) or threads of this process.
    **kwargs
        Passed to ``distributed.LocalCluster`` (e.g. ``memory_limit="4GB"``).

    Returns
    -------
    distributed.Client
    """
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError(
            "a local cluster needs the distributed package: `pip install foncier[dask]`."
        ) from exc
    import dask

    kwargs.setdefault("dashboard_address", None)
    # Dask parallelises over partitions: the measures inside a worker use its threads only.
    if processes:
        kwargs["env"] = {"FONCIER_THREADS": str(threads_per_worker), **kwargs.get("env", {})}
    # dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in the workers (and in this process's
    # environment): glibc then maps and unmaps every large array, and the measures, which
    # make many temporary numpy arrays, run 1.7x slower. Unset it for these workers.
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ["MALLOC_TRIM_THRESHOLD_"] = None
    if os.environ.get("MALLOC_TRIM_THRESHOLD_") == "65536":
        del os.environ["MALLOC_TRIM_THRESHOLD_"]
    # dask's statistical profiler samples every busy worker's stack every 10 ms: about 5 %
    # of a worker's CPU on the measures (more on a loaded machine). Off for these workers.
    # The event-loop watchdog (a tick every 20 ms) and the system monitor (dashboard
    # figures every 0.5 s) wake every process of the cluster, scheduler and nannies
    # included: an idle cluster of 1 worker used 0.043 CPU s a second, 0.014 with a tick a
    # second and a monitor every 5 s (2 workers: 0.059 and 0.026). Memory checks (spilling,
    # pausing, restarting a worker) keep their own 0.1 s period.
    config = {
        "distributed.nanny.pre-spawn-environ": environ,
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "5s",
    }
    with dask.config.set(config):
        client = distributed.Client(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=processes,
            **kwargs,
        )
    if processes:
        # The environment variable reaches a worker only after it has imported the main
        # module (and with it, often, foncier's settings): set the value in each worker.
        from foncier.engine.dask_workers import MeasureThreads

        value = str(kwargs["env"]["FONCIER_THREADS"]).strip()
        threads = int(value) if value.isdigit() else threads_per_worker
        try:
            client.register_plugin(MeasureThreads(threads))
        except BaseException:
            client.close()
            raise
    return client

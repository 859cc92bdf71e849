"""National ranking: score and rank every site of a measured dataset, gathering nothing.

:func:`foncier.engine.distributed.measure_to_parquet` writes the raw measures of all of
France's parcels partition by partition. :func:`score_measures_parquet` turns them into the
columns of :func:`foncier.score` (criterion scores, total score, exclusions, tie-break values,
**national** rank and ex-aequo flags), again partition by partition, with the same functions
as the in-memory path, so the results are the same floats and the same ranks.

Most of the work depends on one site only and runs on each partition as it is. Three things
depend on all the sites: the relative transforms (``percentile``: the site's mid-rank among
all known values; ``minmax``: the global minimum and maximum), the tie-break quantile of every
criterion (a mid-rank over all the sites), and the rank (one plus the number of ranked sites
ordered before the site by the rule of :mod:`foncier.engine.ties`). Minimum and maximum are
reductions. Mid-ranks and ranks need, for each site, exact counts of the sites with a smaller
key and with an equal one; they come from a distributed sort by regular sampling (PSRS):

1. each partition sorts its keys (made unique by appending the site's position, so that a
   million equal values still split evenly), writes them to a scratch file and returns a
   few regularly spaced samples;
2. the samples (partitions × samples, not sites) give splitters cutting the key range into
   as many buckets as there are partitions, each of about one partition's size;
3. each partition finds where the splitters fall in its sorted keys;
4. each bucket reads its slice of every partition's scratch file (memory-mapped: only the
   slice is read), sorts it and writes, per site, its place in the bucket and the start and
   length of its run of equal keys;
5. the bucket sizes and the runs that cross a bucket boundary (a handful of numbers per
   bucket) give every site its global counts, read back by its own partition.

No task holds more than about one partition and one bucket (a bucket is at most about twice
the largest partition with regular sampling, each partition giving as many samples as there
are partitions, up to 1,024), and the calling process holds per-partition and per-bucket
figures only (samples, and partitions × buckets bounds: 8 MB a sort for 1,000 partitions),
whatever the number of sites. A full shuffle (``dask.dataframe.sort_values``) would reach the
same counts, but on the local schedulers it keeps every shuffled piece in one process; here the
pieces are files. The scratch files live next to the output folder: on a cluster of several
machines, give a folder every worker sees at the same path (a shared file system).

Each measured partition file is read twice, each time only the columns needed (the first
round the criteria's raw values, the second those and the exclusion values, nearest names,
areas and ``site_id``); the second round keeps its scored table for the third as an
uncompressed Arrow file among the scratch files, which the third reads memory-mapped,
completes with the rank and ex-aequo columns and writes as the result's parquet file.

The output folder holds ``part.N.parquet`` (the rows of measured partition ``N``, same
index), ``_top.parquet`` (the ``top_n`` best sites with their ``why`` sentence) and
``_summary.json`` (the metadata of :func:`foncier.score`, diagnostics included). It is
written in a temporary folder and renamed at the end: nothing half-written is left behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foncier.engine.diagnostics import TOLERANCE, RankingDiagnostics, diagnostics_from_stats
from foncier.engine.profiles import Profile, load_profile
from foncier.engine.scoring import (
    RawMeasures,
    active_criteria,
    criterion_scores,
    criterion_weights,
    raw_array,
    score_metadata,
    scored_columns,
    warn_missing,
    why_sentences,
)
from foncier.engine.ties import (
    SCORE_DECIMALS,
    TIEBREAK_DECIMALS,
    midrank_from_counts,
    round_key,
)
from foncier.engine.transforms import (
    closeness_key,
    minmax,
    percentile_from_counts,
    percentile_key,
)
from layers.arguments import check_int
from layers.errors import ArgumentError, OutputError, SchemaError

__all__ = ["NationalRanking", "score_measures_parquet"]

log = logging.getLogger(__name__)

#: Position of a site: partition number × 2³² + row in the partition (the sites' order).
_ROW_BITS = 32
#: Most samples a partition gives for the splitters.
_MAX_SAMPLES = 1024
_PART = re.compile(r"^part\.(\d+)\.parquet$")


@dataclass(frozen=True)
class NationalRanking:
    """What :func:`score_measures_parquet` wrote, and what it says about the ranking.

    Attributes
    ----------
    path : Path
        Output folder.
    n_partitions : int
        Number of ``part.N.parquet`` files written.
    n_sites, n_excluded, n_ranked : int
        Sites scored, excluded by a hard rule, and ranked.
    top : pandas.DataFrame
        The ``top_n`` best sites, best first, with their ``why`` sentence (also in
        ``_top.parquet``).
    diagnostics : RankingDiagnostics
        Whether the ranking singles out its top N (as :func:`foncier.score` says it).
    metadata : dict
        The ``attrs["foncier"]`` of :func:`foncier.score` (also in ``_summary.json``).
    """

    path: Path
    n_partitions: int
    n_sites: int
    n_excluded: int
    n_ranked: int
    top: pd.DataFrame
    diagnostics: RankingDiagnostics
    metadata: dict[str, Any] = field(repr=False)

    @property
    def message(self) -> str:
        """The diagnostics' verdict in French (a clear top N, or why there is none)."""
        return self.diagnostics.message


@dataclass(frozen=True)
class _Context:
    """What every task needs to know (small: shipped with each task)."""

    profile: Profile
    criteria: tuple[str, ...]
    exclusions: tuple[str, ...]
    nearest: tuple[str, ...]
    criteria_skipped: tuple[dict[str, Any], ...]
    exclusions_skipped: tuple[dict[str, Any], ...]
    has_site_id: bool
    scratch: str


# --- the measured dataset -------------------------------------------------------------------


def _measure_files(path: Path) -> list[Path]:
    if not path.is_dir():
        raise SchemaError(
            f"{path} is not a folder: give the folder written by "
            "foncier.engine.distributed.measure_to_parquet."
        )
    found = [(int(m.group(1)), p) for p in path.iterdir() if (m := _PART.match(p.name))]
    if not found:
        raise SchemaError(
            f"{path} holds no part.N.parquet file: it is not a measured dataset written by "
            "foncier.engine.distributed.measure_to_parquet."
        )
    return [p for _, p in sorted(found)]


def _read_record(path: Path) -> dict[str, Any] | None:
    from foncier.engine.distributed import MEASURES_RECORD

    record = path / MEASURES_RECORD
    if not record.exists():
        return None
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{record} is not readable JSON: {exc}") from exc
    return data if isinstance(data, dict) else None


def _context(path: Path, files: list[Path], prof: Profile, scratch: Path) -> _Context:
    import pyarrow.parquet as pq

    record = _read_record(path)
    skipped_c = tuple(record.get("criteria_skipped", ())) if record else ()
    skipped_e = tuple(record.get("exclusions_skipped", ())) if record else ()
    if record and record.get("profile") not in (None, prof.id):
        log.warning(
            "%s was measured for profile %r, scored here with %r",
            path,
            record.get("profile"),
            prof.id,
        )
    if prof.min_contiguous_area_m2 > 0:
        raise ArgumentError(
            f"profile {prof.id!r} has a minimum contiguous area: it needs the geometries of "
            "neighbouring sites, which a measured dataset does not hold; score it with "
            "foncier.score on a département instead."
        )
    skip_c = {s["id"] for s in skipped_c}
    skip_e = {s["id"] for s in skipped_e}
    need = {"area_m2"}
    need |= {f"v:{c.id}" for c in prof.criteria if c.id not in skip_c}
    need |= {f"x:{e.id}" for e in prof.exclusions if e.id not in skip_e}
    columns: set[str] | None = None
    for f in files:
        try:
            names = set(pq.read_schema(f).names)
        except Exception as exc:  # any unreadable footer: not a parquet file
            raise SchemaError(f"{f} is not a readable parquet file: {exc}") from exc
        missing = sorted(need - names)
        if missing:
            hint = (
                ""
                if record
                else f" (and no {path.name}/_foncier.json says those rules were skipped)"
            )
            raise SchemaError(
                f"{f.name} of {path} has no column {', '.join(missing)} for profile "
                f"{prof.id!r}{hint}: measure the sites for this profile with "
                "measure_to_parquet."
            )
        columns = names if columns is None else columns & names
    assert columns is not None
    criteria = tuple(c.id for c in prof.criteria if f"v:{c.id}" in columns)
    if not criteria:
        raise SchemaError(f"{path} has no measured criterion of profile {prof.id!r}.")
    return _Context(
        profile=prof,
        criteria=criteria,
        exclusions=tuple(e.id for e in prof.exclusions if f"x:{e.id}" in columns),
        nearest=tuple(c for c in criteria if f"n:{c}" in columns),
        criteria_skipped=skipped_c,
        exclusions_skipped=skipped_e,
        has_site_id="site_id" in columns,
        scratch=str(scratch),
    )


def _read_columns(file: str, ctx: _Context, *, values_only: bool = False) -> pd.DataFrame:
    """The columns of a measured partition this profile needs (the index comes with them).

    Only those columns are decoded: the first round needs the criteria's raw values, the
    second every rule's, the nearest names, the areas and ``site_id``.
    """
    columns = [f"v:{c}" for c in ctx.criteria]
    if not values_only:
        columns += [f"n:{c}" for c in ctx.nearest]
        columns += [f"x:{e}" for e in ctx.exclusions]
        columns += ["area_m2", *(["site_id"] if ctx.has_site_id else [])]
    return pd.read_parquet(file, columns=columns)


def _raw(frame: pd.DataFrame, ctx: _Context) -> RawMeasures:
    """The raw measures of one partition, as :func:`measure_criteria` gave them."""

    def block(prefix: str, ids: Sequence[str]) -> pd.DataFrame:
        return pd.DataFrame({i: frame[f"{prefix}{i}"] for i in ids}, index=frame.index)

    return RawMeasures(
        values=block("v:", ctx.criteria),
        nearest=block("n:", ctx.nearest),
        exclusion_values=block("x:", ctx.exclusions),
        area_m2=frame["area_m2"].astype(float),
        criteria_skipped=ctx.criteria_skipped,
        exclusions_skipped=ctx.exclusions_skipped,
        site_ids=frame["site_id"] if ctx.has_site_id else None,
    )


# --- the distributed sort -------------------------------------------------------------------


def _codes(col: np.ndarray) -> np.ndarray:
    """Sortable numbers for a column: itself, or text codes in code-point order."""
    if col.dtype.kind in "OUS":
        _, inverse = np.unique(col.astype(str), return_inverse=True)
        return inverse.ravel()
    return col


def _lexorder(cols: Sequence[np.ndarray], *, last: np.ndarray | None = None) -> np.ndarray:
    """Order by the first column, then the next … (then ``last``): ``np.lexsort`` order.

    Text columns are only compared where the numeric columns before them tie: coding a whole
    column of site ids is the costly part of the rank sort, and ties on the score and the
    tie-break value are few.
    """
    cols = [*cols, *([last] if last is not None else [])]
    k = next((i for i, c in enumerate(cols) if c.dtype.kind in "OUS"), len(cols))
    if k in (0, len(cols)):
        return np.lexsort([_codes(c) for c in reversed(cols)])
    order = np.lexsort(list(reversed(cols[:k])))
    lead = [c[order] for c in cols[:k]]
    same = np.logical_and.reduce([a[1:] == a[:-1] for a in lead])
    if same.any():
        in_run = np.zeros(len(order), dtype=bool)
        in_run[1:] |= same
        in_run[:-1] |= same
        idx = np.flatnonzero(in_run)
        run = np.cumsum(np.concatenate([[True], ~same]))[idx]
        sub = order[idx]
        rest = [_codes(c[sub]) for c in cols[k:]]
        order[idx] = sub[np.lexsort([*reversed(rest), run])]
    return order


def _order_by_keys(cols: Sequence[np.ndarray]) -> np.ndarray:
    """Order by the key columns, the last one (positions) left to the input's order.

    Every sort here has the sites' positions as its last column, and its input lists the
    sites with equal keys in ascending position (a partition's rows in order; a bucket's
    slices in partition order, each already sorted): a stable sort on the other columns
    gives the full order, much faster than ``np.lexsort`` with the positions.
    """
    if len(cols) == 2:
        return np.argsort(_codes(cols[0]), kind="stable")
    return _lexorder(cols[:-1])


def _sort_dir(ctx: _Context, name: str) -> Path:
    return Path(ctx.scratch) / name


def _write_sorted(
    ctx: _Context, name: str, part: int, cols: list[np.ndarray], n_samples: int
) -> dict[str, Any]:
    """Sort one partition's keys, write them, return their count and regular samples."""
    order = _order_by_keys(cols)
    folder = _sort_dir(ctx, name)
    folder.mkdir(parents=True, exist_ok=True)
    sorted_cols = [np.ascontiguousarray(c[order]) for c in cols]
    for k, c in enumerate(sorted_cols):
        np.save(folder / f"p{part}.c{k}.npy", c.astype(str) if c.dtype.kind == "O" else c)
    n = len(order)
    take = np.unique(np.linspace(0, n - 1, min(n, n_samples)).round().astype(np.int64))
    return {"n": n, "samples": [c[take] for c in sorted_cols]}


def _load(folder: Path, part: int, k: int) -> np.ndarray:
    return np.load(folder / f"p{part}.c{k}.npy", mmap_mode="r")


def _search_sorted(
    keys: np.ndarray, positions: np.ndarray, key: np.ndarray, pos: np.ndarray
) -> np.ndarray:
    """Where each (``key``, ``pos``) pair falls in sorted (``keys``, ``positions``) columns.

    Binary searches on the keys, then on the positions within each run of equal keys (they
    ascend there): one short search a pair, for a few pairs (splitters, top sites).
    """
    lo = np.searchsorted(keys, key, side="left")
    hi = np.searchsorted(keys, key, side="right")
    return np.asarray(
        [a + np.searchsorted(positions[a:b], p) for a, b, p in zip(lo, hi, pos, strict=True)],
        dtype=np.int64,
    )


def _splitter_offsets(ctx: _Context, name: str, part: int, splitters: list[np.ndarray]) -> Any:
    """Where each splitter falls in one partition's sorted keys: bucket bounds (B + 1)."""
    folder = _sort_dir(ctx, name)
    cols = [np.asarray(_load(folder, part, k)) for k in range(len(splitters))]
    n, s = len(cols[0]), len(splitters[0])
    if len(cols) == 2 and cols[0].dtype.kind != "U":
        # A key and the positions: binary searches (positions ascend within equal keys).
        where = _search_sorted(cols[0], cols[1], splitters[0], splitters[1])
        return np.concatenate([[0], where, [n]]).astype(np.int64)
    merged = [np.concatenate([c, sp]) for c, sp in zip(cols, splitters, strict=True)]
    # A splitter sorts before a site with the same key: bucket b = [splitter b-1, splitter b).
    flag = np.concatenate([np.ones(n, dtype=np.int8), np.zeros(s, dtype=np.int8)])
    order = _lexorder(merged, last=flag)
    where = np.flatnonzero(order >= n) - np.arange(s)
    return np.concatenate([[0], where, [n]]).astype(np.int64)


def _sort_bucket(
    ctx: _Context,
    name: str,
    bucket: int,
    starts: np.ndarray,
    stops: np.ndarray,
    group: int,
    n_cols: int,
) -> dict[str, Any]:
    """Merge one bucket's slices; write each site's place and run of equal keys in it."""
    folder = _sort_dir(ctx, name)
    parts = [i for i in range(len(starts)) if stops[i] > starts[i]]
    cols = [
        np.concatenate([np.asarray(_load(folder, i, k)[starts[i] : stops[i]]) for i in parts])
        for k in range(n_cols if parts else 0)
    ]
    size = len(cols[0]) if cols else 0
    result = np.zeros((size, 3), dtype=np.int64)
    meta: dict[str, Any] = {"size": size}
    if size:
        order = _order_by_keys(cols)
        keys = [c[order] for c in cols[:group]]
        new = np.ones(size, dtype=bool)
        new[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in keys])
        run_start = np.maximum.accumulate(np.where(new, np.arange(size), 0))
        run_id = np.cumsum(new) - 1
        run_len = np.bincount(run_id)[run_id]
        result[order, 0] = np.arange(size)
        result[order, 1] = run_start
        result[order, 2] = run_len
        meta.update(
            first=tuple(k[0].item() for k in keys),
            last=tuple(k[-1].item() for k in keys),
            first_run=int(run_len[0]),
            last_run=int(run_len[-1]),
        )
        np.save(folder / f"b{bucket}.sorted.npy", np.ascontiguousarray(cols[0][order]))
    np.save(folder / f"b{bucket}.result.npy", result)
    return meta


@dataclass(frozen=True)
class _SortPlan:
    """The figures a partition needs to read its global counts back (per bucket)."""

    name: str
    n_cols: int  # key columns, the sites' positions last
    offsets: np.ndarray  # (P, B + 1) bucket bounds in each partition's sorted keys
    before: np.ndarray  # (P, B) sites of earlier partitions in each bucket
    bucket_start: np.ndarray  # (B + 1,) global position of each bucket's first site
    sizes: np.ndarray  # (B,)
    earlier: np.ndarray  # (B,) sites equal to the bucket's first key in earlier buckets
    later: np.ndarray  # (B,) sites equal to its last key in later buckets


def _spill(
    metas: list[dict[str, Any]], sizes: np.ndarray, walk: range, end: str, other: str
) -> np.ndarray:
    """Sites equal to each bucket's ``end`` key in the buckets met before it along ``walk``.

    A loop over buckets (as many as partitions), not over sites: a neighbour's ``other`` end
    run counts, and its own spill too when its whole bucket is that one run.
    """
    out = np.zeros(len(metas), dtype=np.int64)
    prev: int | None = None
    for b in walk:
        if not sizes[b]:
            continue
        if prev is not None and metas[b][end] == metas[prev][other]:
            single = metas[prev]["first_run"] == sizes[prev]
            out[b] = metas[prev][f"{other}_run"] + (out[prev] if single else 0)
        prev = b
    return out


def _plan(name: str, n_cols: int, offsets: np.ndarray, metas: list[dict[str, Any]]) -> _SortPlan:
    counts = np.diff(offsets, axis=1)
    before = np.cumsum(counts, axis=0) - counts
    sizes = np.asarray([m["size"] for m in metas], dtype=np.int64)
    # A run of equal keys may span buckets: earlier buckets carry the first key's run, later
    # ones the last key's.
    earlier = _spill(metas, sizes, range(len(metas)), "first", "last")
    later = _spill(metas, sizes, range(len(metas) - 1, -1, -1), "last", "first")
    start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return _SortPlan(name, n_cols, offsets, before, start, sizes, earlier, later)


def _counts(ctx: _Context, plan: _SortPlan, part: int) -> tuple[np.ndarray, ...]:
    """Global (position, smaller, equal) counts of one partition's keys, in its row order."""
    folder = _sort_dir(ctx, plan.name)
    pos = np.asarray(_load(folder, part, plan.n_cols - 1))
    rows = (pos - (np.int64(part) << _ROW_BITS)).astype(np.int64)
    offsets = plan.offsets[part]
    pieces = []
    for b in np.flatnonzero(np.diff(offsets)):
        result = np.load(folder / f"b{b}.result.npy", mmap_mode="r")
        lo = plan.before[part, b]
        r = np.asarray(result[lo : lo + offsets[b + 1] - offsets[b]])
        first = r[:, 1] == 0
        last = r[:, 1] + r[:, 2] == plan.sizes[b]
        position = plan.bucket_start[b] + r[:, 0]
        below = plan.bucket_start[b] - np.where(first, plan.earlier[b], 0) + r[:, 1]
        equal = r[:, 2] + np.where(first, plan.earlier[b], 0) + np.where(last, plan.later[b], 0)
        pieces.append(np.stack([position, below, equal], axis=1))
    got = np.concatenate(pieces) if pieces else np.zeros((0, 3), dtype=np.int64)
    return rows, got[:, 0], got[:, 1], got[:, 2]


def _positions_of(
    ctx: _Context, plan: _SortPlan, part: int, key: np.ndarray, pos: np.ndarray
) -> np.ndarray:
    """Global positions of a few sites of one partition in a sort on (key, position).

    Binary searches in the partition's sorted keys (positions ascend within equal keys),
    then one row of a bucket's result per site: the files are memory-mapped, so only the
    pages searched and those rows are read, not the whole partition's counts.
    """
    folder = _sort_dir(ctx, plan.name)
    at = _search_sorted(_load(folder, part, 0), _load(folder, part, 1), key, pos)
    offsets = plan.offsets[part]
    bucket = np.searchsorted(offsets, at, side="right") - 1
    out = np.empty(len(at), dtype=np.int64)
    for b in np.unique(bucket):  # each bucket's file opened once, for its top sites
        sel = bucket == b
        result = np.load(folder / f"b{b}.result.npy", mmap_mode="r")
        out[sel] = plan.bucket_start[b] + result[plan.before[part, b] + at[sel] - offsets[b], 0]
    return out


def _value_at(ctx: _Context, plan: _SortPlan, position: int) -> float:
    """The first key of the site at a global position of a sort (one read)."""
    b = int(np.searchsorted(plan.bucket_start, position, side="right") - 1)
    folder = _sort_dir(ctx, plan.name)
    values = np.load(folder / f"b{b}.sorted.npy", mmap_mode="r")
    return float(values[position - plan.bucket_start[b]])


class _Rounds:
    """Computes each round's partition tasks, telling ``progress`` as each one ends.

    ``progress(step, done, total)`` counts partition tasks over the three rounds
    (``total`` = 3 × partitions): on dask's local schedulers through a callback run as each
    task ends, on a ``dask.distributed`` cluster as each task's future completes.
    """

    def __init__(self, n_parts: int, progress: Callable[[str, int, int], None] | None) -> None:
        self.total, self.progress, self.done = 3 * n_parts, progress, 0

    def compute(self, tasks: list[Any], step: str) -> list[Any]:
        import dask

        if self.progress is None:
            return list(dask.compute(*tasks))
        report = self.progress
        report(step, self.done, self.total)
        if dask.config.get("scheduler", None) == "dask.distributed":
            from distributed import as_completed, default_client

            client = default_client()
            futures = client.compute(tasks)
            for _ in as_completed(futures):
                self.done += 1
                report(step, self.done, self.total)
            return list(client.gather(futures))
        from dask.callbacks import Callback

        keys = {t.key for t in tasks}

        def posttask(key: Any, *_: Any) -> None:
            if key in keys:
                self.done += 1
                report(step, self.done, self.total)

        with Callback(posttask=posttask):
            return list(dask.compute(*tasks))


def _run_sorts(
    task_ctx: Any,
    firsts: list[dict[str, Any]],
    n_parts: int,
    groups: dict[str, int],
) -> dict[str, _SortPlan]:
    """Steps 2–5 of the module docstring for the sorts whose step 1 gave ``firsts``.

    ``task_ctx`` is the context as one ``dask.delayed`` key.
    """
    import dask

    # Every partition returns one sample array per key column, even when it has no site.
    n_cols = {name: len(firsts[0]["sorts"][name]["samples"]) for name in groups}
    splitters: dict[str, list[np.ndarray]] = {}
    for name in groups:
        samples = [f["sorts"][name]["samples"] for f in firsts if f["sorts"][name]["n"]]
        if not samples:
            splitters[name] = []
            continue
        cols = [np.concatenate([s[k] for s in samples]) for k in range(len(samples[0]))]
        order = _lexorder(cols)
        picks = np.unique(
            (np.arange(1, n_parts) * len(order) / n_parts).astype(np.int64).clip(0, len(order) - 1)
        )
        splitters[name] = [c[order[picks]] for c in cols]
    offset_tasks = {
        name: [
            dask.delayed(_splitter_offsets)(task_ctx, name, i, splitters[name])
            if firsts[i]["sorts"][name]["n"]
            else np.zeros(len(splitters[name][0]) + 2 if splitters[name] else 2, dtype=np.int64)
            for i in range(n_parts)
        ]
        for name in groups
        if splitters[name]
    }
    computed = dask.compute(offset_tasks)[0]
    offsets = {
        name: np.stack(computed[name])
        if name in computed
        else np.asarray(
            [[0, firsts[i]["sorts"][name]["n"]] for i in range(n_parts)], dtype=np.int64
        )
        for name in groups
    }
    bucket_tasks = {
        name: [
            dask.delayed(_sort_bucket)(
                task_ctx,
                name,
                b,
                offsets[name][:, b],
                offsets[name][:, b + 1],
                groups[name],
                n_cols[name],
            )
            for b in range(offsets[name].shape[1] - 1)
        ]
        for name in groups
    }
    metas = dask.compute(bucket_tasks)[0]
    return {name: _plan(name, n_cols[name], offsets[name], metas[name]) for name in groups}


# --- the per-partition steps ----------------------------------------------------------------


def _positions(part: int, n: int) -> np.ndarray:
    return (np.int64(part) << _ROW_BITS) + np.arange(n, dtype=np.int64)


def _first_round(ctx: _Context, file: str, part: int, n_parts: int) -> dict[str, Any]:
    """Read a partition: its size, minmax bounds, and the keys of the mid-rank sorts."""
    frame = _read_columns(file, ctx, values_only=True)
    prof = ctx.profile
    n = len(frame)
    pos = _positions(part, n)
    samples = min(_MAX_SAMPLES, n_parts + 1)
    out: dict[str, Any] = {"n": n, "bounds": {}, "known": {}, "sorts": {}}
    for j, c in enumerate(active_criteria(ctx.criteria, prof)):
        x = raw_array(frame[f"v:{c.id}"])
        key = closeness_key(x, c.transform)
        out["sorts"][f"tie{j}"] = _write_sorted(ctx, f"tie{j}", part, [key, pos], samples)
        kind = c.transform["kind"]
        if kind == "percentile":
            pk = percentile_key(x, direction=c.transform["direction"])
            known = ~np.isnan(pk)
            out["known"][c.id] = int(known.sum())
            out["sorts"][f"pct{j}"] = _write_sorted(
                ctx, f"pct{j}", part, [pk[known], pos[known]], samples
            )
        elif kind == "minmax":
            finite = np.asarray(x, dtype=float)
            finite = finite[np.isfinite(finite)]
            out["bounds"][c.id] = (
                (float(finite.min()), float(finite.max())) if len(finite) else (np.nan, np.nan)
            )
    return out


def _second_round(
    ctx: _Context,
    file: str,
    part: int,
    n_parts: int,
    n_sites: int,
    plans: dict[str, _SortPlan],
    bounds: dict[str, tuple[float, float]],
    known: dict[str, int],
) -> dict[str, Any]:
    """Score a partition with the global figures; start the rank and median sorts."""
    frame = _read_columns(file, ctx)
    raw = _raw(frame, ctx)
    prof = ctx.profile
    active = active_criteria(ctx.criteria, prof)
    n = len(frame)
    ties = np.zeros((n, len(active)))
    relative: dict[str, np.ndarray] = {}
    for j, c in enumerate(active):
        rows, _, below, equal = _counts(ctx, plans[f"tie{j}"], part)
        ties[rows, j] = midrank_from_counts(below, equal, n_sites)
        x = raw_array(raw.values[c.id])
        if c.transform["kind"] == "percentile":
            rows, _, below, equal = _counts(ctx, plans[f"pct{j}"], part)
            b_all, e_all = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
            b_all[rows], e_all[rows] = below, equal
            mask = ~np.isnan(percentile_key(x, direction=c.transform["direction"]))
            relative[c.id] = percentile_from_counts(b_all, e_all, known[c.id], mask)
        elif c.transform["kind"] == "minmax":
            relative[c.id] = minmax(x, direction=c.transform["direction"], bounds=bounds[c.id])
    scores = criterion_scores(raw, prof, relative=relative)
    table = scored_columns(raw, prof, criterion_weights(active), scores, ties)
    if ctx.has_site_id:
        table.insert(0, "site_id", frame["site_id"])
    # Placeholders the third round fills in, so that the scratch table already has the
    # result's columns and pandas metadata (their dtypes when read back with pandas).
    table["rank"] = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    table["ex_aequo"] = False
    _write_scored(ctx, part, table)

    ranked = ~table["excluded"].to_numpy(dtype=bool)
    pos = _positions(part, n)[ranked]
    samples = min(_MAX_SAMPLES, n_parts + 1)
    ids = raw.ids()[ranked]
    text = ids.astype(str)
    sorts = {
        "rank": _write_sorted(
            ctx,
            "rank",
            part,
            [
                -round_key(table["score"].to_numpy(dtype=float)[ranked], SCORE_DECIMALS),
                -round_key(table["tiebreak"].to_numpy(dtype=float)[ranked], TIEBREAK_DECIMALS),
                text,
                pos,
            ],
            samples,
        )
    }
    stats = {}
    for j, c in enumerate(active):
        s = table[f"{c.id}__score"].to_numpy(dtype=float)[ranked]
        sorts[f"med{j}"] = _write_sorted(ctx, f"med{j}", part, [s, pos], samples)
        stats[c.id] = {
            "at_min": int((s <= TOLERANCE).sum()),
            "at_max": int((s >= 1 - TOLERANCE).sum()),
            "min": float(s.min()) if len(s) else np.inf,
            "max": float(s.max()) if len(s) else -np.inf,
        }
    missing = raw.values[[c.id for c in active]].isna().sum()
    return {"n_ranked": int(ranked.sum()), "stats": stats, "sorts": sorts, "missing": missing}


def _scored_file(ctx: _Context, part: int) -> Path:
    return Path(ctx.scratch) / "scored" / f"p{part}.arrow"


def _write_scored(ctx: _Context, part: int, table: pd.DataFrame) -> None:
    """Keep a partition's scored table for the third round, as an Arrow IPC file.

    Uncompressed Arrow is written at the speed of a copy and read back memory-mapped,
    without decoding: the third round adds two columns and writes the result's parquet
    file from it, the only encoding of the table.
    """
    import pyarrow as pa

    arrow = pa.Table.from_pandas(table, preserve_index=True)
    path = _scored_file(ctx, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, arrow.schema) as writer:
        writer.write_table(arrow)


def _third_round(
    ctx: _Context, part: int, plans: dict[str, _SortPlan], out_dir: str, top_n: int
) -> dict[str, Any]:
    """Add the national rank and ex-aequo flag; write the partition's result file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pa.memory_map(str(_scored_file(ctx, part))) as source:
        table = pa.ipc.open_file(source).read_all()
        n = table.num_rows
        # The rank sort holds the partition's ranked (not excluded) sites only.
        rows, position, _, equal = _counts(ctx, plans["rank"], part)
        rank = np.zeros(n, dtype=np.int64)
        ties = np.zeros(n, dtype=np.int64)
        keep = np.zeros(n, dtype=bool)
        rank[rows] = position + 1
        ties[rows] = equal
        keep[rows] = True
        for name, values in (
            ("rank", pa.array(rank, mask=~keep)),
            ("ex_aequo", pa.array(ties > 1)),
        ):
            table = table.set_column(table.schema.get_field_index(name), name, values)
        pq.write_table(table, str(Path(out_dir) / f"part.{part}.parquet"))
        in_top = keep & (rank <= top_n)
        top = table.filter(pa.array(in_top)).to_pandas()
    top["_equal"] = ties[in_top]
    pos = _positions(part, n)[in_top]
    for j, c in enumerate(active_criteria(ctx.criteria, ctx.profile)):
        key = top[f"{c.id}__score"].to_numpy(dtype=float)
        top[f"_med{j}"] = _positions_of(ctx, plans[f"med{j}"], part, key, pos)
    return {"top": top}


# --- the public function --------------------------------------------------------------------


def _rest_median(ctx: _Context, plan: _SortPlan, top_positions: np.ndarray, n_rest: int) -> float:
    """Median of the sorted keys once the top sites' positions are left out (exact)."""
    if n_rest <= 0:
        return float("nan")
    skip = np.sort(top_positions)

    def position(k: int) -> int:
        p = k
        for t in skip:  # at most top_n positions
            if t <= p:
                p += 1
        return p

    middle = sorted({(n_rest - 1) // 2, n_rest // 2})
    values = np.asarray([_value_at(ctx, plan, position(k)) for k in middle])
    return float(np.median(values))


def score_measures_parquet(
    measures_path: str | Path,
    out_path: str | Path,
    profile: str | Path | Profile,
    *,
    top_n: int = 10,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> NationalRanking:
    """Score and rank every site of a measured dataset, partition by partition.

    Reads the ``part.N.parquet`` files written by
    :func:`foncier.engine.distributed.measure_to_parquet` (raw values ``v:RULE``, nearest
    names ``n:RULE``, exclusion values ``x:RULE``, ``area_m2``) and writes, for each, a
    ``part.N.parquet`` with the columns of :func:`foncier.score` for those sites:
    ``c__raw``, ``c__nearest``, ``c__score``, ``c__weight``, ``c__contrib``,
    ``c__tiebreak`` per criterion, ``score`` (0..100), ``tiebreak``, ``excluded``,
    ``exclusion_reasons``, ``rank`` (national: 1..number of ranked sites, unique,
    ``<NA>`` when excluded) and ``ex_aequo``. The values are the ones :func:`foncier.score`
    gives on all the sites in memory: relative transforms and tie-break quantiles are
    computed over all the sites, and the rank follows :mod:`foncier.engine.ties`. No
    process holds all the sites (see the module docstring for how).

    Parameters
    ----------
    measures_path : str or Path
        Folder written by ``measure_to_parquet`` (local, or a shared file system mounted at
        the same path on every worker).
    out_path : str or Path
        Output folder (same kind of file system); written in a temporary folder next to it
        and renamed when complete.
    profile : str, Path or Profile
        The profile the sites were measured for.
    top_n : int
        Number of best sites in ``_top.parquet`` (with their ``why`` sentence) and in the
        diagnostics.
    scheduler : str, optional
        ``"synchronous"``, ``"threads"``, ``"processes"`` or a ``dask.distributed``
        address (see :func:`foncier.engine.distributed.use_scheduler`).
    overwrite : bool
        Replace an existing, non-empty ``out_path``.
    progress : callable, optional
        ``progress(step, done, total)``, called as partitions are done: ``done`` of
        ``total`` partition tasks (three rounds over every partition file), ``step`` the
        round in French (``"lecture des valeurs brutes"``, ``"scores"``, ``"rangs
        nationaux"``), in the calling process.

    Returns
    -------
    NationalRanking
        Counts, the top sites, the diagnostics (whether anything separates the sites) and
        the metadata, also written as ``_top.parquet`` and ``_summary.json``.

    Raises
    ------
    SchemaError
        ``measures_path`` is not a measured dataset, lacks a column of the profile, or
        holds no site.
    OutputError
        ``out_path`` exists and is not empty, without ``overwrite``.
    ArgumentError
        Paths that are not local folders, ``out_path`` inside ``measures_path``, or a
        profile with a minimum contiguous area (it needs the sites' geometries).

    Examples
    --------
    >>> from foncier.engine.national import score_measures_parquet
    >>> ranking = score_measures_parquet("/shared/mesures/", "/shared/scores/",
    ...     "industrie-manufacturiere", scheduler="tcp://scheduler:8786")  # doctest: +SKIP
    >>> ranking.top[["rank", "score", "why"]]  # doctest: +SKIP
    """
    import dask

    from foncier.engine.distributed import _require_dask, use_scheduler

    _require_dask()
    top_n = check_int(top_n, "top_n", minimum=1)
    for p in (measures_path, out_path):
        if "://" in str(p) and not str(p).startswith("file://"):
            raise ArgumentError(
                f"{p}: the national ranking reads and writes local folders (on a cluster, a "
                "shared file system mounted at the same path on every worker)."
            )
    source = Path(str(measures_path).removeprefix("file://")).resolve()
    target = Path(str(out_path).removeprefix("file://")).resolve()
    if target == source or source in target.parents:
        raise ArgumentError(f"{out_path} is inside the measured dataset {measures_path}.")
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise OutputError(
            f"{out_path} exists and is not an empty folder: give a new folder, or "
            "overwrite=True (foncier rank-measures --overwrite) to replace it."
        )
    prof = load_profile(profile)
    files = _measure_files(source)
    work = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
    ctx = _context(source, files, prof, work / "scratch")
    out_dir = work / "out"
    n_parts = len(files)
    try:
        out_dir.mkdir(parents=True)
        with use_scheduler(scheduler):
            summary = _rank(ctx, files, out_dir, top_n, _Rounds(n_parts, progress), dask)
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        out_dir.rename(target)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    log.info(
        "%d sites ranked nationally over %d partitions: %s",
        summary.n_ranked,
        n_parts,
        summary.message,
    )
    return replace(summary, path=target)


def _rank(
    ctx: _Context, files: list[Path], out_dir: Path, top_n: int, rounds: _Rounds, dask: Any
) -> NationalRanking:
    """Score and rank every site into ``out_dir`` (the folder renamed when complete)."""
    prof = ctx.profile
    n_parts = len(files)
    # The criteria every partition scores, in the same order.
    active = active_criteria(ctx.criteria, prof)
    groups1 = {f"tie{j}": 1 for j in range(len(active))}
    groups1 |= {f"pct{j}": 1 for j, c in enumerate(active) if c.transform["kind"] == "percentile"}
    # The context goes in the graph once (one key): dask would otherwise walk the profile's
    # nested dataclasses for every task.
    task_ctx = dask.delayed(ctx, pure=True, traverse=False)
    first = [dask.delayed(_first_round)(task_ctx, str(f), i, n_parts) for i, f in enumerate(files)]
    firsts = rounds.compute(first, "lecture des valeurs brutes")
    plans1 = _run_sorts(task_ctx, firsts, n_parts, groups1)
    n_sites = sum(f["n"] for f in firsts)
    if not n_sites:
        raise SchemaError(f"{files[0].parent} holds no site: nothing to rank.")
    bounds: dict[str, tuple[float, float]] = {}
    known: dict[str, int] = {}
    for c in active:
        if c.transform["kind"] == "minmax":
            b = np.asarray([f["bounds"][c.id] for f in firsts], dtype=float)
            bounds[c.id] = (float(np.fmin.reduce(b[:, 0])), float(np.fmax.reduce(b[:, 1])))
        elif c.transform["kind"] == "percentile":
            known[c.id] = sum(f["known"][c.id] for f in firsts)
    groups2 = {"rank": 1} | {f"med{j}": 1 for j in range(len(active))}
    # The figures every partition reads go in the graph once (one key), not once per task.
    shared1 = dask.delayed(plans1, pure=True, traverse=False)
    second = [
        dask.delayed(_second_round)(task_ctx, str(f), i, n_parts, n_sites, shared1, bounds, known)
        for i, f in enumerate(files)
    ]
    seconds = rounds.compute(second, "scores")
    plans2 = _run_sorts(task_ctx, seconds, n_parts, groups2)
    shared2 = dask.delayed(plans2, pure=True, traverse=False)
    third = [
        dask.delayed(_third_round)(task_ctx, i, shared2, str(out_dir), top_n)
        for i in range(n_parts)
    ]
    thirds = rounds.compute(third, "rangs nationaux")
    # The partitions holding top sites only: a categorical column of no row may have no
    # category left (an empty partition's file, an Arrow filter keeping no row), and
    # concatenating it would turn the column into text, unlike foncier.score's.
    tops = [t["top"] for t in thirds]
    top = pd.concat([t for t in tops if len(t)] or tops[:1]).sort_values("rank")
    m = sum(s["n_ranked"] for s in seconds)
    # Said once for all the sites, not once per partition.
    warn_missing(sum((s["missing"] for s in seconds), pd.Series(0, index=list(ctx.criteria))))
    n_excluded = n_sites - m

    # Metadata and diagnostics as foncier.score gives them, from the figures gathered.
    weights = criterion_weights(active)
    metadata = score_metadata(
        prof,
        weights,
        criteria=ctx.criteria,
        exclusions=ctx.exclusions,
        criteria_skipped=ctx.criteria_skipped,
        exclusions_skipped=ctx.exclusions_skipped,
        top_n=top_n,
        n_sites=n_sites,
        n_excluded=n_excluded,
    )
    score = top["score"].to_numpy(dtype=float)
    crits = []
    for j, c in enumerate(active):
        stats = [s["stats"][c.id] for s in seconds]
        s_top = top[f"{c.id}__score"].to_numpy(dtype=float)
        crits.append(
            {
                "id": c.id,
                "label": c.label,
                "share_at_min": sum(s["at_min"] for s in stats) / m if m else float("nan"),
                "share_at_max": sum(s["at_max"] for s in stats) / m if m else float("nan"),
                "spread": float(max(s["max"] for s in stats) - min(s["min"] for s in stats))
                if m
                else float("nan"),
                "top_mean": float(s_top.mean()) if len(s_top) else float("nan"),
                "rest_median": _rest_median(
                    ctx, plans2[f"med{j}"], top[f"_med{j}"].to_numpy(), m - len(top)
                ),
                "intended": c.transform.get("saturation"),
            }
        )
    diagnostics = diagnostics_from_stats(
        top_n=top_n,
        n_ranked=m,
        n_tied_first=int(top["_equal"].iloc[0]) if m else 0,
        best_score=float(score[0]) if m else float("nan"),
        top_n_spread=float(score[0] - score[-1]) if m else float("nan"),
        criteria=crits,
    )
    metadata["diagnostics"] = diagnostics.as_dict()
    if not diagnostics.discriminates:
        log.warning(
            "the ranking does not single out a top %d: %s", top_n, " ; ".join(diagnostics.reasons)
        )
    top = top.drop(columns=[c for c in top.columns if c.startswith("_")])
    top["why"] = why_sentences(top, active, top_n=top_n)
    top.to_parquet(out_dir / "_top.parquet", index=True)
    top.attrs["foncier"] = metadata
    (out_dir / "_summary.json").write_text(
        json.dumps(metadata, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    return NationalRanking(
        path=out_dir,
        n_partitions=n_parts,
        n_sites=n_sites,
        n_excluded=n_excluded,
        n_ranked=m,
        top=top,
        diagnostics=diagnostics,
        metadata=metadata,
    )

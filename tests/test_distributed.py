"""The dask path: partitioned sites give the same results as the in-memory run."""

from __future__ import annotations

import itertools
import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from foncier.engine import measures
from foncier.engine.distributed import (
    fuse_partitions,
    local_cluster,
    map_sites,
    measure_to_parquet,
    partition_sites,
    score_dask,
    score_to_parquet,
    use_scheduler,
)
from layers.errors import ArgumentError, OutputError

L93 = "EPSG:2154"


def score_partition(sites: gpd.GeoDataFrame, layers: dict, *, radius_m: float) -> pd.DataFrame:
    """A small scoring function over several measures, as a profile would run it."""
    prepared = measures.prepare_sites(sites)
    out = measures.distance_to(prepared, layers["gares"], max_distance=5_000)
    out["dist_ligne"] = measures.distance_to(prepared, layers["lignes"])["distance_m"]
    out["share_inondable"] = measures.overlap_share(prepared, layers["zones"])
    out["emplois"] = measures.count_within(
        prepared, layers["gares"], radius_m=radius_m, weight_column="emplois"
    )
    out["area_m2"] = measures.area_m2(prepared)
    return out


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    n = 600
    c = rng.uniform(0, 10_000, (n, 2))
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False) + rng.uniform(0, 0.5, (n, 8))
    rad = rng.uniform(10, 50, (n, 8))
    polys = shapely.polygons(
        np.stack([c[:, 0, None] + rad * np.cos(ang), c[:, 1, None] + rad * np.sin(ang)], axis=2)
    )
    sites = gpd.GeoDataFrame(
        {"site_id": [f"s{i}" for i in range(n)]},
        geometry=polys,
        crs=L93,
        index=pd.Index(np.arange(n) * 3 + 7, name="fid"),
    )
    gares = gpd.GeoDataFrame(
        {"name": [f"g{i}" for i in range(25)], "emplois": rng.integers(10, 1000, 25)},
        geometry=shapely.points(rng.uniform(0, 10_000, (25, 2))),
        crs=L93,
    )
    walk = rng.uniform(0, 10_000, (3, 1, 2)) + rng.normal(0, 400, (3, 20, 2)).cumsum(axis=1)
    lignes = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]}, geometry=shapely.linestrings(walk), crs=L93
    )
    zones = gpd.GeoDataFrame(
        geometry=shapely.buffer(shapely.points(rng.uniform(0, 10_000, (8, 2))), 900), crs=L93
    )
    layers = {"gares": gares, "lignes": lignes, "zones": zones}
    expected = score_partition(sites, layers, radius_m=3_000)
    return sites, layers, expected


def test_synchronous_scheduler_matches_in_memory(data):
    sites, layers, expected = data
    ddf = partition_sites(sites, npartitions=3)
    assert ddf.npartitions == 3
    lazy = map_sites(score_partition, ddf, layers, radius_m=3_000)
    got = lazy.compute(scheduler="synchronous")
    pd.testing.assert_frame_equal(got, expected)
    # Sanity: the comparison is not vacuous.
    assert np.isfinite(expected["dist_ligne"]).all()
    assert expected["emplois"].sum() > 0
    assert (expected["share_inondable"] > 0).sum() > 10


def test_layers_enter_the_graph_once(data):
    sites, layers, _ = data
    ddf = partition_sites(sites, npartitions=3)
    lazy = map_sites(score_partition, ddf, layers, radius_m=3_000)
    graph = dict(lazy.__dask_graph__())
    layers_size = len(pickle.dumps(layers))
    sizes = {key: len(pickle.dumps(task)) for key, task in graph.items()}
    # The site partitions: in-memory data, each made inside the task that scores it.
    site_parts = [key for key in graph if str(key[0]).startswith(("frompandas", "sites"))]
    assert len(site_parts) == 3
    heavy = [key for key, size in sizes.items() if size >= layers_size and key not in site_parts]
    # Exactly one graph node (besides the site partitions) carries the layers; the 3
    # partition tasks only refer to it.
    assert len(heavy) == 1
    tasks = [key for key in graph if str(key[0]).startswith("_apply")]
    assert len(tasks) == 3
    assert all(sizes[key] < layers_size / 5 for key in tasks)


def test_local_cluster_two_workers_matches_in_memory(data):
    sites, layers, expected = data
    ddf = partition_sites(sites, npartitions=3)
    with local_cluster(2, processes=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        got = score_dask(score_partition, ddf, layers, radius_m=3_000)
    pd.testing.assert_frame_equal(got, expected)


SEEN_ROWS: list[int] = []


def score_partition_recording(sites: gpd.GeoDataFrame, layers: dict, **kw) -> pd.DataFrame:
    SEEN_ROWS.append(len(sites))
    return score_partition(sites, layers, **kw)


RAN_ON: list[str] = []


def score_partition_on_worker(sites: gpd.GeoDataFrame, layers: dict, **kw) -> pd.DataFrame:
    import distributed

    if len(sites):
        RAN_ON.append(distributed.get_worker().address)
    return score_partition(sites, layers, **kw)


def _part_number(path) -> int:
    return int(path.stem.split(".")[1])


def test_results_written_partition_by_partition_from_a_parquet_dataset(data, tmp_path):
    import dask
    import dask_geopandas

    sites, layers, expected = data
    # Like a national parcel file: a partitioned GeoParquet dataset read lazily, in
    # partitions of unequal sizes.
    folder = tmp_path / "parcels"
    folder.mkdir()
    bounds = [0, 100, 250, 420, 600]
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        sites.iloc[lo:hi].to_parquet(folder / f"part.{i}.parquet")
    ddf = dask_geopandas.read_parquet(folder)
    assert ddf.npartitions == 4
    SEEN_ROWS.clear()
    with dask.config.set(scheduler="synchronous"):
        written = score_to_parquet(
            score_partition_recording, ddf, tmp_path / "scores", layers, radius_m=3_000
        )
    files = sorted((tmp_path / "scores").glob("*.parquet"), key=_part_number)
    assert written == 4
    assert [f.name for f in files] == [f"part.{i}.parquet" for i in range(4)]
    # One file per input partition, holding exactly that partition's rows: the scoring
    # function never saw more than one partition and nothing was concatenated.
    for i, f in enumerate(files):
        part = pd.read_parquet(f)
        assert list(part.index) == list(sites.index[bounds[i] : bounds[i + 1]])
        pd.testing.assert_frame_equal(part, expected.loc[part.index], check_dtype=False)
    assert max(SEEN_ROWS) == 180  # the largest partition, not the 600 sites
    assert sorted(n for n in SEEN_ROWS if n) == [100, 150, 170, 180]


def _parquet_dataset(sites: gpd.GeoDataFrame, folder, bounds: list[int]):
    folder.mkdir()
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        sites.iloc[lo:hi].to_parquet(folder / f"part.{i}.parquet")


def test_each_partition_is_read_scored_and_written_by_one_task(data, tmp_path):
    import dask_geopandas
    import distributed

    sites, layers, expected = data
    _parquet_dataset(sites, tmp_path / "parcels", [0, 100, 250, 420, 600])
    ddf = dask_geopandas.read_parquet(tmp_path / "parcels")
    with local_cluster(2, processes=False) as client, distributed.get_task_stream(client) as ts:
        written = score_to_parquet(
            score_partition, ddf, tmp_path / "scores", layers, radius_m=3_000
        )
    names = [key[0] if isinstance(key, tuple) else key for key in (t["key"] for t in ts.data)]
    # 4 tasks, each reading, scoring and writing one file, and the closing barrier: no task
    # reading a partition apart, whose result dask could move to another worker.
    assert written == 4
    assert len(names) == 5
    assert sum(name.startswith("toparquetbarrier") for name in names) == 1
    parts = [name for name in names if not name.startswith("toparquetbarrier")]
    assert len(set(parts)) == 1
    assert "read_parquet" not in parts[0]
    assert "_apply" in parts[0]
    assert "toparquetdata" in parts[0]
    # No partition moved between the workers: the only transfers are the written files'
    # small return values, gathered by the barrier.
    moved = {
        name
        for name, t in zip(names, ts.data, strict=True)
        for s in t["startstops"]
        if s["action"] == "transfer"
    }
    assert moved <= {n for n in names if n.startswith("toparquetbarrier")}
    files = sorted((tmp_path / "scores").glob("*.parquet"), key=_part_number)
    got = pd.concat(pd.read_parquet(f) for f in files)
    assert list(got.index) == list(expected.index)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_fused_partitions_are_the_same_partitions(data, tmp_path):
    import dask
    import dask_geopandas

    sites, _, _ = data
    _parquet_dataset(sites, tmp_path / "parcels", [0, 250, 600])
    # Read and reprojected: each fused task runs its partition's read and to_crs.
    ddf = dask_geopandas.read_parquet(tmp_path / "parcels").to_crs("EPSG:3035")
    fused = fuse_partitions(ddf)
    assert fused.npartitions == 2
    graph = dict(fused.optimize().__dask_graph__())
    assert len(graph) == 2
    assert not [key for key in graph if "read_parquet" in str(key[0])]
    with dask.config.set(scheduler="synchronous"):
        for i in range(2):
            got, want = fused.partitions[i].compute(), ddf.partitions[i].compute()
            assert len(got) == len(want) == [250, 350][i]
            pd.testing.assert_frame_equal(got, want)
            assert got.crs == want.crs == "EPSG:3035"
    # Partitions made of whole partitions are fused; partitions that share a task (here 3
    # partitions split into 5) are left as they are: fusing would make the shared one
    # once for each partition that takes rows from it.
    joined = partition_sites(sites, npartitions=3).repartition(npartitions=2)
    split = partition_sites(sites, npartitions=3).repartition(npartitions=5)
    for mixed, fused_count in [(joined, 2), (split, 0)]:
        graph = dict(fuse_partitions(mixed).__dask_graph__())
        assert sum(str(key[0]).startswith("sites") for key in graph) == fused_count
        with dask.config.set(scheduler="synchronous"):
            got = fuse_partitions(mixed).compute()
        pd.testing.assert_frame_equal(got, mixed.compute(scheduler="synchronous"))
        assert list(got.index) == list(sites.index)


def test_existing_results_are_never_mixed_with_new_ones(data, tmp_path):
    import dask

    sites, layers, expected = data
    out = tmp_path / "scores"
    with dask.config.set(scheduler="synchronous"):
        score_to_parquet(
            score_partition, partition_sites(sites, npartitions=5), out, layers, radius_m=3_000
        )
        assert len(list(out.glob("*.parquet"))) == 5
        with pytest.raises(OutputError, match="not empty"):
            score_to_parquet(
                score_partition, partition_sites(sites, npartitions=2), out, layers, radius_m=3_000
            )
        # The refused call wrote nothing.
        assert len(list(out.glob("*.parquet"))) == 5
        written = score_to_parquet(
            score_partition,
            partition_sites(sites, npartitions=2),
            out,
            layers,
            radius_m=3_000,
            overwrite=True,
        )
    files = list(out.glob("*.parquet"))
    assert written == len(files) == 2
    got = pd.concat(pd.read_parquet(f) for f in files).loc[expected.index]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_scheduler_address_connects_for_the_call_only(data, tmp_path):
    import dask
    import distributed

    sites, layers, expected = data
    ddf = partition_sites(sites, npartitions=3)
    RAN_ON.clear()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        written = score_to_parquet(
            score_partition_on_worker,
            ddf,
            tmp_path / "a",
            layers,
            radius_m=3_000,
            scheduler=cluster.scheduler_address,
        )
        # The partitions ran on the cluster's workers.
        assert RAN_ON
        assert set(RAN_ON) <= set(cluster.scheduler_info["workers"])
        with pytest.raises(ValueError, match="No clients found"):
            distributed.default_client()  # disconnected after the call
        # The address in dask's configuration (DASK_SCHEDULER_ADDRESS) is used too.
        with dask.config.set({"scheduler-address": cluster.scheduler_address}):
            got = score_dask(score_partition, ddf, layers, radius_m=3_000)
            with use_scheduler():
                assert distributed.default_client().scheduler.address == (cluster.scheduler_address)
    assert written == 3
    files = list((tmp_path / "a").glob("*.parquet"))
    by_files = pd.concat(pd.read_parquet(f) for f in files).loc[expected.index]
    pd.testing.assert_frame_equal(by_files, expected, check_dtype=False)
    pd.testing.assert_frame_equal(got, expected)


def test_unknown_scheduler_is_refused(data, tmp_path):
    sites, layers, _ = data
    with pytest.raises(ArgumentError, match="neither"):
        score_to_parquet(
            score_partition,
            partition_sites(sites, npartitions=2),
            tmp_path / "x",
            layers,
            radius_m=3_000,
            scheduler="gpu",
        )
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_profile_measures_written_per_partition_equal_in_memory(tmp_path):
    from foncier.engine.profiles import load_profile
    from foncier.engine.scoring import measure_criteria

    sites, layers = _logistics_case()
    ddf = partition_sites(sites, npartitions=3)
    profile = load_profile("logistique-multimodale")
    written = measure_to_parquet(
        ddf, tmp_path / "m", measure_criteria, layers, profile, scheduler="synchronous"
    )
    files = sorted((tmp_path / "m").glob("*.parquet"), key=_part_number)
    assert written == len(files) == 3
    parts = [pd.read_parquet(f) for f in files]
    sizes = [len(ddf.partitions[i].compute()) for i in range(3)]
    assert [len(p) for p in parts] == sizes
    assert sum(sizes) == 90
    assert max(sizes) < 90
    got = pd.concat(parts)
    raw = measure_criteria(sites, layers, "logistique-multimodale")
    assert list(got.index) == list(sites.index)
    assert raw.values.shape[1] >= 2  # distance to the station and commune population at least
    for col in raw.values.columns:
        np.testing.assert_array_equal(got[f"v:{col}"].to_numpy(), raw.values[col].to_numpy())
    for col in raw.nearest.columns:
        assert list(got[f"n:{col}"]) == list(raw.nearest[col])
    for col in raw.exclusion_values.columns:
        np.testing.assert_array_equal(
            got[f"x:{col}"].to_numpy(), raw.exclusion_values[col].to_numpy()
        )
    np.testing.assert_array_equal(got["area_m2"].to_numpy(), raw.area_m2.to_numpy())


def _worker_environment() -> tuple[str | None, str | None, bool, int, str, str]:
    import os

    import dask

    from layers.config import settings

    return (
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        os.environ.get("FONCIER_THREADS"),
        dask.config.get("distributed.worker.profile.enabled"),
        settings.threads,
        dask.config.get("distributed.admin.tick.interval"),
        dask.config.get("distributed.admin.system-monitor.interval"),
    )


def test_process_workers_keep_glibc_defaults_and_one_thread_each():
    with local_cluster(1, processes=True) as client:
        (env,) = client.run(_worker_environment).values()
    # No trim threshold (it makes numpy's large temporaries slow); measures on 1 thread;
    # no statistical profiler sampling the worker's stack; no 20 ms tick, no 0.5 s monitor.
    assert env == (None, "1", False, 1, "1s", "5s")


_SCRIPT = """
import os
import sys

from layers.config import settings  # a script importing foncier at its top


def probe():
    from layers.config import settings

    return settings.threads, os.environ["FONCIER_THREADS"]


if __name__ == "__main__":
    from foncier.engine.distributed import local_cluster

    with local_cluster(1, threads_per_worker=1) as client:
        seen = [*client.run(probe).values(), client.submit(probe, pure=False).result()]
    print(seen, settings.threads)
"""


def test_workers_measure_on_their_threads_when_the_main_module_imports_foncier(tmp_path):
    # A new worker process imports the caller's main module before the nanny sets its
    # environment: with FONCIER_THREADS=5 inherited, that import made the worker's
    # settings say 5 threads although its environment then said 1.
    import os
    import subprocess
    import sys

    script = tmp_path / "main_imports_foncier.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "FONCIER_THREADS": "5"}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # Each worker (seen by client.run and by a task) measures on 1 thread; this process
    # keeps its own setting and environment.
    assert done.stdout.strip().splitlines()[-1] == "[(1, '1'), (1, '1')] 5"


def test_partition_count_is_checked(data):
    sites, _, _ = data
    with pytest.raises(ValueError, match="npartitions"):
        partition_sites(sites, npartitions=0)


def _logistics_case() -> tuple[gpd.GeoDataFrame, dict]:
    rng = np.random.default_rng(11)
    centres = rng.uniform(0, 20_000, (90, 2))
    sites = gpd.GeoDataFrame(
        {"site_id": [f"s{i}" for i in range(90)]},
        geometry=shapely.buffer(shapely.points(centres), 300, quad_segs=2),
        crs=L93,
    )
    layers = {
        "rail_freight_stations": gpd.GeoDataFrame(
            {"name": ["Gare"]}, geometry=[shapely.Point(10_000, 10_000)], crs=L93
        ),
        "communes": gpd.GeoDataFrame(
            {"population": [50_000, 8_000]},
            geometry=[shapely.box(0, 0, 10_000, 20_000), shapely.box(10_000, 0, 20_000, 20_000)],
            crs=L93,
        ),
    }
    return sites, layers


def test_score_accepts_a_partitioned_geodataframe_with_global_ranks():
    # Three partitions, one station: ranks, "why" and exclusions must be those of the
    # in-memory run, not computed partition by partition.
    from foncier.engine.scoring import score

    sites, layers = _logistics_case()
    expected = score(sites, layers, "logistique-multimodale")
    got = score(partition_sites(sites, npartitions=3), layers, "logistique-multimodale")
    # dask stores the sites' own text columns as pyarrow strings: compare the scores exactly,
    # the sites' columns by value.
    score_cols = [c for c in expected.columns if c not in ("site_id", "geometry")]
    pd.testing.assert_frame_equal(pd.DataFrame(got[score_cols]), pd.DataFrame(expected[score_cols]))
    assert list(got["site_id"]) == list(expected["site_id"])
    assert got.geometry.equals(expected.geometry)
    assert got["rank"].min() == 1
    assert (got["rank"] == 1).sum() == (expected["rank"] == 1).sum()
    assert got.attrs["foncier"]["criteria_skipped"] == expected.attrs["foncier"]["criteria_skipped"]

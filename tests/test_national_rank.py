"""National ranking from a measured dataset: the same columns and ranks as in memory."""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import foncier
from foncier.engine.distributed import measure_to_parquet, partition_sites
from foncier.engine.national import score_measures_parquet
from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import RawMeasures, measure_criteria, score_from_raw
from foncier.engine.ties import midrank_quantile
from layers.errors import ArgumentError, OutputError, SchemaError

L93 = "EPSG:2154"


def make_profile(criteria, exclusions=(), **head):
    return profile_from_dict(
        {
            "profile": {"id": "test", "name": "Test", **head},
            "criteria": list(criteria),
            "exclusions": list(exclusions),
        }
    )


RAIL = {
    "id": "rail",
    "label": "Gare fret",
    "measure": "distance",
    "layer": "rail_freight_stations",
    "transform": {"kind": "linear", "from": 0, "to": 10000, "direction": "decreasing"},
    "weight": 3,
}
POP = {
    "id": "labour_pool",
    "label": "Population à 20 km",
    "measure": "sum_within",
    "layer": "communes",
    "column": "population",
    "radius_m": 20000,
    "unit": "hab.",
    "transform": {"kind": "percentile", "direction": "increasing"},
    "weight": 2,
}
SLOPE = {
    "id": "flat_land",
    "label": "Pente moyenne",
    "measure": "zonal_mean",
    "layer": "slope",
    "unit": "degrés",
    "transform": {"kind": "minmax", "direction": "decreasing"},
    "weight": 1,
}
FLOOD = {
    "id": "flood",
    "label": "En zone inondable",
    "measure": "overlap_share",
    "layer": "flood_zones",
    "op": ">",
    "value": 0.5,
}
STEEP = {
    "id": "steep",
    "label": "Pente trop forte",
    "measure": "zonal_mean",
    "layer": "slope",
    "unit": "degrés",
    "op": ">",
    "value": 8,
}


def synthetic_raw(n: int, seed: int) -> RawMeasures:
    """Raw measures with many ties, infinite and missing values, and exclusions."""
    rng = np.random.default_rng(seed)
    # Distances rounded to 2 km: ties everywhere; a few infinite (empty layer) and unknown.
    rail = rng.integers(0, 6, n) * 2000.0
    rail[rng.random(n) < 0.05] = np.inf
    rail[rng.random(n) < 0.05] = np.nan
    pop = rng.integers(0, 4, n) * 10_000.0
    pop[rng.random(n) < 0.1] = np.nan
    slope = rng.integers(0, 4, n) * 3.0
    slope[rng.random(n) < 0.05] = np.nan
    flood = np.round(rng.uniform(0, 1, n), 1)
    index = pd.Index(rng.permutation(n) * 7 + 3, name="fid")
    names = pd.Series([f"Gare {i % 9}" for i in range(n)], index=index, dtype=object)
    names[np.isnan(rail)] = None
    return RawMeasures(
        values=pd.DataFrame({"rail": rail, "labour_pool": pop, "flat_land": slope}, index=index),
        nearest=pd.DataFrame({"rail": names}, index=index),
        exclusion_values=pd.DataFrame({"flood": flood, "steep": slope}, index=index),
        area_m2=pd.Series(rng.uniform(1e3, 1e5, n), index=index),
        # Duplicate ids: the sites' order breaks the last ties, across partitions too.
        site_ids=pd.Series([f"s{i % (n // 3)}" for i in range(n)], index=index),
    )


def write_measured(raw: RawMeasures, folder, sizes) -> None:
    """The files measure_to_parquet writes, cut into partitions of the given sizes."""
    table = pd.concat(
        [
            raw.site_ids.rename("site_id").to_frame(),
            raw.values.add_prefix("v:"),
            raw.nearest.add_prefix("n:"),
            raw.exclusion_values.add_prefix("x:"),
            raw.area_m2.rename("area_m2").to_frame(),
        ],
        axis=1,
    )
    folder.mkdir()
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    assert bounds[-1] == len(table)
    for i in range(len(sizes)):
        table.iloc[bounds[i] : bounds[i + 1]].to_parquet(folder / f"part.{i}.parquet")


def read_result(folder) -> pd.DataFrame:
    files = sorted(folder.glob("part.*.parquet"), key=lambda p: int(p.name.split(".")[1]))
    return pd.concat([pd.read_parquet(f) for f in files])


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert got.index.equals(expected.index)
    for col in expected.columns:
        if col == "why":
            continue
        a, b = got[col], expected[col]
        if pd.api.types.is_float_dtype(b):
            # Bit for bit: same floats, nan where nan.
            np.testing.assert_array_equal(a.to_numpy(dtype=float), b.to_numpy(dtype=float))
        else:
            assert (
                a.astype(object).where(a.notna(), None).tolist()
                == b.astype(object).where(b.notna(), None).tolist()
            ), col


PROFILE = make_profile([RAIL, POP, SLOPE], [FLOOD, STEEP])


@pytest.mark.parametrize("sizes", [(40, 1, 73, 0, 86), (200,)])
def test_same_columns_and_ranks_as_in_memory(tmp_path, sizes):
    raw = synthetic_raw(200, seed=3)
    write_measured(raw, tmp_path / "mesures", sizes)
    expected = score_from_raw(raw, PROFILE, top_n=10)
    ranking = score_measures_parquet(
        tmp_path / "mesures", tmp_path / "scores", PROFILE, scheduler="synchronous"
    )
    got = read_result(tmp_path / "scores")
    assert_same(got, expected)
    assert got["rank"].dtype == "Int64"
    # The case is not trivial: ties on every criterion, missing values, exclusions, ex aequo.
    assert expected["excluded"].sum() > 20
    assert expected["ex_aequo"].sum() > 10
    assert expected["rail__raw"].isna().any()
    assert np.isinf(expected["rail__raw"]).any()
    # Independent checks of the global statistics: the percentile of the labour pool is the
    # mid-rank among all known values (not the partition's), minmax spans all finite slopes.
    pop = raw.values["labour_pool"].to_numpy()
    known = ~np.isnan(pop)
    pct = np.zeros(len(pop))
    pct[known] = [
        ((pop[known] < v).sum() + ((pop[known] == v).sum() - 1) / 2) / (known.sum() - 1)
        for v in pop[known]
    ]
    np.testing.assert_allclose(got["labour_pool__score"], pct, rtol=0, atol=1e-15)
    slope = raw.values["flat_land"].to_numpy()
    lo, hi = np.nanmin(slope), np.nanmax(slope)
    manual = np.where(np.isnan(slope), 0.0, 1 - (slope - lo) / (hi - lo))
    np.testing.assert_allclose(got["flat_land__score"], manual, rtol=0, atol=1e-12)
    # Ranks: 1..m over the kept sites, by the tie rule.
    ranked = got[got["rank"].notna()].sort_values("rank")
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    # The summary: top sites with their reasons, and the same diagnostics as in memory.
    assert ranking.n_sites == 200
    assert ranking.n_ranked == len(ranked)
    assert ranking.n_excluded == int(expected["excluded"].sum())
    top = expected[expected["rank"].notna() & (expected["rank"] <= 10)].sort_values("rank")
    assert ranking.top.index.tolist() == top.index.tolist()
    assert ranking.top["why"].tolist() == top["why"].tolist()
    assert ranking.metadata["diagnostics"] == expected.attrs["foncier"]["diagnostics"]
    meta = dict(ranking.metadata)
    same = dict(expected.attrs["foncier"].items())
    assert json.loads(json.dumps(meta, default=str)) == json.loads(json.dumps(same, default=str))
    on_disk = json.loads((tmp_path / "scores" / "_summary.json").read_text(encoding="utf-8"))
    assert on_disk["n_sites"] == 200
    assert pd.read_parquet(tmp_path / "scores" / "_top.parquet")["rank"].tolist() == list(
        range(1, 11)
    )
    assert not list(tmp_path.glob(".scores.partial-*"))


def test_tiebreak_quantiles_are_global(tmp_path, caplog):
    raw = synthetic_raw(120, seed=8)
    write_measured(raw, tmp_path / "m", (30, 30, 60))
    with caplog.at_level("WARNING"):
        score_measures_parquet(tmp_path / "m", tmp_path / "s", PROFILE, scheduler="synchronous")
    # Missing values are said once for all the sites, not once per partition.
    said = [r.getMessage() for r in caplog.records if "without a raw value" in r.getMessage()]
    assert said == [
        f"{c}: {n} site(s) without a raw value score 0."
        for c, n in raw.values.isna().sum().items()
        if n
    ]
    got = read_result(tmp_path / "s")
    # Closer is better: the quantile of -distance over all 120 sites (missing lowest).
    rail = raw.values["rail"].to_numpy()
    np.testing.assert_array_equal(
        got["rail__tiebreak"].to_numpy(), midrank_quantile(np.where(np.isnan(rail), -np.inf, -rail))
    )


def test_nothing_separates_the_sites(tmp_path):
    raw = synthetic_raw(60, seed=1)
    flat = RawMeasures(
        values=raw.values.assign(rail=1000.0, labour_pool=50_000.0, flat_land=2.0),
        nearest=raw.nearest,
        exclusion_values=raw.exclusion_values.assign(flood=0.0, steep=0.0),
        area_m2=raw.area_m2,
        site_ids=raw.site_ids,
    )
    # Five partitions: the run of equal keys spans every bucket of the sorts.
    write_measured(flat, tmp_path / "m", (10, 5, 20, 0, 25))
    ranking = score_measures_parquet(tmp_path / "m", tmp_path / "s", PROFILE, top_n=5)
    expected = score_from_raw(flat, PROFILE, top_n=5)
    got = read_result(tmp_path / "s")
    assert_same(got, expected)
    assert (expected["rail__tiebreak"] == 0.5).all()
    assert not ranking.diagnostics.discriminates
    assert "aucun critère ne varie d'un site à l'autre" in ranking.diagnostics.reasons
    assert "60 sites ont le meilleur score" in ranking.message
    assert got["ex_aequo"].all()
    assert ranking.metadata["diagnostics"] == expected.attrs["foncier"]["diagnostics"]


def test_all_sites_excluded(tmp_path):
    raw = synthetic_raw(30, seed=2)
    gone = RawMeasures(
        values=raw.values,
        nearest=raw.nearest,
        exclusion_values=raw.exclusion_values.assign(flood=1.0),
        area_m2=raw.area_m2,
        site_ids=raw.site_ids,
    )
    write_measured(gone, tmp_path / "m", (10, 20))
    ranking = score_measures_parquet(tmp_path / "m", tmp_path / "s", PROFILE)
    assert ranking.n_ranked == 0
    assert len(ranking.top) == 0
    assert ranking.diagnostics.reasons == ("aucun site n'est classé (tous sont exclus)",)
    assert read_result(tmp_path / "s")["rank"].isna().all()


def test_from_measure_to_parquet_like_foncier_score(tmp_path):
    """The whole national path on geometries: measure, then rank, against foncier.score."""
    rng = np.random.default_rng(4)
    n = 90
    xy = rng.integers(0, 40, (n, 2)) * 250.0  # shared positions: equal distances
    sites = gpd.GeoDataFrame(
        {"site_id": [f"p{i:03d}" for i in range(n)]},
        geometry=shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 100, xy[:, 1] + 100),
        crs=L93,
    )
    stations = gpd.GeoDataFrame(
        {"name": ["Nord", "Sud"]},
        geometry=[shapely.Point(1000, 9000), shapely.Point(8000, 500)],
        crs=L93,
    )
    flood = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 3000, 3000)], crs=L93)
    prof = make_profile(
        [RAIL, {**RAIL, "id": "rail_rel", "transform": {"kind": "percentile"}, "weight": 1}],
        [FLOOD],
    )
    layers = {"rail_freight_stations": stations, "flood_zones": flood}
    expected = foncier.score(sites, layers, prof)
    parts = partition_sites(sites, npartitions=4)
    measure_to_parquet(
        parts, tmp_path / "m", measure_criteria, layers, prof, scheduler="synchronous"
    )
    ranking = score_measures_parquet(tmp_path / "m", tmp_path / "s", prof, scheduler="threads")
    got = read_result(tmp_path / "s")
    assert_same(got, expected.drop(columns="geometry"))
    assert expected["excluded"].any()
    assert expected["ex_aequo"].any()
    assert ranking.top["why"].tolist() == expected.sort_values("rank")["why"].head(10).tolist()


def test_skipped_rules_recorded_by_measure_to_parquet(tmp_path):
    sites = gpd.GeoDataFrame(
        geometry=[shapely.box(i * 300, 0, i * 300 + 100, 100) for i in range(12)], crs=L93
    )
    stations = gpd.GeoDataFrame({"name": ["G"]}, geometry=[shapely.Point(0, 500)], crs=L93)
    prof = make_profile([RAIL, {**POP, "transform": {"kind": "linear", "from": 0, "to": 1}}])
    layers = {"rail_freight_stations": stations}  # no communes: labour_pool skipped
    measure_to_parquet(
        partition_sites(sites, npartitions=3), tmp_path / "m", measure_criteria, layers, prof
    )
    ranking = score_measures_parquet(tmp_path / "m", tmp_path / "s", prof)
    expected = foncier.score(sites, layers, prof)
    assert ranking.metadata["skipped"] == expected.attrs["foncier"]["skipped"]
    assert_same(read_result(tmp_path / "s"), expected.drop(columns="geometry"))


def test_bad_input_is_refused_and_nothing_written(tmp_path):
    raw = synthetic_raw(40, seed=5)
    write_measured(raw, tmp_path / "m", (20, 20))
    # Not a measured dataset.
    (tmp_path / "empty").mkdir()
    with pytest.raises(SchemaError, match=r"no part\.N\.parquet"):
        score_measures_parquet(tmp_path / "empty", tmp_path / "s", PROFILE)
    with pytest.raises(SchemaError, match="not a folder"):
        score_measures_parquet(tmp_path / "nowhere", tmp_path / "s", PROFILE)
    # A rule of the profile that was not measured.
    other = make_profile([RAIL, {**SLOPE, "id": "other_slope"}])
    with pytest.raises(SchemaError, match="v:other_slope"):
        score_measures_parquet(tmp_path / "m", tmp_path / "s", other)
    # An existing output is kept unless overwrite=True.
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="overwrite=True"):
        score_measures_parquet(tmp_path / "m", tmp_path / "s", PROFILE)
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["keep.txt"]
    score_measures_parquet(tmp_path / "m", tmp_path / "s", PROFILE, overwrite=True)
    assert not (tmp_path / "s" / "keep.txt").exists()
    with pytest.raises(ArgumentError, match="inside the measured dataset"):
        score_measures_parquet(tmp_path / "m", tmp_path / "m" / "out", PROFILE)
    with pytest.raises(ArgumentError, match="local folders"):
        score_measures_parquet("s3://bucket/m", tmp_path / "t", PROFILE)
    # A profile whose minimum contiguous area needs the geometries.
    contiguous = make_profile([RAIL], min_contiguous_area_m2=50_000)
    with pytest.raises(ArgumentError, match="minimum contiguous area"):
        score_measures_parquet(tmp_path / "m", tmp_path / "t", contiguous)
    # A dataset without any site.
    empty = RawMeasures(
        raw.values.iloc[:0],
        raw.nearest.iloc[:0],
        raw.exclusion_values.iloc[:0],
        raw.area_m2.iloc[:0],
        site_ids=raw.site_ids.iloc[:0],
    )
    write_measured(empty, tmp_path / "none", (0, 0))
    with pytest.raises(SchemaError, match="holds no site"):
        score_measures_parquet(tmp_path / "none", tmp_path / "t", PROFILE)
    # Nothing half-written next to the outputs.
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert not (tmp_path / "t").exists()


def test_top_keeps_the_dtypes_when_a_partition_has_no_top_site(tmp_path):
    raw = synthetic_raw(120, seed=6)
    names = raw.nearest["rail"].fillna("aucune").astype("category")
    cat = replace(raw, nearest=raw.nearest.assign(rail=names))
    # The 20 worst sites first: the first partition holds none of the top 10, the second
    # none at all (its empty file keeps no category).
    worst = score_from_raw(cat, PROFILE)["rank"].fillna(10**6).sort_values().index[-20:]
    order = [*worst, *cat.index.difference(worst)]
    cat = RawMeasures(
        values=cat.values.loc[order],
        nearest=cat.nearest.loc[order],
        exclusion_values=cat.exclusion_values.loc[order],
        area_m2=cat.area_m2.loc[order],
        site_ids=cat.site_ids.loc[order],
    )
    write_measured(cat, tmp_path / "m", (20, 0, 100))
    ranking = score_measures_parquet(tmp_path / "m", tmp_path / "s", PROFILE)
    expected = score_from_raw(cat, PROFILE).sort_values("rank").head(10)
    assert ranking.top["rail__nearest"].dtype == "category"
    # Every column of foncier.score's, same dtypes and values (and the sites' site_id).
    pd.testing.assert_frame_equal(ranking.top[expected.columns], expected, check_exact=True)
    assert ranking.top["site_id"].equals(cat.site_ids.loc[expected.index].rename("site_id"))


def test_ex_aequo_by_hand_across_partitions(tmp_path):
    """ex_aequo: another ranked site has the same score rounded to 1e-9, across partitions."""
    # One criterion: rail distance, 0 m → 100 … 10 km → 0 (linear). Scores by hand:
    # a, b: 1 km → 90, in two partitions: ex aequo.
    # c: 3 km → 70, and d: 3 km → 70 but excluded (flooded): d counts for no one.
    # e: 12 km, f: 15 km and j (no value) all score 0, with different tie-break values.
    # g: 5 km → 50 and h: 5 km + 1 nm → 49.99999999999, equal once rounded to 1e-9.
    # i: 2 km → 80, alone.
    sites = list("acegibdfhj")
    rail = {"a": 1000, "b": 1000, "c": 3000, "d": 3000, "e": 12000, "f": 15000}
    rail |= {"g": 5000, "h": 5000 + 1e-9, "i": 2000, "j": np.nan}
    index = pd.Index(sites, name="fid")
    raw = RawMeasures(
        values=pd.DataFrame({"rail": [rail[s] for s in sites]}, index=index),
        nearest=pd.DataFrame({"rail": [f"Gare {s}" for s in sites]}, index=index),
        exclusion_values=pd.DataFrame({"flood": [float(s == "d") for s in sites]}, index=index),
        area_m2=pd.Series(1e4, index=index),
        site_ids=pd.Series(sites, index=index),
    )
    prof = make_profile([RAIL], [FLOOD])
    write_measured(raw, tmp_path / "m", (5, 0, 5))
    score_measures_parquet(tmp_path / "m", tmp_path / "s", prof, scheduler="synchronous")
    got = read_result(tmp_path / "s")
    by_hand = {"a": True, "b": True, "c": False, "d": False, "e": True, "f": True}
    by_hand |= {"g": True, "h": True, "i": False, "j": True}
    assert got["ex_aequo"].to_dict() == by_hand
    # What the by-hand flags rest on: the scores and tie-breaks do differ where said.
    assert got.loc["h", "score"] != got.loc["g", "score"]
    assert got.loc[["e", "f", "j"], "tiebreak"].nunique() == 3
    assert got.loc["d", "excluded"]
    assert pd.isna(got.loc["d", "rank"])
    # The same flags as foncier.score's in memory.
    expected = score_from_raw(raw, prof)
    assert got["ex_aequo"].equals(expected["ex_aequo"])


def test_ex_aequo_recounted_from_the_written_scores(tmp_path):
    """On many ties over five partitions: each flag recounted from the written columns."""
    raw = synthetic_raw(300, seed=11)
    write_measured(raw, tmp_path / "m", (70, 0, 90, 1, 139))
    score_measures_parquet(tmp_path / "m", tmp_path / "s", PROFILE, scheduler="threads")
    got = read_result(tmp_path / "s")
    ranked = got[~got["excluded"]]
    # Sites of the same rounded score, counted with pandas over the ranked sites only.
    key = np.floor(ranked["score"].to_numpy() * 1e9 + 0.5)
    same = pd.Series(key, index=ranked.index).map(pd.Series(key).value_counts())
    recount = pd.Series(False, index=got.index)
    recount[ranked.index] = same > 1
    assert got["ex_aequo"].equals(recount.rename("ex_aequo"))
    assert 0 < got["ex_aequo"].sum() < len(ranked)
    assert got["ex_aequo"].equals(score_from_raw(raw, PROFILE)["ex_aequo"])


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "cluster"])
def test_progress_counts_every_partition_of_every_round(tmp_path, scheduler):
    from foncier.engine.distributed import local_cluster

    raw = synthetic_raw(60, seed=9)
    write_measured(raw, tmp_path / "m", (20, 0, 25, 15))
    calls = []
    cluster = local_cluster(2, processes=False) if scheduler == "cluster" else nullcontext()
    with cluster:
        score_measures_parquet(
            tmp_path / "m",
            tmp_path / "s",
            PROFILE,
            scheduler=None if scheduler == "cluster" else scheduler,
            progress=lambda step, done, total: calls.append((step, done, total)),
        )
    assert_same(read_result(tmp_path / "s"), score_from_raw(raw, PROFILE))
    assert {total for _, _, total in calls} == {12}  # 3 rounds × 4 partition files
    done = [d for _, d, _ in calls]
    assert done == sorted(done)
    assert done[-1] == 12
    # Each partition task is counted once, as it ends, in its round.
    rounds = ["lecture des valeurs brutes", "scores", "rangs nationaux"]
    for r, step in enumerate(rounds):
        seen = sorted({d for s, d, _ in calls if s == step})
        assert seen == list(range(4 * r, 4 * r + 5))
    assert [s for s, _, _ in calls] == sorted((s for s, _, _ in calls), key=rounds.index)


PROFILE_TOML = """
[profile]
id = "test"
name = "Test national"

[[criteria]]
id = "rail"
label = "Gare fret"
measure = "distance"
layer = "rail_freight_stations"
transform = { kind = "linear", from = 0, to = 10000, direction = "decreasing" }
weight = 3

[[criteria]]
id = "labour_pool"
label = "Population à 20 km"
measure = "sum_within"
layer = "communes"
column = "population"
radius_m = 20000
transform = { kind = "percentile", direction = "increasing" }
weight = 2

[[exclusions]]
id = "flood"
label = "En zone inondable"
measure = "overlap_share"
layer = "flood_zones"
op = ">"
value = 0.5
"""


def test_rank_measures_command(tmp_path):
    """``foncier rank-measures`` on a tiny measured dataset, as a user runs it."""
    from typer.testing import CliRunner

    from foncier.cli import app
    from foncier.engine.profiles import load_profile

    (tmp_path / "test.toml").write_text(PROFILE_TOML, encoding="utf-8")
    prof = load_profile(tmp_path / "test.toml")
    raw = synthetic_raw(90, seed=12)
    write_measured(raw, tmp_path / "m", (30, 0, 60))
    runner = CliRunner()
    args = ["rank-measures", str(tmp_path / "m"), str(tmp_path / "s")]
    args += ["-p", str(tmp_path / "test.toml"), "--scheduler", "synchronous"]
    result = runner.invoke(app, [*args, "--top", "3"])
    assert result.exit_code == 0, result.output
    expected = score_from_raw(raw, prof, top_n=3)
    assert_same(read_result(tmp_path / "s"), expected)
    # The top 3, best first: rank (ex aequo said), site_id and score in the table's rows.
    best = expected.sort_values("rank").head(3)
    rows = [
        [cell.strip() for cell in line.split("│")[1:4]]
        for line in result.output.splitlines()
        if line.startswith("│ ") and line.split("│")[1].strip()
    ]
    assert rows == [
        [
            f"{r}" + (" (ex aequo)" if tie else ""),
            raw.site_ids[i],
            f"{score:.1f}",
        ]
        for i, r, tie, score in zip(
            best.index, best["rank"], best["ex_aequo"], best["score"], strict=True
        )
    ]
    assert "Classement national — Test national" in result.output
    n_excluded = int(expected["excluded"].sum())
    assert f"(3 partitions, 90 sites : {90 - n_excluded} classés, {n_excluded} exclus)" in (
        " ".join(result.output.split())
    )
    # An existing output without --overwrite, a bad --top, a folder that is not measured.
    assert runner.invoke(app, args).exit_code == 3
    assert runner.invoke(app, [*args, "--overwrite", "--top", "0"]).exit_code == 2
    (tmp_path / "empty").mkdir()
    bad = runner.invoke(app, ["rank-measures", str(tmp_path / "empty"), str(tmp_path / "t")])
    assert bad.exit_code == 2  # no --profile
    bad = runner.invoke(
        app, ["rank-measures", str(tmp_path / "empty"), str(tmp_path / "t"), *args[3:]]
    )
    assert bad.exit_code == 3
    assert "no part.N.parquet" in " ".join(bad.output.split())
    assert not (tmp_path / "t").exists()

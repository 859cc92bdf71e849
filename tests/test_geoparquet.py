"""The GeoParquet reader gives exactly what ``geopandas.read_parquet`` gives."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import shapely
from pandas.testing import assert_frame_equal
from pyproj import CRS

from layers import admin
from layers.geoparquet import read_geoparquet

EMBEDDED = sorted((Path(admin.__file__).parent / "data").glob("*.parquet"))


def same_frame(ours: gpd.GeoDataFrame, theirs: gpd.GeoDataFrame) -> None:
    assert_frame_equal(ours, theirs, check_exact=True)
    assert ours.geometry.name == theirs.geometry.name
    assert ours.crs == theirs.crs
    assert list(ours.dtypes.astype(str)) == list(theirs.dtypes.astype(str))
    for column in ours.columns[ours.dtypes == "geometry"]:
        # the same bytes, coordinate for coordinate; missing geometries stay missing
        assert ours[column].to_wkb().tolist() == theirs[column].to_wkb().tolist()


def test_every_embedded_file_reads_as_geopandas_reads_it():
    assert len(EMBEDDED) >= 10
    for path in EMBEDDED:
        same_frame(read_geoparquet(path), gpd.read_parquet(path))


def test_filters_are_pushed_down_as_with_geopandas():
    path = Path(admin.__file__).parent / "data" / "communes.parquet"
    wanted = pc.field("dep").isin(pa.array(["28", "61"], type=pa.large_string()))
    ours = read_geoparquet(path, filters=wanted)
    same_frame(ours, gpd.read_parquet(path, filters=wanted))
    assert set(ours["dep"]) == {"28", "61"}
    assert ours.crs.to_epsg() == 4326


COMMUNES = Path(admin.__file__).parent / "data" / "communes.parquet"


@pytest.mark.parametrize(
    "conditions",
    [
        [("dep", "in", ["60"])],
        [("dep", "in", ["02", "60", "77", "80", "95"])],
        [("dep", "in", ["976", "01"])],
        [("insee", "in", ["2A004", "97101", "01001"]), ("dep", "in", ["01", "2A", "971"])],
        [("epci_siren", "in", ["200067965", "246000749"]), ("dep", "in", ["60"])],
        [("dep", "in", [])],
        [("dep", "in", ["zz"])],
    ],
)
def test_in_conditions_read_what_geopandas_reads(conditions):
    # The same rows, in the same order, as geopandas (pyarrow's dataset reader) gives.
    expression = None
    for column, _, values in conditions:
        term = pc.field(column).isin(pa.array(values, type=pa.large_string()))
        expression = term if expression is None else expression & term
    ours = read_geoparquet(COMMUNES, filters=conditions)
    same_frame(ours, gpd.read_parquet(COMMUNES, filters=expression))
    for column, _, values in conditions:
        assert set(ours[column]) <= set(values)


def test_in_conditions_read_only_the_row_groups_that_may_hold_the_values(monkeypatch):
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(COMMUNES).metadata
    dep = meta.schema.to_arrow_schema().get_field_index("dep")
    ranges = [
        (meta.row_group(i).column(dep).statistics.min, meta.row_group(i).column(dep).statistics.max)
        for i in range(meta.num_row_groups)
    ]
    read = []
    original = pq.ParquetFile.read_row_groups

    def recording(self, row_groups, *args, **kwargs):
        read.extend(row_groups)
        return original(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", recording)
    ours = read_geoparquet(COMMUNES, filters=[("dep", "in", ["60"])])
    assert len(ours) > 0
    assert set(ours["dep"]) == {"60"}
    assert read == [i for i, (lo, hi) in enumerate(ranges) if lo <= "60" <= hi]
    assert 1 <= len(read) <= 2 < meta.num_row_groups


@pytest.mark.parametrize("encoding", ["WKB", "geoarrow"])
def test_files_written_by_geopandas_in_both_encodings(tmp_path, encoding):
    frame = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"], "value": [1.5, None, 3.0]},
        geometry=[
            shapely.Point(700_000, 6_600_000),
            None,
            shapely.Point(701_000, 6_601_000),
        ],
        crs=2154,
        index=[10, 20, 30],
    )
    frame["outline"] = gpd.GeoSeries(
        [shapely.box(0, 0, 1, 1), shapely.box(1, 1, 3, 3), None], index=frame.index, crs=2154
    )
    path = tmp_path / "points.parquet"
    frame.to_parquet(path, geometry_encoding=encoding)
    ours = read_geoparquet(path)
    same_frame(ours, gpd.read_parquet(path))
    assert ours.index.tolist() == [10, 20, 30]
    assert ours.crs.to_epsg() == 2154
    assert ours["outline"].crs.to_epsg() == 2154
    assert ours.geometry.isna().tolist() == [False, True, False]


def test_a_column_without_crs_is_lon_lat_as_the_standard_says(tmp_path):
    path = tmp_path / "no_crs.parquet"
    gpd.GeoDataFrame({"k": [1]}, geometry=[shapely.Point(2.35, 48.85)]).to_parquet(path)
    ours = read_geoparquet(path)
    same_frame(ours, gpd.read_parquet(path))


def test_a_parquet_file_without_geometry_is_refused_as_geopandas_refuses_it(tmp_path):
    path = tmp_path / "plain.parquet"
    pa.parquet.write_table(pa.table({"k": [1, 2]}), path)
    with pytest.raises(ValueError, match="geo"):
        gpd.read_parquet(path)
    with pytest.raises(ValueError, match="geo"):
        read_geoparquet(path)


@pytest.mark.parametrize(
    "crs",
    [
        "EPSG:2154",
        # the same projection without an authority code: parsed from its PROJJSON
        "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 "
        "+ellps=GRS80 +units=m +no_defs",
        # a code's number with another definition than the code's own: not taken for it
        {**CRS.from_epsg(2154).to_json_dict(), "name": "Lambert-93 (a copy)"},
    ],
)
def test_the_crs_is_the_file_s_own(tmp_path, crs):
    path = tmp_path / "crs.parquet"
    gpd.GeoDataFrame({"k": [1]}, geometry=[shapely.Point(700_000, 6_600_000)], crs=crs).to_parquet(
        path
    )
    ours = read_geoparquet(path)
    same_frame(ours, gpd.read_parquet(path))
    assert ours.crs.to_json_dict() == gpd.read_parquet(path).crs.to_json_dict()

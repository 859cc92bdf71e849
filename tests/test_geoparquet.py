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

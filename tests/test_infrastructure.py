"""Infrastructure layers: embedded SNCF / RTE / aerodrome data, margins, sources, named sites."""

from __future__ import annotations

import gzip
import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pandas.testing import assert_frame_equal
from pyproj import Transformer

from layers import infrastructure as infra
from layers.config import settings
from layers.errors import DataSourceError, OfflineError, SchemaError
from layers.registry import LAYERS
from layers.territories import Territory

TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
SNCF = "infrastructure/sncf_liste_des_gares_france.geojson"
RTE = "infrastructure/rte_postes_electriques_france.geojson"
AERO = "infrastructure/aerodromes_france_airportsdata.geojson"
REDON = "fixtures/overpass/overpass_redon_35_2019.osm.gz"

# UIC codes of the SNCF freight stations of the Grand Compiégnois (DATA.md, test fixtures).
GC_FREIGHT = {
    "87276303": "Longueil-Ste-Marie",
    "87276691": "Compiègne",
    "87276741": "Thourotte",
    "87276766": "Ribécourt",
}


def _box_territory(lon: float, lat: float, half_m: float, *, id: str = "box") -> Territory:
    """A square territory of side 2 * half_m metres centred on a lon/lat point (EPSG:2154)."""
    x, y = TO_L93.transform(lon, lat)
    return Territory.from_perimeter(
        shapely.box(x - half_m, y - half_m, x + half_m, y + half_m), crs="EPSG:2154", id=id
    )


@pytest.fixture(scope="module")
def compiegne() -> Territory:
    # Compiègne is at about lon 2.826, lat 49.418; a 30 x 30 km box covers the four stations.
    return _box_territory(2.826, 49.418, 15_000, id="compiegne")


@pytest.fixture(scope="module")
def sncf_source(test_data: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(test_data / SNCF)


# ---------------------------------------------------------------- embedded files vs sources


def test_embedded_stations_keep_every_source_row(sncf_source):
    stations = gpd.read_parquet(infra.DATA_DIR / "sncf_gares.parquet")
    assert int((sncf_source["fret"] == "O").sum()) == 1604
    # One row per UIC code; the 1,604 freight rows of the source are all accounted for.
    assert len(stations) == sncf_source["code_uic"].nunique() == 3470
    assert int(stations.loc[stations["freight"], "n_points"].sum()) == 1604
    assert int(stations["n_points"].sum()) == len(sncf_source) == 3884
    assert (
        stations["freight"].sum()
        == sncf_source.loc[sncf_source["fret"] == "O", "code_uic"].nunique()
    )
    # A station on three lines (Ormoy-Villers) lists them all.
    ormoy = stations.set_index("code_uic").loc["87271585"]
    assert ormoy["line_codes"] == "227000;229000;232000"
    assert ormoy["n_points"] == 3


def test_embedded_substations_voltage_counts(test_data):
    rte = gpd.read_parquet(infra.DATA_DIR / "rte_postes.parquet")
    assert len(rte) == 5003
    assert rte["id"].is_unique
    # Voltage counts of the source (DATA.md, test fixtures).
    counts = rte["voltage_kv"].value_counts().to_dict()
    assert counts == {63.0: 2642, 90.0: 995, 225.0: 975, 400.0: 195, 45.0: 54, 150.0: 45}
    # "<45kV" (43), "HORS TENSION" (52) and "COURANT CONTINU" (2) have no single voltage.
    assert int(rte["voltage_kv"].isna().sum()) == 43 + 52 + 2
    assert rte["status"].value_counts().to_dict() == {"existing": 4988, "planned": 15}
    assert rte["function"].value_counts().to_dict() == {"transformation": 4187, "tap": 816}
    src = gpd.read_file(test_data / RTE)
    assert sorted(rte["voltage_label"]) == sorted(src["tension"])


def test_embedded_aerodromes(test_data):
    aero = gpd.read_parquet(infra.DATA_DIR / "aerodromes.parquet")
    src = gpd.read_file(test_data / AERO)
    # France (462, as in the source) plus the overseas départements (listed by airportsdata
    # under their own country codes).
    assert (aero["country"] == "FR").sum() == len(src) == 462
    lfad = aero.set_index("icao").loc["LFAD"]
    assert lfad["name"] == "Compiegne Margny Airport"
    assert (lfad.geometry.x, lfad.geometry.y) == (2.80611, 49.4344)
    # 316 ft = 96.3 m.
    assert lfad["elevation_m"] == pytest.approx(316 * 0.3048, abs=0.05)


# ---------------------------------------------------------------- rail stations


def test_grand_compiegnois_freight_stations(compiegne, sncf_source):
    freight = infra.load_rail_freight_stations(compiegne, margin_m=0)
    assert freight.crs.to_epsg() == 2154
    assert list(freight.columns) == [*infra.SCHEMAS["rail_freight_stations"], "geometry"]
    found = dict(zip(freight["code_uic"], freight["name"], strict=True))
    for uic, name in GC_FREIGHT.items():
        assert found[uic] == name
    assert freight["freight"].all()
    # Positions agree with the Lambert-93 coordinates SNCF publishes (independent of pyproj).
    src = sncf_source[sncf_source["code_uic"].isin(GC_FREIGHT)].drop_duplicates("code_uic")
    got = freight.set_index("code_uic").loc[src["code_uic"]]
    assert np.allclose(got.geometry.x, src["x_l93"], atol=1.0)
    assert np.allclose(got.geometry.y, src["y_l93"], atol=1.0)
    longueil = freight.set_index("code_uic").loc["87276303"]
    assert (longueil["line_codes"], longueil["pk"]) == ("242000", "071+271")
    assert longueil["kind"] == "freight_and_passenger_station"
    assert longueil["id"] == "sncf:87276303"


def test_freight_only_is_a_subset(compiegne):
    every = infra.load_rail_stations(compiegne, margin_m=0)
    freight = infra.load_rail_stations(compiegne, margin_m=0, freight_only=True)
    assert set(freight["id"]) == set(every.loc[every["freight"], "id"])
    assert len(every) > len(freight) > 0
    # Jaux is a passenger-only halt in the box.
    jaux = every.set_index("name").loc["Jaux"]
    assert (jaux["freight"], jaux["passengers"], jaux["kind"]) == (
        False,
        True,
        "passenger_station",
    )


def test_margin_includes_a_station_20_km_away(sncf_source, monkeypatch):
    row = sncf_source[sncf_source["code_uic"] == "87276303"].iloc[0]  # Longueil-Ste-Marie
    x, y = row["x_l93"], row["y_l93"]
    # A 1 km square whose nearest edge is 19.5 km east of the station.
    far = Territory.from_perimeter(
        shapely.box(x + 19_500, y - 500, x + 20_500, y + 500), crs="EPSG:2154", id="east"
    )

    def ids(**kw):
        return set(infra.load_rail_freight_stations(far, **kw)["code_uic"])

    assert "87276303" in ids()  # default margin: 30 km
    assert "87276303" not in ids(margin_m=0)
    assert "87276303" not in ids(margin_m=19_000)
    assert "87276303" in ids(margin_m=20_000)
    monkeypatch.setattr(settings, "infrastructure_margin_m", 10_000.0)
    assert "87276303" not in ids()  # the setting is read at call time


def test_bad_margin_and_source(compiegne):
    with pytest.raises(SchemaError, match="margin_m"):
        infra.load_rail_stations(compiegne, margin_m=-5)
    with pytest.raises(SchemaError, match="unknown source 'osm'"):
        infra.load_rail_stations(compiegne, source="osm")
    with pytest.raises(SchemaError, match="'embedded' or 'osm'"):
        infra.load_substations(compiegne, source="sncf")


def test_user_frame_must_follow_schema(compiegne):
    bad = gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.Point(2.8, 49.4)], crs=4326)
    with pytest.raises(SchemaError, match="lacks the columns"):
        infra.load_aerodromes(compiegne, source=bad)


# ---------------------------------------------------------------- substations and aerodromes


def test_substations_match_an_independent_count(compiegne, test_data):
    subs = infra.load_substations(compiegne, margin_m=0)
    src = gpd.read_file(test_data / RTE).to_crs(2154)
    inside = src[src.within(compiegne.perimeter)]
    assert len(subs) == len(inside) > 0
    assert sorted(subs["name"]) == sorted(inside["nom_poste"].str.strip())
    assert subs["operator"].eq("RTE").all()
    high = infra.load_substations(compiegne, margin_m=0, min_voltage_kv=225)
    expected = inside["tension"].isin(["225kV", "400kV"]).sum()
    assert len(high) == expected
    assert (high["voltage_kv"] >= 225).all()


def test_aerodromes_near_compiegne(compiegne):
    aero = infra.load_aerodromes(compiegne, margin_m=0)
    assert "icao:LFAD" in set(aero["id"])
    lfad = aero.set_index("icao").loc["LFAD"]
    x, y = TO_L93.transform(2.80611, 49.4344)
    assert (lfad.geometry.x, lfad.geometry.y) == pytest.approx((x, y), abs=0.01)


def test_empty_area_gives_empty_layer_and_says_so(caplog):
    # A box in the Bay of Biscay, far from any station, substation or aerodrome. Said at
    # INFO level: a layer is often one part of several, and scoring warns on its own when a
    # criterion's whole layer is empty.
    sea = _box_territory(-4.5, 45.5, 1_000, id="sea")
    with caplog.at_level(logging.INFO, logger="layers.infrastructure"):
        out = infra.load_substations(sea, margin_m=0)
    assert len(out) == 0
    assert out.crs.to_epsg() == 2154
    assert list(out.columns) == [*infra.SCHEMAS["substations"], "geometry"]
    assert "no feature" in caplog.text


# ---------------------------------------------------------------- OSM layers from files / offline


@pytest.fixture(scope="module")
def redon_features(test_data):
    from layers import osm

    return osm.read_osm_file(test_data / REDON)


def test_osm_layers_from_osm_features(redon_features):
    from layers import osm

    redon = _box_territory(-2.085, 47.65, 3_000, id="redon")
    feats = redon_features
    lines = infra.load_rail_lines(redon, margin_m=0, source=feats)
    expected = osm.rail_lines_from_osm(feats)
    assert lines.crs.to_epsg() == 2154
    assert sorted(lines["id"]) == sorted(expected["id"])  # the whole fixture lies in the box
    assert list(lines.columns) == [*infra.SCHEMAS["rail_lines"], "geometry"]
    assert len(infra.load_rail_branches(redon, margin_m=0, source=feats)) == 13
    assert len(infra.load_waterways(redon, margin_m=0, source=feats)) == 10
    # A 1 km box 2 km north of the station keeps only the lines that cross it.
    x, y = TO_L93.transform(-2.085, 47.665)
    small = Territory.from_perimeter(shapely.box(x - 500, y - 500, x + 500, y + 500), crs=2154)
    kept = infra.load_rail_lines(small, margin_m=0, source=feats)
    crossing = expected.to_crs(2154).intersects(small.perimeter)
    assert sorted(kept["id"]) == sorted(expected.loc[crossing.to_numpy(), "id"])


def test_osm_layer_from_a_file_path(test_data):
    # The small Nice fixture holds one power=substation way (independent count below).
    path = test_data / "fixtures/overpass/overpass_bbox.osm.gz"
    with gzip.open(path) as stream:
        root = ET.parse(stream).getroot()
    expected = {
        f"osm:way/{w.get('id')}"
        for w in root.iter("way")
        if any(t.get("k") == "power" and t.get("v") == "substation" for t in w.findall("tag"))
    }
    nice = _box_territory(7.299, 43.727, 2_000, id="nice")
    subs = infra.load_substations(nice, margin_m=0, source=str(path))
    assert set(subs["id"]) == expected
    assert len(expected) == 1
    assert subs["source"].eq("osm").all()
    assert subs.crs.to_epsg() == 2154


def test_platform_area_in_hectares(test_data):
    from layers import osm

    path = test_data / "fixtures/overpass/overpass_pont_de_veyle_ain_2022.osm.gz"
    feats = osm.read_osm_file(path, layers=("points", "multipolygons"))
    veyle = _box_territory(4.89, 46.26, 5_000, id="veyle")
    platforms = infra.load_platforms(veyle, margin_m=0, source=feats, include_named=False)
    expected = osm.platforms_from_osm(feats).to_crs(2154)
    assert len(platforms) == len(expected) >= 1
    assert platforms["area_ha"].to_numpy() == pytest.approx(expected.area.to_numpy() / 1e4)


def test_online_layer_offline_without_cache_raises(compiegne, monkeypatch):
    monkeypatch.setattr(settings, "offline", True)
    with pytest.raises(OfflineError):
        infra.load_rail_lines(compiegne)
    # Embedded layers keep working offline.
    assert len(infra.load_rail_freight_stations(compiegne, margin_m=0)) >= 4


def test_missing_file_source(compiegne, tmp_path):
    with pytest.raises(DataSourceError, match="not found"):
        infra.load_ports(compiegne, source=tmp_path / "ports.gpkg", include_named=False)


# ---------------------------------------------------------------- registry


def test_registry_lists_every_infrastructure_layer():
    infrastructure = {n for n, e in LAYERS.items() if e.theme == "infrastructure"}
    assert infrastructure == {
        "rail_stations",
        "rail_freight_stations",
        "rail_lines",
        "rail_branches",
        "ports",
        "waterways",
        "platforms",
        "motorway_junctions",
        "trunk_roads",
        "substations",
        "aerodromes",
        "named_sites",
    }
    assert set(infra.SCHEMAS) == infrastructure
    offline = {n for n in infrastructure if LAYERS[n].offline}
    assert offline == {
        "rail_stations",
        "rail_freight_stations",
        "substations",
        "aerodromes",
        "named_sites",
    }
    entry = LAYERS["substations"]
    assert entry.load_function() is infra.load_substations
    assert "RTE" in entry.source


def test_offline_layers_load_offline(compiegne, monkeypatch):
    monkeypatch.setattr(settings, "offline", True)
    for name in ("rail_stations", "rail_freight_stations", "substations", "aerodromes"):
        out = LAYERS[name].load(compiegne, margin_m=0)
        assert len(out) > 0, name


def test_attributions_cover_sources():
    for key in ("osm", "sncf", "rte", "airportsdata"):
        assert key in infra.ATTRIBUTIONS
    assert "OpenStreetMap" in infra.ATTRIBUTIONS["osm"]
    assert "ODbL" in infra.ATTRIBUTIONS["sncf"]


# ---------------------------------------------------------------- named sites


def _squares_for(codes: list[str], crs: str = "EPSG:2154") -> gpd.GeoDataFrame:
    """Commune squares made in code around the Compiègne box, one per INSEE code."""
    x0, y0 = TO_L93.transform(2.826, 49.418)
    geoms = [
        shapely.box(x0 + 3_000 * i, y0, x0 + 3_000 * i + 2_000, y0 + 2_000)
        for i in range(len(codes))
    ]
    # A U-shaped commune: its centroid lies outside it, a point on its surface does not.
    geoms[0] = shapely.box(x0, y0, x0 + 2_000, y0 + 2_000).difference(
        shapely.box(x0 + 500, y0 + 500, x0 + 1_500, y0 + 2_000)
    )
    return gpd.GeoDataFrame(
        {
            "insee": codes,
            "nom": codes,
            "epci_siren": "",
            "epci_nom": "",
            "dep": "60",
            "reg": "32",
            "population": 0,
        },
        geometry=geoms,
        crs=crs,
    )


def test_named_sites_at_commune_areas_from_territory_communes():
    table = infra._named_sites_table()
    codes = sorted({c for cs in table["insee"].str.split(";") for c in cs})
    communes = _squares_for(codes)
    perimeter = shapely.union_all(communes.geometry.to_numpy())
    territory = Territory(
        id="t",
        name="t",
        crs=communes.crs,
        perimeter=perimeter,
        communes=communes,
        epci=Territory.from_perimeter(perimeter, crs="EPSG:2154").epci,
    )
    sites = infra.load_named_sites(territory, margin_m=0)
    by_id = sites.set_index("id")
    commune_rows = table[table["precision"] == "commune"]
    assert set(commune_rows["id"]) <= set(by_id.index)
    polys = communes.set_index("insee").geometry
    for _, row in commune_rows.iterrows():
        geom = by_id.loc[row["id"]].geometry
        site_codes = row["insee"].split(";")
        # The site is the area of its communes (one part per square commune), named.
        union = shapely.union_all([polys[code] for code in site_codes])
        assert geom.equals(union)
        assert geom.area == pytest.approx(sum(polys[code].area for code in site_codes))
        assert by_id.loc[row["id"], "communes"] == ", ".join(site_codes)
    assert by_id.loc["gc-canal-seine-nord-europe"].geometry.geom_type == "MultiPolygon"
    assert by_id.loc[commune_rows["id"], "precision"].eq("commune").all()
    assert list(sites.columns) == [*infra.SCHEMAS["named_sites"], "geometry"]
    assert set(sites["precision"]) <= {"point", "commune"}


@pytest.fixture(scope="module")
def named_gc(compiegne) -> gpd.GeoDataFrame:
    return infra.load_named_sites(compiegne)


def test_named_sites_of_grand_compiegnois(named_gc):
    from layers.admin import load_communes

    expected = {
        "gc-port-longueil-sainte-marie": ("port", "existing", "60369"),
        "gc-plateforme-chimique-lamotte": ("chemical_platform", "existing", "60647"),
        "gc-plateforme-ribecourt": ("chemical_platform", "existing", "60537"),
        "gc-plateforme-confluence": ("industrial_platform", "existing", "60156"),
        "gc-canal-seine-nord-europe": ("canal", "under_construction", "60159;59023"),
        "gc-barreau-roissy-picardie": ("rail_link", "under_construction", "95641;95371"),
    }
    by_id = named_gc.set_index("id")
    for site, (kind, status, insee) in expected.items():
        assert (by_id.loc[site, "kind"], by_id.loc[site, "status"]) == (kind, status)
        assert by_id.loc[site, "insee"] == insee
        assert by_id.loc[site, "precision"] == "commune"
    # Vatry (Marne) is 150 km away: not in the Compiègne area.
    assert "chalons-aeroport-vatry" not in by_id.index
    communes = load_communes(insee=["60369", "60647", "60537", "60156"], crs="EPSG:2154")
    polys = communes.set_index("insee").geometry
    names = communes.set_index("insee")["nom"]
    for site, (_, _, insee) in list(expected.items())[:4]:
        assert by_id.loc[site].geometry.equals(polys[insee]), site
        assert by_id.loc[site, "communes"] == names[insee]
    assert by_id.loc["gc-port-longueil-sainte-marie", "communes"] == "Longueil-Sainte-Marie"
    assert named_gc.crs.to_epsg() == 2154


def test_named_sites_are_built_once_per_territory_and_margin(compiegne, named_gc):
    # Five layers take rows from the named sites: the same territory and margin give the
    # same rows, and a caller changing its copy changes nobody else's.
    again = infra.load_named_sites(compiegne)
    assert_frame_equal(again, named_gc)
    again.loc[:, "name"] = "changed"
    assert_frame_equal(infra.load_named_sites(compiegne), named_gc)
    # A margin of 0 keeps only the sites inside the perimeter: a different answer.
    inside = infra.load_named_sites(compiegne, margin_m=0)
    assert set(inside["id"]) < set(named_gc["id"])
    assert "gc-barreau-roissy-picardie" not in set(inside["id"])


def test_named_platforms_and_ports_offline(compiegne, named_gc, monkeypatch):
    monkeypatch.setattr(settings, "offline", True)
    platforms = infra.load_platforms(compiegne, source="named")
    assert set(platforms["id"]) == {
        "gc-plateforme-chimique-lamotte",
        "gc-plateforme-ribecourt",
        "gc-plateforme-confluence",
    }
    assert platforms["area_ha"].isna().all()
    ports = infra.load_ports(compiegne, source="named")
    assert ports["id"].tolist() == ["gc-port-longueil-sainte-marie"]
    assert list(ports.columns) == [*infra.SCHEMAS["ports"], "geometry"]


def test_vatry_point_is_the_airportsdata_point():
    vatry = _box_territory(4.18449, 48.7761, 2_000, id="vatry")
    sites = infra.load_named_sites(vatry, margin_m=0).set_index("id")
    geom = sites.loc["chalons-aeroport-vatry"].geometry
    assert sites.loc["chalons-aeroport-vatry", "precision"] == "point"
    assert (geom.x, geom.y) == pytest.approx(TO_L93.transform(4.18449, 48.7761), abs=0.01)
    # The point lies in one of the communes the row lists (checked on the COG boundaries).
    from layers.admin import load_communes

    communes = load_communes(insee=sites.loc["chalons-aeroport-vatry", "insee"].split(";"))
    assert communes.to_crs(2154).contains(geom).sum() == 1


def test_named_sites_csv_validation(tmp_path):
    src = pd.read_csv(infra.DATA_DIR / "named_sites.csv", dtype=str, keep_default_na=False)
    bad = src.copy()
    bad.loc[0, "status"] = "maybe"
    bad.loc[1, "precision"] = "point"  # without lon/lat
    bad.to_csv(tmp_path / "named_sites.csv", index=False)
    with pytest.raises(SchemaError) as err:
        infra.load_named_sites(
            _box_territory(2.8, 49.4, 1_000), source=tmp_path / "named_sites.csv"
        )
    assert src.loc[0, "id"] in str(err.value)
    assert "without lon/lat" in str(err.value)


def test_user_named_sites_file(tmp_path):
    # One site of your own, placed by coordinates (precision "point").
    (tmp_path / "sites.csv").write_text(
        "id,name,kind,status,precision,insee,lon,lat,territory,source,date\n"
        "my-port,Mon port,port,planned,point,60159,2.83,49.42,mine,Étude 2026,2026-11-01\n",
        encoding="utf-8",
    )
    t = _box_territory(2.826, 49.418, 2_000)
    sites = infra.load_named_sites(t, margin_m=0, source=tmp_path / "sites.csv")
    assert sites["id"].tolist() == ["my-port"]
    assert sites.geometry.iloc[0].x == pytest.approx(TO_L93.transform(2.83, 49.42)[0], abs=0.01)


def test_named_sites_csv_is_clean():
    table = infra._named_sites_table()
    assert table["id"].is_unique
    assert set(table["kind"]) <= set(infra.NAMED_SITE_KINDS)
    # Coordinates only where precision is "point".
    has_xy = table["lon"] != ""
    assert (has_xy == (table["precision"] == "point")).all()
    assert (table["source"].str.len() > 20).all()


def test_named_sites_insee_codes_exist():
    from layers import admin

    table = infra._named_sites_table()
    codes = sorted({c for cs in table["insee"].str.split(";") for c in cs})
    found = admin.load_communes(insee=codes)
    assert sorted(found["insee"]) == codes
    names = dict(zip(found["insee"], found["nom"], strict=True))
    assert names["60369"] == "Longueil-Sainte-Marie"
    assert names["60647"] == "Trosly-Breuil"
    assert names["60537"] == "Ribécourt-Dreslincourt"
    assert names["60156"] == "Clairoix"


def test_grand_compiegnois_preset_layers():
    from layers.territories import territory

    gc = territory("grand-compiegnois")
    freight = infra.load_rail_freight_stations(gc, margin_m=0)
    assert set(GC_FREIGHT) <= set(freight["code_uic"])
    assert freight.within(gc.perimeter).all()
    platforms = infra.load_platforms(gc, margin_m=0, source="named")
    ports = infra.load_ports(gc, margin_m=0, source="named")
    four = {
        "gc-port-longueil-sainte-marie",
        "gc-plateforme-chimique-lamotte",
        "gc-plateforme-ribecourt",
        "gc-plateforme-confluence",
    }
    assert four == set(platforms["id"]) | set(ports["id"])
    # Each commune-level site is the area of its member commune of the territory.
    communes = gc.communes.set_index("insee").geometry
    for frame in (platforms, ports):
        for _, row in frame.iterrows():
            insee = infra._named_sites_table().set_index("id").loc[row["id"], "insee"]
            assert row.geometry.equals(communes[insee])
            assert row["precision"] == "commune"
            assert row["communes"]

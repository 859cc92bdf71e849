"""Constraints: PPR / PAC hazard zones, regulation zones, protected areas, subdivision."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.constraints import (
    CANONICAL_COLUMNS,
    LEVELS,
    PROTECTED_AREA_LAYERS,
    load_flood_zones,
    load_hazard_zones,
    load_protected_areas,
    load_regulation_zones,
    subdivide,
)
from layers.errors import CRSError, DataSourceError, SchemaError
from layers.territories import Territory

PPR = "constraints/ppr_cnig_38DDT20200002_isere.gpkg"
PAC = "constraints/pac_risques_herault_034.gpkg"
# Flood letters of the Isère/RTM hazard maps followed by a level digit (independent regex).
FLOOD_LETTERS = r"(?:C|T|V|I'?|M)[0-4]"


@pytest.fixture(scope="module")
def ppr_path(test_data: Path) -> Path:
    return test_data / PPR


@pytest.fixture(scope="module")
def pac_path(ppr_path) -> Path:
    return ppr_path.parent / Path(PAC).name


@pytest.fixture(scope="module")
def raw_alea(ppr_path) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(ppr_path, layer="n_zone_alea_pprn")


@pytest.fixture(scope="module")
def hazards(ppr_path) -> gpd.GeoDataFrame:
    return load_hazard_zones(None, source=ppr_path)


@pytest.fixture(scope="module")
def floods(ppr_path) -> gpd.GeoDataFrame:
    return load_flood_zones(None, source=ppr_path)


def _raw_ids(raw: pd.DataFrame) -> pd.Series:
    return raw["id_gaspar"].astype(str) + ":" + raw["id_zone"].astype(str)


# ------------------------------------------------------------------------------------- PPR
def test_ppr_hazard_zones_count_schema_and_areas(hazards, raw_alea):
    assert len(raw_alea) == 646
    assert len(hazards) == 646
    assert list(hazards.columns[: len(CANONICAL_COLUMNS)]) == list(CANONICAL_COLUMNS)
    assert hazards.crs.to_epsg() == 2154
    assert hazards["id"].is_unique
    assert list(hazards["level"].cat.categories) == list(LEVELS)
    assert hazards["level"].cat.ordered
    # Areas equal shapely's on the raw geometries, feature by feature.
    raw_area = pd.Series(shapely.area(raw_alea.geometry.values), index=_raw_ids(raw_alea))
    ours = pd.Series(hazards.area.to_numpy(), index=hazards["id"].to_numpy())
    np.testing.assert_allclose(ours.loc[raw_area.index].to_numpy(), raw_area.to_numpy(), rtol=1e-6)
    assert hazards["date"].iloc[0] == pd.Timestamp("2022-12-06")


def test_ppr_flood_zones_independent_count(floods, raw_alea):
    single = raw_alea["nomrisque"].str.startswith("Inondation")
    multi = (raw_alea["coderisque"] == "9999999") & raw_alea["descript"].str.contains(
        FLOOD_LETTERS, regex=True
    )
    assert single.sum() == 121  # 32 flash floods + 9 runoff + 62 debris flows + 18 groundwater
    assert len(floods) == single.sum() + multi.sum() == 542
    assert set(floods["family"]) == {"flood", "multirisk"}
    expected_ids = set(_raw_ids(raw_alea[single | multi]))
    assert set(floods["id"]) == expected_ids
    # No rockfall / landslide / avalanche-only zone slipped in.
    assert not (floods["hazard_code"].isin(["1230000", "1240000", "1400000"])).any()


def test_ppr_level_mapping(hazards, floods, raw_alea):
    expected = {"Fai": "low", "M": "medium", "F": "high", "F+": "high"}
    lv = dict(zip(_raw_ids(raw_alea), raw_alea["nivalea"].map(expected), strict=True))
    got = dict(zip(hazards["id"], hazards["level"].astype(str), strict=True))
    assert got == lv
    assert (hazards["level"] >= "medium").sum() == 85 + 445 + 10
    # A multi-hazard zone "A3T2" (avalanche high, debris flow medium) is a *medium* flood
    # zone but a high hazard zone.
    ids = sorted(_raw_ids(raw_alea[raw_alea["descript"] == "A3T2"]))
    assert len(ids) == 5
    assert (floods.set_index("id").loc[ids, "level"] == "medium").all()
    assert (hazards.set_index("id").loc[ids, "level"] == "high").all()
    assert (hazards.set_index("id").loc[ids, "hazards"] == "avalanche,debris_flow").all()


def test_ppr_hazard_filter_avalanche(ppr_path, raw_alea):
    aval = load_hazard_zones(None, source=ppr_path, hazards=["avalanche"])
    independent = (raw_alea["coderisque"] == "1400000") | (
        (raw_alea["coderisque"] == "9999999") & raw_alea["descript"].str.contains(r"A[0-4E]")
    )
    assert len(aval) == independent.sum()
    assert set(aval["id"]) == set(_raw_ids(raw_alea[independent]))
    ground = load_hazard_zones(None, source=ppr_path, hazards="ground_movement")
    assert (
        len(ground)
        == (
            raw_alea["coderisque"].isin(["1230000", "1240000"])
            | (
                (raw_alea["coderisque"] == "9999999")
                & raw_alea["descript"].str.contains(r"[GPF][0-4]")
            )
        ).sum()
    )
    with pytest.raises(SchemaError, match="unknown hazard"):
        load_hazard_zones(None, source=ppr_path, hazards=["tsunamis"])


def test_ppr_regulation_zones(ppr_path):
    reg = load_regulation_zones(None, source=ppr_path)
    raw = pyogrio.read_dataframe(ppr_path, layer="n_zone_reg_pprn")
    assert len(reg) == len(raw) == 584
    assert reg["regulation"].value_counts().to_dict() == {
        "Interdiction": 453,
        "Prescriptions": 90,
        "Prescriptions hors zone d'aléa": 41,
    }
    assert (reg["level"] == "high").sum() == (raw["typereg"] == "03").sum()
    assert reg.area.sum() == pytest.approx(shapely.area(raw.geometry.values).sum(), rel=1e-9)


def test_clip_to_territory_matches_geopandas_clip(ppr_path, raw_alea):
    minx, miny, maxx, maxy = raw_alea.total_bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    box = shapely.box(cx - 3000, cy - 2000, cx + 2500, cy + 3500)
    terr = Territory.from_perimeter(box, crs="EPSG:2154")
    ours = load_hazard_zones(terr, source=ppr_path)
    ref = gpd.clip(raw_alea, box)
    ref = ref[~ref.is_empty]
    assert 0 < len(ours) < 646
    assert ours.area.sum() == pytest.approx(ref.area.sum(), rel=1e-9)
    assert shapely.covers(shapely.buffer(box, 1e-6), shapely.union_all(ours.geometry.values))
    # A margin grows the area kept.
    wider = load_hazard_zones(terr, source=ppr_path, margin_m=500)
    ref_wide = gpd.clip(raw_alea, terr.area_with_margin(500))
    assert wider.area.sum() == pytest.approx(ref_wide.area.sum(), rel=1e-9)
    assert wider.area.sum() > ours.area.sum()


def test_territory_without_hazards_gives_empty_layer(ppr_path):
    far = Territory.from_perimeter(shapely.box(650_000, 6_860_000, 660_000, 6_870_000), crs=2154)
    out = load_flood_zones(far, source=ppr_path)
    assert out.empty
    assert list(out.columns[:6]) == list(CANONICAL_COLUMNS)
    assert out.crs.to_epsg() == 2154


# ------------------------------------------------------------------------------------- PAC
def test_pac_flood_zones(pac_path):
    raw = pyogrio.read_dataframe(pac_path)
    counts = raw["ALEA"].value_counts()
    assert counts["Inondation"] == 194
    assert counts["Submersion marine"] == 11
    flood = load_flood_zones(None, source=pac_path)
    expected = (
        counts["Inondation"]
        + counts["Submersion marine"]
        + counts["Inondation et submersion marine"]
    )
    assert len(flood) == expected == 207
    assert (flood["hazard_code"] == "Inondation").sum() == 194
    assert (flood["kind"] == "coastal_flood").sum() == 11
    assert flood["level"].isna().all()  # PAC layers give no hazard level
    assert flood["date"].min() >= pd.Timestamp("2000-01-01")
    raw_area = shapely.area(raw.loc[raw["ALEA"].str.contains("Inondation|Submersion")].geometry)
    assert flood.area.sum() == pytest.approx(raw_area.sum(), rel=1e-9)
    mining = load_hazard_zones(None, source=pac_path, hazards=["mining"])
    assert len(mining) == counts["Minier"] == 96
    natural = load_hazard_zones(None, source=pac_path)
    assert len(natural) == len(raw) - counts["Minier"] - counts["Technologique"]


def test_pac_multirisk_kept_on_request(pac_path, caplog):
    with caplog.at_level(logging.WARNING, logger="layers.constraints"):
        load_flood_zones(None, source=pac_path)
    assert "91 multi-hazard zone(s)" in caplog.text
    wide = load_flood_zones(None, source=pac_path, include_multirisk=True)
    assert len(wide) == 207 + 91


# ----------------------------------------------------------------------------- bad inputs
def test_file_without_ppr_layers(tmp_path):
    path = tmp_path / "other.gpkg"
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs=2154)
    gdf.to_file(path, layer="parcelles")
    gdf.to_file(path, layer="batiments")
    with pytest.raises(SchemaError, match="layers found") as err:
        load_hazard_zones(None, source=path)
    assert "parcelles" in str(err.value)
    assert "batiments" in str(err.value)
    with pytest.raises(SchemaError, match="N_ZONE_REG_PPRN"):
        load_regulation_zones(None, source=path)
    single = tmp_path / "single.gpkg"
    gdf.to_file(single, layer="zones")
    with pytest.raises(SchemaError, match="ALEA"):
        load_flood_zones(None, source=single)


def test_missing_file_and_missing_crs(tmp_path):
    with pytest.raises(DataSourceError, match=r"nothing\.gpkg"):
        load_flood_zones(None, source=tmp_path / "nothing.gpkg")
    no_crs = gpd.GeoDataFrame({"kind": ["flood"]}, geometry=[shapely.box(0, 0, 1, 1)])
    with pytest.raises(CRSError, match="no CRS"):
        load_flood_zones(None, source=no_crs)


def test_geodataframe_source_repaired_and_reprojected(caplog):
    # A bow-tie (self-intersecting) flood polygon in lon/lat near Grenoble.
    bowtie = shapely.Polygon([(5.70, 45.18), (5.74, 45.20), (5.74, 45.18), (5.70, 45.20)])
    square = shapely.box(5.75, 45.18, 5.77, 45.20)
    gdf = gpd.GeoDataFrame(
        {"kind": ["flood", "rockfall"], "level": ["high", None]},
        geometry=[bowtie, square],
        crs=4326,
    )
    terr = Territory.from_perimeter(
        gpd.GeoSeries([shapely.box(5.6, 45.1, 5.9, 45.3)], crs=4326).to_crs(2154).iloc[0],
        crs=2154,
    )
    with caplog.at_level(logging.WARNING, logger="layers.geometry"):
        out = load_flood_zones(terr, source=gdf)
    assert "invalid" in caplog.text
    assert len(out) == 1
    assert out["level"].iloc[0] == "high"
    assert out.crs.to_epsg() == 2154
    fixed = gpd.GeoSeries([shapely.make_valid(bowtie)], crs=4326).to_crs(2154)
    assert out.area.iloc[0] == pytest.approx(fixed.area.iloc[0], rel=1e-9)
    # A plain GeoDataFrame (no hazard columns) is taken as flood zones as a whole.
    plain = gpd.GeoDataFrame(geometry=[square], crs=4326)
    assert load_flood_zones(terr, source=plain)["kind"].tolist() == ["flood"]


# ------------------------------------------------------------------------------ subdivide
def test_subdivide_keeps_area_and_union(hazards):
    pieces = subdivide(hazards, max_vertices=64)
    nverts = shapely.get_num_coordinates(pieces.geometry.values)
    assert nverts.max() <= 64
    assert shapely.get_num_coordinates(hazards.geometry.values).max() > 64
    assert len(pieces) > len(hazards)
    assert (shapely.get_type_id(pieces.geometry.values) == 3).all()
    # Same total area and per-feature area (pieces keep their feature's index and id).
    assert pieces.area.sum() == pytest.approx(hazards.area.sum(), rel=1e-9)
    per_feature = pieces.area.groupby(pieces["id"]).sum()
    np.testing.assert_allclose(
        per_feature.loc[hazards["id"]].to_numpy(), hazards.area.to_numpy(), rtol=1e-9
    )
    u_in = shapely.union_all(hazards.geometry.values)
    u_out = shapely.union_all(pieces.geometry.values)
    assert shapely.symmetric_difference(u_in, u_out).area <= 1e-6 * u_in.area
    # Pieces of one feature do not overlap each other.
    for _, grp in pieces.groupby("id"):
        if len(grp) > 1:
            assert grp.area.sum() == pytest.approx(shapely.union_all(grp.geometry.values).area)
            break


def test_subdivide_large_square_and_small_polygons():
    big = shapely.Point(0, 0).buffer(1000, quad_segs=256)  # 1025 vertices
    small = shapely.box(5000, 0, 5010, 10)
    gdf = gpd.GeoDataFrame({"name": ["big", "small"]}, geometry=[big, small], crs=2154)
    out = subdivide(gdf, max_vertices=50)
    assert (out["name"] == "small").sum() == 1
    assert out.loc[out["name"] == "small"].geometry.iloc[0].equals(small)
    assert out.loc[out["name"] == "big"].area.sum() == pytest.approx(big.area, rel=1e-12)
    assert shapely.get_num_coordinates(out.geometry.values).max() <= 50
    assert list(out.index.unique()) == [0, 1]
    with pytest.raises(ValueError, match="at least 8"):
        subdivide(gdf, max_vertices=4)


# ------------------------------------------------------------------------- protected areas
def test_protected_area_layer_names_are_in_the_capabilities(test_data):
    xml = (
        test_data / "fixtures" / "geopf_wfs" / "wfs_getcapabilities_data_geopf_fr.xml"
    ).read_text(encoding="utf-8")
    for name in PROTECTED_AREA_LAYERS.values():
        assert f"<Name>{name}</Name>" in xml


def test_protected_areas_from_geodataframe():
    terr = Territory.from_perimeter(shapely.box(0, 0, 1000, 1000), crs=2154)
    gdf = gpd.GeoDataFrame(
        {
            "kind": ["znieff1", "natura2000_sic", "znieff2"],
            "id_mnhn": ["820030001", "FR8201740", "820000001"],
            "nom": ["Tourbière", "Massif", "Vallée"],
        },
        geometry=[
            shapely.box(-500, -500, 500, 500),
            shapely.box(200, 200, 300, 300),
            shapely.box(5000, 5000, 6000, 6000),
        ],
        crs=2154,
    )
    out = load_protected_areas(terr, source=gdf, kinds=("znieff1", "natura2000_sic", "znieff2"))
    assert sorted(out["kind"]) == ["natura2000_sic", "znieff1"]  # the ZNIEFF 2 is outside
    z1 = out.loc[out["kind"] == "znieff1"].iloc[0]
    assert z1["id"] == "820030001"
    assert z1["name"] == "Tourbière"
    assert z1.geometry.area == pytest.approx(500 * 500)  # clipped to the territory
    with pytest.raises(SchemaError, match="unknown protected-area kind"):
        load_protected_areas(terr, source=gdf, kinds=("ramsar",))


class _WFSHandler(BaseHTTPRequestHandler):
    """Answers GetFeature with a tiny GeoJSON per typename, counts the requests."""

    features: ClassVar[dict[str, dict]] = {}
    requests: ClassVar[list[str]] = []

    def do_GET(self):
        from urllib.parse import parse_qs, urlparse

        q = {k.lower(): v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        type(self).requests.append(q.get("typenames") or q.get("typename") or "")
        if q.get("request", "").lower() != "getfeature":
            self.send_response(400)
            self.end_headers()
            return
        fc = self.features.get(q.get("typenames") or q.get("typename"), _collection([]))
        start = int(q.get("startindex", 0))
        page = dict(fc, features=fc["features"][start:])
        page["numberReturned"] = len(page["features"])
        body = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _collection(features: list[dict]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": len(features),
        "numberReturned": len(features),
    }


def _feature(props: dict, lon0: float, lat0: float, d: float = 0.01) -> dict:
    ring = [[lon0, lat0], [lon0 + d, lat0], [lon0 + d, lat0 + d], [lon0, lat0 + d], [lon0, lat0]]
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


@pytest.fixture
def wfs_server(monkeypatch):
    from layers.config import settings

    _WFSHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WFSHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(settings, "geopf_wfs_url", f"http://127.0.0.1:{server.server_port}/wfs")
    yield _WFSHandler
    server.shutdown()
    server.server_close()


def test_protected_areas_from_the_wfs(wfs_server):
    wfs_server.features = {
        "PROTECTEDAREAS.ZNIEFF1:znieff1": _collection(
            [
                _feature(
                    {"id_mnhn": "820030452", "nom": "Marais de Montfort", "url": "u"}, 5.71, 45.18
                )
            ]
        ),
        "PROTECTEDAREAS.SIC:sic": _collection(
            [_feature({"sitecode": "FR8201743", "sitename": "Prairies", "url": "v"}, 5.72, 45.185)]
        ),
    }
    terr = Territory.from_perimeter(
        gpd.GeoSeries([shapely.box(5.70, 45.17, 5.75, 45.21)], crs=4326).to_crs(2154).iloc[0],
        crs=2154,
    )
    out = load_protected_areas(terr, kinds=("znieff1", "natura2000_sic", "znieff2"))
    assert sorted(out["id"]) == ["820030452", "FR8201743"]
    assert set(out["kind"]) == {"znieff1", "natura2000_sic"}
    assert out.crs.to_epsg() == 2154
    # A 0.01° square at 45.18° N: about 1 112 m x 787 m (independent: pyproj geodesic area).
    from pyproj import Geod

    ring = shapely.box(5.71, 45.18, 5.72, 45.19)
    geod_area = abs(Geod(ellps="GRS80").geometry_area_perimeter(ring)[0])
    z1 = out.loc[out["kind"] == "znieff1"].geometry.iloc[0]
    assert z1.area == pytest.approx(geod_area, rel=2e-3)  # Lambert-93 scale error near 45° N
    asked = " ".join(wfs_server.requests)
    for name in (
        "PROTECTEDAREAS.ZNIEFF1:znieff1",
        "PROTECTEDAREAS.SIC:sic",
        "PROTECTEDAREAS.ZNIEFF2:znieff2",
    ):
        assert name in asked


@pytest.mark.filterwarnings("ignore:Field .* created as String field")
def test_ppr_as_a_folder_of_covadis_shapefiles(tmp_path, ppr_path):
    # PPRs are often delivered as shapefiles with upper-case layer and column names.
    folder = tmp_path / "38DDT20200002"
    folder.mkdir()
    for layer, name in (
        ("n_zone_alea_pprn", "N_ZONE_ALEA_PPRN_20200002_S_038"),
        ("n_perimetre_pprn", "N_PERIMETRE_PPRN_20200002_S_038"),
    ):
        gdf = pyogrio.read_dataframe(ppr_path, layer=layer)
        gdf = gdf.rename(columns={c: c.upper() for c in gdf.columns if c != "geometry"})
        pyogrio.write_dataframe(gdf, folder / f"{name}.shp")
    floods = load_flood_zones(None, source=folder)
    assert len(floods) == 542
    one = load_flood_zones(None, source=folder / "N_ZONE_ALEA_PPRN_20200002_S_038.shp")
    assert len(one) == 542
    with pytest.raises(SchemaError, match="N_ZONE_REG_PPRN"):
        load_regulation_zones(None, source=folder)


def test_canonical_geodataframe_with_several_hazards():
    gdf = gpd.GeoDataFrame(
        {
            "id": ["a", "b", "c"],
            "kind": ["multirisk", "rockfall", "flash_flood"],
            "hazards": ["rockfall, runoff", None, None],
            "level": ["medium", "high", "low"],
        },
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 5)],
        crs=2154,
    )
    flood = load_flood_zones(None, source=gdf)
    assert flood["id"].tolist() == ["a", "c"]
    assert flood["level"].astype(str).tolist() == ["medium", "low"]
    assert flood["hazards"].tolist() == ["rockfall,runoff", "flash_flood"]
    ground = load_hazard_zones(None, source=gdf, hazards=["ground_movement"])
    assert ground["id"].tolist() == ["a", "b"]
    bad = gdf.assign(kind=["meteor", "rockfall", "flash_flood"])
    with pytest.raises(SchemaError, match="meteor"):
        load_hazard_zones(None, source=bad)


def test_georisques_source_reads_ppr_easements_from_the_wfs(wfs_server):
    wfs_server.features = {
        "wfs_sup:assiette_sup_s": _collection(
            [
                _feature(
                    {"idass": "A1", "suptype": "pm1", "nomass": "PPRI de la vallée de l'Isère"},
                    5.71,
                    45.18,
                ),
                _feature(
                    {"idass": "A2", "suptype": "pm1", "nomass": "PPR mouvements de terrain"},
                    5.72,
                    45.185,
                ),
                _feature({"idass": "A3", "suptype": "ac1", "nomass": "Monument"}, 5.73, 45.19),
                _feature(
                    {"idass": "A4", "suptype": "PM1", "nomass": "PPRN multirisque"}, 5.70, 45.2
                ),
            ]
        )
    }
    terr = Territory.from_perimeter(
        gpd.GeoSeries([shapely.box(5.69, 45.17, 5.75, 45.22)], crs=4326).to_crs(2154).iloc[0],
        crs=2154,
    )
    floods = load_flood_zones(terr, source="georisques")
    assert floods["id"].tolist() == ["A1"]
    assert floods["family"].tolist() == ["flood"]
    assert floods.crs.to_epsg() == 2154
    every = load_hazard_zones(terr, source="georisques")
    assert sorted(every["id"]) == ["A1", "A2", "A4"]  # the monument easement is not a PPR
    assert every.set_index("id").loc["A4", "kind"] == "multirisk"
    assert "wfs_sup:assiette_sup_s" in wfs_server.requests

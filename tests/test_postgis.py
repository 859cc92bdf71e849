"""PostGIS as a source and a destination, against a real throwaway server (tests/pgserver.py).

Expected values come from the hand-made tiny study of test_exports (distances known by
construction), from shapely on the same geometries, and from mapclassify for the classes.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from pgserver import PASSWORD
from shapely.geometry import Point, box
from test_exports import X0, Y0, tiny_study

from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import score
from foncier.pipeline import SitingStudy
from foncier.reports import postgis as writer
from foncier.reports.exports import export_study
from foncier.reports.postgis import write_postgis
from foncier.reports.qgis import qml_class_of
from layers.errors import CRSError, DataSourceError, GeometryError, SchemaError
from layers.postgis import mask_url, parse_postgis_url, read_postgis
from maps.choropleth import CLASS_FILL_OPACITY, EXCLUDED_COLOR, class_colors

pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def study() -> SitingStudy:
    return tiny_study()


def _sql(server, query: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(server.socket_url(), autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


# --------------------------------------------------------------------------- URLs


def test_url_parsing_and_masking() -> None:
    src = parse_postgis_url(
        "postgresql://ana:s3cr%40t@db.example.org:6432/sig?table=zae.site_eco&sslmode=require"
    )
    assert (src.schema, src.table) == ("zae", "site_eco")
    assert "sslmode=require" in src.conninfo
    assert "table=" not in src.conninfo
    assert "s3cr" not in src.masked
    assert src.masked.startswith("postgresql://ana:***@db.example.org")
    assert mask_url("host=x password=abc user=y") == "host=x password=*** user=y"
    with pytest.raises(DataSourceError, match="either table= or query="):
        parse_postgis_url("postgresql:///?table=a&query=SELECT%201")


# --------------------------------------------------------------------------- write + read


def test_round_trip_sites_and_cnig_tables(pg_server, study: SitingStudy) -> None:
    url = pg_server.tcp_url("auteur", PASSWORD, schema="foncier", table="sites")
    written = write_postgis(study, url)
    assert written["foncier.sites"] == 3
    assert written["foncier.site_eco"] == 3
    assert written["foncier.rail_freight_stations"] == 2

    back = read_postgis(url).set_index("site_id")
    s = study.scored.set_index("site_id")
    assert back.crs.to_epsg() == 2154
    for col in ("score", "rail_freight__raw", "river_port__contrib", "area_m2"):
        np.testing.assert_array_equal(back.loc[s.index, col].to_numpy(), s[col].to_numpy())
    assert back.loc["A", "rank"] == 1
    assert pd.isna(back.loc["C", "rank"])
    assert back["excluded"].dtype == bool
    assert bool(back.loc["C", "excluded"])
    assert back.loc["A", "name"] == "<script>alert(1)</script>"
    assert back.loc["A", "p_top_n"] == pytest.approx(0.9)
    for sid in "ABC":
        assert shapely.equals_exact(back.geometry.loc[sid], s.geometry.loc[sid], 0)

    cnig = read_postgis(pg_server.tcp_url("auteur", PASSWORD, table="foncier.site_eco"))
    a = cnig.set_index("source_site_id").loc["A"]
    assert a["gare_fret_nom"] == "Gare Un"
    assert a["gare_fret_dist"] == pytest.approx(0.3)
    assert a["site_surf_brute"] == pytest.approx(25.0)
    assert a["reseau_fret_ferroviaire"] == "oui"

    # Column types: CNIG counts are integers, areas and distances doubles, flags booleans.
    types = dict(
        _sql(
            pg_server,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'foncier' AND table_name = %s",
            ["site_eco"],
        )
    )
    assert types["site_uf_nbre"] == "integer"
    assert types["site_nb_emploi"] == "integer"
    assert types["site_surf_projet"] == "double precision"
    assert types["site_comm_insee"] == "text"
    geo = _sql(
        pg_server,
        "SELECT f_table_name, srid, type FROM geometry_columns WHERE f_table_schema = 'foncier'",
    )
    assert ("sites", 2154, "POLYGON") in geo
    assert ("rail_freight_stations", 2154, "POINT") in geo
    # A GiST index and a primary key on every table; comments name the profile.
    idx = _sql(pg_server, "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname='foncier'")
    for table in ("sites", "site_eco", "territoire", "communes", "rail_branches"):
        assert any(t == table and "USING gist (geom)" in d for t, d in idx), table
        assert any(t == table and "(fid)" in d and "UNIQUE" in d for t, d in idx), table
    comment = _sql(pg_server, "SELECT obj_description('foncier.sites'::regclass)")[0][0]
    assert "test-profile" in comment
    assert "Territoire test" in comment
    col_comment = _sql(
        pg_server,
        "SELECT col_description('foncier.sites'::regclass, attnum) FROM pg_attribute "
        "WHERE attrelid = 'foncier.sites'::regclass AND attname = 'rail_freight__raw'",
    )[0][0]
    assert col_comment == "Gare fret : valeur mesurée (m)"


def test_layer_styles_as_qgis_stores_them(pg_server, study: SitingStudy) -> None:
    write_postgis(study, pg_server.tcp_url("auteur", PASSWORD, schema="qgis"), with_layers=False)
    cols = _sql(
        pg_server,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'layer_styles' ORDER BY ordinal_position",
    )
    assert [c for c, _ in cols] == [
        "id",
        "f_table_catalog",
        "f_table_schema",
        "f_table_name",
        "f_geometry_column",
        "stylename",
        "styleqml",
        "stylesld",
        "useasdefault",
        "description",
        "owner",
        "ui",
        "update_time",
        "type",
    ]
    assert dict(cols)["styleqml"] == "xml"
    # The query QGIS runs to find a layer's default style (QgsPostgresProvider).
    rows = _sql(
        pg_server,
        "SELECT f_table_name, styleqml::text FROM layer_styles WHERE "
        "f_table_catalog = 'foncier' AND f_table_schema = 'qgis' AND f_geometry_column = 'geom' "
        "AND (type = 'vector' OR type IS NULL) AND useasdefault "
        "ORDER BY update_time DESC",
    )
    assert sorted(r[0] for r in rows) == ["communes", "site_eco", "sites", "territoire"]
    for _table, qml in rows:
        assert ET.fromstring(qml).tag == "qgis"
    # Re-writing replaces the styles instead of piling up rows.
    write_postgis(study, pg_server.tcp_url("auteur", PASSWORD, schema="qgis"), with_layers=False)
    n = _sql(pg_server, "SELECT count(*) FROM layer_styles WHERE f_table_schema = 'qgis'")
    assert n[0][0] == 4


def test_append_mode_keeps_earlier_runs(pg_server, study: SitingStudy) -> None:
    url = pg_server.tcp_url("auteur", PASSWORD, schema="runs", table="sites")
    write_postgis(study, url, with_layers=False, run_id="r1")
    write_postgis(study, url + "&mode=append&run_id=r2", with_layers=False)
    rows = _sql(pg_server, "SELECT run_id, count(*) FROM runs.sites GROUP BY 1 ORDER BY 1")
    assert rows == [("r1", 3), ("r2", 3)]
    write_postgis(study, url, with_layers=False, run_id="r3")
    assert _sql(pg_server, "SELECT DISTINCT run_id FROM runs.sites") == [("r3",)]


def test_failed_write_leaves_previous_tables_intact(
    pg_server, study: SitingStudy, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_server.tcp_url("auteur", PASSWORD, schema="atomic", table="sites")
    write_postgis(study, url, run_id="old")
    before = _sql(pg_server, "SELECT site_id, score FROM atomic.sites ORDER BY site_id")
    styles_before = _sql(pg_server, "SELECT id FROM layer_styles WHERE f_table_schema='atomic'")
    original = writer.write_frame
    calls = []

    def failing(conn, gdf, **kwargs):
        calls.append(kwargs["table"])
        if len(calls) == 3:
            raise SchemaError("simulated failure in the third table")
        return original(conn, gdf, **kwargs)

    monkeypatch.setattr(writer, "write_frame", failing)
    with pytest.raises(SchemaError, match="simulated"):
        write_postgis(study, url, run_id="new")
    assert _sql(pg_server, "SELECT site_id, score FROM atomic.sites ORDER BY site_id") == before
    assert _sql(pg_server, "SELECT DISTINCT run_id FROM atomic.sites") == [("old",)]
    assert _sql(pg_server, "SELECT DISTINCT run_id FROM atomic.territoire") == [("old",)]
    assert (
        _sql(pg_server, "SELECT id FROM layer_styles WHERE f_table_schema='atomic'")
        == styles_before
    )


def test_server_down_mid_run(
    pg_server, study: SitingStudy, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_server.tcp_url("auteur", PASSWORD, schema="crash", table="sites")
    write_postgis(study, url, run_id="old")
    original = writer.write_frame

    def cut(conn, gdf, **kwargs):
        n = original(conn, gdf, **kwargs)
        # The server drops the connection after the first table (as on a restart).
        _sql(pg_server, "SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
        return n

    monkeypatch.setattr(writer, "write_frame", cut)
    with pytest.raises(DataSourceError) as err:
        write_postgis(study, url, run_id="new")
    assert "writing" in str(err.value)
    assert PASSWORD not in str(err.value)
    assert _sql(pg_server, "SELECT DISTINCT run_id FROM crash.sites") == [("old",)]


def test_hostile_table_and_site_names(pg_server, study: SitingStudy) -> None:
    hostile = 'sites"; DROP TABLE foncier.sites; --'
    nasty = 'Robert\'); DROP TABLE sites; --\n"quoted"\t\\back;slash'
    one = tiny_study()
    one.scored.loc["B", "name"] = nasty
    url = pg_server.tcp_url("auteur", PASSWORD, schema="x'y", table=hostile.replace("&", ""))
    from urllib.parse import quote

    url = pg_server.tcp_url("auteur", PASSWORD, schema=quote("x'y"), table=quote(hostile))
    write_postgis(one, url, with_layers=False)
    tables = _sql(pg_server, "SELECT tablename FROM pg_tables WHERE schemaname = %s", ["x'y"])
    assert hostile in [t for (t,) in tables]
    back = read_postgis(url).set_index("site_id")
    assert back.loc["B", "name"] == nasty
    assert back.loc["A", "name"] == "<script>alert(1)</script>"


def test_wrong_password_is_clear_and_masked(pg_server) -> None:
    url = pg_server.tcp_url("auteur", "not-the-password-42", table="foncier.sites")
    with pytest.raises(DataSourceError) as err:
        read_postgis(url)
    text = str(err.value)
    assert "password authentication failed" in text
    assert "not-the-password-42" not in text
    assert "auteur:***@" in text


def test_server_down_is_clear() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://auteur:{PASSWORD}@127.0.0.1:{port}/foncier?table=t&connect_timeout=2"
    with pytest.raises(DataSourceError, match="server running") as err:
        read_postgis(url)
    assert PASSWORD not in str(err.value)


# --------------------------------------------------------------------------- reading


@pytest.fixture(scope="module")
def points_table(pg_server) -> gpd.GeoDataFrame:
    """10,000 points on a 1 km grid (EPSG:2154) in table src.pts, readable by lecteur."""
    xs, ys = np.meshgrid(np.arange(100) * 1000.0 + X0, np.arange(100) * 1000.0 + Y0)
    pts = gpd.GeoDataFrame(
        {"code": [f"{i:05d}" for i in range(xs.size)], "n": np.arange(xs.size)},
        geometry=gpd.points_from_xy(xs.ravel(), ys.ravel()),
        crs=2154,
    )
    with psycopg.connect(pg_server.socket_url(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("CREATE TABLE src.pts (code text, n integer, geom geometry(Point, 2154))")
        with conn.cursor().copy("COPY src.pts (code, n, geom) FROM STDIN") as copy:
            for code, n, g in zip(pts["code"], pts["n"], pts.geometry, strict=True):
                copy.write_row((code, int(n), shapely.to_wkb(g, hex=True, include_srid=False)))
        conn.execute("UPDATE src.pts SET geom = ST_SetSRID(geom, 2154)")
        conn.execute("CREATE INDEX ON src.pts USING gist (geom)")
        conn.execute("ANALYZE src.pts")
        conn.execute("CREATE TABLE src.nogeom (a int)")
        conn.execute("CREATE TABLE src.nosrid (geom geometry)")
        conn.execute("INSERT INTO src.nosrid VALUES ('POINT(1 2)')")
        conn.execute("CREATE TABLE src.secret (geom geometry(Point, 2154))")
        conn.execute("GRANT USAGE ON SCHEMA src TO lecteur")
        conn.execute("GRANT SELECT ON src.pts, src.nogeom, src.nosrid TO lecteur")
    return pts


def test_read_pushes_the_area_to_the_server(pg_server, points_table) -> None:
    url = pg_server.tcp_url("lecteur", PASSWORD, table="src.pts")
    area = box(X0 + 10_500, Y0 + 20_500, X0 + 15_500, Y0 + 23_500)  # 5 x 3 points
    got = read_postgis(url, mask=area, crs="EPSG:2154")
    expected = points_table[points_table.intersects(area)]
    assert len(got) == len(expected) == 15
    assert sorted(got["code"]) == sorted(expected["code"])
    assert got["code"].dtype == object
    assert got["code"].iloc[0].startswith("0")
    assert got["n"].dtype == np.int64
    # The filter is answered by the spatial index (the plan of the same predicate).
    plan = _sql(
        pg_server,
        "EXPLAIN SELECT * FROM src.pts AS q WHERE ST_Intersects(q.geom::geometry, "
        "ST_GeomFromWKB(%s, 2154))",
        [shapely.to_wkb(area)],
    )
    assert any("pts_geom_idx" in line for (line,) in plan)
    # Reading in another CRS: the mask is transformed to the table's SRID, rows back to WGS84.
    area_ll = gpd.GeoSeries([area], crs=2154).to_crs(4326).iloc[0]
    ll = read_postgis(url, mask=area_ll, crs="EPSG:4326")
    assert ll.crs.to_epsg() == 4326
    assert len(ll) == 15


def test_read_query_and_errors(pg_server, points_table) -> None:
    from urllib.parse import quote

    q = quote("SELECT code, geom FROM src.pts WHERE n < 10")
    got = read_postgis(pg_server.tcp_url("lecteur", PASSWORD, query=q))
    assert len(got) == 10
    with pytest.raises(DataSourceError, match=r"no table or view 'src\.missing'"):
        read_postgis(pg_server.tcp_url("lecteur", PASSWORD, table="src.missing"))
    with pytest.raises(SchemaError, match="no geometry column"):
        read_postgis(pg_server.tcp_url("lecteur", PASSWORD, table="src.nogeom"))
    with pytest.raises(CRSError, match="no SRID"):
        read_postgis(pg_server.tcp_url("lecteur", PASSWORD, table="src.nosrid"))
    with pytest.raises(DataSourceError, match=r"permission denied.*privilege"):
        read_postgis(pg_server.tcp_url("lecteur", PASSWORD, table="src.secret"))
    with pytest.raises(GeometryError, match="no row within the area"):
        read_postgis(
            pg_server.tcp_url("lecteur", PASSWORD, table="src.pts"),
            mask=box(0, 0, 10, 10),
            crs=2154,
        )
    # A read-only role cannot be made to write through a query.
    bad = quote("DELETE FROM src.pts RETURNING code, geom")
    with pytest.raises(DataSourceError):
        read_postgis(pg_server.tcp_url("lecteur", PASSWORD, query=bad))
    assert _sql(pg_server, "SELECT count(*) FROM src.pts")[0][0] == 10_000


def test_layers_sites_and_territory_from_postgis(pg_server, study: SitingStudy) -> None:
    import foncier
    from foncier.engine.sites import sites_from_file

    url = pg_server.tcp_url("auteur", PASSWORD, schema="inv", table="sites")
    write_postgis(study, url)
    t = foncier.territory(pg_server.tcp_url("auteur", PASSWORD, table="inv.territoire"))
    assert t.perimeter.area == pytest.approx(1e8)
    assert t.crs.to_epsg() == 2154
    sites = sites_from_file(pg_server.tcp_url("auteur", PASSWORD, table="inv.site_eco"), t)
    assert len(sites) == 3
    # A local flood layer: one zone over site A, one 50 km away (not read: outside the area).
    _sql(
        pg_server,
        "CREATE TABLE inv.ppri (nom text, geom geometry(Polygon, 2154)); "
        "INSERT INTO inv.ppri VALUES "
        f"('Zone A', ST_MakeEnvelope({X0 + 900}, {Y0 + 900}, {X0 + 1600}, {Y0 + 1600}, 2154)), "
        f"('Loin', ST_MakeEnvelope({X0 + 60000}, {Y0}, {X0 + 61000}, {Y0 + 1000}, 2154)); "
        "GRANT SELECT ON inv.ppri TO auteur",
    )
    layers = foncier.load_layers(
        t,
        ["flood_zones"],
        sources={"flood_zones": pg_server.tcp_url("auteur", PASSWORD, table="inv.ppri")},
        errors="raise",
    )
    assert len(layers["flood_zones"]) == 1
    assert layers["flood_zones"].geometry.iloc[0].area == pytest.approx(700 * 700)


# --------------------------------------------------------------------------- same picture


def many_sites_study() -> SitingStudy:
    """64 squares around one station: many equal scores (ties on the breaks), 8 excluded."""
    base = tiny_study()
    cells = []
    for i in range(8):
        for j in range(8):
            size = 100 if (i + j) % 8 == 0 else 400  # the diagonal ones are too small
            x, y = X0 + 500 * i, Y0 + 500 * j
            cells.append(box(x, y, x + size, y + size))
    sites = gpd.GeoDataFrame(
        {"site_id": [f"S{k:02d}" for k in range(64)]},
        geometry=cells,
        crs=2154,
        index=pd.Index([f"S{k:02d}" for k in range(64)]),
    )
    sites["area_m2"] = sites.area
    layers = {
        "rail_freight_stations": gpd.GeoDataFrame(
            {"name": ["Gare"]}, geometry=[Point(X0 + 2000, Y0 + 2000)], crs=2154
        )
    }
    profile = profile_from_dict(
        {
            "profile": {"id": "p", "name": "P", "description": "d"},
            "criteria": [
                {
                    "id": "gare",
                    "label": "Gare",
                    "measure": "distance",
                    "layer": "rail_freight_stations",
                    "unit": "m",
                    "weight": 1,
                    "transform": {"kind": "step", "thresholds": [700, 1400], "scores": [1, 0.5, 0]},
                }
            ],
            "exclusions": [
                {"id": "small", "label": "Petit", "measure": "area", "op": "<", "value": 50000}
            ],
        }
    )
    scored = score(sites, layers, profile, top_n=5)
    return SitingStudy(
        territory=base.territory,
        profile=profile,
        layers=layers,
        scored=scored,
        sensitivity=None,
        top_n=5,
    )


def _map_classes(scored: gpd.GeoDataFrame) -> pd.DataFrame:
    """Fill colour and opacity of each site as the siting map draws it (mapclassify)."""
    values = scored["score"].to_numpy(dtype=float)
    excluded = scored["excluded"].to_numpy(dtype=bool) | ~np.isfinite(values)
    kept = values[~excluded]
    q = mapclassify.Quantiles(kept, k=min(5, len(np.unique(kept))))
    colors = class_colors("YlGnBu", len(q.bins))
    fill = np.full(len(values), EXCLUDED_COLOR, dtype=object)
    fill[~excluded] = [colors[c] for c in q.yb]
    return pd.DataFrame({"fill": fill, "excluded": excluded}, index=scored["site_id"])


def test_qgis_styles_show_the_map_classes_site_for_site(pg_server, tmp_path: Path) -> None:
    big = many_sites_study()
    scored = big.scored
    values = scored.loc[~scored["excluded"], "score"].to_numpy(dtype=float)
    bins = mapclassify.Quantiles(values, k=min(5, len(np.unique(values)))).bins
    assert np.isin(values, bins).sum() > 5  # scores sit on the breaks: the hard case
    expected = _map_classes(scored)
    assert expected["excluded"].sum() == 8

    gpkg = export_study(big, tmp_path / "etude.gpkg", with_layers=False)
    con = sqlite3.connect(gpkg)
    try:
        qml = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name='sites'").fetchone()
        version = con.execute("PRAGMA user_version").fetchone()[0]
        eco = {r[1]: r[2] for r in con.execute("PRAGMA table_info(site_eco)").fetchall()}
    finally:
        con.close()
    assert version == 10200  # GeoPackage 1.2
    assert eco["site_uf_nbre"] == "MEDIUMINT"
    assert eco["site_nb_emploi"] == "MEDIUMINT"
    assert eco["site_surf_projet"] == "REAL"
    assert eco["site_surf_comm_dispo"] == "REAL"
    sites_gpkg = gpd.read_file(gpkg, layer="sites").set_index("site_id")
    got = qml_class_of(qml[0], sites_gpkg)
    assert (got["fill"] == expected.loc[got.index, "fill"]).all()
    assert (
        got.loc[~expected.loc[got.index, "excluded"], "fill_opacity"]
        .round(2)
        .eq(round(round(CLASS_FILL_OPACITY * 255) / 255, 2))
        .all()
    )
    assert (got.loc[expected.loc[got.index, "excluded"], "label"] == "Exclu").all()

    url = pg_server.tcp_url("auteur", PASSWORD, schema="picture", table="sites")
    write_postgis(big, url, with_layers=False)
    qml_pg = _sql(
        pg_server,
        "SELECT styleqml::text FROM layer_styles WHERE f_table_schema='picture' "
        "AND f_table_name='sites' AND useasdefault",
    )[0][0]
    sites_pg = read_postgis(url).set_index("site_id")
    got_pg = qml_class_of(qml_pg, sites_pg)
    assert (got_pg["fill"] == expected.loc[got_pg.index, "fill"]).all()

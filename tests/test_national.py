"""National embedded layers: rail lines, sidings, waterways, toll interchanges, ports,
combined-transport terminals, La Réunion substations, overseas aerodromes, stations as they
are, coverage ("hors couverture") and planned features.

Expected figures come from the sources' own documentation (feature counts, positions, spot
distances measured by the data's collector from the SNCF station points) or are computed here
another way (geodesic distances with pyproj.Geod instead of Lambert-93 planar distances).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import score
from layers import infrastructure as infra
from layers.catalog import LAYERS, load_layers
from layers.territories import territory

GEOD = Geod(ellps="GRS80")


def _read(name: str) -> gpd.GeoDataFrame:
    return gpd.read_parquet(infra.DATA_DIR / name)


# ---------------------------------------------------------------- embedded files


def test_rail_lines_file():
    lines = _read("rail_lines.parquet")
    # 803 exploited lines, 2 without geometry dropped; about 29,080 km in all.
    assert len(lines) == 801
    km = lines.to_crs(2154).length.sum() / 1000
    assert km == pytest.approx(29_080, rel=0.01)
    assert set(lines["status"]) == {"existing"}
    # 697 distinct names over the 803 features, two of them only on the geometry-less ones.
    assert lines["name"].nunique() == 695


def test_sidings_file():
    sidings = _read("rail_sidings_nord.parquet")
    # 8 "Voie-mère d'embranchement" and 7 "Voie de desserte de voies ferrées de port".
    assert sidings["kind"].value_counts().to_dict() == {"siding": 8, "port_track": 7}


def test_toll_interchanges_file():
    toll = _read("toll_interchanges.parquet")
    assert len(toll) == 1011  # "Echangeur" rows; the 255 main-line barriers are left out
    per_dep = toll["departement"].value_counts()
    # Interchange rows per département of the source documentation.
    assert per_dep[["02", "28", "51", "59", "60", "61", "72"]].tolist() == [
        14,
        14,
        20,
        4,
        18,
        13,
        27,
    ]
    assert set(toll["date"]) == {"2024-01-01"}
    # "Arsy Sortie" (A1 exit 10, Compiègne-Sud) near 49.399 N 2.699 E.
    arsy = toll[toll["name"] == "Arsy Sortie"].geometry.iloc[0]
    assert (round(arsy.y, 3), round(arsy.x, 3)) == (49.399, 2.699)


def test_ports_file():
    ports = _read("ports.parquet")
    counts = ports.groupby(["source", "kind"]).size().to_dict()
    assert counts == {
        ("wpi", "seaport"): 87,
        ("gntc_osm", "river_port"): 24,
        ("gntc", "river_port"): 9,
        ("unlocode", "seaport"): 1,
    }
    by_name = ports.set_index("name")
    # WPI positions (1-arc-minute grid).
    assert by_name.loc["Port Est"].geometry.y == pytest.approx(-20.933333, abs=1e-6)
    assert by_name.loc["Port Est"].geometry.x == pytest.approx(55.316667, abs=1e-6)
    dk = ports[ports["name"].str.contains("Dunkerque Port Est")].geometry.iloc[0]
    assert (dk.y, dk.x) == pytest.approx((51.05, 2.383333), abs=1e-6)
    # Longoni: UN/LOCODE "1245S 04510E" = 12 deg 45 min S, 45 deg 10 min E.
    longoni = by_name.loc["Longoni"].geometry
    assert (longoni.y, longoni.x) == pytest.approx((-12.75, 45 + 10 / 60), abs=1e-9)
    assert set(ports.loc[ports["source"] == "wpi", "precision"]) == {"arc_minute"}
    assert set(ports.loc[ports["source"] == "gntc", "precision"]) == {"hand_entered"}
    assert "Mayotte" not in set(ports["country"])  # countries are ISO codes
    assert (ports["country"] == "YT").sum() == 1


def test_combined_transport_and_edf_files():
    ct = _read("combined_transport.parquet")
    assert len(ct) == 76  # rows of the plan located in France
    assert set(ct["precision"]) == {"locality"}
    edf = _read("edf_reunion_postes.parquet")
    assert len(edf) == 25
    assert int(edf["transformer"].sum()) == 20
    assert set(edf["voltage_kv"]) == {63.0}
    le_port = edf.set_index("name").loc["Le Port"].geometry
    assert (le_port.y, le_port.x) == pytest.approx((-20.9461, 55.2873), abs=5e-5)


def test_overseas_aerodromes():
    aero = _read("aerodromes.parquet")
    assert aero["country"].value_counts().to_dict() == {
        "FR": 462,
        "GF": 8,
        "GP": 6,
        "RE": 2,
        "MQ": 1,
        "YT": 1,
    }
    cinor = territory("249740119")
    found = infra.load_aerodromes(cinor, margin_m=0)
    assert "FMEE" in set(found["icao"])  # Roland Garros, Sainte-Marie, inside the EPCI


# ---------------------------------------------------------------- stations as they are


def test_stations_keep_every_position():
    st = _read("sncf_gares.parquet")
    assert len(st) == 3470
    assert int(st["n_points"].sum()) == 3884
    multi = st[st.geom_type == "MultiPoint"]
    parts = shapely.get_num_geometries(st.geometry.to_numpy())
    assert (parts <= st["n_points"].to_numpy()).all()
    # Spread of each multi-point station in metres (Lambert-93).
    spread = multi.to_crs(2154).geometry.apply(
        lambda g: max(a.distance(b) for i, a in enumerate(g.geoms) for b in list(g.geoms)[i + 1 :])
    )
    assert int((spread > 100).sum()) == 165
    assert int((spread > 1000).sum()) == 23
    vc = multi[multi["name"] == "Villers-Cotterêts"]
    assert len(vc) == 1
    assert spread.loc[vc.index[0]] == pytest.approx(1350, abs=10)


def test_distance_goes_to_the_nearest_row_of_a_station():
    st = _read("sncf_gares.parquet")
    vc = st[st["name"] == "Villers-Cotterêts"].geometry.iloc[0]
    a, b = vc.geoms
    # A site 1 km west of the second row.
    t = territory("soissonnais-valois")
    site_ll = gpd.GeoSeries([b], crs=4326).to_crs(2154).translate(-1000, 0).to_crs(4326)
    sites = gpd.GeoDataFrame(geometry=site_ll.to_crs(t.crs), crs=t.crs)
    stations = infra.load_rail_stations(t, margin_m=0)
    stations = stations[stations["name"] == "Villers-Cotterêts"]
    from foncier.engine.measures import distance_to

    d = float(distance_to(sites, stations)["distance_m"].iloc[0])
    p = site_ll.iloc[0]
    geodesic = min(GEOD.inv(p.x, p.y, q.x, q.y)[2] for q in (a, b))
    assert d == pytest.approx(geodesic, rel=2e-3)
    assert d == pytest.approx(1000, rel=2e-3)


# ---------------------------------------------------------------- spot distances


@pytest.mark.parametrize(
    ("station", "metres"),
    [("Compiègne", 0), ("Soissons", 24), ("Châlons-en-Champagne", 9), ("Chartres", 1),
     ("Alençon", 2), ("Le Mans", 2), ("Dunkerque", 3)],
)  # fmt: skip
def test_station_to_nearest_rail_line(station, metres):
    st = _read("sncf_gares.parquet")
    lines = _read("rail_lines.parquet").to_crs(2154)
    pts = st[st["name"] == station].to_crs(2154).geometry.iloc[0]
    d = min(lines.distance(p).min() for p in getattr(pts, "geoms", [pts]))
    assert d == pytest.approx(metres, abs=6)


def test_waterways_spot_check():
    ww = _read("waterways.parquet").to_crs(2154)
    # The collector's spot check: a point at Longueil-Sainte-Marie (49.356 N 2.705 E) lies
    # 3.2 km from the Oise.
    p = gpd.GeoSeries.from_xy([2.705], [49.356], crs=4326).to_crs(2154).iloc[0]
    d = ww.distance(p)
    assert d.min() == pytest.approx(3200, abs=60)
    assert "Oise" in ww.loc[d.idxmin(), "name"]
    # No Dunkerque port canals in this selection (source caveat): 51.03 N 2.30 E is 14 km off.
    q = gpd.GeoSeries.from_xy([2.30], [51.03], crs=4326).to_crs(2154).iloc[0]
    assert ww.distance(q).min() == pytest.approx(14_000, rel=0.05)


# ---------------------------------------------------------------- coverage


def test_coverage_declared_for_every_embedded_layer():
    cov = {name: LAYERS[name].coverage for name in LAYERS}
    assert cov["motorway_junctions"].covers("60")
    assert not cov["motorway_junctions"].covers("974")
    assert cov["substations"].covers("974")
    assert not cov["substations"].covers("976")
    assert cov["rail_branches"].covers("59")
    assert not cov["rail_branches"].covers("60")
    assert not cov["waterways"].covers("973")
    assert cov["ports"].covers("976")  # Longoni


def test_reunion_layers_and_hors_couverture():
    t = territory("249740119")  # CINOR, Saint-Denis
    layers = load_layers(t)
    assert len(layers["ports"]) >= 3  # Port Est, Port Ouest, Saint-Denis (WPI)
    assert len(layers["substations"]) > 0
    assert set(layers["substations"]["source"]) == {"edf_sei"}
    assert layers["motorway_junctions"].attrs["foncier_coverage"]["covered"] is False
    assert layers["rail_freight_stations"].attrs["foncier_coverage"]["covered"] is True
    prof = profile_from_dict(
        {
            "profile": {"id": "t", "name": "t"},
            "criteria": [
                {"id": "port", "measure": "distance", "layer": "ports", "weight": 1,
                 "transform": {"kind": "linear", "from": 1000, "to": 20000,
                               "direction": "decreasing"}},
                {"id": "motorway", "label": "Échangeur", "measure": "distance",
                 "layer": "motorway_junctions", "weight": 1,
                 "transform": {"kind": "linear", "from": 1000, "to": 20000,
                               "direction": "decreasing"}},
            ],
        }
    )  # fmt: skip
    x0, y0, x1, y1 = t.perimeter.bounds
    sites = gpd.GeoDataFrame(
        geometry=[shapely.Point(x0 + (x1 - x0) * f, (y0 + y1) / 2).buffer(100) for f in (0.2, 0.8)],
        crs=t.crs,
    )
    scored = score(sites, layers, prof)
    meta = scored.attrs["foncier"]
    assert [s["id"] for s in meta["criteria_skipped"]] == ["motorway"]
    assert meta["criteria_skipped"][0]["reason"].startswith("hors couverture")
    assert any("hors couverture" in s for s in meta["skipped"])
    # Only the port criterion counts: the score is the port score, not half of it.
    assert np.allclose(scored["score"], 100 * scored["port__score"])


# ---------------------------------------------------------------- status and precision


def test_planned_features_count_only_with_include_planned():
    t = territory("grand-compiegnois")
    base = {
        "id": "port",
        "measure": "distance",
        "layer": "rail_branches",
        "weight": 1,
        "transform": {"kind": "linear", "from": 0, "to": 20000, "direction": "decreasing"},
    }
    branches = infra.load_rail_branches(t, source="embedded")
    assert (branches["status"] == "planned").any()  # the Longueil-Sainte-Marie rail branch
    site = branches[branches["status"] == "planned"].geometry.iloc[0].representative_point()
    sites = gpd.GeoDataFrame(geometry=[site.buffer(50)], crs=t.crs)
    layers = {"rail_branches": branches}
    without = score(sites, layers, profile_from_dict({"profile": {"id": "a", "name": "a"},
                                                     "criteria": [base]}))  # fmt: skip
    with_planned = score(
        sites,
        layers,
        profile_from_dict(
            {"profile": {"id": "b", "name": "b"}, "criteria": [{**base, "include_planned": True}]}
        ),
    )
    assert float(with_planned["port__raw"].iloc[0]) == 0.0
    assert float(without["port__raw"].iloc[0]) > 0.0


def test_coarse_positions_are_said():
    t = territory("249740119")
    layers = load_layers(t, ["ports"])
    prof = profile_from_dict(
        {
            "profile": {"id": "t", "name": "t"},
            "criteria": [
                {"id": "port", "measure": "distance", "layer": "ports", "weight": 1,
                 "transform": {"kind": "linear", "from": 1000, "to": 20000,
                               "direction": "decreasing"}},
            ],
        }
    )  # fmt: skip
    sites = gpd.GeoDataFrame(geometry=[t.perimeter.representative_point().buffer(100)], crs=t.crs)
    scored = score(sites, layers, prof)
    nearest = scored.filter(like="nearest").iloc[0].dropna().astype(str).tolist()
    assert any("minute d'arc" in v for v in nearest), scored.columns.tolist()


def test_tap_points_are_filtered_by_shipped_profiles():
    from foncier.engine.profiles import load_profile

    for pid in (
        "agroalimentaire",
        "chimie-process",
        "industrie-manufacturiere",
        "materiaux-biosources",
    ):
        power = [c for c in load_profile(pid).criteria if c.layer == "substations"]
        assert power, pid
        for c in power:
            assert any(f.column == "kind" and f.value == "tap" for f in c.filters), pid
    frame = pd.DataFrame({"kind": ["tap", "transformation"], "voltage_kv": [63.0, 63.0]})
    c = next(c for c in load_profile("agroalimentaire").criteria if c.layer == "substations")
    assert c.select(frame)["kind"].tolist() == ["transformation"]


# ---------------------------------------------------------------- unknown is not zero


def test_missing_population_is_unknown_not_zero():
    from foncier.engine.measures import count_within

    feats = gpd.GeoDataFrame(
        {"population": [100.0, np.nan, np.nan]},
        geometry=[shapely.Point(0, 0), shapely.Point(10, 0), shapely.Point(5000, 0)],
        crs=2154,
    )
    sites = gpd.GeoDataFrame(
        geometry=[shapely.Point(0, 0).buffer(1), shapely.Point(5000, 0).buffer(1)], crs=2154
    )
    got = count_within(sites, feats, radius_m=100, weight_column="population")
    assert got.iloc[0] == 100.0  # the known value; the unknown neighbour is not a zero
    assert np.isnan(got.iloc[1])  # only an unknown value within reach: unknown


def test_mayotte_labour_pool_is_skipped_not_a_desert():
    from foncier.pipeline import siting_study

    study = siting_study("200050532", sites="hex:1000", draws=0)  # CC de Petite-Terre
    meta = study.scored.attrs["foncier"]
    reasons = {s["id"]: s["reason"] for s in meta["criteria_skipped"]}
    assert reasons["labour_pool"].startswith("valeur inconnue")
    assert reasons["motorway"].startswith("hors couverture")
    # The Longoni port (UN/LOCODE) is within the margin and scored.
    assert "river_port" not in reasons
    assert len(study.layers["ports"]) == 1

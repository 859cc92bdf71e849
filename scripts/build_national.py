"""Build the embedded national infrastructure layers of ``layers/data`` from their sources.

Re-run it whenever a source file is refreshed::

    uv run python scripts/build_national.py --source-dir DATASETS/national [--out-dir layers/data]

Every file is GeoParquet (EPSG:4326, zstd) with only the columns the loaders need, a
``status`` column (``existing`` for every row of these sources: they list what is in service)
and a ``precision`` column saying how well the position is known. No coordinate is typed,
moved or invented: points are the sources' own, lines are the sources' own vertices (the
waterways are simplified by 10 m, see below). Provenance, dates, licences and caveats of each
source are in DATA.md.

``rail_lines.parquet``
    SNCF Réseau, lines of the national rail network with status "Exploitée" (one feature per
    line, already simplified by the source to about 10 m): ``name``.
``rail_sidings_nord.parquet``
    SNCF Réseau "Lignes par type", the industrial sidings ("Voie-mère d'embranchement") and
    port tracks ("Voie de desserte de voies ferrées de port") of a Nord-Pas-de-Calais extract.
``waterways.parquet``
    OpenStreetMap navigable waterway centre-lines (a canal-cruising selection, not VNF data),
    simplified with a 10 m tolerance in Lambert-93.
``toll_interchanges.parquet``
    Toll plazas of the interchanges of the conceded motorway network on 1 January 2024
    (``typeGare = Ech``; main-line barriers are left out): tolled junctions only.
``ports.parquet``
    Seaports of the NGA World Port Index (1-arc-minute grid), the freight river ports of the
    GNTC map (OSM positions, and positions entered by the map's author) and the port of
    Longoni (Mayotte) from UN/LOCODE (the only Mayotte port position the sources hold).
``combined_transport.parquet``
    Rail-road combined-transport terminals in France of the OTC-GNTC transport plan
    (positions rounded to 0.01° by the source: locality, not footprint).
``edf_reunion_postes.parquet``
    Source substations (63 kV) of La Réunion, EDF SEI list.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

log = logging.getLogger("build_national")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "national"
DEFAULT_OUT = ROOT / "layers" / "data"

#: Tolerance of the waterway simplification, metres (Lambert-93).
WATERWAY_SIMPLIFY_M = 10.0
#: Tolerance of the siding simplification, metres (the source is at full resolution).
SIDING_SIMPLIFY_M = 2.0

_WPI_COUNTRIES = {
    "France": "FR",
    "Reunion": "RE",
    "Guadeloupe": "GP",
    "Martinique": "MQ",
    "French Guiana": "GF",
    "Saint Pierre and Miquelon": "PM",
    "New Caledonia": "NC",
    "French Polynesia": "PF",
    "Wallis and Futuna": "WF",
}


def _simplify(gdf: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    """Simplify lines in Lambert-93 (metres), then back to EPSG:4326."""
    l93 = gdf.to_crs(2154)
    geoms = shapely.simplify(l93.geometry.to_numpy(), tolerance_m, preserve_topology=True)
    return l93.set_geometry(geoms).to_crs(4326)


def build_rail_lines(src: Path) -> gpd.GeoDataFrame:
    """Exploited lines of the national rail network; features without geometry are dropped."""
    g = gpd.read_file(src / "rail" / "sncf_rfn_lignes_exploitees_france.geojson")
    n = len(g)
    g = g[g.geometry.notna() & ~g.geometry.is_empty]
    log.info("rail lines: %d features, %d with a geometry", n, len(g))
    out = gpd.GeoDataFrame(
        {
            "name": g["nom"].astype(str).str.strip().to_numpy(),
            "status": "existing",
            "precision": "simplified_10m",
        },
        geometry=g.geometry.to_numpy(),
        crs=4326,
    )
    return out.reset_index(drop=True)


_SIDING_KINDS = {
    "Voie-mère d'embranchement": "siding",
    "Voie de desserte de voies ferrées de port": "port_track",
}


def build_sidings(src: Path) -> gpd.GeoDataFrame:
    """Industrial sidings and port tracks of the SNCF "Lignes par type" Nord extract."""
    g = gpd.read_file(src / "rail" / "sncf_lignes_par_type_extrait_nord.gpkg")
    g = g[g["type_ligne"].isin(list(_SIDING_KINDS))].to_crs(4326)
    g = _simplify(g, SIDING_SIMPLIFY_M)
    out = gpd.GeoDataFrame(
        {
            "line_code": g["code_ligne"].astype(str).to_numpy(),
            "name": g["lib_ligne"].astype(str).str.strip().to_numpy(),
            "kind": g["type_ligne"].map(_SIDING_KINDS).to_numpy(),
            "status": "existing",
            "precision": "exact",
        },
        geometry=g.geometry.to_numpy(),
        crs=4326,
    )
    log.info("sidings and port tracks: %d", len(out))
    return out.sort_values(["kind", "line_code"]).reset_index(drop=True)


def build_waterways(src: Path) -> gpd.GeoDataFrame:
    """Navigable waterway centre-lines (OSM), simplified, exact duplicates dropped."""
    g = gpd.read_file(
        src / "waterways" / "osm_voies_navigables_france_frenchcanalsmap.geojson",
        columns=["osm_id", "name", "waterway"],
    )
    n = len(g)
    # 23 source lines have zero length (one vertex repeated): they are not waterways.
    g = g[g.to_crs(2154).length.to_numpy() > 0]
    g = _simplify(g, WATERWAY_SIMPLIFY_M)
    wkb = shapely.to_wkb(g.geometry.to_numpy())
    g = g[~pd.Series(wkb).duplicated().to_numpy()]
    osm_id = g["osm_id"].astype("string").str.strip().replace("", pd.NA)
    out = gpd.GeoDataFrame(
        {
            "osm_id": osm_id.to_numpy(),
            "name": g["name"].astype("string").fillna("").str.strip().to_numpy(),
            "waterway": g["waterway"].astype("string").fillna("").to_numpy(),
            "status": "existing",
            # Features without an OSM id come from an earlier pull rounded to 1e-4 degree.
            "precision": np.where(osm_id.isna(), "rounded_1e-4deg", "simplified_10m"),
        },
        geometry=g.geometry.to_numpy(),
        crs=4326,
    )
    log.info(
        "waterways: %d features, %d after dropping zero-length lines and exact duplicates",
        n,
        len(out),
    )
    return out.reset_index(drop=True)


def build_toll_interchanges(src: Path) -> gpd.GeoDataFrame:
    """Toll plazas at interchanges (``Ech``) of the conceded motorway network, 2024."""
    t = pd.read_csv(
        src / "routes" / "gares_peage_rrn_concede_2024.csv", sep=";", dtype=str, encoding="utf-8"
    )
    kinds = set(t["typeGare"].str.strip())
    if kinds != {"Ech", "Bpv"}:
        raise ValueError(f"unexpected typeGare values {sorted(kinds)}")
    t = t[t["typeGare"].str.strip() == "Ech"]
    x = t["x"].str.replace(",", ".", regex=False).astype(float)
    y = t["y"].str.replace(",", ".", regex=False).astype(float)
    pts = gpd.GeoSeries.from_xy(x, y, crs=2154).to_crs(4326)
    out = gpd.GeoDataFrame(
        {
            "name": t["nomGare"].str.strip().to_numpy(),
            "route": t["route"].str.strip().to_numpy(),
            "pr": t["pr"].str.strip().to_numpy(),
            "departement": t["depPr"].str.strip().str.zfill(2).to_numpy(),
            "date": pd.to_datetime(t["dateReferentiel"], format="%d/%m/%Y")
            .dt.strftime("%Y-%m-%d")
            .to_numpy(),
            "status": "existing",
            "precision": "exact",
        },
        geometry=pts.to_numpy(),
        crs=4326,
    )
    log.info("toll interchanges: %d plazas", len(out))
    return out.reset_index(drop=True)


def _locode_degrees(text: str) -> tuple[float, float]:
    """UN/LOCODE "DDMMN DDDMME" to (lon, lat) in decimal degrees (minute precision)."""
    lat_s, lon_s = text.split()
    lat = int(lat_s[:2]) + int(lat_s[2:4]) / 60
    lon = int(lon_s[:3]) + int(lon_s[3:5]) / 60
    return (-lon if lon_s[-1] == "W" else lon), (-lat if lat_s[-1] == "S" else lat)


def build_ports(src: Path) -> gpd.GeoDataFrame:
    """Seaports (WPI), GNTC freight river ports and Longoni (UN/LOCODE)."""
    wpi = gpd.read_file(src / "ports" / "wpi_france_outremer.geojson")
    unknown = set(wpi["Country Code"]) - set(_WPI_COUNTRIES)
    if unknown:
        raise ValueError(f"WPI: unexpected country codes {sorted(unknown)}")
    seaports = gpd.GeoDataFrame(
        {
            "id": "wpi:" + wpi["World Port Index Number"].astype(str).str.strip(),
            "name": wpi["Main Port Name"].astype(str).str.strip(),
            "kind": "seaport",
            "source": "wpi",
            "harbour": (
                wpi["Harbor Size"].astype(str).str.strip()
                + " / "
                + wpi["Harbor Type"].astype(str).str.strip()
            ),
            "operator": "",
            "country": wpi["Country Code"].map(_WPI_COUNTRIES),
            "status": "existing",
            "precision": "arc_minute",
        },
        geometry=wpi.geometry.to_numpy(),
        crs=4326,
    )
    river = gpd.read_file(src / "ports" / "osm_ports_fluviaux_fret_gntc.geojson")
    osm_id = pd.to_numeric(river["osmId"], errors="raise").astype("int64")
    river_ports = gpd.GeoDataFrame(
        {
            "id": np.where(
                osm_id > 0,
                "osm:" + osm_id.astype(str),
                "gntc:" + pd.Series(np.arange(len(river)), dtype=str),
            ),
            "name": river["name"].astype(str).str.strip(),
            "kind": "river_port",
            "source": np.where(osm_id > 0, "gntc_osm", "gntc"),
            "harbour": "",
            "operator": river["operator"].fillna("").astype(str).str.strip(),
            "country": "FR",
            "status": "existing",
            # 9 rows have osmId 0: the map's author placed them by hand.
            "precision": np.where(osm_id > 0, "exact", "hand_entered"),
        },
        geometry=river.geometry.to_numpy(),
        crs=4326,
    )
    loc = pd.read_csv(src / "ports" / "unlocode_2018-1_france_drom.csv", dtype=str).fillna("")
    longoni = loc[(loc["Country"] == "YT") & (loc["Location"] == "LON")]
    if len(longoni) != 1 or not longoni["Function"].iloc[0].startswith("1"):
        raise ValueError("UN/LOCODE: YT LON (Longoni, port) not found as expected")
    lon, lat = _locode_degrees(longoni["Coordinates"].iloc[0])
    mayotte = gpd.GeoDataFrame(
        {
            "id": ["locode:YTLON"],
            "name": [longoni["Name"].iloc[0]],
            "kind": ["seaport"],
            "source": ["unlocode"],
            "harbour": [""],
            "operator": [""],
            "country": ["YT"],
            "status": ["existing"],
            "precision": ["arc_minute"],
        },
        geometry=[shapely.Point(lon, lat)],
        crs=4326,
    )
    out = pd.concat([seaports, river_ports, mayotte], ignore_index=True)
    if out["id"].duplicated().any():
        raise ValueError(f"duplicate port ids {out.loc[out['id'].duplicated(), 'id'].tolist()}")
    log.info(
        "ports: %d seaports (WPI), %d river ports (GNTC), 1 Mayotte (UN/LOCODE)",
        len(seaports),
        len(river_ports),
    )
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)


def build_combined_transport(src: Path) -> gpd.GeoDataFrame:
    """Combined-transport terminals in France (OTC-GNTC plan, positions rounded to 0.01°)."""
    t = pd.read_csv(
        src / "intermodal" / "gntc_plateformes_transport_combine_2026-03.csv", dtype=str
    ).fillna("")
    t = t[t["pays"] == "France"]
    out = gpd.GeoDataFrame(
        {
            "id": "gntc:" + pd.Series(np.arange(len(t)), dtype=str).to_numpy(),
            "name": t["site"].str.strip().to_numpy(),
            "ville": t["ville"].str.strip().to_numpy(),
            "operator": t["exploitant"].str.strip().to_numpy(),
            "sncf_yard": t["chantierSNCF"].str.strip().str.lower().eq("true").to_numpy(),
            "status": "existing",
            "precision": "locality",
        },
        geometry=gpd.points_from_xy(t["lon"].astype(float), t["lat"].astype(float)),
        crs=4326,
    )
    log.info("combined-transport terminals in France: %d", len(out))
    return out


def build_edf_reunion(src: Path) -> gpd.GeoDataFrame:
    """EDF SEI source substations of La Réunion."""
    t = pd.read_csv(
        src / "energy_outremer" / "edf_reunion_postes_sources_pypsa_reunion.csv",
        sep=";",
        dtype=str,
    )
    statuses = set(t["Statut"].str.strip())
    if statuses != {"En exploitation"}:
        raise ValueError(f"EDF Réunion: unexpected statuses {sorted(statuses)}")
    latlon = t["Point Geo"].str.split(",", expand=True).astype(float)
    transfo = t["Transfo"].str.strip().str.lower()
    if not transfo.isin(["y", "n"]).all():
        raise ValueError("EDF Réunion: Transfo must be y or n")
    out = gpd.GeoDataFrame(
        {
            "name": t["Nom du poste source"].str.strip().to_numpy(),
            "insee": t["Code INSEE"].str.strip().to_numpy(),
            "voltage_kv": t["Voltage"].astype(float).to_numpy(),
            "transformer": transfo.eq("y").to_numpy(),
            "status": "existing",
            "precision": "exact",
        },
        geometry=gpd.points_from_xy(latlon[1], latlon[0]),
        crs=4326,
    )
    log.info("EDF Réunion source substations: %d", len(out))
    return out


JOBS = {
    "rail_lines.parquet": build_rail_lines,
    "rail_sidings_nord.parquet": build_sidings,
    "waterways.parquet": build_waterways,
    "toll_interchanges.parquet": build_toll_interchanges,
    "ports.parquet": build_ports,
    "combined_transport.parquet": build_combined_transport,
    "edf_reunion_postes.parquet": build_edf_reunion,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--report", type=Path, help="write counts and sizes as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report = {}
    for name, build in JOBS.items():
        gdf = build(args.source_dir)
        target = args.out_dir / name
        # geoarrow + zstd 19: about 25 % smaller than WKB for the lines (measured).
        gdf.to_parquet(
            target,
            geometry_encoding="geoarrow",
            compression="zstd",
            compression_level=19,
            index=False,
        )
        size = target.stat().st_size
        report[name] = {"rows": len(gdf), "bytes": size}
        log.info("wrote %s: %d rows, %d bytes", target, len(gdf), size)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Build the embedded infrastructure files of ``layers/data`` from the source GeoJSON files.

Re-run it whenever a source file is refreshed::

    uv run python scripts/build_infrastructure.py --source-dir DATASETS/infrastructure

It writes three compact GeoParquet files (EPSG:4326, zstd compression):

``sncf_gares.parquet``
    SNCF Réseau "Liste des gares". The source has one row per station *and line* (a station
    served by two lines appears twice, projected on each line, a few metres apart). Users want
    one point per station ("is there a freight station within 5 km?"), so the rows are merged
    by UIC code: ``line_codes`` lists the line codes (sorted, ``;``-separated), ``pk`` gives the
    kilometre point(s) on each of them in the same order (``/`` between two points on the same
    line), ``n_points`` keeps the number of source rows, and the geometry keeps every distinct
    position of the station (a MultiPoint when its rows differ: one row per line, sometimes
    more than a kilometre apart), so that distances go to the nearest of them. The freight
    and passenger flags never differ between the rows of one station
    (checked below), so merging loses nothing.
``rte_postes.parquet``
    RTE substations: ``tension`` ("63kV", "<45kV", "HORS TENSION" …) becomes ``voltage_kv``
    (float, NaN when the label is not one voltage) and the label is kept in ``voltage_label``.
    All 5,003 points are kept; a substation code that appears at several points gets a ``#2``,
    ``#3`` … suffix in ``id`` so that ids are unique.
``aerodromes.parquet``
    Aerodromes of the ``airportsdata`` wheel in France (country FR) and in the overseas
    départements, which it lists under their own codes (GP, MQ, GF, RE, YT): ICAO/IATA codes,
    name, country code, elevation converted from feet to metres. The ``city`` column is
    dropped (wrong for several fields).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

log = logging.getLogger("build_infrastructure")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "infrastructure"
DEFAULT_OUT = ROOT / "layers" / "data"

SNCF_FILE = "sncf_liste_des_gares_france.geojson"
RTE_FILE = "rte_postes_electriques_france.geojson"
AIRPORTSDATA_VERSION = "20260905"

FEET_TO_M = 0.3048


def _flag(values: pd.Series, column: str) -> pd.Series:
    """Decode the SNCF ``O``/``N`` flags to booleans, refusing anything else."""
    clean = values.astype("string").str.strip().str.upper()
    bad = ~clean.isin(["O", "N"])
    if bad.any():
        raise ValueError(f"{column}: unexpected values {sorted(set(clean[bad].dropna()))}")
    return clean.eq("O").astype(bool)


def _all_points(points: gpd.GeoSeries) -> shapely.Geometry:
    """The distinct points of one station: a Point, or a MultiPoint when they differ."""
    unique = list(dict.fromkeys(shapely.to_wkb(points.to_numpy())))
    parts = shapely.from_wkb(unique)
    return parts[0] if len(parts) == 1 else shapely.multipoints(parts)


def build_sncf_stations(path: Path) -> gpd.GeoDataFrame:
    """One row per station (UIC code) with its line codes and kilometre points."""
    src = gpd.read_file(path)
    log.info("%s: %d rows, %d freight", path.name, len(src), (src["fret"] == "O").sum())
    src = src.assign(
        freight=_flag(src["fret"], "fret"),
        passengers=_flag(src["voyageurs"], "voyageurs"),
        code_uic=src["code_uic"].astype(str).str.strip(),
        code_ligne=src["code_ligne"].astype(str).str.strip(),
        pk=src["pk"].astype(str).str.strip(),
    )
    per_station = src.groupby("code_uic")
    for flag in ("freight", "passengers"):
        if (per_station[flag].nunique() > 1).any():
            raise ValueError(f"{flag} differs between the rows of one station: cannot merge")
    src = src.sort_values(["code_uic", "code_ligne", "rg_troncon", "pk"], kind="stable")
    # pk of each line, '/' between the points of one station on the same line.
    pk_by_line = (
        src.groupby(["code_uic", "code_ligne"], sort=True)["pk"].agg("/".join).reset_index()
    )
    lines = pk_by_line.groupby("code_uic").agg(
        line_codes=("code_ligne", ";".join), pk=("pk", ";".join)
    )
    first = src.drop_duplicates("code_uic", keep="first").set_index("code_uic")
    # Every row is a real position of the station on one of its lines; rows of one station
    # can lie far apart (165 stations over 100 m, 23 over 1 km: Villers-Cotterêts 1.35 km).
    # Distances must be measured to the nearest of them, so the station keeps them all as a
    # MultiPoint (distinct points, in source order); a station with one point stays a Point.
    geometry = src.groupby("code_uic", sort=False).geometry.agg(_all_points)
    out = gpd.GeoDataFrame(
        {
            "code_uic": first.index.to_numpy(),
            "name": first["libelle"].astype(str).to_numpy(),
            "freight": first["freight"].to_numpy(),
            "passengers": first["passengers"].to_numpy(),
            "line_codes": lines.loc[first.index, "line_codes"].to_numpy(),
            "pk": lines.loc[first.index, "pk"].to_numpy(),
            "n_points": per_station.size().loc[first.index].astype("int16").to_numpy(),
            "commune": first["commune"].astype(str).to_numpy(),
            "departement": first["departemen"].astype(str).to_numpy(),
        },
        geometry=geometry.loc[first.index].to_numpy(),
        crs=src.crs,
    )
    if int(out.loc[out["freight"], "n_points"].sum()) != int(src["freight"].sum()):
        raise AssertionError("freight rows lost while merging stations")
    log.info("stations: %d (freight %d)", len(out), out["freight"].sum())
    return out.sort_values("code_uic").reset_index(drop=True)


_RTE_STATUS = {"EN EXPLOITATION": "existing", "ACCORD ADMINISTRATIF": "planned"}
_RTE_FUNCTION = {"POSTE DE TRANSFORMATION": "transformation", "POSTE DE PIQUAGE": "tap"}


def build_rte_substations(path: Path) -> gpd.GeoDataFrame:
    """RTE substations with a numeric voltage in kV and unique ids."""
    src = gpd.read_file(path)
    log.info("%s: %d rows", path.name, len(src))
    label = src["tension"].astype(str).str.strip()
    # Only labels that are one voltage ("63kV") become numbers: "<45kV", "HORS TENSION"
    # and "COURANT CONTINU" do not say which voltage, so they stay NaN.
    kv = pd.to_numeric(label.str.extract(r"^(\d+(?:\.\d+)?)\s*kV$", expand=False), errors="coerce")
    status = src["etat"].astype(str).str.strip().str.upper().map(_RTE_STATUS)
    function = src["fonction_du_poste"].astype(str).str.strip().str.upper().map(_RTE_FUNCTION)
    if status.isna().any() or function.isna().any():
        raise ValueError("unknown RTE etat / fonction_du_poste values: update the mappings")
    code = src["code_poste"].astype(str).str.strip()
    rank = code.groupby(code).cumcount()
    ids = np.where(rank == 0, code, code + "#" + (rank + 1).astype(str))
    out = gpd.GeoDataFrame(
        {
            "id": ids,
            "code_poste": code.to_numpy(),
            "name": src["nom_poste"].astype(str).str.strip().to_numpy(),
            "voltage_kv": kv.astype("float64").to_numpy(),
            "voltage_label": label.to_numpy(),
            "function": function.to_numpy(),
            "status": status.to_numpy(),
        },
        geometry=src.geometry.to_numpy(),
        crs=src.crs,
    )
    return out.sort_values("id").reset_index(drop=True)


#: airportsdata lists the overseas départements under their own ISO country codes.
AERODROME_COUNTRIES = {"FR": None, "GP": "971", "MQ": "972", "GF": "973", "RE": "974", "YT": "976"}


def download_airportsdata(folder: Path) -> Path:
    """``pip download --no-deps`` the airportsdata wheel (nothing is installed)."""
    pips = [[sys.executable, "-m", "pip"]]
    if found := shutil.which("pip3") or shutil.which("pip"):
        pips.append([found])
    for pip in pips:
        cmd = [*pip, "download", "--no-deps", "--only-binary=:all:", "-d", str(folder)]
        try:
            subprocess.run([*cmd, f"airportsdata=={AIRPORTSDATA_VERSION}"], check=True)
            return next(folder.glob("airportsdata-*.whl"))
        except (OSError, subprocess.CalledProcessError, StopIteration) as exc:
            log.warning("%s: %s", " ".join(pip), exc)
    raise SystemExit(
        f"pip download of airportsdata=={AIRPORTSDATA_VERSION} failed: download the wheel by "
        "hand and pass it with --airportsdata-wheel."
    )


def build_aerodromes(wheel: Path) -> gpd.GeoDataFrame:
    """Aerodromes of France and of its overseas départements, elevation in metres."""
    with zipfile.ZipFile(wheel) as z, z.open("airportsdata/airports.csv") as f:
        src = pd.read_csv(f, dtype=str, keep_default_na=False)
    src = src[src["country"].isin(list(AERODROME_COUNTRIES))]
    log.info("%s: %d rows in France and the overseas départements", wheel.name, len(src))
    iata = src["iata"].astype("string").str.strip().replace("", pd.NA)
    out = gpd.GeoDataFrame(
        {
            "icao": src["icao"].astype(str).str.strip().to_numpy(),
            "iata": iata.to_numpy(),
            "name": src["name"].astype(str).str.strip().to_numpy(),
            "country": src["country"].to_numpy(),
            "elevation_m": (src["elevation"].astype(float) * FEET_TO_M).round(1).to_numpy(),
        },
        geometry=gpd.points_from_xy(src["lon"].astype(float), src["lat"].astype(float)),
        crs=4326,
    )
    if out["icao"].duplicated().any():
        raise ValueError("duplicate ICAO codes in the aerodrome file")
    return out.sort_values("icao").reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--airportsdata-wheel",
        type=Path,
        help=f"airportsdata {AIRPORTSDATA_VERSION} wheel (default: pip download)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    jobs = {
        "sncf_gares.parquet": (build_sncf_stations, SNCF_FILE),
        "rte_postes.parquet": (build_rte_substations, RTE_FILE),
    }
    for out_name, (build, src_name) in jobs.items():
        gdf = build(args.source_dir / src_name)
        target = args.out_dir / out_name
        gdf.to_parquet(target, compression="zstd", index=False)
        log.info("wrote %s: %d rows, %d bytes", target, len(gdf), target.stat().st_size)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.airportsdata_wheel or download_airportsdata(Path(tmp))
        gdf = build_aerodromes(wheel)
        target = args.out_dir / "aerodromes.parquet"
        gdf.to_parquet(target, compression="zstd", index=False)
        log.info("wrote %s: %d rows, %d bytes", target, len(gdf), target.stat().st_size)


if __name__ == "__main__":
    main()

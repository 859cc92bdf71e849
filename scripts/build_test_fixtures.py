"""Cut the real test fixtures of ``tests/data/`` from the project's collected datasets.

The test suite runs from the repository alone: every real file a test reads lives in
``tests/data/``, with the same relative path it has in the collected datasets folder (the one
described by its ``SOURCES.md``). This script rebuilds them, so anyone holding that folder can
check or refresh the fixtures::

    uv run python scripts/build_test_fixtures.py --source PATH/TO/data [--out tests/data]

How each file is cut (the list below, ``FIXTURES``, is the single source of truth; DATA.md
describes the same files with their origin and licence):

- ``copy``: byte-identical copy;
- ``columns``: a GeoJSON whose features keep only the properties the tests read; the
  geometries and the values kept are copied as they are in the source (JSON numbers are
  re-written with Python's shortest round-trip representation, so no coordinate changes);
- any file larger than 100 kB uncompressed (and not already gzipped) is stored xz-compressed
  with a ``.xz`` suffix; ``tests/conftest.py`` decompresses it once per test session.

At the end the script prints the size of every fixture and the total, and writes
``tests/data/MANIFEST.json`` (path, how it was cut, size, SHA-256 of the source file).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import lzma
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("build_test_fixtures")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data"
COMPRESS_ABOVE = 100_000  # bytes: larger fixtures are stored xz-compressed


@dataclass(frozen=True)
class Fixture:
    """One fixture: its path (relative to the datasets folder), how it is cut, why it exists."""

    path: str
    cut: str  # "copy" | "columns"
    used_by: str
    keep: tuple[str, ...] = ()  # properties kept by a "columns" cut


FIXTURES: tuple[Fixture, ...] = (
    Fixture("territoires/reference_territories_epci.csv", "copy", "test_admin, test_territories"),
    Fixture(
        "infrastructure/sncf_liste_des_gares_france.geojson",
        "columns",
        "test_infrastructure, test_cli, test_pipeline, test_exports",
        keep=("code_uic", "libelle", "fret", "x_l93", "y_l93"),
    ),
    Fixture(
        "infrastructure/rte_postes_electriques_france.geojson",
        "columns",
        "test_infrastructure, test_scoring",
        keep=("code_poste", "nom_poste", "tension"),
    ),
    Fixture("infrastructure/aerodromes_france_airportsdata.geojson", "copy", "test_infrastructure"),
    Fixture("infrastructure/bdtopo_v3_sample_olemps_12174.gpkg", "copy", "test_zae"),
    Fixture("constraints/ppr_cnig_38DDT20200002_isere.gpkg", "copy", "test_constraints"),
    Fixture("constraints/pac_risques_herault_034.gpkg", "copy", "test_constraints"),
    Fixture("dem/copernicus_dem_N45E005_grenoble_0p002deg.tif", "copy", "test_terrain"),
    *(
        Fixture(f"zae/cnig_schema_sites_economiques/{name}", "copy", "test_zae, test_exports")
        for name in ("site-eco.schema.json", "terrain-eco.schema.json", "sites_economiques.gpkg")
    ),
    *(
        Fixture(f"fixtures/apicarto/{name}", "copy", "test_apicarto, test_cadastre, test_http")
        for name in (
            "cadastre_commune_penmarch.json",
            "cadastre_division.json",
            "cadastre_feuille.json",
            "cadastre_localisant.json",
            "cadastre_parcelle.json",
            "codes_postaux_communes_08170.json",
        )
    ),
    Fixture(
        "fixtures/geopf_wfs/wfs_getcapabilities_data_geopf_fr.xml",
        "copy",
        "test_geopf, test_constraints, test_http",
    ),
    *(
        Fixture(f"fixtures/overpass/{name}", "copy", "test_osm, test_infrastructure, test_zae")
        for name in (
            "overpass_bbox.osm.gz",
            "overpass_pont_de_veyle_ain_2022.osm.gz",
            "overpass_redon_35_2019.osm.gz",
        )
    ),
)

#: The recorded Overpass answers of the ``overpy`` test-suite: the whole folder is copied.
OVERPY_FOLDER = "fixtures/overpass/overpy_json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _keep_columns(src: Path, keep: tuple[str, ...]) -> bytes:
    doc = json.loads(src.read_text(encoding="utf-8"))
    for feature in doc["features"]:
        props = feature.get("properties") or {}
        missing = [k for k in keep if k not in props]
        if missing:
            raise SystemExit(f"{src}: a feature lacks {', '.join(missing)}")
        feature["properties"] = {k: props[k] for k in keep}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _write(data: bytes, rel: str, out: Path) -> Path:
    """Write a fixture, xz-compressed when it is large and not compressed already."""
    target = out / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if len(data) > COMPRESS_ABOVE and not rel.endswith(".gz"):
        target = target.with_name(target.name + ".xz")
        data = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    target.write_bytes(data)
    return target


def build(source: Path, out: Path) -> list[dict[str, object]]:
    """Cut every fixture from ``source`` into ``out``; return the manifest rows."""
    if not (source / "SOURCES.md").is_file():
        raise SystemExit(f"{source} is not the collected datasets folder (no SOURCES.md in it)")
    if out.exists():
        shutil.rmtree(out)
    rows: list[dict[str, object]] = []
    items = [*FIXTURES]
    items += [
        Fixture(f"{OVERPY_FOLDER}/{p.name}", "copy", "test_overpass")
        for p in sorted((source / OVERPY_FOLDER).glob("*.json"))
    ]
    for fx in items:
        src = source / fx.path
        if not src.is_file():
            raise SystemExit(f"missing source file {src}")
        data = _keep_columns(src, fx.keep) if fx.cut == "columns" else src.read_bytes()
        target = _write(data, fx.path, out)
        rows.append(
            {
                "file": target.relative_to(out).as_posix(),
                "source": fx.path,
                "cut": fx.cut if not fx.keep else f"columns: {', '.join(fx.keep)}",
                "compressed": target.suffix == ".xz",
                "bytes": target.stat().st_size,
                "source_bytes": src.stat().st_size,
                "source_sha256": _sha256(src),
                "used_by": fx.used_by,
            }
        )
        log.info("%-72s %9d bytes", rows[-1]["file"], rows[-1]["bytes"])
    manifest = out / "MANIFEST.json"
    manifest.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(int(str(r["bytes"])) for r in rows) + manifest.stat().st_size
    log.info("%d fixtures, %.2f MB in all (with MANIFEST.json)", len(rows), total / 1e6)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--source",
        type=Path,
        required=True,
        help="the collected datasets folder (the one holding SOURCES.md)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (tests/data)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    build(args.source, args.out)


if __name__ == "__main__":
    main()

"""Copy the CNIG "Sites économiques" and "Friches" standards into ``layers/data/cnig/``.

The package validates files against the standards' own Table Schemas and writes GeoPackages
from the official empty template, offline. This script copies those small files (schemas,
data package, template GeoPackage, example rows) from the folder of collected datasets
(DATA.md), checks that they parse, and records where each came from in
``layers/data/cnig/SOURCES.json``.

Re-run it after updating that folder (e.g. a newer version of the standards)::

    uv run python scripts/build_cnig.py --shared DATASETS
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sqlite3
from pathlib import Path

log = logging.getLogger("build_cnig")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "layers" / "data" / "cnig"
DEFAULT_SHARED = ROOT.parent / "shared" / "data"

SITES_REPO = "cnigfr/schema-sites-economiques"
SITES_HEAD = "2fb499ea3e976b4383b09e64a8c322700da589ff"  # snapshot HEAD, 2025-05-15
FRICHES_REPO = "cnigfr/schema-friches"
FRICHES_COMMIT = "80ab02fa32c6fdf6342545ef7b682b05b49f9e19"  # 2025-12-17, schema v1.0.6

# (source path relative to the shared data folder, file name in layers/data/cnig,
#  repository, commit, path in the repository)
FILES = [
    *[
        (
            f"zae/cnig_schema_sites_economiques/{t}.schema.json",
            f"{t}.schema.json",
            SITES_REPO,
            SITES_HEAD,
            f"schema/{t}/schema.json",
        )
        for t in ("pole-eco", "site-eco", "terrain-eco", "etablissement")
    ],
    *[
        (
            f"zae/cnig_schema_sites_economiques/{t}.exemple-valide.csv",
            f"{t}.exemple-valide.csv",
            SITES_REPO,
            SITES_HEAD,
            f"schema/{t}/exemple-valide.csv",
        )
        for t in ("pole-eco", "site-eco", "terrain-eco", "etablissement")
    ],
    (
        "zae/cnig_schema_sites_economiques/datapackage.json",
        "datapackage.json",
        SITES_REPO,
        SITES_HEAD,
        "datapackage.json",
    ),
    (
        "zae/cnig_schema_sites_economiques/sites_economiques.gpkg",
        "sites_economiques.gpkg",
        SITES_REPO,
        # last commit that changed the template (2024-01-30)
        "dc9219f0a8ee5bd82d05d0ab7a2adce646f5929b",
        "schema/sites_economiques.gpkg",
    ),
    (
        "constraints/cnig_schema_friches/schema.json",
        "friches.schema.json",
        FRICHES_REPO,
        FRICHES_COMMIT,
        "schema.json",
    ),
    (
        "constraints/cnig_schema_friches/fichier-valide.csv",
        "friches.exemple-valide.csv",
        FRICHES_REPO,
        FRICHES_COMMIT,
        "fichier-valide.csv",
    ),
]


def _check(path: Path) -> str:
    """Return a one-line description of ``path`` after checking that it parses."""
    if path.suffix == ".json":
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "fields" in doc:
            return f"Table Schema {doc.get('version', '?')}, {len(doc['fields'])} fields"
        return f"data package, {len(doc.get('resources', []))} resources"
    if path.suffix == ".gpkg":
        with sqlite3.connect(path) as con:
            layers = [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents ORDER BY 1")]
            styles = con.execute("SELECT count(*) FROM layer_styles").fetchone()[0]
        return f"GeoPackage, tables {layers}, {styles} QGIS styles"
    lines = path.read_text(encoding="utf-8").splitlines()
    return f"CSV, {len(lines) - 1} example row(s)"


def main(shared: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    sources = {}
    for src_rel, name, repo, commit, repo_path in FILES:
        src = shared / src_rel
        if not src.is_file():
            raise SystemExit(f"missing {src}: is the shared data folder at {shared}?")
        dst = OUT / name
        shutil.copyfile(src, dst)
        digest = hashlib.sha256(dst.read_bytes()).hexdigest()
        what = _check(dst)
        log.info("%s <- %s (%s)", name, src_rel, what)
        sources[name] = {
            "repository": f"https://github.com/{repo}",
            "commit": commit,
            "path": repo_path,
            "sha256": digest,
            "content": what,
            "licence": "Licence Ouverte / Etalab 2.0",
        }
    (OUT / "SOURCES.json").write_text(
        json.dumps(sources, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    log.info("wrote %d files and SOURCES.json to %s", len(sources), OUT)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    main(parser.parse_args().shared)

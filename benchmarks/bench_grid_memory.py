"""Peak memory of a siting study per grid cell, for the size guard of ``grid_sites``.

Each grid size runs in a fresh process (peak RSS is a high-water mark): the grid is built,
then the whole study (default profile, layers, score, 200 Monte-Carlo draws) runs on it.
The marginal memory per cell between the smallest and the largest grid is printed next to
the figures :data:`foncier.engine.sites.BYTES_PER_SITE` and ``BYTES_PER_BOX_CELL`` use.

    uv run python benchmarks/bench_grid_memory.py                   # alencon, 300/150/60 m
    uv run python benchmarks/bench_grid_memory.py --territory grand-compiegnois --sizes 400,200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys
import foncier
import foncier.engine.sites as S
S.check_grid_size = lambda *a, **k: None   # measure, do not refuse
t = foncier.territory(sys.argv[1])
size = float(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
sites = S.grid_sites(t, cell_size_m=size)
grid = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
foncier.siting_study(t, sites=sites, draws=200)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"cells": len(sites), "base": base, "grid": grid, "peak": peak,
                  "estimate": S.grid_memory(t, size)[1]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--territory", default="alencon")
    parser.add_argument("--sizes", default="300,150,60", help="cell sizes, metres")
    args = parser.parse_args()
    from foncier.engine.sites import BYTES_PER_BOX_CELL, BYTES_PER_SITE

    rows = []
    for size in args.sizes.split(","):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, args.territory, size],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{size:>6} m  {row['cells']:>9,} cells  peak {row['peak'] / 1e6:8.0f} MB  "
            f"(grid {row['grid'] / 1e6:.0f} MB, start {row['base'] / 1e6:.0f} MB)  "
            f"guard estimate {row['estimate'] / 1e6:8.0f} MB"
        )
    first, last = rows[0], rows[-1]
    if last["cells"] > first["cells"]:
        per = (last["peak"] - first["peak"]) / (last["cells"] - first["cells"])
        print(
            f"marginal peak memory: {per:,.0f} bytes per cell; the guard counts "
            f"{BYTES_PER_SITE:,} per cell plus {BYTES_PER_BOX_CELL:,} per cell of the bounding box"
        )


if __name__ == "__main__":
    main()

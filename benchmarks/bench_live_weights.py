"""How fast the siting map re-weights in the browser (Debian's headless Chromium).

Synthetic square sites on a grid, four distance criteria and a flood exclusion, scored by
foncier; the self-contained siting map is opened in headless Chromium and its weights are
changed ``--repeat`` times through the page's own entry point (the one the sliders call).
Prints, per size, the median time to recompute scores, ranks and classes, the median time to
redraw the sites, legend, badges and panel, the file size, and the largest difference between
the page's scores and ``foncier.score`` run with the same weights (and whether the top 10
agree). A benchmark, not a test: run it by hand on a quiet machine.

    uv run python benchmarks/bench_live_weights.py                 # 1,000 and 20,000 sites
    uv run python benchmarks/bench_live_weights.py --sizes 1000 --repeat 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

import foncier
from foncier.engine.profiles import profile_from_dict
from foncier.reports.mapping import siting_map
from layers.territories import Territory
from maps.browser import headless_chromium
from maps.export import save_html

X0, Y0 = 680_000.0, 6_900_000.0


def make_case(n: int, seed: int = 0):
    side = int(np.ceil(np.sqrt(n)))
    step = 200.0
    xs, ys = np.meshgrid(np.arange(side) * step, np.arange(side) * step)
    x, y = X0 + xs.ravel()[:n], Y0 + ys.ravel()[:n]
    sites = gpd.GeoDataFrame(
        {"site_id": [f"S{i:06d}" for i in range(n)]},
        geometry=shapely.box(x, y, x + 190, y + 190),
        crs=2154,
    )
    rng = np.random.default_rng(seed)
    extent = side * step

    def pts(k: int) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            {"nom": [f"P{i}" for i in range(k)]},
            geometry=gpd.points_from_xy(
                X0 + rng.uniform(0, extent, k), Y0 + rng.uniform(0, extent, k)
            ),
            crs=2154,
        )

    layers = {
        "rail_freight_stations": pts(5),
        "ports": pts(2),
        "motorway_junctions": pts(4),
        "substations": pts(10),
        "flood_zones": gpd.GeoDataFrame(
            geometry=[shapely.Point(X0 + extent / 3, Y0 + extent / 2).buffer(extent / 8)],
            crs=2154,
        ),
    }

    def crit(cid: str, layer: str, weight: float, hi: float) -> dict:
        return {
            "id": cid,
            "measure": "distance",
            "layer": layer,
            "weight": weight,
            "transform": {"kind": "linear", "from": 200, "to": hi, "direction": "decreasing"},
        }

    prof = profile_from_dict(
        {
            "profile": {"id": "bench", "name": "Bench"},
            "criteria": [
                crit("rail", "rail_freight_stations", 4, extent / 3),
                crit("port", "ports", 3, extent / 2),
                crit("motorway", "motorway_junctions", 2, extent / 3),
                crit("power", "substations", 1, extent / 4),
            ],
            "exclusions": [
                {
                    "id": "flood",
                    "label": "En zone inondable",
                    "measure": "overlap_share",
                    "layer": "flood_zones",
                    "op": ">",
                    "value": 0.2,
                }
            ],
        }
    )
    box = shapely.box(X0 - 100, Y0 - 100, X0 + extent + 100, Y0 + extent + 100)
    terr = Territory(
        id="bench",
        name="Banc d'essai",
        crs=sites.crs,
        perimeter=box,
        communes=gpd.GeoDataFrame(
            {"insee": [], "nom": [], "population": []}, geometry=[], crs=2154
        ),
        epci=gpd.GeoDataFrame({"siren": [], "nom": []}, geometry=[], crs=2154),
    )
    return sites, layers, prof, terr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    print(f"{'sites':>7} {'compute ms':>11} {'redraw ms':>10} {'file MB':>8} {'max |Δ|':>9} top10")
    for n in (int(s) for s in args.sizes.split(",")):
        sites, layers, prof, terr = make_case(n)
        scored = foncier.score(sites, layers, prof)
        m = siting_map(scored, territory=terr, layers=layers, profile=prof, basemaps=("plain",))
        with tempfile.TemporaryDirectory() as tmp:
            path = save_html(m, Path(tmp) / "carte.html", self_contained=True)
            size = path.stat().st_size / 1e6
            with headless_chromium(width=1400, height=900) as driver:
                driver.get(path.as_uri())
                while not driver.execute_script("return !!window.foncierWeights;"):
                    time.sleep(0.1)
                compute, draw, worst, same_top = [], [], 0.0, True
                for _ in range(args.repeat):
                    pts = {
                        c: int(v)
                        for c, v in zip(
                            ("rail", "port", "motorway", "power"),
                            rng.integers(0, 101, 4),
                            strict=True,
                        )
                    }
                    pts["rail"] = max(pts["rail"], 1)
                    t = driver.execute_script(
                        "foncierWeights.setPoints(arguments[0]);"
                        "var r = foncierWeights.result;"
                        "return [r.timing.compute, r.timing.draw, Array.from(r.score),"
                        " r.order.slice(0, 10)];",
                        pts,
                    )
                    compute.append(t[0])
                    draw.append(t[1])
                    py = foncier.score(sites, layers, prof.with_weights(pts))
                    worst = max(worst, float(np.abs(np.asarray(t[2]) - py["score"]).max()))
                    top_py = py.index[np.argsort(py["rank"].fillna(1e9).to_numpy())[:10]]
                    same_top &= list(top_py) == [py.index[i] for i in t[3]]
        print(
            f"{n:>7} {statistics.median(compute):>11.1f} {statistics.median(draw):>10.1f} "
            f"{size:>8.2f} {worst:>9.1e} {'same' if same_top else 'DIFFERENT'}"
        )


if __name__ == "__main__":
    main()

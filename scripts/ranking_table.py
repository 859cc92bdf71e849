"""Print, per reference territory and shipped profile, how well the ranking discriminates.

For each pair it scores the default candidate sites (``hex:auto``) on the embedded layers and
reports: the number of non-excluded sites tied with the best score (rounded to 9 decimals),
the spread of the top 10 (best score minus the 10th best, points out of 100), and the
criteria saturated for more than half of the non-excluded sites (score exactly 0 or 1, with
the share). Only the public API is used, so the same script measures any version::

    uv run python scripts/ranking_table.py > table.md
"""

from __future__ import annotations

import sys

import numpy as np

import foncier
from foncier.pipeline import MAP_CONTEXT_LAYERS, profile_layers
from layers.catalog import LAYERS

TOP = 10


def _row(scored: object, territory: str, profile: str) -> str:
    kept = scored[~scored["excluded"].astype(bool)]
    scores = np.sort(np.round(kept["score"].to_numpy(dtype=float), 9))[::-1]
    tied = int((scores == scores[0]).sum()) if len(scores) else 0
    spread = float(scores[0] - scores[min(TOP, len(scores)) - 1]) if len(scores) else float("nan")
    order = np.argsort(-kept["score"].to_numpy(dtype=float), kind="stable")
    top, rest = order[:TOP], order[TOP:]
    saturated = []
    separating = 0
    for c in scored.attrs["foncier"]["criteria"]:
        s = kept[f"{c['id']}__score"].to_numpy(dtype=float)
        if len(rest) and s[top].mean() - np.median(s[rest]) >= 0.1:
            separating += 1
        for level, name in ((1.0, "1"), (0.0, "0")):
            share = float((s == level).mean()) if len(s) else 0.0
            if share > 0.5:
                saturated.append(f"{c['id']} ({share:.0%} at {name})")
    n_criteria = len(scored.attrs["foncier"]["criteria"])
    return (
        f"| {territory} | {profile} | {len(kept)} | {tied} | {spread:.2f} | "
        f"{', '.join(saturated) or '—'} | {separating} / {n_criteria} |"
    )


def main(territories: list[str]) -> None:
    profiles = list(foncier.list_profiles()["id"])
    print(
        "| territory | profile | sites kept | tied first | top-10 spread | saturated (>50 %) "
        "| separating top 10 |"
    )
    print("|---|---|---|---|---|---|---|")
    for tid in territories:
        t = foncier.territory(tid)
        wanted = {n for p in profiles for n in profile_layers(foncier.load_profile(p))}
        wanted |= set(MAP_CONTEXT_LAYERS)
        layers = foncier.load_layers(t, [n for n in wanted if n in LAYERS])
        sites = foncier.engine.sites.parse_sites_spec("hex:auto")(t)
        for pid in profiles:
            scored = foncier.score(sites, layers, pid)
            print(_row(scored, tid, pid), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(foncier.presets()))

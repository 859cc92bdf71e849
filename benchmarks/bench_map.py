"""Benchmark: how long ``foncier map PRESET`` and the imports take, against the import floor.

Each command runs in a fresh interpreter, the repetitions interleaved (one round runs every
command once, in turn), so that a busy neighbour on a shared machine slows them alike:

* ``floor``: ``python -c "import geopandas, folium"``, the libraries any siting map needs;
* ``import geopandas``; ``import foncier`` (the lazy façade) and ``import foncier`` plus the
  scoring and mapping modules (what a notebook pays before its first ``score``);
* ``foncier --help``;
* ``foncier map PRESET`` for each preset, *warm* (bytecode cached) and *cold* (an empty
  bytecode cache, ``PYTHONPYCACHEPREFIX`` pointing to a new folder: every module of the
  stack is compiled again, as on the first run after installing).

The maps run with ``--offline`` (embedded data only, no network probe), so that they
measure foncier and not the network. *Warm* runs always write and reuse bytecode, even
when ``PYTHONDONTWRITEBYTECODE`` is set in the caller's environment (with it set, and a
virtual environment installed without compiled bytecode, every "warm" run would compile
the whole stack again).

``--baseline DIR`` also runs the maps of another checkout (``DIR/.venv/bin/foncier``, e.g.
a worktree of an older commit), interleaved with this one's, for a before/after table from
one run.

Prints the median and the spread (min–max) of each, the ratio of each map to the floor
measured in the same run, the median CPU time (user + system, all threads; far less
sensitive than wall time to a busy machine) and its ratio to the floor's, and the load
average of the machine.

Usage::

    uv run python benchmarks/bench_map.py                  # 5 rounds, every preset
    uv run python benchmarks/bench_map.py --rounds 3 --presets alencon --no-cold
    uv run python benchmarks/bench_map.py --baseline ../foncier-old --rounds 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRESETS = (
    "grand-compiegnois",
    "chalons-en-champagne",
    "chartres-metropole",
    "alencon",
    "soissonnais-valois",
)


def run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, all threads) of ``cmd``, seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-bytecode runs")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout whose maps run interleaved with these (DIR/.venv/bin/foncier)",
    )
    args = parser.parse_args()
    py = sys.executable
    # The installed console script, as a user runs it.
    foncier_cmd = [str(Path(py).parent / "foncier")]
    versions = {"": foncier_cmd}
    if args.baseline is not None:
        baseline = args.baseline.resolve() / ".venv" / "bin" / "foncier"
        if not baseline.is_file():
            parser.error(f"--baseline: {baseline} not found (run `uv sync` there)")
        versions = {" [this]": foncier_cmd, " [baseline]": [str(baseline)]}
    presets = [p for p in args.presets.split(",") if p]
    commands: dict[str, list[str]] = {
        "floor: import geopandas, folium": [py, "-c", "import geopandas, folium"],
        "import geopandas": [py, "-c", "import geopandas"],
        "import foncier": [py, "-c", "import foncier"],
        "import foncier + score, siting_map": [
            py,
            "-c",
            "import foncier; foncier.score; foncier.siting_map",
        ],
        "foncier --help": [*foncier_cmd, "--help"],
    }
    cold = set()
    for kind in ("warm", "cold"):
        if kind == "cold" and args.no_cold:
            continue
        for p in presets:
            for tag, cmd in versions.items():
                name = f"map {p} ({kind}){tag}"
                commands[name] = [*cmd, "map", p, "--offline", "-o", f"{p}.html"]
                if kind == "cold":
                    cold.add(name)
    times: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    loads = []
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # One untimed pass fills the bytecode cache of the warm runs.
        for name, cmd in commands.items():
            if name not in cold:
                run(cmd, cwd=work, env=base_env)
        for i in range(args.rounds):
            print(f"round {i + 1}/{args.rounds}", file=sys.stderr, flush=True)
            loads.append(os.getloadavg()[0])
            for name, cmd in commands.items():
                env = base_env
                if name in cold:
                    fresh = tempfile.mkdtemp(dir=work, prefix="pyc-")
                    env = {**base_env, "PYTHONPYCACHEPREFIX": fresh}
                wall, cpu = run(cmd, cwd=work, env=env)
                times[name].append(wall)
                cpus[name].append(cpu)
    floor = statistics.median(times["floor: import geopandas, folium"])
    print(
        f"{args.rounds} interleaved rounds; load average (1 min) during the rounds: "
        f"{min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores"
    )
    floor_cpu = statistics.median(cpus["floor: import geopandas, folium"])
    print(
        f"{'command':<50} {'median':>8} {'min':>7} {'max':>7} {'/ floor':>8}"
        f" {'CPU':>7} {'/ floor':>8}"
    )
    for name, values in times.items():
        med, cpu = statistics.median(values), statistics.median(cpus[name])
        print(
            f"{name:<50} {med:7.2f}s {min(values):6.2f}s {max(values):6.2f}s {med / floor:7.2f}x"
            f" {cpu:6.2f}s {cpu / floor_cpu:7.2f}x"
        )


if __name__ == "__main__":
    main()

"""What each entry point imports: heavy libraries only where they do the work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = (
    "geopandas",
    "pandas",
    "shapely",
    "folium",
    "folium.plugins",
    "mapclassify",
    "sklearn",
    "scipy",
    "dask",
    "requests_cache",
    "layers.reachability",
    "pyarrow.dataset",
)


def _loaded_after(code: str, cwd: Path | None = None) -> set[str]:
    """Modules of HEAVY imported by running ``code`` in a fresh interpreter."""
    probe = (
        f"{code}\nimport sys\n"
        f"sys.stderr.write('LOADED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=cwd
    )
    listed = out.stderr.rsplit("LOADED:", 1)[1].strip()
    return {m for m in listed.split(",") if m}


def test_help_does_not_load_the_data_stack():
    code = "from foncier.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass"
    assert _loaded_after(code) == set()


def test_import_foncier_is_light_and_the_facade_resolves_on_use():
    assert _loaded_after("import foncier, layers") == set()
    loaded = _loaded_after("import foncier\nassert callable(foncier.score)")
    assert "pandas" in loaded
    assert not loaded & {"folium", "mapclassify", "sklearn", "dask"}


def test_siting_map_does_not_pay_for_scipy_or_scikit_learn(tmp_path):
    code = (
        "from foncier.cli import app\n"
        "try:\n    app(['map', 'alencon', '--offline', '--output', 'carte.html'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code"
    )
    loaded = _loaded_after(code, cwd=tmp_path)
    assert (tmp_path / "carte.html").stat().st_size > 10_000
    assert "folium" in loaded
    assert not loaded & {"mapclassify", "sklearn", "scipy"}
    # offline, neither the HTTP cache (requests-cache) nor the reachability check is needed
    assert not loaded & {"requests_cache", "layers.reachability"}
    # the embedded files are read row group by row group, without pyarrow's dataset layer
    assert "pyarrow.dataset" not in loaded
    # the map's three Leaflet plugins without folium's fifty; the options parsed by click's
    # own types, without pydantic
    assert not loaded & {"folium.plugins", "pydantic"}


def test_the_command_collects_garbage_less_often_than_the_library():
    code = (
        "import gc, sys\n"
        "from foncier.__main__ import GC_THRESHOLDS, main\n"
        "assert gc.get_threshold() != GC_THRESHOLDS  # importing foncier changes nothing\n"
        "sys.argv = ['foncier', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('THRESHOLDS:%r' % (gc.get_threshold() == GC_THRESHOLDS,))\n"
        # the objects left when the command ends are out of the collector's reach, so that
        # the interpreter's shutdown does not go over them again
        "sys.stderr.write(' FROZEN:%r' % (gc.get_freeze_count() > 1_000,))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.endswith("THRESHOLDS:True FROZEN:True")

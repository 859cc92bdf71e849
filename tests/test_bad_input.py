"""Bad and odd input, as a hostile but realistic user gives it, through the CLI and the API.

Every case asserts the exact error class (or exit code), a message that names the problem,
and that no output was written or altered. Most CLI cases run in-process (typer's
CliRunner); a representative subset runs the installed ``foncier`` command in a subprocess
to check the exit codes, that no Python traceback is ever printed, and that SIGTERM and
Ctrl-C leave no temporary file.

Families: usage (options), outputs, territories, profiles, sites files, API arguments,
sources, CSV injection, cached answers, subprocess.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_http import LocalServer, Reply
from typer.testing import CliRunner

import foncier
from foncier.cli import app
from layers.config import settings as settings_
from layers.errors import (
    ArgumentError,
    BadAnswerError,
    CRSError,
    DataSourceError,
    FoncierError,
    GeometryError,
    OfflineError,
    OutputError,
    ProfileError,
    SchemaError,
    TerritoryError,
    UnknownSiteError,
    UnknownTerritoryError,
)

runner = CliRunner()
FONCIER = Path(sys.executable).with_name("foncier")

USAGE, INPUT, SOURCE = 2, 3, 4


# --------------------------------------------------------------------------- helpers


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden temporary files included) with its content hash."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "<dir>"
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink()
    }


def invoke(args: list[str], folder: Path) -> tuple[int, str]:
    """Run the CLI in-process; assert that nothing under ``folder`` changed."""
    before = snapshot(folder)
    result = runner.invoke(app, args)
    assert snapshot(folder) == before, "an output was written or altered"
    output = result.output
    assert "Traceback" not in output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}") from result.exception
    return result.exit_code, output


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture(scope="module")
def commune() -> foncier.Territory:
    """Compiègne (60159), one commune: quick to build."""
    return foncier.territory("60159")


@pytest.fixture(scope="module")
def grid(commune) -> gpd.GeoDataFrame:
    return foncier.grid_sites(commune, cell_size_m=1000)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder holding one existing output, to check that failures leave it alone."""
    (tmp_path / "existing.html").write_text("<p>previous map</p>", encoding="utf-8")
    (tmp_path / "existing.csv").write_text("previous;table\n", encoding="utf-8")
    return tmp_path


# ------------------------------------------------------------ 1. usage: options (exit 2)

USAGE_CASES = [
    (["map", "alencon", "--top", "-3"], "--top must be >= 1"),
    (["map", "alencon", "--top", "0"], "--top must be >= 1"),
    (["map", "alencon", "--top", "abc"], "Invalid value for '--top'"),
    (["map", "alencon", "--draws", "-5"], "--draws must be >= 0"),
    (["map", "alencon", "--draws", "1.5"], "Invalid value for '--draws'"),
    (["map", "alencon", "--size", "big"], "WIDTHxHEIGHT"),
    (["map", "alencon", "--size", "0x100"], "WIDTHxHEIGHT"),
    (["map", "alencon", "--size", "100000x1000"], "at most 10000 pixels"),
    (["map", "alencon", "--size", "-1x-1"], "WIDTHxHEIGHT"),
    (["map", "alencon", "--sites", "grid:inf"], "cell size must be a positive number"),
    (["map", "alencon", "--sites", "grid:nan"], "cell size must be a positive number"),
    (["map", "alencon", "--sites", "hex:-5"], "cell size must be a positive number"),
    (["map", "alencon", "--sites", "hex:0"], "cell size must be a positive number"),
    (["map", "alencon", "--sites", "hex:1e400"], "cell size must be a positive number"),
    (["map", "alencon", "--sites", "hex:abc"], "cell size must be a positive number"),
    (["map", "alencon", "--sites", "hex:"], "cell size must be a positive number"),
    (["map", "alencon", "--sites", "sites.txt"], "bad sites option"),
    (["map", "alencon", "--sites", ""], "bad sites option"),
    (["map", "alencon", "--sites", "triangle:500"], "bad sites option"),
    (["map", "alencon", "--source", "slope"], "expected LAYER=PATH"),
    (["map", "alencon", "--source", "=dem.tif"], "expected LAYER=PATH"),
    (["map", "alencon", "--source", "slope="], "expected LAYER=PATH"),
    (["map", "alencon", "--source", "slope=a.tif", "--source", "slope=b.tif"], "given twice"),
    (["map", "alencon", "--source", "railways=a.gpkg"], "Unknown layer(s) ['railways']"),
    (["map", "alencon", "-o", "carte.png"], "unknown suffix '.png'"),
    (["map", "alencon", "-o", "carte"], "unknown suffix '(none)'"),
    (["map", "alencon", "-o", ""], "give a file name"),
    (["map", "alencon", "-o", "carte.html.bak"], "unknown suffix '.bak'"),
    (["map", "alencon", "--png", "carte.jpg"], "unknown suffix '.jpg'"),
    (["map", "alencon", "--pdf", "carte.png"], "unknown suffix '.png'"),
    (["score", "alencon", "-o", "sites.txt"], "unknown suffix '.txt'"),
    (["score", "alencon", "-o", "sites.shp"], "unknown suffix '.shp'"),
    (["score", "alencon", "-o", "sites.ods"], "unknown suffix '.ods'"),
    (["score", "alencon", "--top", "-1"], "--top must be >= 1"),
    (["score", "alencon", "--draws", "-1"], "--draws must be >= 0"),
    (["fiches", "alencon", "--top", "0"], "--top must be >= 1"),
    (["fetch", "alencon", "--layer", "railways"], "unknown layer(s) ['railways']"),
    (["map"], "Missing argument"),
    (["map", "alencon", "--frobnicate"], "No such option"),
    (["cartographie", "alencon"], "No such command"),
]


@pytest.mark.parametrize(
    ("args", "expected"), USAGE_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_usage_errors_exit_2_before_any_work(work, monkeypatch, args, expected):
    monkeypatch.chdir(work)
    code, output = invoke(args, work)
    assert code == USAGE, output
    assert expected in output


def test_a_failure_leaves_an_existing_output_untouched(work):
    before = (work / "existing.html").read_bytes()
    code, _ = invoke(["map", "alencon", "--top", "-3", "-o", str(work / "existing.html")], work)
    assert code == USAGE
    assert (work / "existing.html").read_bytes() == before


# ----------------------------------------------------------------- 2. outputs (exit 3)


def _output_cases(work: Path) -> list[tuple[list[str], str]]:
    (work / "folder.html").mkdir()
    (work / "folder.gpkg").mkdir()
    (work / "device.html").symlink_to("/dev/null")
    (work / "device.csv").symlink_to("/dev/null")
    os.mkfifo(work / "pipe.html")
    os.mkfifo(work / "pipe.gpkg")
    (work / "a_file").write_text("x")
    return [
        (["map", "alencon", "-o", str(work / "missing" / "carte.html")], "does not exist"),
        (["map", "alencon", "-o", str(work / "folder.html")], "is a folder"),
        (["map", "alencon", "-o", str(work / "device.html")], "not a regular file"),
        (["map", "alencon", "-o", str(work / "pipe.html")], "not a regular file"),
        (["map", "alencon", "--png", str(work / "missing" / "carte.png")], "does not exist"),
        (["map", "alencon", "--pdf", str(work / "a_file" / "carte.pdf")], "is a file, not a"),
        (["score", "alencon", "-o", str(work / "folder.gpkg")], "is a folder"),
        (["score", "alencon", "-o", str(work / "pipe.gpkg")], "not a regular file"),
        (["score", "alencon", "-o", str(work / "device.csv")], "not a regular file"),
        (["score", "alencon", "-o", str(work / "no" / "such" / "sites.csv")], "does not exist"),
        (["fiches", "alencon", "-o", str(work / "a_file")], "is not a folder"),
        (["fiches", "alencon", "-o", str(work / "missing" / "fiches")], "does not exist"),
        (["fiches", "alencon", "-o", str(work / "existing.html")], "is not a folder"),
    ]


@pytest.mark.parametrize("i", range(13))
def test_unwritable_outputs_exit_3_before_any_work(work, i):
    args, expected = _output_cases(work)[i]
    code, output = invoke(args, work)
    assert code == INPUT, output
    assert expected in error_line(output)
    assert not (work / "missing").exists()


def test_check_output_path_from_python(tmp_path):
    from layers.arguments import check_output_path

    (tmp_path / "d.html").mkdir()
    os.mkfifo(tmp_path / "p.csv")
    with pytest.raises(OutputError, match="is a folder"):
        check_output_path(tmp_path / "d.html", suffixes=(".html",))
    with pytest.raises(OutputError, match="not a regular file"):
        check_output_path(tmp_path / "p.csv")
    with pytest.raises(OutputError, match="not a regular file"):
        check_output_path("/dev/null")
    with pytest.raises(ArgumentError, match="give a file name"):
        check_output_path("")
    with pytest.raises(ArgumentError, match="give a file name"):
        check_output_path(None)
    with pytest.raises(OutputError, match="does not exist; create it first"):
        check_output_path(tmp_path / "nope" / "x.csv")
    with pytest.raises(OutputError, match="cannot be used: File name too long"):
        check_output_path(tmp_path / ("x" * 300 + ".csv"))
    assert isinstance(OutputError("x"), OSError)
    assert check_output_path(tmp_path / "ok.html", suffixes=(".html",)) == tmp_path / "ok.html"


def test_atomic_writes_never_replace_a_device_a_pipe_or_a_folder(tmp_path):
    from layers.files import atomic_path, write_bytes_atomic

    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    (tmp_path / "device").symlink_to("/dev/null")
    before = snapshot(tmp_path)
    for name in ("pipe", "folder", "device"):
        with pytest.raises(OutputError, match="not replaced"):
            write_bytes_atomic(tmp_path / name, b"data")
        with pytest.raises(OutputError), atomic_path(tmp_path / name):
            pass
    assert snapshot(tmp_path) == before
    assert (tmp_path / "device").resolve() == Path("/dev/null")


# --------------------------------------------------------------- 3. territories (exit 3)

TERRITORY_CASES = [
    ("compiegne", UnknownTerritoryError, "grand-compiegnois"),
    ("grand-compiegnoiss", UnknownTerritoryError, "grand-compiegnois"),
    ("[/]", UnknownTerritoryError, "'[/]'"),
    ("[bold red]x[/bold red]", UnknownTerritoryError, "[bold red]x[/bold red]"),
    ("weights must be [0 1]", UnknownTerritoryError, "[0 1]"),
    ("a" * 10_000, UnknownTerritoryError, "10,000 characters"),
    ("99999", UnknownTerritoryError, "99999"),
    ("123456789", UnknownTerritoryError, "123456789"),
    ("2C", UnknownTerritoryError, "2C"),
    ("60,61001x", UnknownTerritoryError, "61001x"),
    ("60,60159", TerritoryError, "mixes kinds of codes"),
    ("60,974", TerritoryError, "different projected CRS"),
    (",", TerritoryError, "Empty territory"),
    ("nowhere.gpkg", UnknownTerritoryError, "does not exist"),
]


@pytest.mark.parametrize(("spec", "cls", "expected"), TERRITORY_CASES, ids=lambda v: str(v)[:30])
def test_bad_territories(work, spec, cls, expected):
    arg = [s for s in spec.split(",") if s] if "," in spec else spec
    with pytest.raises(cls) as err:
        foncier.territory(arg)
    assert expected in str(err.value)
    # the same through the CLI: plain text (never Rich markup), exit 3, nothing written
    code, output = invoke(["map", spec, "--no-score", "-o", str(work / "carte.html")], work)
    assert code == INPUT, output
    assert expected in output


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (12345, "as text: '12345'"),
        (60.0, "got 60.0 (float)"),
        (b"60", "(bytes)"),
        (True, "(bool)"),
        (["60", 1], "codes must be text"),
        ({"epci": "200067965"}, "(dict)"),
    ],
    ids=repr,
)
def test_territory_arguments_of_the_wrong_type(spec, expected):
    with pytest.raises(ArgumentError) as err:
        foncier.territory(spec)
    assert expected in str(err.value)


def test_territory_keyword_codes_must_be_text():
    with pytest.raises(ArgumentError, match="communes: codes must be text"):
        foncier.territory(communes=[60159])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(min_size=1, max_size=300))
def test_random_strings_as_territory(monkeypatch, text):
    # Suggestions are tested above; here only the kind of answer matters.
    monkeypatch.setattr("layers.territories.suggest", lambda *a, **k: [])
    try:
        t = foncier.territory(text)
    except (UnknownTerritoryError, TerritoryError, ArgumentError) as exc:
        message = str(exc)
        assert message.strip()
    else:  # a real code or preset id: a territory with a perimeter
        assert not shapely.is_empty(t.perimeter)


def _boundary_files(folder: Path, commune: foncier.Territory) -> dict[str, Path]:
    outline = gpd.GeoDataFrame({"nom": ["Compiègne"]}, geometry=[commune.perimeter], crs=2154)
    files = {}
    files["l93_as_crs84"] = folder / "l93_as_crs84.geojson"
    outline.set_crs("OGC:CRS84", allow_override=True).to_file(files["l93_as_crs84"])
    files["l93_as_3857"] = folder / "l93_as_3857.gpkg"
    outline.set_crs(3857, allow_override=True).to_file(files["l93_as_3857"])
    files["csv_table"] = folder / "table.geojson.csv"
    files["csv_table"].write_text("insee;nom\n60159;Compiègne\n", encoding="utf-8")
    files["empty"] = folder / "empty.geojson"
    files["empty"].write_text('{"type": "FeatureCollection", "features": []}')
    files["points"] = folder / "points.gpkg"
    outline.set_geometry(outline.representative_point()).to_file(files["points"])
    files["garbage"] = folder / "garbage.gpkg"
    files["garbage"].write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    files["folder"] = folder / "folder.gpkg"
    files["folder"].mkdir()
    files["two_layers"] = folder / "two_layers.gpkg"
    outline.to_file(files["two_layers"], layer="a")
    outline.to_file(files["two_layers"], layer="b")
    return files


BOUNDARY_CASES = [
    ("l93_as_crs84", CRSError, "look like metres"),
    ("l93_as_3857", GeometryError, "lies in France"),
    ("csv_table", SchemaError, "no geometry"),
    ("empty", GeometryError, "no feature"),
    ("points", GeometryError, "no polygon"),
    ("garbage", DataSourceError, "Cannot read boundary file"),
    ("folder", UnknownTerritoryError, "is a folder"),
    ("two_layers", SchemaError, "several layers"),
]


@pytest.mark.parametrize(("name", "cls", "expected"), BOUNDARY_CASES)
def test_bad_boundary_files(tmp_path, commune, name, cls, expected):
    files = _boundary_files(tmp_path, commune)
    with pytest.raises(cls) as err:
        foncier.territory(files[name])
    assert expected in str(err.value)
    out = tmp_path / "out"
    out.mkdir()
    code, output = invoke(["map", str(files[name]), "--no-score", "-o", str(out / "c.html")], out)
    assert code == (SOURCE if cls is DataSourceError else INPUT), output
    assert expected in output


# ----------------------------------------------------------------- 4. profiles (exit 3)

PROFILE = """
[profile]
id = "test"
name = "Test"
{head}

[[criteria]]
id = "rail"
measure = "distance"
layer = "rail_freight_stations"
weight = 1
transform = {{ kind = "linear", from = 500, to = 10000, direction = "decreasing" }}
{filter}

[[exclusions]]
id = "far"
label = "Trop loin"
measure = "distance"
layer = "rail_freight_stations"
op = "{op}"
value = {value}
"""


def profile_text(*, value="20000", op=">", head="", filter=""):
    return PROFILE.format(value=value, op=op, head=head, filter=filter)


def test_the_base_profile_is_valid(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(profile_text(), encoding="utf-8")
    prof = foncier.load_profile(path)
    assert prof.exclusions[0].value == 20000


PROFILE_VALUE_CASES = [
    ({"value": '"10 km"'}, "'value' must be a finite number"),
    ({"value": "[1, 2]"}, "'value' must be a finite number"),
    ({"value": "nan"}, "'value' must be a finite number"),
    ({"value": "inf"}, "'value' must be a finite number"),
    ({"value": "true"}, "'value' must be a finite number"),
    ({"value": "{ a = 1 }"}, "'value' must be a finite number"),
    ({"value": "[1, 2]", "op": "=="}, "'value' must be a number, a text or true/false"),
    ({"value": "nan", "op": "!="}, "'value' must be a number, a text or true/false"),
    ({"op": "~="}, "'op' must be one of"),
    ({"head": "min_contiguous_area_m2 = nan"}, "min_contiguous_area_m2 must be a finite"),
    ({"head": "min_contiguous_area_m2 = -1"}, "min_contiguous_area_m2 must be a finite"),
    ({"head": "min_contiguous_area_m2 = inf"}, "min_contiguous_area_m2 must be a finite"),
    ({"head": 'min_contiguous_area_m2 = "5 ha"'}, "min_contiguous_area_m2 must be a finite"),
    ({"head": "min_contiguous_area_m2 = true"}, "min_contiguous_area_m2 must be a finite"),
    (
        {"filter": 'filter = { column = "code_uic", op = ">=", value = "225" }'},
        "compares numbers",
    ),
    ({"filter": 'filter = { column = "x", op = "<", value = nan }'}, "compares numbers"),
    ({"filter": 'filter = { column = "x", op = "in", value = [] }'}, "non-empty list"),
    ({"filter": 'filter = { column = "x", op = "in", value = "abc" }'}, "non-empty list"),
    ({"filter": 'filter = { column = "x", op = "in", value = [[1]] }'}, "non-empty list"),
    ({"filter": 'filter = { column = "x", op = "==", value = [1] }'}, "needs a number, a text"),
    ({"filter": 'filter = { column = "x", op = "=~", value = 1 }'}, "unknown filter operator"),
]


@pytest.mark.parametrize(("fields", "expected"), PROFILE_VALUE_CASES, ids=str)
def test_bad_profile_values(work, fields, expected):
    path = work / "bad.toml"
    path.write_text(profile_text(**fields), encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        foncier.load_profile(path)
    assert expected in str(err.value)


def _profile_files(folder: Path) -> dict[str, Path]:
    files = {}
    files["latin1"] = folder / "latin1.toml"
    files["latin1"].write_bytes(profile_text().replace("Trop loin", "Très loin").encode("latin-1"))
    files["not_toml"] = folder / "not_toml.toml"
    files["not_toml"].write_text("[profile\nid = ", encoding="utf-8")
    files["binary"] = folder / "binary.toml"
    files["binary"].write_bytes(bytes(range(256)))
    files["empty"] = folder / "empty.toml"
    files["empty"].write_text("", encoding="utf-8")
    files["folder"] = folder / "folder.toml"
    files["folder"].mkdir()
    files["radius_inf"] = folder / "radius_inf.toml"
    files["radius_inf"].write_text(
        profile_text() + '\n[[criteria]]\nid = "pop"\nmeasure = "sum_within"\nlayer = "communes"\n'
        'column = "population"\nradius_m = inf\nweight = 1\n'
        'transform = { kind = "linear", from = 0, to = 1 }\n',
        encoding="utf-8",
    )
    return files


PROFILE_FILE_CASES = [
    ("latin1", "not UTF-8"),
    ("not_toml", "not valid TOML"),
    ("binary", "not UTF-8"),
    ("empty", "profile"),
    ("folder", "neither a shipped profile nor a .toml file"),
    ("radius_inf", "positive finite number of metres"),
]


@pytest.mark.parametrize(("name", "expected"), PROFILE_FILE_CASES)
def test_bad_profile_files(work, name, expected):
    path = _profile_files(work)[name]
    with pytest.raises(ProfileError) as err:
        foncier.load_profile(path)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("", "got ''"),
        ("   ", "got '   '"),
        (None, "got None"),
        (12, "got 12"),
        ("logistique", "unknown profile 'logistique'"),
        ("x" * 5000 + ".toml", "neither a shipped profile nor a .toml file"),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_bad_profile_names(profile, expected):
    with pytest.raises(ProfileError) as err:
        foncier.load_profile(profile)
    assert expected in str(err.value)


def test_cli_profile_errors(work):
    files = _profile_files(work)
    code, output = invoke(["score", "60159", "--profile", "", "-o", str(work / "s.csv")], work)
    assert code == INPUT
    assert "got ''" in error_line(output)
    code, output = invoke(
        ["score", "60159", "--profile", str(files["latin1"]), "-o", str(work / "s.csv")], work
    )
    assert code == INPUT
    assert "not UTF-8" in error_line(output)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["distance", "overlap_share", "linear", "sigmoid", "weighted_sum", "owa"]),
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
_criterion = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=8),
        "measure": st.sampled_from(["distance", "overlap_share", "sum_within", "area", "x"]),
        "layer": st.sampled_from(["rail_freight_stations", "communes", "flood_zones", "nope"]),
    },
    optional={
        "weight": _values,
        "transform": st.one_of(
            _values,
            st.fixed_dictionaries(
                {"kind": st.sampled_from(["linear", "sigmoid", "gaussian", "step", "x"])},
                optional={"from": _values, "to": _values, "direction": _values},
            ),
        ),
        "radius_m": _values,
        "column": _values,
        "filter": _values,
        "unit": _values,
    },
)
_exclusion = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=8),
        "measure": st.sampled_from(["distance", "intersects", "area"]),
        "op": st.sampled_from(["<", ">", "==", "!=", "=~"]),
    },
    optional={"layer": st.sampled_from(["flood_zones", "nope"]), "value": _values},
)
_profiles = st.fixed_dictionaries(
    {
        "profile": st.fixed_dictionaries(
            {"id": st.text(min_size=1, max_size=8)},
            optional={
                "aggregation": _values,
                "min_contiguous_area_m2": _values,
                "owa_weights": _values,
                "name": _values,
            },
        ),
        "criteria": st.lists(_criterion, max_size=3),
    },
    optional={"exclusions": st.lists(_exclusion, max_size=2), "ahp": _values},
)


@settings(max_examples=150, deadline=None)
@given(data=_profiles)
def test_random_profiles_are_accepted_or_refused_with_a_profile_error(data):
    from foncier.engine.profiles import profile_from_dict

    try:
        prof = profile_from_dict(data)
    except ProfileError as exc:
        message = str(exc)
        assert message.strip()
        return
    # accepted: every number the engine will use is finite
    assert all(math.isfinite(c.weight) for c in prof.criteria)
    assert math.isfinite(prof.min_contiguous_area_m2)
    for e in prof.exclusions:
        if e.op in ("<", "<=", ">", ">="):
            assert isinstance(e.value, int | float)
            assert math.isfinite(e.value)


# ---------------------------------------------------------------- 5. sites files (exit 3)


def _site_files(folder: Path, grid: gpd.GeoDataFrame) -> dict[str, Path]:
    cells = grid[["site_id", "geometry"]].reset_index(drop=True)
    files = {}
    files["zero_rows"] = folder / "zero_rows.gpkg"
    cells.iloc[:0].to_file(files["zero_rows"])
    files["empty_geoms"] = folder / "empty_geoms.geojson"
    cells.assign(geometry=shapely.Polygon()).to_file(files["empty_geoms"])
    files["dup_ids"] = folder / "dup_ids.gpkg"
    cells.assign(site_id=["A", "A", *cells["site_id"][2:]]).to_file(files["dup_ids"])
    files["l93_as_crs84"] = folder / "l93_as_crs84.geojson"
    cells.set_crs("OGC:CRS84", allow_override=True).to_file(files["l93_as_crs84"])
    files["l93_as_3857"] = folder / "l93_as_3857.gpkg"
    cells.set_crs(3857, allow_override=True).to_file(files["l93_as_3857"])
    files["no_crs"] = folder / "no_crs.gpkg"
    gpd.GeoDataFrame({"site_id": cells["site_id"]}, geometry=cells.geometry.to_numpy()).to_file(
        files["no_crs"]
    )
    files["two_layers"] = folder / "two_layers.gpkg"
    cells.to_file(files["two_layers"], layer="zones_a")
    cells.to_file(files["two_layers"], layer="zones_b")
    files["truncated"] = folder / "truncated.gpkg"
    cells.to_file(files["truncated"])
    data = files["truncated"].read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["csv_as_gpkg"] = folder / "table.gpkg"
    files["csv_as_gpkg"].write_text("site_id;x;y\nA;1;2\n", encoding="utf-8")
    files["folder"] = folder / "folder.gpkg"
    files["folder"].mkdir()
    return files


SITES_FILE_CASES = [
    ("zero_rows", GeometryError, "no feature"),
    ("empty_geoms", GeometryError, "only empty geometries"),
    ("dup_ids", SchemaError, "repeat (e.g. ['A'])"),
    ("l93_as_crs84", CRSError, "look like metres"),
    ("l93_as_3857", GeometryError, "lies in France"),
    ("no_crs", CRSError, "no CRS"),
    ("two_layers", SchemaError, "several layers of sites (zones_a, zones_b)"),
    ("truncated", DataSourceError, "cannot read sites file"),
    ("csv_as_gpkg", DataSourceError, "cannot read sites file"),
    ("folder", DataSourceError, "is a folder"),
    ("missing", DataSourceError, "not found"),
]


@pytest.mark.parametrize(("name", "cls", "expected"), SITES_FILE_CASES)
def test_bad_sites_files(tmp_path, commune, grid, name, cls, expected):
    files = _site_files(tmp_path, grid)
    path = files.get(name, tmp_path / "missing.gpkg")
    with pytest.raises(cls) as err:
        foncier.sites_from_file(path, commune)
    assert expected in str(err.value)


def test_sites_of_another_area_are_refused(tmp_path, grid):
    path = tmp_path / "compiegne.gpkg"
    grid[["site_id", "geometry"]].to_file(path)
    with pytest.raises(GeometryError, match=r"none of its .* site\(s\) lies in Alençon"):
        foncier.sites_from_file(path, foncier.territory("61001"))


def test_a_layer_that_is_not_in_the_file(tmp_path, commune, grid):
    files = _site_files(tmp_path, grid)
    with pytest.raises(SchemaError, match="has no layer 'nope'; its layers: zones_a, zones_b"):
        foncier.sites_from_file(files["two_layers"], commune, layer="nope")
    # FILE:LAYER on the command line picks one
    read = foncier.engine.sites.parse_sites_spec(f"{files['two_layers']}:zones_b")
    assert len(read(commune)) == len(grid)


def test_a_cnig_geopackage_is_read_from_site_eco(tmp_path, commune, grid):
    # pole_eco (points) comes first in the file: the zones are in site_eco
    path = tmp_path / "cnig.gpkg"
    poles = gpd.GeoDataFrame(
        {"pole_id": ["P1"]}, geometry=[grid.geometry.iloc[0].centroid], crs=grid.crs
    )
    poles.to_file(path, layer="pole_eco")
    zones = grid[["site_id", "geometry"]].iloc[:5].reset_index(drop=True)
    zones.to_file(path, layer="site_eco")
    zones.iloc[:2].to_file(path, layer="terrain_eco")
    sites = foncier.sites_from_file(path, commune)
    assert sorted(sites["site_id"]) == sorted(zones["site_id"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.integers(0, 30), max_size=8),
    ids=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "1", "=cmd"])), max_size=8),
    crs=st.sampled_from(["EPSG:2154", "OGC:CRS84", "EPSG:3857", "EPSG:32631", None]),
    empty=st.booleans(),
)
def test_random_site_files(tmp_path_factory, commune, grid, rows, ids, crs, empty):
    folder = tmp_path_factory.mktemp("random")
    cells = grid.iloc[[r % len(grid) for r in rows]].reset_index(drop=True)[["geometry"]]
    if ids:
        cells["site_id"] = [ids[i % len(ids)] for i in range(len(cells))]
    if empty and len(cells):
        cells.loc[0, "geometry"] = shapely.Polygon()
    frame = gpd.GeoDataFrame(cells.drop(columns="geometry"), geometry=cells.geometry.to_numpy())
    if crs is not None:
        frame = frame.set_crs(crs, allow_override=True)
    path = folder / "sites.gpkg"
    frame.to_file(path)
    try:
        sites = foncier.sites_from_file(path, commune)
    except (SchemaError, CRSError, GeometryError) as exc:
        message = str(exc)
        assert message.strip()
    else:
        assert crs == "EPSG:2154"
        assert len(sites) > 0
        assert sites.index.is_unique
        assert shapely.intersects(sites.geometry.to_numpy(), commune.perimeter).all()


# ------------------------------------------------------------- 6. API arguments (Python)

GRID_CASES = [
    ({"cell_size_m": "500"}, "must be a number of metres, got '500' (str)"),
    ({"cell_size_m": None}, "must be a number of metres, got None"),
    ({"cell_size_m": True}, "(bool)"),
    ({"cell_size_m": [500]}, "(list)"),
    ({"cell_size_m": float("nan")}, "finite"),
    ({"cell_size_m": float("inf")}, "finite"),
    ({"cell_size_m": -1}, "must be > 0"),
    ({"cell_size_m": 0}, "must be > 0"),
    ({"cell_size_m": 500, "shape": "triangle"}, "shape must be one of 'hex', 'square'"),
    ({"cell_size_m": 500, "shape": None}, "shape must be one of"),
    ({"cell_size_m": 500, "min_area_m2": float("nan")}, "min_area_m2 must be a finite"),
    ({"cell_size_m": 500, "min_area_m2": -5}, "min_area_m2 must be >= 0"),
    ({"cell_size_m": 500, "minus": 42}, "minus must be a GeoDataFrame"),
]


@pytest.mark.parametrize(("kwargs", "expected"), GRID_CASES, ids=str)
def test_grid_sites_arguments(commune, kwargs, expected):
    with pytest.raises(ArgumentError) as err:
        foncier.grid_sites(commune, **kwargs)
    assert expected in str(err.value)
    assert isinstance(err.value, ValueError)


def test_grid_sites_needs_a_territory():
    with pytest.raises(ArgumentError, match="territory must be a Territory"):
        foncier.grid_sites("60159", cell_size_m=500)


def test_a_grid_too_large_for_the_memory_is_refused_with_the_figures(monkeypatch):
    import foncier.engine.sites as sites_module

    # 4 GB free: a 20 m grid over the Grand Compiégnois (about 2.2 million cells) needs more
    monkeypatch.setattr(sites_module, "_available_memory", lambda: 4_000_000_000)
    t = foncier.territory("grand-compiegnois")
    cells, need = sites_module.grid_memory(t, 20, "hex")
    # hand computation of the cell count: area / ((√3/2)·s²)
    assert cells == int(t.area_km2 * 1e6 / (math.sqrt(3) / 2 * 400))
    with pytest.raises(GeometryError) as err:
        foncier.grid_sites(t, cell_size_m=20)
    text = str(err.value)
    assert f"{cells:,}" in text
    assert f"{need / 1e9:.1f} GB" in text
    assert "4.0 GB available" in text
    fit = int(text.split("Use cells of ")[1].split(" m")[0])
    assert sites_module.grid_memory(t, fit, "hex")[1] <= 0.8 * 4_000_000_000
    assert "dask" in text


@pytest.fixture(scope="module")
def scored(commune, grid):
    layers = foncier.load_layers(commune, ["rail_freight_stations", "communes"])
    return foncier.score(grid, layers, "logistique-multimodale")


@pytest.mark.parametrize(
    ("call", "cls", "expected"),
    [
        (lambda s: foncier.breakdown(s, "no-such-site"), UnknownSiteError, "not in the scored"),
        (lambda s: foncier.breakdown(s, "H00001"), UnknownSiteError, "Did you mean H0000"),
        (lambda s: foncier.rank(s, top_n=-1), ArgumentError, "top_n must be >= 1"),
        (lambda s: foncier.rank(s, top_n=0), ArgumentError, "top_n must be >= 1"),
        (lambda s: foncier.rank(s, top_n=1.5), ArgumentError, "top_n must be a whole number"),
        (lambda s: foncier.rank(s, top_n="3"), ArgumentError, "top_n must be a whole number"),
        (lambda s: _sens(s, n=-10), ArgumentError, "n (draws) must be >= 1, got -10"),
        (lambda s: _sens(s, n=0), ArgumentError, "n (draws) must be >= 1"),
        (lambda s: _sens(s, n=2.5), ArgumentError, "n (draws) must be a whole number"),
        (lambda s: _sens(s, top_n=0), ArgumentError, "top_n must be >= 1"),
        (lambda s: _sens(s, seed=-1), ArgumentError, "seed must be >= 0"),
        (lambda s: _sens(s, weight_noise=float("nan")), ArgumentError, "finite"),
        (lambda s: _sens(s, weight_noise=-0.1), ArgumentError, "weight_noise"),
        (lambda s: _sens(s, bounds_noise="0.1"), ArgumentError, "bounds_noise"),
        (lambda s: _sweep(s, factors=[1, -1]), ArgumentError, "factors must be >= 0"),
        (lambda s: _sweep(s, factors=[float("nan")]), ArgumentError, "factors must be a finite"),
    ],
    ids=lambda v: "" if callable(v) else str(v)[:30],
)
def test_scoring_and_sensitivity_arguments(scored, call, cls, expected):
    with pytest.raises(cls) as err:
        call(scored)
    assert expected in str(err.value)


def _sens(scored, **kwargs):
    return foncier.sensitivity(None, scored, "logistique-multimodale", **kwargs)


def _sweep(scored, **kwargs):
    return foncier.weight_sweep(
        scored, "logistique-multimodale", criterion="rail_freight", **kwargs
    )


def test_unknown_site_is_also_a_key_error(scored):
    with pytest.raises(KeyError) as err:
        foncier.breakdown(scored, "nope")
    assert str(err.value).startswith("site 'nope'")  # no doubled quotes


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"draws": -5}, "draws must be >= 0"),
        ({"draws": 2.5}, "draws must be a whole number"),
        ({"top_n": 0}, "top_n must be >= 1"),
        ({"margin_m": float("nan")}, "margin_m must be a finite number"),
        ({"margin_m": -1}, "margin_m must be >= 0"),
        ({"margin_m": 5000}, "smaller than the 20000 m radius"),
        ({"sites": 500}, "sites option must be text"),
        ({"sources": {"railways": "x.gpkg"}}, "Unknown layer(s) ['railways']"),
    ],
    ids=str,
)
def test_siting_study_arguments(commune, kwargs, expected):
    with pytest.raises(ArgumentError) as err:
        foncier.siting_study(commune, profile="logistique-multimodale", **kwargs)
    assert expected in str(err.value)


def test_the_loading_margin_follows_the_largest_radius(commune, monkeypatch):
    from foncier.pipeline import _margin_for
    from layers.config import settings as layer_settings

    prof = foncier.load_profile("logistique-multimodale")
    monkeypatch.setattr(layer_settings, "infrastructure_margin_m", 10_000.0)
    assert _margin_for(prof, None) == 20_000.0  # the labour pool radius, not 10 km
    assert _margin_for(prof, 25_000.0) == 25_000.0


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: _slope_units(), "units must be 'degrees' or 'percent'"),
        (lambda: _subdivide(3), "max_vertices must be at least 8"),
        (lambda: _sample_shapes(), "same shape"),
        (lambda: _partitions(0), "npartitions must be >= 1"),
        (lambda: _partitions(1.5), "npartitions must be a whole number"),
        (lambda: foncier.load_layers(foncier.territory("60159"), ["nope"]), "Unknown layer"),
        (lambda: foncier.engine.sites.parse_sites_spec(None), "sites option must be text"),
    ],
    ids=lambda v: "" if callable(v) else str(v)[:30],
)
def test_former_plain_value_errors_are_argument_errors(call, expected):
    with pytest.raises(ArgumentError) as err:
        call()
    assert expected in str(err.value)
    assert isinstance(err.value, FoncierError)
    assert isinstance(err.value, ValueError)


def _dem():
    from affine import Affine

    from layers.raster import Raster

    return Raster(
        array=np.zeros((4, 4)), transform=Affine(25.0, 0, 680000, 0, -25.0, 6920000), crs=2154
    )


def _slope_units():
    from layers.terrain import slope

    return slope(_dem(), units="grad")


def _sample_shapes():
    from layers.terrain import sample_raster

    return sample_raster(_dem(), np.zeros(3), np.zeros(2))


def _subdivide(n):
    from layers.constraints import subdivide

    return subdivide(gpd.GeoDataFrame(geometry=[], crs=2154), max_vertices=n)


def _partitions(n):
    from foncier.engine.distributed import partition_sites

    return partition_sites(gpd.GeoDataFrame(geometry=[], crs=2154), npartitions=n)


# ---------------------------------------------------------------- 7. sources (exit 4)


def _write_dem(path: Path, territory: foncier.Territory, *, truncate: bool = False) -> Path:
    """A flat DEM over the territory's bounds (values made up, placed on real bounds)."""
    import rasterio
    from rasterio.transform import from_bounds

    minx, miny, maxx, maxy = territory.bounds
    width, height = 64, 64
    transform = from_bounds(minx, miny, maxx, maxy, width, height)
    with rasterio.open(
        path, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
        crs="EPSG:2154", transform=transform,
    ) as dst:  # fmt: skip
        dst.write(np.full((1, height, width), 50.0, dtype="float32"))
    if truncate:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


SOURCE_CASES = [
    ("slope", "missing.tif", DataSourceError, "does not exist"),
    ("slope", "vector.gpkg", DataSourceError, "not a raster"),
    ("slope", "truncated.tif", DataSourceError, "DEM file"),
    ("slope", "elsewhere.tif", DataSourceError, "does not cover"),
    ("slope", "text.tif", DataSourceError, "not a raster"),
    ("flood_zones", "dem.tif", DataSourceError, ""),
    ("flood_zones", "missing.gpkg", DataSourceError, ""),
    ("zae", "elsewhere.gpkg", DataSourceError, "no feature over"),
    ("zae", "two_layers.gpkg", SchemaError, "several layers of zones"),
]


@pytest.mark.parametrize(("layer", "name", "cls", "expected"), SOURCE_CASES)
def test_a_named_source_that_cannot_be_used_is_an_error(
    tmp_path, commune, layer, name, cls, expected
):
    alencon = foncier.territory("61001")
    _write_dem(tmp_path / "dem.tif", commune)
    _write_dem(tmp_path / "truncated.tif", commune, truncate=True)
    _write_dem(tmp_path / "elsewhere.tif", alencon)
    (tmp_path / "text.tif").write_text("not a raster")
    outline = gpd.GeoDataFrame(geometry=[commune.perimeter], crs=2154)
    outline.to_file(tmp_path / "vector.gpkg")
    gpd.GeoDataFrame({"nom": ["Zone"]}, geometry=[alencon.perimeter], crs=2154).to_file(
        tmp_path / "elsewhere.gpkg"
    )
    outline.to_file(tmp_path / "two_layers.gpkg", layer="a")
    outline.to_file(tmp_path / "two_layers.gpkg", layer="b")
    with pytest.raises(FoncierError) as err:
        foncier.load_layers(commune, [layer], sources={layer: tmp_path / name})
    assert isinstance(err.value, cls), repr(err.value)
    assert expected in str(err.value)


def test_a_usable_dem_source_loads(tmp_path, commune):
    dem = _write_dem(tmp_path / "dem.tif", commune)
    loaded = foncier.load_layers(commune, ["slope"], sources={"slope": dem})
    assert np.nanmax(loaded["slope"].array) == pytest.approx(0.0, abs=1e-9)  # a flat DEM


def test_cli_named_source_missing_exits_4(work):
    code, output = invoke(
        [
            "score", "60159", "--sites", "grid:3000", "--draws", "0",
            "--source", f"slope={work / 'missing.tif'}", "-o", str(work / "s.csv"),
        ],
        work,
    )  # fmt: skip
    assert code == SOURCE, output
    assert "does not exist" in error_line(output)


# -------------------------------------------------------------- 8. CSV injection


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_csv_cells_never_start_a_formula(text):
    from layers.files import csv_safe_text

    out = csv_safe_text(text)
    if out != text:
        assert out == "'" + text
        assert text[:1] in "=+-@\t\r"
    elif text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        float(text.replace(",", "."))  # only plain numbers are left as they are


def test_csv_export_neutralises_formulas(tmp_path, commune, grid):
    from foncier.reports.exports import export_study

    hostile = ['=HYPERLINK("http://evil")', "@SUM(A1:A9)", "+33 1 23", "-2+3", "\t=1", "ok"]
    sites = grid.iloc[: len(hostile)].copy()
    sites["name"] = hostile
    sites.columns = [*sites.columns[:-1], "name"]
    study = foncier.siting_study(
        commune, sites=sites, profile="logistique-multimodale", draws=0, top_n=3
    )
    path = export_study(study, tmp_path / "sites.csv")
    table = pd.read_csv(path, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    names = dict(zip(table["site_id"], table["name"], strict=True))
    expected = {
        sid: ("'" + h if h[0] in "=@+-\t" else h)
        for sid, h in zip(sites["site_id"], hostile, strict=True)
    }
    assert names == expected
    # numbers stay numbers (negative numbers are not prefixed)
    assert not table["score"].str.startswith("'").any()


# ----------------------------------------------------------- 9. cached answers of a wrong shape


@pytest.mark.parametrize("payload", [[], {"elements": {}}, {"elements": [1, "x"]}, "text", 3])
def test_overpass_answers_of_a_wrong_shape(payload):
    from layers.overpass import overpass_to_gdf

    with pytest.raises(SchemaError):
        overpass_to_gdf(payload)


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (lambda p: {"type": "Point", "coordinates": p}, None),
        (lambda p: {"type": "LineString", "coordinates": [[*p, 41.0], p]}, None),  # 3D and 2D
        (lambda p: {"type": "Polygon", "coordinates": []}, None),  # empty: dropped later
        (lambda p: None, None),  # no geometry: dropped later with a warning
        (
            lambda p: {"type": "Point", "coordinates": [str(v) for v in p]},
            "position that is a list",
        ),
        (lambda p: {"type": "Point", "coordinates": None}, "a position that is NoneType"),
        (lambda p: {"type": "LineString", "coordinates": [p, p[:1]]}, "position that is a list"),
        (lambda p: {"type": "Polygon", "coordinates": [p]}, "a position that is float"),
        (lambda p: {"type": "Point", "coordinates": [float("nan"), p[1]]}, "out of the range"),
        (lambda p: {"type": "Point", "coordinates": [p[1], p[0] * 1e5]}, "out of the range"),
        (lambda p: {"type": "Circle", "coordinates": p}, "of type 'Circle'"),
        (lambda p: "POINT EMPTY", "a geometry that is a string"),
    ],
)
def test_geojson_positions_are_checked_one_by_one(test_data, geometry, expected):
    from layers.answers import check_feature_collection

    # The first position of a recorded API Carto answer (degrees).
    doc = json.loads(_fixture(test_data, "apicarto/cadastre_parcelle.json"))
    first = doc["features"][0]["geometry"]["coordinates"][0][0][0]
    one = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": geometry(first)}],
    }
    check = check_feature_collection(epsg=4326)
    if expected is None:
        check(one)
    else:
        with pytest.raises(BadAnswerError, match=re.escape(expected)):
            check(one)


# Every web client, served by a local server on 127.0.0.1. The good answers are the recorded
# real responses of tests/data/fixtures, or (geo.api.gouv.fr, Géorisques, the WFS in Lambert-93)
# those same real features reshaped in code into the other service's format; the bad ones are
# derived from them in code: nothing here invents a coordinate.


def _fixture(test_data: Path, name: str) -> bytes:
    return (test_data / "fixtures" / name).read_bytes()


def _with_crs(doc: dict, epsg: int | None) -> dict:
    out = {k: v for k, v in doc.items() if k != "crs"}
    if epsg is not None:
        out["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
    return out


def _reprojected(doc: dict, epsg: int) -> dict:
    """The same features with their real coordinates reprojected (no 'crs' member)."""
    gdf = gpd.GeoDataFrame.from_features(doc["features"], crs=4326).to_crs(epsg)
    out = json.loads(gdf.to_json(drop_id=True))
    out.pop("crs", None)  # geopandas declares the CRS: the caller decides whether to
    return {**{k: v for k, v in doc.items() if k not in {"features", "crs"}}, **out}


def _centroids(doc: dict) -> dict:
    """The same features with a Point (their centroid) instead of their outline."""
    gdf = gpd.GeoDataFrame.from_features(doc["features"], crs=4326)
    gdf["geometry"] = gdf.to_crs(2154).centroid.to_crs(4326)
    return {**doc, **json.loads(gdf.to_json(drop_id=True))}


def _geoapi_doc(test_data: Path) -> dict:
    """Penmarch's real cadastral outline (API Carto record) in geo.api.gouv.fr's format."""
    doc = json.loads(_fixture(test_data, "apicarto/cadastre_commune_penmarch.json"))
    feat = doc["features"][0]
    props = feat["properties"]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": feat["geometry"],
                "properties": {
                    "code": props["code_insee"],
                    "nom": props["nom_com"],
                    "codeDepartement": props["code_dep"],
                },
            }
        ],
    }


@dataclass(frozen=True)
class Client:
    """One web client: where its service lives, how to call it, its good recorded answer."""

    name: str
    source: str
    setting: str
    base: str  # path of the service root on the local server
    path: str  # path the call requests
    call: Callable[[], object]
    good: Callable[[Path], bytes]
    kind: str = "json"  # json, xml
    epsg: int | None = None  # a FeatureCollection answer in this CRS
    shape: str = ""  # what the message says of an object of another schema


def _call_overpass():
    from layers.overpass import query_overpass

    return query_overpass('[out:json];node["highway"](50.74,7.17,50.75,7.18);out;')


def _clients() -> list[Client]:
    from layers import apicarto, geoapi, geopf, georisques

    apicarto_fc = "the answer has no 'features' list"
    return [
        Client(
            "apicarto-parcelle", "IGN API Carto", "apicarto_url", "/carto",
            "/carto/cadastre/parcelle",
            lambda: apicarto.cadastre_parcels(insee="41231", section="A", numero=75),
            lambda d: _fixture(d, "apicarto/cadastre_parcelle.json"), epsg=4326, shape=apicarto_fc,
        ),
        Client(
            "apicarto-commune", "IGN API Carto", "apicarto_url", "/carto",
            "/carto/cadastre/commune",
            lambda: apicarto.cadastre_communes(insee="29158"),
            lambda d: _fixture(d, "apicarto/cadastre_commune_penmarch.json"), epsg=4326,
            shape=apicarto_fc,
        ),
        Client(
            "apicarto-postal", "IGN API Carto", "apicarto_url", "/carto",
            "/carto/codes-postaux/communes/08170", lambda: apicarto.postal_code_communes("08170"),
            lambda d: _fixture(d, "apicarto/codes_postaux_communes_08170.json"),
            shape="not a list of records",
        ),
        Client(
            "geoapi-communes", "geo.api.gouv.fr", "geoapi_url", "/geo", "/geo/communes",
            lambda: geoapi.communes_geojson(codes="29158"),
            lambda d: json.dumps(_geoapi_doc(d)).encode(), epsg=4326, shape=apicarto_fc,
        ),
        Client(
            "geoapi-search", "geo.api.gouv.fr", "geoapi_url", "/geo", "/geo/communes",
            lambda: geoapi.search_communes("penmarch"),
            lambda d: json.dumps(
                [f["properties"] | {"_score": 1.0} for f in _geoapi_doc(d)["features"]]
            ).encode(),
            shape="not a list of records",
        ),
        Client(
            "georisques-azi", "Géorisques", "georisques_url", "/gr", "/gr/gaspar/azi",
            lambda: georisques.azi("29158"),
            lambda d: json.dumps(
                {"results": 0, "page": 1, "total_pages": 1, "data": []}
            ).encode(),
            shape="its 'data' member is NoneType",
        ),
        Client(
            "wfs-features", "IGN Géoplateforme WFS", "geopf_wfs_url", "/wfs", "/wfs",
            lambda: geopf.wfs_features("CADASTRALPARCELS.PARCELLAIRE_EXPRESS:parcelle",
                                       crs_out="EPSG:2154"),
            lambda d: json.dumps(_with_crs(_reprojected(
                json.loads(_fixture(d, "apicarto/cadastre_parcelle.json")), 2154), 2154)).encode(),
            epsg=2154, shape=apicarto_fc,
        ),
        Client(
            "wfs-capabilities", "IGN Géoplateforme WFS", "geopf_wfs_url", "/wfs", "/wfs",
            geopf.wfs_layers,
            lambda d: _fixture(d, "geopf_wfs/wfs_getcapabilities_data_geopf_fr.xml"), kind="xml",
            shape="not WFS 2.0 capabilities",
        ),
        Client(
            "overpass", "Overpass", "overpass_url", "/api/interpreter", "/api/interpreter",
            _call_overpass, lambda d: _fixture(d, "overpass/overpy_json/node-01.json"),
            shape="'elements' is NoneType",
        ),
    ]  # fmt: skip


CLIENTS = {c.name: c for c in _clients()}
_OTHER_SCHEMA = b'{"code": 400, "message": "Parametre invalide"}'
_HTML = b"<!DOCTYPE html><html><body><h1>Service en maintenance</h1></body></html>"


def _case_names(client: Client) -> list[str]:
    """The wrong shapes tried on one client."""
    if client.kind == "xml":
        return ["html-200", "exception-report", "no-feature-type", "truncated", "empty"]
    names = ["html-200", "empty", "truncated", "other-schema"]
    names += {
        4326: ["geometry-type", "metres-as-degrees", "declared-crs", "missing-property"],
        2154: ["degrees-as-metres", "declared-crs", "null-coordinates"],
    }.get(client.epsg or 0, [])
    names += {
        "apicarto-postal": ["missing-field"],
        "georisques-azi": ["total-pages-text"],
        "overpass": ["not-an-element", "lat-out-of-range"],
    }.get(client.name, [])
    return names


def _bad_answer(client: Client, case: str, test_data: Path) -> tuple[Reply, type, str]:
    """(bad reply, error class, what the message must say) of one case."""
    good = client.good(test_data)

    def js(doc: object) -> Reply:
        return Reply(json.dumps(doc).encode())

    if client.kind == "xml":
        report = (
            b'<?xml version="1.0"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1">'
            b'<ows:Exception exceptionCode="NoApplicableCode"><ows:ExceptionText>Service '
            b"indisponible</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"
        )
        # The real capabilities with their list of feature types emptied.
        no_types = re.sub(
            rb"<((?:\w+:)?)FeatureTypeList>.*</(?:\w+:)?FeatureTypeList>",
            lambda m: b"<" + m.group(1) + b"FeatureTypeList/>",
            good,
            flags=re.S,
        )
        assert no_types != good
        xml = "text/xml"
        return {
            "html-200": (Reply(_HTML, content_type="text/html"), BadAnswerError, "<html> document"),
            "exception-report": (Reply(report, content_type=xml), BadAnswerError,
                "<ExceptionReport> document, not WFS 2.0 capabilities: 'Service indisponible'"),
            "no-feature-type": (
                Reply(no_types, content_type=xml),
                BadAnswerError, "no feature type"),
            "truncated": (Reply(good[: len(good) // 2], content_type=xml), DataSourceError,
                "XML body that cannot be read"),
            "empty": (Reply(b"", content_type=xml), DataSourceError,
                "XML body that cannot be read"),
        }[case]  # fmt: skip
    if case in {"html-200", "empty", "truncated", "other-schema"}:
        return {
            "html-200": (Reply(_HTML, content_type="text/html"), DataSourceError,
                "JSON body that cannot be read"),
            "empty": (Reply(b""), DataSourceError, "JSON body that cannot be read (empty body)"),
            "truncated": (Reply(good[: len(good) // 2]), DataSourceError,
                "JSON body that cannot be read"),
            "other-schema": (Reply(_OTHER_SCHEMA), BadAnswerError, client.shape),
        }[case]  # fmt: skip
    doc = json.loads(good)
    lonlat = json.loads(_fixture(test_data, "apicarto/cadastre_parcelle.json"))
    if case == "geometry-type":
        expected = "feature 0 has a geometry of type 'Point' where MultiPolygon or Polygon"
        return js(_centroids(doc)), BadAnswerError, expected
    if case == "metres-as-degrees":
        return js(_reprojected(doc, 2154)), BadAnswerError, "out of the range of the CRS asked"
    if case == "declared-crs" and client.epsg == 4326:
        return (js(_with_crs(_reprojected(doc, 2154), 2154)), BadAnswerError,
                "the answer is in EPSG:2154 although EPSG:4326 was asked")  # fmt: skip
    if case == "declared-crs":
        return (js(_with_crs(lonlat, 4326)), BadAnswerError,
                "the answer is in EPSG:4326 although EPSG:2154 was asked")  # fmt: skip
    if case == "missing-property":
        no_props = [{**f, "properties": {}} for f in doc["features"]]
        return js({**doc, "features": no_props}), BadAnswerError, "feature 0 lacks the propert"
    if case == "degrees-as-metres":
        return js(_with_crs(lonlat, None)), BadAnswerError, "out of the range of the CRS asked"
    if case == "null-coordinates":
        nulls = [{**f, "geometry": {"type": "Point", "coordinates": None}} for f in doc["features"]]
        return js({**doc, "features": nulls}), BadAnswerError, "has a position that is"
    if case == "missing-field":
        rows = [{k: v for k, v in r.items() if k != "codeCommune"} for r in doc]
        return js(rows), BadAnswerError, "record 0 lacks the field(s) codeCommune"
    if case == "total-pages-text":
        return (js({**doc, "total_pages": "3"}), BadAnswerError,
                "its 'total_pages' is a string ('3'), not a whole number")  # fmt: skip
    if case == "not-an-element":
        return (js({**doc, "elements": [1, "x"]}), BadAnswerError,
                "element 0 is int (1), not an OSM node")  # fmt: skip
    assert case == "lat-out-of-range"
    node = doc["elements"][0]  # latitude and longitude swapped, the latitude in metres
    swapped = {**doc, "elements": [{**node, "lat": node["lon"] * 1e5, "lon": node["lat"]}]}
    return js(swapped), BadAnswerError, "out of the range of degrees"


BAD_ANSWERS = [
    pytest.param(name, case, id=f"{name}-{case}")
    for name, client in CLIENTS.items()
    for case in _case_names(client)
]


@pytest.fixture
def service(monkeypatch):
    """The local server, with every web source's address pointing at it."""
    with LocalServer() as server:
        for client in CLIENTS.values():
            monkeypatch.setattr(settings_, client.setting, server.url + client.base)
        yield server


def _cache() -> Path:
    return Path(settings_.cache_folder) / "http"


def _no_cache_entry() -> None:
    """Nothing cached, and no temporary file left (the cache never holds a bad or half answer)."""
    left = [p.name for p in _cache().rglob("*")] if _cache().exists() else []
    assert left == [], left


def _reply_good(client: Client, test_data: Path) -> Reply:
    return Reply(
        client.good(test_data),
        content_type="text/xml" if client.kind == "xml" else "application/json",
    )


@pytest.mark.parametrize(("name", "case"), BAD_ANSWERS)
def test_web_answers_of_a_wrong_shape(service, test_data, work, name, case):
    client = CLIENTS[name]
    reply, cls, expected = _bad_answer(client, case, test_data)
    service.script(client.path, reply, _reply_good(client, test_data))
    before = snapshot(work)
    with pytest.raises(cls) as caught:
        client.call()
    message = str(caught.value)
    assert isinstance(caught.value, FoncierError)
    assert expected in message, message
    # The message names the source, the request and says the answer was not kept.
    assert message.startswith(
        f"{client.source}: GET {service.url}{client.path}"
    ) or message.startswith(f"{client.source}: POST {service.url}{client.path}"), message
    assert "not cached" in message
    assert service.hits[client.path] == 1  # a 200 answer of the wrong shape is not retried
    _no_cache_entry()
    assert snapshot(work) == before
    # Nothing was kept: the next run asks again and gets the good answer.
    client.call()
    assert service.hits[client.path] == 2
    assert len(list(_cache().glob("*.json"))) == 1


def _plant(entry: Path, bad: object) -> None:
    """Replace the body of a cached response (as an older run might have stored it)."""
    stored = json.loads(entry.read_text(encoding="utf-8"))
    stored["_decoded_content"] = bad
    entry.write_text(json.dumps(stored), encoding="utf-8")


def _bad_cached_body(client: Client) -> object:
    if client.kind == "xml":
        return "<html><body>Service en maintenance</body></html>"
    return json.loads(_OTHER_SCHEMA)


@pytest.mark.parametrize("name", list(CLIENTS))
def test_a_cached_answer_of_a_wrong_shape_is_deleted_and_fetched_again(
    service, test_data, name, monkeypatch, caplog
):
    client = CLIENTS[name]
    service.script(client.path, _reply_good(client, test_data))
    expected = client.call()
    (entry,) = _cache().glob("*.json")
    _plant(entry, _bad_cached_body(client))
    with caplog.at_level(logging.WARNING, logger="layers.http"):
        again = client.call()
    assert service.hits[client.path] == 2  # fetched again instead of using the bad copy
    assert str(entry) in caplog.text
    assert "unusable" in caplog.text
    if isinstance(expected, gpd.GeoDataFrame):
        assert_geodataframe_equal(again, expected)
    elif isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(again, expected)
    else:
        assert again == expected
    (rewritten,) = _cache().glob("*.json")
    assert rewritten == entry
    assert json.loads(entry.read_text())["_decoded_content"] != _bad_cached_body(client)

    # Offline, the bad copy cannot be replaced: a clear error naming the file, which is deleted.
    _plant(entry, _bad_cached_body(client))
    monkeypatch.setattr(settings_, "offline", True)
    with pytest.raises(OfflineError) as caught:
        client.call()
    message = str(caught.value)
    assert message.startswith(f"Offline mode: the {client.source} response for ")
    assert f"{service.url}{client.path}" in message
    assert f"the cached answer {entry} was unusable" in message
    assert "was deleted" in message
    assert not entry.exists()
    _no_cache_entry()
    assert service.hits[client.path] == 2


FAULTS = {
    "500": ([Reply(b"Internal Server Error", status=500, content_type="text/plain")], "HTTP 500"),
    "429-retry-after": ([Reply(b"Too Many Requests", status=429, headers={"Retry-After": "1"},
                               content_type="text/plain")], None),
    "slow": ([Reply(b"{}", delay_s=1.0)], "no answer within 0.25 s (settings.timeout_s)"),
    "reset-mid-body": (["good-reset"], "connection failed or was cut"),
    "gzip-garbage": ([Reply(b"this is not gzip data at all", headers={"Content-Encoding": "gzip"})],
                     "the compressed body could not be decoded"),
}  # fmt: skip


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", list(CLIENTS))
def test_live_faults_of_every_web_client(service, test_data, work, name, fault, monkeypatch):
    client = CLIENTS[name]
    replies, expected = FAULTS[fault]
    good = _reply_good(client, test_data)
    replies = [
        Reply(good.body, content_type=good.content_type, reset_mid_body=True)
        if r == "good-reset"
        else r
        for r in replies
    ]
    monkeypatch.setattr(settings_, "max_retries", 1)
    if fault == "slow":  # otherwise the default (5 s): a loaded machine must not time out
        monkeypatch.setattr(settings_, "timeout_s", 0.25)
    before = snapshot(work)
    if expected is None:
        # 429 with Retry-After: the client waits as asked, then gets the answer.
        service.script(client.path, *replies, good)
        start = time.monotonic()
        client.call()
        assert time.monotonic() - start >= 1.0
        assert service.hits[client.path] == 2
        assert len(list(_cache().glob("*.json"))) == 1
        return
    service.script(client.path, *replies)
    with pytest.raises(DataSourceError) as caught:
        client.call()
    message = str(caught.value)
    assert message.startswith(f"{client.source}: "), message
    assert f"{service.url}{client.path}" in message
    assert f"failed after 2 attempts (last: {expected}" in message, message
    assert service.hits[client.path] == 2  # retried once (settings.max_retries = 1)
    _no_cache_entry()
    assert snapshot(work) == before


def test_online_layers_fall_back_on_a_wrong_shape_answer_and_refetch_a_bad_cached_copy(
    service, test_data, monkeypatch
):
    """The layers of a map (online=True): a wrong-shape answer is a fallback with its reason."""
    from layers import reachability
    from layers.catalog import load_layers
    from layers.online import ONLINE_ATTR
    from layers.territories import territory

    path = CLIENTS["overpass"].path
    t = territory("60159")
    # 1. Overpass answers an object of another schema: the embedded interchanges are used and
    #    the reason says what was wrong; nothing is cached.
    service.script(path, Reply(_OTHER_SCHEMA))
    first = load_layers(t, ["motorway_junctions"], online=True, errors="warn")
    status = first["motorway_junctions"].attrs[ONLINE_ATTR]
    assert status["state"] == "fallback"
    assert status["reason"].startswith("127.0.0.1 : réponse inutilisable (")
    assert "the answer's 'elements' is NoneType (None), not a list" in status["reason"]
    _no_cache_entry()
    reachability.forget()  # a new run: the host that failed is asked again
    # 2. The service is back with a real (recorded) answer: used and cached.
    good = CLIENTS["overpass"].good(test_data)
    service.script(path, Reply(good))
    second = load_layers(t, ["motorway_junctions"], online=True, errors="warn")
    assert second["motorway_junctions"].attrs[ONLINE_ATTR]["state"] == "online"
    (entry,) = _cache().glob("*.json")
    hits = service.hits[path]
    # 3. A cached copy of the wrong shape (left by an older version …) is deleted and fetched
    #    again instead of being used.
    _plant(entry, json.loads(_OTHER_SCHEMA))
    reachability.forget()
    third = load_layers(t, ["motorway_junctions"], online=True, errors="warn")
    assert third["motorway_junctions"].attrs[ONLINE_ATTR]["state"] == "online"
    assert service.hits[path] == hits + 1
    assert json.loads(entry.read_text())["_decoded_content"] == json.loads(good)


# ------------------------------------------------------------ 10. subprocess (the real command)


def run(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "FONCIER_CACHE": str(cwd / ".cache")}
    return subprocess.run(
        [str(FONCIER), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120,
        **kwargs,
    )  # fmt: skip


SUBPROCESS_CASES = [
    (["map", "compiegne", "-o", "x.html"], INPUT, "Did you mean"),
    (["map", "[/]", "-o", "x.html"], INPUT, "'[/]'"),
    (["map", "a" * 10_000, "-o", "x.html"], INPUT, "10,000 characters"),
    (["map", "alencon", "--sites", "grid:inf"], USAGE, "cell size"),
    (["map", "alencon", "-o", "carte.png"], USAGE, "unknown suffix '.png'"),
    (["map", "alencon", "-o", "missing/x.html"], INPUT, "does not exist"),
    (["map", "alencon", "-o", "null.html"], INPUT, "not a regular file"),
    (["score", "60159", "--profile", "latin1.toml", "-o", "s.csv"], INPUT, "not UTF-8"),
    (["score", "60159", "--sites", "empty.gpkg", "-o", "s.csv"], INPUT, "no feature"),
    (["map", "l93_as_crs84.geojson", "--no-score", "-o", "x.html"], INPUT, "look like metres"),
    (["map", "grand-compiegnois", "--sites", "hex:5", "-o", "x.html"], INPUT, "GB of memory"),
    (["map", "alencon", "--frobnicate"], USAGE, "No such option"),
]


@pytest.mark.skipif(not FONCIER.exists(), reason="foncier script not installed")
@pytest.mark.parametrize(("args", "code", "expected"), SUBPROCESS_CASES, ids=lambda v: str(v)[:40])
def test_the_command_never_prints_a_traceback(tmp_path, grid, args, code, expected):
    (tmp_path / "null.html").symlink_to("/dev/null")
    (tmp_path / "latin1.toml").write_bytes(profile_text().replace("Trop", "Très").encode("latin-1"))
    grid.iloc[:0][["site_id", "geometry"]].to_file(tmp_path / "empty.gpkg")
    gpd.GeoDataFrame(geometry=[grid.union_all()], crs=2154).set_crs(
        "OGC:CRS84", allow_override=True
    ).to_file(tmp_path / "l93_as_crs84.geojson")
    before = snapshot(tmp_path)
    proc = run(args, tmp_path)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert expected in proc.stderr
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(".cache")}
    assert after == {k: v for k, v in before.items() if not k.startswith(".cache")}


@pytest.mark.skipif(not FONCIER.exists(), reason="foncier script not installed")
def test_an_unexpected_error_says_how_to_report_it_and_debug_shows_the_traceback(tmp_path):
    code = (
        "import sys, foncier.cli as c\n"
        "import layers.territories as t\n"
        "def boom(*a, **k): raise RuntimeError('disk on fire')\n"
        "t.territory = boom\n"
        "sys.argv = ['foncier', *sys.argv[1:]]\n"
        "c.main()\n"
    )
    for debug in ([], ["--debug"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *debug, "map", "alencon", "--no-score"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 1
        assert "Unexpected error: RuntimeError: disk on fire" in proc.stderr
        assert "--debug" in proc.stderr
        assert ("Traceback" in proc.stderr) == bool(debug)
        assert list(tmp_path.iterdir()) == []


def test_sigterm_removes_the_temporary_file(tmp_path):
    code = (
        "import os, signal, sys, time\n"
        "from foncier.cli import install_sigterm_handler, Terminated\n"
        "from layers.files import atomic_path\n"
        "install_sigterm_handler()\n"
        "try:\n"
        f"    with atomic_path({str(tmp_path / 'out.csv')!r}) as tmp:\n"
        "        tmp.write_text('half a table')\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(30)\n"
        "except Terminated:\n"
        "    sys.exit(143)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 143, proc.stderr
    assert list(tmp_path.iterdir()) == []


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not FONCIER.exists(), reason="foncier script not installed")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_the_command_stopped_in_the_middle_writes_nothing(tmp_path, sig, code):
    env = {**os.environ, "FONCIER_CACHE": str(tmp_path / ".cache")}
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [
            str(FONCIER), "map", "soissonnais-valois", "--draws", "20000", "-v",
            "-o", str(out / "c.html"),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # As from a terminal: a test run started in the background (CI, `cmd &`) inherits an
        # ignored SIGINT, which Python then keeps ignoring, as any Unix program does.
        preexec_fn=_default_sigint,
    )  # fmt: skip
    assert proc.stderr is not None
    # Stopped during its longest step (the rank stability draws, several seconds), whatever
    # the machine's speed or load: not before the work, not after the file is written.
    seen = []
    while not any("sensibilité" in line for line in seen[-1:]):
        line = proc.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    stderr = "".join(seen) + stderr
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert list(out.iterdir()) == []


# ------------------------------------------------------------ 11. full disk, Ctrl-C at start-up


def test_full_disk_is_an_output_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    import errno

    from layers import files
    from layers.errors import OutputError

    target = tmp_path / "carte.html"
    target.write_text("ancienne carte")

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(OutputError, match="disk is full") as info:
        files.write_bytes_atomic(target, b"nouvelle carte")
    assert isinstance(info.value, OSError)
    assert target.read_text() == "ancienne carte"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["carte.html"]


def test_full_disk_through_the_cli_exits_3_without_traceback(tmp_path):
    code = (
        "import errno, sys\n"
        "import layers.files as f\n"
        "def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "f.os.replace = full\n"
        "import foncier.cli as c\n"
        "sys.argv = ['foncier', *sys.argv[1:]]\n"
        "c.main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "map", "alencon", "--no-score", "-o", "carte.html"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "disk is full" in " ".join(proc.stderr.split()) + " ".join(proc.stdout.split())
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_the_command_line_loads_exits_130_quietly(tmp_path):
    # A KeyboardInterrupt raised by the import of the command-line libraries, as Ctrl-C
    # pressed during start-up would, must end like Ctrl-C during a command.
    code = (
        "import sys\n"
        "class Boom:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Boom())\n"
        "from foncier.__main__ import main\n"
        "sys.argv = ['foncier', 'territories']\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == "Interrompu."

"""Test fixtures: the real datasets of ``tests/data/`` and isolated settings.

``tests/data/`` holds small real files cut by ``scripts/build_test_fixtures.py`` (provenance
in DATA.md, list in ``tests/data/MANIFEST.json``). The larger ones are stored xz-compressed;
:func:`test_data` gives a folder where every fixture is readable under its plain name.
"""

from __future__ import annotations

import lzma
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"

#: The only reasons a test may be skipped: a system package that ``bash .ci/run`` installs
#: with apt is missing (Debian's headless Chromium for the browser tests and the PNG / PDF
#: pictures; PostgreSQL and PostGIS for the tests marked ``postgis``). Live checks against web
#: services carry the ``web`` marker and are deselected by default, not skipped. Any other
#: skip fails the run (see the hooks below), so a fixture or a Python dependency that goes
#: missing cannot silently hide tests.
ALLOWED_SKIP_REASONS = (
    "chromium",
    "postgresql server not installed",
    "postgis extension not installed",
)
_unexpected_skips: list[tuple[str, str]] = []


def materialise_test_data(target: Path) -> Path:
    """Copy ``tests/data`` into ``target``, decompressing the ``.xz`` files; return ``target``."""
    for src in sorted(TEST_DATA.rglob("*")):
        if not src.is_file():
            continue
        rel = src.relative_to(TEST_DATA)
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".xz":
            dest.with_suffix("").write_bytes(lzma.decompress(src.read_bytes()))
        else:
            shutil.copyfile(src, dest)
    return target


@pytest.fixture(scope="session")
def test_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of the real test datasets and recorded responses, decompressed (read-only use)."""
    if not (TEST_DATA / "MANIFEST.json").is_file():
        raise FileNotFoundError(
            f"{TEST_DATA} lacks its fixtures: rebuild them with scripts/build_test_fixtures.py"
        )
    return materialise_test_data(tmp_path_factory.mktemp("test-data"))


#: Host names a test may resolve: the local machine only (local HTTP servers, PostGIS, dask).
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}


@pytest.fixture(autouse=True)
def _isolated_settings(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
):
    """Each test gets its own empty cache folder and default settings; never the network.

    The command line's default online mode is turned off (``settings.online = False``, as
    ``--offline``), probe results are forgotten between tests, and outside the tests marked
    ``web`` any look-up of a host name other than the local machine's fails at once, as on a
    machine without network: a test that would reach a web service fails instead.
    """
    import socket

    from layers import reachability
    from layers.config import settings

    monkeypatch.setattr(settings, "cache_folder", tmp_path_factory.mktemp("cache"))
    monkeypatch.setattr(settings, "offline", False)
    monkeypatch.setattr(settings, "online", False)
    monkeypatch.setattr(settings, "max_retries", 2)
    monkeypatch.setattr(settings, "backoff_s", 0.01)
    monkeypatch.setattr(settings, "timeout_s", 5.0)
    reachability.forget()
    if request.node.get_closest_marker("web") is None:
        real = socket.getaddrinfo
        local = LOCAL_HOSTS | {socket.gethostname(), socket.getfqdn()}

        def local_only(host, *args, **kwargs):  # type: ignore[no-untyped-def]
            name = host.decode() if isinstance(host, bytes) else host
            if name in local or _is_ip(name):
                return real(host, *args, **kwargs)
            raise socket.gaierror(socket.EAI_NONAME, f"tests never use the network ({name})")

        monkeypatch.setattr(socket, "getaddrinfo", local_only)
    yield
    reachability.forget()


def _is_ip(name: object) -> bool:
    """True for an address of this machine or its private network (not the Internet)."""
    import ipaddress

    try:
        address = ipaddress.ip_address(str(name))
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


# --------------------------------------------------------------------------- skip guard
def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _record_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    if "web" in getattr(report, "keywords", {}):
        return  # a live check run on purpose with -m web may skip when a service is down
    reason = _skip_reason(report)
    if not any(allowed in reason.lower() for allowed in ALLOWED_SKIP_REASONS):
        _unexpected_skips.append((report.nodeid, reason))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Module-level skips (``pytest.skip(..., allow_module_level=True)``) arrive here."""
    _record_skip(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Skips at set-up (fixtures, ``skipif``) or in the test body arrive here."""
    if report.when in ("setup", "call"):
        _record_skip(report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _unexpected_skips:
        terminalreporter.section("skips not allowed", sep="=", red=True, bold=True)
        for nodeid, reason in _unexpected_skips:
            terminalreporter.line(f"{nodeid}: {reason}")
        terminalreporter.line(
            "Tests may only skip when Chromium, PostgreSQL or PostGIS is not installed; set "
            f"FONCIER_ALLOW_SKIPS=1 to accept these {len(_unexpected_skips)} skip(s)."
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test skipped for a reason not in :data:`ALLOWED_SKIP_REASONS`."""
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: its reports are judged by the controller
    passing = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    if _unexpected_skips and passing and not os.environ.get("FONCIER_ALLOW_SKIPS"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --------------------------------------------------------------------------- PostGIS server
@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL + PostGIS cluster for the whole session (see tests/pgserver.py)."""
    import shutil

    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg 3 not installed: uv sync (or pip install 'foncier[postgis]')")
    from pgserver import find_bindir, postgis_available, start_server

    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server not installed: apt-get install postgresql postgis")
    if not postgis_available(bindir):
        pytest.skip(f"PostGIS extension not installed for {bindir}: apt-get install postgis")
    server = start_server()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(server.folder, ignore_errors=True)

"""The suite fails when a test skips for a reason other than a missing system package.

A copy of ``tests/conftest.py`` runs a tiny suite in a temporary folder (pytest's own
``pytester``), so the guard is checked as a user would meet it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("FONCIER_ALLOW_SKIPS", raising=False)
    pytester.makeconftest(CONFTEST)
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "MANIFEST.json").write_text("[]")
    return pytester


def test_a_missing_fixture_fails_the_run(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        def test_a():
            pytest.skip("shared data not found")
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider", "-p", "no:nbmake")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skips not allowed*", "*test_a*shared data not found*"])


def test_a_missing_chromium_or_postgresql_is_allowed(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        def test_browser():
            pytest.skip("Chromium is not installed")
        def test_database():
            pytest.skip("PostgreSQL server not installed: apt-get install postgresql postgis")
        def test_runs():
            assert True
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider", "-p", "no:nbmake")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=2)


def test_a_module_level_skip_is_judged_too(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        pytest.skip("dask is not installed", allow_module_level=True)
        def test_never():
            pass
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider", "-p", "no:nbmake")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_guard_can_be_lifted(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FONCIER_ALLOW_SKIPS", "1")
    suite.makepyfile(
        """
        import pytest
        def test_a():
            pytest.skip("shared data not found")
        """
    )
    assert suite.runpytest("-p", "no:cacheprovider", "-p", "no:nbmake").ret == pytest.ExitCode.OK

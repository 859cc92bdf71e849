"""The Examples of the public API's docstrings run, offline, and show what they say.

Each module below is run through :mod:`doctest` (ELLIPSIS and NORMALIZE_WHITESPACE), so an
example that no longer matches the library fails the suite. The examples use a small
territory (the commune of Compiègne) and coarse grids to stay fast.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "layers.formatting",
    "layers.territories",
    "layers.catalog",
    "foncier.engine.aggregation",
    "foncier.engine.profiles",
    "foncier.engine.nearest",
    "foncier.engine.sites",
    "foncier.engine.scoring",
    "foncier.engine.sensitivity",
    "foncier.reports.mapping",
    "foncier.pipeline",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    report: list[str] = []
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0, "".join(report)

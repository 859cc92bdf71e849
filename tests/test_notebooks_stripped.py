"""Notebooks are committed without outputs (CI executes them; git keeps only the cells)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_every_reference_territory_has_a_notebook():
    names = {p.stem.split("-", 1)[1] for p in NOTEBOOKS}
    assert names == {
        "prise-en-main",
        "grand-compiegnois",
        "chalons-en-champagne",
        "chartres-metropole",
        "alencon",
        "soissonnais-valois",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(not c.get("outputs") for c in code), "clear the outputs before committing"
    assert all(c.get("execution_count") is None for c in code)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"

"""French numbers: one module shared by the engine, the maps and the reports."""

from __future__ import annotations

import math

import pytest

from layers.formatting import NNBSP, format_measure, format_number, fr_number, fr_number_text


def test_every_package_uses_the_same_functions():
    from foncier.engine import profiles
    from maps import popups

    assert profiles.format_value is format_measure
    assert popups.format_value is format_number


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (0, 0, "0"),
        (999.5, 0, "1" + NNBSP + "000"),  # rounds half to even on the binary value: 999.5 -> 1000
        (-1234.5, 1, "-1" + NNBSP + "234,5"),
        (1_000_000, 2, "1" + NNBSP + "000" + NNBSP + "000,00"),
    ],
)
def test_fr_number(value, decimals, text):
    assert fr_number(value, decimals) == text


def test_fr_number_without_grouping_keeps_digits_together():
    assert fr_number(12345.678, 2, grouping=False) == "12345,68"


@pytest.mark.parametrize(
    ("value", "text"),
    [("3.5", "3,5"), ("x", ""), (None, ""), (math.nan, ""), (math.inf, "∞"), (-math.inf, "")],
)
def test_fr_number_text_tolerates_anything(value, text):
    assert fr_number_text(value, 1) == text


def test_format_measure_switches_units_at_one_km_and_one_hectare():
    assert format_measure(999, "m") == "999 m"
    assert format_measure(1000, "m") == "1,0 km"
    assert format_measure(9_999, "m²") == "9" + NNBSP + "999 m²"
    assert format_measure(10_000, "m²") == "1,0 ha"


def test_format_number_cells():
    assert format_number(2_187_526) == "2" + NNBSP + "187" + NNBSP + "526"
    assert format_number(0.5) == "0,50"
    assert format_number(math.nan) == "–"
    assert format_number("Compiègne") == "Compiègne"

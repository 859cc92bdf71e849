"""Checks of the values written in a profile (thresholds, filter values, areas).

Small functions of ``(value, …, where)`` that the profile parser calls on each value, so
that a threshold written ``"10 km"`` or ``[1, 2]``, a filter comparing a number with a text,
or an area of ``nan`` m² is refused when the profile is read, with the place in the file,
rather than failing while scoring (or being silently accepted).
"""

from __future__ import annotations

import math
from typing import Any

from layers.errors import ProfileError

__all__ = [
    "ORDER_OPS",
    "check_area_m2",
    "check_distance_m",
    "check_exclusion_value",
    "check_filter_value",
]

#: Operators that order values: their operand must be a finite number.
ORDER_OPS = ("<", "<=", ">", ">=")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


def _is_scalar(value: Any) -> bool:
    """A value a comparison may hold: text, true/false or a finite number."""
    return isinstance(value, bool | str) or _is_finite_number(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_exclusion_value(value: Any, op: str, where: str) -> Any:
    """The threshold of an exclusion rule (``measure op value``).

    Parameters
    ----------
    value : Any
        The ``value`` of the rule as read from TOML.
    op : str
        Its operator (already checked to be one of the exclusion operators).
    where : str
        Place in the profile, for the message.

    Returns
    -------
    Any
        ``value`` unchanged.

    Raises
    ------
    ProfileError
        An ordering operator with something else than a finite number (``"10 km"``, a list,
        a boolean, ``nan``); an equality with a list, a table or ``nan``.
    """
    if op in ORDER_OPS:
        if not _is_finite_number(value):
            raise ProfileError(
                f"{where}: 'value' must be a finite number in the measure's unit for {op!r} "
                f"(e.g. value = 10000 for 10 km in metres), got {_shown(value)}."
            )
        return value
    if _is_scalar(value):
        return value
    raise ProfileError(
        f"{where}: 'value' must be a number, a text or true/false for {op!r}, got {_shown(value)}."
    )


def check_filter_value(value: Any, op: str, where: str) -> Any:
    """The value of a layer filter (``column op value``).

    Raises
    ------
    ProfileError
        An ordering operator with something else than a finite number (comparing a number
        with a text); ``in`` / ``not in`` with an empty list or a list holding lists or tables;
        an equality with a list or a table.
    """
    if op in ("in", "not in"):
        items = value if isinstance(value, list | tuple) else None
        if not items or not all(_is_scalar(v) for v in items):
            raise ProfileError(
                f"{where}: filter {op!r} needs a non-empty list of numbers or texts, got "
                f"{_shown(value)}."
            )
        return value
    if op in ORDER_OPS:
        if not _is_finite_number(value):
            raise ProfileError(
                f"{where}: filter {op!r} compares numbers: 'value' must be a finite number, "
                f"got {_shown(value)}."
            )
        return value
    if _is_scalar(value):
        return value
    raise ProfileError(
        f"{where}: filter {op!r} needs a number, a text or true/false, got {_shown(value)}."
    )


def check_distance_m(value: Any, where: str, key: str) -> float:
    """A distance in metres, finite and > 0 (``radius_m``, ``max_distance``).

    Raises
    ------
    ProfileError
        Not a number, not finite, or <= 0.
    """
    if not _is_finite_number(value) or not value > 0:
        raise ProfileError(
            f"{where}: {key!r} must be a positive finite number of metres, got {_shown(value)}."
        )
    return float(value)


def check_area_m2(value: Any, where: str, key: str = "min_contiguous_area_m2") -> float:
    """An area in m², finite and >= 0.

    Raises
    ------
    ProfileError
        Not a number (text, boolean), ``nan`` or infinite, or negative.
    """
    if not _is_finite_number(value) or value < 0:
        raise ProfileError(
            f"{where}: {key} must be a finite number of m² >= 0, got {_shown(value)}."
        )
    return float(value)

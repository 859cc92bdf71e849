"""Numbers and measures written in French, for maps, popups, sheets and explanations.

One module for every text a person reads: a decimal comma, a narrow no-break space
(U+202F) between thousands, units that change with the size (m / km, m² / ha) and French
words for what is missing. It lives in :mod:`layers`, the lowest package, so that
:mod:`maps` and :mod:`foncier` (engine and reports) share it. Nothing here escapes HTML: the
callers that build HTML do.

>>> fr_number(1234567.891, 1)
'1\u202f234\u202f567,9'
>>> format_measure(12345.0, "m")
'12,3 km'
>>> format_number(180000)
'180\u202f000'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["NNBSP", "format_measure", "format_number", "fr_number", "fr_number_text"]

NNBSP = "\u202f"  # narrow no-break space: the French thousands separator


def fr_number(value: float, decimals: int = 0, *, grouping: bool = True) -> str:
    """A number in French notation with a fixed number of decimals.

    Parameters
    ----------
    value : float
        The number (finite; ``nan`` and ``inf`` are written as Python writes them).
    decimals : int
        Digits after the decimal comma.
    grouping : bool
        Separate thousands (default); False for short class bounds in legends.

    Returns
    -------
    str

    Examples
    --------
    >>> fr_number(3326)
    '3\u202f326'
    >>> fr_number(0.125, 2), fr_number(12500.5, 1, grouping=False)
    ('0,12', '12500,5')
    """
    if not grouping:
        return f"{value:.{decimals}f}".replace(".", ",")
    return f"{value:,.{decimals}f}".replace(",", NNBSP).replace(".", ",")


def fr_number_text(value: Any, decimals: int = 0) -> str:
    """Like :func:`fr_number` for any value: text that is not a number and NaN give ``""``.

    Positive infinity gives ``"∞"``; negative infinity gives ``""`` (nothing to show).

    Examples
    --------
    >>> fr_number_text("12.5", 1), fr_number_text(None), fr_number_text(float("inf"))
    ('12,5', '', '∞')
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(x):
        return "∞" if x > 0 else ""
    return fr_number(x, decimals)


def format_measure(value: Any, unit: str, *, share_of: str = "") -> str:
    """Format a raw measure for people, in French (``1,2 km``, ``63 %``, ``180 000 hab.``).

    Parameters
    ----------
    value : Any
        Raw value (number, boolean, text; ``nan`` gives ``"n.d."``).
    unit : str
        Unit of the raw value: ``m`` (distances: metres below 1 km, else km), ``share``
        (0..1 shown as %), ``m²`` (ha above 1 ha), ``bool``, ``degrés``, ``hab.``, ``count``
        or any other text appended after the number.
    share_of : str
        Text appended after a percentage (``"de la surface"``).

    Returns
    -------
    str

    Examples
    --------
    >>> format_measure(850.4, "m"), format_measure(float("inf"), "m")
    ('850 m', 'aucun')
    >>> format_measure(0.634, "share", share_of="de la surface")
    '63 % de la surface'
    >>> format_measure(25000, "m²"), format_measure(3.14159, "degrés")
    ('2,5 ha', '3,1°')
    """
    if unit == "bool" or isinstance(value, bool | np.bool_):
        return "oui" if bool(value) else "non"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if np.isnan(v):
        return "n.d."
    if np.isinf(v):
        return "aucun" if unit == "m" else ("∞" if v > 0 else "-∞")
    if unit == "m":
        return f"{fr_number(v)} m" if abs(v) < 1000 else f"{fr_number(v / 1000, 1)} km"
    if unit == "share":
        return f"{fr_number(100 * v)} %" + (f" {share_of}" if share_of else "")
    if unit == "m²":
        return f"{fr_number(v)} m²" if abs(v) < 10_000 else f"{fr_number(v / 10_000, 1)} ha"
    if unit in ("degrés", "degrees", "°"):
        return f"{fr_number(v, 1)}°"
    if unit == "count":
        return fr_number(v)
    decimals = 0 if abs(v) >= 100 or float(v).is_integer() else 2
    return f"{fr_number(v, decimals)} {unit}".strip()


def format_number(value: Any) -> str:
    """Format a table cell: whole numbers with thousands separated, other floats to 0.01.

    ``None`` and NaN give ``"–"``, booleans ``"oui"`` / ``"non"``; anything else that is not
    a Python number is returned as ``str``.

    Examples
    --------
    >>> format_number(1234.0), format_number(1234.567), format_number(None), format_number(True)
    ('1\u202f234', '1\u202f234,57', '–', 'oui')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}".replace(",", NNBSP)
    if isinstance(value, float):
        return fr_number(value, 2)
    return str(value)

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
import re
from typing import Any

import numpy as np

__all__ = [
    "NNBSP",
    "UNKNOWN_POSITION",
    "commune_note",
    "distance_phrase",
    "distance_text",
    "format_measure",
    "format_number",
    "fr_number",
    "fr_number_text",
    "split_commune_note",
]

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


# --------------------------------------------------------------------------------------------
# Distances to features whose position is known only at their commune
# --------------------------------------------------------------------------------------------

#: Said wherever a distance is measured to a feature known only at its commune(s).
UNKNOWN_POSITION = "position exacte inconnue"

_COMMUNE_NOTE = re.compile(r" \((communes?) (?:de |d')(.+), " + UNKNOWN_POSITION + r"\)$")


def _of(name: str) -> str:
    """``"de Compiègne"``, ``"d'Alençon"`` (French elision before a vowel)."""
    return f"d'{name}" if name[:1].upper() in "AEIOUYÂÀÉÈÊÎÏÔÛÜ" else f"de {name}"


def commune_note(communes: str) -> str:
    """Note appended to the name of a feature whose position is known only at its commune(s).

    The distance to such a feature is measured to the area of its commune(s): 0 when a site
    lies in it, a lower bound of the true distance otherwise. The note names the commune(s),
    and :func:`split_commune_note` reads it back (the names travel as plain text through
    scored tables and their exports).

    Parameters
    ----------
    communes : str
        Commune name, or several names separated by ``", "``.

    Returns
    -------
    str

    Examples
    --------
    >>> commune_note("Longueil-Sainte-Marie")
    ' (commune de Longueil-Sainte-Marie, position exacte inconnue)'
    >>> commune_note("Vémars, Marly-la-Ville")
    ' (communes de Vémars, Marly-la-Ville, position exacte inconnue)'
    """
    word = "communes" if ", " in communes else "commune"
    return f" ({word} {_of(communes)}, {UNKNOWN_POSITION})"


def split_commune_note(nearest: Any) -> tuple[Any, str | None]:
    """The name and the commune(s) of a nearest-feature text written with :func:`commune_note`.

    Returns
    -------
    tuple
        ``(name, communes)``; ``(nearest, None)`` when the text has no commune note.

    Examples
    --------
    >>> split_commune_note("Port A (commune d'Alençon, position exacte inconnue)")
    ('Port A', 'Alençon')
    >>> split_commune_note("Gare de Compiègne")
    ('Gare de Compiègne', None)
    """
    if not isinstance(nearest, str):
        return nearest, None
    match = _COMMUNE_NOTE.search(nearest)
    if match is None:
        return nearest, None
    return nearest[: match.start()], match.group(2)


def distance_text(value: Any, nearest: Any = None, unit: str = "m") -> str:
    """A distance in metres as people read it, honest about features known at commune level.

    Parameters
    ----------
    value : float
        Distance, metres (``inf``: nothing in reach; ``nan``: unknown).
    nearest : str, optional
        Name of the nearest feature. When it carries a :func:`commune_note`, the distance was
        measured to the commune's area: 0 reads "dans la commune de X", more reads "… de la
        commune de X" (a lower bound of the true distance), never a metre-precise figure.
    unit : str
        Unit of ``value`` for :func:`format_measure` (``"m"``).

    Returns
    -------
    str

    Examples
    --------
    >>> distance_text(1234.0)
    '1,2 km'
    >>> distance_text(0.0, "Port (commune de Longueil-Sainte-Marie, position exacte inconnue)")
    'dans la commune de Longueil-Sainte-Marie, position exacte inconnue'
    >>> distance_text(3210.0, "Port (commune d'Alençon, position exacte inconnue)")
    "3,2 km de la commune d'Alençon (position exacte inconnue)"
    """
    _name, communes = split_commune_note(nearest)
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if communes is None or not math.isfinite(v):
        return format_measure(value, unit)
    several = ", " in communes
    if v <= 0:
        where = f"l'une des communes {_of(communes)}" if several else f"la commune {_of(communes)}"
        return f"dans {where}, {UNKNOWN_POSITION}"
    where = f"des communes {_of(communes)}" if several else f"de la commune {_of(communes)}"
    return f"{format_measure(v, unit)} {where} ({UNKNOWN_POSITION})"


def distance_phrase(
    label: str, value: Any, nearest: Any = None, *, near_is_good: bool = True, unit: str = "m"
) -> str:
    """One French phrase for a distance criterion: ``"Gare fret à 1,2 km (Compiègne)"``.

    Parameters
    ----------
    label : str
        Criterion label (``"Port fluvial"``).
    value : float
        Distance, metres.
    nearest : str, optional
        Name of the nearest feature, possibly with a :func:`commune_note`.
    near_is_good : bool
        True when being near is what scores ("Port fluvial à 1,2 km"); False when being far
        is ("Distance à l'habitat : 1,2 km").
    unit : str
        Unit of ``value`` (``"m"``).

    Returns
    -------
    str

    Examples
    --------
    >>> port = "Port X" + commune_note("Longueil")
    >>> distance_phrase("Port fluvial", 0.0, port)
    'Port fluvial : dans la commune de Longueil, position exacte inconnue (Port X)'
    >>> distance_phrase("Port fluvial", 3210.0, port)
    'Port fluvial à 3,2 km de la commune de Longueil (position exacte inconnue) (Port X)'
    """
    name, communes = split_commune_note(nearest)
    text = distance_text(value, nearest, unit)
    inside = communes is not None and text.startswith("dans ")
    text = f"{label} à {text}" if near_is_good and not inside else f"{label} : {text}"
    if isinstance(name, str) and name:
        text += f" ({name})"
    return text

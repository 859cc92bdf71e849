"""HTML of popups and tooltips: small tables where every piece of text is escaped.

Leaflet puts popup and tooltip content into the page as HTML. Names come from open data
and user files, so a zone called ``<script>…`` must show as text: every value goes through
:func:`html.escape` here, and the functions that build maps only ever pass this HTML on.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = ["escape_text", "format_value", "html_table", "popup_from_columns"]

#: Stylesheet of the popups made by :func:`html_table` (one ``<style>`` block per page).
POPUP_CSS = """
.foncier-popup {font: 12px/1.35 Arial, Helvetica, sans-serif; color: #1a1a1a;}
.foncier-popup .fp-title {font-weight: bold; font-size: 13px; margin-bottom: 4px;}
.foncier-popup table {border-collapse: collapse; margin: 0;}
.foncier-popup th {text-align: left; padding: 2px 6px; border-bottom: 1px solid #999;
  font-weight: bold; white-space: nowrap;}
.foncier-popup td {padding: 1px 6px; border-bottom: 1px solid #e5e5e5;}
.foncier-popup td + td {text-align: right; white-space: nowrap;}
.foncier-popup .fp-line {margin-top: 4px; max-width: 440px;}
.foncier-popup .fp-line:first-of-type {font-weight: bold;}
"""


def escape_text(value: Any) -> str:
    """Return ``value`` as text safe to put in HTML (``None`` and NaN become an empty string).

    ``& < > " '`` become HTML entities, and so do the backslash, backquote and dollar sign,
    so the text is also inert inside a JavaScript template literal.
    """
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    try:
        import pandas as pd

        if value is pd.NA:
            return ""
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    # Besides HTML, neutralise what is special in a JavaScript template literal (folium
    # puts some tooltips inside backquotes): entities render as the same characters.
    return (
        html.escape(str(value), quote=True)
        .replace("\\", "&#92;")
        .replace("`", "&#96;")
        .replace("$", "&#36;")
    )


def format_value(value: Any) -> str:
    """Format a number for display (French conventions: comma decimals, thin-space thousands).

    Integers get thousands separated by a narrow no-break space; other floats keep up to
    two decimals. Non-numbers are returned as ``str``. The result is NOT escaped.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}".replace(",", "\u202f")
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", "\u202f").replace(".", ",")
    return str(value)


def html_table(
    title: str | None,
    header: Sequence[str] | None,
    rows: Iterable[Sequence[Any]],
    *,
    css_class: str = "foncier-table",
    footer: Sequence[str] = (),
) -> str:
    """Return an HTML table; the title, headers, cells and footer lines are all escaped.

    Parameters
    ----------
    title : str, optional
        Bold line above the table.
    header : sequence of str, optional
        Column headers.
    rows : iterable of sequences
        Cells; numbers are formatted with :func:`format_value`, everything is escaped.
    css_class : str
        Class of the ``<table>`` element (lets tests and styles find it).
    footer : sequence of str
        Lines of text shown under the table.

    Returns
    -------
    str
        HTML fragment.
    """
    # Compact markup (classes, no inline styles): a map holds one popup per site, and the
    # page-level stylesheet POPUP_CSS styles them all (added by maps.base.base_map).
    parts = ['<div class="foncier-popup">']
    if title:
        parts.append(f'<div class="fp-title">{escape_text(title)}</div>')
    parts.append(f'<table class="{escape_text(css_class)}">')
    if header:
        parts.append("<tr>" + "".join(f"<th>{escape_text(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = "".join(
            f"<td>{escape_text(v if isinstance(v, str) else format_value(v))}</td>" for v in row
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</table>")
    for line in footer:
        parts.append(f'<div class="fp-line">{escape_text(line)}</div>')
    parts.append("</div>")
    return "".join(parts)


def popup_from_columns(
    gdf: gpd.GeoDataFrame | pd.DataFrame,
    columns: Mapping[str, str],
    *,
    title_column: str | None = None,
) -> pd.Series:
    """Return one popup HTML per row: a two-column table label | value of ``columns``.

    Parameters
    ----------
    gdf : GeoDataFrame or DataFrame
        Rows to describe.
    columns : mapping of str to str
        ``{label shown: column name}``, in display order.
    title_column : str, optional
        Column whose value is the popup's title.

    Returns
    -------
    pandas.Series
        HTML strings aligned on ``gdf.index`` (all text escaped).
    """
    import pandas as pd

    missing = [c for c in [*columns.values(), title_column] if c and c not in gdf.columns]
    if missing:
        from layers.errors import SchemaError

        raise SchemaError(
            f"popup columns not found: {missing}; available columns: {list(gdf.columns)}"
        )
    labels = list(columns)
    values = [gdf[c].tolist() for c in columns.values()]
    titles = gdf[title_column].tolist() if title_column else [None] * len(gdf)
    out = []
    for i, title in enumerate(titles):
        rows = [(label, _cell(col[i])) for label, col in zip(labels, values, strict=True)]
        out.append(html_table(None if title is None else str(title), None, rows))
    return pd.Series(out, index=gdf.index, dtype=object)


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    return format_value(value)

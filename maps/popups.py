"""HTML of popups and tooltips: small tables where every piece of text is escaped.

Leaflet puts popup and tooltip content into the page as HTML. Names come from open data
and user files, so a zone called ``<script>…`` must show as text: every value goes through
:func:`html.escape` here, and the functions that build maps only ever pass this HTML on.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from layers.formatting import format_number as format_value

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "escape_text",
    "format_value",
    "html_table",
    "popup_from_columns",
    "table_popup_data",
    "table_popup_js",
]

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


def table_popup_data(
    title: str | None, rows: Iterable[Sequence[Any]], footer: Sequence[str] = ()
) -> dict[str, Any]:
    """Compact popup content for :func:`table_popup_js`: plain text, no markup.

    A map with a thousand sites carries a thousand popups: sending only the cell texts and
    letting the browser build the table (with ``textContent``, so nothing is ever parsed as
    HTML) divides the size of the page by about two compared with ready-made HTML.

    Parameters
    ----------
    title : str, optional
        Bold line above the table.
    rows : iterable of sequences
        Cells (numbers formatted with :func:`format_value`).
    footer : sequence of str
        Lines of text under the table.

    Returns
    -------
    dict
        ``{"t": title, "r": rows, "f": footer}`` with strings only.
    """
    return {
        "t": "" if title is None else str(title),
        "r": [[v if isinstance(v, str) else format_value(v) for v in row] for row in rows],
        "f": [str(line) for line in footer],
    }


def _js_literal(value: Any) -> str:
    # JSON is valid JavaScript; escaping <, > and & keeps "</script>" from ending the page's
    # script element whatever the strings hold.
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def table_popup_js(
    header: Sequence[str] | None,
    *,
    css_class: str = "foncier-table",
    shared_footer: Sequence[str] = (),
    max_width: int = 460,
    property_name: str = "_pt",
    data_hook: str | None = None,
) -> str:
    """JavaScript ``onEachFeature`` function binding a table popup built from compact data.

    The DOM it builds is the one :func:`html_table` writes (``div.foncier-popup`` with
    ``div.fp-title``, ``table.<css_class>`` and ``div.fp-line`` elements). Every text goes
    through ``textContent``: hostile names are shown as text, never run.

    Parameters
    ----------
    header : sequence of str, optional
        Column headers, shared by every feature (sent once).
    css_class : str
        Class of the table.
    shared_footer : sequence of str
        Lines shown under every popup (sent once), after each feature's own lines.
    max_width : int
        Maximum popup width, pixels.
    property_name : str
        Feature property that holds :func:`table_popup_data`.
    data_hook : str, optional
        Name of a global JavaScript function ``(feature, data) -> data`` called each time
        the popup opens, when a script of the page defines it: lets the page show content
        that changed since the map was written (e.g. scores recomputed in the browser).
    """
    return (
        "function (feature, layer) {"
        f" var d0 = feature.properties[{_js_literal(property_name)}]; if (!d0) {{ return; }}"
        f" var header = {_js_literal(list(header or []))};"
        f" var shared = {_js_literal([str(x) for x in shared_footer])};"
        f" var cls = {_js_literal(css_class)};"
        " layer.bindPopup(function () {"
        + (
            f"  var hook = window[{_js_literal(data_hook)}];"
            "  var d = typeof hook === 'function' ? hook(feature, d0) : d0;"
            if data_hook
            else "  var d = d0;"
        )
        + "  function el(tag, cl, text) { var e = document.createElement(tag);"
        "   if (cl) { e.className = cl; } if (text !== undefined) { e.textContent = text; }"
        "   return e; }"
        "  var root = el('div', 'foncier-popup');"
        "  if (d.t) { root.appendChild(el('div', 'fp-title', d.t)); }"
        "  var table = el('table', cls);"
        "  if (header.length) { var tr = el('tr');"
        "   header.forEach(function (h) { tr.appendChild(el('th', null, h)); });"
        "   table.appendChild(tr); }"
        "  d.r.forEach(function (row) { var tr = el('tr');"
        "   row.forEach(function (c) { tr.appendChild(el('td', null, c)); });"
        "   table.appendChild(tr); });"
        "  root.appendChild(table);"
        "  d.f.concat(shared).forEach(function (line) {"
        "   root.appendChild(el('div', 'fp-line', line)); });"
        "  return root;"
        f" }}, {{maxWidth: {int(max_width)}}});"
        "}"
    )


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

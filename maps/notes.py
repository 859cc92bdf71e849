"""Notes and notices on a map: plain-text lines a reader must see next to the picture.

A *note* is a small box (e.g. how the sites were ranked, what separates them) that folds
open on a click; a *notice* is a warning banner at the top centre of the map, always open,
that shows in the PNG picture too (e.g. "no site stands out: the map crowns no winner").
Both are Leaflet-independent HTML positioned over the map; every text is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import folium
    from branca.element import Element

__all__ = ["add_note", "add_notice"]

_NOTE_CSS = (
    "position:absolute;bottom:24px;left:50%;transform:translateX(-50%);z-index:1000;"
    "max-width:420px;"
    "background:rgba(255,255,255,0.94);padding:6px 10px;border-radius:6px;"
    "box-shadow:0 1px 5px rgba(0,0,0,0.35);font:11px Arial,Helvetica,sans-serif;color:#1a1a1a;"
)
_NOTICE_CSS = (
    "position:absolute;top:10px;left:50%;transform:translateX(-50%);z-index:1001;"
    "max-width:520px;background:#fff3cd;border:2px solid #b45309;padding:8px 14px;"
    "border-radius:6px;box-shadow:0 1px 6px rgba(0,0,0,0.4);"
    "font:13px Arial,Helvetica,sans-serif;color:#3b2300;text-align:center;"
)


def _lines_html(lines: Iterable[str]) -> str:
    return "".join(f"<li>{html.escape(str(line))}</li>" for line in lines if str(line).strip())


def add_note(m: folium.Map, title: str, lines: Iterable[str], *, open_: bool = False) -> Element:
    """Add a folding note box at the bottom centre of ``m`` (the corners hold controls).

    Parameters
    ----------
    m : folium.Map
        The map.
    title : str
        Text always shown (the summary line).
    lines : iterable of str
        Lines shown when the note is opened.
    open_ : bool
        Open when the map loads.

    Returns
    -------
    branca.element.Element
        The element added to the map's HTML.
    """
    from branca.element import Element

    body = (
        f'<div class="foncier-note" style="{_NOTE_CSS}"><details{" open" if open_ else ""}>'
        f"<summary style='cursor:pointer;font-weight:bold'>{html.escape(title)}</summary>"
        f"<ul style='margin:4px 0 0 14px;padding:0'>{_lines_html(lines)}</ul></details></div>"
    )
    element = Element(body)
    root: Any = m.get_root()  # a branca Figure: its html part holds the page's body
    root.html.add_child(element)
    return element


def add_notice(
    m: folium.Map,
    title: str,
    lines: Iterable[str] = (),
    *,
    hidden: bool = False,
    name: str | None = None,
) -> Element:
    """Add a warning banner at the top centre of ``m`` (shown in PNG pictures too).

    Parameters
    ----------
    m : folium.Map
        The map.
    title : str
        The warning, in bold.
    lines : iterable of str
        Details under it.
    hidden : bool
        Written but not shown (``display:none``), for a script of the page to show it later.
    name : str, optional
        Written as the banner's ``data-name`` attribute, for such a script to find it.

    Returns
    -------
    branca.element.Element
        The element added to the map's HTML.
    """
    from branca.element import Element

    items = _lines_html(lines)
    extra = f' data-name="{html.escape(name)}"' if name else ""
    style = _NOTICE_CSS + ("display:none;" if hidden else "")
    body = (
        f'<div class="foncier-notice" role="alert"{extra} style="{style}">'
        f"<b>{html.escape(title)}</b>"
        + (
            f"<ul style='margin:4px 0 0 14px;padding:0;text-align:left'>{items}</ul>"
            if items
            else ""
        )
        + "</div>"
    )
    element = Element(body)
    root: Any = m.get_root()  # a branca Figure: its html part holds the page's body
    root.html.add_child(element)
    return element

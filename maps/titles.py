"""Title block of a map: title, subtitle (territory, profile, date) and the sources shown.

The block is a Leaflet control in the top-left corner, above the zoom buttons, so it
stays in place in fullscreen and in the PNG picture. The list of sources is read when the
map is rendered: layers added after the title still get their source listed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import folium
    from branca.element import MacroElement

__all__ = ["add_sources", "add_title_block", "map_sources"]

_ATTR = "_foncier_sources"


def map_sources(m: folium.Map) -> list[str]:
    """Return the list of source / licence lines collected on ``m`` (created on first use)."""
    sources: list[str] | None = getattr(m, _ATTR, None)
    if sources is None:
        sources = []
        setattr(m, _ATTR, sources)
    return sources


def add_sources(m: folium.Map, sources: Iterable[str]) -> list[str]:
    """Add source / licence lines to the title block of ``m`` (duplicates and blanks skipped).

    Parameters
    ----------
    m : folium.Map
        Map whose title block lists the sources.
    sources : iterable of str
        Plain-text lines, e.g. ``"Gares : SNCF, liste des gares (ODbL)"``; escaped when shown.

    Returns
    -------
    list of str
        All the sources of the map so far.
    """
    current = map_sources(m)
    for s in sources:
        text = str(s).strip()
        if text and text.lower() != "nan" and text not in current:
            current.append(text)
    return current


_CSS = """
<style>
.foncier-title {background: rgba(255,255,255,0.94); padding: 8px 12px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); font-family: Arial, Helvetica, sans-serif;
  color: #1a1a1a; max-width: 380px;}
.foncier-title h1 {font-size: 16px; margin: 0 0 2px 0; font-weight: bold; line-height: 1.25;}
.foncier-title .foncier-subtitle {font-size: 12px; color: #444; margin: 0;}
.foncier-title .foncier-sources {font-size: 10px; color: #555; margin-top: 5px;
  line-height: 1.3; max-height: 7.8em; overflow-y: auto;}
</style>
"""


def add_title_block(
    m: folium.Map,
    *,
    title: str,
    subtitle: str | None = None,
    sources: Iterable[str] = (),
    position: str = "topleft",
) -> MacroElement:
    """Add a title block to ``m``; all texts are escaped.

    Parameters
    ----------
    m : folium.Map
        Map to add to. Add the block before the zoom control to have it on top.
    title : str
        Main title (territory and purpose).
    subtitle : str, optional
        Second line, e.g. ``"Profil logistique · 23/11/2026"``.
    sources : iterable of str
        Source / licence lines; more can be added later with :func:`add_sources`.
    position : str
        Leaflet corner (``"topleft"``, ``"topright"``, ``"bottomleft"``, ``"bottomright"``).

    Returns
    -------
    branca.element.MacroElement
        The element added.
    """
    from branca.element import MacroElement
    from jinja2 import Template

    add_sources(m, sources)

    class _Title(MacroElement):
        _template = Template(
            """
{% macro header(this, kwargs) %}"""
            + _CSS
            + """{% endmacro %}
{% macro html(this, kwargs) %}
<div id="{{ this.get_name() }}" class="foncier-title">
  <h1>{{ this.title }}</h1>
  {%- if this.subtitle %}<p class="foncier-subtitle">{{ this.subtitle }}</p>{% endif %}
  {%- if this.source_list %}
  <div class="foncier-sources">Sources :
    {% for s in this.source_list %}{{ s|e }}{% if not loop.last %} · {% endif %}{% endfor %}
  </div>
  {%- endif %}
</div>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var div = document.getElementById({{ this.get_name()|tojson }});
  var control = L.control({position: {{ this.position|tojson }}});
  control.onAdd = function () {
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  control.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}
"""
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "FoncierTitle"
            self.title = html.escape(title)
            self.subtitle = html.escape(subtitle) if subtitle else ""
            self.position = position
            # The map's own list: sources added after the title still show up.
            self.source_list = map_sources(m)

    element = _Title()
    element.add_to(m)
    return element

"""Legends tied to their layers: an entry shows only while its layer is on the map.

Folium's stock legends are static images of every layer, visible even when a layer is
switched off in the layer control. Here each entry knows the JavaScript variable of its
overlay, and a listener on the map's ``overlayadd`` / ``overlayremove`` (and
``layeradd`` / ``layerremove``) events shows or hides it with ``map.hasLayer(layer)``.

Entries are collected on the map object while layers are added; :func:`maps.base.finish_map`
renders the legend once, after every layer exists.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from layers.formatting import fr_number
from maps.styles import LayerStyle, legend_swatch

if TYPE_CHECKING:
    import folium
    from branca.element import MacroElement

__all__ = [
    "LegendEntry",
    "add_class_legend",
    "add_legend_entry",
    "legend_element",
    "legend_entries",
]

_ATTR = "_foncier_legend_entries"


@dataclass
class LegendEntry:
    """One legend entry.

    Attributes
    ----------
    layer_var : str or None
        JavaScript variable of the overlay the entry follows (``None``: always shown).
    label : str
        Plain-text label (escaped when rendered), also used to find the entry in tests.
    html : str
        Safe HTML of the entry body (swatch and escaped texts).
    """

    layer_var: str | None
    label: str
    html: str


def legend_entries(m: folium.Map) -> list[LegendEntry]:
    """Return the list of legend entries collected on ``m`` (created empty on first use)."""
    entries: list[LegendEntry] | None = getattr(m, _ATTR, None)
    if entries is None:
        entries = []
        setattr(m, _ATTR, entries)
    return entries


def _layer_var(layer: Any) -> str | None:
    if layer is None:
        return None
    return str(layer.get_name())


def add_legend_entry(
    m: folium.Map, layer: Any, *, label: str, style: LayerStyle | None = None, swatch: str = ""
) -> LegendEntry:
    """Add an entry for ``layer``: a swatch (from ``style`` or given HTML) and a label.

    Parameters
    ----------
    m : folium.Map
        Map whose legend gets the entry.
    layer : folium layer or None
        Overlay the entry follows; ``None`` keeps it always visible.
    label : str
        Text of the entry (escaped).
    style : LayerStyle, optional
        Style whose swatch is drawn.
    swatch : str
        Trusted HTML of a swatch, used when ``style`` is not given.
    """
    swatch_html = legend_swatch(style) if style is not None else swatch
    body = (
        f'<span class="foncier-swatch">{swatch_html}</span>'
        f'<span class="foncier-legend-label">{html.escape(label)}</span>'
    )
    entry = LegendEntry(_layer_var(layer), label, body)
    legend_entries(m).append(entry)
    return entry


def add_class_legend(
    m: folium.Map,
    layer: Any,
    *,
    title: str,
    colors: Sequence[str],
    bins: Sequence[float],
    lower: float,
    extra: Sequence[tuple[str, str]] = (),
    decimals: int = 1,
) -> LegendEntry:
    """Add the legend of a classed (choropleth) layer: one row per class, then extra rows.

    Parameters
    ----------
    m : folium.Map
        Map whose legend gets the entry.
    layer : folium layer
        The classed overlay.
    title : str
        Title of the block (escaped), e.g. ``"Score (0–100), profil logistique"``.
    colors : sequence of str
        CSS colour of each class, lowest first.
    bins : sequence of float
        Upper bound of each class (``mapclassify`` ``bins``), same length as ``colors``.
    lower : float
        Lower bound of the first class (the minimum value).
    extra : sequence of (colour, label)
        Rows after the classes (e.g. excluded sites in grey).
    decimals : int
        Decimals shown in the class bounds.
    """
    rows = []
    low = lower
    for color, upper in zip(colors, bins, strict=True):
        text = f"{_num(low, decimals)} – {_num(upper, decimals)}"
        rows.append(
            f'<div class="foncier-class" data-upper="{float(upper)!r}">'
            f'<span class="foncier-box" style="background:{html.escape(color)}"></span>'
            f"{html.escape(text)}</div>"
        )
        low = upper
    for color, label in extra:
        rows.append(
            '<div class="foncier-class-extra">'
            f'<span class="foncier-box" style="background:{html.escape(color)}"></span>'
            f"{html.escape(label)}</div>"
        )
    body = (
        f'<div class="foncier-legend-subtitle">{html.escape(title)}</div>'
        f'<div class="foncier-classes">{"".join(rows)}</div>'
    )
    entry = LegendEntry(_layer_var(layer), title, body)
    legend_entries(m).append(entry)
    return entry


def _num(x: float, decimals: int) -> str:
    return fr_number(x, decimals, grouping=False)


_CSS = """
<style>
.foncier-legend {background: rgba(255,255,255,0.94); padding: 8px 10px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); font: 12px/1.4 Arial, Helvetica, sans-serif;
  color: #222; max-height: 45vh; overflow-y: auto; min-width: 170px; max-width: 300px;}
.foncier-legend-title {font-weight: bold; font-size: 13px; margin-bottom: 4px;}
.foncier-legend-entry {display: flex; align-items: center; margin: 3px 0; gap: 6px;}
.foncier-legend-entry.foncier-block {display: block; margin: 4px 0 6px 0;}
.foncier-swatch {display: inline-flex; width: 26px; justify-content: center; flex: none;}
.foncier-legend-subtitle {font-weight: bold; margin-bottom: 2px;}
.foncier-class, .foncier-class-extra {display: flex; align-items: center; gap: 6px;}
.foncier-box {display: inline-block; width: 22px; height: 12px; border: 1px solid #777;
  flex: none;}
</style>
"""


def legend_element(entries: Sequence[LegendEntry], *, title: str = "Légende") -> MacroElement:
    """Return the folium element that draws ``entries`` as a Leaflet control (bottom right).

    The element must be added to the map after every layer it refers to (see
    :func:`maps.base.finish_map`), because its script reads their JavaScript variables.
    """
    from branca.element import MacroElement
    from jinja2 import Template

    class _Legend(MacroElement):
        _template = Template(
            """
{% macro header(this, kwargs) %}"""
            + _CSS
            + """{% endmacro %}
{% macro html(this, kwargs) %}
<div id="{{ this.get_name() }}" class="foncier-legend">
  <div class="foncier-legend-title">{{ this.title }}</div>
  {%- for e in this.entries %}
  <div class="foncier-legend-entry{% if 'foncier-classes' in e.html %} foncier-block{% endif %}"
       data-entry="{{ loop.index0 }}" data-label="{{ e.label|e }}">{{ e.html }}</div>
  {%- endfor %}
</div>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var div = document.getElementById({{ this.get_name()|tojson }});
  var pairs = [
  {%- for e in this.entries %}
    [div.querySelector('[data-entry="{{ loop.index0 }}"]'), {{ e.layer_var or 'null' }}],
  {%- endfor %}
  ];
  function refresh() {
    pairs.forEach(function (p) {
      if (p[1]) { p[0].style.display = map.hasLayer(p[1]) ? '' : 'none'; }
    });
  }
  var pending = false;
  function schedule() {
    if (!pending) { pending = true; setTimeout(function () { pending = false; refresh(); }, 0); }
  }
  var control = L.control({position: 'bottomright'});
  control.onAdd = function () {
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  control.addTo(map);
  map.on('overlayadd overlayremove layeradd layerremove', schedule);
  refresh();
})();
{% endmacro %}
"""
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "FoncierLegend"
            self.entries = list(entries)
            self.title = html.escape(title)

    return _Legend()

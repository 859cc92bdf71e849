"""One style per layer: colour, icon, line dash, French label, from the layer registry.

Icons are inline SVG (a shape and a one-letter glyph), so maps need no icon font and a
self-contained HTML file makes no request for one. Colours are sober and distinct: the
scored sites use a sequential ramp (see :mod:`maps.choropleth`), so the infrastructure
keeps to darker, saturated hues that stand out on it.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from layers.registry import LAYERS, LayerEntry

__all__ = [
    "LAYER_STYLES",
    "LayerStyle",
    "commune_area_style",
    "icon_svg",
    "layer_style",
    "leaflet_style",
    "legend_swatch",
]

Kind = Literal["point", "line", "polygon", "raster"]
Shape = Literal["circle", "square", "diamond", "triangle", "star"]


@dataclass(frozen=True)
class LayerStyle:
    """How one layer is drawn.

    Attributes
    ----------
    kind : {"point", "line", "polygon", "raster"}
        Geometry kind the style is made for.
    label : str
        Legend and layer-control label (French, as shown to users).
    color : str
        Main colour (CSS hex): icon fill, line colour or polygon outline; for a raster, the
        colour of high values.
    fill_color : str or None
        Polygon fill colour (default: ``color``); for a raster, the colour of low values.
    fill_opacity : float
        Polygon fill opacity, 0..1.
    weight : float
        Line or outline width, CSS pixels.
    dash : str or None
        SVG dash pattern of lines and outlines (``"6 4"``), ``None`` for solid.
    shape : str
        Point icon shape: circle, square, diamond, triangle or star.
    glyph : str
        One or two characters drawn on the point icon.
    """

    kind: Kind
    label: str
    color: str
    fill_color: str | None = None
    fill_opacity: float = 0.25
    weight: float = 2.0
    dash: str | None = None
    shape: Shape = "circle"
    glyph: str = ""


def _from_entry(entry: LayerEntry) -> LayerStyle:
    return LayerStyle(entry.kind, entry.label, **asdict(entry.style))


#: Styles of the layers ``foncier`` loads, keyed by layer name: those of the layer registry
#: (:data:`layers.registry.LAYERS`), plus the member EPCI drawn on territory maps.
LAYER_STYLES: dict[str, LayerStyle] = {
    **{name: _from_entry(entry) for name, entry in LAYERS.items()},
    "epci": LayerStyle(
        "polygon", "Intercommunalités (EPCI)", "#555555", fill_opacity=0.0, weight=2.0, dash="8 4"
    ),
}

_DEFAULT_COLORS = ("#4d4d4d", "#7f3b08", "#2d004b", "#00441b", "#67001f")


def layer_style(name: str, *, kind: Kind | None = None, label: str | None = None) -> LayerStyle:
    """Return the style of layer ``name``, or a neutral style for a layer without one.

    Parameters
    ----------
    name : str
        Layer name (``"rail_freight_stations"``, ``"flood_zones"`` …).
    kind : {"point", "line", "polygon"}, optional
        Geometry kind, used for a layer without a predefined style.
    label : str, optional
        Label that replaces the predefined one.

    Returns
    -------
    LayerStyle
    """
    style = LAYER_STYLES.get(name)
    if style is None:
        color = _DEFAULT_COLORS[sum(map(ord, name)) % len(_DEFAULT_COLORS)]
        style = LayerStyle(kind or "point", name.replace("_", " ").capitalize(), color)
    if label is not None:
        style = replace(style, label=label)
    return style


def commune_area_style(style: LayerStyle) -> LayerStyle:
    """How the features of a layer known only at their commune are drawn.

    Such a feature is the area of its commune(s): its outline, dashed, in the layer's colour,
    without fill (the sites under it stay visible and nobody reads a position inside it).
    The siting map and the QGIS styles of the exports both draw them so.

    Parameters
    ----------
    style : LayerStyle
        The layer's own style.

    Returns
    -------
    LayerStyle
        A line style: 2.5 px wide (CSS pixels), dashed ``"2 5"``, labelled "<layer> –
        position connue à la commune seulement".
    """
    return replace(
        style,
        kind="line",
        label=f"{style.label} – position connue à la commune seulement",
        dash="2 5",
        weight=2.5,
    )


def _shape_svg(shape: str, size: int, fill: str) -> str:
    s = size
    stroke = 'stroke="#ffffff" stroke-width="1.5"'
    if shape == "square":
        return (
            f'<rect x="1.5" y="1.5" width="{s - 3}" height="{s - 3}" rx="3" '
            f'fill="{fill}" {stroke}/>'
        )
    if shape == "diamond":
        h = s / 2
        return f'<polygon points="{h},1 {s - 1},{h} {h},{s - 1} 1,{h}" fill="{fill}" {stroke}/>'
    if shape == "triangle":
        return f'<polygon points="{s / 2},1 {s - 1},{s - 2} 1,{s - 2}" fill="{fill}" {stroke}/>'
    if shape == "star":
        c, r1, r2 = s / 2, s / 2 - 1, s / 5
        pts = []
        for i in range(10):
            r = r1 if i % 2 == 0 else r2
            a = math.pi / 5 * i - math.pi / 2
            pts.append(f"{c + r * math.cos(a):.1f},{c + r * math.sin(a):.1f}")
        return f'<polygon points="{" ".join(pts)}" fill="{fill}" {stroke}/>'
    return f'<circle cx="{s / 2}" cy="{s / 2}" r="{s / 2 - 1.5}" fill="{fill}" {stroke}/>'


def icon_svg(style: LayerStyle, *, size: int = 22) -> str:
    """Inline SVG of a point icon (shape, colour, white glyph), safe to put in HTML.

    Parameters
    ----------
    style : LayerStyle
        Style of the layer.
    size : int
        Width and height, CSS pixels.
    """
    glyph = ""
    if style.glyph:
        y = size * (0.68 if style.shape == "triangle" else 0.5)
        glyph = (
            f'<text x="{size / 2}" y="{y:.1f}" dy="0.35em" text-anchor="middle" '
            f'font-family="Arial,Helvetica,sans-serif" font-size="{size * 0.5:.0f}" '
            f'font-weight="bold" fill="#ffffff">{html.escape(style.glyph)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" style="filter:drop-shadow(0 1px 1px rgba(0,0,0,.45))">'
        f"{_shape_svg(style.shape, size, html.escape(style.color))}{glyph}</svg>"
    )


def legend_swatch(style: LayerStyle) -> str:
    """Small inline SVG that stands for ``style`` in a legend (icon, line or filled box)."""
    if style.kind == "point":
        return icon_svg(style, size=18)
    dash = f' stroke-dasharray="{html.escape(style.dash)}"' if style.dash else ""
    color = html.escape(style.color)
    if style.kind == "raster":
        low = html.escape(style.fill_color or "#ffffff")
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="26" height="16" viewBox="0 0 26 16">'
            '<defs><linearGradient id="r"><stop offset="0" stop-color="' + low + '"/>'
            '<stop offset="1" stop-color="' + color + '"/></linearGradient></defs>'
            '<rect x="1.5" y="1.5" width="23" height="13" fill="url(#r)" stroke="#555555" '
            'stroke-width="1"/></svg>'
        )
    if style.kind == "line":
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="26" height="14" viewBox="0 0 26 14">'
            f'<line x1="1" y1="7" x2="25" y2="7" stroke="{color}" '
            f'stroke-width="{max(style.weight, 2)}"{dash}/></svg>'
        )
    fill = html.escape(style.fill_color or style.color)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="26" height="16" viewBox="0 0 26 16">'
        f'<rect x="1.5" y="1.5" width="23" height="13" fill="{fill}" '
        f'fill-opacity="{max(style.fill_opacity, 0.05)}" stroke="{color}" '
        f'stroke-width="{min(max(style.weight, 1), 3)}"{dash}/></svg>'
    )


def leaflet_style(style: LayerStyle) -> dict[str, Any]:
    """Leaflet path options (``color``, ``weight``, ``dashArray``, ``fillColor`` …) of a style."""
    out: dict[str, Any] = {"color": style.color, "weight": style.weight, "opacity": 0.9}
    if style.dash:
        out["dashArray"] = style.dash
    if style.kind == "polygon":
        out["fillColor"] = style.fill_color or style.color
        out["fillOpacity"] = style.fill_opacity
    else:
        out["fill"] = False
    return out

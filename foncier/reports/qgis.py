"""QGIS styles (QML) for the layers foncier writes: GeoPackage ``layer_styles`` and PostGIS.

The sites get a graduated style that reproduces the siting map exactly: the same classes
(:func:`maps.choropleth.classify_values`, the function the map uses), the same colours
(:func:`maps.choropleth.class_colors`), the same fill opacity and a grey class for the
excluded sites (and sites without a score), as on the map. Class bounds are written with
every digit (Python's shortest round-trip form), and QGIS puts a value equal to a bound in
the first class whose range holds it, as mapclassify does (``bins[i-1] < v <= bins[i]``):
a site on a break is in the same class in QGIS and on the map. Other layers get one symbol
in their map colours (:func:`maps.styles.layer_style`), of the kind of their geometries; the
features known only at their commune (their geometry is the commune's area) get the dashed
outline without fill that the siting map draws for them (:func:`commune_area_qml`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.errors import SchemaError

__all__ = [
    "EXCLUDED_VALUE",
    "SCORE_EXPRESSION",
    "commune_area_qml",
    "layer_qml",
    "qml_class_of",
    "qml_kind",
    "score_classes",
    "score_qml",
]

_QGIS_VERSION = "3.28.0-Firenze"
#: Value that :data:`SCORE_EXPRESSION` gives the excluded sites and the sites without a
#: score: below every score (0..100), it falls in the grey class only.
EXCLUDED_VALUE = -1
#: Expression the sites' style classifies: the score, or -1 for excluded / unscored sites.
SCORE_EXPRESSION = f'CASE WHEN "excluded" OR "score" IS NULL THEN {EXCLUDED_VALUE} ELSE "score" END'
#: CSS pixels to millimetres (96 px per inch).
_PX_MM = 25.4 / 96


def _rgba(color: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` as QGIS's ``r,g,b,a`` (0..255)."""
    text = color.lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", text):
        raise SchemaError(f"colour {color!r} is not a #rrggbb hex colour.")
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(max(0.0, min(1.0, alpha)) * 255)}"


def _options(parent: ET.Element, values: Mapping[str, str]) -> None:
    opt = ET.SubElement(parent, "Option", type="Map")
    for key, value in values.items():
        ET.SubElement(opt, "Option", name=key, type="QString", value=value)


def _symbol(
    parent: ET.Element,
    name: str,
    kind: str,
    *,
    color: str,
    fill: str | None = None,
    fill_alpha: float = 0.25,
    width_mm: float = 0.5,
    dash: bool = False,
    outline_alpha: float = 1.0,
) -> None:
    """One QGIS symbol (marker, line or fill) with a single simple layer."""
    qtype = {"point": "marker", "line": "line"}.get(kind, "fill")
    sym = ET.SubElement(
        parent,
        "symbol",
        name=name,
        type=qtype,
        alpha="1",
        clip_to_extent="1",
        force_rhr="0",
    )
    layer_class = {"marker": "SimpleMarker", "line": "SimpleLine", "fill": "SimpleFill"}[qtype]
    layer = ET.SubElement(sym, "layer", {"class": layer_class, "enabled": "1", "locked": "0"})
    layer.set("pass", "0")
    style = "dash" if dash else "solid"
    if qtype == "marker":
        _options(
            layer,
            {
                "name": "circle",
                "color": _rgba(color),
                "outline_color": "255,255,255,255",
                "outline_width": "0.4",
                "outline_width_unit": "MM",
                "size": "3.5",
                "size_unit": "MM",
            },
        )
    elif qtype == "line":
        _options(
            layer,
            {
                "line_color": _rgba(color),
                "line_width": f"{width_mm:g}",
                "line_width_unit": "MM",
                "line_style": style,
            },
        )
    else:
        _options(
            layer,
            {
                "color": _rgba(fill or color, fill_alpha),
                "style": "solid" if fill_alpha > 0 else "no",
                "outline_color": _rgba(color, outline_alpha),
                "outline_width": f"{width_mm:g}",
                "outline_width_unit": "MM",
                "outline_style": style,
            },
        )


def _qml_document(renderer: ET.Element, geometry_type: int) -> str:
    root = ET.Element(
        "qgis",
        version=_QGIS_VERSION,
        styleCategories="Symbology",
        hasScaleBasedVisibilityFlag="0",
    )
    root.append(renderer)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.SubElement(root, "layerGeometryType").text = str(geometry_type)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


def _renderer(kind: str) -> ET.Element:
    return ET.Element(
        "renderer-v2",
        type=kind,
        forceraster="0",
        symbollevels="0",
        enableorderby="0",
        referencescale="-1",
    )


_GEOMETRY_TYPE = {"point": 0, "line": 1, "polygon": 2}


def qml_kind(gdf: gpd.GeoDataFrame) -> str:
    """``point``, ``line`` or ``polygon``: the dominant geometry kind of a layer."""
    types = gdf.geometry.geom_type.dropna()
    if types.empty:
        return "polygon"
    top = str(types.mode().iloc[0])
    if "Point" in top:
        return "point"
    if "Line" in top:
        return "line"
    return "polygon"


def layer_qml(name: str, *, kind: str) -> str:
    """A QGIS style (QML) drawing a layer with one symbol in its siting-map colours.

    Parameters
    ----------
    name : str
        Layer name (``"rail_freight_stations"``, ``"flood_zones"`` …), looked up with
        :func:`maps.styles.layer_style`.
    kind : {"point", "line", "polygon"}
        Geometry kind of the layer.

    Returns
    -------
    str
        The QML document (XML), as stored in ``layer_styles.styleQML``.
    """
    from maps.styles import layer_style

    if kind not in _GEOMETRY_TYPE:
        raise SchemaError(f"geometry kind {kind!r}: expected 'point', 'line' or 'polygon'.")
    style = layer_style(name, kind=kind)  # type: ignore[arg-type]
    renderer = _renderer("singleSymbol")
    symbols = ET.SubElement(renderer, "symbols")
    # The map styles give widths in CSS pixels; QGIS wants millimetres.
    _symbol(
        symbols,
        "0",
        kind,
        color=style.color,
        fill=style.fill_color,
        fill_alpha=style.fill_opacity,
        width_mm=round(style.weight * _PX_MM, 3),
        dash=style.dash is not None,
    )
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    return _qml_document(renderer, _GEOMETRY_TYPE[kind])


def commune_area_qml(name: str) -> str:
    """A QGIS style (QML) for the features of a layer known only at their commune.

    Such a feature (``precision == "commune"``) is exported as the area of its commune(s):
    drawn as on the siting map, a dashed outline in the layer's colour and no fill, so that
    the sites under it stay visible and nobody reads a position inside the commune.

    Parameters
    ----------
    name : str
        Layer name (``"ports"``, ``"rail_branches"`` …), looked up with
        :func:`maps.styles.layer_style` for its colour.

    Returns
    -------
    str
        The QML document (XML) of a polygon layer: one fill symbol whose only layer is a
        simple line with the width and dash of :func:`maps.styles.commune_area_style`
        (written in millimetres).
    """
    from maps.styles import commune_area_style, layer_style

    style = layer_style(name, kind="polygon")
    outline = commune_area_style(style)
    renderer = _renderer("singleSymbol")
    symbols = ET.SubElement(renderer, "symbols")
    sym = ET.SubElement(
        symbols,
        "symbol",
        name="0",
        type="fill",
        alpha="1",
        clip_to_extent="1",
        force_rhr="0",
    )
    # A line layer in a fill symbol ("Outline: Simple line" in QGIS): unlike the outline of a
    # simple fill, it takes a dash pattern of given lengths, the map's.
    layer = ET.SubElement(sym, "layer", {"class": "SimpleLine", "enabled": "1", "locked": "0"})
    layer.set("pass", "0")
    dash = ";".join(f"{float(v) * _PX_MM:.3g}" for v in (outline.dash or "").split())
    _options(
        layer,
        {
            "line_color": _rgba(style.color),
            "line_width": f"{outline.weight * _PX_MM:.3g}",
            "line_width_unit": "MM",
            "line_style": "solid",
            "use_custom_dash": "1",
            "customdash": dash,
            "customdash_unit": "MM",
            # Leaflet's default ends and joins of a path, as on the map
            "capstyle": "round",
            "joinstyle": "round",
        },
    )
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    return _qml_document(renderer, _GEOMETRY_TYPE["polygon"])


def score_classes(
    scores: pd.Series,
    *,
    excluded: pd.Series | None = None,
    k: int = 5,
    cmap: str = "YlGnBu",
    scheme: str = "Quantiles",
) -> list[tuple[float, float, str]]:
    """Score classes as on the siting map: (lower, upper, colour) for each class.

    Parameters
    ----------
    scores : Series
        Scores, 0..100.
    excluded : Series of bool, optional
        Sites left out of the classes (grey on the map and in the style).
    k : int
        Number of classes.
    cmap : str
        branca colormap.
    scheme : str
        mapclassify scheme (:func:`maps.choropleth.classify_values`).

    Returns
    -------
    list of (float, float, str)
        Class bounds (score, 0..100) and hex colour, lowest class first: the upper bounds
        are the map's breaks (``bins``), the first lower bound the lowest classed score.
        A score ``v`` belongs to the first class with ``lower <= v <= upper``.
    """
    from maps.choropleth import class_colors, classify_values

    values = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    keep = np.isfinite(values)
    if excluded is not None:
        keep &= ~excluded.fillna(False).to_numpy(dtype=bool)
    if not keep.any():
        return []
    kept = values[keep]
    bins = [float(b) for b in classify_values(kept, scheme=scheme, k=k).bins]
    colors = class_colors(cmap, len(bins))
    lowers = [float(kept.min()), *bins[:-1]]
    return [(lo, hi, c) for lo, hi, c in zip(lowers, bins, colors, strict=True)]


def score_qml(
    classes: list[tuple[float, float, str]],
    *,
    kind: str = "polygon",
    excluded_label: str = "Exclu",
) -> str:
    """A QGIS graduated style (QML) colouring sites as the siting map does.

    The renderer classifies :data:`SCORE_EXPRESSION`: excluded sites and sites without a
    score get :data:`EXCLUDED_VALUE` and the grey class (first in the legend), the others
    their score and the classes given.

    Parameters
    ----------
    classes : list of (float, float, str)
        Lower and upper score bounds (0..100) and hex colour of each class, as given by
        :func:`score_classes`. Bounds are written exactly (no rounding).
    kind : {"point", "line", "polygon"}
        Geometry kind of the sites.
    excluded_label : str
        Legend label of the grey class.

    Returns
    -------
    str
        The QML document (XML).
    """
    from maps.choropleth import (
        CLASS_FILL_OPACITY,
        CLASS_OUTLINE,
        EXCLUDED_COLOR,
        EXCLUDED_FILL_OPACITY,
        EXCLUDED_OUTLINE,
        OUTLINE_WEIGHT_PX,
    )

    renderer = _renderer("graduatedSymbol")
    renderer.set("attr", SCORE_EXPRESSION)
    renderer.set("graduatedMethod", "GraduatedColor")
    ranges = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    width = round(OUTLINE_WEIGHT_PX * _PX_MM, 3)
    ET.SubElement(
        ranges,
        "range",
        lower=repr(float(EXCLUDED_VALUE)),
        upper=repr(float(EXCLUDED_VALUE)),
        symbol="0",
        label=excluded_label,
        render="true",
    )
    _symbol(
        symbols,
        "0",
        kind,
        color=EXCLUDED_OUTLINE[0],
        outline_alpha=EXCLUDED_OUTLINE[1],
        fill=EXCLUDED_COLOR,
        fill_alpha=EXCLUDED_FILL_OPACITY,
        width_mm=width,
    )
    for i, (lower, upper, color) in enumerate(classes, start=1):
        ET.SubElement(
            ranges,
            "range",
            # repr: the shortest text that reads back as the same double, so that a score
            # equal to a break stays in the class the map gives it.
            lower=repr(float(lower)),
            upper=repr(float(upper)),
            symbol=str(i),
            label=f"{lower:.1f} – {upper:.1f}".replace(".", ","),
            render="true",
        )
        _symbol(
            symbols,
            str(i),
            kind,
            color=CLASS_OUTLINE,
            fill=color,
            fill_alpha=CLASS_FILL_OPACITY,
            width_mm=width,
        )
    method = ET.SubElement(renderer, "classificationMethod", id="Quantile")
    ET.SubElement(method, "symmetricMode", enabled="0", symmetrypoint="0", astride="0")
    ET.SubElement(
        method, "labelFormat", format="%1 – %2", labelprecision="1", trimtrailingzeroes="1"
    )
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    return _qml_document(renderer, _GEOMETRY_TYPE.get(kind, 2))


def qml_class_of(qml: str, values: pd.DataFrame) -> pd.DataFrame:
    """Evaluate a graduated style written by :func:`score_qml` as QGIS does.

    Parameters
    ----------
    qml : str
        The QML document.
    values : DataFrame
        ``score`` (0..100) and optionally ``excluded`` (bool) per site.

    Returns
    -------
    DataFrame
        Aligned on ``values``: ``symbol`` (name of the symbol drawn, ``"0"`` for the grey
        class), ``label`` and ``fill`` (``#rrggbb``) and ``fill_opacity`` (0..1) of that
        symbol; missing when no range holds the value (QGIS then draws nothing).
    """
    root = ET.fromstring(qml.split("\n", 1)[1] if qml.startswith("<!DOCTYPE") else qml)
    renderer = root.find("renderer-v2")
    if renderer is None or renderer.get("type") != "graduatedSymbol":
        raise SchemaError("not a graduated QGIS style")
    if renderer.get("attr") != SCORE_EXPRESSION:
        raise SchemaError(f"style classifies {renderer.get('attr')!r}, not the score expression")
    ranges = [
        (
            float(r.get("lower", "nan")),
            float(r.get("upper", "nan")),
            r.get("symbol"),
            r.get("label"),
        )
        for r in renderer.iter("range")
    ]
    fills: dict[str, tuple[str, float]] = {}
    for sym in renderer.iter("symbol"):
        opts = {o.get("name"): o.get("value") for o in sym.iter("Option") if o.get("name")}
        r, g, b, a = (int(v) for v in str(opts.get("color", "0,0,0,255")).split(","))
        fills[str(sym.get("name"))] = (f"#{r:02x}{g:02x}{b:02x}", a / 255)
    score = pd.to_numeric(values["score"], errors="coerce")
    excl = (
        values["excluded"].fillna(False).astype(bool)
        if "excluded" in values.columns
        else pd.Series(False, index=values.index)
    )
    value = score.where(~excl & score.notna(), float(EXCLUDED_VALUE)).to_numpy(dtype=float)
    symbol = np.full(len(value), None, dtype=object)
    label = np.full(len(value), None, dtype=object)
    fill = np.full(len(value), None, dtype=object)
    opacity = np.full(len(value), np.nan)
    todo = np.ones(len(value), dtype=bool)
    for lower, upper, name, text in ranges:  # a value goes to the first range that holds it
        hit = todo & (lower <= value) & (value <= upper)
        symbol[hit], label[hit] = name, text
        fill[hit], opacity[hit] = fills[str(name)]
        todo &= ~hit
    return pd.DataFrame(
        {"symbol": symbol, "label": label, "fill": fill, "fill_opacity": opacity},
        index=values.index,
    )

"""Classed choropleth of a numeric column (e.g. site scores) with a legend that follows it.

Classes are mapclassify's (the library geopandas' ``explore`` uses; its quantiles are
recomputed here in numpy with the same arithmetic, to spare its import), colours
from a :mod:`branca` colormap. Rows flagged as excluded are drawn in grey, outside the
classes, so that a reader sees at once which sites were ruled out.
"""

from __future__ import annotations

import html
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from layers.crs import require_crs
from layers.errors import FoncierError, SchemaError
from layers.formatting import fr_number
from maps.legend import add_class_legend
from maps.popups import table_popup_js
from maps.titles import add_sources
from maps.vector import _popups, _text_column, geojson_layer, to_web_geometries

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = [
    "CLASS_FILL_OPACITY",
    "CLASS_OUTLINE",
    "EXCLUDED_COLOR",
    "EXCLUDED_FILL_OPACITY",
    "EXCLUDED_OUTLINE",
    "OUTLINE_WEIGHT_PX",
    "QuantileClasses",
    "add_choropleth",
    "class_colors",
    "classify_values",
    "quantile_bins",
]

log = logging.getLogger(__name__)

#: Fill colour of excluded rows.
EXCLUDED_COLOR = "#9e9e9e"
#: Fill opacity of excluded rows, 0..1.
EXCLUDED_FILL_OPACITY = 0.45
#: Outline colour and opacity (0..1) of excluded rows.
EXCLUDED_OUTLINE = ("#6b6b6b", 0.8)
#: Fill opacity of the classed rows, 0..1 (QGIS styles written by foncier use the same).
CLASS_FILL_OPACITY = 0.75
#: Outline colour of the classed rows.
CLASS_OUTLINE = "#3d3d3d"
#: Outline width of every row, CSS pixels.
OUTLINE_WEIGHT_PX = 0.6


@dataclass(frozen=True)
class QuantileClasses:
    """Quantile classes of some values, as mapclassify's ``Quantiles`` gives them.

    Attributes
    ----------
    bins : numpy.ndarray
        Upper bound of each class, ascending (the last one is the largest value).
    yb : numpy.ndarray of int
        Class (0-based) of each value: ``bins[j-1] < value <= bins[j]``.
    k : int
        Number of classes (fewer than asked when quantiles repeat).
    counts : numpy.ndarray of int
        Number of values in each class.
    """

    bins: np.ndarray
    yb: np.ndarray
    k: int
    counts: np.ndarray


def quantile_bins(values: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of ``k`` quantile classes, bit for bit those of mapclassify.

    mapclassify computes them with ``scipy.stats.scoreatpercentile`` at the percents
    ``100/k, 200/k, ... 100``, then drops repeats; importing mapclassify (scikit-learn,
    scipy.stats) costs seconds for a handful of percentiles, so the same arithmetic is done
    here in numpy: sorted values, index ``p/100 * (n-1)``, weighted mean of the two
    neighbours ``(a (j - idx) + b (idx - i)) / ((j - idx) + (idx - i))``.

    Parameters
    ----------
    values : numpy.ndarray
        Finite numbers (at least one).
    k : int
        Number of classes asked for (>= 1).

    Returns
    -------
    numpy.ndarray
        Distinct upper bounds, ascending.
    """
    sorted_ = np.sort(np.asarray(values, dtype=float).ravel())
    w = 100.0 / k
    percents = np.arange(w, 100 + w, w)
    if percents[-1] > 100.0:
        percents[-1] = 100.0
    out = np.empty(percents.size)
    last = sorted_.size - 1
    for n, pct in enumerate(percents):
        idx = pct / 100.0 * last
        i = int(idx)
        if i == idx:
            out[n] = sorted_[i]
        else:
            w0, w1 = (i + 1) - idx, idx - i
            out[n] = (sorted_[i] * w0 + sorted_[i + 1] * w1) / (w0 + w1)
    return np.unique(out)


def _quantile_classes(values: np.ndarray, k: int) -> QuantileClasses:
    y = np.asarray(values, dtype=float).ravel()
    bins = quantile_bins(y, k)
    # Class j holds bins[j-1] < y <= bins[j] (mapclassify's bin1d); values are finite and
    # the last bin is their maximum, so every value falls in a class.
    yb = np.searchsorted(bins, y, side="left").astype(int)
    counts = np.bincount(yb, minlength=bins.size)
    return QuantileClasses(bins=bins, yb=yb, k=int(bins.size), counts=counts)


def classify_values(values: np.ndarray, *, scheme: str = "Quantiles", k: int = 5) -> Any:
    """Classify ``values`` into ``k`` classes (quantiles in numpy, other schemes by mapclassify).

    Parameters
    ----------
    values : numpy.ndarray
        Finite numbers.
    scheme : str
        mapclassify scheme, any spelling (``"Quantiles"``, ``"FisherJenks"``,
        ``"natural_breaks"``, ``"EqualInterval"`` …). Quantiles (the default) put the same
        number of sites in each class, so the darkest class is the top 1/k; they are fast
        and reproducible, and computed here with the very arithmetic of mapclassify without
        importing it. ``"NaturalBreaks"`` is randomised in mapclassify, and
        ``"FisherJenks"`` is exact but slow on thousands of values without numba.
    k : int
        Number of classes (reduced to the number of distinct values when there are fewer).

    Returns
    -------
    QuantileClasses or mapclassify.classifiers.MapClassifier
        With ``bins`` (upper bounds) and ``yb`` (class of each value).
    """
    key = scheme.lower().replace("_", "").replace("-", "")
    distinct = int(np.unique(values).size)
    k_eff = max(1, min(int(k), distinct))
    if k_eff < k:
        log.info("only %d distinct values: %d classes instead of %d", distinct, k_eff, k)
    if key == "quantiles" and distinct > 0:
        return _quantile_classes(values, k_eff)
    import mapclassify

    try:
        with warnings.catch_warnings():
            # mapclassify warns that numba is missing: the pure-Python path is just slower.
            warnings.filterwarnings("ignore", message="Numba not installed")
            return mapclassify.classify(np.asarray(values, dtype=float), key, k=k_eff)
    except (ValueError, KeyError) as exc:
        raise FoncierError(
            f"cannot classify with scheme {scheme!r}: {exc}. Use a mapclassify scheme such as "
            "'FisherJenks', 'NaturalBreaks', 'Quantiles' or 'EqualInterval'."
        ) from exc


def class_colors(cmap: str, k: int) -> list[str]:
    """Return ``k`` hex colours of a branca colormap, light to dark.

    Parameters
    ----------
    cmap : str
        Name of a branca linear colormap (``"YlGnBu"``, ``"YlOrRd"``, ``"viridis"`` …).
    k : int
        Number of colours.
    """
    import branca.colormap as bcm

    base = None
    for candidate in (cmap, f"{cmap}_09", f"{cmap}_08", f"{cmap}_07", f"{cmap}_06", f"{cmap}_05"):
        try:
            base = getattr(bcm.linear, candidate)
            break
        except (AttributeError, KeyError):
            continue
    if base is None:
        raise FoncierError(
            f"unknown colormap {cmap!r}: use a branca linear colormap name such as "
            "'YlGnBu', 'YlOrRd', 'Blues' or 'viridis'"
        )
    scaled = base.scale(0.0, 1.0)
    if k == 1:
        return [scaled.rgb_hex_str(0.7)]
    # Skip the palest end of the ramp: it is hard to tell from the background.
    return [scaled.rgb_hex_str(0.15 + 0.85 * i / (k - 1)) for i in range(k)]


def add_choropleth(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    column: str,
    *,
    scheme: str = "Quantiles",
    k: int = 5,
    cmap: str = "YlGnBu",
    excluded: str | None = None,
    label_column: str | None = None,
    tooltip_column: str | None = None,
    popup_html_column: str | None = None,
    popup_data_column: str | None = None,
    popup_header: Sequence[str] | None = None,
    popup_shared_footer: Sequence[str] = (),
    popup_class: str = "foncier-table",
    legend_title: str | None = None,
    name: str | None = None,
    show: bool = True,
    simplify_m: float = 2.0,
    decimals: int = 1,
    fill_opacity: float = CLASS_FILL_OPACITY,
    excluded_label: str = "Exclu",
    id_column: str | None = None,
    properties: Sequence[str] = (),
    popup_data_hook: str | None = None,
) -> folium.FeatureGroup:
    """Add ``gdf`` coloured by classes of ``column``, excluded rows in grey, with a legend.

    Parameters
    ----------
    m : folium.Map
        Map to add to.
    gdf : GeoDataFrame
        Polygons or points in any CRS (a CRS is required).
    column : str
        Numeric column to classify (e.g. ``"score"``, 0..100).
    scheme : str
        mapclassify scheme (see :func:`classify_values`).
    k : int
        Number of classes.
    cmap : str
        branca colormap name.
    excluded : str, optional
        Boolean column: ``True`` rows are grey and left out of the classes.
    label_column : str, optional
        Column naming each row (shown in the tooltip, escaped).
    tooltip_column : str, optional
        Column of plain tooltip text (escaped); default ``label – value``.
    popup_html_column : str, optional
        Column of ready popup HTML built with :mod:`maps.popups` (all text escaped there).
    popup_data_column : str, optional
        Column of compact popups (:func:`maps.popups.table_popup_data`), built into tables in
        the browser: about half the size of ready HTML for large layers.
    popup_header : sequence of str, optional
        Table headers of the compact popups (sent once).
    popup_shared_footer : sequence of str
        Lines under every compact popup (sent once).
    popup_class : str
        CSS class of the compact popups' table.
    legend_title : str, optional
        Title of the legend block (default: ``column``).
    name : str, optional
        Label in the layer control (default: ``legend_title``).
    show : bool
        Layer switched on when the map opens.
    simplify_m : float
        Simplification tolerance, metres.
    decimals : int
        Decimals of the class bounds in the legend.
    fill_opacity : float
        Fill opacity of the classed rows, 0..1.
    excluded_label : str
        Legend label of the grey rows.
    id_column : str, optional
        Column copied into each feature's properties as ``_id`` (escaped), so that
        scripts and tests can find a row.
    properties : sequence of str
        Numeric columns copied into each feature's properties under their own name, for
        scripts of the page.
    popup_data_hook : str, optional
        Global JavaScript function that may update compact popups when they open (see
        :func:`maps.popups.table_popup_js`).

    Returns
    -------
    folium.FeatureGroup
        The overlay; its ``foncier_bins`` attribute holds the upper bounds of the classes.
    """
    import folium

    require_crs(gdf, name or column)
    if column not in gdf.columns:
        raise SchemaError(f"column {column!r} not found; available: {list(gdf.columns)}")
    title = legend_title or column
    label = name or title
    web = to_web_geometries(gdf, name=label, simplify_m=simplify_m)
    values = np.asarray(web[column].to_numpy(dtype=float, na_value=np.nan), dtype=float)
    if excluded is not None:
        if excluded not in web.columns:
            raise SchemaError(f"excluded column {excluded!r} not found in the layer")
        is_excluded = web[excluded].fillna(False).to_numpy(dtype=bool)
    else:
        is_excluded = np.zeros(len(web), dtype=bool)
    scored = ~is_excluded & np.isfinite(values)
    # Excluded rows first, so that the coloured ones are drawn on top of them.
    order = np.argsort(scored, kind="stable")
    web = web.iloc[order]
    values, scored = values[order], scored[order]

    group = folium.FeatureGroup(name=html.escape(label), show=show, overlay=True, control=True)
    group.add_to(m)
    if not scored.any():
        log.warning("%s: no row with a value to classify", label)
        colors: list[str] = []
        bins: list[float] = []
        style_index = np.zeros(len(web), dtype=int)
    else:
        classifier = classify_values(values[scored], scheme=scheme, k=k)
        bins = [float(b) for b in classifier.bins]
        colors = class_colors(cmap, len(bins))
        style_index = np.zeros(len(web), dtype=int)
        style_index[scored] = np.asarray(classifier.yb, dtype=int) + 1
    styles: list[dict[str, Any]] = [
        {
            "color": EXCLUDED_OUTLINE[0],
            "weight": OUTLINE_WEIGHT_PX,
            "fillColor": EXCLUDED_COLOR,
            "fillOpacity": EXCLUDED_FILL_OPACITY,
            "opacity": EXCLUDED_OUTLINE[1],
        }
    ]
    styles += [
        {
            "color": CLASS_OUTLINE,
            "weight": OUTLINE_WEIGHT_PX,
            "fillColor": c,
            "fillOpacity": fill_opacity,
        }
        for c in colors
    ]
    if tooltip_column is not None:
        tooltips = _text_column(web, tooltip_column)
    else:
        labels = (_text_column(web, label_column) if label_column else [""] * len(web)) or [
            ""
        ] * len(web)
        tooltips = [
            f"{lab} – {html.escape(excluded_label)}"
            if not ok
            else f"{lab} – {fr_number(v, decimals, grouping=False)}".lstrip(" –")
            for lab, v, ok in zip(labels, values, scored, strict=True)
        ]
    extra: dict[str, list[Any]] = {
        "_v": [round(float(v), 4) if np.isfinite(v) else None for v in values]
    }
    if id_column is not None:
        extra["_id"] = _text_column(web, id_column) or []
    for prop in properties:
        if prop not in web.columns:
            raise SchemaError(f"property column {prop!r} not found in the layer")
        extra[prop] = [
            (int(v) if float(v).is_integer() else float(v)) if np.isfinite(v) else None
            for v in web[prop].to_numpy(dtype=float)
        ]
    if len(web):
        geojson_layer(
            web,
            name=label,
            styles=styles,
            style_index=style_index.tolist(),
            tooltip_html=tooltips,
            popup_html=_popups(web, None, popup_html_column) if popup_html_column else None,
            popup_data=list(web[popup_data_column]) if popup_data_column else None,
            popup_js=(
                table_popup_js(
                    popup_header,
                    css_class=popup_class,
                    shared_footer=popup_shared_footer,
                    data_hook=popup_data_hook,
                )
                if popup_data_column
                else None
            ),
            extra_properties=extra,
            highlight=True,
        ).add_to(group)
    # The class bounds, for scripts of the page that re-class the layer.
    setattr(group, "foncier_bins", list(bins))  # noqa: B010
    add_class_legend(
        m,
        group,
        title=title,
        colors=colors,
        bins=bins,
        lower=float(np.nanmin(values[scored])) if scored.any() else 0.0,
        extra=[(EXCLUDED_COLOR, excluded_label)] if (~scored).any() else [],
        decimals=decimals,
    )
    if "source" in gdf.columns:
        add_sources(m, [str(v) for v in gdf["source"].dropna().unique().tolist()])
    return group

"""Vector layers on a Folium map: polygons, lines and points from GeoDataFrames.

Every function here is the map boundary of the CRS rules: the data come in any CRS (a
missing CRS raises :class:`~layers.errors.CRSError`), are simplified to a tolerance in
metres while still projected, then reprojected to EPSG:4326 and rounded to 1e-5° (about
1 m) so that the HTML stays small. Each layer is one ``L.geoJson`` whose features carry a
small style index read by one style function, never one Leaflet layer per feature.

All text put into tooltips and popups is escaped (see :mod:`maps.popups`).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from layers.crs import require_crs
from layers.errors import SchemaError
from layers.geometry import repair_geometries
from maps.legend import add_legend_entry
from maps.popups import escape_text, popup_from_columns
from maps.styles import LayerStyle, icon_svg, layer_style, leaflet_style
from maps.titles import add_sources

if TYPE_CHECKING:
    import folium
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "CLUSTER_THRESHOLD",
    "add_lines",
    "add_points",
    "add_polygons",
    "ensure_pane",
    "geojson_layer",
    "to_web_geometries",
]

log = logging.getLogger(__name__)

#: Point layers with more features than this are clustered.
CLUSTER_THRESHOLD = 50
#: Decimals of longitude/latitude kept in the HTML (1e-5° ≈ 1.1 m).
COORD_DECIMALS = 5


def to_web_geometries(
    gdf: gpd.GeoDataFrame,
    *,
    name: str = "layer",
    simplify_m: float = 5.0,
    decimals: int = COORD_DECIMALS,
) -> gpd.GeoDataFrame:
    """Return ``gdf`` ready for a web map: simplified, in EPSG:4326, coordinates rounded.

    Parameters
    ----------
    gdf : GeoDataFrame
        Data in any CRS (a CRS is required).
    name : str
        Layer name used in messages.
    simplify_m : float
        Simplification tolerance in metres (Douglas-Peucker, topology preserved), applied
        before reprojection; 0 keeps every vertex.
    decimals : int
        Decimals of the degrees kept (5 ≈ 1 m).

    Returns
    -------
    GeoDataFrame
        A copy in EPSG:4326; missing or empty geometries are dropped with a warning,
        invalid ones repaired with a warning.

    Raises
    ------
    CRSError
        When ``gdf`` has no CRS.
    """
    crs = require_crs(gdf, name)
    gdf = repair_geometries(gdf, name=name, drop_empty=True)
    if len(gdf) == 0:
        return gdf.to_crs(4326)
    if simplify_m > 0:
        work = gdf
        if not crs.is_projected:
            # Simplify in metres even for lon/lat input: a local UTM zone is exact enough.
            work = gdf.to_crs(gdf.estimate_utm_crs())
        geoms = shapely.simplify(work.geometry.to_numpy(), simplify_m, preserve_topology=True)
        work = work.set_geometry(geoms, crs=work.crs)
        gdf = work
    out = gdf.to_crs(4326)
    rounded = shapely.transform(
        out.geometry.to_numpy(), lambda xy: np.round(xy, decimals), include_z=False
    )
    out = out.set_geometry(rounded, crs=4326)
    keep = ~(shapely.is_empty(rounded) | shapely.is_missing(rounded))
    if not keep.all():
        log.warning("%s: %d geometr(ies) vanished once rounded to ~1 m", name, (~keep).sum())
        out = out.loc[keep]
    return out


def _feature_collection(
    web: gpd.GeoDataFrame, properties: Mapping[str, Sequence[Any]]
) -> dict[str, Any]:
    # Built by hand: only the listed properties go into the HTML (never the whole row).
    features = []
    geojsons = shapely.to_geojson(web.geometry.to_numpy())
    keys = list(properties)
    columns = [list(properties[k]) for k in keys]
    for i, gj in enumerate(geojsons):
        props = {k: _jsonable(col[i]) for k, col in zip(keys, columns, strict=True)}
        features.append({"type": "Feature", "properties": props, "geometry": json.loads(gj)})
    return {"type": "FeatureCollection", "features": features}


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    try:
        import pandas as pd

        if v is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    return v


def _style_function_js(styles: Sequence[Mapping[str, Any]]) -> Any:
    from folium.utilities import JsCode

    return JsCode(
        "function (feature) { var s = "
        + json.dumps(list(styles))
        + "; var k = feature.properties._k; return s[(k === undefined || k === null) ? 0 : k]; }"
    )


def _text_column(gdf: pd.DataFrame, column: str | None) -> list[str] | None:
    if column is None:
        return None
    if column not in gdf.columns:
        raise SchemaError(f"column {column!r} not found; available: {list(gdf.columns)}")
    return [escape_text(v) for v in gdf[column].tolist()]


def geojson_layer(
    web: gpd.GeoDataFrame,
    *,
    name: str,
    styles: Sequence[Mapping[str, Any]] | None = None,
    style_index: Sequence[int] | None = None,
    tooltip_html: Sequence[str] | None = None,
    popup_html: Sequence[str] | None = None,
    popup_data: Sequence[Mapping[str, Any]] | None = None,
    popup_js: str | None = None,
    extra_properties: Mapping[str, Sequence[Any]] | None = None,
    marker: Any = None,
    highlight: bool = False,
    pane: str | None = None,
) -> folium.GeoJson:
    """Return one ``folium.GeoJson`` of web-ready data with a property-based style.

    Parameters
    ----------
    web : GeoDataFrame
        Output of :func:`to_web_geometries` (EPSG:4326).
    name : str
        Name of the layer (not shown in the layer control: the caller's group is).
    styles : sequence of dict, optional
        Leaflet path styles; feature ``i`` uses ``styles[style_index[i]]``.
    style_index : sequence of int, optional
        Style of each feature (default: all use ``styles[0]``).
    tooltip_html, popup_html : sequence of str, optional
        SAFE HTML per feature (escaped by the caller).
    popup_data, popup_js : optional
        Compact popups instead of ``popup_html``: one :func:`maps.popups.table_popup_data`
        per feature and the :func:`maps.popups.table_popup_js` function that builds them in
        the browser.
    extra_properties : mapping, optional
        More properties to embed (numbers or escaped strings), e.g. ids used by scripts.
    marker : folium.Marker, optional
        Marker drawn for point features.
    highlight : bool
        Thicken the outline under the mouse.
    pane : str, optional
        Leaflet pane to draw in (see :func:`ensure_pane`); the features are then not
        interactive, so clicks reach the layers underneath.
    """
    import folium

    props: dict[str, Sequence[Any]] = {}
    if style_index is not None:
        props["_k"] = [int(k) for k in style_index]
    if tooltip_html is not None:
        props["_tooltip"] = list(tooltip_html)
    if popup_html is not None:
        props["_popup"] = list(popup_html)
    if popup_data is not None:
        if popup_js is None:
            raise SchemaError("popup_data needs popup_js (see maps.popups.table_popup_js).")
        props["_pt"] = list(popup_data)
    for key, values in (extra_properties or {}).items():
        props[key] = list(values)
    data = _feature_collection(web, props)
    kwargs: dict[str, Any] = {}
    if styles:
        kwargs["style"] = _style_function_js(styles)
    if pane is not None:
        kwargs["pane"] = pane
        kwargs["interactive"] = False
        tooltip_html = popup_html = None
        popup_data = popup_js = None
        highlight = False
    if popup_js is not None and len(web):
        from folium.utilities import JsCode

        kwargs["on_each_feature"] = JsCode(popup_js)
    layer = folium.GeoJson(
        data,
        name=html.escape(name),
        control=False,
        marker=marker,
        tooltip=(
            folium.GeoJsonTooltip(fields=["_tooltip"], labels=False, sticky=True)
            if tooltip_html is not None and len(web)
            else None
        ),
        popup=(
            folium.GeoJsonPopup(fields=["_popup"], labels=False, max_width=460)
            if popup_html is not None and len(web)
            else None
        ),
        highlight_function=(lambda f: {"weight": 3.5, "color": "#111111"}) if highlight else None,
        **kwargs,
    )
    return layer


def ensure_pane(m: folium.Map, name: str, *, z_index: int = 450) -> str:
    """Create (once) a Leaflet pane on ``m`` that lets clicks through; return its name.

    Overlay polygons go to z-index 400 and markers to 600: a pane at 450 draws zones such
    as flood areas above the scored sites, while clicks still reach the sites' popups.
    """
    from folium.map import CustomPane

    made: set[str] = getattr(m, "_foncier_panes", set())
    if name not in made:
        CustomPane(name, z_index=z_index, pointer_events=False).add_to(m)
        made.add(name)
        m._foncier_panes = made  # type: ignore[attr-defined]
    return name


def _cluster_icon_js(color: str) -> str:
    # Clusters in the layer's own colour (the default green/yellow/orange ones would be
    # mistaken for score classes).
    return (
        "function (cluster) { var n = cluster.getChildCount();"
        " var s = n < 10 ? 26 : n < 100 ? 32 : 38;"
        " return L.divIcon({className: 'foncier-cluster', iconSize: L.point(s, s), html:"
        " '<div style=\"width:' + s + 'px;height:' + s + 'px;border-radius:50%;display:flex;"
        "align-items:center;justify-content:center;background:"
        + json.dumps(color)[1:-1]
        + ";opacity:.88;color:#fff;border:2px solid #fff;box-sizing:border-box;"
        "box-shadow:0 1px 3px rgba(0,0,0,.5);font:bold 12px Arial,sans-serif\">'"
        " + n + '</div>'}); }"
    )


def _register(
    m: folium.Map,
    group: Any,
    gdf: gpd.GeoDataFrame,
    *,
    label: str,
    style: LayerStyle,
    legend: bool | str,
    source_column: str | None,
) -> None:
    if legend:
        add_legend_entry(m, group, label=legend if isinstance(legend, str) else label, style=style)
    if source_column and source_column in gdf.columns:
        values = [str(v) for v in gdf[source_column].dropna().unique().tolist()]
        add_sources(m, [f"{label} : {v}" for v in values])


def _resolve_style(style: LayerStyle | str | None, kind: str, name: str | None) -> LayerStyle:
    if isinstance(style, LayerStyle):
        return style
    return layer_style(style or name or kind, kind=kind)  # type: ignore[arg-type]


def _popups(
    gdf: gpd.GeoDataFrame, popup: str | Mapping[str, str] | None, popup_html: str | None
) -> list[str] | None:
    if popup_html is not None:
        if popup_html not in gdf.columns:
            raise SchemaError(f"popup_html column {popup_html!r} not found in the layer")
        # Trusted HTML made by maps.popups (every text escaped there).
        return [str(v) if v is not None else "" for v in gdf[popup_html].tolist()]
    if popup is None:
        return None
    if isinstance(popup, str):
        return popup_from_columns(gdf, {popup: popup}).tolist()
    return popup_from_columns(gdf, popup).tolist()


def _add_vector(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    *,
    kind: str,
    name: str | None,
    style: LayerStyle | str | None,
    tooltip: str | None,
    popup: str | Mapping[str, str] | None,
    popup_html: str | None,
    legend: bool | str,
    show: bool,
    simplify_m: float,
    source_column: str | None,
    highlight: bool = False,
    pane: str | None = None,
) -> folium.FeatureGroup:
    import folium

    st = _resolve_style(style, kind, name)
    label = name or st.label
    web = to_web_geometries(gdf, name=label, simplify_m=simplify_m)
    # The pane must exist before the group that draws in it (scripts run in order).
    pane_name = ensure_pane(m, pane) if pane else None
    group = folium.FeatureGroup(name=html.escape(label), show=show, overlay=True, control=True)
    group.add_to(m)
    if len(web) == 0:
        log.warning("%s: empty layer, nothing drawn", label)
    else:
        geojson_layer(
            web,
            name=label,
            styles=[leaflet_style(st)],
            tooltip_html=_text_column(web, tooltip),
            popup_html=_popups(web, popup, popup_html),
            highlight=highlight,
            pane=pane_name,
        ).add_to(group)
    _register(m, group, gdf, label=label, style=st, legend=legend, source_column=source_column)
    return group


def add_polygons(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    *,
    name: str | None = None,
    style: LayerStyle | str | None = None,
    tooltip: str | None = None,
    popup: str | Mapping[str, str] | None = None,
    popup_html: str | None = None,
    legend: bool | str = True,
    show: bool = True,
    simplify_m: float = 10.0,
    source_column: str | None = "source",
    highlight: bool = False,
    pane: str | None = None,
) -> folium.FeatureGroup:
    """Add a polygon layer (zones, constraints, boundaries) to ``m``.

    Parameters
    ----------
    m : folium.Map
        Map to add to.
    gdf : GeoDataFrame
        Polygons in any CRS (projected data are simplified in metres first).
    name : str, optional
        Label in the layer control and legend (default: the style's label).
    style : LayerStyle or str, optional
        A style, or the name of a layer of :data:`maps.styles.LAYER_STYLES`
        (``"flood_zones"`` …).
    tooltip : str, optional
        Column shown on hover (escaped).
    popup : str or mapping, optional
        Column, or ``{label: column}``, shown in a popup table (escaped).
    popup_html : str, optional
        Column of ready popup HTML built with :mod:`maps.popups` (all text escaped there).
    legend : bool or str
        Add a legend entry that follows the layer (a string replaces its label).
    show : bool
        Layer switched on when the map opens.
    simplify_m : float
        Simplification tolerance, metres.
    source_column : str, optional
        Column naming the source / licence of the data, listed in the title block.
    highlight : bool
        Thicken the outline under the mouse.
    pane : str, optional
        Draw in this click-through pane (created with :func:`ensure_pane`), above the
        other polygons; the layer then has no tooltip or popup.

    Returns
    -------
    folium.FeatureGroup
        The overlay (its legend entry follows it in the layer control).
    """
    return _add_vector(
        m,
        gdf,
        kind="polygon",
        name=name,
        style=style,
        tooltip=tooltip,
        popup=popup,
        popup_html=popup_html,
        legend=legend,
        show=show,
        simplify_m=simplify_m,
        source_column=source_column,
        highlight=highlight,
        pane=pane,
    )


def add_lines(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    *,
    name: str | None = None,
    style: LayerStyle | str | None = None,
    tooltip: str | None = None,
    popup: str | Mapping[str, str] | None = None,
    popup_html: str | None = None,
    legend: bool | str = True,
    show: bool = True,
    simplify_m: float = 10.0,
    source_column: str | None = "source",
) -> folium.FeatureGroup:
    """Add a line layer (rail lines, branches, waterways, roads) to ``m``.

    Parameters are those of :func:`add_polygons`; ``simplify_m`` (metres) defaults to
    10 m, invisible below zoom 15 and a large saving on long lines.

    Returns
    -------
    folium.FeatureGroup
        The overlay.
    """
    return _add_vector(
        m,
        gdf,
        kind="line",
        name=name,
        style=style,
        tooltip=tooltip,
        popup=popup,
        popup_html=popup_html,
        legend=legend,
        show=show,
        simplify_m=simplify_m,
        source_column=source_column,
    )


def add_points(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    *,
    name: str | None = None,
    style: LayerStyle | str | None = None,
    tooltip: str | None = None,
    popup: str | Mapping[str, str] | None = None,
    popup_html: str | None = None,
    legend: bool | str = True,
    show: bool = True,
    cluster_threshold: int = CLUSTER_THRESHOLD,
    icon_size: int = 22,
    source_column: str | None = "source",
) -> folium.FeatureGroup:
    """Add a point layer (stations, ports, substations …) with its own SVG icon.

    Non-point geometries are drawn at a point inside them. Layers with more than
    ``cluster_threshold`` features are clustered.

    Parameters
    ----------
    m : folium.Map
        Map to add to.
    gdf : GeoDataFrame
        Features in any CRS.
    name, style, tooltip, popup, popup_html, legend, show, source_column
        As in :func:`add_polygons`.
    cluster_threshold : int
        Cluster the markers above this many features.
    icon_size : int
        Icon size, CSS pixels.

    Returns
    -------
    folium.FeatureGroup
        The overlay.
    """
    import folium

    from maps.controls import MarkerClusterLayer

    st = _resolve_style(style, "point", name)
    label = name or st.label
    require_crs(gdf, label)
    pts = gdf
    if len(gdf):
        geoms = gdf.geometry.to_numpy()
        not_point = shapely.get_type_id(geoms) != 0
        if not_point.any():
            geoms = geoms.copy()
            ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            fix = not_point & ok
            geoms[fix] = shapely.point_on_surface(geoms[fix])
            pts = gdf.set_geometry(geoms, crs=gdf.crs)
    web = to_web_geometries(pts, name=label, simplify_m=0.0)
    group = folium.FeatureGroup(name=html.escape(label), show=show, overlay=True, control=True)
    group.add_to(m)
    if len(web) == 0:
        log.warning("%s: empty layer, nothing drawn", label)
    else:
        half = icon_size // 2
        marker = folium.Marker(
            icon=folium.DivIcon(
                html=icon_svg(st, size=icon_size),
                icon_size=(icon_size, icon_size),
                icon_anchor=(half, half),
                class_name="foncier-icon",
            )
        )
        target: Any = group
        if len(web) > cluster_threshold:
            target = MarkerClusterLayer(
                control=False,
                icon_create_function=_cluster_icon_js(st.color),
                show_coverage_on_hover=False,
                max_cluster_radius=45,
                disable_clustering_at_zoom=13,
            )
            target.add_to(group)
        geojson_layer(
            web,
            name=label,
            tooltip_html=_text_column(web, tooltip),
            popup_html=_popups(web, popup, popup_html),
            marker=marker,
        ).add_to(target)
    _register(m, group, gdf, label=label, style=st, legend=legend, source_column=source_column)
    return group

"""The empty map every siting map starts from, and the call that completes it.

:func:`base_map` opens at an extent with switchable basemaps, a title block, zoom,
fullscreen and measure controls and a metric scale bar. Layers are then added with
:mod:`maps.vector` and :mod:`maps.choropleth`; :func:`finish_map` adds the legend and the
layer control last, because both must see every layer (Leaflet's layer control only lists
layers that exist when it is built, and the legend's script reads their variables).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from layers.crs import require_crs
from layers.errors import GeometryError
from maps.basemaps import DEFAULT_BASEMAPS, add_basemaps
from maps.legend import legend_element, legend_entries
from maps.popups import POPUP_CSS
from maps.titles import add_sources, add_title_block

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["base_map", "bounds_lonlat", "finish_map"]

log = logging.getLogger(__name__)

_FINISH_ATTR = "_foncier_finish"

Bounds = tuple[float, float, float, float]


def bounds_lonlat(extent: Bounds | gpd.GeoDataFrame | gpd.GeoSeries) -> Bounds:
    """Return ``(west, south, east, north)`` in degrees (EPSG:4326) of an extent.

    Parameters
    ----------
    extent : tuple or GeoDataFrame or GeoSeries
        Either a ``(west, south, east, north)`` tuple in degrees, or data in any CRS
        (reprojected here; a missing CRS raises :class:`~layers.errors.CRSError`).
    """
    if isinstance(extent, tuple | list):
        if len(extent) != 4:
            raise GeometryError(
                f"bounds must be (west, south, east, north) in degrees, got {extent!r}"
            )
        w, s, e, n = (float(v) for v in extent)
    else:
        require_crs(extent, "map extent")
        if len(extent) == 0:
            raise GeometryError("the map extent is an empty layer: give bounds or data to show")
        w, s, e, n = (float(v) for v in extent.to_crs(4326).total_bounds)
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise GeometryError(
            f"bounds ({w}, {s}, {e}, {n}) are not longitude/latitude degrees (west, south, "
            "east, north): pass projected data as a GeoDataFrame, not its raw bounds"
        )
    return (w, s, e, n)


_BASE_CSS = (
    """
<style>
.leaflet-container {font-family: Arial, Helvetica, sans-serif;}
.leaflet-control-layers {font: 12px/1.45 Arial, Helvetica, sans-serif; color: #222;}
.leaflet-control-layers-base label, .leaflet-control-layers-overlays label {margin: 1px 0;}
.leaflet-control-scale-line {font-size: 11px;}
.foncier-icon, .foncier-rank-icon, .foncier-cluster {background: none; border: none;}
</style>
<style>"""
    + POPUP_CSS
    + """</style>
"""
)


def _controls() -> Any:
    from branca.element import MacroElement
    from jinja2 import Template

    class _Controls(MacroElement):
        # Zoom after the title block (so the title sits on top), metric scale bar only.
        _template = Template(
            """
{% macro header(this, kwargs) %}"""
            + _BASE_CSS
            + """{% endmacro %}
{% macro script(this, kwargs) %}
L.control.zoom({position: 'topleft', zoomInTitle: 'Zoom avant',
                zoomOutTitle: 'Zoom arrière'}).addTo({{ this._parent.get_name() }});
L.control.scale({position: 'bottomleft', metric: true, imperial: false, maxWidth: 160})
  .addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
        )

    return _Controls()


def base_map(
    extent: Bounds | gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    *,
    title: str | None = None,
    subtitle: str | None = None,
    sources: Sequence[str] = (),
    basemaps: Sequence[str] = DEFAULT_BASEMAPS,
    m: folium.Map | None = None,
    width: str | int = "100%",
    height: str | int = "100%",
    fullscreen: bool = True,
    measure: bool = True,
) -> folium.Map:
    """Return a Folium map fitted to ``extent``, with basemaps, title block and controls.

    Parameters
    ----------
    extent : tuple or GeoDataFrame or GeoSeries, optional
        Extent to open at: ``(west, south, east, north)`` in degrees, or data in any CRS.
        Default: metropolitan France.
    title, subtitle : str, optional
        Title block (escaped). No block without a title.
    sources : sequence of str
        Source / licence lines for the title block (basemap sources are added).
    basemaps : sequence of str
        Basemap keys (see :data:`maps.basemaps.BASEMAPS`); the first is shown. Pass
        ``("plain",)`` for a map that needs no tiles from the network.
    m : folium.Map, optional
        Existing map: it is fitted to ``extent`` and gets the title; nothing is re-created.
    width, height : str or int
        Size of the map element (CSS), e.g. ``"100%"`` or ``800``.
    fullscreen, measure : bool
        Add the fullscreen button and the distance / area measuring tool.

    Returns
    -------
    folium.Map
        Finish it with :func:`finish_map` after adding layers.
    """
    import folium

    from maps.controls import FullscreenButton, MeasureTool

    w, s, e, n = bounds_lonlat(extent) if extent is not None else (-5.2, 41.3, 9.6, 51.1)
    if m is None:
        m = folium.Map(
            location=[round((s + n) / 2, 5), round((w + e) / 2, 5)],
            zoom_start=6,
            tiles=None,
            control_scale=False,
            zoom_control=False,
            width=width,
            height=height,
            # Quarter zoom steps: the territory fills the window instead of a third of it.
            zoom_snap=0.25,
            zoom_delta=0.5,
        )
        # Only Leaflet is needed: our icons are inline SVG and popups plain HTML, so the
        # jQuery, Bootstrap and Font Awesome files folium loads by default are left out
        # (lighter pages, fewer requests, nothing to inline in a self-contained file).
        m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
        m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
        added = add_basemaps(m, basemaps)
        add_sources(m, [bm.source for bm in added])
        if title:
            add_title_block(m, title=title, subtitle=subtitle, sources=sources)
        else:
            add_sources(m, sources)
        _controls().add_to(m)
        if fullscreen:
            FullscreenButton(
                position="topleft", title="Plein écran", title_cancel="Quitter le plein écran"
            ).add_to(m)
        if measure:
            MeasureTool(
                position="topleft",
                primary_length_unit="kilometers",
                secondary_length_unit="meters",
                primary_area_unit="hectares",
                secondary_area_unit="sqmeters",
                localization="fr",
            ).add_to(m)
    else:
        if title:
            add_title_block(m, title=title, subtitle=subtitle, sources=sources)
        else:
            add_sources(m, sources)
    if extent is not None:
        m.fit_bounds([[round(s, 5), round(w, 5)], [round(n, 5), round(e, 5)]])
    return m


def finish_map(m: folium.Map, *, collapsed: bool = False) -> folium.Map:
    """Add the legend and the layer control to ``m``, after every layer.

    Calling it again (after adding more layers) moves both to the end again, so the
    legend and the control always list every layer.

    Parameters
    ----------
    m : folium.Map
        Map to complete.
    collapsed : bool
        Show the layer control folded into a button.

    Returns
    -------
    folium.Map
        ``m`` itself.
    """
    import folium

    previous = getattr(m, _FINISH_ATTR, ())
    for element in previous:
        m._children.pop(element.get_name(), None)
    added = []
    entries = legend_entries(m)
    if entries:
        legend = legend_element(entries)
        legend.add_to(m)
        added.append(legend)
    control = folium.LayerControl(position="topright", collapsed=collapsed)
    control.add_to(m)
    added.append(control)
    setattr(m, _FINISH_ATTR, tuple(added))
    return m

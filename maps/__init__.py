"""Pictures: GeoDataFrames and column names in, Folium maps and HTML / PNG files out.

``maps`` knows nothing of scores: it draws plain GeoDataFrames (any projected CRS, reprojected
to EPSG:4326 here, at the map boundary) with the columns it is told to show. Folium and branca
are imported inside the functions, so ``import maps`` stays light.
"""

from layers import _logging  # noqa: F401
from maps.base import base_map, finish_map
from maps.basemaps import BASEMAPS, basemap
from maps.choropleth import add_choropleth
from maps.export import save_html, save_png
from maps.labels import add_rank_labels
from maps.legend import add_legend_entry
from maps.popups import html_table, popup_from_columns
from maps.styles import LAYER_STYLES, layer_style
from maps.titles import add_sources, add_title_block
from maps.vector import add_lines, add_points, add_polygons

__all__ = [
    "BASEMAPS",
    "LAYER_STYLES",
    "add_choropleth",
    "add_legend_entry",
    "add_lines",
    "add_points",
    "add_polygons",
    "add_rank_labels",
    "add_sources",
    "add_title_block",
    "base_map",
    "basemap",
    "finish_map",
    "html_table",
    "layer_style",
    "popup_from_columns",
    "save_html",
    "save_png",
]

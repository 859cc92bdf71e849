"""Pictures: GeoDataFrames and column names in, Folium maps and HTML / PNG files out.

Folium and branca are imported lazily inside the functions, so ``import maps`` stays light.
"""

from layers import _logging  # noqa: F401

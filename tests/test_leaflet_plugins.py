"""The plugins a siting map uses give the HTML folium.plugins gives, element for element."""

from __future__ import annotations

import re

import folium
from folium import plugins

from maps import leaflet_plugins


def rendered(element) -> str:
    """The page of a bare map holding ``element``, with folium's random ids numbered."""
    m = folium.Map(tiles=None, location=[48.44, 1.49], zoom_start=10)
    element.add_to(m)
    if hasattr(element, "add_child") and element._name == "MarkerCluster":
        folium.Marker([48.44, 1.49], tooltip="Chartres").add_to(element)
    html = m.get_root().render()
    ids: dict[str, str] = {}
    return re.sub(r"[0-9a-f]{32}", lambda x: ids.setdefault(x.group(0), f"id{len(ids)}"), html)


def test_fullscreen_is_folium_s():
    options = {"position": "topleft", "title": "Plein écran", "title_cancel": "Quitter"}
    ours = rendered(leaflet_plugins.fullscreen(**options))
    assert ours == rendered(plugins.Fullscreen(**options))
    assert "L.control.fullscreen(" in ours
    assert "Control.FullScreen.min.js" in ours
    assert '"titleCancel": "Quitter"' in ours


def test_measure_control_is_folium_s():
    options = {
        "position": "topleft",
        "primary_length_unit": "kilometers",
        "secondary_length_unit": "meters",
        "primary_area_unit": "hectares",
        "secondary_area_unit": "sqmeters",
        "localization": "fr",
    }
    ours = rendered(leaflet_plugins.measure_control(**options))
    assert ours == rendered(plugins.MeasureControl(**options))
    assert "new L.Control.Measure(" in ours
    assert '"localization": "fr"' in ours


def test_marker_cluster_is_folium_s():
    js = "function(cluster) { return L.divIcon({html: cluster.getChildCount()}); }"
    options = {"showCoverageOnHover": False, "maxClusterRadius": 45}
    ours = rendered(
        leaflet_plugins.marker_cluster(control=False, icon_create_function=js, options=options)
    )
    assert ours == rendered(
        plugins.MarkerCluster(control=False, icon_create_function=js, options=options)
    )
    assert "L.markerClusterGroup(" in ours
    assert '"maxClusterRadius": 45' in ours
    assert "Chartres" in ours
    assert "leaflet.markercluster.js" in ours

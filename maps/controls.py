"""The Leaflet plugins the maps use: full-screen button, measuring tool, marker clusters.

``folium.plugins`` gives these three, but importing it imports its fifty-odd plugins and
compiles each one's template: about 0.08 s of every map command, a twentieth of it. These
small elements load the same Leaflet plugins (the files ``maps/static`` holds for
self-contained pages) with the options the maps use.

Imported inside the functions of :mod:`maps.base` and :mod:`maps.vector`, as folium is.
"""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

__all__ = ["FullscreenButton", "MarkerClusterLayer", "MeasureTool"]

_FULLSCREEN = "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0"
_MEASURE = "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist"
_CLUSTER = "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0"


class FullscreenButton(JSCSSMixin, MacroElement):
    """The full-screen button (Leaflet.fullscreen).

    Parameters
    ----------
    position : str
        Corner of the map: ``"topleft"``, ``"topright"``, ``"bottomleft"``, ``"bottomright"``.
    title, title_cancel : str
        Tooltips of the button, to enter and to leave full screen.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.fullscreen({{ this.options|tojavascript }})
                .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, *, position: str, title: str, title_cancel: str) -> None:
        super().__init__()
        self.default_js = [("Control.Fullscreen.js", f"{_FULLSCREEN}/Control.FullScreen.min.js")]
        self.default_css = [("Control.FullScreen.css", f"{_FULLSCREEN}/Control.FullScreen.css")]
        self._name = "Fullscreen"
        self.options = {
            "position": position,
            "title": title,
            "title_cancel": title_cancel,
            "force_separate_button": False,
        }


class MeasureTool(JSCSSMixin, MacroElement):
    """The distance and area measuring tool (leaflet-measure).

    Parameters
    ----------
    position : str
        Corner of the map (see :class:`FullscreenButton`).
    **options : str
        leaflet-measure options, in snake case (``primary_length_unit="kilometers"``,
        ``localization="fr"`` …).
    """

    # leaflet-measure 2.1.7 predates Leaflet 1.8, whose markers pan the map to themselves when
    # they take the focus: its capture marker, as large as twice the map, would then move the
    # map at each click. Its icon is set again here with that focus panning turned off.
    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.Control.Measure.include({
                _setCaptureMarkerIcon: function () {
                    this._captureMarker.options.autoPanOnFocus = false;
                    this._captureMarker.setIcon(
                        L.divIcon({iconSize: this._map.getSize().multiplyBy(2)})
                    );
                },
            });
            var {{ this.get_name() }} = new L.Control.Measure({{ this.options|tojavascript }});
            {{ this._parent.get_name() }}.addControl({{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, *, position: str, **options: str) -> None:
        super().__init__()
        self.default_js = [("leaflet_measure_js", f"{_MEASURE}/leaflet-measure.min.js")]
        self.default_css = [("leaflet_measure_css", f"{_MEASURE}/leaflet-measure.min.css")]
        self._name = "MeasureControl"
        self.options = {"position": position, **options}  # camel-cased by ``tojavascript``


class MarkerClusterLayer(JSCSSMixin, Layer):
    """A layer that gathers its markers into clusters (Leaflet.markercluster).

    Parameters
    ----------
    icon_create_function : str, optional
        JavaScript function drawing a cluster's icon from the cluster.
    control : bool
        Listed in the layer control.
    **options : Any
        Leaflet.markercluster options, in snake case (``max_cluster_radius=45`` …).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.markerClusterGroup({{ this.options|tojavascript }});
            {%- if this.icon_create_function is not none %}
            {{ this.get_name() }}.options.iconCreateFunction = {{ this.icon_create_function }};
            {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self, *, icon_create_function: str | None = None, control: bool = True, **options: Any
    ) -> None:
        super().__init__(overlay=True, control=control)
        self.default_js = [("markerclusterjs", f"{_CLUSTER}/leaflet.markercluster.js")]
        self.default_css = [
            ("markerclustercss", f"{_CLUSTER}/MarkerCluster.css"),
            ("markerclusterdefaultcss", f"{_CLUSTER}/MarkerCluster.Default.css"),
        ]
        self._name = "MarkerCluster"
        self.options = options
        self.icon_create_function = icon_create_function.strip() if icon_create_function else None

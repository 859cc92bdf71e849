"""The three Leaflet plugins a siting map uses, as folium builds them.

``from folium import plugins`` imports some fifty plugins and compiles their templates,
about a tenth of a second, for the three a map uses: the fullscreen button, the measuring
tool and marker clusters. The elements made here are those of folium 0.20
(``folium.plugins.Fullscreen``, ``MeasureControl`` and ``MarkerCluster``): same templates,
options, scripts and styles, hence the same HTML (checked against folium's own in the
tests) and the same file names for the offline copies of :mod:`maps.export`. Their classes
are built on first use, so that importing :mod:`maps` stays free of folium.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["fullscreen", "marker_cluster", "measure_control"]


@functools.cache
def _classes() -> dict[str, Any]:
    from branca.element import MacroElement
    from folium.elements import JSCSSMixin
    from folium.map import Layer
    from folium.template import Template
    from folium.utilities import remove_empty

    class Fullscreen(JSCSSMixin, MacroElement):
        _template = Template(
            """
        {% macro script(this, kwargs) %}
            L.control.fullscreen(
                {{ this.options|tojavascript }}
            ).addTo({{this._parent.get_name()}});
        {% endmacro %}
        """
        )
        default_js = [  # noqa: RUF012 (folium's attribute)
            (
                "Control.Fullscreen.js",
                "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js",
            )
        ]
        default_css = [  # noqa: RUF012 (folium's attribute)
            (
                "Control.FullScreen.css",
                "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css",
            )
        ]

        def __init__(self, **options: Any) -> None:
            super().__init__()
            self._name = "Fullscreen"
            self.options = remove_empty(**options)

    class MeasureControl(JSCSSMixin, MacroElement):
        _template = Template(
            """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = new L.Control.Measure(
                {{ this.options|tojavascript }});
            {{this._parent.get_name()}}.addControl({{this.get_name()}});

            // Workaround for using this plugin with Leaflet>=1.8.0
            // https://github.com/ljagis/leaflet-measure/issues/171
            L.Control.Measure.include({
                _setCaptureMarkerIcon: function () {
                    // disable autopan
                    this._captureMarker.options.autoPanOnFocus = false;
                    // default function
                    this._captureMarker.setIcon(
                        L.divIcon({
                            iconSize: this._map.getSize().multiplyBy(2)
                        })
                    );
                },
            });

        {% endmacro %}
        """
        )
        default_js = [  # noqa: RUF012 (folium's attribute)
            (
                "leaflet_measure_js",
                "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.js",
            )
        ]
        default_css = [  # noqa: RUF012 (folium's attribute)
            (
                "leaflet_measure_css",
                "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.css",
            )
        ]

        def __init__(self, **options: Any) -> None:
            super().__init__()
            self._name = "MeasureControl"
            self.options = remove_empty(**options)

    class MarkerCluster(JSCSSMixin, Layer):
        _template = Template(
            """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.markerClusterGroup(
                {{ this.options|tojavascript }}
            );
            {%- if this.icon_create_function is not none %}
            {{ this.get_name() }}.options.iconCreateFunction =
                {{ this.icon_create_function.strip() }};
            {%- endif %}
        {% endmacro %}
        """
        )
        default_js = [  # noqa: RUF012 (folium's attribute)
            (
                "markerclusterjs",
                "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js",
            )
        ]
        default_css = [  # noqa: RUF012 (folium's attribute)
            (
                "markerclustercss",
                "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css",
            ),
            (
                "markerclusterdefaultcss",
                "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css",
            ),
        ]

        def __init__(
            self, *, control: bool, icon_create_function: str | None, options: dict[str, Any]
        ) -> None:
            super().__init__(name=None, overlay=True, control=control, show=True)
            self._name = "MarkerCluster"
            self.icon_create_function = icon_create_function
            self.options = remove_empty(**options)

    return {"fullscreen": Fullscreen, "measure": MeasureControl, "cluster": MarkerCluster}


def fullscreen(
    *, position: str, title: str, title_cancel: str, force_separate_button: bool = False
) -> Any:
    """The fullscreen button (``folium.plugins.Fullscreen``): a MacroElement to add to a map."""
    return _classes()["fullscreen"](
        position=position,
        title=title,
        title_cancel=title_cancel,
        force_separate_button=force_separate_button,
    )


def measure_control(
    *,
    position: str,
    primary_length_unit: str,
    secondary_length_unit: str,
    primary_area_unit: str,
    secondary_area_unit: str,
    **options: Any,
) -> Any:
    """The distance and area measuring tool (``folium.plugins.MeasureControl``)."""
    return _classes()["measure"](
        position=position,
        primary_length_unit=primary_length_unit,
        secondary_length_unit=secondary_length_unit,
        primary_area_unit=primary_area_unit,
        secondary_area_unit=secondary_area_unit,
        **options,
    )


def marker_cluster(
    *, control: bool, icon_create_function: str | None, options: dict[str, Any]
) -> Any:
    """A marker cluster layer (``folium.plugins.MarkerCluster``) to add markers to.

    Parameters
    ----------
    control : bool
        List the cluster layer itself in the layer control.
    icon_create_function : str or None
        JavaScript function drawing a cluster's icon.
    options : dict
        Options of ``L.markerClusterGroup`` (``maxClusterRadius`` in CSS pixels …).
    """
    return _classes()["cluster"](
        control=control, icon_create_function=icon_create_function, options=options
    )

"""Basemaps of the siting maps: OSM, IGN Plan v2, IGN orthophoto, and a plain background.

Tile URLs come from :mod:`xyzservices` (the registry folium and geopandas use), with
attributions that name the producers as their licences require. The plain background is
a tile layer made of one inline image, so a map still has a neutral base when the network
is closed (offline use, PNG rendering in a sandbox).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from layers.errors import FoncierError

if TYPE_CHECKING:
    import folium

__all__ = ["BASEMAPS", "DEFAULT_BASEMAPS", "Basemap", "add_basemaps", "basemap"]

log = logging.getLogger(__name__)

# A 1 × 1 light warm-grey PNG (#f2efe9, the land colour of OSM): every tile of the plain
# background is this image, so nothing is requested from the network.
_PLAIN_TILE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP49P4lAAWhAstl7N0JAAAAAElFTkSuQmCC"
)


@dataclass(frozen=True)
class Basemap:
    """One basemap: tile URL template, label in the layer control, attribution and licence.

    Attributes
    ----------
    key : str
        Short name used in code (``"osm"``, ``"ign_plan"``, ``"ign_ortho"``, ``"plain"``).
    label : str
        Label in the layer control (French, as shown to users).
    url : str
        XYZ tile URL template (``{z}/{x}/{y}``), or an inline image for ``"plain"``.
    attribution : str
        HTML attribution shown in the map corner (trusted, written here).
    source : str
        Plain-text source and licence, listed in the title block.
    max_zoom : int
        Highest zoom level served.
    """

    key: str
    label: str
    url: str
    attribution: str
    source: str
    max_zoom: int = 19


def _xyz(path: str) -> tuple[str, int]:
    import xyzservices.providers as xyz

    # By exact keys: ``query_name`` normalises every provider name at each call.
    provider: Any = xyz
    for key in path.split("."):
        provider = provider[key]
    return provider.build_url(), int(provider.get("max_zoom", 19))


def basemap(key: str) -> Basemap:
    """Return the basemap called ``key``.

    Parameters
    ----------
    key : str
        One of ``"osm"`` (OpenStreetMap), ``"ign_plan"`` (IGN Plan v2), ``"ign_ortho"``
        (IGN orthophotographies) or ``"plain"`` (uniform background, no network).

    Returns
    -------
    Basemap

    Raises
    ------
    FoncierError
        When ``key`` is not a known basemap.
    """
    if key == "osm":
        url, zmax = _xyz("OpenStreetMap.Mapnik")
        return Basemap(
            key,
            "OpenStreetMap",
            url,
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
            "contributors (ODbL)",
            "Fond OpenStreetMap © contributeurs OpenStreetMap (ODbL)",
            zmax,
        )
    if key == "ign_plan":
        url, zmax = _xyz("GeoportailFrance.plan")
        return Basemap(
            key,
            "IGN Plan v2",
            url,
            '&copy; <a href="https://www.ign.fr/">IGN</a> – Géoplateforme, Plan IGN v2 '
            "(Licence Ouverte 2.0)",
            "Fond Plan IGN v2 © IGN – Géoplateforme (Licence Ouverte 2.0)",
            zmax,
        )
    if key == "ign_ortho":
        url, zmax = _xyz("GeoportailFrance.orthos")
        return Basemap(
            key,
            "IGN orthophotographies",
            url,
            '&copy; <a href="https://www.ign.fr/">IGN</a> – Géoplateforme, BD ORTHO '
            "(Licence Ouverte 2.0)",
            "Fond BD ORTHO © IGN – Géoplateforme (Licence Ouverte 2.0)",
            zmax,
        )
    if key == "plain":
        return Basemap(key, "Fond uni", _PLAIN_TILE, "", "", 22)
    raise FoncierError(
        f"Unknown basemap {key!r}. Choose among {', '.join(BASEMAPS)} "
        "(or pass basemaps=('plain',) to draw without tiles)."
    )


#: Keys of the available basemaps.
BASEMAPS: tuple[str, ...] = ("ign_plan", "osm", "ign_ortho", "plain")
#: Basemaps of a siting map, the first one shown when the map opens.
DEFAULT_BASEMAPS: tuple[str, ...] = ("ign_plan", "osm", "ign_ortho", "plain")


def add_basemaps(m: folium.Map, basemaps: Sequence[str] = DEFAULT_BASEMAPS) -> list[Basemap]:
    """Add basemaps to ``m`` as switchable base layers; the first one is shown.

    Parameters
    ----------
    m : folium.Map
        Map to add to.
    basemaps : sequence of str
        Keys among :data:`BASEMAPS`, in layer-control order.

    Returns
    -------
    list of Basemap
        The basemaps added (their ``source`` goes into the title block).
    """
    import folium
    from xyzservices import TileProvider

    if isinstance(basemaps, str):
        basemaps = (basemaps,)
    added = []
    for i, key in enumerate(dict.fromkeys(basemaps)):
        bm = basemap(key)
        folium.TileLayer(
            # A tile provider, not the URL text: folium looks a text up among the names of
            # every xyzservices provider first (about 2 ms a layer) before taking it as a URL.
            tiles=TileProvider(name=bm.key, url=bm.url, attribution=bm.attribution or " "),
            attr=bm.attribution or " ",
            name=bm.label,
            max_zoom=bm.max_zoom,
            max_native_zoom=min(bm.max_zoom, 19),
            overlay=False,
            control=True,
            show=i == 0,
        ).add_to(m)
        added.append(bm)
    return added

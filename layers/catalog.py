"""The catalogue of every layer foncier can load for a territory, and one call to load many.

Each entry names a layer the scoring profiles refer to (``"rail_freight_stations"``,
``"flood_zones"``, ``"slope"`` …), tells whether it loads offline from the embedded data or
needs the network or a user file, and knows its loader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

import geopandas as gpd
import pandas as pd
import shapely

from layers import admin
from layers.errors import DataSourceError, FoncierError, SchemaError
from layers.infrastructure import INFRASTRUCTURE_LAYERS
from layers.raster import Raster
from layers.settings import settings
from layers.territories import Territory

__all__ = [
    "LAYERS",
    "LayerInfo",
    "available_layers",
    "load_layer",
    "load_layers",
    "load_population",
]

log = logging.getLogger(__name__)

Layer: TypeAlias = gpd.GeoDataFrame | Raster


@dataclass(frozen=True)
class LayerInfo:
    """One entry of :data:`LAYERS`.

    Attributes
    ----------
    name : str
        Name used by profiles and maps.
    description : str
        What the layer holds.
    theme : str
        ``infrastructure``, ``population``, ``constraint``, ``terrain`` or ``land``.
    offline : bool
        True when the layer loads from the data shipped with foncier.
    source : str
        Where the data comes from (shown in listings and map attributions).
    needs : str
        What must be given when the layer is neither embedded nor online (e.g. a file).
    online_source : str or None
        Source to ask the loader for when loading online without a source given
        (``"osm"`` for layers that also have an embedded or file part).
    offline_source : str or None
        Source that gives the embedded part of a layer that is complete only online
        (``"named"``: the named sites among the ports and platforms).
    """

    name: str
    description: str
    theme: str
    offline: bool
    source: str
    loader: Callable[..., Layer]
    needs: str = ""
    online_source: str | None = None
    offline_source: str | None = None

    @property
    def embedded(self) -> bool:
        """True when the layer, or part of it, loads without the network or a file."""
        return self.offline or self.offline_source is not None


def load_population(territory: Territory, *, margin_m: float | None = None) -> gpd.GeoDataFrame:
    """Communes of the territory and around it, with their population (labour pool).

    Parameters
    ----------
    territory : Territory
        Study area; the result is in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter in metres (default ``settings.infrastructure_margin_m``):
        labour within reach often lives outside the territory.

    Returns
    -------
    GeoDataFrame
        ``id`` (INSEE code), ``name``, ``kind`` ("commune"), ``population`` (inhabitants,
        municipal population), ``dep``, ``in_territory`` (bool), ``source``, polygons.
    """
    margin = settings.infrastructure_margin_m if margin_m is None else float(margin_m)
    area = gpd.GeoSeries([territory.area_with_margin(margin)], crs=territory.crs).to_crs(4326)
    area_ll = area.iloc[0]
    deps = admin.load_departements()
    touched = deps.loc[shapely.intersects(deps.geometry.to_numpy(), area_ll), "code"].tolist()
    communes = admin.load_communes(departements=touched)
    communes = communes[shapely.intersects(communes.geometry.to_numpy(), area_ll)]
    communes = communes.to_crs(territory.crs)
    members = set(territory.communes["insee"])
    return gpd.GeoDataFrame(
        {
            "id": communes["insee"].to_numpy(),
            "name": communes["nom"].to_numpy(),
            "kind": "commune",
            "population": communes["population"].to_numpy(),
            "dep": communes["dep"].to_numpy(),
            "in_territory": communes["insee"].isin(members).to_numpy(),
            "source": admin.ADMIN_SOURCE.get("name", "IGN Admin Express / INSEE COG"),
        },
        geometry=communes.geometry.to_numpy(),
        crs=territory.crs,
    ).reset_index(drop=True)


def _needs_source(name: str, what: str) -> Callable[..., Layer]:
    def loader(territory: Territory, *, source: Any = None, **kwargs: Any) -> Layer:
        if source is None:
            raise DataSourceError(f"Layer {name!r} needs a source: {what}.")
        return _SOURCED[name](territory, source=source, **kwargs)

    return loader


def _flood(territory: Territory, *, source: Any, **kwargs: Any) -> Layer:
    from layers.constraints import load_flood_zones

    return load_flood_zones(territory, source=source, **kwargs)


def _hazards(territory: Territory, *, source: Any, **kwargs: Any) -> Layer:
    from layers.constraints import load_hazard_zones

    return load_hazard_zones(territory, source=source, **kwargs)


def _protected(territory: Territory, *, source: Any = "geopf", **kwargs: Any) -> Layer:
    from layers.constraints import load_protected_areas

    return load_protected_areas(territory, source=source, **kwargs)


def _slope(territory: Territory, *, source: Any, **kwargs: Any) -> Layer:
    from layers.terrain import load_slope

    return load_slope(territory, dem=source, **kwargs)


def _zae(territory: Territory, *, source: Any, **kwargs: Any) -> Layer:
    from layers.zae import load_zae

    return load_zae(territory, source=source, **kwargs)


def _friches(territory: Territory, *, source: Any, **kwargs: Any) -> Layer:
    from layers.friches import load_friches

    return load_friches(source, territory=territory, **kwargs)


_SOURCED: dict[str, Callable[..., Layer]] = {
    "flood_zones": _flood,
    "hazard_zones": _hazards,
    "slope": _slope,
    "zae": _zae,
    "friches": _friches,
}


def _catalogue() -> dict[str, LayerInfo]:
    entries = {
        name: LayerInfo(
            name=name,
            description=e.description,
            theme="infrastructure",
            offline=e.offline,
            source=e.source,
            loader=e.loader,
        )
        for name, e in INFRASTRUCTURE_LAYERS.items()
    }
    # Ports and platforms are complete online; offline, their named sites are embedded.
    for name in ("ports", "platforms"):
        entries[name] = replace(
            entries[name],
            description=f"{entries[name].description} (named sites offline, all online)",
            online_source="osm",
            offline_source="named",
        )
    entries["communes"] = LayerInfo(
        "communes",
        "Communes around the territory with their population (labour pool)",
        "population",
        True,
        "IGN Admin Express / INSEE COG (embedded)",
        load_population,
    )
    entries["flood_zones"] = LayerInfo(
        "flood_zones",
        "Flood zones (PPR / PAC in the CNIG-COVADIS structure)",
        "constraint",
        False,
        "PPR / PAC file (DDT), Géorisques",
        _needs_source("flood_zones", "a PPR or PAC file (GeoPackage, shapefile)"),
        needs="file",
    )
    entries["hazard_zones"] = LayerInfo(
        "hazard_zones",
        "Natural hazard zones (all hazards of a PPR / PAC)",
        "constraint",
        False,
        "PPR / PAC file (DDT)",
        _needs_source("hazard_zones", "a PPR or PAC file (GeoPackage, shapefile)"),
        needs="file",
    )
    entries["protected_areas"] = LayerInfo(
        "protected_areas",
        "Natura 2000 (SIC, ZPS) and ZNIEFF 1/2",
        "constraint",
        False,
        "INPN via IGN Géoplateforme WFS",
        _protected,
    )
    entries["slope"] = LayerInfo(
        "slope",
        "Slope in degrees from a DEM",
        "terrain",
        False,
        "DEM file (RGE ALTI, Copernicus DEM …)",
        _needs_source("slope", "a DEM file (GeoTIFF)"),
        needs="file",
    )
    entries["zae"] = LayerInfo(
        "zae",
        "Zones d'activités (CNIG Sites économiques, BD TOPO, OSM)",
        "land",
        False,
        "CNIG file, IGN BD TOPO, OpenStreetMap",
        _needs_source("zae", "a CNIG / BD TOPO file or 'osm'"),
        needs="file or 'osm'",
        online_source="osm",
    )
    entries["friches"] = LayerInfo(
        "friches",
        "Brownfields (CNIG Friches standard, Cartofriches)",
        "land",
        False,
        "Cartofriches / CNIG Friches file",
        _needs_source("friches", "a Cartofriches / CNIG Friches file"),
        needs="file",
    )
    return entries


#: Every layer foncier knows, by name.
LAYERS: dict[str, LayerInfo] = _catalogue()


def _check_names(names: Iterable[str]) -> list[str]:
    names = list(names)
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        raise SchemaError(f"Unknown layer(s) {unknown}. Known layers: {', '.join(sorted(LAYERS))}.")
    return names


def load_layer(
    territory: Territory, name: str, *, source: Any = None, margin_m: float | None = None
) -> Layer:
    """Load one layer of :data:`LAYERS` for a territory.

    Parameters
    ----------
    territory : Territory
        Study area; vector layers come back in ``territory.crs``.
    name : str
        Layer name (see :data:`LAYERS` or :func:`available_layers`).
    source : optional
        Source passed to the loader (a file path, a GeoDataFrame, ``"osm"``, ``"embedded"`` …);
        default: the loader's own default.
    margin_m : float, optional
        Margin around the perimeter, metres, for infrastructure and population layers.
    """
    info = LAYERS[_check_names([name])[0]]
    kwargs: dict[str, Any] = {}
    if source is not None:
        kwargs["source"] = source
    if margin_m is not None and info.theme in {"infrastructure", "population"}:
        kwargs["margin_m"] = margin_m
    return info.loader(territory, **kwargs)


def load_layers(
    territory: Territory,
    names: Iterable[str] | None = None,
    *,
    sources: Mapping[str, Any] | None = None,
    margin_m: float | None = None,
    online: bool = False,
    errors: str = "warn",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Layer]:
    """Load several layers for a territory; what cannot be loaded is skipped with a warning.

    Parameters
    ----------
    territory : Territory
        Study area.
    names : iterable of str, optional
        Layers to load (default: every layer available offline).
    sources : mapping of str to source, optional
        Source per layer, e.g. ``{"flood_zones": "ppr.gpkg", "slope": "dem.tif"}``. A layer
        given here is loaded even when it is not embedded.
    margin_m : float, optional
        Margin around the perimeter for infrastructure and population, metres.
    online : bool
        Also load the online layers (OpenStreetMap, IGN WFS) that have no source given.
        When False (default), only embedded layers and layers with a source are loaded.
    errors : {"warn", "raise"}
        What to do when a layer fails: log a warning and skip it, or raise.
    progress : callable, optional
        Called as ``progress(name, i, n)`` before each layer.

    Returns
    -------
    dict of str to GeoDataFrame or Raster
        Loaded layers. Skipped layers are absent: the scoring engine then skips the criteria
        that need them and says so.
    """
    sources = dict(sources or {})
    if names is None:
        names = [n for n, i in LAYERS.items() if i.embedded]
    wanted = _check_names(names)
    _check_names(sources)
    out: dict[str, Layer] = {}
    for i, name in enumerate(wanted):
        if progress is not None:
            progress(name, i, len(wanted))
        info = LAYERS[name]
        source = sources.get(name)
        if source is None and not online and info.offline_source is not None:
            # Offline, ports and platforms still come from the embedded named sites.
            source = info.offline_source
        elif source is None and not info.offline and (info.needs == "file" or not online):
            # An expected gap (the caller did not give a file or ask for the web): the scoring
            # engine reports the criteria it skips, so this is only information.
            log.info("layer %r skipped: %s", name, "needs a file" if info.needs else "online")
            continue
        elif source is None and online:
            source = info.online_source
        try:
            out[name] = load_layer(territory, name, source=source, margin_m=margin_m)
        except FoncierError as exc:
            if errors == "raise":
                raise
            log.warning("layer %r skipped: %s", name, exc)
    if progress is not None:
        progress("", len(wanted), len(wanted))
    return out


def available_layers(territory: Territory | None = None, *, count: bool = False) -> pd.DataFrame:
    """Table of the layers, with what is available offline and what needs the web or a file.

    Parameters
    ----------
    territory : Territory, optional
        When given with ``count=True``, embedded layers are loaded and their features counted.
    count : bool
        Count the features of the offline layers for ``territory`` (for ports and platforms:
        the embedded named sites).

    Returns
    -------
    DataFrame
        ``layer, theme, description, offline, online, needs, source`` (+ ``features``).
    """
    rows = []
    for name, info in LAYERS.items():
        row: dict[str, Any] = {
            "layer": name,
            "theme": info.theme,
            "description": info.description,
            "offline": info.offline,
            "online": not info.offline and info.needs != "file",
            "needs": info.needs,
            "source": info.source,
        }
        if count and territory is not None:
            row["features"] = pd.NA
            if info.embedded:
                layer = load_layer(territory, name, source=info.offline_source)
                row["features"] = len(layer) if isinstance(layer, gpd.GeoDataFrame) else 1
        rows.append(row)
    return pd.DataFrame(rows)

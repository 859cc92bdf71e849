"""Data in: every source to a validated GeoDataFrame in the territory's projected CRS.

One module per concept: :mod:`layers.territories` (presets, codes, files),
:mod:`layers.admin` (embedded communes, EPCI, départements), :mod:`layers.infrastructure`
(rail, ports, platforms, roads, energy, air, named sites), :mod:`layers.zae` and
:mod:`layers.friches` (CNIG standards), :mod:`layers.constraints` (flood and hazard zones,
protected areas), :mod:`layers.terrain` (DEM, slope), :mod:`layers.cadastre` (parcels), the web
clients (:mod:`layers.http`, :mod:`layers.overpass`, :mod:`layers.geopf`, :mod:`layers.apicarto`,
:mod:`layers.geoapi`, :mod:`layers.georisques`), :mod:`layers.registry` (every layer declared
once: label, kind, schema, coverage, loader, style, licence) and :mod:`layers.catalog`
(loading layers by name).
"""

# The names below are imported on first use (PEP 562): ``import layers`` (and therefore
# ``layers.errors``, which every package imports) does not load geopandas, so that commands
# such as ``foncier --help`` start at once.
from __future__ import annotations

from typing import TYPE_CHECKING

from layers import _logging  # noqa: F401  (installs the NullHandler)
from layers._lazy import lazy_names
from layers.config import settings

if TYPE_CHECKING:
    from layers.admin import load_communes, load_departements, load_epci
    from layers.catalog import LAYERS, available_layers, load_layer, load_layers
    from layers.constraints import (
        load_flood_zones,
        load_hazard_zones,
        load_housing,
        load_protected_areas,
        load_regulation_zones,
        subdivide,
    )
    from layers.errors import (
        ArgumentError,
        CRSError,
        DataSourceError,
        FoncierError,
        GeometryError,
        MissingDependencyError,
        OfflineError,
        OutputError,
        ProfileError,
        SchemaError,
        SettingsError,
        TerritoryError,
        UnknownSettingError,
        UnknownTerritoryError,
    )
    from layers.friches import load_friches, validate_friches
    from layers.infrastructure import (
        load_aerodromes,
        load_motorway_junctions,
        load_named_sites,
        load_platforms,
        load_ports,
        load_rail_branches,
        load_rail_freight_stations,
        load_rail_lines,
        load_rail_stations,
        load_substations,
        load_trunk_roads,
        load_waterways,
    )
    from layers.raster import Raster
    from layers.terrain import load_dem, load_slope, sample_raster
    from layers.territories import Territory, presets, territory
    from layers.zae import (
        CNIG_SITE_COLUMNS,
        load_zae,
        read_sites_economiques,
        validate_sites_economiques,
        write_sites_economiques,
    )

_LAZY: dict[str, str] = {
    "ArgumentError": "layers.errors",
    "CNIG_SITE_COLUMNS": "layers.zae",
    "CRSError": "layers.errors",
    "DataSourceError": "layers.errors",
    "FoncierError": "layers.errors",
    "GeometryError": "layers.errors",
    "LAYERS": "layers.catalog",
    "MissingDependencyError": "layers.errors",
    "OfflineError": "layers.errors",
    "OutputError": "layers.errors",
    "ProfileError": "layers.errors",
    "Raster": "layers.raster",
    "SchemaError": "layers.errors",
    "SettingsError": "layers.errors",
    "Territory": "layers.territories",
    "TerritoryError": "layers.errors",
    "UnknownSettingError": "layers.errors",
    "UnknownTerritoryError": "layers.errors",
    "available_layers": "layers.catalog",
    "load_aerodromes": "layers.infrastructure",
    "load_communes": "layers.admin",
    "load_dem": "layers.terrain",
    "load_departements": "layers.admin",
    "load_epci": "layers.admin",
    "load_flood_zones": "layers.constraints",
    "load_friches": "layers.friches",
    "load_hazard_zones": "layers.constraints",
    "load_housing": "layers.constraints",
    "load_layer": "layers.catalog",
    "load_layers": "layers.catalog",
    "load_motorway_junctions": "layers.infrastructure",
    "load_named_sites": "layers.infrastructure",
    "load_platforms": "layers.infrastructure",
    "load_ports": "layers.infrastructure",
    "load_protected_areas": "layers.constraints",
    "load_rail_branches": "layers.infrastructure",
    "load_rail_freight_stations": "layers.infrastructure",
    "load_rail_lines": "layers.infrastructure",
    "load_rail_stations": "layers.infrastructure",
    "load_regulation_zones": "layers.constraints",
    "load_slope": "layers.terrain",
    "load_substations": "layers.infrastructure",
    "load_trunk_roads": "layers.infrastructure",
    "load_waterways": "layers.infrastructure",
    "load_zae": "layers.zae",
    "presets": "layers.territories",
    "read_sites_economiques": "layers.zae",
    "sample_raster": "layers.terrain",
    "subdivide": "layers.constraints",
    "territory": "layers.territories",
    "validate_friches": "layers.friches",
    "validate_sites_economiques": "layers.zae",
    "write_sites_economiques": "layers.zae",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [
    "CNIG_SITE_COLUMNS",
    "LAYERS",
    "ArgumentError",
    "CRSError",
    "DataSourceError",
    "FoncierError",
    "GeometryError",
    "MissingDependencyError",
    "OfflineError",
    "OutputError",
    "ProfileError",
    "Raster",
    "SchemaError",
    "SettingsError",
    "Territory",
    "TerritoryError",
    "UnknownSettingError",
    "UnknownTerritoryError",
    "available_layers",
    "load_aerodromes",
    "load_communes",
    "load_dem",
    "load_departements",
    "load_epci",
    "load_flood_zones",
    "load_friches",
    "load_hazard_zones",
    "load_housing",
    "load_layer",
    "load_layers",
    "load_motorway_junctions",
    "load_named_sites",
    "load_platforms",
    "load_ports",
    "load_protected_areas",
    "load_rail_branches",
    "load_rail_freight_stations",
    "load_rail_lines",
    "load_rail_stations",
    "load_regulation_zones",
    "load_slope",
    "load_substations",
    "load_trunk_roads",
    "load_waterways",
    "load_zae",
    "presets",
    "read_sites_economiques",
    "sample_raster",
    "settings",
    "subdivide",
    "territory",
    "validate_friches",
    "validate_sites_economiques",
    "write_sites_economiques",
]

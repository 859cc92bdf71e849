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

from layers import _logging  # noqa: F401  (installs the NullHandler)
from layers.admin import load_communes, load_departements, load_epci
from layers.catalog import LAYERS, available_layers, load_layer, load_layers
from layers.config import settings
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

"""Data in: every source to a validated GeoDataFrame in the territory's projected CRS."""

from layers import _logging  # noqa: F401  (installs the NullHandler)
from layers.errors import (
    CRSError,
    DataSourceError,
    FoncierError,
    GeometryError,
    MissingDependencyError,
    OfflineError,
    ProfileError,
    SchemaError,
    TerritoryError,
    UnknownTerritoryError,
)
from layers.settings import settings
from layers.territories import Territory, presets, territory

__all__ = [
    "CRSError",
    "DataSourceError",
    "FoncierError",
    "GeometryError",
    "MissingDependencyError",
    "OfflineError",
    "ProfileError",
    "SchemaError",
    "Territory",
    "TerritoryError",
    "UnknownTerritoryError",
    "presets",
    "settings",
    "territory",
]

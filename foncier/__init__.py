"""foncier: find and rank land for industrial projects in France.

The job in a few calls (see the README)::

    import foncier
    t = foncier.territory("grand-compiegnois")
    layers = foncier.load_layers(t)                      # embedded data, offline
    sites = foncier.grid_sites(t, cell_size_m=1000)
    scored = foncier.score(sites, layers, "logistique-multimodale")
    foncier.siting_map(scored, territory=t, layers=layers)

or all at once: ``foncier.siting_study("grand-compiegnois").map()``.

Heavy libraries (folium, rasterio, dask, frictionless, selenium) are imported only by the
functions that need them, so ``import foncier`` stays fast; the names of this façade are
themselves imported on first use, so that ``foncier --help`` answers without loading
geopandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layers import _logging  # noqa: F401  (NullHandler on the package loggers)
from layers._lazy import lazy_names
from layers.config import settings

if TYPE_CHECKING:
    from foncier.engine.aggregation import ahp_weights
    from foncier.engine.diagnostics import RankingDiagnostics, ranking_diagnostics
    from foncier.engine.profiles import Profile, list_profiles, load_profile
    from foncier.engine.scoring import breakdown, rank, score
    from foncier.engine.sensitivity import sensitivity, weight_sweep
    from foncier.engine.sites import grid_sites, sites_from_file, sites_from_parcels, sites_from_zae
    from foncier.pipeline import SitingStudy, default_profile, siting_study
    from foncier.reports.mapping import siting_map, territory_map
    from layers.catalog import LAYERS, available_layers, load_layer, load_layers
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
        RankingError,
        SchemaError,
        SettingsError,
        TerritoryError,
        UnknownSettingError,
        UnknownTerritoryError,
    )
    from layers.territories import Territory, presets, territory

_LAZY: dict[str, str] = {
    "ArgumentError": "layers.errors",
    "CRSError": "layers.errors",
    "DataSourceError": "layers.errors",
    "FoncierError": "layers.errors",
    "GeometryError": "layers.errors",
    "LAYERS": "layers.catalog",
    "MissingDependencyError": "layers.errors",
    "OfflineError": "layers.errors",
    "OutputError": "layers.errors",
    "Profile": "foncier.engine.profiles",
    "ProfileError": "layers.errors",
    "RankingDiagnostics": "foncier.engine.diagnostics",
    "RankingError": "layers.errors",
    "SchemaError": "layers.errors",
    "SettingsError": "layers.errors",
    "SitingStudy": "foncier.pipeline",
    "Territory": "layers.territories",
    "TerritoryError": "layers.errors",
    "UnknownSettingError": "layers.errors",
    "UnknownTerritoryError": "layers.errors",
    "ahp_weights": "foncier.engine.aggregation",
    "available_layers": "layers.catalog",
    "breakdown": "foncier.engine.scoring",
    "default_profile": "foncier.pipeline",
    "grid_sites": "foncier.engine.sites",
    "list_profiles": "foncier.engine.profiles",
    "load_layer": "layers.catalog",
    "load_layers": "layers.catalog",
    "load_profile": "foncier.engine.profiles",
    "presets": "layers.territories",
    "rank": "foncier.engine.scoring",
    "ranking_diagnostics": "foncier.engine.diagnostics",
    "score": "foncier.engine.scoring",
    "sensitivity": "foncier.engine.sensitivity",
    "sites_from_file": "foncier.engine.sites",
    "sites_from_parcels": "foncier.engine.sites",
    "sites_from_zae": "foncier.engine.sites",
    "siting_map": "foncier.reports.mapping",
    "siting_study": "foncier.pipeline",
    "territory": "layers.territories",
    "territory_map": "foncier.reports.mapping",
    "weight_sweep": "foncier.engine.sensitivity",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__version__ = "0.1.0"

__all__ = [
    "LAYERS",
    "ArgumentError",
    "CRSError",
    "DataSourceError",
    "FoncierError",
    "GeometryError",
    "MissingDependencyError",
    "OfflineError",
    "OutputError",
    "Profile",
    "ProfileError",
    "RankingDiagnostics",
    "RankingError",
    "SchemaError",
    "SettingsError",
    "SitingStudy",
    "Territory",
    "TerritoryError",
    "UnknownSettingError",
    "UnknownTerritoryError",
    "__version__",
    "ahp_weights",
    "available_layers",
    "breakdown",
    "default_profile",
    "grid_sites",
    "list_profiles",
    "load_layer",
    "load_layers",
    "load_profile",
    "presets",
    "rank",
    "ranking_diagnostics",
    "score",
    "sensitivity",
    "settings",
    "sites_from_file",
    "sites_from_parcels",
    "sites_from_zae",
    "siting_map",
    "siting_study",
    "territory",
    "territory_map",
    "weight_sweep",
]

"""The result of one siting run: territory, profile, layers, scored sites, stability."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from foncier.engine.profiles import Profile
from foncier.engine.scoring import rank
from layers.catalog import Layer
from layers.online import OnlineStatus
from layers.territories import Territory

if TYPE_CHECKING:
    import folium

__all__ = ["SitingStudy"]


@dataclass
class SitingStudy:
    """Everything one siting run produced, aligned on the sites' index.

    Attributes
    ----------
    territory : Territory
        The study area.
    profile : Profile
        The project profile used.
    layers : dict
        Layers loaded (name → GeoDataFrame in ``territory.crs`` or Raster).
    scored : GeoDataFrame
        Candidate sites with their score columns (see :mod:`foncier.engine.scoring`).
    sensitivity : DataFrame or None
        Rank stability per site (``p_top_n``, ``rank_p05``, ``rank_p95`` …).
    top_n : int
        Size of the shortlist.
    skipped_layers : list of str
        Layers the run wanted but could not load (no file given, not obtained online).
    online_status : dict of str to OnlineStatus
        For each online layer asked for, whether it was used (downloaded or from the cache,
        with its date) or not obtained and why (see :mod:`layers.online`).
    """

    territory: Territory
    profile: Profile
    layers: dict[str, Layer]
    scored: gpd.GeoDataFrame
    sensitivity: pd.DataFrame | None = None
    top_n: int = 10
    skipped_layers: list[str] = field(default_factory=list)
    online_status: dict[str, OnlineStatus] = field(default_factory=dict)

    def top(self, n: int | None = None) -> pd.DataFrame:
        """The ``n`` best sites (default ``top_n``), best first, with their stability."""
        best = rank(self.scored, top_n=n or self.top_n)
        if self.sensitivity is not None:
            extra = self.sensitivity.drop(columns=best.columns, errors="ignore")
            best = best.join(extra)
        return best

    def map(self, **kwargs: Any) -> folium.Map:
        """The siting map of this study (see :func:`foncier.reports.mapping.siting_map`)."""
        from foncier.reports.mapping import siting_map

        return siting_map(
            self.scored,
            territory=self.territory,
            layers=self.layers,
            sensitivity=self.sensitivity,
            top_n=kwargs.pop("top_n", self.top_n),
            profile=kwargs.pop("profile", self.profile),
            **kwargs,
        )

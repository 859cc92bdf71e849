"""Rank labels: numbered badges on the top-N rows of a ranked layer."""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

import numpy as np
import shapely

from layers.crs import require_crs
from layers.errors import SchemaError
from maps.legend import add_legend_entry
from maps.popups import escape_text

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["add_rank_labels", "rank_badge"]

log = logging.getLogger(__name__)


def rank_badge(rank: int, *, size: int = 24) -> str:
    """HTML of a round dark badge showing ``rank`` (safe: the rank is an integer)."""
    return (
        f'<div class="foncier-rank" style="width:{size}px;height:{size}px;'
        "box-sizing:border-box;display:flex;align-items:center;justify-content:center;"
        "border-radius:50%;background:#1a1a1a;color:#fff;"
        "border:2px solid #fff;box-shadow:0 1px 3px rgba(0,0,0,.6);text-align:center;"
        f'font:bold {max(size // 2, 10)}px Arial,Helvetica,sans-serif">{int(rank)}</div>'
    )


def add_rank_labels(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    *,
    rank_column: str = "rank",
    n: int = 10,
    label_column: str | None = None,
    name: str | None = None,
    show: bool = True,
    legend: bool = True,
) -> folium.FeatureGroup:
    """Add numbered badges on the ``n`` best-ranked rows of ``gdf`` (rank 1 = best).

    Parameters
    ----------
    m : folium.Map
        Map to add to.
    gdf : GeoDataFrame
        Ranked rows in any CRS; badges sit at a point inside each geometry.
    rank_column : str
        Integer rank column (missing = not ranked, e.g. excluded).
    n : int
        Number of badges.
    label_column : str, optional
        Column shown in the badge's tooltip (escaped).
    name : str, optional
        Label in the layer control (default ``"Rang des N premiers sites"``).
    show : bool
        Layer switched on when the map opens.
    legend : bool
        Add a legend entry that follows the layer.

    Returns
    -------
    folium.FeatureGroup
        The overlay.
    """
    import folium

    require_crs(gdf, "ranked sites")
    if rank_column not in gdf.columns:
        raise SchemaError(f"rank column {rank_column!r} not found; available: {list(gdf.columns)}")
    label = name or f"Rang des {n} premiers sites"
    group = folium.FeatureGroup(name=html.escape(label), show=show, overlay=True, control=True)
    group.add_to(m)
    ranks = gdf[rank_column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    keep = np.isfinite(ranks) & (ranks <= n)
    top = gdf.loc[keep]
    if len(top) == 0:
        if len(gdf):  # rows given, none ranked (an empty table asks for an empty layer)
            log.warning("%s: no ranked row to label", label)
    else:
        # Never more than n badges, even if the rank column has ties (1, 1, 1 …).
        top = top.iloc[np.argsort(ranks[keep], kind="stable")[:n]]
        points = shapely.point_on_surface(top.to_crs(4326).geometry.to_numpy())
        names = top[label_column].tolist() if label_column else [None] * len(top)
        # At most a few dozen badges: one marker each is fine and keeps a distinct number.
        for rank, pt, nm in zip(top[rank_column].tolist(), points, names, strict=True):
            tip = f"Rang {int(rank)}" + (f" – {nm}" if nm is not None else "")
            folium.Marker(
                location=[round(pt.y, 5), round(pt.x, 5)],
                icon=folium.DivIcon(
                    html=rank_badge(int(rank)),
                    icon_size=(24, 24),
                    icon_anchor=(12, 12),
                    class_name="foncier-rank-icon",
                ),
                tooltip=escape_text(tip),
                z_index_offset=1000,
            ).add_to(group)
    if legend:
        add_legend_entry(m, group, label=label, swatch=rank_badge(1, size=18).replace(">1<", ">n<"))
    return group

"""Nearest infrastructure of each site, for the tables and sheets that name it.

Reports (the CNIG ``site_eco`` table, the site sheets) name the nearest rail freight station,
port, motorway junction … of each site with its distance. They ask this module, so that every
distance shown anywhere is measured once, here, by :func:`foncier.engine.measures.distance_to`
(exact, from the site's outline, in the territory's projected CRS).

A *target* is a tuple of layer specs searched together: ``"ports"`` is a layer of the study,
``"named_sites:port"`` the features of ``named_sites`` whose ``kind`` is ``port``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from foncier.engine.measures import distance_to
from layers.crs import check_projected, to_crs
from layers.formatting import commune_note, split_commune_note
from layers.infrastructure import COVERAGE_ATTR, known_at_commune, position_notes

__all__ = ["feature_labels", "nearest_by_site", "noted_name", "target_features"]


def _layer_features(layers: Mapping[str, Any], spec: str) -> gpd.GeoDataFrame | None:
    name, _, kind = spec.partition(":")
    layer = layers.get(name)
    if not isinstance(layer, gpd.GeoDataFrame):
        return None
    if kind:
        if "kind" not in layer.columns:
            return None
        layer = layer[layer["kind"] == kind]
    return layer


def target_features(
    layers: Mapping[str, Any], specs: tuple[str, ...], crs: Any
) -> gpd.GeoDataFrame | None:
    """The features of a target, merged and in ``crs``.

    Parameters
    ----------
    layers : mapping of str to layer
        The study's layers.
    specs : tuple of str
        Layer specs (``"ports"``, ``"named_sites:port"`` …).
    crs : CRS-like
        Projected CRS of the sites.

    Returns
    -------
    GeoDataFrame or None
        None when the study has none of the layers (no data: distinct from an empty layer).
        A ``coverage_note`` column holds, per feature, what its layer says after the nearest
        name where its offline data is incomplete (``""`` otherwise).
    """
    parts = [f for f in (_layer_features(layers, s) for s in specs) if f is not None]
    if not parts:
        return None
    # A layer known to be incomplete here (tolled interchanges only) says so after the name
    # of its nearest feature (column ``coverage_note``).
    parts = [
        p.assign(coverage_note=str((p.attrs.get(COVERAGE_ATTR) or {}).get("nearest_note") or ""))
        for p in parts
    ]
    parts = [to_crs(p, crs, name="layer") for p in parts]
    merged = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return gpd.GeoDataFrame(merged, geometry=merged.geometry.name, crs=crs)


def noted_name(name: Any, note: str) -> Any:
    """A nearest feature's name followed by its layer's coverage note.

    Parameters
    ----------
    name : str or None
        Name as :func:`feature_labels` gives it (any commune note last).
    note : str
        What the layer says where its offline data is incomplete.

    Returns
    -------
    str or None
        ``"Name, <note>"``, the commune note kept last; ``name`` itself when it is missing
        or empty.

    Examples
    --------
    >>> noted_name("A1 (commune de Senlis, position exacte inconnue)", "péages seuls")
    'A1, péages seuls (commune de Senlis, position exacte inconnue)'
    """
    if not isinstance(name, str) or not name:
        return name
    base, communes = split_commune_note(name)
    return f"{base}, {note}" + (commune_note(communes) if communes else "")


def feature_labels(features: gpd.GeoDataFrame, *, voltage: bool = False) -> pd.Series:
    """Name of each feature as reports print it.

    A motorway junction with an exit number reads ``"Name (ref)"`` (``"sortie ref"``
    without a name); with ``voltage=True`` a substation reads ``"Name (225 kV)"``. A feature
    whose position is coarse gets its note (:func:`layers.infrastructure.position_notes`):
    one known only at its commune reads ``"Name (commune de X, position exacte inconnue)"``,
    and its distance is to the commune's area.

    Parameters
    ----------
    features : GeoDataFrame
        Features with ``name`` and optionally ``ref`` and ``voltage_kv`` (kV) columns.
    voltage : bool
        Append the voltage in kV when known.

    Returns
    -------
    Series
        Text or None, aligned on ``features``.
    """
    name = features["name"] if "name" in features.columns else pd.Series(None, index=features.index)
    name = name.astype(object).where(name.notna() & (name.astype(str) != ""), None)
    if "ref" in features.columns:
        ref = features["ref"].astype(object)
        has_ref = ref.notna() & (ref.astype(str) != "")
        both = name.notna() & has_ref
        name = name.where(~both, name.astype(str) + " (" + ref.astype(str) + ")")
        name = name.where(name.notna() | ~has_ref, "sortie " + ref.astype(str))
    if voltage and "voltage_kv" in features.columns:
        kv = pd.to_numeric(features["voltage_kv"], errors="coerce")
        name = name.where(
            kv.isna() | name.isna(),
            # astype(object): on an empty layer map() returns float64, which a text column
            # cannot be added to.
            name.astype(str) + " (" + kv.map(lambda v: f"{v:g}").astype(object) + " kV)",
        )
    notes = position_notes(features)
    rough = (notes != "") & name.notna().to_numpy()
    if rough.any():
        name = name.astype(object)
        name[rough] = name[rough].astype(str) + notes[rough]
    return name


def nearest_by_site(
    sites: gpd.GeoDataFrame | gpd.GeoSeries,
    layers: Mapping[str, Any],
    targets: Mapping[str, tuple[str, ...]],
    *,
    max_distance_m: Mapping[str, float] | None = None,
    voltage: bool = False,
    nearest_point: bool = False,
) -> dict[str, pd.DataFrame | None]:
    """Nearest feature of each target for each site, and its distance.

    Parameters
    ----------
    sites : GeoDataFrame or GeoSeries
        Sites in a projected CRS in metres (the territory's).
    layers : mapping of str to layer
        The study's layers (any CRS: reprojected to the sites').
    targets : mapping of str to tuple of str
        Target id -> layer specs searched together (see the module's documentation).
    max_distance_m : mapping of str to float, optional
        Search radius per target id, metres (sites farther get ``inf``).
    voltage : bool
        Name substations with their voltage (see :func:`feature_labels`).
    nearest_point : bool
        Also give ``x`` and ``y``, the nearest point of the nearest feature (sites' CRS;
        ``nan`` for a feature known only at its commune: it has no position to show).

    Returns
    -------
    dict of str to DataFrame or None
        Per target: None when the study has none of its layers (no data), else a frame
        aligned on the sites with ``distance_m`` (metres; ``inf`` when the layer is empty
        or nothing is within the radius), ``nearest_name`` and ``nearest_id``.
    """
    check_projected(sites, "sites")
    crs = sites.crs
    geoms = sites.geometry if isinstance(sites, gpd.GeoDataFrame) else sites
    out: dict[str, pd.DataFrame | None] = {}
    limits = dict(max_distance_m or {})
    for key, specs in targets.items():
        features = target_features(layers, specs, crs)
        if features is None:
            out[key] = None
            continue
        features = features.reset_index(drop=True)
        labels = feature_labels(features, voltage=voltage)
        notes = features["coverage_note"].astype(str)
        noted = labels.notna() & (notes != "")
        if noted.any():
            labels = labels.astype(object)
            labels[noted] = [
                noted_name(t, note) for t, note in zip(labels[noted], notes[noted], strict=True)
            ]
        labelled = features.assign(_label=labels.to_numpy())
        near = distance_to(
            gpd.GeoSeries(geoms, crs=crs),
            labelled,
            max_distance=limits.get(key),
            name_column="_label",
        )
        if nearest_point:
            x = np.full(len(near), np.nan)
            y = np.full(len(near), np.nan)
            ids = pd.to_numeric(near["nearest_id"], errors="coerce").to_numpy()
            found = np.isfinite(ids) & np.isfinite(near["distance_m"].to_numpy(dtype=float))
            if "precision" in features.columns:
                # A feature known only at its commune has no point to show: the nearest
                # point of the commune's outline would be a made-up position.
                coarse = known_at_commune(features)
                found[found] &= ~coarse[ids[found].astype(int)]
            if found.any():
                feats = features.geometry.to_numpy()[ids[found].astype(int)]
                line = shapely.shortest_line(feats, geoms.to_numpy()[found])
                pts = shapely.get_point(line, 0)
                x[found], y[found] = shapely.get_x(pts), shapely.get_y(pts)
            near = near.assign(x=x, y=y)
        out[key] = near
    return out

"""Cadastral parcels of a territory, communes or area, in a projected CRS (via IGN API Carto).

Data: DGFiP / IGN Parcellaire Express (PCI), Licence Ouverte 2.0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from layers import apicarto
from layers.config import settings
from layers.crs import crs_for_departement
from layers.errors import SchemaError

if TYPE_CHECKING:
    from layers.territories import Territory

__all__ = ["PARCEL_COLUMNS", "load_parcels"]

log = logging.getLogger(__name__)

#: Columns of :func:`load_parcels`.
PARCEL_COLUMNS = ["idu", "insee", "section", "numero", "contenance_m2", "geometry"]


def _departement(insee: str) -> str:
    return insee[:3] if insee.startswith("97") else insee[:2]


def load_parcels(
    territory: Territory | None = None,
    *,
    insee: str | Iterable[str] | None = None,
    bbox: Sequence[float] | None = None,
    crs: CRS | str | None = None,
) -> gpd.GeoDataFrame:
    """Load the cadastral parcels of a territory, of communes, or of a bounding box.

    With only a ``territory``, the parcels of its member communes are loaded (or, for a
    territory made from a bare outline, those intersecting its perimeter) and kept when they
    intersect the perimeter. ``insee`` or ``bbox`` narrow the query.

    Parameters
    ----------
    territory : Territory, optional
        Study area; its CRS is the CRS of the result.
    insee : str or iterable of str, optional
        INSEE code(s) of the communes to load.
    bbox : sequence of 4 floats, optional
        ``(west, south, east, north)`` in degrees (EPSG:4326).
    crs : pyproj.CRS or str, optional
        CRS of the result when no territory is given; by default the projected CRS of the
        first commune's département (Lambert-93 in metropolitan France).

    Returns
    -------
    GeoDataFrame
        One row per parcel, columns ``idu`` (14-character parcel id, unique), ``insee``,
        ``section``, ``numero``, ``contenance_m2`` (declared cadastral area, m², Int64),
        ``geometry`` — in the territory's (or ``crs``) projected CRS, metres.

    Raises
    ------
    SchemaError
        Nothing says where to load parcels, or a malformed INSEE code.
    DataSourceError, OfflineError
        API Carto failed, or offline mode without cached answers.
    """
    codes: list[str] | None = None
    if insee is not None:
        codes = [insee] if isinstance(insee, str) else list(insee)
    area = None
    if territory is not None and codes is None and bbox is None:
        members = territory.communes.get("insee")
        if members is not None and len(members):
            codes = sorted(members.dropna().astype(str).unique())
        else:
            area = gpd.GeoSeries([territory.perimeter], crs=territory.crs)
    if codes is None and bbox is None and area is None:
        raise SchemaError("load_parcels needs a territory, insee codes or a bbox.")

    raw = apicarto.cadastre_parcels(insee=codes, bbox=bbox, geometry=area)

    if territory is not None:
        out_crs = territory.crs
    elif crs is not None:
        out_crs = CRS.from_user_input(crs)
    elif codes:
        out_crs = crs_for_departement(_departement(codes[0].upper()))
    else:
        out_crs = CRS.from_user_input(settings.default_crs)

    parcels = _parcel_schema(raw).to_crs(out_crs)
    if territory is not None and len(parcels):
        parcels = parcels[parcels.intersects(territory.perimeter)].reset_index(drop=True)
    log.info("Loaded %d cadastral parcels", len(parcels))
    return parcels


def _parcel_schema(raw: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """API Carto columns → ``PARCEL_COLUMNS``, one row per ``idu``."""
    if raw.empty:
        empty = {c: pd.Series(dtype="string") for c in PARCEL_COLUMNS[:4]}
        return gpd.GeoDataFrame(
            {**empty, "contenance_m2": pd.Series(dtype="Int64")},
            geometry=gpd.GeoSeries([], crs=raw.crs or "EPSG:4326"),
        )
    missing = {"idu", "code_insee", "section", "numero", "contenance"} - set(raw.columns)
    if missing:
        raise SchemaError(f"API Carto parcels lack the column(s) {sorted(missing)}.")
    parcels = gpd.GeoDataFrame(
        {
            "idu": raw["idu"].astype("string"),
            "insee": raw["code_insee"].astype("string"),
            "section": raw["section"].astype("string"),
            "numero": raw["numero"].astype("string"),
            "contenance_m2": pd.to_numeric(raw["contenance"], errors="coerce").astype("Int64"),
        },
        geometry=raw.geometry,
        crs=raw.crs,
    )
    # A parcel listed by two queries (two communes' pages, overlapping boxes) is kept once.
    return parcels.drop_duplicates(subset="idu").reset_index(drop=True)

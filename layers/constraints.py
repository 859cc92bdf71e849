"""Constraints: flood and natural-hazard zones, protected nature, and polygon subdivision.

Every loader returns polygons in the territory's projected CRS, repaired (with a logged
warning) and clipped to the territory (plus an optional margin), with the canonical columns

``id, name, kind, level, source, date`` + source-specific columns + ``geometry``

where ``level`` is an ordered categorical ``low < medium < high < very high`` (missing when
the source gives no level).

Hazard sources
--------------
* **PPR in the CNIG/COVADIS structure** (GeoPackage, shapefile folder or a ``.shp``): layer
  ``N_ZONE_ALEA_PPRN*`` (hazard zones, ``coderisque`` in the GASPAR code list, ``nivalea`` /
  ``nivalea_st`` level) and ``N_ZONE_REG_PPRN*`` (regulatory zoning, see
  :func:`load_regulation_zones`).
* **PAC "porter à connaissance" risk layers** (one ``ALEA`` column: ``Inondation``,
  ``Submersion marine``, ``Mouvement de terrain`` …), as published by DDT(M)s.
* ``"georisques"``: the Géorisques API only lists procedures (GASPAR PPR, AZI) per commune,
  without polygons, so the polygons are taken from the PPR easements (servitude PM1) of the
  Géoportail de l'Urbanisme served by the IGN WFS (``wfs_sup:assiette_sup_s``).
* a GeoDataFrame in any of these structures, or in the canonical one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.crs import require_crs, to_crs
from layers.errors import ArgumentError, DataSourceError, SchemaError
from layers.geometry import repair_geometries

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from layers.territories import Territory

__all__ = [
    "CANONICAL_COLUMNS",
    "FLOOD_KINDS",
    "GASPAR_HAZARDS",
    "LEVELS",
    "PROTECTED_AREA_LAYERS",
    "load_flood_zones",
    "load_hazard_zones",
    "load_housing",
    "load_protected_areas",
    "load_regulation_zones",
    "subdivide",
]

log = logging.getLogger(__name__)

#: Ordered hazard / constraint levels of the ``level`` column.
LEVELS: tuple[str, ...] = ("low", "medium", "high", "very high")
LEVEL_DTYPE = pd.CategoricalDtype(list(LEVELS), ordered=True)

#: Columns every constraint layer starts with (then source-specific ones, then geometry).
CANONICAL_COLUMNS: tuple[str, ...] = ("id", "name", "kind", "level", "source", "date")

#: GASPAR hazard codes (``coderisque`` of the COVADIS PPR structure) → (kind, family).
#: Families group kinds: every ``11xxxxx`` code (including debris flows and marine
#: submersion, as classified by GASPAR under "Inondation") is family ``"flood"``.
GASPAR_HAZARDS: dict[str, tuple[str, str]] = {
    "1100000": ("flood", "flood"),
    "1110000": ("river_flood", "flood"),
    "1120000": ("slow_river_flood", "flood"),
    "1130000": ("flash_flood", "flood"),
    "1140000": ("runoff", "flood"),
    "1150000": ("debris_flow", "flood"),
    "1160000": ("groundwater_flood", "flood"),
    "1170000": ("coastal_flood", "flood"),
    "1200000": ("ground_movement", "ground_movement"),
    "1210000": ("cavity_collapse", "ground_movement"),
    "1230000": ("rockfall", "ground_movement"),
    "1240000": ("landslide", "ground_movement"),
    "1250000": ("dune_advance", "ground_movement"),
    "1260000": ("coastal_erosion", "ground_movement"),
    "1270000": ("subsidence", "ground_movement"),
    "1300000": ("earthquake", "earthquake"),
    "1400000": ("avalanche", "avalanche"),
    "1500000": ("volcano", "volcano"),
    "1600000": ("wildfire", "wildfire"),
    "1700000": ("weather", "weather"),
    "1710000": ("cyclone", "weather"),
    "1720000": ("storm", "weather"),
    "1740000": ("lightning", "weather"),
    "1750000": ("hail", "weather"),
    "1760000": ("snow_ice", "weather"),
    "1800000": ("radon", "radon"),
}
_FAMILY_OF: dict[str, str] = dict(GASPAR_HAZARDS.values())
_FAMILY_OF.update({"mining": "mining", "technological": "technological"})
#: Kinds that count as flooding for :func:`load_flood_zones`.
FLOOD_KINDS: frozenset[str] = frozenset(k for k, f in _FAMILY_OF.items() if f == "flood")
_NATURAL_FAMILIES = frozenset(_FAMILY_OF.values()) - {"mining", "technological"}
_MULTIRISK_CODE = "9999999"

# Letter codes of the Isère/RTM hazard maps, used in the ``descript`` of multi-hazard PPR
# zones (``coderisque`` 9999999) such as "A3T3P3". Each mapping below is the one the same
# PPRs use on their single-hazard zones (C3 ↔ 1130000, T2 ↔ 1150000, I'1 ↔ 1160000, …).
_HAZARD_LETTERS: dict[str, str] = {
    "C": "flash_flood",
    "T": "debris_flow",
    "V": "runoff",
    "I'": "groundwater_flood",
    "I": "slow_river_flood",
    "M": "groundwater_flood",
    "G": "landslide",
    "P": "rockfall",
    "F": "cavity_collapse",
    "A": "avalanche",
    "AE": "avalanche",
}
_LETTER_TOKEN = re.compile(r"(I'|AE|[CTVIMGPFA])([0-4]?)")
_DIGIT_LEVEL = {"0": "low", "1": "low", "2": "medium", "3": "high", "4": "very high"}

# COVADIS ``nivalea_st``: 01 faible, 02 moyen, 03 moyen plus, 04 fort, 05 fort plus,
# 06 très fort, 07 très fort plus — folded into the four ordered levels.
_NIVALEA_ST_LEVEL = {
    "01": "low",
    "02": "medium",
    "03": "medium",
    "04": "high",
    "05": "high",
    "06": "very high",
    "07": "very high",
}
_NIVALEA_TEXT_LEVEL = {
    "fai": "low",
    "faible": "low",
    "m": "medium",
    "moy": "medium",
    "moyen": "medium",
    "f": "high",
    "fort": "high",
    "f+": "high",
    "tf": "very high",
    "très fort": "very high",
    "tres fort": "very high",
}

# ALEA values of PAC risk layers → kinds (a list: one value may name two hazards).
_PAC_ALEA: dict[str, tuple[str, ...]] = {
    "inondation": ("flood",),
    "submersion marine": ("coastal_flood",),
    "inondation et submersion marine": ("flood", "coastal_flood"),
    "mouvement de terrain": ("ground_movement",),
    "feu de forêt": ("wildfire",),
    "feu de foret": ("wildfire",),
    "séisme": ("earthquake",),
    "avalanche": ("avalanche",),
    "minier": ("mining",),
    "technologique": ("technological",),
}

# Regulation types (``typereg``) of COVADIS PPR regulatory zones.
_TYPEREG: dict[str, tuple[str, str]] = {
    "01": ("Prescriptions hors zone d'aléa", "low"),
    "02": ("Prescriptions", "medium"),
    "03": ("Interdiction", "high"),
    "04": ("Interdiction stricte", "very high"),
    "05": ("Délaissement possible", "very high"),
    "06": ("Expropriation possible", "very high"),
}

#: IGN WFS (data.geopf.fr) layers of protected nature, by kind. The names are those of the
#: service's GetCapabilities (INPN / MNHN data).
PROTECTED_AREA_LAYERS: dict[str, str] = {
    "natura2000_sic": "PROTECTEDAREAS.SIC:sic",
    "natura2000_zps": "PROTECTEDAREAS.ZPS:zps",
    "znieff1": "PROTECTEDAREAS.ZNIEFF1:znieff1",
    "znieff2": "PROTECTEDAREAS.ZNIEFF2:znieff2",
}
_PROTECTED_ID_COLUMNS = ("id_mnhn", "sitecode", "site_code", "code", "id_site", "id")
_PROTECTED_NAME_COLUMNS = ("nom", "sitename", "site_name", "nom_site", "name", "libelle")
_PROTECTED_DATE_COLUMNS = ("date", "date_maj", "datemaj", "date_modif", "date_crea", "date_creat")


# --------------------------------------------------------------------------------------------
# Public loaders
# --------------------------------------------------------------------------------------------
def load_hazard_zones(
    territory: Territory | None,
    *,
    source: str | Path | gpd.GeoDataFrame,
    hazards: Iterable[str] | None = None,
    margin_m: float = 0.0,
    include_multirisk: bool = False,
) -> gpd.GeoDataFrame:
    """Load natural-hazard zones (PPR hazard map, PAC layer, Géorisques/GPU or a GeoDataFrame).

    Parameters
    ----------
    territory : Territory or None
        Zones are reprojected to ``territory.crs`` and clipped to its perimeter grown by
        ``margin_m``. ``None`` keeps the whole source in its own CRS (a file only).
    source : str, pathlib.Path or GeoDataFrame
        A PPR in the CNIG/COVADIS structure (GeoPackage, folder of shapefiles or the
        ``N_ZONE_ALEA_PPRN*.shp`` itself), a PAC risk layer (column ``ALEA``),
        ``"georisques"`` (PPR easements PM1 of the Géoportail de l'Urbanisme, IGN WFS), or a
        GeoDataFrame in one of these structures or with a ``kind`` column.
    hazards : iterable of str, optional
        Kinds (``"flash_flood"``, ``"rockfall"`` …, see :data:`GASPAR_HAZARDS`) or families
        (``"flood"``, ``"ground_movement"``, ``"avalanche"``, ``"mining"`` …) to keep.
        Default: every natural hazard (mining and technological risks left out).
    margin_m : float
        Margin around the territory, metres.
    include_multirisk : bool
        Also keep multi-hazard zones whose components cannot be identified (PAC
        ``Multirisque``, PPR zones without a readable description): a conservative choice
        for exclusions. They are always kept when ``hazards`` is None.

    Returns
    -------
    GeoDataFrame
        ``id, name, kind, level, source, date, family, hazards, hazard_code`` + source
        columns, polygons in ``territory.crs``. ``kind`` is the single hazard kind or
        ``"multirisk"``; ``hazards`` lists the kinds of the zone (comma-separated);
        ``level`` is the level of the selected hazards when the source tells it.

    Raises
    ------
    SchemaError
        A file without the PPR layers / PAC columns (the message lists what was found).
    CRSError
        A source without CRS.
    """
    wanted = _resolve_hazards(hazards)
    zones = _hazard_zones(territory, source=source, margin_m=margin_m)
    return _select_hazards(zones, wanted, include_multirisk=include_multirisk or hazards is None)


def load_flood_zones(
    territory: Territory | None,
    *,
    source: str | Path | gpd.GeoDataFrame,
    margin_m: float = 0.0,
    include_multirisk: bool = False,
) -> gpd.GeoDataFrame:
    """Load flood zones: every hazard of the GASPAR "Inondation" family.

    Flooding covers GASPAR codes ``11xxxxx``: river floods (slow or flash), runoff and mud
    flows, torrential debris flows, groundwater rise and marine submersion (see
    :data:`FLOOD_KINDS`). In PPRs, multi-hazard zones (``coderisque`` 9999999) whose
    description holds a flood component (letters C, T, V, I, I', M of the Isère/RTM hazard
    maps, e.g. ``"A3T2"``) are kept with the level of that component. In PAC layers, ALEA
    ``Inondation``, ``Submersion marine`` and ``Inondation et submersion marine`` are kept.

    Parameters
    ----------
    territory : Territory or None
        Clip and CRS (see :func:`load_hazard_zones`).
    source : str, pathlib.Path or GeoDataFrame
        As in :func:`load_hazard_zones`. A GeoDataFrame with none of the known structures
        is taken as flood zones as a whole (``kind="flood"``).
    margin_m : float
        Margin around the territory, metres.
    include_multirisk : bool
        Also keep multi-hazard zones whose components are unknown (conservative).

    Returns
    -------
    GeoDataFrame
        As :func:`load_hazard_zones`, flood zones only.
    """
    if isinstance(source, gpd.GeoDataFrame) and _structure(source) == "plain":
        log.info("flood zones: a plain GeoDataFrame is taken as flood zones as a whole")
        source = source.assign(kind="flood")
    zones = _hazard_zones(territory, source=source, margin_m=margin_m)
    return _select_hazards(zones, set(FLOOD_KINDS), include_multirisk=include_multirisk)


def load_regulation_zones(
    territory: Territory | None,
    *,
    source: str | Path | gpd.GeoDataFrame,
    margin_m: float = 0.0,
) -> gpd.GeoDataFrame:
    """Load the regulatory zoning of a PPR (layer ``N_ZONE_REG_PPRN*``).

    Parameters
    ----------
    territory : Territory or None
        Clip and CRS (see :func:`load_hazard_zones`).
    source : str, pathlib.Path or GeoDataFrame
        A PPR in the CNIG/COVADIS structure, or the regulation layer as a GeoDataFrame.
    margin_m : float
        Margin around the territory, metres.

    Returns
    -------
    GeoDataFrame
        ``id, name, kind ("ppr_regulation"), level, source, date, regulation, typereg,
        codezone, procedure, url``: ``regulation`` is the COVADIS label of ``typereg``
        (01 prescriptions outside hazard zones → low, 02 prescriptions → medium,
        03 prohibition → high, 04 strict prohibition, 05/06 relinquishment / expropriation
        → very high).
    """
    if isinstance(source, gpd.GeoDataFrame):
        raw, label = _lower_columns(source), "PPR regulation (GeoDataFrame)"
    else:
        path = Path(source)
        raw = _read_ppr_layer(path, "zone_reg", territory=territory, margin_m=margin_m)
        label = f"PPR {path.name}"
    _require_columns(raw, ("typereg",), "PPR regulation zones")
    typereg = raw["typereg"].astype("string").str.strip().str.zfill(2)
    proc = _column(raw, "id_gaspar")
    out = gpd.GeoDataFrame(
        {
            "id": _ids(proc, _column(raw, "id_zone"), raw.index),
            "name": _column(raw, "nom").fillna(_column(raw, "codezone")),
            "kind": "ppr_regulation",
            "level": typereg.map(lambda c: _TYPEREG.get(c, ("", None))[1]),
            "source": label,
            "date": pd.NaT,
            "regulation": typereg.map(lambda c: _TYPEREG.get(c, (f"type {c}", None))[0]),
            "typereg": typereg,
            "codezone": _column(raw, "codezone"),
            "procedure": proc,
            "url": _column(raw, "urlfic"),
        },
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
        index=raw.index,
    )
    return _finish(out, territory, margin_m, "PPR regulation zones")


def load_protected_areas(
    territory: Territory,
    *,
    kinds: Sequence[str] = ("natura2000_sic", "natura2000_zps", "znieff1", "znieff2"),
    source: str | Path | gpd.GeoDataFrame = "geopf",
    margin_m: float = 0.0,
) -> gpd.GeoDataFrame:
    """Load protected natural areas: Natura 2000 (SIC, ZPS) and ZNIEFF type 1 and 2.

    Parameters
    ----------
    territory : Territory
        Areas are reprojected to ``territory.crs`` and clipped to its perimeter + margin.
    kinds : sequence of str
        Keys of :data:`PROTECTED_AREA_LAYERS`.
    source : "geopf", str, pathlib.Path or GeoDataFrame
        ``"geopf"``: the IGN WFS (``settings.geopf_wfs_url``) layers of
        :data:`PROTECTED_AREA_LAYERS`, fetched in the territory's bounding box through the
        cached client :func:`layers.geopf.wfs_features`. A file or GeoDataFrame must have a
        ``kind`` column with these keys (or hold a single kind, given by ``kinds``).
    margin_m : float
        Margin around the territory, metres.

    Returns
    -------
    GeoDataFrame
        ``id, name, kind, level (missing), source, date, url, geometry`` in
        ``territory.crs``. Natura 2000 and ZNIEFF perimeters overlap: a place may appear
        under several kinds.
    """
    unknown = [k for k in kinds if k not in PROTECTED_AREA_LAYERS]
    if unknown:
        raise SchemaError(
            f"unknown protected-area kind(s) {unknown}; choose among "
            f"{sorted(PROTECTED_AREA_LAYERS)}."
        )
    frames: list[gpd.GeoDataFrame] = []
    if isinstance(source, str) and source == "geopf":
        wfs_features = _geopf_client()
        bbox = territory.bbox_lonlat(margin_m)
        for kind in kinds:
            typename = PROTECTED_AREA_LAYERS[kind]
            # GeoJSON in lon/lat, reprojected here: one code path whatever the layer's CRS.
            raw = wfs_features(typename, bbox=bbox, crs_out="EPSG:4326")
            frames.append(_protected_schema(raw, kind, f"IGN WFS {typename} (INPN)"))
    else:
        if isinstance(source, gpd.GeoDataFrame):
            raw, label = source, "protected areas (GeoDataFrame)"
        else:
            path = Path(source)
            raw, label = _read_vector(path, territory=territory, margin_m=margin_m), path.name
        require_crs(raw, label)
        if "kind" in raw.columns:
            for kind in kinds:
                frames.append(_protected_schema(raw[raw["kind"] == kind], kind, label))
        elif len(kinds) == 1:
            frames.append(_protected_schema(raw, kinds[0], label))
        else:
            raise SchemaError(
                f"{label} has no 'kind' column: add one with values among {list(kinds)} or "
                "ask for a single kind (kinds=('znieff1',))."
            )
    # An empty answer may come without CRS; any other frame has one (checked above).
    frames = [to_crs(f, territory.crs, "protected areas") for f in frames if not f.empty]
    if frames:
        out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=territory.crs)
    else:
        out = _empty(territory.crs, ("url",))
    return _finish(out, territory, margin_m, "protected areas")


def load_housing(
    territory: Territory,
    *,
    source: str | Path | gpd.GeoDataFrame,
    margin_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Load housing (residential areas, dwellings) from a file or a GeoDataFrame.

    Distance to housing keeps risky plants away from homes (Seveso perimeters, PPRT), so
    housing is read around the territory, not only inside it: a site near the boundary may
    have its nearest homes in the next commune.

    Parameters
    ----------
    territory : Territory
        Features are reprojected to ``territory.crs`` and polygons clipped to its perimeter
        grown by ``margin_m``.
    source : "osm", str, pathlib.Path or GeoDataFrame
        ``"osm"``: OpenStreetMap ``landuse=residential`` areas through Overpass (online,
        cached). Or housing features: e.g. the BD TOPO ``batiment`` layer filtered on
        residential use, in any CRS (required).
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).

    Returns
    -------
    GeoDataFrame
        ``id`` (the source's ``id`` column, else the row number; ``osm:way/…`` from
        OpenStreetMap), ``name`` (``name`` or ``nom`` when present), ``kind`` ("housing", or
        "residential" from OpenStreetMap), ``level`` (missing), ``source`` (file name or
        "osm"), ``date`` (date of the OSM data, else missing), then the source's other
        columns, geometry in ``territory.crs``.

    Raises
    ------
    DataSourceError
        The file is missing or unreadable.
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    CRSError
        The data has no CRS.
    """
    from layers.config import settings

    margin = settings.infrastructure_margin_m if margin_m is None else float(margin_m)
    from_osm = isinstance(source, str) and source == "osm"
    if from_osm:
        raw, label = _osm_housing(territory, margin), "osm"
    elif isinstance(source, gpd.GeoDataFrame):
        raw, label = source, "housing (GeoDataFrame)"
    else:
        path = Path(source)
        raw, label = _read_vector(path, territory=territory, margin_m=margin), path.name
    require_crs(raw, label)
    low = _lower_columns(raw)
    index_ids = pd.Series([f"housing:{i}" for i in range(len(low))], index=low.index)
    name = next((c for c in ("name", "nom") if c in low.columns), None)
    base = {
        "id": low["id"].astype("string").fillna(index_ids) if "id" in low.columns else index_ids,
        "name": low[name] if name else None,
        "kind": low["kind"] if from_osm else "housing",
        "level": None,
        "source": label,
        "date": low["date"] if from_osm else pd.NaT,
    }
    rest = {c: low[c] for c in low.columns if c not in base and c != low.geometry.name}
    out = gpd.GeoDataFrame(
        {**base, **rest}, geometry=low.geometry.to_numpy(), crs=raw.crs, index=low.index
    )
    polygons = np.isin(shapely.get_type_id(out.geometry.to_numpy()), (3, 6))
    if polygons.all():
        return _finish(out, territory, margin, "housing")
    # Points (addresses, dwellings) are kept whole when they fall in the area.
    out = to_crs(repair_geometries(out, name="housing", drop_empty=True), territory.crs, "housing")
    return _finish(out.iloc[territory.within_margin(out, margin)], None, margin, "housing")


def _osm_housing(territory: Territory, margin_m: float) -> gpd.GeoDataFrame:
    """Residential areas of OpenStreetMap around a territory (EPSG:4326), by the registry's tag."""
    from layers import osm
    from layers.overpass import overpass_to_gdf, query_overpass
    from layers.registry import get_layer

    tag = get_layer("housing").osm_tag
    assert tag is not None  # the registry entry of housing declares it
    answer = query_overpass(osm.overpass_query("housing", bbox=territory.bbox_lonlat(margin_m)))
    features = overpass_to_gdf(answer)
    if features.empty:
        return gpd.GeoDataFrame(
            {c: [] for c in ("id", "name", "kind", "source", "date")}, geometry=[], crs=4326
        )
    return osm.tagged_from_osm(
        features, layer="housing", key=tag[0], values=tag[1], date=osm.overpass_date(answer)
    )


# --------------------------------------------------------------------------------------------
# Subdivision
# --------------------------------------------------------------------------------------------
def subdivide(
    gdf: gpd.GeoDataFrame, *, max_vertices: int = 256, max_depth: int = 40
) -> gpd.GeoDataFrame:
    """Cut polygons into pieces of at most ``max_vertices`` vertices (like ST_Subdivide).

    Each polygon with too many vertices is cut in two halves of its bounding box (across
    its longer side), recursively, until every piece is small. Pieces tile the input
    exactly (same area, same union), and their small bounding boxes let a spatial index
    prune candidates well in overlap measures. Works level by level on whole arrays.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons (any CRS; areas are kept exactly up to floating-point rounding).
    max_vertices : int
        Largest number of vertices of a piece (≥ 8).
    max_depth : int
        Most halvings of one polygon (guards against degenerate inputs).

    Returns
    -------
    GeoDataFrame
        One row per piece (single Polygons), with the attributes and the index label of the
        feature it comes from (the index repeats, as in ``explode(index_parts=False)``).
    """
    if max_vertices < 8:
        raise ArgumentError(f"max_vertices must be at least 8, got {max_vertices}")
    if gdf.empty:
        return gdf.copy()
    geoms = gdf.geometry.to_numpy()
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), (3,)) & ~shapely.is_empty(parts)
    parts, owner = parts[keep], owner[keep]
    done_parts: list[np.ndarray] = []
    done_owner: list[np.ndarray] = []
    for _ in range(max_depth):
        big = shapely.get_num_coordinates(parts) > max_vertices
        done_parts.append(parts[~big])
        done_owner.append(owner[~big])
        if not big.any():
            parts, owner = parts[:0], owner[:0]
            break
        parts, owner = _halve(parts[big], owner[big])
    else:
        log.warning(
            "subdivide: %d piece(s) still exceed %d vertices after %d halvings",
            len(parts),
            max_vertices,
            max_depth,
        )
    done_parts.append(parts)
    done_owner.append(owner)
    all_parts = np.concatenate(done_parts)
    all_owner = np.concatenate(done_owner)
    order = np.argsort(all_owner, kind="stable")
    all_parts, all_owner = all_parts[order], all_owner[order]
    out = gdf.iloc[all_owner].copy()
    out[gdf.geometry.name] = all_parts
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.name, crs=gdf.crs)


def _halve(parts: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut each polygon in two across the longer side of its bounding box."""
    b = shapely.bounds(parts)
    wide = (b[:, 2] - b[:, 0]) >= (b[:, 3] - b[:, 1])
    midx = (b[:, 0] + b[:, 2]) / 2
    midy = (b[:, 1] + b[:, 3]) / 2
    # Boxes a little larger than the bounds so that no sliver is lost to rounding.
    pad = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) + 1.0
    x0, y0, x1, y1 = b[:, 0] - pad, b[:, 1] - pad, b[:, 2] + pad, b[:, 3] + pad
    first = shapely.box(x0, y0, np.where(wide, midx, x1), np.where(wide, y1, midy))
    second = shapely.box(np.where(wide, midx, x0), np.where(wide, y0, midy), x1, y1)
    pieces = np.concatenate(
        [shapely.intersection(parts, first), shapely.intersection(parts, second)]
    )
    owners = np.concatenate([owner, owner])
    flat, idx = shapely.get_parts(pieces, return_index=True)
    poly = (shapely.get_type_id(flat) == 3) & ~shapely.is_empty(flat)
    return flat[poly], owners[idx[poly]]


# --------------------------------------------------------------------------------------------
# Hazard internals
# --------------------------------------------------------------------------------------------
def _resolve_hazards(hazards: Iterable[str] | None) -> set[str]:
    if hazards is None:
        return {k for k, f in _FAMILY_OF.items() if f in _NATURAL_FAMILIES}
    wanted: set[str] = set()
    families = set(_FAMILY_OF.values())
    for h in [hazards] if isinstance(hazards, str) else hazards:
        if h in families:
            wanted |= {k for k, f in _FAMILY_OF.items() if f == h}
        elif h in _FAMILY_OF:
            wanted.add(h)
        else:
            raise SchemaError(
                f"unknown hazard {h!r}; use a family {sorted(families)} or a kind "
                f"{sorted(_FAMILY_OF)}."
            )
    return wanted


def _structure(gdf: pd.DataFrame) -> str:
    cols = {c.lower() for c in gdf.columns}
    if "coderisque" in cols:
        return "ppr"
    if "alea" in cols:
        return "pac"
    if "kind" in cols:
        return "canonical"
    return "plain"


def _hazard_zones(
    territory: Territory | None, *, source: str | Path | gpd.GeoDataFrame, margin_m: float
) -> gpd.GeoDataFrame:
    """Every zone of the source in the common hazard schema, clipped, with ``_comp``."""
    if isinstance(source, gpd.GeoDataFrame):
        require_crs(source, "hazard zones")
        raw, label = source, "hazard zones (GeoDataFrame)"
        kind = _structure(raw)
    elif isinstance(source, str) and source == "georisques":
        if territory is None:
            raise ArgumentError("source='georisques' needs a territory (the area to query).")
        return _gpu_ppr_zones(territory, margin_m)
    else:
        path = Path(source)
        layers = _list_layers(path)
        alea = [n for n in layers if "zone_alea" in n.lower()]
        if alea:
            raw = _read_ppr_layer(path, "zone_alea", territory=territory, margin_m=margin_m)
            kind = "ppr"
        elif len(layers) == 1:
            raw = _read_vector(path, territory=territory, margin_m=margin_m)
            kind = _structure(raw)
            if kind not in ("pac", "ppr"):
                raise SchemaError(
                    f"{path} is neither a PPR in the CNIG/COVADIS structure (no N_ZONE_ALEA_PPRN "
                    f"layer; layers found: {layers}) nor a PAC risk layer (no ALEA column; "
                    f"columns: {sorted(c for c in raw.columns if c != 'geometry')})."
                )
        else:
            raise SchemaError(
                f"{path} has no PPR hazard layer N_ZONE_ALEA_PPRN; layers found: {layers}. "
                "Give a PPR in the CNIG/COVADIS structure or a PAC risk layer."
            )
        label = f"PPR {path.name}" if kind == "ppr" else f"PAC {path.name}"
    if kind == "ppr":
        zones = _ppr_hazard_schema(_lower_columns(raw), label)
    elif kind == "pac":
        zones = _pac_schema(_lower_columns(raw), label)
    elif kind == "canonical":
        zones = _canonical_hazards(raw, label)
    else:
        raise SchemaError(
            "hazard zones GeoDataFrame has none of the known structures: add a 'kind' column "
            f"(values among {sorted(_FAMILY_OF)}), or give a PPR ('coderisque') or PAC ('ALEA') "
            "layer."
        )
    return _finish(zones, territory, margin_m, label, keep=("_comp",))


def _encode(comp: dict[str, str | None] | None) -> str:
    """Key of a zone's hazard components: ``"kind=level;kind="`` (empty: the zone's level)."""
    if not comp:
        return "multirisk="
    return ";".join(f"{k}={v or ''}" for k, v in sorted(comp.items()))


def _decode(key: str) -> dict[str, str | None]:
    pairs = (part.partition("=") for part in key.split(";"))
    return {k: (v or None) for k, _sep, v in pairs}


def _per_unique(values: pd.Series, func: Any) -> np.ndarray:
    """``func`` applied once per distinct value (a layer has few), spread back to the rows."""
    codes, uniques = pd.factorize(values.astype(object).fillna(""))
    mapped = np.empty(len(uniques), dtype=object)
    for j, u in enumerate(uniques):
        mapped[j] = func(u)
    return mapped[codes] if len(codes) else np.empty(0, dtype=object)


def _comp_columns(comp: np.ndarray) -> dict[str, Any]:
    """``kind``, ``hazards`` and ``_comp`` columns from the component keys."""
    kinds = _per_unique(pd.Series(comp), lambda u: _kind_of(_decode(u)))
    hazards = _per_unique(pd.Series(comp), lambda u: ",".join(sorted(_decode(u))))
    return {"kind": kinds, "hazards": hazards, "_comp": comp}


def _kind_of(comp: dict[str, str | None]) -> str:
    return next(iter(comp)) if len(comp) == 1 else "multirisk"


def _ppr_hazard_schema(raw: gpd.GeoDataFrame, label: str) -> gpd.GeoDataFrame:
    _require_columns(raw, ("coderisque",), "PPR hazard zones")
    if "nivalea" not in raw.columns and "nivalea_st" not in raw.columns:
        raise SchemaError(
            f"PPR hazard zones have no level column (nivalea or nivalea_st); columns: "
            f"{sorted(c for c in raw.columns if c != 'geometry')}"
        )
    code = raw["coderisque"].astype("string").str.strip().fillna("")
    descript = _column(raw, "descript")
    pair = code + "\x1f" + descript.astype("string").fillna("")
    comp = _per_unique(pair, lambda u: _encode(_decode_ppr(*u.split("\x1f", 1))))
    proc = _column(raw, "id_gaspar")
    return gpd.GeoDataFrame(
        {
            "id": _ids(proc, _column(raw, "id_zone"), raw.index),
            "name": _column(raw, "nomrisque"),
            "level": _ppr_level(raw),
            "source": label,
            "date": pd.to_datetime(_column(raw, "datecarte"), errors="coerce"),
            "family": "",
            "hazard_code": code,
            "procedure": proc,
            "descript": descript,
            "nivalea": _column(raw, "nivalea"),
            "url": _column(raw, "urlfic"),
            **_comp_columns(comp),
        },
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
        index=raw.index,
    )


def _decode_ppr(code: str, descript: str) -> dict[str, str | None] | None:
    """Hazard kinds (→ own level or None) of a PPR zone; None when it cannot be told."""
    if code in GASPAR_HAZARDS:
        return {GASPAR_HAZARDS[code][0]: None}
    if code == _MULTIRISK_CODE:
        return _decode_letters(descript)
    prefix = {"11": "flood", "12": "ground_movement", "17": "weather"}.get(code[:2])
    if prefix:
        log.warning("PPR hazard code %s not in the GASPAR list: taken as %s", code, prefix)
        return {prefix: None}
    log.warning("PPR hazard code %r unknown: zone kept as multirisk", code)
    return None


def _decode_letters(descript: str) -> dict[str, str | None] | None:
    text = descript.strip()
    tokens = _LETTER_TOKEN.findall(text)
    # Everything but the tokens must be decoration (asterisks, lower-case suffixes, spaces).
    rest = _LETTER_TOKEN.sub("", text)
    if not tokens or re.sub(r"[a-z*+\s,;/-]", "", rest):
        return None
    out: dict[str, str | None] = {}
    for letter, digit in tokens:
        kind = _HAZARD_LETTERS[letter]
        out[kind] = _max_level(out.get(kind), _DIGIT_LEVEL.get(digit) if digit else None)
    return out


def _max_level(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if LEVELS.index(a) >= LEVELS.index(b) else b


def _ppr_level(raw: pd.DataFrame) -> pd.Series:
    st = _column(raw, "nivalea_st").astype("string").str.strip().str.zfill(2)
    from_st = st.map(_NIVALEA_ST_LEVEL)
    text = _column(raw, "nivalea").astype("string").str.strip().str.lower()
    from_text = text.map(_NIVALEA_TEXT_LEVEL)
    return from_st.fillna(from_text).astype(object).where(lambda s: s.notna(), None)


def _pac_schema(raw: gpd.GeoDataFrame, label: str) -> gpd.GeoDataFrame:
    alea = raw["alea"].astype("string").str.strip()
    norm = alea.str.lower().fillna("")
    unknown = sorted(set(norm) - set(_PAC_ALEA) - {"multirisque"})
    if unknown:
        log.warning("PAC: ALEA value(s) %s not recognised: kept as multirisk", unknown)
    comp = _per_unique(norm, lambda a: _encode(dict.fromkeys(_PAC_ALEA.get(a, ()))))
    date = pd.to_datetime(
        _column(raw, "date_pac").astype("string").str.replace("_", "-"), errors="coerce"
    )
    index_ids = pd.Series(raw.index.astype(str), index=raw.index)
    return gpd.GeoDataFrame(
        {
            "id": _column(raw, "id").astype("string").fillna(index_ids),
            "name": _column(raw, "etude").fillna(alea),
            "level": None,
            "source": label,
            "date": date,
            "family": "",
            "hazard_code": alea,
            "commune": _column(raw, "commune"),
            "insee": _column(raw, "insee").astype("string"),
            "url": _column(raw, "lien_pac"),
            **_comp_columns(comp),
        },
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
        index=raw.index,
    )


def _canonical_hazards(raw: gpd.GeoDataFrame, label: str) -> gpd.GeoDataFrame:
    out = raw.copy()
    kinds = out["kind"].astype("string").fillna("multirisk")
    bad = sorted(set(kinds) - set(_FAMILY_OF) - {"multirisk"})
    if bad:
        raise SchemaError(f"unknown hazard kind(s) {bad}; use kinds among {sorted(_FAMILY_OF)}.")
    for col, default in (("name", None), ("level", None), ("source", label), ("date", pd.NaT)):
        if col not in out.columns:
            out[col] = default
    if "id" not in out.columns or out["id"].isna().all():
        out["id"] = out.index.astype(str)
    hazards = out["hazards"].astype("string") if "hazards" in out.columns else kinds
    hazards = hazards.fillna(kinds).str.replace(r"\s+", "", regex=True)
    # Every component takes the zone's level ("kind=" in the component key).
    comp = (hazards.str.replace(",", "=;", regex=False) + "=").to_numpy(dtype=object)
    out["hazard_code"] = kinds
    for col, values in _comp_columns(comp).items():
        out[col] = values
    return out


def _select_hazards(
    zones: gpd.GeoDataFrame, wanted: set[str], *, include_multirisk: bool
) -> gpd.GeoDataFrame:
    """Keep zones with a wanted hazard; their level is that of the wanted components."""
    codes, uniques = pd.factorize(zones["_comp"].astype(object))
    hit_u = np.zeros(len(uniques), dtype=bool)
    unknown_u = np.zeros(len(uniques), dtype=bool)
    own_u = np.full(len(uniques), None, dtype=object)
    for j, key in enumerate(uniques):
        comp = _decode(key)
        matched = [k for k in comp if k in wanted]
        hit_u[j] = bool(matched)
        unknown_u[j] = "multirisk" in comp
        for k in matched:
            own_u[j] = _max_level(own_u[j], comp[k])
    hit = hit_u[codes]
    unknown = unknown_u[codes]
    if unknown.any() and not include_multirisk:
        log.warning(
            "%d multi-hazard zone(s) of unknown composition left out; pass "
            "include_multirisk=True to keep them as a precaution",
            int(unknown.sum()),
        )
    keep = hit | (unknown & include_multirisk)
    own = pd.Series(own_u[codes], index=zones.index, dtype=object)
    # Components without a level of their own take the zone's level.
    level = own.where(own.notna(), zones["level"].astype(object))
    out = zones.loc[keep].copy()
    out["level"] = level[keep].astype(LEVEL_DTYPE)
    out["family"] = out["kind"].map(_FAMILY_OF).fillna("multirisk")
    return out.drop(columns="_comp")


def _gpu_ppr_zones(territory: Territory, margin_m: float) -> gpd.GeoDataFrame:
    """PPR easements (servitude PM1) of the Géoportail de l'Urbanisme, via the IGN WFS."""
    wfs_features = _geopf_client()
    typename = "wfs_sup:assiette_sup_s"
    # GeoJSON in lon/lat, reprojected in _finish: one code path whatever the layer's CRS.
    raw = wfs_features(typename, bbox=territory.bbox_lonlat(margin_m), crs_out="EPSG:4326")
    raw = _lower_columns(raw)
    if "suptype" in raw.columns:
        raw = raw[raw["suptype"].astype("string").str.lower().str.strip() == "pm1"]
    text = pd.Series("", index=raw.index, dtype="string")
    for col in ("nomass", "nomsuplitt", "nomreg", "typeass"):
        if col in raw.columns:
            text = text.str.cat(raw[col].astype("string").fillna(""), sep=" ")
    text = text.str.lower().fillna("")
    # The easement records name the plan ("PPRI de la vallée de l'Oise", "PPR mouvements de
    # terrain" …): the hazard is read from these names.
    patterns = {
        "flood": r"inond|ppri|crue|submersion|ruissel",
        "ground_movement": r"mouvement|glissement|boulement|chute de|cavit|effondrement|argile",
        "avalanche": r"avalanche",
        "wildfire": r"incendie|feu de for|pprif",
        "earthquake": r"s[ée]isme|sismique",
    }
    comp = pd.Series("", index=raw.index, dtype="string")
    for kind, pattern in patterns.items():
        found = text.str.contains(pattern, regex=True)
        comp = comp.where(~found, comp + f"{kind}=;")
    comp = comp.str.rstrip(";").where(comp != "", "multirisk=")
    index_ids = pd.Series(raw.index.astype(str), index=raw.index)
    out = gpd.GeoDataFrame(
        {
            "id": _column(raw, "idass").astype("string").fillna(index_ids),
            "name": _column(raw, "nomass"),
            "level": None,
            "source": f"IGN WFS {typename} (GPU, servitude PM1)",
            "date": pd.NaT,
            "family": "",
            "hazard_code": "PM1",
            **_comp_columns(comp.to_numpy(dtype=object)),
        },
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
        index=raw.index,
    )
    return _finish(out, territory, margin_m, "GPU PPR zones", keep=("_comp",))


# --------------------------------------------------------------------------------------------
# Protected-area internals
# --------------------------------------------------------------------------------------------
def _protected_schema(raw: gpd.GeoDataFrame, kind: str, label: str) -> gpd.GeoDataFrame:
    low = _lower_columns(raw)
    id_col = next((c for c in _PROTECTED_ID_COLUMNS if c in low.columns), None)
    name_col = next((c for c in _PROTECTED_NAME_COLUMNS if c in low.columns), None)
    date_col = next((c for c in _PROTECTED_DATE_COLUMNS if c in low.columns), None)
    index_ids = pd.Series([f"{kind}:{i}" for i in range(len(low))], index=low.index)
    return gpd.GeoDataFrame(
        {
            "id": low[id_col].astype("string").fillna(index_ids) if id_col else index_ids,
            "name": low[name_col] if name_col else None,
            "kind": kind,
            "level": None,
            "source": label,
            "date": pd.to_datetime(low[date_col], errors="coerce") if date_col else pd.NaT,
            "url": _column(low, "url"),
        },
        geometry=low.geometry.to_numpy(),
        crs=raw.crs,
        index=low.index,
    )


def _geopf_client() -> Any:
    try:
        from layers.geopf import wfs_features
    except ImportError as exc:
        raise DataSourceError(
            "the IGN WFS client (layers.geopf) is not available in this installation; load "
            "the layer from a file instead (source=path)."
        ) from exc
    return wfs_features


# --------------------------------------------------------------------------------------------
# Reading, clipping, finishing
# --------------------------------------------------------------------------------------------
def _list_layers(path: Path) -> list[str]:
    import pyogrio

    if not path.exists():
        raise DataSourceError(f"constraint file {path} does not exist. Check the path.")
    try:
        return [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:  # pyogrio raises DataSourceError / DataLayerError subclasses
        raise DataSourceError(f"{path} is not a vector file GDAL can read ({exc}).") from exc


def _read_ppr_layer(
    path: Path, which: str, *, territory: Territory | None, margin_m: float
) -> gpd.GeoDataFrame:
    layers = _list_layers(path)
    match = [n for n in layers if which in n.lower()]
    if not match:
        expected = "N_ZONE_ALEA_PPRN" if which == "zone_alea" else "N_ZONE_REG_PPRN"
        raise SchemaError(
            f"{path} has no {expected} layer of the CNIG/COVADIS PPR structure; layers found: "
            f"{layers}."
        )
    if len(match) > 1:
        log.warning("%s: several %s layers %s, reading %s", path, which, match, match[0])
    return _read_vector(path, layer=match[0], territory=territory, margin_m=margin_m)


def _read_vector(
    path: Path, *, layer: str | None = None, territory: Territory | None, margin_m: float
) -> gpd.GeoDataFrame:
    """Read a layer, filtered at read time to the bounding box of the area when given."""
    import pyogrio

    if not path.exists():
        raise DataSourceError(f"constraint file {path} does not exist. Check the path.")
    bbox = None
    try:
        info = pyogrio.read_info(path, layer=layer)
        if territory is not None and info.get("crs"):
            area = gpd.GeoSeries([territory.area_with_margin(margin_m)], crs=territory.crs)
            bbox = tuple(area.to_crs(CRS.from_user_input(info["crs"])).total_bounds)
        gdf = pyogrio.read_dataframe(path, layer=layer, bbox=bbox)
    except Exception as exc:
        raise DataSourceError(f"could not read {path} (layer {layer}): {exc}") from exc
    require_crs(gdf, f"{path.name} (layer {layer})" if layer else path.name)
    return gdf


def _lower_columns(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geom = gdf.geometry.name
    mapping = {c: c.lower() for c in gdf.columns if c != geom}
    out = gdf.rename(columns=mapping)
    return out


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(None, index=df.index, dtype=object)


def _ids(procedure: pd.Series, zone: pd.Series, index: pd.Index) -> pd.Series:
    proc = procedure.astype("string").fillna("")
    z = zone.astype("string")
    fallback = pd.Series(index.astype(str), index=procedure.index, dtype="string")
    z = z.fillna(fallback)
    return (proc + ":" + z).str.lstrip(":")


def _require_columns(df: pd.DataFrame, cols: Sequence[str], name: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{name}: missing column(s) {missing}; columns found: "
            f"{sorted(c for c in df.columns if c != 'geometry')}"
        )


def _empty(crs: CRS | None, extra: Sequence[str] = ()) -> gpd.GeoDataFrame:
    cols: dict[str, Any] = {c: pd.Series([], dtype=object) for c in (*CANONICAL_COLUMNS, *extra)}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _finish(
    gdf: gpd.GeoDataFrame,
    territory: Territory | None,
    margin_m: float,
    name: str,
    keep: Sequence[str] = (),
) -> gpd.GeoDataFrame:
    """Repair, reproject, clip; order the columns (canonical first) and type ``level``."""
    require_crs(gdf, name)
    gdf = repair_geometries(
        gdf, name=name, id_column="id" if "id" in gdf else None, drop_empty=True
    )
    if territory is not None:
        gdf = to_crs(gdf, territory.crs, name)
        gdf = _clip_polygons(gdf, territory.area_with_margin(margin_m))
    if "level" in gdf.columns:
        gdf["level"] = gdf["level"].astype(object).astype(LEVEL_DTYPE)
    geom = gdf.geometry.name
    first = [c for c in CANONICAL_COLUMNS if c in gdf.columns]
    rest = [c for c in gdf.columns if c not in first and c != geom]
    out = gdf[[*first, *rest, geom]]
    if geom != "geometry":
        out = out.rename_geometry("geometry")
    dropped = [c for c in out.columns if c.startswith("_") and c not in keep]
    return out.drop(columns=dropped).reset_index(drop=True)


def _clip_polygons(gdf: gpd.GeoDataFrame, area: BaseGeometry) -> gpd.GeoDataFrame:
    """Keep the parts of polygons inside ``area`` (vectorised; only border features cut)."""
    if gdf.empty:
        return gdf
    geoms = gdf.geometry.to_numpy()
    shapely.prepare(area)
    hit = shapely.intersects(area, geoms)
    inside = shapely.contains_properly(area, geoms)
    cut = hit & ~inside
    out_geoms = geoms.copy()
    if cut.any():
        clipped = shapely.intersection(geoms[cut], area)
        # Clipping may leave lines or points where a polygon only touches the outline.
        out_geoms[cut] = [_polygonal(g) for g in clipped]
    keep = hit & ~shapely.is_empty(out_geoms)
    out = gdf.loc[keep].copy()
    out[gdf.geometry.name] = out_geoms[keep]
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    tid = shapely.get_type_id(geom)
    if tid in (3, 6):
        return geom
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6)) & ~shapely.is_empty(parts)]
    if len(polys) == 0:
        return shapely.Polygon()
    return shapely.multipolygons(shapely.get_parts(polys))

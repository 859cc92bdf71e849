"""Infrastructure layers of a territory: rail, ports, waterways, platforms, roads, energy, air.

Every ``load_<layer>(territory, ...)`` function returns a GeoDataFrame in ``territory.crs``
(EPSG:2154 in metropolitan France) holding the features that intersect the territory's
perimeter grown by a margin (``settings.infrastructure_margin_m``, 30 km by default: the
nearest port, junction or substation often lies outside the perimeter). Columns follow the
canonical schema of the layer, listed in :data:`SCHEMAS`: ``id, name, kind, source, date``
then kind-specific fields, then ``geometry``.

Sources:

* **embedded** (offline): SNCF stations, RTE substations, aerodromes and the named sites of the
  reference territories, shipped in ``layers/data`` (built by ``scripts/build_infrastructure.py``,
  see ``DATA.md``);
* **osm** (online, cached): OpenStreetMap through Overpass, mapped by :mod:`layers.osm`;
* a **file** or a **GeoDataFrame**: OSM features (OSM XML/PBF, or frames with OSM tag columns)
  or features already in the layer's canonical schema.

A layer with no feature in the area comes back empty (right columns and CRS) with a logged
warning. An online layer asked for in offline mode with nothing cached raises
:class:`~layers.errors.OfflineError`.
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import osm
from layers.config import settings
from layers.crs import require_crs, to_crs
from layers.errors import DataSourceError, SchemaError
from layers.formatting import commune_note
from layers.geometry import repair_geometries
from layers.geoparquet import read_geoparquet
from layers.registry import LAYERS, get_layer

if TYPE_CHECKING:
    from layers.territories import Territory

__all__ = [
    "ATTRIBUTIONS",
    "COVERAGE_ATTR",
    "NAMED_SITE_KINDS",
    "PRECISIONS",
    "SCHEMAS",
    "known_at_commune",
    "load_aerodromes",
    "load_motorway_junctions",
    "load_named_sites",
    "load_osm_layer",
    "load_platforms",
    "load_ports",
    "load_rail_branches",
    "load_rail_freight_stations",
    "load_rail_lines",
    "load_rail_stations",
    "load_substations",
    "load_trunk_roads",
    "load_waterways",
    "position_notes",
]

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"

#: Date of the embedded copies (date of the source snapshot, see DATA.md).
EMBEDDED_DATES = {
    "sncf": "2024-11-21",
    "rte": "2023-02-13",
    "airportsdata": "2026-09-05",
    "sncf_rfn": "2026-02-12",
    "sncf_lignes_par_type": "2025-10-03",
    "osm_waterways": "2026-03-24",
    "dgitm_peage": "2024-01-01",
    "wpi": "2025-04-22",
    "gntc_osm": "2026-02-19",
    "gntc": "2026-02-19",
    "unlocode": "2018-07-24",
    "gntc_terminals": "2026-03-18",
    "edf_sei": "2023-06-06",
}

#: Attribution text of each data source (key = value of the ``source`` column).
ATTRIBUTIONS: dict[str, str] = {
    "osm": "© OpenStreetMap contributors, ODbL 1.0",
    "sncf": "SNCF Réseau – Liste des gares, ODbL",
    "rte": "RTE / ODRE – Postes électriques, Licence Ouverte 2.0",
    "airportsdata": "airportsdata (M. Borsetti), MIT licence",
    "named_sites": "sites nommés des territoires (foncier), source citée pour chaque site",
    "sncf_rfn": "SNCF Réseau – lignes exploitées du RFN (data.gouv.fr), simplifiées ≈ 10 m, ODbL",
    "sncf_lignes_par_type": "SNCF Réseau – Lignes par type, extrait Nord-Pas-de-Calais "
    "(embranchements, voies de port), ODbL",
    "osm_waterways": "© OpenStreetMap contributors, ODbL – voies navigables (sélection "
    "French Canals Map ; pas des données VNF : ni classe CEMT ni gabarit)",
    "dgitm_peage": "État / DGITM – gares de péage du réseau routier concédé au 01/01/2024, "
    "Licence Ouverte 2.0 : échangeurs à péage seulement (les échangeurs gratuits viennent "
    "d'OpenStreetMap en ligne)",
    "wpi": "NGA World Port Index (Pub. 150), domaine public (États-Unis) – ports maritimes, "
    "positions à la minute d'arc (± 1 km)",
    "gntc_osm": "Ports fluviaux de fret de la carte GNTC, © OpenStreetMap contributors, "
    "ODbL – liste partielle",
    "gntc": "Ports fluviaux de fret de la carte GNTC, position saisie par l'auteur de la "
    "carte – liste partielle",
    "unlocode": "UN/LOCODE 2018-1 (UNECE, via OpenTravelData, CC BY 4.0), position à la "
    "minute d'arc",
    "gntc_terminals": "OTC-GNTC – plan de transport combiné (mars 2026), positions "
    "arrondies à 0,01° (localité, ± 1 km)",
    "edf_sei": "EDF SEI – postes sources de La Réunion (via PyPSA_Reunion, Université de La "
    "Réunion), Licence Ouverte",
    "user": "User-supplied data",
}

#: How well a feature's position is known (``precision`` column) -> note shown after its name
#: wherever a distance to it is given. Empty note: the position is good to a few metres.
PRECISIONS: dict[str, str] = {
    "exact": "",
    "point": "",
    "simplified_10m": "",
    "rounded_1e-4deg": "",
    # Features with a ``communes`` column get the commune names instead (position_notes).
    "commune": " (position connue à la commune seulement)",
    "arc_minute": " (position à la minute d'arc, ± 1 km)",
    "locality": " (position de la localité, ± 1 km)",
    "hand_entered": " (position saisie à la main)",
}


def known_at_commune(features: pd.DataFrame) -> np.ndarray:
    """True for the features whose position is known only at their commune.

    Parameters
    ----------
    features : DataFrame
        Features of a layer; without a ``precision`` column, none is.

    Returns
    -------
    numpy.ndarray of bool
        ``precision == "commune"`` per feature; a missing precision (None, NaN or the NA of
        pandas' nullable ``"string"`` dtype) is not ``"commune"``.
    """
    if "precision" not in features.columns:
        return np.zeros(len(features), dtype=bool)
    return (features["precision"].astype(object) == "commune").to_numpy(dtype=bool)


def position_notes(features: pd.DataFrame) -> np.ndarray:
    """Note on the position of each feature, shown after its name next to a distance.

    Empty for features placed to a few metres; :data:`PRECISIONS` for coarse ones; for a
    feature known only at its commune(s) (``precision == "commune"``, geometry = the
    commune area), :func:`layers.formatting.commune_note` naming the communes of its
    ``communes`` column, so that a distance to it reads "dans la commune de X" or "… de la
    commune de X" rather than a metre-precise figure.

    Parameters
    ----------
    features : DataFrame
        Features of any layer (a ``precision`` and a ``communes`` column are optional).

    Returns
    -------
    numpy.ndarray
        One text per feature (object array, ``""`` when there is nothing to say).
    """
    n = len(features)
    if "precision" not in features.columns:
        return np.full(n, "", dtype=object)
    precision = features["precision"].astype(object)
    notes = precision.map(PRECISIONS).fillna("").to_numpy(dtype=object)
    if "communes" in features.columns:
        communes = features["communes"].astype(object)
        named = known_at_commune(features) & communes.notna().to_numpy()
        named &= (communes.astype(str) != "").to_numpy()
        notes[named] = [commune_note(str(c)) for c in communes[named]]
    return notes


#: Canonical columns of each infrastructure layer (``geometry`` comes last), from the registry.
SCHEMAS: dict[str, dict[str, str]] = {
    name: dict(entry.schema) for name, entry in LAYERS.items() if entry.theme == "infrastructure"
}

#: Kinds of named sites and the layer that also shows them (from the registry).
NAMED_SITE_KINDS: dict[str, str] = {
    kind: name for name, entry in LAYERS.items() for kind in entry.named_kinds
}
_STATUSES = ("existing", "planned", "under_construction")
_FLOAT_COLUMNS = {
    "area_ha",
    "elevation_m",
    "frequency_hz",
    "gauge_mm",
    "maxspeed_kmh",
    "voltage_kv",
    "voltage_v",
}

Source: TypeAlias = "str | Path | gpd.GeoDataFrame"


# --------------------------------------------------------------------------------------------
# Shared machinery
# --------------------------------------------------------------------------------------------


def _margin(margin_m: float | None) -> float:
    margin = settings.infrastructure_margin_m if margin_m is None else margin_m
    margin = float(margin)
    if not np.isfinite(margin) or margin < 0:
        raise SchemaError(f"margin_m must be a distance in metres >= 0, got {margin_m!r}.")
    return margin


def _schema(layer: str) -> dict[str, str]:
    # Read from the registry at call time (not from SCHEMAS): an entry added later, or by a
    # test, loads like the others.
    return dict(get_layer(layer).schema)


def _empty(layer: str, crs: Any) -> gpd.GeoDataFrame:
    columns: dict[str, Any] = {
        c: pd.Series(dtype="float64" if c in _FLOAT_COLUMNS else "object") for c in _schema(layer)
    }
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _conform(gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Columns of the layer's schema in order (missing ones added as NA), geometry last."""
    columns = list(_schema(layer))
    out = gdf.copy()
    for name in columns:
        if name not in out.columns:
            out[name] = pd.NA
    for name in _FLOAT_COLUMNS.intersection(columns):
        # NA from named sites or empty frames would otherwise leave an object column.
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    geometry = out.geometry.name
    out = out[[*columns, geometry]]
    if geometry != "geometry":
        out = out.rename_geometry("geometry")
    return out.reset_index(drop=True)


class _Area(NamedTuple):
    """The margin around the territory (metres) and the lon/lat box that holds it."""

    margin_m: float
    bbox: tuple[float, float, float, float]


def _area(territory: Territory, margin_m: float | None) -> _Area:
    margin = _margin(margin_m)
    # The territory computes its lon/lat box once per margin.
    return _Area(margin, territory.bbox_lonlat(margin))


def _finish(
    gdf: gpd.GeoDataFrame, *, territory: Territory, area: _Area, layer: str
) -> gpd.GeoDataFrame:
    """Reproject to the territory's CRS, repair, keep what lies within the margin, conform."""
    require_crs(gdf, layer)
    if len(gdf) == 0:
        out = _empty(layer, territory.crs)
    else:
        gdf = to_crs(gdf, territory.crs, layer)
        gdf = repair_geometries(gdf, name=layer, id_column="id", drop_empty=True)
        out = gdf.iloc[territory.within_margin(gdf, area.margin_m)]
        if "area_ha" in _schema(layer):
            geoms = out.geometry.to_numpy()
            polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
            area_ha = np.where(polygonal, shapely.area(geoms) / 1e4, np.nan)
            out = out.assign(area_ha=area_ha)
        out = _conform(out, layer)
    if len(out) == 0:
        # Information only: a layer is often assembled from several parts (national data,
        # named sites, OpenStreetMap), one of which may be empty here; scoring warns on its
        # own when a criterion's whole layer is empty.
        log.info(
            "%s: no feature within %.0f km of territory %r; returning an empty layer.",
            layer,
            area.margin_m / 1000,
            territory.id,
        )
    return out


@functools.cache
def _read_embedded(name: str) -> gpd.GeoDataFrame:
    path = DATA_DIR / name
    if not path.exists():
        raise DataSourceError(
            f"Embedded file {path} is missing. Rebuild it with "
            "`uv run python scripts/build_infrastructure.py`."
        )
    return read_geoparquet(path)


def _embedded(name: str, area: _Area) -> gpd.GeoDataFrame:
    """Rows of an embedded EPSG:4326 file inside the area's lon/lat box (a copy)."""
    gdf = _read_embedded(name)
    west, south, east, north = area.bbox
    return gdf.cx[west:east, south:north].copy()


def _read_source_file(path: Path) -> gpd.GeoDataFrame:
    name = path.name.lower()
    if not path.exists():
        raise DataSourceError(f"File not found: {path}.")
    if name.endswith((".osm", ".osm.gz", ".pbf", ".osm.bz2")):
        return osm.read_osm_file(path)
    if name.endswith((".parquet", ".geoparquet")):
        return gpd.read_parquet(path)
    return gpd.read_file(path)


def _looks_like_osm(gdf: gpd.GeoDataFrame) -> bool:
    return bool({"other_tags", "osm_type", "osm_id", "osm_way_id"} & set(gdf.columns))


def _canonical(gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Check a user frame already in the layer's schema (``source``/``date`` may be absent)."""
    require_crs(gdf, f"{layer} data")
    needed = [c for c in _schema(layer) if c not in ("source", "date")]
    missing = [c for c in needed if c not in gdf.columns]
    if missing:
        raise SchemaError(
            f"{layer}: the data given lacks the columns {missing}. Give OSM features "
            f"(osm_id + tag columns) or the canonical columns {list(_schema(layer))}."
        )
    out = gdf.copy()
    if "source" not in out.columns:
        out["source"] = "user"
    if "date" not in out.columns:
        out["date"] = pd.NA
    return out


def _load(
    territory: Territory,
    *,
    layer: str,
    source: Source,
    margin_m: float | None,
    embedded: Callable[[_Area], gpd.GeoDataFrame] | None = None,
    mapper: Callable[..., gpd.GeoDataFrame] | None = None,
) -> gpd.GeoDataFrame:
    """Load one layer from its embedded copy, Overpass, a file or a GeoDataFrame."""
    area = _area(territory, margin_m)
    options = [o for o, ok in (("'embedded'", embedded), ("'osm'", mapper)) if ok is not None]
    if isinstance(source, gpd.GeoDataFrame):
        data = source
    elif isinstance(source, str) and source == "embedded" and embedded is not None:
        return _finish(embedded(area), territory=territory, area=area, layer=layer)
    elif isinstance(source, str) and source == "osm" and mapper is not None:
        from layers.overpass import overpass_to_gdf, query_overpass

        query = osm.overpass_query(layer, bbox=area.bbox)
        answer = query_overpass(query)
        mapped = mapper(overpass_to_gdf(answer), date=osm.overpass_date(answer))
        return _finish(mapped, territory=territory, area=area, layer=layer)
    elif isinstance(source, Path) or (isinstance(source, str) and Path(source).suffix):
        data = _read_source_file(Path(source))
    else:
        raise SchemaError(
            f"{layer}: unknown source {source!r}. Use {' or '.join(options)}, a file path or a "
            "GeoDataFrame."
        )
    if mapper is not None and _looks_like_osm(data):
        mapped = mapper(data)
    else:
        mapped = _canonical(data, layer)
    return _finish(mapped, territory=territory, area=area, layer=layer)


#: Key of ``GeoDataFrame.attrs`` where a loaded layer records its coverage:
#: ``{"covered": bool, "coverage": label, "gaps": text, "nearest_note": text}``. A layer
#: loaded from embedded data for a territory outside its coverage has ``covered = False``:
#: the scoring engine then skips the criteria on it ("hors couverture") instead of reading
#: "nothing near". ``gaps`` (empty when none) says what the data is known to lack there
#: (the free motorway junctions …): a distance criterion with no feature in reach is then
#: skipped as "non couvert hors ligne", and ``nearest_note`` follows the nearest name.
COVERAGE_ATTR = "foncier_coverage"


# --------------------------------------------------------------------------------------------
# Rail
# --------------------------------------------------------------------------------------------


def _sncf_stations(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("sncf_gares.parquet", area)
    kind = np.select(
        [g["freight"] & g["passengers"], g["freight"]],
        ["freight_and_passenger_station", "freight_station"],
        "passenger_station",
    )
    return gpd.GeoDataFrame(
        {
            "id": ("sncf:" + g["code_uic"].astype(str)).to_numpy(),
            "name": g["name"].to_numpy(),
            "kind": kind,
            "source": "sncf",
            "date": EMBEDDED_DATES["sncf"],
            "code_uic": g["code_uic"].to_numpy(),
            "freight": g["freight"].astype(bool).to_numpy(),
            "passengers": g["passengers"].astype(bool).to_numpy(),
            "line_codes": g["line_codes"].to_numpy(),
            "pk": g["pk"].to_numpy(),
            "commune": g["commune"].to_numpy(),
            "departement": g["departement"].to_numpy(),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )


def load_rail_stations(
    territory: Territory,
    *,
    freight_only: bool = False,
    margin_m: float | None = None,
    source: Source = "embedded",
) -> gpd.GeoDataFrame:
    """Load the SNCF rail stations (freight and passenger) around a territory.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    freight_only : bool
        Keep only the stations open to freight (SNCF ``fret = O``).
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"embedded"} or path or GeoDataFrame
        ``"embedded"``: SNCF Réseau "Liste des gares" shipped with foncier (one row per
        station, see DATA.md); or a file / GeoDataFrame in this layer's schema.

    Returns
    -------
    GeoDataFrame
        Points in ``territory.crs``. Columns (``SCHEMAS["rail_stations"]``): ``id``
        (``sncf:<UIC>``), ``name``, ``kind`` (freight_station, passenger_station,
        freight_and_passenger_station), ``source`` (sncf), ``date``, ``code_uic``,
        ``freight`` (bool), ``passengers`` (bool), ``line_codes`` (``;``-separated RFN line
        codes), ``pk`` (kilometre points on those lines), ``commune``, ``departement``,
        ``geometry``.
    """
    layer = "rail_freight_stations" if freight_only else "rail_stations"
    out = _load(
        territory,
        layer="rail_stations",
        source=source,
        margin_m=margin_m,
        embedded=_sncf_stations,
    )
    if freight_only:
        out = out[out["freight"].astype(bool)].reset_index(drop=True)
        if len(out) == 0:
            log.warning("%s: no freight station around territory %r.", layer, territory.id)
    return out


def load_rail_freight_stations(
    territory: Territory, *, margin_m: float | None = None, source: Source = "embedded"
) -> gpd.GeoDataFrame:
    """Load the SNCF stations open to freight around a territory (embedded, offline).

    Same as ``load_rail_stations(territory, freight_only=True)``.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"embedded"} or path or GeoDataFrame
        As in :func:`load_rail_stations`.

    Returns
    -------
    GeoDataFrame
        Points, schema ``SCHEMAS["rail_freight_stations"]`` (see :func:`load_rail_stations`).
    """
    return load_rail_stations(territory, freight_only=True, margin_m=margin_m, source=source)


def _str_ids(prefix: str, index: pd.Index) -> np.ndarray:
    return (prefix + pd.Series(index, dtype=str)).to_numpy()


def _sncf_rail_lines(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("rail_lines.parquet", area)
    return gpd.GeoDataFrame(
        {
            "id": _str_ids("sncf_rfn:", g.index),
            "name": g["name"].to_numpy(),
            "kind": "rail",
            "source": "sncf_rfn",
            "date": EMBEDDED_DATES["sncf_rfn"],
            "status": g["status"].to_numpy(),
            "precision": g["precision"].to_numpy(),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )


def _sncf_sidings(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("rail_sidings_nord.parquet", area)
    return gpd.GeoDataFrame(
        {
            "id": ("sncf:" + g["line_code"].astype(str)).to_numpy(),
            "name": g["name"].to_numpy(),
            "kind": g["kind"].to_numpy(),
            "source": "sncf_lignes_par_type",
            "date": EMBEDDED_DATES["sncf_lignes_par_type"],
            "line_code": g["line_code"].to_numpy(),
            "operator": "SNCF Réseau",
            "status": g["status"].to_numpy(),
            "precision": g["precision"].to_numpy(),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )


def load_rail_lines(
    territory: Territory, *, margin_m: float | None = None, source: Source = "osm"
) -> gpd.GeoDataFrame:
    """Load the rail lines (``railway=rail`` other than sidings, spurs and yards) from OSM.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"osm", "embedded"} or path or GeoDataFrame
        ``"osm"``: Overpass (online, cached); ``"embedded"``: the exploited lines of the
        national rail network (SNCF Réseau, simplified to about 10 m, no electrification;
        offline, see DATA.md); or OSM features (OSM XML/PBF file, frame with tag columns) or
        data already in this layer's schema.

    Returns
    -------
    GeoDataFrame
        Lines in ``territory.crs``, schema ``SCHEMAS["rail_lines"]``: ``kind`` is the OSM
        usage (main, branch, industrial …) or ``rail``; electrification in ``electrified``
        (bool), ``voltage_v`` (V) and ``frequency_hz`` (Hz) for OSM data.

    Raises
    ------
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    out = _load(
        territory,
        layer="rail_lines",
        source=source,
        margin_m=margin_m,
        embedded=_sncf_rail_lines,
        mapper=osm.rail_lines_from_osm,
    )
    if isinstance(source, str) and source == "embedded":
        out = _with_named(out, territory, layer="rail_lines", margin_m=margin_m)
    return out


def load_rail_branches(
    territory: Territory, *, margin_m: float | None = None, source: Source = "osm"
) -> gpd.GeoDataFrame:
    """Load rail branches, sidings, spurs and yards (embranchements, ITE) from OSM.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"osm", "embedded"} or path or GeoDataFrame
        ``"osm"``: Overpass (online, cached); ``"embedded"``: the industrial sidings and
        port tracks of the SNCF "Lignes par type" extract (Nord and Pas-de-Calais only),
        plus the named rail branches of the reference territories; or OSM features /
        canonical data.

    Returns
    -------
    GeoDataFrame
        Lines in ``territory.crs``, schema ``SCHEMAS["rail_branches"]``: ``kind`` is
        siding, spur, yard or industrial (``usage=industrial``) for OSM data, siding or
        port_track for the SNCF extract, rail_branch for named sites.

    Raises
    ------
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    out = _load(
        territory,
        layer="rail_branches",
        source=source,
        margin_m=margin_m,
        embedded=_sncf_sidings,
        mapper=osm.rail_branches_from_osm,
    )
    if isinstance(source, str) and source == "embedded":
        out = _with_named(out, territory, layer="rail_branches", margin_m=margin_m)
    return out


# --------------------------------------------------------------------------------------------
# Ports, waterways, platforms (OSM + named sites)
# --------------------------------------------------------------------------------------------


def _with_named(
    base: gpd.GeoDataFrame,
    territory: Territory,
    *,
    layer: str,
    margin_m: float | None,
) -> gpd.GeoDataFrame:
    named = load_named_sites(territory, margin_m=margin_m)
    kinds = [k for k, target in NAMED_SITE_KINDS.items() if target == layer]
    named = named[named["kind"].isin(kinds)]
    if len(named) == 0:
        return base
    named = _conform(named, layer)
    frames = [f for f in (base, named) if len(f)]
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=territory.crs)
    return _conform(out, layer)


def _national_ports(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("ports.parquet", area)
    return gpd.GeoDataFrame(
        {
            "id": g["id"].to_numpy(),
            "name": g["name"].to_numpy(),
            "kind": g["kind"].to_numpy(),
            "source": g["source"].to_numpy(),
            "date": g["source"].map(EMBEDDED_DATES).to_numpy(),
            "harbour": g["harbour"].to_numpy(),
            "operator": g["operator"].to_numpy(),
            "status": g["status"].to_numpy(),
            "precision": g["precision"].to_numpy(),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )


def load_ports(
    territory: Territory,
    *,
    margin_m: float | None = None,
    source: Source = "osm",
    include_named: bool = True,
) -> gpd.GeoDataFrame:
    """Load river and sea ports, harbours and quays.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"osm", "embedded", "named"} or path or GeoDataFrame
        ``"osm"``: Overpass (``landuse=port``, ``industrial=port``, ``harbour=*``,
        ``man_made=quay``; online, cached); ``"embedded"``: the seaports of the NGA World
        Port Index (1-arc-minute grid), the freight river ports of the GNTC map (partial)
        and Longoni (Mayotte, UN/LOCODE), offline, see DATA.md; ``"named"``: only the
        embedded named sites (offline); or OSM features / canonical data.
    include_named : bool
        Add the named ports of the reference territories (e.g. the port of
        Longueil-Sainte-Marie), with their ``status`` and ``precision``.

    Returns
    -------
    GeoDataFrame
        Schema ``SCHEMAS["ports"]``; ``kind`` is port, harbour or quay (OSM), seaport or
        river_port (embedded), port (named sites); ``precision`` says how well each position
        is known; ``area_ha`` in hectares for polygons.

    Raises
    ------
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    if isinstance(source, str) and source == "named":
        base = _empty("ports", territory.crs)
        include_named = True
    elif isinstance(source, str) and source == "embedded":
        base = _load(
            territory, layer="ports", source=source, margin_m=margin_m, embedded=_national_ports
        )
    else:
        base = _load(
            territory, layer="ports", source=source, margin_m=margin_m, mapper=osm.ports_from_osm
        )
    return _with_named(base, territory, layer="ports", margin_m=margin_m) if include_named else base


def _osm_waterways(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("waterways.parquet", area)
    osm_id = g["osm_id"].astype("string")
    ids = np.where(
        osm_id.notna(), "osm:way/" + osm_id.fillna(""), _str_ids("osm_waterways:", g.index)
    )
    return gpd.GeoDataFrame(
        {
            "id": ids,
            "name": g["name"].to_numpy(),
            "kind": g["waterway"].replace("", "waterway").to_numpy(),
            "source": "osm_waterways",
            "date": EMBEDDED_DATES["osm_waterways"],
            "status": g["status"].to_numpy(),
            "precision": g["precision"].to_numpy(),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )


def load_waterways(
    territory: Territory, *, margin_m: float | None = None, source: Source = "osm"
) -> gpd.GeoDataFrame:
    """Load canals and rivers (``waterway=canal|river``) with their CEMT class.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"osm", "embedded"} or path or GeoDataFrame
        ``"osm"``: Overpass (online, cached); ``"embedded"``: OpenStreetMap centre-lines of
        the navigable waterways of metropolitan France (a canal-cruising selection, not VNF
        data: no CEMT class; offline, see DATA.md); or OSM features / canonical data.

    Returns
    -------
    GeoDataFrame
        Lines, schema ``SCHEMAS["waterways"]``: ``cemt_class`` and ``freight_navigable``
        (class I or more) tell the canal network usable by freight barges (NA for the
        embedded selection).

    Raises
    ------
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    out = _load(
        territory,
        layer="waterways",
        source=source,
        margin_m=margin_m,
        embedded=_osm_waterways,
        mapper=osm.waterways_from_osm,
    )
    if isinstance(source, str) and source == "embedded":
        out = _with_named(out, territory, layer="waterways", margin_m=margin_m)
    return out


def _combined_transport(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("combined_transport.parquet", area)
    return gpd.GeoDataFrame(
        {
            "id": g["id"].to_numpy(),
            "name": (g["name"] + " (" + g["ville"] + ")").to_numpy(),
            "kind": "combined_transport_terminal",
            "source": "gntc_terminals",
            "date": EMBEDDED_DATES["gntc_terminals"],
            "operator": g["operator"].to_numpy(),
            "status": g["status"].to_numpy(),
            "precision": g["precision"].to_numpy(),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )


def load_platforms(
    territory: Territory,
    *,
    margin_m: float | None = None,
    source: Source = "osm",
    include_named: bool = True,
) -> gpd.GeoDataFrame:
    """Load industrial, chemical, logistics and multimodal platforms.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"osm", "embedded", "named"} or path or GeoDataFrame
        ``"osm"``: Overpass (named ``landuse=industrial`` areas and ``industrial=*``; online,
        cached); ``"embedded"``: the rail-road combined-transport terminals of the OTC-GNTC
        plan (positions rounded to 0.01°, offline, see DATA.md); ``"named"``: only the
        embedded named sites (offline); or OSM features / canonical data.
    include_named : bool
        Add the named platforms of the reference territories (plateforme chimique de
        Lamotte, de Ribécourt, plateforme Confluence …).

    Returns
    -------
    GeoDataFrame
        Schema ``SCHEMAS["platforms"]``; ``kind`` is the OSM ``industrial`` value or the
        named-site kind (chemical_platform, industrial_platform, logistics_platform);
        ``area_ha`` in hectares for polygons.

    Raises
    ------
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    if isinstance(source, str) and source == "named":
        base = _empty("platforms", territory.crs)
        include_named = True
    elif isinstance(source, str) and source == "embedded":
        base = _load(
            territory,
            layer="platforms",
            source=source,
            margin_m=margin_m,
            embedded=_combined_transport,
        )
    else:
        base = _load(
            territory,
            layer="platforms",
            source=source,
            margin_m=margin_m,
            mapper=osm.platforms_from_osm,
        )
    if not include_named:
        return base
    return _with_named(base, territory, layer="platforms", margin_m=margin_m)


# --------------------------------------------------------------------------------------------
# Road, energy, air
# --------------------------------------------------------------------------------------------


def _toll_interchanges(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("toll_interchanges.parquet", area)
    return gpd.GeoDataFrame(
        {
            "id": _str_ids("peage:", g.index),
            "name": g["name"].to_numpy(),
            "kind": "toll_interchange",
            "source": "dgitm_peage",
            "date": g["date"].to_numpy(),
            "ref": g["route"].to_numpy(),
            "status": g["status"].to_numpy(),
            "precision": g["precision"].to_numpy(),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )


def load_motorway_junctions(
    territory: Territory, *, margin_m: float | None = None, source: Source = "osm"
) -> gpd.GeoDataFrame:
    """Load motorway junctions (``highway=motorway_junction``) from OSM, or tolled ones offline.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"osm", "embedded"} or path or GeoDataFrame
        ``"osm"``: Overpass (online, cached; every junction); ``"embedded"``: the toll
        plazas of the interchanges of the conceded motorway network on 1 January 2024
        (État / DGITM, metropolitan France, offline): **tolled junctions only**, free
        junctions are not in it; or OSM features / canonical data.

    Returns
    -------
    GeoDataFrame
        Points, schema ``SCHEMAS["motorway_junctions"]`` (``ref`` = exit number for OSM,
        the motorway for toll interchanges; ``kind`` toll_interchange offline).

    Raises
    ------
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    return _load(
        territory,
        layer="motorway_junctions",
        source=source,
        margin_m=margin_m,
        embedded=_toll_interchanges,
        mapper=osm.motorway_junctions_from_osm,
    )


def load_trunk_roads(
    territory: Territory, *, margin_m: float | None = None, source: Source = "osm"
) -> gpd.GeoDataFrame:
    """Load trunk roads (``highway=trunk|trunk_link``) from OSM.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"osm"} or path or GeoDataFrame
        ``"osm"``: Overpass (online, cached); or OSM features / canonical data.

    Returns
    -------
    GeoDataFrame
        Lines, schema ``SCHEMAS["trunk_roads"]`` (``ref``, ``maxspeed_kmh`` in km/h).

    Raises
    ------
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    return _load(
        territory,
        layer="trunk_roads",
        source=source,
        margin_m=margin_m,
        mapper=osm.trunk_roads_from_osm,
    )


def _rte_substations(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("rte_postes.parquet", area)
    rte = gpd.GeoDataFrame(
        {
            "id": ("rte:" + g["id"].astype(str)).to_numpy(),
            "name": g["name"].to_numpy(),
            "kind": g["function"].to_numpy(),
            "source": "rte",
            "date": EMBEDDED_DATES["rte"],
            "voltage_kv": g["voltage_kv"].astype("float64").to_numpy(),
            "voltage_label": g["voltage_label"].to_numpy(),
            "operator": "RTE",
            "status": g["status"].to_numpy(),
            "precision": "exact",
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )
    e = _embedded("edf_reunion_postes.parquet", area)
    if len(e) == 0:
        return rte
    edf = gpd.GeoDataFrame(
        {
            "id": ("edf:" + e["name"].astype(str)).to_numpy(),
            "name": e["name"].to_numpy(),
            # The EDF SEI list flags whether a source substation has a transformer.
            "kind": np.where(e["transformer"], "transformation", "no_transformer"),
            "source": "edf_sei",
            "date": EMBEDDED_DATES["edf_sei"],
            "voltage_kv": e["voltage_kv"].astype("float64").to_numpy(),
            "voltage_label": (e["voltage_kv"].map("{:.0f}kV".format)).to_numpy(),
            "operator": "EDF SEI",
            "status": e["status"].to_numpy(),
            "precision": e["precision"].to_numpy(),
        },
        geometry=e.geometry.to_numpy(),
        crs=e.crs,
    )
    frames = [f for f in (rte, edf) if len(f)]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=g.crs)


def load_substations(
    territory: Territory,
    *,
    margin_m: float | None = None,
    source: Source = "embedded",
    min_voltage_kv: float | None = None,
) -> gpd.GeoDataFrame:
    """Load electrical substations with their voltage.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"embedded", "osm"} or path or GeoDataFrame
        ``"embedded"``: RTE transmission substations (ODRE, metropolitan France) and the
        EDF SEI source substations of La Réunion (offline); ``"osm"``: OSM
        ``power=substation`` through Overpass (online, cached, includes distribution
        substations); or OSM features / canonical data.
    min_voltage_kv : float, optional
        Keep substations of at least this voltage, kV (those of unknown voltage are dropped).

    Returns
    -------
    GeoDataFrame
        Schema ``SCHEMAS["substations"]``: ``voltage_kv`` (kV), ``voltage_label``,
        ``status`` (existing / planned); ``kind`` is transformation or tap (RTE "poste de
        piquage") for RTE, transformation or no_transformer for EDF SEI, the OSM
        ``substation`` value otherwise.

    Raises
    ------
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    out = _load(
        territory,
        layer="substations",
        source=source,
        margin_m=margin_m,
        embedded=_rte_substations,
        mapper=osm.substations_from_osm,
    )
    if min_voltage_kv is not None:
        kv = pd.to_numeric(out["voltage_kv"], errors="coerce")
        out = out[(kv >= float(min_voltage_kv)).fillna(False).to_numpy()].reset_index(drop=True)
        if len(out) == 0:
            log.warning(
                "substations: none of at least %s kV around territory %r.",
                min_voltage_kv,
                territory.id,
            )
    return out


def _airportsdata(area: _Area) -> gpd.GeoDataFrame:
    g = _embedded("aerodromes.parquet", area)
    return gpd.GeoDataFrame(
        {
            "id": ("icao:" + g["icao"].astype(str)).to_numpy(),
            "name": g["name"].to_numpy(),
            "kind": "aerodrome",
            "source": "airportsdata",
            "date": EMBEDDED_DATES["airportsdata"],
            "icao": g["icao"].to_numpy(),
            "iata": g["iata"].to_numpy(),
            "elevation_m": g["elevation_m"].astype("float64").to_numpy(),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )


def load_aerodromes(
    territory: Territory, *, margin_m: float | None = None, source: Source = "embedded"
) -> gpd.GeoDataFrame:
    """Load aerodromes and airports.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"embedded", "osm"} or path or GeoDataFrame
        ``"embedded"``: the ``airportsdata`` list of French aerodromes (offline);
        ``"osm"``: ``aeroway=aerodrome`` through Overpass; or OSM features / canonical data.

    Returns
    -------
    GeoDataFrame
        Points, schema ``SCHEMAS["aerodromes"]``: ``icao``, ``iata``, ``elevation_m`` (m).
    """
    return _load(
        territory,
        layer="aerodromes",
        source=source,
        margin_m=margin_m,
        embedded=_airportsdata,
        mapper=osm.aerodromes_from_osm,
    )


def load_osm_layer(
    territory: Territory, *, layer: str, margin_m: float | None = None, source: Source = "osm"
) -> gpd.GeoDataFrame:
    """Load a layer of tagged OpenStreetMap features declared by ``osm_tag`` in the registry.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    layer : str
        Name of a layer of :data:`layers.registry.LAYERS` that has an ``osm_tag``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"osm"} or path or GeoDataFrame
        ``"osm"``: Overpass (online, cached); or OSM features (OSM XML/PBF file, frame with
        tag columns) or data already in the layer's schema.

    Returns
    -------
    GeoDataFrame
        Schema of the layer's entry: ``id, name, kind`` (the tag value), ``source, date``,
        the other columns read from the tags of the same name, ``geometry``.

    Raises
    ------
    SchemaError
        The layer is unknown or has no ``osm_tag``.
    OfflineError
        ``source="osm"`` in offline mode with nothing cached.
    """
    entry = get_layer(layer)
    if entry.osm_tag is None:
        raise SchemaError(f"layer {layer!r} has no osm_tag: it has a loader of its own.")
    key, values = entry.osm_tag
    common = ("id", "name", "kind", "source", "date")
    mapper = functools.partial(
        osm.tagged_from_osm,
        layer=layer,
        key=key,
        values=values,
        columns=[c for c in entry.schema if c not in common],
    )
    return _load(territory, layer=layer, source=source, margin_m=margin_m, mapper=mapper)


# --------------------------------------------------------------------------------------------
# Named sites
# --------------------------------------------------------------------------------------------


def _named_sites_table(path: str | Path | None = None) -> pd.DataFrame:
    """The named sites of a CSV (default: the embedded ``named_sites.csv``), validated."""
    return _read_named_sites(Path(path) if path is not None else DATA_DIR / "named_sites.csv")


@functools.cache
def _read_named_sites(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataSourceError(f"Named-sites file not found: {path}.")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    expected = [
        "id", "name", "kind", "status", "precision", "insee", "lon", "lat", "territory",
        "source", "date",
    ]  # fmt: skip
    missing = [c for c in expected if c not in table.columns]
    if missing:
        raise SchemaError(f"{path}: missing columns {missing}.")
    table = table.apply(lambda col: col.str.strip())
    problems = []
    for column, allowed in (
        ("kind", tuple(NAMED_SITE_KINDS)),
        ("status", _STATUSES),
        ("precision", ("point", "commune")),
    ):
        bad = table.loc[~table[column].isin(allowed), "id"].tolist()
        if bad:
            problems.append(f"{column} not in {allowed} for {bad}")
    has_xy = (table["lon"] != "") & (table["lat"] != "")
    if bad := table.loc[(table["precision"] == "point") & ~has_xy, "id"].tolist():
        problems.append(f"precision 'point' without lon/lat for {bad}")
    if bad := table.loc[(table["precision"] == "commune") & has_xy, "id"].tolist():
        problems.append(f"precision 'commune' with lon/lat for {bad}")
    if bad := table.loc[~table["insee"].str.fullmatch(r"[0-9AB]{5}(;[0-9AB]{5})*"), "id"].tolist():
        problems.append(f"insee must be ';'-separated 5-character codes for {bad}")
    if bad := table.loc[table["id"].duplicated(), "id"].tolist():
        problems.append(f"duplicate ids {bad}")
    if problems:
        raise SchemaError(f"{path}: " + "; ".join(problems) + ".")
    return table


def _commune_areas(codes: list[str], territory: Territory) -> gpd.GeoDataFrame:
    """The commune polygons of INSEE codes, in ``territory.crs``, indexed by code (``nom``)."""
    communes = territory.communes
    if not set(codes) <= set(communes["insee"].astype(str)):
        from layers.admin import load_communes

        communes = load_communes(insee=codes, crs=territory.crs)
    communes = to_crs(communes, territory.crs, "communes")
    communes = communes[communes["insee"].astype(str).isin(codes)]
    found = set(communes["insee"].astype(str))
    if missing := sorted(set(codes) - found):
        raise SchemaError(
            f"Named sites refer to unknown commune INSEE codes {missing}: fix "
            "layers/data/named_sites.csv (codes of the current COG)."
        )
    return communes.set_index(communes["insee"].astype(str))[["nom", "geometry"]]


def load_named_sites(
    territory: Territory, *, margin_m: float | None = None, source: str | Path = "embedded"
) -> gpd.GeoDataFrame:
    """Load the named sites of the reference territories (ports, platforms, canal, rail links).

    Sites with verified coordinates are placed at them (``precision="point"``). The others
    are known only at the commune(s) they lie in (``precision="commune"``): their geometry is
    the area of that commune (a MultiPolygon when the site spans several communes), from the
    embedded commune boundaries, and ``communes`` names them. A distance to such a site is
    a distance to the commune's area: 0 for a site inside it, a lower bound of the true
    distance otherwise; reports say so ("dans la commune de X, position exacte inconnue").
    No coordinate is invented.

    Parameters
    ----------
    territory : Territory
        Study area; results are in ``territory.crs``.
    margin_m : float, optional
        Margin around the perimeter, metres (default ``settings.infrastructure_margin_m``).
    source : {"embedded"} or path
        ``"embedded"``: the curated list shipped with foncier (``layers/data/named_sites.csv``,
        see DATA.md); or a CSV file with the same columns (``id, name, kind, status,
        precision, insee, lon, lat, territory, source, date``) listing your own sites.

    Returns
    -------
    GeoDataFrame
        Schema ``SCHEMAS["named_sites"]``: ``id, name, kind`` (port, chemical_platform,
        industrial_platform, logistics_platform, canal, rail_link, rail_branch), ``source``
        (cited document), ``date`` (date the entry was checked), ``status`` (existing,
        planned, under_construction), ``precision`` (point or commune), ``communes``
        (names of the communes standing for a commune-level position), ``insee``,
        ``territory``, ``geometry`` (point, or commune (Multi)Polygon).
    """
    embedded = isinstance(source, str) and source == "embedded"
    if not embedded:
        return _named_sites(territory, margin_m=margin_m, source=source)
    # The embedded list never changes and a territory is immutable: build once per margin.
    memo = _EMBEDDED_NAMED.setdefault(territory, {})
    margin = _margin(margin_m)
    if margin not in memo:
        memo[margin] = _named_sites(territory, margin_m=margin, source=source)
    return memo[margin].copy()


#: Named sites of a territory from the embedded list, by territory and margin (metres). Five
#: layers (ports, waterways, platforms, rail branches and the named sites themselves) take
#: rows from it, and each build reads the communes of the sites placed by commune.
_EMBEDDED_NAMED: weakref.WeakKeyDictionary[Territory, dict[float, gpd.GeoDataFrame]] = (
    weakref.WeakKeyDictionary()
)


def _named_sites(
    territory: Territory, *, margin_m: float | None, source: str | Path
) -> gpd.GeoDataFrame:
    area = _area(territory, margin_m)
    table = _named_sites_table(None if str(source) == "embedded" else source)
    geoms = np.empty(len(table), dtype=object)
    is_point = (table["precision"] == "point").to_numpy()
    if is_point.any():
        xy = gpd.GeoSeries.from_xy(
            table.loc[is_point, "lon"].astype(float),
            table.loc[is_point, "lat"].astype(float),
            crs=4326,
        ).to_crs(territory.crs)
        geoms[is_point] = xy.to_numpy()
    communes = np.full(len(table), None, dtype=object)
    if (~is_point).any():
        codes = table.loc[~is_point, "insee"].str.split(";")
        areas = _commune_areas(sorted({c for cs in codes for c in cs}), territory)
        # A handful of curated rows: the union of each site's communes (one MultiPolygon
        # when it spans several), and their names.
        shape = dict(zip(areas.index, areas.geometry.to_numpy(), strict=True))
        name = dict(zip(areas.index, areas["nom"].astype(str), strict=True))
        geoms[~is_point] = [shapely.union_all([shape[c] for c in cs]) for cs in codes]
        communes[~is_point] = [", ".join(name[c] for c in cs) for cs in codes]
    sites = gpd.GeoDataFrame(
        table[[c for c in SCHEMAS["named_sites"] if c != "communes"]].assign(communes=communes),
        geometry=list(geoms),
        crs=territory.crs,
    )
    return _finish(sites, territory=territory, area=area, layer="named_sites")

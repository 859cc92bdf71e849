"""Candidate sites: ZAE, CNIG terrains, cadastre parcels, a user file, or a regular grid.

Every function returns a GeoDataFrame in the territory's projected CRS with at least
``site_id`` (unique text, also the index), ``area_m2`` (m², computed in the projected CRS),
``insee``, ``commune`` and ``epci_siren`` of the member commune that holds the largest part of
the site (missing when the territory has no communes or the site lies outside them), and the
geometry. Input columns are kept.

Grid cells
----------
``cell_size_m`` is the distance between the centres of neighbouring cells:

- square cells: the side, area ``s²``;
- hexagonal cells (pointy-top, rows offset by half a cell): the flat-to-flat width, so the
  side is ``s / √3`` and the area ``(√3 / 2) s²`` ≈ ``0.866 s²`` (a 1000 m hexagon covers
  86.6 ha).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.arguments import check_choice, check_number
from layers.crs import check_projected, require_crs, to_crs
from layers.errors import ArgumentError, DataSourceError, GeometryError, SchemaError
from layers.geometry import repair_geometries
from layers.plausibility import check_in_france, pick_layer

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from layers.territories import Territory

__all__ = [
    "assign_communes",
    "grid_sites",
    "parse_sites_spec",
    "sites_from_file",
    "sites_from_parcels",
    "sites_from_zae",
]

log = logging.getLogger(__name__)

_SITE_COLUMNS = ("site_id", "area_m2", "insee", "commune", "epci_siren")
#: Layers read from a multi-layer sites file: the zones of a CNIG "Sites économiques" file.
CNIG_SITE_LAYERS = ("site_eco", "terrain_eco")
_VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".parquet", ".fgb")


def _square_cells(bounds: tuple[float, float, float, float], s: float) -> np.ndarray:
    minx, miny, maxx, maxy = bounds
    # Anchor on multiples of s so that grids of the same size line up between runs.
    x0 = math.floor(minx / s) * s
    y0 = math.floor(miny / s) * s
    xs = np.arange(x0, maxx, s)
    ys = np.arange(y0, maxy, s)
    gx, gy = np.meshgrid(xs, ys)
    return shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + s, gy.ravel() + s)


def _hex_cells(bounds: tuple[float, float, float, float], s: float) -> np.ndarray:
    minx, miny, maxx, maxy = bounds
    a = s / math.sqrt(3)  # side = circumradius of a hexagon of flat-to-flat width s
    dy = 1.5 * a  # row spacing of pointy-top hexagons
    y0 = math.floor(miny / dy) * dy - dy
    x0 = math.floor(minx / s) * s - s
    ys = np.arange(y0, maxy + dy, dy)
    xs = np.arange(x0, maxx + s, s)
    gx, gy = np.meshgrid(xs, ys)
    rows = np.rint((gy - y0) / dy).astype(int)
    gx = gx + np.where(rows % 2 == 1, s / 2, 0.0)
    cx, cy = gx.ravel(), gy.ravel()
    angles = np.deg2rad(np.arange(6) * 60 + 30)  # pointy-top: vertices at 30°, 90°, …
    vx = cx[:, None] + a * np.cos(angles)[None, :]
    vy = cy[:, None] + a * np.sin(angles)[None, :]
    coords = np.stack([vx, vy], axis=-1)
    coords = np.concatenate([coords, coords[:, :1, :]], axis=1)  # close the rings
    return shapely.polygons(coords)


def _as_geometry(minus: Any, crs: Any) -> BaseGeometry | None:
    if minus is None:
        return None
    if isinstance(minus, gpd.GeoDataFrame | gpd.GeoSeries):
        minus = to_crs(minus, crs, "minus")
        if len(minus) == 0:
            return None
        return shapely.union_all(minus.geometry.to_numpy())
    if isinstance(minus, shapely.Geometry):
        return minus
    raise ArgumentError(
        f"minus must be a GeoDataFrame, GeoSeries or shapely geometry, got {type(minus).__name__}."
    )


def assign_communes(sites: gpd.GeoDataFrame, territory: Territory) -> gpd.GeoDataFrame:
    """Add ``insee``, ``commune`` and ``epci_siren`` of the commune holding most of each site.

    Parameters
    ----------
    sites : GeoDataFrame
        Sites in the territory's CRS.
    territory : Territory
        Its ``communes`` (``insee``, ``nom``, ``epci_siren``) are used.

    Returns
    -------
    GeoDataFrame
        A copy with the three columns (missing where no commune overlaps the site).
    """
    out = sites.copy()
    n = len(out)
    insee = np.full(n, None, dtype=object)
    nom = np.full(n, None, dtype=object)
    epci = np.full(n, None, dtype=object)
    communes = territory.communes
    if n and len(communes):
        communes = to_crs(communes, territory.crs, "communes")
        cgeoms = communes.geometry.to_numpy()
        sgeoms = out.geometry.to_numpy()
        tree = shapely.STRtree(cgeoms)
        s_idx, c_idx = tree.query(sgeoms, predicate="intersects")
        if len(s_idx):
            # The area of each candidate pair, then the largest piece per site. A site inside
            # a commune is wholly that commune's (area +inf, by a prepared predicate): only
            # the pairs across a commune's boundary are intersected.
            shapely.prepare(cgeoms[np.unique(c_idx)])
            area = np.where(shapely.contains_properly(cgeoms[c_idx], sgeoms[s_idx]), np.inf, 0.0)
            cut = np.isfinite(area)
            area[cut] = shapely.area(shapely.intersection(sgeoms[s_idx[cut]], cgeoms[c_idx[cut]]))
            pairs = pd.DataFrame({"s": s_idx, "c": c_idx, "a": area})
            pairs = pairs[pairs["a"] > 0] if (pairs["a"] > 0).any() else pairs
            best = pairs.sort_values(["s", "a"], ascending=[True, False]).drop_duplicates("s")
            s_best, c_best = best["s"].to_numpy(), best["c"].to_numpy()
            for target, column in ((insee, "insee"), (nom, "nom"), (epci, "epci_siren")):
                if column in communes.columns:
                    target[s_best] = communes[column].to_numpy()[c_best]
    out["insee"] = insee
    out["commune"] = nom
    out["epci_siren"] = epci
    return out


def _finish(
    sites: gpd.GeoDataFrame,
    territory: Territory,
    *,
    ids: Any,
    name: str,
    clip: bool,
    min_area_m2: float = 0.0,
) -> gpd.GeoDataFrame:
    """Common tail: ids, repair, clip to the perimeter, areas, communes, index."""
    sites = sites.copy()
    sites["site_id"] = pd.Series(ids, index=sites.index).astype(str).to_numpy()
    if sites["site_id"].duplicated().any():
        dup = sites.loc[sites["site_id"].duplicated(), "site_id"].head(5).tolist()
        raise SchemaError(
            f"{name}: site ids are not unique (e.g. {dup}); choose another id column."
        )
    sites = repair_geometries(sites, name=name, id_column="site_id", drop_empty=True)
    geoms = sites.geometry.to_numpy()
    perimeter = territory.perimeter
    inside = shapely.intersects(geoms, perimeter)
    if not inside.all():
        log.info("%s: %d site(s) outside the territory dropped.", name, int((~inside).sum()))
        sites = sites.loc[inside]
        geoms = geoms[inside]
    if clip and len(sites):
        shapely.prepare(perimeter)
        within = shapely.within(geoms, perimeter)
        clipped = geoms.copy()
        clipped[~within] = shapely.intersection(geoms[~within], perimeter)
        sites = sites.set_geometry(gpd.GeoSeries(clipped, index=sites.index, crs=sites.crs))
    sites["area_m2"] = shapely.area(sites.geometry.to_numpy())
    if min_area_m2 > 0:
        sites = sites.loc[sites["area_m2"] >= min_area_m2]
    sites = assign_communes(sites, territory)
    others = [c for c in sites.columns if c not in (*_SITE_COLUMNS, sites.geometry.name)]
    ordered = sites[[*_SITE_COLUMNS, *others, sites.geometry.name]]
    ordered = ordered.set_index(pd.Index(ordered["site_id"].to_numpy(), name="site"))
    return gpd.GeoDataFrame(ordered, geometry=sites.geometry.name, crs=territory.crs)


def grid_sites(
    territory: Territory,
    *,
    cell_size_m: float,
    shape: Literal["hex", "square"] = "hex",
    clip: bool = True,
    minus: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
    min_area_m2: float = 0.0,
) -> gpd.GeoDataFrame:
    """A regular grid of candidate cells over the territory.

    Parameters
    ----------
    territory : Territory
        The study area (perimeter and communes in its projected CRS).
    cell_size_m : float
        Distance between neighbouring cell centres, metres: the side of a square, the
        flat-to-flat width of a hexagon (area ``0.866 s²``).
    shape : {"hex", "square"}
        Cell shape.
    clip : bool
        Cut the cells along the perimeter (else keep whole cells that touch it).
    minus : GeoDataFrame, GeoSeries or geometry, optional
        Areas removed from the cells (built-up land, exclusions), reprojected to the
        territory's CRS if needed.
    min_area_m2 : float
        Drop cells (after clipping and removal) smaller than this, m².

    Returns
    -------
    GeoDataFrame
        ``site_id`` (``H000001`` / ``S000001``), ``area_m2``, ``insee``, ``commune``,
        ``epci_siren``, geometry; in ``territory.crs``.

    Examples
    --------
    >>> import foncier
    >>> t = foncier.territory("60159")
    >>> sites = foncier.grid_sites(t, cell_size_m=2000, shape="hex")
    >>> len(sites), sites.crs.to_epsg(), sites["site_id"].iloc[0]
    (28, 2154, 'H000001')
    >>> sites.columns.tolist()
    ['site_id', 'area_m2', 'insee', 'commune', 'epci_siren', 'geometry']
    """
    cell_size_m = check_number(cell_size_m, "cell_size_m", minimum=0, strict=True, unit="metres")
    check_choice(shape, "shape", ("hex", "square"))
    min_area_m2 = check_number(min_area_m2, "min_area_m2", minimum=0, unit="m²")
    _check_territory(territory)
    perimeter = territory.perimeter
    if perimeter is None or shapely.is_empty(perimeter):
        raise GeometryError(f"territory {territory.id!r} has an empty perimeter.")
    check_grid_size(territory, cell_size_m, shape)
    bounds = territory.bounds
    cells = (_hex_cells if shape == "hex" else _square_cells)(bounds, float(cell_size_m))
    tree = shapely.STRtree(cells)
    cells = cells[np.sort(tree.query(perimeter, predicate="intersects"))]
    hole = _as_geometry(minus, territory.crs)
    if hole is not None and not shapely.is_empty(hole):
        shapely.prepare(hole)
        hit = shapely.intersects(cells, hole)
        cells = cells.copy()
        cells[hit] = shapely.difference(cells[hit], hole)
        cells = cells[~shapely.is_empty(cells)]
    prefix = "H" if shape == "hex" else "S"
    width = max(6, len(str(len(cells))))
    ids = [f"{prefix}{i + 1:0{width}d}" for i in range(len(cells))]
    frame = gpd.GeoDataFrame(geometry=cells, crs=territory.crs)
    out = _finish(frame, territory, ids=ids, name="grid", clip=clip, min_area_m2=min_area_m2)
    # Clipping can leave slivers with no area at all along the perimeter.
    return out.loc[out["area_m2"] > 0]


def _check_territory(territory: Any) -> None:
    from layers.territories import Territory

    if not isinstance(territory, Territory):
        raise ArgumentError(
            f"territory must be a Territory (from foncier.territory(...)), got "
            f"{type(territory).__name__}."
        )


#: Peak memory of a siting study per candidate cell, bytes: the cell polygons, their shared
#: invariants, the measures, scores and breakdown columns of a profile of about ten criteria
#: and the Monte-Carlo ranks (measured by ``benchmarks/bench_grid_memory.py``).
BYTES_PER_SITE = 6_000
#: Memory per cell of the bounding box while the grid is built (vertex arrays, polygons).
BYTES_PER_BOX_CELL = 800


def _available_memory() -> int | None:
    """Memory the process may still use, bytes (None when the system does not say)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def grid_memory(territory: Territory, cell_size_m: float, shape: str = "hex") -> tuple[int, int]:
    """Estimated number of cells and peak memory (bytes) of a grid over a territory.

    Parameters
    ----------
    territory : Territory
        Study area (its bounds and perimeter area, m²).
    cell_size_m : float
        Cell size, metres.
    shape : {"hex", "square"}
        Cell shape.

    Returns
    -------
    tuple of int
        ``(cells, bytes)``: cells within the perimeter, and the estimated peak memory of
        building, scoring and ranking them.
    """
    minx, miny, maxx, maxy = territory.bounds
    cell_area = cell_size_m**2 * (math.sqrt(3) / 2 if shape == "hex" else 1.0)
    n_box = (maxx - minx + 2 * cell_size_m) * (maxy - miny + 2 * cell_size_m) / cell_area
    n_cells = float(shapely.area(territory.perimeter)) / cell_area
    return int(n_cells), int(n_box * BYTES_PER_BOX_CELL + n_cells * BYTES_PER_SITE)


def check_grid_size(territory: Territory, cell_size_m: float, shape: str = "hex") -> None:
    """Refuse a grid whose study would not fit in memory, before building it.

    Raises
    ------
    GeometryError
        The estimated peak memory exceeds the memory available (or 5 million cells): the
        message gives both figures, the largest cell size that fits and the alternatives.
    """
    n_cells, need = grid_memory(territory, cell_size_m, shape)
    available = _available_memory()
    budget = int(available * 0.8) if available else None
    if n_cells <= 5_000_000 and (budget is None or need <= budget):
        return
    # smallest size that fits: memory scales as 1 / size², with some rounding headroom
    limit = min(budget or need, 5_000_000 * BYTES_PER_SITE)
    fit = math.ceil(cell_size_m * math.sqrt(need / limit) * 1.05 / 10) * 10
    raise GeometryError(
        f"a {cell_size_m:g} m {shape} grid over {territory.name} would have about "
        f"{n_cells:,.0f} cells and need about {need / 1e9:.1f} GB of memory"
        + (f" ({available / 1e9:.1f} GB available)" if available else "")
        + f". Use cells of {fit:g} m or more (--sites {shape}:{fit:g}), score the zones "
        "d'activités or parcels of the area of interest only, or run foncier.score on a "
        "dask_geopandas frame (see the README, 'Beyond one machine')."
    )


def _prepare_input(gdf: gpd.GeoDataFrame, territory: Territory, name: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ArgumentError(f"{name} must be a GeoDataFrame, got {type(gdf).__name__}.")
    _check_territory(territory)
    require_crs(gdf, name)
    check_in_france(gdf, name)
    out = to_crs(gdf, territory.crs, name)
    check_projected(out, name)
    return out


def _pick_ids(gdf: gpd.GeoDataFrame, candidates: tuple[str, ...], prefix: str) -> Any:
    for column in candidates:
        if column in gdf.columns and gdf[column].notna().all() and gdf[column].is_unique:
            return gdf[column].to_numpy()
    present = [c for c in candidates if c in gdf.columns]
    if present:
        log.warning(
            "column %r has missing or repeated values: sites numbered %s000001… instead.",
            present[0],
            prefix,
        )
    return [f"{prefix}{i + 1:06d}" for i in range(len(gdf))]


def sites_from_zae(
    zae: gpd.GeoDataFrame, territory: Territory, *, clip: bool = False
) -> gpd.GeoDataFrame:
    """Candidate sites from zones d'activités (CNIG ``site_eco`` / ``terrain_eco``, BD TOPO).

    Parameters
    ----------
    zae : GeoDataFrame
        Polygons with a CRS (reprojected to the territory's CRS). The id comes from
        ``terr_id``, ``site_id`` or ``id`` when unique, else ``Z000001``…; a ``name`` column
        is added from ``site_nom`` / ``terr_nom`` / ``nom`` / ``name`` when present.
    territory : Territory
        Zones that do not touch the perimeter are dropped.
    clip : bool
        Cut zones along the perimeter (default: keep whole zones that straddle it).

    Returns
    -------
    GeoDataFrame
        The zones with the site columns (see module docstring).
    """
    gdf = _prepare_input(zae, territory, "zae")
    ids = _pick_ids(gdf, ("terr_id", "site_id", "id"), "Z")
    if "name" not in gdf.columns:
        source = next((c for c in ("site_nom", "terr_nom", "nom") if c in gdf.columns), None)
        if source is not None:
            gdf = gdf.assign(name=gdf[source])
    if "site_id" in gdf.columns:
        gdf = gdf.rename(columns={"site_id": "zae_site_id"})
    return _finish(gdf, territory, ids=ids, name="zae", clip=clip)


def sites_from_parcels(
    parcels: gpd.GeoDataFrame, territory: Territory, *, clip: bool = False
) -> gpd.GeoDataFrame:
    """Candidate sites from cadastre parcels (API Carto, cadastre Etalab, Parcellaire Express).

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcel polygons with a CRS; the id is ``idu`` (API Carto) or ``id`` (Etalab) when
        unique, else ``P000001``….
    territory : Territory
        Parcels that do not touch the perimeter are dropped.
    clip : bool
        Cut parcels along the perimeter.

    Returns
    -------
    GeoDataFrame
        The parcels with the site columns.
    """
    gdf = _prepare_input(parcels, territory, "parcels")
    ids = _pick_ids(gdf, ("idu", "id", "id_parcelle"), "P")
    if "site_id" in gdf.columns:
        gdf = gdf.drop(columns="site_id")
    return _finish(gdf, territory, ids=ids, name="parcels", clip=clip)


def sites_from_file(
    path: str | Path,
    territory: Territory,
    *,
    id_column: str | None = None,
    layer: str | None = None,
    clip: bool = False,
) -> gpd.GeoDataFrame:
    """Candidate sites from any vector file (GeoPackage, GeoJSON, Shapefile, GeoParquet).

    Parameters
    ----------
    path : str or Path
        File to read; it must declare its CRS. Or a PostGIS table, view or query
        (``"postgresql:///?service=sig&table=zae.site_eco"``, see :mod:`layers.postgis`):
        only the rows within the territory's extent are read.
    territory : Territory
        Sites are reprojected to its CRS; those that do not touch the perimeter are dropped.
    id_column : str, optional
        Column of unique site ids (default: ``site_id``/``id`` when unique, else
        ``F000001``…).
    layer : str, optional
        Layer of a multi-layer file.
    clip : bool
        Cut sites along the perimeter.

    Returns
    -------
    GeoDataFrame
        The file's features with the site columns.

    Raises
    ------
    DataSourceError
        The file is missing or unreadable.
    CRSError
        The file has no CRS.
    SchemaError
        ``id_column`` is missing or not unique.
    """
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise ArgumentError(f"path must be the name of a vector file, got {path!r}.")
    from layers.postgis import is_postgis_url, read_postgis

    if is_postgis_url(path):
        # Only the rows that touch the territory's extent cross the network.
        area = shapely.envelope(territory.perimeter)
        gdf = read_postgis(str(path), mask=area, crs=territory.crs, name="sites")
        label = gdf.attrs["postgis"]["url"]
        gdf.attrs = {}
        return _finish_file_sites(gdf, territory, label, id_column=id_column, clip=clip)
    p = Path(path)
    try:
        found = p.is_file()
    except OSError as exc:  # a name too long for the file system …
        raise DataSourceError(f"sites file {str(p)[:80]!r}…: {exc.strerror or exc}.") from exc
    if not found:
        what = "is a folder, not a file" if p.is_dir() else "not found"
        raise DataSourceError(f"sites file {what}: {p}.")
    try:
        if p.suffix.lower() == ".parquet":
            gdf = gpd.read_parquet(p)
        else:
            layer = pick_layer(p, layer=layer, prefer=CNIG_SITE_LAYERS, what="sites")
            gdf = gpd.read_file(p, layer=layer) if layer else gpd.read_file(p)
    except (SchemaError, ArgumentError):
        raise
    except Exception as exc:  # pyogrio/arrow raise many types; report them as one
        raise DataSourceError(f"cannot read sites file {p}: {exc}") from exc
    return _finish_file_sites(gdf, territory, str(p), id_column=id_column, clip=clip)


def _finish_file_sites(
    gdf: gpd.GeoDataFrame,
    territory: Territory,
    label: str,
    *,
    id_column: str | None,
    clip: bool,
) -> gpd.GeoDataFrame:
    name = Path(label).name
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise SchemaError(f"{name}: no geometry column; a sites file needs polygons or points.")
    usable = ~(gdf.geometry.isna() | gdf.geometry.is_empty)
    if not usable.any():
        raise GeometryError(
            f"{name}: {'no feature' if len(gdf) == 0 else 'only empty geometries'}: "
            "no candidate site to score."
        )
    gdf = _prepare_input(gdf, territory, label)
    if id_column is None and "site_id" in gdf.columns:
        id_column = "site_id"  # the file's own ids: refuse duplicates rather than renumber
    if id_column is not None:
        if id_column not in gdf.columns:
            raise SchemaError(
                f"{label}: no column {id_column!r} (columns: {', '.join(map(str, gdf.columns))})."
            )
        values = gdf[id_column]
        if values.isna().any():
            raise SchemaError(
                f"{name}: column {id_column!r} has {int(values.isna().sum())} missing id(s)."
            )
        if not values.is_unique:
            dup = values[values.duplicated()].astype(str).unique()[:5].tolist()
            raise SchemaError(
                f"{name}: site ids in column {id_column!r} repeat (e.g. {dup}); each site "
                "needs its own id."
            )
        ids = gdf[id_column].to_numpy()
    else:
        ids = _pick_ids(gdf, ("site_id", "id"), "F")
    if "site_id" in gdf.columns:
        gdf = gdf.drop(columns="site_id")
    out = _finish(gdf, territory, ids=ids, name=name, clip=clip)
    if len(out) == 0:
        raise GeometryError(
            f"{name}: none of its {len(gdf)} site(s) lies in {territory.name}: is it a file "
            "of another area, or is its declared CRS wrong?"
        )
    return out


def auto_cell_size(
    territory: Territory,
    *,
    n_sites: int = 800,
    shape: Literal["hex", "square"] = "hex",
    step_m: float = 100.0,
    min_m: float = 250.0,
) -> float:
    """Cell size giving about ``n_sites`` cells over the territory, rounded to ``step_m``.

    A first-look siting map stays readable (and its HTML under 3 MB) with about a thousand
    cells once the cells cut by the outline are counted, whatever the size of the territory:
    1 km hexagons for the Grand Compiégnois (758 km²), 1.6 km for the Pays de Châlons.

    Parameters
    ----------
    territory : Territory
        Study area (its perimeter's area, m², in the projected CRS).
    n_sites : int
        Target number of cells.
    shape : {"hex", "square"}
        Cell shape: a hexagon of flat-to-flat width s covers (√3/2)·s², a square s².
    step_m, min_m : float
        Rounding step and smallest size, metres.

    Returns
    -------
    float
        Cell size in metres.
    """
    factor = math.sqrt(3) / 2 if shape == "hex" else 1.0
    raw = math.sqrt(float(shapely.area(territory.perimeter)) / (n_sites * factor))
    return max(min_m, round(raw / step_m) * step_m)


def parse_sites_spec(spec: str) -> Callable[[Territory], gpd.GeoDataFrame]:
    """Turn a command-line sites option into a function of the territory.

    Parameters
    ----------
    spec : str
        ``"grid:500"`` or ``"square:500"`` (square cells of 500 m), ``"hex:auto"`` (about a
        thousand hexagons, see :func:`auto_cell_size`), ``"hex:1000"`` (hexagons
        1000 m flat to flat), a path to a vector file (``"zones.gpkg"``, also
        ``"file:zones.gpkg"``) or a PostGIS table, view or query
        (``"postgresql:///?service=sig&table=zae.site_eco"``).

    Returns
    -------
    callable
        ``f(territory) -> GeoDataFrame`` of candidate sites.

    Raises
    ------
    ArgumentError
        Unreadable specification (the message lists the accepted forms).
    """
    if not isinstance(spec, str):
        raise ArgumentError(f"sites option must be text, got {type(spec).__name__}.")
    from layers.postgis import is_postgis_url

    text = spec.strip()
    if is_postgis_url(text):

        def read_table(territory: Territory) -> gpd.GeoDataFrame:
            return sites_from_file(text, territory)

        return read_table
    kind, sep, arg = text.partition(":")
    kind = kind.lower()
    if sep and kind in ("grid", "square", "hex"):
        grid_shape: Literal["hex", "square"] = "hex" if kind == "hex" else "square"
        auto = arg.strip().lower() == "auto"
        try:
            size = float("nan") if auto else float(arg.lower().removesuffix("m"))
        except ValueError:
            size = float("nan")
        if not auto and not (math.isfinite(size) and size > 0):
            raise ArgumentError(
                f"bad sites option {spec!r}: the cell size must be a positive number of metres "
                "or 'auto' (e.g. grid:500, hex:1000, hex:auto)."
            )

        def make_grid(territory: Territory) -> gpd.GeoDataFrame:
            cell = auto_cell_size(territory, shape=grid_shape) if auto else size
            return grid_sites(territory, cell_size_m=cell, shape=grid_shape)

        return make_grid
    path = arg if sep and kind == "file" else text
    layer: str | None = None
    if Path(path).suffix.lower() not in _VECTOR_SUFFIXES:
        # FILE:LAYER picks the layer of a multi-layer file (zones.gpkg:site_eco)
        head, colon, tail = path.rpartition(":")
        if colon and Path(head).suffix.lower() in _VECTOR_SUFFIXES and "/" not in tail:
            path, layer = head, tail
    if Path(path).suffix.lower() in _VECTOR_SUFFIXES:
        if not Path(path).exists():  # said at once, not after the layers are loaded
            raise DataSourceError(f"sites file not found: {path}.")

        def read(territory: Territory) -> gpd.GeoDataFrame:
            return sites_from_file(path, territory, layer=layer)

        return read
    raise ArgumentError(
        f"bad sites option {spec!r}: use hex:auto, grid:<metres>, square:<metres>, "
        "hex:<metres> or a vector file (.gpkg, .geojson, .shp, .parquet, .fgb; FILE:LAYER for "
        "one layer of a GeoPackage)."
    )

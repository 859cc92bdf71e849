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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.crs import check_projected, require_crs, to_crs
from layers.errors import DataSourceError, GeometryError, SchemaError
from layers.geometry import repair_geometries

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
    raise SchemaError(
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
            # Vectorised intersections of the candidate pairs, then the largest piece per site.
            area = shapely.area(shapely.intersection(sgeoms[s_idx], cgeoms[c_idx]))
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
    if not cell_size_m > 0:
        raise GeometryError(f"cell_size_m must be a positive number of metres, got {cell_size_m}.")
    if shape not in ("hex", "square"):
        raise SchemaError(f"shape must be 'hex' or 'square', got {shape!r}.")
    perimeter = territory.perimeter
    if perimeter is None or shapely.is_empty(perimeter):
        raise GeometryError(f"territory {territory.id!r} has an empty perimeter.")
    bounds = territory.bounds
    n_est = (bounds[2] - bounds[0]) * (bounds[3] - bounds[1]) / cell_size_m**2
    if n_est > 5_000_000:
        raise GeometryError(
            f"a {cell_size_m:g} m grid over {territory.name} would have about {n_est:,.0f} cells; "
            "choose a larger cell size."
        )
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


def _prepare_input(gdf: gpd.GeoDataFrame, territory: Territory, name: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise SchemaError(f"{name} must be a GeoDataFrame, got {type(gdf).__name__}.")
    require_crs(gdf, name)
    out = to_crs(gdf, territory.crs, name)
    check_projected(out, name)
    return out


def _pick_ids(gdf: gpd.GeoDataFrame, candidates: tuple[str, ...], prefix: str) -> Any:
    for column in candidates:
        if column in gdf.columns and gdf[column].notna().all() and gdf[column].is_unique:
            return gdf[column].to_numpy()
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
    from layers.postgis import is_postgis_url, read_postgis

    if is_postgis_url(path):
        # Only the rows that touch the territory's extent cross the network.
        area = shapely.envelope(territory.perimeter)
        gdf = read_postgis(str(path), mask=area, crs=territory.crs, name="sites")
        label = gdf.attrs["postgis"]["url"]
        gdf.attrs = {}
        return _finish_file_sites(gdf, territory, label, id_column=id_column, clip=clip)
    p = Path(path)
    if not p.exists():
        raise DataSourceError(f"sites file not found: {p}.")
    try:
        if p.suffix.lower() == ".parquet":
            gdf = gpd.read_parquet(p)
        else:
            gdf = gpd.read_file(p, layer=layer) if layer else gpd.read_file(p)
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
    gdf = _prepare_input(gdf, territory, label)
    if id_column is not None:
        if id_column not in gdf.columns:
            raise SchemaError(
                f"{label}: no column {id_column!r} (columns: {', '.join(map(str, gdf.columns))})."
            )
        if not gdf[id_column].is_unique or gdf[id_column].isna().any():
            raise SchemaError(f"{label}: column {id_column!r} has missing or duplicate values.")
        ids = gdf[id_column].to_numpy()
    else:
        ids = _pick_ids(gdf, ("site_id", "id"), "F")
    if "site_id" in gdf.columns:
        gdf = gdf.drop(columns="site_id")
    return _finish(gdf, territory, ids=ids, name=Path(label).name, clip=clip)


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
    SchemaError
        Unreadable specification (the message lists the accepted forms).
    """
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
        if not auto and not size > 0:
            raise SchemaError(
                f"bad sites option {spec!r}: the cell size must be a positive number of metres "
                "or 'auto' (e.g. grid:500, hex:1000, hex:auto)."
            )

        def make_grid(territory: Territory) -> gpd.GeoDataFrame:
            cell = auto_cell_size(territory, shape=grid_shape) if auto else size
            return grid_sites(territory, cell_size_m=cell, shape=grid_shape)

        return make_grid
    path = arg if sep and kind == "file" else text
    if Path(path).suffix.lower() in (".gpkg", ".geojson", ".json", ".shp", ".parquet", ".fgb"):

        def read(territory: Territory) -> gpd.GeoDataFrame:
            return sites_from_file(path, territory)

        return read
    raise SchemaError(
        f"bad sites option {spec!r}: use grid:<metres>, square:<metres>, hex:<metres> or a "
        "vector file (.gpkg, .geojson, .shp, .parquet, .fgb)."
    )

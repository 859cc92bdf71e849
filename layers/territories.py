"""Territories: a perimeter, its member communes and EPCI, a name and a projected CRS."""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.crs import LAMBERT93, check_projected, crs_for_departement, require_crs
from layers.errors import (
    ArgumentError,
    DataSourceError,
    GeometryError,
    SchemaError,
    TerritoryError,
    UnknownTerritoryError,
)
from layers.geometry import repair_geometries
from layers.plausibility import check_in_france, pick_layer
from layers.postgis import is_postgis_url

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = ["Preset", "Territory", "normalize_text", "presets", "suggest", "territory"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Territory:
    """A study area: perimeter, member communes and EPCI, in a projected CRS.

    Build one with :func:`layers.territory`; the constructor is for code that already has
    the pieces.

    Attributes
    ----------
    id : str
        Preset id (``"grand-compiegnois"``) or an id derived from the input.
    name : str
        Human-readable name.
    crs : pyproj.CRS
        Projected CRS (metres) of every computation on this territory: EPSG:2154 in
        metropolitan France, the official UTM CRS overseas.
    perimeter : shapely geometry
        Outline of the territory, in ``crs``.
    communes : GeoDataFrame
        Member communes in ``crs``: ``insee, nom, epci_siren, epci_nom, dep, reg,
        population, geometry`` (may be empty for a territory made from a bare boundary).
    epci : GeoDataFrame
        Member EPCI in ``crs``: ``siren, nom, type, population, n_communes, geometry``.
    """

    id: str
    name: str
    crs: CRS
    perimeter: BaseGeometry
    communes: gpd.GeoDataFrame = field(repr=False)
    epci: gpd.GeoDataFrame = field(repr=False)
    # Shapes derived from the perimeter, by (kind, margin in metres): the perimeter never
    # changes (frozen, and shapely geometries are immutable), and every layer of a study
    # clips to the same grown perimeter, a buffer that takes tens of milliseconds.
    _derived: dict[tuple[str, float], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        check_projected(gpd.GeoSeries([], crs=self.crs), f"territory {self.id!r}")

    @classmethod
    def from_perimeter(
        cls,
        perimeter: BaseGeometry,
        *,
        crs: CRS | str,
        name: str = "Zone d'étude",
        id: str = "zone",
    ) -> Territory:
        """Make a territory from a bare outline (no member communes).

        Parameters
        ----------
        perimeter : shapely geometry
            Outline, in ``crs``.
        crs : pyproj.CRS or str
            Projected CRS of ``perimeter`` (metres).
        name, id : str
            Name and id of the territory.
        """
        crs = CRS.from_user_input(crs)
        empty_c = gpd.GeoDataFrame(
            {c: [] for c in ("insee", "nom", "epci_siren", "epci_nom", "dep", "reg", "population")},
            geometry=[],
            crs=crs,
        )
        empty_e = gpd.GeoDataFrame(
            {c: [] for c in ("siren", "nom", "type", "population", "n_communes")},
            geometry=[],
            crs=crs,
        )
        return cls(id=id, name=name, crs=crs, perimeter=perimeter, communes=empty_c, epci=empty_e)

    @property
    def population(self) -> int:
        """Municipal population of the member communes (INSEE), inhabitants."""
        return int(self.communes["population"].sum())

    @property
    def area_km2(self) -> float:
        """Area of the perimeter, km²."""
        return float(shapely.area(self.perimeter)) / 1e6

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` of the perimeter, metres in ``crs``."""
        b = shapely.bounds(self.perimeter)
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))

    @property
    def departements(self) -> list[str]:
        """Codes of the départements the member communes belong to, sorted."""
        return sorted(self.communes["dep"].dropna().unique().tolist())

    def outline(self) -> gpd.GeoDataFrame:
        """The perimeter as a one-row GeoDataFrame (``id``, ``name``, ``geometry``)."""
        return gpd.GeoDataFrame(
            {"id": [self.id], "name": [self.name]}, geometry=[self.perimeter], crs=self.crs
        )

    def area_with_margin(self, margin_m: float) -> BaseGeometry:
        """The perimeter grown by ``margin_m`` metres (in ``crs``), computed once per margin.

        A polygon for clipping. To select what lies within the margin, :meth:`within_margin`
        is exact and far cheaper: GEOS takes 10–100 ms to grow a perimeter of a few hundred
        vertices by 30 km, and the arcs of the grown polygon fall up to about 0.6 km inside
        the true distance.
        """
        if margin_m <= 0:
            return self.perimeter
        key = ("area", float(margin_m))
        if key not in self._derived:
            self._derived[key] = shapely.buffer(self.perimeter, margin_m, quad_segs=4)
        return self._derived[key]

    def within_margin(self, gdf: gpd.GeoDataFrame, margin_m: float) -> np.ndarray:
        """Positions (sorted) of the rows of ``gdf`` within ``margin_m`` metres of the perimeter.

        Parameters
        ----------
        gdf : GeoDataFrame
            Features in the territory's CRS.
        margin_m : float
            Distance from the perimeter, metres; 0 keeps what touches the territory.

        Returns
        -------
        numpy.ndarray
            Integer positions, ascending, for ``gdf.iloc``.
        """
        if len(gdf) == 0:
            return np.empty(0, dtype=np.intp)
        if margin_m > 0:
            hits = gdf.sindex.query(self.perimeter, predicate="dwithin", distance=margin_m)
        else:
            hits = gdf.sindex.query(self.perimeter, predicate="intersects")
        return np.sort(hits)

    def bbox_lonlat(self, margin_m: float = 0.0) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees (EPSG:4326) around the area plus a margin.

        The box in ``crs`` of the perimeter's bounds grown by the margin, reprojected with
        21 points along each side: it holds everything within ``margin_m`` of the perimeter,
        and is a little larger than the grown perimeter's own box near the corners. It is for
        coarse selections (embedded files, web queries); :meth:`within_margin` is exact.

        Parameters
        ----------
        margin_m : float
            Margin around the perimeter, metres.
        """
        margin = float(max(margin_m, 0.0))
        key = ("bbox_lonlat", margin)
        if key not in self._derived:
            from pyproj import Transformer

            x0, y0, x1, y1 = shapely.bounds(self.perimeter)
            to_lonlat = Transformer.from_crs(self.crs, 4326, always_xy=True)
            w, s, e, n = to_lonlat.transform_bounds(
                x0 - margin, y0 - margin, x1 + margin, y1 + margin, densify_pts=21
            )
            self._derived[key] = (float(w), float(s), float(e), float(n))
        return self._derived[key]

    def __repr__(self) -> str:
        return (
            f"Territory(id={self.id!r}, name={self.name!r}, communes={len(self.communes)}, "
            f"epci={len(self.epci)}, crs={self.crs.to_string()})"
        )


# --------------------------------------------------------------------------------------------
# Building a territory from what users type
# --------------------------------------------------------------------------------------------

_PRESETS_FILE = "territories.toml"
_BOUNDARY_SUFFIXES = {
    ".gpkg",
    ".geojson",
    ".json",
    ".shp",
    ".parquet",
    ".geoparquet",
    ".fgb",
    ".zip",
}


@dataclass(frozen=True)
class Preset:
    """A named territory shipped with foncier (member EPCI given by SIREN)."""

    id: str
    name: str
    epci: tuple[str, ...]
    departements: tuple[str, ...]
    description: str
    profile: str


@lru_cache(maxsize=1)
def presets() -> dict[str, Preset]:
    """Return the preset territories shipped with foncier, by id.

    Returns
    -------
    dict of str to Preset
        The five reference territories (``grand-compiegnois``, ``chalons-en-champagne``,
        ``chartres-metropole``, ``alencon``, ``soissonnais-valois``).
    """
    raw = tomllib.loads((files("layers") / "data" / _PRESETS_FILE).read_text(encoding="utf-8"))
    return {
        t["id"]: Preset(
            id=t["id"],
            name=t["name"],
            epci=tuple(t["epci"]),
            departements=tuple(t["departements"]),
            description=" ".join(t.get("description", "").split()),
            profile=t.get("profile", ""),
        )
        for t in raw["territory"]
    }


def normalize_text(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces ("Compiègne" → "compiegne")."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", ascii_text.lower()).split())


def _code_kind(code: str) -> str:
    """Classify a code: 'siren' (9 digits), 'insee' (5), 'departement' (2-3) or 'other'."""
    c = code.strip().upper()
    if re.fullmatch(r"\d{9}", c):
        return "siren"
    if re.fullmatch(r"(\d{5}|2[AB]\d{3})", c):
        return "insee"
    if re.fullmatch(r"(\d{2}|2[AB]|97[1-8])", c):
        return "departement"
    return "other"


def territory(
    spec: str | Path | Territory | Sequence[str] | None = None,
    *,
    epci: Sequence[str] | None = None,
    communes: Sequence[str] | None = None,
    departements: Sequence[str] | None = None,
    name: str | None = None,
) -> Territory:
    """Build a :class:`Territory` from a preset, codes or a boundary file.

    Parameters
    ----------
    spec : str, path, sequence of str or Territory, optional
        One of: a preset id (``"grand-compiegnois"``, see :func:`presets`); an EPCI SIREN
        (9 digits); a commune INSEE code (5 characters, ``"60159"``, ``"2A004"``); a
        département code (``"60"``, ``"2A"``, ``"974"``); a list of codes of one kind; the
        path of a boundary file (GeoPackage, GeoJSON, Shapefile, GeoParquet) whose union is
        the perimeter; a PostGIS table, view or query whose union is the perimeter
        (``"postgresql:///?service=sig&table=ref.perimetre"``, see :mod:`layers.postgis`);
        or a Territory (returned as is).
    epci, communes, departements : sequence of str, optional
        Codes to combine (their union), for territories that mix kinds of members.
    name : str, optional
        Name to give the territory (default: derived from the members).

    Returns
    -------
    Territory
        Member communes and EPCI in the territory's projected CRS (EPSG:2154 in metropolitan
        France, the official UTM CRS overseas), with its perimeter.

    Raises
    ------
    UnknownTerritoryError
        A preset id, code or name that matches nothing; the message lists close matches
        (accents and case ignored).
    TerritoryError
        A list that mixes kinds of codes, or a territory spanning metropolitan France and an
        overseas département (no common projected CRS).

    Examples
    --------
    A preset, a commune INSEE code, EPCI SIRENs: all offline, on the embedded boundaries.

    >>> t = territory("grand-compiegnois")
    >>> t.name, len(t.epci), len(t.communes), t.crs.to_epsg()
    ('Grand Compiégnois', 4, 77, 2154)
    >>> compiegne = territory("60159")
    >>> compiegne.name, round(compiegne.area_km2, 1)
    ('Compiègne', 53.2)
    """
    if isinstance(spec, Territory):
        return spec
    if spec is not None:
        _check_spec(spec, "territory")
    for key, value in (("epci", epci), ("communes", communes), ("departements", departements)):
        if value is not None:
            _check_spec(value, key)
    codes: dict[str, list[str]] = {
        "siren": [str(c) for c in (epci or [])],
        "insee": [str(c) for c in (communes or [])],
        "departement": [str(c) for c in (departements or [])],
    }
    preset: Preset | None = None
    if spec is not None:
        if isinstance(spec, str) and is_postgis_url(spec):
            return _territory_from_database(spec, name=name)
        if isinstance(spec, Path) or (isinstance(spec, str) and _looks_like_file(spec)):
            return _territory_from_file(Path(spec), name=name)
        items = [spec] if isinstance(spec, str) else [str(s) for s in spec]
        if not items:
            raise TerritoryError("Empty territory specification: give a preset id or codes.")
        if isinstance(spec, str):
            preset = _match_preset(spec)
        if preset is None:
            kinds = {_code_kind(i) for i in items}
            if "other" in kinds:
                bad = next(i for i in items if _code_kind(i) == "other")
                raise UnknownTerritoryError(
                    f"Unknown territory {bad!r}: not a preset id, an EPCI SIREN (9 digits), a "
                    "commune INSEE code (5 characters) or a département code.",
                    suggestions=suggest(bad),
                )
            if len(kinds) > 1:
                raise TerritoryError(
                    f"The list {items!r} mixes kinds of codes ({', '.join(sorted(kinds))}). "
                    "Pass each kind by keyword, e.g. territory(epci=[...], communes=[...]), "
                    "so that the union is explicit."
                )
            codes[kinds.pop()].extend(items)
    if preset is not None:
        codes["siren"].extend(preset.epci)
    if not any(codes.values()):
        raise TerritoryError("Empty territory specification: give a preset id or codes.")
    members = _member_communes(codes)
    tid, tname = _id_and_name(codes, members, preset)
    return _assemble(members, id=tid, name=name or tname)


#: Longest territory text accepted (a path, a name or a list of codes, not a document).
MAX_SPEC_LENGTH = 1_000


def _check_spec(spec: Any, what: str) -> None:
    """Refuse a territory specification of the wrong type or an absurd length."""
    if isinstance(spec, str | Path):
        text = str(spec)
        if len(text) > MAX_SPEC_LENGTH:
            raise UnknownTerritoryError(
                f"Unknown territory: a text of {len(text):,} characters ({text[:30]!r}…) is "
                "neither a preset id, codes nor a file name."
            )
        if "\x00" in text:
            raise UnknownTerritoryError(f"Unknown territory {text[:60]!r}: it holds a NUL byte.")
        return
    if isinstance(spec, Sequence) and not isinstance(spec, bytes):
        bad = [c for c in spec if not isinstance(c, str)]
        if bad:
            raise ArgumentError(
                f"{what}: codes must be text (leading zeros matter: '02', '01004'), got "
                f"{bad[0]!r} ({type(bad[0]).__name__})."
            )
        if sum(len(c) for c in spec) > 100 * MAX_SPEC_LENGTH:
            raise ArgumentError(f"{what}: {len(spec):,} codes is more than a territory holds.")
        return
    hint = f" (as text: '{spec}')" if isinstance(spec, int) and not isinstance(spec, bool) else ""
    raise ArgumentError(
        f"{what} must be a preset id, a code or a list of codes as text, a boundary file or a "
        f"Territory, got {spec!r} ({type(spec).__name__}){hint}."
    )


def _looks_like_file(text: str) -> bool:
    p = Path(text)
    if p.suffix.lower() in _BOUNDARY_SUFFIXES:
        return True
    try:
        return p.is_file()
    except (OSError, ValueError):  # a name the file system refuses is not a file
        return False


def _match_preset(text: str) -> Preset | None:
    key = normalize_text(text)
    for p in presets().values():
        if key in (normalize_text(p.id), normalize_text(p.name)):
            return p
    return None


def _member_communes(codes: dict[str, list[str]]) -> gpd.GeoDataFrame:
    """Rows of the embedded commune table for the union of the given codes (EPSG:4326)."""
    from layers import admin

    frames = []
    if codes["siren"]:
        index = admin.epci_index().set_index("siren")
        sirens = [c.strip() for c in codes["siren"]]
        for siren in sirens:
            if siren not in index.index:
                raise UnknownTerritoryError(
                    f"SIREN {siren} is not an EPCI of the embedded COG (it may be the SIREN of a "
                    "commune, a syndicate or a company, or an EPCI that has since merged).",
                    suggestions=suggest(siren),
                )
        frames.append(admin.load_communes(epci=sirens))
    if codes["insee"]:
        insee = [c.strip().upper() for c in codes["insee"]]
        known = set(admin.commune_index()["insee"])
        for code in insee:
            if code not in known:
                raise UnknownTerritoryError(
                    f"INSEE code {code} is not a commune of the embedded COG (merged communes "
                    "take the code of the new commune; arrondissements of Paris/Lyon/Marseille "
                    "are not communes).",
                    suggestions=suggest(code),
                )
        frames.append(admin.load_communes(insee=insee))
    if codes["departement"]:
        deps = [c.strip().upper().zfill(2) for c in codes["departement"]]
        known_deps = set(admin.departement_index()["code"])
        for dep in deps:
            if dep not in known_deps:
                raise UnknownTerritoryError(
                    f"Département {dep!r} is not in the embedded COG.", suggestions=suggest(dep)
                )
        frames.append(admin.load_communes(departements=deps))
    members = pd.concat(frames, ignore_index=True).drop_duplicates("insee")
    return gpd.GeoDataFrame(members, geometry="geometry", crs=frames[0].crs)


def _id_and_name(
    codes: dict[str, list[str]], members: gpd.GeoDataFrame, preset: Preset | None
) -> tuple[str, str]:
    from layers import admin

    only_epci = not codes["insee"] and not codes["departement"]
    if preset is not None and only_epci and set(codes["siren"]) == set(preset.epci):
        return preset.id, preset.name
    parts: list[str] = []
    names: list[str] = []
    if codes["siren"]:
        idx = admin.epci_index().set_index("siren")
        parts += [f"epci-{s}" for s in codes["siren"]]
        names += [str(idx.loc[s, "nom"]) for s in codes["siren"]]
    if codes["departement"]:
        idx = admin.departement_index().set_index("code")
        deps = [c.strip().upper().zfill(2) for c in codes["departement"]]
        parts += [f"dep-{d}" for d in deps]
        names += [f"{idx.loc[d, 'nom']!s} ({d})" for d in deps]
    if codes["insee"]:
        insee = [c.strip().upper() for c in codes["insee"]]
        parts += [f"com-{c}" for c in insee]
        by_code = members.set_index("insee")["nom"]
        names += [str(by_code.get(c, c)) for c in insee]
    tid = "+".join(parts) if len(parts) <= 3 else f"{parts[0]}+{len(parts) - 1}-autres"
    tname = " + ".join(names) if len(names) <= 3 else f"{names[0]} et {len(names) - 1} autres"
    return tid, tname


def _crs_for(deps: Sequence[str]) -> CRS:
    crs_set = {crs_for_departement(d).to_string() for d in deps}
    if len(crs_set) > 1:
        raise TerritoryError(
            f"The territory spans départements with different projected CRS ({sorted(deps)}): "
            "distances cannot be computed in one CRS. Split it into one territory per "
            "overseas département (or keep to metropolitan France)."
        )
    return CRS.from_user_input(crs_set.pop()) if crs_set else CRS.from_user_input(LAMBERT93)


def _assemble(members: gpd.GeoDataFrame, *, id: str, name: str) -> Territory:
    """Reproject the member communes, dissolve the perimeter and the member EPCI."""
    from layers import admin

    crs = _crs_for(sorted(members["dep"].dropna().unique()))
    communes = members.to_crs(crs).sort_values("insee").reset_index(drop=True)
    geoms = communes.geometry.to_numpy()
    perimeter = _union(geoms)
    with_epci = communes[communes["epci_siren"].notna()]
    epci_rows = []
    if len(with_epci):
        full = admin.epci_index().set_index("siren")
        for siren, group in with_epci.groupby("epci_siren", sort=True):
            row = full.loc[siren]
            epci_rows.append(
                {
                    "siren": siren,
                    "nom": row["nom"],
                    "type": row["type"],
                    "population": int(group["population"].sum()),
                    "n_communes": len(group),
                    "complete": len(group) == int(row["n_communes"]),
                    "geometry": _union(group.geometry.to_numpy()),
                }
            )
    epci = gpd.GeoDataFrame(
        epci_rows or {"siren": [], "nom": [], "type": [], "population": [], "n_communes": []},
        geometry="geometry" if epci_rows else [],
        crs=crs,
    )
    log.info("territory %s: %d communes, %d EPCI, CRS %s", id, len(communes), len(epci), crs)
    return Territory(id=id, name=name, crs=crs, perimeter=perimeter, communes=communes, epci=epci)


def _union(geoms: np.ndarray) -> BaseGeometry:
    """Union of a set of commune polygons, fast path for a valid coverage."""
    try:
        if bool(shapely.coverage_is_valid(geoms)):
            return shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:
        log.debug("coverage check failed; using a plain union")
    return shapely.union_all(shapely.make_valid(geoms))


def _territory_from_file(path: Path, *, name: str | None) -> Territory:
    """A territory whose perimeter is the union of the features of a boundary file."""
    if not path.exists():
        raise UnknownTerritoryError(
            f"Boundary file {str(path)!r} does not exist.", suggestions=suggest(path.stem)
        )
    if path.is_dir():
        raise UnknownTerritoryError(f"Boundary file {str(path)!r} is a folder, not a file.")
    try:
        layer = pick_layer(path, what="boundaries")
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except SchemaError:
        raise
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise DataSourceError(f"Cannot read boundary file {str(path)!r}: {exc}") from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise SchemaError(
            f"Boundary file {str(path)!r} has no geometry (a plain table?): give polygons "
            "(GeoPackage, GeoJSON, Shapefile, GeoParquet)."
        )
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if gdf.empty:
        raise GeometryError(f"Boundary file {str(path)!r} has no feature with a geometry.")
    return _territory_from_frame(gdf, label=f"boundary file {path.name}", id=path.stem, name=name)


def _territory_from_database(url: str, *, name: str | None) -> Territory:
    """A territory whose perimeter is the union of the rows of a PostGIS table or query."""
    from layers.postgis import parse_postgis_url, read_postgis

    src = parse_postgis_url(url)
    gdf = read_postgis(src, name="boundary")
    ident = src.table or "perimetre"
    return _territory_from_frame(gdf, label=f"boundary table {src.label}", id=ident, name=name)


def _territory_from_frame(
    gdf: gpd.GeoDataFrame, *, label: str, id: str, name: str | None
) -> Territory:
    from layers import admin

    require_crs(gdf, label)
    check_in_france(gdf, label)
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        raise GeometryError(
            f"{label} has no polygon ({', '.join(gdf.geom_type.unique())}): a territory is an area."
        )
    gdf = repair_geometries(gdf, name=label)
    outline_ll = _union(gdf.to_crs(4326).geometry.to_numpy())
    # Member communes: those whose representative point lies inside the boundary.
    deps_ll = admin.load_departements()
    touched = deps_ll.loc[shapely.intersects(deps_ll.geometry.to_numpy(), outline_ll), "code"]
    candidates = admin.load_communes(departements=list(touched))
    # a few communes have no outline in the source (kept in the table, never drawn)
    candidates = candidates[~candidates.geometry.isna() & ~candidates.geometry.is_empty]
    inside = shapely.contains_xy(
        outline_ll,
        *shapely.get_coordinates(shapely.point_on_surface(candidates.geometry.to_numpy())).T,
    )
    members = candidates[inside]
    deps = sorted(members["dep"].unique()) if len(members) else []
    crs = _crs_for(deps)
    perimeter = _union(gdf.to_crs(crs).geometry.to_numpy())
    if len(members):
        t = _assemble(members, id=id, name=name or id)
        return Territory(
            id=t.id, name=t.name, crs=t.crs, perimeter=perimeter, communes=t.communes, epci=t.epci
        )
    return Territory.from_perimeter(perimeter, crs=crs, name=name or id, id=id)


@lru_cache(maxsize=1)
def _suggestion_index() -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Searchable texts of presets, EPCI, départements and communes, and their words."""
    from layers import admin

    entries: list[tuple[str, str]] = []  # (normalised searchable text, label)
    for p in presets().values():
        entries.append(
            (f"{normalize_text(p.id)} {normalize_text(p.name)}", f"{p.id} — {p.name} (preset)")
        )
    for row in admin.epci_index().itertuples(index=False):
        entries.append(
            (f"{row.siren} {normalize_text(str(row.nom))}", f"{row.siren} — {row.nom} (EPCI)")
        )
    for row in admin.departement_index().itertuples(index=False):
        entries.append(
            (f"{row.code} {normalize_text(str(row.nom))}", f"{row.code} — {row.nom} (département)")
        )
    communes = admin.commune_index()
    for insee, nom, dep in zip(communes["insee"], communes["nom"], communes["dep"], strict=True):
        entries.append((f"{insee} {normalize_text(str(nom))}", f"{insee} — {nom} (commune, {dep})"))

    words: dict[str, list[str]] = {}
    for text_, label in entries:
        for w in text_.split():
            if len(w) > 3:
                words.setdefault(w, []).append(label)
    return entries, words


def suggest(text: str, *, limit: int = 8) -> list[str]:
    """Close matches for ``text`` among presets, EPCI, communes and départements.

    Accents, case and punctuation are ignored: ``"compiegne"`` finds the preset
    ``grand-compiegnois``, the EPCI of the Région de Compiègne and the commune of Compiègne.

    Parameters
    ----------
    text : str
        What the user typed (id, code or name).
    limit : int
        Maximum number of suggestions.

    Returns
    -------
    list of str
        Human-readable suggestions such as ``"60159 — Compiègne (commune, 60)"``.
    """
    key = normalize_text(str(text))
    if not key or len(key) > 100:  # no close match for a paragraph, and no time spent on it
        return []
    entries, words = _suggestion_index()

    tokens = key.split()
    # 1. every token is a word prefix of the entry ("compiegne" ⊂ "compiegnois")
    hits = [
        label
        for text_, label in entries
        if all(any(w.startswith(t) for w in text_.split()) for t in tokens)
    ]
    # 2. then fuzzy matches on whole texts and single words (typos)
    if len(hits) < limit:
        for w in difflib.get_close_matches(key, list(words), n=limit, cutoff=0.8):
            hits.extend(words[w])
        # 3. several words, each a prefix of or close to a word of the entry
        # ("grand-compiegnoiss": "grand" a prefix, "compiegnoiss" a typo of "compiegnois")
        long_tokens = [t for t in tokens if len(t) > 3]  # "en", "de", "la" say nothing
        if len(long_tokens) > 1:
            matched: set[str] | None = None
            for t in long_tokens:
                near = set(difflib.get_close_matches(t, list(words), n=20, cutoff=0.8))
                labels = {
                    label for w, ls in words.items() if w in near or w.startswith(t) for label in ls
                }
                matched = labels if matched is None else matched & labels
            hits.extend(sorted(matched or ()))
    seen: dict[str, None] = {}
    for label in hits:
        seen.setdefault(label, None)
    ranked = sorted(seen, key=lambda s: 0 if "(preset)" in s else 1 if "(EPCI)" in s else 2)
    return ranked[:limit]

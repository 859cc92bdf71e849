"""The layer registry: every layer foncier knows, declared once.

One :class:`LayerEntry` per layer holds what the rest of the project needs to know about it:
its name (the word profiles use), French label, geometry kind, schema (required columns),
coverage (where the layer has data), loader, map style, source, attribution, licence and
date, and how it loads (embedded, online, from a file). Everything else is derived from
:data:`LAYERS`: the catalogue (:mod:`layers.catalog`), the schemas and named-site kinds of
:mod:`layers.infrastructure`, the Overpass filters of :mod:`layers.osm`, the layer names a
profile may use, the map styles and legend (:mod:`maps.styles`), the layers drawn on every
siting map, and the key distances of exports and site sheets.

Every loader is called the same way, through :meth:`LayerEntry.load`::

    LAYERS["ports"].load(territory, source=None, online=False, margin_m=None)

and is named here by its import path (``"layers.infrastructure:load_ports"``), imported when
first used, so that ``import layers`` stays light and loader modules can read the registry.
Each loader function takes the territory first and the keywords ``source`` and (for layers
read around the territory) ``margin_m``.

Adding a layer: add its entry to :data:`LAYERS`, and its loader if none of the existing
ones fits (see the README's "Contributing" section).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from layers.errors import ArgumentError, DataSourceError

if TYPE_CHECKING:
    import geopandas as gpd

    from layers.raster import Raster
    from layers.territories import Territory

__all__ = [
    "FRANCE",
    "LAYERS",
    "METROPOLE",
    "OVERSEAS_DEPARTEMENTS",
    "SCHEMAS",
    "Coverage",
    "GeometryKind",
    "KeyDistance",
    "LayerEntry",
    "Style",
    "get_layer",
    "layer_names",
]

GeometryKind = Literal["point", "line", "polygon", "raster"]
Shape = Literal["circle", "square", "diamond", "triangle", "star"]
CoverageStatus = Literal["full", "partial", "none"]

#: Codes of the overseas départements (DROM) of the embedded administrative data.
OVERSEAS_DEPARTEMENTS: frozenset[str] = frozenset({"971", "972", "973", "974", "976"})


# --------------------------------------------------------------------------------------------
# Coverage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Where a layer has data, by département.

    A territory outside the coverage of a layer is "hors couverture": no feature there means
    "no data", not "nothing near". Layers read from a file the user gives cover what the file
    covers; their coverage is the whole country.

    Attributes
    ----------
    label : str
        French description shown to users (``"France métropolitaine"``).
    only : frozenset of str or None
        Département codes covered (INSEE, ``"2A"``, ``"974"`` …); None for every département
        not in ``exclude``.
    exclude : frozenset of str
        Département codes not covered.
    gaps : str
        What the data lacks inside its coverage, in French, when it is known to be incomplete
        there (the tolled interchanges only: the free junctions are missing). Empty for data
        complete where it covers. A territory in a département with gaps is covered
        ``"partial"``; a distance criterion that finds no feature within its reach there is
        skipped as "non couvert hors ligne (<gaps>)" rather than read as "nothing near".
    gaps_in : frozenset of str or None
        Départements where ``gaps`` applies; None for every covered département.
    nearest_note : str
        Said after the name of the nearest feature when the territory is in a département
        with gaps (``"le plus proche des échangeurs à péage"``).
    """

    label: str
    only: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    gaps: str = ""
    gaps_in: frozenset[str] | None = None
    nearest_note: str = ""

    def covers(self, departement: str) -> bool:
        """True when the layer has data in this département (INSEE code)."""
        code = str(departement)
        return code not in self.exclude and (self.only is None or code in self.only)

    def has_gaps(self, departement: str) -> bool:
        """True when the layer covers this département but is known to be incomplete there."""
        code = str(departement)
        return (
            bool(self.gaps) and self.covers(code) and (self.gaps_in is None or code in self.gaps_in)
        )

    def gaps_for(self, territory: Territory) -> str:
        """The ``gaps`` text when one of the territory's départements has them, else ``""``."""
        return self.gaps if any(self.has_gaps(c) for c in _departements_of(territory)) else ""

    def status(self, territory: Territory) -> CoverageStatus:
        """How much of a territory the layer covers.

        Parameters
        ----------
        territory : Territory
            Study area; its départements are those of its member communes, or, for a
            territory made from a bare boundary, those its perimeter intersects.

        Returns
        -------
        {"full", "partial", "none"}
            ``"full"`` when every département of the territory is covered with no known gap,
            ``"none"`` when none is covered, ``"partial"`` otherwise (some départements not
            covered, or data known to be incomplete in one of them: see ``gaps``).
        """
        codes = _departements_of(territory)
        covered = [self.covers(c) for c in codes]
        if not any(covered):
            return "none"
        if all(covered) and not any(self.has_gaps(c) for c in codes):
            return "full"
        return "partial"


def _departements_of(territory: Territory) -> list[str]:
    codes = territory.departements
    if codes:
        return codes
    # A territory drawn from a boundary file has no member communes: use the embedded
    # départements its perimeter touches.
    import geopandas as gpd
    import shapely

    from layers.admin import load_departements

    deps = load_departements()
    outline = gpd.GeoSeries([territory.perimeter], crs=territory.crs).to_crs(deps.crs).iloc[0]
    hits = shapely.intersects(deps.geometry.to_numpy(), outline)
    return sorted(deps.loc[hits, "code"].astype(str))


#: Every département, metropolitan and overseas.
FRANCE = Coverage("France entière")
#: Metropolitan France, Corsica included.
METROPOLE = Coverage("France métropolitaine", exclude=OVERSEAS_DEPARTEMENTS)
#: The national rail network of SNCF Réseau: mainland France (Corsica's railway is not part of
#: it). The overseas départements have no railway at all: no station there is a true zero.
RFN = Coverage(
    "réseau ferré national (France continentale ; aucun chemin de fer outre-mer : zéro réel)",
    exclude=frozenset({"2A", "2B"}),
)
#: The embedded SNCF Réseau lines (Corsica's lines included); no railway overseas.
RAIL_LINES = Coverage(
    "lignes exploitées du réseau ferré (France métropolitaine et Corse ; aucun chemin de fer "
    "outre-mer : zéro réel)"
)
#: The embedded industrial sidings and port tracks: an SNCF extract of Nord-Pas-de-Calais.
SIDINGS_NORD = Coverage(
    "embranchements et voies de port : Nord et Pas-de-Calais seulement (extrait SNCF) ; "
    "ailleurs OpenStreetMap en ligne",
    only=frozenset({"59", "62"}),
)
#: The conceded (tolled) motorway network: metropolitan France, tolled interchanges only.
TOLL_NETWORK = Coverage(
    "échangeurs à péage du réseau concédé (France métropolitaine) ; les échangeurs gratuits "
    "viennent d'OpenStreetMap en ligne",
    exclude=OVERSEAS_DEPARTEMENTS,
    gaps="échangeurs à péage seulement ; les échangeurs gratuits (voies express, autoroutes "
    "non concédées) viennent d'OpenStreetMap en ligne",
    nearest_note="le plus proche des échangeurs à péage",
)
#: The embedded OSM selection of navigable waterways: metropolitan France, with two known
#: holes checked in the source (no feature at all in Seine-Maritime; nothing of Dunkerque's
#: port canals): the départements around them are "partial".
WATERWAYS = Coverage(
    "voies navigables de France métropolitaine (sélection OpenStreetMap)",
    exclude=OVERSEAS_DEPARTEMENTS,
    gaps="sélection OpenStreetMap sans la Seine en aval d'Alizay (Rouen, Le Havre, estuaire, "
    "Grand Canal du Havre, canal de Tancarville) ni les canaux du port de Dunkerque ; "
    "OpenStreetMap en ligne les a",
    gaps_in=frozenset({"14", "27", "59", "76"}),
    nearest_note="la plus proche de la sélection hors ligne, incomplète dans ce département",
)
#: RTE (mainland France) and the EDF SEI source substations of La Réunion.
POWER_GRIDS = Coverage(
    "France continentale (RTE) et La Réunion (EDF SEI)",
    exclude=(OVERSEAS_DEPARTEMENTS - {"974"}) | {"2A", "2B"},
)
#: The RTE transmission network: mainland France (Corsica and overseas have their own).
RTE_NETWORK = Coverage(
    "réseau de transport RTE (France continentale)",
    exclude=OVERSEAS_DEPARTEMENTS | {"2A", "2B"},
)
#: Départements where the curated named sites lie: those of the reference territories and
#: those their named projects reach into (canal Seine-Nord Europe, Roissy-Picardie link).
REFERENCE_TERRITORIES = Coverage(
    "territoires de référence (Aisne, Eure-et-Loir, Marne, Nord, Oise, Orne, Sarthe, Val-d'Oise)",
    only=frozenset({"02", "28", "51", "59", "60", "61", "72", "95"}),
)
#: Layers read from a file the user gives: the file decides.
GIVEN = Coverage("selon les données fournies (France entière)")


# --------------------------------------------------------------------------------------------
# Style, key distances, entry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How a layer is drawn (the geometry kind and label come from its entry).

    Attributes
    ----------
    color : str
        Main colour (CSS hex): icon fill, line colour or polygon outline.
    fill_color : str or None
        Polygon fill colour (default: ``color``).
    fill_opacity : float
        Polygon fill opacity, 0..1.
    weight : float
        Line or outline width, CSS pixels.
    dash : str or None
        SVG dash pattern of lines and outlines (``"6 4"``), ``None`` for solid.
    shape : str
        Point icon shape: circle, square, diamond, triangle or star.
    glyph : str
        One or two characters drawn on the point icon.
    """

    color: str
    fill_color: str | None = None
    fill_opacity: float = 0.25
    weight: float = 2.0
    dash: str | None = None
    shape: Shape = "circle"
    glyph: str = ""


@dataclass(frozen=True)
class KeyDistance:
    """A nearest-feature distance that exports and site sheets report for this layer.

    Attributes
    ----------
    id : str
        Short id of the figure (``"rail_freight"``).
    label : str
        French label, singular (``"Gare fret SNCF"``).
    sheet : bool
        Shown among the key figures of a site sheet.
    cnig_name, cnig_distance : str or None
        Fields of the CNIG ``site_eco`` table it fills (name of the nearest feature and
        distance in metres), or None.
    """

    id: str
    label: str
    sheet: bool = True
    cnig_name: str | None = None
    cnig_distance: str | None = None


@dataclass(frozen=True)
class LayerEntry:
    """One layer: what it holds, where it has data, how it loads and how it is drawn.

    Attributes
    ----------
    name : str
        Name used by profiles, ``sources=`` mappings and maps (``"rail_freight_stations"``).
    label : str
        French label, plural (legend, layer control, listings).
    description : str
        What the layer holds (listings).
    theme : str
        ``infrastructure``, ``population``, ``constraint``, ``terrain``, ``land`` or
        ``territory``.
    kind : {"point", "line", "polygon", "raster"}
        Geometry kind of the features (``raster`` for a grid).
    schema : mapping of str to str
        Required columns (besides ``geometry``) → description with units.
    coverage : Coverage
        Where the layer has data as loaded by default: its embedded part when it has one
        (offline), else its online or file source.
    online_coverage : Coverage or None
        Where the layer has data when loaded online, when that differs (e.g. RTE substations
        embedded for mainland France, OpenStreetMap substations everywhere).
    loader : str
        Import path ``"module:function"`` of the loader. It is called as
        ``loader(territory, source=..., margin_m=...)`` (``margin_m`` only when ``margin``);
        a generic loader, one with a ``layer`` parameter, is also given the entry's name.
    style : Style
        How the layer is drawn on maps and in QGIS styles.
    source : str
        Where the data comes from (listings).
    attribution : str
        Text to print on a map that shows the layer.
    licence : str
        Licence of the data.
    date : str
        Date of the embedded snapshot (YYYY-MM-DD), or how the date is known for online and
        file sources.
    offline : bool
        True when the layer loads entirely from the data shipped with foncier.
    needs : str
        ``"file"`` when a file must be given (no default source), ``"file or 'osm'"`` when a
        file or the online source is needed, ``""`` otherwise.
    hint : str
        What to give when the layer has no default source (error messages).
    online_source : str or None
        Source asked for when loading online with no source given (None: the loader's own
        default).
    offline_source : str or None
        Source of the embedded part of a layer that is complete only online (``"named"``).
    margin : bool
        True when the layer is read around the territory, grown by a margin (infrastructure,
        labour pool); False when clipped to the perimeter.
    on_map : bool
        Drawn on siting maps when loaded.
    map_context : bool
        Loaded and drawn on every siting map, even when the profile does not use it.
    osm_filters : tuple of str
        Overpass QL statements selecting the layer's OpenStreetMap features.
    osm_mapper : str or None
        Import path of the function mapping OSM features to the layer's schema.
    osm_tag : (str, tuple of str) or None
        For a layer of plain tagged OSM features, the tag key and the values kept
        (``("highway", ("bus_stop",))``): the Overpass filter and the mapping follow from
        it, with the loader :func:`layers.infrastructure.load_osm_layer`; the schema's
        columns beyond ``id, name, kind, source, date`` are read from the tags of the same
        name.
    named_kinds : tuple of str
        Kinds of named sites (``layers/data/named_sites.csv``) that this layer also shows.
    precision : str
        How precisely features are placed: ``exact`` (mapped geometry), ``point`` (verified
        coordinates) or ``commune`` (known only at its commune: the geometry is the commune
        area); a layer with a ``precision`` column tells it feature by feature.
    key_distance : KeyDistance or None
        Nearest-feature figure reported by exports and site sheets.
    """

    name: str
    label: str
    description: str
    theme: str
    kind: GeometryKind
    schema: Mapping[str, str]
    coverage: Coverage
    loader: str
    style: Style
    source: str
    attribution: str
    licence: str
    date: str
    offline: bool = False
    needs: str = ""
    hint: str = ""
    online_source: str | None = None
    offline_source: str | None = None
    margin: bool = False
    on_map: bool = True
    map_context: bool = False
    osm_filters: tuple[str, ...] = ()
    osm_mapper: str | None = None
    osm_tag: tuple[str, tuple[str, ...]] | None = None
    named_kinds: tuple[str, ...] = ()
    precision: str = "exact"
    key_distance: KeyDistance | None = None
    online_coverage: Coverage | None = None

    def coverage_when(self, *, online: bool) -> Coverage:
        """Where the layer has data, loaded offline (default) or online."""
        if online and self.online_coverage is not None:
            return self.online_coverage
        return self.coverage

    @property
    def embedded(self) -> bool:
        """True when the layer, or part of it, loads without the network or a file."""
        return self.offline or self.offline_source is not None

    @property
    def online(self) -> bool:
        """True when the layer can be loaded from the web with no file given."""
        return not self.offline and self.needs != "file"

    @property
    def overpass_filters(self) -> tuple[str, ...]:
        """Overpass QL statements of the layer: ``osm_filters``, or made from ``osm_tag``."""
        if self.osm_filters or self.osm_tag is None:
            return self.osm_filters
        key, values = self.osm_tag
        if len(values) == 1:
            return (f'nwr["{key}"="{values[0]}"]',)
        return (f'nwr["{key}"~"^({"|".join(values)})$"]',)

    @property
    def nearest_layers(self) -> tuple[str, ...]:
        """Layers searched for this layer's nearest feature (exports, site sheets).

        The layer itself, then the named sites of its kinds (``"named_sites:port"``), which
        stand in when the layer is not loaded.
        """
        return (self.name, *(f"named_sites:{kind}" for kind in self.named_kinds))

    def load_function(self) -> Callable[..., gpd.GeoDataFrame | Raster]:
        """The loader function (imported on first use)."""
        return _resolve(self.loader)

    def osm_mapper_function(self) -> Callable[..., gpd.GeoDataFrame] | None:
        """The function that maps OSM features to this layer's schema, if any."""
        return _resolve(self.osm_mapper) if self.osm_mapper else None

    def default_source(self, *, online: bool) -> str | None:
        """Source used when none is given: the online one, the embedded part, or None."""
        return self.online_source if online else self.offline_source

    def load(
        self,
        territory: Territory,
        *,
        source: Any = None,
        online: bool = False,
        margin_m: float | None = None,
    ) -> gpd.GeoDataFrame | Raster:
        """Load the layer for a territory.

        Parameters
        ----------
        territory : Territory
            Study area; vector layers come back in ``territory.crs``.
        source : optional
            A file path, a GeoDataFrame, or a source keyword of the loader (``"osm"``,
            ``"embedded"``, ``"named"`` …). Default: :meth:`default_source`, else the
            loader's own default.
        online : bool
            With no source given, use the online source rather than the embedded part.
        margin_m : float, optional
            Margin around the perimeter, metres, for layers read around the territory
            (``margin``); ignored by layers clipped to the perimeter.

        Returns
        -------
        GeoDataFrame or Raster

        Raises
        ------
        DataSourceError
            The layer needs a source (a file) and none was given.
        """
        if source is None:
            source = self.default_source(online=online)
        return self.call(territory, source=source, margin_m=margin_m)

    def call(
        self, territory: Territory, *, source: Any = None, margin_m: float | None = None
    ) -> gpd.GeoDataFrame | Raster:
        """Call the loader: ``source`` None leaves the loader's own default.

        Raises
        ------
        DataSourceError
            The layer has no default source (``needs``) and none was given.
        """
        if source is None and self.needs:
            raise DataSourceError(f"Layer {self.name!r} needs a source: {self.hint}.")
        function = self.load_function()
        kwargs: dict[str, Any] = {}
        if _takes_layer_name(function):
            kwargs["layer"] = self.name
        if source is not None:
            kwargs["source"] = source
        if margin_m is not None and self.margin:
            kwargs["margin_m"] = margin_m
        return function(territory, **kwargs)


@functools.cache
def _takes_layer_name(function: Callable[..., Any]) -> bool:
    """Whether a loader asks for the registry name as a required ``layer`` argument.

    An optional ``layer`` (``load_zae``) is the layer of the user's file, not ours to fill.
    """
    param = inspect.signature(function).parameters.get("layer")
    return param is not None and param.default is inspect.Parameter.empty


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------

_COMMON = {
    "id": "unique id prefixed by its source: osm:way/123, sncf:87276303, rte:LONGU, icao:LFAD, "
    "or the id of a named site",
    "name": "name of the feature (may be empty for OSM features)",
    "kind": "category within the layer (see each loader)",
    "source": "source label, a key of ATTRIBUTIONS (osm, sncf, rte, airportsdata), or the "
    "cited document for named sites",
    "date": "date of the source data, YYYY-MM-DD (empty when unknown)",
}
_RAIL = {
    "usage": "OSM usage tag: main, branch, industrial, military, tourism …",
    "service": "OSM service tag: siding, spur, yard, crossover …",
    "electrified": "bool: track electrified (NA when untagged)",
    "electrification": "OSM electrified tag: contact_line, rail, no …",
    "voltage_v": "highest electrification voltage, volts",
    "frequency_hz": "frequency of that voltage, Hz (0 = direct current)",
    "gauge_mm": "track gauge, mm",
    "line_code": "SNCF Réseau line code when tagged",
    "operator": "operator",
}
_STATIONS = {
    "code_uic": "UIC code of the station",
    "freight": "bool: open to freight (SNCF 'fret')",
    "passengers": "bool: open to passengers (SNCF 'voyageurs')",
    "line_codes": "codes of the RFN lines serving the station, ';'-separated",
    "pk": "kilometre point(s) on each line (same order, 'km+m'; '/' between two points on one "
    "line)",
    "commune": "commune name (upper case, SNCF spelling)",
    "departement": "département name (upper case, SNCF spelling)",
}
_SITE = {
    "status": "existing, planned or under_construction (planned and under-construction "
    "features count only for criteria with include_planned)",
    "precision": "how well the position is known: exact (mapped outline or point), point "
    "(verified coordinates), commune (known only at commune level), arc_minute "
    "(1-arc-minute grid, ± 1 km), locality (rounded to 0.01°, ± 1 km), hand_entered (placed "
    "by hand by the source's author), simplified_10m, rounded_1e-4deg (lines); see "
    "layers.infrastructure.PRECISIONS",
    "communes": "for precision 'commune': names of the commune(s) whose area stands for the "
    "position (', '-separated; the geometry is that area, distances to it are lower bounds)",
}
_ZONES = {
    "id": "id of the zone in its source",
    "name": "name or label of the zone",
    "kind": "kind of zone (hazard kind, Natura 2000 / ZNIEFF type …)",
    "level": "hazard level: low, medium, high, very high (missing when unknown)",
    "source": "source of the zone",
    "date": "date of the source data, YYYY-MM-DD (empty when unknown)",
}
_OSM = "© OpenStreetMap contributors, ODbL 1.0"
_OSM_DATE = "date of the Overpass answer (column date)"
_FILE_DATE = "date of the file given (column date when present)"


# --------------------------------------------------------------------------------------------
# The layers
# --------------------------------------------------------------------------------------------

_INFRA = "layers.infrastructure"

_ENTRIES: tuple[LayerEntry, ...] = (
    LayerEntry(
        name="rail_stations",
        label="Gares voyageurs",
        description="SNCF stations (freight and passengers)",
        theme="infrastructure",
        kind="point",
        schema=_COMMON | _STATIONS,
        coverage=RFN,
        loader=f"{_INFRA}:load_rail_stations",
        style=Style("#7b7bb0", shape="circle", glyph="G"),
        source="SNCF Réseau (embedded)",
        attribution="SNCF Réseau – Liste des gares, ODbL",
        licence="ODbL 1.0",
        date="2024-11-21",
        offline=True,
        margin=True,
    ),
    LayerEntry(
        name="rail_freight_stations",
        label="Gares fret SNCF",
        description="SNCF stations open to freight",
        theme="infrastructure",
        kind="point",
        schema=_COMMON | _STATIONS,
        coverage=RFN,
        loader=f"{_INFRA}:load_rail_freight_stations",
        style=Style("#5b2c83", shape="square", glyph="F"),
        source="SNCF Réseau (embedded)",
        attribution="SNCF Réseau – Liste des gares, ODbL",
        licence="ODbL 1.0",
        date="2024-11-21",
        offline=True,
        margin=True,
        map_context=True,
        key_distance=KeyDistance(
            "rail_freight",
            "Gare fret SNCF",
            cnig_name="gare_fret_nom",
            cnig_distance="gare_fret_dist",
        ),
    ),
    LayerEntry(
        name="rail_lines",
        label="Voies ferrées",
        description=(
            "Rail lines (offline: exploited lines of the national network; online: OSM with "
            "electrification)"
        ),
        theme="infrastructure",
        kind="line",
        schema=_COMMON | _RAIL | _SITE,
        coverage=RAIL_LINES,
        online_coverage=FRANCE,
        loader=f"{_INFRA}:load_rail_lines",
        style=Style("#3a3a3a", weight=2.5),
        source="SNCF Réseau RFN (embedded); OpenStreetMap online",
        attribution="SNCF Réseau – lignes exploitées du RFN, simplifiées ≈ 10 m, ODbL",
        licence="ODbL 1.0",
        date="2026-02-12",
        online_source="osm",
        offline_source="embedded",
        margin=True,
        map_context=True,
        osm_filters=('way["railway"="rail"]',),
        osm_mapper="layers.osm:rail_lines_from_osm",
        named_kinds=("rail_link",),
    ),
    LayerEntry(
        name="rail_branches",
        label="Embranchements ferroviaires (ITE)",
        description=(
            "Rail branches, sidings, spurs and yards (offline: Nord-Pas-de-Calais extract)"
        ),
        theme="infrastructure",
        kind="line",
        schema=_COMMON | _RAIL | _SITE,
        coverage=SIDINGS_NORD,
        online_coverage=FRANCE,
        loader=f"{_INFRA}:load_rail_branches",
        style=Style("#5b2c83", weight=2.5, dash="5 4"),
        source="SNCF Réseau Lignes par type (embedded extract); OpenStreetMap online",
        attribution="SNCF Réseau – Lignes par type, extrait Nord-Pas-de-Calais, ODbL",
        licence="ODbL 1.0",
        date="2025-10-03",
        online_source="osm",
        offline_source="embedded",
        margin=True,
        map_context=True,
        osm_filters=(
            'way["railway"="rail"]["service"~"^(siding|spur|yard)$"]',
            'way["railway"="rail"]["usage"="industrial"]',
        ),
        osm_mapper="layers.osm:rail_branches_from_osm",
        named_kinds=("rail_branch",),
    ),
    LayerEntry(
        name="ports",
        label="Ports",
        description=(
            "Sea and river ports (offline: World Port Index seaports, partial GNTC river "
            "ports, Longoni; online: OSM harbours and quays)"
        ),
        theme="infrastructure",
        kind="point",
        schema=_COMMON
        | {"harbour": "OSM harbour tag", "operator": "operator"}
        | _SITE
        | {"area_ha": "area of polygonal features, hectares (NaN for points and lines)"},
        coverage=Coverage(
            "ports maritimes de France et d'outre-mer (WPI, Longoni) ; ports fluviaux : liste "
            "partielle"
        ),
        online_coverage=FRANCE,
        loader=f"{_INFRA}:load_ports",
        style=Style("#1b5e9c", shape="diamond", glyph="P"),
        source="NGA WPI, GNTC, UN/LOCODE, named sites (embedded); OpenStreetMap online",
        attribution=f"NGA World Port Index (positions à ± 1 km), GNTC, UN/LOCODE ; {_OSM} en ligne",
        licence="US public domain (WPI) ; ODbL 1.0 (OSM, GNTC) ; CC BY 4.0 (UN/LOCODE)",
        date="2025-04-22 (WPI), 2026-02-19 (GNTC)",
        online_source="osm",
        offline_source="embedded",
        margin=True,
        map_context=True,
        osm_filters=(
            'nwr["landuse"="port"]',
            'nwr["industrial"="port"]',
            'nwr["harbour"]["harbour"!="no"]',
            'way["man_made"="quay"]',
        ),
        osm_mapper="layers.osm:ports_from_osm",
        named_kinds=("port",),
        key_distance=KeyDistance("port", "Port", cnig_name="port_nom", cnig_distance="port_dist"),
    ),
    LayerEntry(
        name="waterways",
        label="Voies navigables",
        description=(
            "Navigable waterways (offline: OSM selection without CEMT class; online: OSM with "
            "CEMT class)"
        ),
        theme="infrastructure",
        kind="line",
        schema=_COMMON
        | {
            "cemt_class": "CEMT inland-waterway class (0, I … VII)",
            "freight_navigable": "bool: CEMT class I or more (NA when the class is not tagged)",
        }
        | _SITE,
        coverage=WATERWAYS,
        online_coverage=FRANCE,
        loader=f"{_INFRA}:load_waterways",
        style=Style("#3f8fd2", weight=3.0),
        source="OpenStreetMap (embedded selection; Overpass online)",
        attribution=f"{_OSM} – voies navigables (sélection French Canals Map, pas VNF)",
        licence="ODbL 1.0",
        date="2026-03-24",
        online_source="osm",
        offline_source="embedded",
        margin=True,
        map_context=True,
        osm_filters=('way["waterway"~"^(canal|river)$"]',),
        osm_mapper="layers.osm:waterways_from_osm",
        named_kinds=("canal",),
    ),
    LayerEntry(
        name="platforms",
        label="Plateformes industrielles",
        description=(
            "Industrial, chemical and logistics platforms, combined-transport terminals "
            "(offline: OTC-GNTC terminals and named sites; online: OSM)"
        ),
        theme="infrastructure",
        kind="point",
        schema=_COMMON
        | {"industrial": "OSM industrial tag: chemical, logistics …", "operator": "operator"}
        | _SITE
        | {"area_ha": "area of polygonal features, hectares (NaN for points)"},
        coverage=Coverage(
            "terminaux de transport combiné de France (aucun outre-mer : pas de rail) ; "
            "sites nommés des territoires de référence"
        ),
        online_coverage=FRANCE,
        loader=f"{_INFRA}:load_platforms",
        style=Style("#8c3b0c", shape="square", glyph="I"),
        source="OTC-GNTC terminals, named sites (embedded); OpenStreetMap online",
        attribution=f"OTC-GNTC (positions à ± 1 km) ; sites nommés ; {_OSM} en ligne",
        licence="GNTC (terms not stated) ; ODbL 1.0 (OpenStreetMap)",
        date="2026-03-18 (GNTC)",
        online_source="osm",
        offline_source="embedded",
        margin=True,
        map_context=True,
        osm_filters=('nwr["landuse"="industrial"]["name"]', 'nwr["industrial"]'),
        osm_mapper="layers.osm:platforms_from_osm",
        named_kinds=("chemical_platform", "industrial_platform", "logistics_platform"),
    ),
    LayerEntry(
        name="motorway_junctions",
        label="Échangeurs autoroutiers",
        description="Motorway junctions (offline: tolled interchanges only; free ones online)",
        theme="infrastructure",
        kind="point",
        schema=_COMMON
        | {"ref": "junction (exit) number, or the motorway for toll interchanges"}
        | _SITE,
        coverage=TOLL_NETWORK,
        online_coverage=FRANCE,
        loader=f"{_INFRA}:load_motorway_junctions",
        style=Style("#c0262d", shape="circle", glyph="A"),
        source="État / DGITM toll plazas 2024 (embedded); OpenStreetMap online",
        attribution="État / DGITM – gares de péage 2024 : échangeurs à péage seulement ; "
        f"{_OSM} en ligne",
        licence="Licence Ouverte 2.0 ; ODbL 1.0 (OpenStreetMap)",
        date="2024-01-01",
        online_source="osm",
        offline_source="embedded",
        margin=True,
        map_context=True,
        osm_filters=('node["highway"="motorway_junction"]',),
        osm_mapper="layers.osm:motorway_junctions_from_osm",
        key_distance=KeyDistance(
            "motorway",
            "Échangeur autoroutier",
            cnig_name="autoroute_nom",
            cnig_distance="autoroute_echang_dist",
        ),
    ),
    LayerEntry(
        name="trunk_roads",
        label="Routes à grande circulation",
        description="Trunk roads",
        theme="infrastructure",
        kind="line",
        schema=_COMMON | {"ref": "road number (e.g. N 31)", "maxspeed_kmh": "km/h"},
        coverage=FRANCE,
        loader=f"{_INFRA}:load_trunk_roads",
        style=Style("#d9641e", weight=2.0),
        source="OpenStreetMap (Overpass)",
        attribution=_OSM,
        licence="ODbL 1.0",
        date=_OSM_DATE,
        margin=True,
        osm_filters=('way["highway"~"^(trunk|trunk_link)$"]',),
        osm_mapper="layers.osm:trunk_roads_from_osm",
    ),
    LayerEntry(
        name="substations",
        label="Postes électriques RTE",
        description="Electrical substations with voltage (kV)",
        theme="infrastructure",
        kind="point",
        schema=_COMMON
        | {
            "voltage_kv": "highest voltage, kV (NaN when the source gives no single voltage)",
            "voltage_label": "voltage as written by the source (RTE '63kV', OSM '63000;20000' V)",
            "operator": "operator (RTE or EDF SEI for the embedded lists)",
        }
        | _SITE,
        coverage=POWER_GRIDS,
        online_coverage=FRANCE,
        loader=f"{_INFRA}:load_substations",
        style=Style("#e08a00", shape="triangle", glyph="E"),
        source="RTE / ODRE, EDF SEI La Réunion (embedded); OpenStreetMap online",
        attribution="RTE / ODRE – Postes électriques ; EDF SEI – postes sources de La Réunion ; "
        "Licence Ouverte 2.0",
        licence="Licence Ouverte 2.0 (RTE) ; ODbL 1.0 (OpenStreetMap)",
        date="2023-02-13",
        offline=True,
        margin=True,
        map_context=True,
        osm_filters=('nwr["power"="substation"]',),
        osm_mapper="layers.osm:substations_from_osm",
        key_distance=KeyDistance("substation", "Poste électrique"),
    ),
    LayerEntry(
        name="aerodromes",
        label="Aérodromes",
        description="Aerodromes and airports (metropolitan and overseas)",
        theme="infrastructure",
        kind="point",
        schema=_COMMON
        | {"icao": "ICAO code", "iata": "IATA code", "elevation_m": "elevation, metres"},
        coverage=FRANCE,
        online_coverage=FRANCE,
        loader=f"{_INFRA}:load_aerodromes",
        style=Style("#2f4f4f", shape="circle", glyph="✈"),
        source="airportsdata (embedded)",
        attribution="airportsdata (M. Borsetti), MIT licence",
        licence="MIT",
        date="2026-09-05",
        offline=True,
        margin=True,
        map_context=True,
        osm_filters=('nwr["aeroway"="aerodrome"]',),
        osm_mapper="layers.osm:aerodromes_from_osm",
        key_distance=KeyDistance(
            "airport",
            "Aéroport",
            sheet=False,
            cnig_name="aeroport_nom",
            cnig_distance="aeroport_dist",
        ),
    ),
    LayerEntry(
        name="named_sites",
        label="Sites nommés",
        description="Named sites of the reference territories (status, precision)",
        theme="infrastructure",
        kind="point",
        schema=_COMMON
        | _SITE
        | {
            "insee": "INSEE code(s) of the commune(s) where the site lies, ';'-separated",
            "territory": "reference territory the site belongs to",
        },
        coverage=REFERENCE_TERRITORIES,
        loader=f"{_INFRA}:load_named_sites",
        style=Style("#222222", shape="star"),
        source="foncier curated list (embedded)",
        attribution="sites nommés des territoires (foncier), source citée pour chaque site",
        licence="Licence Ouverte 2.0 (sources citées pour chaque site)",
        date="date of each entry (column date)",
        offline=True,
        margin=True,
        map_context=True,
        precision="point",
    ),
    LayerEntry(
        name="communes",
        label="Communes",
        description="Communes around the territory with their population (labour pool)",
        theme="population",
        kind="polygon",
        schema={
            "id": "INSEE code",
            "name": "commune name",
            "kind": "commune",
            "population": "municipal population, inhabitants",
            "dep": "département code",
            "in_territory": "bool: member of the territory",
            "source": "source of the boundaries and population",
        },
        coverage=FRANCE,
        loader="layers.catalog:load_population",
        style=Style("#8a8a8a", "#ffffff", fill_opacity=0.05, weight=0.8),
        source="IGN Admin Express / INSEE COG (embedded)",
        attribution="IGN Admin Express / INSEE COG, Licence Ouverte 2.0",
        licence="Licence Ouverte 2.0",
        date="COG 2025",
        offline=True,
        margin=True,
        on_map=False,
    ),
    LayerEntry(
        name="flood_zones",
        label="Zones inondables",
        description="Flood zones (PPR / PAC in the CNIG-COVADIS structure)",
        theme="constraint",
        kind="polygon",
        schema=_ZONES,
        coverage=GIVEN,
        loader="layers.constraints:load_flood_zones",
        style=Style("#2171b5", "#6baed6", fill_opacity=0.35, weight=1.0),
        source="PPR / PAC file (DDT), Géorisques",
        attribution="PPR / PAC (DDT), Géorisques, Licence Ouverte 2.0",
        licence="Licence Ouverte 2.0",
        date=_FILE_DATE,
        needs="file",
        hint="a PPR or PAC file (GeoPackage, shapefile)",
        map_context=True,
    ),
    LayerEntry(
        name="hazard_zones",
        label="Zones d'aléas (PPR)",
        description="Natural hazard zones (all hazards of a PPR / PAC)",
        theme="constraint",
        kind="polygon",
        schema=_ZONES,
        coverage=GIVEN,
        loader="layers.constraints:load_hazard_zones",
        style=Style("#c2410c", "#fd8d3c", fill_opacity=0.3, weight=1.0),
        source="PPR / PAC file (DDT)",
        attribution="PPR / PAC (DDT), Licence Ouverte 2.0",
        licence="Licence Ouverte 2.0",
        date=_FILE_DATE,
        needs="file",
        hint="a PPR or PAC file (GeoPackage, shapefile)",
    ),
    LayerEntry(
        name="housing",
        label="Zones d'habitat",
        description="Housing (residential areas or dwellings): a file, or OSM online",
        theme="constraint",
        kind="polygon",
        schema=_ZONES,
        coverage=GIVEN,
        loader="layers.constraints:load_housing",
        style=Style("#636363", "#bdbdbd", fill_opacity=0.3, weight=1.0),
        source="housing file (BD TOPO buildings …), OpenStreetMap residential areas",
        attribution=f"données d'habitat fournies ; {_OSM}",
        licence="licence of the file given ; ODbL 1.0 (OpenStreetMap)",
        date=_FILE_DATE,
        needs="file or 'osm'",
        hint="a housing file (BD TOPO residential buildings …) or 'osm'",
        online_source="osm",
        online_coverage=FRANCE,
        margin=True,
        osm_tag=("landuse", ("residential",)),
    ),
    LayerEntry(
        name="protected_areas",
        label="Espaces naturels protégés",
        description="Natura 2000 (SIC, ZPS) and ZNIEFF 1/2",
        theme="constraint",
        kind="polygon",
        schema=_ZONES | {"url": "INPN page of the area"},
        coverage=FRANCE,
        loader="layers.constraints:load_protected_areas",
        style=Style("#238b45", "#74c476", fill_opacity=0.25, weight=1.5, dash="4 3"),
        source="INPN via IGN Géoplateforme WFS",
        attribution="INPN / IGN Géoplateforme, Licence Ouverte 2.0",
        licence="Licence Ouverte 2.0",
        date="date of the WFS answer",
        map_context=True,
    ),
    LayerEntry(
        name="slope",
        label="Pente",
        description="Slope in degrees from a DEM",
        theme="terrain",
        kind="raster",
        schema={},
        coverage=GIVEN,
        loader="layers.terrain:load_slope",
        style=Style("#7f2704", "#fff5eb", fill_opacity=0.6, weight=1.0),
        source="DEM file (RGE ALTI, Copernicus DEM …)",
        attribution="MNT fourni (RGE ALTI, Copernicus DEM …)",
        licence="licence of the DEM given",
        date=_FILE_DATE,
        needs="file",
        hint="a DEM file (GeoTIFF)",
        on_map=False,
    ),
    LayerEntry(
        name="zae",
        label="Zones d'activités (ZAE)",
        description="Zones d'activités (CNIG Sites économiques, BD TOPO, OSM)",
        theme="land",
        kind="polygon",
        schema={"site_id": "CNIG site id (site_eco)", "site_nom": "name of the zone"},
        coverage=FRANCE,
        loader="layers.zae:load_zae",
        style=Style("#6a51a3", "#9e9ac8", fill_opacity=0.2, weight=1.5),
        source="CNIG file, IGN BD TOPO, OpenStreetMap",
        attribution="CNIG Sites économiques, IGN BD TOPO, © OpenStreetMap contributors",
        licence="Licence Ouverte 2.0 ; ODbL 1.0 (OpenStreetMap)",
        date=_FILE_DATE,
        needs="file or 'osm'",
        hint="a CNIG / BD TOPO file or 'osm'",
        online_source="osm",
    ),
    LayerEntry(
        name="friches",
        label="Friches",
        description="Brownfields (CNIG Friches standard, Cartofriches)",
        theme="land",
        kind="polygon",
        schema={"site_id": "site id (CNIG Friches)", "site_nom": "name of the site"},
        coverage=GIVEN,
        loader="layers.friches:load_friches",
        style=Style("#8c6d1f", "#d8b365", fill_opacity=0.35, weight=1.5, dash="3 3"),
        source="Cartofriches / CNIG Friches file",
        attribution="Cartofriches (Cerema), Licence Ouverte 2.0",
        licence="Licence Ouverte 2.0",
        date=_FILE_DATE,
        needs="file",
        hint="a Cartofriches / CNIG Friches file",
    ),
    LayerEntry(
        name="territory",
        label="Périmètre du territoire",
        description="Perimeter of the territory (e.g. to exclude sites mostly outside it)",
        theme="territory",
        kind="polygon",
        schema={
            "id": "territory id",
            "name": "territory name",
            "kind": "territory",
            "source": "territory",
        },
        coverage=FRANCE,
        loader="layers.catalog:load_perimeter",
        style=Style("#1a1a1a", fill_opacity=0.0, weight=3.0),
        source="the territory's perimeter",
        attribution="IGN Admin Express / INSEE COG, Licence Ouverte 2.0",
        licence="Licence Ouverte 2.0",
        date="COG 2025",
        offline=True,
        on_map=False,
    ),
)


#: Every layer foncier knows, by name, in the order of listings.
LAYERS: dict[str, LayerEntry] = {e.name: e for e in _ENTRIES}

#: Required columns of each layer (``geometry`` comes last): column -> description with units.
SCHEMAS: dict[str, dict[str, str]] = {n: dict(e.schema) for n, e in LAYERS.items()}


def layer_names() -> list[str]:
    """Names of every layer of :data:`LAYERS`, in listing order."""
    return list(LAYERS)


def suggest_layer(name: str) -> str:
    """`` Did you mean 'x'?`` for a misspelt layer name, or an empty string."""
    close = difflib.get_close_matches(str(name), list(LAYERS), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def get_layer(name: str) -> LayerEntry:
    """The entry of a layer, by name.

    Raises
    ------
    ArgumentError
        Unknown name; the message lists the known layers and the closest one.
    """
    try:
        return LAYERS[name]
    except (KeyError, TypeError):
        raise ArgumentError(
            f"Unknown layer {name!r}.{suggest_layer(name)} Known layers: {', '.join(LAYERS)}."
        ) from None

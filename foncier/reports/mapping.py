"""The maps people attach to a file: the territory map and the siting map.

:func:`territory_map` shows a territory (outline, member EPCI, communes with their INSEE
code and population). :func:`siting_map` adds the infrastructure and constraint layers and
the scored candidate sites: coloured by score classes, excluded sites in grey with their
reason, the top N labelled by rank, and a popup that explains each score (criterion, raw
value with its unit, 0..1 score, weight, contribution, nearest named infrastructure, rank
robustness).

Rendering is done by the generic :mod:`maps` package; this module only knows what the
columns of a scored table mean. Folium is imported when a map is made, not with
``import foncier``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from foncier.engine.diagnostics import RankingDiagnostics, ranking_diagnostics
from layers.crs import require_crs
from layers.errors import SchemaError
from layers.formatting import distance_text, fr_number, split_commune_note
from layers.infrastructure import ATTRIBUTIONS, known_at_commune, position_notes
from layers.registry import LAYERS
from layers.territories import Territory

if TYPE_CHECKING:
    import folium

    from foncier.engine.profiles import Profile

__all__ = [
    "BREAKDOWN_HEADER",
    "layer_attributions",
    "map_layers",
    "site_popup_data",
    "site_popups",
    "siting_map",
    "territory_map",
]

log = logging.getLogger(__name__)

#: Title of the banner of a map whose ranking singles out no site.
NOTHING_STANDS_OUT = "Aucun site ne se détache : la carte ne désigne pas de meilleur site."

ADMIN_SOURCE = "Limites : IGN Admin Express / INSEE COG (Licence Ouverte 2.0)"
_DEFAULT_BASEMAPS = ("ign_plan", "osm", "ign_ortho", "plain")
_NAME_COLUMNS = ("nom", "name", "site_nom", "libelle", "label", "nom_poste", "libelle_gare")
_REQUIRED = ("site_id", "score", "rank", "excluded")
# Drawing order: areas first (under the sites), lines above them, points on top.
_KIND_ORDER = {"polygon": 0, "line": 1, "point": 2}
# Constraint zones (the registry's constraint polygons) are drawn above the sites, in a
# click-through pane, so that a reader sees which sites they cover.
_OVER_SITES = tuple(
    name for name, e in LAYERS.items() if e.theme == "constraint" and e.kind == "polygon"
)


def _resolve_territory(territory: Territory | str) -> Territory:
    if isinstance(territory, Territory):
        return territory
    from layers.territories import territory as resolve  # the lead's resolver, lazily

    return resolve(territory)


def _add_territory_layers(m: folium.Map, terr: Territory) -> None:
    import folium

    from maps.titles import add_sources
    from maps.vector import add_polygons

    add_sources(m, [ADMIN_SOURCE])
    communes = terr.communes
    if len(communes):
        communes = communes.copy()
        communes["population"] = pd.to_numeric(communes["population"], errors="coerce")
        add_polygons(
            m,
            communes,
            style="communes",
            tooltip="nom",
            popup={"Commune": "nom", "Code INSEE": "insee", "Population": "population"},
            simplify_m=15.0,
            source_column=None,
        )
    if len(terr.epci):
        group = add_polygons(
            m,
            terr.epci,
            style="epci",
            tooltip="nom",
            popup={
                "EPCI": "nom",
                "SIREN": "siren",
                "Type": "type",
                "Communes": "n_communes",
                "Population": "population",
            },
            simplify_m=20.0,
            source_column=None,
        )
        # Names of the EPCI written on the map (a handful: one marker each).
        import html

        import shapely

        points = shapely.point_on_surface(terr.epci.to_crs(4326).geometry.to_numpy())
        for name, pt in zip(terr.epci["nom"].tolist(), points, strict=True):
            folium.Marker(
                location=[round(pt.y, 5), round(pt.x, 5)],
                icon=folium.DivIcon(
                    html=(
                        '<div style="font:bold 11px Arial,Helvetica,sans-serif;color:#333;'
                        "text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff;white-space:nowrap;"
                        'transform:translate(-50%,-50%);display:inline-block">'
                        f"{html.escape(str(name))}</div>"
                    ),
                    icon_size=(0, 0),
                    class_name="foncier-icon",
                ),
                interactive=False,
            ).add_to(group)
    outline = terr.outline()
    add_polygons(m, outline, style="territory", tooltip="name", simplify_m=20.0, source_column=None)


def territory_map(
    territory: Territory | str,
    *,
    basemaps: Sequence[str] = _DEFAULT_BASEMAPS,
    title: str | None = None,
    m: folium.Map | None = None,
) -> folium.Map:
    """Return an interactive map of a territory: outline, member EPCI, communes.

    Parameters
    ----------
    territory : Territory or str
        A :class:`~layers.territories.Territory` or a spec understood by
        :func:`layers.territories.territory` (``"grand-compiegnois"``, SIRENs …).
    basemaps : sequence of str
        Basemap keys, the first shown (``"ign_plan"``, ``"osm"``, ``"ign_ortho"``,
        ``"plain"``).
    title : str, optional
        Title of the map (default: the territory's name).
    m : folium.Map, optional
        Map to add the layers to, instead of a new one.

    Returns
    -------
    folium.Map
        Displays inline in Jupyter; save it with :func:`maps.export.save_html`.
    """
    from maps.base import base_map, finish_map

    terr = _resolve_territory(territory)
    n_c, n_e = len(terr.communes), len(terr.epci)
    parts = []
    if n_e:
        parts.append(f"{n_e} EPCI")
    if n_c:
        parts.append(f"{n_c} communes")
        pop = pd.to_numeric(terr.communes["population"], errors="coerce").sum()
        if pop > 0:
            parts.append(f"{fr_number(float(pop), 0)} habitants")
    parts.append(f"{fr_number(terr.area_km2, 0)} km²")
    m = base_map(
        terr.outline(),
        title=title or terr.name,
        subtitle=" · ".join(parts),
        basemaps=basemaps,
        m=m,
    )
    _add_territory_layers(m, terr)
    return finish_map(m)


def _name_column(gdf: pd.DataFrame) -> str | None:
    return next((c for c in _NAME_COLUMNS if c in gdf.columns), None)


def _robustness(row: Mapping[Any, Any], top_n: int) -> str | None:
    p = row.get("p_top_n")
    if p is None or pd.isna(p):
        return None
    text = f"Robustesse : dans le top {top_n} dans {fr_number(100 * float(p), 0)} % des tirages"
    lo, hi = row.get("rank_p05"), row.get("rank_p95")
    if lo is not None and hi is not None and not (pd.isna(lo) or pd.isna(hi)):
        lo_i, hi_i = round(float(lo)), round(float(hi))
        text += f", rang {lo_i}" if lo_i == hi_i else f", rang {lo_i}–{hi_i}"
    return text


def _skipped_lines(meta: Mapping[str, Any]) -> list[str]:
    items = meta.get("criteria_skipped") or meta.get("skipped") or []
    out = []
    for s in items:
        if isinstance(s, Mapping):
            label = s.get("label") or s.get("id") or "?"
            reason = s.get("reason") or (f"couche {s['layer']} absente" if s.get("layer") else "")
            out.append(f"{label} ({reason})" if reason else str(label))
        else:
            out.append(str(s))
    return out


def _records(frame: pd.DataFrame) -> list[dict[Any, Any]]:
    """The rows of ``frame`` as dicts of Python values, geometries left out.

    What ``DataFrame.to_dict("records")`` gives for the text of the popups, built column by
    column (``tolist``) rather than value by value: ten times faster on a scored table.
    """
    keep = frame.dtypes.astype(str).to_numpy() != "geometry"
    plain = pd.DataFrame(frame.loc[:, keep])
    plain.attrs = {}  # column access would deep-copy the scoring metadata each time
    columns = list(plain.columns)
    if not columns:
        return [{} for _ in range(len(plain))]
    values = []
    for j in range(len(columns)):
        column = plain.iloc[:, j].tolist()
        if any(v is pd.NA for v in column):
            column = [None if v is pd.NA else v for v in column]  # as to_dict gives them
        values.append(column)
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


#: Column headers of the score breakdown in site popups.
BREAKDOWN_HEADER = ("Critère", "Valeur", "Note 0–1", "Poids", "Contribution")


def site_popup_data(
    scored: pd.DataFrame,
    *,
    sensitivity: pd.DataFrame | None = None,
    top_n: int = 10,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the popup content of every scored site, as plain text, and the shared lines.

    Each popup has the rank and score, the "why" line of the top sites, the breakdown rows
    criterion | raw value with unit | score 0..1 | weight | contribution (points out of 100),
    the nearest named
    infrastructure with its distance, the exclusion reasons and the rank robustness when a
    sensitivity analysis is given. The criteria that could not be evaluated are the same for
    every site: they come back once, as the shared lines.

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`foncier.engine.scoring.score` (see its columns and ``attrs["foncier"]``).
    sensitivity : DataFrame, optional
        Output of :func:`foncier.engine.sensitivity.sensitivity` on the same index
        (``p_top_n``, ``rank_p05``, ``rank_p95``).
    top_n : int
        The N of "top N" in the robustness sentence (default: the sensitivity's own).

    Returns
    -------
    list of dict, list of str
        One :func:`maps.popups.table_popup_data` per site (in ``scored`` order) and the
        lines shared by all popups.
    """
    from layers.formatting import format_measure as format_value
    from maps.popups import table_popup_data

    meta: Mapping[str, Any] = scored.attrs.get("foncier", {}) or {}
    criteria = [c for c in meta.get("criteria", []) if f"{c['id']}__score" in scored.columns]
    skipped = _skipped_lines(meta)
    if sensitivity is not None:
        top_n = int((sensitivity.attrs.get("sensitivity") or {}).get("top_n", top_n))
        sens = sensitivity.reindex(scored.index)
    name_col = _name_column(scored)
    records = _records(scored)
    sens_records = _records(sens) if sensitivity is not None else [{}] * len(scored)
    out = []
    for row, srow in zip(records, sens_records, strict=True):
        rank = row.get("rank")
        excluded = bool(row.get("excluded"))
        site = str(row.get("site_id"))
        name = row.get(name_col) if name_col else None
        title = f"Site {site}" + (f" – {name}" if name is not None and not pd.isna(name) else "")
        score = float(row["score"])
        if excluded or rank is None or pd.isna(rank):
            head = f"Exclu · score {fr_number(score, 1)} / 100"
        else:
            tie = " (ex aequo)" if bool(row.get("ex_aequo", False)) else ""
            head = f"Rang {int(rank)}{tie} · score {fr_number(score, 1)} / 100"
        rows = []
        nearest_lines = []
        for c in criteria:
            cid, unit = c["id"], str(c.get("unit", ""))
            raw = row.get(f"{cid}__raw")
            near = row.get(f"{cid}__nearest")
            # A distance to a feature known only at its commune reads "dans la commune de X"
            # or "… de la commune de X (position exacte inconnue)", never a precise figure.
            value = (
                distance_text(raw, near, unit)
                if c.get("measure") == "distance"
                else format_value(raw, unit)
            )
            rows.append(
                (
                    str(c.get("label", cid)),
                    value,
                    fr_number(float(row[f"{cid}__score"]), 2),
                    f"{fr_number(100 * float(row[f'{cid}__weight']), 0)} %",
                    f"{fr_number(100 * float(row[f'{cid}__contrib']), 1)} pts",
                )
            )
            if near is not None and not pd.isna(near) and str(near):
                name = split_commune_note(near)[0]
                nearest_lines.append(f"{c.get('label', cid)} : {name} ({value})")
        footer = [head]
        why = row.get("why")
        if isinstance(why, str) and why and not excluded:
            footer.append(f"Pourquoi : {why}")
        if nearest_lines:
            footer.append("Le plus proche — " + " ; ".join(nearest_lines))
        reasons = row.get("exclusion_reasons")
        if excluded:
            footer.append(f"Exclu : {reasons if reasons and not pd.isna(reasons) else 'oui'}")
        robust = _robustness(srow, top_n)
        if robust and not excluded:
            footer.append(robust)
        out.append(table_popup_data(title, rows, footer))
    shared = ["Non évalués : " + " ; ".join(skipped)] if skipped else []
    return out, shared


def site_popups(
    scored: pd.DataFrame,
    *,
    sensitivity: pd.DataFrame | None = None,
    top_n: int = 10,
) -> pd.Series:
    """Return the popup HTML of every scored site: the full explanation of its score.

    The same content as :func:`site_popup_data` (which siting maps use, built in the
    browser), as ready HTML for other pages; every text is escaped.

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`foncier.engine.scoring.score`.
    sensitivity : DataFrame, optional
        Output of :func:`foncier.engine.sensitivity.sensitivity` on the same index.
    top_n : int
        The N of "top N" in the robustness sentence.

    Returns
    -------
    pandas.Series
        HTML strings aligned on ``scored.index``.
    """
    from maps.popups import html_table

    data, shared = site_popup_data(scored, sensitivity=sensitivity, top_n=top_n)
    html = [
        html_table(
            d["t"], BREAKDOWN_HEADER, d["r"], css_class="foncier-breakdown", footer=d["f"] + shared
        )
        for d in data
    ]
    return pd.Series(html, index=scored.index, dtype=object)


def _site_tooltips(
    sites: pd.DataFrame, *, sensitivity: pd.DataFrame | None, top_n: int
) -> list[str]:
    """One line per site shown on hover: rank and score, or why it was excluded."""
    if sensitivity is not None:
        top_n = int((sensitivity.attrs.get("sensitivity") or {}).get("top_n", top_n))
        p_top = sensitivity.reindex(sites.index).get("p_top_n")
    else:
        p_top = None
    p_values = p_top.tolist() if p_top is not None else [None] * len(sites)
    out = []
    tied = sites["ex_aequo"] if "ex_aequo" in sites.columns else [False] * len(sites)
    for label, excluded, rank, score, reasons, p, tie in zip(
        sites["_label"],
        sites["excluded"],
        sites["rank"],
        sites["score"],
        sites.get("exclusion_reasons", pd.Series([""] * len(sites), index=sites.index)),
        p_values,
        tied,
        strict=True,
    ):
        if excluded or pd.isna(rank):
            why = reasons if isinstance(reasons, str) and reasons else "exclu"
            out.append(f"{label} – exclu : {why}")
            continue
        text = f"{label} – rang {int(rank)}{' (ex aequo)' if bool(tie) else ''}"
        text += f", score {fr_number(float(score), 1)}"
        if p is not None and not pd.isna(p):
            text += f" (top {top_n} dans {fr_number(100 * float(p), 0)} % des tirages)"
        out.append(text)
    return out


def _relative_lines(meta: Mapping[str, Any]) -> list[str]:
    """Short legend text for the criteria whose transform is relative to the candidate set."""
    out = []
    for c in meta.get("criteria", []):
        if c.get("relative"):
            kind = (c.get("transform") or {}).get("kind")
            how = "rang centile" if kind == "percentile" else "min–max"
            out.append(f"{c.get('label', c['id'])} ({how} parmi les sites candidats)")
    return out


def _relative_notes(meta: Mapping[str, Any]) -> list[str]:
    """Full sentences for the note: what a relative criterion's 0..1 score means."""
    return [
        f"{c.get('label', c['id'])} : {c.get('meaning', '')}."
        for c in meta.get("criteria", [])
        if c.get("relative")
    ]


def _ranking_diagnostics(scored: pd.DataFrame, top_n: int) -> RankingDiagnostics | None:
    """Diagnostics of a scored table, or None for a table without scoring metadata."""
    if not (scored.attrs.get("foncier") or {}).get("criteria"):
        return None
    return ranking_diagnostics(scored, top_n=max(top_n, 1))


def _add_commune_areas(
    m: Any,
    gdf: gpd.GeoDataFrame,
    style: Any,
    label_col: str | None,
    source_column: str | None,
) -> None:
    """Draw features known only at their commune as the commune's dashed outline."""
    from maps.styles import commune_area_style
    from maps.vector import add_polygons

    names = (
        gdf[label_col].astype(object).fillna("").astype(str)
        if label_col
        else pd.Series("", index=gdf.index)
    )
    text = names + pd.Series(position_notes(gdf), index=gdf.index).astype(str)
    if "status" in gdf.columns:
        status = gdf["status"].astype("string").fillna("existing")
        text = text.where((status == "existing").to_numpy(), text + " – en projet")
    areas = gdf.assign(_position=text.to_numpy())
    outline = commune_area_style(style)
    add_polygons(
        m,
        areas,
        style=outline,
        tooltip="_position",
        popup={"Position": "_position"},
        source_column=source_column,
    )


def _single_points(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One marker per point: a station known at several positions (one per line) shows each."""
    if not (gdf.geom_type == "MultiPoint").any():
        return gdf
    return gdf.explode(index_parts=False).reset_index(drop=True)


def _kind(gdf: gpd.GeoDataFrame, style_kind: str | None) -> str:
    if style_kind == "point":
        # Stations, ports, platforms … keep their icon even when given as areas.
        return "point"
    types = set(gdf.geom_type.dropna().unique().tolist())
    if types and types <= {"Point", "MultiPoint"}:
        return "point"
    if types and types <= {"LineString", "MultiLineString"}:
        return "line"
    if types:
        return "polygon"
    return style_kind or "point"


def map_layers(layers: Mapping[str, Any]) -> dict[str, gpd.GeoDataFrame]:
    """The vector layers worth drawing on a map (no raster, no population table).

    A layer of the registry is drawn when its entry says so (``on_map``); a layer of the
    caller's own is drawn when it is a non-empty GeoDataFrame.
    """
    return {
        name: layer
        for name, layer in layers.items()
        if isinstance(layer, gpd.GeoDataFrame)
        and (name not in LAYERS or LAYERS[name].on_map)
        and len(layer)
    }


def layer_attributions(layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, str]:
    """Short source and licence text per layer, for map title blocks.

    The ``source`` column of infrastructure layers holds a key of
    :data:`layers.infrastructure.ATTRIBUTIONS` (``"sncf"``, ``"rte"``, ``"osm"`` …), turned
    here into its attribution; named sites cite one document each, shown in their popups and
    site sheets rather than in the title block.
    """
    out: dict[str, str] = {}
    for name, gdf in layers.items():
        entry = LAYERS.get(name)
        if entry is None or entry.theme != "infrastructure" or "source" not in gdf.columns:
            continue  # constraint layers keep the text of their own source column
        values = [str(v) for v in gdf["source"].dropna().unique()]
        # any value that is not an attribution key is the cited document of a named site
        texts = [ATTRIBUTIONS.get(v, ATTRIBUTIONS["named_sites"]) for v in values]
        if texts:
            out[name] = " ; ".join(dict.fromkeys(texts))
    return out


def siting_map(
    scored: gpd.GeoDataFrame,
    *,
    territory: Territory | str,
    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    sensitivity: pd.DataFrame | None = None,
    top_n: int = 10,
    title: str | None = None,
    m: folium.Map | None = None,
    basemaps: Sequence[str] = _DEFAULT_BASEMAPS,
    attributions: Mapping[str, str] | None = None,
    scheme: str = "Quantiles",
    k: int = 5,
    cmap: str = "YlGnBu",
    date: dt.date | None = None,
    profile: Profile | None = None,
    live_weights: bool = True,
) -> folium.Map:
    """Return the siting map: territory, infrastructure, and candidate sites by score.

    Parameters
    ----------
    scored : GeoDataFrame
        Scored sites (:func:`foncier.engine.scoring.score`), in the territory's projected CRS:
        ``site_id``, ``score`` (0..100), ``rank``, ``excluded``, ``exclusion_reasons`` and
        the per-criterion columns ``c__raw``, ``c__score``, ``c__weight``, ``c__contrib``,
        ``c__nearest``.
    territory : Territory or str
        The territory (outline, EPCI, communes are drawn).
    layers : mapping of str to GeoDataFrame, optional
        Infrastructure and constraint layers to show, by layer name
        (``"rail_freight_stations"``, ``"flood_zones"`` …), e.g. the output of
        :func:`layers.catalog.load_layers`; each gets its style, icon, legend entry and
        attribution. Rasters, empty layers and the population table are not drawn.
    sensitivity : DataFrame, optional
        Rank robustness (:func:`foncier.engine.sensitivity.sensitivity`), shown in the popups.
    top_n : int
        Number of sites labelled by rank.
    title : str, optional
        Map title (default: ``"<territory> – sites candidats"``).
    m : folium.Map, optional
        Map to add to instead of a new one.
    basemaps : sequence of str
        Basemap keys, the first shown.
    attributions : mapping of str to str, optional
        Source / licence text by layer name (default: :func:`layer_attributions`).
    scheme, k, cmap : str, int, str
        Score classes (mapclassify scheme, number of classes) and branca colormap.
    date : datetime.date, optional
        Date printed in the subtitle (default: today).
    profile : Profile, optional
        The profile the sites were scored with (default: the shipped profile named in the
        scores' metadata); the live-weights panel copies it as TOML with the weights in force.
    live_weights : bool
        Add the panel of live weights (:mod:`foncier.reports.live_weights`): one slider per
        criterion, scores, ranks, badges, classes and popups recomputed in the browser.

    Returns
    -------
    folium.Map

    Raises
    ------
    CRSError
        When ``scored`` or a layer has no CRS.
    SchemaError
        When ``scored`` lacks the columns of a scored table.

    Examples
    --------
    >>> import foncier
    >>> t = foncier.territory("60159")
    >>> layers = foncier.load_layers(t)
    >>> sites = foncier.grid_sites(t, cell_size_m=2000, shape="hex")
    >>> scored = foncier.score(sites, layers, "logistique-multimodale")
    >>> m = foncier.siting_map(scored, territory=t, layers=layers)
    >>> type(m).__name__, "Compiègne" in m.get_root().render()
    ('Map', True)
    """
    from layers.online import summary_lines
    from maps.base import base_map, finish_map
    from maps.choropleth import add_choropleth
    from maps.labels import add_rank_labels
    from maps.notes import add_note, add_notice
    from maps.styles import layer_style
    from maps.titles import add_sources
    from maps.vector import add_lines, add_points, add_polygons

    require_crs(scored, "scored sites")
    missing = [c for c in _REQUIRED if c not in scored.columns]
    if missing:
        raise SchemaError(
            f"scored sites lack the columns {missing}: pass the output of foncier.score(...)"
        )
    terr = _resolve_territory(territory)
    meta: Mapping[str, Any] = scored.attrs.get("foncier", {}) or {}
    profile_name = str(meta.get("profile_name") or meta.get("profile") or "")
    when = (date or dt.date.today()).strftime("%d/%m/%Y")
    subtitle = " · ".join(
        p
        for p in (
            f"Profil : {profile_name}" if profile_name else "",
            f"{int(scored['rank'].notna().sum())} sites classés, "
            f"{int(scored['excluded'].astype(bool).sum())} exclus",
            when,
        )
        if p
    )
    m = base_map(
        terr.outline(),
        title=title or f"{terr.name} – sites candidats",
        subtitle=subtitle,
        basemaps=basemaps,
        m=m,
    )
    _add_territory_layers(m, terr)

    shown = map_layers(layers or {})
    ordered = []
    for name, gdf in shown.items():
        require_crs(gdf, f"layer {name!r}")
        ordered.append((_KIND_ORDER[_kind(gdf, layer_style(name).kind)], name, gdf))
    ordered.sort(key=lambda t: t[0])
    attributions = {**layer_attributions(shown), **dict(attributions or {})}
    # Which online layers the ranking used, and which it could not get (layers.online).
    add_sources(m, [f"En ligne – {line}" for line in summary_lines(meta.get("online") or [])])

    def add_layer(kind: int, name: str, gdf: gpd.GeoDataFrame) -> None:
        style = layer_style(name)
        label_col = _name_column(gdf)
        # A given attribution replaces the raw values of the layer's ``source`` column.
        source_column = None if name in attributions else "source"
        if name in attributions:
            add_sources(m, [f"{style.label} : {attributions[name]}"])
        popup = {"Nom": label_col} if label_col else None
        common: dict[str, Any] = {
            "style": style,
            "tooltip": label_col,
            "popup": popup,
            "source_column": source_column,
        }
        if "precision" in gdf.columns:
            # Features known only at their commune are that commune's area: drawn as its
            # dashed outline (no fill, so the sites under it stay clickable) with the caveat
            # in the tooltip, never as a pin at a made-up position.
            coarse = known_at_commune(gdf)
            if coarse.any():
                _add_commune_areas(m, gdf[coarse], style, label_col, source_column)
                gdf = gdf[~coarse]
                if len(gdf) == 0:
                    return
        if "status" in gdf.columns:
            # Planned or authorised-only features (a planned rail branch, a canal under
            # construction, an RTE substation with only an administrative agreement) are
            # not infrastructure yet: drawn apart, grey and dashed, in their own layer.
            status = gdf["status"].astype("string").fillna("existing")
            planned = gdf[(status != "existing").to_numpy()]
            if len(planned):
                gdf = gdf[(status == "existing").to_numpy()]
                future = replace(
                    style, label=f"{style.label} – en projet", color="#8a8a8a", dash="6 4"
                )
                # A planned line known only at its communes is a set of points: draw each
                # geometry family with the function made for it.
                types = shapely.get_type_id(planned.geometry.to_numpy())
                points = planned[np.isin(types, (0, 4))]
                if len(points):
                    point_style = replace(future, kind="point")
                    add_points(m, _single_points(points), **{**common, "style": point_style})
                lines = planned[np.isin(types, (1, 2, 5))]
                if len(lines):
                    add_lines(m, lines, **{**common, "style": replace(future, kind="line")})
                areas = planned[np.isin(types, (3, 6))]
                if len(areas):
                    add_polygons(m, areas, **{**common, "style": replace(future, kind="polygon")})
                if len(gdf) == 0:
                    return
        if kind == 0 and name in _OVER_SITES:
            add_polygons(
                m, gdf, style=style, pane="foncier-constraints", source_column=source_column
            )
        elif kind == 0:
            add_polygons(m, gdf, **common)
        elif kind == 1:
            add_lines(m, gdf, **common)
        else:
            add_points(m, _single_points(gdf), **common)

    # Areas under the sites, lines and points above them.
    for kind, name, gdf in ordered:
        if kind == 0 and name not in _OVER_SITES:
            add_layer(kind, name, gdf)

    sites = scored.copy()
    sites["_r"] = np.arange(len(sites))
    popup_data, shared_lines = site_popup_data(scored, sensitivity=sensitivity, top_n=top_n)
    sites["_popup_data"] = pd.Series(popup_data, index=sites.index, dtype=object)
    sites["excluded"] = sites["excluded"].astype(bool)
    label_col = _name_column(sites)
    legend_title = "Score (0–100)" + (f", profil {profile_name}" if profile_name else "")
    relative = _relative_lines(meta)
    if relative:
        # A relative score compares the candidate sites with one another: say it where the
        # colours are read, so that a 1 is not taken for "meets the need".
        legend_title += " — notes relatives au jeu de sites : " + " ; ".join(relative)
    sites["_label"] = [
        f"Site {sid}" + (f" – {nm}" if label_col and nm is not None and not pd.isna(nm) else "")
        for sid, nm in zip(
            sites["site_id"].astype(str),
            sites[label_col] if label_col else [None] * len(sites),
            strict=True,
        )
    ]
    sites["_tooltip_badge"] = [
        f"{lab} · score {fr_number(float(sc), 1)}"
        for lab, sc in zip(sites["_label"], sites["score"], strict=True)
    ]
    sites["_tooltip"] = _site_tooltips(sites, sensitivity=sensitivity, top_n=top_n)
    sites_layer = add_choropleth(
        m,
        sites,
        "score",
        scheme=scheme,
        k=k,
        cmap=cmap,
        excluded="excluded",
        label_column="_label",
        tooltip_column="_tooltip",
        popup_data_column="_popup_data",
        popup_header=BREAKDOWN_HEADER,
        popup_shared_footer=shared_lines,
        popup_class="foncier-breakdown",
        legend_title=legend_title,
        name="Sites candidats (score)",
        id_column="site_id",
        excluded_label="Site exclu (voir la raison dans la fiche)",
        properties=("_r",) if live_weights else (),
        popup_data_hook="foncierPopupData" if live_weights else None,
    )
    for kind, name, gdf in ordered:
        if kind > 0 or name in _OVER_SITES:
            add_layer(kind, name, gdf)
    badges = None
    diagnostics = _ranking_diagnostics(scored, top_n)
    if diagnostics is not None:
        add_note(
            m,
            "Classement : " + diagnostics.message,
            [*diagnostics.lines()[1:], *_relative_notes(meta)],
        )
    ranked = sites.loc[sites["rank"].notna()]
    if diagnostics is not None and (live_weights or not diagnostics.discriminates):
        # No badge "1" when the profile does not tell the best sites apart on this territory.
        # With live weights the banner is always written (hidden while the ranking
        # discriminates): the page shows or hides it as the weights change.
        add_notice(
            m,
            NOTHING_STANDS_OUT,
            diagnostics.reasons,
            hidden=diagnostics.discriminates,
            name="ranking",
        )
    if diagnostics is not None and not diagnostics.discriminates:
        if live_weights and top_n > 0:
            # An empty badges layer, for the page to fill when new weights single out sites.
            badges = add_rank_labels(m, ranked.iloc[:0], n=top_n, label_column="_tooltip_badge")
    elif top_n > 0:
        badges = add_rank_labels(m, ranked, n=top_n, label_column="_tooltip_badge")
    if live_weights:
        from foncier.reports.live_weights import add_weights_panel
        from maps.choropleth import class_colors

        add_weights_panel(
            m,
            sites,
            sites_layer=sites_layer,
            badges_layer=badges,
            legend_title=legend_title,
            colors={kk: class_colors(cmap, kk) for kk in range(1, max(int(k), 1) + 1)},
            scheme=scheme,
            k=k,
            profile=profile,
            top_n=top_n,
        )
    n_nan = int(np.isnan(sites["score"].to_numpy(dtype=float, na_value=np.nan)).sum())
    if n_nan:
        log.warning("%d site(s) without a score are drawn as excluded", n_nan)
    return finish_map(m)

"""The "fiche site": one printable A4 page per candidate site, for candidature dossiers.

A sheet holds a small static map of the site and its surroundings (inline SVG drawn from the
geometries: no tiles, so it works offline and prints sharp), the key figures (area in ha,
straight-line distances to the nearest rail freight station, port, motorway junction and
substation with their names), the score breakdown (criterion, raw value with unit, 0..1
score, weight, contribution in points out of 100), the exclusion reasons, the rank and its
stability under the sensitivity analysis, the one-line "why", the sources and the date.
Every text coming from data is escaped.

:func:`site_sheets` writes the sheets of the top sites plus an ``index.html``, and PDF files
through headless Chromium (:func:`maps.export.save_png`) when asked.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from foncier.engine.diagnostics import RankingDiagnostics, ranking_diagnostics
from foncier.engine.nearest import nearest_by_site
from foncier.engine.scoring import breakdown, rank
from foncier.engine.ties import SCORE_DECIMALS, round_key
from foncier.reports.exports import study_metadata
from layers.crs import check_projected
from layers.errors import RankingError, SchemaError
from layers.files import atomic_path
from layers.formatting import distance_text, split_commune_note
from layers.formatting import fr_number_text as _fr
from layers.online import summary_lines
from layers.registry import LAYERS

if TYPE_CHECKING:
    from foncier.reports.study import SitingStudy

__all__ = ["KEY_FIGURES", "site_figures", "site_map_svg", "site_sheet", "site_sheets"]

log = logging.getLogger(__name__)

#: Key distances of a sheet: (id, French label, layers searched, map style name), from the
#: ``key_distance`` of the layer registry's entries shown on sheets.
KEY_FIGURES: tuple[tuple[str, str, tuple[str, ...], str], ...] = tuple(
    (e.key_distance.id, e.key_distance.label, e.nearest_layers, e.name)
    for e in LAYERS.values()
    if e.key_distance is not None and e.key_distance.sheet
)
#: Nearest features farther than this are named in the figures but left off the small map,
#: metres: beyond it the site would shrink to a dot.
MAP_REACH_M = 15_000.0
#: A4 at 96 CSS pixels per inch, the page size given to Chromium for PDF sheets.
A4_PX = (794, 1123)

_CSS = """
@page { size: A4; margin: 0 }
* { box-sizing: border-box }
body { margin: 0; font-family: Arial, Helvetica, sans-serif; font-size: 9.5pt; color: #1a1a1a }
.page { width: 210mm; min-height: 297mm; padding: 12mm 13mm; margin: 0 auto }
h1 { font-size: 15pt; margin: 0 0 1mm }
h2 { font-size: 11pt; margin: 4mm 0 1.5mm; border-bottom: 1px solid #999 }
.sub { color: #555; margin: 0 0 3mm }
.top { display: flex; gap: 5mm; align-items: flex-start }
.map { flex: 0 0 98mm }
.map svg { width: 98mm; height: auto; border: 1px solid #bbb }
.figures { flex: 1 }
table { border-collapse: collapse; width: 100% }
td, th { padding: 0.8mm 1.5mm; border-bottom: 1px solid #ddd; text-align: left;
         vertical-align: top }
th { background: #f0f0f0 }
td.num, th.num { text-align: right; white-space: nowrap }
.why { margin: 3mm 0 0; padding: 2mm 3mm; background: #eef5fa; border-left: 3px solid #2c7fb8 }
.excluded { color: #a50f15; font-weight: bold }
footer { margin-top: 5mm; font-size: 8pt; color: #555 }
footer ul { margin: 1mm 0; padding-left: 5mm }
@media print { .page { margin: 0 } }
"""


def _e(value: Any) -> str:
    """Text for HTML: missing values as an empty string, everything else escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def _distance_text(metres: float, name: Any = None) -> str:
    if not math.isfinite(metres):
        return "hors de portée"
    # To a feature known only at its commune: "dans la commune de X, position exacte
    # inconnue" or "2,1 km de la commune de X (position exacte inconnue)".
    return distance_text(metres, name)


def _site_label(study: SitingStudy, site: Any) -> Any:
    """The index label of ``site`` (an index label or a ``site_id`` value)."""
    scored = study.scored
    if site in scored.index:
        return site
    if "site_id" in scored.columns:
        hits = scored.index[scored["site_id"].astype(str) == str(site)]
        if len(hits):
            return hits[0]
    examples = ", ".join(map(str, scored.index[:3]))
    raise SchemaError(
        f"site {site!r} is not among the study's {len(scored)} sites (index labels or "
        f"site_id values such as {examples}); see study.top() for the best ones."
    )


def _site_name(row: pd.Series, label: Any) -> str:
    for col in ("site_nom", "name", "nom"):
        value = row.get(col)
        if isinstance(value, str) and value.strip():
            return value
    return f"Site {row.get('site_id', label)}"


def site_figures(study: SitingStudy, site: Any) -> pd.DataFrame:
    """Nearest rail freight station, port, motorway junction and substation of one site.

    Parameters
    ----------
    study : SitingStudy
        A siting study (its layers, in the territory's projected CRS, are searched).
    site : index label or site_id
        The site.

    Returns
    -------
    DataFrame
        One row per entry of :data:`KEY_FIGURES`: ``figure`` (id), ``label``, ``name``
        (nearest feature, with its exit number for a junction), ``distance_m`` (metres,
        straight line from the site's outline; ``nan`` when the study has no such layer,
        ``inf`` when the layer is empty), ``x``, ``y`` (the nearest feature's nearest point,
        territory CRS) and ``style`` (map style name).
    """
    label = _site_label(study, site)
    one = study.scored.loc[[label]]
    check_projected(one, "sites")
    nearest = nearest_by_site(
        one,
        study.layers,
        {fid: specs for fid, _, specs, _ in KEY_FIGURES},
        voltage=True,
        nearest_point=True,
    )
    records = []
    for fid, text, _specs, style in KEY_FIGURES:
        record: dict[str, Any] = {
            "figure": fid,
            "label": text,
            "name": None,
            "distance_m": np.nan,
            "x": np.nan,
            "y": np.nan,
            "style": style,
        }
        near = nearest[fid]
        if near is not None:
            row = near.iloc[0]
            record["distance_m"] = float(row["distance_m"])
            record["name"] = row["nearest_name"]
            record["x"], record["y"] = float(row["x"]), float(row["y"])
        records.append(record)
    return pd.DataFrame.from_records(records)


# --------------------------------------------------------------------------- SVG map


def _path_data(geom: BaseGeometry, to_px: Any) -> str:
    """SVG path data of a polygon, line or collection (rings closed, holes by even-odd)."""
    parts: list[str] = []
    for part in getattr(geom, "geoms", [geom]):
        if part.is_empty:
            continue
        if part.geom_type == "Polygon":
            rings = [part.exterior, *part.interiors]
            close = True
        elif part.geom_type in ("LineString", "LinearRing"):
            rings, close = [part], False
        elif part.geom_type.startswith("Multi") or part.geom_type == "GeometryCollection":
            parts.append(_path_data(part, to_px))
            continue
        else:
            continue
        for ring in rings:
            xy = to_px(shapely.get_coordinates(ring))
            if len(xy) == 0:
                continue
            pts = " L".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(f"M{pts}{' Z' if close else ''}")
    return " ".join(p for p in parts if p)


def _nice_length(max_m: float) -> float:
    """The longest round length (1, 2 or 5 × 10^n metres) not above ``max_m``."""
    if max_m <= 0:
        return 1.0
    exp = math.floor(math.log10(max_m))
    for mult in (5, 2, 1):
        if mult * 10**exp <= max_m:
            return float(mult * 10**exp)
    return float(10**exp)


def site_map_svg(
    study: SitingStudy,
    site: Any,
    *,
    figures: pd.DataFrame | None = None,
    width: int = 370,
    height: int = 300,
) -> str:
    """A small static map of a site and its nearest infrastructure, as inline SVG.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    site : index label or site_id
        The site.
    figures : DataFrame, optional
        Output of :func:`site_figures` (computed when not given).
    width, height : int
        Size of the drawing, CSS pixels.

    Returns
    -------
    str
        An ``<svg>`` element: the territory outline, the neighbouring candidate sites, the
        site (blue), its nearest infrastructure within :data:`MAP_REACH_M` (icon, dashed
        line, name), a scale bar and a north arrow. Drawn in the territory's CRS (north up).
    """
    from maps.styles import layer_style

    label = _site_label(study, site)
    figs = site_figures(study, label) if figures is None else figures
    geom = study.scored.geometry.loc[label]
    x0, y0, x1, y1 = geom.bounds
    shown = figs[np.isfinite(figs["x"]) & (figs["distance_m"] <= MAP_REACH_M)]
    if len(shown):
        x0, x1 = min(x0, shown["x"].min()), max(x1, shown["x"].max())
        y0, y1 = min(y0, shown["y"].min()), max(y1, shown["y"].max())
    # At least 2 km across, 12 % margin, and the drawing's aspect ratio.
    span = max(x1 - x0, y1 - y0, 2000.0) * 1.24
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = min(width, height) / span  # pixels per metre
    half_w, half_h = width / scale / 2, height / scale / 2
    box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)

    def to_px(xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        return np.column_stack(((xy[:, 0] - box[0]) * scale, (box[3] - xy[:, 1]) * scale))

    tolerance = 0.5 / scale
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Carte du site">',
        f'<rect width="{width}" height="{height}" fill="#f7f5f0"/>',
    ]
    perimeter = shapely.clip_by_rect(study.territory.perimeter, *box)
    if not perimeter.is_empty:
        d = _path_data(shapely.simplify(perimeter, tolerance), to_px)
        out.append(
            f'<path class="territory" d="{d}" fill="#ffffff" stroke="#1a1a1a" '
            'stroke-width="1.5" fill-rule="evenodd"/>'
        )
    scored = study.scored
    near_idx = scored.sindex.query(shapely.box(*box), predicate="intersects")
    others = scored.iloc[near_idx]
    others = others[others.index != label]
    if len(others):
        # One sub-path per neighbour (no union), so the grid's cell edges stay visible.
        clipped = shapely.simplify(
            shapely.clip_by_rect(others.geometry.to_numpy(), *box), tolerance
        )
        d = " ".join(_path_data(g, to_px) for g in clipped if not g.is_empty)
        out.append(
            f'<path class="neighbours" d="{d}" fill="#e3e3e3" fill-opacity="0.6" '
            'stroke="#b0b0b0" stroke-width="0.6" fill-rule="evenodd"/>'
        )
    site_d = _path_data(geom, to_px)
    centre = to_px(np.array(geom.representative_point().coords))[0]
    used_y: list[float] = []
    for row in shown.sort_values("y", ascending=False).itertuples():
        style = layer_style(str(row.style), kind="point")
        px, py = to_px(np.array([[row.x, row.y]]))[0]
        # Labels of features close together would overlap: move each one down until it
        # clears the ones already placed (12 px rows).
        ly = py + 3
        while any(abs(ly - other) < 12 for other in used_y):
            ly += 12
        used_y.append(ly)
        out.append(
            f'<line x1="{centre[0]:.1f}" y1="{centre[1]:.1f}" x2="{px:.1f}" y2="{py:.1f}" '
            f'stroke="{_e(style.color)}" stroke-width="1" stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{_e(style.color)}" '
            'stroke="#ffffff" stroke-width="1.5"/>'
        )
        anchor = "end" if px > width - 120 else "start"
        dx = -8 if anchor == "end" else 8
        out.append(
            f'<text x="{px + dx:.1f}" y="{ly:.1f}" font-size="9" text-anchor="{anchor}" '
            f'fill="#1a1a1a" stroke="#ffffff" stroke-width="2.5" paint-order="stroke">'
            f"{_e(row.name or row.label)}</text>"
        )
    out.append(
        f'<path class="site" d="{site_d}" fill="#2c7fb8" fill-opacity="0.55" '
        'stroke="#08306b" stroke-width="2" fill-rule="evenodd"/>'
    )
    # Scale bar (bottom left) and north arrow (top right).
    length = _nice_length(span * 0.3)
    bar = length * scale
    text = f"{_fr(length / 1000, 0)} km" if length >= 1000 else f"{_fr(length, 0)} m"
    yb = height - 12
    out.append(
        f'<g class="scalebar"><rect x="8" y="{yb - 14}" width="{bar + 16:.1f}" height="22" '
        'fill="#ffffff" fill-opacity="0.8"/>'
        f'<path d="M16,{yb - 4} L16,{yb} L{16 + bar:.1f},{yb} L{16 + bar:.1f},{yb - 4}" '
        'fill="none" stroke="#1a1a1a" stroke-width="1.5"/>'
        f'<text x="{16 + bar / 2:.1f}" y="{yb - 5}" font-size="9" text-anchor="middle">'
        f"{_e(text)}</text></g>"
    )
    out.append(
        f'<g class="north"><path d="M{width - 18},10 L{width - 12},26 L{width - 18},22 '
        f'L{width - 24},26 Z" fill="#1a1a1a"/><text x="{width - 18}" y="37" font-size="9" '
        'text-anchor="middle">N</text></g>'
    )
    out.append("</svg>")
    return "\n".join(out)


# --------------------------------------------------------------------------- the sheet


def _diagnostics(study: SitingStudy) -> RankingDiagnostics:
    return ranking_diagnostics(study.scored, top_n=study.top_n)


def _tied_with(study: SitingStudy, label: Any) -> str:
    """Text naming how many other ranked sites share the site's score."""
    scored = study.scored
    ranked = scored["rank"].notna().to_numpy()
    key = round_key(scored["score"].to_numpy(dtype=float), SCORE_DECIMALS)
    mine = key[scored.index.get_loc(label)]
    others = int(((key == mine) & ranked).sum()) - 1
    return f"{others} autre{'s' if others > 1 else ''} site{'s' if others > 1 else ''}"


def _ranking_html(diag: RankingDiagnostics) -> str:
    """The "Classement" section: verdict, ties, spread, what each criterion separates."""
    head, *rest = diag.lines()
    css = "why" if diag.discriminates else "excluded"
    items = "".join(f"<li>{_e(line)}</li>" for line in rest)
    return f"<h2>Classement</h2><p class='{css}'>{_e(head)}</p><ul>{items}</ul>"


def _stability(study: SitingStudy, label: Any) -> str:
    sens = study.sensitivity
    if sens is None or label not in sens.index:
        return "non évaluée (pas d'analyse de sensibilité)"
    row = sens.loc[label]
    parts = []
    if "rank_p05" in row and "rank_p95" in row and pd.notna(row["rank_p05"]):
        parts.append(f"rang entre {_fr(row['rank_p05'], 0)} et {_fr(row['rank_p95'], 0)}")
    if "p_top_n" in row and pd.notna(row["p_top_n"]):
        parts.append(
            f"dans les {study.top_n} premiers dans {_fr(100 * row['p_top_n'], 0)} % des tirages"
        )
    return ", ".join(parts) + " (90 % des tirages de poids)" if parts else "non évaluée"


def _sources_lines(study: SitingStudy) -> list[str]:
    meta = study_metadata(study)
    lines = []
    for layer, entry in meta["sources"].items():
        names = [n if len(n) <= 70 else n[:69] + "…" for n in entry.get("source", [])]
        # Layers built from documents list one source per feature: keep the sheet to a page.
        if len(names) > 3:
            names = [*names[:3], f"et {len(names) - 3} autre(s)"]
        src = " ; ".join(names) or "source non renseignée"
        dates = entry.get("date", [])
        when = f" ({', '.join(dates[:2])})" if dates else ""
        lines.append(f"{layer} : {src}{when}")
    # Which online layers the ranking used, and which it could not get (layers.online).
    lines += [f"En ligne – {line}" for line in summary_lines(meta.get("online") or [])]
    text = " ".join(lines).lower()
    if "osm" in text or "openstreetmap" in text:
        lines.append("© les contributeurs d'OpenStreetMap (ODbL)")
    return lines


def site_sheet(study: SitingStudy, site: Any, *, path: str | os.PathLike[str] | None = None) -> str:
    """The "fiche site" of one site: a printable A4 HTML page.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    site : index label or site_id
        The site.
    path : str or path-like, optional
        Also write the page there (atomically, UTF-8).

    Returns
    -------
    str
        The HTML page: small map (inline SVG), key figures (area in ha, distances to the
        nearest rail freight station, port, motorway junction and substation), score
        breakdown, exclusion reasons, rank and its stability, the "why", sources and date.
    """
    label = _site_label(study, site)
    row = study.scored.loc[label]
    parts = breakdown(study.scored, label)
    info = parts.attrs
    figs = site_figures(study, label)
    svg = site_map_svg(study, label, figures=figs)
    name = _site_name(row, label)
    n_ranked = int(pd.to_numeric(study.scored["rank"], errors="coerce").notna().sum())
    rank_value = info.get("rank")
    excluded = bool(info.get("excluded"))
    if excluded or rank_value is None or pd.isna(rank_value):
        rank_text = '<span class="excluded">site exclu</span>'
    else:
        rank_text = f"rang <b>{int(rank_value)}</b> sur {n_ranked}"
        if bool(row.get("ex_aequo", False)):
            rank_text += f" (ex aequo : même score que {_tied_with(study, label)})"
    diagnostics = _diagnostics(study)
    area_m2 = float(row["area_m2"]) if "area_m2" in row else float(row.geometry.area)

    fig_rows = [
        f"<tr><th>Surface</th><td class='num'>{_fr(area_m2 / 1e4, 1)} ha</td><td></td></tr>",
        f"<tr><th>Score</th><td class='num'>{_fr(info['score'], 1)} / 100</td>"
        f"<td>{rank_text}</td></tr>",
    ]
    for f in figs.to_dict("records"):
        dist = float(f["distance_m"])
        value = "couche absente" if math.isnan(dist) else _distance_text(dist, f["name"])
        fig_rows.append(
            f"<tr><th>{_e(f['label'])}</th><td class='num'>{_e(value)}</td>"
            f"<td>{_e(split_commune_note(f['name'])[0])}</td></tr>"
        )
    place = ", ".join(_e(row.get(c)) for c in ("commune", "insee") if _e(row.get(c))) or _e(
        row.get("site_id")
    )

    table = [
        "<table class='breakdown'><tr><th>Critère</th><th class='num'>Valeur</th>"
        "<th>Plus proche</th><th class='num'>Note 0..1</th><th class='num'>Poids</th>"
        "<th class='num'>Contribution (pts)</th></tr>"
    ]
    for r in parts.to_dict("records"):
        table.append(
            f"<tr><td>{_e(r['label'])}</td><td class='num'>{_e(r['raw_text'])}</td>"
            f"<td>{_e(split_commune_note(r['nearest'])[0])}</td>"
            f"<td class='num'>{_fr(r['score'], 2)}</td>"
            f"<td class='num'>{_fr(r['weight'], 2)}</td>"
            f"<td class='num'>{_fr(100 * float(r['contribution']), 1)}</td></tr>"
        )
    table.append(
        f"<tr><th colspan='5'>Score</th><th class='num'>{_fr(info['score'], 1)}</th></tr></table>"
    )
    reasons = info.get("exclusion_reasons")
    exclusion = (
        f"<p class='excluded'>{_e(reasons)}</p>"
        if excluded and isinstance(reasons, str) and reasons
        else (
            "<p class='excluded'>Site exclu.</p>"
            if excluded
            else "<p>Aucune règle d'exclusion ne s'applique à ce site.</p>"
        )
    )
    skipped = info.get("skipped") or []
    skipped_html = (
        "<h2>Non évalué</h2><ul>" + "".join(f"<li>{_e(s)}</li>" for s in skipped) + "</ul>"
        if skipped
        else ""
    )
    why = row.get("why")
    why_html = f"<p class='why'>{_e(why)}</p>" if isinstance(why, str) and why else ""
    today = dt.date.today().strftime("%d/%m/%Y")
    sources = "".join(f"<li>{_e(line)}</li>" for line in _sources_lines(study))
    page = f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>Fiche site – {_e(name)}</title>
<style>{_CSS}</style>
</head>
<body>
<div class="page">
<h1>{_e(name)}</h1>
<p class="sub">{place} · {_e(study.territory.name)} · profil « {_e(study.profile.name)} » ·
{rank_text}</p>
<div class="top">
<div class="map">{svg}</div>
<div class="figures"><table>{"".join(fig_rows)}</table>
<p>Stabilité du rang : {_e(_stability(study, label))}.</p></div>
</div>
{why_html}
<h2>Détail du score</h2>
{"".join(table)}
<h2>Exclusion</h2>
{exclusion}
{skipped_html}
{_ranking_html(diagnostics)}
<footer>
<div>Distances à vol d'oiseau depuis le contour du site. Sources :</div>
<ul>{sources}</ul>
<div>Fiche produite par foncier le {_e(today)} ·
identifiant du site : {_e(row.get("site_id", label))}</div>
</footer>
</div>
</body>
</html>
"""
    if path is not None:
        out = Path(path)
        with atomic_path(out) as tmp:
            tmp.write_text(page, encoding="utf-8")
        log.info("site sheet saved to %s", out)
    return page


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:60] or "site"


def site_sheets(
    study: SitingStudy,
    folder: str | os.PathLike[str],
    *,
    top_n: int = 10,
    pdf: bool = False,
    force: bool = False,
) -> list[Path]:
    """Write the sheets of the top sites and an ``index.html`` linking them.

    Sheets numbered 1..N present a shortlist: when the ranking does not single out its top N
    (:func:`foncier.engine.diagnostics.ranking_diagnostics`: every criterion constant, more
    than N sites tied for first, or a top-N spread below 0.1 point), nothing is written
    unless ``force=True``, and then every sheet and the index say so.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    folder : str or path-like
        Output folder (created if needed).
    top_n : int
        Number of sites, best first.
    pdf : bool
        Also print each sheet to an A4 PDF with headless Chromium.
    force : bool
        Write the sheets even when the ranking does not discriminate.

    Returns
    -------
    list of pathlib.Path
        The sheets (``fiche_01_<site_id>.html`` …, best first), then ``index.html``, then
        the PDF files when asked.

    Raises
    ------
    RankingError
        When the ranking does not single out its top ``top_n`` and ``force`` is False
        (the message gives the reasons, in French).
    MissingDependencyError
        With ``pdf=True`` when Chromium is not installed.
    """
    diag = ranking_diagnostics(study.scored, top_n=top_n)
    if not diag.discriminates:
        if not force:
            raise RankingError(
                f"{diag.message} Les fiches numérotées 1 à {top_n} désigneraient des sites que "
                "le profil ne distingue pas : ajustez le profil ou les sites candidats, ou "
                "forcez l'écriture (force=True, --force en ligne de commande)."
            )
        log.warning("site sheets forced although %s", diag.message)
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    best = rank(study.scored, top_n=top_n).head(top_n)
    sheets: list[Path] = []
    rows = []
    for position, label in enumerate(best.index, start=1):
        site_row = study.scored.loc[label]
        site_id = str(site_row.get("site_id", label))
        path = out_dir / f"fiche_{position:02d}_{_safe_name(site_id)}.html"
        site_sheet(study, label, path=path)
        sheets.append(path)
        rows.append(
            f"<tr><td class='num'>{position}</td><td><a href='{_e(path.name)}'>"
            f"{_e(_site_name(site_row, label))}</a></td>"
            f"<td class='num'>{_fr(site_row['score'], 1)}"
            f"{' (ex aequo)' if bool(site_row.get('ex_aequo', False)) else ''}</td>"
            f"<td>{_e(site_row.get('commune'))}</td></tr>"
        )
    index = f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<title>Fiches sites – {_e(study.territory.name)}</title><style>{_CSS}</style></head>
<body><div class="page"><h1>Fiches sites – {_e(study.territory.name)}</h1>
<p class="sub">Profil « {_e(study.profile.name)} » · {len(sheets)} meilleurs sites ·
{_e(dt.date.today().strftime("%d/%m/%Y"))}</p>
<p class="{"why" if diag.discriminates else "excluded"}">{_e(diag.message)}</p>
<table><tr><th class='num'>Rang</th><th>Site</th><th class='num'>Score</th><th>Commune</th></tr>
{"".join(rows)}</table></div></body></html>
"""
    index_path = out_dir / "index.html"
    with atomic_path(index_path) as tmp:
        tmp.write_text(index, encoding="utf-8")
    written = [*sheets, index_path]
    if pdf:
        written += _print_pdfs(sheets)
    log.info("%d site sheets written to %s", len(sheets), out_dir)
    return written


def _print_pdfs(sheets: Sequence[Path]) -> list[Path]:
    from maps.export import save_png

    pdfs = []
    for sheet in sheets:
        target = sheet.with_suffix(".pdf")
        save_png(sheet, target, width=A4_PX[0], height=A4_PX[1], wait_s=2.0, pdf=True)
        pdfs.append(target)
    return pdfs

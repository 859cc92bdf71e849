"""Live weights in the siting map: the reader moves the priorities, the ranking follows.

:func:`add_weights_panel` adds to a siting map a collapsible panel with one slider per
scored criterion (label, unit, weight in force), a reset button, the aggregation named, the
criteria that could not be evaluated greyed, and a "copier le profil" button that gives the
TOML of the weights in force (usable with ``foncier map --profile``). Moving a slider
recomputes in the browser, with no server, every site's score, the ranks (same tie rule as
:mod:`foncier.engine.scoring`), the top-N badges, the score classes and legend, the popups
and their "why" line, and the ranking diagnostics (:func:`foncier.engine.diagnostics.
ranking_diagnostics`, same rules and thresholds): the "nothing stands out" banner is shown,
and the badges withheld, exactly when the weights in force single out no site, and the
ranking note says why; the weights go into the URL fragment (``#poids=rail_freight:40,…``) so
that a shared link opens with them.

The browser reproduces :func:`foncier.engine.aggregation.aggregate` exactly: the 0..1
criterion scores and tie-break keys travel as full doubles (base64 of little-endian
float64), and the script follows numpy's order of operations (pairwise sums, the two-lane
accumulation of ``einsum``), so its scores equal ``foncier.score`` with the same weights to
the last bits and its ranking is the same. Exclusions are hard rules computed by foncier:
they are shown as such and never re-weighted.

Weights are set in points from 0 to 100 per criterion and normalised over the criteria of
the profile, as a profile's ``weight`` keys are; the map opens with the profile's own weights
(rounded to whole points only once a slider moves).
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from foncier.engine.diagnostics import (
    MIN_SEPARATION,
    MIN_TOP_SPREAD,
    SATURATION_SHARE,
    TOLERANCE,
)
from foncier.engine.profiles import Profile, load_profile, profile_to_toml
from foncier.engine.ties import SCORE_DECIMALS, site_id_codes
from foncier.engine.transforms import apply_transform
from layers.errors import FoncierError
from layers.formatting import split_commune_note

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["AGGREGATION_LABELS", "MAX_POINTS", "add_weights_panel", "weights_panel_data"]

log = logging.getLogger(__name__)

#: Largest weight of a slider, in points.
MAX_POINTS = 100

#: How the panel names each aggregation.
AGGREGATION_LABELS = {
    "weighted_sum": "somme pondérée (un point fort compense un point faible)",
    "weighted_product": "produit pondéré (un critère nul annule le score)",
    "owa": "moyenne pondérée ordonnée (OWA)",
}

_UNITS = {
    "m": "distance, m",
    "share": "part de la surface",
    "bool": "oui / non",
    "m²": "surface, m²",
    "hab.": "habitants",
    "count": "nombre",
}

_SCRIPT = Path(__file__).parent / "static" / "live_weights.js"

_CSS = """
<style>
.foncier-weights {background: rgba(255,255,255,0.96); border-radius: 6px; max-width: 330px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); font: 12px/1.4 Arial, Helvetica, sans-serif;
  color: #222; padding: 6px 10px;}
.foncier-weights .fw-toggle {font: bold 13px Arial, Helvetica, sans-serif; background: none;
  border: none; padding: 2px 0; cursor: pointer; color: #111; text-align: left; width: 100%;}
.foncier-weights .fw-toggle:focus-visible, .foncier-weights button:focus-visible,
.foncier-weights input:focus-visible {outline: 2px solid #1565c0; outline-offset: 1px;}
.foncier-weights .fw-toggle::before {content: "\\25B8  ";}
.foncier-weights.fw-open .fw-toggle::before {content: "\\25BE  ";}
.foncier-weights .fw-summary {color: #444; font-size: 11px;}
.foncier-weights .fw-body {display: none; margin-top: 6px; max-height: 55vh; overflow-y: auto;}
.foncier-weights.fw-open .fw-body {display: block;}
.foncier-weights .fw-row {margin: 5px 0;}
.foncier-weights .fw-row label {display: block; font-weight: bold;}
.foncier-weights .fw-unit {font-weight: normal; color: #555;}
.foncier-weights .fw-line {display: flex; align-items: center; gap: 6px;}
.foncier-weights input[type=range] {flex: 1; min-width: 150px; margin: 0;}
.foncier-weights output {min-width: 42px; text-align: right; font-variant-numeric: tabular-nums;}
.foncier-weights .fw-skipped {color: #8a8a8a;}
.foncier-weights .fw-note {color: #555; font-size: 11px; margin: 4px 0;}
.foncier-weights .fw-buttons {display: flex; gap: 6px; margin: 6px 0 2px 0;}
.foncier-weights .fw-buttons button {font: 12px Arial, Helvetica, sans-serif; padding: 2px 8px;
  border: 1px solid #888; border-radius: 4px; background: #f5f5f5; cursor: pointer;}
.foncier-weights .fw-state {font-size: 11px; color: #1a4d8f; min-height: 1em;}
.foncier-weights .fw-toml {display: none; width: 100%; height: 90px; font: 10px monospace;
  margin-top: 4px; box-sizing: border-box;}
.foncier-reclassed {font-size: 11px; color: #555; margin-top: 2px;}
</style>
"""


def _b64(values: Any, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def _js_literal(value: Any) -> str:
    # JSON is valid JavaScript; escaping <, > and & keeps "</script>" from ending the page's
    # script element whatever the strings hold.
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _near_is_good(transform: Mapping[str, Any]) -> bool:
    # As the "why" sentences of foncier.engine.scoring: being near scores better.
    return bool(np.diff(apply_transform(np.array([0.0, 1e9]), transform))[0] < 0)


def _id_order(scored: pd.DataFrame) -> np.ndarray:
    """Position of each site in ascending id order (the last key of the ranking).

    The ids are those of :func:`foncier.engine.ties.site_id_codes` (the ``site_id`` column,
    else the index, as text); equal ids keep the sites' order, as the ranking does.
    """
    ids = scored["site_id"] if "site_id" in scored.columns else scored.index
    order = np.argsort(site_id_codes(np.asarray(ids, dtype=object)), kind="stable")
    out = np.empty(len(scored), dtype=np.int32)
    out[order] = np.arange(len(scored), dtype=np.int32)
    return out


def _profile_for(meta: Mapping[str, Any], profile: Profile | None) -> Profile | None:
    active = [c["id"] for c in meta.get("criteria", [])]
    if profile is None:
        pid = meta.get("profile")
        if not pid:
            return None
        try:
            profile = load_profile(str(pid))
        except FoncierError:
            log.info("profile %r is not a shipped one: the map cannot copy it as TOML", pid)
            return None
    ids = [c.id for c in profile.criteria]
    if [i for i in ids if i in active] != active:
        log.warning(
            "profile %r does not hold the scored criteria %s: the map cannot copy it as TOML",
            profile.id,
            active,
        )
        return None
    return profile


def weights_panel_data(
    scored: gpd.GeoDataFrame,
    *,
    profile: Profile | None = None,
    top_n: int = 10,
) -> dict[str, Any]:
    """Everything the browser needs to re-weight a scored table, as JSON-ready values.

    Parameters
    ----------
    scored : GeoDataFrame
        Output of :func:`foncier.engine.scoring.score` (in any projected CRS).
    profile : Profile, optional
        The profile it was scored with (default: the shipped profile named in its metadata);
        without it the panel cannot give the profile as TOML.
    top_n : int
        Number of rank badges.

    Returns
    -------
    dict
        Criteria (label, unit, weight, scores and tie-break keys as base64 float64), the
        profile's criteria with their initial points, the aggregation and order weights,
        exclusions, id order, badge positions (degrees) and the TOML template.
    """
    meta: Mapping[str, Any] = scored.attrs.get("foncier", {}) or {}
    criteria = [c for c in meta.get("criteria", []) if f"{c['id']}__score" in scored.columns]
    if not criteria:
        raise FoncierError("no scored criterion in the table: pass the output of foncier.score.")
    prof = _profile_for(meta, profile)
    n = len(scored)
    crit_out = []
    for c in criteria:
        cid = c["id"]
        item: dict[str, Any] = {
            "id": cid,
            "label": str(c.get("label", cid)),
            "unit": str(c.get("unit", "")),
            "weight": float(c["weight"]),
            "distance": c.get("measure") == "distance",
            "near_is_good": _near_is_good(c["transform"]) if c.get("transform") else True,
            "scores": _b64(scored[f"{cid}__score"].to_numpy(dtype=float), "<f8"),
            # Why the criterion may saturate (said in the ranking diagnostics), if the
            # profile gives a reason.
            "saturation": (c.get("transform") or {}).get("saturation"),
        }
        if f"{cid}__tiebreak" in scored.columns:
            item["tiebreak"] = _b64(scored[f"{cid}__tiebreak"].to_numpy(dtype=float), "<f8")
        if f"{cid}__nearest" in scored.columns:
            names = scored[f"{cid}__nearest"]
            valid = names.notna().to_numpy() & (names.astype(str) != "").to_numpy()
            codes, uniques = pd.factorize(names.where(valid).astype(object))
            item["nearest"] = {
                # Without the commune note: the popup's value already says it.
                "names": [str(split_commune_note(str(u))[0]) for u in uniques],
                "idx": _b64(np.where(valid, codes, -1), "<i4"),
            }
        crit_out.append(item)
    active_ids = [c["id"] for c in criteria]
    all_crit: list[dict[str, Any]]
    if prof is not None:
        all_crit = [
            {
                "id": c.id,
                "label": c.label,
                "active": c.id in active_ids,
                "points": round(MAX_POINTS * c.weight),
            }
            for c in prof.criteria
        ]
    else:
        all_crit = [
            {
                "id": c["id"],
                "label": str(c.get("label", c["id"])),
                "active": True,
                "points": round(MAX_POINTS * float(c.get("profile_weight", c["weight"]))),
            }
            for c in criteria
        ]
    points = [max(0, min(MAX_POINTS, int(c["points"]))) for c in all_crit]
    if not any(p for c, p in zip(all_crit, points, strict=True) if c["active"]):
        points = [1 if c["active"] else p for c, p in zip(all_crit, points, strict=True)]
    for c, p in zip(all_crit, points, strict=True):
        c["points"] = p
    toml = None
    if prof is not None:
        toml = profile_to_toml(
            prof,
            weight_text=[f"@@weight{j}@@" for j in range(len(prof.criteria))],
            comment=(
                f"Profil {prof.id} avec les poids choisis sur la carte de sites "
                "(points, normalisés à la lecture).\n"
                "Usage : foncier map TERRITOIRE --profile ce-fichier.toml"
            ),
        )
    import geopandas as gpd
    import shapely

    geoms = gpd.GeoSeries(scored.geometry, crs=scored.crs).to_crs(4326).to_numpy()
    pts = shapely.point_on_surface(geoms)
    latlon = np.column_stack([shapely.get_y(pts), shapely.get_x(pts)]).round(5)
    excluded = scored["excluded"].fillna(False).to_numpy(dtype=bool)
    return {
        "n": n,
        "criteria": crit_out,
        "all": all_crit,
        "skipped": [
            {
                "id": str(s.get("id", "")),
                "label": str(s.get("label") or s.get("id") or ""),
                "reason": str(s.get("reason") or ""),
                "layer": str(s.get("layer") or ""),
            }
            for s in meta.get("criteria_skipped", [])
            if isinstance(s, Mapping)
        ],
        "exclusions": [str(e.get("label", e.get("id"))) for e in meta.get("exclusions", [])],
        "aggregation": str(meta.get("aggregation", "weighted_sum")),
        "order_weights": [float(v) for v in meta.get("order_weights") or []] or None,
        "excluded": _b64(excluded, "u1"),
        "id_order": _b64(_id_order(scored), "<i4"),
        "positions": _b64(np.nan_to_num(latlon).ravel(), "<f8"),
        "top_n": int(top_n),
        # The thresholds of foncier.engine.diagnostics, for the page to recompute them.
        "diagnostics": {
            "min_top_spread": MIN_TOP_SPREAD,
            "min_separation": MIN_SEPARATION,
            "saturation_share": SATURATION_SHARE,
            "score_decimals": SCORE_DECIMALS,
            "tolerance": TOLERANCE,
        },
        "max_points": MAX_POINTS,
        "toml": toml,
        "profile": str(meta.get("profile_name") or meta.get("profile") or ""),
    }


def _unit_text(unit: str) -> str:
    return _UNITS.get(unit, unit)


def _panel_html(data: Mapping[str, Any], panel_id: str) -> str:
    e = html.escape
    rows = []
    by_id = {c["id"]: c for c in data["criteria"]}
    points = {c["id"]: c["points"] for c in data["all"]}
    for c in data["criteria"]:
        share = f"{100 * c['weight']:.0f} %"
        slider_id = f"{panel_id}-{c['id']}"
        unit = _unit_text(c["unit"])
        rows.append(
            '<div class="fw-row">'
            f'<label for="{e(slider_id)}">{e(c["label"])}'
            + (f' <span class="fw-unit">({e(unit)})</span>' if unit else "")
            + "</label>"
            '<div class="fw-line">'
            f'<input type="range" id="{e(slider_id)}" min="0" max="{MAX_POINTS}" step="1" '
            f'value="{int(points[c["id"]])}" data-criterion="{e(c["id"])}" '
            f'aria-valuetext="{e(share)}">'
            f'<output for="{e(slider_id)}" data-share="{e(c["id"])}">{e(share)}</output>'
            "</div></div>"
        )
    for s in data["skipped"]:
        if s["id"] in by_id:
            continue
        reason = s["reason"] + (f" ({s['layer']})" if s["layer"] else "")
        rows.append(
            '<div class="fw-row fw-skipped" aria-disabled="true">'
            f"<label>{e(s['label'])}</label>"
            f'<span class="fw-note">non évalué : {e(reason)} ; son poids est réparti '
            "sur les autres critères</span></div>"
        )
    agg = AGGREGATION_LABELS.get(data["aggregation"], data["aggregation"])
    if data["aggregation"] == "owa" and data["order_weights"]:
        agg += " ; poids d'ordre " + ", ".join(f"{v:.2f}" for v in data["order_weights"])
    excl = data["exclusions"]
    excl_note = (
        "Exclusions (" + ", ".join(excl) + ") : règles strictes, non repondérées."
        if excl
        else "Les exclusions sont des règles strictes : elles ne sont pas repondérées."
    )
    summary = " · ".join(f"{c['label']} {100 * c['weight']:.0f} %" for c in data["criteria"])
    copy = (
        '<button type="button" class="fw-copy">Copier le profil</button>'
        if data.get("toml")
        else ""
    )
    return (
        f'<div id="{e(panel_id)}" class="foncier-weights" role="region" '
        'aria-label="Poids des critères">'
        f'<button type="button" class="fw-toggle" aria-expanded="false" '
        f'aria-controls="{e(panel_id)}-body">Poids des critères</button>'
        f'<div class="fw-summary">{e(summary)}</div>'
        f'<div class="fw-body" id="{e(panel_id)}-body">'
        f'<div class="fw-note">Agrégation : {e(agg)}</div>'
        + "".join(rows)
        + f'<div class="fw-note">{e(excl_note)}</div>'
        '<div class="fw-buttons">'
        '<button type="button" class="fw-reset">Réinitialiser</button>' + copy + "</div>"
        '<textarea class="fw-toml" readonly aria-label="Profil TOML des poids en cours">'
        "</textarea></div>"
        '<div class="fw-state" role="status" aria-live="polite"></div>'
        "</div>"
    )


def add_weights_panel(
    m: folium.Map,
    scored: gpd.GeoDataFrame,
    *,
    sites_layer: folium.FeatureGroup,
    badges_layer: folium.FeatureGroup | None,
    legend_title: str,
    colors: Mapping[int, Sequence[str]],
    scheme: str = "Quantiles",
    k: int = 5,
    profile: Profile | None = None,
    top_n: int = 10,
) -> None:
    """Add the live-weights panel and its script to a siting map.

    Parameters
    ----------
    m : folium.Map
        The siting map.
    scored : GeoDataFrame
        The scored sites drawn in ``sites_layer``, in the same order as its features'
        ``_r`` property.
    sites_layer : folium.FeatureGroup
        The choropleth of the sites (:func:`maps.choropleth.add_choropleth`).
    badges_layer : folium.FeatureGroup or None
        The rank badges (:func:`maps.labels.add_rank_labels`), redrawn on change.
    legend_title : str
        Title of the choropleth's legend entry (its classes are rewritten on change).
    colors : mapping of int to list of str
        Class colours for each possible number of classes.
    scheme, k : str, int
        The choropleth's classification: quantiles and equal intervals are re-classed on the
        new scores; any other scheme keeps its class bounds.
    profile : Profile, optional
        The profile of the scores (for the TOML copy).
    top_n : int
        Number of rank badges (never more).
    """
    from branca.element import MacroElement
    from jinja2 import Template

    from maps.labels import rank_badge

    data = weights_panel_data(scored, profile=profile, top_n=top_n)
    key = scheme.lower().replace("_", "").replace("-", "")
    reclassed = key in ("quantiles", "equalinterval")
    bins = [float(b) for b in getattr(sites_layer, "foncier_bins", [])]
    data["classes"] = {
        "scheme": key,
        "k": int(k),
        "bins": bins,
        "colors": {str(kk): list(cs) for kk, cs in colors.items()},
        "note": (
            "Classes recalculées (quantiles) sur les scores aux poids en cours."
            if key == "quantiles"
            else "Classes recalculées (intervalles égaux) sur les scores aux poids en cours."
            if reclassed
            else "Classes du profil gardées : bornes calculées avec les poids du profil."
        ),
    }
    data["legend_title"] = legend_title
    badge = rank_badge(0)
    head, sep, tail = badge.rpartition(">0<")
    data["badge"] = [head + ">", "<" + tail] if sep else ["", ""]
    data["text"] = {
        "profile": "Poids d'origine de la carte.",
        "changed": "Poids modifiés : scores, rangs et classes recalculés dans la page.",
        "zero": "Donnez un poids à au moins un critère.",
        "copied": "Profil copié (TOML) : utilisable avec foncier map --profile.",
        "copy_by_hand": "Copiez le profil TOML ci-dessous (Ctrl+C).",
        "bad_hash": "Poids du lien illisibles : poids du profil affichés.",
    }

    class _Panel(MacroElement):
        _template = Template(
            """
{% macro header(this, kwargs) %}"""
            + _CSS
            + """<script>{{ this.library }}</script>
{% endmacro %}
{% macro html(this, kwargs) %}{{ this.panel_html }}{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var div = document.getElementById({{ this.panel_id|tojson }});
  var control = L.control({position: 'bottomleft'});
  control.onAdd = function () { return div; };
  control.addTo(map);
  foncierLiveWeights({{ this.data }}, map, {{ this.sites }}, {{ this.badges }});
})();
{% endmacro %}
"""
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "FoncierWeights"
            self.panel_id = f"foncier-weights-{self.get_name()}"
            data["panel_id"] = self.panel_id
            self.panel_html = _panel_html(data, self.panel_id)
            self.data = _js_literal(data)
            self.library = _SCRIPT.read_text(encoding="utf-8").replace("</script", "<\\/script")
            self.sites = sites_layer.get_name()
            self.badges = badges_layer.get_name() if badges_layer is not None else "null"

    _Panel().add_to(m)

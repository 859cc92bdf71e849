"""The CNIG "Sites économiques" ``site_eco`` table of a study's candidate sites.

Candidate sites (or ZAE) become rows of the standard's ``site_eco`` table (columns, order and
numeric types of :mod:`layers.zae`, the module that reads, writes and validates the standard),
filled from the study: commune and EPCI, areas, identifiers, and the nearest infrastructure
measured by :func:`foncier.engine.nearest.nearest_by_site`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from foncier.engine.nearest import nearest_by_site
from layers.crs import check_projected, to_crs
from layers.errors import CRSError
from layers.registry import LAYERS
from layers.zae import CNIG_SITE_COLUMNS, cnig_typed, validate_sites_economiques

if TYPE_CHECKING:
    from foncier.reports.study import SitingStudy

__all__ = ["CNIG_QUAY_MAX_M", "CNIG_RAIL_BRANCH_MAX_M", "cnig_site_table"]

log = logging.getLogger(__name__)

#: A site has rail freight access (CNIG ``reseau_fret_ferroviaire = "oui"``, i.e. an ITE)
#: when a rail branch / siding of the ``rail_branches`` layer runs within this distance of
#: its outline, metres: a branch that close can serve the plot with a short spur.
CNIG_RAIL_BRANCH_MAX_M = 200.0
#: A site has a river quay (CNIG ``reseau_fluvial = "oui"``) when a port lies within this
#: distance of its outline, metres (a port area next to the site, not a haul by truck).
CNIG_QUAY_MAX_M = 500.0


def _study_crs(study: SitingStudy) -> Any:
    crs = study.territory.crs
    if crs is None:
        raise CRSError("the study's territory has no CRS: build it with layers.territory(...).")
    return crs


_INSEE_RE = r"(?:\d{5}|2[AB]\d{3})"
_SITE_ID_RE = re.compile(rf"^{_INSEE_RE}_SITE-ECO_\d{{5}}$")
_POLE_ID_RE = re.compile(rf"^{_INSEE_RE}_POLE-ECO_\d{{5}}$")
#: Required text fields of ``site_eco`` that a candidate site cannot know.
_UNKNOWN_TEXT = ("site_type", "site_vocadomi", "site_etat", "site_moa_type")
#: Standard name field → (layers searched together, name of the distance field), from the
#: ``key_distance`` of the layer registry's entries.
_NEAREST = {
    e.key_distance.cnig_name: (e.nearest_layers, e.key_distance.cnig_distance)
    for e in LAYERS.values()
    if e.key_distance is not None
    and e.key_distance.cnig_name is not None
    and e.key_distance.cnig_distance is not None
}
#: Yes/no field → (layers searched together, distance within which it is "oui", metres).
_WITHIN = {
    "reseau_fret_ferroviaire": (("rail_branches",), CNIG_RAIL_BRANCH_MAX_M),
    "reseau_fluvial": (("ports", "named_sites:port"), CNIG_QUAY_MAX_M),
}


def _first_column(gdf: pd.DataFrame, names: tuple[str, ...]) -> pd.Series | None:
    for name in names:
        if name in gdf.columns:
            return gdf[name]
    return None


def _serial_ids(insee: pd.Series, order: pd.Series, kind: str) -> pd.Series:
    """``<INSEE>_<kind>_<5 digits>`` numbered per commune in the given order."""
    code = insee.fillna("00000").astype(str)
    frame = pd.DataFrame({"insee": code, "order": order.to_numpy()}, index=insee.index)
    ranked = frame.sort_values(["insee", "order"], kind="stable")
    serial = ranked.groupby("insee").cumcount() + 1
    return code + f"_{kind}_" + serial.reindex(insee.index).map("{:05d}".format)


def cnig_site_table(
    study: SitingStudy, *, sites: gpd.GeoDataFrame | None = None, validate: bool = True
) -> gpd.GeoDataFrame:
    """Candidate sites (or ZAE) as rows of the CNIG "Sites économiques" ``site_eco`` table.

    Columns the sites already carry under their standard name (ZAE read with
    :func:`layers.zae.load_zae`) are kept; the others are filled from the study:

    - ``site_surf_brute`` in hectares (the outline's area in the territory's projected
      CRS); ``site_surf_utile`` = ``site_surf_brute`` when unknown (a candidate site is a
      plot of land considered as a whole: to be revised with the real layout);
    - ``site_comm_insee``, ``site_comm_nom``, ``site_epci_siren``, ``site_epci_nom`` from
      the site's commune (the territory's member communes);
    - ``site_id`` ``<INSEE>_SITE-ECO_<n>`` numbered per commune by rank when the sites have
      no standard identifier; ``pole_id`` ``<INSEE>_POLE-ECO_00000`` (serial 00000 = not
      attached to any pôle: the standard makes the field mandatory);
    - ``site_identif_date`` and ``site_actu_date``: the day of the export (the study
      identified the site); ``site_type``, ``site_vocadomi``, ``site_etat``,
      ``site_moa_type``: ``"inconnu"`` (mandatory in the standard, unknown to a study);
    - ``gare_fret_nom`` / ``gare_fret_dist`` (``rail_freight_stations``), ``port_nom`` /
      ``port_dist`` (``ports`` and the named sites of kind ``port``), ``autoroute_nom`` /
      ``autoroute_echang_dist`` (``motorway_junctions``: junction name and exit number),
      ``aeroport_nom`` / ``aeroport_dist`` (``aerodromes``): nearest feature and
      straight-line distance from the site's outline in **km** rounded to 0.1 km (the
      standard asks for road distances, which need a road network: these are a lower
      bound). Null when the study has no such layer;
    - ``reseau_fret_ferroviaire`` ``"oui"`` when a rail branch (``rail_branches``) lies
      within :data:`CNIG_RAIL_BRANCH_MAX_M`, ``"non"`` otherwise, null without that
      layer; ``reseau_fluvial`` likewise with ports within :data:`CNIG_QUAY_MAX_M`;
    - ``site_description``: score, rank and profile; ``source_producteur``: foncier.

    Parameters
    ----------
    study : SitingStudy
        A siting study (its layers and territory are used).
    sites : GeoDataFrame, optional
        Sites to describe, any CRS (reprojected to the territory's); default: every scored
        site of the study.
    validate : bool
        Check the table with :func:`layers.zae.validate_sites_economiques` and put the
        outcome in ``attrs["cnig_validation"]`` (``rows``, ``valid_rows``, ``errors``,
        ``fields``: failing fields and counts); the count is logged.

    Returns
    -------
    GeoDataFrame
        The ``site_eco`` columns in standard order, then ``source_site_id`` (the site's id
        in the study), geometry in the territory's CRS, index of ``sites``.
    """
    crs = _study_crs(study)
    base = study.scored if sites is None else to_crs(sites, crs, name="sites")
    check_projected(base, "sites")
    n = len(base)
    today = dt.date.today().isoformat()
    geoms = base.geometry
    table = pd.DataFrame(index=base.index)
    for col in CNIG_SITE_COLUMNS:
        table[col] = base[col].astype(object) if col in base.columns else None
    table = table.astype(object).where(table.notna(), None)

    def fill(col: str, values: Any) -> None:
        values = pd.Series(values, index=base.index, dtype=object) if n else values
        table[col] = table[col].where(table[col].notna(), values)

    # Commune and EPCI.
    insee = _first_column(base, ("site_comm_insee", "insee"))
    communes = study.territory.communes
    if insee is None and len(communes) and n:
        pts = gpd.GeoSeries(geoms.representative_point(), crs=crs)
        com = to_crs(communes, crs, name="territory communes")
        i_pt, i_com = com.sindex.query(pts.to_numpy(), predicate="within")
        found = np.full(n, None, dtype=object)
        found[i_pt] = com["insee"].to_numpy(dtype=object)[i_com]
        insee = pd.Series(found, index=base.index, dtype=object)
    if insee is not None:
        fill("site_comm_insee", insee.astype(object))
    if len(communes) and "insee" in communes.columns:
        lookup = pd.DataFrame(communes.drop(columns=communes.geometry.name)).set_index("insee")
        lookup = lookup[~lookup.index.duplicated()]
        codes = table["site_comm_insee"]
        for target, col in (
            ("site_comm_nom", "nom"),
            ("site_epci_siren", "epci_siren"),
            ("site_epci_nom", "epci_nom"),
        ):
            if col in lookup.columns:
                fill(target, codes.map(lookup[col]).astype(object))
    commune_name = _first_column(base, ("commune",))
    if commune_name is not None:
        fill("site_comm_nom", commune_name)
    epci = _first_column(base, ("epci_siren",))
    if epci is not None:
        fill("site_epci_siren", epci.astype(object))
    table = table.astype(object).where(table.notna(), None)

    # Identifiers and names.
    source_id = _first_column(base, ("site_id",))
    source_id = (
        source_id.astype(str) if source_id is not None else pd.Series(base.index.astype(str))
    )
    source_id.index = base.index
    given = table["site_id"].astype(object)
    valid_given = given.map(lambda v: isinstance(v, str) and bool(_SITE_ID_RE.match(v)))
    rank_order = (
        pd.to_numeric(base["rank"], errors="coerce").astype("float64").fillna(np.inf)
        if "rank" in base.columns
        else pd.Series(np.arange(n, dtype=float), index=base.index)
    )
    made = _serial_ids(table["site_comm_insee"], rank_order, "SITE-ECO") if n else given
    table["site_id"] = given.where(valid_given, made)
    pole = table["pole_id"].map(lambda v: isinstance(v, str) and bool(_POLE_ID_RE.match(v)))
    code = table["site_comm_insee"].fillna("00000").astype(str)
    table["pole_id"] = table["pole_id"].where(pole, code + "_POLE-ECO_00000")
    name = _first_column(base, ("site_nom", "name", "nom"))
    fill("site_nom", name if name is not None else "Site candidat " + source_id)
    fill("site_nom", "Site candidat " + source_id)

    # Areas (ha), dates, unknown mandatory texts, producer, description.
    area_ha = np.round(shapely.area(geoms.to_numpy()) / 1e4, 2)
    fill("site_surf_brute", area_ha)
    fill("site_surf_utile", table["site_surf_brute"])
    fill("site_identif_date", today)
    fill("site_actu_date", today)
    for col in _UNKNOWN_TEXT:
        fill(col, "inconnu")
    fill("source_producteur", f"foncier (étude « {study.profile.name} »)")
    if "score" in base.columns:
        score = pd.to_numeric(base["score"], errors="coerce")
        rank_text = (
            base["rank"].map(lambda r: "exclu" if pd.isna(r) else f"rang {int(r)}")
            if "rank" in base.columns
            else ""
        )
        description = (
            "Score "
            + score.map(lambda s: f"{s:.1f}")
            + "/100, "
            + rank_text
            + f" (profil {study.profile.id})"
        )
        fill("site_description", description.where(score.notna(), None))

    # Nearest infrastructure (measured by the engine), km.
    if n:
        nearest = nearest_by_site(
            geoms, study.layers, {k: specs for k, (specs, _) in _NEAREST.items()}
        )
        for name_col, (specs, dist_col) in _NEAREST.items():
            near = nearest[name_col]
            if near is None:
                continue
            if not np.isfinite(near["distance_m"]).any() and near["nearest_name"].isna().all():
                log.warning("layer %s is empty: %s stays null", "/".join(specs), dist_col)
                continue
            dist_km = (near["distance_m"] / 1000).round(1)
            dist_km = dist_km.where(np.isfinite(dist_km), None)
            fill(dist_col, dist_km.astype(object))
            fill(name_col, near["nearest_name"].astype(object))
        within = nearest_by_site(
            geoms,
            study.layers,
            {k: specs for k, (specs, _) in _WITHIN.items()},
            max_distance_m={k: limit for k, (_, limit) in _WITHIN.items()},
        )
        for col, (_specs, limit) in _WITHIN.items():
            near = within[col]
            if near is None:
                continue
            fill(col, np.where(near["distance_m"] <= limit, "oui", "non"))

    table = cnig_typed("site_eco", table)
    table["source_site_id"] = source_id.to_numpy() if n else []
    out = gpd.GeoDataFrame(table, geometry=geoms.to_numpy(), crs=crs)
    out.index = base.index
    if validate:
        report = validate_sites_economiques({"site_eco": out})
        errors = report.errors
        bad_rows = int(errors["row"].nunique()) if len(errors) else 0
        summary = {
            "rows": n,
            "valid_rows": n - bad_rows,
            "errors": len(errors),
            "fields": {str(k): int(v) for k, v in errors["field"].value_counts().items()}
            if len(errors)
            else {},
        }
        out.attrs["cnig_validation"] = summary
        log.info("CNIG site_eco: %d of %d rows pass the standard", n - bad_rows, n)
    return out

"""The tables a study writes, whatever the format: scored sites, metadata, layers and styles.

Shared by the file writers (:mod:`foncier.reports.exports`) and the database writer
(:mod:`foncier.reports.postgis`), so that a GeoPackage and a PostGIS schema hold the same
rows and the same QGIS styles.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from foncier.engine.diagnostics import ranking_diagnostics
from foncier.reports.cnig import cnig_site_table
from foncier.reports.qgis import (
    commune_area_qml,
    layer_qml,
    qml_kind,
    score_classes,
    score_qml,
)
from layers.crs import require_crs, to_crs
from layers.errors import CRSError, SchemaError
from layers.infrastructure import known_at_commune

if TYPE_CHECKING:
    from foncier.reports.study import SitingStudy

__all__ = [
    "CNIG_LAYER",
    "COMMUNES_LAYER",
    "COMMUNE_SUFFIX",
    "SITES_LAYER",
    "TERRITORY_LAYER",
    "sites_table",
    "study_metadata",
    "study_tables",
]

log = logging.getLogger(__name__)

#: Layers of the GeoPackage besides the study's layers.
SITES_LAYER = "sites"
TERRITORY_LAYER = "territoire"
COMMUNES_LAYER = "communes"
CNIG_LAYER = "site_eco"
#: The study's population layer is called ``communes`` too: it is renamed in the GeoPackage.
_RENAMED = {"communes": "communes_alentour"}
#: Suffix of the table holding the features of a layer known only at their commune, when the
#: layer has others (a planned rail link known at its communes among mapped rail lines).
COMMUNE_SUFFIX = "_commune"
#: Suffix of the table holding the features of another geometry kind than the layer's own.
_KIND_SUFFIX = {"point": "_points", "line": "_lignes", "polygon": "_surfaces"}


def _study_crs(study: SitingStudy) -> Any:
    crs = study.territory.crs
    if crs is None:
        raise CRSError("the study's territory has no CRS: build it with layers.territory(...).")
    return crs


def _scalar_text(value: Any) -> Any:
    """Lists, dicts and other containers as JSON text: file formats want scalar cells."""
    if isinstance(value, list | tuple | set | dict | np.ndarray):
        seq = sorted(value) if isinstance(value, set) else value
        if isinstance(seq, np.ndarray):
            seq = seq.tolist()
        return json.dumps(seq, ensure_ascii=False, default=str)
    return value


def _writable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy whose object columns hold scalars only and whose attrs are empty."""
    out = gdf.copy()
    out.attrs = {}
    geom = out.geometry.name
    for col in out.columns:
        if col != geom and out[col].dtype == object:
            out[col] = out[col].map(_scalar_text)
    return out


def sites_table(study: SitingStudy) -> gpd.GeoDataFrame:
    """The scored sites with their rank-stability columns, ready to write.

    Parameters
    ----------
    study : SitingStudy
        A siting study (:func:`foncier.pipeline.siting_study`).

    Returns
    -------
    GeoDataFrame
        One row per site in the territory's CRS: ``site_id`` first, then the columns of
        ``study.scored`` (``area_m2`` in m², ``score`` 0..100, ``rank``, per criterion
        ``c__raw`` in the criterion's unit, ``c__score`` 0..1, ``c__weight``,
        ``c__contrib`` …) and, when the study has a sensitivity analysis, ``p_top_n``,
        ``rank_median``, ``rank_p05``, ``rank_p95`` … The index is a plain range.
    """
    scored = study.scored
    require_crs(scored, "scored sites")
    if "score" not in scored.columns:
        raise SchemaError(
            "the study's sites have no 'score' column: pass a study made by "
            "foncier.siting_study(...) or foncier.score(...)."
        )
    out = scored.copy()
    if study.sensitivity is not None and len(study.sensitivity.columns):
        extra = study.sensitivity.drop(columns=[c for c in study.sensitivity if c in out])
        out = out.join(extra)
    if "site_id" not in out.columns:
        out.insert(0, "site_id", out.index.astype(str))
    out = out.reset_index(drop=True)
    out.attrs = {}
    return out


def study_metadata(study: SitingStudy) -> dict[str, Any]:
    """What a reader of an exported file needs to know: profile, territory, date, sources.

    Parameters
    ----------
    study : SitingStudy
        A siting study.

    Returns
    -------
    dict
        JSON-serialisable: ``generator``, ``created`` (ISO 8601, UTC), ``territory``
        (id, name, crs), ``profile`` (id, name), ``criteria`` (id, label, unit, layer,
        weight), ``exclusions``, ``skipped`` (criteria or rules left out and why),
        ``sources`` (per layer: the ``source`` and ``date`` values of its features),
        ``online`` (per online layer asked for: used online or from the cache with its date,
        or not obtained, why and what was used instead; :class:`layers.online.OnlineStatus`),
        ``n_sites``, ``n_excluded``, ``ranking`` (the tie-break rule, in French) and
        ``diagnostics`` (whether the ranking singles out its top N, per-criterion saturation,
        spread and separation: :func:`foncier.engine.diagnostics.ranking_diagnostics`).
    """
    meta = study.scored.attrs.get("foncier", {})
    crs = _study_crs(study)
    epsg = crs.to_epsg()
    sources: dict[str, dict[str, list[str]]] = {}
    for name, layer in study.layers.items():
        entry: dict[str, list[str]] = {}
        if isinstance(layer, pd.DataFrame):
            for col in ("source", "date"):
                if col in layer.columns:
                    entry[col] = sorted({str(v) for v in layer[col].dropna().unique()})
        else:
            source = getattr(layer, "source", None)
            if source:
                entry["source"] = [str(source)]
        sources[name] = entry
    excluded = study.scored.get("excluded")
    return {
        "generator": "foncier",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "territory": {
            "id": study.territory.id,
            "name": study.territory.name,
            "crs": f"EPSG:{epsg}" if epsg else crs.to_string(),
        },
        "profile": {"id": study.profile.id, "name": study.profile.name},
        "aggregation": meta.get("aggregation"),
        "criteria": [
            {k: c.get(k) for k in ("id", "label", "unit", "layer", "weight")}
            for c in meta.get("criteria", [])
        ],
        "exclusions": meta.get("exclusions", []),
        "skipped": list(meta.get("skipped", [])),
        "sources": sources,
        "online": _online(study, meta),
        "n_sites": len(study.scored),
        "n_excluded": int(excluded.astype(bool).sum()) if excluded is not None else 0,
        "ranking": meta.get("ranking"),
        "diagnostics": _diagnostics(study),
    }


def _online(study: SitingStudy, meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What became of each online layer (see :class:`layers.online.OnlineStatus`)."""
    if study.online_status:
        return [s.as_dict() for s in study.online_status.values()]
    return [dict(s) for s in meta.get("online", [])]


def _diagnostics(study: SitingStudy) -> dict[str, Any] | None:
    if not (study.scored.attrs.get("foncier") or {}).get("criteria"):
        return None
    return ranking_diagnostics(study.scored, top_n=study.top_n).as_dict()


# --------------------------------------------------------------------------- GeoPackage


def study_tables(
    study: SitingStudy, *, with_layers: bool = True
) -> list[tuple[str, gpd.GeoDataFrame, str, str]]:
    """Every table a study writes (GeoPackage layers, PostGIS tables), sites first.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    with_layers : bool
        Also give the study's non-empty vector layers.

    Returns
    -------
    list of (str, GeoDataFrame, str, str)
        Table name, data (territory's CRS, scalar cells), QGIS style (QML) and a French
        description: ``sites`` (graduated style as on the siting map), ``territoire``,
        ``communes`` (when the territory has member communes), ``site_eco`` (CNIG) and,
        with ``with_layers``, one per vector layer (``communes`` of the surroundings renamed
        ``communes_alentour``). Each table holds one geometry kind and has a style of that
        kind: a layer that mixes kinds is split, its features known only at their commune
        going to ``<layer>_commune`` (dashed commune outline, as on the siting map) and
        features of another kind than the layer's own to ``<layer>_points``,
        ``<layer>_lignes`` or ``<layer>_surfaces``.
    """
    crs = _study_crs(study)
    sites = _writable(sites_table(study))
    kind = qml_kind(sites)
    classes = score_classes(sites["score"], excluded=sites.get("excluded"))
    out = [
        (
            SITES_LAYER,
            sites,
            score_qml(classes, kind=kind),
            f"Sites candidats notés (profil {study.profile.id})",
        )
    ]
    terr = study.territory
    perimeter = gpd.GeoDataFrame(
        {"id": [terr.id], "nom": [terr.name]}, geometry=[terr.perimeter], crs=crs
    )
    out.append((TERRITORY_LAYER, perimeter, layer_qml("territory", kind="polygon"), terr.name))
    if len(terr.communes):
        communes = _writable(to_crs(terr.communes, crs, name="territory communes"))
        out.append(
            (COMMUNES_LAYER, communes, layer_qml("communes", kind="polygon"), "Communes membres")
        )
    cnig = _writable(cnig_site_table(study, validate=False))
    out.append(
        (CNIG_LAYER, cnig, layer_qml("zae", kind="polygon"), "Sites au standard CNIG site_eco")
    )
    if with_layers:
        for name, layer in study.layers.items():
            if not isinstance(layer, gpd.GeoDataFrame):
                log.info("layer %s is not a vector layer: not written to the GeoPackage", name)
                continue
            if len(layer) == 0:
                log.info("layer %s is empty: not written to the GeoPackage", name)
                continue
            data = _writable(to_crs(layer, crs, name=name))
            out.extend(_layer_tables(name, data))
    return out


def _layer_tables(
    name: str, data: gpd.GeoDataFrame
) -> list[tuple[str, gpd.GeoDataFrame, str, str]]:
    """The tables of one vector layer, each of one geometry kind with a style of that kind.

    A layer whose features are all of one kind is one table named after the layer (and its
    style is the commune outline when they are all known at their commune only). Otherwise
    the features of the layer's own kind (that of its map style, else the most numerous)
    keep the name, the features known at their commune only go to ``<name>_commune`` and the
    other kinds to ``<name>_points``, ``<name>_lignes`` or ``<name>_surfaces``: QGIS applies a
    style to a table of its geometry type only, and splits a table of mixed types anyway.
    """
    from maps.styles import commune_area_style, layer_style

    table = _RENAMED.get(name, name)
    types = shapely.get_type_id(data.geometry.to_numpy())
    # "" for missing geometries and collections: they follow the layer's own kind
    kinds = np.select(
        [np.isin(types, (0, 4)), np.isin(types, (1, 2, 5)), np.isin(types, (3, 6))],
        ["point", "line", "polygon"],
        default="",
    ).astype(object)
    # the commune's area: a polygon (a point given as "commune" keeps its point style)
    kinds[known_at_commune(data) & (kinds == "polygon")] = "commune"
    counts = pd.Series(kinds[kinds != ""]).value_counts()
    if len(counts) <= 1:
        kind = str(counts.index[0]) if len(counts) else qml_kind(data)
        qml = commune_area_qml(name) if kind == "commune" else layer_qml(name, kind=kind)
        return [(table, data, qml, name)]
    style = layer_style(name, kind=qml_kind(data))  # type: ignore[arg-type]
    own = [str(k) for k in counts.index if k != "commune"]
    main = style.kind if style.kind in own else own[0]
    out = [(table, data[(kinds == main) | (kinds == "")], layer_qml(name, kind=main), name)]
    for kind in own:
        if kind != main:
            suffix = _KIND_SUFFIX[kind]
            description = f"{name} ({suffix[1:]})"
            out.append(
                (table + suffix, data[kinds == kind], layer_qml(name, kind=kind), description)
            )
    if "commune" in counts.index:
        description = commune_area_style(style).label
        out.append(
            (table + COMMUNE_SUFFIX, data[kinds == "commune"], commune_area_qml(name), description)
        )
    return out

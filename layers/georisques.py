"""Géorisques API v1: hazard procedures and known risks of a commune (GASPAR database).

The API lists *procedures* per commune (PPR plans, flood atlases AZI, risks known in the
commune); it does not deliver the zoning polygons themselves (those come from the PPR files or
the Géoportail de l'Urbanisme through :mod:`layers.geopf`). Answers are paginated JSON
documents ``{"results", "page", "total_pages", "data": [...]}``; every page is cached.

Endpoints used (``settings.georisques_url``, by default ``https://georisques.gouv.fr/api/v1``):
``/gaspar/risques``, ``/gaspar/azi``, ``/gaspar/pprn``, ``/gaspar/pprt``, ``/gaspar/pprm``,
each with ``code_insee``, ``page`` and ``page_size``. Data: Ministère de la Transition
écologique (DGPR), Licence Ouverte 2.0.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from layers import http
from layers.answers import check_records, describe
from layers.config import settings
from layers.errors import BadAnswerError, SchemaError

__all__ = ["PPR_FAMILIES", "azi", "gaspar_ppr", "risques"]

log = logging.getLogger(__name__)

SOURCE = "Géorisques"

#: PPR families of GASPAR: natural hazards, technological hazards, mining hazards.
PPR_FAMILIES = ("pprn", "pprt", "pprm")

_INSEE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_PAGE_SIZE = 100


def _insee(code_insee: str) -> str:
    code = str(code_insee).strip().upper()
    if not _INSEE.match(code):
        raise SchemaError(
            f"INSEE commune code {code_insee!r} is not valid: give 5 characters like '60159'."
        )
    return code


_DATA = check_records(key="data")


def _check_page(doc: Any) -> None:
    """A Géorisques page: ``data`` a list of objects, ``total_pages`` a whole number."""
    _DATA(doc)
    total = doc.get("total_pages")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise BadAnswerError(f"its 'total_pages' is {describe(total)}, not a whole number")
    for i, item in enumerate(doc["data"]):
        detail = item.get("risques_detail")
        if detail is not None and (
            not isinstance(detail, list) or not all(isinstance(r, Mapping) for r in detail)
        ):
            raise BadAnswerError(f"record {i} has 'risques_detail' {describe(detail)}")


def _pages(endpoint: str, code_insee: str) -> list[dict[str, Any]]:
    """Every ``data`` item of a paginated Géorisques answer."""
    url = f"{settings.georisques_url.rstrip('/')}/{endpoint}"
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        doc = http.get_json(
            url,
            params={"code_insee": code_insee, "page": page, "page_size": _PAGE_SIZE},
            source=SOURCE,
            check=_check_page,  # an object with a 'data' list
        )
        data = doc["data"]
        items.extend(data)
        total_pages = doc.get("total_pages")
        if not data or not isinstance(total_pages, int) or page >= total_pages:
            return items
        page += 1


def _labels(risks: Any) -> str | None:
    """``liste_libelle_risque`` → ``"Inondation; Par une crue …"``."""
    if not isinstance(risks, Iterable) or isinstance(risks, str | bytes | Mapping):
        return None
    labels = [str(r.get("libelle_risque_long")) for r in risks if isinstance(r, Mapping)]
    return "; ".join(label for label in labels if label and label != "None") or None


def _frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(items)
    if "liste_libelle_risque" in frame.columns:
        frame["risques"] = frame["liste_libelle_risque"].map(_labels).astype("string")
        frame = frame.drop(columns="liste_libelle_risque")
    return frame


def gaspar_ppr(code_insee: str, *, families: Iterable[str] = PPR_FAMILIES) -> pd.DataFrame:
    """PPR procedures (plans de prévention des risques) of a commune.

    Parameters
    ----------
    code_insee : str
        INSEE code of the commune, e.g. ``"60159"``.
    families : iterable of str
        PPR families to list: ``"pprn"`` (natural), ``"pprt"`` (technological),
        ``"pprm"`` (mining).

    Returns
    -------
    DataFrame
        One row per procedure with the service's fields (procedure id and name, dates of
        prescription/approval …), plus ``famille`` (``pprn``/``pprt``/``pprm``) and
        ``risques`` (risk labels joined with ``"; "``). Empty when the commune has none.

    Raises
    ------
    SchemaError
        Malformed INSEE code or unknown family.
    DataSourceError, OfflineError
        The service failed, or offline mode without cached answer.
    """
    code = _insee(code_insee)
    chosen = [str(f).lower() for f in families]
    unknown = sorted(set(chosen) - set(PPR_FAMILIES))
    if unknown:
        raise SchemaError(f"Unknown PPR famil(ies) {unknown}; choose among {PPR_FAMILIES}.")
    frames = []
    for family in chosen:
        frame = _frame(_pages(f"gaspar/{family}", code))
        frame.insert(0, "famille", pd.Series([family] * len(frame), dtype="string"))
        frames.append(frame)
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    log.info("%s: %d PPR procedure(s) for %s", SOURCE, len(result), code)
    return result


def azi(code_insee: str) -> pd.DataFrame:
    """Flood-zone atlases (AZI, atlas des zones inondables) covering a commune.

    Parameters
    ----------
    code_insee : str
        INSEE code of the commune.

    Returns
    -------
    DataFrame
        One row per atlas with the service's fields (national code, name, river basin,
        dates …) and ``risques`` (risk labels joined with ``"; "``). Empty when none.

    Raises
    ------
    SchemaError
        Malformed INSEE code.
    DataSourceError, OfflineError
        The service failed, or offline mode without cached answer.
    """
    return _frame(_pages("gaspar/azi", _insee(code_insee)))


def risques(code_insee: str) -> pd.DataFrame:
    """Natural and technological risks known in a commune (GASPAR).

    Parameters
    ----------
    code_insee : str
        INSEE code of the commune.

    Returns
    -------
    DataFrame
        One row per risk: ``code_insee``, ``commune``, ``num_risque`` (GASPAR risk code),
        ``libelle_risque`` (e.g. "Inondation", "Séisme"). Empty when none is listed.

    Raises
    ------
    SchemaError
        Malformed INSEE code.
    DataSourceError, OfflineError
        The service failed, or offline mode without cached answer.
    """
    rows: list[dict[str, Any]] = []
    for item in _pages("gaspar/risques", _insee(code_insee)):
        for risk in item.get("risques_detail") or ():
            rows.append(
                {
                    "code_insee": item.get("code_insee"),
                    "commune": item.get("libelle_commune"),
                    "num_risque": risk.get("num_risque"),
                    "libelle_risque": risk.get("libelle_risque_long"),
                }
            )
    columns = ["code_insee", "commune", "num_risque", "libelle_risque"]
    return pd.DataFrame(rows, columns=columns).astype("string")

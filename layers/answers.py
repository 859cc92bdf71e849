"""Shape checks of web answers, run before an answer is used or cached.

A web service can answer ``200 OK`` with a document that is well-formed but of the wrong shape:
an error object instead of a feature collection, a list instead of an object, features whose
geometry is of another type than asked, coordinates in metres where degrees were asked (or
out of any range), a GeoJSON ``crs`` member naming another CRS than the one asked. Such an
answer must never be used (it would silently give wrong distances) nor cached (a later run
would read it again).

The functions here build ``check`` callables for :mod:`layers.http`: they raise
:class:`~layers.errors.BadAnswerError` naming the problem; the HTTP layer then adds the source
and the request to the message, does not cache the answer, and deletes a cached copy so that
the next run downloads it again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

from layers.errors import BadAnswerError

__all__ = [
    "check_capabilities",
    "check_feature_collection",
    "check_records",
    "describe",
]

Check = Callable[[Any], None]

#: Every GeoJSON geometry type, with the nesting depth of its ``coordinates``.
_DEPTH = {
    "Point": 1,
    "MultiPoint": 2,
    "LineString": 2,
    "MultiLineString": 3,
    "Polygon": 3,
    "MultiPolygon": 4,
}
_EPSG = re.compile(r"EPSG:+(\d+)$", re.IGNORECASE)
_CRS84 = re.compile(r"OGC:+(?:1\.3:+)?CRS84$", re.IGNORECASE)

#: Margin around a CRS's area of use within which coordinates are still accepted, as a share of
#: the area's width and height (a layer may run a little beyond, e.g. an EEZ or a border).
_MARGIN = 0.25


def describe(value: Any) -> str:
    """A short description of a JSON value for messages: its type and the start of its text."""
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    kind = names.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} ({text[:80]}{'…' if len(text) > 80 else ''})"


def _positions(coords: Any, depth: int) -> Iterable[Any]:
    """The positions of a ``coordinates`` array of the given nesting depth."""
    if depth == 1:
        yield coords
        return
    if not isinstance(coords, list):
        raise BadAnswerError(f"coordinates nested {describe(coords)} where a list was expected")
    for item in coords:
        yield from _positions(item, depth - 1)


@lru_cache(maxsize=32)
def _bounds(epsg: int) -> tuple[float, float, float, float]:
    """Accepted ``(minx, miny, maxx, maxy)`` of coordinates in EPSG:``epsg``."""
    crs = CRS.from_epsg(epsg)
    if crs.is_geographic:
        return -180.0, -90.0, 180.0, 90.0
    area = crs.area_of_use
    if area is None:
        return -math.inf, -math.inf, math.inf, math.inf
    t = Transformer.from_crs(4326, crs, always_xy=True)
    minx, miny, maxx, maxy = t.transform_bounds(area.west, area.south, area.east, area.north)
    dx, dy = (maxx - minx) * _MARGIN, (maxy - miny) * _MARGIN
    return minx - dx, miny - dy, maxx + dx, maxy + dy


def _declared_epsg(doc: Mapping[str, Any]) -> int | None:
    """EPSG code of a GeoJSON ``crs`` member (2008 form), ``None`` when absent."""
    member = doc.get("crs")
    if member is None:
        return None
    name = member.get("properties", {}).get("name") if isinstance(member, Mapping) else None
    if not isinstance(name, str):
        raise BadAnswerError(f"its 'crs' member is {describe(member)}, not a named CRS")
    if _CRS84.search(name.strip()):
        return 4326
    found = _EPSG.search(name.strip())
    if found is None:
        raise BadAnswerError(f"it declares the CRS {name!r}, which is not an EPSG code")
    return int(found.group(1))


def _check_geometry(geometry: Any, i: int, types: frozenset[str], box: tuple[float, ...]) -> None:
    if geometry is None:
        return  # a feature without geometry: dropped later with a warning
    if not isinstance(geometry, Mapping):
        raise BadAnswerError(f"feature {i} has a geometry that is {describe(geometry)}")
    kind = geometry.get("type")
    if kind not in types:
        raise BadAnswerError(
            f"feature {i} has a geometry of type {kind!r} where {' or '.join(sorted(types))} "
            "was expected"
        )
    depth = _DEPTH[str(kind)]
    coords = geometry.get("coordinates")
    # Whole rings (lists of positions) at once: one numpy array each; a ragged or non-numeric
    # ring is then looked at position by position, to name the bad one.
    lines = [coords] if depth == 1 else list(_positions(coords, depth - 1))
    lines = [line for line in lines if line != []]  # empty parts: dropped later as empty
    if not lines:
        return
    try:
        parts = [np.asarray(line) for line in lines]
        ok = all(
            isinstance(line, list)
            and a.dtype.kind in "iuf"
            and a.ndim == (1 if depth == 1 else 2)
            and a.shape[-1] >= 2
            for line, a in zip(lines, parts, strict=True)
        )
    except (TypeError, ValueError):  # ragged
        ok = False
    if not ok:
        points = list(_positions(coords, depth))
        bad = [
            p
            for p in points
            if not isinstance(p, list)
            or len(p) < 2
            or not all(isinstance(v, int | float) for v in p[:2])
        ]
        if bad:
            raise BadAnswerError(f"feature {i} has a position that is {describe(bad[0])}")
        # Every position is fine, but they do not all have the same number of values.
        xy = np.array([p[:2] for p in points], dtype=float).reshape(-1, 2)
    else:
        xy = np.concatenate([a.reshape(-1, a.shape[-1])[:, :2].astype(float) for a in parts])
    minx, miny, maxx, maxy = box
    inside = (
        np.isfinite(xy).all(axis=1)
        & (xy[:, 0] >= minx)
        & (xy[:, 0] <= maxx)
        & (xy[:, 1] >= miny)
        & (xy[:, 1] <= maxy)
    )
    if not inside.all():
        x, y = xy[int(np.argmin(inside))]
        raise BadAnswerError(
            f"feature {i} has the position ({x:g}, {y:g}), out of the range of the CRS "
            f"asked ({minx:.6g}..{maxx:.6g}, {miny:.6g}..{maxy:.6g}): coordinates of "
            "another CRS, or damaged"
        )


def check_feature_collection(
    *,
    epsg: int = 4326,
    geometry_types: Iterable[str] = tuple(_DEPTH),
    required: Iterable[str] = (),
) -> Check:
    """A check for a GeoJSON FeatureCollection answer.

    Parameters
    ----------
    epsg : int
        EPSG code of the CRS asked: a declared ``crs`` member must name it, and every position
        must fall within its area of use (degrees for EPSG:4326; metres widened by a quarter of
        the area for a projected CRS).
    geometry_types : iterable of str
        GeoJSON geometry types accepted (features without geometry are let through).
    required : iterable of str
        Properties every feature must have.

    Returns
    -------
    callable
        Raises :class:`~layers.errors.BadAnswerError` for an answer of another shape.
    """
    types = frozenset(geometry_types)
    unknown = types - set(_DEPTH)
    if unknown:
        raise ValueError(f"unknown GeoJSON geometry types {sorted(unknown)}")
    needed = tuple(required)
    box = _bounds(int(epsg))

    def check(doc: Any) -> None:
        if not isinstance(doc, Mapping):
            raise BadAnswerError(f"the answer is {describe(doc)}, not a GeoJSON FeatureCollection")
        features = doc.get("features")
        if not isinstance(features, list):
            keys = ", ".join(sorted(map(str, doc))[:8]) or "none"
            raise BadAnswerError(
                f"the answer has no 'features' list (keys: {keys}): not a GeoJSON FeatureCollection"
            )
        declared = _declared_epsg(doc)
        if declared is not None and declared != epsg:
            raise BadAnswerError(f"the answer is in EPSG:{declared} although EPSG:{epsg} was asked")
        for i, feature in enumerate(features):
            if not isinstance(feature, Mapping):
                raise BadAnswerError(f"feature {i} is {describe(feature)}, not a GeoJSON Feature")
            props = feature.get("properties")
            if props is not None and not isinstance(props, Mapping):
                raise BadAnswerError(f"feature {i} has properties that are {describe(props)}")
            missing = [k for k in needed if not props or k not in props]
            if missing:
                raise BadAnswerError(f"feature {i} lacks the propert(ies) {', '.join(missing)}")
            _check_geometry(feature.get("geometry"), i, types, box)

    return check


def check_records(*, required: Iterable[str] = (), key: str | None = None) -> Check:
    """A check for a JSON answer that is a list of records, or an object holding one.

    Parameters
    ----------
    required : iterable of str
        Fields every record must have.
    key : str, optional
        Name of the list in the answer object (``"data"`` for Géorisques); the answer itself
        must be the list when omitted.

    Returns
    -------
    callable
        Raises :class:`~layers.errors.BadAnswerError` for an answer of another shape.
    """
    needed = tuple(required)

    def check(doc: Any) -> None:
        records = doc
        if key is not None:
            if not isinstance(doc, Mapping):
                raise BadAnswerError(f"the answer is {describe(doc)}, not an object with {key!r}")
            records = doc.get(key)
            if not isinstance(records, list):
                raise BadAnswerError(f"its {key!r} member is {describe(records)}, not a list")
        elif not isinstance(records, list):
            raise BadAnswerError(f"the answer is {describe(records)}, not a list of records")
        for i, rec in enumerate(records):
            if not isinstance(rec, Mapping):
                raise BadAnswerError(f"record {i} is {describe(rec)}, not an object")
            missing = [k for k in needed if k not in rec]
            if missing:
                raise BadAnswerError(f"record {i} lacks the field(s) {', '.join(missing)}")

    return check


def check_capabilities(root: Any) -> None:
    """Check that an XML answer is a WFS 2.0 capabilities document listing feature types.

    Raises
    ------
    BadAnswerError
        Another document: an OWS exception report, an HTML page, a capabilities document of
        another service, or one that lists no feature type.
    """
    tag = str(getattr(root, "tag", ""))
    if not tag.endswith("}WFS_Capabilities"):
        text = " ".join("".join(root.itertext()).split())[:200] if tag else ""
        raise BadAnswerError(
            f"the answer is a <{tag.rpartition('}')[2] or '?'}> document, not WFS 2.0 "
            f"capabilities{': ' + repr(text) if text else ''}"
        )
    if (
        root.find(
            "{http://www.opengis.net/wfs/2.0}FeatureTypeList/{http://www.opengis.net/wfs/2.0}FeatureType"
        )
        is None
    ):
        raise BadAnswerError("the capabilities list no feature type")

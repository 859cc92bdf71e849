"""Reading GeoParquet files with their CRS parsed once per process.

``geopandas.read_parquet`` builds a new :class:`pyproj.CRS` from the file's PROJJSON at each
read, about 20 ms, as long as reading a small file. A siting study reads a dozen embedded
files, all in the same CRS, so :func:`read_geoparquet` parses each distinct CRS text once
and decodes the rest through geopandas' public GeoArrow reader
(:meth:`geopandas.GeoSeries.from_arrow`): same columns, index, dtypes, geometries and CRS
as ``geopandas.read_parquet``. Files it does not know how to read (no ``geo`` metadata, an
unknown encoding) go to ``geopandas.read_parquet`` unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
from pyproj import CRS
from pyproj.exceptions import CRSError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["read_geoparquet"]

#: GeoParquet encodings and the GeoArrow extension type that holds them.
_EXTENSIONS = {
    "WKB": "geoarrow.wkb",
    "point": "geoarrow.point",
    "linestring": "geoarrow.linestring",
    "polygon": "geoarrow.polygon",
    "multipoint": "geoarrow.multipoint",
    "multilinestring": "geoarrow.multilinestring",
    "multipolygon": "geoarrow.multipolygon",
}


def _without_member_ids(projjson: dict[str, Any]) -> dict[str, Any]:
    # As geopandas does: PROJ cannot use the ids of datum ensemble members.
    for member in projjson.get("datum_ensemble", {}).get("members", []):
        member.pop("id", None)
    return projjson


@lru_cache(maxsize=16)
def _crs(text: str) -> CRS:
    """The CRS of a PROJJSON text (or a CRS string), parsed once per process.

    PROJ parses PROJJSON slowly (20–50 ms); a definition that carries an authority code is
    built from that code (under a millisecond) when the code's own PROJJSON is the same
    definition, key for key.
    """
    value = json.loads(text)
    if not isinstance(value, dict):
        return CRS.from_user_input(value)
    value = _without_member_ids(value)
    code = value.get("id", {})
    if isinstance(code.get("authority"), str) and isinstance(code.get("code"), int | str):
        try:
            candidate = CRS.from_user_input(f"{code['authority']}:{code['code']}")
        except CRSError:  # a code this PROJ database does not know
            candidate = None
        if candidate is not None and _without_member_ids(candidate.to_json_dict()) == value:
            return candidate
    return CRS.from_user_input(value)


class _GeoArrowColumn:
    """One geometry column seen through the Arrow PyCapsule protocol with its GeoArrow type."""

    def __init__(self, column: pa.ChunkedArray, extension: str) -> None:
        import pyarrow as pa

        self.array = column.combine_chunks()
        self.field = pa.field(
            "geometry",
            self.array.type,
            metadata={"ARROW:extension:name": extension, "ARROW:extension:metadata": "{}"},
        )

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return self.field.__arrow_c_schema__(), self.array.__arrow_c_array__()[1]


def _in_conditions(filters: Any) -> bool:
    """Whether ``filters`` is a list of ``(column, "in", values)`` conditions."""
    return isinstance(filters, list | tuple) and all(
        isinstance(f, tuple) and len(f) == 3 and f[1] == "in" and isinstance(f[0], str)
        for f in filters
    )


def _may_hold(statistics: Any, values: Sequence[Any]) -> bool:
    """Whether a row group whose column has these statistics may hold one of ``values``."""
    if statistics is None or not statistics.has_min_max:
        return True
    try:
        return any(statistics.min <= v <= statistics.max for v in values)
    except TypeError:  # values of another type than the column: let the row filter decide
        return True


def _read_where(path: str | Path, conditions: Sequence[tuple[str, str, Any]]) -> pa.Table:
    """Rows where every ``column in values`` holds, read without a dataset scan.

    Only the row groups whose column statistics may hold a wanted value of every condition
    are read (files sorted on the filtered columns skip most of theirs); the rows are then
    kept with :func:`pyarrow.compute.is_in`, the kernel of the ``isin`` expression.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    conditions = [(column, op, list(values)) for column, op, values in conditions]
    with pq.ParquetFile(path) as file:
        meta = file.metadata
        leaves = {meta.schema.column(j).path: j for j in range(meta.num_columns)}
        groups = [
            i
            for i in range(meta.num_row_groups)
            if all(
                c not in leaves or _may_hold(meta.row_group(i).column(leaves[c]).statistics, v)
                for c, _, v in conditions
            )
        ]
        table = file.read_row_groups(groups)
    mask = None
    for column, _, values in conditions:
        kind = table.schema.field(column).type
        term = pc.is_in(table.column(column), value_set=pa.array(values, type=kind))
        mask = term if mask is None else pc.and_(mask, term)
    return table if mask is None else table.filter(mask)


def _expression(conditions: Sequence[tuple[str, str, Any]], schema: pa.Schema) -> Any:
    """The ``isin`` expression of ``(column, "in", values)`` conditions, typed as the columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    expression = None
    for column, _, values in conditions:
        kind = schema.field(column).type
        term = pc.field(column).isin(pa.array(list(values), type=kind))
        expression = term if expression is None else expression & term
    return expression


def read_geoparquet(path: str | Path, *, filters: Any = None) -> gpd.GeoDataFrame:
    """Read a GeoParquet file as :func:`geopandas.read_parquet` does.

    Parameters
    ----------
    path : str or Path
        A local GeoParquet file.
    filters : list of (column, "in", values) or pyarrow.compute.Expression, optional
        Rows to keep. A list of ``(column, "in", values)`` conditions (all must hold, as in
        pyarrow's ``filters``) is read directly: only the row groups whose statistics may
        hold a wanted value, then the matching rows. An expression is pushed down to
        pyarrow's dataset reader (row groups whose statistics exclude every wanted value
        are skipped).

    Returns
    -------
    GeoDataFrame
        The same frame as ``geopandas.read_parquet(path, filters=filters)``.
    """
    import pyarrow.parquet as pq

    conditions = None
    if filters is not None and _in_conditions(filters) and Path(path).is_file():
        conditions = filters
        table = _read_where(path, conditions)
    elif filters is None and Path(path).is_file():
        # A whole file: read directly, without setting up a dataset scan (about half a
        # millisecond less per file: a siting study reads a dozen small embedded files).
        with pq.ParquetFile(path) as file:
            table = file.read()
    else:
        table = pq.read_table(path, filters=filters)

    def by_geopandas() -> gpd.GeoDataFrame:
        # geopandas' own reader, when it has to take over, gets the conditions as an
        # expression typed like the columns (an empty value list still compares).
        typed = filters if conditions is None else _expression(conditions, table.schema)
        return gpd.read_parquet(path, filters=typed)

    raw = (table.schema.metadata or {}).get(b"geo")
    if raw is None:
        return by_geopandas()
    meta = json.loads(raw)
    columns = {c: m for c, m in meta.get("columns", {}).items() if c in table.column_names}
    primary = meta.get("primary_column")
    if (
        primary not in columns
        or any(m.get("encoding") not in _EXTENSIONS for m in columns.values())
        or any(m.get("covering") for m in columns.values())
    ):
        return by_geopandas()
    frame = table.drop_columns(list(columns)).to_pandas()
    order = [c for c in table.column_names if c in columns or c in frame.columns]
    for name in sorted(columns, key=order.index):
        m = columns[name]
        # GeoParquet: a column without a CRS is in OGC:CRS84 (lon/lat); null means unknown.
        crs = None if m.get("crs", "") is None else _crs(json.dumps(m.get("crs", "OGC:CRS84")))
        values = gpd.GeoSeries.from_arrow(
            _GeoArrowColumn(table.column(name), _EXTENSIONS[m["encoding"]]),
            crs=crs,
            index=frame.index,
        )
        frame.insert(order.index(name), name, values.array)
    if b"PANDAS_ATTRS" in table.schema.metadata:
        frame.attrs = json.loads(table.schema.metadata[b"PANDAS_ATTRS"])
    return gpd.GeoDataFrame(frame, geometry=primary)

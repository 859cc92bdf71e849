"""Write a siting study into a PostGIS schema that QGIS (and QGIS Server, Lizmap) opens styled.

``write_postgis(study, "postgresql:///?service=sig&schema=foncier&table=sites")`` writes the
same tables as the GeoPackage (:func:`foncier.reports.exports.study_tables`): the scored
sites (under the URL's ``table`` name, ``sites`` by default), ``territoire``, ``communes``,
``site_eco`` (CNIG) and the study's vector layers, each with

- a ``fid`` identity primary key (QGIS's feature id), a ``run_id`` text column, the
  attribute columns typed from their pandas types (CNIG numeric fields as integers and
  reals) and a geometry column ``geom`` typed ``geometry(<kind>, <SRID>)`` with a GiST index;
- comments on the table (description, profile, territory, date, sources) and on the
  criterion columns (label and unit);
- a default style in ``public.layer_styles``, the table QGIS itself creates and reads (same
  columns; the QML parsed as an XML document), so the sites open with the siting map's
  classes and colours.

Everything happens in one transaction: if anything fails (a constraint, a lost connection,
the server going down) the previous tables and styles are left exactly as they were.
``mode="replace"`` (default) replaces the tables; ``mode="append"`` adds the rows under a new
``run_id`` to tables of the same columns. Rows travel with ``COPY … FROM STDIN`` in CSV written by
Arrow (one stream per table, geometries as hex EWKB), not row by row.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from foncier.reports.tables import study_metadata, study_tables
from layers.errors import CRSError, DataSourceError, SchemaError
from layers.postgis import PostgisSource, connect, database_error, parse_postgis_url

if TYPE_CHECKING:
    import psycopg

    from foncier.reports.study import SitingStudy

__all__ = ["LAYER_STYLES_COLUMNS", "write_frame", "write_postgis"]

log = logging.getLogger(__name__)

#: Columns of ``public.layer_styles`` as QGIS creates the table (QgsPostgresProvider).
LAYER_STYLES_COLUMNS = (
    "id SERIAL PRIMARY KEY",
    "f_table_catalog varchar",
    "f_table_schema varchar",
    "f_table_name varchar",
    "f_geometry_column varchar",
    "styleName text",
    "styleQML xml",
    "styleSLD xml",
    "useAsDefault boolean",
    "description text",
    "owner varchar(63) DEFAULT CURRENT_USER",
    "ui xml",
    "update_time timestamp DEFAULT CURRENT_TIMESTAMP",
    "type varchar",
)
GEOMETRY_COLUMN = "geom"
_MODES = ("replace", "append")


def _pg_type(series: pd.Series) -> str:
    """PostgreSQL type of a pandas column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if str(dtype) in ("Int8", "Int16", "Int32", "int8", "int16", "int32"):
        return "integer"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamptz" if getattr(dtype, "tz", None) is not None else "timestamp"
    if pd.api.types.is_object_dtype(dtype):
        present = series.dropna()
        if len(present) and present.map(lambda v: isinstance(v, bool | np.bool_)).all():
            return "boolean"
    return "text"


def _geometry_type(geoms: np.ndarray) -> tuple[str, np.ndarray]:
    """PostGIS geometry type of a column, with single parts promoted when kinds mix."""
    present = geoms[~shapely.is_missing(geoms)]
    kinds = set(shapely.get_type_id(present).tolist()) if len(present) else set()
    names = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString"}
    names[6] = "MultiPolygon"
    if len(kinds) == 1 and next(iter(kinds)) in names:
        return names[next(iter(kinds))], geoms
    for single, multi, make in (
        (0, 4, shapely.multipoints),
        (1, 5, shapely.multilinestrings),
        (3, 6, shapely.multipolygons),
    ):
        if kinds == {single, multi}:
            out = geoms.copy()
            ids = shapely.get_type_id(out)
            idx = np.flatnonzero(ids == single)
            out[idx] = make(out[idx], indices=np.arange(len(idx)))
            return names[multi], out
    return "Geometry", geoms


def _arrow_column(values: pd.Series) -> Any:
    """An Arrow array of a column; containers as JSON text, mixed objects as text."""
    import pyarrow as pa

    if values.dtype == object:
        values = values.map(
            lambda v: (
                json.dumps(v, ensure_ascii=False, default=str)
                if isinstance(v, list | tuple | dict | set | np.ndarray)
                else v
            )
        )
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = values.map(lambda v: None if v is None or v is pd.NA else str(v))
        return pa.array(text, type=pa.string(), from_pandas=True)


def _csv_payload(frame: pd.DataFrame, geoms: np.ndarray, srid: int) -> bytes:
    """Rows as COPY CSV, written by Arrow's CSV writer.

    Every text value is quoted and a missing value is an unquoted empty field, which is how
    PostgreSQL's CSV format tells an empty text from NULL; floats are written in their
    shortest round-trip form; geometries as hex EWKB with their SRID.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arrays = [_arrow_column(frame[c]) for c in frame.columns]
    hexes = shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True)
    arrays.append(pa.array(hexes, type=pa.string(), from_pandas=True))
    table = pa.Table.from_arrays(arrays, names=[*map(str, frame.columns), GEOMETRY_COLUMN])
    sink = pa.BufferOutputStream()
    pacsv.write_csv(
        table,
        sink,
        write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return bytes(sink.getvalue().to_pybytes())


def _table_comment(description: str, meta: dict[str, Any]) -> str:
    sources = "; ".join(
        f"{name}: {', '.join(v.get('source', []))}"
        for name, v in meta.get("sources", {}).items()
        if v.get("source")
    )
    return (
        f"{description}. foncier, profil {meta['profile']['id']} "
        f"({meta['profile']['name']}), territoire {meta['territory']['name']}, "
        f"{meta['created']}. Sources : {sources or 'non précisées'}."
    )


def _column_comments(meta: dict[str, Any]) -> dict[str, str]:
    out = {
        "score": "Score du site, 0 à 100",
        "rank": "Rang du site (1 = meilleur), vide si exclu",
        "excluded": "Site exclu par une règle du profil",
        "exclusion_reasons": "Raisons de l'exclusion",
        "run_id": "Identifiant de l'exécution de foncier qui a écrit la ligne",
    }
    for c in meta.get("criteria", []):
        label, unit = c.get("label") or c.get("id"), c.get("unit") or ""
        cid = c.get("id")
        out[f"{cid}__raw"] = f"{label} : valeur mesurée" + (f" ({unit})" if unit else "")
        out[f"{cid}__score"] = f"{label} : note de 0 à 1"
        out[f"{cid}__weight"] = f"{label} : poids"
        out[f"{cid}__contrib"] = f"{label} : contribution au score"
    return out


def write_frame(
    conn: psycopg.Connection,
    gdf: gpd.GeoDataFrame,
    *,
    schema: str,
    table: str,
    run_id: str,
    mode: str = "replace",
    comment: str | None = None,
    column_comments: dict[str, str] | None = None,
) -> int:
    """Write one GeoDataFrame as a PostGIS table inside the caller's transaction.

    Parameters
    ----------
    conn : psycopg.Connection
        Open connection; the caller commits or rolls back.
    gdf : GeoDataFrame
        Rows to write; its CRS must have an EPSG code (the table's SRID).
    schema, table : str
        Where to write (quoted as identifiers: any name is safe).
    run_id : str
        Value of the ``run_id`` column of every row.
    mode : {"replace", "append"}
        Replace the table, or append to it (its columns must be the same).
    comment : str, optional
        Table comment.
    column_comments : dict of str to str, optional
        Comments of columns, by name (absent columns are ignored).

    Returns
    -------
    int
        Rows written.
    """
    from psycopg import sql

    if gdf.crs is None:
        raise CRSError(f"table {table!r} has no CRS.")
    srid = gdf.crs.to_epsg()
    if srid is None:
        raise CRSError(f"table {table!r}: CRS {gdf.crs.name!r} has no EPSG code for PostGIS.")
    geom_name = gdf.geometry.name
    frame = pd.DataFrame(gdf.drop(columns=geom_name))
    reserved = {"fid", GEOMETRY_COLUMN}
    frame = frame.rename(columns={c: f"{c}_" for c in frame.columns if c in reserved})
    frame = frame.drop(columns=[c for c in ("run_id",) if c in frame.columns])
    frame.insert(0, "run_id", run_id)
    frame.columns = [str(c) for c in frame.columns]
    kind, geoms = _geometry_type(gdf.geometry.to_numpy())
    ident = sql.Identifier(schema, table)
    exists = conn.execute(
        "SELECT to_regclass(quote_ident(%s) || '.' || quote_ident(%s)) IS NOT NULL",
        [schema, table],
    ).fetchone()
    if mode == "append" and exists and exists[0]:
        have = [
            str(r[0])
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = "
                "(quote_ident(%s) || '.' || quote_ident(%s))::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                [schema, table],
            ).fetchall()
        ]
        want = ["fid", *frame.columns, GEOMETRY_COLUMN]
        if sorted(have) != sorted(want):
            raise SchemaError(
                f"cannot append to {schema}.{table}: its columns differ from the study's "
                f"(missing {sorted(set(want) - set(have))}, extra "
                f"{sorted(set(have) - set(want))}). Write to another table or replace it."
            )
    else:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(ident))
        columns = [
            sql.SQL("{} bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY").format(
                sql.Identifier("fid")
            )
        ]
        columns += [
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_pg_type(frame[c])))
            for c in frame.columns
        ]
        columns.append(
            sql.SQL("{} geometry({}, {})").format(
                sql.Identifier(GEOMETRY_COLUMN), sql.SQL(kind), sql.Literal(int(srid))
            )
        )
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, sql.SQL(", ").join(columns)))
    names = sql.SQL(", ").join(sql.Identifier(c) for c in [*frame.columns, GEOMETRY_COLUMN])
    payload = _csv_payload(frame, geoms, int(srid))
    with (
        conn.cursor() as cur,
        cur.copy(sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(ident, names)) as copy,
    ):
        step = 8 << 20
        for start in range(0, len(payload), step):
            copy.write(payload[start : start + step])
    if not (mode == "append" and exists and exists[0]):
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} USING gist ({})").format(
                sql.Identifier(f"{table[:50]}_geom_idx"), ident, sql.Identifier(GEOMETRY_COLUMN)
            )
        )
    if comment:
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(ident, sql.Literal(comment)))
    for col, text in (column_comments or {}).items():
        if col in frame.columns:
            conn.execute(
                sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                    sql.Identifier(schema, table, col), sql.Literal(text)
                )
            )
    conn.execute(sql.SQL("ANALYZE {}").format(ident))
    return len(frame)


def _ensure_layer_styles(conn: psycopg.Connection) -> list[str]:
    """Create ``public.layer_styles`` as QGIS does when missing; return its columns."""
    from psycopg import sql

    conn.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS public.layer_styles ({})").format(
            sql.SQL(", ").join(sql.SQL(c) for c in LAYER_STYLES_COLUMNS)
        )
    )
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'layer_styles'"
    ).fetchall()
    return [str(r[0]).lower() for r in rows]


def _write_styles(
    conn: psycopg.Connection, schema: str, styles: Sequence[tuple[str, str, str]]
) -> None:
    """Replace the default style of each table in ``public.layer_styles``."""
    columns = set(_ensure_layer_styles(conn))
    for table, qml, description in styles:
        conn.execute(
            "DELETE FROM public.layer_styles WHERE f_table_catalog = current_database() "
            "AND f_table_schema = %s AND f_table_name = %s AND f_geometry_column = %s "
            "AND stylename = %s",
            [schema, table, GEOMETRY_COLUMN, table],
        )
        extra = ", type" if "type" in columns else ""
        extra_value = ", 'vector'" if "type" in columns else ""
        conn.execute(
            "INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, stylename, styleqml, stylesld, useasdefault, description"
            + extra
            + ") VALUES (current_database(), %s, %s, %s, %s, XMLPARSE(DOCUMENT %s), NULL, "
            "true, %s" + extra_value + ")",
            [schema, table, GEOMETRY_COLUMN, table, qml, description],
        )


def write_postgis(
    study: SitingStudy,
    url: str | PostgisSource,
    *,
    with_layers: bool = True,
    mode: str | None = None,
    run_id: str | None = None,
) -> dict[str, int]:
    """Write a study's tables and QGIS styles into a PostGIS schema, in one transaction.

    Parameters
    ----------
    study : SitingStudy
        A siting study.
    url : str or PostgisSource
        ``postgresql://…?schema=foncier&table=sites``: the database (libpq URI, service
        file, ``.pgpass`` …), the schema (created when missing; default ``public``) and the
        name of the sites table (default ``sites``). ``mode=append`` and ``run_id=…`` may
        be given in the URL too.
    with_layers : bool
        Also write the study's infrastructure and constraint layers.
    mode : {"replace", "append"}, optional
        Replace the tables (default) or append the rows under a new ``run_id``.
    run_id : str, optional
        Identifier of this run (default: UTC time and a random suffix).

    Returns
    -------
    dict of str to int
        Rows written per table (``schema.table``).

    Raises
    ------
    DataSourceError
        Connection or write failure (password masked); nothing is changed in the database.
    SchemaError
        ``mode="append"`` on tables whose columns differ.
    """
    src = parse_postgis_url(url) if isinstance(url, str) else url
    chosen = mode or src.options.get("mode", "replace")
    if chosen not in _MODES:
        raise SchemaError(f"mode {chosen!r}: expected 'replace' or 'append'.")
    if src.query:
        raise DataSourceError(f"{src.masked}: cannot write to a query; give table=NAME.")
    schema = src.schema or "public"
    sites_name = src.table or "sites"
    run = (
        run_id
        or src.options.get("run_id")
        or (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6])
    )
    tables = study_tables(study, with_layers=with_layers)
    meta = study_metadata(study)
    comments = _column_comments(meta)
    import psycopg
    from psycopg import sql

    conn = connect(src)
    written: dict[str, int] = {}
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            styles = []
            for i, (name, gdf, qml, description) in enumerate(tables):
                table = sites_name if i == 0 else name
                written[f"{schema}.{table}"] = write_frame(
                    conn,
                    gdf,
                    schema=schema,
                    table=table,
                    run_id=run,
                    mode=chosen,
                    comment=_table_comment(description, meta),
                    column_comments=comments,
                )
                styles.append((table, qml, description))
            _write_styles(conn, schema, styles)
    except psycopg.Error as exc:
        raise database_error(exc, src, f"writing into schema {schema!r}") from None
    finally:
        conn.close()
    log.info("PostGIS %s: wrote %s (run %s)", src.masked, written, run)
    return written

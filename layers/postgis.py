"""PostgreSQL/PostGIS as a source: tables, views and queries read like files.

Teams keep their ZAE inventory (CNIG "Sites économiques"), cadastre and local constraints in
PostGIS behind QGIS. Wherever foncier takes a file (a layer source, candidate sites, a
territory's boundary) it also takes a database URL::

    postgresql:///?service=sig&table=zae.site_eco
    postgresql://lecteur@sig.example.org:5432/sig?table=risques.ppri&sslmode=verify-full
    postgresql:///sig?query=SELECT%20*%20FROM%20zae.site_eco%20WHERE%20site_etat%3D'actif'

The URL is a libpq connection URI (host, port, database, user and every libpq parameter:
``service``, ``sslmode``, ``sslrootcert``, ``connect_timeout``, ``options`` …) plus a few
parameters of foncier's own, removed before connecting:

``table``
    ``name`` or ``schema.name`` of a table or view (quoted as identifiers: any name works).
``schema``
    Schema of ``table`` when it is not written in it.
``query``
    A ``SELECT`` to read instead of a table (URL-encoded). It runs in a read-only
    transaction.
``geometry``
    Geometry column, when the table has several.

Credentials come from where libpq looks for them: the service file (``~/.pg_service.conf``,
``PGSERVICEFILE``), the password file (``~/.pgpass``, ``PGPASSFILE``) or the environment
(``PGUSER``, ``PGPASSWORD`` …). A password written in the URL works but is masked
(``***``) in every message and log line (:func:`mask_url`).

Reading pushes the territory's extent to the server (``ST_Intersects`` with the area of
interest transformed to the table's SRID, which the spatial index answers), so only the rows
that the territory needs cross the network, in one ``COPY`` stream. The CRS is the geometry
column's SRID. A read-only role is enough: reads run in read-only transactions.

The database driver is psycopg 3 (``pip install "foncier[postgis]"``): see the README.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.errors import (
    CRSError,
    DataSourceError,
    GeometryError,
    MissingDependencyError,
    SchemaError,
)

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PostgisSource",
    "connect",
    "is_postgis_url",
    "mask_url",
    "parse_postgis_url",
    "read_postgis",
]

log = logging.getLogger(__name__)

_SCHEMES = ("postgresql", "postgres")
#: Parameters of the URL that foncier reads itself (never passed to libpq).
FONCIER_PARAMS = ("table", "schema", "query", "geometry", "mode", "run_id")
_MASK = "***"


def is_postgis_url(value: Any) -> bool:
    """True when ``value`` is a ``postgresql://`` or ``postgres://`` URL (a str)."""
    return (
        isinstance(value, str) and value.split(":", 1)[0].lower() in _SCHEMES and ("://" in value)
    )


def mask_url(text: str) -> str:
    """``text`` with the passwords of any database URL or ``password=`` setting masked.

    Parameters
    ----------
    text : str
        A URL, a libpq connection string or a message that may quote one.

    Returns
    -------
    str
        The same text with ``user:secret@`` written ``user:***@`` and ``password=secret``
        written ``password=***``.
    """
    text = re.sub(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", rf"\g<1>{_MASK}@", text)
    return re.sub(r"(?i)(password\s*=\s*)('[^']*'|[^&\s]+)", rf"\g<1>{_MASK}", text)


@dataclass(frozen=True)
class PostgisSource:
    """A parsed database URL: where to connect and what to read or write.

    Attributes
    ----------
    conninfo : str
        libpq connection URI without foncier's parameters (may hold a password: never log
        it, log :attr:`masked` instead).
    table : str or None
        Table or view name (without its schema).
    schema : str or None
        Schema of ``table`` (None: the role's ``search_path``).
    query : str or None
        ``SELECT`` to read instead of a table.
    geometry : str or None
        Geometry column asked for.
    options : dict of str to str
        Foncier's other parameters (``mode``, ``run_id``).
    masked : str
        The URL with its password masked, for messages.
    """

    conninfo: str
    table: str | None
    schema: str | None
    query: str | None
    geometry: str | None
    options: dict[str, str]
    masked: str

    @property
    def label(self) -> str:
        """``schema.table`` or ``(query)``, for messages."""
        if self.query:
            return "(query)"
        return f"{self.schema}.{self.table}" if self.schema else str(self.table)


def parse_postgis_url(url: str) -> PostgisSource:
    """Split a database URL into the libpq connection URI and foncier's parameters.

    Parameters
    ----------
    url : str
        ``postgresql://[user[:password]@][host][:port][/database]?param=value&…`` (see the
        module's documentation for ``table``, ``schema``, ``query`` and ``geometry``).

    Returns
    -------
    PostgisSource

    Raises
    ------
    DataSourceError
        Not a ``postgresql://`` URL, or both ``table`` and ``query`` given.
    """
    if not is_postgis_url(url):
        raise DataSourceError(f"{mask_url(str(url))!r} is not a postgresql:// URL.")
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in params if k in FONCIER_PARAMS}
    libpq = [(k, v) for k, v in params if k not in FONCIER_PARAMS]
    conninfo = urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urlencode(libpq, quote_via=quote), "")
    )
    table = ours.get("table") or None
    schema = ours.get("schema") or None
    if table and schema is None and "." in table:
        schema, table = table.split(".", 1)
    query = ours.get("query") or None
    if table and query:
        raise DataSourceError(f"{mask_url(url)!r}: give either table= or query=, not both.")
    options = {k: v for k, v in ours.items() if k in ("mode", "run_id")}
    return PostgisSource(
        conninfo=conninfo,
        table=table,
        schema=schema,
        query=query,
        geometry=ours.get("geometry") or None,
        options=options,
        masked=mask_url(url),
    )


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "reading or writing PostGIS needs psycopg 3: pip install 'foncier[postgis]'."
        ) from exc
    return psycopg


def _secret(conninfo: str) -> str | None:
    password = urlsplit(conninfo).password
    if password:
        return password
    for key, value in parse_qsl(urlsplit(conninfo).query):
        if key == "password" and value:
            return value
    return None


def _clean_message(exc: BaseException, conninfo: str) -> str:
    """The server's or libpq's message, first line, with any password masked."""
    text = str(exc).strip() or type(exc).__name__
    secret = _secret(conninfo)
    if secret:
        text = text.replace(secret, _MASK)
    return mask_url(text)


def database_error(exc: BaseException, source: PostgisSource, doing: str) -> DataSourceError:
    """A :class:`DataSourceError` saying what failed, with the password masked.

    Parameters
    ----------
    exc : Exception
        The psycopg error.
    source : PostgisSource
        The database and table concerned.
    doing : str
        What foncier was doing (``"connecting"``, ``"reading"``, ``"writing"``).

    Returns
    -------
    DataSourceError
    """
    psycopg = _psycopg()
    detail = _clean_message(exc, source.conninfo)
    hint = ""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate == "42501":
        hint = " The role lacks the privilege: ask the database administrator for it."
    elif sqlstate == "28P01" or "password authentication failed" in detail:
        hint = " Check the password in ~/.pgpass, the service file or PGPASSWORD."
    elif isinstance(exc, psycopg.OperationalError):
        hint = " Is the server running and reachable? Check host, port and service."
    return DataSourceError(f"PostGIS {source.masked}: {doing} failed: {detail}.{hint}")


def connect(source: PostgisSource | str, *, read_only: bool = False) -> psycopg.Connection:
    """Open a connection (psycopg 3) to the database of ``source``.

    Parameters
    ----------
    source : PostgisSource or str
        A parsed source or a database URL.
    read_only : bool
        Make every transaction of the connection read-only.

    Returns
    -------
    psycopg.Connection
        Not in autocommit mode; the caller closes it.

    Raises
    ------
    DataSourceError
        The server is unreachable, refuses the role or the password (the message never
        shows the password).
    """
    psycopg = _psycopg()
    src = parse_postgis_url(source) if isinstance(source, str) else source
    try:
        conn = psycopg.connect(src.conninfo, application_name="foncier")
    except psycopg.Error as exc:
        raise database_error(exc, src, "connecting") from None
    conn.read_only = read_only
    log.info("connected to PostGIS %s", src.masked)
    return conn


@contextmanager
def _reading(src: PostgisSource) -> Iterator[psycopg.Connection]:
    psycopg = _psycopg()
    conn = connect(src, read_only=True)
    try:
        yield conn
    except psycopg.Error as exc:
        raise database_error(exc, src, f"reading {src.label}") from None
    finally:
        conn.close()


def _relation(conn: psycopg.Connection, src: PostgisSource) -> tuple[str, str]:
    """(schema, name) of the table or view of ``src``; a clear error when it does not exist."""
    row = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass(CASE WHEN %(s)s::text IS NULL THEN quote_ident(%(t)s) "
        "ELSE quote_ident(%(s)s) || '.' || quote_ident(%(t)s) END)",
        {"s": src.schema, "t": src.table},
    ).fetchone()
    if row is None:
        raise DataSourceError(
            f"PostGIS {src.masked}: no table or view {src.label!r} (or the role may not see "
            "it). Check the name and schema (table=schema.name)."
        )
    return str(row[0]), str(row[1])


def _geometry_oids(conn: psycopg.Connection) -> set[int]:
    rows = conn.execute(
        "SELECT oid FROM pg_type WHERE typname IN ('geometry', 'geography')"
    ).fetchall()
    if not rows:
        raise DataSourceError(
            "the database has no PostGIS extension (type geometry unknown): "
            "CREATE EXTENSION postgis, or point foncier at the right database."
        )
    return {int(r[0]) for r in rows}


def _columns(
    conn: psycopg.Connection, relation: Any, src: PostgisSource
) -> list[tuple[str, int, str]]:
    """(name, type oid, type name) of each column of a relation or subquery."""
    from psycopg import sql

    cur = conn.execute(sql.SQL("SELECT * FROM {} AS q LIMIT 0").format(relation))
    names = [(d.name, int(d.type_code)) for d in (cur.description or [])]
    oids = sorted({o for _, o in names})
    typenames: dict[int, str] = dict(
        conn.execute("SELECT oid::int, typname FROM pg_type WHERE oid = ANY(%s)", [oids]).fetchall()
    )
    return [(n, o, str(typenames.get(o, "text"))) for n, o in names]


def _srid_crs(conn: psycopg.Connection, srid: int, src: PostgisSource) -> CRS:
    if srid <= 0:
        raise CRSError(
            f"PostGIS {src.masked}: the geometries of {src.label} have no SRID (0): set it "
            "(e.g. SELECT UpdateGeometrySRID(...) or ST_SetSRID in the query)."
        )
    row = conn.execute(
        "SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = %s", [srid]
    ).fetchone()
    try:
        if row is not None and str(row[0]).upper() == "EPSG":
            return CRS.from_epsg(int(row[1]))
        if row is not None and row[2]:
            return CRS.from_wkt(str(row[2]))
        return CRS.from_epsg(srid)
    except Exception as exc:  # pyproj raises CRSError of its own
        raise CRSError(
            f"PostGIS {src.masked}: SRID {srid} of {src.label} is not a CRS that PROJ knows."
        ) from exc


_INT_TYPES = {"int2", "int4", "int8", "oid"}
_FLOAT_TYPES = {"float4", "float8", "numeric", "money"}
_TIME_TYPES = {"date", "timestamp", "timestamptz"}


def _parse_copy(
    data: bytes, names: list[str], types: dict[str, str], geom: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse a ``COPY … TO STDOUT (FORMAT csv)`` stream with Arrow's CSV reader.

    PostgreSQL writes NULL as an unquoted empty field and an empty text as ``""``: Arrow
    keeps the two apart (quoted strings are never null). Columns get the Arrow type of
    their PostgreSQL type, so codes such as ``"01001"`` stay text.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    arrow_types: dict[str, Any] = {}
    for name in names:
        typename = types.get(name, "text") if name != geom else "text"
        if typename in _INT_TYPES:
            arrow_types[name] = pa.int64()
        elif typename in _FLOAT_TYPES - {"money"}:
            arrow_types[name] = pa.float64()
        elif typename == "bool":
            arrow_types[name] = pa.bool_()
        else:
            arrow_types[name] = pa.string()
    table = pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=16 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=arrow_types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )
    # bytea comes as \x<hex>: drop the prefix, shapely reads the hex.
    hexes = pc.utf8_slice_codeunits(table.column(geom), 2).to_numpy(zero_copy_only=False)
    columns: dict[str, pd.Series] = {}
    for name in names:
        if name == geom:
            continue
        col = table.column(name)
        typename = types.get(name, "text")
        if typename in _INT_TYPES:
            series = pd.Series(col.to_numpy(zero_copy_only=False))
            if col.null_count:
                series = col.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
            columns[name] = series
        elif typename == "bool" and col.null_count:
            columns[name] = col.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
        elif typename in _TIME_TYPES:
            columns[name] = pd.to_datetime(
                pd.Series(col.to_numpy(zero_copy_only=False)),
                errors="coerce",
                utc=typename == "timestamptz",
            )
        elif arrow_types[name] == pa.string():
            columns[name] = pd.Series(col.to_numpy(zero_copy_only=False), dtype=object)
        else:
            columns[name] = pd.Series(col.to_numpy(zero_copy_only=False))
    frame = pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))
    return frame, hexes


def read_postgis(
    source: PostgisSource | str,
    *,
    mask: Any = None,
    crs: Any = None,
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a PostGIS table, view or query as a GeoDataFrame.

    Parameters
    ----------
    source : PostgisSource or str
        A database URL (see the module's documentation) naming a ``table`` or a ``query``.
    mask : shapely geometry, optional
        Area of interest, in ``crs``: only the rows whose geometry intersects it are read;
        the filter runs on the server (``ST_Intersects`` with the mask transformed to the
        table's SRID, answered by the spatial index).
    crs : CRS-like, optional
        CRS of ``mask``, and of the result: rows are reprojected to it after reading.
        Default: the table's own CRS (its SRID).
    name : str, optional
        What the rows are (``"flood_zones"``, ``"sites"`` …), for messages.

    Returns
    -------
    GeoDataFrame
        One row per row of the table, columns typed from their PostgreSQL types (integers,
        floats, booleans, dates; text and the others as str), geometry from the geometry
        column. ``attrs["postgis"]`` holds the masked URL, the SRID and the row count.

    Raises
    ------
    DataSourceError
        Server unreachable, wrong password, missing table, permission denied, no PostGIS.
    SchemaError
        No geometry column, or several and none chosen with ``geometry=``.
    CRSError
        The geometries have no SRID or one PROJ does not know.
    GeometryError
        The filter leaves no row (with the mask) or the table is empty.
    """
    from psycopg import sql

    src = parse_postgis_url(source) if isinstance(source, str) else source
    what = name or src.label
    if not src.table and not src.query:
        raise DataSourceError(
            f"{src.masked}: say what to read with table=schema.name or query=SELECT …"
        )
    with _reading(src) as conn:
        geo_oids = _geometry_oids(conn)
        if src.query:
            relation: Any = sql.SQL("({})").format(sql.SQL(src.query))
        else:
            schema, table = _relation(conn, src)
            relation = sql.Identifier(schema, table)
        columns = _columns(conn, relation, src)
        geoms = [c for c, oid, _ in columns if oid in geo_oids]
        if src.geometry is not None:
            if src.geometry not in geoms:
                raise SchemaError(
                    f"PostGIS {src.masked}: {src.label} has no geometry column "
                    f"{src.geometry!r} (geometry columns: {', '.join(geoms) or 'none'})."
                )
            geom = src.geometry
        elif len(geoms) == 1:
            geom = geoms[0]
        elif not geoms:
            raise SchemaError(
                f"PostGIS {src.masked}: {src.label} has no geometry column "
                f"(columns: {', '.join(c for c, _, _ in columns)})."
            )
        else:
            raise SchemaError(
                f"PostGIS {src.masked}: {src.label} has several geometry columns "
                f"({', '.join(geoms)}): choose one with geometry=NAME in the URL."
            )
        g = sql.Identifier(geom)
        srid_row = conn.execute(
            sql.SQL(
                "SELECT ST_SRID(q.{g}::geometry) FROM {r} AS q WHERE q.{g} IS NOT NULL LIMIT 1"
            ).format(g=g, r=relation)
        ).fetchone()
        if srid_row is None:
            raise GeometryError(f"PostGIS {src.masked}: {what} has no row with a geometry.")
        table_crs = _srid_crs(conn, int(srid_row[0]), src)
        out_crs = CRS.from_user_input(crs) if crs is not None else table_crs
        where = sql.SQL("q.{g} IS NOT NULL").format(g=g)
        if mask is not None:
            area = gpd.GeoSeries([mask], crs=out_crs).to_crs(table_crs).iloc[0]
            # COPY takes no bind parameters: the mask travels as a bytea literal, quoted by
            # psycopg (never formatted into the text by hand).
            where = sql.SQL("ST_Intersects(q.{g}::geometry, ST_GeomFromWKB({w}, {s}))").format(
                g=g, w=sql.Literal(shapely.to_wkb(area)), s=sql.Literal(int(srid_row[0]))
            )
        others = [c for c, _, _ in columns if c != geom]
        select = sql.SQL(", ").join(
            [sql.SQL("q.{}").format(sql.Identifier(c)) for c in others]
            + [sql.SQL("ST_AsEWKB(q.{g}::geometry) AS {g}").format(g=g)]
        )
        query = sql.SQL("SELECT {s} FROM {r} AS q WHERE {w}").format(s=select, r=relation, w=where)
        buffer = io.BytesIO()
        copy_sql = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(query)
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for chunk in copy:
                buffer.write(chunk)
    buffer.seek(0)
    names = [*others, geom]
    types = {c: t for c, _, t in columns}
    if buffer.getbuffer().nbytes == 0:
        raise GeometryError(
            f"PostGIS {src.masked}: {what} has no row"
            + (" within the area of interest." if mask is not None else ".")
        )
    frame, hexes = _parse_copy(buffer.getvalue(), names, types, geom)
    geometry = shapely.from_wkb(hexes)
    srids = np.unique(shapely.get_srid(geometry))
    if len(srids) > 1:
        raise CRSError(
            f"PostGIS {src.masked}: {what} mixes SRIDs {sorted(map(int, srids))}: "
            "transform them to one (ST_Transform) in a view or query=."
        )
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=table_crs))
    gdf = gdf.rename_geometry(geom) if geom != "geometry" and geom not in frame else gdf
    if not out_crs.equals(table_crs):
        gdf = gdf.to_crs(out_crs)
    gdf.attrs["postgis"] = {"url": src.masked, "srid": int(srid_row[0]), "rows": len(gdf)}
    log.info("read %d rows of %s from PostGIS %s", len(gdf), what, src.masked)
    return gdf

"""Validation of tables against the CNIG standards' Table Schemas, with ``frictionless``.

The CNIG geostandards "Sites économiques" (pôle, site, terrain, établissement) and
"Friches" publish their exchange format as Frictionless Table Schemas. They are shipped in
``layers/data/cnig/`` (copied by ``scripts/build_cnig.py``) so that validation works offline,
and ``frictionless`` — the reference implementation of Table Schema — does the checking.

Three adjustments are made to the published schemas before validation, each because the
schema as published would let wrong data through (DATA.md, "What the validation checks"):

- a few fields of the "Sites économiques" schemas declare their ``enum`` next to
  ``constraints`` instead of inside it; ``frictionless`` ignores such an enum, so it is moved
  into ``constraints`` (this is what the standard means: the list is the one of the model);
- optional identifier patterns (:data:`ID_PATTERNS`: SIREN 9 digits, INSEE code 5 characters,
  ``<INSEE>_SITE-ECO_<n>`` …) and foreign keys between tables are added where the standard's
  documents define them but the schemas do not;
- ``geojson`` cells built here from shapely geometries are checked as JSON objects, not against
  the GeoJSON JSON-Schema: they are valid GeoJSON by construction, and that check took 84 % of
  the validation time (9 s for 10,000 sites).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import MissingDependencyError, SchemaError

__all__ = [
    "CNIG_DATA",
    "ERROR_COLUMNS",
    "ID_PATTERNS",
    "ValidationReport",
    "dataframe_to_cells",
    "load_cnig_schema",
    "numeric_or_text",
    "prepare_schema",
    "schema_field_names",
    "validate_package",
    "validate_table",
]

log = logging.getLogger(__name__)

#: Folder of the shipped standards (schemas, data package, official GeoPackage template).
CNIG_DATA = Path(__file__).resolve().parent / "data" / "cnig"

#: Columns of :attr:`ValidationReport.errors`.
ERROR_COLUMNS = ["table", "row", "id", "field", "type", "constraint", "message"]

_INSEE = r"(?:\d{5}|2[AB]\d{3})"
#: Identifier and code patterns added to the published schemas (``check_ids=True``).
#: Identifiers follow ``<INSEE code>_<CLASS>_<serial>``, as in every example of the
#: standard; SIREN are 9 digits, SIRET 14, commune INSEE codes 5 characters (2A/2B in Corsica).
ID_PATTERNS: dict[str, dict[str, str]] = {
    "pole-eco": {"pole_id": rf"^{_INSEE}_POLE-ECO_\d{{5}}$"},
    "site-eco": {
        "site_id": rf"^{_INSEE}_SITE-ECO_\d{{5}}$",
        "pole_id": rf"^{_INSEE}_POLE-ECO_\d{{5}}$",
        "site_epci_siren": r"^\d{9}$",
        "site_comm_insee": rf"^{_INSEE}$",
    },
    "terrain-eco": {
        "terr_id": rf"^{_INSEE}_TERRAIN-ECO_\d{{5}}$",
        "site_id": rf"^{_INSEE}_SITE-ECO_\d{{5}}$",
    },
    "etablissement": {
        "SIRET": r"^\d{14}$",
        "SIREN": r"^\d{9}$",
        "epci_siren": r"^\d{9}$",
        "comm_insee": rf"^{_INSEE}$",
    },
    "friches": {"comm_insee": rf"^{_INSEE}$"},
}

_CONSTRAINT_NOTE = re.compile(r'constraint "(\w+)"')


def load_cnig_schema(name: str) -> dict[str, Any]:
    """Return a copy of a shipped CNIG Table Schema, as published.

    Parameters
    ----------
    name : str
        ``"pole-eco"``, ``"site-eco"``, ``"terrain-eco"``, ``"etablissement"`` or ``"friches"``.

    Returns
    -------
    dict
        The Table Schema descriptor (a deep copy: safe to modify).
    """
    return copy.deepcopy(_read_schema(name))


@cache
def _read_schema(name: str) -> dict[str, Any]:
    path = CNIG_DATA / f"{name}.schema.json"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".schema.json") for p in CNIG_DATA.glob("*.schema.json"))
        raise SchemaError(
            f"no CNIG schema named {name!r} in {CNIG_DATA}; known: {', '.join(known)}. "
            "Run scripts/build_cnig.py if the folder is empty."
        )
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def schema_field_names(schema: Mapping[str, Any]) -> list[str]:
    """Return the field names of a Table Schema, in schema order."""
    return [f["name"] for f in schema["fields"]]


def prepare_schema(
    schema: Mapping[str, Any],
    *,
    patterns: Mapping[str, str] | None = None,
    foreign_keys: Sequence[Mapping[str, Any]] = (),
    trusted_geojson: bool = True,
) -> dict[str, Any]:
    """Return the schema ``frictionless`` validates with (see the module notes).

    Parameters
    ----------
    schema : mapping
        A published Table Schema.
    patterns : mapping of str to str, optional
        Extra ``pattern`` constraints by field name (a published pattern is kept).
    foreign_keys : sequence of mapping
        Table Schema ``foreignKeys`` entries to add.
    trusted_geojson : bool
        Check ``geojson`` cells as JSON objects only (cells made from shapely geometries).

    Returns
    -------
    dict
        A new descriptor.
    """
    out = copy.deepcopy(dict(schema))
    for f in out["fields"]:
        constraints = f.setdefault("constraints", {})
        if "enum" in f:
            # The enum is written beside "constraints": frictionless would ignore it.
            constraints.setdefault("enum", f.pop("enum"))
        if patterns and f["name"] in patterns and "pattern" not in constraints:
            constraints["pattern"] = patterns[f["name"]]
        if trusted_geojson and f.get("type") == "geojson":
            f["type"] = "object"
            f.pop("format", None)
    if foreign_keys:
        out["foreignKeys"] = [*out.get("foreignKeys", []), *map(dict, foreign_keys)]
    return out


def numeric_or_text(values: pd.Series, *, integer: bool = False) -> pd.Series:
    """Return numbers when every non-empty value is one, else the values as text.

    Text is kept when a value does not parse so that the validator reports it (a silent
    NaN would hide the error).

    Parameters
    ----------
    values : Series
        Column as read (text or numbers).
    integer : bool
        Return nullable ``Int64`` (for ``integer`` fields) when every number is whole.

    Returns
    -------
    Series
        ``float64`` (or ``Int64``) numbers, or ``object`` text with None for empty cells.
    """
    converted = pd.to_numeric(values, errors="coerce")
    present = values.notna() & (values.astype(str).str.strip() != "")
    if (converted.notna() | ~present).all():
        numbers = converted.astype("float64")
        if integer and bool((numbers.dropna() % 1 == 0).all()):
            return numbers.astype("Int64")
        return numbers
    return values.astype(object).where(present, None)


def _cell(value: Any) -> str:
    """One cell as the text of a CSV file (what the Table Schema describes)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        # Integral numbers are written without ".0" so that "integer" fields parse.
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)


def dataframe_to_cells(df: pd.DataFrame, fields: Sequence[str]) -> list[list[str]]:
    """Return ``[header, *rows]`` of text cells for ``fields`` of ``df``.

    A field absent from ``df`` gives empty cells, so that a required field missing from the
    whole table is reported on each row.

    Parameters
    ----------
    df : DataFrame
        Table with columns named as the schema fields.
    fields : sequence of str
        Schema field names, in schema order.
    """
    columns = []
    for name in fields:
        if name in df.columns:
            columns.append([_cell(v) for v in df[name].tolist()])
        else:
            columns.append([""] * len(df))
    return [list(fields), *(list(r) for r in zip(*columns, strict=True))] if fields else [[]]


@dataclass(frozen=True)
class ValidationReport:
    """Every failing row and field of one or several tables checked against a schema.

    Attributes
    ----------
    errors : DataFrame
        One line per failing cell or row: ``table``, ``row`` (1-based position of the row in
        its table, header excluded; 0 for a table-level error), ``id`` (primary key of the
        row when known), ``field``, ``type`` (frictionless error type: ``constraint-error``,
        ``type-error``, ``primary-key``, ``foreign-key`` …), ``constraint`` (``required``,
        ``enum``, ``pattern`` … for constraint errors) and ``message``.
    n_rows : dict
        Number of rows checked per table.
    """

    errors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ERROR_COLUMNS))
    n_rows: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """True when no error was found."""
        return self.errors.empty

    def __bool__(self) -> bool:
        return self.valid

    def __add__(self, other: ValidationReport) -> ValidationReport:
        frames = [e for e in (self.errors, other.errors) if not e.empty]
        errors = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ERROR_COLUMNS)
        )
        return ValidationReport(errors=errors, n_rows={**self.n_rows, **other.n_rows})

    def summary(self, max_lines: int = 20) -> str:
        """Text report: one line per table, then the first ``max_lines`` errors."""
        lines = []
        for table, n in self.n_rows.items():
            errs = self.errors[self.errors["table"] == table]
            status = "valid" if errs.empty else f"{len(errs)} error(s)"
            lines.append(f"{table}: {n} row(s), {status}")
        for rec in self.errors.head(max_lines).to_dict("records"):
            where = f"row {rec['row']}" + (f" (id {rec['id']})" if rec["id"] else "")
            kind = str(rec["type"]) + (f"/{rec['constraint']}" if rec["constraint"] else "")
            lines.append(
                f"  {rec['table']} {where}, field {rec['field']}: {kind}: {rec['message']}"
            )
        if len(self.errors) > max_lines:
            lines.append(f"  … and {len(self.errors) - max_lines} more error(s)")
        return "\n".join(lines)

    def raise_if_invalid(self, max_lines: int = 10) -> None:
        """Raise :class:`SchemaError` with the first lines of the report when invalid."""
        if not self.valid:
            raise SchemaError(
                f"{len(self.errors)} error(s) against the CNIG schema:\n"
                f"{self.summary(max_lines)}\n"
                "Fix these values (see report.errors for the full list) or load with "
                "validate=False."
            )


def _frictionless() -> Any:
    try:
        import frictionless
    except ImportError as exc:  # pragma: no cover - frictionless is a dependency
        raise MissingDependencyError(
            "validating CNIG tables needs the 'frictionless' package: pip install frictionless"
        ) from exc
    return frictionless


def validate_table(
    df: pd.DataFrame,
    schema: Mapping[str, Any],
    *,
    table: str = "table",
    patterns: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Check a table against a Table Schema with ``frictionless``; report every error.

    Parameters
    ----------
    df : DataFrame or GeoDataFrame
        Table with columns named as the schema fields (other columns are ignored; the
        geometry column is not read: pass geometry fields as columns of GeoJSON dicts/text).
    schema : mapping
        Table Schema descriptor (a published one is adjusted by :func:`prepare_schema`).
    table : str
        Name of the table in the report.
    patterns : mapping of str to str, optional
        Extra pattern constraints by field name (e.g. ``ID_PATTERNS["site-eco"]``).

    Returns
    -------
    ValidationReport
        Every failing row and field (``report.valid`` is True when there is none).
    """
    return validate_package({table: (df, prepare_schema(schema, patterns=patterns))})


def validate_package(
    tables: Mapping[str, tuple[pd.DataFrame, Mapping[str, Any]]],
    *,
    list_foreign_keys: Iterable[tuple[str, str, str, str, str]] = (),
) -> ValidationReport:
    """Check related tables together with ``frictionless`` (foreign keys across tables).

    Parameters
    ----------
    tables : mapping of str to (DataFrame, schema)
        Tables by name with their prepared schema (see :func:`prepare_schema`); a foreign
        key's ``reference.resource`` names another table of the mapping.
    list_foreign_keys : iterable of (table, field, separator, parent table, parent field)
        Foreign keys whose cells hold several identifiers joined by ``separator`` (as
        ``etablissement.terr_id``), which Table Schema cannot express; checked here with
        pandas and reported with type ``foreign-key``.

    Returns
    -------
    ValidationReport
    """
    fl = _frictionless()
    resources = []
    ids: dict[str, list[str]] = {}
    for name, (df, schema) in tables.items():
        fields = schema_field_names(schema)
        cells = dataframe_to_cells(df, fields)
        pk = schema.get("primaryKey")
        pk_field = pk if isinstance(pk, str) else (pk[0] if pk else None)
        ids[name] = (
            [_cell(v) for v in df[pk_field].tolist()]
            if pk_field and pk_field in df.columns
            else [""] * len(df)
        )
        resources.append(fl.Resource(name=name, data=cells, schema=_frictionless_schema(schema)))
    package = fl.Package(resources=resources)
    report = package.validate(limit_errors=10**9)
    records: list[dict[str, Any]] = []
    for task, (name, (_df, schema)) in zip(report.tasks, tables.items(), strict=True):
        fk_fields = {
            i: ", ".join(_as_list(fk["fields"]))
            for i, fk in enumerate(schema.get("foreignKeys", []))
        }
        for err in task.errors:
            records.append(_error_record(name, err, ids[name], fk_fields))
    for child, child_field, sep, parent, parent_field in list_foreign_keys:
        if child in tables and parent in tables:
            records.extend(
                _list_fk_errors(
                    tables[child][0],
                    child,
                    child_field,
                    sep,
                    tables[parent][0],
                    parent,
                    parent_field,
                    ids[child],
                )
            )
    errors = pd.DataFrame.from_records(records, columns=ERROR_COLUMNS)
    # Tables in the order given (parents first), rows in file order.
    order = {name: i for i, name in enumerate(tables)}
    errors = errors.sort_values(
        ["table", "row"],
        key=lambda s: s.map(order) if s.name == "table" else s,
        kind="stable",
        ignore_index=True,
    )
    return ValidationReport(errors=errors, n_rows={n: len(t[0]) for n, t in tables.items()})


def _frictionless_schema(schema: Mapping[str, Any]) -> Any:
    # Building a frictionless Schema validates its descriptor, which costs more than checking
    # a few hundred rows: build each distinct schema once.
    return _schema_from_json(json.dumps(schema, sort_keys=True, ensure_ascii=False))


@lru_cache(maxsize=64)
def _schema_from_json(text: str) -> Any:
    return _frictionless().Schema.from_descriptor(json.loads(text))


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _error_record(
    table: str, err: Any, ids: list[str], fk_fields: Mapping[int, str]
) -> dict[str, Any]:
    row_number = getattr(err, "row_number", None)
    row = int(row_number) - 1 if row_number else 0  # frictionless counts the header row
    field_name = getattr(err, "field_name", None)
    note = getattr(err, "note", "") or ""
    constraint = ""
    if err.type == "constraint-error":
        m = _CONSTRAINT_NOTE.search(note)
        constraint = m.group(1) if m else ""
    elif err.type == "foreign-key":
        field_name = field_name or _fk_field_from_note(note) or ", ".join(fk_fields.values())
    return {
        "table": table,
        "row": row,
        "id": ids[row - 1] if 0 < row <= len(ids) else "",
        "field": field_name or "",
        "type": err.type,
        "constraint": constraint,
        "message": err.message,
    }


def _fk_field_from_note(note: str) -> str | None:
    m = re.search(r'for "([^"]+)"', note)
    return m.group(1) if m else None


def _list_fk_errors(
    child_df: pd.DataFrame,
    child: str,
    child_field: str,
    sep: str,
    parent_df: pd.DataFrame,
    parent: str,
    parent_field: str,
    ids: list[str],
) -> list[dict[str, Any]]:
    if child_field not in child_df.columns or parent_field not in parent_df.columns:
        return []
    known = set(parent_df[parent_field].dropna().astype(str))
    values = child_df[child_field].reset_index(drop=True)
    exploded = values.dropna().astype(str).str.split(re.escape(sep), regex=True).explode()
    exploded = exploded.str.strip()
    bad = exploded[(exploded != "") & ~exploded.isin(known)]
    out = []
    for key, missing in bad.groupby(level=0):
        pos = int(str(key))
        out.append(
            {
                "table": child,
                "row": pos + 1,
                "id": ids[pos] if pos < len(ids) else "",
                "field": child_field,
                "type": "foreign-key",
                "constraint": "",
                "message": (
                    f'Row at position "{pos + 2}" violates the foreign key: values '
                    f"{sorted(missing.tolist())} of {child_field!r} not found in "
                    f"{parent}.{parent_field}"
                ),
            }
        )
    return out

"""Writing files so that nothing is ever half-written."""

from __future__ import annotations

import errno
import os
import re
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from layers.errors import OutputError

__all__ = ["atomic_path", "csv_safe_text", "write_bytes_atomic"]

# SQLite (GeoPackage) may leave these next to a file it was writing.
_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


#: errno values of a full disk or an exhausted quota.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` when all went well.

    The temporary file lives in the same folder, so that the final ``os.replace`` is an
    atomic rename: readers see the old file or the new one, never a partial one. On any error
    the temporary file (and SQLite side files) is removed and ``path`` is left untouched.
    The suffix is kept so that drivers chosen by extension (GDAL) recognise the file.

    Parameters
    ----------
    path : path-like
        Final file.

    Raises
    ------
    OutputError
        ``path`` exists and is not a regular file (a folder, a device, a pipe …).
    """
    final = Path(path)
    try:
        mode = final.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        # a rename over a folder fails late, over a device or a pipe it replaces it silently
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe …)"
        raise OutputError(f"{final} is {kind}: it is not replaced; choose a file name.")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:12]}.tmp{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise OutputError(
                f"{final}: the disk is full (or the quota reached); nothing was written and "
                "the previous file, if any, is intact. Free some space or write elsewhere."
            ) from exc
        raise
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in _SIDE_SUFFIXES)):
            leftover.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")


def csv_safe_text(value: Any) -> Any:
    """Neutralise a CSV cell that a spreadsheet would run as a formula (OWASP rule).

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    single quote, so that Excel, LibreOffice or Google Sheets show it as text instead of
    running it (``=HYPERLINK(…)``, ``@SUM(…)``, ``-2+3``). Numbers, and text that is only a
    number (``"-12,5"``), are returned unchanged; so is every other value.

    Parameters
    ----------
    value : Any
        One cell.

    Returns
    -------
    Any
        ``"'" + value`` for dangerous text, else ``value``.

    Examples
    --------
    >>> csv_safe_text("=SUM(A1:A9)")
    "'=SUM(A1:A9)"
    >>> csv_safe_text("-12,5"), csv_safe_text(-3), csv_safe_text("Compiègne")
    ('-12,5', -3, 'Compiègne')
    """
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value

"""Writing files so that nothing is ever half-written."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "write_bytes_atomic"]

# SQLite (GeoPackage) may leave these next to a file it was writing.
_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


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
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:12]}.tmp{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in _SIDE_SUFFIXES)):
            leftover.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)

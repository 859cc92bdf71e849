"""Small validators of arguments and output paths, called at the door of public functions.

Each validator returns the cleaned value or raises :class:`~layers.errors.ArgumentError`
(:class:`~layers.errors.OutputError` for paths) with a message that names the argument, what
was given and what is expected, so that a bad value is refused before any work instead of
failing deep in numpy or shapely, or being silently accepted (``n=-10`` draws, ``nan`` m²).

They are deliberately plain functions of ``(value, name)`` so that any module (profiles,
sites, scoring, exports, the command line) can call them.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Collection
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from layers.errors import ArgumentError, OutputError

__all__ = [
    "check_choice",
    "check_int",
    "check_number",
    "check_output_path",
    "check_text",
]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
    unit: str = "",
) -> float:
    """A finite real number within bounds.

    Parameters
    ----------
    value : Any
        The value given (``bool`` and text are refused: ``"500"`` is not a number of metres).
    name : str
        Argument name, used in the message.
    minimum, maximum : float, optional
        Inclusive bounds (``minimum`` is exclusive when ``strict``).
    strict : bool
        Refuse ``value == minimum`` (for "positive" quantities).
    unit : str
        Unit named in the message (``"metres"``, ``"m²"`` …).

    Returns
    -------
    float

    Raises
    ------
    ArgumentError
        Not a real number, not finite (nan, ±inf) or out of bounds.
    """
    what = f" of {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ArgumentError(
            f"{name} must be a number{what}, got {_shown(value)} ({type(value).__name__})."
        )
    x = float(value)
    if not math.isfinite(x):
        raise ArgumentError(f"{name} must be a finite number{what}, got {x}.")
    if minimum is not None and (x < minimum or (strict and x == minimum)):
        sign = ">" if strict else ">="
        raise ArgumentError(
            f"{name} must be {sign} {minimum:g}{' ' + unit if unit else ''}, got {x:g}."
        )
    if maximum is not None and x > maximum:
        raise ArgumentError(
            f"{name} must be <= {maximum:g}{' ' + unit if unit else ''}, got {x:g}."
        )
    return x


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """A whole number within bounds (``bool``, floats and text are refused).

    Parameters
    ----------
    value : Any
        The value given.
    name : str
        Argument name, used in the message.
    minimum, maximum : int, optional
        Inclusive bounds.

    Returns
    -------
    int

    Raises
    ------
    ArgumentError
        Not an integer, or out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ArgumentError(
            f"{name} must be a whole number, got {_shown(value)} ({type(value).__name__})."
        )
    n = int(value)
    if minimum is not None and n < minimum:
        raise ArgumentError(f"{name} must be >= {minimum}, got {n}.")
    if maximum is not None and n > maximum:
        raise ArgumentError(f"{name} must be <= {maximum}, got {n}.")
    return n


def check_choice(value: Any, name: str, choices: Collection[str]) -> str:
    """One of a few words.

    Raises
    ------
    ArgumentError
        ``value`` is not one of ``choices`` (the message lists them).
    """
    if not isinstance(value, str) or value not in choices:
        raise ArgumentError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {_shown(value)}."
        )
    return value


def check_text(value: Any, name: str, *, max_length: int = 4096) -> str:
    """A non-empty piece of text of reasonable length.

    Raises
    ------
    ArgumentError
        Not a string, empty (or only spaces), or longer than ``max_length`` characters.
    """
    if not isinstance(value, str):
        raise ArgumentError(f"{name} must be text, got {_shown(value)} ({type(value).__name__}).")
    if not value.strip():
        raise ArgumentError(f"{name} is empty.")
    if len(value) > max_length:
        raise ArgumentError(
            f"{name} is {len(value):,} characters long (at most {max_length:,}): {value[:40]!r}..."
        )
    return value


def check_output_path(
    path: Any,
    name: str = "output",
    *,
    suffixes: Collection[str] | None = None,
    folder: bool = False,
) -> Path:
    """Check that an output path can be written, before any work is done.

    The path must be non-empty, end with one of ``suffixes`` (a file), and either not exist
    or be a regular file (never a directory, device, pipe or socket, which a write-and-rename
    would replace); its folder must exist and be writable. With ``folder=True`` the path is
    a folder of outputs: it may exist (as a directory) or not, and its parent must then be
    writable.

    Parameters
    ----------
    path : str or path-like
        The output asked for.
    name : str
        Option or argument name, used in the message (``"--output"``).
    suffixes : collection of str, optional
        Accepted suffixes, lower case with the dot (``{".html"}``).
    folder : bool
        The output is a folder rather than a file.

    Returns
    -------
    Path

    Raises
    ------
    ArgumentError
        Empty path, or a suffix that is not accepted.
    OutputError
        The path is a directory (or, for a folder, a file), a device or another non-regular
        file, or its folder is missing or not writable.
    """
    if not isinstance(path, str | os.PathLike) or str(path).strip() in ("", "."):
        raise ArgumentError(f"{name}: give a file name (the name given is empty).")
    p = Path(path)
    if folder:
        if p.exists() and not p.is_dir():
            raise OutputError(f"{name} {str(p)!r} exists and is not a folder.")
        target = p if p.is_dir() else p.parent
        _check_folder(target if str(target) else Path("."), name, p)
        return p
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise ArgumentError(
            f"{name} {str(p)!r}: unknown suffix {p.suffix or '(none)'!r}; use "
            f"{', '.join(sorted(suffixes))}."
        )
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError as exc:
        raise OutputError(f"{name} {str(p)!r}: {str(p.parent)!r} is a file, not a folder.") from exc
    except OSError as exc:
        raise OutputError(f"{name} {str(p)!r} cannot be used: {exc.strerror or exc}.") from exc
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise OutputError(f"{name} {str(p)!r} is a folder; give a file name inside it.")
        if not stat.S_ISREG(mode):
            raise OutputError(
                f"{name} {str(p)!r} is not a regular file (a device, pipe or socket); "
                "it is not replaced: choose a file name."
            )
        if not os.access(p, os.W_OK):
            raise OutputError(f"{name} {str(p)!r} exists and is read-only.")
    _check_folder(p.parent, name, p)
    return p


def _check_folder(parent: Path, name: str, p: Path) -> None:
    if not parent.is_dir():
        raise OutputError(
            f"{name} {str(p)!r}: the folder {str(parent)!r} does not exist; create it first."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{name} {str(p)!r}: the folder {str(parent)!r} is not writable.")

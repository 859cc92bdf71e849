"""Names of a package imported on first use (PEP 562), so that importing it stays light."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    package: str, table: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` that import ``table``'s names on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    table : mapping
        Public name → module that defines it. A name once imported is stored in the
        package's namespace, so later look-ups cost nothing.

    Returns
    -------
    tuple of callables
        ``(__getattr__, __dir__)`` to assign at the package's top level.
    """

    def module_getattr(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def module_dir() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return module_getattr, module_dir

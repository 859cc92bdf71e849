"""foncier: find and rank land for industrial projects in France."""

from layers import _logging  # noqa: F401

__version__ = "0.1.0"

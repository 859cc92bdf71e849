"""The error hierarchy of foncier.

Every error raised on purpose by ``layers``, ``maps`` or ``foncier`` derives from
:class:`FoncierError`, and each subclass also inherits the matching built-in exception so
that ``except ValueError`` or ``except LookupError`` keep working for callers that do not
know about foncier.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ArgumentError",
    "BadAnswerError",
    "CRSError",
    "DataSourceError",
    "FoncierError",
    "GeometryError",
    "MissingDependencyError",
    "OfflineError",
    "OutputError",
    "ProfileError",
    "RankingError",
    "RequestRefusedError",
    "SchemaError",
    "ServiceUnavailableError",
    "SettingsError",
    "TerritoryError",
    "UnknownSettingError",
    "UnknownSiteError",
    "UnknownTerritoryError",
]


class FoncierError(Exception):
    """Root of every error raised on purpose by foncier."""


class ArgumentError(FoncierError, ValueError):
    """A function argument or command-line option of the wrong type, range or value.

    Raised at the door, before any work: a cell size that is not a positive finite number
    of metres, a negative number of draws, a shape that is not one of the choices, a site
    id that is not in the scored sites …
    """


class UnknownSiteError(FoncierError, KeyError):
    """A site id that is not in the sites' index."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class OutputError(FoncierError, OSError):
    """An output path that cannot be written.

    A missing or read-only folder, a directory, a device or another file that is not a
    regular file. Checked before any work, so that a long computation never ends on an
    unwritable path.
    """


class UnknownTerritoryError(FoncierError, LookupError):
    """A territory id, SIREN, INSEE code or name that matches nothing.

    Parameters
    ----------
    message : str
        What was not found.
    suggestions : sequence of str, optional
        Close matches, shown in the message and kept in ``self.suggestions``.
    """

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        self.suggestions = list(suggestions)
        if self.suggestions:
            message = f"{message}\nDid you mean:\n  " + "\n  ".join(self.suggestions)
        super().__init__(message)


class TerritoryError(FoncierError, ValueError):
    """A territory specification that is ambiguous or inconsistent (e.g. mixed kinds of codes)."""


class DataSourceError(FoncierError, OSError):
    """A data source (file or web service) could not deliver usable data."""


class OfflineError(DataSourceError):
    """Offline mode is on and the requested data is not in the local cache."""


class SchemaError(FoncierError, ValueError):
    """Data does not follow the expected schema (columns, types, enums, identifiers)."""


class CRSError(FoncierError, ValueError):
    """A GeoDataFrame has no CRS, or a CRS that cannot be used for the computation."""


class GeometryError(FoncierError, ValueError):
    """Geometries are empty, invalid beyond repair, or of an unexpected type."""


class ProfileError(FoncierError, ValueError):
    """A project profile (criteria, transforms, weights) is invalid."""


class SettingsError(FoncierError, ValueError):
    """A value given to a setting has the wrong type or is out of range."""


class UnknownSettingError(SettingsError, AttributeError):
    """An assignment to a name that is not a setting (a typo such as ``settings.ofline``)."""


class RankingError(FoncierError, ValueError):
    """A result would crown sites that the ranking does not tell apart (nothing discriminates)."""


class MissingDependencyError(FoncierError, ImportError):
    """An optional program or package needed for this call is not installed."""


class BadAnswerError(DataSourceError, SchemaError):
    """A web service answered with a document of the wrong shape.

    Both a data-source error (the command exits with the data-source code) and a schema
    error (``except SchemaError`` keeps catching it, as it did before answers were checked).

    An error page or an object of another schema served with ``200 OK``, features of another
    geometry type than asked, coordinates out of range or in another CRS than asked. The
    answer is never cached, and a cached copy of that shape is deleted, so a later run
    downloads it again.

    Attributes
    ----------
    problem : str
        What is wrong with the answer, without the source and the request (set by
        :mod:`layers.http`; the whole message otherwise).
    """

    problem: str = ""


class ServiceUnavailableError(DataSourceError):
    """A web service failed every attempt: no answer in time, connection lost, 429 or 5xx.

    The service is down or overloaded, unlike a refused request (:class:`RequestRefusedError`)
    or an answer of the wrong shape (:class:`BadAnswerError`): a run stops asking it for its
    other layers.

    Attributes
    ----------
    problem : str
        What went wrong at the last attempt (``"HTTP 503 Service Unavailable"``, ``"no
        answer within 30 s (settings.timeout_s)"`` …), set by :mod:`layers.http`.
    status : int or None
        HTTP status of the last attempt (429 or 5xx), None when it got no answer (timeout,
        connection refused or cut, host name not resolved). Set by :mod:`layers.http`.
    """

    problem: str = ""
    status: int | None = None


class RequestRefusedError(DataSourceError):
    """A web service answered with an error status that asking again would not change (4xx).

    The request itself is at fault (a wrong parameter, an unknown path or type name, no
    access), not the service: unlike :class:`ServiceUnavailableError`, it is not retried and
    the service is still asked for the other layers of a run.

    Attributes
    ----------
    status : int or None
        The HTTP status code of the answer (``400``, ``404`` …), set by :mod:`layers.http`.
    """

    status: int | None = None

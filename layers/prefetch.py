"""Fill the HTTP cache for a territory, so later runs work offline (``foncier fetch``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence, Sized
from typing import TYPE_CHECKING, Any

from layers.config import settings
from layers.errors import OfflineError, SchemaError

if TYPE_CHECKING:
    from layers.territories import Territory

__all__ = ["prefetch"]

log = logging.getLogger(__name__)

Loader = Callable[["Territory"], Any]
Progress = Callable[[str, int, int], None]


def prefetch(
    territory: Territory,
    *,
    layers: Sequence[tuple[str, Loader]],
    progress: Progress | None = None,
) -> dict[str, int | Exception]:
    """Run each online loader once for a territory so that its answers land in the cache.

    A failing layer is recorded and the others still run: one service down does not stop
    the whole download. Afterwards ``settings.offline = True`` serves these layers from the
    cache (``settings.cache_folder``).

    Parameters
    ----------
    territory : Territory
        Area to download data for.
    layers : sequence of (str, callable)
        ``(name, loader)`` pairs; each loader is called as ``loader(territory)`` and its
        result (usually a GeoDataFrame) is counted, then dropped.
    progress : callable, optional
        Called as ``progress(name, done, total)`` after each layer, with ``done`` the number
        of layers finished so far (for a progress bar).

    Returns
    -------
    dict
        For each layer name, the number of features (rows) loaded, or the exception that
        stopped it.

    Raises
    ------
    OfflineError
        ``settings.offline`` is on: pre-fetching needs the network.
    SchemaError
        Two layers have the same name.
    """
    if settings.offline:
        raise OfflineError(
            "Pre-fetching downloads data and cannot run in offline mode: set "
            "settings.offline = False (or FONCIER_OFFLINE=0) and run it again."
        )
    names = [name for name, _ in layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaError(f"prefetch layer names must be unique; repeated: {duplicates}.")
    results: dict[str, int | Exception] = {}
    total = len(layers)
    for done, (name, loader) in enumerate(layers, start=1):
        start = time.monotonic()
        try:
            data = loader(territory)
        except Exception as exc:
            # Any failure of one layer (service down, bad data, a bug in a loader) is
            # reported for that layer only: the others must still be downloaded.
            log.warning("Pre-fetch of %s for %s failed: %s", name, territory.id, exc)
            results[name] = exc
        else:
            results[name] = len(data) if isinstance(data, Sized) else int(data is not None)
            log.info(
                "Pre-fetched %s for %s: %d feature(s) in %.1f s",
                name,
                territory.id,
                results[name],
                time.monotonic() - start,
            )
        if progress is not None:
            progress(name, done, total)
    failed = [n for n, r in results.items() if isinstance(r, Exception)]
    if failed:
        log.warning("Pre-fetch for %s: %d layer(s) failed: %s", territory.id, len(failed), failed)
    return results

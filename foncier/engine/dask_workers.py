"""Set-up of the ``dask.distributed`` workers started by ``local_cluster``.

Kept apart from :mod:`foncier.engine.distributed` because it imports ``distributed`` (an
optional dependency) at module level: a worker plugin must be a class defined at the top
of an importable module so that each worker rebuilds it by name.
"""

from __future__ import annotations

import logging
from typing import Any

from distributed import WorkerPlugin

__all__ = ["MeasureThreads"]

log = logging.getLogger(__name__)


class MeasureThreads(WorkerPlugin):
    """Give the measures of each worker a fixed number of threads (``settings.threads``).

    The ``FONCIER_THREADS`` variable of a worker's environment is not enough: dask's nanny
    sets it only after the new process has imported the caller's main module, so a script
    that imports foncier at its top (as the benchmarks do) leaves every worker with the
    default, one thread per core, and the workers then compete for the cores. This plugin
    sets the value in each worker once it runs, and again in any worker restarted later.

    Parameters
    ----------
    threads : int
        Threads (>= 1) of the measures inside each worker.
    """

    name = "foncier-measure-threads"

    def __init__(self, threads: int) -> None:
        self.threads = int(threads)

    def setup(self, worker: Any) -> None:
        """Set ``settings.threads`` in the worker's process."""
        from layers.config import settings

        settings.threads = self.threads
        log.debug("worker %s: measures on %d thread(s)", worker.address, self.threads)

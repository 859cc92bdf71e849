"""``python -m foncier`` and the ``foncier`` console script.

This module imports nothing heavy before it can answer an interruption: Ctrl-C while the
command-line libraries load ends quietly with exit code 130, as it does during a command.

A command allocates a few hundred thousand long-lived objects while its libraries load
(pandas, geopandas, folium, pyproj …); with Python's default thresholds the cyclic garbage
collector goes over them again and again, about a tenth of the CPU time of ``foncier map``.
The command raises the thresholds, as mypy does: collections still happen, less often.
"""

from __future__ import annotations

import gc
import sys

#: Exit code of an interrupted run (128 + SIGINT), as documented in the README.
EXIT_INTERRUPTED = 130

#: Garbage collector thresholds of the command (Python's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 20)


def main() -> None:
    """Run the ``foncier`` command line (see ``foncier --help``)."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        from foncier.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("Interrompu.\n")
        sys.exit(EXIT_INTERRUPTED)
    cli_main()


if __name__ == "__main__":
    main()

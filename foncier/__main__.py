"""``python -m foncier`` and the ``foncier`` console script.

This module imports nothing heavy before it can answer an interruption: Ctrl-C while the
command-line libraries load ends quietly with exit code 130, as it does during a command.

A command allocates a few hundred thousand long-lived objects while its libraries load
(pandas, geopandas, folium, pyproj …) and builds its map; with Python's default thresholds
the cyclic garbage collector goes over them again and again, about a tenth of the CPU time
of ``foncier map``. Each collection of the youngest generation goes over every object
allocated since the last one, and nearly all of them survive: at a threshold of 50,000 a map
of a reference territory still paid 4 collections, 50–80 ms of CPU, to free about a thousand
objects. The command starts collecting after 500,000 new objects: a map of that size runs
without a collection, a larger command (a whole département, a national ranking) still
collects, every 500,000 objects.

When the command is done, every object is moved out of the collector's reach
(``gc.freeze``): the interpreter's shutdown otherwise goes over all of them again, and took
0.25–0.4 s of a map's 1.5–2 s. Nothing relies on those passes: the files are written and
closed, the temporary ones removed by their own exit handlers.
"""

from __future__ import annotations

import gc
import sys

#: Exit code of an interrupted run (128 + SIGINT), as documented in the README.
EXIT_INTERRUPTED = 130

#: Garbage collector thresholds of the command (Python's defaults: 700, 10, 10).
GC_THRESHOLDS = (500_000, 20, 20)


def main() -> None:
    """Run the ``foncier`` command line (see ``foncier --help``)."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        from foncier.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("Interrompu.\n")
        sys.exit(EXIT_INTERRUPTED)
    try:
        cli_main()
    finally:
        # The objects are about to be freed with the process: spare the collector the
        # passes over them while the interpreter shuts down.
        gc.freeze()


if __name__ == "__main__":
    main()

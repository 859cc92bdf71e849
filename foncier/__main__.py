"""``python -m foncier`` and the ``foncier`` console script.

This module imports nothing heavy before it can answer an interruption: Ctrl-C while the
command-line libraries load ends quietly with exit code 130, as it does during a command.
"""

from __future__ import annotations

import sys

#: Exit code of an interrupted run (128 + SIGINT), as documented in the README.
EXIT_INTERRUPTED = 130


def main() -> None:
    """Run the ``foncier`` command line (see ``foncier --help``)."""
    try:
        from foncier.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("Interrompu.\n")
        sys.exit(EXIT_INTERRUPTED)
    cli_main()


if __name__ == "__main__":
    main()

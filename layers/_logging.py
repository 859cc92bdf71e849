"""Library logging: a NullHandler on the package loggers, never prints."""

import logging

for _name in ("layers", "maps", "foncier"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

"""The ``specdiag`` command line: thin commands over the library, one module per command group.

Conventions for every command (see :mod:`specdiag.cli.output`): human tables on stdout by default;
``--format json`` prints exactly one JSON document on stdout; progress and messages go to stderr,
progress only on a terminal; bad input is one line on stderr and exit code 2, with no partial files.
"""

# isort: off  (import order is the order of commands in --help)
from . import radius, theory, dynamics, check, reproduce, sweep  # noqa: F401 (registers the commands)
from .app import app, main

# isort: on

__all__ = ["app", "main"]

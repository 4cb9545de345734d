"""The ``specdiag`` command line: thin commands over the library, one module per command group.

Conventions for every command (see :mod:`specdiag.cli.output`): human tables on stdout by default;
``--format json`` prints exactly one JSON document on stdout; progress and messages go to stderr,
progress only on a terminal; bad input is one line on stderr and exit code 2, with no partial files.

Start-up stays light: ``app`` (with every command registered) loads on first use (PEP 562), the
command modules import SciPy, matplotlib and Dask only inside command bodies, and ``specdiag
--version`` answers before any command module is imported.
"""

from __future__ import annotations

import sys

__all__ = ["app", "main"]


def _registered_app():
    # isort: off  (import order is the order of commands in --help)
    from . import radius, theory, dynamics, check, reproduce, sweep  # noqa: F401, PLC0415 (registers the commands)
    from .root import app  # noqa: PLC0415

    # isort: on
    globals()["app"] = app
    return app


def __getattr__(name: str):
    if name == "app":
        return _registered_app()
    raise AttributeError(f"module 'specdiag.cli' has no attribute {name!r}")


def main():
    """Console entry point (see :func:`specdiag.cli.root.main`); ``--version`` alone is answered at once."""
    if sys.argv[1:] == ["--version"]:
        from .. import __version__  # noqa: PLC0415

        sys.stdout.write(f"specdiag {__version__}\n")
        sys.exit(0)
    _registered_app()
    from .root import main as run  # noqa: PLC0415

    return run()

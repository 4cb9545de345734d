"""The ``specdiag`` command line: thin commands over the library, one module per command group.

Conventions for every command (see :mod:`specdiag.cli.output`): human tables on stdout by default;
``--format json`` prints exactly one JSON document on stdout; progress and messages go to stderr,
progress only on a terminal; bad input is one line on stderr and exit code 2, with no partial files.

Start-up stays light: ``app`` (with every command registered) loads on first use (PEP 562), the
command modules import SciPy, matplotlib and Dask only inside command bodies, ``specdiag
--version`` answers before any command module is imported, and ``specdiag COMMAND ...`` imports
only the module that registers COMMAND (:data:`COMMAND_MODULES`); anything else (no arguments,
``--help``, an unknown command, an option before the command) registers every command.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["app", "main"]

# Every command -> the module of specdiag.cli that registers it, in --help order. A test checks that
# these are exactly the commands registered by the modules of specdiag.cli: add a new one here.
COMMAND_MODULES = {
    "radius": "radius",
    "inits": "theory",
    "theory": "theory",
    "fit-gumbel": "theory",
    "trajectory": "dynamics",
    "hidden": "dynamics",
    "check": "check",
    "fix": "fix",
    "reproduce": "reproduce",
    "sweep": "sweep",
    "demo": "demo",
}


def _app_in_help_order():
    """The root app, its commands in --help order (the order of :data:`COMMAND_MODULES`) whatever
    order their modules were first imported in (``main`` may have imported one before the rest)."""
    from .root import app  # noqa: PLC0415

    order = {name: i for i, name in enumerate(COMMAND_MODULES)}
    app.registered_commands.sort(key=lambda info: order.get(info.name, len(order)))  # stable
    return app


def _registered_app():
    # isort: off  (every command module; the order in --help is that of COMMAND_MODULES)
    from . import radius, theory, dynamics, check, fix, reproduce, sweep, demo  # noqa: F401, PLC0415 (registers the commands)

    # isort: on

    app = _app_in_help_order()
    globals()["app"] = app
    return app


def __getattr__(name: str):
    if name == "app":
        return _registered_app()
    raise AttributeError(f"module 'specdiag.cli' has no attribute {name!r}")


def main():
    """Console entry point (see :func:`specdiag.cli.root.main`); ``--version`` alone is answered at
    once, and a known command name first registers only that command's module."""
    args = sys.argv[1:]
    if args == ["--version"]:
        from .. import __version__  # noqa: PLC0415

        sys.stdout.write(f"specdiag {__version__}\n")
        sys.exit(0)
    module = COMMAND_MODULES.get(args[0]) if args else None
    if module is None:
        _registered_app()
    else:
        importlib.import_module(f"{__name__}.{module}")  # registers that module's commands
        _app_in_help_order()
    from .root import main as run  # noqa: PLC0415

    return run()

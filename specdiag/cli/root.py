"""The root Typer application, ``--version``, and the console entry point."""

from __future__ import annotations

import logging
import signal
import sys
from typing import Annotated

import typer
from .group import OneLineErrorGroup
from .output import Terminated, exit_with, flag_for, usage_error

__all__ = ["app", "main"]

app = typer.Typer(
    name="specdiag",
    help="Spectral diagnostics for recurrent weight matrices: the Glorot spectral edge, its Gumbel law, "
    "and the hidden-state explosion it causes. See `specdiag COMMAND --help`.",
    no_args_is_help=True,
    cls=OneLineErrorGroup,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool):
    if value:
        from .. import __version__  # noqa: PLC0415

        sys.stdout.write(f"specdiag {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    """Spectral diagnostics for recurrent weight matrices."""


class _FlagFormatter(logging.Formatter):
    """Log lines name CLI flags: a record with ``extra={"param": "workers"}`` reads ``--workers``."""

    def format(self, record):
        message = super().format(record)
        param = getattr(record, "param", None)
        if param:
            for prefix in ("", "note: "):
                if message.startswith(prefix + param + " "):
                    return prefix + flag_for(param) + message[len(prefix + param) :]
        return message


def _install_logging() -> None:
    """Warnings (a capped worker count, a long run, a recomputed stage) always reach stderr, one
    line each; progress notes (a long calibration) only on a terminal."""
    logger = logging.getLogger("specdiag")
    if any(getattr(h, "_specdiag_cli", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, "_specdiag_cli", True)  # noqa: B010 (marks the handler this module installed)
    handler.setFormatter(_FlagFormatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if sys.stderr.isatty() else logging.WARNING)
    logger.propagate = False


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated()


def main():
    """Console entry point: like ``app()``, but Click's usage errors become one line too.

    SIGTERM raises :class:`~specdiag.cli.output.Terminated` in the main thread, so temporary files
    are removed and pools shut down (their workers also die with this process: PR_SET_PDEATHSIG).
    """
    _install_logging()
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        sys.exit(_exit_code(exc))
    except Exception as exc:  # Click's UsageError/BadParameter (typer re-raises them here)
        cause = exc.__cause__
        if isinstance(cause, KeyboardInterrupt):  # Click's Abort around a Ctrl-C outside a command
            sys.exit(_exit_code(cause))
        if not hasattr(exc, "format_message") or not hasattr(exc, "exit_code"):
            raise
        sys.exit(usage_error(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _exit_code(exc: BaseException) -> int:
    """Print the one line for an interruption (:func:`~specdiag.cli.output.exit_with`); its code."""
    try:
        exit_with(exc)
    except typer.Exit as done:
        return done.exit_code
    return 1  # pragma: no cover (exit_with always exits)

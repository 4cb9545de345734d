"""The root Typer application, ``--version``, and the console entry point."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.text import Text

from .output import stderr

__all__ = ["app", "main"]

app = typer.Typer(
    name="specdiag",
    help="Spectral diagnostics for recurrent weight matrices: the Glorot spectral edge, its Gumbel law, "
    "and the hidden-state explosion it causes. See `specdiag COMMAND --help`.",
    no_args_is_help=True,
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
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False):
    """Spectral diagnostics for recurrent weight matrices."""


def main():
    """Console entry point: like ``app()``, but Click's usage errors become one line too."""
    if sys.stderr.isatty():  # log lines (a long calibration, a capped worker count) for humans only
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logging.getLogger("specdiag").addHandler(handler)
        logging.getLogger("specdiag").setLevel(logging.INFO)
    try:
        code = app(standalone_mode=False)
    except Exception as exc:  # Click's UsageError/BadParameter (typer re-raises them here)
        if not hasattr(exc, "format_message") or not hasattr(exc, "exit_code"):
            raise
        if not exc.format_message():  # no_args_is_help: the help text was the message
            sys.exit(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        stderr.print(Text(f"error: {exc.format_message()}{hint}"))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)

"""The one output layer of the CLI: tables, JSON and CSV on stdout; messages and progress on stderr.

Rules every command follows through this module:
- ``table`` (default) is a rich table for humans; ``json`` prints exactly one JSON document on
  stdout and nothing else there; ``csv`` (where a command offers it) prints CSV rows.
- Progress bars and notes go to stderr; progress only when stderr is a terminal.
- Every user-supplied string (tensor names, paths) is printed as plain text, never as Rich markup.
- An :class:`~specdiag._errors.InputError` becomes one line on stderr naming the flag, exit code 2
  (a :class:`~specdiag._errors.NothingToCheck`, nothing recurrent found, exit code 3);
  so do an OSError (path and errno) and a MemoryError. Ctrl-C is one line and exit 130, SIGTERM
  (:class:`Terminated`) one line and exit 143: never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import sys
from enum import Enum
from typing import Any, Callable, Iterable, Sequence

import typer
from rich.console import Console
from rich.text import Text

from .._errors import InputError, NothingToCheck
from .._report import fmt_value, json_document

__all__ = ["Terminated", "os_error_message", "stdout", "stderr", "Format", "TableOrJson", "emit", "note", "progress", "rich_table", "command", "flag_for"]

# wide tables stay readable when piped (rich would otherwise assume 80 columns)
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, highlight=False)
stderr = Console(stderr=True, soft_wrap=True, highlight=False)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM (see :func:`specdiag.cli.root.main`), so cleanup runs."""


def os_error_message(exc: OSError) -> str:
    """One line for an OSError: what failed, the path, the errno and its symbol."""
    code = errno.errorcode.get(exc.errno, "") if exc.errno else ""
    where = f" {str(exc.filename)!r}" if exc.filename is not None else ""
    detail = f"{exc.strerror or type(exc).__name__}" + (f" (errno {exc.errno}, {code})" if code else "")
    return f"cannot access{where}: {detail}" if where else detail


class Format(str, Enum):
    """Output formats of commands that print one table of rows (``radius``)."""

    table = "table"
    json = "json"
    csv = "csv"


class TableOrJson(str, Enum):
    """Output formats of every other command."""

    table = "table"
    json = "json"


def emit(doc: dict, fmt: str | Enum, *, table: Callable[[], Any] | None = None, csv: Callable[[], str] | None = None) -> None:
    """Print a command's result once, in the format asked for.

    ``doc`` is the JSON document; ``table`` builds the human rendering (called only for the table
    format); ``csv`` returns CSV text.
    """
    fmt = getattr(fmt, "value", fmt)
    if fmt == "json":
        try:
            text = json_document(doc)
        except ValueError as exc:  # a non-finite result: say what overflowed, never print NaN
            raise InputError(str(exc)) from None
        sys.stdout.write(text)
        sys.stdout.flush()
    elif fmt == "csv":
        sys.stdout.write(csv())
        sys.stdout.flush()
    elif table is not None:
        stdout.print(table())


def note(message: str) -> None:
    """A plain line on stderr (user strings inside are not markup)."""
    stderr.print(Text(message))


def rich_table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None):
    """A rich Table whose every cell, title and caption is plain text (no markup from data)."""
    from rich.table import Table  # noqa: PLC0415 (only the table format needs it)

    table = Table(title=Text(title), caption=Text(caption) if caption else None, title_justify="left", caption_justify="left")
    rows = [list(row) for row in rows]
    for i, name in enumerate(header):
        textual = i == 0 or all(isinstance(row[i], str) for row in rows)
        table.add_column(Text(name), justify="left" if textual else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*(Text(fmt_value(v)) for v in row))
    return table


@contextlib.contextmanager
def progress(total: int, description: str, enabled: bool = True):
    """A progress bar on stderr yielding ``advance(k)``; None when disabled or not a terminal.

    Refreshes without a background thread so worker processes can be forked safely.
    """
    if not enabled or total <= 1 or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=stderr, auto_refresh=False, transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(k: int = 1):
            bar.advance(task, k)
            bar.refresh()

        bar.refresh()
        yield advance


def flag_for(param: str) -> str:
    """The CLI flag of a library parameter: ``max_radius`` -> ``--max-radius``."""
    return "--" + param.replace("_", "-")


#: library parameters whose CLI flag is not the parameter's name
FLAG_ALIASES = {"from_file": "--from", "from_dir": "--from", "fmt": "--format", "init_name": "--init", "keys": "--key"}


def _cli_message(exc: InputError) -> str:
    """The library's message with the parameter named by its flag (``samples`` -> ``--samples``)."""
    message = str(exc)
    param = getattr(exc, "param", None)
    if param and message.startswith(param):
        message = FLAG_ALIASES.get(param, flag_for(param)) + message[len(param) :]
    return message


def command(app: typer.Typer, name: str | None = None, **kwargs):
    """Register a Typer command whose InputError becomes one line on stderr and exit code 2."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kw):
            try:
                return func(*args, **kw)
            except NothingToCheck as exc:  # exit 3: nothing recurrent found (the exit-code table)
                stderr.print(Text(f"nothing to check: {_cli_message(exc)}"))
                raise typer.Exit(3) from None
            except InputError as exc:
                stderr.print(Text(f"error: {_cli_message(exc)}"))
                raise typer.Exit(2) from None
            except OSError as exc:  # a read or write the library did not foresee: still one line
                stderr.print(Text(f"error: {os_error_message(exc)}"))
                raise typer.Exit(2) from None
            except MemoryError:
                stderr.print(Text("error: out of memory: use smaller sizes (the memory budget is SPECDIAG_MAX_MEMORY, default half the available memory)"))
                raise typer.Exit(2) from None
            except Terminated:
                stderr.print(Text("terminated (SIGTERM)"))
                raise typer.Exit(143) from None
            except KeyboardInterrupt:
                stderr.print(Text("interrupted"))
                raise typer.Exit(130) from None

        return app.command(name or func.__name__.replace("_", "-"), **kwargs)(wrapper)

    return decorate

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
import re
import sys
import warnings
from enum import Enum
from typing import Annotated, Any, Callable, Iterable, Iterator, NoReturn, Sequence

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand

from .._errors import InputError, NothingToCheck
from .._report import fmt_value, json_document
from .._text import printable

__all__ = [
    "EXIT_INCOMPLETE",
    "COMMON_EXIT_CODES",
    "exit_codes_help",
    "Terminated",
    "os_error_message",
    "stdout",
    "stderr",
    "Format",
    "TableOrJson",
    "FormatOpt",
    "TableJsonCsvOpt",
    "format_option",
    "emit",
    "note",
    "print_error",
    "exit_with",
    "usage_error",
    "progress",
    "StageProgress",
    "rich_table",
    "command",
    "flag_for",
]

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


_FORMAT_HELP = {"table": "table (human)", "json": "json (one document on stdout)", "csv": "csv (index,radius rows)"}


def format_option(formats: type[Enum]) -> Any:
    """The one ``--format``/``-f`` option, over the formats a command offers."""
    names = [_FORMAT_HELP[f.value] for f in formats]
    help_text = ", ".join(names[:-1]) + " or " + names[-1] + "."
    return Annotated[formats, typer.Option("--format", "-f", help=help_text[0].upper() + help_text[1:])]


#: ``--format table|json`` (every command but ``radius``)
FormatOpt = format_option(TableOrJson)
#: ``--format table|json|csv`` (``radius``)
TableJsonCsvOpt = format_option(Format)


def emit(
    doc: dict, fmt: str | Enum, *, table: Callable[[], Any] | None = None, csv: Callable[[], str] | None = None
) -> None:
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
    elif fmt == "csv" and csv is not None:
        sys.stdout.write(csv())
        sys.stdout.flush()
    elif table is not None:
        stdout.print(table())


def note(message: str) -> None:
    """A plain line on stderr (user strings inside are escaped, never markup)."""
    stderr.print(Text(printable(message)))


def print_error(message: str) -> None:
    """The one place an error reaches the user: ``error: <message>``, one line on stderr."""
    stderr.print(Text(f"error: {printable(message)}"))


def exit_with(exc: BaseException) -> NoReturn:
    """Print the one line for a failure that ended a command and exit with its code: bad input,
    a failed read or write, or memory 2; nothing recurrent to check 3; Ctrl-C 130; SIGTERM 143."""
    if isinstance(exc, Terminated):
        note("terminated (SIGTERM)")
        raise typer.Exit(143)
    if isinstance(exc, KeyboardInterrupt):
        note("interrupted")
        raise typer.Exit(130)
    if isinstance(exc, NothingToCheck):  # exit 3: nothing recurrent found (the exit-code table)
        note(f"nothing to check: {_cli_message(exc)}")
        raise typer.Exit(3)
    if isinstance(exc, InputError):
        print_error(_cli_message(exc))
    elif isinstance(exc, OSError):  # a read or write the library did not foresee: still one line
        print_error(os_error_message(exc))
    elif isinstance(exc, MemoryError):
        print_error(
            "out of memory: use smaller sizes (the memory budget is SPECDIAG_MAX_MEMORY, default half the available "
            "memory)"
        )
    else:
        raise exc
    raise typer.Exit(2)


def usage_error(exc: Exception) -> int:
    """Print Click's usage error (an unknown choice, a malformed number) as one line; its exit code."""
    message = exc.format_message()  # type: ignore[attr-defined]
    if message:  # empty for no_args_is_help: the help text was already printed
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        print_error(f"{message}{hint}")
    return int(exc.exit_code)  # type: ignore[attr-defined]


def rich_table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None):
    """A rich Table whose every cell, title and caption is plain, escaped text (no markup, no
    control characters from data)."""
    from rich.table import Table  # noqa: PLC0415 (only the table format needs it)

    caption_text = "\n".join(printable(line) for line in caption.split("\n")) if caption else None
    table = Table(
        title=Text(printable(title)),
        caption=Text(caption_text) if caption_text else None,
        title_justify="left",
        caption_justify="left",
    )
    rows = [list(row) for row in rows]
    for i, name in enumerate(header):
        textual = i == 0 or all(isinstance(row[i], str) for row in rows)
        table.add_column(Text(printable(name)), justify="left" if textual else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*(Text(printable(fmt_value(v))) for v in row))
    return table


class StageProgress:
    """The one progress bar: on stderr, only on a terminal, refreshed without a background thread
    (so worker processes can be forked safely), across one or several named stages.

    ``bar = StageProgress(enabled)(total)`` starts it (None when disabled); ``advance =
    bar.stage(name)`` names the current stage and returns ``advance(k)``; ``bar.close()`` ends it.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: Any = None

    def __call__(self, total: int) -> StageProgress | None:
        if not self.enabled or total < 1:
            return None
        from rich.progress import (  # noqa: PLC0415 (rich.progress: only on a terminal)
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self.bar = Progress(*columns, console=stderr, auto_refresh=False, transient=True)
        self.bar.start()
        self.task = self.bar.add_task("", total=total)
        return self

    def stage(self, name: str) -> Callable[[int], None]:
        self.bar.update(self.task, description=printable(name))
        self.bar.refresh()

        def advance(k: int = 1) -> None:
            self.bar.advance(self.task, k)
            self.bar.refresh()

        return advance

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@contextlib.contextmanager
def progress(total: int, description: str, enabled: bool = True) -> Iterator[Callable[[int], None] | None]:
    """One stage of :class:`StageProgress`: yields ``advance(k)``, or None when disabled, not a
    terminal, or ``total <= 1``."""
    bar = StageProgress(enabled)(total) if total > 1 else None
    if bar is None:
        yield None
        return
    try:
        yield bar.stage(description)
    finally:
        bar.close()


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


class _Command(TyperCommand):
    """A command whose ``--help`` shows plain metavars: ``PATH`` for a required argument (not
    ``{path}``), ``KEY`` for a repeatable option and ``<path>`` for a list type (not
    ``<list[str]>``)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for param in self.params:
            repeatable = getattr(param, "multiple", False)
            if (repeatable or param.param_type_name == "argument") and param.metavar is None and param.name:
                param.metavar = param.name.upper()
            shown = getattr(param, "display_type", None)
            if callable(shown):  # "<list[Path]>" -> "<path>"
                # Typer's parameters have display_type (checked above); click's Parameter does not
                param.display_type = lambda ctx, shown=shown: re.sub(  # type: ignore[attr-defined]
                    r"list\[([^\]]*)\]", lambda m: m.group(1).lower(), shown(ctx)
                )

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [re.sub(r"\{([^{}]*)\}", r"\1", p) for p in super().collect_usage_pieces(ctx)]


#: ``sweep``: some tasks failed (the others are saved); ``--resume`` finishes them. Not 1, which
#: means "a gate failed" to CI, and not 2 (the run itself was fine)
EXIT_INCOMPLETE = 4
#: the codes every command shares (``check`` has its gate table, ``specdiag._check_paths.EXIT_CODES``)
COMMON_EXIT_CODES = {
    0: "done",
    2: "bad input, or a read or write failed (one line on stderr, nothing partial)",
    130: "interrupted (Ctrl-C)",
    143: "terminated (SIGTERM)",
}


def exit_codes_help(codes: dict[int, str]) -> str:
    """A command's exit-code table for its ``--help`` epilog (``codes`` over the common ones)."""
    rows = sorted({**COMMON_EXIT_CODES, **codes}.items())
    return "\b\nExit codes:\n" + "\n".join(f"  {code:<3}  {meaning}" for code, meaning in rows)


def command(app: typer.Typer, name: str | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register a Typer command whose failures are one line on stderr (:func:`exit_with`) and whose
    RuntimeWarnings (overflow, subnormal arithmetic) never reach the terminal."""

    def decorate(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def wrapper(*args: Any, **kw: Any) -> Any:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    return func(*args, **kw)
            except (InputError, OSError, MemoryError, KeyboardInterrupt) as exc:
                exit_with(exc)

        kwargs.setdefault("cls", _Command)
        return app.command(name or func.__name__.replace("_", "-"), **kwargs)(wrapper)

    return decorate

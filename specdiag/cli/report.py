"""How ``check`` hands its report over: the format, where it goes, what the human sees, the exit code.

- ``--format`` (default ``$SPECDIAG_FORMAT``, else ``table``): ``table`` for humans, or one of the
  machine formats of :mod:`specdiag._reports` (``json``, ``jsonl``, ``sarif``, ``junit``,
  ``github``, ``gitlab``), printed whole on stdout.
- ``-o/--output FILE`` writes the report atomically instead, and the human tables go to stderr, so
  a CI step keeps both a file to upload and a readable log.
- stderr always gets one line per failing reason, per unreadable file and per file with nothing to
  check, and a summary line when the run had more than one source.
"""

from __future__ import annotations

import io
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from rich.console import Console

from .._check_paths import MultiCheckReport
from .._errors import InputError
from .._report import atomic_write_text
from .._reports import render
from .._text import printable
from .output import _cli_message, note, stdout

__all__ = ["CheckFormat", "deliver_report", "summary_line", "check_output"]

# the human tables when the report goes elsewhere: as wide as stdout's when piped (a CI log)
_tables_on_stderr = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160, highlight=False)


class CheckFormat(str, Enum):
    """``check --format``: the human table and every format of :data:`specdiag._reports.REPORT_FORMATS`."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    sarif = "sarif"
    junit = "junit"
    github = "github"
    gitlab = "gitlab"


def check_output(output: Path | None) -> None:
    """Refuse, before any work, an ``--output`` that is a directory (the write would fail at the end)."""
    if output is not None and output.is_dir():
        raise InputError(
            f"output {printable(output)!r} is a directory: give a file name, e.g. "
            f"{printable(output / 'specdiag.sarif')!r}",
            param="output",
        )


def summary_line(report: MultiCheckReport) -> str:
    """One line: files by status and tensors by verdict.

    Examples
    --------
    >>> from specdiag._check import Thresholds
    >>> summary_line(MultiCheckReport([], Thresholds(), "ok", 3, 0.0))
    'specdiag check: 0 files, 0 tensors: nothing recurrent found to check (exit 3)'
    """
    s = report.summary()
    tensors = ", ".join(f"{n} {v}" for v, n in sorted(s["tensor_verdicts"].items()))
    parts = [
        f"{s['files']} file{'s' * (s['files'] != 1)}",
        f"{s['tensors']} tensor{'s' * (s['tensors'] != 1)}" + (f" ({tensors})" if tensors else ""),
    ]
    extra = [f"{s[k]} {label}" for k, label in (("empty", "with nothing to check"), ("error", "unreadable")) if s[k]]
    meaning = {
        0: "all pass",
        1: "a gate failed",
        2: "incomplete: some files could not be checked",
        3: "nothing recurrent found to check",
    }
    return f"specdiag check: {', '.join(parts + extra)}: {meaning[report.exit_code]} (exit {report.exit_code})"


def _file_lines(report: MultiCheckReport, reword: Callable[[str], str]) -> list[str]:
    lines = []
    for f in report.files:
        if f.status == "error":
            lines.append(f"error: {_cli_message(InputError(f.message or '', param=f.param))}")
        elif f.status == "empty":
            lines.append(f"nothing to check: {_cli_message(InputError(f.message or '', param=f.param))}")
        elif f.report is not None:
            prefix = f"{printable(f.file)}: " if len(report.files) > 1 else ""
            for row in f.report.tensors:
                for reason in row["reasons"]:
                    lines.append(f"{row['verdict']}: {prefix}{printable(row['name'])}: {reword(printable(reason))}")
    return lines


def deliver_report(
    report: MultiCheckReport,
    fmt: str | Enum,
    *,
    output: Path | None,
    table: Callable[[Any], Any],
    reword: Callable[[str], str] = str,
    extra: dict | None = None,
) -> None:
    """Print or write ``report`` in ``fmt``; the human tables (``table(file_report)`` per checked
    file) go to stdout, or to stderr when the report goes elsewhere (a machine format or ``output``)."""
    fmt = str(getattr(fmt, "value", fmt))
    text = None
    if fmt != "table":
        doc = report.to_dict()
        doc.update(extra or {})
        text = render(doc, fmt)
    human = stdout if fmt == "table" and output is None else _tables_on_stderr
    if output is not None or fmt == "table":
        tables = [table(f.report) for f in report.files if f.report is not None]
        if output is not None and fmt == "table":
            buffer = Console(record=True, width=160, file=io.StringIO(), highlight=False, soft_wrap=True)
            for t in tables:
                buffer.print(t)
            text = buffer.export_text()
        for t in tables:
            human.print(t)
    if output is not None:
        atomic_write_text(output, text or "")
    elif text is not None:
        sys.stdout.write(text)
        sys.stdout.flush()
    for line in _file_lines(report, reword):
        note(line)
    if len(report.files) > 1 or output is not None:
        note(summary_line(report) + (f"; report written to {printable(output)}" if output is not None else ""))

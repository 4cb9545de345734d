"""The files a one-shot command leaves behind: its ``--plot`` figure and its ``--out`` run directory.

Both are checked before any computation (a figure path with a known suffix whose directory can be
written and that is not itself a directory; a run directory that is new, empty or holds the same
run) and written atomically after it, so the library and the CLI write the same files. The run
directory is held (created and locked) for the whole computation: a second run into it stops at
once, not after computing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from ._errors import InputError
from ._report import hold_run_dir, json_document, prepare_out_dir, run_metadata, write_run_files
from ._text import printable

__all__ = [
    "FIGURE_SUFFIXES",
    "check_plot_path",
    "save_plot",
    "write_run",
    "run_one_shot",
]

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def check_plot_path(plot: Path | str | None) -> Path | None:
    """A figure path with a known suffix in a writable directory, not a directory itself.

    Raises
    ------
    InputError
        (param ``plot``) before any work is done.
    """
    if plot is None:
        return None
    plot = Path(plot)
    if plot.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(f"plot {printable(plot)!r} must end in .png, .pdf or .svg", param="plot")
    if plot.is_dir():
        raise InputError(
            f"plot {printable(plot)!r} is a directory: give a file name ending in .png, .pdf or .svg", param="plot"
        )
    prepare_out_dir(plot.parent if str(plot.parent) else Path("."), param="plot")
    return plot


def save_plot(figure: Callable[[], Any], path: Path | str) -> Path:
    """Draw ``figure()`` (a matplotlib Figure) and save it atomically to ``path``."""
    from ._plots import save_figure  # noqa: PLC0415 (matplotlib, only when a figure is drawn)

    target = check_plot_path(path)
    assert target is not None
    return save_figure(figure(), target)


def write_run(
    out: Path | str,
    command: str,
    parameters: dict,
    files: dict[str, str],
    *,
    device: str,
    elapsed_s: float,
    force: bool = False,
    **meta: Any,
) -> Path:
    """Write a one-shot run's ``files`` and its ``run.json`` into ``out``, all or nothing."""
    target = prepare_out_dir(out, command=command, parameters=parameters, force=force)
    manifest = {**run_metadata(command, parameters, device=device, elapsed_s=elapsed_s), **meta}
    return write_run_files(target, {**files, "run.json": json_document(manifest)})


class _OneShotReport(Protocol):
    def write(self, out: Path | str, *, force: bool = False) -> Path: ...

    def plot(self, path: Path | str) -> Path: ...


_Report = TypeVar("_Report", bound=_OneShotReport)


def run_one_shot(
    out: Path | str | None,
    command: str,
    parameters: dict,
    compute: Callable[[Path | None], _Report],
    *,
    force: bool = False,
    plot: Path | str | None = None,
) -> _Report:
    """A one-shot command's run: ``out`` held from before ``compute(out)`` (the held directory, None
    without ``out``; it checks ``plot`` before its work) until the report's files are written there,
    then the report drawn to ``plot``."""
    # out held from before the computation (hold_run_dir): a second run into it stops at once
    holding = (
        contextlib.nullcontext(None)
        if out is None
        else hold_run_dir(out, command=command, parameters=parameters, force=force)
    )
    with holding as held:
        report = compute(held)
        if held is not None:
            report.write(held, force=force)
    if plot is not None:
        report.plot(plot)
    return report

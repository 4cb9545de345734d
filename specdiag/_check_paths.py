"""One check run over many inputs (files, directories, globs): one report, one exit code.

Each source is checked by :func:`specdiag._check.check_file` with the same options; a source that
cannot be read, or holds nothing to check, is recorded as such and the run goes on, so a CI report
always lists every file. The exit code is the worst over the sources (the table in the README):

====  =====================================================================================
code  meaning
====  =====================================================================================
0     every checked tensor passes (warnings allowed)
1     a gate failed: a tensor's radius or growth passes its threshold, or a recurrent tensor was not checked
2     bad input or a read error in some source (worse than 1: the run is incomplete)
3     nothing recurrent found to check in any source (no rule matched, or no weights file)
====  =====================================================================================
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ._check import DEFAULT_MAX_GROWTH, CheckReport, Thresholds, check_file
from ._errors import InputError, NothingToCheck
from ._inputs import expand_inputs
from ._pool import resolve_workers
from ._results import Result, plain
from ._text import printable
from ._weights import memory_budget

__all__ = ["FileCheck", "MultiCheckReport", "check_paths", "exit_code", "EXIT_CODES"]

#: exit code -> meaning, the one table the README and ``check --help`` show
EXIT_CODES = {
    0: "every checked tensor passes (warnings allowed)",
    1: "a gate failed: a tensor's radius or growth passes its threshold, or a recurrent tensor was not checked",
    2: "bad input, or a file could not be read (also when other files failed)",
    3: "nothing recurrent found to check (no rule matched, or no weights file found)",
}
#: file statuses: a verdict of its tensors, nothing to check, or an error
STATUSES = ("ok", "warn", "fail", "empty", "error")
#: per-file errors carry these parameters (or none); any other parameter is a bad option: raised
_PER_FILE_PARAMS = (None, "keys", "path")


@dataclass(frozen=True)
class FileCheck(Result):
    """One source of a run: its status, its report (None unless checked) and why not, if not.

    ``status`` is the file's verdict (``ok``, ``warn``, ``fail``), ``empty`` (nothing to check) or
    ``error`` (unreadable or bad); ``message`` says why for the last two, ``param`` names the
    library parameter an error is about (``keys``), for the CLI to show as its flag.
    """

    file: str
    status: str
    report: CheckReport | None = None
    message: str | None = None
    param: str | None = None


@dataclass(frozen=True)
class MultiCheckReport(Result):
    """Every source of one check run; ``to_dict()`` is the ``check --format json`` document.

    The document keeps the single-file keys (``thresholds``, ``tensors``, ``skipped``,
    ``verdict``, ``elapsed_s``; and ``file``, ``kind``, ``container`` when there is one source),
    with each tensor and skipped row naming its ``file``, and adds ``files`` (one entry per
    source: status, kind, message, ...), ``summary`` (counts) and ``exit_code``.
    """

    files: list
    thresholds: Thresholds
    verdict: str
    exit_code: int
    elapsed_s: float

    @property
    def reports(self) -> list:
        """The :class:`CheckReport` of every checked source."""
        return [f.report for f in self.files if f.report is not None]

    @property
    def tensors(self) -> list:
        """Every checked tensor's :class:`~specdiag._check.TensorCheck`, in file order."""
        return [t for r in self.reports for t in r.tensors]

    def summary(self) -> dict:
        """Counts: files by status, tensors by verdict."""
        counts = {"files": len(self.files), **{s: 0 for s in STATUSES}, "tensors": 0}
        for f in self.files:
            counts[f.status] += 1
        verdicts: dict[str, int] = {}
        for t in self.tensors:
            verdicts[str(t["verdict"])] = verdicts.get(str(t["verdict"]), 0) + 1
        counts["tensors"] = sum(verdicts.values())
        return {**counts, "tensor_verdicts": verdicts}

    def to_dict(self) -> dict:
        files, tensors, skipped = [], [], []
        for f in self.files:
            entry: dict[str, Any] = {"file": f.file, "status": f.status, "message": f.message}
            if f.report is not None:
                body = f.report.to_dict()
                for key in ("source", "thresholds"):
                    body.pop(key, None)
                tensors += [{"file": f.file, **row} for row in body.pop("tensors", [])]
                skipped += [{"file": f.file, **row} for row in body.pop("skipped", [])]
                entry.update(body)
            files.append(entry)
        doc: dict[str, Any] = {"command": "check"}
        if len(files) == 1:
            doc.update(file=files[0]["file"], kind=files[0].get("kind"), container=files[0].get("container"))
        doc.update(
            thresholds=self.thresholds.to_dict(),
            tensors=tensors,
            skipped=skipped,
            verdict=self.verdict,
            exit_code=self.exit_code,
            summary=self.summary(),
            files=files,
            elapsed_s=self.elapsed_s,
        )
        return plain(doc)


def exit_code(statuses: Sequence[str]) -> int:
    """The run's exit code from its files' statuses: 2 on any error, else 1 on any fail, else 3
    when nothing was checked, else 0.

    Examples
    --------
    >>> exit_code(["ok", "fail", "empty"]), exit_code(["fail", "error"]), exit_code(["empty"]), exit_code([])
    (1, 2, 3, 3)
    """
    if "error" in statuses:
        return 2
    if "fail" in statuses:
        return 1
    if not any(s in ("ok", "warn") for s in statuses):
        return 3
    return 0


def _check_one(path: str, named: bool, options: dict, *, alone: bool) -> FileCheck:
    try:
        report = check_file(path, **options)
    except NothingToCheck as exc:
        return FileCheck(path, "empty", message=str(exc), param=exc.param)
    except InputError as exc:
        if exc.param not in _PER_FILE_PARAMS:
            raise  # a bad option: the same for every file, said once
        if exc.param == "keys" and not alone and str(exc).startswith("no tensor matches"):
            # keys select tensors across many files: a file without them has nothing to check
            return FileCheck(path, "empty", message=str(exc), param=exc.param)
        if not named and Path(path).suffix.lower() in (".csv", ".txt") and "as a text matrix" in str(exc):
            # a text file a walk or glob found (vocab.txt, metrics.csv) is not a weights file
            return FileCheck(path, "empty", message=f"{printable(path)!r} is not a text matrix: not checked")
        return FileCheck(path, "error", message=str(exc), param=exc.param)
    except OSError as exc:
        where = printable(exc.filename if exc.filename is not None else path)
        return FileCheck(path, "error", message=f"cannot read {where!r}: {exc.strerror or type(exc).__name__}")
    return FileCheck(path, report.verdict, report=report)


def check_paths(
    paths,
    *,
    max_radius: float = 1.0,
    seq_len: int | float = 1000,  # a whole number; a float such as 1e6 too (Thresholds checks it)
    max_growth: float | None = DEFAULT_MAX_GROWTH,
    workers: int | None = None,
    max_memory: int | str | None = None,
    **options,
) -> MultiCheckReport:
    """Check every weights file that ``paths`` names, finds in directories or matches as globs.

    Parameters
    ----------
    paths : path or sequence of paths
        Files, directories (walked for .npy .npz .safetensors .pt .pth .ckpt .bin .onnx .keras
        .h5 .csv .txt and sharded safetensors folders) and glob patterns (``**`` recursive);
        see :func:`specdiag._inputs.expand_inputs`.
    max_radius, seq_len, max_growth
        The gate (:class:`~specdiag.Thresholds`), the same for every file.
    workers, max_memory
        As in :func:`specdiag.check_file`, per file.
    **options
        Passed to :func:`specdiag.check_file` for every file (``keys``, ``model``, ``param``,
        ``diagonal``, ...).

    Returns
    -------
    MultiCheckReport
        Every source with its status; ``exit_code`` by the table in this module's docstring.

    Raises
    ------
    InputError
        Bad thresholds or options (checked once, before any file is read) or no paths. An
        unreadable file, or one with nothing to check, is recorded in the report instead.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> np.save(os.path.join(d, "a.npy"), 0.5 * np.eye(4)); np.save(os.path.join(d, "b.npy"), 2 * np.eye(4))
    >>> report = check_paths([d], workers=1)
    >>> [(f.status, os.path.basename(f.file)) for f in report.files], report.exit_code
    ([('ok', 'a.npy'), ('fail', 'b.npy')], 1)
    """
    thresholds = Thresholds(
        max_radius=max_radius,
        seq_len=seq_len,  # type: ignore[arg-type]  # a whole float too: Thresholds turns it into an int
        max_growth=max_growth,
    )
    resolve_workers(workers)
    memory_budget(max_memory)
    start = time.perf_counter()
    inputs = expand_inputs(paths)
    options = {
        **options,
        "max_radius": max_radius,
        "seq_len": seq_len,
        "max_growth": max_growth,
        "workers": workers,
        "max_memory": max_memory,
    }
    alone = len(inputs.files) + len(inputs.unmatched) == 1
    files = [_check_one(f.path, f.named, options, alone=alone) for f in inputs.files]
    files += [
        FileCheck(
            arg,
            "empty",
            message=(
                f"no weights file found in {printable(arg)!r} ({'a glob' if not Path(arg).exists() else 'a directory'})"
            ),
        )
        for arg in inputs.unmatched
    ]
    verdicts = [f.report.verdict for f in files if f.report is not None]
    verdict = max(
        verdicts, key=lambda v: ("ok", "warn", "fail").index(v) if v in ("ok", "warn", "fail") else 2, default="ok"
    )
    return MultiCheckReport(
        files, thresholds, verdict, exit_code([f.status for f in files]), time.perf_counter() - start
    )

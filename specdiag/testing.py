"""Assertions for a project's own test suite: gate recurrent weights in pytest.

>>> import numpy as np
>>> from specdiag.testing import assert_stable
>>> report = assert_stable(0.5 * np.eye(8))           # passes: returns the report
>>> assert_stable(1.2 * np.eye(8), max_growth=None)
Traceback (most recent call last):
...
AssertionError: specdiag: 1 of 1 recurrent tensor unstable (max_radius 1, seq_len 1000, growth not gated)
  tensor  shape  radius  log10 growth  verdict  why
  array   8x8    1.2     155.72        FAIL     radius 1.2 > max_radius 1

In a pytest test the failure prints as that table, one row per failing tensor::

    def test_recurrence_is_stable(model):
        assert_stable(model, max_radius=1.0, seq_len=4096)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._check import DEFAULT_MAX_GROWTH, CheckReport, Thresholds, check_module, check_state_dict, check_tensors
from ._check_paths import MultiCheckReport, check_paths
from ._errors import InputError
from ._report import fmt_value
from ._reports.findings import file_statuses, row_findings, tensor_rows
from ._text import printable

__all__ = ["assert_stable"]

_HEADER = ("tensor", "shape", "radius", "log10 growth", "verdict", "why")


def _is_module(obj: Any) -> bool:
    """A torch.nn.Module, recognized without importing torch for other objects."""
    return any(c.__module__.startswith("torch.nn") for c in type(obj).__mro__)


def _is_tensor(obj: Any) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "detach")


def _report(obj: Any, thresholds: Thresholds, options: dict) -> CheckReport | MultiCheckReport:
    if isinstance(obj, (str, os.PathLike)):
        return check_paths(
            [obj],
            max_radius=thresholds.max_radius,
            seq_len=thresholds.seq_len,
            max_growth=thresholds.max_growth,
            **options,
        )
    if _is_tensor(obj):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray) or hasattr(obj, "tocsr"):
        return check_tensors({options.pop("name", "array"): obj}, thresholds, workers=options.pop("workers", 1))
    if isinstance(obj, Mapping):
        return check_state_dict(obj, thresholds=thresholds, **options)
    if _is_module(obj):
        return check_module(obj, thresholds=thresholds, **options)
    raise InputError(
        f"obj must be a path, a state dict, a torch.nn.Module or an array, got {type(obj).__name__}", param="obj"
    )


def _run_doc(report: CheckReport | MultiCheckReport) -> dict:
    """The report as a check-run document (one file entry for a single source)."""
    if isinstance(report, MultiCheckReport):
        return report.to_dict()
    body = report.to_dict()
    source, rows = body.pop("source"), body.pop("tensors")
    return {
        "tensors": [{"file": source, **r} for r in rows],
        "files": [{"file": source, "status": body.get("verdict"), **body}],
    }


def _failing_rows(doc: dict) -> list[dict]:
    statuses = file_statuses(doc)
    return [
        r for r in tensor_rows(doc) if any(f.level == "error" for f in row_findings(r, statuses.get(r.get("file"))))
    ]


def _table(rows: list[dict], many_files: bool) -> str:
    cells = [_HEADER]
    for r in rows:
        name = printable(r.get("name", "?"))
        name = f"{printable(r['file'])}:{name}" if many_files else name
        shape = "x".join(map(str, r.get("shape") or []))
        growth = r.get("log10_growth")
        why = "; ".join(printable(x) for x in r.get("reasons") or []) or "not checked"
        cells.append(
            (
                name,
                shape,
                fmt_value(r.get("radius")),
                fmt_value(growth) if growth is not None else "n/a",
                str(r.get("verdict", "")).upper(),
                why,
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(_HEADER) - 1)]
    return "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in cells)


def assert_stable(
    obj: Any, *, max_radius: float = 1.0, seq_len: int = 1000, max_growth: float | None = DEFAULT_MAX_GROWTH, **options
) -> CheckReport | MultiCheckReport:
    """Assert that the recurrent weights of ``obj`` pass the check gate; return the report.

    Parameters
    ----------
    obj : path, state dict, torch.nn.Module or array
        A weights file, directory or glob (:func:`specdiag.check_paths`), a state dict
        (:func:`specdiag.check_state_dict`), a module (:func:`specdiag.check_module`), or one
        square matrix / 1-D vector of eigenvalues (NumPy, scipy.sparse or a torch tensor).
    max_radius, seq_len, max_growth
        The gate (:class:`specdiag.Thresholds`); ``max_growth=None`` gates on the radius only.
    **options
        Passed to the check (``keys``, ``model``, ``param``, ``workers``; ``name`` labels an array).

    Returns
    -------
    CheckReport or MultiCheckReport
        The report, when every checked tensor passes (warnings pass).

    Raises
    ------
    AssertionError
        A tensor fails: the message is the table of the failing rows (tensor, shape, radius, log10
        growth, verdict, why); or nothing recurrent was found to check.
    InputError
        ``obj`` or an option is not usable (a missing or unreadable file, a bad threshold).
    """
    thresholds = Thresholds(max_radius=max_radius, seq_len=seq_len, max_growth=max_growth)
    report = _report(obj, thresholds, dict(options))
    doc = _run_doc(report)
    if isinstance(report, MultiCheckReport):
        problems = [f for f in report.files if f.status in ("error", "empty")]
        if report.exit_code == 2:
            raise InputError(
                "; ".join(f"{printable(f.file)}: {f.message}" for f in problems if f.status == "error"), param="obj"
            )
        if report.exit_code == 3:
            raise AssertionError(
                "specdiag: nothing recurrent found to check: " + "; ".join(printable(f.message) for f in problems)
            )
    failing = _failing_rows(doc)
    if failing:
        total = len(tensor_rows(doc))
        gate = f"max_growth {max_growth:g}" if max_growth is not None else "growth not gated"
        head = (
            f"specdiag: {len(failing)} of {total} recurrent tensor{'s' * (total != 1)} unstable (max_radius "
            f"{max_radius:g}, seq_len {thresholds.seq_len}, {gate})"
        )
        raise AssertionError(
            head + "\n" + _table(failing, isinstance(report, MultiCheckReport) and len(report.files) > 1)
        )
    return report

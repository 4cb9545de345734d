"""The rows of a check document as CI findings: which criterion, how severe, on which file and tensor.

Every CI format (SARIF, JUnit, GitHub annotations, GitLab code quality) is a view of the same
findings, so they agree by construction. Only these keys of a tensor row are relied on: ``name``,
``verdict`` (``ok``, ``warn``, ``fail``; anything else is a tensor that was not checked),
``reasons`` (list of str), ``rule``, ``shape``, ``radius``; every other number on a row is carried
along generically (:func:`numbers`).

Criteria (one SARIF rule each): ``radius`` (spectral radius above ``max_radius``), ``growth``
(hidden-state growth or a Lyapunov exponent above its limit), ``unchecked`` (a recurrent tensor
that could not be judged), ``not-converged`` (an iterative estimate that did not converge), and
``gate`` for any other reason a future check gives. A reason of a failing tensor is an error,
except one that only says a value is "within" reach of a threshold (a warning on the same row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator

from .._text import printable

__all__ = [
    "CRITERIA",
    "Finding",
    "criterion",
    "findings",
    "row_findings",
    "file_problems",
    "file_statuses",
    "numbers",
    "tensor_rows",
    "row_state",
]

#: criterion -> (short description, help); the SARIF rules, in this order
CRITERIA = {
    "radius": (
        "Spectral radius above the limit",
        "The spectral radius of the recurrent matrix exceeds --max-radius (beyond the stored dtype's roundoff): "
        "hidden states grow like radius^t. Rescale or re-initialize the matrix, or raise --max-radius if intended.",
    ),
    "growth": (
        "Hidden-state growth above the limit",
        "The predicted hidden-state growth E||h_t||^2 / (t sigma^2 n) at t = --seq-len (or the largest Lyapunov "
        "exponent of a gated cell) exceeds its limit: the recurrence explodes over sequences of that length.",
    ),
    "unchecked": (
        "Recurrent tensor not checked",
        "A tensor the name rules select as recurrent could not be judged (unsupported layout, missing partner "
        "tensor). Select or describe it (--key, --layout), or allow it with --allow-unchecked.",
    ),
    "not-converged": (
        "Estimate did not converge",
        "An iterative estimate (ARPACK radius of a large sparse matrix, a Lyapunov exponent) did not converge: "
        "the reported number is a bound, not a measurement.",
    ),
    "gate": (
        "Check failed",
        "The tensor failed a check of specdiag; the message says which.",
    ),
}
_NOT_CONVERGED = ("not converge", "not fully converge", "did not converge", "no convergence", "not-converged")


@dataclass(frozen=True)
class Finding:
    """One thing to report on one tensor (or on a file, ``tensor`` None)."""

    file: str
    tensor: str | None
    criterion: str
    level: str  # "error" or "warning"
    message: str
    numbers: dict = field(default_factory=dict)


def criterion(reason: str) -> str:
    """The criterion a reason belongs to.

    Examples
    --------
    >>> criterion("radius 1.2 > max_radius 1"), criterion("hidden-state growth 10^4.00 at t = 1000 > max_growth 1000")
    ('radius', 'growth')
    """
    text = reason.lower()
    if any(word in text for word in _NOT_CONVERGED):
        return "not-converged"
    if "radius" in text:
        return "radius"
    if any(word in text for word in ("growth", "lyapunov", "exponent", "lambda", "explode")):
        return "growth"
    if "not checked" in text or "unchecked" in text:
        return "unchecked"
    return "gate"


def row_state(row: dict) -> str:
    """``ok``, ``warn``, ``fail`` or ``unchecked`` (any other verdict) for a tensor row."""
    verdict = str(row.get("verdict", "")).lower()
    return verdict if verdict in ("ok", "warn", "fail") else "unchecked"


def numbers(row: dict) -> dict:
    """The finite numbers of a row (nested dicts flattened as ``glorot.percentile``), its shape as a
    list, its rule and verdict: the properties a finding carries."""
    out: dict[str, Any] = {}

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            if math.isfinite(value):
                out[prefix] = value
        elif isinstance(value, dict):
            for key, inner in value.items():
                visit(f"{prefix}.{key}", inner)

    for key, value in row.items():
        if key not in ("file",):
            visit(str(key), value)
    if isinstance(row.get("shape"), list):
        out["shape"] = list(row["shape"])
    for key in ("rule", "verdict"):
        if isinstance(row.get(key), str):
            out[key] = printable(row[key])
    return out


def _unchecked_lists(entry: dict) -> Iterator[dict]:
    """Rows for tensors a file entry lists as not checked (``unchecked``/``not_checked`` lists)."""
    for key in ("unchecked", "not_checked"):
        items = entry.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and "name" in item:
                    reason = item.get("reason") or item.get("reasons") or "not checked"
                    reasons = reason if isinstance(reason, list) else [str(reason)]
                    yield {**item, "file": entry["file"], "verdict": "not checked", "reasons": reasons}


def tensor_rows(doc: dict) -> list[dict]:
    """Every tensor row of a check document (checked and not checked), each naming its file."""
    rows = [r for r in doc.get("tensors", []) if isinstance(r, dict)]
    seen = {(r.get("file"), r.get("name")) for r in rows}
    for entry in doc.get("files", []):
        rows += [r for r in _unchecked_lists(entry) if (r["file"], r["name"]) not in seen]
    return rows


def row_findings(row: dict, file_status: str | None) -> list[Finding]:
    """The findings of one tensor row (``file_status``: its file's status, ``fail`` makes an
    unchecked tensor an error)."""
    file = str(row.get("file", ""))
    name = printable(row.get("name", "?"))
    state = row_state(row)
    reasons = [printable(r) for r in row.get("reasons") or []]
    props = numbers(row)
    if state == "unchecked":
        level = "error" if file_status == "fail" else "warning"
        return [
            Finding(
                file, name, "unchecked", level, f"{name}: not checked: {'; '.join(reasons) or 'no reason given'}", props
            )
        ]
    out = []
    if state in ("warn", "fail"):
        for reason in reasons:
            level = "error" if state == "fail" and "within" not in reason.lower() else "warning"
            out.append(Finding(file, name, criterion(reason), level, f"{name}: {reason}", props))
    if not any(f.criterion == "not-converged" for f in out):
        said = [v for v in row.values() if isinstance(v, str) and any(w in v.lower() for w in _NOT_CONVERGED)]
        if said or row.get("converged") is False:
            out.append(
                Finding(
                    file,
                    name,
                    "not-converged",
                    "warning",
                    f"{name}: {printable(said[0]) if said else 'did not converge'}",
                    props,
                )
            )
    return out


def findings(doc: dict) -> list[Finding]:
    """The findings of a check document (``MultiCheckReport.to_dict()``), in file and row order.

    A failing or warning row gives one finding per reason; a not-checked row one ``unchecked``
    finding (an error when its file fails, else a warning); a row whose text says an estimate did
    not converge one ``not-converged`` warning. Passing rows give none.
    """
    statuses = file_statuses(doc)
    return [f for row in tensor_rows(doc) for f in row_findings(row, statuses.get(row.get("file")))]


def file_statuses(doc: dict) -> dict:
    """file -> status (``ok``, ``warn``, ``fail``, ``empty``, ``error``)."""
    return {e["file"]: e.get("status") for e in doc.get("files", [])}


def file_problems(doc: dict) -> list[dict]:
    """File entries that were not checked: ``status`` ``error`` (unreadable, bad) or ``empty``."""
    return [e for e in doc.get("files", []) if e.get("status") in ("error", "empty")]

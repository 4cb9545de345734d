"""JSON Lines from a check document: one object per tensor, per unchecked file, then a summary.

Each line is a whole JSON object with a ``type``: ``tensor`` (the row, naming its ``file``),
``file`` (a file that could not be read or held nothing to check: ``status``, ``message``) and a
last ``summary`` (``verdict``, ``exit_code``, counts, thresholds). Streams into jq, BigQuery, pandas.
"""

from __future__ import annotations

import json

from .._report import to_builtin
from .findings import file_problems, tensor_rows

__all__ = ["render_jsonl"]


def _line(obj: dict) -> str:
    return json.dumps(to_builtin(obj), allow_nan=False, separators=(",", ":")) + "\n"


def render_jsonl(doc: dict) -> str:
    """The JSON Lines text of a check document (``MultiCheckReport.to_dict()``)."""
    lines = [_line({"type": "tensor", **row}) for row in tensor_rows(doc)]
    lines += [
        _line({"type": "file", **{k: e.get(k) for k in ("file", "status", "message")}}) for e in file_problems(doc)
    ]
    summary = {k: doc.get(k) for k in ("verdict", "exit_code", "summary", "thresholds", "elapsed_s")}
    lines.append(_line({"type": "summary", **summary}))
    return "".join(lines)

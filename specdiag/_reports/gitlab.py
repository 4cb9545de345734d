"""GitLab code quality (a CodeClimate-style JSON array) from a check document.

One issue per finding (``check_name`` the criterion, ``severity`` major for an error and minor for
a warning, ``location.path`` the file, line 1), and one per file that could not be read (blocker);
``fingerprint`` hashes file, tensor and criterion, so GitLab tracks an issue across pipelines.
"""

from __future__ import annotations

import json

from .._text import printable
from .findings import file_problems, findings

__all__ = ["render_gitlab"]


def _issue(check: str, severity: str, description: str, path: str, key: str) -> dict:
    import hashlib  # noqa: PLC0415 (OpenSSL, 5 ms of start-up: only when a report is written)

    return {
        "type": "issue",
        "check_name": f"specdiag/{check}",
        "description": description,
        "severity": severity,
        "categories": ["Bug Risk"],
        "fingerprint": hashlib.sha256(key.encode()).hexdigest(),
        "location": {"path": path, "lines": {"begin": 1}},
    }


def render_gitlab(doc: dict) -> str:
    """The code-quality report of a check document (``MultiCheckReport.to_dict()``) as JSON text."""
    issues = [
        _issue(
            f.criterion,
            "major" if f.level == "error" else "minor",
            f.message,
            f.file,
            f"{f.file}\0{f.tensor}\0{f.criterion}",
        )
        for f in findings(doc)
    ]
    issues += [
        _issue(
            "read-error",
            "blocker",
            f"{printable(e['file'])}: {printable(e.get('message') or '')}",
            e["file"],
            f"{e['file']}\0read-error",
        )
        for e in file_problems(doc)
        if e["status"] == "error"
    ]
    return json.dumps(issues, indent=2, allow_nan=False) + "\n"

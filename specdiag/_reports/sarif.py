"""SARIF 2.1.0 (the format GitHub code scanning ingests) from a check document.

One run of the ``specdiag`` tool; one rule per criterion (:data:`~.findings.CRITERIA`); one result
per finding with the file (``artifactLocation.uri`` relative to the working directory, under
``%SRCROOT%``; a file outside it is an absolute ``file://`` URI), the tensor (``logicalLocations``)
and the row's numbers (``properties``). A weights file has no lines: ``region.startLine`` is 1,
which code scanning needs to show an alert. ``partialFingerprints`` hash file, tensor and rule, so
an alert keeps its identity across runs. ``%SRCROOT%`` is left to the consumer (code scanning
resolves it to the repository root), so the log does not depend on where it was made. Files that
could not be read, or held nothing to check, are ``toolExecutionNotifications`` of the invocation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from .._text import printable
from .findings import CRITERIA, file_problems, findings

__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "render_sarif", "artifact_uri"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/specdiag/"


def artifact_uri(path: str, root: str | None = None) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative to ``root`` (default the working directory) when inside it.

    Examples
    --------
    >>> artifact_uri("models/my model.pt", "/repo")
    ('models/my%20model.pt', '%SRCROOT%')
    """
    root = os.path.abspath(root or os.getcwd())
    full = os.path.abspath(os.path.join(root, path))
    rel = os.path.relpath(full, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return Path(full).as_uri(), None
    return quote(rel.replace(os.sep, "/")), "%SRCROOT%"


def _location(file: str, tensor: str | None, root: str | None) -> dict:
    uri, base = artifact_uri(file, root)
    artifact = {"uri": uri, **({"uriBaseId": base} if base else {})}
    location: dict = {"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": 1}}}
    if tensor is not None:
        location["logicalLocations"] = [{"name": tensor, "fullyQualifiedName": f"{file}::{tensor}", "kind": "member"}]
    return location


def _fingerprint(*parts: str) -> str:
    import hashlib  # noqa: PLC0415 (OpenSSL, 5 ms of start-up: only when a report is written)

    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def render_sarif(doc: dict, *, version: str, root: str | None = None) -> str:
    """The SARIF 2.1.0 log of a check document (``MultiCheckReport.to_dict()``) as JSON text."""
    ids = list(CRITERIA)
    rules = [
        {
            "id": rid,
            "name": "".join(w.capitalize() for w in rid.split("-")),
            "shortDescription": {"text": short},
            "fullDescription": {"text": long},
            "help": {"text": long},
            "defaultConfiguration": {"level": "warning" if rid == "not-converged" else "error"},
        }
        for rid, (short, long) in CRITERIA.items()
    ]
    results = []
    for f in findings(doc):
        uri, _ = artifact_uri(f.file, root)
        results.append(
            {
                "ruleId": f.criterion,
                "ruleIndex": ids.index(f.criterion),
                "level": f.level,
                "message": {"text": f.message},
                "locations": [_location(f.file, f.tensor, root)],
                "partialFingerprints": {"specdiagTensor/v1": _fingerprint(uri, f.tensor or "", f.criterion)},
                "properties": f.numbers,
            }
        )
    notifications = [
        {
            "level": "error" if e["status"] == "error" else "note",
            "message": {"text": f"{printable(e['file'])}: {printable(e.get('message') or e['status'])}"},
            "locations": [_location(e["file"], None, root)],
        }
        for e in file_problems(doc)
    ]
    thresholds = doc.get("thresholds", {})
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "specdiag",
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": doc.get("exit_code") != 2,
                        "exitCode": doc.get("exit_code", 0),
                        "toolExecutionNotifications": notifications,
                        "properties": {"thresholds": thresholds, "summary": doc.get("summary", {})},
                    }
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, allow_nan=False) + "\n"

"""JUnit XML (what GitLab, Jenkins, Azure and most CI test panes parse) from a check document.

One ``testsuite`` per file and one ``testcase`` per tensor row (``classname`` the file, ``name``
the tensor): a failing tensor has a ``failure`` (``message`` its first reason, ``type`` the
criterion, the text every reason and the numbers); a warning passes with the warning in
``system-out``; a tensor that was not checked is a ``failure`` when it fails its file, else
``skipped``. A file that could not be read is one ``error`` testcase, a file with nothing to check
one ``skipped`` testcase.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .._text import printable
from .findings import file_statuses, row_findings, row_state, tensor_rows

__all__ = ["render_junit"]


def _numbers_text(props: dict) -> str:
    return "\n".join(f"{k} = {v}" for k, v in props.items())


def _suite(parent: ET.Element, entry: dict, rows: list, status: str | None) -> dict:
    file = printable(entry["file"])
    suite = ET.SubElement(parent, "testsuite", name=file)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for row in rows:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=file, name=printable(row.get("name", "?")), time="0")
        found = row_findings(row, status)
        errors = [f for f in found if f.level == "error"]
        if errors:
            counts["failures"] += 1
            detail = "\n".join(f.message for f in found) + "\n\n" + _numbers_text(found[0].numbers)
            ET.SubElement(case, "failure", message=errors[0].message, type=errors[0].criterion).text = detail
        elif row_state(row) == "unchecked":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=found[0].message if found else "not checked")
        elif found:
            ET.SubElement(case, "system-out").text = "\n".join(f"warning: {f.message}" for f in found)
    if entry.get("status") in ("error", "empty"):
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=file, name=file, time="0")
        message = printable(entry.get("message") or entry["status"])
        if entry["status"] == "error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=message, type="read-error").text = message
        else:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=message)
    suite.set("time", f"{float(entry.get('elapsed_s') or 0.0):.3f}")
    for key, value in counts.items():
        suite.set(key, str(value))
    return counts


def render_junit(doc: dict) -> str:
    """The JUnit XML document of a check document (``MultiCheckReport.to_dict()``)."""
    root = ET.Element("testsuites", name="specdiag check")
    statuses = file_statuses(doc)
    rows = tensor_rows(doc)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for entry in doc.get("files", []):
        mine = [r for r in rows if r.get("file") == entry["file"]]
        for key, value in _suite(root, entry, mine, statuses.get(entry["file"])).items():
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{float(doc.get('elapsed_s') or 0.0):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

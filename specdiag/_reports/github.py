"""GitHub Actions workflow commands from a check document: annotations on the weights files.

One ``::error`` per failing or not-checked tensor (``::warning`` for a warning), with ``file=`` the
path and ``title=`` the criteria, the message every reason; a file that could not be read is an
``::error``, one with nothing to check a ``::notice``. Values are escaped as the runner reads them:
``%`` ``\\r`` ``\\n`` in the message, and also ``:`` ``,`` in properties.
"""

from __future__ import annotations

from .._text import printable
from .findings import file_problems, file_statuses, row_findings, tensor_rows

__all__ = ["render_github", "escape_data", "escape_property"]


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped.

    Examples
    --------
    >>> escape_data("100% bad\\nnext")
    '100%25 bad%0Anext'
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as :func:`escape_data`, and ``:`` ``,`` too.

    Examples
    --------
    >>> escape_property("a,b:c")
    'a%2Cb%3Ac'
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, file: str, title: str, message: str) -> str:
    return f"::{level} file={escape_property(file)},title={escape_property(title)}::{escape_data(message)}"


def render_github(doc: dict) -> str:
    """The workflow commands of a check document (``MultiCheckReport.to_dict()``), one per line."""
    statuses = file_statuses(doc)
    lines = []
    for row in tensor_rows(doc):
        found = row_findings(row, statuses.get(row.get("file")))
        if not found:
            continue
        level = "error" if any(f.level == "error" for f in found) else "warning"
        kinds = ", ".join(dict.fromkeys(f.criterion for f in found))
        file = printable(row.get("file", ""))
        lines.append(_command(level, file, f"specdiag {kinds}: {found[0].tensor}", "\n".join(f.message for f in found)))
    for entry in file_problems(doc):
        level, title = (
            ("error", "specdiag: cannot check")
            if entry["status"] == "error"
            else ("notice", "specdiag: nothing to check")
        )
        lines.append(
            _command(level, printable(entry["file"]), title, printable(entry.get("message") or entry["status"]))
        )
    return "".join(line + "\n" for line in lines)

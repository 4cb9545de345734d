"""Check reports in the formats CI systems read: one renderer per format, all from one document.

Each renderer takes the ``check --format json`` document (``MultiCheckReport.to_dict()``) and
returns text: ``jsonl``, ``sarif`` (GitHub code scanning), ``junit`` (test panes), ``github``
(workflow-command annotations) and ``gitlab`` (code quality). :func:`render` picks one by name.
"""

from __future__ import annotations

import functools
from typing import Callable

from .. import __version__
from .._errors import InputError
from .._report import json_document
from .github import render_github
from .gitlab import render_gitlab
from .jsonl import render_jsonl
from .junit import render_junit
from .sarif import render_sarif

__all__ = ["REPORT_FORMATS", "render"]

#: format name -> renderer (the machine formats of ``check``; ``table`` is the CLI's)
REPORT_FORMATS: dict[str, Callable[[dict], str]] = {
    "json": json_document,
    "jsonl": render_jsonl,
    "sarif": functools.partial(render_sarif, version=__version__),
    "junit": render_junit,
    "github": render_github,
    "gitlab": render_gitlab,
}


def render(doc: dict, fmt: str) -> str:
    """``doc`` in format ``fmt`` (one of :data:`REPORT_FORMATS`)."""
    try:
        renderer = REPORT_FORMATS[fmt]
    except KeyError:
        raise InputError(f"fmt must be one of {', '.join(REPORT_FORMATS)}, got {fmt!r}", param="fmt") from None
    try:
        return renderer(doc)
    except ValueError as exc:  # a non-finite number: say what overflowed, never print NaN
        raise InputError(str(exc)) from None

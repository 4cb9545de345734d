"""User-controlled strings (tensor names, paths, keys) made safe to print on a terminal or CI log.

A name may hold terminal escape codes (ESC[1G ... ESC[K rewrites the line it is printed on), bidi
overrides or newlines: printed raw, a failing tensor's line could read as a pass. Every place that
shows a user-controlled string (tables, ``--list``, errors, notes, reports) passes it through
:func:`printable` first.
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]


def printable(text: object) -> str:
    """``str(text)`` with every control, format and unassigned character escaped (``\\x1b``,
    ``\\n``, ``\\u202e``), so it prints as one visible line.

    Examples
    --------
    >>> printable("rnn.weight\\x1b[1G ok\\n")
    'rnn.weight\\\\x1b[1G ok\\\\n'
    >>> printable("gru.weight_hh_l0")
    'gru.weight_hh_l0'
    """
    s = str(text)
    if s.isprintable():
        return s
    out = []
    for ch in s:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif unicodedata.category(ch)[0] in "CZ" or not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)

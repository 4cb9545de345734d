"""The base of every result object: a frozen dataclass with one ``to_dict()`` for JSON and tables.

A field declared with :func:`internal` travels with the result (the ensemble it was drawn from, the
parameters its run files record) but is not part of its document: ``to_dict()`` leaves it out, so
``to_dict()`` stays exactly the command's ``--format json`` document.
"""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Result", "plain", "internal"]


def internal(default: Any = None) -> Any:
    """A dataclass field kept out of ``to_dict()`` (and out of ``repr`` and ``==``)."""
    return dataclasses.field(default=default, repr=False, compare=False, metadata={"internal": True})


def plain(value: Any) -> Any:
    """Results, NumPy scalars/arrays, tuples, Enums and Paths as plain Python (for JSON).

    Examples
    --------
    >>> plain({"a": np.float64(1.5), "b": (1, 2), "c": np.arange(2)})
    {'a': 1.5, 'b': [1, 2], 'c': [0, 1]}
    """
    if isinstance(value, Result):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


class Result:
    """Mixin for frozen result dataclasses: ``to_dict()`` gives nested plain Python values.

    Fields declared with :func:`internal` are left out.
    """

    def to_dict(self) -> dict:
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return {f.name: plain(getattr(self, f.name)) for f in fields if not f.metadata.get("internal")}

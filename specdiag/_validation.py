"""Parameter checks shared by the library functions, so every command applies the same rule.

Each check returns the (normalized) value or raises :class:`~specdiag._errors.InputError` naming
the Python parameter; the CLI maps the parameter to its flag (``max_radius`` -> ``--max-radius``).
Checks run where the value is used, once, in the library.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable

from ._errors import InputError

__all__ = [
    "whole_number",
    "positive_number",
    "finite_number",
    "probability",
    "choice",
    "seed_value",
    "MAX_SEED",
]

#: largest accepted seed (NumPy's SeedSequence accepts any non-negative int; this keeps JSON exact)
MAX_SEED = 2**63 - 1


def whole_number(value, param: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]``.

    Examples
    --------
    >>> whole_number(3, "samples")
    3
    >>> whole_number(0, "samples")
    Traceback (most recent call last):
    ...
    specdiag._errors.InputError: samples must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InputError(f"{param} must be an integer >= {minimum}, got {value!r}", param=param)
    value = int(value)
    if value < minimum:
        raise InputError(f"{param} must be an integer >= {minimum}, got {value}", param=param)
    if maximum is not None and value > maximum:
        raise InputError(f"{param} must be an integer <= {maximum:,}, got {value:,}", param=param)
    return value


def finite_number(value, param: str) -> float:
    """A finite real number (not NaN, not inf)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{param} must be a number, got {value!r}", param=param) from None
    if not math.isfinite(value):
        raise InputError(f"{param} must be a finite number, got {value}", param=param)
    return value


def positive_number(value, param: str, *, above: float = 0.0, maximum: float | None = None) -> float:
    """A finite number strictly greater than ``above`` (and at most ``maximum``)."""
    value = finite_number(value, param)
    if not value > above:
        raise InputError(f"{param} must be a finite number > {above:g}, got {value:g}", param=param)
    if maximum is not None and value > maximum:
        raise InputError(f"{param} must be at most {maximum:g}, got {value:g}", param=param)
    return value


def probability(value, param: str) -> float:
    """A number strictly between 0 and 1."""
    value = finite_number(value, param)
    if not 0.0 < value < 1.0:
        raise InputError(f"{param} must lie strictly between 0 and 1, got {value:g}", param=param)
    return value


def choice(value, param: str, allowed: Iterable[str]) -> str:
    """One of ``allowed`` (an Enum member's value is accepted as well).

    Examples
    --------
    >>> choice("real", "field", ("real", "complex"))
    'real'
    """
    allowed = tuple(allowed)
    value = getattr(value, "value", value)
    if value not in allowed:
        raise InputError(f"unknown {param} {value!r}: use one of {', '.join(allowed)}", param=param)
    return value


def seed_value(seed, param: str = "seed") -> int:
    """A non-negative integer seed."""
    return whole_number(seed, param, minimum=0, maximum=MAX_SEED)

"""The one exception type for bad input: the CLI turns it into one line on stderr and exit code 2."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input from the user: the message names the problem and the fix.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it, in terms of the Python parameter.
    param : str, optional
        The Python parameter at fault (``"samples"``, ``"max_radius"``): the CLI maps it to its
        flag (``--samples``, ``--max-radius``) so library and CLI share one message.

    Examples
    --------
    >>> err = InputError("samples must be at least 1, got 0", param="samples")
    >>> err.param, str(err)
    ('samples', 'samples must be at least 1, got 0')
    """

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.param = param

"""The one exception type for bad input: the CLI turns it into one line on stderr and exit code 2."""

from __future__ import annotations

__all__ = ["InputError", "NothingToCheck"]


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


class NothingToCheck(InputError):
    """A source holds nothing to check: no tensor a recurrent name rule selects, or its only tensor
    is not a matrix. The CLI exits 3 for it (nothing recurrent found), not 2; being an
    :class:`InputError`, code that catches bad input catches it too.

    Examples
    --------
    >>> isinstance(NothingToCheck("no recurrent tensor found"), InputError)
    True
    """

"""specdiag: spectral diagnostics for recurrent weight matrices.

The library is importable on its own; the CLI (``specdiag.cli``) is a thin layer over it.
"""

__version__ = "0.1.0"

from .errors import InputError  # noqa: F401

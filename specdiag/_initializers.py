"""Framework-neutral recurrent initialization: the gate blocks of a stacked kernel and each block's std.

A recurrent kernel stacks ``gates`` blocks of one cell: PyTorch's ``weight_hh`` is (gates*h, w) with
the blocks stacked by rows (LSTM i, f, g, o; GRU r, z, n), Keras's ``recurrent_kernel`` and a Flax
kernel are (w, gates*h) with the blocks stacked by columns. Each block is drawn on its own, with the
standard deviation the method gives at the block's own fan-in w (the width of the hidden state it
reads), never the fused kernel's: an init applied to the fused (4h x h) kernel as one matrix (the
complaint of keras issue 9149 about ``orthogonal``) gives blocks of the wrong law.

Methods (SPEC sections 1 and 3), for a block of fan-in n:

- ``glorot``: N(0, 1/n), radius just above 1 at every practical n;
- ``half``: N(0, 1/(2n)), radius about 0.71;
- ``rescaled``: Glorot / s_n, the paper's factor; undefined for n <= 163 (g_n <= 0), refused there;
- ``calibrated``: Glorot / s with s the ``coverage``-quantile of the Glorot radius at width n, so
  P(radius <= 1) = coverage per block, at every n >= 2 (real law: the finite-n Monte Carlo table;
  complex: Kostlan's exact law), exactly as ``specdiag radius --init rescaled --rescale calibrated``.

The stds come from :func:`specdiag._inits.make_ensemble`, so a sampled block has the law that
``specdiag radius --init ...`` reports for the same init and width.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import InputError
from ._inits import InitOptions, make_ensemble
from ._theory import LAST_UNDEFINED_N
from ._validation import choice, probability, whole_number

__all__ = ["METHODS", "DEFAULT_COVERAGE", "BlockLayout", "block_layout", "block_std", "check_method", "init_options"]

METHODS = ("glorot", "rescaled", "calibrated", "half")
#: default target P(radius <= 1) of the calibrated method
DEFAULT_COVERAGE = 0.99


@dataclass(frozen=True)
class BlockLayout:
    """Where the gate blocks of a stacked recurrent kernel are.

    Attributes
    ----------
    gates : int
        Number of blocks.
    size : int
        Each block's extent along the stacked axis (the hidden width h).
    fan_in : int
        The width of the state each block reads (h, or proj_size for a projected LSTM).
    axis : int
        0: blocks stacked by rows (PyTorch); 1: by columns (Keras, Flax).
    """

    gates: int
    size: int
    fan_in: int
    axis: int

    def slices(self) -> list[tuple[slice, slice]]:
        """(rows, columns) index of each block, in gate order."""
        whole = slice(None)
        blocks = [slice(g * self.size, (g + 1) * self.size) for g in range(self.gates)]
        return [(b, whole) if self.axis == 0 else (whole, b) for b in blocks]


def block_layout(shape, gates: int | None, axis: int) -> BlockLayout:
    """The gate blocks of a kernel of ``shape`` stacked along ``axis``.

    Parameters
    ----------
    shape : tuple of int
        The kernel's shape (2-D).
    gates : int or None
        Blocks stacked along ``axis``; None infers it as shape[axis] / shape[other axis] (square blocks).
    axis : int
        0 (rows, PyTorch) or 1 (columns, Keras and Flax).

    Returns
    -------
    BlockLayout
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise InputError(f"tensor must be a 2-D recurrent kernel, got shape {shape}", param="tensor")
    stacked, other = shape[axis], shape[1 - axis]
    where = "rows" if axis == 0 else "columns"
    if gates is None:
        gates, remainder = divmod(stacked, other)
        if remainder or gates < 1:
            raise InputError(
                f"gates cannot be inferred from shape {shape}: its {where} ({stacked}) are not a multiple of "
                f"its {'columns' if axis == 0 else 'rows'} ({other}); pass gates= (1 RNN, 3 GRU, 4 LSTM)",
                param="gates",
            )
    gates = whole_number(gates, "gates")
    if stacked % gates:
        raise InputError(
            f"gates={gates} does not divide the {stacked} {where} of shape {shape}: the blocks are stacked by {where}",
            param="gates",
        )
    return BlockLayout(gates, stacked // gates, other, axis)


def check_method(method: str, coverage: float = DEFAULT_COVERAGE) -> tuple[str, float]:
    """(method, coverage) validated: a name in :data:`METHODS`, a coverage in (0, 1)."""
    return choice(method, "method", METHODS), probability(coverage, "coverage")


def init_options(method: str, coverage: float) -> InitOptions:
    """The :class:`~specdiag._inits.InitOptions` of ``method`` (the rescaling and its coverage)."""
    return InitOptions(rescale="calibrated" if method == "calibrated" else "paper", coverage=coverage)


def block_std(method: str, fan_in: int, *, field: str = "real", coverage: float = DEFAULT_COVERAGE) -> float:
    """Per-entry standard deviation of a block of fan-in ``fan_in`` under ``method``.

    Parameters
    ----------
    method : {"glorot", "rescaled", "calibrated", "half"}
    fan_in : int
        The block's width n (>= 2).
    field : {"real", "complex"}
        The law the calibration inverts (a complex tensor is drawn complex).
    coverage : float
        Target P(radius <= 1) of ``calibrated`` (ignored otherwise).

    Returns
    -------
    float
        std with E|W_ij|^2 = std^2.

    Raises
    ------
    InputError
        An unknown method, n < 2, a coverage outside (0, 1), or ``rescaled`` at n <= 163.

    Examples
    --------
    >>> round(block_std("glorot", 100), 6), round(block_std("half", 100), 6)
    (0.1, 0.070711)
    """
    method, coverage = check_method(method, coverage)
    if fan_in < 2:
        raise InputError(f"tensor has blocks of width {fan_in}: a recurrent block needs width >= 2", param="tensor")
    if method == "rescaled" and fan_in <= LAST_UNDEFINED_N:
        raise InputError(
            f"method 'rescaled' is undefined at block width n = {fan_in}: "
            "the paper's s_n needs g_n = log(n/2pi) - 2 log log n > 0, "
            f"false for every n <= {LAST_UNDEFINED_N} (its reference code yields NaN there); use method 'calibrated' "
            f"(calibrated_(tensor, coverage=0.99)), exact at every width",
            param="method",
        )
    name = {"calibrated": "rescaled"}.get(method, method)
    return make_ensemble(name, fan_in, field, init_options(method, coverage)).std

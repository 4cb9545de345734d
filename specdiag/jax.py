"""JAX / Flax adapter: width-aware recurrent initializers in the ``jax.nn.initializers`` style.

Each factory returns ``init(key, shape, dtype=jnp.float32)``. A kernel is (fan_in, gates*h) with its
gate blocks stacked by columns (the Flax and Keras convention: the state multiplies from the left);
Flax's ``LSTMCell``/``GRUCell`` call ``recurrent_kernel_init`` once per gate on an (h, h) kernel, so
the default ``gates=None`` (columns / rows) gives 1 there::

    flax.linen.LSTMCell(256, recurrent_kernel_init=specdiag.jax.rescaled_glorot())

Methods as in :mod:`specdiag._initializers`; jax is imported when an ``init`` is called, so
``import specdiag`` never imports it.
"""

from __future__ import annotations

from typing import Callable

from ._initializers import DEFAULT_COVERAGE, block_layout, block_std, check_method

__all__ = ["recurrent", "glorot", "rescaled_glorot", "calibrated", "half"]


def recurrent(method: str = "rescaled", *, coverage: float = DEFAULT_COVERAGE, gates: int | None = None) -> Callable:
    """An initializer ``init(key, shape, dtype)`` drawing each gate block with ``method``'s std at its fan-in.

    Parameters
    ----------
    method : {"glorot", "rescaled", "calibrated", "half"}
        ``rescaled`` is refused (when called) at width <= 163: use ``calibrated``.
    coverage : float
        Target P(radius <= 1) per block for ``calibrated``.
    gates : int, optional
        Blocks stacked by columns; default: columns / rows.

    Returns
    -------
    callable
        ``init(key, shape, dtype=jnp.float32)``; a complex dtype draws the complex law.
    """
    method, coverage = check_method(method, coverage)  # validates method and coverage at once

    def init(key, shape, dtype=None):
        import jax  # noqa: PLC0415 (optional framework: imported only when an init runs)
        import jax.numpy as jnp  # noqa: PLC0415

        dtype = jnp.float32 if dtype is None else dtype
        layout = block_layout(shape, gates, axis=1)
        complex_ = jnp.issubdtype(dtype, jnp.complexfloating)
        std = block_std(method, layout.fan_in, field="complex" if complex_ else "real", coverage=coverage)
        # every block of one kernel has the same fan-in, hence the same std: one draw covers them
        return (std * jax.random.normal(key, tuple(shape), dtype)).astype(dtype)

    return init


def glorot(*, gates: int | None = None) -> Callable:
    """Glorot per gate block: N(0, 1/fan_in)."""
    return recurrent("glorot", gates=gates)


def rescaled_glorot(*, gates: int | None = None) -> Callable:
    """The paper's rescaled Glorot per gate block: N(0, 1/n) / s_n (n >= 164)."""
    return recurrent("rescaled", gates=gates)


def calibrated(coverage: float = DEFAULT_COVERAGE, *, gates: int | None = None) -> Callable:
    """Glorot / s per gate block with P(radius <= 1) = ``coverage`` at the block's width (any n >= 2)."""
    return recurrent("calibrated", coverage=coverage, gates=gates)


def half(*, gates: int | None = None) -> Callable:
    """Glorot/2 variance per gate block: N(0, 1/(2n)), radius about 0.71."""
    return recurrent("half", gates=gates)

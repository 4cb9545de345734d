"""Keras 3 adapter: width-aware recurrent initializers, gate blocks in columns, and a spectra callback.

A Keras ``recurrent_kernel`` is (units, gates*units): the gate blocks (LSTM i, f, c, o; GRU z, r, h)
stacked by columns, each read by the state of width ``units``. Keras's own ``orthogonal`` default
acts on the fused kernel, so no block is orthogonal (keras issue 9149); these initializers give each
block the law of its method at its own width (:mod:`specdiag._initializers`)::

    keras.layers.LSTM(256, recurrent_initializer=specdiag.keras.RescaledGlorot(seed=0))

Classes (``keras.initializers.Initializer`` subclasses, registered for serialization under the
package ``specdiag``): :class:`RecurrentInitializer` (any method), :class:`RescaledGlorot`,
:class:`CalibratedGlorot`, :class:`HalfGlorot`; and :class:`SpectralMonitorCallback`, the training
monitor (:mod:`specdiag._monitor`). keras is
imported on first access to one of them, so ``import specdiag`` never imports it.
"""

from __future__ import annotations

#: defined on first access (importing keras), hence not assigned at import time
_LAZY = ("RecurrentInitializer", "RescaledGlorot", "CalibratedGlorot", "HalfGlorot", "SpectralMonitorCallback")
__all__ = [*_LAZY]


def _define() -> dict:
    """Define the classes (imports keras) and cache them in this module's globals."""
    try:
        import keras  # noqa: PLC0415 (optional framework: imported only when used)
    except ImportError:
        from ._errors import InputError  # noqa: PLC0415

        raise InputError("specdiag.keras needs Keras 3 (pip install 'specdiag[keras]')") from None
    from ._initializers import DEFAULT_COVERAGE, block_layout, block_std, check_method  # noqa: PLC0415

    register = keras.saving.register_keras_serializable(package="specdiag")

    @register
    class RecurrentInitializer(keras.initializers.Initializer):
        """A recurrent kernel (fan_in, gates*h), gate blocks in columns, each with ``method``'s std at fan-in.

        Parameters
        ----------
        method : {"glorot", "rescaled", "calibrated", "half"}
            ``rescaled`` is refused at width <= 163 (use ``calibrated``).
        seed : int or keras.random.SeedGenerator, optional
            An int gives the same values on every call (as Keras's own initializers); a
            SeedGenerator, or None (a fresh one), new values on each call.
        coverage : float
            Target P(radius <= 1) per block for ``calibrated``.
        gates : int, optional
            Blocks stacked by columns; default: columns / rows.
        """

        def __init__(
            self, method: str = "rescaled", seed=None, coverage: float = DEFAULT_COVERAGE, gates: int | None = None
        ):
            method, coverage = check_method(method, coverage)  # validates method and coverage now, not at build time
            self.method, self.coverage, self.gates = method, float(coverage), gates
            self._init_seed = seed
            if isinstance(seed, dict):
                seed = keras.saving.deserialize_keras_object(seed)
            self.seed = keras.random.SeedGenerator() if seed is None else seed

        def __call__(self, shape, dtype=None):
            layout = block_layout(shape, self.gates, axis=1)
            std = block_std(self.method, layout.fan_in, coverage=self.coverage)
            # every block of one kernel has the same fan-in, hence the same std: one draw covers them
            return keras.random.normal(shape, stddev=std, dtype=dtype, seed=self.seed)

        def get_config(self) -> dict:
            return {
                "method": self.method,
                "seed": keras.saving.serialize_keras_object(self._init_seed),
                "coverage": self.coverage,
                "gates": self.gates,
            }

    @register
    class RescaledGlorot(RecurrentInitializer):
        """The paper's rescaled Glorot per gate block: N(0, 1/units) / s_units (units >= 164)."""

        def __init__(self, seed=None, gates: int | None = None):
            super().__init__("rescaled", seed=seed, gates=gates)

        def get_config(self) -> dict:
            config = super().get_config()
            return {"seed": config["seed"], "gates": config["gates"]}

    @register
    class CalibratedGlorot(RecurrentInitializer):
        """Glorot / s per gate block with P(radius <= 1) = ``coverage`` at width units (any units >= 2)."""

        def __init__(self, coverage: float = DEFAULT_COVERAGE, seed=None, gates: int | None = None):
            super().__init__("calibrated", seed=seed, coverage=coverage, gates=gates)

        def get_config(self) -> dict:
            config = super().get_config()
            return {"coverage": config["coverage"], "seed": config["seed"], "gates": config["gates"]}

    @register
    class HalfGlorot(RecurrentInitializer):
        """Glorot/2 variance per gate block: N(0, 1/(2 units)), radius about 0.71."""

        def __init__(self, seed=None, gates: int | None = None):
            super().__init__("half", seed=seed, gates=gates)

        def get_config(self) -> dict:
            config = super().get_config()
            return {"seed": config["seed"], "gates": config["gates"]}

    from ._keras_monitor import define_callback  # noqa: PLC0415 (keras is imported by now)

    callback = define_callback(keras)
    classes = {
        cls.__name__: cls for cls in (RecurrentInitializer, RescaledGlorot, CalibratedGlorot, HalfGlorot, callback)
    }
    for cls in classes.values():
        cls.__qualname__ = cls.__name__  # importable as specdiag.keras.<name>
    return classes


def __getattr__(name: str):
    if name in _LAZY:
        globals().update(_define())
        return globals()[name]
    raise AttributeError(f"module 'specdiag.keras' has no attribute {name!r}")

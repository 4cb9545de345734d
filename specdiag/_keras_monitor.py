"""``specdiag.keras.SpectralMonitorCallback``: the training monitor for Keras 3 models.

Keras recurrent layers store ``kernel`` (i, g h), ``recurrent_kernel`` (h, g h) and ``bias`` with
the gates by columns (LSTM i, f, c, o; GRU z, r, h); :func:`keras_cells` converts them to the
canonical PyTorch layout of :class:`~specdiag._monitor.CellWeights` (transposed, GRU blocks
reordered to r, z, n; a GRU with ``reset_after`` has the PyTorch cell, its bias rows are the input
and recurrent biases). Defined by :mod:`specdiag.keras` once keras is imported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._monitor import CellWeights, MonitorCore

__all__ = ["keras_cells", "define_callback"]


def _numpy(variable) -> np.ndarray:
    value = getattr(variable, "value", variable)
    if hasattr(value, "detach"):  # torch backend (keras.ops.convert_to_numpy warns under NumPy 2 there)
        value = value.detach().cpu()
    return np.asarray(value, dtype=np.float64)


def _cell_of(layer):
    cell = getattr(layer, "cell", layer)
    name = type(cell).__name__
    if name in ("LSTMCell", "GRUCell", "SimpleRNNCell") and getattr(cell, "built", False):
        return cell, name
    return None, name


def keras_cells(model) -> list[CellWeights]:
    """Every built Keras LSTM/GRU/SimpleRNN cell in ``model`` (layers searched recursively), canonical layout."""
    cells, seen = [], set()
    for layer in getattr(model, "_flatten_layers", lambda **_: [model])(include_self=True, recursive=True):
        cell, name = _cell_of(layer)
        if cell is None or id(cell) in seen:  # a recurrent layer and its cell are both layers
            continue
        seen.add(id(cell))
        k = _numpy(cell.recurrent_kernel).T  # (g h, h), gate blocks by rows
        w_ih = _numpy(cell.kernel).T
        bias = _numpy(cell.bias) if getattr(cell, "use_bias", False) and cell.bias is not None else None
        b_ih, b_hh, note = bias, None, None
        if name == "GRUCell":
            h = k.shape[1]
            order = np.r_[h : 2 * h, 0:h, 2 * h : 3 * h]  # Keras z, r, h -> PyTorch r, z, n
            k, w_ih, kind = k[order], w_ih[order], "gru"
            if bias is not None:
                b_ih, b_hh = (bias[0][order], bias[1][order]) if bias.ndim == 2 else (bias[order], None)
            if not getattr(cell, "reset_after", True):
                note = "a GRU with reset_after=False is not the canonical (PyTorch) cell: no Lyapunov estimate"
        elif name == "LSTMCell":
            kind = "lstm"
        else:
            activation = getattr(getattr(cell, "activation", None), "__name__", "tanh")
            kind = {"tanh": "rnn_tanh", "relu": "rnn_relu", "linear": "linear"}.get(activation, "rnn_tanh")
            if activation not in ("tanh", "relu", "linear"):
                note = f"SimpleRNN activation {activation!r}: no Lyapunov estimate"
        cells.append(CellWeights(layer.name, kind, k, w_ih=w_ih, b_ih=b_ih, b_hh=b_hh, lyapunov_note=note))
    return cells


def define_callback(keras):
    """The ``keras.callbacks.Callback`` subclass (keras already imported)."""

    class SpectralMonitorCallback(keras.callbacks.Callback):
        """Every ``every`` training batches, each recurrent layer's radius and Lyapunov exponent as JSON lines.

        Parameters are those of :class:`specdiag.torch.SpectralMonitor` (``every``, ``log``,
        ``max_radius``, ``tensorboard``, ``lyapunov``, ``blocks``); the step counts training
        batches over all epochs, from 0.
        """

        def __init__(
            self,
            every: int = 100,
            log: str | Path | None = "runs/spectra.jsonl",
            max_radius: float = 1.0,
            tensorboard=None,
            lyapunov: bool = True,
            blocks: bool = False,
        ):
            super().__init__()
            self.core = MonitorCore(
                every=every, log=log, max_radius=max_radius, tensorboard=tensorboard, lyapunov=lyapunov, blocks=blocks
            )
            self.global_step = 0
            self.rows: list = []

        def on_train_batch_end(self, batch, logs=None):
            if self.core.due(self.global_step):
                self.rows = self.core.record(self.global_step, keras_cells(self.model))
            self.global_step += 1

    return SpectralMonitorCallback

"""``specdiag.torch.SpectralMonitor``: recurrent spectra of a PyTorch model during training, and its
Lightning and Hugging Face callbacks (defined only when those libraries are importable).

Imported on first access to one of these names in :mod:`specdiag.torch` (it imports torch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ._errors import InputError
from ._monitor import CellWeights, MonitorCore

# LightningSpectralMonitor and HFSpectralMonitor are defined on first access (module __getattr__),
# only where their library is importable, so they are not listed here
__all__ = ["SpectralMonitor", "torch_cells"]


def _array(t) -> np.ndarray | None:
    return None if t is None else t.detach().to("cpu", torch.float64).numpy()


def _kind(module) -> str:
    if isinstance(module, (torch.nn.LSTM, torch.nn.LSTMCell)):
        return "lstm"
    if isinstance(module, (torch.nn.GRU, torch.nn.GRUCell)):
        return "gru"
    mode = getattr(module, "mode", None) or (
        "RNN_RELU" if getattr(module, "nonlinearity", "tanh") == "relu" else "RNN_TANH"
    )
    return {"LSTM": "lstm", "GRU": "gru", "RNN_RELU": "rnn_relu"}.get(mode, "rnn_tanh")


def torch_cells(model) -> list[CellWeights]:
    """Every recurrent cell of ``model`` (each layer and direction of nn.RNN/GRU/LSTM, each Cell
    module) as float64 :class:`~specdiag._monitor.CellWeights`, named by its ``weight_hh`` parameter."""
    from .torch import recurrent_layers  # noqa: PLC0415 (a sibling module that imports this one lazily)

    cells = []
    with torch.no_grad():
        for prefix, module, _gates in recurrent_layers(model):
            dotted = f"{prefix}." if prefix else ""
            params = dict(module.named_parameters(recurse=False))
            for name in params:
                if not name.startswith("weight_hh"):
                    continue
                suffix = name[len("weight_hh") :]  # "_l0", "_l1_reverse", or "" for a Cell module
                cells.append(
                    CellWeights(
                        dotted + name,
                        _kind(module),
                        params[name].detach().to("cpu", torch.float64).numpy(),
                        w_ih=_array(params.get("weight_ih" + suffix)),
                        b_ih=_array(params.get("bias_ih" + suffix)),
                        b_hh=_array(params.get("bias_hh" + suffix)),
                        w_hr=_array(params.get("weight_hr" + suffix)),
                    )
                )
    return cells


class SpectralMonitor:
    """Every ``every`` steps, each recurrent tensor's radius and its cell's Lyapunov exponent, as JSON lines.

    Parameters
    ----------
    model : torch.nn.Module
        Searched for nn.RNN/LSTM/GRU and RNNCell/LSTMCell/GRUCell (each layer and direction is a cell).
    every : int
        :meth:`step` measures when ``global_step % every == 0``.
    log : str or Path or None
        JSON-lines file, appended to (None: no file).
    max_radius : float
        The first radius above it warns once per tensor (a ``RuntimeWarning``); a first positive
        Lyapunov exponent warns once too.
    tensorboard : None, True, a directory, or a SummaryWriter
        Also write ``specdiag/<tensor>/radius`` and ``.../lyapunov`` scalars (needs the
        ``tensorboard`` package; without it one log line says so).
    lyapunov : bool
        Estimate the Lyapunov exponents (most of the cost).
    blocks : bool
        Also record every gate block's radius.

    Examples
    --------
    ::

        monitor = SpectralMonitor(model, every=100, log="runs/spectra.jsonl")
        for global_step, batch in enumerate(loader):
            ...
            monitor.step(global_step)
    """

    def __init__(
        self,
        model,
        every: int = 100,
        log: str | Path | None = "runs/spectra.jsonl",
        max_radius: float = 1.0,
        tensorboard=None,
        lyapunov: bool = True,
        blocks: bool = False,
    ):
        if not isinstance(model, torch.nn.Module):
            raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}", param="model")
        if not torch_cells(model):
            raise InputError(
                f"model has no nn.RNN/LSTM/GRU or RNNCell/LSTMCell/GRUCell ({type(model).__name__}): nothing to "
                "monitor",
                param="model",
            )
        self.model = model
        self.core = MonitorCore(
            every=every, log=log, max_radius=max_radius, tensorboard=tensorboard, lyapunov=lyapunov, blocks=blocks
        )

    def step(self, global_step: int) -> list[dict] | None:
        """Measure when ``global_step`` is a multiple of ``every``: the rows written, else None."""
        if not self.core.due(global_step):
            return None
        return self.core.record(global_step, torch_cells(self.model))

    @property
    def last_seconds(self) -> float | None:
        """Seconds the last measuring call took."""
        return self.core.last_seconds


def _lightning_callback_base():
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            import importlib  # noqa: PLC0415

            return importlib.import_module(name).Callback
        except ImportError:
            continue
    raise InputError("LightningSpectralMonitor needs Lightning (pip install lightning)")


class _DeferredMonitor:
    """What the Lightning and Hugging Face callbacks share: the :class:`SpectralMonitor` keywords,
    kept until the first step hands over the model (a callback is built before the model it watches)."""

    def __init__(
        self,
        every: int = 100,
        log: str | Path | None = "runs/spectra.jsonl",
        max_radius: float = 1.0,
        tensorboard=None,
        lyapunov: bool = True,
    ):
        super().__init__()  # the library's callback base, next in the subclass's MRO
        self.options = {
            "every": every,
            "log": log,
            "max_radius": max_radius,
            "tensorboard": tensorboard,
            "lyapunov": lyapunov,
        }
        self.monitor: SpectralMonitor | None = None

    def _step(self, model, global_step: int) -> None:
        """Measure ``model`` at ``global_step`` (its monitor made on the first call)."""
        if self.monitor is None:
            self.monitor = SpectralMonitor(model, **self.options)
        self.monitor.step(global_step)


def _define_lightning():
    base = _lightning_callback_base()

    class LightningSpectralMonitor(_DeferredMonitor, base):
        """Lightning callback: :class:`SpectralMonitor` on the LightningModule at ``trainer.global_step``."""

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self._step(pl_module, trainer.global_step)

    return LightningSpectralMonitor


def _define_hf():
    try:
        from transformers import TrainerCallback  # noqa: PLC0415 (optional: only when asked for)
    except ImportError:
        raise InputError("HFSpectralMonitor needs Hugging Face transformers (pip install transformers)") from None

    class HFSpectralMonitor(_DeferredMonitor, TrainerCallback):
        """Hugging Face ``TrainerCallback``: :class:`SpectralMonitor` on the trained model at ``state.global_step``."""

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if model is not None:
                self._step(model, state.global_step)
            return control

    return HFSpectralMonitor


def __getattr__(name: str):
    makers = {"LightningSpectralMonitor": _define_lightning, "HFSpectralMonitor": _define_hf}
    if name in makers:
        value = makers[name]()
        globals()[name] = value
        return value
    raise AttributeError(f"module 'specdiag._torch_monitor' has no attribute {name!r}")

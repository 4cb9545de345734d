"""PyTorch adapter: per-gate-block recurrent initializers and a training monitor of recurrent spectra.

Initializers follow ``torch.nn.init``: a trailing underscore, the tensor filled in place under
``torch.no_grad()`` and returned, ``generator=`` honoured. A recurrent kernel ``weight_hh`` is
(gates*h, w) with its gate blocks stacked by rows (LSTM i, f, g, o; GRU r, z, n); each (h, w) block
is drawn on its own with the std its method gives at its own fan-in w (SPEC sections 1 and 3;
:mod:`specdiag._initializers`). ``gates=None`` infers the count from the shape (rows / columns).

    import torch, specdiag.torch as sdt
    lstm = torch.nn.LSTM(8, 200)
    sdt.init_recurrent_(lstm, method="rescaled", generator=torch.Generator().manual_seed(0))  # ['weight_hh_l0']

``torch`` is imported inside the functions, so ``import specdiag`` never imports it.
"""

from __future__ import annotations

from typing import Any

from ._errors import InputError
from ._initializers import DEFAULT_COVERAGE, block_layout, block_std, check_method

__all__ = [
    "recurrent_",
    "glorot_",
    "rescaled_glorot_",
    "calibrated_",
    "half_",
    "init_recurrent_",
    "recurrent_layers",
    *("SpectralMonitor",),  # defined on first access (imports torch); see __getattr__
]
#: defined on first access; the callbacks only where Lightning / transformers are importable
_LAZY = ("SpectralMonitor", "LightningSpectralMonitor", "HFSpectralMonitor")

#: gate blocks of each torch recurrent layer type (by class name, layer and Cell variants)
GATES = {"RNN": 1, "RNNCell": 1, "GRU": 3, "GRUCell": 3, "LSTM": 4, "LSTMCell": 4}


def _torch():
    try:
        import torch  # noqa: PLC0415 (optional framework: imported only when used)
    except ImportError:
        raise InputError("specdiag.torch needs PyTorch (pip install 'specdiag[torch]')") from None
    return torch


def recurrent_(
    tensor, method: str = "rescaled", *, gates: int | None = None, coverage: float = DEFAULT_COVERAGE, generator=None
):
    """Fill a stacked recurrent kernel in place, gate block by gate block, with ``method``.

    Parameters
    ----------
    tensor : torch.Tensor
        A (gates*h, w) kernel, gate blocks stacked by rows (``weight_hh_l0``, ``weight_hh``). Real
        tensors get the real law, complex tensors the complex one (E|W_ij|^2 = std^2).
    method : {"glorot", "rescaled", "calibrated", "half"}
        See :mod:`specdiag._initializers`. ``rescaled`` is refused at block width n <= 163.
    gates : int, optional
        Blocks stacked by rows (1 RNN, 3 GRU, 4 LSTM); default: rows / columns.
    coverage : float
        Target P(radius <= 1) per block for ``calibrated``.
    generator : torch.Generator, optional
        Source of the normals (as in ``torch.nn.init``).

    Returns
    -------
    torch.Tensor
        ``tensor``, filled.
    """
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        raise InputError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}", param="tensor")
    layout = block_layout(tuple(tensor.shape), gates, axis=0)
    std = block_std(method, layout.fan_in, field="complex" if tensor.is_complex() else "real", coverage=coverage)
    with torch.no_grad():
        for index in layout.slices():
            tensor[index].normal_(0.0, std, generator=generator)
    return tensor


def glorot_(tensor, gates: int | None = None, generator=None):
    """Glorot per gate block: N(0, 1/w) for blocks of fan-in w (radius just above 1). See :func:`recurrent_`."""
    return recurrent_(tensor, "glorot", gates=gates, generator=generator)


def rescaled_glorot_(tensor, gates: int | None = None, generator=None):
    """The paper's rescaled Glorot per gate block: N(0, 1/w) / s_w (w >= 164; refused below). See :func:`recurrent_`."""
    return recurrent_(tensor, "rescaled", gates=gates, generator=generator)


def calibrated_(tensor, gates: int | None = None, coverage: float = DEFAULT_COVERAGE, generator=None):
    """Glorot / s per gate block with P(radius <= 1) = ``coverage`` at the block's width (any w >= 2). See
    :func:`recurrent_`."""
    return recurrent_(tensor, "calibrated", gates=gates, coverage=coverage, generator=generator)


def half_(tensor, gates: int | None = None, generator=None):
    """Glorot/2 variance per gate block: N(0, 1/(2w)), radius about 0.71. See :func:`recurrent_`."""
    return recurrent_(tensor, "half", gates=gates, generator=generator)


def recurrent_layers(model) -> list[tuple[str, Any, int]]:
    """(qualified name, module, gates) of every nn.RNN/LSTM/GRU and RNNCell/LSTMCell/GRUCell in ``model``
    (``model`` itself included), in ``named_modules`` order."""
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}", param="model")
    bases = (torch.nn.RNNBase, torch.nn.RNNCellBase)
    found = []
    for name, module in model.named_modules():
        if isinstance(module, bases):
            kind = "RNN" if isinstance(module, (torch.nn.RNN, torch.nn.RNNCell)) else None
            for cls in ("LSTM", "GRU", "LSTMCell", "GRUCell", "RNNCell"):
                if isinstance(module, getattr(torch.nn, cls)):
                    kind = cls
                    break
            if kind is None:  # a custom RNNBase subclass: its mode says the cell
                kind = {"LSTM": "LSTM", "GRU": "GRU"}.get(getattr(module, "mode", ""), "RNN")
            found.append((name, module, GATES[kind]))
    return found


def init_recurrent_(model, method: str = "rescaled", coverage: float = DEFAULT_COVERAGE, generator=None) -> list[str]:
    """Initialize the recurrent kernel of every recurrent layer in ``model`` in place, per gate block.

    Every ``weight_hh_l{k}[_reverse]`` of nn.RNN (1 gate), nn.GRU (3) and nn.LSTM (4), and every
    ``weight_hh`` of RNNCell/GRUCell/LSTMCell, is filled by :func:`recurrent_` with ``method``.
    Input weights and biases are left as they are.

    LSTM with ``proj_size`` p: ``weight_hh_l{k}`` is (4h, p) and the recurrence through gate g is
    the p x p matrix ``weight_hr @ diag(.) @ W_g``. Each (h, p) block gets the method's std at fan-in
    p, and ``weight_hr_l{k}`` (p, h) gets Glorot N(0, 1/h), so the product has the Glorot variance
    1/p per entry. Its radius then follows the law of a product of two Gaussian matrices, not the law
    ``specdiag radius`` reports: the rescaling is not calibrated for it.

    Parameters
    ----------
    model : torch.nn.Module
    method : {"glorot", "rescaled", "calibrated", "half"}
    coverage : float
        Target P(radius <= 1) per block for ``calibrated``.
    generator : torch.Generator, optional

    Returns
    -------
    list of str
        The qualified names of the parameters filled, in order.
    """
    layers = recurrent_layers(model)
    method, coverage = check_method(method, coverage)
    if not layers:
        raise InputError(
            f"model has no nn.RNN/LSTM/GRU or RNNCell/LSTMCell/GRUCell ({type(model).__name__}): nothing to initialize",
            param="model",
        )
    done = []
    for prefix, module, gates in layers:
        dotted = f"{prefix}." if prefix else ""
        for name, param in module.named_parameters(recurse=False):
            if name.startswith("weight_hh"):
                recurrent_(param, method, gates=gates, coverage=coverage, generator=generator)
                done.append(dotted + name)
            elif name.startswith("weight_hr"):
                _fan_in_normal_(param, generator)
                done.append(dotted + name)
    return done


def _fan_in_normal_(tensor, generator) -> None:
    """N(0, 1/fan_in) for a non-square (p, h) projection (fan-in h)."""
    torch = _torch()
    with torch.no_grad():
        tensor.normal_(0.0, tensor.shape[1] ** -0.5, generator=generator)


def __getattr__(name: str):
    if name in _LAZY:
        from . import _torch_monitor  # noqa: PLC0415 (imports torch, and Lightning or transformers for their callbacks)

        value = getattr(_torch_monitor, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'specdiag.torch' has no attribute {name!r}")

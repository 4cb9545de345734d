"""Recurrent cells as maps s_t = F(x_t, s_{t-1}), with their Jacobian-vector products (SPEC section 8).

One canonical layout, PyTorch's: ``w_hh`` is (g h x p) with the gates stacked by rows (GRU r, z, n;
LSTM i, f, g, o), ``w_ih`` (g h x i), ``b_ih``/``b_hh`` (g h), and ``w_hr`` (p x h) for an LSTM with
projections (p = h without). Keras, Flax and ONNX weights are converted to it when read
(:mod:`specdiag._discovery`). The state s is h (RNN, GRU) or (h, c) concatenated (LSTM: p + h).

Every function works on a batch of B states ``s`` (B x d) and K tangent vectors per state
``v`` (B x K x d) at once, in float64; the products with ``w_hh`` of the states and the tangents
are one matrix product. :func:`jacobian` builds the full d x d Jacobian from the same code with
K = d unit vectors, so the Jacobian tested against ``torch.autograd`` is the one the Lyapunov
exponent uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._errors import InputError

__all__ = ["CELL_KINDS", "GATES", "Cell", "step", "jacobian", "input_drive"]

#: cell kinds: a linear recurrence h' = W h + x, tanh/ReLU RNNs, GRU and LSTM
CELL_KINDS = ("linear", "rnn_tanh", "rnn_relu", "gru", "lstm")
#: the gates stacked in ``w_hh`` (canonical, PyTorch order)
GATES = {"linear": "", "rnn_tanh": "", "rnn_relu": "", "gru": "rzn", "lstm": "ifgo"}


@dataclass(frozen=True)
class Cell:
    """One recurrent cell in the canonical (PyTorch) layout, float64.

    Attributes
    ----------
    kind : str
        One of :data:`CELL_KINDS`.
    w_hh : ndarray
        (g h x p) hidden-to-hidden weights, gates stacked by rows.
    w_ih : ndarray or None
        (g h x i) input weights; None when not known (the driven regime is then unavailable).
    b_ih, b_hh : ndarray or None
        Input and hidden biases (g h); None is zero. For a GRU b_hh's n part sits inside r * (.).
    w_hr : ndarray or None
        (p x h) LSTM projection (``proj_size``).
    linear_before_reset : bool
        GRU only: True (PyTorch, Keras reset_after, Flax) applies r to W_hn h + b_hn; False (ONNX's
        default, Keras reset_after=False) computes W_hn (r * h).
    """

    kind: str
    w_hh: np.ndarray
    w_ih: np.ndarray | None = None
    b_ih: np.ndarray | None = None
    b_hh: np.ndarray | None = None
    w_hr: np.ndarray | None = None
    linear_before_reset: bool = True

    def __post_init__(self) -> None:
        if self.kind not in CELL_KINDS:
            raise InputError(f"cell kind must be one of {', '.join(CELL_KINDS)}, got {self.kind!r}", param="cell")
        w = np.asarray(self.w_hh, dtype=np.float64)
        object.__setattr__(self, "w_hh", w)
        gates = max(len(GATES[self.kind]), 1)
        if w.ndim != 2 or w.shape[0] % gates:
            raise InputError(f"cell w_hh has shape {w.shape}: a {self.kind} needs ({gates} h x h)", param="cell")
        h = w.shape[0] // gates
        p = h if self.w_hr is None else np.shape(self.w_hr)[0]
        if w.shape[1] != p or (self.w_hr is not None and np.shape(self.w_hr) != (p, h)):
            raise InputError(
                f"cell w_hh has shape {w.shape} with w_hr {None if self.w_hr is None else np.shape(self.w_hr)}: "
                f"need ({gates} h x p) and (p x h)",
                param="cell",
            )
        for name in ("w_ih", "b_ih", "b_hh", "w_hr"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, np.asarray(value, dtype=np.float64))
        if self.w_ih is not None and (self.w_ih.ndim != 2 or self.w_ih.shape[0] != w.shape[0]):
            raise InputError(f"cell w_ih has shape {self.w_ih.shape}: need ({w.shape[0]} x input size)", param="cell")
        for name in ("b_ih", "b_hh"):
            value = getattr(self, name)
            if value is not None and value.shape != (w.shape[0],):
                raise InputError(f"cell {name} has shape {value.shape}: need ({w.shape[0]},)", param="cell")

    @property
    def hidden_size(self) -> int:
        """h: the width of each gate."""
        return self.w_hh.shape[0] // max(len(GATES[self.kind]), 1)

    @property
    def output_size(self) -> int:
        """p: the width of the hidden output h (the projection size, else h)."""
        return self.w_hh.shape[1]

    @property
    def state_size(self) -> int:
        """d: the dimension of the state s ((h, c) for an LSTM)."""
        return self.output_size + (self.hidden_size if self.kind == "lstm" else 0)

    @property
    def input_size(self) -> int | None:
        """The input width (None when the input weights are not known)."""
        return None if self.w_ih is None else self.w_ih.shape[1]

    def gate_blocks(self) -> dict[str, np.ndarray]:
        """gate letter -> its (h x p) block of ``w_hh`` ({"": w_hh} for one-gate cells)."""
        letters = GATES[self.kind] or " "
        h = self.hidden_size
        return {g.strip(): self.w_hh[i * h : (i + 1) * h] for i, g in enumerate(letters)}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def input_drive(cell: Cell, x: np.ndarray | None, batch: int) -> np.ndarray:
    """The input's pre-activations x W_ih^T + b_ih (B x g h); just b_ih (or 0) without input."""
    rows = cell.w_hh.shape[0]
    if x is None or cell.w_ih is None:
        drive = np.zeros((batch, rows))
    else:
        drive = x @ cell.w_ih.T
    if cell.b_ih is not None:
        drive = drive + cell.b_ih
    return drive


def _with_tangents(s: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s w^T, v w^T) as one matrix product (s: B x n, v: B x K x n)."""
    b, k, n = v.shape
    both = np.concatenate([s[:, None, :], v], axis=1).reshape(b * (k + 1), n) @ w.T
    both = both.reshape(b, k + 1, -1)
    return both[:, 0, :], both[:, 1:, :]


def step(cell: Cell, s: np.ndarray, v: np.ndarray, drive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of the cell and of its tangents: (F(s), J(s) v).

    Parameters
    ----------
    cell : Cell
    s : ndarray
        States, B x d.
    v : ndarray
        Tangent vectors, B x K x d.
    drive : ndarray
        :func:`input_drive` for this step, B x g h.

    Returns
    -------
    (ndarray, ndarray)
        The next states (B x d) and J v (B x K x d), J = dF/ds at ``s``.
    """
    kind = cell.kind
    if kind == "linear":
        a, da = _with_tangents(s, v, cell.w_hh)
        return a + drive, da
    if kind in ("rnn_tanh", "rnn_relu"):
        a, da = _with_tangents(s, v, cell.w_hh)
        pre = a + drive if cell.b_hh is None else a + drive + cell.b_hh
        if kind == "rnn_tanh":
            out = np.tanh(pre)
            return out, (1.0 - out * out)[:, None, :] * da
        return np.maximum(pre, 0.0), (pre > 0)[:, None, :] * da
    if kind == "gru":
        return _gru_step(cell, s, v, drive)
    return _lstm_step(cell, s, v, drive)


def _gru_step(cell: Cell, h: np.ndarray, v: np.ndarray, drive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_h = cell.hidden_size
    w = cell.w_hh
    bias = np.zeros(3 * n_h) if cell.b_hh is None else cell.b_hh
    if cell.linear_before_reset:
        a, da = _with_tangents(h, v, w)
        a = a + bias
    else:
        a, da = _with_tangents(h, v, w[: 2 * n_h])
        a = a + bias[: 2 * n_h]
    r = _sigmoid(drive[:, :n_h] + a[:, :n_h])
    z = _sigmoid(drive[:, n_h : 2 * n_h] + a[:, n_h : 2 * n_h])
    dr = (r * (1 - r))[:, None, :] * da[:, :, :n_h]
    dz = (z * (1 - z))[:, None, :] * da[:, :, n_h : 2 * n_h]
    if cell.linear_before_reset:
        an, dan = a[:, 2 * n_h :], da[:, :, 2 * n_h :]
        n = np.tanh(drive[:, 2 * n_h :] + r * an)
        dpre = dr * an[:, None, :] + r[:, None, :] * dan
    else:  # n = tanh(W_in x + b_in + W_hn (r h) + b_hn)
        rh = r * h
        drh = dr * h[:, None, :] + r[:, None, :] * v
        an, dan = _with_tangents(rh, drh, w[2 * n_h :])
        n = np.tanh(drive[:, 2 * n_h :] + an + bias[2 * n_h :])
        dpre = dan
    dn = (1 - n * n)[:, None, :] * dpre
    out = (1 - z) * n + z * h
    dout = (1 - z)[:, None, :] * dn + dz * (h - n)[:, None, :] + z[:, None, :] * v
    return out, dout


def _gate_scales(kind: str, n_h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, offset, slope) that turn one tanh over all gates into sigmoids and tanh at once.

    sigmoid(a) = 0.5 + 0.5 tanh(a / 2) with derivative 0.25 (1 - tanh^2); LSTM gates i, f, o are
    sigmoids and g a tanh.
    """
    half = np.full(n_h, 0.5)
    one = np.ones(n_h)
    parts = (half, half, one, half)
    scale = np.concatenate(parts)
    offset = np.concatenate([half, half, np.zeros(n_h), half])
    slope = np.concatenate([half / 2, half / 2, one, half / 2])
    return scale, offset, slope


def _lstm_step(cell: Cell, s: np.ndarray, v: np.ndarray, drive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_h, p = cell.hidden_size, cell.output_size
    h, c = s[:, :p], s[:, p:]
    dh, dc = v[:, :, :p], v[:, :, p:]
    a, da = _with_tangents(h, np.ascontiguousarray(dh), cell.w_hh)
    a = a + drive if cell.b_hh is None else a + drive + cell.b_hh
    scale, offset, slope = _gate_scales("lstm", n_h)
    th = np.tanh(a * scale)
    act = th * scale + offset  # i, f, o: sigmoid; g: tanh
    dact = da * ((1.0 - th * th) * slope)[:, None, :]
    i, f, g, o = (act[:, k * n_h : (k + 1) * n_h] for k in range(4))
    di, df, dg, do = (dact[:, :, k * n_h : (k + 1) * n_h] for k in range(4))
    c_new = f * c + i * g
    t = np.tanh(c_new)
    m = o * t
    dc_new = df * c[:, None, :] + f[:, None, :] * dc + di * g[:, None, :] + i[:, None, :] * dg
    dm = do * t[:, None, :] + (o * (1 - t * t))[:, None, :] * dc_new
    if cell.w_hr is not None:
        m, dm = _with_tangents(m, dm, cell.w_hr)
    return np.concatenate([m, c_new], axis=1), np.concatenate([dm, dc_new], axis=2)


def jacobian(cell: Cell, s: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
    """The d x d Jacobian dF/ds of the cell at state ``s`` (1-D) with input ``x`` (None: zero input)."""
    s = np.asarray(s, dtype=np.float64).reshape(1, -1)
    d = cell.state_size
    eye = np.eye(d)[None, :, :]
    xb = None if x is None else np.asarray(x, dtype=np.float64).reshape(1, -1)
    _, jv = step(cell, s, eye, input_drive(cell, xb, 1))
    return jv[0].T  # row k of jv is J e_k, i.e. column k of J

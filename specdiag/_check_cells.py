"""The verdict on one nonlinear cell (tanh/ReLU RNN, GRU, LSTM): its maximal Lyapunov exponent (SPEC section 8).

The gate is the growth of a perturbation over a sequence of length L = ``seq_len``, exp(lambda L),
against ``max_growth``: the figure a linear W's lambda = log rho(W) gives too. lambda comes from the
driven regime (x ~ N(0, input_scale^2 I) through the stored input weights) when they are known,
else from the zero-input regime. Both regimes, the rest state's linearized radius rho(J(s*)) and
the per-gate block radii are reported beside it as information, never as verdicts: a gated cell's
block radius says nothing about its stability (g2p_en's GRU blocks have radii 1.9-4.5 and it is
stable). ``max_radius`` applies to linear recurrences only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._cells import Cell
from ._lyapunov import LyapunovEstimate, log_radius, max_lyapunov, rest_state
from ._results import Result, plain

__all__ = ["CellCheck", "check_cell", "LN10"]

LN10 = math.log(10.0)
#: standard errors of lambda that bring a pass within reach of the gate earn a warning
WARN_SE = 2.0


@dataclass(frozen=True)
class CellCheck(Result):
    """The diagnosis of one cell (one layer and direction); readable as ``check["lyapunov"]``.

    ``lyapunov`` (per step) and ``lyapunov_se`` are the gated regime's; ``log10_growth`` is
    lambda * seq_len / ln 10 (``growth`` its value, None when it overflows float64). ``radius`` is
    None: a cell has no single radius (``rest_state["radius"]`` and ``gate_radii`` are information).
    """

    name: str
    shape: list
    dtype: str
    cell: str
    direction: str | None
    verdict: str
    reasons: list
    rule: str
    rule_reason: str
    source_tensor: str | None
    seq_len: int
    lyapunov: float
    lyapunov_se: float
    regime: str
    input_scale: float | None
    log10_growth: float
    growth: float | None
    lyapunov_driven: dict | None
    lyapunov_zero_input: dict
    rest_state: dict
    gate_radii: dict
    hidden_size: int
    input_size: int | None
    radius: float | None = None
    diagonal: bool = False
    eigenvalues: Any = field(default=None, repr=False, compare=False)

    def __getitem__(self, key: str):
        return getattr(self, key)

    def to_dict(self) -> dict:
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "eigenvalues"}


def gate_radii(cell: Cell) -> dict:
    """gate letter -> rho of its block of w_hh (times w_hr for a projected LSTM): information only."""
    out = {}
    for gate, block in cell.gate_blocks().items():
        square = block @ cell.w_hr if cell.w_hr is not None else block
        value = log_radius(square)
        out[gate or "W"] = math.exp(value) if value < 709 else None
    return out


def _verdict(estimate: LyapunovEstimate, seq_len: int, max_growth: float | None) -> tuple[str, list]:
    lam, se = estimate.value, estimate.stderr
    where = f"lambda = {lam:.4g} +- {se:.2g} per step, {estimate.regime}"
    if estimate.exploded:
        return "fail", [f"{estimate.note} ({where})"]
    if max_growth is None:
        return "ok", []
    log10_growth = lam * seq_len / LN10
    limit = math.log10(max_growth)
    if log10_growth > limit:
        return "fail", [
            f"perturbation growth exp(lambda t) = 10^{log10_growth:.2f} at t = {seq_len} "
            f"> max_growth {max_growth:g} ({where})"
        ]
    upper = (lam + WARN_SE * se) * seq_len / LN10
    if upper > limit - 1:
        return "warn", [
            f"perturbation growth exp(lambda t) = 10^{log10_growth:.2f} at t = {seq_len} "
            f"within 10x of max_growth {max_growth:g} "
            f"(2 SE included; {where})"
        ]
    return "ok", []


def check_cell(
    name: str,
    cell: Cell,
    *,
    seq_len: int = 1000,
    max_growth: float | None = 1e3,
    input_scale: float = 1.0,
    seed: int = 0,
    stored_dtype: str = "float64",
    rule: str = "cell",
    rule_reason: str = "",
    source_tensor: str | None = None,
    direction: str | None = None,
    keep_eigenvalues: bool = False,
) -> CellCheck:
    """Lyapunov exponents in both regimes, rest state and gate radii of one cell, and its verdict.

    Parameters
    ----------
    name : str
        Shown in the report.
    cell : Cell
        The cell (:class:`specdiag._cells.Cell`).
    seq_len, max_growth
        The gate: fail when exp(lambda seq_len) > max_growth (None: not gated).
    input_scale : float
        Standard deviation of the driving input in the driven regime.
    seed : int
        Seeds both Lyapunov estimates.
    stored_dtype, rule, rule_reason, source_tensor, direction
        Provenance, printed with the result.
    keep_eigenvalues : bool
        Keep the eigenvalues of the rest state's Jacobian (for figures; never in ``to_dict()``).

    Returns
    -------
    CellCheck
    """
    zero = max_lyapunov(cell, regime="zero-input", seed=seed)
    driven = max_lyapunov(cell, regime="driven", input_scale=input_scale, seed=seed) if cell.w_ih is not None else None
    gated = driven or zero
    verdict, reasons = _verdict(gated, seq_len, max_growth)
    _, rest = rest_state(cell, keep_eigenvalues=keep_eigenvalues)
    log10_growth = gated.value * seq_len / LN10
    return CellCheck(
        name=name,
        shape=list(cell.w_hh.shape),
        dtype=str(stored_dtype),
        cell=cell.kind,
        direction=direction,
        verdict=verdict,
        reasons=reasons,
        rule=rule,
        rule_reason=rule_reason,
        source_tensor=source_tensor,
        seq_len=seq_len,
        lyapunov=gated.value,
        lyapunov_se=gated.stderr,
        regime=gated.regime,
        input_scale=gated.input_scale,
        log10_growth=log10_growth,
        growth=10.0**log10_growth if log10_growth < 300 else None,
        lyapunov_driven=None if driven is None else driven.to_dict(),
        lyapunov_zero_input=zero.to_dict(),
        rest_state=rest.to_dict(),
        gate_radii=gate_radii(cell),
        hidden_size=cell.hidden_size,
        input_size=cell.input_size,
        eigenvalues=np.asarray(rest.eigenvalues) if keep_eigenvalues and rest.eigenvalues is not None else None,
    )

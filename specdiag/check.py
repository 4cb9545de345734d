"""Stability checks of a user's own recurrent matrices: radius, growth at a sequence length, verdict.

For each matrix W (or diagonal of eigenvalues) at sequence length t, in double precision:
- the spectral radius and the number of eigenvalues outside the unit circle;
- the spectral norm (largest singular value: transient growth even when rho < 1);
- log10 ||W^t||_F^2 / n, the mean-square gain of W^t on an isotropic input (E_x ||W^t x||^2 / E||x||^2);
- log10 of the predicted hidden-state growth E||h_t||^2 / (t sigma^2 n) = sum_{k<t} ||W^k||_F^2 / (t n)
  for iid inputs (1 for an orthogonal W; it explodes when rho > 1);
- where the radius sits against the Glorot law at the same width.
All from one eigendecomposition; a defective W falls back to repeated squaring (dynamics module).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special

from .linalg import eigendecomposition, log_power_sums_from_eig, spectral_norm
from .pool import process_map
from .results import Result
from .validation import positive_number, whole_number
from .weights import read_tensors, select_tensors

__all__ = ["Thresholds", "CheckReport", "check_matrix", "check_tensors", "check_file", "overall_verdict", "VERDICTS"]

LN10 = math.log(10.0)
VERDICTS = ("ok", "warn", "fail")
#: a radius within this fraction below --max-radius earns a warning
WARN_MARGIN = 0.01
#: relative tolerance for "above a threshold": an orthogonal W computes rho = 1 + 1e-15
ROUNDOFF = 1e-9


@dataclass(frozen=True)
class Thresholds(Result):
    """What fails a matrix: its radius above ``max_radius``, or (when set) the predicted hidden-state
    growth at t = ``seq_len`` above ``max_growth``."""

    max_radius: float = 1.0
    seq_len: int = 1000
    max_growth: float | None = None

    def __post_init__(self):
        positive_number(self.max_radius, "max_radius")
        whole_number(self.seq_len, "seq_len", maximum=10**12)
        if self.max_growth is not None:
            positive_number(self.max_growth, "max_growth")


@dataclass(frozen=True)
class CheckReport(Result):
    """The diagnosis of every selected tensor of one source, and the overall verdict."""

    source: str
    thresholds: Thresholds
    tensors: list
    verdict: str
    elapsed_s: float


def _diagonal_log_sums(lam: np.ndarray, t: int) -> tuple[float, float]:
    """(log ||D^t||_F^2, log sum_{k<t} ||D^k||_F^2) for D = diag(lam), in log space."""
    log_mod2 = 2 * np.log(np.abs(lam))
    power = float(special.logsumexp(t * log_mod2))
    # sum_{k<t} r^k = (r^t - 1) / (r - 1), r = |lambda|^2; r = 1 gives t; r = 0 gives 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.exp(log_mod2)
        terms = np.where(
            np.abs(r - 1) < 1e-12,
            math.log(t),
            np.where(r > 1, t * log_mod2 + np.log(-np.expm1(-t * log_mod2)) - np.log(r - 1), np.log(-np.expm1(t * log_mod2)) - np.log1p(-r)),
        )
    terms = np.where(r == 0, 0.0, terms)
    return power, float(special.logsumexp(terms))


def glorot_context(radius: float, n: int) -> dict:
    """Where a radius sits against Glorot at width n, by Kostlan's exact (complex) law.

    Used for real W too: real Glorot radii follow it closely (slightly smaller mean, longer right
    tail), whereas the real asymptotic law overstates the spread 2-4x at practical widths.
    """
    from . import laws  # noqa: PLC0415 (scipy.stats, only when a context is asked for)

    law = laws.kostlan(n)
    percentile = float(law.cdf(radius))
    p_above_1 = float(law.sf(1.0))
    where = "typical of" if 0.05 <= percentile <= 0.95 else ("below" if percentile < 0.05 else "above")
    text = f"radius {radius:.4f}: {where} Glorot at n = {n} (percentile {100 * percentile:.1f}; Glorot P(rho > 1) = {p_above_1:.2f})"
    return {"percentile": percentile, "glorot_p_above_1": p_above_1, "source": "Kostlan exact law (complex Glorot)", "text": text}


def check_matrix(name: str, a: np.ndarray, thresholds: Thresholds) -> dict:
    """The full diagnosis of one matrix (2-D) or diagonal (1-D)."""
    diagonal = a.ndim == 1
    n = a.shape[0]
    t = thresholds.seq_len
    field = "complex" if np.iscomplexobj(a) else "real"
    if diagonal:
        lam = a.astype(np.complex128)
        log_power, log_sum = _diagonal_log_sums(lam, t)
        norm2 = float(np.abs(lam).max())
    else:
        w = a.astype(np.complex128 if field == "complex" else np.float64)
        lam, v, vinv = eigendecomposition(w)
        log_power, log_sum = (float(x[0]) for x in log_power_sums_from_eig(w, lam, v, vinv, [t]))
        norm2 = spectral_norm(w)
    moduli = np.abs(lam)
    radius = float(moduli.max())
    log10_power = (log_power - math.log(n)) / LN10
    log10_growth = (log_sum - math.log(t * n)) / LN10
    reasons, warnings = [], []
    if radius > thresholds.max_radius * (1 + ROUNDOFF):
        reasons.append(f"radius {radius:.4f} > --max-radius {thresholds.max_radius}")
    elif radius > (1 - WARN_MARGIN) * thresholds.max_radius:
        warnings.append(f"radius {radius:.4f} within {WARN_MARGIN:.0%} of --max-radius {thresholds.max_radius}")
    if thresholds.max_growth is not None:
        limit = math.log10(thresholds.max_growth)
        if log10_growth > limit:
            reasons.append(f"hidden-state growth 10^{log10_growth:.2f} at t = {t} > --max-growth {thresholds.max_growth:g}")
        elif log10_growth > limit - 1:
            warnings.append(f"hidden-state growth 10^{log10_growth:.2f} at t = {t} within 10x of --max-growth")
    verdict = "fail" if reasons else ("warn" if warnings else "ok")
    return {
        "name": name,
        "shape": list(a.shape),
        "dtype": str(a.dtype),
        "diagonal": diagonal,
        "radius": radius,
        "outside_unit_circle": int(np.sum(moduli > 1.0 + ROUNDOFF)),
        "spectral_norm": norm2,
        "seq_len": t,
        "log10_power_gain": log10_power,
        "log10_growth": log10_growth,
        "glorot": glorot_context(radius, n) if n >= 2 else None,
        "verdict": verdict,
        "reasons": reasons + warnings,
    }


def overall_verdict(results: list[dict]) -> str:
    """The worst verdict of ``results`` (ok < warn < fail)."""
    return max((r["verdict"] for r in results), key=VERDICTS.index, default="ok")


def _check_item(item) -> dict:
    name, array, thresholds = item
    return check_matrix(name, array, thresholds)


def check_tensors(tensors: dict, thresholds: Thresholds, *, workers: int | None = None, source: str = "<tensors>") -> CheckReport:
    """Diagnose each tensor (a name -> square matrix or 1-D diagonal mapping), one per process."""
    start = time.perf_counter()
    items = [(name, a, thresholds) for name, a in tensors.items()]
    results: list = [None] * len(items)
    for i, result in process_map(_check_item, items, workers=workers):
        results[i] = result
    return CheckReport(source, thresholds, results, overall_verdict(results), time.perf_counter() - start)


def check_file(
    path: str | Path,
    *,
    keys: list[str] | None = None,
    diagonal: bool = False,
    max_radius: float = 1.0,
    seq_len: int = 1000,
    max_growth: float | None = None,
    workers: int | None = None,
) -> CheckReport:
    """Read a weights file, select its recurrent matrices and diagnose each.

    Parameters
    ----------
    path : str or Path
        .npy, .npz, .safetensors, .pt/.pth (needs torch), .csv/.txt.
    keys : list of str, optional
        Tensor names or globs to check (default: every square 2-D tensor).
    diagonal : bool
        Also accept 1-D tensors as diagonals (eigenvalues).
    max_radius, seq_len, max_growth
        See :class:`Thresholds`.
    workers : int, optional
        Processes (default: every core), one BLAS thread each.

    Returns
    -------
    CheckReport
    """
    thresholds = Thresholds(max_radius=max_radius, seq_len=seq_len, max_growth=max_growth)
    tensors = select_tensors(read_tensors(path), keys or None, diagonal)
    return check_tensors(tensors, thresholds, workers=workers, source=str(path))

"""||W^k x|| trajectories and hidden-state norms ||h_t|| of h_t = W h_{t-1} + x_t, in log scale.

Propagation (SPEC section 4): each state is kept as a unit vector and the log of its norm, renormalized
every step, so t = 10,000 at n = 500 under Glorot (norm ~ 10^130, or far beyond float64 for the
expected curve) stays finite. All inputs of a matrix, and a chunk of matrices, advance together as
one batched matrix product per step (BLAS on CPU, cuBLAS on GPU).

Randomness: matrix i comes from stream (seed, MATRIX_STREAM, i), exactly as in ``spectra``; the
inputs of (matrix i, input j) from stream (seed, INPUT_STREAM, i, j), drawn sequentially over t, so
results do not depend on the chunk size. Inputs are generated on the host (NumPy) for every
device, so CPU and GPU runs see the same inputs.

Exact expectations for a given W: E_x ||W^k x||^2 = ||W^k||_F^2 and
E ||h_t||^2 = sigma^2 sum_{k<t} ||W^k||_F^2, from one eigendecomposition W = V diag(lambda) V^{-1}
(O(n^2) per step), with a repeated-squaring fallback for ill-conditioned or defective W.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

from . import theory
from .backend import INPUT_STREAM, MATRIX_STREAM, array_module, device_rng, host_rng, real_dtype, resolve_device, to_host
from .linalg import log_frobenius_power_sums
from .results import Result
from .validation import choice, positive_number, seed_value, whole_number

__all__ = ["LN10", "KINDS", "NormCurves", "blowup_step", "record_steps", "simulate", "expected_log10_norm", "per_matrix_expected_log10_norm"]

LN10 = math.log(10.0)
KINDS = ("trajectory", "hidden")
_INPUT_BLOCK = 64  # time steps of inputs generated at once (hidden)


@dataclass(frozen=True)
class NormCurves(Result):
    """Per-matrix norm curves at the recorded steps.

    log10_mean[i, r]: log10 of the mean over inputs of the norm for matrix i at steps[r];
    log10_sd[i, r]: sd over inputs of log10 of the norm (a band in log space);
    log10_rms[i, r]: log10 sqrt(mean over inputs of the squared norm), the estimator of the exact
    per-matrix expectation sqrt(E_x ||.||^2).
    """

    kind: str
    steps: np.ndarray
    log10_mean: np.ndarray
    log10_sd: np.ndarray
    log10_rms: np.ndarray

    def summary(self) -> dict:
        """Across matrices, per step: mean, sd, median, q05, q95 of log10_mean; fraction grown 10x."""
        x = self.log10_mean
        q05, median, q95 = np.quantile(x, [0.05, 0.5, 0.95], axis=0)
        return {
            "mean_log10_norm": x.mean(axis=0),
            "std_log10_norm": x.std(axis=0, ddof=1) if x.shape[0] > 1 else np.zeros(x.shape[1]),
            "median_log10_norm": median,
            "q05_log10_norm": q05,
            "q95_log10_norm": q95,
            "fraction_grown_10x": np.mean(x - x[:, :1] > 1.0, axis=0),
        }

    def blowup_step(self, threshold: float) -> int | None:
        return blowup_step(self.steps, self.log10_mean, threshold)


def blowup_step(steps, log10_mean, threshold: float) -> int | None:
    """First recorded step where the mean over matrices of log10 norms exceeds its start by
    log10(threshold), or None."""
    mean = np.asarray(log10_mean).mean(axis=0)
    crossed = np.flatnonzero(mean - mean[0] >= math.log10(threshold))
    return int(steps[crossed[0]]) if crossed.size else None


def record_steps(kind: str, steps: int, every: int) -> np.ndarray:
    """Steps recorded: k = 0, every, 2 every, ..., K (trajectory) or t = 1, every, ..., T (hidden)."""
    choice(kind, "kind", KINDS)
    steps = whole_number(steps, "steps")
    every = whole_number(every, "every")
    first = 0 if kind == "trajectory" else 1
    return np.unique(np.concatenate([[first], np.arange(every, steps + 1, every), [steps]]))


def _column_norms(xp, y):
    return xp.sqrt(xp.sum(xp.abs(y) ** 2, axis=-2))


def _inputs(seed: int, matrices: range, inputs: int, n: int, count: int, rngs: dict) -> np.ndarray:
    """(count, B, n, m) standard normal inputs, continuing each (matrix, input) stream."""
    out = np.empty((count, len(matrices), n, inputs))
    for b, i in enumerate(matrices):
        for j in range(inputs):
            rng = rngs.setdefault((i, j), host_rng(seed, INPUT_STREAM, i, j))
            out[:, b, :, j] = rng.standard_normal((count, n))
    return out


def _sample_stack(ensemble, seed: int, matrices: range, device: str, dtype):
    xp = array_module(device)
    return xp.stack([ensemble.sample(device_rng(seed, MATRIX_STREAM, i, device=device), xp, dtype) for i in matrices])


def _propagate_chunk(ensemble, kind, seed, matrices: range, inputs, steps, recorded, input_scale, device, dtype):
    """Log-norms (B, m, R) for one chunk of matrices."""
    xp = array_module(device)
    w = _sample_stack(ensemble, seed, matrices, device, dtype)
    complex_state = w.dtype.kind == "c"
    state_dtype = (np.complex64 if dtype == np.float32 else np.complex128) if complex_state else dtype
    apply = (lambda u: w[:, :, None] * u) if ensemble.diagonal else (lambda u: xp.matmul(w, u))  # noqa: E731
    b, n = len(matrices), ensemble.n
    rngs: dict = {}
    out = np.empty((b, inputs, recorded.size))
    slot = {int(s): r for r, s in enumerate(recorded)}
    # The state is e^{L} u with ||u|| = 1 per column; L (float64 whatever the state precision) is
    # the log-norm. Trajectory: u_0 = x / ||x||, then u <- W u. Hidden: h_0 = 0, then
    # h_t = W h_{t-1} + x_t, i.e. y = W u + e^{-L} x_t. Either way L += log||y||, u = y / ||y||.
    if kind == "trajectory":
        x0 = xp.asarray(_inputs(seed, matrices, inputs, n, 1, rngs)[0], dtype=state_dtype)
        norms = _column_norms(xp, x0)
        log_norm = xp.log(norms.astype(np.float64))
        u = x0 / norms[:, None, :]
        out[:, :, slot[0]] = to_host(log_norm)
    else:
        log_norm = xp.zeros((b, inputs), dtype=np.float64)
        u = xp.zeros((b, n, inputs), dtype=state_dtype)
    block = None
    for t in range(1, steps + 1):
        y = apply(u)
        if kind == "hidden":
            offset = (t - 1) % _INPUT_BLOCK
            if offset == 0:
                count = min(_INPUT_BLOCK, steps - t + 1)
                block = xp.asarray(_inputs(seed, matrices, inputs, n, count, rngs) * input_scale, dtype=dtype)
            y = y + xp.exp(-log_norm).astype(dtype)[:, None, :] * block[offset]
        norms = _column_norms(xp, y)
        log_norm = log_norm + xp.log(norms.astype(np.float64))
        u = y / norms[:, None, :]
        if t in slot:
            out[:, :, slot[t]] = to_host(log_norm)
    return out


def simulate(
    ensemble,
    kind: str,
    *,
    matrices: int,
    inputs: int,
    steps: int,
    seed: int = 0,
    every: int = 1,
    input_scale: float = 1.0,
    device: str = "cpu",
    precision: str = "single",
    chunk_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> NormCurves:
    """Norm curves of ``matrices`` draws of ``ensemble`` with ``inputs`` Gaussian inputs each.

    kind = "trajectory": ||W^k x||, x ~ N(0, I), k = 0..steps.
    kind = "hidden": ||h_t||, h_t = W h_{t-1} + x_t, h_0 = 0, x_t ~ N(0, input_scale^2 I), t = 1..steps.

    precision: the states' float type (single by default: the GEMMs run twice as fast, and with
    renormalization every step and a float64 log-norm accumulator the log-norms agree with double
    to about 1e-4 relative); the matrices are drawn in float64 and cast, as in ``spectra``.
    """
    matrices = whole_number(matrices, "matrices")
    inputs = whole_number(inputs, "inputs")
    seed = seed_value(seed)
    input_scale = positive_number(input_scale, "input_scale")
    device = resolve_device(device)
    recorded = record_steps(kind, steps, every)
    dtype = real_dtype(precision)
    if chunk_size is None:
        # bound memory: a chunk holds B matrices and B x n x m states, plus an input block for hidden
        per_matrix = ensemble.n * (ensemble.n + inputs * (4 + (_INPUT_BLOCK if kind == "hidden" else 0))) * 16
        chunk_size = int(max(1, min(matrices, 8, (512 << 20) // per_matrix)))
    chunk_size = whole_number(chunk_size, "chunk_size")
    log10_mean = np.empty((matrices, recorded.size))
    log10_sd = np.empty((matrices, recorded.size))
    log10_rms = np.empty((matrices, recorded.size))
    for start in range(0, matrices, chunk_size):
        chunk = range(start, min(start + chunk_size, matrices))
        logs = _propagate_chunk(ensemble, kind, seed, chunk, inputs, steps, recorded, input_scale, device, dtype)
        log10_mean[chunk.start : chunk.stop] = (special.logsumexp(logs, axis=1) - math.log(inputs)) / LN10
        log10_sd[chunk.start : chunk.stop] = logs.std(axis=1) / LN10
        log10_rms[chunk.start : chunk.stop] = 0.5 * (special.logsumexp(2 * logs, axis=1) - math.log(inputs)) / LN10
        if on_progress:
            on_progress(len(chunk))
    if not (np.all(np.isfinite(log10_mean)) and np.all(np.isfinite(log10_sd))):
        raise FloatingPointError("non-finite log-norm: the state under- or overflowed even in log scale")
    return NormCurves(kind, recorded, log10_mean, log10_sd, log10_rms)


# ---------------------------------------------------------------------------------------------
# Exact expectations
# ---------------------------------------------------------------------------------------------


def expected_log10_norm(ensemble, kind: str, recorded: np.ndarray, input_scale: float = 1.0) -> np.ndarray | None:
    """log10 of the RMS norm, sqrt(E||.||^2), averaged over W, where it is known exactly.

    Known for complex Gaussian inits (glorot, half, rescaled: gain times complex Glorot) via
    Q_{n,k}; None otherwise (real W grows faster than Q past t ~ sqrt(n): SPEC section 4).
    """
    if not ensemble.exact_powers:
        return None
    n, gain = ensemble.n, ensemble.gain
    if kind == "trajectory":
        log_sq = math.log(n) + theory.log_q(n, recorded) + 2 * recorded * math.log(gain)
    else:
        log_sq = theory.log_expected_hidden_sq(n, recorded, input_scale, gain)
    return 0.5 * np.asarray(log_sq) / LN10


def per_matrix_expected_log10_norm(ensemble, kind: str, recorded: np.ndarray, seed: int, matrices: int, input_scale: float = 1.0) -> np.ndarray:
    """(matrices, R): log10 sqrt(E_x ||.||^2) for each sampled W (the --exact curves)."""
    out = np.empty((matrices, recorded.size))
    for i in range(matrices):
        w = ensemble.sample(host_rng(seed, MATRIX_STREAM, i))
        if ensemble.diagonal:
            w = np.diag(w)
        if kind == "trajectory":
            log_sq = log_frobenius_power_sums(w, recorded, cumulative=False)
        else:
            log_sq = 2 * math.log(input_scale) + log_frobenius_power_sums(w, recorded, cumulative=True)
        out[i] = 0.5 * log_sq / LN10
    return out

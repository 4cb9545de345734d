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

from .backend import INPUT_STREAM, MATRIX_STREAM, array_module, device_rng, host_rng, real_dtype, resolve_device, to_host
from .pool import process_map, resolve_workers
from .results import Result
from .validation import choice, positive_number, seed_value, whole_number

__all__ = ["LN10", "KINDS", "NormCurves", "blowup_step", "record_steps", "simulate", "log_modulus_moments", "expected_log10_norm", "per_matrix_expected_log10_norm"]

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


# ---------------------------------------------------------------------------------------------
# CPU engine: matrices spread over worker processes; blocks of steps with no per-step bookkeeping
# ---------------------------------------------------------------------------------------------

#: steps advanced between renormalizations on CPU (the norms of a block are taken in one pass)
BLOCK_STEPS = 16


def _squared_norms(states: np.ndarray) -> np.ndarray:
    """Squared norms, as float64, of the rows of states (..., m, n), real or complex."""
    if states.dtype.kind == "c":
        flat = states.view(states.real.dtype)  # (..., m, 2n): real and imaginary parts interleaved
        return np.einsum("...i,...i->...", flat, flat).astype(np.float64)
    return np.einsum("...i,...i->...", states, states).astype(np.float64)


def _input_block(rngs: list, count: int, n: int, scale: float) -> np.ndarray:
    """(m, count, n) float64 inputs continuing each input's stream (contiguous draws), times ``scale``."""
    out = np.empty((len(rngs), count, n))
    for j, rng in enumerate(rngs):
        rng.standard_normal(out=out[j])
    if scale != 1.0:
        out *= scale
    return out


def _propagate_matrix(ensemble, kind: str, seed: int, i: int, inputs: int, steps: int, recorded: np.ndarray, input_scale: float, dtype) -> np.ndarray:
    """Natural-log norms (m, R) for matrix i at the recorded steps (CPU, NumPy).

    States are rows: the m inputs form an (m, n) block V, advanced as V <- V W^T (one GEMM, W^T a
    free transposed view). Each row is e^{L_j} v_j with L_j a float64 log-scale. Within a block of
    :data:`BLOCK_STEPS` steps the products run back to back into a preallocated buffer
    (``matmul(..., out=)``): v_t = W v_{t-1} (+ e^{-L} x_t for hidden states). The block's norms are
    then taken in one pass and the last state is renormalized. A block whose norms leave the
    floating range is redone one step at a time, renormalizing every step.
    """
    n = ensemble.n
    w = ensemble.sample(host_rng(seed, MATRIX_STREAM, i), np, dtype)
    state_dtype = w.dtype if w.dtype.kind == "c" else np.dtype(dtype)
    if ensemble.diagonal:
        apply = lambda v, out: np.multiply(v, w, out=out)  # noqa: E731
    else:
        wt = w.T
        apply = lambda v, out: np.matmul(v, wt, out=out)  # noqa: E731
    rngs = [host_rng(seed, INPUT_STREAM, i, j) for j in range(inputs)]
    out = np.empty((inputs, recorded.size))
    slot = np.full(steps + 1, -1)
    slot[recorded] = np.arange(recorded.size)
    buf = np.empty((BLOCK_STEPS + 1, inputs, n), dtype=state_dtype)
    if kind == "trajectory":
        x0 = _input_block(rngs, 1, n, 1.0)[:, 0, :].astype(state_dtype)
        sq0 = _squared_norms(x0)
        log_norm = 0.5 * np.log(sq0)
        np.multiply(x0, (1.0 / np.sqrt(sq0)).astype(state_dtype)[:, None], out=buf[0])
        if slot[0] >= 0:
            out[:, slot[0]] = log_norm
    else:
        log_norm = np.zeros(inputs)
        buf[0] = 0
    done = 0
    while done < steps:
        count = min(BLOCK_STEPS, steps - done)
        raw = _input_block(rngs, count, n, input_scale) if kind == "hidden" else None
        scaled = None if raw is None else (raw * np.exp(-log_norm)[:, None, None]).astype(state_dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # checked below: the block is redone
            for t in range(1, count + 1):
                apply(buf[t - 1], buf[t])
                if scaled is not None:
                    buf[t] += scaled[:, t - 1]
            sq = _squared_norms(buf[1 : count + 1])  # (count, m)
        if np.all(np.isfinite(sq)) and np.all(sq > 0):
            logs = log_norm + 0.5 * np.log(sq)
            np.multiply(buf[count], (1.0 / np.sqrt(sq[-1])).astype(state_dtype)[:, None], out=buf[0])
        else:
            logs = _single_steps(apply, buf, count, raw, log_norm, state_dtype)
            buf[0] = buf[count]
        rows = slot[done + 1 : done + count + 1]
        keep = rows >= 0
        out[:, rows[keep]] = logs[keep].T
        log_norm = logs[-1]
        done += count
    return out


def _single_steps(apply, buf, count, raw, log_norm, state_dtype) -> np.ndarray:
    """The careful path for one block: renormalize after every step. Returns (count, m) log-norms;
    leaves the unit-norm state in buf[count]."""
    logs = np.empty((count, buf.shape[1]))
    current = log_norm.copy()
    for t in range(1, count + 1):
        apply(buf[t - 1], buf[t])
        if raw is not None:
            buf[t] += (raw[:, t - 1] * np.exp(-current)[:, None]).astype(state_dtype)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            sq = _squared_norms(buf[t])
            current = current + 0.5 * np.log(sq)
            buf[t] *= (1.0 / np.sqrt(sq)).astype(state_dtype)[:, None]
        logs[t - 1] = current
    return logs


def _cpu_task(task) -> np.ndarray:
    """Worker entry: (B, m, R) natural-log norms for matrices start..stop-1."""
    ensemble, kind, seed, start, stop, inputs, steps, recorded, input_scale, precision = task
    dtype = real_dtype(precision)
    return np.stack([_propagate_matrix(ensemble, kind, seed, i, inputs, steps, recorded, input_scale, dtype) for i in range(start, stop)])


def _log_mean_exp(x: np.ndarray, axis: int) -> np.ndarray:
    """log mean exp(x) along ``axis``, stable (x finite)."""
    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.mean(np.exp(x - top), axis=axis, keepdims=True))).squeeze(axis)


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
    workers: int | None = None,
    chunk_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> NormCurves:
    """Norm curves of ``matrices`` draws of ``ensemble`` with ``inputs`` Gaussian inputs each.

    Parameters
    ----------
    ensemble : specdiag.inits.Ensemble
        The matrix law.
    kind : {"trajectory", "hidden"}
        "trajectory": ||W^k x||, x ~ N(0, I), k = 0..steps. "hidden": ||h_t||, h_t = W h_{t-1} + x_t,
        h_0 = 0, x_t ~ N(0, input_scale^2 I), t = 1..steps.
    matrices, inputs, steps : int
        Number of matrices W, inputs (sequences) per matrix, last step.
    seed : int
        Matrix i uses stream (seed, MATRIX_STREAM, i), its input j stream (seed, INPUT_STREAM, i, j):
        results are identical for any ``workers`` and ``chunk_size``.
    every : int
        Record every ``every``-th step (and the last).
    input_scale : float
        Input standard deviation sigma (hidden).
    device : {"cpu", "gpu", "auto"}
        CPU: matrices spread over ``workers`` processes, one BLAS thread each. GPU: chunks of
        matrices as batched products.
    precision : {"single", "double"}
        The states' float type (single by default: the products run twice as fast, and with a
        float64 log-scale accumulator the log-norms agree with double to about 1e-4 relative);
        the matrices are drawn in float64 and cast, as in ``spectra``.
    workers : int, optional
        CPU processes (default: every core).
    chunk_size : int, optional
        Matrices per task (CPU) or per batched product (GPU); never changes results.
    on_progress : callable, optional
        Called with the number of matrices finished.

    Returns
    -------
    NormCurves

    Raises
    ------
    InputError
        A bad argument (its ``param`` names it).
    FloatingPointError
        A norm that left the float64 range even in log scale (for example an exactly nilpotent W).
    """
    choice(kind, "kind", KINDS)
    matrices = whole_number(matrices, "matrices")
    inputs = whole_number(inputs, "inputs")
    seed = seed_value(seed)
    input_scale = positive_number(input_scale, "input_scale")
    device = resolve_device(device)
    recorded = record_steps(kind, steps, every)
    dtype = real_dtype(precision)
    if chunk_size is not None:
        chunk_size = whole_number(chunk_size, "chunk_size")
    logs = np.empty((matrices, inputs, recorded.size))
    if device == "gpu":
        if chunk_size is None:
            # bound memory: a chunk holds B matrices and B x n x m states, plus an input block for hidden
            per_matrix = ensemble.n * (ensemble.n + inputs * (4 + (_INPUT_BLOCK if kind == "hidden" else 0))) * 16
            chunk_size = int(max(1, min(matrices, 8, (512 << 20) // per_matrix)))
        for start in range(0, matrices, chunk_size):
            chunk = range(start, min(start + chunk_size, matrices))
            logs[chunk.start : chunk.stop] = _propagate_chunk(ensemble, kind, seed, chunk, inputs, steps, recorded, input_scale, device, dtype)
            if on_progress:
                on_progress(len(chunk))
    else:
        workers = resolve_workers(workers, tasks=matrices)
        chunk_size = chunk_size or max(1, min(8, math.ceil(matrices / (4 * workers))))
        bounds = [(a, min(a + chunk_size, matrices)) for a in range(0, matrices, chunk_size)]
        tasks = [(ensemble, kind, seed, a, b, inputs, int(recorded[-1]), recorded, input_scale, precision) for a, b in bounds]
        for k, values in process_map(_cpu_task, tasks, workers=min(workers, len(tasks))):
            a, b = bounds[k]
            logs[a:b] = values
            if on_progress:
                on_progress(b - a)
    if not np.all(np.isfinite(logs)):
        raise FloatingPointError("non-finite log-norm: the state under- or overflowed even in log scale")
    log10_mean = _log_mean_exp(logs, axis=1) / LN10
    log10_sd = logs.std(axis=1) / LN10
    log10_rms = 0.5 * _log_mean_exp(2 * logs, axis=1) / LN10
    return NormCurves(kind, recorded, log10_mean, log10_sd, log10_rms)


# ---------------------------------------------------------------------------------------------
# Exact expectations
# ---------------------------------------------------------------------------------------------


def log_modulus_moments(ensemble, kmax: int) -> np.ndarray:
    """log E|lambda|^{2k}, k = 0..kmax, for one eigenvalue of a diagonal init (exact).

    uniform-diag (r ~ U[0,1]): 1/(2k+1). uniform-disk (r^2 ~ U[0,1]): 1/(k+1). lru (r^2 uniform on
    [rmin^2, rmax^2]): (rmax^{2(k+1)} - rmin^{2(k+1)}) / ((k+1)(rmax^2 - rmin^2)).
    """
    k = np.arange(kmax + 1, dtype=float)
    if ensemble.kind == "uniform-diag":
        return -np.log(2 * k + 1)
    if ensemble.kind == "uniform-disk":
        return -np.log(k + 1)
    rmin, rmax = ensemble.params["rmin"], ensemble.params["rmax"]
    with np.errstate(divide="ignore"):
        ratio = 2 * (k + 1) * (math.log(rmin / rmax) if rmin > 0 else -np.inf)
    return 2 * (k + 1) * math.log(rmax) + np.log(-np.expm1(ratio)) - np.log(k + 1) - math.log(rmax**2 - rmin**2)


def expected_log10_norm(ensemble, kind: str, recorded: np.ndarray, input_scale: float = 1.0) -> np.ndarray | None:
    """log10 of the RMS norm, sqrt(E||.||^2), averaged over W and the inputs, where it is exact.

    Complex Gaussian inits (glorot, half, rescaled: gain times complex Glorot): n Q_{n,k} gain^{2k}.
    Diagonal inits (uniform-diag, uniform-disk, lru): E||W^k x||^2 = n E|lambda|^{2k}
    (:func:`log_modulus_moments`) and E||h_t||^2 = sigma^2 n sum_{k<t} E|lambda|^{2k}. None
    otherwise (real W grows faster than Q past t ~ sqrt(n): SPEC section 4).
    """
    recorded = np.asarray(recorded)
    n = ensemble.n
    if ensemble.diagonal:
        log_m = log_modulus_moments(ensemble, int(recorded.max(initial=0)))
        if kind == "trajectory":
            log_sq = math.log(n) + log_m[recorded]
        else:
            log_sq = 2 * math.log(input_scale) + math.log(n) + np.logaddexp.accumulate(log_m)[recorded - 1]
        return 0.5 * np.asarray(log_sq) / LN10
    if not ensemble.exact_powers:
        return None
    from . import theory  # noqa: PLC0415

    gain = ensemble.gain
    if kind == "trajectory":
        log_sq = math.log(n) + theory.log_q(n, recorded) + 2 * recorded * math.log(gain)
    else:
        log_sq = theory.log_expected_hidden_sq(n, recorded, input_scale, gain)
    return 0.5 * np.asarray(log_sq) / LN10


def per_matrix_expected_log10_norm(ensemble, kind: str, recorded: np.ndarray, seed: int, matrices: int, input_scale: float = 1.0) -> np.ndarray:
    """(matrices, R): log10 sqrt(E_x ||.||^2) for each sampled W (the --exact curves)."""
    from .linalg import log_frobenius_power_sums  # noqa: PLC0415 (scipy.linalg, only for --exact)

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

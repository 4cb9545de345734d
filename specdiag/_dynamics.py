"""||W^k x|| trajectories and hidden-state norms ||h_t|| of h_t = W h_{t-1} + x_t, in log scale.

Propagation (docs/science.md section 4): each state is kept as a unit vector and the log of its norm, renormalized
every step, so t = 10,000 at n = 500 under Glorot (norm ~ 10^130, or far beyond float64 for the
expected curve) stays finite. All inputs of a matrix, and a chunk of matrices, advance together as
one batched matrix product per step (BLAS on CPU, cuBLAS on GPU).

CPU: matrices are spread over worker processes, one BLAS thread each. Trajectories compute only
their recorded steps, stepped by a power of W (:func:`_trajectory_logs`); the hidden rows a matrix
needs (all inputs of all requests on it, scaled twins included) advance as one GEMM per step
(:func:`_hidden_run`). :func:`simulate_many` runs several requests in one pool: the requests on
matrix i of every ensemble of one width advance in lockstep and draw each input block once. Complex
states are kept as real and imaginary planes and multiplied with three real GEMMs (3M). Its arrays
equal separate runs' up to float32 rounding: OpenBLAS's result for a row depends on how many rows
the product has.

Randomness: matrix i comes from stream (seed, MATRIX_STREAM, i), exactly as in ``spectra``; the
inputs of (matrix i, input j) from stream (seed, INPUT_STREAM, i, j), drawn sequentially over t, so
results do not depend on the chunk size. Inputs are generated on the host (NumPy) for every
device, so CPU and GPU runs see the same inputs. They are float32 standard normals (NumPy's float32
ziggurat) whatever the precision: about 20% faster than float64 draws (at n = 500 drawing the
inputs costs about a third of a real hidden state's products), and the same inputs for single-
and double-precision runs.

Exact expectations for a given W: E_x ||W^k x||^2 = ||W^k||_F^2 and
E ||h_t||^2 = sigma^2 sum_{k<t} ||W^k||_F^2, from one eigendecomposition W = V diag(lambda) V^{-1}
(O(n^2) per step), with a repeated-squaring fallback for ill-conditioned or defective W.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ._backend import (
    INPUT_STREAM,
    MATRIX_STREAM,
    array_module,
    device_rng,
    host_rng,
    real_dtype,
    resolve_device,
    to_host,
)
from ._pool import process_map, resolve_workers
from ._results import Result
from ._validation import choice, positive_number, seed_value, whole_number

__all__ = [
    "LN10",
    "KINDS",
    "NormCurves",
    "Request",
    "simulate_many",
    "blowup_step",
    "record_steps",
    "simulate",
    "log_modulus_moments",
    "expected_log10_norm",
    "per_matrix_expected_log10_norm",
]

LN10 = math.log(10.0)
KINDS = ("trajectory", "hidden")
_INPUT_BLOCK = 64  # time steps of inputs generated at once (hidden)
#: the inputs' precision, whatever the states' (see the module docstring)
INPUT_DTYPE = np.float32


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
    """(count, B, n, m) float32 standard normal inputs, continuing each (matrix, input) stream."""
    out = np.empty((count, len(matrices), n, inputs), dtype=INPUT_DTYPE)
    block = np.empty((inputs, count, n), dtype=INPUT_DTYPE)
    for b, i in enumerate(matrices):
        streams = [rngs.setdefault((i, j), host_rng(seed, INPUT_STREAM, i, j)) for j in range(inputs)]
        out[:, b] = _input_block(streams, count, n, block).transpose(1, 2, 0)
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
    block = xp.zeros((0,), dtype=dtype)  # the inputs of the current _INPUT_BLOCK steps (drawn at offset 0)
    for t in range(1, steps + 1):
        y = apply(u)
        if kind == "hidden":
            offset = (t - 1) % _INPUT_BLOCK
            if offset == 0:
                count = min(_INPUT_BLOCK, steps - t + 1)
                block = xp.asarray(_inputs(seed, matrices, inputs, n, count, rngs) * dtype(input_scale), dtype=dtype)
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
#: complex states with fewer rows than this use one complex GEMM instead of three real ones
SMALL_BLOCK = 24
#: trajectory rows per product that :func:`_trajectory_logs` aims for (p chains stepped by W^p)
POWER_ROWS = 128
#: the largest power p of W used for trajectories
MAX_POWER = 16


@dataclass(frozen=True)
class Request:
    """One set of norm curves for :func:`simulate_many` (the arguments of :func:`simulate`).

    Parameters
    ----------
    ensemble : specdiag._inits.Ensemble
        The matrix law. Matrix i of every ensemble is drawn from stream (seed, MATRIX_STREAM, i),
        so requests on the same law, or on scalar multiples of it (glorot, rescaled, half:
        :meth:`~specdiag._inits.Ensemble.scale_of`), share their matrices.
    kind : {"trajectory", "hidden"}
    matrices, inputs, steps : int
    every : int
        Record every ``every``-th step (and the last).
    input_scale : float
        Input standard deviation (hidden).
    """

    ensemble: object
    kind: str
    matrices: int
    inputs: int
    steps: int
    every: int = 1
    input_scale: float = 1.0


def _squared_norms(states: np.ndarray) -> np.ndarray:
    """Squared norms, as float64, of the rows of real planes (..., P, m, n): summed over the P
    planes (1 real, 2 for the real and imaginary parts) and the n coordinates."""
    return np.einsum("...pmi,...pmi->...m", states, states).astype(np.float64)


def _input_block(rngs: list, count: int, n: int, out: np.ndarray) -> np.ndarray:
    """(m, count, n) float32 standard normals continuing each input's stream (contiguous draws)
    into ``out`` (float32, at least that shape)."""
    block = out[: len(rngs), :count]
    for j, rng in enumerate(rngs):
        rng.standard_normal(out=block[j], dtype=INPUT_DTYPE)
    return block


def _product(w: np.ndarray, diagonal: bool, dtype):
    """apply(v, out): out = W v for states stored as real planes (P, m, n), rows v_j (v <- v W^T).

    Real W: one GEMM. Complex W (planes Re, Im): three real GEMMs (Gauss's 3M product:
    Re = A Vr - B Vi, Im = (A + B)(Vr + Vi) - A Vr - B Vi for W = A + iB), a quarter fewer
    flops than a complex GEMM and, with OpenBLAS on a 2-core EPYC, about 20% faster at m = 100;
    below :data:`SMALL_BLOCK` rows (Figure 4's 5 inputs) one complex GEMM is faster (0.23 against
    0.32 ms at m = 5, n = 500), the product being bound by reading W.
    """
    if w.dtype.kind != "c":
        if diagonal:
            return lambda v, out: np.multiply(v, w, out=out)
        wt = w.T
        return lambda v, out: np.matmul(v[0], wt, out=out[0])
    a, b = w.real.astype(dtype), w.imag.astype(dtype)
    if diagonal:

        def apply_diag(v, out):
            np.multiply(v[0], a, out=out[0])
            out[0] -= v[1] * b
            np.multiply(v[0], b, out=out[1])
            out[1] += v[1] * a

        return apply_diag
    at, bt, st = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T), np.ascontiguousarray((a + b).T)
    wt = w.T
    scratch: dict = {}

    def apply(v, out):
        m = v.shape[1]
        if scratch.get("m") != m:
            scratch.update(
                m=m,
                t1=np.empty((m, w.shape[0]), dtype),
                t2=np.empty((m, w.shape[0]), dtype),
                s=np.empty((m, w.shape[0]), dtype),
                c=np.empty((m, w.shape[0]), w.dtype),
                d=np.empty((m, w.shape[0]), w.dtype),
            )
        if m < SMALL_BLOCK:  # few rows: the product is bound by reading W, where one complex GEMM wins
            c, d = scratch["c"], scratch["d"]
            c.real, c.imag = v[0], v[1]
            np.matmul(c, wt, out=d)
            out[0], out[1] = d.real, d.imag
            return
        t1, t2, s = scratch["t1"], scratch["t2"], scratch["s"]
        np.matmul(v[0], at, out=t1)
        np.matmul(v[1], bt, out=t2)
        np.add(v[0], v[1], out=s)
        np.matmul(s, st, out=out[1])
        np.subtract(t1, t2, out=out[0])
        out[1] -= t1
        out[1] -= t2

    return apply


def _working_matrix(w64: np.ndarray, dtype) -> np.ndarray:
    """W (float64 or complex128, as sampled) cast to the states' precision."""
    if w64.dtype.kind == "c":
        return w64.astype(np.complex64 if dtype == np.float32 else np.complex128)
    return w64.astype(dtype)


def _power(w64: np.ndarray, e: int, diagonal: bool, dtype) -> np.ndarray | None:
    """W^e in float64/complex128 (squaring; elementwise for a diagonal), or None when one product
    of it with a unit state could leave the working precision's range in that state's squared
    norm: entries above sqrt(max) / (100 n) (a large gain or a long stride) or all below
    1e4 sqrt(tiny) (a contracting W over a long stride). The caller then steps by a lower power."""
    if e == 1:
        return w64
    info = np.finfo(dtype)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        power = w64**e if diagonal else np.linalg.matrix_power(w64, e)
        top = np.abs(power).max()
    fits = np.isfinite(top) and 1e4 * math.sqrt(info.tiny) <= top <= math.sqrt(info.max) / (100 * w64.shape[0])
    return power if fits else None


def _power_chains(w64: np.ndarray, diagonal: bool, rows: int, steps: int, dtype) -> tuple[int, np.ndarray | None]:
    """(p, W^p cast to the states' precision) for :func:`_strided_logs`; (1, None) when p = 1.

    p is the smallest power of two with p * rows >= :data:`POWER_ROWS` (at most :data:`MAX_POWER`
    and at most ``steps``), halved while W^p could overflow (:func:`_power`); W^p is formed by
    squaring in float64/complex128, so its entries carry one rounding of the working precision, as W's do.
    """
    p = 1
    if not diagonal:
        while p * rows < POWER_ROWS and 2 * p <= min(MAX_POWER, steps):
            p *= 2
    while p > 1:
        power = _power(w64, p, diagonal, dtype)
        if power is not None:
            return p, _working_matrix(power, dtype)
        p //= 2
    return 1, None


def _trajectory_logs(w64: np.ndarray, diagonal: bool, x0: np.ndarray, recorded: np.ndarray, dtype) -> np.ndarray:
    """(m, R) natural-log norms log||W^k x_j|| at the recorded steps k (sorted, from 0), for the rows
    x_j of ``x0``.

    Only the recorded steps are computed: with e the gcd of the recorded steps, the rows are
    stepped by W^e (formed once by squaring), so ``every = 4`` costs a quarter of the products of
    every step, exactly (no inputs enter a trajectory). Each run of W^e is :func:`_strided_logs`.
    """
    recorded = np.asarray(recorded)
    e = int(np.gcd.reduce(recorded[recorded > 0])) if recorded[-1] > 0 else 1
    u64 = _power(w64, e, diagonal, dtype)
    if u64 is None:  # W^e could leave the floating range: every step, then pick
        u64, e = w64, 1
    return _strided_logs(u64, diagonal, x0, int(recorded[-1]) // e, dtype)[:, recorded // e]


def _strided_logs(w64: np.ndarray, diagonal: bool, x0: np.ndarray, steps: int, dtype) -> np.ndarray:
    """(m, steps + 1) natural-log norms log||W^k x_j||, k = 0..steps, for the rows x_j of ``x0``.

    With few rows a product is bound by the kernel, not the flops (one core, n = 500: 36 GMAC/s at
    m = 50 rows, 45 at m >= 200), so the m rows are spread over p chains (:func:`_power_chains`):
    chain r holds every input's state at k = r, r + p, r + 2p, ..., and all p m rows advance p steps
    by one product with W^p. The same flops in larger products; the states k < p come from W itself.
    """
    m, n = x0.shape
    planes = 2 if w64.dtype.kind == "c" else 1
    apply = _product(_working_matrix(w64, dtype), diagonal, dtype)
    p, wp = _power_chains(w64, diagonal, m, steps, dtype)
    chains = np.zeros((planes, p * m, n), dtype=dtype)  # row r m + j: input j at k = r, unit norm
    chain_log = np.empty(p * m)
    sq = _squared_norms(x0[None])
    chain_log[:m] = 0.5 * np.log(sq)
    chains[0, :m] = x0 * (1.0 / np.sqrt(sq)).astype(dtype)[:, None]
    # the chains' starts k = 1..p-1, one step of W each from the one before (a view: stage r is chain r)
    stages = chains.reshape(planes, p, m, n).swapaxes(0, 1)
    chain_log[m:] = _single_steps(apply, stages, p - 1, chain_log[:m], dtype).ravel()
    products = max(0, -(-(steps - p + 1) // p))  # k = p .. steps, p at a time
    logs = np.empty((m, p * (products + 1)))
    logs[:, :p] = chain_log.reshape(p, m).T
    if products:
        step = apply if wp is None else _product(wp, False, dtype)
        later = _advance_rows(step, chains, chain_log, products, max(1, BLOCK_STEPS // p), dtype)
        logs[:, p:] = later.reshape(products, p, m).transpose(2, 0, 1).reshape(m, products * p)
    return logs[:, : steps + 1]


def _advance_rows(apply, state: np.ndarray, log_norm: np.ndarray, products: int, block: int, dtype) -> np.ndarray:
    """(products, m) natural-log norms of unit rows ``state`` (planes, m, n), log-scales
    ``log_norm``, advanced by ``products`` applications of ``apply``.

    ``block`` products run back to back into a preallocated buffer; their norms are then taken in
    one pass and the last state renormalized. A block whose norms leave the floating range is
    redone one product at a time (:func:`_single_steps`).
    """
    planes, m, n = state.shape
    logs = np.empty((products, m))
    buf = np.empty((block + 1, planes, m, n), dtype=dtype)
    buf[0] = state
    current = np.asarray(log_norm, dtype=np.float64)
    done = 0
    while done < products:
        count = min(block, products - done)
        block_logs = _run_block(apply, buf, count, current, dtype)
        logs[done : done + count] = block_logs
        current = block_logs[-1]
        done += count
    return logs


def _run_block(apply, buf: np.ndarray, count: int, log_norm: np.ndarray, dtype, inputs=None) -> np.ndarray:
    """Advance unit rows buf[0] (log-scales ``log_norm``) by ``count`` products back to back into
    buf[1..count], adding the inputs after each (see :func:`_single_steps`); take the norms in one
    pass and leave the renormalized last state in buf[0]. Returns (count, m) natural-log norms.

    A block whose norms leave the floating range is redone one product at a time, renormalizing
    every step (:func:`_single_steps`).
    """
    if inputs is not None:  # relative to the block's starting scale e^{L}
        raw, offset = inputs
        coef = np.exp(offset - log_norm[:, None]).astype(dtype)[:, :, None]
    with np.errstate(over="ignore", invalid="ignore"):  # checked below: the block is redone
        for t in range(1, count + 1):
            apply(buf[t - 1], buf[t])
            if inputs is not None:
                buf[t, 0] += raw[:, t - 1] * coef[:, t - 1]
        sq = _squared_norms(buf[1 : count + 1])
    if np.all(np.isfinite(sq)) and np.all(sq > 0):
        np.multiply(buf[count], (1.0 / np.sqrt(sq[-1])).astype(dtype)[:, None], out=buf[0])
        return log_norm + 0.5 * np.log(sq)
    block_logs = _single_steps(apply, buf, count, log_norm, dtype, inputs)
    buf[0] = buf[count]
    return block_logs


class _InputBlocks:
    """The inputs of matrix i for every group of requests on it (width n): stream j is
    (seed, INPUT_STREAM, i, j), drawn :data:`BLOCK_STEPS` steps at a time. Block b of a stream (steps
    16b + 1 .. 16b + 16) is drawn once, by its first reader, and read by every group that advances in
    lockstep with it (:func:`_lockstep`), so real and complex, Glorot and rescaled runs on matrix i
    draw their inputs once."""

    def __init__(self, seed: int, i: int, n: int):
        self.seed, self.i, self.n = seed, i, n
        self.rngs: list = []
        self.held = np.zeros(0, dtype=np.int64)  # the block each stream holds (-1: none yet)
        self.data = np.empty((0, BLOCK_STEPS, n), dtype=INPUT_DTYPE)

    def block(self, streams: np.ndarray, b: int) -> np.ndarray:
        """(len(streams), BLOCK_STEPS, n) float32: block b of the given distinct, sorted streams.

        Every stream is read block after block (rows only ever leave a group), so a stream that
        does not hold block b holds block b - 1 and its generator stands at block b.
        """
        top = int(streams[-1]) + 1
        if top > len(self.rngs):
            self.rngs += [host_rng(self.seed, INPUT_STREAM, self.i, j) for j in range(len(self.rngs), top)]
            self.held = np.concatenate([self.held, np.full(top - self.held.size, -1)])
            self.data = np.concatenate(
                [self.data, np.empty((top - self.data.shape[0], BLOCK_STEPS, self.n), dtype=INPUT_DTYPE)]
            )
        for j in streams[self.held[streams] != b]:
            self.rngs[j].standard_normal(out=self.data[j], dtype=INPUT_DTYPE)
            self.held[j] = b
        if streams.size == top - streams[0]:  # consecutive: a view
            return self.data[streams[0] : top]
        return self.data[streams]


def _hidden_run(apply, planes: int, n: int, rows: list, inputs: _InputBlocks, dtype, logs: np.ndarray):
    """Advance the hidden rows of one matrix W together, one block of :data:`BLOCK_STEPS` steps per
    ``next()`` (a generator, so that several groups can share each block of inputs), writing
    natural-log norms log||h_t|| into ``logs`` (R, T + 1) (column 0 unused: h_0 = 0).

    ``rows`` are (last step, input scale s, log c, stream j): row r follows g_t = W g_{t-1} + s c^{-t} x_t
    with x_t stream j's next draws, so that h_t = c^t g_t is the hidden state of c W (a scaled twin
    ensemble) and log||h_t|| = log||g_t|| + t log c is added by the caller. A row g = e^L v is kept
    as a unit vector v and a float64 log-scale L; within a block the products run back to back
    (relative to the block's starting scale, so the input added at step t is s c^{-t} e^{-L} x_t), then
    the norms are taken in one pass. A row leaves the block at the first block boundary after its
    last step (the steps it runs past are computed and not recorded).
    """
    end = np.array([r[0] for r in rows])
    log_s = np.log([r[1] for r in rows])
    log_c = np.array([r[2] for r in rows], dtype=np.float64)
    stream = np.array([r[3] for r in rows])
    log_norm = np.zeros(len(rows))
    active = np.arange(len(rows))
    buf = None
    done = 0
    while done < end.max():
        keep = active[end[active] > done]
        if buf is None or keep.size != active.size:  # start, or rows left: a smaller block
            last = np.zeros((planes, len(rows), n), dtype=dtype) if buf is None else buf[0]
            state = np.ascontiguousarray(last[:, np.searchsorted(active, keep)])
            active = keep
            buf = np.empty((BLOCK_STEPS + 1, planes, active.size, n), dtype=dtype)
            buf[0] = state
            used = np.unique(stream[active])
            pick = np.searchsorted(used, stream[active])
            gather = None if np.array_equal(pick, np.arange(pick.size)) else pick
        count = min(BLOCK_STEPS, int(end[active].max()) - done)
        current = log_norm[active]
        raw = inputs.block(used, done // BLOCK_STEPS)[:, :count]
        if gather is not None:
            raw = raw[gather]
        # log of the coefficient of x_t, t = done+1..done+count, before the block's scale e^{-L}
        offset = log_s[active, None] - log_c[active, None] * np.arange(done + 1, done + count + 1)
        block_logs = _run_block(apply, buf, count, current, dtype, inputs=(raw, offset))
        logs[active, done + 1 : done + count + 1] = block_logs.T
        log_norm[active] = block_logs[-1]
        done += count
        yield


def _lockstep(runs: list) -> list:
    """Drive generators round-robin, one ``next()`` each per round, until all stop; their return values."""
    results = [None] * len(runs)
    live = list(range(len(runs)))
    while live:
        for k in list(live):
            try:
                next(runs[k])
            except StopIteration as stop:
                results[k] = stop.value
                live.remove(k)
    return results


def _single_steps(apply, buf, count, log_norm, dtype, inputs=None) -> np.ndarray:
    """The careful path for one block: renormalize after every step. Returns (count, m) log-norms;
    leaves the unit-norm state in buf[count]. ``inputs``: None, or (raw, offset) with raw (m, count, n)
    and the log-coefficient offset (m, count): step t adds raw[:, t-1] e^{offset[:, t-1] - L}."""
    logs = np.empty((count, buf.shape[2]))
    current = log_norm.copy()
    for t in range(1, count + 1):
        apply(buf[t - 1], buf[t])
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if inputs is not None:
                raw, offset = inputs
                buf[t, 0] += raw[:, t - 1] * np.exp(offset[:, t - 1] - current).astype(dtype)[:, None]
            sq = _squared_norms(buf[t])
            current = current + 0.5 * np.log(sq)
            buf[t] *= (1.0 / np.sqrt(sq)).astype(dtype)[:, None]
        logs[t - 1] = current
    return logs


def _propagate_rows(ensemble, seed: int, i: int, specs, dtype, inputs: _InputBlocks):
    """Natural-log norms for matrix i, one (inputs, R) array per spec (CPU, NumPy): a generator
    (one hidden block per ``next()``, see :func:`_lockstep`) that returns the list.

    ``specs`` are (kind, inputs, steps, recorded, input_scale, log_c): a spec with c != 1 is on the
    matrix c W of a scaled twin ensemble (:meth:`~specdiag._inits.Ensemble.scale_of`), W drawn once.
    Trajectories: one row per input j for every trajectory spec (:func:`_trajectory_logs`), since
    ||(c W)^k x|| = c^k ||W^k x||. Hidden states: one row per (input scale, c, input j), all advancing
    as one block, one product per step (:func:`_hidden_run`). Input j of any spec is stream
    (seed, INPUT_STREAM, i, j), read from ``inputs``, so a hidden spec with 5 inputs shares its rows
    with one of 50 (Figure 4 and Figure 1), and rescaled hidden rows share their inputs with Glorot's.
    """
    n = ensemble.n
    w64 = ensemble.sample(host_rng(seed, MATRIX_STREAM, i))
    traj = [s for s in specs if s[0] == "trajectory"]
    if traj:
        m = max(s[1] for s in traj)
        rngs = [host_rng(seed, INPUT_STREAM, i, j) for j in range(m)]
        x0 = _input_block(rngs, 1, n, np.empty((m, 1, n), dtype=INPUT_DTYPE))[:, 0].astype(dtype)
        traj_steps = np.unique(np.concatenate([s[3] for s in traj]))
        traj_logs = _trajectory_logs(w64, ensemble.diagonal, x0, traj_steps, dtype)
    ends: dict = {}
    for kind, count, steps, _recorded, scale, log_c in specs:
        for j in range(count if kind == "hidden" else 0):
            key = (float(scale), float(log_c), j)
            ends[key] = max(ends.get(key, 0), steps)
    if ends:
        keys = sorted(ends, key=lambda k: (k[2], k[0], k[1]))  # by stream: consecutive streams read as a view
        rows = [(ends[k], k[0], k[1], k[2]) for k in keys]
        planes = 2 if w64.dtype.kind == "c" else 1
        apply = _product(_working_matrix(w64, dtype), ensemble.diagonal, dtype)
        hidden_logs = np.zeros((len(rows), max(ends.values()) + 1))
        yield from _hidden_run(apply, planes, n, rows, inputs, dtype, hidden_logs)
        index = {k: r for r, k in enumerate(keys)}
    out = []
    for kind, count, _steps, recorded, scale, log_c in specs:
        if kind == "trajectory":
            logs = traj_logs[:count][:, np.searchsorted(traj_steps, recorded)]
        else:
            logs = hidden_logs[np.ix_([index[(float(scale), float(log_c), j)] for j in range(count)], recorded)]
        out.append(logs + log_c * recorded)
    return out


def _cpu_task(task) -> list:
    """Worker entry: for matrices start..stop-1, a list (per matrix) of (group, spec index,
    (inputs, R) natural-log norms) for every spec of every group that covers the matrix. The groups
    of a matrix advance in lockstep, sharing its inputs."""
    groups, seed, start, stop, precision = task
    dtype = real_dtype(precision)
    out = []
    for i in range(start, stop):
        inputs: dict = {}
        covering = [
            (g, ens, [k for k, spec in enumerate(specs) if spec[0] > i], specs) for g, (ens, specs) in enumerate(groups)
        ]
        covering = [c for c in covering if c[2]]
        runs = [
            _propagate_rows(
                ens,
                seed,
                i,
                [specs[k][1:] for k in mine],
                dtype,
                inputs.setdefault(ens.n, _InputBlocks(seed, i, ens.n)),
            )
            for _g, ens, mine, specs in covering
        ]
        values = _lockstep(runs)
        out.append([(g, k, v) for (g, _ens, mine, _specs), vs in zip(covering, values) for k, v in zip(mine, vs)])
    return out


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
    ensemble : specdiag._inits.Ensemble
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
        A norm that left the float64 range even in log scale: a state that is exactly zero (for
        example a trajectory under a nilpotent W).
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
            logs[chunk.start : chunk.stop] = _propagate_chunk(
                ensemble, kind, seed, chunk, inputs, steps, recorded, input_scale, device, dtype
            )
            if on_progress:
                on_progress(len(chunk))
    else:
        request = Request(ensemble, kind, matrices, inputs, int(recorded[-1]), every, input_scale)
        progress = None if on_progress is None else (lambda _r, k: on_progress(k))
        return dict(
            simulate_many(
                [request], seed=seed, precision=precision, workers=workers, chunk_size=chunk_size, on_progress=progress
            )
        )[0]
    return _curves(kind, recorded, logs)


def _curves(kind: str, recorded: np.ndarray, logs: np.ndarray) -> NormCurves:
    """NormCurves from natural-log norms (matrices, inputs, R)."""
    if not np.all(np.isfinite(logs)):
        raise FloatingPointError("non-finite log-norm: the state under- or overflowed even in log scale")
    log10_mean = _log_mean_exp(logs, axis=1) / LN10
    log10_sd = logs.std(axis=1) / LN10
    log10_rms = 0.5 * _log_mean_exp(2 * logs, axis=1) / LN10
    return NormCurves(kind, recorded, log10_mean, log10_sd, log10_rms)


def simulate_many(
    requests,
    *,
    seed: int = 0,
    precision: str = "single",
    workers: int | None = None,
    chunk_size: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, NormCurves]]:
    """Several :func:`simulate` runs on the CPU in one process pool: yield ``(index, curves)`` for
    each request as soon as all its matrices are done.

    Requests whose matrices are the same up to a factor (the same ensemble, or glorot, rescaled and
    half: :meth:`~specdiag._inits.Ensemble.scale_of`) share them: matrix i is drawn once, its
    trajectories are computed once for all of them (c^k ||W^k x|| on c W), and every hidden row of
    every request on it advances in one block (one GEMM per step, the inputs drawn once per stream;
    see :func:`_propagate_rows`). Tasks (chunks of matrices) are ordered by decreasing cost, so
    both cores stay busy to the end.

    Parameters
    ----------
    requests : sequence of Request
    seed, precision, workers, chunk_size
        As in :func:`simulate`. Results never depend on ``workers`` or ``chunk_size``.
    on_progress : callable, optional
        Called with (request index, matrices finished).

    Yields
    ------
    (int, NormCurves)
        A request's index and its curves, in completion order.

    Notes
    -----
    The arrays equal those of separate :func:`simulate` runs up to float rounding (same matrices,
    same input streams), not bit for bit: OpenBLAS's GEMM result for a row depends on how many rows
    the product has, and a scaled twin's float32 matrix differs from c times the shared one by one
    rounding per entry.
    """
    requests = list(requests)
    seed = seed_value(seed)
    if not requests:
        return
    real_dtype(precision)
    recorded = _recorded_steps(requests)
    groups = _shared_matrices(requests)
    specs = [tuple(_spec(requests[k], recorded[k], log_c) for k, log_c in members) for _, members in groups]
    plan = _plan_tasks(groups, specs, seed, precision, workers, chunk_size)
    logs = [np.empty((r.matrices, r.inputs, rec.size)) for r, rec in zip(requests, recorded)]
    left = [r.matrices for r in requests]
    for t, values in process_map(_cpu_task, [plan.tasks[t] for t in plan.order], workers=plan.workers):
        task, owners = plan.tasks[plan.order[t]], plan.owners[plan.order[t]]
        for i, per_matrix in zip(range(task[2], task[3]), values):
            for g, spec_index, value in per_matrix:
                k = groups[owners[g]][1][spec_index][0]
                logs[k][i] = value
                left[k] -= 1
                if on_progress:
                    on_progress(k, 1)
                if left[k] == 0:
                    yield k, _curves(requests[k].kind, recorded[k], logs[k])


def _recorded_steps(requests: list) -> list[np.ndarray]:
    """Each request checked (an InputError names the bad argument), and its recorded steps."""
    recorded = []
    for r in requests:
        choice(r.kind, "kind", KINDS)
        whole_number(r.matrices, "matrices")
        whole_number(r.inputs, "inputs")
        positive_number(r.input_scale, "input_scale")
        recorded.append(record_steps(r.kind, r.steps, r.every))
    return recorded


def _shared_matrices(requests: list) -> list[tuple[object, list[tuple[int, float]]]]:
    """Requests on the same matrices up to a factor c (glorot, rescaled, half:
    :meth:`~specdiag._inits.Ensemble.scale_of`) as groups (ensemble of the first, [(request index,
    log c)]): a group's matrices are drawn once and share products and inputs."""
    groups: list[tuple[object, list[tuple[int, float]]]] = []
    for k, r in enumerate(requests):
        for base, members in groups:
            c = r.ensemble.scale_of(base)
            if c is not None:
                members.append((k, math.log(c)))
                break
        else:
            groups.append((r.ensemble, [(k, 0.0)]))
    return groups


def _spec(request: Request, recorded: np.ndarray, log_c: float) -> tuple:
    """What a worker needs of a request: (matrices, kind, inputs, last step, recorded steps, input scale, log c)."""
    return (request.matrices, request.kind, request.inputs, int(recorded[-1]), recorded, request.input_scale, log_c)


@dataclass(frozen=True)
class _Plan:
    """Tasks for the pool: ``tasks[t]`` = (groups of one width as (ensemble, specs), seed, first
    matrix, stop, precision), ``owners[t]`` the group indices of its groups, ``order`` the tasks by
    decreasing cost, ``workers`` the processes to use."""

    tasks: list
    owners: list
    order: list
    workers: int


def _plan_tasks(
    groups: list, specs: list, seed: int, precision: str, workers: int | None, chunk_size: int | None
) -> _Plan:
    """Chunks of matrix indices, one task per chunk and width: the groups on matrix i of one width
    advance in lockstep and draw its inputs once (:func:`_cpu_task`). Tasks are ordered by
    decreasing cost (multiply-adds, :func:`_row_steps`), so both cores stay busy to the end."""
    widths = sorted({ens.n for ens, _ in groups})
    classes = [[q for q, (ens, _) in enumerate(groups) if ens.n == n] for n in widths]
    last = [max(sp[0] for q in cl for sp in specs[q]) for cl in classes]
    total = max(1, sum(last))
    workers = resolve_workers(workers, tasks=total)

    def cost(q, a, b):  # multiply-adds of group q's products for matrices a..b-1
        ens = groups[q][0]
        return (3 if ens.field == "complex" and not ens.diagonal else 1) * ens.n**2 * _row_steps(specs[q], a, b)

    if chunk_size is not None:
        chunk_size = whole_number(chunk_size, "chunk_size")
    else:  # enough tasks to balance the cores, each long enough (~0.1 s) to amortize its messages
        per_matrix = max(cost(q, 0, 1) for cl in classes for q in cl)
        chunk_size = max(1, min(4, math.ceil(total / (8 * workers)), math.ceil(4e9 / max(per_matrix, 1))))
    tasks, costs, owners = [], [], []
    for cl, top in zip(classes, last):
        for a in range(0, top, chunk_size):
            b = min(a + chunk_size, top)
            tasks.append((tuple((groups[q][0], specs[q]) for q in cl), seed, a, b, precision))
            costs.append(sum(cost(q, a, b) for q in cl))
            owners.append(cl)  # the task's group g is groups[cl[g]]
    order = sorted(range(len(tasks)), key=lambda t: -costs[t])  # longest first: no serial tail
    return _Plan(tasks, owners, order, min(workers, len(tasks)))


def _row_steps(specs, a: int, b: int) -> int:
    """Row-steps (rows times steps, the products' count) of matrices a..b-1 for a group's specs:
    trajectory rows are shared by every trajectory spec, hidden rows by specs with the same
    (input scale, c); the cost used to order tasks. The rows of matrix i depend only on which specs
    cover it (i < matrices), so they are counted once per run of such matrices, in O(specs)."""
    total = 0
    edges = sorted({a, b, *(sp[0] for sp in specs if a < sp[0] < b)})
    for lo, hi in zip(edges, edges[1:]):
        shared: dict = {}  # row family -> (inputs, steps) of the specs on it
        for matrices, kind, inputs, steps, _rec, scale, log_c in specs:
            if lo < matrices:
                shared.setdefault(kind if kind == "trajectory" else (kind, scale, log_c), []).append((inputs, steps))
        for family in shared.values():
            covered = 0  # input j's row runs to the longest steps of the specs with inputs > j
            for inputs, steps in sorted(family, key=lambda v: -v[1]):
                total += (hi - lo) * max(0, inputs - covered) * steps
                covered = max(covered, inputs)
    return total


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
    otherwise (real W grows faster than Q past t ~ sqrt(n): docs/science.md section 4).
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
    from . import _theory as theory  # noqa: PLC0415

    gain = ensemble.gain
    if kind == "trajectory":
        log_sq = math.log(n) + theory.log_q(n, recorded) + 2 * recorded * math.log(gain)
    else:
        log_sq = theory.log_expected_hidden_sq(n, recorded, input_scale, gain)
    return 0.5 * np.asarray(log_sq) / LN10


def per_matrix_expected_log10_norm(
    ensemble, kind: str, recorded: np.ndarray, seed: int, matrices: int, input_scale: float = 1.0
) -> np.ndarray:
    """(matrices, R): log10 sqrt(E_x ||.||^2) for each sampled W (the --exact curves)."""
    from ._linalg import log_frobenius_power_sums  # noqa: PLC0415 (scipy.linalg, only for --exact)

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

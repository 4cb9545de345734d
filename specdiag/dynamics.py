"""||W^k x|| trajectories and hidden-state norms ||h_t|| of h_t = W h_{t-1} + x_t, in log scale.

Propagation (docs/science.md section 4): each state is kept as a unit vector and the log of its norm, renormalized
every step, so t = 10,000 at n = 500 under Glorot (norm ~ 10^130, or far beyond float64 for the
expected curve) stays finite. All inputs of a matrix, and a chunk of matrices, advance together as
one batched matrix product per step (BLAS on CPU, cuBLAS on GPU).

CPU: matrices are spread over worker processes, one BLAS thread each. :func:`simulate_many` runs
several requests in one pool and advances every row a matrix needs (trajectory and hidden inputs of
all requests on it) as one GEMM per step; complex states are kept as real and imaginary planes and
multiplied with three real GEMMs (3M). Its arrays equal separate runs' up to float32 rounding:
OpenBLAS's result for a row depends on how many rows the product has.

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
from typing import Callable, Iterator

import numpy as np

from .backend import INPUT_STREAM, MATRIX_STREAM, array_module, device_rng, host_rng, real_dtype, resolve_device, to_host
from .pool import process_map, resolve_workers
from .results import Result
from .validation import choice, positive_number, seed_value, whole_number

__all__ = ["LN10", "KINDS", "NormCurves", "Request", "simulate_many", "blowup_step", "record_steps", "simulate", "log_modulus_moments", "expected_log10_norm", "per_matrix_expected_log10_norm"]

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
    block = np.empty((inputs, count, n))
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
#: complex states with fewer rows than this use one complex GEMM instead of three real ones
SMALL_BLOCK = 24


@dataclass(frozen=True)
class Request:
    """One set of norm curves for :func:`simulate_many` (the arguments of :func:`simulate`).

    Parameters
    ----------
    ensemble : specdiag.inits.Ensemble
        The matrix law. Requests on the same ensemble object share their matrices: matrix i of
        each is drawn from stream (seed, MATRIX_STREAM, i).
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
    """(m, count, n) float64 standard normals continuing each input's stream (contiguous draws)."""
    block = out[: len(rngs), :count]
    for j, rng in enumerate(rngs):
        rng.standard_normal(out=block[j])
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
            scratch.update(m=m, t1=np.empty((m, w.shape[0]), dtype), t2=np.empty((m, w.shape[0]), dtype), s=np.empty((m, w.shape[0]), dtype),
                           c=np.empty((m, w.shape[0]), w.dtype), d=np.empty((m, w.shape[0]), w.dtype))
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


def _propagate_rows(ensemble, seed: int, i: int, specs, dtype) -> list:
    """Natural-log norms for matrix i, one (inputs, R) array per spec (CPU, NumPy).

    ``specs`` are (kind, inputs, steps, recorded, input_scale) on the same matrix. Their states
    advance together as the rows of one block V (m, n), V <- V W^T (one GEMM per step whatever
    the number of specs; W^T a free transposed view): the hidden rows of (input j, scale) and
    the trajectory rows of input j appear once however many specs use them, and a row leaves the
    block after the last step a spec needs. Input j of any spec is stream (seed, INPUT_STREAM, i, j),
    so a hidden spec with 5 inputs shares its rows with one of 50 (Figure 4 and Figure 1).

    Each row is e^{L_j} v_j with L_j a float64 log-scale. Within a block of :data:`BLOCK_STEPS`
    steps the products run back to back into a preallocated buffer: v_t = W v_{t-1}
    (+ e^{-L} x_t for hidden rows). The block's norms are then taken in one pass and the last
    state is renormalized. A block whose norms leave the floating range is redone one step at a
    time, renormalizing every step.
    """
    n = ensemble.n
    w = ensemble.sample(host_rng(seed, MATRIX_STREAM, i), np, dtype)
    planes = 2 if w.dtype.kind == "c" else 1
    apply = _product(w, ensemble.diagonal, dtype)
    # rows: hidden rows first (one per (scale, input)), then trajectory rows (one per input)
    ends: dict = {}
    for kind, inputs, steps, _recorded, scale in specs:
        key = ("hidden", float(scale)) if kind == "hidden" else ("trajectory", 1.0)
        for j in range(inputs):
            ends[(*key, j)] = max(ends.get((*key, j), 0), steps)
    keys = sorted(ends, key=lambda k: (k[0] != "hidden", k[1], k[2]))
    index = {k: r for r, k in enumerate(keys)}
    end = np.array([ends[k] for k in keys])
    hidden = np.array([k[0] == "hidden" for k in keys])
    scale = np.array([k[1] for k in keys])
    rngs = [host_rng(seed, INPUT_STREAM, i, k[2]) for k in keys]
    logs = np.zeros((len(keys), int(end.max()) + 1))  # every step of every row
    log_norm = np.zeros(len(keys))
    state = np.zeros((planes, len(keys), n), dtype=dtype)
    traj = np.flatnonzero(~hidden)
    if traj.size:
        x0 = _input_block([rngs[r] for r in traj], 1, n, np.empty((traj.size, 1, n)))[:, 0, :].astype(dtype)
        sq0 = _squared_norms(x0[None])
        log_norm[traj] = logs[traj, 0] = 0.5 * np.log(sq0)
        state[0, traj] = x0 * (1.0 / np.sqrt(sq0)).astype(dtype)[:, None]
    active = np.arange(len(keys))
    raw_buf = np.empty((int(hidden.sum()), BLOCK_STEPS, n))
    scaled_buf = np.empty((int(hidden.sum()), BLOCK_STEPS, n), dtype=dtype)
    buf = None
    done = 0
    while done < end.max():
        keep = active[end[active] > done]
        if buf is None or keep.size != active.size:  # start, or rows left: a smaller block
            last = state if buf is None else buf[0]
            pos = np.searchsorted(active, keep)
            state = np.ascontiguousarray(last[:, pos])
            active = keep
            buf = np.empty((BLOCK_STEPS + 1, planes, active.size, n), dtype=dtype)
            buf[0] = state
            nh = int(hidden[active].sum())
            act_rngs = [rngs[r] for r in active[:nh]]
            act_scale = scale[active[:nh]]
        count = min(BLOCK_STEPS, int(end[active].max()) - done)
        current = log_norm[active]
        raw = None
        if nh:
            raw = _input_block(act_rngs, count, n, raw_buf)
            for h in np.flatnonzero(act_scale != 1.0):
                raw[h] *= act_scale[h]
            scaled = scaled_buf[:nh, :count]
            np.multiply(raw, np.exp(-current[:nh])[:, None, None], out=scaled, casting="same_kind")
        with np.errstate(over="ignore", invalid="ignore"):  # checked below: the block is redone
            for t in range(1, count + 1):
                apply(buf[t - 1], buf[t])
                if nh:
                    buf[t, 0, :nh] += scaled[:, t - 1]
            sq = _squared_norms(buf[1 : count + 1])  # (count, m)
        if np.all(np.isfinite(sq)) and np.all(sq > 0):
            block_logs = current + 0.5 * np.log(sq)
            np.multiply(buf[count], (1.0 / np.sqrt(sq[-1])).astype(dtype)[:, None], out=buf[0])
        else:
            block_logs = _single_steps(apply, buf, count, raw, current, nh, dtype)
            buf[0] = buf[count]
        logs[active, done + 1 : done + count + 1] = block_logs.T
        log_norm[active] = block_logs[-1]
        done += count
    out = []
    for kind, inputs, _steps, recorded, sc in specs:
        key = ("hidden", float(sc)) if kind == "hidden" else ("trajectory", 1.0)
        rows = [index[(*key, j)] for j in range(inputs)]
        out.append(logs[np.ix_(rows, recorded)])
    return out


def _single_steps(apply, buf, count, raw, log_norm, nh, dtype) -> np.ndarray:
    """The careful path for one block: renormalize after every step. Returns (count, m) log-norms;
    leaves the unit-norm state in buf[count]."""
    logs = np.empty((count, buf.shape[2]))
    current = log_norm.copy()
    for t in range(1, count + 1):
        apply(buf[t - 1], buf[t])
        if nh:
            buf[t, 0, :nh] += (raw[:, t - 1] * np.exp(-current[:nh])[:, None]).astype(dtype)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            sq = _squared_norms(buf[t])
            current = current + 0.5 * np.log(sq)
            buf[t] *= (1.0 / np.sqrt(sq)).astype(dtype)[:, None]
        logs[t - 1] = current
    return logs


def _cpu_task(task) -> list:
    """Worker entry: for matrices start..stop-1 of one ensemble, a list (per matrix) of
    (spec index, (inputs, R) natural-log norms) for every spec that covers the matrix."""
    ensemble, seed, start, stop, specs, precision = task
    dtype = real_dtype(precision)
    out = []
    for i in range(start, stop):
        mine = [k for k, spec in enumerate(specs) if spec[0] > i]
        values = _propagate_rows(ensemble, seed, i, [specs[k][1:] for k in mine], dtype)
        out.append(list(zip(mine, values)))
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
        request = Request(ensemble, kind, matrices, inputs, int(recorded[-1]), every, input_scale)
        progress = None if on_progress is None else (lambda _r, k: on_progress(k))
        return dict(simulate_many([request], seed=seed, precision=precision, workers=workers, chunk_size=chunk_size, on_progress=progress))[0]
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

    Requests on the same ensemble object share their matrices: for matrix i, every request that
    covers it advances in one block of rows (one GEMM per step; see :func:`_propagate_rows`), so
    W is read once per step for all of them, and rows used by several requests (the same kind,
    input j and input scale) are computed once. Tasks (chunks of matrices) are ordered by
    decreasing cost, so both cores stay busy to the end.

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
    the product has.
    """
    requests = list(requests)
    seed = seed_value(seed)
    if not requests:
        return
    real_dtype(precision)
    recorded = []
    for r in requests:
        choice(r.kind, "kind", KINDS)
        whole_number(r.matrices, "matrices")
        whole_number(r.inputs, "inputs")
        positive_number(r.input_scale, "input_scale")
        recorded.append(record_steps(r.kind, r.steps, r.every))
    # a trajectory on a multiple c W of another request's matrices W is that trajectory tilted by k log c
    derived: dict[int, int] = {}
    for k in range(len(requests)):
        twin = _scaled_twin(requests, k, derived)
        if twin is not None:
            derived[k] = twin
    groups: list[list[int]] = []
    for k, r in enumerate(requests):
        if k in derived:
            continue
        group = next((g for g in groups if requests[g[0]].ensemble is r.ensemble), None)
        if group is None:
            groups.append([k])
        else:
            group.append(k)
    total = max(1, sum(max(requests[k].matrices for k in g) for g in groups))
    workers = resolve_workers(workers, tasks=total)
    if chunk_size is not None:
        chunk_size = whole_number(chunk_size, "chunk_size")
    chunk_size = chunk_size or max(1, min(4, math.ceil(total / (8 * workers))))
    tasks, costs, owners = [], [], []
    for g in groups:
        ens = requests[g[0]].ensemble
        specs = tuple((requests[k].matrices, requests[k].kind, requests[k].inputs, int(recorded[k][-1]), recorded[k], requests[k].input_scale) for k in g)
        weight = (3 if ens.field == "complex" and not ens.diagonal else 1) * ens.n**2
        for a in range(0, max(requests[k].matrices for k in g), chunk_size):
            b = min(a + chunk_size, max(requests[k].matrices for k in g))
            tasks.append((ens, seed, a, b, specs, precision))
            costs.append(weight * sum((min(b, sp[0]) - min(a, sp[0])) * sp[2] * sp[3] for sp in specs))
            owners.append(g)
    order = sorted(range(len(tasks)), key=lambda t: -costs[t])  # longest first: no serial tail
    logs = [np.empty((r.matrices, r.inputs, rec.size)) for r, rec in zip(requests, recorded)]
    left = [r.matrices for r in requests]
    for t, values in process_map(_cpu_task, [tasks[t] for t in order], workers=min(workers, len(tasks))):
        task = tasks[order[t]]
        g = owners[order[t]]
        for i, per_matrix in zip(range(task[2], task[3]), values):
            for spec_index, value in per_matrix:
                k = g[spec_index]
                logs[k][i] = value
                left[k] -= 1
                if on_progress:
                    on_progress(k, 1)
                if left[k] == 0:
                    yield k, _curves(requests[k].kind, recorded[k], logs[k])
                    for d in (d for d, q in derived.items() if q == k):
                        tilt = math.log(requests[d].ensemble.std / requests[k].ensemble.std) * recorded[d]
                        if on_progress:
                            on_progress(d, requests[d].matrices)
                        yield d, _curves(requests[d].kind, recorded[d], logs[k][: requests[d].matrices] + tilt)


def _scaled_twin(requests, k: int, derived: dict) -> int | None:
    """Index q < k of a computed (not ``derived``) request whose trajectories give request k's, or None.

    Dense Gaussian (or truncated-normal) ensembles that differ only in ``std`` draw the same
    standard normals for matrix i, so W_k = (std_k / std_q) W_q and ||W_k^k x|| =
    (std_k / std_q)^k ||W_q^k x|| with the same inputs x: Figure 1's rescaled trajectories are its
    Glorot ones tilted by k log(gain ratio), with no products (the float32 matrices themselves
    differ from exact multiples by one rounding per entry, below the propagation's own rounding).
    """
    r = requests[k]
    if r.kind != "trajectory" or r.ensemble.diagonal or r.ensemble.kind not in ("gaussian", "truncnormal"):
        return None
    for q, other in enumerate(requests[:k]):
        e, f = r.ensemble, other.ensemble
        if q not in derived and other.kind == "trajectory" and e is not f and (f.kind, f.n, f.field, f.params) == (e.kind, e.n, e.field, e.params) \
                and (other.matrices, other.inputs, other.steps, other.every) == (r.matrices, r.inputs, r.steps, r.every):
            return q
    return None


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

"""Batched spectral radii: LAPACK ?geev (eigenvalues only) across worker processes on CPU,
cuSOLVER Xgeev through ``cupy.linalg.eigvals`` in bounded chunks on GPU.

Why not ``numpy.linalg.eigvals``: it always works in double precision; ?geev with
``compute_vl=0, compute_vr=0``, the optimal workspace and a Fortran-ordered input (we pass W.T, a
free view with the same eigenvalues) in single precision is about 1.6x faster per matrix at
n = 500, and about 3x with two worker processes (benchmarks/bench_radius.py).
OpenBLAS's eigensolver is mostly single-threaded, and f2py keeps the GIL, so matrices are spread
across processes, each limited to one BLAS thread.

Samplers (``sampler=``): for Gaussian inits (glorot, rescaled, half; real and complex) on the CPU the
default draws the matrix's Hessenberg form directly and needs only ?hseqr (:mod:`specdiag._hessenberg`:
exact in law, about 1.4x faster per matrix at n = 500); ``"dense"`` draws W itself, as every release
before did, bit for bit. Other inits, and the GPU, always use the dense sampler
(:func:`resolve_sampler` says which one ran).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import _hessenberg as hessenberg
from ._backend import (
    LAW_STREAM,
    MATRIX_STREAM,
    array_module,
    cupy_module,
    device_rng,
    real_dtype,
    resolve_device,
    to_host,
)
from ._pool import process_map, resolve_workers
from ._results import Result
from ._errors import InputError
from ._validation import choice, seed_value, whole_number

__all__ = [
    "METHODS",
    "LAW_LABEL",
    "SAMPLERS",
    "resolve_sampler",
    "sample_radii",
    "law_radii",
    "radius_stats",
    "RadiusStats",
    "gpu_chunk_size",
]

#: how radii are obtained: eigenvalues of sampled matrices, or exact draws from the radius law
METHODS = ("matrices", "law")
#: how results drawn from the law are labelled everywhere
LAW_LABEL = "exact in law, no matrices"
#: how Gaussian matrices are drawn for radius-only work: "hessenberg" (default) or "dense"
SAMPLERS = hessenberg.SAMPLERS

ProgressCallback = Callable[[int], None]


def _radius_of_sample(sample: np.ndarray, diagonal: bool) -> float:
    from ._linalg import eigenvalues  # noqa: PLC0415

    if diagonal:
        return float(np.abs(sample).max())
    return float(np.abs(eigenvalues(sample, overwrite=True)).max())


def _cpu_chunk(task) -> np.ndarray:
    """Radii of matrices start..stop-1, each from its own generator (seed, MATRIX_STREAM, i)."""
    ensemble, seed, start, stop, precision, sampler = task
    dtype = real_dtype(precision)
    out = np.empty(stop - start)
    for i in range(start, stop):
        if sampler == "hessenberg":
            out[i - start] = hessenberg.hessenberg_radius(ensemble, seed, i, dtype)
            continue
        sample = ensemble.sample(device_rng(seed, MATRIX_STREAM, i), np, dtype)
        out[i - start] = _radius_of_sample(sample, ensemble.diagonal)
    return out


#: eigen-solve work (n^3, times 4 for complex) per task that amortizes its messages (~20 ms of ?hseqr)
TASK_WORK = 4e7


def _cpu_chunk_size(ensemble, samples: int, workers: int) -> int:
    """Matrices per task: about 4 tasks per worker (at most 32 matrices each), and no more matrices
    than :data:`TASK_WORK` per task, so that at n >= 300 each matrix is its own task and the workers
    finish within one matrix of each other (13 matrices a task left one worker 4 matrices behind
    at 100 matrices on 2 cores)."""
    chunk = max(1, min(32, math.ceil(samples / (4 * workers))))
    if ensemble.diagonal:
        return chunk
    work = float(ensemble.n) ** 3 * (4 if ensemble.field == "complex" else 1)
    return max(1, min(chunk, math.ceil(TASK_WORK / work)))


def resolve_sampler(ensemble, sampler: str = "hessenberg", device: str = "cpu") -> str:
    """The sampler that :func:`sample_radii` really uses: ``"hessenberg"`` or ``"dense"``.

    The Hessenberg form exists only for i.i.d. Gaussian entries (glorot, rescaled, half), and the
    GPU keeps the dense path (cuSOLVER has batched ?geev, no ?hseqr), so anything else is "dense"
    whatever was asked. Reports (JSON, run.json) should carry this value.

    Parameters
    ----------
    ensemble : specdiag._inits.Ensemble
        The matrix law.
    sampler : {"hessenberg", "dense"}
        What was asked for.
    device : {"auto", "cpu", "gpu"}
        Where the radii are computed.

    Examples
    --------
    >>> from specdiag._inits import make_ensemble
    >>> resolve_sampler(make_ensemble("glorot", 10)), resolve_sampler(make_ensemble("lru", 10))
    ('hessenberg', 'dense')
    """
    sampler = choice(str(getattr(sampler, "value", sampler)), "sampler", SAMPLERS)
    if sampler == "hessenberg" and hessenberg.supports(ensemble) and resolve_device(device) == "cpu":
        return "hessenberg"
    return "dense"


def _chunks(samples: int, chunk_size: int):
    return [(s, min(s + chunk_size, samples)) for s in range(0, samples, chunk_size)]


def sample_radii(
    ensemble,
    samples: int,
    seed: int = 0,
    *,
    precision: str = "single",
    device: str = "cpu",
    workers: int | None = None,
    chunk_size: int | None = None,
    on_progress: ProgressCallback | None = None,
    start_index: int = 0,
    sampler: str = "hessenberg",
) -> np.ndarray:
    """Spectral radii of ``samples`` independent draws from ``ensemble``.

    Parameters
    ----------
    ensemble : specdiag._inits.Ensemble
        The matrix law (see :func:`specdiag._inits.make_ensemble`).
    samples : int
        Number of matrices.
    seed : int
        Matrix i (counting from ``start_index``) is drawn from the generator keyed (seed, i), so the
        result is identical for any ``workers`` or ``chunk_size``.
    precision : {"single", "double"}
        Eigenvalue precision (single is ample for radii: relative error about 1e-6).
    device : {"auto", "cpu", "gpu"}
        GPU draws use the device's own generator (see :func:`specdiag._backend.device_rng`).
    workers : int, optional
        CPU processes (default: every core), one BLAS thread each.
    chunk_size : int, optional
        Matrices per task; bounds memory, never changes results.
    on_progress : callable, optional
        Called with the number of matrices finished.
    start_index : int
        Index of the first matrix (a sweep task computes a slice of a grid point).
    sampler : {"hessenberg", "dense"}
        "hessenberg" (default): Gaussian inits on the CPU draw the Hessenberg form of W, exact in law
        but not the same matrices as "dense" for the same seed; use "dense" when the radii must
        belong to the matrices other work uses (dynamics of the same W). Other inits and the GPU
        always draw densely (:func:`resolve_sampler`).

    Returns
    -------
    numpy.ndarray
        Shape ``(samples,)``, float64 radii.
    """
    samples = whole_number(samples, "samples")
    seed = seed_value(seed)
    real_dtype(precision)
    device = resolve_device(device)
    sampler = resolve_sampler(ensemble, sampler, device)
    if chunk_size is not None:
        chunk_size = whole_number(chunk_size, "chunk_size")
    if device == "gpu":
        return _gpu_radii(ensemble, samples, seed, precision, chunk_size, on_progress, start_index)
    workers = resolve_workers(workers, tasks=samples)
    if not ensemble.diagonal:
        import scipy.linalg  # noqa: F401, PLC0415 (loaded once here, inherited by the forked workers)
    chunk_size = chunk_size or _cpu_chunk_size(ensemble, samples, workers)
    radii = np.empty(samples)
    chunks = [(start_index + a, start_index + b) for a, b in _chunks(samples, chunk_size)]
    tasks = [(ensemble, seed, a, b, precision, sampler) for a, b in chunks]
    for k, values in process_map(_cpu_chunk, tasks, workers=min(workers, len(tasks))):
        a = chunks[k][0] - start_index
        radii[a : a + values.size] = values
        if on_progress:
            on_progress(values.size)
    return radii


def law_radii(ensemble, samples: int, seed: int = 0) -> np.ndarray:
    """Radii drawn from the exact law of the spectral radius, without building any matrix.

    Exact in law (docs/science.md section 7): complex Gaussian inits (glorot, half, rescaled) from Kostlan's law
    (rho^2 = max_k Gamma(k, 1)/n, scaled by the init's gain), diagonal inits (uniform-diag,
    uniform-disk, lru) from their closed forms P(rho <= r) = F(r)^n. The draws follow the same law
    as :func:`sample_radii` but are different numbers (one stream keyed (seed, LAW_STREAM, n): each
    width its own, so draws at two widths are independent).

    Parameters
    ----------
    ensemble : specdiag._inits.Ensemble
        The matrix law; it must have an exact radius law (``ensemble.exact_law``).
    samples : int
        Number of radii.
    seed : int
        Seed of the stream.

    Returns
    -------
    numpy.ndarray
        Shape ``(samples,)``, float64.

    Raises
    ------
    InputError
        (param ``method``) for real Gaussian inits, which have no exact law (only a Monte Carlo
        table), and for truncnormal (only a universality approximation).

    Examples
    --------
    >>> from specdiag._inits import make_ensemble
    >>> r = law_radii(make_ensemble("uniform-diag", 1000), 5, seed=1)
    >>> r.shape, bool((r > 0.99).all() and (r <= 1).all())
    ((5,), True)
    """
    samples = whole_number(samples, "samples")
    seed = seed_value(seed)
    if not ensemble.exact_law:
        what = (
            "real Gaussian inits have no exact radius law (only a Monte Carlo table)"
            if ensemble.field == "real"
            else f"{ensemble.name} has no exact radius law (universality only)"
        )
        raise InputError(
            f"method 'law' draws from an exact law, but {what}: sample matrices instead (method 'matrices'), or use "
            "field 'complex'",
            param="method",
        )
    from ._backend import host_rng  # noqa: PLC0415

    law = ensemble.numeric_law()  # the numeric law: no scipy.stats; one stream per (seed, width)
    return np.asarray(law.rvs(size=samples, random_state=host_rng(seed, LAW_STREAM, ensemble.n)), dtype=np.float64)


def gpu_chunk_size(n: int, precision: str, budget_bytes: int | None = None) -> int:
    """Matrices per GPU chunk so that inputs plus cuSOLVER workspace stay within a memory budget.

    The budget defaults to a quarter of the free device memory, capped at 4 GiB.
    """
    if budget_bytes is None:
        cp = cupy_module()
        free = cp.cuda.runtime.memGetInfo()[0] if cp is not None else 4 << 30
        budget_bytes = min(free // 4, 4 << 30)
    per_matrix = n * n * np.dtype(real_dtype(precision)).itemsize * 2 * 4  # complex input + workspace
    return int(max(1, min(1024, budget_bytes // per_matrix)))


def _gpu_radii(ensemble, samples, seed, precision, chunk_size, on_progress, start_index):
    cp = array_module("gpu")
    dtype = real_dtype(precision)
    n = ensemble.n
    chunk_size = chunk_size or gpu_chunk_size(n, precision)
    radii = np.empty(samples)
    for a, b in _chunks(samples, chunk_size):
        draws = [
            ensemble.sample(device_rng(seed, MATRIX_STREAM, start_index + i, device="gpu"), cp, dtype)
            for i in range(a, b)
        ]
        batch = cp.stack(draws)
        del draws
        if ensemble.diagonal:
            values = cp.abs(batch).max(axis=-1)
        else:
            values = cp.abs(cp.linalg.eigvals(batch)).max(axis=-1)
        host = to_host(values).astype(np.float64)
        # cuSOLVER reports failure only for the last matrix of a batch: check every one, and
        # recompute any non-finite result on the CPU from the same draw.
        for j in np.flatnonzero(~np.isfinite(host)):
            host[j] = _radius_of_sample(to_host(batch[j]), ensemble.diagonal)
        radii[a:b] = host
        del batch, values
        if on_progress:
            on_progress(b - a)
    return radii


@dataclass(frozen=True)
class RadiusStats(Result):
    """Summary of sampled spectral radii.

    Attributes: ``count``, ``mean``, ``std`` (ddof=1), ``min``, ``q05``, ``median``, ``q95``,
    ``max``, ``p_above_1`` (fraction of radii above 1).
    """

    count: int
    mean: float
    std: float
    min: float
    q05: float
    median: float
    q95: float
    max: float
    p_above_1: float


def radius_stats(radii) -> RadiusStats:
    """Mean, sd (ddof=1), extremes, 5/50/95% quantiles and the fraction above 1 of sampled radii.

    Examples
    --------
    >>> s = radius_stats([0.9, 1.0, 1.1, 1.2])
    >>> round(s.mean, 6), s.p_above_1
    (1.05, 0.5)

    Raises
    ------
    InputError
        (param ``radii``) for no radii, non-numbers or non-finite values.
    """
    try:
        radii = np.asarray(radii, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"radii must be numbers ({exc})", param="radii") from None
    if radii.size == 0:
        raise InputError("radii is empty: give at least one radius", param="radii")
    if not np.all(np.isfinite(radii)):
        bad = radii.size - int(np.isfinite(radii).sum())
        raise InputError(f"radii must be finite numbers ({bad} of {radii.size} are not)", param="radii")
    q05, median, q95 = np.quantile(radii, [0.05, 0.5, 0.95])
    return RadiusStats(
        count=int(radii.size),
        mean=float(radii.mean()),
        std=float(radii.std(ddof=1)) if radii.size > 1 else 0.0,
        min=float(radii.min()),
        q05=float(q05),
        median=float(median),
        q95=float(q95),
        max=float(radii.max()),
        p_above_1=float(np.mean(radii > 1.0)),
    )

"""Batched spectral radii: LAPACK ?geev (eigenvalues only) across worker processes on CPU,
cuSOLVER Xgeev through ``cupy.linalg.eigvals`` in bounded chunks on GPU.

Why not ``numpy.linalg.eigvals``: it always works in double precision; ?geev with
``compute_vl=0, compute_vr=0``, the optimal workspace and a Fortran-ordered input (we pass W.T, a
free view with the same eigenvalues) in single precision is about 1.6x faster per matrix at
n = 500, and about 3x with two worker processes (benchmarks/bench_radius.py).
OpenBLAS's eigensolver is mostly single-threaded, and f2py keeps the GIL, so matrices are spread
across processes, each limited to one BLAS thread.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from .backend import MATRIX_STREAM, array_module, cupy_module, device_rng, to_host
from .errors import InputError
from .inits import Ensemble

PRECISIONS = {"single": np.float32, "double": np.float64}
ProgressCallback = Callable[[int], None]


def real_dtype(precision: str):
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}: use single or double")
    return PRECISIONS[precision]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@lru_cache(maxsize=64)
def _geev_for(n: int, dtype_char: str):
    """(geev, optimal lwork) for this size and LAPACK type, from a workspace query."""
    probe = np.empty((1, 1), dtype=dtype_char)
    geev, geev_lwork = lapack.get_lapack_funcs(("geev", "geev_lwork"), (probe,))
    work, info = geev_lwork(n, compute_vl=0, compute_vr=0)
    if info != 0:
        raise RuntimeError(f"LAPACK ?geev workspace query failed (info={info})")
    return geev, max(1, int(np.real(work)))


def eigenvalues(a: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """All eigenvalues of a square host matrix by LAPACK ?geev without eigenvectors.

    Precision follows a's dtype (float32/complex64 stay single). ``overwrite`` lets LAPACK destroy
    ``a`` when it is already Fortran-ordered.
    """
    n = a.shape[0]
    # eig(W) = eig(W.T), and W.T of a C-ordered W is Fortran-ordered: no copy.
    at = a.T if a.flags.c_contiguous else np.asfortranarray(a)
    geev, lwork = _geev_for(n, at.dtype.char)
    if np.iscomplexobj(at):
        w, _, _, info = geev(at, compute_vl=0, compute_vr=0, lwork=lwork, overwrite_a=int(overwrite))
    else:
        wr, wi, _, _, info = geev(at, compute_vl=0, compute_vr=0, lwork=lwork, overwrite_a=int(overwrite))
        w = wr + 1j * wi
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK ?geev did not converge (info={info})")
    return w


def spectral_radius(a: np.ndarray) -> float:
    """max |lambda_i(a)| of one host matrix, at the precision of its dtype."""
    return float(np.abs(eigenvalues(np.array(a, copy=True), overwrite=True)).max())


def _radius_of_sample(sample: np.ndarray, diagonal: bool) -> float:
    if diagonal:
        return float(np.abs(sample).max())
    return float(np.abs(eigenvalues(sample, overwrite=True)).max())


def _cpu_chunk(ensemble: Ensemble, seed: int, start: int, stop: int, precision: str) -> tuple[int, np.ndarray]:
    """Radii of matrices start..stop-1, each from its own generator (seed, MATRIX_STREAM, i)."""
    dtype = real_dtype(precision)
    out = np.empty(stop - start)
    with threadpool_limits(limits=1):
        for i in range(start, stop):
            sample = ensemble.sample(device_rng(seed, MATRIX_STREAM, i), np, dtype)
            out[i - start] = _radius_of_sample(sample, ensemble.diagonal)
    return start, out


def pool_context():
    """The multiprocessing context for worker pools."""
    # fork is fast and safe here: workers only compute; callers keep no threads alive while
    # forking (our progress display refreshes without a thread).
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _chunks(samples: int, chunk_size: int):
    return [(s, min(s + chunk_size, samples)) for s in range(0, samples, chunk_size)]


def _check_batch_args(samples: int, workers: int | None, chunk_size: int | None) -> int:
    if samples < 1:
        raise InputError(f"--samples must be at least 1, got {samples}")
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"--chunk-size must be at least 1, got {chunk_size}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    return workers


def sample_radii(
    ensemble: Ensemble,
    samples: int,
    seed: int = 0,
    *,
    precision: str = "single",
    device: str = "cpu",
    workers: int | None = None,
    chunk_size: int | None = None,
    on_progress: ProgressCallback | None = None,
    start_index: int = 0,
) -> np.ndarray:
    """Spectral radii of ``samples`` independent draws from ``ensemble`` (host float64 array).

    Matrix i (counting from ``start_index``) is drawn from the generator keyed (seed, i), so the
    result is identical for any ``workers`` or ``chunk_size``. ``device`` must be resolved
    (``cpu``/``gpu``); GPU draws use the device's own generator (see backend.device_rng).
    """
    workers = _check_batch_args(samples, workers, chunk_size)
    real_dtype(precision)
    if device == "gpu":
        return _gpu_radii(ensemble, samples, seed, precision, chunk_size, on_progress, start_index)
    chunk_size = chunk_size or max(1, min(32, math.ceil(samples / (4 * workers))))
    radii = np.empty(samples)
    tasks = [(start_index + a, start_index + b) for a, b in _chunks(samples, chunk_size)]
    if workers == 1 or len(tasks) == 1:
        for a, b in tasks:
            radii[a - start_index : b - start_index] = _cpu_chunk(ensemble, seed, a, b, precision)[1]
            if on_progress:
                on_progress(b - a)
        return radii
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=pool_context()) as pool:
        futures = [pool.submit(_cpu_chunk, ensemble, seed, a, b, precision) for a, b in tasks]
        for future in as_completed(futures):
            a, values = future.result()
            radii[a - start_index : a - start_index + values.size] = values
            if on_progress:
                on_progress(values.size)
    return radii


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
        draws = [ensemble.sample(device_rng(seed, MATRIX_STREAM, start_index + i, device="gpu"), cp, dtype) for i in range(a, b)]
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


def radius_stats(radii: np.ndarray) -> dict:
    """Mean, sd (ddof=1), extremes, 5/50/95% quantiles and the fraction above 1 of sampled radii."""
    radii = np.asarray(radii, dtype=float)
    q05, median, q95 = np.quantile(radii, [0.05, 0.5, 0.95])
    return {
        "mean": float(radii.mean()),
        "std": float(radii.std(ddof=1)) if radii.size > 1 else 0.0,
        "min": float(radii.min()),
        "q05": float(q05),
        "median": float(median),
        "q95": float(q95),
        "max": float(radii.max()),
        "p_above_1": float(np.mean(radii > 1.0)),
    }

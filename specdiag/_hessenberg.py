"""The Hessenberg sampler: eigenvalues of a Gaussian matrix without building it (docs/science.md section 2).

A Gaussian matrix W (i.i.d. N(0, std^2) entries, real; or circular complex with E|W_ij|^2 = std^2)
is orthogonally (unitarily) similar to an upper Hessenberg matrix H with independent entries
(Householder reduction of a Gaussian matrix, column by column):

- on and above the diagonal, H_ij has the law of W_ij;
- below it, H_{k+1,k} = std * chi_{n-k} (real) or std * chi_{2(n-k)} / sqrt(2) (complex), k = 1..n-1,
  the norm of the n-k Gaussian entries the reflection folds into one.

So H has exactly the eigenvalue law of W, and the spectral radius needs only LAPACK ?hseqr
(eigenvalues only: job "E", compz "N"), skipping the balancing (?gebal) and the reduction (?gehrd)
that ?geev spends most of its time on, with about half the random numbers.

SciPy has no Python wrapper for ?hseqr, but ``scipy.linalg.cython_lapack.__pyx_capi__`` holds every
LAPACK routine it links as a C function pointer in a capsule; ctypes calls it with no compiler and
releases the GIL for the call.

The matrices differ from the dense sampler's for the same seed (only their eigenvalue law is the
same), so the choice is explicit everywhere (``sampler="hessenberg" | "dense"``) and never mixed
with work that needs W itself (dynamics, figures that pair radii with trajectories).
"""

from __future__ import annotations

import ctypes
import functools
import math
import threading

import numpy as np

from ._backend import MATRIX_STREAM, host_rng

__all__ = ["SAMPLERS", "supports", "sample_hessenberg", "hseqr_eigenvalues", "hessenberg_radius"]

#: how Gaussian matrices are drawn for radius-only work: the Hessenberg form, or the full matrix
SAMPLERS = ("hessenberg", "dense")

_ROUTINES = {"f": "shseqr", "d": "dhseqr", "F": "chseqr", "D": "zhseqr"}
_REAL_OF = {"f": np.float32, "d": np.float64, "F": np.float32, "D": np.float64}


def supports(ensemble) -> bool:
    """True when ``ensemble`` has i.i.d. Gaussian entries (glorot, rescaled, half; real or complex),
    the only laws whose Hessenberg form has independent entries of known law."""
    return ensemble.kind == "gaussian" and not ensemble.diagonal


@functools.cache
def _routine(char: str):
    """The ctypes function for ?hseqr of LAPACK type ``char`` (f, d, F, D), from SciPy's capsule."""
    from scipy.linalg import cython_lapack  # noqa: PLC0415 (loads SciPy's LAPACK only when eigenvalues are asked for)

    capsule = cython_lapack.__pyx_capi__[_ROUTINES[char]]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    # job, compz, n, ilo, ihi, h, ldh, (wr, wi | w), z, ldz, work, lwork, info: every argument by address
    count = 14 if char in "fd" else 13
    return ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * count))(address)


def _int(value: int) -> ctypes.c_int:
    return ctypes.c_int(value)


def _call(char: str, h: np.ndarray, outputs: tuple[np.ndarray, ...], work: np.ndarray, lwork: int) -> int:
    n = h.shape[0]
    info = _int(0)
    ints = [_int(v) for v in (n, 1, n, max(1, n), 1, lwork)]
    z = np.zeros(1, dtype=h.dtype)
    args = [
        ctypes.c_char_p(b"E"),
        ctypes.c_char_p(b"N"),
        ctypes.byref(ints[0]),
        ctypes.byref(ints[1]),
        ctypes.byref(ints[2]),
        h.ctypes.data,
        ctypes.byref(ints[3]),
        *(o.ctypes.data for o in outputs),
        z.ctypes.data,
        ctypes.byref(ints[4]),
        work.ctypes.data,
        ctypes.byref(ints[5]),
        ctypes.byref(info),
    ]
    _routine(char)(*args)
    return int(info.value)


@functools.lru_cache(maxsize=64)
def _lwork(n: int, char: str) -> int:
    """The optimal lwork of ?hseqr (job E, compz N) at order n, from LAPACK's workspace query."""
    dtype = np.dtype(char)
    h = np.zeros((n, n), dtype=dtype, order="F")
    outputs = (np.empty(n, _REAL_OF[char]), np.empty(n, _REAL_OF[char])) if char in "fd" else (np.empty(n, dtype),)
    work = np.zeros(1, dtype=dtype)
    if _call(char, h, outputs, work, -1) != 0:
        return max(1, n)
    return max(1, n, int(work[0].real))


def hseqr_eigenvalues(h: np.ndarray) -> tuple[np.ndarray, int]:
    """Eigenvalues of an upper Hessenberg matrix by LAPACK ?hseqr (job "E", compz "N"), destroying ``h``.

    Parameters
    ----------
    h : numpy.ndarray
        Fortran-ordered (n, n) float32, float64, complex64 or complex128 upper Hessenberg matrix
        (entries below the subdiagonal must be zero). Overwritten.

    Returns
    -------
    (numpy.ndarray, int)
        The n eigenvalues (complex, in the working precision) and LAPACK's ``info``: 0 on success,
        > 0 when the QR iteration did not converge (then only some eigenvalues were found).
    """
    n = h.shape[0]
    char = h.dtype.char
    if char not in _ROUTINES or h.ndim != 2 or h.shape[1] != n or not h.flags.f_contiguous or not h.flags.writeable:
        raise ValueError("h must be a writeable Fortran-ordered square float32/float64/complex64/complex128 array")
    lwork = _lwork(n, char)
    work = np.empty(lwork, dtype=h.dtype)
    if char in "fd":
        wr, wi = np.empty(n, h.dtype), np.empty(n, h.dtype)
        info = _call(char, h, (wr, wi), work, lwork)
        return wr + 1j * wi, info
    w = np.empty(n, h.dtype)
    info = _call(char, h, (w,), work, lwork)
    return w, info


@functools.lru_cache(maxsize=8)
def _layout(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat C-order indices in H^T (so H is its Fortran-ordered transpose) of H's upper triangle,
    column by column (row-major lower triangle of H^T), and of its subdiagonal H_{k+1,k}, k = 0..n-2."""
    rows, cols = np.tril_indices(n)
    upper = rows * n + cols
    k = np.arange(n - 1)
    sub = k * n + k + 1
    return upper.astype(np.intp), sub.astype(np.intp)


def sample_hessenberg(ensemble, rng, dtype=np.float64) -> np.ndarray:
    """One draw of the Hessenberg form of ``ensemble``'s matrix, Fortran-ordered, ready for ?hseqr.

    Draw order from ``rng`` (all float64, then cast to ``dtype``'s precision like the dense sampler):
    the n-1 chi variates of the subdiagonal (degrees of freedom n-1, ..., 1; complex 2(n-1), ..., 2),
    then the n(n+1)/2 normals of the upper triangle column by column (complex: real parts, then
    imaginary parts).

    Parameters
    ----------
    ensemble : specdiag._inits.Ensemble
        A Gaussian ensemble (:func:`supports`); ``ensemble.std`` scales every entry.
    rng : numpy.random.Generator
        The matrix's own generator.
    dtype : numpy dtype
        The real working precision (float32 or float64); complex ensembles use the matching complex type.

    Returns
    -------
    numpy.ndarray
        (n, n) upper Hessenberg, Fortran-ordered (a new array).
    """
    workspace = _Workspace(ensemble, dtype)
    return _fill(ensemble, rng, workspace).copy(order="F")


class _Workspace:
    """Buffers for one (n, field, precision): H^T and the normals, reused from matrix to matrix (a
    fresh 1-8 MB array per matrix costs page faults that, on a loaded VM, took as long as the draws)."""

    def __init__(self, ensemble, dtype):
        n = ensemble.n
        single = np.dtype(dtype) == np.float32
        if ensemble.field == "complex":
            work_type: type = np.complex64 if single else np.complex128
        else:
            work_type = np.float32 if single else np.float64
        self.key = (n, ensemble.field, np.dtype(dtype).char)
        self.transposed = np.zeros((n, n), dtype=work_type)
        self.normals = np.empty(n * (n + 1) // 2)


_LOCAL = threading.local()


def _workspace(ensemble, dtype) -> _Workspace:
    """This thread's workspace for ensemble's width and field at ``dtype`` (one kept at a time)."""
    key = (ensemble.n, ensemble.field, np.dtype(dtype).char)
    held = getattr(_LOCAL, "workspace", None)
    if held is None or held.key != key:
        held = _LOCAL.workspace = _Workspace(ensemble, dtype)
    return held


def _fill(ensemble, rng, workspace: _Workspace) -> np.ndarray:
    """Draw H into the workspace (the order of :func:`sample_hessenberg`) and return it (a view)."""
    if not supports(ensemble):
        raise ValueError(f"the Hessenberg sampler needs i.i.d. Gaussian entries, not {ensemble.name}")
    n, std = ensemble.n, ensemble.std
    upper, sub = _layout(n)
    dof = np.arange(n - 1, 0, -1, dtype=np.float64)
    flat = workspace.transposed.reshape(-1)
    normals = workspace.normals
    workspace.transposed.fill(0)  # H is upper Hessenberg: zeros below the subdiagonal (?hseqr leaves work there)
    if ensemble.field == "complex":
        part = std / math.sqrt(2.0)
        subdiagonal = np.sqrt(rng.chisquare(2.0 * dof)) * part
        rng.standard_normal(out=normals)
        normals *= part
        flat.real[upper] = normals
        rng.standard_normal(out=normals)
        normals *= part
        flat.imag[upper] = normals
    else:
        subdiagonal = np.sqrt(rng.chisquare(dof)) * std
        rng.standard_normal(out=normals)
        normals *= std
        flat[upper] = normals
    flat[sub] = subdiagonal
    return workspace.transposed.T


def hessenberg_radius(ensemble, seed: int, index: int, dtype=np.float32) -> float:
    """Spectral radius of matrix ``index`` of ``ensemble`` under the Hessenberg sampler.

    The matrix comes from the generator keyed (seed, MATRIX_STREAM, index), drawn into this
    thread's reused buffers. If ?hseqr does not converge (info > 0: not seen in practice), the same
    H is drawn again and solved by ?geev, which balances first; if that fails too, LinAlgError.
    """
    workspace = _workspace(ensemble, dtype)
    values, info = hseqr_eigenvalues(_fill(ensemble, host_rng(seed, MATRIX_STREAM, index), workspace))
    if info != 0:
        from ._linalg import eigenvalues  # noqa: PLC0415 (the fallback, never taken in practice)

        values = eigenvalues(
            _fill(ensemble, host_rng(seed, MATRIX_STREAM, index), workspace).copy(order="F"), overwrite=True
        )
    return float(np.abs(values).max())

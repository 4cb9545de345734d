"""Dense linear algebra the rest of the package shares: eigenvalues, eigendecompositions, norms,
and sums of matrix powers in log scale. The Schur-form growth kernels (no eigenvectors of W) are in
:mod:`specdiag._schur`.

Why here: spectra (radii), dynamics (exact expectations), check (user matrices) and sweep all need
the same kernels; one module keeps them consistent and breaks the old import cycle between inits,
calibration and spectra (this module imports nothing from the package but errors).

Eigenvalues use LAPACK ?geev without eigenvectors, the optimal workspace and a Fortran-ordered view
(W.T), about 1.6x faster per matrix than ``numpy.linalg.eigvals`` at n = 500 in single precision.
Power sums use one eigendecomposition W = V diag(lambda) V^{-1}:
||W^k||_F^2 = sum_ij (V^H V)_ij (V^{-1} V^{-H})_ji (conj(lambda_i) lambda_j)^k, O(n^2) per k, with
a repeated-squaring fallback (no eigenvectors) for defective or ill-conditioned W.
"""

from __future__ import annotations

import importlib
import math
from functools import lru_cache

import numpy as np


class _LazyModule:
    """Imports a SciPy module on first attribute access, so importing specdiag (and starting the
    CLI) does not load scipy.linalg; callers that fork workers import it first (see spectra)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)


linalg = _LazyModule("scipy.linalg")
blas = _LazyModule("scipy.linalg.blas")
lapack = _LazyModule("scipy.linalg.lapack")


def svds(*args, **kwargs):
    from scipy.sparse.linalg import svds as _svds  # noqa: PLC0415 (scipy.sparse costs 0.2 s: only for n > 256)

    return _svds(*args, **kwargs)


__all__ = [
    "eigenvalues",
    "spectral_radius",
    "spectral_norm",
    "eigendecomposition",
    "log_power_sums_from_eig",
    "log_frobenius_power_sums",
    "log_power_sums_by_squaring",
    "MAX_EIGVEC_CONDITION",
]

#: eigenvector condition number above which the eigendecomposition formula is not trusted
MAX_EIGVEC_CONDITION = 1e8


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


def spectral_norm(w: np.ndarray) -> float:
    if w.shape[0] <= 256:
        return float(linalg.svdvals(w)[0])
    # largest singular value only: Lanczos on W^H W, far cheaper than a full SVD at large n
    return float(svds(w, k=1, return_singular_vectors=False, random_state=0)[0])


def log_frobenius_power_sums(w: np.ndarray, ts, *, cumulative: bool) -> np.ndarray:
    """log ||W^t||_F^2 (cumulative=False) or log sum_{k<t} ||W^k||_F^2 (cumulative=True), per t.

    From W = V diag(lambda) V^{-1}: ||W^k||_F^2 = sum_ij C_ij z_ij^k, C_ij = (V^H V)_ij (V^{-1} V^{-H})_ji,
    z_ij = conj(lambda_i) lambda_j, and the sum over k < t is the geometric series. Evaluated with
    the factor max(1, rho^2)^t taken out, so it never overflows. Falls back to repeated squaring when
    V is ill-conditioned (defective or nearly so).
    """
    w = np.asarray(w, dtype=np.complex128 if np.iscomplexobj(w) else np.float64)
    return log_power_sums_from_eig(w, *eigendecomposition(w), ts)[1 if cumulative else 0]


def eigendecomposition(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(lambda, V, V^{-1}) from one LAPACK ?geev with left and right eigenvectors.

    Row i of V^{-1} is u_i^H / (u_i^H v_i) for left vectors u_i: cheaper than inverting V (about
    15% of the whole at n = 2048). V^{-1} is None when some u_i^H v_i vanishes (defective W).
    """
    lam, vl, vr = linalg.eig(w, left=True, right=True)
    d = np.einsum("ij,ij->j", vl.conj(), vr)
    if not np.all(np.abs(d) > 0):
        return lam, vr, None
    return lam, vr, vl.conj().T / d[:, None]


def log_power_sums_from_eig(
    w: np.ndarray, lam: np.ndarray, v: np.ndarray, vinv: np.ndarray | None, ts
) -> tuple[np.ndarray, np.ndarray]:
    """(log ||W^t||_F^2, log sum_{k<t} ||W^k||_F^2) per t, from W = V diag(lambda) V^{-1}
    (``eigendecomposition``); W itself is used only by the repeated-squaring fallback."""
    ts = np.atleast_1d(np.asarray(ts, dtype=np.int64))
    # 1-norm condition number of V: an O(n^2) bound, no SVD needed
    cond = np.inf if vinv is None else np.linalg.norm(v, 1) * np.linalg.norm(vinv, 1)
    if not np.isfinite(cond) or cond > MAX_EIGVEC_CONDITION:
        return log_power_sums_by_squaring(w, ts)
    # C_ij = (V^H V)_ij (V^{-1} V^{-H})_ji; both Grams are Hermitian, so one triangle each (HERK)
    assert vinv is not None  # a finite condition number means V inverted
    c = _hermitian_gram(v, columns=True) * _hermitian_gram(vinv, columns=False).T
    z = np.conj(lam)[:, None] * lam[None, :]
    top = max(float(np.abs(lam).max() ** 2), 1.0)
    # Sum_ij C_ij z_ij^t / top^t = a^H C a with a = (lambda / sqrt(top))^t: a quadratic form, no n x n
    # power. The running sum uses (z^t - 1)/(z - 1): a^H Ct a - top^-t sum(Ct), Ct = C / (z - 1),
    # with the entries where z = 1 contributing t C_ij / top^t instead.
    near_one = np.abs(z - 1) < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        c_tilde = np.where(near_one, 0.0, c / (z - 1))
    c_near = np.sum(c[near_one])
    c_tilde_sum = np.sum(c_tilde)
    del z, near_one
    ratio = lam / math.sqrt(top)
    power_out, sum_out = np.empty(ts.size), np.empty(ts.size)

    def by_squaring(t: int, cumulative: bool) -> float:  # rounding left no positive total: no eigenvectors
        return float(log_power_sums_by_squaring(w, [t])[1 if cumulative else 0][0])

    # walk the steps in increasing order, advancing a = ratio^t by multiplication
    order = np.argsort(ts, kind="stable")
    a_t, current = np.ones_like(ratio), 0
    for r in order:
        t = int(ts[r])
        if t != current:
            a_t = a_t * ratio ** (t - current)
            current = t
        scale = t * math.log(top)
        total = np.real(np.vdot(a_t, c @ a_t))
        power_out[r] = math.log(total) + scale if total > 0 else by_squaring(t, False)
        if t == 0:
            sum_out[r] = -np.inf
            continue
        with np.errstate(under="ignore"):
            shrink = top ** (-float(t))
        total = np.real(np.vdot(a_t, c_tilde @ a_t) - shrink * c_tilde_sum + t * shrink * c_near)
        sum_out[r] = math.log(total) + scale if total > 0 else by_squaring(t, True)
    return power_out, sum_out


def _hermitian_gram(m: np.ndarray, *, columns: bool) -> np.ndarray:
    """M^H M (columns=True) or M M^H, full, from one BLAS ?HERK triangle (half a GEMM's flops)."""
    m = np.asarray(m, dtype=np.complex128)
    upper = blas.zherk(1.0, m, trans=2 if columns else 0)
    return np.triu(upper) + np.triu(upper, 1).conj().T


def log_power_sums_by_squaring(w: np.ndarray, steps, *, log_scale: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(log ||W^t||_F^2, log sum_{k<t} ||W^k||_F^2) per t, W = w * e^log_scale, by binary powering.

    Every product is renormalized by its largest entry, so nothing overflows; a power that becomes
    exactly zero (nilpotent or zero W) gives log ||W^t||_F^2 = -inf rather than an error. Costs
    about 3 log2(t) matrix products: the fallback for defective W.
    """
    steps = np.atleast_1d(np.asarray(steps, dtype=np.int64))
    n = w.shape[0]
    eye = np.eye(n, dtype=w.dtype)

    def normalize(m, lg):
        top = float(np.abs(m).max(initial=0.0))
        return (m / top, lg + math.log(top)) if top > 0 else (np.zeros_like(m), -math.inf)

    def combine(x, y):  # (P, p, G, g) for s1, s2 -> s1 + s2: P = W^s / e^p, G = sum_{k<s} (W^k)^H W^k / e^g
        pa, la, ga, lga = x
        pb, lb, gb, lgb = y
        p, lp = normalize(pa @ pb, la + lb)
        if la == -math.inf or lgb == -math.inf:
            g, lg = ga, lga
        else:
            inner, linner = normalize(pa.conj().T @ gb @ pa, lgb + 2 * la)
            lg = max(lga, linner)
            g = (ga * math.exp(lga - lg) if lga > -math.inf else 0) + inner * math.exp(linner - lg)
            g, lg = normalize(g, lg)
        return p, lp, g, lg

    power_out, sum_out = np.empty(steps.size), np.empty(steps.size)
    base0 = (*normalize(np.asarray(w), log_scale), eye, 0.0)
    for r, k in enumerate(steps):
        k = int(k)
        result, base = (eye, 0.0, np.zeros_like(eye), -math.inf), base0
        while k:
            if k & 1:
                result = combine(result, base)
            k >>= 1
            if k:
                base = combine(base, base)
        p, lp, g, lg = result
        fro = float(np.linalg.norm(p, "fro"))
        power_out[r] = math.log(fro**2) + 2 * lp if fro > 0 and lp > -math.inf else -math.inf
        tr = float(np.real(np.trace(g)))
        sum_out[r] = math.log(tr) + lg if tr > 0 and lg > -math.inf else -math.inf
    return power_out, sum_out

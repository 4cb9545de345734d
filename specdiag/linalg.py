"""Dense linear algebra the rest of the package shares: eigenvalues, eigendecompositions, norms,
and sums of matrix powers in log scale.

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

import math
from functools import lru_cache

import numpy as np
from scipy import linalg
from scipy.linalg import blas, lapack
from scipy.sparse.linalg import svds

__all__ = [
    "eigenvalues",
    "spectral_radius",
    "spectral_norm",
    "eigendecomposition",
    "log_power_sums_from_eig",
    "log_frobenius_power_sums",
    "log_power_sum_by_squaring",
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


def log_power_sums_from_eig(w: np.ndarray, lam: np.ndarray, v: np.ndarray, vinv: np.ndarray | None, ts) -> tuple[np.ndarray, np.ndarray]:
    """(log ||W^t||_F^2, log sum_{k<t} ||W^k||_F^2) per t, from W = V diag(lambda) V^{-1}
    (``eigendecomposition``); W itself is used only by the repeated-squaring fallback."""
    ts = np.atleast_1d(np.asarray(ts, dtype=np.int64))
    # 1-norm condition number of V: an O(n^2) bound, no SVD needed
    cond = np.inf if vinv is None else np.linalg.norm(v, 1) * np.linalg.norm(vinv, 1)
    if not np.isfinite(cond) or cond > MAX_EIGVEC_CONDITION:
        return tuple(np.array([log_power_sum_by_squaring(w, int(t), cum) for t in ts]) for cum in (False, True))
    # C_ij = (V^H V)_ij (V^{-1} V^{-H})_ji; both Grams are Hermitian, so one triangle each (HERK)
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
        power_out[r] = math.log(total) + scale if total > 0 else log_power_sum_by_squaring(w, t, False)
        if t == 0:
            sum_out[r] = -np.inf
            continue
        with np.errstate(under="ignore"):
            shrink = top ** (-float(t))
        total = np.real(np.vdot(a_t, c_tilde @ a_t) - shrink * c_tilde_sum + t * shrink * c_near)
        sum_out[r] = math.log(total) + scale if total > 0 else log_power_sum_by_squaring(w, t, True)
    return power_out, sum_out


def _hermitian_gram(m: np.ndarray, *, columns: bool) -> np.ndarray:
    """M^H M (columns=True) or M M^H, full, from one BLAS ?HERK triangle (half a GEMM's flops)."""
    m = np.asarray(m, dtype=np.complex128)
    upper = blas.zherk(1.0, m, trans=2 if columns else 0)
    return np.triu(upper) + np.triu(upper, 1).conj().T


def log_power_sum_by_squaring(w: np.ndarray, t: int, cumulative: bool) -> float:
    """Same quantity without eigenvectors: binary powering with scalar log-scale renormalization.

    Keeps P = W^s / e^{p} and G = (sum_{k<s} (W^k)^H W^k) / e^{g}; combines (s1, s2) by
    W^{s1+s2} = W^{s1} W^{s2} and G_{s1+s2} = G_{s1} + (W^{s1})^H G_{s2} W^{s1}.
    """
    n = w.shape[0]

    def normalize(m, log_scale):
        s = np.abs(m).max()
        return (m / s, log_scale + math.log(s)) if s > 0 else (m, log_scale)

    def combine(a, b):  # (P, p, G, g) for s1 and s2 -> s1 + s2
        pa, la, ga, lga = a
        pb, lb, gb, lgb = b
        p, lp = normalize(pa @ pb, la + lb)
        inner = pa.conj().T @ gb @ pa  # scale e^{lgb + 2 la}
        lg = max(lga, lgb + 2 * la)
        g = ga * math.exp(lga - lg) + inner * math.exp(lgb + 2 * la - lg)
        g, lg = normalize(g, lg)
        return p, lp, g, lg

    eye = np.eye(n, dtype=w.dtype)
    result = (eye, 0.0, np.zeros_like(eye), -math.inf)  # s = 0: P = I, G = 0
    base = (*normalize(w, 0.0), eye, 0.0)  # s = 1: P = W, G = I
    while t:
        if t & 1:
            result = combine(result, base)
        t >>= 1
        if t:
            base = combine(base, base)
    p, lp, g, lg = result
    if cumulative:
        return float(math.log(np.real(np.trace(g))) + lg) if lg > -np.inf else -np.inf
    return float(math.log(np.linalg.norm(p, "fro") ** 2) + 2 * lp)

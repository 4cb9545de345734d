"""Growth of matrix powers from the Schur form, without eigenvectors of W (docs/science.md section 7).

With a Schur form T = Q* W Q, ||W^t||_F = ||T^t||_F and sum_{k<t} ||W^k||_F^2 = sum_{k<t} ||T^k||_F^2
(unitary invariance), so Q is never computed: LAPACK ?gees without Schur vectors, then the growth
from the eigenvectors of the (quasi-)triangular T, O(n^2) per step. Two kernels: complex
triangular T (:func:`schur_triangular`, :func:`log_power_sums_schur`) and real quasi-triangular T
in real arithmetic (:func:`real_schur`, :func:`log_power_sums_real_schur`); both return None when
T's eigenvectors are ill-conditioned, and callers fall back to
:func:`specdiag._linalg.log_power_sums_by_squaring`. Also ||W||_2 from T (:func:`schur_spectral_norm`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ._linalg import MAX_EIGVEC_CONDITION, blas, lapack, linalg

__all__ = [
    "schur_triangular",
    "triangular_eigenvectors",
    "log_power_sums_schur",
    "real_schur",
    "real_schur_block_eigenvectors",
    "log_power_sums_real_schur",
    "schur_spectral_norm",
]


def _real_to_complex_schur(t: np.ndarray) -> np.ndarray:
    """Complex upper-triangular form of a real quasi-triangular Schur factor (rsf2csf without Z)."""
    t = np.asarray(t, dtype=np.complex128, order="F")
    n = t.shape[0]
    eps = np.finfo(float).eps
    for m in range(n - 1, 0, -1):
        if abs(t[m, m - 1]) > eps * (abs(t[m - 1, m - 1]) + abs(t[m, m])):
            block = t[m - 1 : m + 1, m - 1 : m + 1]
            mu = np.linalg.eigvals(block) - t[m, m]
            r = math.hypot(abs(mu[0]), abs(t[m, m - 1]))
            c, s = mu[0] / r, t[m, m - 1] / r
            g = np.array([[c.conjugate(), s], [-s, c]])
            t[m - 1 : m + 1, m - 1 :] = g @ t[m - 1 : m + 1, m - 1 :]
            t[: m + 1, m - 1 : m + 1] = t[: m + 1, m - 1 : m + 1] @ g.conj().T
        t[m, m - 1] = 0.0
    return t


def _no_sort(*args):
    return None


@lru_cache(maxsize=64)
def _gees_for(n: int, dtype_char: str):
    """(gees, optimal lwork) for this size and LAPACK type. SciPy's default lwork (3n) makes the
    Hessenberg reduction inside ?gees unblocked: about 1.7x slower at n = 2048."""
    query = np.zeros((n, n), dtype=dtype_char, order="F")  # calloc: no pages touched
    gees = lapack.get_lapack_funcs("gees", (query,))
    result = gees(_no_sort, query, compute_v=0, sort_t=0, lwork=-1)
    work, info = result[-2], result[-1]
    if info != 0:
        raise RuntimeError(f"LAPACK ?gees workspace query failed (info={info})")
    return gees, max(1, int(np.real(np.ravel(work)[0])), 3 * n)


def schur_triangular(w: np.ndarray) -> np.ndarray:
    """The complex upper-triangular Schur factor T of W (W = Q T Q^H), without computing Q.

    A real W goes through LAPACK ?gees in real arithmetic (no Schur vectors) and its 2 x 2 blocks
    are then rotated to triangular form, O(n^2); a complex W goes through ?gees directly.

    Parameters
    ----------
    w : ndarray
        A square float64 or complex128 matrix (finite).

    Returns
    -------
    ndarray
        T, complex128, Fortran-ordered; its diagonal holds the eigenvalues of W.
    """
    a = np.array(w, order="F", copy=True)
    gees, lwork = _gees_for(a.shape[0], a.dtype.char)
    result = gees(_no_sort, a, compute_v=0, sort_t=0, lwork=lwork, overwrite_a=1)
    t, info = result[0], result[-1]
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK ?gees did not converge (info={info})")
    return t.astype(np.complex128, order="F") if np.iscomplexobj(t) else _real_to_complex_schur(t)


def triangular_eigenvectors(t: np.ndarray, block: int = 64) -> np.ndarray:
    """S with T S = S diag(T), unit upper triangular, for an upper-triangular T (blocked back substitution).

    Rows are solved bottom-up in blocks: the part of each row coupling to rows below the block is one
    triangular matrix product (BLAS ?trmm); inside the block one vectorized row at a time. Zero
    denominators (repeated eigenvalues) are perturbed to eps * max|T| as LAPACK ?trevc does, which
    makes S ill-conditioned for defective T: callers check the condition of S.
    """
    n = t.shape[0]
    lam = np.diagonal(t).copy()
    s = np.zeros((n, n), dtype=np.complex128, order="F")
    s[np.diag_indices(n)] = 1.0
    smin = max(np.finfo(float).eps * float(np.abs(t).max(initial=0.0)), np.finfo(float).tiny)
    for stop in range(n, 0, -block):
        start = max(0, stop - block)
        coupled = None
        if stop < n:  # R = T[block, stop:] S[stop:, stop:], S upper triangular
            coupled = blas.ztrmm(1.0, s[stop:, stop:], np.asfortranarray(t[start:stop, stop:]), side=1, lower=0)
        for i in range(stop - 1, start - 1, -1):
            acc = (
                t[i, i + 1 : stop] @ s[i + 1 : stop, i + 1 :]
                if i + 1 < stop
                else np.zeros(n - i - 1, dtype=np.complex128)
            )
            if coupled is not None:
                acc[stop - i - 1 :] += coupled[i - start]
            denom = t[i, i] - lam[i + 1 :]
            small = np.abs(denom) < smin
            if small.any():
                denom[small] = smin
            s[i, i + 1 :] = -acc / denom
    return s


def log_power_sums_schur(
    t_factor: np.ndarray, steps, *, log_scale: float = 0.0
) -> tuple[np.ndarray, np.ndarray] | None:
    """(log ||W^t||_F^2, log sum_{k<t} ||W^k||_F^2) per t >= 1 from the Schur factor T of W / e^log_scale.

    Unitary invariance gives ||W^k||_F = ||T^k||_F, so Q is never needed. With T = S diag(lambda) S^{-1}
    (S unit upper triangular, :func:`triangular_eigenvectors`), ||T^k||_F^2 = a^H (A o B^T) a,
    a = lambda^k, A = S^H S, B = S^{-1} S^{-H}: two triangular Grams (LAPACK ?lauum) and one triangular
    inverse (?trtri); with S, about 0.3-0.4x an eigenvalues-only ?geev at n = 4096 (complex arithmetic).
    Power sums are the geometric series, evaluated with the largest modulus factored out (never overflows).

    Returns None when S is ill-conditioned (defective or nearly defective T, including nilpotent
    matrices): use :func:`log_power_sums_by_squaring` then.
    """
    steps = np.atleast_1d(np.asarray(steps, dtype=np.int64))
    lam = np.diagonal(t_factor).copy()
    moduli = np.abs(lam)
    rho = float(moduli.max())
    if not rho > 0:
        return None
    with np.errstate(all="ignore"):  # a defective T overflows here: detected just below
        s = triangular_eigenvectors(t_factor)
        finite = bool(np.all(np.isfinite(s)))
    if not finite:
        return None
    u, info = lapack.ztrtri(s, lower=0, unitdiag=1)
    if info != 0 or not np.all(np.isfinite(u)):
        return None
    cond = np.linalg.norm(s, 1) * np.linalg.norm(u, 1)
    if not np.isfinite(cond) or cond > MAX_EIGVEC_CONDITION:
        return None
    # C = A o B^T with A = S^H S, B = S^{-1} S^{-H}, both Hermitian, so C is Hermitian and its upper
    # triangle (diagonal included) is P = upper(A) o conj(upper(B)): quadratic forms need only P,
    # a^H C a = 2 Re(a^H P a) - sum_i P_ii |a_i|^2. upper(B) is ?lauum of S^{-1}; A = J (R R^H) J
    # with R = J S^H J upper triangular (J reverses the order), so upper(A) = (J upper(R R^H) J)^H.
    m_upper = lapack.zlauum(np.asfortranarray(s.conj().T[::-1, ::-1]), lower=0)[0]
    del s
    b_upper = lapack.zlauum(u, lower=0)[0]
    del u
    p = np.triu(m_upper[::-1, ::-1].conj().T)
    del m_upper
    p *= np.conj(b_upper)  # b_upper's strict lower part is zero, so p stays upper triangular
    del b_upper
    return _log_sums_from_upper(p, lam, steps, log_scale)


def _log_sums_from_upper(
    p: np.ndarray, lam: np.ndarray, steps: np.ndarray, log_scale: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The Schur growth from P = the upper triangle (diagonal included, zeros below) of the Hermitian
    C = (V^H V) o (V^{-1} V^{-H})^T of an eigenvector matrix V of T, T's eigenvalues ``lam`` and the
    scale e^log_scale of W / T. None when a quadratic form is not positive (too much cancellation)."""
    moduli = np.abs(lam)
    rho = float(moduli.max())
    p_diag = np.real(np.diagonal(p)).copy()
    log_rho = math.log(rho) + log_scale  # log of the true radius
    unit = lam / rho  # |unit| <= 1
    # power sums: factor out top = max(rho, 1)^2 (true units); D = C / (z - 1) is Hermitian too
    log_top = 2.0 * max(log_rho, 0.0)
    ratio = unit if log_rho > 0 else lam * math.exp(log_scale)
    inv_top = math.exp(-log_top)
    zr = np.conj(ratio)[:, None] * ratio[None, :]
    zr -= inv_top
    near = np.abs(zr) < 1e-12 * inv_top
    with np.errstate(divide="ignore", invalid="ignore"):
        zr[near] = np.inf
        d = p / zr  # upper triangle of D (zero where z = 1: counted through c_near)
    del zr
    d_diag = np.real(np.diagonal(d)).copy()
    c_near = 2 * float(np.real(np.sum(np.triu(np.where(near, p, 0), 1)))) + float(
        np.sum(np.where(np.diagonal(near), p_diag, 0))
    )
    d_sum = 2 * float(np.real(np.sum(d))) - float(np.sum(d_diag))
    del near

    def hermitian_form(upper, diag, vec):
        return 2.0 * float(np.real(np.vdot(vec, upper @ vec))) - float(np.sum(diag * np.abs(vec) ** 2))

    power_out, sum_out = np.empty(steps.size), np.empty(steps.size)
    for r, k in enumerate(steps):
        k = int(k)
        with np.errstate(under="ignore"):
            a_k = unit**k
            total = hermitian_form(p, p_diag, a_k)
            power_out[r] = math.log(total) + 2 * k * log_rho if total > 0 else np.nan
            b_k = ratio**k
            shrink = math.exp(-k * log_top)
            part = (hermitian_form(d, d_diag, b_k) - shrink * d_sum) * inv_top + k * shrink * c_near
        sum_out[r] = math.log(part) + k * log_top if part > 0 else np.nan
    if not (np.all(np.isfinite(power_out)) and np.all(np.isfinite(sum_out))):
        return None
    return power_out, sum_out


# --- Growth from the REAL quasi-triangular Schur factor (real arithmetic throughout) ---------------


def real_schur(w: np.ndarray, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The real quasi-triangular Schur factor T of a real W (W = Q T Q^T, Q not computed) and its eigenvalues.

    LAPACK ?gees in real arithmetic with its optimal workspace and no Schur vectors. T is in the
    standardized form: 1 x 1 blocks for real eigenvalues, 2 x 2 blocks [[a, b], [c, a]] with b c < 0
    for complex pairs, and an exactly zero subdiagonal elsewhere.

    Parameters
    ----------
    w : ndarray
        A square, finite, real matrix; float32 stays single precision.
    overwrite : bool
        Let LAPACK destroy ``w`` when it is already Fortran-ordered (no copy).

    Returns
    -------
    t : ndarray
        T, Fortran-ordered, same dtype as ``w``.
    lam : ndarray
        The eigenvalues (complex128) in the order of T's diagonal; of a pair, the one with positive
        imaginary part comes first.
    """
    a = w if overwrite and w.flags.f_contiguous else np.array(w, order="F", copy=True)
    if np.iscomplexobj(a):
        raise TypeError("real_schur needs a real matrix (use schur_triangular for complex W)")
    gees, lwork = _gees_for(a.shape[0], a.dtype.char)
    t, _, wr, wi, _, _, info = gees(_no_sort, a, compute_v=0, sort_t=0, lwork=lwork, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK ?gees did not converge (info={info})")
    return t, wr.astype(np.float64) + 1j * wi.astype(np.float64)


def _pair_starts(t: np.ndarray) -> np.ndarray:
    """First indices of the 2 x 2 diagonal blocks of a standardized real quasi-triangular T."""
    return np.flatnonzero(np.diagonal(t, -1) != 0)


def _pair_bases(t: np.ndarray, pairs: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 2 x 2 block D = T[j:j+2, j:j+2] with eigenvalue mu (Im mu > 0): v0 (real), v1 with
    D [v0, v1]^T = mu [v0, v1]^T, and w = the first row of P^{-1}, P = [v, conj(v)]."""
    v0 = t[pairs, pairs + 1].astype(np.float64)  # b of [[a, b], [c, d]]: nonzero in a pair
    v1 = lam[pairs] - t[pairs, pairs]
    det = -2j * v0 * v1.imag  # det P = v0 conj(v1) - v0 v1
    w = np.stack([np.conj(v1) / det, -v0 / det])
    return v0, v1, w


def real_schur_block_eigenvectors(
    t: np.ndarray, lam: np.ndarray, pairs: np.ndarray | None = None, block: int = 96
) -> np.ndarray:
    """X, real unit upper triangular, with T X = X blockdiag(T) for a real quasi-triangular T.

    The columns of X are the real and imaginary parts of the eigenvectors of T, rotated within each
    2 x 2 block so that the diagonal blocks of X are identities: then X is exactly triangular (LAPACK
    ?trtri and ?lauum apply) and V = X P is a complex eigenvector matrix of T, P block diagonal with
    the 2 x 2 eigenvector matrices of T's diagonal blocks. Rows are solved bottom-up in panels: the
    coupling of a panel to the rows below it is a matrix product on the nonzero (triangular) part,
    and inside a panel each 1- or 2-row block solves its small Sylvester equations
    T_II X_IJ - X_IJ T_JJ = -R_IJ for all column blocks J at once (the 2 x 2 x 2 x 2 case through
    one complex 2 x 2 solve per J). Near-zero denominators (repeated eigenvalues) are replaced by
    eps * max|T| (squared for 2 x 2 determinants), as LAPACK ?trevc does; the result is then
    ill-conditioned and callers check the condition of X.

    Parameters
    ----------
    t : ndarray
        Real standardized quasi-triangular Schur factor (:func:`real_schur`), n x n.
    lam : ndarray
        Its eigenvalues, as :func:`real_schur` returns them.
    pairs : ndarray, optional
        First indices of the 2 x 2 blocks (default: from T's subdiagonal).
    block : int
        Panel height.

    Returns
    -------
    ndarray
        X, float64, Fortran-ordered, n x n.
    """
    t = np.asarray(t, dtype=np.float64)
    n = t.shape[0]
    pairs = _pair_starts(t) if pairs is None else pairs
    in_pair = np.zeros(n, dtype=bool)
    in_pair[pairs] = True
    in_pair[pairs + 1] = True
    singles = np.flatnonzero(~in_pair)
    d_single = t[singles, singles]
    mu_pair = lam[pairs]
    v0, v1, wrow = _pair_bases(t, pairs, lam)
    top = float(np.abs(t).max(initial=0.0))
    smin = max(np.finfo(float).eps * top, np.finfo(float).tiny)
    smin2 = max(smin * top, np.finfo(float).tiny)
    # row blocks: (first row, size)
    first = ~in_pair
    first[pairs] = True
    starts = np.flatnonzero(first)
    x = np.zeros((n, n), order="F")
    x[np.diag_indices(n)] = 1.0
    chunk = 512
    stop = n
    while stop > 0:
        # panel [start, stop) of whole row blocks
        start = max(0, stop - block)
        if start > 0 and in_pair[start] and not first[start]:  # never split a 2 x 2 block
            start -= 1
        coupled = None
        if stop < n:  # R = T[panel, stop:] X[stop:, stop:], X upper triangular: blocks of columns
            coupled = np.empty((stop - start, n - stop))
            for c0 in range(stop, n, chunk):
                c1 = min(n, c0 + chunk)
                coupled[:, c0 - stop : c1 - stop] = t[start:stop, stop:c1] @ x[stop:c1, c0:c1]
        blocks = starts[(starts >= start) & (starts < stop)][::-1]
        for i0 in blocks:
            size = 2 if in_pair[i0] else 1
            e = i0 + size
            if e >= n:
                continue
            acc = t[i0:e, e:stop] @ x[e:stop, e:] if e < stop else np.zeros((size, n - e))
            if coupled is not None:
                acc[:, stop - e :] += coupled[i0 - start : e - start]
            s_lo = np.searchsorted(singles, e)
            p_lo = np.searchsorted(pairs, e)
            sc, ds = singles[s_lo:] - e, d_single[s_lo:]
            pc, mu, a0, a1, w = pairs[p_lo:] - e, mu_pair[p_lo:], v0[p_lo:], v1[p_lo:], wrow[:, p_lo:]
            if size == 1:
                a = t[i0, i0]
                r = acc[0]
                den = a - ds
                den[np.abs(den) < smin] = smin
                x[i0, e + sc] = -r[sc] / den
                denc = a - mu
                denc[np.abs(denc) < smin] = smin
                z = -(r[pc] * a0 + r[pc + 1] * a1) / denc
                x[i0, e + pc] = 2.0 * (z * w[0]).real
                x[i0, e + pc + 1] = 2.0 * (z * w[1]).real
            else:
                al, be, ga, de = t[i0, i0], t[i0, i0 + 1], t[i0 + 1, i0], t[i0 + 1, i0 + 1]
                r0, r1 = acc[0], acc[1]
                # (A - d I) x = -r for real d
                det = (al - ds) * (de - ds) - be * ga
                det[np.abs(det) < smin2] = smin2
                x[i0, e + sc] = -((de - ds) * r0[sc] - be * r1[sc]) / det
                x[i0 + 1, e + sc] = -(-ga * r0[sc] + (al - ds) * r1[sc]) / det
                # (A - mu I) z = -R v for each pair column block
                h0 = -(r0[pc] * a0 + r0[pc + 1] * a1)
                h1 = -(r1[pc] * a0 + r1[pc + 1] * a1)
                m00, m11 = al - mu, de - mu
                detc = m00 * m11 - be * ga
                detc[np.abs(detc) < smin2] = smin2
                z0 = (m11 * h0 - be * h1) / detc
                z1 = (-ga * h0 + m00 * h1) / detc
                x[i0, e + pc] = 2.0 * (z0 * w[0]).real
                x[i0, e + pc + 1] = 2.0 * (z0 * w[1]).real
                x[i0 + 1, e + pc] = 2.0 * (z1 * w[0]).real
                x[i0 + 1, e + pc + 1] = 2.0 * (z1 * w[1]).real
        stop = start
    return x


def _eigenbasis_rows(upper: np.ndarray, order: np.ndarray, ns: int, left: tuple, right: tuple) -> np.ndarray:
    """Rows ``order[:n - m]`` and columns ``order`` of L S R for the symmetric S whose upper triangle
    (zeros below) is ``upper``, with ``order`` = (1 x 1 indices, first, then second indices of the
    2 x 2 blocks), L and R the identity except a 2 x 2 complex block per pair: ``left`` = (l00, l01)
    (the first row of each left block) and ``right`` = (r00, r01, r10, r11)."""
    full = upper + upper.T
    full[np.diag_indices_from(full)] *= 0.5
    sym = full[np.ix_(order, order)]
    del full
    n = sym.shape[0]
    m = (n - ns) // 2
    rows = np.empty((ns + m, n), dtype=np.complex128)
    rows[:ns] = sym[:ns]
    np.multiply(left[0][:, None], sym[ns : ns + m], out=rows[ns:])  # in place: no 16 MB temporaries at n = 2048
    rows[ns:] += left[1][:, None] * sym[ns + m :]
    del sym
    first = rows[:, ns : ns + m].copy()
    second = rows[:, ns + m :]
    np.multiply(first, right[0], out=rows[:, ns : ns + m])
    rows[:, ns : ns + m] += second * right[2]
    second *= right[3]
    first *= right[1]
    second += first
    return rows


def _log_sums_from_rows(
    c: np.ndarray, weights: np.ndarray, lam_rows: np.ndarray, lam_cols: np.ndarray, steps: np.ndarray, log_scale: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The Schur growth from the representative rows of C = (V^H V) o (V^{-1} V^{-H})^T: one row
    per real eigenvalue (weight 1) and one per complex pair (weight 2; the other row of the pair is
    the conjugate with the pair columns swapped, so a^H C a = sum_i w_i Re(conj(a_i) (C a)_i) for
    a = lambda^k, and likewise for C / (z - 1))."""
    rho = float(np.abs(lam_cols).max())
    log_rho = math.log(rho) + log_scale
    log_top = 2.0 * max(log_rho, 0.0)
    inv_top = math.exp(-log_top)
    unit_r, unit_c = lam_rows / rho, lam_cols / rho
    factor = 1.0 if log_rho > 0 else rho * math.exp(log_scale)
    ratio_r, ratio_c = unit_r * factor, unit_c * factor
    zr = np.multiply(np.conj(ratio_r)[:, None], ratio_c[None, :])
    zr -= inv_top  # (z - 1) / top
    near = np.nonzero(np.abs(zr) < 1e-12 * inv_top)
    c_near = float(np.sum(weights[near[0]] * c[near].real))
    zr[near] = np.inf
    d = np.divide(c, zr, out=zr)  # top C / (z - 1), zero where z = 1 (counted through c_near)
    d_sum = float(weights @ d.sum(axis=1).real)

    def form(mat, x_r, x_c):
        return float(weights @ (np.conj(x_r) * (mat @ x_c)).real)

    power_out, sum_out = np.empty(steps.size), np.empty(steps.size)
    for r, k in enumerate(steps):
        k = int(k)
        with np.errstate(under="ignore"):
            total = form(c, unit_r**k, unit_c**k)
            power_out[r] = math.log(total) + 2 * k * log_rho if total > 0 else np.nan
            shrink = math.exp(-k * log_top)
            part = (form(d, ratio_r**k, ratio_c**k) - shrink * d_sum) * inv_top + k * shrink * c_near
        sum_out[r] = math.log(part) + k * log_top if part > 0 else np.nan
    if not (np.all(np.isfinite(power_out)) and np.all(np.isfinite(sum_out))):
        return None
    return power_out, sum_out


def log_power_sums_real_schur(
    t: np.ndarray, lam: np.ndarray, steps, *, log_scale: float = 0.0, max_condition: float = MAX_EIGVEC_CONDITION
) -> tuple[np.ndarray, np.ndarray] | None:
    """(log ||W^t||_F^2, log sum_{k<t} ||W^k||_F^2) per t from the real Schur factor T of W / e^log_scale.

    The real counterpart of :func:`log_power_sums_schur`, in real arithmetic for every O(n^3) step
    (a quarter of the complex flops): X = :func:`real_schur_block_eigenvectors` (T X = X blockdiag(T),
    X unit upper triangular), U = X^{-1} by ?trtri, and the upper triangles of G = X^T X and
    H = U U^T by ?lauum (about n^3 / 3 flops each). With V = X P (P block diagonal: identity, and
    the eigenvectors of each 2 x 2 block) the Grams are V^H V = P^H G P and V^{-1} V^{-H} =
    P^{-1} H P^{-H}, O(n^2) in complex arithmetic, and the growth follows from
    ||T^k||_F^2 = a^H C a, a = lambda^k, C = (V^H V) o (V^{-1} V^{-H})^T, as in the complex case.
    Of C only one row per real eigenvalue and per conjugate pair is formed (the other row of a
    pair is its conjugate with the pair's columns swapped), in the order (real eigenvalues, first,
    second of each pair) so that the 2 x 2 congruences are operations on contiguous slabs.
    At n = 4096 (Gaussian W, one thread) the whole costs about 0.15-0.2x an eigenvalues-only
    ?geev, most of it in ?lauum, ?trtri and X.

    Parameters
    ----------
    t : ndarray
        Real standardized quasi-triangular Schur factor of W / e^log_scale (:func:`real_schur`).
    lam : ndarray
        Its eigenvalues (:func:`real_schur`).
    steps : int or array_like of int
        The t values (>= 1).
    log_scale : float
        log of the factor W was divided by.
    max_condition : float
        Largest accepted 1-norm condition number of X.

    Returns
    -------
    tuple of ndarray or None
        None when X is ill-conditioned (defective or nearly defective T, nilpotent W) or a result is
        not finite: use :func:`log_power_sums_by_squaring` then.
    """
    steps = np.atleast_1d(np.asarray(steps, dtype=np.int64))
    lam = np.asarray(lam, dtype=np.complex128)
    if not float(np.abs(lam).max()) > 0:
        return None
    t = np.asarray(t, dtype=np.float64)
    pairs = _pair_starts(t)
    with np.errstate(all="ignore"):  # a defective T overflows here: detected just below
        x = real_schur_block_eigenvectors(t, lam, pairs)
        if not np.all(np.isfinite(x)):
            return None
        x_norm = float(lapack.dlantr("1", x, uplo="U", diag="U"))
        # G = X^T X = J (L^T L) J with L = J X J (lower triangular, J reverses the order): L in
        # Fortran order is X's buffer reversed (a contiguous copy, not a transposing one), and the
        # upper triangle of L^T L, read by _eigenbasis_rows, is the transpose of ?lauum's lower one
        g = lapack.dlauum(np.asfortranarray(x[::-1, ::-1]), lower=1, overwrite_c=1)[0].T
        u, info = lapack.dtrtri(x, lower=0, unitdiag=1, overwrite_c=1)
        del x
        if info != 0 or not np.all(np.isfinite(u)):
            return None
        cond = x_norm * float(lapack.dlantr("1", u, uplo="U", diag="U"))
        if not np.isfinite(cond) or cond > max_condition:
            return None
        h = lapack.dlauum(u, lower=0, overwrite_c=1)[0]
        del u
    # Work in the order (real eigenvalues, first, second of each pair): slabs, not scattered rows
    n = t.shape[0]
    seconds = pairs + 1
    in_pair = np.zeros(n, dtype=bool)
    in_pair[pairs] = in_pair[seconds] = True
    singles = np.flatnonzero(~in_pair)
    order = np.concatenate([singles, pairs, seconds])
    ns = singles.size
    v0, v1, w = _pair_bases(t, pairs, lam)
    # V = X P, P_J = [[v0, v0], [v1, conj v1]]; V^H V = P^H G P, rows of P^H: (v0, conj v1), (v0, v1)
    gc = _eigenbasis_rows(
        g, (n - 1) - order, ns, (v0 + 0j, np.conj(v1)), (v0 + 0j, v0 + 0j, v1, np.conj(v1))
    )  # G = J g J
    del g
    # V^{-1} V^{-H} = Q H Q^H, Q_J = P_J^{-1} = [[w0, w1], [conj w0, conj w1]]
    hc = _eigenbasis_rows(h, order, ns, (w[0], w[1]), (np.conj(w[0]), w[0], np.conj(w[1]), w[1]))
    del h
    np.conjugate(hc, out=hc)
    gc *= hc  # C_ij = (V^H V)_ij (V^{-1} V^{-H})_ji = (V^H V)_ij conj((V^{-1} V^{-H})_ij)
    del hc
    weights = np.concatenate([np.ones(ns), np.full(pairs.size, 2.0)])
    lam_cols = lam[order]
    return _log_sums_from_rows(gc, weights, lam_cols[: gc.shape[0]], lam_cols, steps, log_scale)


def schur_spectral_norm(t: np.ndarray, *, rtol: float = 1e-8) -> float:
    """||T||_2 (= ||W||_2, unitary invariance) of a real quasi-triangular or triangular Schur factor.

    Lanczos (ARPACK) on T^T T applied through triangular matrix-vector products (BLAS ?trmv on the
    upper triangle, plus the subdiagonal of the 2 x 2 blocks): half the memory traffic of products
    with a dense W. Small T (n <= 256) use a full SVD.

    Parameters
    ----------
    t : ndarray
        Quasi-upper-triangular, Fortran-ordered (as :func:`real_schur` returns it), float64.
    rtol : float
        ARPACK's relative residual tolerance; the Ritz value of the symmetric T^T T is accurate to
        about rtol^2 / (relative gap), far below rtol (1e-13 measured at n = 4096).

    Returns
    -------
    float
    """
    n = t.shape[0]
    if n <= 256:
        return float(linalg.svdvals(t)[0])
    from scipy.sparse.linalg import LinearOperator, eigsh  # noqa: PLC0415 (scipy.sparse: only for n > 256)

    t = np.asfortranarray(t, dtype=np.float64)
    sub = np.diagonal(t, -1).copy()
    trmv = blas.dtrmv

    def gram(v):
        v = np.ravel(v).astype(np.float64)
        y = trmv(t, v, trans=0, lower=0)
        y[1:] += sub * v[:-1]  # T v
        z = trmv(t, y, trans=1, lower=0)
        z[:-1] += sub * y[1:]  # T^T y
        return z

    op = LinearOperator((n, n), matvec=gram, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(n)
    top = eigsh(op, k=1, which="LA", tol=rtol, v0=v0, ncv=min(n, 24), return_eigenvectors=False)[0]
    return math.sqrt(max(float(top), 0.0))

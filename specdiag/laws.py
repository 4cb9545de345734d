"""Laws of the spectral radius rho(W) = max_i |lambda_i(W)| as SciPy distributions (SPEC sections 2, 7).

Every law here is a SciPy distribution (an ``rv_continuous`` subclass or a frozen instance), so
``cdf``, ``sf``, ``ppf``, ``isf``, ``pdf``, ``mean``, ``std``, ``interval`` and ``rvs`` all work
and broadcast the SciPy way. SciPy's ``scale`` multiplies: the radius of ``gain * W`` follows
``kostlan(n, scale=gain)``.

Exact laws
    :data:`kostlan` (complex Glorot, E|w_ij|^2 = 1/n): Kostlan (1992), "On the spectra of Gaussian
    matrices": {n |lambda_j|^2} has the law of independent Gamma(j, 1), j = 1..n, so
    P(rho <= r) = prod_{j=1..n} P(j, n r^2), P the regularized lower incomplete gamma.
    :func:`uniform_diag`, :func:`uniform_disk`, :func:`lru_ring` (diagonal inits): rho is the
    largest of n iid moduli, so P(rho <= r) = F(r)^n with F the law of one modulus; the LRU ring is
    the init of Orvieto et al. (2023), "Resurrecting recurrent neural networks for long sequences".
Limit laws
    :func:`rider` (complex): Rider (2003), "A limit theorem at the edge of a non-Hermitian random
    matrix ensemble": rho = 1 + sqrt(g_n/4n) + G / sqrt(4 n g_n), P(G <= x) -> exp(-e^{-x}).
    :func:`rider_sinclair` (real): Rider and Sinclair (2014), "Extremal laws for the real Ginibre
    ensemble": same centring and scale, limit exp(-(1/2) e^{-x}), a Gumbel law with location -log 2.
    Both need g_n = log(n/2 pi) - 2 log log n > 0, i.e. n >= 164.
Finite-n real law
    :func:`real_ginibre` (real Glorot, W_ij ~ N(0, 1/n)) has no closed form: it is a Monte Carlo
    table shipped as package data (``specdiag/data/real_glorot_radius.json``, made by
    ``scripts/build_real_law.py``) with standard errors, at widths 2..2048, interpolated between
    widths by smoothing splines in log n (see :func:`real_ginibre` for the model and its measured
    error), and extrapolated beyond 2048 in the Rider-Sinclair standardized variable.

Numerics of :data:`kostlan`: log F is a sum of log P(j, n r^2) over only the j that matter (terms
with 1 - P(j, x) < 1e-40 *and* below 1e-17 of the leading tail term are dropped), each evaluated
in log space (log1p(-Q) near 1, a 1F1 series where P underflows), so ``logcdf`` is finite far in
the left tail and ``sf = -expm1(logcdf)`` keeps full relative accuracy in the right tail. ``ppf``
and ``isf`` solve log F = log p (or log S = log q) by safeguarded Newton in log r, vectorized.
``rvs`` is inverse-CDF sampling through a cached cubic Hermite interpolant of the quantile
function (nodes: exact F and density), accurate to about 1e-12 relative, so its draws follow the
exact law to well below any Monte Carlo resolution; :func:`kostlan_rvs_gamma` draws rho^2 as
max_k Gamma(k, 1)/n directly (exact, slower) and serves as its check.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy import special, stats
from scipy.interpolate import BSpline, CubicHermiteSpline, PchipInterpolator

from .errors import InputError
from .theory import g_n

__all__ = [
    "kostlan_gen",
    "kostlan",
    "kostlan_rvs_gamma",
    "lru_ring_gen",
    "lru_ring",
    "uniform_diag",
    "uniform_disk",
    "rider",
    "rider_sinclair",
]

# ------------------------------------------------------------------------------------------------
# Kostlan's exact law (complex Ginibre)
# ------------------------------------------------------------------------------------------------

#: bulk rule: terms j < x - _TAIL_SIGMAS sqrt(x) - 10 have 1 - P(j, x) < 1e-40
_TAIL_SIGMAS = 14.0
#: in the right tail also keep every term within 1e-17 of the largest Q(n, x)
_LOG_REL_TAIL = 17 * math.log(10.0)
_BLOCK_ELEMENTS = 1_000_000


def _log_p(j: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log P(j, x) for x > 0: log1p(-Q) where P > 1/2, log P elsewhere, a series where P underflows."""
    p = special.gammainc(j, x)
    with np.errstate(divide="ignore"):
        out = np.where(p > 0.5, np.log1p(-special.gammaincc(j, x)), np.log(p))
    tiny = p < 1e-250
    if np.any(tiny):
        jj, xx = np.broadcast_arrays(j, x)
        jt, xt = jj[tiny], xx[tiny]
        # P(j, x) = x^j e^{-x} / Gamma(j + 1) * 1F1(1; j + 1; x), the series term is 1 + O(x/j)
        out = np.array(out, copy=True)
        out[tiny] = jt * np.log(xt) - xt - special.gammaln(jt + 1) + np.log(special.hyp1f1(1.0, jt + 1, xt))
    return out


def _log_q_top(n: float, x: np.ndarray) -> np.ndarray:
    """log Q(n, x), the largest upper-tail term; -inf where it underflows (no harm: it only sizes the cut)."""
    with np.errstate(divide="ignore"):
        return np.log(special.gammaincc(n, x))


def _first_term(x: np.ndarray, n: int) -> int:
    """Smallest j kept for a block of x values (see the module docstring)."""
    xmin, xmax = float(x.min()), float(x.max())
    logq = float(_log_q_top(n, np.array(xmax)))
    sigmas = _TAIL_SIGMAS
    if logq < 0:  # right tail: keep terms down to 1e-17 of Q(n, x); Poisson left tails are sub-Gaussian
        sigmas = max(sigmas, math.sqrt(2 * (_LOG_REL_TAIL - max(logq, -745.0))) + 2.0)
    return max(1, int(math.floor(xmin - sigmas * math.sqrt(xmax) - 10)))


def _kostlan_terms(r: np.ndarray, n: int, with_derivative: bool):
    """log F(r) and, optionally, d/dr log F(r) for one width n at radii r > 0 (1-D)."""
    logf = np.empty(r.shape)
    dlogf = np.empty(r.shape) if with_derivative else None
    order = np.argsort(r, kind="stable")
    rs = r[order]
    step = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, rs.size, step):
        rb = rs[start : start + step]
        x = n * rb * rb
        j = np.arange(_first_term(x, n), n + 1, dtype=float)[:, None]
        logp = _log_p(j, x[None, :])
        idx = order[start : start + step]
        logf[idx] = logp.sum(axis=0)
        if with_derivative:
            # d/dx P(j, x) = x^{j-1} e^{-x} / Gamma(j); dx/dr = 2 n r
            log_density = (j - 1) * np.log(x[None, :]) - x[None, :] - special.gammaln(j)
            dlogf[idx] = np.exp(special.logsumexp(log_density - logp, axis=0)) * 2 * n * rb
    return logf, dlogf


def _by_width(func, x, n, fill: float):
    """Apply func(x_1d, n_int) -> array to each distinct width; x, n broadcast; x <= 0 gets fill."""
    x, n = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
    out = np.full(x.shape, fill, dtype=float)
    pos = x > 0
    for width in np.unique(n[pos]):
        sel = pos & (n == width)
        out[sel] = func(x[sel], int(width))
    return out


def _logcdf_1(r, n):
    return _kostlan_terms(r, n, False)[0]


def _logpdf_1(r, n):
    logf, dlogf = _kostlan_terms(r, n, True)
    with np.errstate(divide="ignore"):
        return logf + np.log(dlogf)


def _log_sf_from_logcdf(logf):
    with np.errstate(divide="ignore"):
        return np.log(-np.expm1(logf))


def _solve_quantile(logp: np.ndarray, n: int, upper: bool) -> np.ndarray:
    """Radii r with log F(r) = logp (upper=False) or log S(r) = logp (upper=True), vectorized.

    Safeguarded Newton in u = log r inside a bracket that every step keeps; bisection (in u) when a
    Newton step leaves it. Converges to a few ulp.
    """
    # bracket: F(r) <= n r^2 (P(1, x) <= x), so r = sqrt(p / n) lies at or below the p-quantile
    p = np.exp(logp) if not upper else -np.expm1(logp)
    lo = np.full(logp.shape, math.log(0.5))
    hi = np.full(logp.shape, math.log(1.5))

    def g(u, sel):  # the root function and its derivative in u, at the selected elements
        r = np.exp(u)
        logf, dlogf = _kostlan_terms(r, n, True)
        dlogf_du = dlogf * r
        if upper:
            logs = _log_sf_from_logcdf(logf)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return logs - logp[sel], -dlogf_du * np.exp(logf - logs)
        return logf - logp[sel], dlogf_du

    all_idx = np.arange(logp.size)
    # lower end: where F(0.5) > p use sqrt(p/n) (valid for every n >= 1)
    val, _ = g(lo, all_idx)
    too_high = (val > 0) if not upper else (val < 0)
    with np.errstate(divide="ignore"):
        lo = np.where(too_high, 0.5 * (np.log(np.maximum(p, 1e-308)) - math.log(n)) - 1e-3, lo)
    # upper end: grow until F(hi) >= p (S(hi) <= q)
    need = np.ones(logp.size, dtype=bool)
    for _ in range(200):
        val, _ = g(hi[need], all_idx[need])
        grow = (val < 0) if not upper else (val > 0)
        idx = all_idx[need][grow]
        if idx.size == 0:
            break
        hi[idx] += math.log(1.5)
        need = np.zeros(logp.size, dtype=bool)
        need[idx] = True
    u = 0.5 * (lo + hi)
    active = np.ones(logp.size, dtype=bool)
    for _ in range(200):
        idx = all_idx[active]
        if idx.size == 0:
            break
        val, dval = g(u[idx], idx)
        increasing = not upper
        below = (val < 0) if increasing else (val > 0)
        lo[idx] = np.where(below, u[idx], lo[idx])
        hi[idx] = np.where(below, hi[idx], u[idx])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -val / dval
        new = u[idx] + step
        bad = ~np.isfinite(new) | (new <= lo[idx]) | (new >= hi[idx])
        new = np.where(bad, 0.5 * (lo[idx] + hi[idx]), new)
        new = np.where(val == 0, u[idx], new)
        done = (np.abs(new - u[idx]) <= 4e-16 * np.maximum(1.0, np.abs(u[idx]))) | (hi[idx] - lo[idx] <= 4e-16 * np.maximum(1.0, np.abs(u[idx]))) | (val == 0)
        u[idx] = new
        active[idx[done]] = False
    return np.exp(u)


def _logit_of_logcdf(logf):
    """t = log F - log(1 - F) from log F, accurate in both tails."""
    with np.errstate(divide="ignore"):
        return logf - np.log(-np.expm1(logf))


@lru_cache(maxsize=64)
def _quantile_interpolant(n: int):
    """Cubic Hermite interpolant of log r as a function of t = logit(u), u = F(r) (used by rvs).

    Covers u in [2^-54, 1 - 2^-54] with 2001 nodes; the nodes' r come from a dense
    log-r grid by monotone interpolation, then exact log F and density there give the Hermite data
    (d log r / dt = S / (r d/dr log F)).
    """
    eps = 2.0**-54
    r_lo = float(_solve_quantile(np.array([math.log(eps)]), n, upper=False)[0])
    r_hi = float(_solve_quantile(np.array([math.log(eps)]), n, upper=True)[0])
    r = np.geomspace(r_lo, r_hi, 3001)
    t = _logit_of_logcdf(_kostlan_terms(r, n, False)[0])
    # denser in the bulk: nodes uniform in asinh(t / 4) (spacing about 0.012 in t near the median)
    t_nodes = 4.0 * np.sinh(np.linspace(np.arcsinh(t[0] / 4.0), np.arcsinh(t[-1] / 4.0), 2001))
    r_nodes = np.exp(PchipInterpolator(t, np.log(r))(t_nodes))
    r_nodes[0], r_nodes[-1] = r_lo, r_hi
    logf, dlogf = _kostlan_terms(r_nodes, n, True)
    t_nodes = _logit_of_logcdf(logf)
    keep = np.concatenate([[True], np.diff(t_nodes) > 0])
    t_nodes, r_nodes, logf, dlogf = t_nodes[keep], r_nodes[keep], logf[keep], dlogf[keep]
    slope = -np.expm1(logf) / (r_nodes * dlogf)
    return CubicHermiteSpline(t_nodes, np.log(r_nodes), slope, extrapolate=False)


@lru_cache(maxsize=256)
def _kostlan_moments(n: int) -> tuple[float, float, float, float]:
    """(mean, var, skew, excess kurtosis) of rho by Gauss-Legendre on pieces between quantiles."""
    probs = [1e-30, 1e-8, 1e-3, 0.05, 0.3, 0.5, 0.7, 0.95, 0.999]
    edges = list(_solve_quantile(np.log(np.array(probs)), n, upper=False))
    edges += list(_solve_quantile(np.log(np.array([1e-3, 1e-8, 1e-30])), n, upper=True))
    edges = np.array(edges)
    nodes, weights = np.polynomial.legendre.leggauss(48)
    a, b = edges[:-1, None], edges[1:, None]
    r = (0.5 * (b - a) * nodes + 0.5 * (a + b)).ravel()
    w = (0.5 * (b - a) * weights).ravel()
    logf, dlogf = _kostlan_terms(r, n, True)
    pdf = np.exp(logf) * dlogf
    mass = np.sum(w * pdf)
    mean = np.sum(w * r * pdf) / mass
    d = r - mean
    m2, m3, m4 = (np.sum(w * d**k * pdf) / mass for k in (2, 3, 4))
    return float(mean), float(m2), float(m3 / m2**1.5), float(m4 / m2**2 - 3.0)


class kostlan_gen(stats.rv_continuous):
    r"""Exact law of the spectral radius of an n x n complex Ginibre (complex Glorot) matrix.

    W = (X + iY) / sqrt(2n), X, Y iid N(0, 1), so E|w_ij|^2 = 1/n. By Kostlan (1992),

    .. math:: P(\rho \le r) = \prod_{j=1}^{n} P(j, n r^2),

    with P the regularized lower incomplete gamma function. The shape ``n`` is the width (an
    integer >= 1). SciPy's ``scale`` multiplies: rho(gain * W) follows ``kostlan(n, scale=gain)``.
    Use the instance :data:`kostlan`.

    Examples
    --------
    >>> from specdiag.laws import kostlan
    >>> f"{kostlan(500).cdf(1.0):.4g}"          # P(rho <= 1) at width 500
    '2.257e-05'
    >>> [round(float(v), 6) for v in kostlan(500).ppf([0.05, 0.5, 0.95])]
    [1.017539, 1.033569, 1.055689]
    >>> round(float(kostlan(500, scale=0.5).median()), 6)   # radius of W / 2
    0.516785
    >>> f"{kostlan(2).sf(2.0):.6g}"
    '0.00335361'
    >>> kostlan.cdf([0.9, 1.0], [[64], [500]]).shape     # broadcasts over x and n
    (2, 2)
    """

    def _argcheck(self, n):
        return (n >= 1) & (n == np.round(n))

    def _shape_info(self):
        from scipy.stats._distn_infrastructure import _ShapeInfo  # noqa: PLC0415

        return [_ShapeInfo("n", True, (1, np.inf), (True, False))]

    def _logcdf(self, x, n):
        return _by_width(_logcdf_1, x, n, -np.inf)

    def _cdf(self, x, n):
        return np.exp(self._logcdf(x, n))

    def _sf(self, x, n):
        return -np.expm1(self._logcdf(x, n))

    def _logsf(self, x, n):
        return _log_sf_from_logcdf(self._logcdf(x, n))

    def _logpdf(self, x, n):
        return _by_width(_logpdf_1, x, n, -np.inf)

    def _pdf(self, x, n):
        return np.exp(self._logpdf(x, n))

    def _ppf(self, q, n):
        q, n = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(n, dtype=float))
        out = np.empty(q.shape)
        for width in np.unique(n):
            sel = n == width
            qs = q[sel]
            res = np.empty(qs.shape)
            low = qs <= 0.5
            with np.errstate(divide="ignore"):
                if low.any():
                    res[low] = _solve_quantile(np.log(qs[low]), int(width), upper=False)
                if (~low).any():
                    res[~low] = _solve_quantile(np.log1p(-qs[~low]), int(width), upper=True)
            out[sel] = res
        return out

    def _isf(self, q, n):
        q, n = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(n, dtype=float))
        out = np.empty(q.shape)
        for width in np.unique(n):
            sel = n == width
            qs = q[sel]
            res = np.empty(qs.shape)
            low = qs <= 0.5
            with np.errstate(divide="ignore"):
                if low.any():
                    res[low] = _solve_quantile(np.log(qs[low]), int(width), upper=True)
                if (~low).any():
                    res[~low] = _solve_quantile(np.log1p(-qs[~low]), int(width), upper=False)
            out[sel] = res
        return out

    def _rvs(self, n, size=None, random_state=None):
        n = np.broadcast_to(np.asarray(n, dtype=float), size if size is not None else np.shape(n))
        u = random_state.random(n.shape)
        out = np.empty(n.shape)
        for width in np.unique(n):
            sel = n == width
            out[sel] = _kostlan_draws(u[sel], int(width))
        return out

    def _stats(self, n):
        n = np.asarray(n, dtype=float)
        moments = np.array([_kostlan_moments(int(w)) for w in n.ravel()]).reshape(n.shape + (4,))
        return moments[..., 0], moments[..., 1], moments[..., 2], moments[..., 3]


def _kostlan_draws(u: np.ndarray, n: int) -> np.ndarray:
    """Inverse-CDF draws at uniforms u (the interpolant inside, exact quantiles outside its range)."""
    with np.errstate(divide="ignore"):
        t = np.log(u) - np.log1p(-u)
    r = np.exp(_quantile_interpolant(n)(t))
    outside = ~np.isfinite(r)
    if outside.any():
        uo = u[outside]
        ro = np.zeros(uo.shape)
        pos = uo > 0
        with np.errstate(divide="ignore"):
            ro[pos] = _solve_quantile(np.log(uo[pos]), n, upper=False)
        r[outside] = ro
    return r


kostlan = kostlan_gen(a=0.0, name="kostlan", shapes="n")


def kostlan_rvs_gamma(n: int, size: int, random_state=None) -> np.ndarray:
    """Exact radius draws of complex Glorot at width n with no matrix: rho^2 = max_k Gamma(k, 1) / n.

    Draws the n independent Gamma(k, 1) of Kostlan's theorem in blocks and takes the largest
    (O(n) random numbers per draw; slower than ``kostlan(n).rvs``, which inverts the CDF).

    Parameters
    ----------
    n : int
        Width, >= 1.
    size : int
        Number of draws.
    random_state : None, int or numpy.random.Generator
        Seed or generator.

    Returns
    -------
    numpy.ndarray
        ``size`` radii.

    Examples
    --------
    >>> r = kostlan_rvs_gamma(64, 20000, random_state=0)
    >>> bool(abs(r.mean() - kostlan(64).mean()) < 4 * r.std() / len(r) ** 0.5)
    True
    """
    n = _check_width(n, minimum=1)
    rng = np.random.default_rng(random_state)
    shapes = np.arange(1, n + 1, dtype=float)
    out = np.empty(int(size))
    block = max(1, 2_000_000 // n)
    for start in range(0, out.size, block):
        m = min(block, out.size - start)
        out[start : start + m] = rng.standard_gamma(shapes, size=(m, n)).max(axis=1)
    return np.sqrt(out / n)


# ------------------------------------------------------------------------------------------------
# Diagonal inits
# ------------------------------------------------------------------------------------------------


def _check_width(n, minimum: int = 2, name: str = "n") -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer, float, np.floating)) or not float(n).is_integer() or n < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {n!r}", param=name)
    return int(n)


def uniform_diag(n: int):
    """Law of rho for the uniform-diag init: the largest of n iid U[0, 1] moduli, P(rho <= r) = r^n.

    Parameters
    ----------
    n : int
        Width, >= 2.

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.powerlaw(n)``.

    Examples
    --------
    >>> law = uniform_diag(100)
    >>> round(float(law.cdf(0.99)), 6), round(float(law.mean()), 6)
    (0.366032, 0.990099)
    """
    return stats.powerlaw(_check_width(n))


def uniform_disk(n: int):
    """Law of rho when the n eigenvalues are uniform on the unit disk (modulus sqrt(U)): r^(2n).

    Parameters
    ----------
    n : int
        Width, >= 2.

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.powerlaw(2 n)``.

    Examples
    --------
    >>> round(float(uniform_disk(100).median()), 6)
    0.99654
    """
    return stats.powerlaw(2 * _check_width(n))


class lru_ring_gen(stats.rv_continuous):
    r"""Law of rho for the LRU ring init: P(rho <= r) = ((r^2 - rmin^2) / (rmax^2 - rmin^2))^n.

    The largest of n iid moduli, each area-uniform on the ring rmin <= |lambda| <= rmax (Orvieto
    et al. 2023). Shapes ``n`` (integer >= 1), ``rmin``, ``rmax`` (0 <= rmin < rmax); support
    [rmin, rmax]. Use :func:`lru_ring` for a validated frozen law.

    Examples
    --------
    >>> from specdiag.laws import lru_ring_gen
    >>> law = lru_ring_gen(name="lru_ring")(4, 0.4, 0.9)
    >>> round(float(law.cdf(0.8)), 6), round(((0.8**2 - 0.4**2) / (0.9**2 - 0.4**2)) ** 4, 6)
    (0.29738, 0.29738)
    """

    def _argcheck(self, n, rmin, rmax):
        return (n >= 1) & (n == np.round(n)) & (rmin >= 0) & (rmax > rmin) & np.isfinite(rmax)

    def _shape_info(self):
        from scipy.stats._distn_infrastructure import _ShapeInfo  # noqa: PLC0415

        return [
            _ShapeInfo("n", True, (1, np.inf), (True, False)),
            _ShapeInfo("rmin", False, (0, np.inf), (True, False)),
            _ShapeInfo("rmax", False, (0, np.inf), (False, False)),
        ]

    def _get_support(self, n, rmin, rmax):
        return rmin, rmax

    @staticmethod
    def _frac(x, rmin, rmax):
        return np.clip((x * x - rmin * rmin) / (rmax * rmax - rmin * rmin), 0.0, 1.0)

    def _cdf(self, x, n, rmin, rmax):
        return self._frac(x, rmin, rmax) ** n

    def _logcdf(self, x, n, rmin, rmax):
        # log of the fraction, from 1 - fraction = (rmax - x)(rmax + x) / d near the top (accurate sf)
        d = rmax * rmax - rmin * rmin
        frac = self._frac(x, rmin, rmax)
        comp = np.clip((rmax - x) * (rmax + x) / d, 0.0, 1.0)
        with np.errstate(divide="ignore"):
            return n * np.where(frac > 0.5, np.log1p(-comp), np.log(frac))

    def _sf(self, x, n, rmin, rmax):
        return -np.expm1(self._logcdf(x, n, rmin, rmax))

    def _pdf(self, x, n, rmin, rmax):
        d = rmax * rmax - rmin * rmin
        f = self._frac(x, rmin, rmax)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(f > 0, n * f ** (n - 1) * 2 * x / d, np.where(n == 1, 2 * x / d, 0.0))

    def _ppf(self, q, n, rmin, rmax):
        return np.sqrt(rmin * rmin + q ** (1.0 / n) * (rmax * rmax - rmin * rmin))

    def _isf(self, q, n, rmin, rmax):
        # (1 - q)^(1/n) = 1 + expm1(log1p(-q) / n): no cancellation for small q
        return np.sqrt(rmax * rmax + np.expm1(np.log1p(-q) / n) * (rmax * rmax - rmin * rmin))

    def _munp(self, k, n, rmin, rmax):
        # E rho^k = int_0^1 (rmin^2 + v^(1/n) d)^(k/2) dv; Gauss-Legendre in t = v^(1/n): dv = n t^(n-1) dt
        nodes, weights = np.polynomial.legendre.leggauss(200)
        t = 0.5 * (nodes + 1.0)
        n, rmin, rmax = (np.asarray(v, dtype=float)[..., None] for v in (n, rmin, rmax))
        vals = (rmin**2 + t * (rmax**2 - rmin**2)) ** (k / 2.0) * n * t ** (n - 1)
        return 0.5 * np.sum(weights * vals, axis=-1)


_lru_ring = lru_ring_gen(name="lru_ring", shapes="n, rmin, rmax")


def lru_ring(n: int, rmin: float = 0.4, rmax: float = 0.9):
    """Law of rho for the LRU init (Orvieto et al. 2023) at width n, ring rmin <= |lambda| <= rmax.

    Parameters
    ----------
    n : int
        Width, >= 2.
    rmin, rmax : float
        Ring radii, 0 <= rmin < rmax, finite (the LRU defaults 0.4 and 0.9).

    Returns
    -------
    scipy.stats frozen distribution
        P(rho <= r) = ((r^2 - rmin^2) / (rmax^2 - rmin^2))^n on [rmin, rmax].

    Examples
    --------
    >>> law = lru_ring(64)
    >>> round(float(law.cdf(0.89)), 6), round(float(law.ppf(0.5)), 6)
    (0.167431, 0.896102)
    """
    n = _check_width(n)
    for name, value in (("rmin", rmin), ("rmax", rmax)):
        if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
            raise InputError(f"{name} must be a finite number, got {value!r}", param=name)
    if rmin < 0:
        raise InputError(f"rmin must be >= 0, got {rmin}", param="rmin")
    if not rmax > rmin:
        raise InputError(f"rmax must exceed rmin = {rmin}, got {rmax}", param="rmax")
    return _lru_ring(n, float(rmin), float(rmax))


# ------------------------------------------------------------------------------------------------
# Limit laws
# ------------------------------------------------------------------------------------------------


def _rider_params(n) -> tuple[float, float]:
    n = _check_width(n)
    g = float(g_n(n))
    if not g > 0:
        raise InputError(
            f"the Rider edge law is undefined at n = {n}: g_n = log(n/2pi) - 2 log log n = {g:.3f}, and g_n <= 0 for n <= 163; "
            "use the exact law (kostlan) or the finite-n table (real_ginibre), or n >= 164",
            param="n",
        )
    return 1.0 + math.sqrt(g / (4 * n)), 1.0 / math.sqrt(4 * n * g)


def rider(n: int):
    """Asymptotic law of rho for complex Glorot (Rider 2003): Gumbel(1 + sqrt(g_n/4n), 1/sqrt(4 n g_n)).

    Parameters
    ----------
    n : int
        Width, >= 164 (g_n <= 0 for n <= 163: InputError).

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.gumbel_r(loc, scale)``.

    Examples
    --------
    >>> law = rider(1000)
    >>> round(float(law.mean()), 6), round(float(law.std()), 6)
    (1.025669, 0.018477)
    """
    loc, scale = _rider_params(n)
    return stats.gumbel_r(loc=loc, scale=scale)


def rider_sinclair(n: int):
    """Asymptotic law of rho for real Glorot (Rider-Sinclair 2014): Rider's law shifted by -log(2) scale.

    Parameters
    ----------
    n : int
        Width, >= 164 (g_n <= 0 for n <= 163: InputError).

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.gumbel_r(1 + sqrt(g_n/4n) - log(2) / sqrt(4 n g_n), 1/sqrt(4 n g_n))``.

    Examples
    --------
    >>> round(float(rider_sinclair(1000).median()), 6)
    1.012648
    """
    loc, scale = _rider_params(n)
    return stats.gumbel_r(loc=loc - math.log(2.0) * scale, scale=scale)

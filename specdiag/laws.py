"""Laws of the spectral radius rho(W) = max_i |lambda_i(W)| as SciPy distributions (docs/science.md sections 2, 7).

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
    widths by smoothing splines in log n relative to Kostlan's exact complex law (see
    :func:`real_ginibre`); at the held-out widths 7, 28, 112, 300, 900 the interpolated mean, sd,
    quantiles 0.05/0.5/0.95 and P(rho > 1) are within 2.4 combined standard errors of fresh Monte
    Carlo. Beyond 2048 the law is extrapolated with the Rider-Sinclair edge scaling.

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

from ._errors import InputError
from ._theory import g_n

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
    "real_ginibre_gen",
    "real_ginibre",
    "real_ginibre_table",
    "RealGinibreSummary",
    "RealGinibreTable",
    "SOURCE_INTERPOLATED",
    "SOURCE_EXTRAPOLATED",
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
    j, x = np.broadcast_arrays(j, x)
    p = special.gammainc(j, x)
    with np.errstate(divide="ignore"):
        out = np.log(p)
    near_one = p > 0.5
    out[near_one] = np.log1p(-special.gammaincc(j[near_one], x[near_one]))
    tiny = p < 1e-250
    if np.any(tiny):
        jt, xt = j[tiny], x[tiny]
        # P(j, x) = x^j e^{-x} / Gamma(j + 1) * 1F1(1; j + 1; x), the series term is 1 + O(x/j)
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


def _by_width(func, x, n, fill: float = np.nan, positive_only: bool = False):
    """Apply func(x_1d, n_int) -> array to each distinct width; x, n broadcast.

    With ``positive_only``, entries with x <= 0 are not passed to func and get ``fill``.
    """
    x, n = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
    out = np.full(x.shape, fill, dtype=float)
    use = x > 0 if positive_only else np.ones(x.shape, dtype=bool)
    for width in np.unique(n[use]):
        sel = use & (n == width)
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
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
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
    nodes, weights = np.polynomial.legendre.leggauss(32)
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


def _quantile_1(q: np.ndarray, n: int, upper: bool) -> np.ndarray:
    """r with F(r) = q (``upper=False``) or 1 - F(r) = q (``upper=True``) at width n; each q is
    solved from its smaller tail (log q, or log1p(-q) for the complementary tail) for accuracy."""
    out = np.empty(q.shape)
    small = q <= 0.5
    with np.errstate(divide="ignore"):
        if small.any():
            out[small] = _solve_quantile(np.log(q[small]), n, upper=upper)
        if (~small).any():
            out[~small] = _solve_quantile(np.log1p(-q[~small]), n, upper=not upper)
    return out


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
        return _by_width(_logcdf_1, x, n, -np.inf, positive_only=True)

    def _cdf(self, x, n):
        return np.exp(self._logcdf(x, n))

    def _sf(self, x, n):
        return -np.expm1(self._logcdf(x, n))

    def _logsf(self, x, n):
        return _log_sf_from_logcdf(self._logcdf(x, n))

    def _logpdf(self, x, n):
        return _by_width(_logpdf_1, x, n, -np.inf, positive_only=True)

    def _pdf(self, x, n):
        return np.exp(self._logpdf(x, n))

    def _ppf(self, q, n):
        return _by_width(lambda qs, width: _quantile_1(qs, width, upper=False), q, n)

    def _isf(self, q, n):
        return _by_width(lambda qs, width: _quantile_1(qs, width, upper=True), q, n)

    def _rvs(self, n, size=None, random_state=None):
        n = np.broadcast_to(np.asarray(n, dtype=float), size if size is not None else np.shape(n))
        u = random_state.random(n.shape)
        return _by_width(_kostlan_draws, u, n)

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

    @staticmethod
    def _quadrature(n, rmin, rmax):
        """Nodes r and weights w with E g(rho) = sum w g(r): rho = sqrt(rmin^2 + t d), t = V^(1/n) has
        density n t^(n-1) on [0, 1]; Gauss-Legendre in t."""
        nodes, weights = np.polynomial.legendre.leggauss(200)
        t = 0.5 * (nodes + 1.0)
        n, rmin, rmax = (np.asarray(v, dtype=float)[..., None] for v in (n, rmin, rmax))
        return np.sqrt(rmin**2 + t * (rmax**2 - rmin**2)), 0.5 * weights * n * t ** (n - 1)

    def _munp(self, k, n, rmin, rmax):
        r, w = self._quadrature(n, rmin, rmax)
        return np.sum(w * r**k, axis=-1)

    def _stats(self, n, rmin, rmax):
        r, w = self._quadrature(n, rmin, rmax)
        mean = np.sum(w * r, axis=-1)
        d = r - mean[..., None]
        var = np.sum(w * d**2, axis=-1)
        return mean, var, np.sum(w * d**3, axis=-1) / var**1.5, np.sum(w * d**4, axis=-1) / var**2 - 3.0


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


# ------------------------------------------------------------------------------------------------
# Finite-n real law: the shipped Monte Carlo table and its interpolation model
# ------------------------------------------------------------------------------------------------

_TABLE_FILE = "real_glorot_radius.json"
SOURCE_INTERPOLATED = "finite-n Monte Carlo table (interpolated)"
SOURCE_EXTRAPOLATED = "extrapolated beyond the table (Rider-Sinclair edge scaling)"


@lru_cache(maxsize=1)
def _real_table_doc() -> dict:
    """The shipped table (loaded once, lazily)."""
    try:
        text = resources.files("specdiag").joinpath("data", _TABLE_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as err:  # pragma: no cover - a broken install
        raise RuntimeError(f"specdiag's package data {_TABLE_FILE} is missing: reinstall specdiag") from err
    return json.loads(text)


def _edge_scale(n: float) -> float:
    """Rider's scale 1/sqrt(4 n g_n) (n >= 164)."""
    return 1.0 / math.sqrt(4.0 * n * float(g_n(n)))


class _RealModel:
    """Evaluates the stored model of ``doc`` (see :func:`real_ginibre`) at any width n >= 2.

    Every statistic is modelled relative to the exact complex (Kostlan) law at the same n, as a
    cubic smoothing spline in log n stored as B-spline knots and coefficients (no fitting here):

    - quantiles: the median is kostlan's median + D(log n); the spacing between consecutive levels
      p < p' is kostlan's spacing times exp(L_pp'(log n)), so the quantiles increase with p;
    - mean: kostlan mean + D(log n); sd and Gumbel scale: kostlan sd * exp(L(log n));
      Gumbel location: kostlan mean + D(log n);
    - P(rho > 1): logistic of a spline in log n.

    Beyond the largest tabulated width N the differences D are scaled by the edge scale
    b_n / b_N (b_n = 1/sqrt(4 n g_n): the real-complex difference of Rider-Sinclair's limit is
    -log(2) b_n at every quantile), log ratios L are held at their value at N, and P(rho > 1) comes
    from the extrapolated quantile function.
    """

    def __init__(self, doc: dict):
        self.doc = doc
        self.probs = np.array(doc["probs"], dtype=float)
        model = doc["model"]
        self.n_min, self.n_max = int(model["n_min"]), int(model["n_max"])
        self.splines = {k: BSpline(np.array(v["t"]), np.array(v["c"]), int(v["k"]), extrapolate=False) for k, v in model["splines"].items()}

    def _spline(self, key: str, n: float) -> float:
        spline = self.splines[key]
        lo, hi = spline.t[spline.k], spline.t[-spline.k - 1]  # the stored knots are rounded: clip into them
        return float(spline(min(max(math.log(min(n, self.n_max)), lo), hi)))

    def _diff(self, key: str, n: float) -> float:
        d = self._spline(key, n)
        return d * _edge_scale(n) / _edge_scale(self.n_max) if n > self.n_max else d

    def evaluate(self, n: int) -> dict:
        k = kostlan(n)
        kq = k.ppf(self.probs)
        kmean, ksd = float(k.mean()), float(k.std())
        # quantiles: the median, then spacings between consecutive levels (increasing by construction)
        probs = self.probs
        ratios = np.exp([self._spline(f"log_spacing_ratio_{probs[i]:g}_{probs[i + 1]:g}", n) for i in range(probs.size - 1)])
        steps = np.diff(kq) * ratios
        mid = int(np.argmin(np.abs(probs - 0.5)))
        q = np.empty(probs.size)
        q[mid] = kq[mid] + self._diff("median_diff", n)
        q[mid + 1 :] = q[mid] + np.cumsum(steps[mid:])
        q[:mid] = q[mid] - np.cumsum(steps[:mid][::-1])[::-1]
        out = {
            "mean": kmean + self._diff("mean_diff", n),
            "sd": ksd * math.exp(self._spline("log_sd_ratio", n)),
            "gumbel_loc": kmean + self._diff("gumbel_loc_diff", n),
            "gumbel_scale": ksd * math.exp(self._spline("log_gumbel_scale_ratio", n)),
            "quantiles": q,
            "extrapolated": n > self.n_max,
        }
        if out["extrapolated"]:  # from the extrapolated quantile function
            u1 = _TabulatedQuantiles(self.probs, out["quantiles"], out["gumbel_scale"], None).u_of_r(np.array([1.0]))[0]
            out["p_above_1"] = float(-np.expm1(-np.exp(-u1)))
        else:
            out["p_above_1"] = 1.0 / (1.0 + math.exp(-self._spline("logit_p_above_1", n)))
        return out

    def table_se(self, n: int) -> dict:
        """Monte Carlo SEs of the table near n: the grid's SEs interpolated in log n (held beyond it)."""
        grid = self.doc["grid"]
        x = np.log([r["n"] for r in grid])
        xi = math.log(min(max(n, self.n_min), self.n_max))
        se = {key: float(np.interp(xi, x, [r[key] for r in grid])) for key in ("mean_se", "sd_se", "p_above_1_se", "gumbel_loc_se", "gumbel_scale_se")}
        qse = np.array([r["quantiles_se"] for r in grid])
        se["quantiles_se"] = np.array([np.interp(xi, x, qse[:, i]) for i in range(qse.shape[1])])
        if n > self.n_max:  # absolute SEs shrink like the edge scale
            factor = _edge_scale(n) / _edge_scale(self.n_max)
            se = {k: v * factor for k, v in se.items()}
        return se


@lru_cache(maxsize=1)
def _real_model() -> _RealModel:
    return _RealModel(_real_table_doc())


class _TabulatedQuantiles:
    """Quantile function of the real law at one width: a least-squares cubic in the Gumbel
    variate u = -log(-log p) through the modelled quantiles (0.01..0.99), Gumbel tails beyond them
    with the cubic's end slopes beta: above, r = q_0.99 + beta (u - u_0.99); below,
    log r = log q_0.01 + (beta / q_0.01)(u - u_0.01) (a Gumbel tail for log r: same slope at the
    junction, and r stays positive), so the density is continuous."""

    def __init__(self, probs: np.ndarray, quantiles: np.ndarray, beta: float, p_le_1: float | None):
        probs, quantiles = np.asarray(probs, dtype=float), np.asarray(quantiles, dtype=float)
        if p_le_1 is not None and 0.0 < p_le_1 < probs[0] and quantiles[0] > 1.0:
            # P(rho <= 1) below the first level: the point (P(rho <= 1), 1) replaces the Gumbel tail
            # there, so sf(1) is the table's P(rho > 1) (inside, the two agree within their SEs)
            probs, quantiles = np.insert(probs, 0, p_le_1), np.insert(quantiles, 0, 1.0)
        self.u = -np.log(-np.log(probs))
        self.r = quantiles
        # The quantile function inside [q_0.01, q_0.99] is a cubic polynomial in u fitted to the
        # modelled quantiles by least squares: a Gumbel law is r linear in u, and the cubic's two
        # extra terms absorb the skew without following the Monte Carlo noise of single nodes
        # (interpolating splines through the nodes put wiggles into the density). Outside, Gumbel
        # tails whose slopes match the cubic's end slopes, so the density is continuous.
        coef = np.polynomial.polynomial.polyfit(self.u, self.r, 3)
        cubic = np.polynomial.Polynomial(coef)
        fine = np.linspace(self.u[0], self.u[-1], 2001)
        if np.all(cubic.deriv()(fine) > 0):
            knots = np.array([self.u[0], self.u[-1]])
            spline = CubicHermiteSpline(knots, cubic(knots), cubic.deriv()(knots), extrapolate=False)
            # a cubic Hermite piece with the cubic's values and slopes at its ends is the cubic itself
            self.r = np.array([spline(self.u[0]), *cubic(self.u[1:-1]), spline(self.u[-1])])
            self.beta_lo, self.beta_hi = float(cubic.deriv()(self.u[0])), float(cubic.deriv()(self.u[-1]))
        else:  # not monotone (never seen on the table): interpolate with PCHIP slopes
            secant = np.diff(self.r) / np.diff(self.u)
            self.beta_lo = float(np.clip(beta, 1e-3 * secant[0], 3.0 * secant[0]))
            self.beta_hi = float(np.clip(beta, 1e-3 * secant[-1], 3.0 * secant[-1]))
            slopes = PchipInterpolator(self.u, self.r).derivative()(self.u)
            slopes[0], slopes[-1] = self.beta_lo, self.beta_hi
            spline = CubicHermiteSpline(self.u, self.r, slopes, extrapolate=False)
        self.spline = spline
        self.dspline = self.spline.derivative()

    def r_of_u(self, u):
        u = np.asarray(u, dtype=float)
        r = self.spline(np.clip(u, self.u[0], self.u[-1]))
        r = np.where(u > self.u[-1], self.r[-1] + self.beta_hi * (u - self.u[-1]), r)
        lo_slope = self.beta_lo / self.r[0]
        return np.where(u < self.u[0], self.r[0] * np.exp(lo_slope * (u - self.u[0])), r)

    def drdu(self, u):
        u = np.asarray(u, dtype=float)
        d = self.dspline(np.clip(u, self.u[0], self.u[-1]))
        d = np.where(u > self.u[-1], self.beta_hi, d)
        lo_slope = self.beta_lo / self.r[0]
        return np.where(u < self.u[0], lo_slope * self.r[0] * np.exp(lo_slope * (u - self.u[0])), d)

    def u_of_r(self, r):
        """Inverse of r_of_u (tails in closed form, PCHIP pieces by bisection)."""
        r = np.asarray(r, dtype=float)
        out = np.empty(r.shape)
        hi_tail, lo_tail = r >= self.r[-1], r <= self.r[0]
        out[hi_tail] = self.u[-1] + (r[hi_tail] - self.r[-1]) / self.beta_hi
        with np.errstate(divide="ignore"):
            out[lo_tail] = self.u[0] + np.log(r[lo_tail] / self.r[0]) * self.r[0] / self.beta_lo
        mid = ~(hi_tail | lo_tail)
        if mid.any():
            rm = r[mid]
            k = np.clip(np.searchsorted(self.r, rm) - 1, 0, self.r.size - 2)
            lo, hi = self.u[k].copy(), self.u[k + 1].copy()
            for _ in range(60):
                m = 0.5 * (lo + hi)
                below = self.spline(m) < rm
                lo, hi = np.where(below, m, lo), np.where(below, hi, m)
            out[mid] = 0.5 * (lo + hi)
        return out


@lru_cache(maxsize=512)
def _real_quantiles(n: int) -> _TabulatedQuantiles:
    model = _real_model()
    ev = model.evaluate(n)
    p_le_1 = None if ev["extrapolated"] else 1.0 - ev["p_above_1"]
    return _TabulatedQuantiles(model.probs, ev["quantiles"], ev["gumbel_scale"], p_le_1)


def _by_width_real(func, x, n):
    """func(quantile model at width n, x_1d) for each distinct width (see :func:`_by_width`)."""
    return _by_width(lambda xs, width: func(_real_quantiles(width), xs), x, n)


def _gumbel_u(p):
    with np.errstate(divide="ignore"):
        return -np.log(-np.log(p))


class real_ginibre_gen(stats.rv_continuous):
    r"""Finite-n law of the spectral radius of real Glorot W (W_ij iid N(0, 1/n)), from the table.

    No closed form is known; this is the Monte Carlo table shipped with specdiag, interpolated in n
    (see :func:`real_ginibre`). Shape ``n``: the width, an integer >= 2. SciPy's ``scale``
    multiplies (the radius of gain * W). Valid for 2 <= n <= 2048; larger n are extrapolated.

    Examples
    --------
    >>> from specdiag.laws import real_ginibre_gen
    >>> law = real_ginibre_gen(a=0.0, name="real_ginibre")(64)
    >>> bool(1.0 < law.median() < 1.1)
    True
    """

    def _argcheck(self, n):
        return (n >= 2) & (n == np.round(n))

    def _shape_info(self):
        from scipy.stats._distn_infrastructure import _ShapeInfo  # noqa: PLC0415

        return [_ShapeInfo("n", True, (2, np.inf), (True, False))]

    def _ppf(self, q, n):
        return _by_width_real(lambda t, p: t.r_of_u(_gumbel_u(p)), q, n)

    def _isf(self, q, n):
        with np.errstate(divide="ignore"):
            return _by_width_real(lambda t, s: t.r_of_u(-np.log(-np.log1p(-s))), q, n)

    def _cdf(self, x, n):
        return _by_width_real(lambda t, r: np.exp(-np.exp(-t.u_of_r(r))), x, n)

    def _sf(self, x, n):
        return _by_width_real(lambda t, r: -np.expm1(-np.exp(-t.u_of_r(r))), x, n)

    def _pdf(self, x, n):
        def density(t, r):
            u = t.u_of_r(r)
            with np.errstate(over="ignore", invalid="ignore"):
                dpdu = np.exp(-u - np.exp(-u))
                out = dpdu / t.drdu(u)
            return np.where(np.isfinite(out), out, 0.0)

        return _by_width_real(density, x, n)

    def _stats(self, n):
        n = np.asarray(n, dtype=float)
        vals = np.array([_real_moments(int(w)) for w in n.ravel()]).reshape(n.shape + (2,))
        return vals[..., 0], vals[..., 1], None, None


@lru_cache(maxsize=512)
def _real_moments(n: int) -> tuple[float, float]:
    """Mean and variance of the interpolated law itself (Gauss-Legendre in u on [-4, 40])."""
    t = _real_quantiles(n)
    nodes, weights = np.polynomial.legendre.leggauss(64)
    edges = np.concatenate([[-4.0], t.u, [max(40.0, t.u[-1] + 1)]])
    a, b = edges[:-1, None], edges[1:, None]
    u = (0.5 * (b - a) * nodes + 0.5 * (a + b)).ravel()
    w = (0.5 * (b - a) * weights).ravel() * np.exp(-u - np.exp(-u))  # dp = gumbel density du
    r = t.r_of_u(u)
    mass = w.sum()
    mean = np.sum(w * r) / mass
    return float(mean), float(np.sum(w * (r - mean) ** 2) / mass)


_real_ginibre = real_ginibre_gen(a=0.0, name="real_ginibre", shapes="n")


def real_ginibre(n: int):
    """Finite-n law of the spectral radius of real Glorot W (W_ij iid N(0, 1/n)) at width n.

    Real Gaussian matrices have no closed-form radius law; this is specdiag's Monte Carlo table
    (``specdiag/data/real_glorot_radius.json``, made by ``scripts/build_real_law.py`` with
    specdiag's own sweep: 80 to 20000 matrices per width at 29 widths 2..2048) turned into a
    distribution. Its quantile function is a cubic in the Gumbel variate u = -log(-log p) fitted by
    least squares to the modelled quantiles at p = 0.01..0.99 (smooth: its density has no wiggles
    from single noisy nodes), with Gumbel tails beyond them. Where P(rho <= 1) < 0.01 (n >= about
    300) the point (P(rho <= 1), 1) from the table's own model of P(rho > 1) joins the fit. The
    law's quantiles and ``sf(1)`` agree with the table within 1 SE at every width checked (3.5 SE
    for one quantile at n = 2, whose law is the least Gumbel-like).

    The model in n (stored in the JSON; see :class:`_RealModel`): every statistic relative to the
    exact complex (Kostlan) law at the same n, a weighted cubic smoothing spline in log n (chi^2
    per width about 1). Its error on held-out widths (7, 28, 112, 300, 900), in units of the
    combined Monte Carlo SE, is stored in the JSON (``validation``) and tested. Beyond n = 2048 the
    law is extrapolated with the Rider-Sinclair edge scaling (``source`` says so).

    Parameters
    ----------
    n : int
        Width, >= 2.

    Returns
    -------
    scipy.stats frozen distribution
        ``cdf``, ``sf``, ``ppf``, ``isf``, ``pdf``, ``mean``, ``std``, ``rvs`` (inverse CDF).

    Examples
    --------
    >>> law = real_ginibre(128)
    >>> [round(float(v), 2) for v in law.ppf([0.05, 0.5, 0.95])]
    [1.0, 1.04, 1.11]
    >>> round(float(law.sf(1.0)), 2), round(float(kostlan(128).sf(1.0)), 2)   # P(rho > 1): real vs complex
    (0.95, 1.0)
    >>> real_ginibre_table().at(128).source
    'finite-n Monte Carlo table (interpolated)'
    """
    return _real_ginibre(_check_width(n))


@dataclass(frozen=True)
class RealGinibreSummary:
    """Tabulated summary of the real Glorot radius law at one width, with Monte Carlo SEs.

    Values are the model's (interpolated) values; SEs are those of the Monte Carlo table near n
    (the grid's SEs interpolated in log n), not counting the interpolation error, which the
    table's ``validation`` measures.
    """

    n: int
    mean: float
    mean_se: float
    sd: float
    sd_se: float
    probs: tuple
    quantiles: tuple
    quantiles_se: tuple
    p_above_1: float
    p_above_1_se: float
    gumbel_loc: float
    gumbel_loc_se: float
    gumbel_scale: float
    gumbel_scale_se: float
    source: str

    def quantile(self, p: float) -> tuple[float, float]:
        """(value, SE) of the tabulated quantile at level p (one of ``probs``)."""
        i = self.probs.index(p)
        return self.quantiles[i], self.quantiles_se[i]


@dataclass(frozen=True)
class RealGinibreTable:
    """The shipped Monte Carlo table of the real Glorot radius (see :func:`real_ginibre_table`).

    ``grid`` and ``held_out`` are lists of per-width rows as measured (``n``, ``samples``, ``mean``,
    ``mean_se``, ``sd``, ``sd_se``, ``quantiles``, ``quantiles_se`` at ``probs``, ``p_above_1``,
    ``p_above_1_se``, ``gumbel_loc``, ``gumbel_scale`` and their SEs); ``validation`` holds the
    model's residuals in SE units; ``metadata`` how it was made.
    """

    probs: tuple
    grid: tuple
    held_out: tuple
    validation: dict
    metadata: dict

    @property
    def widths(self) -> tuple:
        return tuple(int(r["n"]) for r in self.grid)

    def at(self, n: int) -> RealGinibreSummary:
        """The summary at width n (interpolated; extrapolated beyond the table, as ``source`` says)."""
        n = _check_width(n)
        model = _real_model()
        ev, se = model.evaluate(n), model.table_se(n)
        p_above = ev["p_above_1"]
        return RealGinibreSummary(
            n=n, mean=ev["mean"], mean_se=se["mean_se"], sd=ev["sd"], sd_se=se["sd_se"], probs=tuple(float(p) for p in model.probs),
            quantiles=tuple(float(v) for v in ev["quantiles"]), quantiles_se=tuple(float(v) for v in se["quantiles_se"]),
            p_above_1=float(p_above), p_above_1_se=se["p_above_1_se"], gumbel_loc=ev["gumbel_loc"], gumbel_loc_se=se["gumbel_loc_se"],
            gumbel_scale=ev["gumbel_scale"], gumbel_scale_se=se["gumbel_scale_se"], source=SOURCE_EXTRAPOLATED if ev["extrapolated"] else SOURCE_INTERPOLATED,
        )


@lru_cache(maxsize=1)
def real_ginibre_table() -> RealGinibreTable:
    """The shipped Monte Carlo table of the real Glorot radius law (loaded lazily, cached).

    Returns
    -------
    RealGinibreTable
        Raw per-width rows with SEs, held-out rows, validation and metadata; ``.at(n)`` gives a
        :class:`RealGinibreSummary` at any width n >= 2.

    Examples
    --------
    >>> table = real_ginibre_table()
    >>> table.widths[:5], table.widths[-1]
    ((2, 3, 4, 5, 6), 2048)
    >>> s = table.at(300)
    >>> bool(s.p_above_1 > 0.9), s.source
    (True, 'finite-n Monte Carlo table (interpolated)')
    """
    doc = _real_table_doc()
    return RealGinibreTable(
        probs=tuple(doc["probs"]), grid=tuple(doc["grid"]), held_out=tuple(doc["held_out"]), validation=doc.get("validation", {}), metadata=doc["metadata"],
    )

"""Kostlan's exact law of the complex Glorot radius, in plain numpy.

Kostlan (1992), "On the spectra of Gaussian matrices": for W = (X + iY)/sqrt(2n), {n |lambda_j|^2}
has the law of independent Gamma(j, 1), j = 1..n, so P(rho <= r) = prod_{j=1..n} P(j, n r^2), P the
regularized lower incomplete gamma function.

Numerics: log F is a sum of log P(j, n r^2) over only the j that matter (terms with
1 - P(j, x) < 1e-40 *and* below 1e-17 of the leading tail term are dropped), each evaluated in log
space from its smaller Poisson tail (:func:`specdiag._special.log_gammainc_chunks`: log1p(-Q) near
1, the upper tail summed in log space where P underflows; no scipy.special at start-up), so
``logcdf`` is finite far in the left tail and ``sf = -expm1(logcdf)`` keeps full relative accuracy
in the right tail. Quantiles solve
log F = log p (or log S = log q) by safeguarded Newton in log r, vectorized. Draws invert the CDF
through a cached cubic Hermite interpolant of the quantile function (nodes: exact F and density),
accurate to about 1e-12 relative; :func:`gamma_draws` draws rho^2 = max_k Gamma(k, 1)/n directly
(exact, slower) and serves as its check.

Work is done in blocks of at most :data:`BLOCK_ELEMENTS` terms (radii x terms), also at one radius
when the terms alone exceed it, so memory stays bounded at any n and a signal is acted on between
blocks; :func:`guard_work` estimates the time of a computation up front and warns (or refuses)
through :func:`specdiag._resources.guard`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np

from .._resources import Estimate, guard
from .._special import log_gammainc_chunks, logsumexp
from .._validation import whole_number
from ._splines import HermiteCubic, pchip_slopes

__all__ = [
    "BLOCK_ELEMENTS",
    "logcdf",
    "logpdf",
    "log_sf_from_logcdf",
    "quantile",
    "quantile_of",
    "solve_quantile",
    "moments",
    "draws",
    "gamma_draws",
    "kostlan_rvs_gamma",
    "by_width",
    "guard_work",
]

#: bulk rule: terms j < x - _TAIL_SIGMAS sqrt(x) - 10 have 1 - P(j, x) < 1e-40
_TAIL_SIGMAS = 14.0
#: in the right tail also keep every term within 1e-17 of the largest Q(n, x)
_LOG_REL_TAIL = 17 * math.log(10.0)
#: most (radius, term) pairs held at once: about 8 MB per work array
BLOCK_ELEMENTS = 1_000_000
#: measured cost of one term log P(j, x) with its derivative (seconds, one core, this project's box)
_SECONDS_PER_TERM = 8e-8
#: radii evaluated by the moments (quadrature and the quantile solves) and by the draw interpolant
_MOMENT_EVALUATIONS = 900
_DRAW_EVALUATIONS = 8000


def _first_term(x: np.ndarray, n: int) -> int:
    """Smallest j kept for a block of x values (see the module docstring)."""
    xmin, xmax = float(x.min()), float(x.max())
    # log Q(n, xmax) only sizes the cut, so a lower bound keeps at least the terms needed: Q >= 1/2 up
    # to x = n - 4/3 (a Poisson median is at most its mean + 1/3), Q(n, x) >= pmf(n - 1; x) above
    logq = math.log(0.5) if xmax <= n - 4 / 3 else min(0.0, (n - 1) * math.log(xmax) - xmax - math.lgamma(n))
    sigmas = _TAIL_SIGMAS
    if logq < 0:  # right tail: keep terms down to 1e-17 of Q(n, x); Poisson left tails are sub-Gaussian
        sigmas = max(sigmas, math.sqrt(2 * (_LOG_REL_TAIL - max(logq, -745.0))) + 2.0)
    return max(1, int(math.floor(xmin - sigmas * math.sqrt(xmax) - 10)))


def _terms(r: np.ndarray, n: int, with_derivative: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """log F(r) and, optionally, d/dr log F(r), for one width n at radii r > 0 (1-D)."""
    logf = np.empty(r.shape)
    dlogf = np.empty(r.shape) if with_derivative else None
    order = np.argsort(r, kind="stable")
    rs = r[order]
    step = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, rs.size, step):
        rb = rs[start : start + step]
        x = n * rb * rb
        idx = order[start : start + step]
        rows = max(1, BLOCK_ELEMENTS // rb.size)  # terms per chunk: one chunk unless n > BLOCK_ELEMENTS
        total = np.zeros(rb.size)
        log_ratio = np.full(rb.size, -np.inf)
        for _, logp, log_dpdx in log_gammainc_chunks(_first_term(x, n), n, x, rows):
            total += logp.sum(axis=0)
            if with_derivative:
                log_ratio = np.logaddexp(log_ratio, logsumexp(log_dpdx - logp))
        logf[idx] = total
        if dlogf is not None:
            dlogf[idx] = np.exp(log_ratio) * 2 * n * rb  # dx/dr = 2 n r
    return logf, dlogf


def by_width(
    func: Callable[[np.ndarray, int], np.ndarray], x, n, fill: float = np.nan, positive_only: bool = False
) -> np.ndarray:
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


def logcdf(r: np.ndarray, n: int) -> np.ndarray:
    """log P(rho <= r) at radii r > 0 (1-D) for width n."""
    return _terms(np.asarray(r, dtype=float), n, False)[0]


def logpdf(r: np.ndarray, n: int) -> np.ndarray:
    """log of the density of rho at radii r > 0 (1-D) for width n."""
    logf, dlogf = _terms(np.asarray(r, dtype=float), n, True)
    assert dlogf is not None  # asked for
    with np.errstate(divide="ignore"):
        return logf + np.log(dlogf)


def log_sf_from_logcdf(logf: np.ndarray) -> np.ndarray:
    """log(1 - F) from log F, accurate where F is near 1."""
    with np.errstate(divide="ignore"):
        return np.log(-np.expm1(logf))


def _lower_bracket(logp: np.ndarray, n: int, upper: bool, g) -> np.ndarray:
    """log r at or below every root. Starts just under the edge (r = 1 - 4/sqrt(n), at least 0.5),
    where the work is O(sqrt(n)) terms, and moves down only where needed: the bulk of the law sits
    within a few 1/sqrt(n) of 1, so at large n the O(n) radius 0.5 is never evaluated."""
    p = np.exp(logp) if not upper else -np.expm1(logp)
    drop = min(0.5, 4.0 / math.sqrt(n))
    lo = np.full(logp.shape, math.log1p(-drop))
    all_idx = np.arange(logp.size)
    need = np.ones(logp.size, dtype=bool)
    while need.any():
        val, _ = g(lo[need], all_idx[need])
        too_high = (val > 0) if not upper else (val < 0)
        idx = all_idx[need][too_high]
        need[:] = False
        if drop >= 0.5:
            # F(r) <= n r^2 (P(1, x) <= x), so r = sqrt(p / n) lies at or below the p-quantile
            with np.errstate(divide="ignore"):
                lo[idx] = 0.5 * (np.log(np.maximum(p[idx], 1e-308)) - math.log(n)) - 1e-3
            break
        drop = min(0.5, 2.0 * drop)
        lo[idx] = math.log1p(-drop)
        need[idx] = True
    return lo


def solve_quantile(logp: np.ndarray, n: int, upper: bool, tol: float = 4e-16) -> np.ndarray:
    """Radii r with log F(r) = logp (upper=False) or log S(r) = logp (upper=True), vectorized.

    Safeguarded Newton in u = log r inside a bracket that every step keeps; bisection (in u) when a
    Newton step leaves it. Converges to a few ulp (``tol``, relative in u; a looser one for radii
    that only place quadrature pieces saves Newton steps).
    """
    logp = np.asarray(logp, dtype=float)

    def g(u, sel):  # the root function and its derivative in u, at the selected elements
        r = np.exp(u)
        logf, dlogf = _terms(r, n, True)
        dlogf_du = dlogf * r
        if upper:
            logs = log_sf_from_logcdf(logf)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return logs - logp[sel], -dlogf_du * np.exp(logf - logs)
        return logf - logp[sel], dlogf_du

    all_idx = np.arange(logp.size)
    lo = _lower_bracket(logp, n, upper, g)
    # upper end: grow until F(hi) >= p (S(hi) <= q)
    hi = np.full(logp.shape, math.log(1.5))
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
        below = (val < 0) if not upper else (val > 0)
        lo[idx] = np.where(below, u[idx], lo[idx])
        hi[idx] = np.where(below, hi[idx], u[idx])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = -val / dval
        new = u[idx] + step
        tol_u = tol * np.maximum(1.0, np.abs(u[idx]))
        # a Newton step within the tolerance is convergence even where rounding puts it just outside
        # the bracket (bisecting from there walked the whole bracket down again, one radius at a time)
        converged = (val == 0) | (np.isfinite(dval) & (np.abs(step) <= tol_u))  # not an overflowed slope
        bad = ~np.isfinite(new) | (new <= lo[idx]) | (new >= hi[idx])
        new = np.where(bad, 0.5 * (lo[idx] + hi[idx]), new)
        new = np.where(converged, u[idx], new)
        done = converged | (np.abs(new - u[idx]) <= tol_u) | (hi[idx] - lo[idx] <= tol_u)
        u[idx] = new
        active[idx[done]] = False
    return np.exp(u)


@lru_cache(maxsize=512)
def _quantiles_cached(n: int, q: tuple, upper: bool) -> np.ndarray:
    out = quantile(np.array(q), n, upper)
    out.setflags(write=False)
    return out


def quantile_of(q: np.ndarray, n: int, upper: bool = False) -> np.ndarray:
    """:func:`quantile`, cached for the few levels commands ask for again and again (up to 32 at once:
    a summary's 5/50/95%, the real table's levels, a coverage)."""
    q = np.asarray(q, dtype=float)
    if q.ndim == 1 and q.size <= 32:
        return _quantiles_cached(n, tuple(q.tolist()), upper).copy()
    return quantile(q, n, upper)


def quantile(q: np.ndarray, n: int, upper: bool = False) -> np.ndarray:
    """r with F(r) = q (``upper=False``) or 1 - F(r) = q (``upper=True``) at width n; each q is
    solved from its smaller tail (log q, or log1p(-q) for the complementary tail) for accuracy."""
    q = np.asarray(q, dtype=float)
    out = np.empty(q.shape)
    small = q <= 0.5
    with np.errstate(divide="ignore"):
        if small.any():
            out[small] = solve_quantile(np.log(q[small]), n, upper=upper)
        if (~small).any():
            out[~small] = solve_quantile(np.log1p(-q[~small]), n, upper=not upper)
    return out


def _logit_of_logcdf(logf: np.ndarray) -> np.ndarray:
    """t = log F - log(1 - F) from log F, accurate in both tails."""
    with np.errstate(divide="ignore"):
        return logf - np.log(-np.expm1(logf))


@lru_cache(maxsize=64)
def _quantile_interpolant(n: int) -> HermiteCubic:
    """Cubic Hermite interpolant of log r as a function of t = logit(u), u = F(r) (used by draws).

    Covers u in [2^-54, 1 - 2^-54] with 2001 nodes; the nodes' r come from a dense log-r grid by
    monotone (PCHIP) interpolation, then exact log F and density there give the Hermite data
    (d log r / dt = S / (r d/dr log F)).
    """
    guard_work(n, _DRAW_EVALUATIONS, "radius draws from Kostlan's law")
    eps = 2.0**-54
    r_lo = float(solve_quantile(np.array([math.log(eps)]), n, upper=False)[0])
    r_hi = float(solve_quantile(np.array([math.log(eps)]), n, upper=True)[0])
    r = np.geomspace(r_lo, r_hi, 3001)
    t = _logit_of_logcdf(_terms(r, n, False)[0])
    keep = np.concatenate([[True], np.diff(t) > 0])
    t, log_r = t[keep], np.log(r[keep])
    # denser in the bulk: nodes uniform in asinh(t / 4) (spacing about 0.012 in t near the median)
    t_nodes = 4.0 * np.sinh(np.linspace(np.arcsinh(t[0] / 4.0), np.arcsinh(t[-1] / 4.0), 2001))
    r_nodes = np.exp(HermiteCubic(t, log_r, pchip_slopes(t, log_r))(np.clip(t_nodes, t[0], t[-1])))
    r_nodes[0], r_nodes[-1] = r_lo, r_hi
    logf, dlogf = _terms(r_nodes, n, True)
    assert dlogf is not None  # asked for
    t_nodes = _logit_of_logcdf(logf)
    keep = np.concatenate([[True], np.diff(t_nodes) > 0])
    t_nodes, r_nodes, logf, dlogf = t_nodes[keep], r_nodes[keep], logf[keep], dlogf[keep]
    slope = -np.expm1(logf) / (r_nodes * dlogf)
    return HermiteCubic(t_nodes, np.log(r_nodes), slope)


def draws(u: np.ndarray, n: int) -> np.ndarray:
    """Inverse-CDF draws at uniforms u (the interpolant inside, exact quantiles outside its range)."""
    u = np.asarray(u, dtype=float)
    with np.errstate(divide="ignore"):
        t = np.log(u) - np.log1p(-u)
    r = np.exp(_quantile_interpolant(n)(t))
    outside = ~np.isfinite(r)
    if outside.any():
        uo = u[outside]
        ro = np.zeros(uo.shape)
        pos = uo > 0
        with np.errstate(divide="ignore"):
            ro[pos] = solve_quantile(np.log(uo[pos]), n, upper=False)
        r[outside] = ro
    return r


@lru_cache(maxsize=256)
def moments(n: int) -> tuple[float, float, float, float]:
    """(mean, var, skew, excess kurtosis) of rho by Gauss-Legendre on pieces between quantiles (which
    only place the pieces: solved to 1e-9, not to the last ulp)."""
    guard_work(n, _MOMENT_EVALUATIONS, "the moments of Kostlan's law")
    probs = [1e-30, 1e-8, 1e-3, 0.05, 0.3, 0.5, 0.7, 0.95, 0.999]
    edges = list(solve_quantile(np.log(np.array(probs)), n, upper=False, tol=1e-9))
    edges += list(solve_quantile(np.log(np.array([1e-3, 1e-8, 1e-30])), n, upper=True, tol=1e-9))
    edge = np.array(edges)
    nodes, weights = np.polynomial.legendre.leggauss(32)
    a, b = edge[:-1, None], edge[1:, None]
    r = (0.5 * (b - a) * nodes + 0.5 * (a + b)).ravel()
    w = (0.5 * (b - a) * weights).ravel()
    logf, dlogf = _terms(r, n, True)
    pdf = np.exp(logf) * dlogf
    mass = np.sum(w * pdf)
    mean = np.sum(w * r * pdf) / mass
    d = r - mean
    m2, m3, m4 = (np.sum(w * d**k * pdf) / mass for k in (2, 3, 4))
    return float(mean), float(m2), float(m3 / m2**1.5), float(m4 / m2**2 - 3.0)


def _terms_per_radius(n: int) -> float:
    """Terms log P(j, x) one radius near the edge costs: about 30 sqrt(n) (the kept window), at most n."""
    return min(float(n), 30.0 * math.sqrt(n) + 10.0)


def guard_work(n: int, evaluations: int, what: str) -> Estimate:
    """Estimate (and guard) ``evaluations`` evaluations of the law at width n: memory is bounded by
    the blocks (a few work arrays of :data:`BLOCK_ELEMENTS`); the time grows like sqrt(n). Warns in
    one line past :data:`specdiag._resources.LONG_RUN_S`, refuses past a month."""
    seconds = evaluations * _terms_per_radius(n) * _SECONDS_PER_TERM
    memory = 6 * 8 * min(BLOCK_ELEMENTS, max(n, 1))
    return guard(Estimate(memory, seconds, "n", n, what))


def gamma_draws(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` exact radius draws at width n with no matrix: rho^2 = max_k Gamma(k, 1) / n, in blocks."""
    guard(Estimate(16.0 * (max(2_000_000, n) + n), 4e-8 * n * size, "n", n, "n Gamma(k, 1) draws per radius"))
    shapes = np.arange(1, n + 1, dtype=float)
    out = np.empty(int(size))
    block = max(1, 2_000_000 // n)
    for start in range(0, out.size, block):
        m = min(block, out.size - start)
        out[start : start + m] = rng.standard_gamma(shapes, size=(m, n)).max(axis=1)
    return np.sqrt(out / n)


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
    >>> from specdiag.laws import kostlan, kostlan_rvs_gamma
    >>> r = kostlan_rvs_gamma(64, 20000, random_state=0)
    >>> bool(abs(r.mean() - kostlan(64).mean()) < 4 * r.std() / len(r) ** 0.5)
    True
    """
    n = whole_number(n, "n", minimum=1)
    return gamma_draws(n, whole_number(size, "size", minimum=0), np.random.default_rng(random_state))

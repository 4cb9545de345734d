"""The few special functions the commands need, in plain numpy and exact to double precision.

Importing scipy.special costs 0.13-0.25 s of start-up (issue 21), more than the short commands'
own work, so the functions they use are computed here: the regularized lower incomplete gamma
function at integer orders in log space (Kostlan's law), the Poisson and binomial probabilities in
log space, the one-sided (Smirnov) and limiting (Kolmogorov) Kolmogorov-Smirnov tails, and the one
``logsumexp`` the package uses. tests/test_special.py checks each against scipy.special.

The probabilities use Loader's saddle-point form (C. Loader, "Fast and accurate computation of
binomial probabilities", 2000): log k! = (k + 1/2) log k - k + log sqrt(2 pi) + stirlerr(k) and
the deviance bd0(k, m) = k log(k / m) + m - k summed as a series near k = m, so a log probability
keeps an absolute error of a few ulp of its size even where k log m and log k! are 10^6.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterator

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "logsumexp",
    "stirlerr",
    "bd0",
    "log_poisson_pmf",
    "log_binom_pmf",
    "log_gammainc_int",
    "log_gammainc_chunks",
    "smirnov",
    "kolmogorov",
]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
#: stirlerr(k) for k = 0..15 (k = 0: log 0! = 0 has no Stirling form; 0 keeps the table rectangular),
#: from mpmath at 40 digits; above 15 the asymptotic series is exact to double precision
_STIRLERR_SMALL = np.array(
    [
        0.0,
        0.08106146679532726,
        0.0413406959554093,
        0.02767792568499834,
        0.020790672103765093,
        0.016644691189821193,
        0.013876128823070748,
        0.01189670994589177,
        0.010411265261972096,
        0.009255462182712733,
        0.00833056343336287,
        0.007573675487951841,
        0.00694284010720953,
        0.006408994188004207,
        0.0059513701127588475,
        0.005554733551962801,
    ]
)
#: the relative size below which a dropped tail of positive terms no longer changes a double: e^-40
_TAIL_LOG = 40.0


def logsumexp(a: ArrayLike, axis: int = 0) -> np.ndarray:
    """log sum exp(a) along ``axis`` (-inf where every entry is -inf), scaled by the largest entry so
    nothing overflows: scipy.special.logsumexp without its array-API layer (about 1 ms a call)."""
    a = np.asarray(a, dtype=float)
    top = a.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - top).sum(axis=axis)) + np.squeeze(top, axis=axis)


def stirlerr(k: ArrayLike) -> np.ndarray:
    """log k! - ((k + 1/2) log k - k + log sqrt(2 pi)) at whole numbers k >= 1 (0 at k = 0): a table up
    to 15, the Stirling series 1/12k - 1/360k^3 + 1/1260k^5 - 1/1680k^7 + 1/1188k^9 above (next term
    below 3e-16 of it)."""
    k = np.asarray(k, dtype=float)
    small = k <= 15
    big = np.where(small, 16.0, k)
    inv2 = 1.0 / (big * big)
    series = (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188)))) / big
    return np.where(small, _STIRLERR_SMALL[np.where(small, k, 0).astype(np.intp)], series)


def bd0(k: ArrayLike, m: ArrayLike) -> np.ndarray:
    """The deviance k log(k / m) + m - k >= 0 for k >= 0, m > 0 (broadcast), with full relative accuracy:
    Loader's series (k - m) v + 2 k sum_{i>=1} v^(2i+1) / (2i + 1) in v = (k - m)/(k + m) where
    |v| < 0.1 (the direct form cancels there), k log(k / m) - (k - m) elsewhere."""
    k, m = np.asarray(k, dtype=float), np.asarray(m, dtype=float)
    d = k - m
    v = d / (k + m)
    w = v * v
    near = w < 0.01
    out = None
    if not near.all():
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(k > 0, k * np.log(k / m), 0.0)
        out -= d
        if not near.any():
            return out
    # terms fall by w per step: enough of them to reach 1e-17 of the first at the largest near |v|
    top = float(np.max(w, where=near, initial=0.0))
    count = 1 if top == 0 else max(1, math.ceil(math.log(1e-17) / math.log(top)))
    poly = np.full(w.shape, 1.0 / (2 * count + 1))
    for i in range(count - 1, 0, -1):
        poly *= w
        poly += 1.0 / (2 * i + 1)
    poly *= w
    poly *= 2.0 * k
    poly += d
    poly *= v
    return poly if out is None else np.where(near, poly, out)


#: log k! for k = 0.._SMALL_K: below it (and x below _SMALL_X) log pmf = k log x - x - log k! is exact to
#: about 1e-13 absolute (its terms stay below 600), with a tenth of the operations of the saddle-point form
_SMALL_K, _SMALL_X = 64, 256.0
_LOG_FACTORIAL = np.array([math.lgamma(i + 1.0) for i in range(_SMALL_K + 1)])


def log_poisson_pmf(k: ArrayLike, x: ArrayLike) -> np.ndarray:
    """log(x^k e^-x / k!) at whole numbers k >= 0 and x > 0, broadcast."""
    k, x = np.asarray(k, dtype=float), np.asarray(x, dtype=float)
    if k.size and x.size and k.max() <= _SMALL_K and x.max() <= _SMALL_X:
        return k * np.log(x) - x - _LOG_FACTORIAL[k.astype(np.intp)]
    with np.errstate(divide="ignore"):
        out = -bd0(k, x) - (stirlerr(k) + _LOG_SQRT_2PI + 0.5 * np.log(k))  # the k-only part before broadcasting
    return np.where(k == 0, -x, out)


def log_binom_pmf(k: ArrayLike, n: int, mean: ArrayLike, rest_mean: ArrayLike) -> np.ndarray:
    """log(C(n, k) p^k (1 - p)^(n - k)) at whole numbers 0 <= k <= n, 0 < p < 1, given the means
    ``mean`` = n p and ``rest_mean`` = n (1 - p) (callers form n (1 - p) without cancellation where
    p is near 1: :func:`smirnov`)."""
    k, mean, rest_mean = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (k, mean, rest_mean)))
    rest = n - k
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (
            stirlerr(np.full(k.shape, float(n)))
            - stirlerr(k)
            - stirlerr(rest)
            - bd0(k, mean)
            - bd0(rest, rest_mean)
            + 0.5 * (math.log(n) - np.log(k) - np.log(rest))
            - _LOG_SQRT_2PI
        )
        out = np.where(k == 0, n * np.log1p(-mean / n), out)
        out = np.where(rest == 0, n * np.log1p(-rest_mean / n), out)
    return out


#: largest spread of log terms within one segment of :func:`_log_cumsum` (exp stays far from underflow)
_SEGMENT_SPREAD = 600.0


def _log_cumsum(terms: np.ndarray, carry: np.ndarray, step: float) -> np.ndarray:
    """log(exp(carry) + cumulative sums of exp(terms)) down axis 0, exactly to rounding.

    np.logaddexp.accumulate does this but is sequential (about 50 ns a term); here the rows are
    cut into segments over which the terms (successive log terms differ by at most ``step``)
    spread by at most :data:`_SEGMENT_SPREAD`, each segment is summed by a plain cumsum scaled by
    its largest term, and only the segments' totals are accumulated in log space."""
    rows, cols = terms.shape
    length = max(1, min(rows, int(_SEGMENT_SPREAD // max(step, 1e-300))))
    count = -(-rows // length)
    if count * length != rows:
        terms = np.concatenate([terms, np.full((count * length - rows, cols), -np.inf)])
    seg = terms.reshape(count, length, cols)
    top = seg.max(axis=1, keepdims=True)
    sums = np.exp(seg - top)
    np.cumsum(sums, axis=1, out=sums)
    with np.errstate(divide="ignore"):
        logs = np.log(sums)
    logs += top
    before = carry[None, :] if count == 1 else np.concatenate([carry[None, :], logs[:-1, -1, :]])
    if count > 1:
        before = np.logaddexp.accumulate(before, axis=0)
    if np.isfinite(before).any():
        logs = np.logaddexp(logs, before[:, None, :])
    return logs.reshape(count * length, cols)[:rows]


def _lower_terms(lo: int, hi: int, xmin: float, xmax: float) -> tuple[int, int] | None:
    """Terms k = start..top-1 whose cumulative sums give Q(j, x) = sum_{k<j} pmf(k; x) for the orders
    j = lo..top with j <= x; they start where pmf(k) has fallen below e^-40 of pmf(lo - 1) (None:
    no order in lo..hi is at or below any x in [xmin, xmax])."""
    top = min(hi, math.floor(xmax))
    if top < lo:
        return None
    k0 = lo - 1
    # pmf(k - 1)/pmf(k) = k/x falls slowest at the smallest x that uses the sum (w >= k0), and
    # log((k0 - i)/w) <= -(w - k0 + i)/w: E terms below k0 fall by at least (E (w - k0) + E(E - 1)/2)/w;
    # the omitted rest is at most x times its first term
    w, target = max(xmin, float(k0)), _TAIL_LOG + math.log(xmax + 2)
    a = w - k0 - 0.5
    span = math.ceil(-a + math.sqrt(a * a + 2 * target * w)) + 1
    return max(0, k0 - span), top


def _upper_terms(lo: int, hi: int, xmin: float, xmax: float) -> tuple[int, int] | None:
    """Terms k = bottom..end whose cumulative sums from the top give P(j, x) = sum_{k>=j} pmf(k; x) for
    the orders j = bottom..hi with j > x; they end where pmf(k) has fallen below e^-40 of pmf(hi)
    (None: no order in lo..hi is above any x in [xmin, xmax])."""
    bottom = max(lo, math.floor(xmin) + 1)
    if bottom > hi:
        return None
    # pmf(k + 1)/pmf(k) = x/(k + 1) falls slowest at the largest x that uses the sum (w <= hi), and
    # log((hi + i)/w) >= b + i/(hi + E) with b = log(hi/w): E terms above hi fall by at least
    # E b + E(E + 1)/(2 (hi + E)); the omitted rest is at most (end + 1) times its first term
    w = min(xmax, float(hi))
    b = math.log(hi / w)
    target = _TAIL_LOG + math.log(hi + 2 + 2 * _TAIL_LOG + math.sqrt(2 * _TAIL_LOG * hi))
    qa, qb, qc = 2 * b + 1, 2 * b * hi + 1 - 2 * target, -2 * target * hi
    span = math.ceil((-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)) + 1
    if hi < 1000:  # the bound is loose at small orders (about 110 terms at hi = 8, where 25 do): count them
        fall = np.cumsum(np.log(w / np.arange(hi + 1, hi + span + 1, dtype=float)))
        span = min(span, int(np.searchsorted(-fall, target)) + 2)
    return bottom, hi + span


def _step(k: np.ndarray, x: np.ndarray) -> float:
    """Largest |log pmf(k + 1; x) - log pmf(k; x)| = |log(x / (k + 1))| over rows k (a column) and x."""
    return max(abs(math.log(float(x.max()) / (k[0, 0] + 1))), abs(math.log(float(x.min()) / (k[-1, 0] + 1))))


def _lower_rows(
    k: np.ndarray, lp: np.ndarray, x: np.ndarray, carry: np.ndarray, lo: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Q(j, x) for j = k + 1 from the terms pmf(k; x) (``lp``, rows ``k``) and the sum below them:
    (new carry, j, log P, log dP/dx) for the rows j >= lo (log P = 0, log dP/dx = -inf where j > x)."""
    cum = _log_cumsum(lp, carry, _step(k, x))
    new_carry = cum[-1]
    keep = slice(max(0, lo - 1 - int(k[0, 0])), None)
    j, cum, lp = k[keep] + 1, cum[keep], lp[keep]
    use = j <= x
    with np.errstate(divide="ignore"):
        logp = np.log1p(-np.exp(np.minimum(cum, 0.0)))
    return new_carry, j, np.where(use, logp, 0.0), np.where(use, lp, -np.inf)


def _upper_rows(
    k: np.ndarray, lp: np.ndarray, x: np.ndarray, carry: np.ndarray, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """P(j, x) for j = k from the terms pmf(k; x) (``lp``, rows ``k``) and the sum above them:
    (new carry, j, log P, log dP/dx) for the rows j <= hi (log P = 0, log dP/dx = -inf where j <= x)."""
    cum = _log_cumsum(lp[::-1], carry, _step(k, x))[::-1]
    new_carry = cum[0]
    keep = slice(None, max(0, hi + 1 - int(k[0, 0])))
    j, cum, lp = k[keep], cum[keep], lp[keep]
    use = j > x
    # dP/dx(j, x) = pmf(j - 1; x) = pmf(j; x) j / x
    return new_carry, j, np.where(use, cum, 0.0), np.where(use, lp + (np.log(j) - np.log(x)), -np.inf)


def log_gammainc_chunks(lo: int, hi: int, x: np.ndarray, rows: int) -> Iterator[tuple[np.ndarray, ...]]:
    """log P(j, x) and log dP/dx(j, x) for the whole orders j = lo..hi (>= 1) at each x > 0 (1-D),
    in chunks of at most about ``rows`` orders (memory: a few arrays of rows x x.size).

    P(j, x) = Pr(Poisson(x) >= j) is summed from its smaller tail: for j <= x the lower tail
    Q(j, x) = sum_{k<j} pmf(k; x) by a cumulative log-sum upwards (log P = log1p(-Q)), for j > x
    the upper tail sum_{k>=j} pmf(k; x) downwards; the sums start where the omitted terms are below
    e^-40 of the first one kept, so every value is exact to a few ulp in log space however small P
    is. dP/dx(j, x) = pmf(j - 1; x).

    Yields (j as a column, log P, log dP/dx), each of shape (chunk rows, x.size) (nothing for lo > hi). Every (j, x) is
    in exactly one chunk with its value; elsewhere that chunk holds log P = 0 and log dP/dx = -inf,
    so sums of the chunks' log P, and log-sums of their log dP/dx - log P, add up exactly.
    """
    x = np.asarray(x, dtype=float)[None, :]
    if lo > hi:
        return
    xmin, xmax = float(x.min()), float(x.max())
    lower, upper = _lower_terms(lo, hi, xmin, xmax), _upper_terms(lo, hi, xmin, xmax)
    spans = [s for s in (lower, (upper[0], upper[1] + 1) if upper else None) if s is not None]
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    none = np.full(x.shape[1], -np.inf)
    if last - first <= max(1, int(rows)):  # one chunk: the terms once, both tails from them
        k = np.arange(first, last, dtype=float)[:, None]
        lp = log_poisson_pmf(k, x)
        j = np.arange(lo, hi + 1, dtype=float)[:, None]
        logp, dpdx = np.zeros((j.size, x.size)), np.full((j.size, x.size), -np.inf)
        for tail, rows_of in ((lower, _lower_rows), (upper, _upper_rows)):
            if tail is None:
                continue
            a = tail[0] - first
            b = (tail[1] if rows_of is _lower_rows else tail[1] + 1) - first
            _, jt, lpt, dpt = rows_of(k[a:b], lp[a:b], x, none, lo if rows_of is _lower_rows else hi)
            at = slice(int(jt[0, 0]) - lo, int(jt[-1, 0]) - lo + 1) if jt.size else slice(0, 0)
            logp[at] += lpt
            dpdx[at] = np.maximum(dpdx[at], dpt)
        yield j, logp, dpdx
        return
    step = max(1, int(rows))
    if lower is not None:
        carry = none
        for a in range(lower[0], lower[1], step):
            k = np.arange(a, min(a + step, lower[1]), dtype=float)[:, None]
            carry, j, logp, dpdx = _lower_rows(k, log_poisson_pmf(k, x), x, carry, lo)
            if j.size:
                yield j, logp, dpdx
    if upper is not None:
        carry = none
        for b in range(upper[1] + 1, upper[0], -step):
            k = np.arange(max(b - step, upper[0]), b, dtype=float)[:, None]
            carry, j, logp, dpdx = _upper_rows(k, log_poisson_pmf(k, x), x, carry, hi)
            if j.size:
                yield j, logp, dpdx


def log_gammainc_int(lo: int, hi: int, x: ArrayLike) -> np.ndarray:
    """log P(j, x) for j = lo..hi (rows) at each x > 0 (columns): :func:`log_gammainc_chunks` in one table."""
    x = np.atleast_1d(np.asarray(x, dtype=float))
    out = np.zeros((max(0, hi - lo + 1), x.size))
    for j, logp, _ in log_gammainc_chunks(lo, hi, x, 1 << 62):
        out[j[:, 0].astype(np.intp) - lo] += logp
    return out


def smirnov(n: int, d: float) -> float:
    """Pr(D+_n >= d), the exact one-sided Kolmogorov-Smirnov tail (scipy.special.smirnov), by the
    Birnbaum-Tingey sum d sum_{v <= n(1-d)} C(n, v) (d + v/n)^(v-1) (1 - d - v/n)^(n-v): all terms
    positive, each a binomial probability at p = d + v/n divided by p, summed in log space."""
    if not 0.0 < d:
        return 1.0
    if d >= 1.0:
        return 0.0
    nd = n * d
    v = np.arange(0, math.floor(n * (1.0 - d)) + 1, dtype=float)
    v = v[(n - v) - nd > 0]  # a zero term where 1 - d - v/n = 0
    if v.size == 0:
        return 0.0
    mean = nd + v  # n p at p = d + v/n; n (1 - p) = (n - v) - n d keeps its digits where p is near 1
    log_terms = log_binom_pmf(v, n, mean, (n - v) - nd) - np.log(mean / n)
    if v[0] == 0:  # the v = 0 term (1 - d)^n / d straight from d: n d loses its last digits
        log_terms[0] = n * math.log1p(-d) - math.log(d)
    return float(min(1.0, math.exp(math.log(d) + float(logsumexp(log_terms)))))


def kolmogorov(x: float) -> float:
    """Pr(K > x) for Kolmogorov's limiting law (scipy.special.kolmogorov): the alternating series
    2 sum (-1)^(k-1) e^(-2 k^2 x^2) for x >= 1, the Jacobi form 1 - sqrt(2 pi)/x sum
    e^(-(2k-1)^2 pi^2 / 8x^2) below (both exact to double precision where they are used)."""
    if not x > 0:
        return 1.0
    if x >= 1.0:
        return min(1.0, 2.0 * math.fsum((-1) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 20)))
    cdf = (
        math.sqrt(2 * math.pi)
        / x
        * math.fsum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 12))
    )
    return 1.0 - cdf

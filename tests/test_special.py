"""specdiag._special against scipy.special (the reference; mpmath where scipy.special itself loses
digits): the plain-numpy special functions the commands use instead of importing scipy.special."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from specdiag import _special

# --- log P(j, x), the regularized lower incomplete gamma function at whole orders ----------------


def _scipy_log_p(j: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log P, P, Q) from scipy.special: log1p(-Q) where P > 1/2, log P elsewhere, and where P
    is below 1e-250 the 1F1 series log P = j log x - x - log j! + log 1F1(1; j + 1; x)."""
    j, x = np.broadcast_arrays(j, x)
    p, q = special.gammainc(j, x), special.gammaincc(j, x)
    with np.errstate(divide="ignore"):
        out = np.where(p > 0.5, np.log1p(-q), np.log(p))
    tiny = p < 1e-250
    jt, xt = j[tiny], x[tiny]
    out[tiny] = jt * np.log(xt) - xt - special.gammaln(jt + 1) + np.log(special.hyp1f1(1.0, jt + 1, xt))
    return out, p, q


#: radii r at which Kostlan's law is evaluated, x = n r^2: the deep left tail (quantile 1e-30 and
#: below), the bulk at the edge, the right tail (survival 1e-150 and beyond)
RADII = np.array([1e-3, 0.01, 0.1, 0.3, 0.6, 0.9, 0.97, 0.99, 1.0, 1.01, 1.03, 1.1, 1.3, 2.0, 3.0])


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1000, 10_000, 100_000])
def test_log_gammainc_matches_scipy_for_every_order(n):
    x = n * RADII**2 if n < 100_000 else n * RADII[[1, 4, 7, 8, 9, 12]] ** 2  # fewer columns at 1e5 (time)
    got = _special.log_gammainc_int(1, n, x)
    want, p, q = _scipy_log_p(np.arange(1, n + 1, dtype=float)[:, None], x[None, :])
    normal = np.abs(want) > 1e-300  # denormal P or Q carry only a few digits in scipy too
    rel = np.abs(got - want)[normal] / np.abs(want[normal])
    # where the smaller tail Q is below 1e-20 at large x, scipy.special's own error reaches 4e-11
    # (checked against mpmath in the next test); everywhere else both agree to 1e-12
    deep = ((p > 0.5) & (q < 1e-20))[normal]
    assert rel[~deep].max() <= 1e-12
    assert rel[deep].max(initial=0.0) <= 1e-10
    assert np.array_equal(got[~normal] > -1e-300, want[~normal] > -1e-300)  # and both underflow alike


@pytest.mark.parametrize(
    "j, x",
    [(9126, 12945.11), (920, 1294.5), (91954, 81000.0), (50000, 53000.0), (1000, 1000.5), (3, 5000.0), (99999, 1e5)],
)
def test_log_gammainc_is_exact_where_scipy_loses_digits(j, x):
    mpmath = pytest.importorskip("mpmath", reason="mpmath gives the exact reference")
    mpmath.mp.dps = 60
    q = mpmath.gammainc(j, x, mpmath.inf, regularized=True)
    want = mpmath.log1p(-q) if j <= x else mpmath.log(mpmath.gammainc(j, 0, x, regularized=True))
    got = _special.log_gammainc_int(j, j, x)[0, 0]
    # relative to log P: exact to a few ulp of the log of the smaller tail (log Q = -633 at the first point)
    log_tail = abs(float(mpmath.log(q))) if j <= x else abs(float(want))
    assert abs(got - float(want)) <= (1e-14 + 1e-15 * log_tail) * abs(float(want))


def test_log_gammainc_chunks_equal_one_table():
    """Cutting the orders into chunks (memory) changes nothing but rounding; every (j, x) is in one chunk."""
    x = 3000 * np.geomspace(0.01, 3.0, 40) ** 2
    whole = _special.log_gammainc_int(1, 3000, x)
    parts, seen = np.zeros_like(whole), np.zeros(whole.shape, dtype=int)
    for j, logp, log_dpdx in _special.log_gammainc_chunks(1, 3000, x, 37):
        rows = j[:, 0].astype(int) - 1
        parts[rows] += logp
        seen[rows] += np.isfinite(log_dpdx)
    normal = np.abs(whole) > 1e-300
    np.testing.assert_allclose(parts[normal], whole[normal], rtol=1e-12)
    assert np.all(seen == 1)


def test_log_gammainc_derivative_is_the_poisson_term():
    x = np.array([0.3, 40.0, 700.0])
    for j, _, log_dpdx in _special.log_gammainc_chunks(1, 800, x, 1 << 30):
        jj, xx = np.broadcast_arrays(j, x[None, :])
        want = (jj - 1) * np.log(xx) - xx - special.gammaln(jj)  # d/dx P(j, x) = x^(j-1) e^-x / (j-1)!
        np.testing.assert_allclose(log_dpdx[np.isfinite(log_dpdx)], want[np.isfinite(log_dpdx)], rtol=1e-12)


def test_log_poisson_and_binomial_terms_match_scipy():
    k = np.array([0, 1, 2, 5, 15, 16, 17, 100, 999, 1000, 1001, 5000, 99_000, 100_000, 100_400], dtype=float)[:, None]
    x = np.array([1e-3, 0.5, 3.0, 50.0, 1e3, 1e5])[None, :]
    want = k * np.log(x) - x - special.gammaln(k + 1)
    np.testing.assert_allclose(_special.log_poisson_pmf(k, x), want, rtol=1e-12, atol=1e-9)
    for m, p in [(1, 0.5), (10, 0.9), (1000, 0.9), (1000, 0.01), (7, 0.999)]:
        kk = np.arange(m + 1)
        got = np.exp(np.logaddexp.accumulate(_special.log_binom_pmf(kk, m, m * p, m * (1 - p))))
        np.testing.assert_allclose(got, special.bdtr(kk, m, p), rtol=2e-12)


def test_logsumexp_matches_scipy():
    a = np.random.default_rng(0).normal(scale=300.0, size=(50, 7))
    a[3, 2] = -np.inf
    np.testing.assert_allclose(_special.logsumexp(a), special.logsumexp(a, axis=0), rtol=1e-14)
    assert _special.logsumexp(np.full(3, -np.inf)) == -np.inf
    assert float(_special.logsumexp([1000.0, 1000.0])) == pytest.approx(1000.0 + math.log(2), rel=1e-15)


# --- Kolmogorov-Smirnov tails ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 10, 50, 500, 1012, 1013, 5000])
def test_smirnov_matches_scipy(n):
    d = np.unique(np.concatenate([np.geomspace(1e-4, 0.999, 60), [0.5 / n, 1.0 / n, 0.5]]))
    want = np.array([special.smirnov(n, v) for v in d])
    got = np.array([_special.smirnov(n, float(v)) for v in d])
    ok = want > 1e-290
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-10)
    assert _special.smirnov(n, 0.0) == 1.0 and _special.smirnov(n, 1.0) == 0.0


def test_kolmogorov_matches_scipy():
    x = np.concatenate([np.linspace(0.0, 8.0, 801), np.geomspace(1e-3, 30.0, 200)])
    want = special.kolmogorov(x)
    got = np.array([_special.kolmogorov(float(v)) for v in x])
    ok = want > 1e-300
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-13)

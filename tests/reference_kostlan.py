"""The Kostlan implementation that specdiag 0.1 shipped in ``specdiag._theory`` (kostlan_logcdf,
kostlan_cdf, kostlan_pdf, kostlan_ppf, exact_complex_law), kept verbatim as an independent reference:
``specdiag.laws.kostlan`` must agree with it to 1e-12."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, special

from specdiag._errors import InputError


#: terms j < n r^2 - _TAIL_SIGMAS sqrt(n r^2) have 1 - P(j, n r^2) < 1e-40: dropped from the sum
_TAIL_SIGMAS = 14.0
_BLOCK_ELEMENTS = 2_000_000


def _log_gammainc(j: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log P(j, x), accurate both where P is near 1 (via log1p(-Q)) and where P is small."""
    with np.errstate(divide="ignore"):
        p = special.gammainc(j, x)
        return np.where(p > 0.5, np.log1p(-special.gammaincc(j, x)), np.log(p))


def _kostlan_terms(r: np.ndarray, n: int, with_pdf: bool):
    """log F(r) and, optionally, d/dr log F(r), summing only the j that matter."""
    r = np.atleast_1d(np.asarray(r, dtype=float))
    logf = np.zeros_like(r)
    dlogf = np.zeros_like(r)
    for start in range(0, r.size, max(1, _BLOCK_ELEMENTS // n)):
        rb = r[start : start + max(1, _BLOCK_ELEMENTS // n)]
        x = n * rb**2
        j_lo = max(1, int(np.floor(x.min() - _TAIL_SIGMAS * np.sqrt(x.max()) - 10)))
        j = np.arange(j_lo, n + 1, dtype=float)[:, None]
        logp = _log_gammainc(j, x[None, :])
        logf[start : start + rb.size] = logp.sum(axis=0)
        if with_pdf:
            with np.errstate(divide="ignore"):
                # d/dx P(j, x) = x^{j-1} e^{-x} / Gamma(j); dx/dr = 2 n r
                log_density = (j - 1) * np.log(x[None, :]) - x[None, :] - special.gammaln(j)
            ratio = special.logsumexp(log_density - logp, axis=0)
            dlogf[start : start + rb.size] = np.exp(ratio) * 2 * n * rb
    return logf, dlogf


def kostlan_logcdf(r, n: int):
    """log P(rho <= r) for complex Glorot at width n, exact (Kostlan), vectorized in r."""
    r = np.asarray(r, dtype=float)
    out = np.full(r.shape, -np.inf)
    pos = r > 0
    if pos.any():
        out[pos] = _kostlan_terms(r[pos], n, with_pdf=False)[0]
    return out


def kostlan_cdf(r, n: int):
    return np.exp(kostlan_logcdf(r, n))


def kostlan_pdf(r, n: int):
    """Density of rho for complex Glorot at width n, exact: F(r) * d/dr log F(r)."""
    r = np.asarray(r, dtype=float)
    out = np.zeros(r.shape)
    pos = r > 0
    if pos.any():
        logf, dlogf = _kostlan_terms(r[pos], n, with_pdf=True)
        out[pos] = np.exp(logf) * dlogf
    return out


def kostlan_ppf(p: float, n: int) -> float:
    """The p-quantile of rho for complex Glorot at width n (root of log F(r) = log p)."""
    if not 0.0 < p < 1.0:
        raise InputError(f"a probability must lie strictly between 0 and 1, got {p}")
    target = math.log(p)
    lo, hi = 0.5, 1.5
    while kostlan_logcdf(lo, n).item() > target:
        lo /= 2
    while kostlan_logcdf(hi, n).item() < target:
        hi *= 2
    return optimize.brentq(lambda r: kostlan_logcdf(r, n).item() - target, lo, hi, xtol=1e-13, rtol=1e-13)


@dataclass(frozen=True)
class ExactLaw:
    """Summary of Kostlan's exact law of rho (complex Glorot, width n), divided by ``scale``."""

    n: int
    scale: float
    mean: float
    std: float
    q05: float
    median: float
    q95: float
    p_above_1: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("mean", "std", "q05", "median", "q95", "p_above_1")}


@lru_cache(maxsize=256)
def _kostlan_moments(n: int) -> tuple[float, float]:
    lo, hi = kostlan_ppf(1e-13, n), kostlan_ppf(1 - 1e-13, n)
    r = np.linspace(lo, hi, 2001)
    f = kostlan_pdf(r, n)
    from scipy.integrate import simpson  # noqa: PLC0415

    mass = simpson(f, x=r)
    mean = simpson(r * f, x=r) / mass
    var = simpson((r - mean) ** 2 * f, x=r) / mass
    return float(mean), float(math.sqrt(var))


@lru_cache(maxsize=256)
def exact_complex_law(n: int, scale: float = 1.0) -> ExactLaw:
    """Mean, sd, quantiles and P(rho > 1) of rho(W / scale), W complex Glorot, by 1-D numerics."""
    if n < 2:
        raise InputError(f"the width n must be at least 2, got {n}")
    mean, std = _kostlan_moments(n)
    q05, med, q95 = (kostlan_ppf(p, n) for p in (0.05, 0.5, 0.95))
    p_above = float(-np.expm1(kostlan_logcdf(scale, n)))
    return ExactLaw(n, scale, mean / scale, std / scale, q05 / scale, med / scale, q95 / scale, p_above)


def calibrated_scale_complex(n: int, coverage: float) -> float:
    """s with P(rho(W/s) <= 1) = coverage exactly, W complex Glorot: Kostlan's coverage-quantile."""
    return kostlan_ppf(coverage, n)

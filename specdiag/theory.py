"""Closed-form laws for the spectral radius and for powers of Glorot matrices (SPEC sections 1-4).

Sources
- Rider (2003), "A limit theorem at the edge of a non-Hermitian random matrix ensemble": complex
  Ginibre, rho = 1 + sqrt(g_n/4n) + G / sqrt(4 n g_n), P(G <= x) -> exp(-e^{-x}).
- Rider and Sinclair (2014), "Extremal laws for the real Ginibre ensemble": same centring and scale,
  limit exp(-(1/2) e^{-x}), i.e. a Gumbel law with location -log 2.
- Kostlan (1992), "On the spectra of Gaussian matrices": for complex Ginibre, {n |lambda_j|^2} has
  the law of independent Gamma(j, 1), j = 1..n, so P(rho <= r) = prod_j P(j, n r^2) exactly.
- Bar et al. (NeurIPS 2025): the rescaling s_n = 1 + sqrt(g_n/4n) + c / sqrt(4 n g_n).
- Q_{n,k} = E||W^k||_F^2 / n for complex Glorot W: SPEC section 4.

Everything here is a pure function of n (and r, k, p); nothing samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, special, stats

from .errors import InputError

__all__ = ["EULER_GAMMA", "PAPER_C", "LAST_UNDEFINED_N", "FIELDS", "LIMIT_GUMBEL_LOC", "g_n", "rider_location", "rider_scale", "paper_scale", "limit_gumbel_cdf", "asymptotic_params", "asymptotic_law", "check_field", "kostlan_logcdf", "kostlan_cdf", "kostlan_pdf", "kostlan_ppf", "ExactLaw", "exact_complex_law", "calibrated_scale_complex", "log_q", "q_exact_fraction", "log_expected_hidden_sq", "diagonal_modulus_cdf", "predicted_radius_law", "TRUNCNORMAL_VARIANCE_FACTOR"]

EULER_GAMMA = float(np.euler_gamma)
#: the paper's constant: Gumbel mean + one Gumbel sd
PAPER_C = EULER_GAMMA + math.pi / math.sqrt(6.0)
#: largest n with g_n <= 0 (the paper's s_n and the Rider scale are undefined up to here)
LAST_UNDEFINED_N = 163
FIELDS = ("real", "complex")
#: location of the limit Gumbel law in units of the Rider scale, per field
LIMIT_GUMBEL_LOC = {"complex": 0.0, "real": -math.log(2.0)}


def g_n(n):
    """g_n = log(n / 2 pi) - 2 log log n (vectorized). Non-positive for every n <= 163."""
    n = np.asarray(n, dtype=float)
    return np.log(n / (2 * np.pi)) - 2 * np.log(np.log(n))


def _require_positive_g(n: int, what: str) -> float:
    g = float(g_n(n))
    if not g > 0:
        raise InputError(
            f"{what} is undefined at n = {n}: g_n = log(n/2pi) - 2 log log n = {g:.3f} <= 0 for "
            f"n <= {LAST_UNDEFINED_N}; use --rescale calibrated (finite-n exact), or n >= "
            f"{LAST_UNDEFINED_N + 1}"
        )
    return g


def rider_location(n: int) -> float:
    """Centring 1 + sqrt(g_n / 4n) of the edge law (n >= 164)."""
    g = _require_positive_g(n, "the Rider location")
    return 1.0 + math.sqrt(g / (4 * n))


def rider_scale(n: int) -> float:
    """Scale 1 / sqrt(4 n g_n) of the edge law (n >= 164)."""
    g = _require_positive_g(n, "the Rider scale")
    return 1.0 / math.sqrt(4 * n * g)


def paper_scale(n: int, c: float = PAPER_C) -> float:
    """The paper's rescaling factor s_n = 1 + sqrt(g_n/4n) + c/sqrt(4 n g_n); InputError for n <= 163."""
    g = _require_positive_g(n, "the paper's rescaling s_n")
    return 1.0 + math.sqrt(g / (4 * n)) + c / math.sqrt(4 * n * g)


def limit_gumbel_cdf(x, field: str):
    """Limit law of G: exp(-e^{-x}) (complex) or exp(-(1/2) e^{-x}) (real)."""
    x = np.asarray(x, dtype=float)
    weight = 1.0 if field == "complex" else 0.5
    return np.exp(-weight * np.exp(-x))


def asymptotic_params(n: int, field: str) -> tuple[float, float]:
    """(loc, scale) of the asymptotic Gumbel law of rho in radius units (n >= 164)."""
    check_field(field)
    b = rider_scale(n)
    return rider_location(n) + b * LIMIT_GUMBEL_LOC[field], b


def asymptotic_law(n: int, field: str):
    """The asymptotic (Rider / Rider-Sinclair) law of rho as a frozen scipy Gumbel distribution."""
    loc, scale = asymptotic_params(n, field)
    return stats.gumbel_r(loc=loc, scale=scale)


def check_field(field: str) -> str:
    if field not in FIELDS:
        raise InputError(f"unknown field {field!r}: use real or complex")
    return field


# --------------------------------------------------------------------------------------------
# Kostlan's exact law of the spectral radius, complex Glorot
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Powers: Q_{n,k} = E ||W^k||_F^2 / n for complex Glorot
# --------------------------------------------------------------------------------------------


def log_q(n: int, k):
    """log Q_{n,k}, exact, vectorized in k >= 0, evaluated in log space (no overflow at large k).

    Q_{n,k} = [n(n+1)...(n+k+1) - n(n-1)...(n-k-1)] / ((k+1)(k+2) n^{k+1})
            = n [prod_{i<=k+1} (1 + i/n) - prod_{i<=k+1} (1 - i/n)] / ((k+1)(k+2)).
    Both products are accumulated as sums of logs (log1p, atanh) so that their near-cancellation
    at small k costs no precision.
    """
    k = np.asarray(k, dtype=np.int64)
    if np.any(k < 0):
        raise InputError("the power k must be non-negative")
    i = np.arange(1, int(k.max(initial=0)) + 2, dtype=float)
    log_plus = np.cumsum(np.log1p(i / n))  # log prod_{1..j+1} (1 + i/n) at index j
    # log(P+/P-) = sum 2 atanh(i/n); infinite once a factor (1 - i/n) is 0, i.e. k + 1 >= n
    inside = i < n
    gap = np.cumsum(np.where(inside, 2 * np.arctanh(np.where(inside, i / n, 0.0)), np.inf))
    return math.log(n) + log_plus[k] + np.log(-np.expm1(-gap[k])) - np.log((k + 1.0) * (k + 2.0))


def q_exact_fraction(n: int, k: int):
    """Q_{n,k} as an exact Fraction (integer arithmetic), for tests and small k."""
    from fractions import Fraction  # noqa: PLC0415

    rising = math.prod(n + i for i in range(k + 2))
    falling = math.prod(n - i for i in range(k + 2))
    return Fraction(rising - falling, (k + 1) * (k + 2) * n ** (k + 1))


def log_expected_hidden_sq(n: int, t, sigma: float = 1.0, gain: float = 1.0):
    """log E||h_t||^2 for h_t = W h_{t-1} + x_t, x ~ N(0, sigma^2 I), W = gain * complex Glorot.

    E||h_t||^2 = sigma^2 n sum_{k<t} gain^{2k} Q_{n,k}; vectorized over t >= 1.
    """
    t = np.atleast_1d(np.asarray(t, dtype=int))
    kmax = int(t.max())
    k = np.arange(kmax)
    terms = log_q(n, k) + 2 * k * math.log(gain)
    cumulative = np.logaddexp.accumulate(terms)
    return 2 * math.log(sigma) + math.log(n) + cumulative[t - 1]


# --------------------------------------------------------------------------------------------
# The law of rho for each kind of initialization, where one is known
# --------------------------------------------------------------------------------------------


def _summary_from_ppf(ppf, mean: float, std: float, p_above_1: float, source: str) -> dict:
    return {
        "mean": mean,
        "std": std,
        "q05": float(ppf(0.05)),
        "median": float(ppf(0.5)),
        "q95": float(ppf(0.95)),
        "p_above_1": p_above_1,
        "source": source,
    }


def diagonal_modulus_cdf(x, kind: str, params: dict | None = None):
    """CDF of one |lambda| of a diagonal init: U[0,1] (uniform-diag) or area-uniform on a ring (lru)."""
    x = np.asarray(x, dtype=float)
    if kind == "uniform-diag":
        return np.clip(x, 0.0, 1.0)
    rmin, rmax = params["rmin"], params["rmax"]
    return np.clip((x**2 - rmin**2) / (rmax**2 - rmin**2), 0.0, 1.0)


def _diagonal_radius_law(kind: str, n: int, params: dict | None) -> dict:
    """rho = max of n iid moduli: P(rho <= x) = F(x)^n, exact."""
    from scipy import integrate  # noqa: PLC0415

    if kind == "uniform-diag":
        lo, hi = 0.0, 1.0
        ppf = lambda p: p ** (1.0 / n)  # noqa: E731
    else:
        lo, hi = params["rmin"], params["rmax"]
        ppf = lambda p: math.sqrt(lo**2 + p ** (1.0 / n) * (hi**2 - lo**2))  # noqa: E731
    survival = lambda x: 1.0 - float(diagonal_modulus_cdf(x, kind, params)) ** n  # noqa: E731
    mean = lo + integrate.quad(survival, lo, hi, limit=200)[0]
    second = lo**2 + integrate.quad(lambda x: 2 * x * survival(x), lo, hi, limit=200)[0]
    std = math.sqrt(max(second - mean**2, 0.0))
    return _summary_from_ppf(ppf, mean, std, 0.0, "exact (max of n iid moduli)")


def predicted_radius_law(kind: str, field: str, n: int, gain: float = 1.0, params: dict | None = None) -> dict | None:
    """Predicted mean/std/quantiles/P(rho > 1) of rho for an init, with its source, or None.

    Gaussian kinds are ``gain`` times Glorot, and rho(gain W) = gain rho(W): complex uses Kostlan's
    exact law, real the Rider-Sinclair asymptotic law (n >= 164 only). truncnormal uses the same
    laws at its realized variance (universality: asymptotic, labelled so).
    """
    if kind in ("uniform-diag", "lru"):
        return _diagonal_radius_law(kind, n, params)
    if kind == "truncnormal":
        gain = gain * math.sqrt(TRUNCNORMAL_VARIANCE_FACTOR)
    suffix = " (universality, approximate)" if kind == "truncnormal" else ""
    if field == "complex":
        law = exact_complex_law(n, scale=1.0 / gain)
        return {**law.as_dict(), "source": "Kostlan exact" + suffix}
    if n <= LAST_UNDEFINED_N:
        return None
    g = asymptotic_law(n, "real")
    return _summary_from_ppf(
        lambda p: gain * g.ppf(p),
        gain * float(g.mean()),
        gain * float(g.std()),
        float(g.sf(1.0 / gain)),
        "Rider-Sinclair asymptotic" + suffix,
    )


#: variance factor of the ``truncnormal`` init (std 1/sqrt(n) truncated at +-2 std, uncorrected)
TRUNCNORMAL_VARIANCE_FACTOR = 0.7737413035499929

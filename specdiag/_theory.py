"""Closed forms of the Glorot edge and of powers of Glorot matrices (docs/science.md sections 1-4):
g_n, the paper's s_n, the Rider centring and scale, Q_{n,k} and E||h_t||^2. The laws themselves, as
scipy distributions, are in :mod:`specdiag.laws`.

Sources
- Rider (2003), "A limit theorem at the edge of a non-Hermitian random matrix ensemble": complex
  Ginibre, rho = 1 + sqrt(g_n/4n) + G / sqrt(4 n g_n), P(G <= x) -> exp(-e^{-x}).
- Rider and Sinclair (2014), "Extremal laws for the real Ginibre ensemble": same centring and scale,
  limit exp(-(1/2) e^{-x}), i.e. a Gumbel law with location -log 2.
- Kostlan (1992), "On the spectra of Gaussian matrices": for complex Ginibre, {n |lambda_j|^2} has
  the law of independent Gamma(j, 1), j = 1..n, so P(rho <= r) = prod_j P(j, n r^2) exactly.
- Bar et al. (NeurIPS 2025): the rescaling s_n = 1 + sqrt(g_n/4n) + c / sqrt(4 n g_n).
- Q_{n,k} = E||W^k||_F^2 / n for complex Glorot W: docs/science.md section 4.

Everything here is a pure function of n (and r, k, p); nothing samples.
"""

from __future__ import annotations

import math

import numpy as np

from ._errors import InputError

__all__ = [
    "EULER_GAMMA",
    "PAPER_C",
    "LAST_UNDEFINED_N",
    "g_n",
    "rider_location",
    "rider_scale",
    "paper_scale",
    "log_q",
    "q_exact_fraction",
    "log_expected_hidden_sq",
]

EULER_GAMMA = float(np.euler_gamma)
#: the paper's constant: Gumbel mean + one Gumbel sd
PAPER_C = EULER_GAMMA + math.pi / math.sqrt(6.0)
#: largest n with g_n <= 0 (the paper's s_n and the Rider scale are undefined up to here)
LAST_UNDEFINED_N = 163


def g_n(n):
    """g_n = log(n / 2 pi) - 2 log log n (vectorized). Non-positive for every n <= 163."""
    n = np.asarray(n, dtype=float)
    return np.log(n / (2 * np.pi)) - 2 * np.log(np.log(n))


def _require_positive_g(n: int, what: str) -> float:
    g = float(g_n(n))
    if not g > 0:
        raise InputError(
            f"{what} is undefined at n = {n}: g_n = log(n/2pi) - 2 log log n = {g:.3f} <= 0 for "
            f"n <= {LAST_UNDEFINED_N}; use the calibrated rescaling (rescale='calibrated'; on the command "
            f"line --rescale calibrated), exact at finite n, or n >= {LAST_UNDEFINED_N + 1}",
            param="n",
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
    from fractions import Fraction  # noqa: PLC0415 (fractions loads decimal: only for tests)

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

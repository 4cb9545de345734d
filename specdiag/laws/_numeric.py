"""Frozen radius laws evaluated in plain numpy and scipy.special: the numbers commands print.

A :class:`NumericLaw` answers what a frozen ``scipy.stats`` distribution answers for a radius law
(``cdf``, ``sf``, ``logcdf``, ``ppf``, ``isf``, ``pdf``, ``mean``, ``std``, ``var``, ``median``,
``rvs``) with the same names and semantics (``gain`` multiplies the radius, like SciPy's
``scale``), without importing scipy.stats (about 0.8 s at start-up). ``distribution()`` gives the
matching ``scipy.stats`` object for Python users who want one; :mod:`specdiag.laws` builds its
public distributions on these same numerics, so both print the same digits.

The factory functions here carry the names of the public ones (:func:`kostlan`,
:func:`real_ginibre`, :func:`rider`, :func:`rider_sinclair`, :func:`uniform_diag`,
:func:`uniform_disk`, :func:`lru_ring`) and validate their arguments the same way.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .._errors import InputError
from .._theory import EULER_GAMMA, g_n
from .._validation import whole_number
from . import _kostlan, _real

_Law = TypeVar("_Law", bound="NumericLaw")

__all__ = [
    "NumericLaw",
    "Kostlan",
    "RealTable",
    "Gumbel",
    "PowerLaw",
    "LruRing",
    "kostlan",
    "real_ginibre",
    "rider",
    "rider_sinclair",
    "uniform_diag",
    "uniform_disk",
    "lru_ring",
    "check_gain",
    "rider_params",
    "lru_cdf",
    "lru_logcdf",
    "lru_pdf",
    "lru_ppf",
    "lru_isf",
    "lru_moments",
]


def _scalar(values: np.ndarray):
    """A 0-d result as a numpy scalar (as SciPy returns it), arrays unchanged."""
    return values[()] if values.ndim == 0 else values


@dataclass(frozen=True)
class NumericLaw:
    """Base of the frozen numeric laws: subclasses give the law of rho at gain 1 (``_cdf`` ...)."""

    gain: float = 1.0
    #: the support of rho at gain 1 (class attributes, not fields)
    lower = 0.0
    upper = math.inf

    def __post_init__(self):
        check_gain(self.gain)

    # --- what subclasses provide (arguments are 1-D, inside the support) --------------------------
    def _logcdf(self, r: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self._cdf(r))

    def _cdf(self, r: np.ndarray) -> np.ndarray:
        return np.exp(self._logcdf(r))

    def _sf(self, r: np.ndarray) -> np.ndarray:
        return -np.expm1(self._logcdf(r))

    def _pdf(self, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _ppf(self, q: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self._ppf(1.0 - q)

    def _moments(self) -> tuple[float, float]:
        raise NotImplementedError

    def _draws(self, u: np.ndarray) -> np.ndarray:
        return self._ppf(u)

    def distribution(self):
        """The same law as a frozen ``scipy.stats`` distribution (imports scipy.stats)."""
        raise NotImplementedError

    # --- the frozen-distribution interface --------------------------------------------------------
    def _at(self, x, inside, below: float, above: float):
        r = np.asarray(x, dtype=float) / self.gain
        out = np.where(r <= self.lower, below, np.where(r >= self.upper, above, np.nan))
        sel = (r > self.lower) & (r < self.upper)
        if sel.any():
            out[sel] = inside(r[sel])
        return _scalar(out)

    def cdf(self, x):
        return self._at(x, self._cdf, 0.0, 1.0)

    def logcdf(self, x):
        return self._at(x, self._logcdf, -np.inf, 0.0)

    def sf(self, x):
        return self._at(x, self._sf, 1.0, 0.0)

    def pdf(self, x):
        scaled = self._at(x, self._pdf, 0.0, 0.0)
        return scaled / self.gain

    def _quantile(self, q, inside, at_zero: float, at_one: float):
        q = np.asarray(q, dtype=float)
        out = np.where(q == 0, at_zero, np.where(q == 1, at_one, np.nan))
        sel = (q > 0) & (q < 1)
        if sel.any():
            out[sel] = inside(q[sel])
        return _scalar(out * self.gain)

    def ppf(self, q):
        return self._quantile(q, self._ppf, self.lower, self.upper)

    def isf(self, q):
        return self._quantile(q, self._isf, self.upper, self.lower)

    def median(self):
        return self.ppf(0.5)

    def mean(self) -> float:
        return self.gain * self._moments()[0]

    def var(self) -> float:
        return self.gain**2 * self._moments()[1]

    def std(self) -> float:
        return math.sqrt(self.var())

    def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
        """``size`` draws by inverting the CDF at ``random_state.random(size)``."""
        return self.gain * self._draws(random_state.random(int(size)))

    def scaled(self: _Law, gain: float) -> _Law:
        """The law of ``gain * rho``."""
        return dataclasses.replace(self, gain=self.gain * check_gain(gain))

    def summary(self) -> dict:
        """``mean``, ``std``, ``q05``, ``median``, ``q95`` and ``p_above_1`` = P(rho > 1)."""
        q05, median, q95 = (float(v) for v in self.ppf(np.array([0.05, 0.5, 0.95])))
        return {
            "mean": float(self.mean()),
            "std": float(self.std()),
            "q05": q05,
            "median": median,
            "q95": q95,
            "p_above_1": float(self.sf(1.0)),
        }


def check_gain(gain) -> float:
    """A finite gain > 0 (InputError naming ``scale`` otherwise)."""
    if (
        isinstance(gain, bool)
        or not isinstance(gain, (int, float, np.integer, np.floating))
        or not (math.isfinite(gain) and gain > 0)
    ):
        raise InputError(f"scale must be a finite number > 0, got {gain!r}", param="scale")
    return float(gain)


@dataclass(frozen=True)
class Kostlan(NumericLaw):
    """Kostlan's exact law of the complex Glorot radius at width n (times ``gain``)."""

    n: int = 1

    def _logcdf(self, r):
        return _kostlan.logcdf(r, self.n)

    def _pdf(self, r):
        return np.exp(_kostlan.logpdf(r, self.n))

    def _ppf(self, q):
        return _kostlan.quantile_of(q, self.n, upper=False)

    def _isf(self, q):
        return _kostlan.quantile_of(q, self.n, upper=True)

    def _moments(self):
        return _kostlan.moments(self.n)[:2]

    def _draws(self, u):
        return _kostlan.draws(u, self.n)

    def distribution(self):
        from ._distributions import kostlan as dist  # noqa: PLC0415 (scipy.stats, only when asked for)

        return dist(self.n, scale=self.gain)


@dataclass(frozen=True)
class RealTable(NumericLaw):
    """The finite-n real Glorot law from the Monte Carlo table at width n (times ``gain``)."""

    n: int = 2

    @property
    def quantiles(self) -> _real.TabulatedQuantiles:
        return _real.real_quantiles(self.n)

    def _cdf(self, r):
        return np.exp(-np.exp(-self.quantiles.u_of_r(r)))

    def _logcdf(self, r):
        return -np.exp(-self.quantiles.u_of_r(r))

    def _sf(self, r):
        return -np.expm1(-np.exp(-self.quantiles.u_of_r(r)))

    def _pdf(self, r):
        return self.quantiles.density(r)

    def _ppf(self, q):
        return self.quantiles.r_of_u(_real.gumbel_u(q))

    def _isf(self, q):
        with np.errstate(divide="ignore"):
            return self.quantiles.r_of_u(-np.log(-np.log1p(-q)))

    def _moments(self):
        return _real.real_moments(self.n)

    def distribution(self):
        from ._distributions import real_ginibre as dist  # noqa: PLC0415 (scipy.stats, only when asked for)

        return dist(self.n, scale=self.gain)


@dataclass(frozen=True)
class Gumbel(NumericLaw):
    """Gumbel law P(rho <= r) = exp(-exp(-(r - loc) / beta)) (times ``gain``): the edge limits."""

    loc: float = 0.0
    beta: float = 1.0
    lower = -math.inf

    @property
    def kwds(self) -> dict:
        """``loc`` and ``scale`` of the radius law (``gain`` applied), as SciPy's frozen ``gumbel_r``."""
        return {"loc": self.gain * self.loc, "scale": self.gain * self.beta}

    def _z(self, r):
        return (r - self.loc) / self.beta

    def _logcdf(self, r):
        with np.errstate(over="ignore"):
            return -np.exp(-self._z(r))

    def _pdf(self, r):
        z = self._z(r)
        with np.errstate(over="ignore"):
            return np.exp(-z - np.exp(-z)) / self.beta

    def _ppf(self, q):
        return self.loc + self.beta * _real.gumbel_u(q)

    def _isf(self, q):
        with np.errstate(divide="ignore"):
            return self.loc - self.beta * np.log(-np.log1p(-q))

    def _moments(self):
        return self.loc + EULER_GAMMA * self.beta, (math.pi * self.beta) ** 2 / 6.0

    def distribution(self):
        from scipy import stats  # noqa: PLC0415 (scipy.stats, only when asked for)

        return stats.gumbel_r(**self.kwds)


@dataclass(frozen=True)
class PowerLaw(NumericLaw):
    """P(rho <= r) = r^a on [0, 1] (times ``gain``): the largest of n iid moduli of a diagonal init."""

    a: float = 1.0
    upper = 1.0

    def _logcdf(self, r):
        return self.a * np.log(r)

    def _pdf(self, r):
        return self.a * r ** (self.a - 1.0)

    def _ppf(self, q):
        return q ** (1.0 / self.a)

    def _isf(self, q):
        return np.exp(np.log1p(-q) / self.a)

    def _moments(self):
        a = self.a
        return a / (a + 1.0), a / ((a + 1.0) ** 2 * (a + 2.0))

    def distribution(self):
        from scipy import stats  # noqa: PLC0415 (scipy.stats, only when asked for)

        return stats.powerlaw(self.a, scale=self.gain)


@dataclass(frozen=True)
class LruRing(NumericLaw):
    """P(rho <= r) = ((r^2 - rmin^2) / (rmax^2 - rmin^2))^n on [rmin, rmax] (times ``gain``)."""

    n: int = 1
    rmin: float = 0.4
    rmax: float = 0.9

    @property
    def lower(self) -> float:  # type: ignore[override]
        return self.rmin

    @property
    def upper(self) -> float:  # type: ignore[override]
        return self.rmax

    def _logcdf(self, r):
        return lru_logcdf(r, self.n, self.rmin, self.rmax)

    def _pdf(self, r):
        return lru_pdf(r, self.n, self.rmin, self.rmax)

    def _ppf(self, q):
        return lru_ppf(q, self.n, self.rmin, self.rmax)

    def _isf(self, q):
        return lru_isf(q, self.n, self.rmin, self.rmax)

    def _moments(self):
        mean, var = lru_moments(self.n, self.rmin, self.rmax)[:2]
        return float(mean), float(var)

    def distribution(self):
        from ._distributions import lru_ring as dist  # noqa: PLC0415 (scipy.stats, only when asked for)

        law = dist(self.n, self.rmin, self.rmax)
        return law if self.gain == 1.0 else law.dist.freeze(*law.args, scale=self.gain)


# --- the LRU ring's closed forms (shared with the scipy distribution; they broadcast) -------------


def _lru_frac(x, rmin, rmax):
    return np.clip((x * x - rmin * rmin) / (rmax * rmax - rmin * rmin), 0.0, 1.0)


def lru_cdf(x, n, rmin, rmax):
    return _lru_frac(x, rmin, rmax) ** n


def lru_logcdf(x, n, rmin, rmax):
    """log of the fraction, from 1 - fraction = (rmax - x)(rmax + x) / d near the top (accurate sf)."""
    d = rmax * rmax - rmin * rmin
    frac = _lru_frac(x, rmin, rmax)
    comp = np.clip((rmax - x) * (rmax + x) / d, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        return n * np.where(frac > 0.5, np.log1p(-comp), np.log(frac))


def lru_pdf(x, n, rmin, rmax):
    d = rmax * rmax - rmin * rmin
    f = _lru_frac(x, rmin, rmax)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, n * f ** (n - 1) * 2 * x / d, np.where(n == 1, 2 * x / d, 0.0))


def lru_ppf(q, n, rmin, rmax):
    return np.sqrt(rmin * rmin + q ** (1.0 / n) * (rmax * rmax - rmin * rmin))


def lru_isf(q, n, rmin, rmax):
    # (1 - q)^(1/n) = 1 + expm1(log1p(-q) / n): no cancellation for small q
    return np.sqrt(rmax * rmax + np.expm1(np.log1p(-q) / n) * (rmax * rmax - rmin * rmin))


def _lru_quadrature(n, rmin, rmax):
    """Nodes r and weights w with E g(rho) = sum w g(r): rho = sqrt(rmin^2 + t d), t = V^(1/n) has
    density n t^(n-1) on [0, 1]; Gauss-Legendre in t."""
    nodes, weights = np.polynomial.legendre.leggauss(200)
    t = 0.5 * (nodes + 1.0)
    n, rmin, rmax = (np.asarray(v, dtype=float)[..., None] for v in (n, rmin, rmax))
    return np.sqrt(rmin**2 + t * (rmax**2 - rmin**2)), 0.5 * weights * n * t ** (n - 1)


def lru_raw_moment(k, n, rmin, rmax):
    r, w = _lru_quadrature(n, rmin, rmax)
    return np.sum(w * r**k, axis=-1)


def lru_moments(n, rmin, rmax):
    """(mean, variance, skewness, excess kurtosis) of the LRU ring law (broadcasting)."""
    r, w = _lru_quadrature(n, rmin, rmax)
    mean = np.sum(w * r, axis=-1)
    d = r - mean[..., None]
    var = np.sum(w * d**2, axis=-1)
    return mean, var, np.sum(w * d**3, axis=-1) / var**1.5, np.sum(w * d**4, axis=-1) / var**2 - 3.0


# --- factories with the public names -----------------------------------------------------------


def kostlan(n: int, scale: float = 1.0) -> Kostlan:
    """Kostlan's exact law of the complex Glorot radius at width n (n >= 1), times ``scale``."""
    return Kostlan(gain=check_gain(scale), n=whole_number(n, "n", minimum=1))


def real_ginibre(n: int, scale: float = 1.0) -> RealTable:
    """The finite-n real Glorot law (the Monte Carlo table) at width n >= 2, times ``scale``."""
    return RealTable(gain=check_gain(scale), n=whole_number(n, "n", minimum=2))


def rider_params(n) -> tuple[float, float]:
    """(1 + sqrt(g_n/4n), 1/sqrt(4 n g_n)) at n >= 164; InputError below, where g_n <= 0."""
    n = whole_number(n, "n", minimum=2)
    g = float(g_n(n))
    if not g > 0:
        raise InputError(
            f"the Rider edge law is undefined at n = {n}: g_n = log(n/2pi) - 2 log log n = {g:.3f}, and g_n <= 0 for "
            "n <= 163; "
            "use the exact law (kostlan) or the finite-n table (real_ginibre), or n >= 164",
            param="n",
        )
    return 1.0 + math.sqrt(g / (4 * n)), 1.0 / math.sqrt(4 * n * g)


def rider(n: int) -> Gumbel:
    """Rider's limit law of the complex Glorot radius: Gumbel(1 + sqrt(g_n/4n), 1/sqrt(4 n g_n))."""
    loc, scale = rider_params(n)
    return Gumbel(loc=loc, beta=scale)


def rider_sinclair(n: int) -> Gumbel:
    """Rider-Sinclair's limit law of the real Glorot radius: Rider's shifted by -log(2) scales."""
    loc, scale = rider_params(n)
    return Gumbel(loc=loc - math.log(2.0) * scale, beta=scale)


def uniform_diag(n: int) -> PowerLaw:
    """The uniform-diag radius: the largest of n iid U[0, 1] moduli, P(rho <= r) = r^n."""
    return PowerLaw(a=float(whole_number(n, "n", minimum=2)))


def uniform_disk(n: int) -> PowerLaw:
    """n eigenvalues uniform on the unit disk (modulus sqrt(U)): P(rho <= r) = r^(2n)."""
    return PowerLaw(a=2.0 * whole_number(n, "n", minimum=2))


def lru_ring(n: int, rmin: float = 0.4, rmax: float = 0.9) -> LruRing:
    """The LRU ring radius (Orvieto et al. 2023) at width n, ring rmin <= |lambda| <= rmax."""
    n = whole_number(n, "n", minimum=2)
    for name, value in (("rmin", rmin), ("rmax", rmax)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not math.isfinite(value)
        ):
            raise InputError(f"{name} must be a finite number, got {value!r}", param=name)
    if rmin < 0:
        raise InputError(f"rmin must be >= 0, got {rmin}", param="rmin")
    if not rmax > rmin:
        raise InputError(f"rmax must exceed rmin = {rmin}, got {rmax}", param="rmax")
    return LruRing(n=n, rmin=float(rmin), rmax=float(rmax))

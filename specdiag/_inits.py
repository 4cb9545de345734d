"""The registry of initializations: each entry knows its sampler, its radius law and its structure.

An :class:`Ensemble` is a small picklable description of a random-matrix law at width n (it travels
to worker processes); ``Ensemble.sample(rng, xp)`` draws one matrix (or, for diagonal inits, its
diagonal). Everything that depends on the *kind* of init lives on its :class:`InitSpec` entry in
:data:`INITS`: whether it is diagonal, whether E||W^k||_F^2 is known exactly, and its spectral
radius law (:meth:`Ensemble.radius_law`). Definitions: Bar et al. (NeurIPS 2025), section 2, and
Orvieto et al. (2023) for the LRU ring.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Callable, TypeVar

import numpy as np

from . import _calibration as calibration
from . import _theory as theory
from ._errors import InputError
from .laws import _numeric as numeric
from .laws._real import p_above, real_ginibre_table
from ._results import Result
from ._validation import choice, finite_number, probability, seed_value, whole_number

__all__ = [
    "FIELDS",
    "RESCALE_METHODS",
    "INITS",
    "InitOptions",
    "InitSpec",
    "Ensemble",
    "LawMoments",
    "LawSummary",
    "make_ensemble",
    "summarize_law",
    "radius_law",
    "finite_n_real",
    "TRUNCNORMAL_VARIANCE_FACTOR",
]

FIELDS = ("real", "complex")
RESCALE_METHODS = ("paper", "calibrated")
#: variance factor of the ``truncnormal`` init (std 1/sqrt(n) truncated at +-2 std, uncorrected)
TRUNCNORMAL_VARIANCE_FACTOR = 0.7737413035499929


@dataclass(frozen=True)
class InitOptions:
    """User choices some initializations need (checked when an ensemble is built).

    rmin, rmax, max_phase: the LRU ring. rescale, coverage, calibration_samples: the ``rescaled``
    divisor (paper formula, or the coverage-quantile of the radius). seed: the calibration's seed.
    calibration_samples (real, calibrated): None takes the quantile of the shipped real Glorot table
    where it covers n (2..2048) and a Monte Carlo quantile of
    :data:`specdiag._calibration.DEFAULT_SAMPLES` radii beyond it; a number always runs a Monte
    Carlo quantile of that many radii (cached). The rescaling's ``source`` says which.
    """

    rmin: float = 0.4
    rmax: float = 0.9
    max_phase: float = math.pi
    rescale: str = "paper"
    coverage: float = 0.9
    seed: int = 0
    calibration_samples: int | None = None


Rescaling = calibration.Rescaling


_Moments = TypeVar("_Moments", bound="LawMoments")


@dataclass(frozen=True)
class LawMoments(Result):
    """Mean, sd, 5/50/95% quantiles and P(rho > 1) of a radius law."""

    mean: float
    std: float
    q05: float
    median: float
    q95: float
    p_above_1: float

    @classmethod
    def of(cls: type[_Moments], law, **extra: Any) -> _Moments:
        """The moments of a frozen law (:class:`specdiag.laws._numeric.NumericLaw` or a frozen scipy
        distribution: the same methods); ``extra``: the fields a subclass adds."""
        q05, median, q95 = (float(v) for v in law.ppf([0.05, 0.5, 0.95]))
        return cls(float(law.mean()), float(law.std()), q05, median, q95, float(law.sf(1.0)), **extra)


@dataclass(frozen=True)
class LawSummary(LawMoments):
    """Mean, sd, 5/50/95% quantiles and P(rho > 1) of a radius law, with where it comes from.

    ``p_above_1_se``: the Monte Carlo SE of P(rho > 1) where the law is the real table (None for
    exact laws). ``p_above_1_bound``: where the table's tail is extrapolated, the text of the bound it
    establishes ("< 0.01", "> 0.99"; ``p_above_1`` is then that bound), else None.
    """

    source: str
    p_above_1_se: float | None = None
    p_above_1_bound: str | None = None


def summarize_law(law, source: str) -> LawSummary:
    """Mean, sd, 5/50/95% quantiles and P(rho > 1) of a frozen law, with ``source``."""
    return LawSummary.of(law, source=source)


@dataclass(frozen=True)
class Ensemble:
    """A random-matrix law at width n: what ``sample`` draws and what reports say about it.

    ``std`` is the per-entry standard deviation of dense kinds (E|W_ij|^2 = std^2), so the matrix is
    ``gain = std * sqrt(n)`` times a Glorot matrix in law.
    """

    name: str
    n: int
    field: str
    kind: str  # "gaussian", "truncnormal", "uniform-diag", "uniform-disk", "lru"
    std: float = 1.0
    params: dict = dataclass_field(default_factory=dict)
    rescaling: calibration.Rescaling | None = None

    @property
    def spec(self) -> InitSpec:
        return INITS[self.name]

    @property
    def diagonal(self) -> bool:
        """True when the matrix is diagonal and ``sample`` returns its diagonal (eigenvalues)."""
        return self.spec.diagonal

    @property
    def gain(self) -> float:
        """std * sqrt(n): the matrix is ``gain`` times a Glorot matrix in law (dense kinds)."""
        return self.std * math.sqrt(self.n)

    @property
    def exact_powers(self) -> bool:
        """True when E||W^k||_F^2 is known in closed form (Q_{n,k}: complex Gaussian inits)."""
        return self.spec.exact_powers and self.field == "complex"

    @property
    def exact_law(self) -> bool:
        """True when :meth:`radius_law` is exact in law (complex Gaussian: Kostlan; diagonal inits:
        closed forms), so radii can be drawn from it without matrices. Real Gaussian inits have only
        the Monte Carlo table, truncnormal only a universality approximation."""
        return self.diagonal or (self.kind == "gaussian" and self.field == "complex")

    def scale_of(self, other: Ensemble) -> float | None:
        """c > 0 such that matrix i of this ensemble is c times matrix i of ``other`` for every seed
        and i, or None.

        Dense kinds that differ only in ``std`` scale the same standard normals, so glorot, rescaled
        and half are multiples of one another (c = std / other.std; the float32 casts differ by one
        rounding per entry). Any other pair draws the same matrices only when the laws are equal (c = 1).
        """
        if self is other:
            return 1.0
        if (self.kind, self.n, self.field, self.params) != (other.kind, other.n, other.field, other.params):
            return None
        if self.kind in ("gaussian", "truncnormal"):
            return self.std / other.std
        return 1.0 if self.std == other.std else None

    def radius_law(self):
        """The law of the spectral radius as a frozen ``scipy.stats`` distribution, or None (imports
        scipy.stats; :meth:`numeric_law` gives the same numbers without it)."""
        law = self.numeric_law()
        return None if law is None else law.distribution()

    def numeric_law(self) -> numeric.NumericLaw | None:
        """The law of the spectral radius evaluated in plain numpy (no scipy.stats), or None."""
        return self.spec.law(self)[0]

    def asymptotic_law(self) -> numeric.Gumbel | None:
        """The n -> infinity limit law of the radius (Rider, complex; Rider-Sinclair, real), scaled by
        the gain, for Gaussian kinds at n >= 164; None otherwise (diagonal kinds, n <= 163)."""
        if self.kind != "gaussian" or self.n <= theory.LAST_UNDEFINED_N:
            return None
        limit = numeric.rider(self.n) if self.field == "complex" else numeric.rider_sinclair(self.n)
        return limit.scaled(self.gain)

    def asymptotic_label(self) -> str | None:
        """'Rider limit' or 'Rider-Sinclair limit' for Gaussian kinds; None otherwise."""
        if self.kind != "gaussian":
            return None
        return "Rider limit, n -> inf" if self.field == "complex" else "Rider-Sinclair limit, n -> inf"

    def law_summary(self) -> LawSummary | None:
        """Mean, sd, quantiles and P(rho > 1) of :meth:`radius_law`, labelled with its source."""
        law, source = self.spec.law(self)
        if law is None:
            return None
        summary = summarize_law(law, source)
        if isinstance(law, numeric.RealTable):  # the table's P(rho > 1): its SE, or a bound in the extrapolated tails
            p = p_above(law.n, law.gain)
            summary = dataclasses.replace(summary, p_above_1=p.value, p_above_1_se=p.se, p_above_1_bound=p.bound)
        return summary

    def sample(self, rng, xp=np, dtype=np.float64):
        """One draw: an (n, n) matrix, or an (n,) complex diagonal for diagonal kinds.

        ``dtype`` is the real precision (float32/float64); complex draws use the matching complex
        type, built from two real normals. Entries are generated in float64 and then cast, so the
        same seed gives the same matrix at either precision.
        """
        n = self.n
        ctype = np.complex64 if np.dtype(dtype) == np.float32 else np.complex128
        if self.diagonal:
            u1 = rng.uniform(0.0, 1.0, n)
            u2 = rng.uniform(0.0, 1.0, n)
            if self.kind == "uniform-diag":
                modulus, phase = u1, 2 * math.pi * u2
            elif self.kind == "uniform-disk":
                modulus, phase = xp.sqrt(u1), 2 * math.pi * u2
            else:
                rmin, rmax = self.params["rmin"], self.params["rmax"]
                nu = -0.5 * xp.log(u1 * (rmax**2 - rmin**2) + rmin**2)
                modulus, phase = xp.exp(-nu), self.params["max_phase"] * u2
            return (modulus * xp.exp(1j * phase)).astype(ctype)
        draw = _truncated_normal if self.kind == "truncnormal" else _normal
        if self.field == "real":
            return (draw(rng, xp, (n, n)) * self.std).astype(dtype)
        part = self.std / math.sqrt(2.0)
        re = draw(rng, xp, (n, n))
        im = draw(rng, xp, (n, n))
        return (re * part + 1j * (im * part)).astype(ctype)


def _normal(rng, xp, shape):
    return rng.standard_normal(shape, dtype=np.float64)


def _truncated_normal(rng, xp, shape):
    """Standard normals conditioned on |z| <= 2, by redrawing the rejected entries (acceptance 95%)."""
    z = _normal(rng, xp, shape)
    bad = xp.abs(z) > 2.0
    while bool(bad.any()):
        count = int(bad.sum())
        z[bad] = rng.standard_normal(count, dtype=np.float64)
        bad = xp.abs(z) > 2.0
    return z


# ---------------------------------------------------------------------------------------------
# Radius laws per kind (frozen numeric laws from specdiag.laws._numeric: no scipy.stats)
# ---------------------------------------------------------------------------------------------


def _gaussian_law(ensemble: Ensemble, approximate: str = "") -> tuple[numeric.NumericLaw, str]:
    """rho(gain W) = gain rho(W): Kostlan's exact law (complex), the finite-n table (real)."""
    gain = ensemble.gain
    if ensemble.field == "complex":
        return numeric.kostlan(ensemble.n, gain), "Kostlan exact" + approximate
    return numeric.real_ginibre(ensemble.n, gain), real_ginibre_table().at(ensemble.n).source + approximate


def finite_n_real(n: int, gain: float = 1.0) -> dict:
    """The finite-n law of rho(gain W), W real Glorot, from the Monte Carlo table, with its SEs.

    Parameters
    ----------
    n : int
        Width (the table covers 2..2048 and is interpolated in n; beyond, extrapolated, as
        ``source`` says: :func:`specdiag.laws.real_ginibre`).
    gain : float
        Scale of the matrix relative to Glorot (rho scales with it).

    Returns
    -------
    dict
        ``mean``, ``std``, ``q05``, ``q95``, ``p_above_1`` (P(gain rho > 1)), ``se_mean`` (Monte Carlo
        standard error of the tabulated mean), ``source``; also ``p_above_1_se`` (at gain 1),
        ``gumbel_loc``, ``gumbel_scale`` and their SEs (the table's Gumbel fit), all scaled by ``gain``.
    """
    s = real_ginibre_table().at(n)
    p = p_above(n, gain)
    return {
        "mean": gain * s.mean,
        "std": gain * s.sd,
        "q05": gain * s.quantile(0.05)[0],
        "q95": gain * s.quantile(0.95)[0],
        "p_above_1": p.value,
        "se_mean": gain * s.mean_se,
        "source": s.source,
        "p_above_1_se": p.se,
        "p_above_1_bound": p.bound,
        "gumbel_loc": gain * s.gumbel_loc,
        "gumbel_loc_se": gain * s.gumbel_loc_se,
        "gumbel_scale": gain * s.gumbel_scale,
        "gumbel_scale_se": gain * s.gumbel_scale_se,
    }


def _truncnormal_law(ensemble: Ensemble):
    scaled = Ensemble(
        ensemble.name, ensemble.n, ensemble.field, "gaussian", std=ensemble.std * math.sqrt(TRUNCNORMAL_VARIANCE_FACTOR)
    )
    return _gaussian_law(scaled, " (universality, approximate)")


def _diagonal_law(ensemble: Ensemble) -> tuple[numeric.NumericLaw, str]:
    source = "exact (max of n iid moduli)"
    if ensemble.kind == "uniform-diag":
        return numeric.uniform_diag(ensemble.n), source
    if ensemble.kind == "uniform-disk":
        return numeric.uniform_disk(ensemble.n), source
    return numeric.lru_ring(ensemble.n, ensemble.params["rmin"], ensemble.params["rmax"]), source


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitSpec:
    """One initialization: how to build it, and what is known about it."""

    name: str
    formula: str
    build: Callable[[int, str, InitOptions], Ensemble]
    law: Callable[[Ensemble], tuple]
    fields: tuple[str, ...] = FIELDS
    diagonal: bool = False
    exact_powers: bool = False


def _gaussian(name, variance_factor):
    def build(n, field, options):
        return Ensemble(name, n, field, "gaussian", std=math.sqrt(variance_factor / n))

    return build


def _build_rescaled(n, field, options):
    glorot = _gaussian("glorot", 1.0)(n, field, options)
    rescaling = calibration.rescale_factor(
        glorot, options.rescale, options.coverage, options.seed, options.calibration_samples
    )
    return Ensemble("rescaled", n, field, "gaussian", std=glorot.std / rescaling.factor, rescaling=rescaling)


def _build_truncnormal(n, field, options):
    return Ensemble("truncnormal", n, field, "truncnormal", std=1 / math.sqrt(n))


def _build_diagonal(kind):
    def build(n, field, options):
        return Ensemble(kind, n, "complex", kind)

    return build


def _build_lru(n, field, options):
    rmin = finite_number(options.rmin, "rmin")
    rmax = finite_number(options.rmax, "rmax")
    max_phase = finite_number(options.max_phase, "max_phase")
    if not 0 <= rmin < rmax:
        raise InputError(
            f"lru needs 0 <= rmin < rmax, got rmin={rmin:g}, rmax={rmax:g}", param="rmin" if rmin < 0 else "rmax"
        )
    if not rmax**2 - rmin**2 > 0 or rmax > 1e150:
        # the ring's area rmax^2 - rmin^2 must be a positive float64 (1e-200 squared underflows)
        raise InputError(
            "rmax must exceed rmin by a representable margin (rmax^2 - rmin^2 > 0) and be at most 1e150, "
            f"got rmin={rmin:g}, rmax={rmax:g}",
            param="rmax",
        )
    if not 0 <= max_phase <= 2 * math.pi:
        raise InputError(f"max_phase must lie in [0, 2 pi], got {max_phase:g}", param="max_phase")
    params = {"rmin": rmin, "rmax": rmax, "max_phase": max_phase}
    return Ensemble("lru", n, "complex", "lru", params=params)


INITS: dict[str, InitSpec] = {
    spec.name: spec
    for spec in (
        InitSpec(
            "glorot",
            "W_ij ~ N(0, 1/n); complex: (X + iY)/sqrt(2n)",
            _gaussian("glorot", 1.0),
            _gaussian_law,
            exact_powers=True,
        ),
        InitSpec(
            "rescaled",
            "W_glorot / s; paper: s_n = 1 + sqrt(g_n/4n) + c/sqrt(4 n g_n), c = 1.8598 (n >= 164); "
            "calibrated: s = coverage-quantile of rho",
            _build_rescaled,
            _gaussian_law,
            exact_powers=True,
        ),
        InitSpec(
            "half",
            "W_ij ~ N(0, 1/(2n)) (Glorot/2 variance); radius about 0.71-0.73",
            _gaussian("half", 0.5),
            _gaussian_law,
            exact_powers=True,
        ),
        InitSpec(
            "truncnormal",
            "N(0, 1/n) truncated at +-2 std, no variance correction (variance 0.7737/n)",
            _build_truncnormal,
            _truncnormal_law,
        ),
        InitSpec(
            "uniform-diag",
            "diagonal, lambda = r e^{i theta}, r ~ U[0,1], theta ~ U[0, 2pi) (the paper authors' code)",
            _build_diagonal("uniform-diag"),
            _diagonal_law,
            ("complex",),
            diagonal=True,
        ),
        InitSpec(
            "uniform-disk",
            "diagonal, lambda uniform on the unit disk: r = sqrt(U), theta ~ U[0, 2pi)",
            _build_diagonal("uniform-disk"),
            _diagonal_law,
            ("complex",),
            diagonal=True,
        ),
        InitSpec(
            "lru",
            "diagonal LRU ring: |lambda| uniform on rmin <= |lambda| <= rmax, phase U[0, max_phase]",
            _build_lru,
            _diagonal_law,
            ("complex",),
            diagonal=True,
        ),
    )
}


def make_ensemble(init: str, n: int, field: str = "real", options: InitOptions | None = None) -> Ensemble:
    """The :class:`Ensemble` for init ``init`` at width n.

    Parameters
    ----------
    init : str
        A name in :data:`INITS` (``specdiag inits`` lists them).
    n : int
        Width (n x n matrices), at least 2.
    field : {"real", "complex"}
        Entry field of dense inits (diagonal inits are always complex).
    options : InitOptions, optional
        LRU ring and rescaling choices.

    Returns
    -------
    Ensemble

    Raises
    ------
    InputError
        Unknown names, n < 2, bad options, or the paper's rescaling at n <= 163.

    Examples
    --------
    >>> round(make_ensemble("half", 100).gain, 6)
    0.707107
    """
    options = options or InitOptions()
    init = choice(init, "init", INITS)
    field = choice(field, "field", FIELDS)
    n = whole_number(n, "n", minimum=2)
    choice(options.rescale, "rescale", RESCALE_METHODS)
    probability(options.coverage, "coverage")
    seed_value(options.seed)
    if options.calibration_samples is not None:
        whole_number(options.calibration_samples, "calibration_samples", minimum=100)
    return INITS[init].build(n, field, options)


def radius_law(init: str, n: int, field: str = "real", options: InitOptions | None = None):
    """The law of the spectral radius of init ``init`` at width n, as a frozen scipy distribution.

    Complex Gaussian inits: Kostlan's exact law (scaled by the init's gain). Real Gaussian inits:
    the finite-n Monte Carlo table (:func:`specdiag.laws.real_ginibre`). Diagonal inits: the exact
    law of the largest of n iid moduli. truncnormal: the Gaussian law at its realized variance
    (universality, approximate).

    Examples
    --------
    >>> law = radius_law("glorot", 500, "complex")
    >>> round(float(law.mean()), 4)
    1.0347
    """
    return make_ensemble(init, n, field, options).radius_law()

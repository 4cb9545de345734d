"""The registry of initializations: name -> how to build an :class:`Ensemble` of n x n matrices.

Definitions are SPEC section 1. An Ensemble is a small picklable description (so it travels to
worker processes); ``Ensemble.sample(rng, xp)`` draws one matrix (or, for diagonal inits, its
diagonal) with the given generator on the given array module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field as dataclass_field
from typing import Callable

import numpy as np

from .errors import InputError
from .theory import FIELDS, check_field

RESCALE_METHODS = ("paper", "calibrated")


@dataclass(frozen=True)
class InitOptions:
    """User choices some initializations need; defaults follow SPEC section 1."""

    rmin: float = 0.4
    rmax: float = 0.9
    max_phase: float = math.pi
    rescale: str = "paper"
    coverage: float = 0.9
    seed: int = 0
    calibration_samples: int = 1000


@dataclass(frozen=True)
class Rescaling:
    """How the ``rescaled`` init's divisor s was chosen, for reports."""

    factor: float
    method: str  # "paper" or "calibrated"
    source: str  # e.g. "paper formula", "Kostlan exact quantile", "Monte Carlo quantile"
    coverage: float | None = None  # target P(rho(W/s) <= 1) for calibrated
    samples: int | None = None  # Monte Carlo sample count (real calibrated)
    coverage_stderr: float | None = None  # sqrt(p(1-p)/N) for a Monte Carlo quantile
    factor_ci95: tuple[float, float] | None = None  # distribution-free order-statistic CI

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        if self.factor_ci95 is not None:
            d["factor_ci95"] = list(self.factor_ci95)
        return d


@dataclass(frozen=True)
class Ensemble:
    """A random-matrix law at width n: what ``sample`` draws and what reports say about it."""

    name: str
    n: int
    field: str
    kind: str  # "gaussian", "truncnormal", "uniform-diag", "lru"
    std: float = 1.0  # per-entry std: E|W_ij|^2 = std^2 (dense kinds)
    params: dict = dataclass_field(default_factory=dict)
    rescaling: Rescaling | None = None

    @property
    def diagonal(self) -> bool:
        """True when the matrix is diagonal and ``sample`` returns its diagonal (eigenvalues)."""
        return self.kind in ("uniform-diag", "lru")

    @property
    def gain(self) -> float:
        """std * sqrt(n): the matrix is ``gain`` times a Glorot matrix in law (Gaussian kinds)."""
        return self.std * math.sqrt(self.n)

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


@dataclass(frozen=True)
class InitSpec:
    name: str
    formula: str
    build: Callable[[int, str, InitOptions], Ensemble]
    fields: tuple[str, ...] = FIELDS


def _gaussian(name, variance_factor):
    def build(n, field, options):
        return Ensemble(name, n, field, "gaussian", std=math.sqrt(variance_factor / n))

    return build


def _build_rescaled(n, field, options):
    from .calibration import rescale_factor  # noqa: PLC0415 (calibration samples via spectra)

    rescaling = rescale_factor(n, field, options)
    return Ensemble("rescaled", n, field, "gaussian", std=1 / (math.sqrt(n) * rescaling.factor), rescaling=rescaling)


def _build_truncnormal(n, field, options):
    return Ensemble("truncnormal", n, field, "truncnormal", std=1 / math.sqrt(n))


def _build_uniform_diag(n, field, options):
    return Ensemble("uniform-diag", n, "complex", "uniform-diag")


def _build_lru(n, field, options):
    if not 0 <= options.rmin < options.rmax:
        raise InputError(f"lru needs 0 <= --rmin < --rmax, got rmin={options.rmin}, rmax={options.rmax}")
    if options.max_phase < 0:
        raise InputError(f"--max-phase must be >= 0, got {options.max_phase}")
    params = {"rmin": options.rmin, "rmax": options.rmax, "max_phase": options.max_phase}
    return Ensemble("lru", n, "complex", "lru", params=params)


INITS: dict[str, InitSpec] = {
    spec.name: spec
    for spec in (
        InitSpec("glorot", "W_ij ~ N(0, 1/n); complex: (X + iY)/sqrt(2n)", _gaussian("glorot", 1.0)),
        InitSpec(
            "rescaled",
            "W_glorot / s; paper: s_n = 1 + sqrt(g_n/4n) + c/sqrt(4 n g_n), c = 1.8598 (n >= 164); "
            "calibrated: s = coverage-quantile of rho",
            _build_rescaled,
        ),
        InitSpec("half", "W_ij ~ N(0, 1/(2n)) (Glorot/2 variance); radius about 0.71-0.73", _gaussian("half", 0.5)),
        InitSpec(
            "truncnormal",
            "N(0, 1/n) truncated at +-2 std, no variance correction (variance 0.7737/n)",
            _build_truncnormal,
        ),
        InitSpec(
            "uniform-diag",
            "diagonal, lambda = r e^{i theta}, r ~ U[0,1], theta ~ U[0, 2pi)",
            _build_uniform_diag,
            ("complex",),
        ),
        InitSpec(
            "lru",
            "diagonal LRU ring: |lambda| uniform on rmin <= |lambda| <= rmax, phase U[0, max_phase]",
            _build_lru,
            ("complex",),
        ),
    )
}

DIAGONAL_INITS = ("uniform-diag", "lru")


def make_ensemble(name: str, n: int, field: str = "real", options: InitOptions | None = None) -> Ensemble:
    """Build the Ensemble for init ``name`` at width n; InputError for unknown names or bad n."""
    options = options or InitOptions()
    if name not in INITS:
        raise InputError(f"unknown init {name!r}: use one of {', '.join(INITS)} (see `specdiag inits`)")
    check_field(field)
    if n < 2:
        raise InputError(f"the width --n must be at least 2, got {n}")
    if options.rescale not in RESCALE_METHODS:
        raise InputError(f"unknown --rescale {options.rescale!r}: use paper or calibrated")
    if not 0.0 < options.coverage < 1.0:
        raise InputError(f"--coverage must lie strictly between 0 and 1, got {options.coverage}")
    return INITS[name].build(n, field, options)

"""The divisor s of the ``rescaled`` init: the paper's formula, or a finite-n calibration (SPEC 3).

calibrated: s is the coverage-quantile of rho for Glorot at width n, so P(rho(W/s) <= 1) = coverage.
Complex: exact, by inverting Kostlan's CDF. Real: no closed form, so a Monte Carlo quantile of
Glorot radii (single precision: its 1e-6 error is far below the quantile's) drawn from their own random stream, with a distribution-free 95%
interval from order statistics; cached on disk per (n, coverage, seed, samples).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import theory
from .backend import CALIBRATION_STREAM
from .report import write_json_atomic
from .results import Result
from .spectra import sample_radii

__all__ = ["Rescaling", "rescale_factor", "quantile_with_ci", "cache_dir"]

log = logging.getLogger("specdiag")


@dataclass(frozen=True)
class Rescaling(Result):
    """How the ``rescaled`` init's divisor s was chosen, for reports."""

    factor: float
    method: str  # "paper" or "calibrated"
    source: str  # e.g. "paper formula", "Kostlan exact quantile", "Monte Carlo quantile"
    coverage: float | None = None  # target P(rho(W/s) <= 1) for calibrated
    samples: int | None = None  # Monte Carlo sample count (real calibrated)
    coverage_stderr: float | None = None  # sqrt(p(1-p)/N) for a Monte Carlo quantile
    factor_ci95: tuple[float, float] | None = None  # distribution-free order-statistic CI


def cache_dir() -> Path:
    """$SPECDIAG_CACHE_DIR, else $XDG_CACHE_HOME/specdiag, else ~/.cache/specdiag."""
    root = os.environ.get("SPECDIAG_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "specdiag"


def rescale_factor(glorot, method: str, coverage: float, seed: int, samples: int) -> Rescaling:
    """The divisor s for ``glorot`` (an Ensemble) by the paper's formula or a finite-n calibration."""
    n = glorot.n
    if method == "paper":
        return Rescaling(theory.paper_scale(n), "paper", "paper formula s_n (asymptotic)")
    if glorot.field == "complex":
        s = float(glorot.radius_law().ppf(coverage))
        return Rescaling(s, "calibrated", "Kostlan exact quantile", coverage=coverage)
    return real_calibration(glorot, coverage, seed, samples)


def quantile_with_ci(values: np.ndarray, p: float, level: float = 0.95) -> tuple[float, float, float]:
    """The p-quantile of values and a distribution-free CI from binomial order statistics."""
    from scipy import stats  # noqa: PLC0415 (scipy.stats costs 0.3 s at import: only when calibrating)

    x = np.sort(values)
    m = x.size
    lo_rank = int(stats.binom.ppf((1 - level) / 2, m, p))
    hi_rank = int(stats.binom.ppf(1 - (1 - level) / 2, m, p))
    q = float(np.quantile(x, p))
    return q, float(x[max(lo_rank - 1, 0)]), float(x[min(hi_rank, m - 1)])


def real_calibration(glorot, coverage: float, seed: int, samples: int) -> Rescaling:
    """Monte Carlo calibration for real Glorot, cached on disk (the sampling costs seconds)."""
    n = glorot.n
    path = cache_dir() / f"calibration-real-n{n}-p{coverage:.6g}-seed{seed}-m{samples}.json"
    try:
        cached = json.loads(path.read_text())
        return Rescaling(**{**cached, "factor_ci95": tuple(cached["factor_ci95"])})
    except (OSError, ValueError, KeyError, TypeError):
        pass
    log.info("calibrating the real rescaling at n = %d: %d Glorot radii (cached in %s)", n, samples, path.parent)
    # Matrices come from their own stream, never the one the user's run samples, so the
    # calibration is independent of the matrices it is applied to.
    radii = sample_radii(glorot, samples, seed=_calibration_seed(seed), precision="single", device="cpu")
    s, lo, hi = quantile_with_ci(radii, coverage)
    result = Rescaling(
        s,
        "calibrated",
        f"Monte Carlo quantile of {samples} real Glorot radii",
        coverage=coverage,
        samples=samples,
        coverage_stderr=math.sqrt(coverage * (1 - coverage) / samples),
        factor_ci95=(lo, hi),
    )
    try:
        write_json_atomic(path, result.to_dict())
    except OSError:
        pass  # a read-only cache only costs a recomputation
    return result


def _calibration_seed(seed: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=(CALIBRATION_STREAM,)).generate_state(1, np.uint32)[0])

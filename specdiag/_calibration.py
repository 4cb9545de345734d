"""The divisor s of the ``rescaled`` init: the paper's formula, or a finite-n calibration (docs/science.md section 3).

calibrated: s is the coverage-quantile of rho for Glorot at width n, so P(rho(W/s) <= 1) = coverage.
Complex: exact, by inverting Kostlan's CDF (no Monte Carlo: ``samples`` is not used). Real, with
``samples`` None: the quantile of the finite-n real Glorot law (:func:`specdiag.laws.real_ginibre`,
the shipped Monte Carlo table, with its SE) where the table covers n, elsewhere a Monte Carlo
quantile of :data:`DEFAULT_SAMPLES` radii; real with ``samples`` given: always a Monte Carlo
quantile of that many Glorot radii (single precision: its 1e-6 error is far below the quantile's)
drawn from their own random stream, with a distribution-free 95% interval from order statistics,
cached on disk per (n, coverage, seed, samples). ``Rescaling.source`` says which.

The cache is untrusted: each entry carries a SHA-256 checksum of its key and values, and its
values must be consistent (a finite factor between 0 and 10 inside its own interval, the
coverage and sample count asked for) and plausible under the law: within
:data:`PLAUSIBLE_SE` combined standard errors of the real Glorot law's quantile (a checksum
anyone can recompute proves nothing; the law does). Anything else is recomputed, and said so in
one log line.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _theory as theory
from ._backend import CALIBRATION_STREAM
from ._errors import InputError
from ._report import write_json_atomic
from ._results import Result
from ._special import log_binom_pmf
from ._spectra import sample_radii
from .laws import _numeric as numeric
from .laws._real import real_ginibre_table

__all__ = ["Rescaling", "rescale_factor", "quantile_with_ci", "cache_dir", "real_calibration", "real_law_factor"]

#: bumped when the cached computation changes, so old entries are recomputed
CACHE_VERSION = 3  # 3: radii from the Hessenberg sampler (specdiag._hessenberg)
#: Monte Carlo radii of a real calibration beyond the table when no sample count is given
DEFAULT_SAMPLES = 1000
#: a cached factor further than this many combined SEs from the law's quantile is not trusted
PLAUSIBLE_SE = 6.0

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
    factor_stderr: float | None = None  # standard error of a tabulated law's quantile, when known


def cache_dir() -> Path:
    """$SPECDIAG_CACHE_DIR, else $XDG_CACHE_HOME/specdiag, else ~/.cache/specdiag."""
    root = os.environ.get("SPECDIAG_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "specdiag"


def rescale_factor(glorot, method: str, coverage: float, seed: int, samples: int | None) -> Rescaling:
    """The divisor s for ``glorot`` (an Ensemble) by the paper's formula or a finite-n calibration
    (``samples``: None for the table where it covers n, else a Monte Carlo sample count)."""
    n = glorot.n
    if method == "paper":
        return Rescaling(theory.paper_scale(n), "paper", "paper formula s_n (asymptotic)")
    if glorot.field == "complex":
        s = float(glorot.numeric_law().ppf(coverage))
        return Rescaling(s, "calibrated", "Kostlan exact quantile", coverage=coverage)
    if samples is None:
        return real_law_factor(n, coverage) or real_calibration(glorot, coverage, seed, DEFAULT_SAMPLES)
    return real_calibration(glorot, coverage, seed, samples)


def real_law_factor(n: int, coverage: float) -> Rescaling | None:
    """The coverage-quantile of the tabulated finite-n real Glorot law (:func:`specdiag.laws.real_ginibre`)
    with its Monte Carlo SE, or None where the table does not cover ``n`` (it extrapolates beyond
    its widest width): no Monte Carlo at run time."""
    try:
        table = real_ginibre_table()
        if not table.widths[0] <= n <= table.widths[-1]:
            return None
        summary = table.at(n)
        s = float(numeric.real_ginibre(n).ppf(coverage))
        probs = np.asarray(summary.probs, dtype=float)
        stderr = float(np.interp(coverage, probs, np.asarray(summary.quantiles_se, dtype=float)))
    except (InputError, ValueError, KeyError, LookupError, AttributeError, TypeError, OSError):
        return None
    if not (math.isfinite(s) and 0.0 < s < 10.0):
        return None
    ci = None
    if math.isfinite(stderr) and stderr >= 0 and probs[0] <= coverage <= probs[-1]:
        ci = (s - 1.96 * stderr, s + 1.96 * stderr)
    source = f"real Glorot table quantile ({summary.source}; calibration samples give a Monte Carlo quantile instead)"
    return Rescaling(s, "calibrated", source, coverage=coverage, factor_ci95=ci, factor_stderr=stderr if ci else None)


def quantile_with_ci(values: np.ndarray, p: float, level: float = 0.95) -> tuple[float, float, float]:
    """The p-quantile of values and a distribution-free CI from binomial order statistics."""
    x = np.sort(values)
    m = x.size
    lo_rank, hi_rank = _binomial_ppf(np.array([(1 - level) / 2, 1 - (1 - level) / 2]), m, p)
    q = float(np.quantile(x, p))
    return q, float(x[max(lo_rank - 1, 0)]), float(x[min(hi_rank, m - 1)])


def _binomial_ppf(q: np.ndarray, m: int, p: float) -> np.ndarray:
    """Smallest k with P(Binomial(m, p) <= k) >= q, per q (the binomial CDF over k = 0..m, summed in log space)."""
    cdf = np.exp(np.logaddexp.accumulate(log_binom_pmf(np.arange(m + 1), m, m * p, m * (1 - p))))
    return np.minimum(np.searchsorted(cdf, q, side="left"), m)


def real_calibration(glorot, coverage: float, seed: int, samples: int) -> Rescaling:
    """Monte Carlo calibration for real Glorot (``glorot``: its :class:`~specdiag._inits.Ensemble`),
    cached on disk (the sampling costs seconds)."""
    n = glorot.n
    path = cache_dir() / f"calibration-real-n{n}-p{coverage:.6g}-seed{seed}-m{samples}.json"
    key = {"version": CACHE_VERSION, "n": n, "coverage": coverage, "seed": seed, "samples": samples}
    cached = _read_cache(path, key)
    if cached is not None:
        return cached
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
        entry = result.to_dict()
        write_json_atomic(path, {**entry, "checksum": _checksum(key, entry)})
    except (OSError, ValueError):  # WriteError is a ValueError: a read-only cache costs a recomputation
        pass
    return result


def _checksum(key: dict, entry: dict) -> str:
    import hashlib  # noqa: PLC0415 (OpenSSL, 5 ms of start-up: only for the on-disk cache)

    payload = json.dumps(
        {"key": key, "entry": {k: v for k, v in entry.items() if k != "checksum"}}, sort_keys=True, default=list
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _read_cache(path: Path, key: dict) -> Rescaling | None:
    """A cached calibration whose checksum and values hold up; None (and one log line) otherwise."""
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        entry = json.loads(text)
        if not isinstance(entry, dict) or entry.get("checksum") != _checksum(key, entry):
            raise ValueError("checksum mismatch: the file was edited or written by another version")
        fields = {k: v for k, v in entry.items() if k != "checksum"}
        fields["factor_ci95"] = tuple(fields["factor_ci95"])
        result = Rescaling(**fields)
        if result.factor_ci95 is None or result.coverage is None:
            raise ValueError("entry has no interval or coverage")
        lo, hi = (float(v) for v in result.factor_ci95)
        factor = float(result.factor)
        if not (math.isfinite(factor) and 0.0 < factor < 10.0 and lo <= factor <= hi):
            raise ValueError(f"implausible factor {factor!r}")
        if result.coverage != key["coverage"] or result.samples != key["samples"] or result.method != "calibrated":
            raise ValueError("entry is for other parameters")
        _check_against_law(key["n"], result)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        log.warning("calibration cache %s is invalid (%s): recomputing it", path, exc)
        return None
    return result


def _check_against_law(n: int, result: Rescaling) -> None:
    """ValueError unless the cached factor lies within :data:`PLAUSIBLE_SE` combined SEs of the real
    Glorot law's coverage-quantile (the table's SE, and the Monte Carlo SE from the entry's 95%
    interval). Beyond the table's widths or its 1%..99% levels the law is extrapolated: one more
    edge scale 1/sqrt(4 n g_n) (0.01 below n = 164) of slack."""
    if result.coverage is None or result.factor_ci95 is None:
        raise ValueError("entry has no interval or coverage")
    coverage = float(result.coverage)
    table = real_ginibre_table()
    summary = table.at(n)
    expected = float(numeric.real_ginibre(n).ppf(coverage))
    se_law = float(np.interp(coverage, summary.probs, summary.quantiles_se))
    lo, hi = (float(v) for v in result.factor_ci95)
    se_mc = (hi - lo) / 3.92
    slack = 0.0
    if not (table.widths[0] <= n <= table.widths[-1] and summary.probs[0] <= coverage <= summary.probs[-1]):
        slack = theory.rider_scale(n) if n > theory.LAST_UNDEFINED_N else 0.01
    tolerance = PLAUSIBLE_SE * math.hypot(se_law, se_mc) + slack
    if abs(result.factor - expected) > tolerance:
        raise ValueError(
            f"implausible factor {result.factor!r}: the real Glorot law's {coverage:g}-quantile at n = {n} "
            f"is {expected:.5f} "
            f"(allowed {tolerance:.5f}: {PLAUSIBLE_SE:g} standard errors)"
        )


def _calibration_seed(seed: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=(CALIBRATION_STREAM,)).generate_state(1, np.uint32)[0])

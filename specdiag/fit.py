"""Gumbel fits of sampled radii and goodness of fit against the fitted, asymptotic and exact laws."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from . import laws, theory
from .errors import InputError
from .results import Result

__all__ = ["MIN_RADII", "CI_METHODS", "GumbelFit", "fit_gumbel", "finite_radii", "ks", "compare_laws", "load_radii"]

MIN_RADII = 10
#: inverse Fisher information of the Gumbel (loc, scale) MLE, per observation, in units of scale^2
_VAR_LOC = 1.0 + 6.0 * (1.0 - theory.EULER_GAMMA) ** 2 / math.pi**2  # 1.1087
_VAR_SCALE = 6.0 / math.pi**2  # 0.6079


CI_METHODS = ("wald", "bootstrap")


@dataclass(frozen=True)
class GumbelFit(Result):
    """Maximum-likelihood Gumbel (loc, scale) with confidence intervals."""

    loc: float
    scale: float
    loc_ci: tuple[float, float]
    scale_ci: tuple[float, float]
    samples: int
    level: float
    ci_method: str = "wald"


def fit_gumbel(radii, level: float = 0.95, ci: str = "wald", resamples: int = 999, seed: int = 0) -> GumbelFit:
    """ML fit of a Gumbel (maximum) law with intervals at ``level``.

    ci="wald": from the Gumbel Fisher information, Var(loc) = 1.1087 b^2/N, Var(scale) = 0.6079 b^2/N
    (instant, asymptotic). ci="bootstrap": percentile bootstrap of the ML fit (scipy.stats.bootstrap,
    ``resamples`` refits, seeded), which makes no large-N assumption.
    """
    x = finite_radii(radii)
    if ci not in CI_METHODS:
        raise InputError(f"unknown interval method {ci!r}: use wald or bootstrap")
    loc, scale = stats.gumbel_r.fit(x)
    if ci == "bootstrap":
        if resamples < 50:
            raise InputError(f"--bootstrap-samples must be at least 50, got {resamples}")
        result = stats.bootstrap(
            (x,), lambda s: np.array(stats.gumbel_r.fit(s)), vectorized=False, paired=False,
            n_resamples=resamples, confidence_level=level, method="percentile", rng=np.random.default_rng(seed),
        )
        lo, hi = result.confidence_interval
        return GumbelFit(float(loc), float(scale), (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])), x.size, level, "bootstrap")
    z = stats.norm.ppf(0.5 + level / 2)
    se_loc = scale * math.sqrt(_VAR_LOC / x.size)
    se_scale = scale * math.sqrt(_VAR_SCALE / x.size)
    loc, scale = float(loc), float(scale)
    return GumbelFit(loc, scale, (loc - z * se_loc, loc + z * se_loc), (scale - z * se_scale, scale + z * se_scale), x.size, level)


def finite_radii(radii) -> np.ndarray:
    x = np.asarray(radii, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        bad = x.size - int(np.isfinite(x).sum())
        raise InputError(f"the radii must be finite numbers ({bad} of {x.size} are not): check the input file")
    if x.size < MIN_RADII:
        raise InputError(f"need at least {MIN_RADII} radii to fit a Gumbel law, got {x.size}: sample more (--samples)")
    return x


def ks(x: np.ndarray, cdf) -> dict:
    result = stats.kstest(x, cdf)
    return {"ks_statistic": float(result.statistic), "ks_pvalue": float(result.pvalue)}


def compare_laws(radii, n: int, field: str, level: float = 0.95, ci: str = "wald", resamples: int = 999) -> dict:
    """Fitted vs asymptotic (Rider / Rider-Sinclair) vs exact (Kostlan, complex) laws for radii.

    The fitted law's KS p-value is optimistic (its parameters came from the same data).
    """
    x = finite_radii(radii)
    fit = fit_gumbel(x, level, ci=ci, resamples=resamples)
    fitted = stats.gumbel_r(loc=fit.loc, scale=fit.scale)
    result = {
        "fit": {**fit.to_dict(), **ks(x, fitted.cdf)},
        "sample": {"mean": float(x.mean()), "std": float(x.std(ddof=1))},
    }
    try:
        asym = laws.rider(n) if field == "complex" else laws.rider_sinclair(n)
        loc, scale = asym.kwds["loc"], asym.kwds["scale"]
        result["asymptotic"] = {"loc": loc, "scale": scale, "mean": float(asym.mean()), "std": float(asym.std()), **ks(x, asym.cdf)}
    except InputError as exc:
        result["asymptotic"] = None
        result["asymptotic_reason"] = str(exc).split(":")[0]
    if field == "complex":
        law = laws.kostlan(n)
        result["exact"] = {"mean": float(law.mean()), "std": float(law.std()), **ks(x, law.cdf)}
    else:
        result["exact"] = None
    return result


def load_radii(path: Path | str) -> np.ndarray:
    """Radii from .npy, .json (a list, or an object with "radii") or .csv/.txt (a "radius" column
    or the last column)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file {str(path)!r}: give the path of a .csv, .json or .npy of radii")
    try:
        suffix = path.suffix.lower()
        if suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        elif suffix == ".json":
            doc = json.loads(path.read_text())
            values = doc["radii"] if isinstance(doc, dict) else doc
        else:
            values = _radii_from_csv(path)
        values = np.asarray(values, dtype=float).ravel()
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError(f"cannot read radii from {str(path)!r} ({exc}): expected numbers in .csv, .json or .npy") from None
    return finite_radii(values)


def _radii_from_csv(path: Path) -> np.ndarray:
    import csv  # noqa: PLC0415

    with path.open(newline="") as fh:
        rows = [row for row in csv.reader(fh) if row]
    if not rows:
        return np.array([])
    header = [h.strip().lower() for h in rows[0]]
    try:
        [float(v) for v in rows[0]]
        body, column = rows, len(rows[0]) - 1
    except ValueError:
        body, column = rows[1:], header.index("radius") if "radius" in header else len(header) - 1
    return np.array([float(row[column]) for row in body])

"""Gumbel fits of sampled radii and goodness of fit against the fitted, asymptotic and exact laws."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _theory as theory
from ._errors import InputError
from ._results import Result

__all__ = ["MIN_RADII", "CI_METHODS", "AUTO_BOOTSTRAP_MAX", "GumbelFit", "fit_gumbel", "finite_radii", "ks", "compare_laws", "load_radii"]

MIN_RADII = 10
#: inverse Fisher information of the Gumbel (loc, scale) MLE, per observation, in units of scale^2
_VAR_LOC = 1.0 + 6.0 * (1.0 - theory.EULER_GAMMA) ** 2 / math.pi**2  # 1.1087
_VAR_SCALE = 6.0 / math.pi**2  # 0.6079


CI_METHODS = ("auto", "wald", "bootstrap")
#: ci="auto" uses the bootstrap up to this many radii and Wald intervals above (where the
#: asymptotic normality of the ML fit is excellent and 999 refits would take minutes)
AUTO_BOOTSTRAP_MAX = 20_000
#: above this many radii, KS statistics evaluate the law's CDF on a fine grid and interpolate
#: (error far below the KS resolution 1/sqrt(N)); exact evaluation of Kostlan's CDF at 10^6 points
#: would take minutes
_KS_GRID_ABOVE = 20_000
_KS_GRID_POINTS = 20_001


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
    ``resamples`` refits, seeded), which makes no large-N assumption. ci="auto": the bootstrap up to
    :data:`AUTO_BOOTSTRAP_MAX` radii, Wald above; the method used is ``GumbelFit.ci_method``.
    """
    from scipy import stats  # noqa: PLC0415 (scipy.stats: imported when a fit is made)

    x = finite_radii(radii)
    if ci not in CI_METHODS:
        raise InputError(f"unknown interval method {ci!r}: use auto, wald or bootstrap", param="ci")
    if ci == "auto":
        ci = "bootstrap" if x.size <= AUTO_BOOTSTRAP_MAX else "wald"
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
    """Radii a Gumbel law can be fitted to: at least :data:`MIN_RADII` finite, non-negative
    numbers that are not all equal; one-line :class:`InputError` otherwise."""
    try:
        x = np.asarray(radii, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"radii must be numbers ({exc}): check the input file") from None
    if x.size == 0 or not np.all(np.isfinite(x)):
        bad = x.size - int(np.isfinite(x).sum())
        raise InputError(f"radii must be finite numbers ({bad} of {x.size} are not): check the input file")
    if x.size < MIN_RADII:
        raise InputError(f"need at least {MIN_RADII} radii to fit a Gumbel law, got {x.size}: sample more (--samples)")
    if x.min() < 0:
        raise InputError(f"radii must be non-negative (a spectral radius is a modulus), got {int((x < 0).sum())} negative values, the least {x.min():g}: check the input file")
    if np.ptp(x) <= 1e-12 * max(abs(float(x.max())), 1.0):
        raise InputError(f"radii are all equal ({x[0]:g}): a Gumbel law needs radii that vary; check the input file")
    return x


def ks(x: np.ndarray, cdf) -> dict:
    from scipy import stats  # noqa: PLC0415

    if x.size > _KS_GRID_ABOVE:
        grid = np.linspace(x.min(), x.max(), _KS_GRID_POINTS)
        values = np.asarray(cdf(grid), dtype=float)
        cdf = lambda v: np.interp(v, grid, values)  # noqa: E731
    result = stats.kstest(x, cdf)
    return {"ks_statistic": float(result.statistic), "ks_pvalue": float(result.pvalue)}


def compare_laws(radii, n: int, field: str, level: float = 0.95, ci: str = "wald", resamples: int = 999) -> dict:
    """Fitted vs finite-n vs asymptotic laws of the spectral radius of Glorot matrices, for radii.

    Parameters
    ----------
    radii : array_like
        Sampled radii (at least :data:`MIN_RADII`).
    n : int
        Width of the matrices.
    field : {"real", "complex"}
        Their field: complex radii are compared with Kostlan's exact law (``"exact"``), real radii
        with the finite-n Monte Carlo table (``"finite_n_real"``, with its standard errors).
    level, ci, resamples
        Interval level and method of the Gumbel fit (:func:`fit_gumbel`).

    Returns
    -------
    dict
        ``fit`` (ML Gumbel with KS), ``sample`` (mean, sd), ``exact`` (complex) or None,
        ``finite_n_real`` (real) or None, and ``asymptotic``: the n -> infinity limit (Rider,
        Rider-Sinclair), labelled as the limit, or None with ``asymptotic_reason`` for n <= 163.
        The fitted law's KS p-value is optimistic (its parameters came from the same data).
    """
    from scipy import stats  # noqa: PLC0415

    from . import laws  # noqa: PLC0415
    from ._inits import finite_n_real, make_ensemble  # noqa: PLC0415

    x = finite_radii(radii)
    glorot = make_ensemble("glorot", n, field)  # checks n and field before the fit
    fit = fit_gumbel(x, level, ci=ci, resamples=resamples)
    fitted = stats.gumbel_r(loc=fit.loc, scale=fit.scale)
    result = {
        "fit": {**fit.to_dict(), **ks(x, fitted.cdf)},
        "sample": {"mean": float(x.mean()), "std": float(x.std(ddof=1))},
    }
    limit = glorot.asymptotic_law()
    if limit is not None:
        loc, scale = limit.kwds["loc"], limit.kwds["scale"]
        result["asymptotic"] = {"loc": loc, "scale": scale, "mean": float(limit.mean()), "std": float(limit.std()), "label": glorot.asymptotic_label(), **ks(x, limit.cdf)}
    else:
        result["asymptotic"] = None
        result["asymptotic_reason"] = f"the Rider limit is undefined at n = {n}: g_n <= 0 for n <= {theory.LAST_UNDEFINED_N}"
    result["exact"] = result["finite_n_real"] = None
    if field == "complex":
        law = laws.kostlan(n)
        result["exact"] = {"mean": float(law.mean()), "std": float(law.std()), "label": "Kostlan exact", **ks(x, law.cdf)}
    else:
        table = finite_n_real(n)
        law = glorot.radius_law()
        result["finite_n_real"] = {**table, **ks(x, law.cdf)}
    return result


def load_radii(path: Path | str) -> np.ndarray:
    """Radii from .npy, .json (a list, or an object with "radii") or .csv/.txt (a "radius" column
    or the last column).

    The file must be a regular file whose radii fit the memory budget
    (:func:`specdiag._resources.memory_budget`); a .npy is checked from its header before it is
    read, a .json must be a flat list of numbers (deep nesting is refused, not recursed into).
    """
    from ._resources import format_bytes, memory_budget  # noqa: PLC0415

    path = Path(path)
    if not path.exists():
        raise InputError(f"from_file {str(path)!r}: no such file: give the path of a .csv, .json or .npy of radii", param="from_file")
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a FIFO, socket or device)"
        raise InputError(f"from_file {str(path)!r} is {kind}: give the path of a .csv, .json or .npy of radii", param="from_file")
    budget, _ = memory_budget()
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
        # text radii take ~10 bytes each and become an 8-byte float plus a Python object (~40 bytes)
        if suffix != ".npy" and 8 * size > budget:
            raise InputError(f"from_file {str(path)!r} is {format_bytes(size)}: more radii than the {format_bytes(budget)} memory budget holds", param="from_file")
        if suffix == ".npy":
            values = _radii_from_npy(path, budget)
        elif suffix == ".json":
            doc = json.loads(path.read_text())
            values = doc["radii"] if isinstance(doc, dict) else doc
            if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                raise ValueError("expected a list of numbers, or an object whose \"radii\" is one")
        else:
            values = _radii_from_csv(path)
        values = np.asarray(values, dtype=float).ravel()
    except RecursionError:
        raise InputError(f"from_file {str(path)!r} is nested too deeply: expected a flat list of radii", param="from_file") from None
    except (ValueError, KeyError, TypeError, OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"from_file: cannot read radii from {str(path)!r} ({exc}): expected numbers in .csv, .json or .npy", param="from_file") from None
    return finite_radii(values)


def _radii_from_npy(path: Path, budget: int) -> np.ndarray:
    """A numeric .npy, its header checked (shape, dtype) before the data is read."""
    with path.open("rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(fh, max_header_size=10000)
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise ValueError(f"dtype {dtype} is not a real number type")
    count = int(np.prod(shape, dtype=np.float64))
    if 8.0 * count > budget:
        raise ValueError(f"{count:,} values need more than the memory budget")
    return np.load(path, allow_pickle=False)


def _radii_from_csv(path: Path) -> np.ndarray:
    import csv  # noqa: PLC0415

    try:
        with path.open(newline="") as fh:
            rows = [row for row in csv.reader(fh) if row and any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ValueError(f"not CSV ({exc})") from None
    if not rows:
        return np.array([])
    header = [h.strip().lower() for h in rows[0]]
    try:
        [float(v) for v in rows[0]]
        body, column = rows, len(rows[0]) - 1
    except ValueError:
        body, column = rows[1:], header.index("radius") if "radius" in header else len(header) - 1
    try:
        return np.array([float(row[column]) for row in body])
    except IndexError:
        raise ValueError(f"a row has no column {column + 1}") from None

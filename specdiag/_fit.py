"""Gumbel fits of sampled radii and goodness of fit against the fitted, asymptotic and exact laws."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _special as special
from . import _theory as theory
from ._api import build_ensemble
from ._errors import InputError
from ._results import Result, internal
from ._runfiles import check_plot_path, save_plot
from ._text import printable
from ._theory_report import FiniteNReal
from ._validation import choice, probability, whole_number
from .laws import _numeric as numeric

__all__ = [
    "MIN_RADII",
    "CI_METHODS",
    "AUTO_BOOTSTRAP_MAX",
    "GumbelFit",
    "FittedGumbel",
    "SampleMoments",
    "LimitComparison",
    "ExactComparison",
    "LawComparison",
    "FitReport",
    "fit_gumbel",
    "finite_radii",
    "ks",
    "compare_laws",
    "fit_report",
    "load_radii",
]

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


def fit_gumbel(radii, *, level: float = 0.95, ci: str = "wald", resamples: int = 999, seed: int = 0) -> GumbelFit:
    """ML fit of a Gumbel (maximum) law with intervals at ``level``.

    ci="wald": from the Gumbel Fisher information, Var(loc) = 1.1087 b^2/N, Var(scale) = 0.6079 b^2/N
    (instant, asymptotic). ci="bootstrap": percentile bootstrap of the ML fit (``resamples`` refits
    of resamples drawn as scipy.stats.bootstrap draws them, seeded), which makes no large-N
    assumption. ci="auto": the bootstrap up to :data:`AUTO_BOOTSTRAP_MAX` radii, Wald above; the
    method used is ``GumbelFit.ci_method``. The ML equations are scipy.stats.gumbel_r.fit's
    (:func:`gumbel_mle`), solved in numpy: no scipy.stats at start-up.
    """
    x = finite_radii(radii)
    if ci not in CI_METHODS:
        raise InputError(f"unknown interval method {ci!r}: use auto, wald or bootstrap", param="ci")
    if ci == "auto":
        ci = "bootstrap" if x.size <= AUTO_BOOTSTRAP_MAX else "wald"
    (loc,), (scale,) = gumbel_mle(x[None, :])
    if ci == "bootstrap":
        if resamples < 50:
            raise InputError(
                f"resamples must be at least 50 for bootstrap intervals, got {resamples}", param="resamples"
            )
        index = np.random.default_rng(seed).integers(0, x.size, (resamples, x.size))
        rows = max(1, 2_000_000 // x.size)  # refits in blocks of at most 2e6 radii
        fits = np.concatenate([np.stack(gumbel_mle(x[index[i : i + rows]]), axis=1) for i in range(0, resamples, rows)])
        lo, hi = np.percentile(fits, [50 * (1 - level), 50 * (1 + level)], axis=0)
        return GumbelFit(
            float(loc),
            float(scale),
            (float(lo[0]), float(hi[0])),
            (float(lo[1]), float(hi[1])),
            x.size,
            level,
            "bootstrap",
        )
    from statistics import NormalDist  # noqa: PLC0415 (5 ms of imports, only for Wald intervals)

    z = NormalDist().inv_cdf(0.5 + level / 2)
    se_loc = scale * math.sqrt(_VAR_LOC / x.size)
    se_scale = scale * math.sqrt(_VAR_SCALE / x.size)
    loc, scale = float(loc), float(scale)
    return GumbelFit(
        loc, scale, (loc - z * se_loc, loc + z * se_loc), (scale - z * se_scale, scale + z * se_scale), x.size, level
    )


def gumbel_mle(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ML (loc, scale) of a Gumbel (maximum) law per row of ``samples`` (2-D), vectorized over rows.

    The scale solves mean(x) - sum(x w) / sum(w) - s = 0 with w = exp(-x / s), the equation
    scipy.stats.gumbel_r.fit solves (strictly decreasing in s: one root), by Newton steps kept
    inside a bracket (bisection when a step leaves it); then loc = -s log(mean(exp(-x / s))).
    Agrees with scipy.stats.gumbel_r.fit to about 1e-13 (its own root tolerance).
    """
    x = np.asarray(samples, dtype=float)
    shift = x.min(axis=1, keepdims=True)
    y = x - shift  # the fit is translation-equivariant: fit y, shift loc back
    ym = y.mean(axis=1)
    s = np.maximum(y.std(axis=1) * math.sqrt(6.0) / math.pi, 1e-300)
    lo, hi = np.zeros_like(s), np.full_like(s, np.inf)
    for _ in range(100):
        logw = -y / s[:, None]
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        total = w.sum(axis=1)
        wavg = (w * y).sum(axis=1) / total
        var = (w * (y - wavg[:, None]) ** 2).sum(axis=1) / total
        f = ym - wavg - s
        lo, hi = np.where(f > 0, s, lo), np.where(f > 0, hi, s)
        new = s + f / (var / s**2 + 1.0)  # f'(s) = -var_w / s^2 - 1
        new = np.where((new > lo) & (new < hi), new, np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * s))
        done = np.abs(new - s) <= 4e-16 * s
        s = new
        if done.all():
            break
    logw = -y / s[:, None]
    top = logw.max(axis=1)
    return -s * (top + np.log(np.exp(logw - top[:, None]).mean(axis=1))) + shift[:, 0], s


def finite_radii(radii) -> np.ndarray:
    """Radii a Gumbel law can be fitted to: at least :data:`MIN_RADII` finite, non-negative
    numbers that are not all equal; one-line :class:`InputError` otherwise."""
    try:
        x = np.asarray(radii, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"radii must be numbers ({exc})", param="radii") from None
    if x.size == 0 or not np.all(np.isfinite(x)):
        bad = x.size - int(np.isfinite(x).sum())
        raise InputError(f"radii must be finite numbers ({bad} of {x.size} are not)", param="radii")
    if x.size < MIN_RADII:
        raise InputError(
            f"radii: need at least {MIN_RADII} radii to fit a Gumbel law, got {x.size}: give more", param="radii"
        )
    if x.min() < 0:
        raise InputError(
            "radii must be non-negative (a spectral radius is a modulus), "
            f"got {int((x < 0).sum())} negative values, the least {x.min():g}",
            param="radii",
        )
    if np.ptp(x) <= 1e-12 * max(abs(float(x.max())), 1.0):
        raise InputError(f"radii are all equal ({x[0]:g}): a Gumbel law needs radii that vary", param="radii")
    return x


def ks(x: np.ndarray, cdf) -> dict:
    """One-sample two-sided Kolmogorov-Smirnov statistic D of radii ``x`` against ``cdf``, and its p-value.

    The p-value is min(2 smirnov(N, D), kolmogorov((sqrt N + 0.12 + 0.11 / sqrt N) D)): the exact
    one-sided tail doubled (exact to 1e-3 relative where p < 0.2) and Stephens' corrected
    asymptotic law (within 0.02 above), both from :mod:`specdiag._special` (scipy.special's
    functions to about 1e-11, without importing scipy).
    """
    if x.size > _KS_GRID_ABOVE:
        grid = np.linspace(x.min(), x.max(), _KS_GRID_POINTS)
        values = np.asarray(cdf(grid), dtype=float)
        cdf = lambda v: np.interp(v, grid, values)  # noqa: E731
    xs = np.sort(x)
    f = np.asarray(cdf(xs), dtype=float)
    m = xs.size
    d = float(max(np.max(np.arange(1, m + 1) / m - f), np.max(f - np.arange(m) / m)))
    root = math.sqrt(m)
    p = min(2.0 * special.smirnov(m, d), special.kolmogorov((root + 0.12 + 0.11 / root) * d))
    return {"ks_statistic": d, "ks_pvalue": min(max(p, 0.0), 1.0)}


@dataclass(frozen=True)
class FittedGumbel(GumbelFit):
    """A :class:`GumbelFit` with the KS test of the radii against the fitted law (its p-value is
    optimistic: the parameters came from the same radii)."""

    ks_statistic: float = math.nan
    ks_pvalue: float = math.nan


@dataclass(frozen=True)
class SampleMoments(Result):
    """Mean and sd (ddof=1) of the radii."""

    mean: float
    std: float


@dataclass(frozen=True)
class LimitComparison(Result):
    """The n -> infinity limit law (Rider, Rider-Sinclair) and the KS test of the radii against it."""

    loc: float
    scale: float
    mean: float
    std: float
    label: str
    ks_statistic: float
    ks_pvalue: float


@dataclass(frozen=True)
class ExactComparison(Result):
    """Kostlan's exact complex law and the KS test of the radii against it."""

    mean: float
    std: float
    label: str
    ks_statistic: float
    ks_pvalue: float


@dataclass(frozen=True)
class LawComparison(Result):
    """Fitted vs finite-n vs limit laws of sampled radii (:func:`compare_laws`).

    ``fit`` (ML Gumbel with KS), ``sample`` (mean, sd), ``asymptotic`` (the limit law, or None with
    ``asymptotic_reason`` for n <= 163), ``exact`` (complex: Kostlan) or None, ``finite_n_real``
    (real: the Monte Carlo table) or None.
    """

    fit: FittedGumbel
    sample: SampleMoments
    asymptotic: LimitComparison | None
    asymptotic_reason: str | None
    exact: ExactComparison | None
    finite_n_real: FiniteNReal | None

    def to_dict(self) -> dict:
        doc = super().to_dict()
        if doc["asymptotic_reason"] is None:
            del doc["asymptotic_reason"]
        return doc


def compare_laws(
    radii, *, n: int, field: str = "real", level: float = 0.95, ci: str = "wald", resamples: int = 999
) -> LawComparison:
    """Fitted vs finite-n vs asymptotic laws of the spectral radius of Glorot matrices, for radii.

    Parameters
    ----------
    radii : array_like
        Sampled radii (at least :data:`MIN_RADII`).
    n : int
        Width of the matrices.
    field : {"real", "complex"}
        Their field: complex radii are compared with Kostlan's exact law (``exact``), real radii
        with the finite-n Monte Carlo table (``finite_n_real``, with its standard errors).
    level, ci, resamples
        Interval level and method of the Gumbel fit (:func:`fit_gumbel`).

    Returns
    -------
    LawComparison
        Its ``to_dict()`` is the comparison part of ``specdiag fit-gumbel --format json``.

    Examples
    --------
    >>> x = np.random.default_rng(0).gumbel(1.035, 0.012, 200)
    >>> c = compare_laws(x, n=500, field="complex")
    >>> c.exact.label, c.finite_n_real is None, round(c.fit.loc, 2)
    ('Kostlan exact', True, 1.03)
    """
    from ._inits import make_ensemble  # noqa: PLC0415 (_inits imports the calibration and the sampler)

    x = finite_radii(radii)
    glorot = make_ensemble("glorot", n, field)  # checks n and field before the fit
    fit = fit_gumbel(x, level=level, ci=ci, resamples=resamples)
    fitted = FittedGumbel(**dataclasses.asdict(fit), **ks(x, numeric.Gumbel(loc=fit.loc, beta=fit.scale).cdf))
    limit = glorot.asymptotic_law()
    asymptotic, reason = None, None
    if limit is not None:
        loc, scale = limit.kwds["loc"], limit.kwds["scale"]
        asymptotic = LimitComparison(
            loc, scale, float(limit.mean()), float(limit.std()), glorot.asymptotic_label() or "", **ks(x, limit.cdf)
        )
    else:
        reason = f"the Rider limit is undefined at n = {n}: g_n <= 0 for n <= {theory.LAST_UNDEFINED_N}"
    exact = real = None
    if glorot.field == "complex":
        law = numeric.kostlan(glorot.n)
        exact = ExactComparison(float(law.mean()), float(law.std()), "Kostlan exact", **ks(x, law.cdf))
    else:
        real_law = glorot.numeric_law()
        assert real_law is not None  # the real Glorot law is tabulated at every n >= 2
        real = FiniteNReal.at(glorot.n, **ks(x, real_law.cdf))
    return LawComparison(fitted, SampleMoments(float(x.mean()), float(x.std(ddof=1))), asymptotic, reason, exact, real)


@dataclass(frozen=True)
class FitReport(Result):
    """``specdiag fit-gumbel``: where the radii came from and how they compare with the laws.

    ``comparison`` (:class:`LawComparison`) is flattened into the document, as the command prints it.
    """

    command: str
    n: int
    samples: int
    field: str
    init: str | None
    method: str | None
    source: str
    comparison: LawComparison
    radii: np.ndarray = internal()

    def to_dict(self) -> dict:
        doc = super().to_dict()
        comparison = doc.pop("comparison")
        return {**doc, **comparison}

    def plot(self, path: Path | str) -> Path:
        """Draw the radii's density with the fitted, finite-n and limit laws to ``path``."""
        from ._plots import fit_figure  # noqa: PLC0415 (matplotlib)

        init = self.init if self.init is not None else "radii"
        return save_plot(
            lambda: fit_figure(self.radii, self.comparison.to_dict(), n=self.n, field=self.field, init=init), path
        )


def fit_report(
    n: int,
    *,
    samples: int = 500,
    method: str = "matrices",
    from_file: Path | str | None = None,
    init: str = "glorot",
    field: str = "real",
    seed: int = 0,
    device: str = "auto",
    precision: str = "single",
    workers: int | None = None,
    chunk_size: int | None = None,
    sampler: str = "hessenberg",
    level: float = 0.95,
    ci: str = "auto",
    bootstrap_samples: int = 999,
    plot: Path | str | None = None,
    on_progress: Callable[[int], None] | None = None,
    **options: Any,
) -> FitReport:
    """Fit a Gumbel law to radii (sampled, drawn from the law, or read ``from_file``) and compare
    it with the finite-n laws of Glorot matrices and the limit law (``specdiag fit-gumbel``).

    Parameters
    ----------
    n : int
        Width of the matrices (give the sample's width with ``from_file``).
    samples, method, init, field, seed, device, precision, workers, chunk_size, sampler, on_progress, **options
        As in :func:`specdiag.radius_report` (``samples`` and the sampling options are ignored with
        ``from_file``; ``field`` is then the sample's field).
    from_file : path, optional
        A .csv/.json/.npy of radii (:func:`load_radii`).
    level, ci, bootstrap_samples
        Interval level, method (auto, wald, bootstrap) and bootstrap refits (:func:`fit_gumbel`).
    plot : path, optional
        Figure file, checked before any work.

    Returns
    -------
    FitReport
    """
    from ._radius_report import Sampling  # noqa: PLC0415 (the sampler, only when sampling)
    from ._spectra import LAW_LABEL  # noqa: PLC0415 (the sampler)

    field = choice(field, "field", ("real", "complex"))
    level = probability(level, "level")
    n = whole_number(n, "n", minimum=2)
    plot = check_plot_path(plot)
    if from_file is not None:
        given = sorted(k for k, v in options.items() if v is not None)
        if given:
            raise InputError(
                f"{given[0]} is an init option, used only when sampling: drop it with from_file", param=given[0]
            )
        radii, source, init_used, method_used = load_radii(from_file), str(from_file), None, None
    else:
        method = choice(method, "method", ("matrices", "law"))
        samples = whole_number(samples, "samples")
        if samples < MIN_RADII:
            raise InputError(
                f"samples: need at least {MIN_RADII} radii to fit a Gumbel law, got {samples}: sample more",
                param="samples",
            )
        sampling = Sampling(method, seed, device, precision, workers, chunk_size, sampler)
        ensemble = build_ensemble(n, init=init, field=field, seed=seed, **options)
        sampling.guard(n, samples, init=init, field=field)
        radii, _, _ = sampling.draw(ensemble, samples, on_progress)
        field, source, init_used, method_used = (
            ensemble.field,
            LAW_LABEL if method == "law" else "sampled",
            init,
            method,
        )
    try:
        comparison = compare_laws(radii, n=n, field=field, level=level, ci=ci, resamples=bootstrap_samples)
    except InputError as exc:
        if exc.param != "resamples":
            raise
        raise InputError(str(exc).replace("resamples", "bootstrap_samples", 1), param="bootstrap_samples") from None
    report = FitReport("fit-gumbel", n, int(radii.size), field, init_used, method_used, source, comparison, radii=radii)
    if plot is not None:
        report.plot(plot)
    return report


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
        raise InputError(
            f"from_file {str(path)!r}: no such file: give the path of a .csv, .json or .npy of radii", param="from_file"
        )
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a FIFO, socket or device)"
        raise InputError(
            f"from_file {str(path)!r} is {kind}: give the path of a .csv, .json or .npy of radii", param="from_file"
        )
    budget, _ = memory_budget()
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
        # text radii take ~10 bytes each and become an 8-byte float plus a Python object (~40 bytes)
        if suffix != ".npy" and 8 * size > budget:
            raise InputError(
                f"from_file {str(path)!r} is {format_bytes(size)}: "
                f"more radii than the {format_bytes(budget)} memory budget holds",
                param="from_file",
            )
        if suffix == ".npy":
            values = _radii_from_npy(path, budget)
        elif suffix == ".json":
            doc = json.loads(path.read_text())
            values = doc["radii"] if isinstance(doc, dict) else doc
            if not isinstance(values, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
            ):
                raise ValueError('expected a list of numbers, or an object whose "radii" is one')
        else:
            values = _radii_from_csv(path)
        values = np.asarray(values, dtype=float).ravel()
        return finite_radii(values)
    except RecursionError:
        raise InputError(
            f"from_file {str(path)!r} is nested too deeply: expected a flat list of radii", param="from_file"
        ) from None
    except (ValueError, KeyError, TypeError, OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, InputError):
            if exc.param == "radii":
                raise InputError(f"from_file {printable(path)!r}: {exc}: check the file", param="from_file") from None
            raise
        raise InputError(
            f"from_file: cannot read radii from {str(path)!r} ({exc}): expected numbers in .csv, .json or .npy",
            param="from_file",
        ) from None


def _radii_from_npy(path: Path, budget: int) -> np.ndarray:
    """A numeric .npy, its header checked (shape, dtype) before the data is read."""
    from ._weights_numpy import _npy_header  # noqa: PLC0415 (the one guarded .npy header reader)

    with path.open("rb") as fh:
        try:  # a malformed header dict makes NumPy's own reader raise tokenize or recursion errors
            shape, dtype, _ = _npy_header(fh, "the file")
        except InputError as exc:
            raise ValueError(str(exc)) from None
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

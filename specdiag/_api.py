"""The name-based front door for notebooks and scripts: say *what* (an init's name, n, a field),
get arrays, laws and reports back.

The engines below it (``spectra.sample_radii``, ``dynamics.simulate``, ``check``) take an
:class:`~specdiag._inits.Ensemble`; these functions build one from names and options, so scripts
and the CLI run exactly the same code.
"""

from __future__ import annotations

import numpy as np

from . import _theory as theory
from ._dynamics import NormCurves, simulate
from ._errors import InputError
from ._inits import InitOptions, make_ensemble, summarize_law
from ._spectra import sample_radii
from ._validation import probability, whole_number

__all__ = ["spectral_radii", "trajectory", "hidden_states", "theory_summary", "init_options"]

_OPTION_NAMES = ("rmin", "rmax", "max_phase", "rescale", "coverage", "calibration_samples")


def init_options(seed: int = 0, **options) -> InitOptions:
    """:class:`InitOptions` from keywords (``rmin``, ``rmax``, ``max_phase``, ``rescale``,
    ``coverage``, ``calibration_samples``); unknown keywords are an InputError."""
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise InputError(f"unknown init option {', '.join(unknown)}: use {', '.join(_OPTION_NAMES)}", param=unknown[0])
    return InitOptions(seed=seed, **options)


def spectral_radii(
    n: int,
    samples: int = 100,
    init: str = "glorot",
    field: str = "real",
    *,
    seed: int = 0,
    precision: str = "single",
    device: str = "auto",
    workers: int | None = None,
    chunk_size: int | None = None,
    on_progress=None,
    **options,
) -> np.ndarray:
    """Spectral radii of ``samples`` random n x n matrices of an initialization.

    Parameters
    ----------
    n : int
        Width (at least 2).
    samples : int
        Number of matrices.
    init : str
        Initialization name (``specdiag.INITS``): glorot, rescaled, half, truncnormal,
        uniform-diag, uniform-disk, lru.
    field : {"real", "complex"}
        Entry field of dense inits.
    seed : int
        Matrix i is drawn from the stream (seed, i): identical results for any batching.
    precision : {"single", "double"}
        Eigenvalue precision.
    device : {"auto", "cpu", "gpu"}
        "auto" uses the GPU when CuPy sees one.
    workers, chunk_size : int, optional
        CPU processes and matrices per task (never change results).
    on_progress : callable, optional
        Called with the number of matrices finished.
    **options
        Init options: rmin, rmax, max_phase (lru); rescale, coverage, calibration_samples (rescaled).

    Returns
    -------
    numpy.ndarray
        Shape ``(samples,)``, float64.

    Raises
    ------
    InputError
        Any bad argument (its ``param`` names it).

    Examples
    --------
    >>> r = spectral_radii(n=50, samples=8, field="complex", seed=1, device="cpu", workers=1)
    >>> r.shape, bool((r > 0.8).all() and (r < 1.3).all())
    ((8,), True)
    """
    ensemble = make_ensemble(init, n, field, init_options(seed, **options))
    return sample_radii(ensemble, samples, seed, precision=precision, device=device, workers=workers, chunk_size=chunk_size, on_progress=on_progress)


def _dynamics(kind, n, steps, init, field, matrices, inputs, every, input_scale, seed, precision, device, chunk_size, on_progress, options) -> NormCurves:
    ensemble = make_ensemble(init, n, field, init_options(seed, **options))
    return simulate(
        ensemble, kind, matrices=matrices, inputs=inputs, steps=steps, seed=seed, every=every, input_scale=input_scale,
        device=device, precision=precision, chunk_size=chunk_size, on_progress=on_progress,
    )


def trajectory(
    n: int,
    steps: int = 1000,
    init: str = "glorot",
    field: str = "real",
    *,
    matrices: int = 20,
    inputs: int = 50,
    every: int = 1,
    seed: int = 0,
    precision: str = "single",
    device: str = "auto",
    chunk_size: int | None = None,
    on_progress=None,
    **options,
) -> NormCurves:
    """||W^k x|| for k = 0..steps, per matrix W, over ``inputs`` Gaussian inputs x, in log10 scale.

    Parameters are as in :func:`spectral_radii`; ``precision`` is that of the propagated states.

    Returns
    -------
    NormCurves
        ``steps`` (R,) recorded k; ``log10_mean``, ``log10_sd``, ``log10_rms`` of shape
        (matrices, R), float64.

    Examples
    --------
    >>> c = trajectory(n=32, steps=10, matrices=2, inputs=3, device="cpu")
    >>> c.log10_mean.shape
    (2, 11)
    """
    return _dynamics("trajectory", n, steps, init, field, matrices, inputs, every, 1.0, seed, precision, device, chunk_size, on_progress, options)


def hidden_states(
    n: int,
    steps: int = 1000,
    init: str = "glorot",
    field: str = "real",
    *,
    matrices: int = 20,
    inputs: int = 50,
    every: int = 1,
    input_scale: float = 1.0,
    seed: int = 0,
    precision: str = "single",
    device: str = "auto",
    chunk_size: int | None = None,
    on_progress=None,
    **options,
) -> NormCurves:
    """||h_t|| of h_t = W h_{t-1} + x_t, h_0 = 0, x_t ~ N(0, input_scale^2 I), t = 1..steps.

    Examples
    --------
    >>> c = hidden_states(n=32, steps=10, matrices=2, inputs=3, device="cpu")
    >>> int(c.steps[0]), c.log10_mean.shape
    (1, (2, 10))
    """
    return _dynamics("hidden", n, steps, init, field, matrices, inputs, every, input_scale, seed, precision, device, chunk_size, on_progress, options)


def theory_summary(n: int, coverage: float = 0.9) -> dict:
    """Everything known at width n: g_n, s_n, the finite-n laws (Kostlan's exact complex law, the
    real Monte Carlo table) and the n -> infinity limits (Rider, Rider-Sinclair), labelled as such.

    Parameters
    ----------
    n : int
        Width, at least 2.
    coverage : float
        Target P(rho <= 1) of the calibrated rescaling.

    Returns
    -------
    dict
        ``g_n``, ``s_n``, ``rider_location``, ``rider_scale``, ``asymptotic`` (per field: Gumbel
        loc, scale, mean, sd, P(rho > 1), ``label``), ``exact_complex``, ``finite_n_real`` (mean, std,
        q05, q95, p_above_1, se_mean, source: the real Glorot table), ``exact_complex_rescaled``,
        ``calibrated_complex``. Undefined asymptotics (n <= 163) are None with an ``undefined_reason``.

    Examples
    --------
    >>> row = theory_summary(500)
    >>> round(row["s_n"], 4), round(row["exact_complex"]["mean"], 4)
    (1.0679, 1.0347)
    """
    from . import laws  # noqa: PLC0415 (scipy.stats, only when a law is evaluated)
    from ._inits import finite_n_real  # noqa: PLC0415

    n = whole_number(n, "n", minimum=2)
    coverage = probability(coverage, "coverage")
    g = float(theory.g_n(n))
    row: dict = {"n": n, "g_n": g, "coverage": coverage}
    exact = laws.kostlan(n)
    if g > 0:
        s_n = theory.paper_scale(n)
        row["s_n"] = s_n
        row["rider_location"] = theory.rider_location(n)
        row["rider_scale"] = theory.rider_scale(n)
        row["asymptotic"] = {}
        for fld, limit, label in (("real", laws.rider_sinclair(n), "Rider-Sinclair limit, n -> inf"), ("complex", laws.rider(n), "Rider limit, n -> inf")):
            loc, scale = limit.kwds["loc"], limit.kwds["scale"]
            row["asymptotic"][fld] = {"loc": loc, "scale": scale, "mean": float(limit.mean()), "std": float(limit.std()), "p_above_1": float(limit.sf(1.0)), "label": label}
        row["exact_complex_rescaled"] = _law_dict(laws.kostlan(n, scale=1 / s_n))
    else:
        row.update(s_n=None, rider_location=None, rider_scale=None, asymptotic=None, exact_complex_rescaled=None)
        row["undefined_reason"] = f"g_n = {g:.4f} <= 0 (n <= {theory.LAST_UNDEFINED_N}): use --rescale calibrated"
    row["exact_complex"] = _law_dict(exact)
    row["finite_n_real"] = finite_n_real(n)
    s_cal = float(exact.ppf(coverage))
    row["calibrated_complex"] = {"s": s_cal, "coverage": coverage, **_law_dict(laws.kostlan(n, scale=1 / s_cal))}
    return row


def _law_dict(law) -> dict:
    summary = summarize_law(law, "").to_dict()
    summary.pop("source")
    return summary


"""The name-based front door for notebooks and scripts: say *what* (n, an init's name, a field),
get arrays and laws back.

The engines below it (``_spectra.sample_radii``, ``_dynamics.simulate``) take an
:class:`~specdiag._inits.Ensemble`; these functions build one from names and options. The command
reports (:func:`~specdiag._radius_report.radius_report`, ...) build theirs the same way, so
scripts and the CLI run exactly the same code. Every function takes ``n`` first and everything
else by keyword.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._errors import InputError
from ._inits import INITS, InitOptions, make_ensemble
from ._results import Result
from ._spectra import sample_radii
from ._validation import choice, whole_number

if TYPE_CHECKING:
    from ._dynamics import NormCurves

__all__ = [
    "OPTION_USERS",
    "InitInfo",
    "InitsReport",
    "inits_report",
    "spectral_radii",
    "radius_law",
    "trajectory",
    "hidden_states",
    "init_options",
    "build_ensemble",
]

#: every init option -> the inits that use it (any other init refuses it rather than ignore it)
OPTION_USERS: dict[str, tuple[str, ...]] = {
    "rmin": ("lru",),
    "rmax": ("lru",),
    "max_phase": ("lru",),
    "rescale": ("rescaled",),
    "coverage": ("rescaled",),
    "calibration_samples": ("rescaled",),
}
#: options of the ``rescaled`` init that only its calibrated divisor uses
_CALIBRATED_ONLY = ("coverage", "calibration_samples")


@dataclass(frozen=True)
class InitInfo(Result):
    """One initialization: its name, the fields it takes, its definition, and whether it is diagonal."""

    name: str
    fields: tuple[str, ...]
    formula: str
    diagonal: bool


@dataclass(frozen=True)
class InitsReport(Result):
    """Every initialization (``specdiag inits``)."""

    command: str
    inits: tuple[InitInfo, ...]


def inits_report() -> InitsReport:
    """Every initialization in :data:`specdiag.INITS` with its definition.

    Examples
    --------
    >>> [i.name for i in inits_report().inits][:3]
    ['glorot', 'rescaled', 'half']
    """
    return InitsReport(
        "inits", tuple(InitInfo(spec.name, tuple(spec.fields), spec.formula, spec.diagonal) for spec in INITS.values())
    )


def init_options(seed: int = 0, *, init: str | None = None, **options: Any) -> InitOptions:
    """:class:`InitOptions` from keywords (``rmin``, ``rmax``, ``max_phase``, ``rescale``,
    ``coverage``, ``calibration_samples``); a keyword that is None takes its default.

    Parameters
    ----------
    seed : int
        Seed of a calibration (the run's seed).
    init : str, optional
        When given, an option that this init ignores is refused, naming the inits that use it.
    **options
        The options; unknown names are refused.

    Raises
    ------
    InputError
        Naming the option (its ``param``).

    Examples
    --------
    >>> init_options(init="lru", rmax=0.99).rmax
    0.99
    >>> init_options(init="glorot", rmax=2)
    Traceback (most recent call last):
    ...
    specdiag._errors.InputError: rmax is used only by init lru, not by 'glorot': drop it or use init lru
    """
    unknown = sorted(set(options) - set(OPTION_USERS))
    if unknown:
        raise InputError(f"{unknown[0]} is not an init option: use {', '.join(OPTION_USERS)}", param=unknown[0])
    given = {k: v for k, v in options.items() if v is not None}
    if init is not None:
        init = choice(init, "init", INITS)
        for name in given:
            users = OPTION_USERS[name]
            if init not in users:
                raise InputError(
                    f"{name} is used only by init {', '.join(users)}, not by {init!r}: drop it or use init {users[0]}",
                    param=name,
                )
        if init == "rescaled" and given.get("rescale", "paper") != "calibrated":
            for name in _CALIBRATED_ONLY:
                if name in given:
                    raise InputError(
                        f"{name} is used only by the calibrated divisor of init rescaled: "
                        "pass rescale 'calibrated' or drop it",
                        param=name,
                    )
    return InitOptions(seed=seed, **given)


def build_ensemble(n: int, *, init: str = "glorot", field: str = "real", seed: int = 0, **options: Any):
    """The :class:`~specdiag._inits.Ensemble` of ``init`` at width n with checked options."""
    return make_ensemble(init, n, field, init_options(seed, init=init, **options))


def spectral_radii(
    n: int,
    *,
    samples: int = 100,
    init: str = "glorot",
    field: str = "real",
    seed: int = 0,
    precision: str = "single",
    device: str = "auto",
    workers: int | None = None,
    chunk_size: int | None = None,
    sampler: str = "hessenberg",
    on_progress: Callable[[int], None] | None = None,
    **options: Any,
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
    sampler : {"hessenberg", "dense"}
        How Gaussian matrices are drawn on the CPU: their Hessenberg form (exact in law, faster) or
        W itself (the radii of specdiag 0.2.0). Other inits and the GPU always draw W.
    on_progress : callable, optional
        Called with the number of matrices finished.
    **options
        Init options: rmin, rmax, max_phase (lru); rescale, coverage, calibration_samples
        (rescaled). An option the init does not use is refused.

    Returns
    -------
    numpy.ndarray
        Shape ``(samples,)``, float64.

    Raises
    ------
    InputError
        Any bad argument (its ``param`` names it), or sizes over the memory budget.

    Examples
    --------
    >>> r = spectral_radii(50, samples=8, field="complex", seed=1, device="cpu", workers=1)
    >>> r.shape, bool((r > 0.8).all() and (r < 1.3).all())
    ((8,), True)
    """
    from ._radius_report import guard_radii  # noqa: PLC0415 (the report module imports this one)

    n, samples = whole_number(n, "n", minimum=2), whole_number(samples, "samples")
    guard_radii(n, samples, init=init, field=field, precision=precision, workers=workers)
    ensemble = build_ensemble(n, init=init, field=field, seed=seed, **options)
    return sample_radii(
        ensemble,
        samples,
        seed,
        precision=precision,
        device=device,
        workers=workers,
        chunk_size=chunk_size,
        on_progress=on_progress,
        sampler=sampler,
    )


def radius_law(n: int, *, init: str = "glorot", field: str = "real", seed: int = 0, **options: Any):
    """The law of the spectral radius of ``init`` at width n, as a frozen ``scipy.stats`` distribution.

    Complex Gaussian inits: Kostlan's exact law (scaled by the init's gain). Real Gaussian inits:
    the finite-n Monte Carlo table (:func:`specdiag.laws.real_ginibre`). Diagonal inits: the exact
    law of the largest of n iid moduli. truncnormal: the Gaussian law at its realized variance
    (universality, approximate). ``seed`` and ``options`` are those of :func:`spectral_radii`.

    Examples
    --------
    >>> law = radius_law(500, init="glorot", field="complex")
    >>> round(float(law.mean()), 4)
    1.0347
    """
    return build_ensemble(n, init=init, field=field, seed=seed, **options).radius_law()


def _curves(kind: str, n: int, *, init: str, field: str, seed: int, options: dict, **run: Any) -> NormCurves:
    """Curves of ``kind`` from the arguments of :func:`trajectory` or :func:`hidden_states`, as their
    ``locals()``: the init's keywords (``options``) build the ensemble, the rest go to ``simulate``."""
    from ._dynamics import simulate  # noqa: PLC0415 (the dynamics engine and its process pool: only for trajectories)

    ensemble = build_ensemble(n, init=init, field=field, seed=seed, **options)
    return simulate(ensemble, kind, seed=seed, **run)


def trajectory(
    n: int,
    *,
    steps: int = 1000,
    init: str = "glorot",
    field: str = "real",
    matrices: int = 20,
    inputs: int = 50,
    every: int = 1,
    seed: int = 0,
    precision: str = "single",
    device: str = "auto",
    workers: int | None = None,
    chunk_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    **options: Any,
) -> NormCurves:
    """||W^k x|| for k = 0..steps, per matrix W, over ``inputs`` Gaussian inputs x, in log10 scale.

    Parameters are as in :func:`spectral_radii`; ``precision`` is that of the propagated states.
    :func:`~specdiag.trajectory_report` adds exact expectations, the blow-up step and run files.

    Returns
    -------
    NormCurves
        ``steps`` (R,) recorded k; ``log10_mean``, ``log10_sd``, ``log10_rms`` of shape
        (matrices, R), float64.

    Examples
    --------
    >>> c = trajectory(32, steps=10, matrices=2, inputs=3, device="cpu")
    >>> c.log10_mean.shape
    (2, 11)
    """
    return _curves("trajectory", **locals())  # every argument, as given


def hidden_states(
    n: int,
    *,
    steps: int = 1000,
    init: str = "glorot",
    field: str = "real",
    matrices: int = 20,
    inputs: int = 50,
    every: int = 1,
    input_scale: float = 1.0,
    seed: int = 0,
    precision: str = "single",
    device: str = "auto",
    workers: int | None = None,
    chunk_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    **options: Any,
) -> NormCurves:
    """||h_t|| of h_t = W h_{t-1} + x_t, h_0 = 0, x_t ~ N(0, input_scale^2 I), t = 1..steps.

    Examples
    --------
    >>> c = hidden_states(32, steps=10, matrices=2, inputs=3, device="cpu")
    >>> int(c.steps[0]), c.log10_mean.shape
    (1, (2, 10))
    """
    return _curves("hidden", **locals())  # every argument, as given

"""``trajectory`` and ``hidden`` as library calls: norm curves of sampled matrices with exact
expectations and the blow-up step, as :class:`DynamicsReport`, whose ``to_dict()`` is the command's
``--format json`` document and whose ``write``/``plot`` make the command's files."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._api import init_options
from ._backend import resolve_device
from ._calibration import Rescaling
from ._errors import InputError
from ._dynamics import KINDS, NormCurves, expected_log10_norm, per_matrix_expected_log10_norm, simulate
from ._inits import INITS, make_ensemble
from ._report import csv_document
from ._resources import dynamics_estimate, guard
from ._results import Result, internal
from ._runfiles import check_plot_path, run_one_shot, save_plot, write_run
from ._validation import choice, positive_number, whole_number

__all__ = ["DynamicsReport", "trajectory_report", "hidden_report", "dynamics_report"]

#: the per-step statistics across matrices (``NormCurves.summary``), in document order
SUMMARY_KEYS = (
    "mean_log10_norm",
    "std_log10_norm",
    "median_log10_norm",
    "q05_log10_norm",
    "q95_log10_norm",
    "fraction_grown_10x",
)


@dataclass(frozen=True)
class DynamicsReport(Result):
    """Norm curves (log10) of ``trajectory`` (||W^k x||) or ``hidden`` (||h_t||) runs.

    Per recorded step: statistics across matrices of each matrix's mean norm over its inputs
    (``mean_log10_norm`` ... ``fraction_grown_10x``), the exact RMS expectation where it is known
    (``exact_log10_norm``, else None), every matrix's curve (``per_matrix_log10_norm``, with
    ``full``), each matrix's exact and sampled RMS (``exact_per_matrix_log10_rms``,
    ``sample_per_matrix_log10_rms``, with ``exact``), and ``blowup_step``: the first step where the
    mean grew ``blowup_threshold`` times past its start, or None. ``curves`` holds every array.
    """

    command: str
    n: int
    init: str
    field: str
    matrices: int
    inputs: int
    seed: int
    device: str
    precision: str
    input_scale: float | None
    steps: np.ndarray
    mean_log10_norm: np.ndarray
    std_log10_norm: np.ndarray
    median_log10_norm: np.ndarray
    q05_log10_norm: np.ndarray
    q95_log10_norm: np.ndarray
    fraction_grown_10x: np.ndarray
    per_matrix_log10_norm: np.ndarray | None
    exact_log10_norm: np.ndarray | None
    exact_per_matrix_log10_rms: np.ndarray | None
    sample_per_matrix_log10_rms: np.ndarray | None
    blowup_threshold: float
    blowup_step: int | None
    rescaling: Rescaling | None
    elapsed_s: float
    curves: NormCurves | None = internal()
    ensemble: Any = internal()
    parameters: dict = internal()

    @property
    def kind(self) -> str:
        """ "trajectory" or "hidden"."""
        return self.command

    def csv(self) -> str:
        """One row per recorded step: ``step`` and the statistics across matrices."""
        return csv_document(["step", *SUMMARY_KEYS], zip(self.steps, *(getattr(self, key) for key in SUMMARY_KEYS)))

    def write(self, out: Path | str, *, force: bool = False) -> Path:
        """Write ``<kind>.csv`` and ``run.json`` into the run directory ``out``, both or neither."""
        return write_run(
            out,
            self.kind,
            self.parameters,
            {f"{self.kind}.csv": self.csv()},
            device=self.device,
            elapsed_s=self.elapsed_s,
            force=force,
            blowup_step=self.blowup_step,
        )

    def plot(self, path: Path | str) -> Path:
        """Draw the per-matrix curves, their bands and the exact expectation to ``path``."""
        from ._plots import norm_figure  # noqa: PLC0415 (matplotlib)

        trajectory = self.kind == "trajectory"
        xlabel = "power k" if trajectory else "time step t"
        ylabel = r"$\|W^k x\|$" if trajectory else r"$\|h_t\|$"
        title = f"{self.init}, {self.field}, n = {self.n}: {self.matrices} matrices x {self.inputs} inputs"
        c = self.curves
        if c is None:
            raise InputError(
                "curves: this report carries no curves to draw (build it with trajectory_report or hidden_report)",
                param="curves",
            )
        return save_plot(
            lambda: norm_figure(
                c.steps,
                c.log10_mean,
                c.log10_sd,
                ylabel=ylabel,
                xlabel=xlabel,
                title=title,
                exact=self.exact_log10_norm,
            ),
            path,
        )


def dynamics_report(
    kind: str,
    n: int,
    *,
    steps: int = 1000,
    init: str = "glorot",
    field: str = "real",
    matrices: int = 20,
    inputs: int = 50,
    every: int = 1,
    input_scale: float = 1.0,
    blowup: float = 1e3,
    exact: bool = False,
    full: bool = False,
    seed: int = 0,
    device: str = "auto",
    precision: str = "single",
    workers: int | None = None,
    chunk_size: int | None = None,
    out: Path | str | None = None,
    plot: Path | str | None = None,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
    **options: Any,
) -> DynamicsReport:
    """The report of :func:`trajectory_report` (``kind="trajectory"``) or :func:`hidden_report`."""
    from ._pool import resolve_workers  # noqa: PLC0415 (the process pool module, only when simulating)

    kind = choice(kind, "kind", KINDS)
    if kind == "trajectory" and input_scale != 1.0:
        raise InputError(
            f"input_scale is used only by hidden states (no inputs enter a trajectory), got {input_scale:g}: drop it",
            param="input_scale",
        )
    opts = init_options(seed, init=init, **options)
    positive_number(blowup, "blowup", above=1.0)
    sizes = {
        k: whole_number(v, k, minimum=2 if k == "n" else 1)
        for k, v in dict(n=n, matrices=matrices, inputs=inputs, steps=steps, every=every).items()
    }
    diagonal = INITS[init].diagonal
    field_used = "complex" if diagonal else field
    guard(
        dynamics_estimate(
            **sizes,
            field=field_used,
            precision=precision,
            diagonal=diagonal,
            chunk=chunk_size or 8,
            workers=resolve_workers(workers),
        )
    )
    dev = resolve_device(device)
    hidden_scale = input_scale if kind == "hidden" else None
    parameters = {
        "n": n,
        "init": init,
        "field": field_used,
        "matrices": matrices,
        "inputs": inputs,
        "seed": seed,
        "device": dev,
        "precision": precision,
        "input_scale": hidden_scale,
        "steps": steps,
        "every": every,
        "blowup": blowup,
    }

    def compute(held: Path | None) -> DynamicsReport:
        check_plot_path(plot)
        ensemble = make_ensemble(init, n, field, opts)
        start = time.perf_counter()
        curves = simulate(
            ensemble,
            kind,
            matrices=matrices,
            inputs=inputs,
            steps=steps,
            seed=seed,
            every=every,
            input_scale=input_scale,
            device=dev,
            precision=precision,
            workers=workers,
            chunk_size=chunk_size,
            on_progress=on_progress,
        )
        expected = expected_log10_norm(ensemble, kind, curves.steps, input_scale)
        per_matrix = (
            per_matrix_expected_log10_norm(ensemble, kind, curves.steps, seed, matrices, input_scale) if exact else None
        )
        return DynamicsReport(
            command=kind,
            n=n,
            init=init,
            field=ensemble.field,
            matrices=matrices,
            inputs=inputs,
            seed=seed,
            device=dev,
            precision=precision,
            input_scale=hidden_scale,
            steps=curves.steps,
            **curves.summary(),
            per_matrix_log10_norm=curves.log10_mean if full else None,
            exact_log10_norm=expected,
            exact_per_matrix_log10_rms=per_matrix,
            sample_per_matrix_log10_rms=curves.log10_rms if exact else None,
            blowup_threshold=blowup,
            blowup_step=curves.blowup_step(blowup),
            rescaling=ensemble.rescaling,
            elapsed_s=time.perf_counter() - start,
            curves=curves,
            ensemble=ensemble,
            parameters=parameters,
        )

    return run_one_shot(out, kind, parameters, compute, force=force, plot=plot)


def trajectory_report(n: int, **kwargs: Any) -> DynamicsReport:
    """||W^k x|| for k = 0..steps with exact expectations and the blow-up step (``specdiag trajectory``).

    Keywords are those of :func:`specdiag.trajectory` plus ``blowup`` (the growth factor whose first
    step is reported, default 1e3), ``exact`` (each W's exact expectation over inputs, from its
    eigendecomposition), ``full`` (keep every matrix's curve in the document), ``out`` (run
    directory: claimed before any work and held until written, as in :func:`specdiag.radius_report`)
    and ``plot`` (figure file, checked before any work).

    Examples
    --------
    >>> rep = trajectory_report(
    ...     20, steps=30, init="lru", rmin=1.5, rmax=2.0, matrices=2, inputs=2, device="cpu", workers=1
    ... )
    >>> 10 <= rep.blowup_step <= 17
    True
    """
    return dynamics_report("trajectory", n, **kwargs)


def hidden_report(n: int, **kwargs: Any) -> DynamicsReport:
    """||h_t|| of h_t = W h_{t-1} + x_t with exact expectations and the blow-up step (``specdiag hidden``).

    Keywords as in :func:`trajectory_report`, plus ``input_scale`` (sigma of the inputs).

    Examples
    --------
    >>> rep = hidden_report(20, steps=10, matrices=2, inputs=2, device="cpu", workers=1)
    >>> rep.steps.tolist()[:3], rep.input_scale
    ([1, 2, 3], 1.0)
    """
    return dynamics_report("hidden", n, **kwargs)

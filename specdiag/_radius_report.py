"""``radius`` as a library call: sample (or draw from the law) radii at width n and report them
beside the finite-n law and the limit law, as :class:`RadiusReport`, whose ``to_dict()`` is the
``specdiag radius --format json`` document and whose ``write``/``plot`` make the command's files."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _theory as theory
from ._api import init_options
from ._backend import resolve_device
from ._calibration import Rescaling
from ._inits import INITS, LawSummary, make_ensemble, summarize_law
from ._report import csv_document
from ._resources import Estimate, check_disk, guard, radius_estimate
from ._results import Result, internal
from ._runfiles import check_plot_path, run_one_shot, save_plot, write_run
from ._spectra import LAW_LABEL, METHODS, SAMPLERS, RadiusStats, law_radii, radius_stats, resolve_sampler, sample_radii
from ._validation import choice, whole_number

__all__ = ["MATRICES_LABEL", "RadiusReport", "radius_report", "Sampling", "draw_radii", "guard_radii"]

#: how radii from sampled matrices are labelled (``method_label``)
MATRICES_LABEL = "eigenvalues of sampled matrices"


def guard_radii(n: int, samples: int, *, init: str, field: str, precision: str, workers: int | None) -> Estimate:
    """Refuse (InputError naming ``n`` or ``samples``) a sample whose memory is over the budget."""
    from ._pool import resolve_workers  # noqa: PLC0415 (the process pool module, only when sampling)

    spec = INITS.get(init)
    diagonal = bool(spec and spec.diagonal)
    field = "complex" if diagonal else field
    return guard(
        radius_estimate(
            n,
            samples,
            field=field,
            precision=precision,
            diagonal=diagonal,
            workers=resolve_workers(workers, tasks=samples),
        )
    )


def draw_radii(
    ensemble,
    samples: int,
    *,
    method: str = "matrices",
    seed: int = 0,
    device: str = "auto",
    precision: str = "single",
    workers: int | None = None,
    chunk_size: int | None = None,
    sampler: str = "hessenberg",
    on_progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, str, float]:
    """Radii of ``ensemble``: eigenvalues of sampled matrices (drawn by ``sampler``), or exact draws
    from its law (``method="law"``: no matrices, device "none"). Returns (radii, device used, seconds)."""
    start = time.perf_counter()
    if choice(method, "method", METHODS) == "law":
        radii = law_radii(ensemble, samples, seed)
        return radii, "none", time.perf_counter() - start
    dev = resolve_device(device)
    radii = sample_radii(
        ensemble,
        samples,
        seed,
        precision=precision,
        device=dev,
        workers=workers,
        chunk_size=chunk_size,
        on_progress=on_progress,
        sampler=sampler,
    )
    return radii, dev, time.perf_counter() - start


@dataclass(frozen=True)
class Sampling:
    """How a report draws its radii: the sampling options ``radius`` and ``fit-gumbel`` share, and the
    one place that guards a sample's memory and draws it (:func:`draw_radii`)."""

    method: str = "matrices"
    seed: int = 0
    device: str = "auto"
    precision: str = "single"
    workers: int | None = None
    chunk_size: int | None = None
    sampler: str = "hessenberg"

    def guard(self, n: int, samples: int, *, init: str, field: str) -> Estimate | None:
        """:func:`guard_radii` for sampled matrices; None for exact draws from the law (no matrices)."""
        if self.method == "law":
            return None
        return guard_radii(n, samples, init=init, field=field, precision=self.precision, workers=self.workers)

    def draw(
        self, ensemble, samples: int, on_progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, str, float]:
        """``samples`` radii of ``ensemble``: (radii, device used, seconds)."""
        return draw_radii(ensemble, samples, on_progress=on_progress, **dataclasses.asdict(self))


@dataclass(frozen=True)
class RadiusReport(Result):
    """Sampled radii with the statistics and laws ``specdiag radius`` reports.

    ``stats`` (:class:`RadiusStats`; its ``count`` is not in the document), ``theory`` (the
    finite-n law as a :class:`LawSummary`, or None), ``asymptotic`` (the n -> infinity limit, or
    None), ``rider_location`` (n >= 164), ``rescaling`` (how the rescaled init's divisor was
    chosen), ``radii``, and timings. ``write(out)`` and ``plot(path)`` make the command's files.
    """

    command: str
    n: int
    samples: int
    init: str
    field: str
    device: str
    precision: str
    seed: int
    method: str
    method_label: str
    sampler: str | None
    stats: RadiusStats
    theory: LawSummary | None
    asymptotic: LawSummary | None
    rider_location: float | None
    rescaling: Rescaling | None
    radii: np.ndarray
    elapsed_s: float
    matrices_per_s: float | None
    ensemble: Any = internal()
    parameters: dict = internal()

    def to_dict(self) -> dict:
        doc = super().to_dict()
        doc["stats"].pop("count")
        return doc

    def csv(self) -> str:
        """``index,radius`` rows (``--format csv`` and the run's ``radii.csv``)."""
        return csv_document(["index", "radius"], enumerate(self.radii))

    def write(self, out: Path | str, *, force: bool = False) -> Path:
        """Write ``radii.csv`` and ``run.json`` into the run directory ``out``, both or neither."""
        doc = self.to_dict()
        return write_run(
            out,
            "radius",
            self.parameters,
            {"radii.csv": self.csv()},
            device=self.device,
            elapsed_s=self.elapsed_s,
            force=force,
            stats=doc["stats"],
            theory=doc["theory"],
            rescaling=doc["rescaling"],
        )

    def plot(self, path: Path | str) -> Path:
        """Draw the radii's density with the finite-n and limit laws to ``path`` (.png/.pdf/.svg)."""
        from ._plots import radius_figure, radius_theory_curves  # noqa: PLC0415 (matplotlib)

        curves = radius_theory_curves(self.ensemble, self.radii)
        return save_plot(
            lambda: radius_figure(self.radii, n=self.n, field=self.field, init=self.init, curves=curves), path
        )


def radius_report(
    n: int,
    *,
    samples: int = 100,
    method: str = "matrices",
    init: str = "glorot",
    field: str = "real",
    seed: int = 0,
    device: str = "auto",
    precision: str = "single",
    workers: int | None = None,
    chunk_size: int | None = None,
    sampler: str = "hessenberg",
    out: Path | str | None = None,
    plot: Path | str | None = None,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
    **options: Any,
) -> RadiusReport:
    """Spectral radii of ``samples`` matrices of ``init`` at width n, with theory beside.

    Parameters
    ----------
    n, samples, init, field, seed, precision, device, workers, chunk_size, sampler, on_progress, **options
        As in :func:`specdiag.spectral_radii`; ``sampler`` in the document is the one that ran
        (None for draws from the law).
    method : {"matrices", "law"}
        "matrices": eigenvalues of sampled matrices. "law": exact draws from the radius law, no
        matrices (complex Gaussian inits and the diagonal inits; refused for real Gaussian inits).
    out : path, optional
        Run directory for ``radii.csv`` and ``run.json``: new, empty, or the same run unless
        ``force``. Claimed (created and locked) before any work and held until written, so a second
        run into it stops at once; if this run fails, a directory it created is removed.
    plot : path, optional
        Figure file (.png, .pdf, .svg); checked before any work.

    Returns
    -------
    RadiusReport

    Examples
    --------
    >>> rep = radius_report(40, samples=20, field="complex", method="law", seed=1)
    >>> rep.method_label, rep.theory.source, rep.stats.count
    ('exact in law, no matrices', 'Kostlan exact', 20)
    """
    n, samples = whole_number(n, "n", minimum=2), whole_number(samples, "samples")
    method = choice(method, "method", METHODS)
    opts = init_options(seed, init=init, **options)
    diagonal = INITS[init].diagonal
    sampling = Sampling(method, seed, device, precision, workers, chunk_size, sampler)
    estimate = sampling.guard(n, samples, init=init, field=field)
    parameters = {
        "n": n,
        "samples": samples,
        "method": method,
        "init": init,
        "field": "complex" if diagonal else field,
        "device": device,
        "precision": precision,
        "seed": seed,
        "workers": workers,
        "chunk_size": chunk_size,
        "rmin": opts.rmin,
        "rmax": opts.rmax,
        "max_phase": opts.max_phase,
        "rescale": opts.rescale,
        "coverage": opts.coverage,
        "sampler": choice(sampler, "sampler", SAMPLERS),
    }

    def compute(held: Path | None) -> RadiusReport:
        if held is not None and estimate is not None:
            check_disk(held, estimate.disk)
        check_plot_path(plot)
        ensemble = make_ensemble(init, n, field, opts)
        radii, dev, elapsed = sampling.draw(ensemble, samples, on_progress)
        limit = ensemble.asymptotic_law()
        return RadiusReport(
            command="radius",
            n=n,
            samples=samples,
            init=init,
            field=ensemble.field,
            device=dev,
            precision=precision,
            seed=seed,
            method=method,
            method_label=LAW_LABEL if method == "law" else MATRICES_LABEL,
            sampler=None if method == "law" else resolve_sampler(ensemble, sampler, dev),
            stats=radius_stats(radii),
            theory=ensemble.law_summary(),
            asymptotic=summarize_law(limit, ensemble.asymptotic_label() or "") if limit is not None else None,
            rider_location=theory.rider_location(n) if n > theory.LAST_UNDEFINED_N else None,
            rescaling=ensemble.rescaling,
            radii=radii,
            elapsed_s=elapsed,
            matrices_per_s=None if method == "law" or elapsed <= 0 else samples / elapsed,
            ensemble=ensemble,
            parameters=parameters,
        )

    return run_one_shot(out, "radius", parameters, compute, force=force, plot=plot)

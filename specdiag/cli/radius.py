"""``specdiag radius``: sample matrices, report their spectral radii with theory beside."""

from __future__ import annotations

import time
from enum import Enum
from typing import Annotated

import typer

from .. import _theory as theory
from .._inits import INITS, make_ensemble, summarize_law
from .._report import csv_document, json_document, prepare_out_dir, run_metadata, write_run_files
from .._spectra import LAW_LABEL, METHODS, law_radii, radius_stats, sample_radii
from .._validation import whole_number
from .root import app
from .options import (
    CalibrationSamples, ChunkSize, Coverage, DeviceOpt, FieldOpt, Init, MaxPhase, N, Out, Plot, Precision, Rescale,
    Force, Rmax, Rmin, Seed, Workers, check_plot_path, describe_rescaling, init_options, value,
)
from .output import Format, command, emit, note, progress, rich_table

__all__ = ["radius"]

SamplePrecision = Annotated[Precision, typer.Option("--precision", help="Eigenvalue precision: single (float32, ample for radii) or double.")]
Method = Enum("Method", {m: m for m in METHODS}, type=str)
MethodOpt = Annotated[
    Method,
    typer.Option("--method", help="matrices: eigenvalues of sampled matrices. law: exact draws from the radius law, no matrices "
                 "(complex glorot/half/rescaled: Kostlan; uniform-diag, uniform-disk, lru: closed forms); refused for real Gaussian inits."),
]


def sample_for_cli(n, samples, init, field, seed, device, precision, workers, chunk_size, options, show_progress, method="matrices"):
    """Build the ensemble and sample radii with a progress bar; (ensemble, radii, device, seconds).

    method "law": exact draws from the radius law (no matrices, no device); device is "none".
    """
    from .._backend import resolve_device  # noqa: PLC0415

    ensemble = make_ensemble(value(init), n, value(field), options)
    if value(method) == "law":
        start = time.perf_counter()
        radii = law_radii(ensemble, samples, seed)
        return ensemble, radii, "none", time.perf_counter() - start
    dev = resolve_device(value(device))
    start = time.perf_counter()
    with progress(samples, f"radii n={n}", show_progress) as advance:
        radii = sample_radii(ensemble, samples, seed, precision=value(precision), device=dev, workers=workers, chunk_size=chunk_size, on_progress=advance)
    return ensemble, radii, dev, time.perf_counter() - start


@command(app)
def radius(
    n: N = 500,
    samples: Annotated[int, typer.Option("--samples", help="Number of matrices (or of exact draws, --method law).")] = 100,
    method: MethodOpt = "matrices",
    init: Init = "glorot",
    field: FieldOpt = "real",
    seed: Seed = 0,
    device: DeviceOpt = "auto",
    precision: SamplePrecision = "single",
    workers: Workers = None,
    chunk_size: ChunkSize = None,
    rmin: Rmin = 0.4,
    rmax: Rmax = 0.9,
    max_phase: MaxPhase = 3.141592653589793,
    rescale: Rescale = "paper",
    coverage: Coverage = 0.9,
    calibration_samples: CalibrationSamples = 1000,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table (human), json (one document on stdout) or csv (index,radius rows).")] = Format.table,
    out: Out = None,
    plot: Plot = None,
    force: Force = False,
):
    """Sample matrices and report the statistics of their spectral radii, with theory beside."""
    from .._pool import resolve_workers  # noqa: PLC0415
    from .._resources import check_disk, guard, radius_estimate  # noqa: PLC0415

    n, samples = whole_number(n, "n", minimum=2), whole_number(samples, "samples")
    spec = INITS.get(value(init))
    diagonal = bool(spec and spec.diagonal)
    by_law = value(method) == "law"
    estimate = None if by_law else guard(radius_estimate(n, samples, field="complex" if diagonal else value(field), precision=value(precision), diagonal=diagonal, workers=resolve_workers(workers, tasks=samples)))
    parameters = {"n": n, "samples": samples, "method": value(method), "init": value(init), "field": "complex" if diagonal else value(field), "device": value(device), "precision": value(precision), "seed": seed}
    parameters.update(workers=workers, chunk_size=chunk_size, rmin=rmin, rmax=rmax, max_phase=max_phase, rescale=value(rescale), coverage=coverage)
    out = prepare_out_dir(out, command="radius", parameters=parameters, force=force)
    if out is not None and estimate is not None:
        check_disk(out, estimate.disk)
    plot = check_plot_path(plot)
    ensemble, radii, dev, elapsed = sample_for_cli(
        n, samples, init, field, seed, device, precision, workers, chunk_size,
        init_options(rmin, rmax, max_phase, rescale, coverage, seed, calibration_samples), value(fmt) == "table", method,
    )
    stats = radius_stats(radii).to_dict()
    stats.pop("count")
    summary = ensemble.law_summary()
    predicted = summary.to_dict() if summary else None
    limit = ensemble.asymptotic_law()
    asymptotic = summarize_law(limit, ensemble.asymptotic_label()).to_dict() if limit is not None else None
    rider = theory.rider_location(n) if n > theory.LAST_UNDEFINED_N else None
    init, precision = value(init), value(precision)
    doc = {
        "command": "radius", "n": n, "samples": samples, "init": init, "field": ensemble.field, "device": dev,
        "precision": precision, "seed": seed, "method": value(method), "method_label": LAW_LABEL if by_law else "eigenvalues of sampled matrices",
        "stats": stats, "theory": predicted, "asymptotic": asymptotic, "rider_location": rider,
        "rescaling": ensemble.rescaling.to_dict() if ensemble.rescaling else None, "radii": radii,
        "elapsed_s": elapsed, "matrices_per_s": None if by_law or elapsed <= 0 else samples / elapsed,
    }
    radii_csv = csv_document(["index", "radius"], enumerate(radii))
    if out is not None:  # radii.csv and run.json land together, or not at all
        meta = {**run_metadata("radius", parameters, device=dev, elapsed_s=elapsed), "stats": stats, "theory": predicted, "rescaling": doc["rescaling"]}
        write_run_files(out, {"radii.csv": radii_csv, "run.json": json_document(meta)})
    if plot is not None:
        from .._plots import radius_figure, radius_theory_curves, save_figure  # noqa: PLC0415

        save_figure(radius_figure(radii, n=n, field=ensemble.field, init=init, curves=radius_theory_curves(ensemble, radii)), plot)

    def table():
        keys = ("mean", "std", "q05", "median", "q95", "p_above_1")
        rows = [(key, stats[key], predicted.get(key) if predicted else None, *((asymptotic[key],) if asymptotic else ())) for key in keys]
        rows += [("min", stats["min"], None, *((None,) if asymptotic else ())), ("max", stats["max"], None, *((None,) if asymptotic else ()))]
        source = predicted["source"] if predicted else "no law at this n"
        if by_law:
            caption = [f"{samples} radii drawn in {elapsed:.2f} s: {LAW_LABEL} (seed {seed})"]
        else:
            caption = [f"{samples} matrices in {elapsed:.2f} s ({samples / max(elapsed, 1e-9):.1f} matrices/s) on {dev}, {precision} precision, seed {seed}"]
        if rider is not None:
            caption.append(f"Rider location 1 + sqrt(g_n/4n) = {rider:.5f}")
        if (text := describe_rescaling(ensemble)) is not None:
            caption.append(text)
        header = ["statistic", "sample" if not by_law else "draws (exact in law)", f"theory ({source})", *((asymptotic["source"],) if asymptotic else ())]
        return rich_table(f"spectral radius: {init}, {ensemble.field}, n = {n}", header, rows, caption="\n".join(caption))

    emit(doc, fmt, table=table, csv=lambda: radii_csv)
    if value(fmt) == "table":
        for path in filter(None, (out, plot)):
            note(f"wrote {path}")

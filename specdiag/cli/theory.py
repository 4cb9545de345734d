"""``specdiag inits``, ``theory`` and ``fit-gumbel``: what is known, and how sampled radii compare."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._api import theory_summary
from .._fit import CI_METHODS, compare_laws, load_radii
from .._inits import INITS
from .._spectra import LAW_LABEL
from .._theory import EULER_GAMMA
from .._validation import choice, probability, whole_number
from .root import app
from .options import (
    CalibrationSamples, ChunkSize, Coverage, DeviceOpt, FieldOpt, Init, MaxPhase, N, Plot, Rescale, Rmax,
    Rmin, Seed, Workers, check_plot_path, init_options, parse_int_list, value,
)
from .output import TableOrJson, command, emit, note, rich_table
from .radius import MethodOpt, SamplePrecision, sample_for_cli

__all__ = ["inits", "theory_command", "fit_gumbel_command"]

FormatOpt = Annotated[TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")]
CIMethod = Enum("CIMethod", {m: m for m in CI_METHODS}, type=str)


@command(app)
def inits(fmt: FormatOpt = TableOrJson.table):
    """List every initialization with its definition."""
    rows = [(spec.name, ", ".join(spec.fields), spec.formula) for spec in INITS.values()]
    doc = {"command": "inits", "inits": [{"name": spec.name, "fields": list(spec.fields), "formula": spec.formula, "diagonal": spec.diagonal} for spec in INITS.values()]}
    emit(doc, fmt, table=lambda: rich_table("initializations", ["name", "fields", "definition"], rows))


THEORY_ROWS = (
    ("g_n", ("g_n",)),
    ("s_n (paper)", ("s_n",)),
    ("Rider location", ("rider_location",)),
    ("Rider scale", ("rider_scale",)),
    ("limit mean, real (Rider-Sinclair)", ("asymptotic", "real", "mean")),
    ("limit sd, real (Rider-Sinclair)", ("asymptotic", "real", "std")),
    ("limit mean, complex (Rider)", ("asymptotic", "complex", "mean")),
    ("limit sd, complex (Rider)", ("asymptotic", "complex", "std")),
    ("finite-n mean, real (table)", ("finite_n_real", "mean")),
    ("  its Monte Carlo SE", ("finite_n_real", "se_mean")),
    ("finite-n sd, real (table)", ("finite_n_real", "std")),
    ("finite-n q05, real (table)", ("finite_n_real", "q05")),
    ("finite-n q95, real (table)", ("finite_n_real", "q95")),
    ("finite-n P(rho>1), real", ("finite_n_real", "p_above_1")),
    ("exact mean, complex", ("exact_complex", "mean")),
    ("exact sd, complex", ("exact_complex", "std")),
    ("exact q05, complex", ("exact_complex", "q05")),
    ("exact q95, complex", ("exact_complex", "q95")),
    ("exact P(rho>1), complex", ("exact_complex", "p_above_1")),
    ("rescaled exact mean, complex", ("exact_complex_rescaled", "mean")),
    ("rescaled exact P(rho>1)", ("exact_complex_rescaled", "p_above_1")),
    ("calibrated s, complex", ("calibrated_complex", "s")),
)


def _get(row, path):
    for key in path:
        row = None if row is None else row.get(key)
    return row


@command(app, "theory")
def theory_command(
    n: Annotated[str, typer.Option("--n", help="Width, or a comma-separated list: --n 256,500,1000.")] = "500",
    coverage: Coverage = 0.9,
    fmt: FormatOpt = TableOrJson.table,
):
    """Predicted law of the spectral radius: g_n, s_n, finite-n laws (Kostlan exact, real table), limit laws."""
    from .._resources import guard, theory_estimate  # noqa: PLC0415

    widths = [whole_number(w, "n", minimum=2) for w in parse_int_list(n, "--n")]
    probability(coverage, "coverage")
    for w in widths:  # Kostlan's exact law costs O(n): refuse or warn before the first row
        guard(theory_estimate(w))
    rows = [theory_summary(w, coverage) for w in widths]

    def table():
        body = [(label, *(v if (v := _get(r, path)) is not None else "undefined" for r in rows)) for label, path in THEORY_ROWS]
        notes = [f"n = {r['n']}: {r['undefined_reason']}" for r in rows if "undefined_reason" in r]
        notes.append(f"calibrated s: coverage {coverage}; the limit laws (n -> inf) overstate the spread 2-4x at practical n; the exact complex law is Kostlan's")
        notes.append(f"finite-n real: {rows[0]['finite_n_real']['source']}")
        return rich_table("spectral radius theory", ["quantity", *(f"n = {w}" for w in widths)], body, caption="\n".join(notes))

    emit({"command": "theory", "rows": rows}, fmt, table=table)


@command(app, "fit-gumbel")
def fit_gumbel_command(
    n: N = 500,
    samples: Annotated[int, typer.Option("--samples", help="Number of matrices to sample, or of exact draws with --method law (ignored with --from).")] = 500,
    method: MethodOpt = "matrices",
    from_file: Annotated[Optional[Path], typer.Option("--from", help="Fit radii from a .csv/.json/.npy file instead of sampling (give --n and --field of the sample).")] = None,
    init: Init = "glorot",
    field: FieldOpt = "real",
    seed: Seed = 0,
    device: DeviceOpt = "auto",
    precision: SamplePrecision = "single",
    workers: Workers = None,
    chunk_size: ChunkSize = None,
    rmin: Rmin = 0.4,
    rmax: Rmax = 0.9,
    max_phase: MaxPhase = math.pi,
    rescale: Rescale = "paper",
    coverage: Coverage = 0.9,
    calibration_samples: CalibrationSamples = 1000,
    level: Annotated[float, typer.Option("--level", help="Confidence level of the parameter intervals.")] = 0.95,
    ci: Annotated[CIMethod, typer.Option("--ci", help="Interval method: bootstrap (percentile, refits), wald (Fisher information, instant) or auto (bootstrap up to 20,000 radii, wald above).")] = "auto",
    bootstrap_samples: Annotated[int, typer.Option("--bootstrap-samples", help="Bootstrap refits.")] = 999,
    fmt: FormatOpt = TableOrJson.table,
    plot: Plot = None,
):
    """Fit a Gumbel law to radii; compare with the finite-n laws (Kostlan exact, real table) and the limit laws."""
    field, init = value(field), value(init)
    choice(field, "field", ("real", "complex"))
    probability(level, "level")
    whole_number(n, "n", minimum=2)
    plot = check_plot_path(plot)
    if from_file is not None:
        radii = load_radii(from_file)
    else:
        ensemble, radii, _, _ = sample_for_cli(
            n, samples, init, field, seed, device, precision, workers, chunk_size,
            init_options(rmin, rmax, max_phase, rescale, coverage, seed, calibration_samples), value(fmt) == "table", method,
        )
        field = ensemble.field
        if init != "glorot":
            note(f"note: the theory columns are Glorot's laws; the sample is {init}")
    result = compare_laws(radii, n, field, level, ci=value(ci), resamples=bootstrap_samples)
    by_law = from_file is None and value(method) == "law"
    source = str(from_file) if from_file else (LAW_LABEL if by_law else "sampled")
    doc = {"command": "fit-gumbel", "n": n, "samples": int(radii.size), "field": field, "init": None if from_file else init, "method": None if from_file else value(method), "source": source, **result}
    if plot is not None:
        from .._plots import fit_figure, save_figure  # noqa: PLC0415

        save_figure(fit_figure(radii, result, n=n, field=field, init=init if from_file is None else "radii"), plot)

    def table():
        fitted, asym, exact, real = result["fit"], result["asymptotic"], result["exact"], result["finite_n_real"]
        rows = [
            ("sample", None, None, result["sample"]["mean"], result["sample"]["std"], None, None),
            ("fitted Gumbel (ML)", fitted["loc"], fitted["scale"], fitted["loc"] + EULER_GAMMA * fitted["scale"], fitted["scale"] * math.pi / math.sqrt(6), fitted["ks_statistic"], fitted["ks_pvalue"]),
        ]
        if exact:
            rows.append(("exact (Kostlan)", None, None, exact["mean"], exact["std"], exact["ks_statistic"], exact["ks_pvalue"]))
        if real:
            rows.append(("finite-n real (table)", None, None, real["mean"], real["std"], real["ks_statistic"], real["ks_pvalue"]))
        limit_name = "Rider limit, n -> inf" if field == "complex" else "Rider-Sinclair limit, n -> inf"
        if asym:
            rows.append((limit_name, asym["loc"], asym["scale"], asym["mean"], asym["std"], asym["ks_statistic"], asym["ks_pvalue"]))
        else:
            rows.append((limit_name, "undefined", "undefined", None, None, None, None))
        caption = [
            f"{radii.size} radii ({source}), n = {n}, {field}; {int(level * 100)}% {fitted['ci_method']} CI loc [{fitted['loc_ci'][0]:.5f}, {fitted['loc_ci'][1]:.5f}], scale [{fitted['scale_ci'][0]:.5f}, {fitted['scale_ci'][1]:.5f}]",
            "the fitted law's KS p-value is optimistic (parameters estimated from the same radii)",
        ]
        if real:
            caption.append(f"finite-n real: {real['source']}; mean SE {real['se_mean']:.1e}")
        if not asym:
            caption.append(result.get("asymptotic_reason", ""))
        return rich_table("Gumbel fit of the spectral radius", ["law", "loc", "scale", "mean", "sd", "KS stat", "KS p"], rows, caption="\n".join(caption))

    emit(doc, fmt, table=table)


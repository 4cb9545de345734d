"""``specdiag inits``, ``theory`` and ``fit-gumbel``: what is known, and how sampled radii compare."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._api import inits_report
from .._fit import CI_METHODS, FitReport, fit_report
from .._theory import EULER_GAMMA
from .._theory_report import TheoryReport, theory_report
from .root import app
from .options import (
    Field,
    InitName,
    Method,
    Coverage,
    FieldOpt,
    Init,
    InitKeywords,
    MethodOpt,
    N,
    Plot,
    Sampling,
    grouped_options,
    parse_int_list,
    value,
)
from .output import FormatOpt, TableOrJson, command, emit, note, progress, rich_table

__all__ = ["inits", "theory_command", "fit_gumbel_command", "theory_table", "fit_table"]

CIMethod = Enum("CIMethod", {m: m for m in CI_METHODS}, type=str)  # type: ignore[misc]  # members come from the registry


@command(app)
def inits(fmt: FormatOpt = TableOrJson.table):
    """List every initialization with its definition."""
    report = inits_report()
    rows = [(i.name, ", ".join(i.fields), i.formula) for i in report.inits]
    emit(report.to_dict(), fmt, table=lambda: rich_table("initializations", ["name", "fields", "definition"], rows))


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
    ("  its Monte Carlo SE", ("finite_n_real", "p_above_1_se")),
    ("  bound (tail extrapolated)", ("finite_n_real", "p_above_1_bound")),
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
    report = theory_report(parse_int_list(n, "--n"), coverage=coverage)
    emit(report.to_dict(), fmt, table=lambda: theory_table(report))


def theory_table(report: TheoryReport):
    """One column per width, one row per quantity; "undefined" where the limit laws are."""
    rows = [r.to_dict() for r in report.rows]
    body = [
        (label, *(v if (v := _get(r, path)) is not None else "undefined" for r in rows)) for label, path in THEORY_ROWS
    ]
    notes = [f"n = {r['n']}: {r['undefined_reason']}" for r in rows if "undefined_reason" in r]
    coverage = report.rows[0].coverage
    notes.append(
        f"calibrated s: coverage {coverage}; the limit laws (n -> inf) overstate the spread 2-4x at practical n; the "
        "exact complex law is Kostlan's"
    )
    notes.append(f"finite-n real: {rows[0]['finite_n_real']['source']}")
    return rich_table(
        "spectral radius theory", ["quantity", *(f"n = {r['n']}" for r in rows)], body, caption="\n".join(notes)
    )


@command(app, "fit-gumbel")
@grouped_options
def fit_gumbel_command(
    n: N = 500,
    samples: Annotated[
        int,
        typer.Option(
            "--samples", help="Number of matrices to sample, or of exact draws with --method law (ignored with --from)."
        ),
    ] = 500,
    method: MethodOpt = Method("matrices"),
    from_file: Annotated[
        Optional[Path],
        typer.Option(
            "--from",
            help="Fit radii from a .csv/.json/.npy file instead of sampling (give --n and --field of the sample).",
        ),
    ] = None,
    init: Init = InitName("glorot"),
    field: FieldOpt = Field("real"),
    sampling: Sampling = None,
    init_options: InitKeywords = None,
    level: Annotated[float, typer.Option("--level", help="Confidence level of the parameter intervals.")] = 0.95,
    ci: Annotated[
        CIMethod,
        typer.Option(
            "--ci",
            help="Interval method: bootstrap (percentile, refits), wald (Fisher information, instant) or auto "
            "(bootstrap up to 20,000 radii, wald above).",
        ),
    ] = CIMethod("auto"),
    bootstrap_samples: Annotated[int, typer.Option("--bootstrap-samples", help="Bootstrap refits.")] = 999,
    fmt: FormatOpt = TableOrJson.table,
    plot: Plot = None,
):
    """Fit a Gumbel law to radii; compare with the finite-n laws (Kostlan exact, real table) and the limit laws."""
    draws_matrices = from_file is None and value(method) == "matrices"
    with progress(samples if draws_matrices else 0, f"radii n={n}", value(fmt) == "table") as advance:
        report = fit_report(
            n,
            samples=samples,
            method=value(method),
            from_file=from_file,
            init=value(init),
            field=value(field),
            level=level,
            ci=value(ci),
            bootstrap_samples=bootstrap_samples,
            plot=plot,
            on_progress=advance,
            **sampling,
            **init_options,
        )
    if report.init not in (None, "glorot"):
        note(f"note: the theory columns are Glorot's laws; the sample is {report.init}")
    emit(report.to_dict(), fmt, table=lambda: fit_table(report))


def fit_table(report: FitReport):
    """The sample, the fitted Gumbel law, the finite-n law and the limit law, with KS statistics."""
    c = report.comparison
    fitted, asym, exact, real = c.fit, c.asymptotic, c.exact, c.finite_n_real
    rows: list[tuple] = [
        ("sample", None, None, c.sample.mean, c.sample.std, None, None),
        (
            "fitted Gumbel (ML)",
            fitted.loc,
            fitted.scale,
            fitted.loc + EULER_GAMMA * fitted.scale,
            fitted.scale * math.pi / math.sqrt(6),
            fitted.ks_statistic,
            fitted.ks_pvalue,
        ),
    ]
    if exact:
        rows.append(("exact (Kostlan)", None, None, exact.mean, exact.std, exact.ks_statistic, exact.ks_pvalue))
    if real:
        rows.append(("finite-n real (table)", None, None, real.mean, real.std, real.ks_statistic, real.ks_pvalue))
    limit_name = "Rider limit, n -> inf" if report.field == "complex" else "Rider-Sinclair limit, n -> inf"
    if asym:
        rows.append((limit_name, asym.loc, asym.scale, asym.mean, asym.std, asym.ks_statistic, asym.ks_pvalue))
    else:
        rows.append((limit_name, "undefined", "undefined", None, None, None, None))
    (loc_lo, loc_hi), (scale_lo, scale_hi) = fitted.loc_ci, fitted.scale_ci
    caption = [
        f"{report.samples} radii ({report.source}), n = {report.n}, {report.field}; {int(fitted.level * 100)}% "
        f"{fitted.ci_method} CI "
        f"loc [{loc_lo:.5f}, {loc_hi:.5f}], scale [{scale_lo:.5f}, {scale_hi:.5f}]",
        "the fitted law's KS p-value is optimistic (parameters estimated from the same radii)",
    ]
    if real:
        caption.append(f"finite-n real: {real.source}; mean SE {real.se_mean:.1e}")
    if not asym:
        caption.append(c.asymptotic_reason or "")
    return rich_table(
        "Gumbel fit of the spectral radius",
        ["law", "loc", "scale", "mean", "sd", "KS stat", "KS p"],
        rows,
        caption="\n".join(caption),
    )

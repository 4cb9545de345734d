"""``specdiag radius``: sample matrices, report their spectral radii with theory beside."""

from __future__ import annotations

from typing import Annotated

import typer

from .._radius_report import RadiusReport, radius_report
from .root import app
from .options import (
    Field,
    InitName,
    Method,
    FieldOpt,
    Force,
    Init,
    InitKeywords,
    MethodOpt,
    N,
    Out,
    Plot,
    Sampling,
    describe_rescaling,
    grouped_options,
    value,
)
from .output import Format, TableJsonCsvOpt, command, emit, note, progress, rich_table

__all__ = ["radius", "radius_table"]


@command(app)
@grouped_options
def radius(
    n: N = 500,
    samples: Annotated[
        int, typer.Option("--samples", help="Number of matrices (or of exact draws, --method law).")
    ] = 100,
    method: MethodOpt = Method("matrices"),
    init: Init = InitName("glorot"),
    field: FieldOpt = Field("real"),
    sampling: Sampling = None,
    init_options: InitKeywords = None,
    fmt: TableJsonCsvOpt = Format.table,
    out: Out = None,
    plot: Plot = None,
    force: Force = False,
):
    """Sample matrices and report the statistics of their spectral radii, with theory beside."""
    with progress(samples if value(method) == "matrices" else 0, f"radii n={n}", value(fmt) == "table") as advance:
        report = radius_report(
            n,
            samples=samples,
            method=value(method),
            init=value(init),
            field=value(field),
            out=out,
            plot=plot,
            force=force,
            on_progress=advance,
            **sampling,
            **init_options,
        )
    emit(report.to_dict(), fmt, table=lambda: radius_table(report), csv=report.csv)
    if value(fmt) == "table":
        for path in filter(None, (out, plot)):
            note(f"wrote {path}")


def radius_table(r: RadiusReport):
    """The sample's statistics beside the finite-n law and the limit law."""
    keys = ("mean", "std", "q05", "median", "q95", "p_above_1")
    stats, theory, limit = (
        r.stats.to_dict(),
        r.theory.to_dict() if r.theory else None,
        r.asymptotic.to_dict() if r.asymptotic else None,
    )
    extra = (None,) if limit else ()
    rows = [
        (
            key,
            stats[key],
            (theory.get(f"{key}_bound") or theory.get(key)) if theory else None,
            *((limit[key],) if limit else ()),
        )
        for key in keys
    ]
    rows += [("min", stats["min"], None, *extra), ("max", stats["max"], None, *extra)]
    by_law = r.method == "law"
    if by_law:
        caption = [f"{r.samples} radii drawn in {r.elapsed_s:.2f} s: {r.method_label} (seed {r.seed})"]
    else:
        rate = r.samples / max(r.elapsed_s, 1e-9)
        caption = [
            f"{r.samples} matrices in {r.elapsed_s:.2f} s ({rate:.1f} matrices/s) on {r.device}, {r.precision} "
            f"precision, {r.sampler} sampler, seed {r.seed}"
        ]
    if r.rider_location is not None:
        caption.append(f"Rider location 1 + sqrt(g_n/4n) = {r.rider_location:.5f}")
    if (text := describe_rescaling(r.rescaling)) is not None:
        caption.append(text)
    if theory and theory.get("p_above_1_se") is not None:
        caption.append(f"theory P(rho > 1): Monte Carlo s.e. {theory['p_above_1_se']:.2g} (table)")
    source = theory["source"] if theory else "no law at this n"
    header = [
        "statistic",
        "draws (exact in law)" if by_law else "sample",
        f"theory ({source})",
        *((limit["source"],) if limit else ()),
    ]
    return rich_table(f"spectral radius: {r.init}, {r.field}, n = {r.n}", header, rows, caption="\n".join(caption))

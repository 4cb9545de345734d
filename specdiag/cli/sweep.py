"""``specdiag sweep``: radius statistics (and dynamics) over a grid of widths, inits and fields."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .._errors import InputError
from .._inits import FIELDS, INITS
from .._sweep import SweepResult
from .._sweep import sweep as run_sweep_library
from .._text import printable
from .root import app
from .options import (
    Coverage,
    Device,
    Force,
    Out,
    Precision,
    Rescale,
    RescaleMethod,
    Seed,
    Workers,
    parse_int_list,
    parse_name_list,
    value,
)
from .output import EXIT_INCOMPLETE, TableOrJson, command, emit, exit_codes_help, note, progress, rich_table

__all__ = ["sweep", "EXIT_CODES"]

#: sweep's own exit codes (beside 0, 2, 130, 143): README's exit-code paragraph and --help
EXIT_CODES = {
    0: "every task done (or reused)",
    2: "bad input, a failed read or write, or the Dask cluster went away (saved tasks stay: --resume)",
    EXIT_INCOMPLETE: "run incomplete: some tasks failed (the others are saved); --resume finishes them",
}


@command(app, epilog=exit_codes_help(EXIT_CODES))
def sweep(
    n: Annotated[Optional[str], typer.Option("--n", help="Widths, comma-separated: --n 128,256,512,1024.")] = None,
    init: Annotated[str, typer.Option("--init", help="Initializations, comma-separated.")] = "glorot",
    field: Annotated[str, typer.Option("--field", help="Fields, comma-separated: real,complex.")] = "real",
    samples: Annotated[int, typer.Option("--samples", help="Matrices per grid point.")] = 400,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Matrices per task (does not change results).")] = 50,
    dynamics: Annotated[
        Optional[str], typer.Option("--dynamics", help="c values: also ||W^k||_F^2/n and ||h_t|| at k = t = c sqrt(n).")
    ] = None,
    out: Out = None,
    resume: Annotated[
        Optional[Path],
        typer.Option("--resume", help="Finish an interrupted sweep in this directory (its own options)."),
    ] = None,
    from_dir: Annotated[
        Optional[Path], typer.Option("--from", help="Use a finished sweep's results (with --plot: redraw its figures).")
    ] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Draw the scaling figures into the sweep directory.")] = False,
    scheduler: Annotated[
        Optional[str],
        typer.Option(
            "--scheduler",
            help="Dask scheduler address (tcp://host:8786) or local (a LocalCluster); default: a local process pool.",
        ),
    ] = None,
    workers: Workers = None,
    device: Annotated[
        Device,
        typer.Option("--device", help="cpu, gpu or auto, resolved on each worker (a local GPU run uses one process)."),
    ] = Device("cpu"),
    seed: Seed = 0,
    precision: Annotated[
        Precision, typer.Option("--precision", help="Eigenvalue precision: single (float32) or double.")
    ] = Precision("single"),
    rescale: Rescale = RescaleMethod("paper"),
    coverage: Coverage = 0.9,
    sampler: Annotated[
        Optional[str],
        typer.Option(
            "--sampler",
            help="Radius sampler: hessenberg (exact in law, faster; the default) or dense (the matrices themselves; "
            "always with --dynamics).",
        ),
    ] = None,
    fmt: Annotated[
        TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")
    ] = TableOrJson.table,
    force: Force = False,
):
    """Radius statistics (and dynamics) over a grid of widths, inits and fields; resumable."""
    try:
        cs = tuple(float(c) for c in dynamics.split(",")) if dynamics else ()
    except ValueError:
        raise InputError(f"dynamics must be comma-separated numbers, got {dynamics!r}", param="dynamics") from None
    table_format = value(fmt) == "table"
    result = run_sweep_library(
        parse_int_list(n, "--n") if n is not None else None,
        out=out,
        inits=parse_name_list(init, "--init", list(INITS)),
        fields=parse_name_list(field, "--field", FIELDS),
        samples=samples,
        chunk_size=chunk_size,
        dynamics=cs,
        seed=seed,
        precision=value(precision),
        rescale=value(rescale),
        coverage=coverage,
        device=value(device),
        scheduler=scheduler,
        workers=workers,
        sampler=sampler,
        resume=resume,
        from_dir=from_dir,
        plot=plot,
        force=force,
        progress=lambda total: progress(total, "sweep tasks", table_format),
    )
    emit(result.to_dict(), fmt, table=lambda: _table(result, caption=from_dir is None))
    if table_format:
        for name in result.figures:
            note(f"wrote {printable(Path(result.out) / name)}")
    if result.failed_tasks:
        note(f"{len(result.failed_tasks)} tasks failed: rerun with --resume {printable(result.out)}")
        raise typer.Exit(EXIT_INCOMPLETE)


def _table(result: SweepResult, *, caption: bool):
    rows = [
        (
            p["id"],
            p.get("samples"),
            p.get("radius_mean"),
            p.get("radius_std"),
            p.get("p_above_1"),
            f"[{p['p_above_1_lo']:.3f}, {p['p_above_1_hi']:.3f}]" if p.get("complete") else "incomplete",
            p.get("theory_mean"),
            p.get("theory_p_above_1"),
        )
        for p in result.points
    ]
    header = ["point", "samples", "mean rho", "sd", "P(rho>1)", "95% CI", "theory mean", "theory P>1"]
    text = f"{result.computed_tasks} tasks computed, {result.reused_tasks} reused" if caption else None
    return rich_table(f"sweep: {printable(result.out)}", header, rows, caption=text)

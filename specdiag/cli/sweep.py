"""``specdiag sweep``: radius statistics (and dynamics) over a grid of widths, inits and fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._backend import resolve_device
from .._errors import InputError
from .._executors import make_executor
from .._inits import FIELDS, INITS
from .._pool import resolve_workers
from .._report import prepare_out_dir
from .._sweep import SweepConfig, draw_figures, grid, load_config, make_tasks, run_sweep
from .root import app
from .options import Coverage, Device, Force, Out, Precision, Rescale, Seed, Workers, parse_int_list, parse_name_list, value
from .output import TableOrJson, command, emit, note, progress, rich_table

__all__ = ["sweep"]


@command(app)
def sweep(
    n: Annotated[Optional[str], typer.Option("--n", help="Widths, comma-separated: --n 128,256,512,1024.")] = None,
    init: Annotated[str, typer.Option("--init", help="Initializations, comma-separated.")] = "glorot",
    field: Annotated[str, typer.Option("--field", help="Fields, comma-separated: real,complex.")] = "real",
    samples: Annotated[int, typer.Option("--samples", help="Matrices per grid point.")] = 400,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Matrices per task (does not change results).")] = 50,
    dynamics: Annotated[Optional[str], typer.Option("--dynamics", help="c values: also ||W^k||_F^2/n and ||h_t|| at k = t = c sqrt(n).")] = None,
    out: Out = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Finish an interrupted sweep in this directory (its own options).")] = None,
    from_dir: Annotated[Optional[Path], typer.Option("--from", help="Use a finished sweep's results (with --plot: redraw its figures).")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Draw the scaling figures into the sweep directory.")] = False,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786) or local (a LocalCluster); default: a local process pool.")] = None,
    workers: Workers = None,
    device: Annotated[Device, typer.Option("--device", help="cpu, gpu or auto, resolved on each worker (a local GPU run uses one process).")] = "cpu",
    seed: Seed = 0,
    precision: Annotated[Precision, typer.Option("--precision", help="Eigenvalue precision: single (float32) or double.")] = "single",
    rescale: Rescale = "paper",
    coverage: Coverage = 0.9,
    fmt: Annotated[TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")] = TableOrJson.table,
    force: Force = False,
):
    """Radius statistics (and dynamics) over a grid of widths, inits and fields; resumable."""
    if from_dir is not None:
        try:
            doc = json.loads((from_dir / "sweep.json").read_text())
        except (OSError, ValueError):
            raise InputError(f"no sweep.json in {str(from_dir)!r}: run `specdiag sweep --out {from_dir}` first") from None
        target = from_dir
    else:
        if resume is not None:
            cfg, target = load_config(resume), prepare_out_dir(resume)
        else:
            if n is None or out is None:
                raise InputError("give --n and --out for a new sweep (or --resume DIR, or --from DIR)")
            try:
                cs = tuple(float(c) for c in dynamics.split(",")) if dynamics else ()
            except ValueError:
                raise InputError(f"--dynamics must be comma-separated numbers, got {dynamics!r}") from None
            cfg = SweepConfig(
                ns=tuple(parse_int_list(n, "--n")), inits=parse_name_list(init, "--init", list(INITS)), fields=parse_name_list(field, "--field", FIELDS),
                samples=samples, seed=seed, chunk_size=chunk_size, precision=value(precision), dynamics=cs, rescale=value(rescale), coverage=coverage, device=value(device),
            ).validate()
            target = prepare_out_dir(out, command="sweep", force=force)
        # CUDA does not survive fork: a local sweep on the GPU runs in this process
        local_gpu = scheduler is None and cfg.device != "cpu" and resolve_device(cfg.device) == "gpu"
        executor = make_executor(scheduler, 1 if local_gpu else resolve_workers(workers))

        total = len(make_tasks(cfg, {p: None for p in grid(cfg)}))
        try:
            with progress(total, "sweep tasks", value(fmt) == "table") as advance:
                def on_task(task, error):
                    if error is not None:
                        note(f"task failed: {task.point.id} matrices {task.start}-{task.stop - 1}: {type(error).__name__}: {error}")
                    if advance:
                        advance(1)

                doc = run_sweep(cfg, target, executor, on_task=on_task, force=force)
        finally:
            executor.close()
    figures = draw_figures(target, doc["points"]) if plot else []

    def table():
        rows = [
            (p["id"], p.get("samples"), p.get("radius_mean"), p.get("radius_std"), p.get("p_above_1"),
             f"[{p['p_above_1_lo']:.3f}, {p['p_above_1_hi']:.3f}]" if p.get("complete") else "incomplete", p.get("theory_mean"), p.get("theory_p_above_1"))
            for p in doc["points"]
        ]
        return rich_table(f"sweep: {target}", ["point", "samples", "mean rho", "sd", "P(rho>1)", "95% CI", "theory mean", "theory P>1"], rows,
                          caption=f"{doc.get('computed_tasks', 0)} tasks computed, {doc.get('reused_tasks', 0)} reused" if from_dir is None else None)

    emit({**doc, "figures": figures}, fmt, table=table)
    if value(fmt) == "table":
        for name in figures:
            note(f"wrote {target / name}")
    if doc.get("failed_tasks"):
        note(f"{len(doc['failed_tasks'])} tasks failed: rerun with --resume {target}")
        raise typer.Exit(1)

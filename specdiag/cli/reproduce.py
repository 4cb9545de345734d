"""``specdiag reproduce``: the paper's Figures 1-4, an eigenvalue figure and summary tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from .._reproduce import reproduce as run_reproduce
from .._text import printable
from .root import app
from .options import Coverage, Device, DeviceOpt, Force, Precision, Rescale, RescaleMethod, Seed, value
from .output import (
    StageProgress,
    TableOrJson,
    command,
    emit,
    exit_codes_help,
    note,
    rich_table,
)  # StageProgress: the one progress bar

__all__ = ["reproduce"]


@command(app, epilog=exit_codes_help({0: "every figure and table written (run.json says complete)"}))
def reproduce(
    out: Annotated[
        Optional[Path],
        typer.Option("--out", help="Run directory (created; an existing one with the same options is resumed)."),
    ] = None,
    from_dir: Annotated[
        Optional[Path], typer.Option("--from", help="Redraw figures and tables from a run directory, without sampling.")
    ] = None,
    figure: Annotated[
        str,
        typer.Option(
            "--figure",
            help="Which outputs: all (1,2,3,4,eigenvalues,tables), or a comma list of "
            "1,2,3,4,eigenvalues,tables,moduli (moduli: pooled eigenvalue-modulus density against the circular law).",
        ),
    ] = "all",
    quick: Annotated[
        bool, typer.Option("--quick", help="Small sizes (n = 200): a smoke run in well under a minute.")
    ] = False,
    n: Annotated[Optional[int], typer.Option("--n", help="Width (default 500; 200 with --quick).")] = None,
    samples: Annotated[Optional[int], typer.Option("--samples", help="Radii per (init, field) (default 100).")] = None,
    matrices: Annotated[
        Optional[int], typer.Option("--matrices", help="Matrices per dynamics panel (default 100).")
    ] = None,
    inputs: Annotated[
        Optional[int], typer.Option("--inputs", help="Inputs per matrix in Figures 1-2 (default 50).")
    ] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Last k and t in Figures 1-2 (default 1000).")] = None,
    fig4_matrices: Annotated[
        Optional[int], typer.Option("--fig4-matrices", help="Figure 4: matrices per field (default 100).")
    ] = None,
    fig4_inputs: Annotated[
        Optional[int], typer.Option("--fig4-inputs", help="Figure 4: input sequences per matrix (default 5).")
    ] = None,
    fig4_steps: Annotated[
        Optional[int], typer.Option("--fig4-steps", help="Figure 4: last time step t (default 3000).")
    ] = None,
    trajectory_every: Annotated[
        Optional[int],
        typer.Option(
            "--trajectory-every",
            help="Figures 1-2: record ||W^k x|| every this many k (default 4; exact, W^4 applied directly).",
        ),
    ] = None,
    seed: Seed = 0,
    device: DeviceOpt = Device("auto"),
    precision: Annotated[
        Precision,
        typer.Option("--precision", help="Precision of eigenvalues and propagated states: single (float32) or double."),
    ] = Precision("single"),
    rescale: Rescale = RescaleMethod("paper"),
    coverage: Coverage = 0.9,
    vector: Annotated[bool, typer.Option("--vector", help="Also write PDF and SVG figures.")] = False,
    fmt: Annotated[
        TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")
    ] = TableOrJson.table,
    force: Force = False,
):
    """Reproduce Figures 1-4, an eigenvalue figure and the summary tables into a run directory.

    Scope: the paper's training tables (LRA sCIFAR, ListOps, IMDb) are not reproduced; this covers
    its spectral and dynamical results (Figures 1-4 and the radius statistics).
    """
    sizes = dict(
        samples=samples,
        matrices=matrices,
        inputs=inputs,
        steps=steps,
        fig4_matrices=fig4_matrices,
        fig4_inputs=fig4_inputs,
        fig4_steps=fig4_steps,
        trajectory_every=trajectory_every,
    )
    result = run_reproduce(
        n,
        out=out,
        from_dir=from_dir,
        quick=quick,
        figure=figure,
        device=value(device),
        vector=vector,
        force=force,
        progress=StageProgress(value(fmt) == "table"),
        seed=seed,
        precision=value(precision),
        rescale=value(rescale),
        coverage=coverage,
        **sizes,
    )
    emit(result.to_dict(), fmt, table=lambda: _summary_table(result.summary))
    if value(fmt) == "table":
        note(f"wrote {len(result.files)} files to {printable(result.out)}")


def _summary_table(rows: list):
    """The summary transposed (a column per init and field), four columns per block, so it stays
    readable in an 80-column terminal; fitted Gumbel parameters beside the theoretical ones."""
    if not rows:
        return Text("no summary: the run holds no radii")
    from rich.console import Group  # noqa: PLC0415

    labels = {
        "samples": "radii",
        "radius_mean": "radius mean",
        "radius_std": "radius sd",
        "radius_q05": "radius q05",
        "radius_q95": "radius q95",
        "p_above_1": "P(rho > 1)",
        "theory_mean": "theory mean",
        "theory_std": "theory sd",
        "theory_p_above_1": "theory P(rho > 1)",
        "gumbel_loc": "Gumbel loc (fit)",
        "theory_gumbel_loc": "Gumbel loc (finite-n)",
        "limit_gumbel_loc": "Gumbel loc (limit)",
        "gumbel_scale": "Gumbel scale (fit)",
        "theory_gumbel_scale": "Gumbel scale (finite-n)",
        "limit_gumbel_scale": "Gumbel scale (limit)",
        "blowup_step": "blow-up t (1000x)",
        "fig4_log10_mean_norm": "Fig. 4: log10 mean ||h_T|| over W",
        "fig4_log10_median_norm": "Fig. 4: log10 median ||h_T|| over W",
        "fig4_top_matrix_share": "Fig. 4: share of the mean from the top W",
    }
    keys = [k for k in labels if k in rows[0]] + [k for k in rows[0] if k.startswith("log10_hidden")]
    blocks = []
    for start in range(0, len(rows), 4):
        part = rows[start : start + 4]
        table_rows = [
            (labels.get(k, k.replace("log10_hidden_t", "log10 ||h_t||, t=")), *(r[k] for r in part)) for k in keys
        ]
        header = ["quantity", *(f"{r['init']}, {r['field']}" for r in part)]
        caption = "; ".join(f"{r['init']}, {r['field']}: {r['theory_source']}" for r in part if r.get("theory_source"))
        blocks.append(
            rich_table(f"summary (n = {rows[0]['n']})" if start == 0 else "", header, table_rows, caption=caption)
        )
    return Group(*blocks)

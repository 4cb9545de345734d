"""``specdiag trajectory`` and ``hidden``: ||W^k x|| and ||h_t|| over time, in log scale."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import numpy as np
import typer

from .._dynamics_report import SUMMARY_KEYS, DynamicsReport, dynamics_report
from .._errors import InputError
from .root import app
from .options import (
    Field,
    InitName,
    FieldOpt,
    Force,
    Init,
    InitKeywords,
    N,
    Out,
    Plot,
    Precision,
    describe_rescaling,
    grouped_options,
    parse_int_list,
    sampling_options,
    value,
)
from .output import FormatOpt, TableOrJson, command, emit, note, progress, rich_table

__all__ = ["make_dynamics_command", "wanted_steps", "table_steps", "dynamics_table"]

StatePrecision = Annotated[
    Precision,
    typer.Option(
        "--precision",
        help="Precision of the propagated states: single (float32; log-norms agree with double to ~1e-4) or double.",
    ),
]
#: --seed, --device, --precision (of the states), --workers, --chunk-size
Simulation = Annotated[Any, sampling_options(StatePrecision, sampler=False)]


DYNAMICS_HELP = {
    "trajectory": "||W^k x|| over k for x ~ N(0, I): per matrix, mean over inputs; log scale, with exact expectations.",
    "hidden": "||h_t|| of h_t = W h_{t-1} + x_t, x_t ~ N(0, sigma^2 I): per matrix, mean over input sequences.",
}


def wanted_steps(kind: str, steps: int, every: int, at: str | None) -> list[int] | None:
    """The --at steps, checked against the recorded steps without building them (``--steps 1e9`` must
    reach the library's memory guard, not allocate a billion steps here first)."""
    if not at:
        return None
    wanted = parse_int_list(at, "--at")
    first = 0 if kind == "trajectory" else 1
    missing = [w for w in wanted if not (w in (first, steps) or (every <= w <= steps and w % every == 0))]
    if missing:
        raise InputError(f"--at steps {missing} are not recorded: use multiples of --every within --steps")
    return wanted


def table_steps(recorded: np.ndarray, wanted: list[int] | None) -> np.ndarray:
    """Indices into ``recorded`` for the table: the --at steps, or about 8 log-spaced steps."""
    if wanted:
        return np.searchsorted(recorded, wanted)
    targets = np.unique(np.round(np.geomspace(max(recorded[0], 1), recorded[-1], 8)))
    idx = np.unique(np.searchsorted(recorded, targets).clip(0, recorded.size - 1))
    return np.unique(np.concatenate([[0], idx]))


def make_dynamics_command(kind: str):
    @grouped_options
    def dynamics_command(
        n: N = 500,
        steps: Annotated[int, typer.Option("--steps", help="Last k (trajectory) or t (hidden).")] = 1000,
        init: Init = InitName("glorot"),
        field: FieldOpt = Field("real"),
        matrices: Annotated[int, typer.Option("--matrices", help="Number of matrices W.")] = 20,
        inputs: Annotated[
            int, typer.Option("--inputs", help="Inputs x (trajectory) or input sequences (hidden) per matrix.")
        ] = 50,
        every: Annotated[int, typer.Option("--every", help="Record every m-th step.")] = 1,
        input_scale: Annotated[
            float, typer.Option("--input-scale", help="hidden: input standard deviation sigma.")
        ] = 1.0,
        blowup: Annotated[
            float,
            typer.Option(
                "--blowup", help="Report the first step where the mean norm exceeds this multiple of its start."
            ),
        ] = 1e3,
        at: Annotated[
            Optional[str],
            typer.Option("--at", help="Steps to tabulate, comma-separated (default: about 8, log-spaced)."),
        ] = None,
        exact: Annotated[
            bool,
            typer.Option("--exact", help="Also compute each W's exact expectation over inputs (eigendecomposition)."),
        ] = False,
        full: Annotated[bool, typer.Option("--full", help="JSON: include every matrix's curve.")] = False,
        simulation: Simulation = None,
        init_options: InitKeywords = None,
        fmt: FormatOpt = TableOrJson.table,
        out: Out = None,
        plot: Plot = None,
        force: Force = False,
    ):
        wanted = wanted_steps(kind, steps, every, at)  # --at checked before any work
        with progress(matrices, f"{kind} n={n}", value(fmt) == "table") as advance:
            report = dynamics_report(
                kind,
                n,
                steps=steps,
                init=value(init),
                field=value(field),
                matrices=matrices,
                inputs=inputs,
                every=every,
                input_scale=input_scale,
                blowup=blowup,
                exact=exact,
                full=full,
                out=out,
                plot=plot,
                force=force,
                on_progress=advance,
                **simulation,
                **init_options,
            )
        emit(report.to_dict(), fmt, table=lambda: dynamics_table(report, table_steps(report.steps, wanted)))
        if value(fmt) == "table":
            for path in filter(None, (out, plot)):
                note(f"wrote {path}")

    dynamics_command.__doc__ = DYNAMICS_HELP[kind]
    return dynamics_command


def dynamics_table(r: DynamicsReport, rows_idx: np.ndarray):
    """Statistics across matrices at the tabulated steps, with the exact expectations beside."""
    header = ["k" if r.kind == "trajectory" else "t", "mean log10", "sd", "median", "q05", "q95", "grown >10x"]
    if r.exact_log10_norm is not None:
        header.append("exact log10 RMS")
    if r.exact_per_matrix_log10_rms is not None:
        header += ["sample log10 RMS", "exact per-W log10 RMS"]
    rows = []
    for i in rows_idx:
        row = [int(r.steps[i]), *(getattr(r, key)[i] for key in SUMMARY_KEYS)]
        if r.exact_log10_norm is not None:
            row.append(r.exact_log10_norm[i])
        if r.exact_per_matrix_log10_rms is not None and r.sample_per_matrix_log10_rms is not None:
            row += [r.sample_per_matrix_log10_rms[:, i].mean(), r.exact_per_matrix_log10_rms[:, i].mean()]
        rows.append(row)
    symbol = "||W^k x||" if r.kind == "trajectory" else "||h_t||"
    blowup = f"step {r.blowup_step}" if r.blowup_step is not None else f"not within {int(r.steps[-1])} steps"
    caption = [
        f"log10 {symbol}: statistics across {r.matrices} matrices of each matrix's mean over {r.inputs} inputs; "
        f"{r.elapsed_s:.2f} s on {r.device}, {r.precision}",
        f"blow-up (mean grows {r.blowup_threshold:g}x past its start): {blowup}",
    ]
    if r.exact_log10_norm is not None:
        if r.ensemble.diagonal:
            caption.append(
                "exact RMS = sqrt(E||.||^2) over W and x: n E|lambda|^{2k} from the modulus law (closed form)"
            )
        else:
            caption.append(
                "exact RMS = sqrt(E||.||^2) over W and x (Q_{n,k}); rare large-radius matrices dominate it past k ~ "
                "sqrt(n)"
            )
    if (text := describe_rescaling(r.rescaling)) is not None:
        caption.append(text)
    return rich_table(f"{r.kind}: {r.init}, {r.field}, n = {r.n}", header, rows, caption="\n".join(caption))


for _kind in ("trajectory", "hidden"):
    command(app, _kind)(make_dynamics_command(_kind))

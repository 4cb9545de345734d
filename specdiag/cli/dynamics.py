"""``specdiag trajectory`` and ``hidden``: ||W^k x|| and ||h_t|| over time, in log scale."""

from __future__ import annotations

import math
import time
from typing import Annotated, Optional

import numpy as np
import typer

from .._backend import resolve_device
from .._dynamics import expected_log10_norm, per_matrix_expected_log10_norm, simulate
from .._errors import InputError
from .._inits import make_ensemble
from .._report import csv_document, json_document, prepare_out_dir, run_metadata, write_run_files
from .._validation import positive_number
from .root import app
from .options import (
    CalibrationSamples, ChunkSize, Coverage, DeviceOpt, FieldOpt, Force, Init, MaxPhase, N, Out, Plot, Precision, Rescale, Rmax,
    Rmin, Seed, Workers, check_plot_path, describe_rescaling, init_options, parse_int_list, value,
)
from .output import TableOrJson, command, emit, progress, rich_table

__all__ = ["make_dynamics_command"]

FormatOpt = Annotated[TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")]
StatePrecision = Annotated[Precision, typer.Option("--precision", help="Precision of the propagated states: single (float32; log-norms agree with double to ~1e-4) or double.")]


DYNAMICS_HELP = {
    "trajectory": "||W^k x|| over k for x ~ N(0, I): per matrix, mean over inputs; log scale, with exact expectations.",
    "hidden": "||h_t|| of h_t = W h_{t-1} + x_t, x_t ~ N(0, sigma^2 I): per matrix, mean over input sequences.",
}


def table_steps(recorded: np.ndarray, at: str | None) -> np.ndarray:
    """Indices into ``recorded`` for the table: --at, or about 8 log-spaced steps."""
    if at:
        wanted = parse_int_list(at, "--at")
        missing = [w for w in wanted if w not in set(recorded.tolist())]
        if missing:
            raise InputError(f"--at steps {missing} are not recorded: use multiples of --every within --steps")
        return np.searchsorted(recorded, wanted)
    targets = np.unique(np.round(np.geomspace(max(recorded[0], 1), recorded[-1], 8)))
    idx = np.unique(np.searchsorted(recorded, targets).clip(0, recorded.size - 1))
    return np.unique(np.concatenate([[0], idx]))


def make_dynamics_command(kind: str):
    def dynamics_command(
        n: N = 500,
        steps: Annotated[int, typer.Option("--steps", help="Last k (trajectory) or t (hidden).")] = 1000,
        init: Init = "glorot",
        field: FieldOpt = "real",
        matrices: Annotated[int, typer.Option("--matrices", help="Number of matrices W.")] = 20,
        inputs: Annotated[int, typer.Option("--inputs", help="Inputs x (trajectory) or input sequences (hidden) per matrix.")] = 50,
        every: Annotated[int, typer.Option("--every", help="Record every m-th step.")] = 1,
        input_scale: Annotated[float, typer.Option("--input-scale", help="hidden: input standard deviation sigma.")] = 1.0,
        blowup: Annotated[float, typer.Option("--blowup", help="Report the first step where the mean norm exceeds this multiple of its start.")] = 1e3,
        at: Annotated[Optional[str], typer.Option("--at", help="Steps to tabulate, comma-separated (default: about 8, log-spaced).")] = None,
        exact: Annotated[bool, typer.Option("--exact", help="Also compute each W's exact expectation over inputs (eigendecomposition).")] = False,
        full: Annotated[bool, typer.Option("--full", help="JSON: include every matrix's curve.")] = False,
        seed: Seed = 0,
        device: DeviceOpt = "auto",
        precision: StatePrecision = "single",
        workers: Workers = None,
        chunk_size: ChunkSize = None,
        rmin: Rmin = 0.4,
        rmax: Rmax = 0.9,
        max_phase: MaxPhase = math.pi,
        rescale: Rescale = "paper",
        coverage: Coverage = 0.9,
        calibration_samples: CalibrationSamples = 1000,
        fmt: FormatOpt = TableOrJson.table,
        out: Out = None,
        plot: Plot = None,
        force: Force = False,
    ):
        from .._inits import INITS  # noqa: PLC0415
        from .._pool import resolve_workers  # noqa: PLC0415
        from .._resources import dynamics_estimate, guard  # noqa: PLC0415
        from .._validation import whole_number  # noqa: PLC0415

        init, precision = value(init), value(precision)
        positive_number(blowup, "blowup", above=1.0)
        sizes = {k: whole_number(v, k, minimum=2 if k == "n" else 1) for k, v in dict(n=n, matrices=matrices, inputs=inputs, steps=steps, every=every).items()}
        diagonal = bool(INITS.get(init) and INITS[init].diagonal)
        guard(dynamics_estimate(**sizes, field="complex" if diagonal else value(field), precision=precision, diagonal=diagonal, chunk=chunk_size or 8, workers=resolve_workers(workers)))
        dev = resolve_device(value(device))
        params = {"n": n, "init": init, "field": "complex" if diagonal else value(field), "matrices": matrices, "inputs": inputs, "seed": seed, "device": dev,
                  "precision": precision, "input_scale": input_scale if kind == "hidden" else None, "steps": steps, "every": every, "blowup": blowup}
        out = prepare_out_dir(out, command=kind, parameters=params, force=force)
        plot = check_plot_path(plot)
        ensemble = make_ensemble(init, n, value(field), init_options(rmin, rmax, max_phase, rescale, coverage, seed, calibration_samples))
        start = time.perf_counter()
        with progress(matrices, f"{kind} n={n}", value(fmt) == "table") as advance:
            curves = simulate(
                ensemble, kind, matrices=matrices, inputs=inputs, steps=steps, seed=seed, every=every,
                input_scale=input_scale, device=dev, precision=precision, workers=workers, chunk_size=chunk_size, on_progress=advance,
            )
        rows_idx = table_steps(curves.steps, at)
        expected = expected_log10_norm(ensemble, kind, curves.steps, input_scale)
        per_matrix_exact = per_matrix_expected_log10_norm(ensemble, kind, curves.steps, seed, matrices, input_scale) if exact else None
        elapsed = time.perf_counter() - start
        summary = curves.summary()
        doc = {
            "command": kind, "n": n, "init": init, "field": ensemble.field, "matrices": matrices, "inputs": inputs,
            "seed": seed, "device": dev, "precision": precision, "input_scale": input_scale if kind == "hidden" else None,
            "steps": curves.steps, **summary,
            "per_matrix_log10_norm": curves.log10_mean if full else None,
            "exact_log10_norm": expected,
            "exact_per_matrix_log10_rms": per_matrix_exact,
            "sample_per_matrix_log10_rms": curves.log10_rms if exact else None,
            "blowup_threshold": blowup, "blowup_step": curves.blowup_step(blowup),
            "rescaling": ensemble.rescaling.to_dict() if ensemble.rescaling else None,
            "elapsed_s": elapsed,
        }
        if out is not None:  # the curves and run.json land together, or not at all
            header = ["step", *summary]
            meta = {**run_metadata(kind, params, device=dev, elapsed_s=elapsed), "blowup_step": doc["blowup_step"]}
            write_run_files(out, {f"{kind}.csv": csv_document(header, zip(curves.steps, *summary.values())), "run.json": json_document(meta)})
        if plot is not None:
            from .._plots import norm_figure, save_figure  # noqa: PLC0415

            xlabel = "power k" if kind == "trajectory" else "time step t"
            title = f"{init}, {ensemble.field}, n = {n}: {matrices} matrices x {inputs} inputs"
            ylabel = r"$\|W^k x\|$" if kind == "trajectory" else r"$\|h_t\|$"
            save_figure(norm_figure(curves.steps, curves.log10_mean, curves.log10_sd, ylabel=ylabel, xlabel=xlabel, title=title, exact=expected), plot)
        def table():
            return _dynamics_table(kind, curves, summary, rows_idx, expected, per_matrix_exact, doc, ensemble, init, n, matrices, inputs, steps, blowup, elapsed, dev, precision)

        emit(doc, fmt, table=table)

    dynamics_command.__doc__ = DYNAMICS_HELP[kind]
    return dynamics_command


def _dynamics_table(kind, curves, summary, rows_idx, expected, per_matrix_exact, doc, ensemble, init, n, matrices, inputs, steps, blowup, elapsed, dev, precision):
        symbol = "||W^k x||" if kind == "trajectory" else "||h_t||"
        header = ["k" if kind == "trajectory" else "t", "mean log10", "sd", "median", "q05", "q95", "grown >10x"]
        if expected is not None:
            header.append("exact log10 RMS")
        if per_matrix_exact is not None:
            header += ["sample log10 RMS", "exact per-W log10 RMS"]
        rows = []
        for r in rows_idx:
            row = [int(curves.steps[r]), *(summary[key][r] for key in ("mean_log10_norm", "std_log10_norm", "median_log10_norm", "q05_log10_norm", "q95_log10_norm", "fraction_grown_10x"))]
            if expected is not None:
                row.append(expected[r])
            if per_matrix_exact is not None:
                row += [curves.log10_rms[:, r].mean(), per_matrix_exact[:, r].mean()]
            rows.append(row)
        caption = [
            f"log10 {symbol}: statistics across {matrices} matrices of each matrix's mean over {inputs} inputs; {elapsed:.2f} s on {dev}, {precision}",
            f"blow-up (mean grows {blowup:g}x past its start): " + (f"step {doc['blowup_step']}" if doc["blowup_step"] is not None else f"not within {steps} steps"),
        ]
        if expected is not None:
            if ensemble.diagonal:
                caption.append("exact RMS = sqrt(E||.||^2) over W and x: n E|lambda|^{2k} from the modulus law (closed form)")
            else:
                caption.append("exact RMS = sqrt(E||.||^2) over W and x (Q_{n,k}); rare large-radius matrices dominate it past k ~ sqrt(n)")
        if (text := describe_rescaling(ensemble)) is not None:
            caption.append(text)
        return rich_table(f"{kind}: {init}, {ensemble.field}, n = {n}", header, rows, caption="\n".join(caption))


for _kind in ("trajectory", "hidden"):
    command(app, _kind)(make_dynamics_command(_kind))

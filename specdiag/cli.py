"""The ``specdiag`` command line: parse options, call the library, print or write the result.

Conventions for every command: human tables on stdout by default; ``--format json`` prints exactly
one JSON document on stdout; progress and messages go to stderr, and progress only when stderr is
a terminal; bad input is one line on stderr and exit code 2, with no partial output files.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console

from . import theory
from .backend import resolve_device, validate_seed
from .errors import InputError
from .inits import INITS, InitOptions, make_ensemble
from .report import (
    atomic_write_text,
    check_format,
    csv_document,
    json_document,
    prepare_out_dir,
    rich_table,
    run_metadata,
    write_json_atomic,
)

app = typer.Typer(
    name="specdiag",
    help="Spectral diagnostics for recurrent weight matrices: the Glorot spectral edge, its Gumbel law, "
    "and the hidden-state explosion it causes. See `specdiag COMMAND --help`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# wide tables stay readable when piped (rich would otherwise assume 80 columns)
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, soft_wrap=True)


def _print_version(value: bool):
    if value:
        from . import __version__  # noqa: PLC0415

        sys.stdout.write(f"specdiag {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False):
    """Spectral diagnostics for recurrent weight matrices."""


def command(name: str | None = None):
    """Register a Typer command whose InputError/overflow becomes one line on stderr and exit 2."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except InputError as exc:
                stderr.print(f"error: {exc}", markup=False, highlight=False)
                raise typer.Exit(2) from None
            except KeyboardInterrupt:
                stderr.print("interrupted", markup=False)
                raise typer.Exit(130) from None

        return app.command(name or func.__name__.replace("_", "-"))(wrapper)

    return decorate


@contextlib.contextmanager
def progress(total: int, description: str, enabled: bool):
    """A rich progress bar on stderr yielding ``advance(k)``; a no-op when disabled.

    Refreshes without a background thread so worker processes can be forked safely.
    """
    if not enabled or total <= 1 or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=stderr, auto_refresh=False, transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(k: int = 1):
            bar.advance(task, k)
            bar.refresh()

        bar.refresh()
        yield advance


def emit_json(doc: dict) -> None:
    try:
        text = json_document(doc)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    sys.stdout.write(text)
    sys.stdout.flush()


def parse_int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise InputError(f"{name} must be an integer or a comma-separated list of integers, got {text!r}") from None
    if not values:
        raise InputError(f"{name} is empty: give at least one value")
    return values


# ---------------------------------------------------------------------------------------------
# Options shared by every command that samples matrices
# ---------------------------------------------------------------------------------------------

N = Annotated[int, typer.Option("--n", help="Width n of the n x n recurrent matrix.")]
Init = Annotated[str, typer.Option("--init", help=f"Initialization: {', '.join(INITS)} (see `specdiag inits`).")]
Field = Annotated[str, typer.Option("--field", help="real or complex entries (Gaussian inits; diagonal inits are complex).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed; matrix i uses the stream (seed, i), whatever the batching.")]
Device = Annotated[str, typer.Option("--device", help="cpu, gpu (CuPy) or auto (GPU if available; SPECDIAG_DISABLE_GPU=1 forbids it).")]
Precision = Annotated[str, typer.Option("--precision", help="Eigenvalue precision: single (float32, ample for radii) or double.")]
Workers = Annotated[Optional[int], typer.Option("--workers", help="CPU worker processes (default: all cores), one BLAS thread each.")]
ChunkSize = Annotated[Optional[int], typer.Option("--chunk-size", help="Matrices per task (bounds memory; does not change results).")]
Rmin = Annotated[float, typer.Option("--rmin", help="lru: smallest eigenvalue modulus.")]
Rmax = Annotated[float, typer.Option("--rmax", help="lru: largest eigenvalue modulus.")]
MaxPhase = Annotated[float, typer.Option("--max-phase", help="lru: largest eigenvalue phase (radians).")]
Rescale = Annotated[str, typer.Option("--rescale", help="rescaled: paper (s_n, n >= 164) or calibrated (finite-n, any n).")]
Coverage = Annotated[float, typer.Option("--coverage", help="calibrated: target P(rho <= 1) of the rescaled init.")]
CalibrationSamples = Annotated[int, typer.Option("--calibration-samples", help="calibrated, real: Monte Carlo radii for the quantile (cached).")]
Format = Annotated[str, typer.Option("--format", "-f", help="Output: table (human), json (one document on stdout) or csv.")]
Out = Annotated[Optional[Path], typer.Option("--out", help="Directory to write results and run.json into (created if needed).")]
Plot = Annotated[Optional[Path], typer.Option("--plot", help="Also draw a figure to this file (.png, .pdf or .svg).")]


def init_options(rmin, rmax, max_phase, rescale, coverage, seed, calibration_samples) -> InitOptions:
    return InitOptions(rmin=rmin, rmax=rmax, max_phase=max_phase, rescale=rescale, coverage=coverage, seed=seed, calibration_samples=calibration_samples)


def check_plot_path(plot: Path | None) -> Path | None:
    if plot is None:
        return None
    if plot.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise InputError(f"--plot {str(plot)!r} must end in .png, .pdf or .svg")
    prepare_out_dir(plot.parent if str(plot.parent) else Path("."))
    return plot


def describe_rescaling(ensemble) -> str | None:
    r = ensemble.rescaling
    if r is None:
        return None
    text = f"rescaled by s = {r.factor:.6f} ({r.source}"
    if r.coverage is not None:
        text += f", target coverage {r.coverage}"
    if r.samples:
        text += f", coverage s.e. {r.coverage_stderr:.4f}, 95% CI for s [{r.factor_ci95[0]:.5f}, {r.factor_ci95[1]:.5f}]"
    return text + ")"


# ---------------------------------------------------------------------------------------------
# radius
# ---------------------------------------------------------------------------------------------


@command()
def radius(
    n: N = 500,
    samples: Annotated[int, typer.Option("--samples", help="Number of matrices.")] = 100,
    init: Init = "glorot",
    field: Field = "real",
    seed: Seed = 0,
    device: Device = "auto",
    precision: Precision = "single",
    workers: Workers = None,
    chunk_size: ChunkSize = None,
    rmin: Rmin = 0.4,
    rmax: Rmax = 0.9,
    max_phase: MaxPhase = math.pi,
    rescale: Rescale = "paper",
    coverage: Coverage = 0.9,
    calibration_samples: CalibrationSamples = 1000,
    fmt: Format = "table",
    out: Out = None,
    plot: Plot = None,
):
    """Sample matrices and report the statistics of their spectral radii, with theory beside."""
    from .spectra import radius_stats  # noqa: PLC0415

    check_format(fmt)
    out = prepare_out_dir(out)
    plot = check_plot_path(plot)
    ensemble, radii, dev, elapsed = sample_for_cli(
        n, samples, init, field, seed, device, precision, workers, chunk_size,
        init_options(rmin, rmax, max_phase, rescale, coverage, seed, calibration_samples), fmt != "json",
    )
    stats = radius_stats(radii)
    predicted = theory.predicted_radius_law(ensemble.kind, ensemble.field, n, ensemble.gain, ensemble.params)
    rider = theory.rider_location(n) if n > theory.LAST_UNDEFINED_N else None
    doc = {
        "command": "radius",
        "n": n,
        "samples": samples,
        "init": init,
        "field": ensemble.field,
        "device": dev,
        "precision": precision,
        "seed": seed,
        "stats": stats,
        "theory": predicted,
        "rider_location": rider,
        "rescaling": ensemble.rescaling.as_dict() if ensemble.rescaling else None,
        "radii": radii,
        "elapsed_s": elapsed,
        "matrices_per_s": samples / elapsed if elapsed > 0 else None,
    }
    parameters = {k: doc[k] for k in ("n", "samples", "init", "field", "device", "precision", "seed")}
    parameters.update(workers=workers, chunk_size=chunk_size, rmin=rmin, rmax=rmax, max_phase=max_phase, rescale=rescale, coverage=coverage)
    if out is not None:
        atomic_write_text(out / "radii.csv", csv_document(["index", "radius"], enumerate(radii)))
        write_json_atomic(out / "run.json", {**run_metadata("radius", parameters, device=dev, elapsed_s=elapsed), "stats": stats, "theory": predicted, "rescaling": doc["rescaling"]})
    if plot is not None:
        from .plots import radius_figure, radius_theory_curves, save_figure  # noqa: PLC0415

        curves = radius_theory_curves(n, ensemble.field, ensemble.gain, radii) if ensemble.kind == "gaussian" else []
        save_figure(radius_figure(radii, n=n, field=ensemble.field, init=init, curves=curves), plot)
    if fmt == "json":
        emit_json(doc)
    elif fmt == "csv":
        sys.stdout.write(csv_document(["index", "radius"], enumerate(radii)))
    else:
        rows = [(key, stats[key], predicted.get(key) if predicted else None) for key in ("mean", "std", "q05", "median", "q95", "p_above_1")]
        rows += [("min", stats["min"], None), ("max", stats["max"], None)]
        source = predicted["source"] if predicted else "no closed form at this n"
        caption = [f"{samples} matrices in {elapsed:.2f} s ({samples / elapsed:.1f} matrices/s) on {dev}, {precision} precision, seed {seed}"]
        if rider is not None:
            caption.append(f"Rider location 1 + sqrt(g_n/4n) = {rider:.5f}")
        if (text := describe_rescaling(ensemble)) is not None:
            caption.append(text)
        if predicted and "asymptotic" in predicted["source"]:
            caption.append("no exact law for real matrices: the asymptotic law places the edge but overstates the spread 2-4x at practical n")
        stdout.print(rich_table(f"spectral radius: {init}, {ensemble.field}, n = {n}", ["statistic", "sample", f"theory ({source})"], rows, caption="\n".join(caption)))
        for path in filter(None, (out, plot)):
            stderr.print(f"wrote {path}", markup=False)


def sample_for_cli(n, samples, init, field, seed, device, precision, workers, chunk_size, options, show_progress):
    """Validate the sampling options, build the ensemble and sample radii with a progress bar."""
    from .spectra import real_dtype, sample_radii  # noqa: PLC0415

    validate_seed(seed)
    real_dtype(precision)
    if samples < 1:
        raise InputError(f"--samples must be at least 1, got {samples}")
    dev = resolve_device(device)
    ensemble = make_ensemble(init, n, field, options)
    start = time.perf_counter()
    with progress(samples, f"radii n={n}", show_progress) as advance:
        radii = sample_radii(ensemble, samples, seed, precision=precision, device=dev, workers=workers, chunk_size=chunk_size, on_progress=advance)
    return ensemble, radii, dev, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# inits
# ---------------------------------------------------------------------------------------------


@command()
def inits(fmt: Format = "table"):
    """List every initialization with its definition."""
    check_format(fmt, ("table", "json"))
    rows = [(spec.name, ", ".join(spec.fields), spec.formula) for spec in INITS.values()]
    if fmt == "json":
        emit_json({"command": "inits", "inits": [{"name": a, "fields": b.split(", "), "formula": c} for a, b, c in rows]})
    else:
        stdout.print(rich_table("initializations", ["name", "fields", "definition"], rows))


# ---------------------------------------------------------------------------------------------
# theory
# ---------------------------------------------------------------------------------------------


def theory_row(n: int, coverage: float) -> dict:
    """Everything the closed forms say at width n (undefined asymptotics reported as null + reason)."""
    g = float(theory.g_n(n))
    row = {"n": n, "g_n": g, "coverage": coverage}
    try:
        s_n = theory.paper_scale(n)
        row["s_n"] = s_n
        row["rider_location"] = theory.rider_location(n)
        row["rider_scale"] = theory.rider_scale(n)
        row["asymptotic"] = {}
        for fld in theory.FIELDS:
            law = theory.asymptotic_law(n, fld)
            loc, scale = theory.asymptotic_params(n, fld)
            row["asymptotic"][fld] = {"loc": loc, "scale": scale, "mean": float(law.mean()), "std": float(law.std()), "p_above_1": float(law.sf(1.0))}
        row["exact_complex_rescaled"] = theory.exact_complex_law(n, scale=s_n).as_dict()
    except InputError:
        row.update(s_n=None, rider_location=None, rider_scale=None, asymptotic=None, exact_complex_rescaled=None)
        row["undefined_reason"] = f"g_n = {g:.4f} <= 0 (n <= {theory.LAST_UNDEFINED_N}): use --rescale calibrated"
    row["exact_complex"] = theory.exact_complex_law(n).as_dict()
    s_cal = theory.calibrated_scale_complex(n, coverage)
    row["calibrated_complex"] = {"s": s_cal, "coverage": coverage, **theory.exact_complex_law(n, scale=s_cal).as_dict()}
    return row


@command("theory")
def theory_command(
    n: Annotated[str, typer.Option("--n", help="Width, or a comma-separated list: --n 256,500,1000.")] = "500",
    coverage: Coverage = 0.9,
    fmt: Format = "table",
):
    """Predicted law of the spectral radius: g_n, s_n, Rider asymptotics, Kostlan's exact law."""
    check_format(fmt, ("table", "json"))
    widths = parse_int_list(n, "--n")
    if min(widths) < 2:
        raise InputError(f"every width in --n must be at least 2, got {min(widths)}")
    if not 0.0 < coverage < 1.0:
        raise InputError(f"--coverage must lie strictly between 0 and 1, got {coverage}")
    rows = [theory_row(w, coverage) for w in widths]
    if fmt == "json":
        emit_json({"command": "theory", "rows": rows})
        return

    def get(row, *path):
        for key in path:
            row = None if row is None else row.get(key)
        return row

    spec = [
        ("g_n", ("g_n",)),
        ("s_n (paper)", ("s_n",)),
        ("Rider location", ("rider_location",)),
        ("Rider scale", ("rider_scale",)),
        ("asymptotic mean, real", ("asymptotic", "real", "mean")),
        ("asymptotic sd, real", ("asymptotic", "real", "std")),
        ("asymptotic mean, complex", ("asymptotic", "complex", "mean")),
        ("asymptotic sd, complex", ("asymptotic", "complex", "std")),
        ("exact mean, complex", ("exact_complex", "mean")),
        ("exact sd, complex", ("exact_complex", "std")),
        ("exact q05, complex", ("exact_complex", "q05")),
        ("exact q95, complex", ("exact_complex", "q95")),
        ("exact P(rho>1), complex", ("exact_complex", "p_above_1")),
        ("rescaled exact mean, complex", ("exact_complex_rescaled", "mean")),
        ("rescaled exact P(rho>1)", ("exact_complex_rescaled", "p_above_1")),
        (f"calibrated s (coverage {coverage}), complex", ("calibrated_complex", "s")),
    ]
    table_rows = [(label, *(get(r, *path) if get(r, *path) is not None else "undefined" for r in rows)) for label, path in spec]
    notes = [f"n = {r['n']}: {r['undefined_reason']}" for r in rows if "undefined_reason" in r]
    notes.append("asymptotic laws overstate the spread 2-4x at practical n; the exact complex law is Kostlan's")
    stdout.print(rich_table("spectral radius theory", ["quantity", *(f"n = {w}" for w in widths)], table_rows, caption="\n".join(notes)))


# ---------------------------------------------------------------------------------------------
# fit-gumbel
# ---------------------------------------------------------------------------------------------


@command("fit-gumbel")
def fit_gumbel_command(
    n: N = 500,
    samples: Annotated[int, typer.Option("--samples", help="Number of matrices to sample (ignored with --from).")] = 500,
    from_file: Annotated[Optional[Path], typer.Option("--from", help="Fit radii from a .csv/.json/.npy file instead of sampling (give --n and --field of the sample).")] = None,
    init: Init = "glorot",
    field: Field = "real",
    seed: Seed = 0,
    device: Device = "auto",
    precision: Precision = "single",
    workers: Workers = None,
    chunk_size: ChunkSize = None,
    rmin: Rmin = 0.4,
    rmax: Rmax = 0.9,
    max_phase: MaxPhase = math.pi,
    rescale: Rescale = "paper",
    coverage: Coverage = 0.9,
    calibration_samples: CalibrationSamples = 1000,
    level: Annotated[float, typer.Option("--level", help="Confidence level of the parameter intervals.")] = 0.95,
    ci: Annotated[str, typer.Option("--ci", help="Interval method: bootstrap (percentile, refits) or wald (Fisher information, instant).")] = "bootstrap",
    bootstrap_samples: Annotated[int, typer.Option("--bootstrap-samples", help="Bootstrap refits.")] = 999,
    fmt: Format = "table",
    plot: Plot = None,
):
    """Fit a Gumbel law to radii; compare with the Rider asymptotic law and Kostlan's exact law."""
    from .fit import compare_laws, load_radii  # noqa: PLC0415

    check_format(fmt, ("table", "json"))
    theory.check_field(field)
    if not 0 < level < 1:
        raise InputError(f"--level must lie strictly between 0 and 1, got {level}")
    if ci not in ("wald", "bootstrap"):
        raise InputError(f"unknown --ci {ci!r}: use bootstrap or wald")
    if n < 2:
        raise InputError(f"the width --n must be at least 2, got {n}")
    plot = check_plot_path(plot)
    ensemble = None
    if from_file is not None:
        radii = load_radii(from_file)
    else:
        ensemble, radii, _, _ = sample_for_cli(
            n, samples, init, field, seed, device, precision, workers, chunk_size,
            init_options(rmin, rmax, max_phase, rescale, coverage, seed, calibration_samples), fmt != "json",
        )
        field = ensemble.field
        if init != "glorot":
            stderr.print(f"note: the theory columns are Glorot's laws; the sample is {init}", markup=False)
    result = compare_laws(radii, n, field, level, ci=ci, resamples=bootstrap_samples)
    doc = {"command": "fit-gumbel", "n": n, "samples": int(radii.size), "field": field, "init": None if from_file else init, "source": str(from_file) if from_file else "sampled", **result}
    if plot is not None:
        from scipy import stats as sstats  # noqa: PLC0415

        from .plots import radius_figure, save_figure  # noqa: PLC0415

        x = np.linspace(radii.min() - 0.3 * np.ptp(radii), radii.max() + 0.3 * np.ptp(radii), 300)
        curves = [(x, sstats.gumbel_r.pdf(x, result["fit"]["loc"], result["fit"]["scale"]), "fitted Gumbel")]
        if result["asymptotic"]:
            curves.append((x, sstats.gumbel_r.pdf(x, result["asymptotic"]["loc"], result["asymptotic"]["scale"]), "asymptotic (Rider)"))
        if result["exact"]:
            curves.append((x, theory.kostlan_pdf(x, n), "exact (Kostlan)"))
        save_figure(radius_figure(radii, n=n, field=field, init=init if from_file is None else "radii", curves=curves), plot)
    if fmt == "json":
        emit_json(doc)
        return
    fitted, asym, exact = result["fit"], result["asymptotic"], result["exact"]
    rows = [
        ("sample", None, None, result["sample"]["mean"], result["sample"]["std"], None, None),
        ("fitted Gumbel (ML)", fitted["loc"], fitted["scale"], fitted["loc"] + theory.EULER_GAMMA * fitted["scale"], fitted["scale"] * math.pi / math.sqrt(6), fitted["ks_statistic"], fitted["ks_pvalue"]),
    ]
    rows.append(("asymptotic (Rider)", asym["loc"], asym["scale"], asym["mean"], asym["std"], asym["ks_statistic"], asym["ks_pvalue"]) if asym else ("asymptotic (Rider)", "undefined", "undefined", None, None, None, None))
    if exact:
        rows.append(("exact (Kostlan)", None, None, exact["mean"], exact["std"], exact["ks_statistic"], exact["ks_pvalue"]))
    caption = [
        f"{radii.size} radii, n = {n}, {field}; {int(level * 100)}% {ci} CI loc [{fitted['loc_ci'][0]:.5f}, {fitted['loc_ci'][1]:.5f}], scale [{fitted['scale_ci'][0]:.5f}, {fitted['scale_ci'][1]:.5f}]",
        "the fitted law's KS p-value is optimistic (parameters estimated from the same radii)",
    ]
    if not asym:
        caption.append(result.get("asymptotic_reason", ""))
    stdout.print(rich_table("Gumbel fit of the spectral radius", ["law", "loc", "scale", "mean", "sd", "KS stat", "KS p"], rows, caption="\n".join(caption)))


# ---------------------------------------------------------------------------------------------
# trajectory and hidden
# ---------------------------------------------------------------------------------------------

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
        field: Field = "real",
        matrices: Annotated[int, typer.Option("--matrices", help="Number of matrices W.")] = 20,
        inputs: Annotated[int, typer.Option("--inputs", help="Inputs x (trajectory) or input sequences (hidden) per matrix.")] = 50,
        every: Annotated[int, typer.Option("--every", help="Record every m-th step.")] = 1,
        input_scale: Annotated[float, typer.Option("--input-scale", help="hidden: input standard deviation sigma.")] = 1.0,
        blowup: Annotated[float, typer.Option("--blowup", help="Report the first step where the mean norm exceeds this multiple of its start.")] = 1e3,
        at: Annotated[Optional[str], typer.Option("--at", help="Steps to tabulate, comma-separated (default: about 8, log-spaced).")] = None,
        exact: Annotated[bool, typer.Option("--exact", help="Also compute each W's exact expectation over inputs (eigendecomposition).")] = False,
        full: Annotated[bool, typer.Option("--full", help="JSON: include every matrix's curve.")] = False,
        seed: Seed = 0,
        device: Device = "auto",
        precision: Precision = "single",
        chunk_size: ChunkSize = None,
        rmin: Rmin = 0.4,
        rmax: Rmax = 0.9,
        max_phase: MaxPhase = math.pi,
        rescale: Rescale = "paper",
        coverage: Coverage = 0.9,
        calibration_samples: CalibrationSamples = 1000,
        fmt: Format = "table",
        out: Out = None,
        plot: Plot = None,
    ):
        from .dynamics import expected_log10_norm, per_matrix_expected_log10_norm, simulate  # noqa: PLC0415
        from .spectra import real_dtype  # noqa: PLC0415

        check_format(fmt, ("table", "json"))
        validate_seed(seed)
        real_dtype(precision)
        if not blowup > 1:
            raise InputError(f"--blowup must be a factor above 1, got {blowup}")
        dev = resolve_device(device)
        out = prepare_out_dir(out)
        plot = check_plot_path(plot)
        ensemble = make_ensemble(init, n, field, init_options(rmin, rmax, max_phase, rescale, coverage, seed, calibration_samples))
        start = time.perf_counter()
        with progress(matrices, f"{kind} n={n}", fmt != "json") as advance:
            curves = simulate(
                ensemble, kind, matrices=matrices, inputs=inputs, steps=steps, seed=seed, every=every,
                input_scale=input_scale, device=dev, precision=precision, chunk_size=chunk_size, on_progress=advance,
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
            "rescaling": ensemble.rescaling.as_dict() if ensemble.rescaling else None,
            "elapsed_s": elapsed,
        }
        symbol = "||W^k x||" if kind == "trajectory" else "||h_t||"
        if out is not None:
            header = ["step", *summary]
            atomic_write_text(out / f"{kind}.csv", csv_document(header, zip(curves.steps, *summary.values())))
            params = {k: doc[k] for k in ("n", "init", "field", "matrices", "inputs", "seed", "device", "precision", "input_scale")}
            params.update(steps=steps, every=every, blowup=blowup)
            write_json_atomic(out / "run.json", {**run_metadata(kind, params, device=dev, elapsed_s=elapsed), "blowup_step": doc["blowup_step"]})
        if plot is not None:
            from .plots import norm_figure, save_figure  # noqa: PLC0415

            xlabel = "power k" if kind == "trajectory" else "time step t"
            title = f"{init}, {ensemble.field}, n = {n}: {matrices} matrices x {inputs} inputs"
            ylabel = r"$\|W^k x\|$" if kind == "trajectory" else r"$\|h_t\|$"
            save_figure(norm_figure(curves.steps, curves.log10_mean, curves.log10_sd, ylabel=ylabel, xlabel=xlabel, title=title, exact=expected), plot)
        if fmt == "json":
            emit_json(doc)
            return
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
            caption.append("exact RMS = sqrt(E||.||^2) over W and x (Q_{n,k}); rare large-radius matrices dominate it past k ~ sqrt(n)")
        if (text := describe_rescaling(ensemble)) is not None:
            caption.append(text)
        stdout.print(rich_table(f"{kind}: {init}, {ensemble.field}, n = {n}", header, rows, caption="\n".join(caption)))

    dynamics_command.__doc__ = DYNAMICS_HELP[kind]
    return dynamics_command


for _kind in ("trajectory", "hidden"):
    command(_kind)(make_dynamics_command(_kind))


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------


def _check_one(item):
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    from .check import check_matrix  # noqa: PLC0415

    name, array, thresholds, threads = item
    with threadpool_limits(limits=threads):
        return check_matrix(name, array, thresholds)


@command("check")
def check_command(
    path: Annotated[Path, typer.Argument(help="Weights file: .npy, .npz, .safetensors, .pt/.pth (needs torch), .csv/.txt.", show_default=False)],
    key: Annotated[Optional[list[str]], typer.Option("--key", help="Tensor name or glob (repeatable, or comma-separated). Default: every square 2-D tensor.")] = None,
    max_radius: Annotated[float, typer.Option("--max-radius", help="Fail when the spectral radius exceeds this.")] = 1.0,
    seq_len: Annotated[int, typer.Option("--seq-len", help="Sequence length t for the growth figures.")] = 1000,
    max_growth: Annotated[Optional[float], typer.Option("--max-growth", help="Fail when E||h_t||^2 / (t sigma^2 n) exceeds this at t = --seq-len.")] = None,
    diagonal: Annotated[bool, typer.Option("--diagonal", help="Also accept 1-D tensors as diagonals (eigenvalues) of the recurrence.")] = False,
    workers: Workers = None,
    fmt: Format = "table",
):
    """Gate recurrent weight matrices in CI: exit 0 if all pass, 1 if one fails, 2 on bad input."""
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    from .check import Thresholds, overall_verdict  # noqa: PLC0415
    from .spectra import default_workers, pool_context  # noqa: PLC0415
    from .weights import read_tensors, select_tensors  # noqa: PLC0415

    check_format(fmt, ("table", "json"))
    if not max_radius > 0:
        raise InputError(f"--max-radius must be positive, got {max_radius}")
    if seq_len < 1:
        raise InputError(f"--seq-len must be at least 1, got {seq_len}")
    if max_growth is not None and not max_growth > 0:
        raise InputError(f"--max-growth must be positive, got {max_growth}")
    keys = [k for item in (key or []) for k in item.split(",") if k]
    tensors = select_tensors(read_tensors(path), keys or None, diagonal)
    thresholds = Thresholds(max_radius=max_radius, seq_len=seq_len, max_growth=max_growth)
    workers = min(default_workers() if workers is None else max(1, workers), len(tensors))
    start = time.perf_counter()
    if workers > 1:
        items = [(name, a, thresholds, 1) for name, a in tensors.items()]
        with ProcessPoolExecutor(workers, mp_context=pool_context()) as pool:
            results = list(pool.map(_check_one, items))
    else:
        results = [_check_one((name, a, thresholds, None)) for name, a in tensors.items()]
    verdict = overall_verdict(results)
    doc = {"command": "check", "file": str(path), "thresholds": thresholds.__dict__, "tensors": results, "verdict": verdict, "elapsed_s": time.perf_counter() - start}
    if fmt == "json":
        emit_json(doc)
    else:
        rows = [
            (r["name"], "x".join(map(str, r["shape"])), r["dtype"], r["radius"], r["outside_unit_circle"], r["spectral_norm"], r["log10_power_gain"], r["log10_growth"], r["verdict"].upper())
            for r in results
        ]
        header = ["tensor", "shape", "dtype", "radius", "|lambda|>1", "||W||_2", "log10 ||W^t||_F^2/n", "log10 growth", "verdict"]
        notes = [f"t = {seq_len}; growth = E||h_t||^2 / (t sigma^2 n) for iid inputs (1 for orthogonal W)"]
        notes += [f"{r['name']}: {r['glorot']['text']}" for r in results if r["glorot"]]
        stdout.print(rich_table(f"check {path}", header, rows, caption="\n".join(notes)))
    for r in results:
        for reason in r["reasons"]:
            stderr.print(f"{r['verdict']}: {r['name']}: {reason}", markup=False, highlight=False)
    if verdict == "fail":
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------
# reproduce
# ---------------------------------------------------------------------------------------------


class StageProgress:
    """One rich progress bar on stderr across all stages of a run (no background thread)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.bar = None

    def __call__(self, total: int):
        if not self.enabled or total < 1:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

        self.bar = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=stderr, auto_refresh=False, transient=True)
        self.bar.start()
        self.task = self.bar.add_task("reproduce", total=total)
        return self

    def stage(self, name: str):
        self.bar.update(self.task, description=name)
        self.bar.refresh()

        def advance(k: int = 1):
            self.bar.advance(self.task, k)
            self.bar.refresh()

        return advance

    def close(self):
        if self.bar is not None:
            self.bar.stop()


@command()
def reproduce(
    out: Annotated[Optional[Path], typer.Option("--out", help="Run directory (created; an existing one with the same options is resumed).")] = None,
    from_dir: Annotated[Optional[Path], typer.Option("--from", help="Redraw figures and tables from a run directory, without sampling.")] = None,
    figure: Annotated[str, typer.Option("--figure", help="Which figures: all, or a comma list of 1,2,3,4,eigenvalues.")] = "all",
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes (n = 200): a smoke run in well under a minute.")] = False,
    n: Annotated[Optional[int], typer.Option("--n", help="Width (default 500; 200 with --quick).")] = None,
    samples: Annotated[Optional[int], typer.Option("--samples", help="Radii per (init, field) (default 100).")] = None,
    matrices: Annotated[Optional[int], typer.Option("--matrices", help="Matrices per dynamics panel (default 100).")] = None,
    inputs: Annotated[Optional[int], typer.Option("--inputs", help="Inputs per matrix in Figures 1-2 (default 50).")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Last k and t in Figures 1-2 (default 1000).")] = None,
    seed: Seed = 0,
    device: Device = "auto",
    precision: Precision = "single",
    rescale: Rescale = "paper",
    coverage: Coverage = 0.9,
    vector: Annotated[bool, typer.Option("--vector", help="Also write PDF and SVG figures.")] = False,
    fmt: Format = "table",
):
    """Reproduce Figures 1-4, an eigenvalue figure and the summary tables into a run directory."""

    from . import reproduce as rep  # noqa: PLC0415
    from .spectra import real_dtype  # noqa: PLC0415

    check_format(fmt, ("table", "json"))
    if from_dir is not None:
        cfg = rep.config_from_run(from_dir)
        written = rep.render(from_dir, cfg, vector)
        if not written:
            raise InputError(f"{str(from_dir)!r} holds no arrays to draw from: run `specdiag reproduce --out {from_dir}` first")
        rows = rep.summary_rows(cfg, rep.load_arrays(from_dir))
        return _report_reproduce(from_dir, written, rows, fmt)
    if out is None:
        raise InputError("give --out DIR for the run directory (or --from DIR to redraw one)")
    validate_seed(seed)
    real_dtype(precision)
    figures = rep.FIGURES if figure == "all" else tuple(dict.fromkeys(f.strip() for f in figure.split(",") if f.strip()))
    unknown = [f for f in figures if f not in rep.FIGURES]
    if unknown or not figures:
        raise InputError(f"unknown --figure {', '.join(unknown) or figure!r}: use all or a comma list of {', '.join(rep.FIGURES)}")
    overrides = {k: v for k, v in dict(n=n, samples=samples, matrices=matrices, inputs=inputs, steps=steps).items() if v is not None}
    for key, value in overrides.items():
        if value < (2 if key == "n" else 1):
            raise InputError(f"--{key} must be at least {2 if key == 'n' else 1}, got {value}")
    common = dict(seed=seed, precision=precision, rescale=rescale, coverage=coverage, figures=figures, **overrides)
    cfg = rep.Config.quick(**common) if quick else rep.Config(**common)
    if rescale == "paper" and any(f in figures for f in ("1", "2", "eigenvalues")):
        theory.paper_scale(cfg.n)  # fail before any work when s_n is undefined at this n
    dev = resolve_device(device)
    out = prepare_out_dir(out)
    meta = rep.run(cfg, out, device=dev, vector=vector, progress=StageProgress(fmt != "json"))
    return _report_reproduce(out, meta["outputs"], rep.summary_rows(cfg, rep.load_arrays(out)), fmt, meta)


def _report_reproduce(out: Path, written: list, rows: list, fmt: str, meta: dict | None = None):
    if fmt == "json":
        emit_json({"command": "reproduce", "out": str(out), "files": written, "summary": rows, "stages_computed": (meta or {}).get("stages_computed"), "stages_reused": (meta or {}).get("stages_reused")})
        return
    if rows:
        # transposed (a column per init and field) so it stays readable in an 80-column terminal
        labels = {
            "radius_mean": "radius mean", "radius_std": "radius sd", "radius_q05": "radius q05", "radius_q95": "radius q95",
            "p_above_1": "P(rho > 1)", "gumbel_loc": "Gumbel loc (fit)", "gumbel_scale": "Gumbel scale (fit)",
            "exact_mean": "exact mean (complex)", "exact_p_above_1": "exact P(rho > 1)", "blowup_step": "blow-up t (1000x)",
        }
        keys = [k for k in rows[0] if k in labels or k.startswith("log10_hidden")]
        table_rows = [(labels.get(k, k.replace("log10_hidden_t", "log10 ||h_t||, t=")), *(r[k] for r in rows)) for k in keys]
        header = ["quantity", *(f"{r['init']}, {r['field']}" for r in rows)]
        stdout.print(rich_table(f"summary (n = {rows[0]['n']}, {rows[0]['samples']} radii each)", header, table_rows))
    stderr.print(f"wrote {len(written)} files to {out}", markup=False)


# ---------------------------------------------------------------------------------------------
# sweep
# ---------------------------------------------------------------------------------------------


def parse_csv_list(text: str, name: str, allowed=None) -> tuple:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values:
        raise InputError(f"{name} is empty")
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise InputError(f"unknown {name} {', '.join(bad)}: use {', '.join(allowed)}")
    return values


def draw_sweep_figures(out: Path, points: list) -> list[str]:
    from .plots import figure_sweep_collapse, figure_sweep_excess, figure_sweep_p_above, save_figure  # noqa: PLC0415

    written = []
    for name, make in (("sweep_excess.png", figure_sweep_excess), ("sweep_p_above_1.png", figure_sweep_p_above)):
        save_figure(make(points), out / name)
        written.append(name)
    if any(p.get("q_mean") for p in points):
        save_figure(figure_sweep_collapse(points), out / "sweep_collapse.png")
        written.append("sweep_collapse.png")
    return written


@command()
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
    device: Annotated[str, typer.Option("--device", help="cpu, gpu or auto, resolved on each worker (a local GPU run uses one process).")] = "cpu",
    seed: Seed = 0,
    precision: Precision = "single",
    rescale: Rescale = "paper",
    coverage: Coverage = 0.9,
    fmt: Format = "table",
):
    """Radius statistics (and dynamics) over a grid of widths, inits and fields; resumable."""
    from .executors import make_executor  # noqa: PLC0415
    from .spectra import default_workers, real_dtype  # noqa: PLC0415
    from .sweep import SweepConfig, load_config, run_sweep  # noqa: PLC0415

    check_format(fmt, ("table", "json"))
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
            validate_seed(seed)
            real_dtype(precision)
            try:
                cs = tuple(float(c) for c in dynamics.split(",")) if dynamics else ()
            except ValueError:
                raise InputError(f"--dynamics must be comma-separated numbers, got {dynamics!r}") from None
            cfg = SweepConfig(
                ns=tuple(parse_int_list(n, "--n")), inits=parse_csv_list(init, "--init", list(INITS)), fields=parse_csv_list(field, "--field", theory.FIELDS),
                samples=samples, seed=seed, chunk_size=chunk_size, precision=precision, dynamics=cs, rescale=rescale, coverage=coverage, device=device,
            ).validate()
            target = prepare_out_dir(out)
        # CUDA does not survive fork: a local sweep on the GPU runs in this process
        local_gpu = scheduler is None and cfg.device != "cpu" and resolve_device(cfg.device) == "gpu"
        executor = make_executor(scheduler, 1 if local_gpu else (workers or default_workers()))
        from .sweep import grid, make_tasks  # noqa: PLC0415

        total = len(make_tasks(cfg, {p: None for p in grid(cfg)}))
        try:
            with progress(total, "sweep tasks", fmt != "json") as advance:
                def on_task(task, error):
                    if error is not None:
                        stderr.print(f"task failed: {task.point.id} matrices {task.start}-{task.stop - 1}: {type(error).__name__}: {error}", markup=False)
                    if advance:
                        advance(1)

                doc = run_sweep(cfg, target, executor, on_task=on_task)
        finally:
            executor.close()
    figures = draw_sweep_figures(target, doc["points"]) if plot else []
    if fmt == "json":
        emit_json({**doc, "figures": figures})
    else:
        rows = [
            (p["id"], p.get("samples"), p.get("radius_mean"), p.get("radius_std"), p.get("p_above_1"),
             f"[{p['p_above_1_lo']:.3f}, {p['p_above_1_hi']:.3f}]" if p.get("complete") else "incomplete", p.get("theory_mean"), p.get("theory_p_above_1"))
            for p in doc["points"]
        ]
        stdout.print(rich_table(f"sweep: {target}", ["point", "samples", "mean rho", "sd", "P(rho>1)", "95% CI", "theory mean", "theory P>1"], rows,
                                caption=f"{doc.get('computed_tasks', 0)} tasks computed, {doc.get('reused_tasks', 0)} reused" if from_dir is None else None))
        for name in figures:
            stderr.print(f"wrote {target / name}", markup=False)
    if doc.get("failed_tasks"):
        stderr.print(f"{len(doc['failed_tasks'])} tasks failed: rerun with --resume {target}", markup=False)
        raise typer.Exit(1)


def main():
    """Console entry point: like ``app()``, but Click's usage errors become one line too."""
    if sys.stderr.isatty():  # log lines (e.g. a long calibration) only for humans, on stderr
        import logging  # noqa: PLC0415

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logging.getLogger("specdiag").addHandler(handler)
        logging.getLogger("specdiag").setLevel(logging.INFO)
    try:
        code = app(standalone_mode=False)
    except Exception as exc:  # Click's UsageError/BadParameter (typer re-raises them here)
        if not hasattr(exc, "format_message") or not hasattr(exc, "exit_code"):
            raise
        if not exc.format_message():  # no_args_is_help: the help text was the message
            sys.exit(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        stderr.print(f"error: {exc.format_message()}{hint}", markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)

"""``specdiag check``: gate the recurrent matrices of weights files in CI (exit codes: :data:`EXIT_CODES`)."""

from __future__ import annotations

import contextlib
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._cell_plan import LAYOUTS
from .._check import DEFAULT_MAX_GROWTH, CheckReport, list_file
from .._check_paths import EXIT_CODES, check_paths
from .._discovery import MODELS, PARAMS
from .._errors import InputError
from .._text import printable
from .root import app
from .options import Workers
from .output import command, emit, flag_for, rich_table
from .report import CheckFormat, check_output, deliver_report

__all__ = ["check_command", "Model", "Param", "Layout"]

Model = Enum("Model", {m: m for m in MODELS}, type=str)  # type: ignore[misc]  # members come from the registry
Param = Enum("Param", {p: p for p in PARAMS}, type=str)  # type: ignore[misc]  # members come from the registry
Layout = Enum("Layout", {name: name for name in LAYOUTS}, type=str)  # type: ignore[misc]  # members come from the registry
#: library parameter names that appear inside verdict reasons, shown as flags on the CLI
_PARAMS_IN_REASONS = re.compile(r"\b(max_radius|max_growth|seq_len|max_memory|allow_unchecked|input_scale)\b")


def _as_flags(text: str) -> str:
    return _PARAMS_IN_REASONS.sub(lambda m: flag_for(m.group(1)), text)


def _split(values: Optional[list[str]]) -> list[str] | None:
    return [k for item in (values or []) for k in item.split(",") if k] or None


def _g(value: float | None) -> str:
    return "overflows" if value is None else f"{value:.4g}"


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def _listing(path: Path, source, plan):
    rows = [
        (
            printable(p.name),
            _shape(source.infos[p.tensor].shape),
            source.infos[p.tensor].dtype,
            "check",
            p.rule,
            p.reason,
        )
        for p in plan.planned
    ]
    rows += [(printable(u.name), _shape(u.shape), u.dtype, "NOT CHECKED", "", u.reason) for u in plan.unchecked]
    rows += [(printable(s.name), _shape(s.shape), s.dtype, "skip", "", s.reason) for s in plan.skipped]
    caption = "; ".join(list(source.notes) + list(plan.notes)) or None
    return rich_table(
        f"check --list {printable(path)} ({source.kind})",
        ["tensor", "shape", "stored dtype", "action", "rule", "why"],
        rows,
        caption=caption,
    )


def _lambda_text(r: dict) -> str:
    if r.get("lyapunov") is None:
        return "-inf"
    se = f" +- {r['lyapunov_se']:.1g}" if r.get("lyapunov_se") else ""
    return f"{r['lyapunov']:.4g}{se}"


def _row(r: dict) -> tuple:
    name, shape = printable(r["name"]), _shape(r["shape"])
    if r["verdict"] not in ("ok", "warn", "fail"):
        return (name, "-", shape, r["dtype"], "-", "-", "-", "-", r["verdict"].upper())
    if r["cell"] != "linear":
        driven, zero = r["lyapunov_driven"], r["lyapunov_zero_input"]
        regimes = f"{_g(driven['value']) if driven else 'n/a'} / {_g(zero['value'])}"
        rest = r["rest_state"]["radius"]
        return (
            name,
            r["cell"] + (f" {r['direction']}" if r["direction"] else ""),
            shape,
            r["dtype"],
            "-" if rest is None else f"{rest:.4g} (rest)",
            _lambda_text(r),
            regimes,
            f"{r['log10_growth']:.3g}",
            r["verdict"].upper(),
        )
    radius = r["radius"] if r["radius"] is not None else f"10^{r['log10_radius']:.1f}"
    growth = r["log10_growth"] if r["log10_growth"] is not None else "n/a"
    return (name, "linear", shape, r["dtype"], radius, _lambda_text(r), "exact", growth, r["verdict"].upper())


def _cell_note(name: str, r: dict) -> str:
    gates = ", ".join(f"{g} {_g(v)}" for g, v in r["gate_radii"].items())
    rest = r["rest_state"]
    return (
        f"{name}: information only: gate block radii {gates}; rest state "
        f"{'settled' if rest['settled'] else 'not settled'} "
        f"after {rest['steps']} steps, rho(J) = {_g(rest['radius'])}"
    )


def _notes(report: CheckReport, rows: list, verbose: bool) -> list[str]:
    t = report.thresholds
    gate = f"growth gate {t.max_growth:g}" if t.max_growth is not None else "growth not gated"
    notes = [
        f"t = {t.seq_len}; linear W: radius <= {t.max_radius:g} and E||h_t||^2 / (t sigma^2 n) (1 for orthogonal W); "
        f"cells: perturbation growth exp(lambda t), lambda = maximal Lyapunov exponent per step ({gate})"
    ]
    notes += [printable(n) for n in report.notes]
    for r in rows:
        name = printable(r["name"])
        if r["verdict"] not in ("ok", "warn", "fail"):
            notes.append(f"{r['verdict'].upper()} {name} ({_shape(r['shape'])}): {printable(r['reasons'][0])}")
            continue
        if verbose or r["cell"] == "linear":
            notes.append(f"{name}: rule {r['rule']}: {printable(r['rule_reason'])}")
        notes += [f"{name}: {text}" for text in (r.get("glorot") or {}).get("text", "").split("\n") if text]
        if r.get("power_note"):
            notes.append(f"{name}: {r['power_note']}")
        if verbose and r["cell"] != "linear":
            notes.append(_cell_note(name, r))
    notes += [f"skipped {printable(s.name)} ({_shape(s.shape)}): {printable(s.reason)}" for s in report.skipped]
    return notes


_HELP = (
    "Gate recurrent weight matrices in CI: every file, directory (walked) and glob in one report.\n\n\b\nExit codes:\n"
    + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    + "\n  --exit-zero turns 1 into 0 (report-only jobs); --allow-empty turns 3 into 0."
)


def _one_path(paths: list[Path], flag: str) -> Path:
    if len(paths) != 1:
        raise InputError(
            f"paths: {flag} takes one weights file, got {len(paths)} paths: run it once per file", param="paths"
        )
    return paths[0]


@command(app, "check", help=_HELP)
def check_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Weights files (.npy, .npz incl. scipy.sparse, .safetensors, .pt/.pth/.ckpt/.bin, .onnx, "
            ".keras/.h5, .csv/.txt), directories (walked) or globs ('models/**/*.pt').",
            show_default=False,
        ),
    ],
    key: Annotated[
        Optional[list[str]],
        typer.Option("--key", help="Tensor name or glob (repeatable, or comma-separated); overrides the name rules."),
    ] = None,
    model: Annotated[
        Model, typer.Option("--model", help="Name-rule family to use (see README: check name rules).")
    ] = Model("auto"),
    param: Annotated[
        Param,
        typer.Option(
            "--param",
            help="How SSM diagonals are read: auto (by name), lru, a_log, or eigenvalues (1-D tensors as eigenvalues).",
        ),
    ] = Param("auto"),
    layout: Annotated[
        Optional[Layout],
        typer.Option(
            "--layout",
            "--cell",
            help="Declare what the --key tensors are (a custom-named cell): lstm, gru, rnn, rnn-relu, keras-lstm, "
            "keras-gru, keras-rnn, linear.",
        ),
    ] = None,
    bias: Annotated[
        Optional[list[str]],
        typer.Option("--bias", help="With --layout: the input bias, then the hidden bias (when not found by name)."),
    ] = None,
    gate: Annotated[
        Optional[list[str]],
        typer.Option(
            "--gate", help="Also check these gate blocks as plain matrices (r, z, n; i, f, g, o), e.g. --gate n."
        ),
    ] = None,
    state_dict: Annotated[
        Optional[str], typer.Option("--state-dict", help="Which state dict of a nested checkpoint (model, ema, a.b).")
    ] = None,
    max_radius: Annotated[
        float,
        typer.Option(
            "--max-radius",
            help="Linear W: fail when the spectral radius exceeds this (beyond the stored dtype's roundoff).",
        ),
    ] = 1.0,
    seq_len: Annotated[
        float,
        typer.Option(
            "--seq-len", help="Sequence length t for the growth figures and gate (a whole number; 1e6 accepted)."
        ),
    ] = 1000,
    max_growth: Annotated[
        float,
        typer.Option(
            "--max-growth",
            help="Fail when the growth at t = --seq-len exceeds this: E||h_t||^2/(t sigma^2 n) for linear W, "
            "exp(lambda t) for cells.",
        ),
    ] = DEFAULT_MAX_GROWTH,
    no_growth_gate: Annotated[
        bool, typer.Option("--no-growth-gate", help="Report growth without gating on it.")
    ] = False,
    input_scale: Annotated[
        float,
        typer.Option("--input-scale", help="Cells: standard deviation of the N(0, I) input of the driven regime."),
    ] = 1.0,
    allow_unchecked: Annotated[
        bool, typer.Option("--allow-unchecked", help="Do not fail when a recurrent-looking tensor cannot be checked.")
    ] = False,
    diagonal: Annotated[
        bool,
        typer.Option("--diagonal", help="1-D tensors selected by --key (or a file's only tensor) are eigenvalues."),
    ] = False,
    max_memory: Annotated[
        Optional[str],
        typer.Option(
            "--max-memory",
            help="Memory budget, e.g. 2G or 1e9 (default: half the available memory); larger tensors are refused "
            "unread.",
        ),
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="Dry run: what would be checked and why (rule per tensor), no computation.")
    ] = False,
    plot: Annotated[
        Optional[Path],
        typer.Option(
            "--plot",
            help="Directory: one eigenvalue-plane PNG per checked row (linear W, or a cell's Jacobian at rest).",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also show each cell's rule, gate block radii and rest state (information, not verdicts).",
        ),
    ] = False,
    workers: Workers = None,
    fmt: Annotated[
        CheckFormat,
        typer.Option(
            "--format",
            "-f",
            envvar="SPECDIAG_FORMAT",
            help="table (human), json, jsonl, sarif (code scanning), junit, github (annotations) or gitlab (code "
            "quality); default $SPECDIAG_FORMAT, else table.",
        ),
    ] = CheckFormat.table,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", help="Write the report to this file (atomically); the human tables go to stderr."
        ),
    ] = None,
    exit_zero: Annotated[
        bool,
        typer.Option("--exit-zero", help="Exit 0 even when a gate fails (report-only jobs); bad input still exits 2."),
    ] = False,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty", help="Exit 0, not 3, when nothing recurrent is found (pre-commit hooks on data files)."
        ),
    ] = False,
):
    selection = {
        "keys": _split(key),
        "model": model.value,
        "param": param.value,
        "diagonal": diagonal,
        "layout": layout.value if layout else None,
        "biases": _split(bias),
        "gates": _split(gate),
        "state_dict": state_dict,
    }
    if list_only:
        path = _one_path(paths, "--list")
        if fmt.value not in ("table", "json"):
            raise InputError(f"fmt: --list prints a table or json, not {fmt.value}", param="fmt")
        source, plan = list_file(path, **selection)
        doc = {
            "command": "check",
            "file": str(path),
            "kind": source.kind,
            "container": source.container,
            "planned": [p.to_dict() for p in plan.planned],
            "unchecked": [u.to_dict() for u in plan.unchecked],
            "skipped": [s.to_dict() for s in plan.skipped],
            "notes": list(plan.notes),
        }
        emit(doc, fmt, table=lambda: _listing(path, source, plan))
        return
    check_output(output)
    created = plot is not None and not plot.exists()
    if plot is not None:
        from .._report import prepare_out_dir  # noqa: PLC0415 (only --plot writes files)

        prepare_out_dir(plot, param="plot")
    with _removed_if_empty(plot if created else None):
        multi = check_paths(
            paths,
            **selection,
            max_radius=max_radius,
            seq_len=seq_len,
            max_growth=None if no_growth_gate else max_growth,
            input_scale=input_scale,
            allow_unchecked=allow_unchecked,
            workers=workers,
            max_memory=max_memory,
            keep_eigenvalues=plot is not None,
        )
        plots = None
        if plot is not None:
            from .._check_plots import write_check_plots  # noqa: PLC0415 (matplotlib, only for --plot)

            many = len(multi.reports) > 1
            plots = [
                str(p)
                for r in multi.reports
                for p in write_check_plots(r, plot / _plot_folder(r.source) if many else plot)
            ]
    deliver_report(
        multi,
        fmt,
        output=output,
        table=lambda report: _table(report, plots, verbose),
        reword=_as_flags,
        extra={"plots": plots} if plots is not None else None,
    )
    code = multi.exit_code
    if (code == 1 and exit_zero) or (code == 3 and allow_empty):
        code = 0
    if code:
        raise typer.Exit(code)


@contextlib.contextmanager
def _removed_if_empty(folder: Path | None):
    """On any failure, remove ``folder`` (one this run created) if nothing was written into it."""
    try:
        yield
    except BaseException:
        if folder is not None:
            with contextlib.suppress(OSError):
                for sub in sorted(folder.rglob("*"), reverse=True):
                    sub.rmdir() if sub.is_dir() else None
                folder.rmdir()
        raise


def _plot_folder(source: str) -> str:
    """A folder name for one file's plots when a run plots several files."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("._") or "file"


def _table(report: CheckReport, plots: list | None, verbose: bool):
    """The human table of one file's report: linear W and cells side by side (lambda = log rho for W)."""
    rows = [r.to_dict() for r in report.tensors]
    header = [
        "tensor",
        "cell",
        "shape",
        "stored dtype",
        "radius",
        "lambda (gated)",
        "lambda driven / zero-input",
        "log10 growth",
        "verdict",
    ]
    notes = _notes(report, rows, verbose) + ([f"{len(plots)} figure(s) written"] if plots is not None else [])
    return rich_table(
        f"check {printable(report.source)} ({report.kind})", header, [_row(r) for r in rows], caption="\n".join(notes)
    )

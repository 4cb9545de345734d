"""``specdiag check``: gate the recurrent matrices of weights files in CI (exit codes: :data:`EXIT_CODES`)."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._check import DEFAULT_MAX_GROWTH, list_file
from .._check_paths import EXIT_CODES, check_paths
from .._discovery import MODELS, PARAMS
from .._errors import InputError
from .._text import printable
from .root import app
from .options import Workers
from .output import command, emit, flag_for, rich_table
from .report import CheckFormat, deliver_report

__all__ = ["check_command", "Model", "Param"]

Model = Enum("Model", {m: m for m in MODELS}, type=str)
Param = Enum("Param", {p: p for p in PARAMS}, type=str)
#: library parameter names that appear inside verdict reasons, shown as flags on the CLI
_PARAMS_IN_REASONS = re.compile(r"\b(max_radius|max_growth|seq_len|max_memory)\b")


def _as_flags(text: str) -> str:
    return _PARAMS_IN_REASONS.sub(lambda m: flag_for(m.group(1)), text)


_HELP = (
    "Gate recurrent weight matrices in CI: every file, directory (walked) and glob in one report.\n\n\b\nExit codes:\n"
    + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    + "\n  --exit-zero turns 1 into 0 (report-only jobs); --allow-empty turns 3 into 0."
)


def _one_path(paths: list[Path], flag: str) -> Path:
    if len(paths) != 1:
        raise InputError(f"paths: {flag} takes one weights file, got {len(paths)} paths: run it once per file", param="paths")
    return paths[0]


@command(app, "check", help=_HELP)
def check_command(
    paths: Annotated[list[Path], typer.Argument(help="Weights files (.npy, .npz incl. scipy.sparse, .safetensors, .pt/.pth/.ckpt/.bin, .onnx, .keras/.h5, .csv/.txt), directories (walked) or globs ('models/**/*.pt').", show_default=False)],
    key: Annotated[Optional[list[str]], typer.Option("--key", help="Tensor name or glob (repeatable, or comma-separated); overrides the name rules.")] = None,
    model: Annotated[Model, typer.Option("--model", help="Name-rule family to use (see README: check name rules).")] = Model.auto,
    param: Annotated[Param, typer.Option("--param", help="How SSM diagonals are read: auto (by name), lru, a_log, or eigenvalues (1-D tensors as eigenvalues).")] = Param.auto,
    max_radius: Annotated[float, typer.Option("--max-radius", help="Fail when the spectral radius exceeds this (beyond the stored dtype's roundoff).")] = 1.0,
    seq_len: Annotated[float, typer.Option("--seq-len", help="Sequence length t for the growth figures and gate (a whole number; 1e6 accepted).")] = 1000,
    max_growth: Annotated[float, typer.Option("--max-growth", help="Fail when E||h_t||^2 / (t sigma^2 n) exceeds this at t = --seq-len (1 for orthogonal W).")] = DEFAULT_MAX_GROWTH,
    no_growth_gate: Annotated[bool, typer.Option("--no-growth-gate", help="Report growth without gating on it.")] = False,
    diagonal: Annotated[bool, typer.Option("--diagonal", help="1-D tensors selected by --key (or a file's only tensor) are eigenvalues.")] = False,
    max_memory: Annotated[Optional[str], typer.Option("--max-memory", help="Memory budget, e.g. 2G or 1e9 (default: half the available memory); larger tensors are refused unread.")] = None,
    list_only: Annotated[bool, typer.Option("--list", help="Dry run: what would be checked and why (rule per tensor), no computation.")] = False,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Directory: one eigenvalue-plane PNG per checked tensor (unit circle, Glorot edge).")] = None,
    workers: Workers = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", envvar="SPECDIAG_FORMAT", help="table (human), json, jsonl, sarif (code scanning), junit, github (annotations) or gitlab (code quality); default $SPECDIAG_FORMAT, else table.")] = CheckFormat.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to this file (atomically); the human tables go to stderr.")] = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when a gate fails (report-only jobs); bad input still exits 2.")] = False,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help="Exit 0, not 3, when nothing recurrent is found (pre-commit hooks on data files).")] = False,
):
    keys = [k for item in (key or []) for k in item.split(",") if k] or None
    if list_only:
        path = _one_path(paths, "--list")
        if fmt.value not in ("table", "json"):
            raise InputError(f"fmt: --list prints a table or json, not {fmt.value}", param="fmt")
        source, plan = list_file(path, keys=keys, model=model.value, param=param.value, diagonal=diagonal)
        doc = {
            "command": "check", "file": str(path), "kind": source.kind, "container": source.container,
            "planned": [p.to_dict() for p in plan.planned], "skipped": [s.to_dict() for s in plan.skipped],
        }

        def listing():
            rows = [(p.name, "x".join(map(str, source.infos[p.tensor].shape)), source.infos[p.tensor].dtype, "check", p.rule, p.reason) for p in plan.planned]
            rows += [(s.name, "x".join(map(str, s.shape)), s.dtype, "skip", "", s.reason) for s in plan.skipped]
            caption = "; ".join(source.notes) or None
            return rich_table(f"check --list {path} ({source.kind})", ["tensor", "shape", "stored dtype", "action", "rule", "why"], rows, caption=caption)

        emit(doc, fmt, table=listing)
        return
    if plot is not None:
        from .._report import prepare_out_dir  # noqa: PLC0415

        prepare_out_dir(plot, param="plot")
    multi = check_paths(
        paths, keys=keys, model=model.value, param=param.value, diagonal=diagonal, max_radius=max_radius, seq_len=seq_len,
        max_growth=None if no_growth_gate else max_growth, workers=workers, max_memory=max_memory, keep_eigenvalues=plot is not None,
    )
    plots = None
    if plot is not None:
        from .._check_plots import write_check_plots  # noqa: PLC0415

        many = len(multi.reports) > 1
        plots = [str(p) for r in multi.reports for p in write_check_plots(r, plot / _plot_folder(r.source) if many else plot)]
    deliver_report(multi, fmt, output=output, table=lambda report: _table(report, plot, plots), reword=_as_flags, extra={"plots": plots} if plots is not None else None)
    code = multi.exit_code
    if (code == 1 and exit_zero) or (code == 3 and allow_empty):
        code = 0
    if code:
        raise typer.Exit(code)


def _plot_folder(source: str) -> str:
    """A folder name for one file's plots when a run plots several files."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("._") or "file"


def _table(report, plot: Path | None, plots: list | None):
    """The human table of one file's report."""
    path = printable(report.source)
    results = [r.to_dict() for r in report.tensors]
    rows = [
        (r["name"], "x".join(map(str, r["shape"])), r["dtype"], r["radius"] if r["radius"] is not None else f"10^{r['log10_radius']:.1f}",
         r["outside_unit_circle"], r["spectral_norm"], r["log10_power_gain"] if r["log10_power_gain"] is not None else "-inf (W^t = 0)",
         r["log10_growth"] if r["log10_growth"] is not None else "n/a", r["verdict"].upper())
        for r in results
    ]
    header = ["tensor", "shape", "stored dtype", "radius", "|lambda|>1", "||W||_2", "log10 ||W^t||_F^2/n", "log10 growth", "verdict"]
    t = report.thresholds
    gate = f"growth gate {t.max_growth:g}" if t.max_growth is not None else "growth not gated"
    notes = [f"t = {t.seq_len}; growth = E||h_t||^2 / (t sigma^2 n) for iid inputs (1 for orthogonal W); max radius {t.max_radius:g}, {gate}"]
    notes += list(report.notes)
    notes += [f"{r['name']}: rule {r['rule']}: {r['rule_reason']}" for r in results if r["rule_reason"]]
    notes += [f"{r['name']}: {r['glorot']['text']}" for r in results if r["glorot"]]
    notes += [f"{r['name']}: {r['power_note']}" for r in results if r["power_note"]]
    notes += [f"skipped {s.name} ({'x'.join(map(str, s.shape))}): {s.reason}" for s in report.skipped]
    if plots is not None:
        notes.append(f"{len(plots)} eigenvalue-plane figure(s) in {plot}")
    return rich_table(f"check {path} ({report.kind})", header, rows, caption="\n".join(notes))

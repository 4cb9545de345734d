"""``specdiag check``: gate the recurrent matrices of a weights file in CI (exit 0 ok, 1 fail, 2 bad input)."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._check import DEFAULT_MAX_GROWTH, check_file, list_file
from .._discovery import MODELS, PARAMS
from .root import app
from .options import Workers
from .output import TableOrJson, command, emit, flag_for, note, rich_table

__all__ = ["check_command", "Model", "Param"]

Model = Enum("Model", {m: m for m in MODELS}, type=str)
Param = Enum("Param", {p: p for p in PARAMS}, type=str)
#: library parameter names that appear inside verdict reasons, shown as flags on the CLI
_PARAMS_IN_REASONS = re.compile(r"\b(max_radius|max_growth|seq_len|max_memory)\b")


def _as_flags(text: str) -> str:
    return _PARAMS_IN_REASONS.sub(lambda m: flag_for(m.group(1)), text)


@command(app, "check")
def check_command(
    path: Annotated[Path, typer.Argument(help="Weights file (.npy, .npz incl. scipy.sparse, .safetensors, .pt/.pth/.ckpt/.bin, .csv/.txt) or a sharded safetensors directory.", show_default=False)],
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
    fmt: Annotated[TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")] = TableOrJson.table,
):
    """Gate recurrent weight matrices in CI: exit 0 if all pass, 1 if one fails, 2 on bad input."""
    keys = [k for item in (key or []) for k in item.split(",") if k] or None
    if list_only:
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
    report = check_file(
        path, keys=keys, model=model.value, param=param.value, diagonal=diagonal, max_radius=max_radius, seq_len=seq_len,
        max_growth=None if no_growth_gate else max_growth, workers=workers, max_memory=max_memory, keep_eigenvalues=plot is not None,
    )
    results = [r.to_dict() for r in report.tensors]
    doc = {
        "command": "check", "file": str(path), "kind": report.kind, "container": report.container,
        "thresholds": report.thresholds.to_dict(), "tensors": results,
        "skipped": [s.to_dict() for s in report.skipped], "verdict": report.verdict, "elapsed_s": report.elapsed_s,
    }
    if plot is not None:
        from .._check_plots import write_check_plots  # noqa: PLC0415

        doc["plots"] = [str(p) for p in write_check_plots(report, plot)]

    def table():
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
        notes += [f"skipped {s['name']} ({'x'.join(map(str, s['shape']))}): {s['reason']}" for s in doc["skipped"]]
        if "plots" in doc:
            notes.append(f"{len(doc['plots'])} eigenvalue-plane figure(s) in {plot}")
        return rich_table(f"check {path} ({report.kind})", header, rows, caption="\n".join(notes))

    emit(doc, fmt, table=table)
    for r in results:
        for reason in r["reasons"]:
            note(f"{r['verdict']}: {r['name']}: {_as_flags(reason)}")
    if report.verdict == "fail":
        raise typer.Exit(1)

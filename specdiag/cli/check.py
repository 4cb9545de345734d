"""``specdiag check``: gate the recurrent matrices of a weights file in CI (exit 0 ok, 1 fail, 2 bad input)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..check import check_file
from .app import app
from .options import Workers
from .output import TableOrJson, command, emit, note, rich_table

__all__ = ["check_command"]


@command(app, "check")
def check_command(
    path: Annotated[Path, typer.Argument(help="Weights file: .npy, .npz, .safetensors, .pt/.pth (needs torch), .csv/.txt.", show_default=False)],
    key: Annotated[Optional[list[str]], typer.Option("--key", help="Tensor name or glob (repeatable, or comma-separated). Default: every square 2-D tensor.")] = None,
    max_radius: Annotated[float, typer.Option("--max-radius", help="Fail when the spectral radius exceeds this.")] = 1.0,
    seq_len: Annotated[int, typer.Option("--seq-len", help="Sequence length t for the growth figures.")] = 1000,
    max_growth: Annotated[Optional[float], typer.Option("--max-growth", help="Fail when E||h_t||^2 / (t sigma^2 n) exceeds this at t = --seq-len.")] = None,
    diagonal: Annotated[bool, typer.Option("--diagonal", help="Also accept 1-D tensors as diagonals (eigenvalues) of the recurrence.")] = False,
    workers: Workers = None,
    fmt: Annotated[TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")] = TableOrJson.table,
):
    """Gate recurrent weight matrices in CI: exit 0 if all pass, 1 if one fails, 2 on bad input."""
    keys = [k for item in (key or []) for k in item.split(",") if k]
    report = check_file(path, keys=keys or None, diagonal=diagonal, max_radius=max_radius, seq_len=seq_len, max_growth=max_growth, workers=workers)
    results = report.tensors
    doc = {"command": "check", "file": str(path), "thresholds": report.thresholds.to_dict(), "tensors": results, "verdict": report.verdict, "elapsed_s": report.elapsed_s}

    def table():
        rows = [
            (r["name"], "x".join(map(str, r["shape"])), r["dtype"], r["radius"], r["outside_unit_circle"], r["spectral_norm"], r["log10_power_gain"], r["log10_growth"], r["verdict"].upper())
            for r in results
        ]
        header = ["tensor", "shape", "dtype", "radius", "|lambda|>1", "||W||_2", "log10 ||W^t||_F^2/n", "log10 growth", "verdict"]
        notes = [f"t = {seq_len}; growth = E||h_t||^2 / (t sigma^2 n) for iid inputs (1 for orthogonal W)"]
        notes += [f"{r['name']}: {r['glorot']['text']}" for r in results if r["glorot"]]
        return rich_table(f"check {path}", header, rows, caption="\n".join(notes))

    emit(doc, fmt, table=table)
    for r in results:
        for reason in r["reasons"]:
            note(f"{r['verdict']}: {r['name']}: {reason}")
    if report.verdict == "fail":
        raise typer.Exit(1)

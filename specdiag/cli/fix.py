"""``specdiag fix``: rescale the recurrences whose verdict fails, write a new file, check it again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .._check_matrix import DEFAULT_MAX_GROWTH
from .._fix import fix_file
from .._text import printable
from .check import Model, Param
from .options import Workers
from .output import TableOrJson, command, emit, exit_codes_help, note, rich_table
from .root import app

__all__ = ["fix_command", "EXIT_CODES"]

#: fix's own exit codes (beside 2, 130, 143): 1 is a gate verdict, as in check (the new file fails it)
EXIT_CODES = {
    0: "the new file passes the check",
    1: "the new file still fails the check (a recurrence that could not be rescaled): a gate failed",
}


@command(app, "fix", epilog=exit_codes_help(EXIT_CODES))
def fix_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="Weights file: .safetensors, .npz, .npy or a PyTorch state dict (.pt/.pth/.ckpt/.bin).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Optional[Path], typer.Option("--out", help="The new file (same suffix). Required unless --in-place.")
    ] = None,
    target: Annotated[
        Optional[float],
        typer.Option(
            "--target", help="Radius each failing recurrence gets [default: 0.99 x --max-radius].", show_default=False
        ),
    ] = None,
    in_place: Annotated[bool, typer.Option("--in-place", help="Overwrite PATH itself (atomically).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out.")] = False,
    key: Annotated[
        Optional[list[str]],
        typer.Option("--key", help="Tensor name or glob (repeatable, or comma-separated), as in check."),
    ] = None,
    model: Annotated[Model, typer.Option("--model", help="Name-rule family, as in check.")] = Model("auto"),
    param: Annotated[Param, typer.Option("--param", help="How SSM diagonals are read, as in check.")] = Param("auto"),
    max_radius: Annotated[float, typer.Option("--max-radius", help="The check's radius gate.")] = 1.0,
    seq_len: Annotated[float, typer.Option("--seq-len", help="The check's sequence length.")] = 1000,
    max_growth: Annotated[float, typer.Option("--max-growth", help="The check's growth gate.")] = DEFAULT_MAX_GROWTH,
    no_growth_gate: Annotated[bool, typer.Option("--no-growth-gate", help="Do not gate on growth.")] = False,
    diagonal: Annotated[
        bool, typer.Option("--diagonal", help="1-D tensors selected by --key are eigenvalues.")
    ] = False,
    workers: Workers = None,
    fmt: Annotated[
        TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")
    ] = TableOrJson.table,
):
    """Rescale every recurrence whose check fails to radius --target; everything else byte-identical. Exit 0 when the
    new file passes, 1 when not."""
    keys = [k for item in (key or []) for k in item.split(",") if k] or None
    result = fix_file(
        path,
        out=out,
        target=target,
        in_place=in_place,
        force=force,
        keys=keys,
        model=model.value,
        param=param.value,
        diagonal=diagonal,
        max_radius=max_radius,
        seq_len=seq_len,
        max_growth=None if no_growth_gate else max_growth,
        workers=workers,
    )
    doc = {"command": "fix", **result.to_dict()}

    def table():
        rows = [(printable(r.tensor), r.part, r.radius_before, r.factor, r.radius_after) for r in result.rescaled]
        caption = [
            f"verdict before {result.verdict_before}, after {result.verdict_after}; {result.unchanged} tensor(s) "
            f"byte-identical; record in {printable(result.record)}"
        ]
        caption += [f"not fixed: {printable(n['tensor'])}: {n['reason']}" for n in result.not_fixed]
        title = f"fix {printable(path)} -> {printable(result.out)} (target radius {result.target:g})"
        return rich_table(
            title, ["tensor", "rescaled", "radius before", "factor", "radius after"], rows, caption="\n".join(caption)
        )

    emit(doc, fmt, table=table)
    if not result.rescaled and not result.not_fixed:
        note(f"nothing failed the check: {printable(result.out)} holds the same tensors")
    for item in result.not_fixed:
        note(f"not fixed: {printable(item['tensor'])}: {item['reason']}")
    if result.verdict_after == "fail":
        raise typer.Exit(1)

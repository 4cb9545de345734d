"""``specdiag demo copy-task``: train a linear RNN from each init and compare loss and hidden norms."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._demo import COLUMNS, TASKS, DemoConfig, demo
from .._initializers import METHODS
from .._text import printable
from .options import Force, parse_name_list
from .output import StageProgress, TableOrJson, command, emit, rich_table
from .root import app

__all__ = ["demo_command"]

_DEFAULTS = DemoConfig()


@command(app, "demo")
def demo_command(
    task: Annotated[
        str,
        typer.Argument(help=f"The task: {', '.join(TASKS)} (a delayed copy over long sequences).", show_default=False),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Run directory (created; one with the same options is resumed, its finished inits reused)."
        ),
    ],
    init: Annotated[
        str, typer.Option("--init", help=f"Comma list of inits to compare: {', '.join(METHODS)}.")
    ] = "glorot,rescaled",
    steps: Annotated[int, typer.Option("--steps", help="Training steps per init.")] = _DEFAULTS.steps,
    n: Annotated[int, typer.Option("--n", help="Hidden width (rescaled needs n >= 164).")] = _DEFAULTS.n,
    seq_len: Annotated[
        int, typer.Option("--seq-len", help="Sequence length T (>> sqrt(n) to show the explosion).")
    ] = _DEFAULTS.seq_len,
    delay: Annotated[int, typer.Option("--delay", help="The copy's delay D: y_t = x_{t-D}.")] = _DEFAULTS.delay,
    batch: Annotated[int, typer.Option("--batch", help="Sequences per training step.")] = _DEFAULTS.batch,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate (gradients clipped at norm 1).")] = _DEFAULTS.lr,
    coverage: Annotated[float, typer.Option("--coverage", help="calibrated only: target P(radius <= 1).")] = 0.99,
    seed: Annotated[
        int, typer.Option("--seed", help="Seeds the weights' normals (shared by every init) and the batches.")
    ] = 0,
    force: Force = False,
    fmt: Annotated[
        TableOrJson, typer.Option("--format", "-f", help="table (human) or json (one document on stdout).")
    ] = TableOrJson.table,
):
    """Train a linear RNN on a delayed copy from each init: loss and hidden-norm curves (figure.png) and a summary
    table."""
    inits = parse_name_list(init, "--init", METHODS)
    result = demo(
        out,
        inits=inits,
        coverage=coverage,
        force=force,
        progress=StageProgress(True),
        task=task,
        n=n,
        seq_len=seq_len,
        delay=delay,
        batch=batch,
        steps=steps,
        lr=lr,
        seed=seed,
    )

    def table():
        rows = [[printable(row[c]) if isinstance(row[c], str) else row[c] for c in COLUMNS] for row in result.rows]
        caption = (
            f"figure, tables and arrays in {printable(result.out)}; computed "
            f"{', '.join(result.computed) or 'nothing'}; reused {', '.join(result.reused) or 'nothing'}"
        )
        header = [
            "init",
            "radius init",
            "radius end",
            "||h_T|| init",
            "||h_T|| end",
            "loss first",
            "loss final",
            "step loss < 0.5",
            "diverged at",
            "seconds",
        ]
        return rich_table(
            f"demo {printable(task)}: linear RNN, n = {n}, T = {seq_len}, delay {delay}, {steps} steps",
            header,
            rows,
            caption=caption,
        )

    emit({"command": "demo", **result.to_dict()}, fmt, table=table)

"""``specdiag demo copy-task``: train a linear RNN from a Glorot and from a rescaled init, side by side.

The model is the paper's linear recurrence with a linear input and readout,
h_t = W h_{t-1} + B x_t, h_0 = 0, y_t = C h_t, trained by full backpropagation through time
(NumPy, gradients by hand: no framework needed) with Adam and global gradient-norm clipping at
:data:`CLIP`, the same data and the same optimizer for every init.

The task is a delayed copy: inputs x_t ~ N(0, I_d) iid, targets y_t = x_{t-D} for t > D, mean
squared error over those steps (predicting 0 scores 1). It needs a memory of only D steps, but
the sequences are long, T >> sqrt(n): a hidden state that explodes over T steps (Glorot, radius
just above 1; SPEC section 4) drowns the recent inputs the readout needs, while a radius below 1
(the paper's rescaling) keeps h_t bounded.

Every init draws the same standard normals for W, B and C (so the Glorot and rescaled W are
multiples of one another) and sees the same batches. Results are per init in
``arrays/<init>.npz``; a rerun reuses the inits already complete (``run.json`` holds the config).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._errors import InputError
from ._initializers import METHODS, block_std
from ._report import (
    UnreadableFile,
    claim_run_dir,
    discard_files,
    markdown_table,
    read_npz,
    remove_stale_temps,
    run_metadata,
    write_json_atomic,
    write_npz_atomic,
    atomic_write_text,
    csv_document,
)
from ._results import Result
from ._validation import choice, positive_number, seed_value, whole_number

__all__ = ["DemoConfig", "DemoResult", "demo", "train_linear_rnn", "TASKS"]

TASKS = ("copy-task",)
#: global gradient-norm clip (the same for every init)
CLIP = 1.0
#: training steps between two recorded hidden-norm profiles
PROFILE_EVERY = 100
#: a loss above this, or a non-finite one, ends a run as diverged
DIVERGED = 1e30
RUN_FILES = ("arrays/*.npz", "figure.png", "summary.csv", "summary.md")


@dataclass(frozen=True)
class DemoConfig:
    """The demo's sizes and optimizer (the run directory is resumed only with the same ones)."""

    task: str = "copy-task"
    n: int = 256
    inputs: int = 4
    seq_len: int = 400
    delay: int = 5
    batch: int = 4
    steps: int = 1000
    lr: float = 2e-3
    seed: int = 0

    def __post_init__(self):
        choice(self.task, "task", TASKS)
        whole_number(self.n, "n", minimum=2)
        whole_number(self.inputs, "inputs")
        whole_number(self.batch, "batch")
        whole_number(self.steps, "steps")
        whole_number(self.delay, "delay")
        whole_number(self.seq_len, "seq_len", minimum=self.delay + 1)
        positive_number(self.lr, "lr")
        seed_value(self.seed)


@dataclass(frozen=True)
class DemoResult(Result):
    """The run directory, the per-init summary rows, what was computed and what reused."""

    out: str
    config: dict
    rows: list
    computed: list
    reused: list
    outputs: list
    elapsed_s: float


def _init_params(cfg: DemoConfig, method: str, coverage: float) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(1,)))
    z_w = rng.standard_normal((cfg.n, cfg.n))
    z_b = rng.standard_normal((cfg.n, cfg.inputs))
    z_c = rng.standard_normal((cfg.inputs, cfg.n))
    return {
        "W": z_w * block_std(method, cfg.n, coverage=coverage),
        "B": z_b / math.sqrt(cfg.inputs),
        "C": z_c / math.sqrt(cfg.n),
    }


def _batch(cfg: DemoConfig, step: int) -> np.ndarray:
    """(T, batch, d) inputs of training step ``step``: the same for every init."""
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(2, step)))
    return rng.standard_normal((cfg.seq_len, cfg.batch, cfg.inputs))


def _loss_and_grads(p: dict, x: np.ndarray, delay: int) -> tuple[float, dict, np.ndarray]:
    """MSE of the delayed copy, its gradients by backpropagation through time, and ||h_t|| (batch mean)."""
    t_len, b, _ = x.shape
    n = p["W"].shape[0]
    h = np.zeros((t_len + 1, b, n))
    drive = x @ p["B"].T
    for t in range(t_len):
        h[t + 1] = h[t] @ p["W"].T + drive[t]
    y = h[1:] @ p["C"].T
    err = y[delay:] - x[:-delay]
    count = err.size
    loss = float(np.sum(err * err) / count)
    dy = np.zeros_like(y)
    dy[delay:] = 2.0 * err / count
    g = np.zeros((t_len + 1, b, n))
    dh_out = dy @ p["C"]
    carry = np.zeros((b, n))
    for t in range(t_len, 0, -1):
        carry = dh_out[t - 1] + carry @ p["W"]
        g[t] = carry
    grads = {
        "W": g[1:].reshape(-1, n).T @ h[:-1].reshape(-1, n),
        "B": g[1:].reshape(-1, n).T @ x.reshape(-1, x.shape[2]),
        "C": dy.reshape(-1, dy.shape[2]).T @ h[1:].reshape(-1, n),
    }
    norms = np.linalg.norm(h[1:], axis=2).mean(axis=1)
    return loss, grads, norms


def _radius(w: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvals(w)).max())


def train_linear_rnn(cfg: DemoConfig, method: str, *, coverage: float = 0.99, progress=None) -> dict:
    """Train one init; the arrays of its run (loss per step, ||h_t|| profiles, radii, timing).

    Returns
    -------
    dict
        ``loss`` (steps,), ``final_norm`` (steps,) the batch-mean ||h_T||, ``profile_steps`` and
        ``profiles`` (||h_t|| over t at those steps), ``radius`` at each profile step,
        ``diverged_at`` (-1: never), ``seconds``.
    """
    start = time.perf_counter()
    p = _init_params(cfg, method, coverage)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    loss = np.full(cfg.steps, np.nan)
    final = np.full(cfg.steps, np.nan)
    prof_steps, profiles, radii = [], [], []
    diverged = -1
    for step in range(cfg.steps):
        with np.errstate(over="ignore", invalid="ignore"):
            value, grads, norms = _loss_and_grads(p, _batch(cfg, step), cfg.delay)
        failed = not (math.isfinite(value) and value < DIVERGED)
        if step % PROFILE_EVERY == 0 or step == cfg.steps - 1 or failed:
            prof_steps.append(step)
            profiles.append(np.where(np.isfinite(norms), norms, np.nan))
            radii.append(_radius(p["W"]) if np.all(np.isfinite(p["W"])) else np.inf)
        if failed:
            diverged = step
            break
        loss[step], final[step] = value, norms[-1]
        total = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
        scale = min(1.0, CLIP / total) if total > 0 else 1.0
        for k in p:
            g = grads[k] * scale
            m[k] = beta1 * m[k] + (1 - beta1) * g
            v2[k] = beta2 * v2[k] + (1 - beta2) * g * g
            mhat = m[k] / (1 - beta1 ** (step + 1))
            vhat = v2[k] / (1 - beta2 ** (step + 1))
            p[k] = p[k] - cfg.lr * mhat / (np.sqrt(vhat) + eps)
        if progress is not None:
            progress(1)
    return {
        "loss": loss,
        "final_norm": final,
        "profile_steps": np.asarray(prof_steps),
        "profiles": np.asarray(profiles),
        "radius": np.asarray(radii),
        "diverged_at": np.asarray(diverged),
        "seconds": np.asarray(time.perf_counter() - start),
    }


def _summary(method: str, arrays: dict, cfg: DemoConfig) -> dict:
    loss = arrays["loss"]
    done = loss[np.isfinite(loss)]
    tail = done[-max(1, min(50, done.size // 10)) :] if done.size else done
    below = np.flatnonzero(done < 0.5)
    profiles = arrays["profiles"]
    return {
        "init": method,
        "radius_at_init": float(arrays["radius"][0]),
        "radius_at_end": float(arrays["radius"][-1]) if np.isfinite(arrays["radius"][-1]) else None,
        "hidden_norm_T_at_init": float(profiles[0][-1]),
        "hidden_norm_max_at_init": float(profiles[0].max()),
        "hidden_norm_T_at_end": float(profiles[-1][-1])
        if np.isfinite(profiles[-1][-1])
        else None,  # at the last step, or where it diverged
        "loss_first": float(done[0]) if done.size else None,
        "loss_final": float(tail.mean()) if tail.size else None,
        "first_step_below_0.5": int(below[0]) if below.size else None,
        "diverged_at": int(arrays["diverged_at"]) if int(arrays["diverged_at"]) >= 0 else None,
        "seconds": float(arrays["seconds"]),
    }


def _check_resumable(out: Path, cfg: DemoConfig, force: bool) -> None:
    meta = out / "run.json"
    if not meta.exists():
        if any(out.iterdir()) and not force:
            raise InputError(
                f"out {str(out)!r} is not empty and holds no demo run: choose a new --out, or pass --force", param="out"
            )
        return
    try:
        previous = json.loads(meta.read_text())
        same = previous.get("command") == "demo" and previous.get("config") == asdict(cfg)
    except (ValueError, AttributeError, RecursionError):
        same = False
    if not same and not force:
        raise InputError(
            f"out {str(out)!r} holds another run (other command or options): "
            "use a new --out, the same options to resume, or --force",
            param="out",
        )
    if not same:
        discard_files(out, RUN_FILES)


def demo(
    out: str | Path,
    *,
    inits=("glorot", "rescaled"),
    coverage: float = 0.99,
    force: bool = False,
    progress=None,
    **sizes,
) -> DemoResult:
    """Run (or resume) the copy-task demo for each init in ``inits``; write arrays, figure, tables.

    Parameters
    ----------
    out : str or Path
        Run directory (new, empty, or a demo run with the same options, resumed).
    inits : sequence of str
        Methods of :mod:`specdiag._initializers` ("glorot", "rescaled", "calibrated", "half").
    coverage : float
        For "calibrated".
    force : bool
        Overwrite a directory holding another run.
    progress : callable, optional
        ``progress(total)`` returning None or an object with ``stage(name) -> advance(k)`` and
        ``close()`` (:class:`specdiag.cli.output.StageProgress`).
    **sizes
        Fields of :class:`DemoConfig` (n, inputs, seq_len, delay, batch, steps, lr, seed, task).

    Returns
    -------
    DemoResult
    """
    cfg = DemoConfig(**sizes)
    inits = [choice(i, "inits", METHODS) for i in inits]
    if not inits or len(set(inits)) != len(inits):
        raise InputError("inits must name each init once, e.g. glorot,rescaled", param="inits")
    for method in inits:
        block_std(method, cfg.n, coverage=coverage)  # refuses rescaled at n <= 163 before any work
    start = time.perf_counter()
    with claim_run_dir(Path(out)) as out_dir:
        _check_resumable(out_dir, cfg, force)
        remove_stale_temps(out_dir)
        config = {**asdict(cfg), "coverage": coverage}
        write_json_atomic(
            out_dir / "run.json",
            {**run_metadata("demo", config, device="cpu", elapsed_s=0.0), "config": asdict(cfg), "status": "running"},
        )
        data: dict[str, dict] = {}
        computed, reused, todo = [], [], []
        for method in inits:
            path = out_dir / "arrays" / f"{method}.npz"
            try:
                data[method] = read_npz(
                    path, required=("loss", "profiles", "radius", "profile_steps", "diverged_at", "seconds")
                )
                reused.append(method)
            except UnreadableFile:  # missing, truncated or corrupt: computed (again)
                todo.append(method)
        bar = progress(cfg.steps * len(todo)) if progress and todo else None
        try:
            for method in todo:
                data[method] = train_linear_rnn(
                    cfg, method, coverage=coverage, progress=bar.stage(f"training {method}") if bar else None
                )
                write_npz_atomic(out_dir / "arrays" / f"{method}.npz", data[method])
                computed.append(method)
        finally:
            if bar:
                bar.close()
        rows = [_summary(method, data[method], cfg) for method in inits]
        outputs = _render(out_dir, cfg, inits, data, rows)
        meta = {
            **run_metadata("demo", config, device="cpu", elapsed_s=time.perf_counter() - start),
            "config": asdict(cfg),
            "status": "complete",
            "computed": computed,
            "reused": reused,
            "summary": rows,
            "outputs": outputs,
        }
        write_json_atomic(out_dir / "run.json", meta)
    return DemoResult(str(out_dir), asdict(cfg), rows, computed, reused, outputs, time.perf_counter() - start)


COLUMNS = (
    "init",
    "radius_at_init",
    "radius_at_end",
    "hidden_norm_T_at_init",
    "hidden_norm_T_at_end",
    "loss_first",
    "loss_final",
    "first_step_below_0.5",
    "diverged_at",
    "seconds",
)


def _render(out: Path, cfg: DemoConfig, inits: list, data: dict, rows: list) -> list[str]:
    import matplotlib  # noqa: PLC0415 (plotting only when a figure is drawn)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method in inits:
        arrays = data[method]
        steps = np.arange(arrays["loss"].size)
        line = left.plot(steps, arrays["loss"], label=method, lw=1)[0]
        t = np.arange(1, arrays["profiles"].shape[1] + 1)
        right.plot(t, arrays["profiles"][0], color=line.get_color(), label=f"{method}, at init")
        last = int(arrays["profile_steps"][-1])
        diverged = " (loss overflowed: stopped)" if int(arrays["diverged_at"]) >= 0 else ""
        right.plot(t, arrays["profiles"][-1], color=line.get_color(), ls="--", label=f"{method}, step {last}{diverged}")
    left.set(
        yscale="log",
        xlabel="training step",
        ylabel="loss (MSE; 1 = predicting 0)",
        title=f"delayed copy (D = {cfg.delay}), T = {cfg.seq_len}, n = {cfg.n}",
    )
    left.axhline(1.0, color="grey", lw=0.6, ls=":")
    right.set(yscale="log", xlabel="t", ylabel="mean ||h_t||", title="hidden-state norms along the sequence")
    for ax in (left, right):
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    from ._report import atomic_write_bytes  # noqa: PLC0415
    import io  # noqa: PLC0415

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(out / "figure.png", buffer.getvalue())
    table = [[row[c] for c in COLUMNS] for row in rows]
    atomic_write_text(out / "summary.csv", csv_document(COLUMNS, table))
    atomic_write_text(out / "summary.md", markdown_table(COLUMNS, table))
    return ["figure.png", "summary.csv", "summary.md"]

"""Width sweeps: radius statistics (and optional dynamics) over a grid of (n, init, field).

The work is split into tasks of (grid point, chunk of matrix indices). Matrix i of a grid point is
drawn from the stream (seed, i), so results are identical whatever the executor, worker count or
chunk size. Each finished task is saved atomically as ``tasks/<point>/<start>-<stop>.npz`` by the
driver; a rerun (``--resume``) computes only the missing ones, so an interruption or a killed
worker loses at most the tasks in flight. Merging writes sweep.csv, sweep.json and run.json.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import _theory as theory
from ._backend import MATRIX_STREAM, host_rng, resolve_device
from ._linalg import eigendecomposition, log_power_sums_from_eig
from ._errors import InputError
from ._inits import INITS, Ensemble, InitOptions, make_ensemble
from ._report import (
    UnreadableFile, atomic_write_text, csv_document, discard_files, read_npz, remove_stale_temps, run_metadata, write_json_atomic,
    write_npz_atomic,
)
from ._pool import single_blas_thread
from ._spectra import radius_stats, sample_radii

__all__ = ["SweepConfig", "Point", "Task", "grid", "dynamics_steps", "make_tasks", "compute_task", "RUN_FILES", "check_same_config", "load_config", "run_sweep", "merge", "summarize_point", "summarize_dynamics", "draw_figures", "sweep"]


log = logging.getLogger("specdiag")


@dataclass(frozen=True)
class SweepConfig:
    ns: tuple
    inits: tuple = ("glorot",)
    fields: tuple = ("real",)
    samples: int = 400
    seed: int = 0
    chunk_size: int = 50
    precision: str = "single"
    dynamics: tuple = ()  # c values: k = t = round(c sqrt(n))
    rescale: str = "paper"
    coverage: float = 0.9
    device: str = "cpu"  # resolved on each worker: "auto" uses a worker's GPU when it has one

    def validate(self) -> SweepConfig:
        if not self.ns or min(self.ns) < 2:
            raise InputError("every width in --n must be at least 2")
        if self.samples < 1 or self.chunk_size < 1:
            raise InputError("--samples and --chunk-size must be at least 1")
        resolve_device(self.device)  # unknown names, and "gpu" without one here, are errors
        if any(c <= 0 for c in self.dynamics):
            raise InputError("--dynamics values c must be positive (k = c sqrt(n))")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> SweepConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class Point:
    n: int
    init: str
    field: str

    @property
    def id(self) -> str:
        return f"n{self.n}-{self.init}-{self.field}"


@dataclass(frozen=True)
class Task:
    point: Point
    start: int
    stop: int
    ensemble: Ensemble
    seed: int
    precision: str
    dynamics: tuple
    device: str = "cpu"

    @property
    def relpath(self) -> str:
        return f"tasks/{self.point.id}/{self.start:07d}-{self.stop:07d}.npz"


def grid(cfg: SweepConfig) -> list[Point]:
    """Grid points; diagonal inits are complex only, so they appear once per n."""
    points = []
    for n in cfg.ns:
        for init in cfg.inits:
            for field in (INITS[init].fields if INITS[init].diagonal else cfg.fields):
                p = Point(int(n), init, field)
                if p not in points:
                    points.append(p)
    return points


def dynamics_steps(n: int, cs) -> np.ndarray:
    return np.array([max(1, round(c * math.sqrt(n))) for c in cs], dtype=np.int64)


def make_tasks(cfg: SweepConfig, ensembles: dict[Point, Ensemble]) -> list[Task]:
    return [
        Task(p, start, min(start + cfg.chunk_size, cfg.samples), ensembles[p], cfg.seed, cfg.precision, cfg.dynamics, cfg.device)
        for p in ensembles
        for start in range(0, cfg.samples, cfg.chunk_size)
    ]


def compute_task(task: Task) -> dict:
    """Radii of matrices start..stop-1 of a grid point (and, with dynamics, log ||W^k||_F^2 / n and
    log E_x||h_t||^2 from each W's eigendecomposition). Runs on a worker; pure."""
    count = task.stop - task.start
    radii = sample_radii(task.ensemble, count, task.seed, precision=task.precision, device=resolve_device(task.device), workers=1, start_index=task.start, sampler="dense" if task.dynamics else "hessenberg")
    out = {"radii": radii}
    if task.dynamics:
        ks = dynamics_steps(task.point.n, task.dynamics)
        power = np.empty((count, ks.size))
        hidden = np.empty((count, ks.size))
        with single_blas_thread():
            for row, i in enumerate(range(task.start, task.stop)):
                w = task.ensemble.sample(host_rng(task.seed, MATRIX_STREAM, i))
                w = np.diag(w) if task.ensemble.diagonal else w
                log_power, hidden[row] = log_power_sums_from_eig(w, *eigendecomposition(w), ks)
                power[row] = log_power - math.log(task.point.n)
        out["log_q"] = power
        out["log_hidden_sq"] = hidden
    return out


#: the files a sweep writes, removed by ``force`` before another run takes the directory
RUN_FILES = ("tasks/*/*.npz", "sweep.json", "sweep.csv", "sweep_*.png")


def check_same_config(out: Path, cfg: SweepConfig, *, force: bool = False) -> None:
    """A sweep directory may be resumed only with its own options; ``force`` discards another run."""
    meta = out / "run.json"
    if meta.exists():
        try:
            previous = SweepConfig.from_dict(json.loads(meta.read_text())["config"])
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            if force:
                discard_files(out, RUN_FILES)
                return
            raise InputError(f"out {str(meta)!r} is not a specdiag sweep: choose another --out, or pass --force", param="out") from None
        if previous != cfg and force:
            discard_files(out, RUN_FILES)
        elif previous != cfg:
            raise InputError(f"out {str(out)!r} holds a sweep with other options: use --resume {out}, a new --out, or --force to overwrite it", param="out")


def load_config(out: Path) -> SweepConfig:
    """The configuration of the sweep in ``out`` (for ``--resume``), validated."""
    try:
        cfg = SweepConfig.from_dict(json.loads((out / "run.json").read_text())["config"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise InputError(f"resume: no sweep to resume in {str(out)!r} (run.json missing or unreadable): start one with --out", param="resume") from None
    return cfg.validate()


def _task_file_ok(out: Path, task: Task) -> bool:
    """A saved task result that reads in full and holds its matrices' radii (and dynamics)."""
    required = ("radii", "log_q", "log_hidden_sq") if task.dynamics else ("radii",)
    try:
        arrays = read_npz(out / task.relpath, required)
    except UnreadableFile as exc:
        log.warning("task %s: %s is unreadable (%s): recomputing it", task.point.id, task.relpath, exc)
        return False
    if arrays["radii"].shape != (task.stop - task.start,):
        log.warning("task %s: %s holds %s radii, not %d: recomputing it", task.point.id, task.relpath, arrays["radii"].shape, task.stop - task.start)
        return False
    return True


def run_sweep(cfg: SweepConfig, out: Path, executor, *, on_task: Callable[[Task, BaseException | None], None] | None = None, options: InitOptions | None = None, force: bool = False) -> dict:
    """Run the missing tasks on ``executor``, save each as it lands, then merge. Returns sweep.json."""
    from ._resources import check_disk, guard, sweep_estimate  # noqa: PLC0415

    cfg.validate()
    estimate = guard(sweep_estimate(cfg, getattr(executor, "workers", 1) or 1))
    check_same_config(out, cfg, force=force)
    check_disk(out, estimate.disk)
    remove_stale_temps(out)  # left by a killed run
    options = options or InitOptions(rescale=cfg.rescale, coverage=cfg.coverage, seed=cfg.seed)
    ensembles = {p: make_ensemble(p.init, p.n, p.field, options) for p in grid(cfg)}
    tasks = make_tasks(cfg, ensembles)
    write_json_atomic(out / "run.json", {**run_metadata("sweep", asdict(cfg), device="cpu", elapsed_s=0.0, executor=executor.name), "config": asdict(cfg), "status": "running"})
    todo = []
    for t in tasks:  # a truncated or corrupt task file is recomputed, and said so
        path = out / t.relpath
        if path.exists() and not _task_file_ok(out, t):
            path.unlink(missing_ok=True)
        if not path.exists():
            todo.append(t)
    failures = []
    start = time.perf_counter()
    for task, result, error in executor.run(compute_task, todo):
        if error is None:
            write_npz_atomic(out / task.relpath, result)
        else:
            failures.append({"point": task.point.id, "start": task.start, "stop": task.stop, "error": f"{type(error).__name__}: {error}"})
        if on_task:
            on_task(task, error)
    doc = merge(cfg, out, tasks)
    doc["failed_tasks"] = failures
    doc["computed_tasks"], doc["reused_tasks"] = len(todo) - len(failures), len(tasks) - len(todo)
    elapsed = time.perf_counter() - start
    write_json_atomic(out / "sweep.json", doc)
    write_json_atomic(out / "run.json", {
        **run_metadata("sweep", asdict(cfg), device="cpu", elapsed_s=elapsed, executor=executor.name),
        "config": asdict(cfg), "status": "incomplete" if failures else "complete",
        "tasks": len(tasks), "computed_tasks": doc["computed_tasks"], "failed_tasks": failures,
        "matrices_per_s": doc["computed_tasks"] and sum(t.stop - t.start for t in todo) / elapsed,
    })
    return doc


def merge(cfg: SweepConfig, out: Path, tasks: list[Task]) -> dict:
    """Per grid point: concatenate its task files in index order and summarize; write sweep.csv."""
    by_point: dict[Point, list[Task]] = {}
    for t in tasks:
        by_point.setdefault(t.point, []).append(t)
    rows = []
    for point, point_tasks in by_point.items():
        arrays = []
        for t in sorted(point_tasks, key=lambda t: t.start):
            try:
                arrays.append(read_npz(out / t.relpath, ("radii",)))
            except UnreadableFile:  # missing, or truncated: the point is incomplete
                pass
        row = {"id": point.id, "n": point.n, "init": point.init, "field": point.field, "complete": len(arrays) == len(point_tasks)}
        if not row["complete"]:
            row["missing_tasks"] = len(point_tasks) - len(arrays)
            rows.append(row)
            continue
        radii = np.concatenate([a["radii"] for a in arrays])
        row.update(summarize_point(point, point_tasks[0].ensemble, radii, cfg))
        if cfg.dynamics:
            row.update(summarize_dynamics(point, point_tasks[0].ensemble, np.vstack([a["log_q"] for a in arrays]), np.vstack([a["log_hidden_sq"] for a in arrays]), cfg.dynamics))
        rows.append(row)
    complete = [r for r in rows if r["complete"]]
    if complete:
        header = [k for k in complete[0] if not isinstance(complete[0][k], (list, dict))]
        atomic_write_text(out / "sweep.csv", csv_document(header, ([r.get(h) for h in header] for r in complete)))
    return {"command": "sweep", "config": asdict(cfg), "points": rows}


def summarize_point(point: Point, ensemble: Ensemble, radii: np.ndarray, cfg: SweepConfig) -> dict:
    s = radius_stats(radii).to_dict()
    s.pop("count")
    above = int(np.sum(radii > 1.0))
    from scipy import stats as sstats  # noqa: PLC0415 (scipy.stats: not at CLI start-up)

    ci = sstats.binomtest(above, radii.size).proportion_ci(confidence_level=0.95, method="wilson")
    row = {"samples": int(radii.size), **{f"radius_{k}": v for k, v in s.items() if k != "p_above_1"}}
    row.update(p_above_1=s["p_above_1"], p_above_1_lo=float(ci.low), p_above_1_hi=float(ci.high))
    row["radius_mean_se"] = s["std"] / math.sqrt(radii.size)
    predicted = ensemble.law_summary()
    row["theory_mean"] = predicted.mean if predicted else None
    row["theory_p_above_1"] = predicted.p_above_1 if predicted else None
    row["theory_source"] = predicted.source if predicted else None
    row["rider_location"] = theory.rider_location(point.n) if point.n > theory.LAST_UNDEFINED_N else None
    row["scale_factor"] = ensemble.rescaling.factor if ensemble.rescaling else None
    return row


def summarize_dynamics(point: Point, ensemble: Ensemble, log_q: np.ndarray, log_hidden_sq: np.ndarray, cs) -> dict:
    """Per c: mean over matrices of ||W^k||_F^2/n (estimates Q scaled by gain^2k) with its standard
    error, and log10 sqrt(E||h_t||^2) for unit-variance inputs; exact where known."""
    ks = dynamics_steps(point.n, cs)
    q = np.exp(log_q)
    hidden = np.exp(log_hidden_sq - log_hidden_sq.max(axis=0)) * 1.0
    exact = None
    if ensemble.exact_powers:
        exact = np.exp(theory.log_q(point.n, ks) + 2 * ks * math.log(ensemble.gain))
    with np.errstate(over="ignore"):
        return {
            "dynamics_c": list(cs),
            "dynamics_k": ks.tolist(),
            "q_mean": [float(v) if np.isfinite(v) else None for v in q.mean(axis=0)],
            "q_se": [float(v) if np.isfinite(v) else None for v in q.std(axis=0, ddof=1) / math.sqrt(q.shape[0])] if q.shape[0] > 1 else None,
            "q_exact": exact.tolist() if exact is not None else None,
            "log10_rms_hidden": ((np.log(hidden.mean(axis=0)) + log_hidden_sq.max(axis=0)) / (2 * math.log(10))).tolist(),
        }


def draw_figures(out: Path, points: list) -> list[str]:
    """The scaling figures of a finished sweep, written into its directory; their file names."""
    from ._plots import figure_sweep_collapse, figure_sweep_excess, figure_sweep_p_above, save_figure  # noqa: PLC0415

    written = []
    for name, make in (("sweep_excess.png", figure_sweep_excess), ("sweep_p_above_1.png", figure_sweep_p_above)):
        save_figure(make(points), out / name)
        written.append(name)
    if any(p.get("q_mean") for p in points):
        save_figure(figure_sweep_collapse(points), out / "sweep_collapse.png")
        written.append("sweep_collapse.png")
    return written


def sweep(
    n,
    out: str | Path,
    *,
    inits=("glorot",),
    fields=("real",),
    samples: int = 400,
    chunk_size: int = 50,
    dynamics=(),
    seed: int = 0,
    precision: str = "single",
    rescale: str = "paper",
    coverage: float = 0.9,
    device: str = "cpu",
    scheduler: str | None = None,
    workers: int | None = None,
) -> dict:
    """Radius statistics over a grid of widths x inits x fields, saved task by task into ``out``.

    Rerunning with the same arguments resumes; ``scheduler`` is a Dask address or "local"
    (default: a local process pool). Returns the merged document (also ``out/sweep.json``).
    """
    from ._executors import make_executor  # noqa: PLC0415 (Dask only when asked for)
    from ._report import prepare_out_dir  # noqa: PLC0415

    ns = (n,) if isinstance(n, int) else tuple(n)
    cfg = SweepConfig(
        ns=ns, inits=tuple(inits), fields=tuple(fields), samples=samples, seed=seed, chunk_size=chunk_size,
        precision=precision, dynamics=tuple(dynamics), rescale=rescale, coverage=coverage, device=device,
    ).validate()
    executor = make_executor(scheduler, workers)
    try:
        return run_sweep(cfg, prepare_out_dir(out, command="sweep"), executor)
    finally:
        executor.close()

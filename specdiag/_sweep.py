"""Width sweeps: radius statistics (and optional dynamics) over a grid of (n, init, field).

The work is split into tasks of (grid point, chunk of matrix indices). Matrix i of a grid point is
drawn from the stream (seed, i), so results are identical whatever the executor, worker count or
chunk size. Each finished task is saved atomically as ``tasks/<point>/<start>-<stop>.npz`` by the
driver; a rerun (``resume=``) computes only the missing ones, so an interruption or a killed
worker loses at most the tasks in flight. Merging writes sweep.csv, sweep.json and run.json.

:func:`sweep` is the one entry point (the CLI command is a thin layer over it): it validates the
grid, picks the executor (a local GPU sweep runs in one process: CUDA does not survive fork),
claims and locks the run directory, runs the missing tasks and returns a :class:`SweepResult`
whose ``to_dict()`` is the ``specdiag sweep --format json`` document.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager

import numpy as np

from . import _theory as theory
from ._backend import MATRIX_STREAM, host_rng, resolve_device
from ._linalg import eigendecomposition, log_power_sums_from_eig
from ._errors import InputError
from ._inits import INITS, Ensemble, InitOptions, make_ensemble
from ._report import (
    UnreadableFile,
    atomic_write_text,
    claim_run_dir,
    csv_document,
    prepare_out_dir,
    quote_path,
    read_npz,
    release_run_dir,
    remove_stale_temps,
    resume_or_discard,
    run_metadata,
    write_json_atomic,
    write_npz_atomic,
)
from ._pool import resolve_workers, single_blas_thread
from ._resources import check_disk, guard, sweep_estimate
from ._results import Result
from ._spectra import SAMPLERS, radius_stats, sample_radii
from ._text import printable
from ._validation import choice, positive_number, probability, seed_value, whole_number

__all__ = [
    "SweepResult",
    "SweepConfig",
    "Point",
    "Task",
    "grid",
    "dynamics_steps",
    "make_tasks",
    "compute_task",
    "RUN_FILES",
    "check_same_config",
    "load_config",
    "run_sweep",
    "merge",
    "summarize_point",
    "summarize_dynamics",
    "draw_figures",
    "sweep",
]


log = logging.getLogger("specdiag")

#: progress(total) -> a context manager yielding advance(k), or None (no bar)
Progress = Callable[[int], ContextManager[Callable[[int], None] | None]]


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
    #: radius sampler (:func:`~specdiag._spectra.sample_radii`); None: "hessenberg" (exact in law,
    #: faster) for radius-only sweeps, "dense" (the matrices themselves, which dynamics needs) else
    sampler: str | None = None

    def __post_init__(self):
        if self.sampler is None:
            object.__setattr__(self, "sampler", "dense" if self.dynamics else "hessenberg")

    def validate(self) -> SweepConfig:
        """Every option checked before a run directory is touched; messages name the parameter."""
        if not self.ns:
            raise InputError("n is empty: give at least one width", param="n")
        for n in self.ns:
            whole_number(n, "n", minimum=2)
        whole_number(self.samples, "samples")
        whole_number(self.chunk_size, "chunk_size")
        seed_value(self.seed)
        choice(self.precision, "precision", ("single", "double"))
        for init in self.inits:
            if init not in INITS:
                raise InputError(f"inits: unknown init {quote_path(init)}: use {', '.join(INITS)}", param="inits")
        if not self.inits:
            raise InputError(f"inits is empty: give at least one of {', '.join(INITS)}", param="inits")
        for fld in self.fields or ("",):
            choice(fld, "fields", ("real", "complex"))
        choice(self.rescale, "rescale", ("paper", "calibrated"))
        probability(self.coverage, "coverage")
        for c in self.dynamics:
            positive_number(c, "dynamics")  # c > 0: k = c sqrt(n)
        resolve_device(self.device)  # unknown names, and "gpu" without one here, are errors
        choice(self.sampler, "sampler", SAMPLERS)
        if self.dynamics and self.sampler != "dense":
            raise InputError(
                f"sampler {self.sampler!r} never forms the matrices that dynamics needs: use sampler='dense' with "
                "dynamics (or leave sampler unset)",
                param="sampler",
            )
        return self

    @classmethod
    def from_dict(cls, d: dict) -> SweepConfig:
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**values)


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
    sampler: str = "dense"

    @property
    def relpath(self) -> str:
        return f"tasks/{self.point.id}/{self.start:07d}-{self.stop:07d}.npz"


def grid(cfg: SweepConfig) -> list[Point]:
    """Grid points; diagonal inits are complex only, so they appear once per n."""
    points = []
    for n in cfg.ns:
        for init in cfg.inits:
            for field in INITS[init].fields if INITS[init].diagonal else cfg.fields:
                p = Point(int(n), init, field)
                if p not in points:
                    points.append(p)
    return points


def dynamics_steps(n: int, cs) -> np.ndarray:
    return np.array([max(1, round(c * math.sqrt(n))) for c in cs], dtype=np.int64)


def make_tasks(cfg: SweepConfig, ensembles: dict[Point, Ensemble]) -> list[Task]:
    assert cfg.sampler is not None, "SweepConfig.__post_init__ fills in the sampler"
    return [
        Task(
            p,
            start,
            min(start + cfg.chunk_size, cfg.samples),
            ensembles[p],
            cfg.seed,
            cfg.precision,
            cfg.dynamics,
            cfg.device,
            cfg.sampler,
        )
        for p in ensembles
        for start in range(0, cfg.samples, cfg.chunk_size)
    ]


def compute_task(task: Task) -> dict:
    """Radii of matrices start..stop-1 of a grid point (and, with dynamics, log ||W^k||_F^2 / n and
    log E_x||h_t||^2 from each W's eigendecomposition). Runs on a worker; pure."""
    count = task.stop - task.start
    device = resolve_device(task.device)
    sampler = task.sampler
    radii = sample_radii(
        task.ensemble,
        count,
        task.seed,
        precision=task.precision,
        device=device,
        workers=1,
        start_index=task.start,
        sampler=sampler,
    )
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
    resume_or_discard(
        out,
        RUN_FILES,
        lambda previous: ["options"] if SweepConfig.from_dict(previous) != cfg else [],
        force=force,
        not_a_run=f"out {quote_path(out / 'run.json')} is not a specdiag sweep: choose another out, or pass force to "
        "overwrite it",
        other_run=lambda _: (
            f"out {quote_path(out)} holds a sweep with other options: pass resume={quote_path(out)} to "
            "finish it, choose a new out, or pass force to overwrite it"
        ),
    )


def load_config(out: Path) -> SweepConfig:
    """The configuration of the sweep in ``out`` (for ``resume``), validated."""
    try:
        cfg = SweepConfig.from_dict(json.loads((out / "run.json").read_text())["config"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise InputError(
            f"resume: no sweep to resume in {quote_path(out)} (run.json missing or unreadable): start one with out=",
            param="resume",
        ) from None
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
        log.warning(
            "task %s: %s holds %s radii, not %d: recomputing it",
            task.point.id,
            task.relpath,
            arrays["radii"].shape,
            task.stop - task.start,
        )
        return False
    return True


def _pending(out: Path, tasks: list[Task]) -> list[Task]:
    """Tasks with no readable result on disk; a truncated or corrupt file is removed (and said so)."""
    todo = []
    for t in tasks:
        path = out / t.relpath
        if path.exists() and not _task_file_ok(out, t):
            path.unlink(missing_ok=True)
        if not path.exists():
            todo.append(t)
    return todo


def _manifest(cfg: SweepConfig, executor, *, elapsed_s: float, **extra) -> dict:
    return {
        **run_metadata("sweep", asdict(cfg), device="cpu", elapsed_s=elapsed_s, executor=executor.name),
        "config": asdict(cfg),
        **extra,
    }


def _run_tasks(executor, todo: list[Task], out: Path, on_task, progress: Progress | None) -> list[dict]:
    """Run ``todo`` on ``executor``, saving each result as it lands; the failed tasks."""
    failures = []
    bar = progress(len(todo)) if progress else contextlib.nullcontext(None)
    with bar as advance:
        for task, result, error in executor.run(compute_task, todo):
            if error is None:
                write_npz_atomic(out / task.relpath, result)
            else:
                failures.append(
                    {
                        "point": task.point.id,
                        "start": task.start,
                        "stop": task.stop,
                        "error": f"{type(error).__name__}: {error}",
                    }
                )
                log.warning(
                    "task failed: %s matrices %d-%d: %s",
                    task.point.id,
                    task.start,
                    task.stop - 1,
                    printable(failures[-1]["error"]),
                )
            if on_task:
                on_task(task, error)
            if advance:
                advance(1)
    return failures


def run_sweep(
    cfg: SweepConfig,
    out: Path,
    executor,
    *,
    on_task: Callable[[Task, BaseException | None], None] | None = None,
    options: InitOptions | None = None,
    force: bool = False,
    progress: Progress | None = None,
    plot: bool = False,
) -> dict:
    """Run the missing tasks on ``executor``, save each as it lands, then merge. Returns sweep.json.

    ``out`` is created and locked for the whole run (:func:`~specdiag._report.claim_run_dir`):
    a second run into it raises :class:`~specdiag._report.RunDirBusy` before writing anything.
    """
    cfg.validate()
    estimate = guard(sweep_estimate(cfg, getattr(executor, "workers", 1) or 1))
    with claim_run_dir(out) as out:
        check_same_config(out, cfg, force=force)
        remove_stale_temps(out)  # left by a killed run
        options = options or InitOptions(rescale=cfg.rescale, coverage=cfg.coverage, seed=cfg.seed)
        tasks = make_tasks(cfg, {p: make_ensemble(p.init, p.n, p.field, options) for p in grid(cfg)})
        todo = _pending(out, tasks)
        check_disk(out, estimate.disk * len(todo) / max(len(tasks), 1))  # what is on disk already needs no room
        write_json_atomic(out / "run.json", _manifest(cfg, executor, elapsed_s=0.0, status="running"))
        start = time.perf_counter()
        failures = _run_tasks(executor, todo, out, on_task, progress)
        doc = merge(cfg, out, tasks)
        doc["failed_tasks"] = failures
        doc["computed_tasks"], doc["reused_tasks"] = len(todo) - len(failures), len(tasks) - len(todo)
        elapsed = time.perf_counter() - start
        write_json_atomic(out / "sweep.json", doc)
        write_json_atomic(
            out / "run.json",
            _manifest(
                cfg,
                executor,
                elapsed_s=elapsed,
                status="incomplete" if failures else "complete",
                tasks=len(tasks),
                computed_tasks=doc["computed_tasks"],
                failed_tasks=failures,
                matrices_per_s=doc["computed_tasks"] and sum(t.stop - t.start for t in todo) / elapsed,
            ),
        )
        doc["figures"] = draw_figures(out, doc["points"]) if plot else []
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
        row: dict[str, Any] = {
            "id": point.id,
            "n": point.n,
            "init": point.init,
            "field": point.field,
            "complete": len(arrays) == len(point_tasks),
        }
        if not row["complete"]:
            row["missing_tasks"] = len(point_tasks) - len(arrays)
            rows.append(row)
            continue
        radii = np.concatenate([a["radii"] for a in arrays])
        row.update(summarize_point(point, point_tasks[0].ensemble, radii, cfg))
        if cfg.dynamics:
            log_q = np.vstack([a["log_q"] for a in arrays])
            row.update(
                summarize_dynamics(
                    point, point_tasks[0].ensemble, log_q, np.vstack([a["log_hidden_sq"] for a in arrays]), cfg.dynamics
                )
            )
        rows.append(row)
    complete = [r for r in rows if r["complete"]]
    if complete:
        header = [k for k in complete[0] if not isinstance(complete[0][k], (list, dict))]
        atomic_write_text(out / "sweep.csv", csv_document(header, ([r.get(h) for h in header] for r in complete)))
    return {"command": "sweep", "out": str(out), "config": asdict(cfg), "points": rows}


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


_LN10 = math.log(10.0)


def _log_mean_exp(logs: np.ndarray) -> np.ndarray:
    """log of the column means of exp(logs), without forming exp(logs) (no overflow)."""
    top = logs.max(axis=0)
    return top + np.log(np.mean(np.exp(logs - top), axis=0))


def _log_se_exp(logs: np.ndarray) -> np.ndarray:
    """log of the standard error of the column means of exp(logs), in log space."""
    top = logs.max(axis=0)
    scaled = np.exp(logs - top)
    with np.errstate(divide="ignore"):  # a zero spread is log 0 = -inf: reported as 0 below
        return top + np.log(scaled.std(axis=0, ddof=1) / math.sqrt(logs.shape[0]))


def _linear(log_values: np.ndarray) -> list:
    """exp of each log value where float64 holds it, else None (its log10 is reported beside)."""
    with np.errstate(over="ignore"):
        values = np.exp(log_values)
    return [float(v) if np.isfinite(v) else None for v in values]


def summarize_dynamics(point: Point, ensemble: Ensemble, log_q: np.ndarray, log_hidden_sq: np.ndarray, cs) -> dict:
    """Per c: the mean over matrices of ||W^k||_F^2/n (estimates Q scaled by gain^2k) with its
    standard error, and log10 sqrt(E||h_t||^2) for unit-variance inputs; exact where known.

    Everything is computed in log space and reported as log10 (``log10_q_mean``,
    ``log10_q_se``, ``log10_q_exact``); the linear values beside are None where they overflow
    float64 (k = c sqrt(n) with a large c).
    """
    ks = dynamics_steps(point.n, cs)
    log_mean = _log_mean_exp(log_q)
    log_se = _log_se_exp(log_q) if log_q.shape[0] > 1 else None
    log_exact = theory.log_q(point.n, ks) + 2 * ks * math.log(ensemble.gain) if ensemble.exact_powers else None
    return {
        "dynamics_c": list(cs),
        "dynamics_k": ks.tolist(),
        "q_mean": _linear(log_mean),
        "q_se": _linear(log_se) if log_se is not None else None,
        "q_exact": _linear(log_exact) if log_exact is not None else None,
        "log10_q_mean": (log_mean / _LN10).tolist(),
        "log10_q_se": [float(v) / _LN10 if np.isfinite(v) else None for v in log_se] if log_se is not None else None,
        "log10_q_exact": (log_exact / _LN10).tolist() if log_exact is not None else None,
        "log10_rms_hidden": (_log_mean_exp(log_hidden_sq) / (2 * _LN10)).tolist(),
    }


def draw_figures(out: Path, points: list) -> list[str]:
    """The scaling figures of a finished sweep, written into its directory; their file names."""
    from ._plots import figure_sweep_collapse, figure_sweep_excess, figure_sweep_p_above, save_figure  # noqa: PLC0415 (matplotlib)

    written = []
    for name, make in (("sweep_excess.png", figure_sweep_excess), ("sweep_p_above_1.png", figure_sweep_p_above)):
        save_figure(make(points), out / name)
        written.append(name)
    if any(p.get("q_mean") for p in points):
        save_figure(figure_sweep_collapse(points), out / "sweep_collapse.png")
        written.append("sweep_collapse.png")
    return written


@dataclass(frozen=True)
class SweepResult(Result):
    """A sweep's merged results: ``to_dict()`` is the ``specdiag sweep --format json`` document.

    Attributes
    ----------
    command : str
        ``"sweep"``.
    out : str
        The run directory.
    config : dict
        The grid and options (``run.json`` "config").
    points : list of dict
        One row per grid point: radius statistics, P(rho > 1) with its 95% Wilson interval, the
        theory beside, and with dynamics the Q and hidden-norm estimates; ``complete`` False
        with ``missing_tasks`` where tasks failed.
    failed_tasks : list of dict
        Tasks that raised (point, start, stop, error); rerun with ``resume=out``.
    computed_tasks, reused_tasks : int
        Tasks computed by this call and found on disk.
    figures : list of str
        Figures written into ``out`` (``plot=True``).
    """

    command: str
    out: str
    config: dict
    points: list
    failed_tasks: list
    computed_tasks: int
    reused_tasks: int
    figures: list

    @classmethod
    def from_doc(cls, doc: dict, out: Path, figures: list) -> SweepResult:
        return cls(
            command="sweep",
            out=str(out),
            config=doc.get("config", {}),
            points=doc.get("points", []),
            failed_tasks=doc.get("failed_tasks", []),
            computed_tasks=doc.get("computed_tasks", 0),
            reused_tasks=doc.get("reused_tasks", 0),
            figures=figures,
        )


def _finished(from_dir: Path, plot: bool) -> SweepResult:
    """A finished sweep read back from ``from_dir``/sweep.json (with ``plot``: its figures redrawn)."""
    try:
        doc = json.loads((from_dir / "sweep.json").read_text())
        points = doc["points"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise InputError(
            f"from_dir {quote_path(from_dir)} holds no readable sweep.json: run a sweep with "
            f"out={quote_path(from_dir)} first",
            param="from_dir",
        ) from None
    figures = []
    if plot:
        with claim_run_dir(from_dir, param="from_dir"):
            figures = draw_figures(from_dir, points)
    return SweepResult.from_doc(doc, from_dir, figures)


def _executor_for(cfg: SweepConfig, scheduler: str | None, workers: int | None):
    """Where the tasks run: a local GPU sweep in this process (CUDA does not survive fork), else
    a local pool of ``workers`` processes or the Dask scheduler."""
    from ._executors import make_executor  # noqa: PLC0415 (Dask only when asked for)

    local_gpu = scheduler is None and cfg.device != "cpu" and resolve_device(cfg.device) == "gpu"
    return make_executor(scheduler, 1 if local_gpu else resolve_workers(workers))


def sweep(
    n=None,
    *,
    out: str | Path | None = None,
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
    sampler: str | None = None,
    resume: str | Path | None = None,
    from_dir: str | Path | None = None,
    plot: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> SweepResult:
    """Radius statistics over a grid of widths x inits x fields, saved task by task into ``out``.

    Parameters
    ----------
    n : int or sequence of int
        Widths (each at least 2).
    out : str or Path
        Run directory: new, empty, or a sweep with the same options (resumed). Locked while the
        sweep runs: a second run into it fails at once.
    inits, fields : sequence of str
        Initializations (``specdiag.INITS``) and fields (real, complex); diagonal inits are
        complex only.
    samples, chunk_size : int
        Matrices per grid point, and per task (does not change results).
    dynamics : sequence of float
        c values: also ||W^k||_F^2/n and ||h_t|| at k = t = round(c sqrt(n)).
    seed, precision, rescale, coverage
        As for :func:`specdiag.spectral_radii`.
    device : {"cpu", "gpu", "auto"}
        Resolved on each worker; a local GPU sweep runs in one process.
    scheduler : str, optional
        A Dask address (``tcp://host:8786``) or ``"local"``; default a local process pool.
    workers : int, optional
        Local worker processes (default: every core, capped).
    sampler : {"hessenberg", "dense"}, optional
        How radii are drawn (recorded in run.json): "hessenberg" (exact in law, faster; the
        default without dynamics) or "dense" (the matrices themselves: needed by dynamics, and
        radii bit for bit those of specdiag 0.2.0). Non-Gaussian inits are always dense.
    resume : str or Path, optional
        Finish the sweep in this directory with its own options (``n`` and ``out`` not needed).
    from_dir : str or Path, optional
        Read a finished sweep without computing (with ``plot``: redraw its figures).
    plot : bool
        Draw the scaling figures into the run directory.
    force : bool
        Overwrite another run in ``out``.
    progress : callable, optional
        ``progress(total_tasks)`` returning a context manager that yields ``advance(k)`` (or None).

    Returns
    -------
    SweepResult
        ``to_dict()`` is the CLI's JSON document (also ``out/sweep.json``, less ``figures``).

    Examples
    --------
    >>> import specdiag as sd
    >>> res = sd.sweep([8, 16], out=tmp / "s", samples=20, workers=1)  # doctest: +SKIP
    >>> [p["id"] for p in res.points]  # doctest: +SKIP
    ['n8-glorot-real', 'n16-glorot-real']
    """
    if from_dir is not None:
        return _finished(Path(from_dir), plot)
    if resume is not None:
        out = Path(resume)
        cfg = load_config(out)
    else:
        for name, given in (("n", n), ("out", out)):
            if given is None:
                raise InputError(
                    f"{name} is needed for a new sweep (or resume=DIR to finish one, from_dir=DIR to read one)",
                    param=name,
                )
        ns = (n,) if isinstance(n, (int, np.integer)) else tuple(n)
        cfg = SweepConfig(
            ns=ns,
            inits=tuple(inits),
            fields=tuple(fields),
            samples=samples,
            seed=seed,
            chunk_size=chunk_size,
            precision=precision,
            dynamics=tuple(dynamics),
            rescale=rescale,
            coverage=coverage,
            device=device,
            sampler=sampler,
        ).validate()
        assert out is not None  # refused just above
        out = Path(out)
    prepare_out_dir(
        out, command="sweep", force=force, param="resume" if resume is not None else "out"
    )  # up front, before connecting
    release_run_dir(out)  # run_sweep claims it for the run
    executor = _executor_for(cfg, scheduler, workers)
    try:
        doc = run_sweep(cfg, out, executor, force=force, progress=progress, plot=plot)
    finally:
        executor.close()
    return SweepResult.from_doc(doc, out, doc["figures"])

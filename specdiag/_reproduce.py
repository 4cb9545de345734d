"""Reproduce the paper's Figures 1-4, an eigenvalue figure and the summary tables in a run directory.

The work is a list of stages, each computing arrays that are saved atomically as
``arrays/<stage>.npz``. A rerun with the same options resumes from the arrays it finds; ``from_dir``
redraws figures and tables from them without sampling. Figures are drawn only from saved arrays,
so a redraw is byte-identical.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ._dynamics import Request, blowup_step, simulate, simulate_many
from ._backend import MATRIX_STREAM, host_rng, real_dtype, resolve_device
from ._errors import InputError
from ._fit import fit_gumbel
from . import _theory as theory
from ._inits import INITS, Ensemble, InitOptions, finite_n_real, make_ensemble
from ._linalg import eigenvalues
from ._report import (
    UnreadableFile,
    atomic_write_text,
    claim_run_dir,
    csv_document,
    markdown_table,
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
from ._pool import process_map, resolve_workers
from ._resources import check_disk, guard, reproduce_estimate
from ._results import Result
from ._spectra import radius_stats, sample_radii
from ._text import printable
from ._validation import seed_value, whole_number

__all__ = [
    "FIGURES",
    "DEFAULT_FIGURES",
    "OPTIONAL_FIGURES",
    "FIELDS",
    "PAIR_INITS",
    "TABLE_INITS",
    "BLOWUP",
    "EIGENVALUE_PANELS",
    "PANEL_TITLES",
    "MODULI_MATRICES",
    "SCOPE",
    "RUN_FILES",
    "Config",
    "Stage",
    "plan",
    "load_arrays",
    "check_resumable",
    "run",
    "summary_rows",
    "render",
    "config_from_run",
    "ReproduceResult",
    "parse_figures",
    "spread_over_matrices",
    "FIG4_QUANTILES",
    "reproduce",
    "SAMPLER",
]

log = logging.getLogger("specdiag")

#: what `reproduce` can draw: Figures 1-4, the eigenvalue figure, the summary rows for every init
#: ("tables": radii of the inits outside Figures 1-3) and the pooled modulus density ("moduli")
FIGURES = ("1", "2", "3", "4", "eigenvalues", "tables", "moduli")
#: drawn only when asked for (``--figure ...,moduli``)
OPTIONAL_FIGURES = ("moduli",)
DEFAULT_FIGURES = tuple(f for f in FIGURES if f not in OPTIONAL_FIGURES)
FIELDS = ("real", "complex")
PAIR_INITS = ("glorot", "rescaled")
#: the other (init, field) pairs with a summary row ("tables")
TABLE_INITS = (
    ("half", "real"),
    ("half", "complex"),
    ("truncnormal", "real"),
    ("truncnormal", "complex"),
    ("uniform-diag", "complex"),
    ("uniform-disk", "complex"),
    ("lru", "complex"),
)
#: growth factor of the mean hidden-state norm that counts as a blow-up in the summary
BLOWUP = 1e3
EIGENVALUE_PANELS = (
    ("glorot", "real"),
    ("glorot", "complex"),
    ("rescaled", "real"),
    ("half", "real"),
    ("truncnormal", "real"),
    ("uniform-diag", "complex"),
    ("uniform-disk", "complex"),
    ("lru", "complex"),
)
#: panel titles naming both diagonal-uniform variants (docs/science.md section 1)
PANEL_TITLES = {
    "uniform-diag, complex": "uniform-diag: r ~ U[0,1] (authors' code)",
    "uniform-disk, complex": "uniform-disk: uniform on the unit disk",
    "lru, complex": "lru: ring 0.4 <= r <= 0.9",
}
#: matrices pooled per field for the modulus-density figure (at most ``samples``)
MODULI_MATRICES = 20
#: what is not reproduced (README and ``reproduce --help`` say the same)
SCOPE = (
    "The paper's training tables (LRA sCIFAR, ListOps, IMDb) are not reproduced: specdiag covers its "
    "spectral and dynamical results (Figures 1-4 and the radius statistics)."
)


@dataclass(frozen=True)
class Config:
    """Sizes default to the paper's (docs/science.md section 5)."""

    n: int = 500
    samples: int = 100  # radii per (init, field): Figures 1-3
    matrices: int = 100  # matrices per (init, field) for the power and hidden panels
    inputs: int = 50  # inputs (sequences) per matrix
    steps: int = 1000  # last k and t in Figures 1-2
    fig4_matrices: int = 100
    fig4_inputs: int = 5
    fig4_steps: int = 3000
    #: Figures 1-2 record ||W^k x|| every this many k: exact (W^4 is applied directly, or W where
    #: W^4 could leave the float range), a quarter of the products, and on a 1000-step axis
    #: indistinguishable from every k
    trajectory_every: int = 4
    seed: int = 0
    precision: str = "single"
    rescale: str = "paper"
    coverage: float = 0.9
    figures: tuple = DEFAULT_FIGURES

    def __post_init__(self):
        """Every size checked before a run directory is touched (the CLI names the flags)."""
        for key in (
            "n",
            "samples",
            "matrices",
            "inputs",
            "steps",
            "fig4_matrices",
            "fig4_inputs",
            "fig4_steps",
            "trajectory_every",
        ):
            whole_number(getattr(self, key), key, minimum=2 if key == "n" else 1)
        seed_value(self.seed)
        real_dtype(self.precision)

    @classmethod
    def quick(cls, **overrides) -> Config:
        """Small sizes for a smoke run (about 10 s on an idle 2-core box, figures included)."""
        base = dict(n=200, samples=24, matrices=6, inputs=8, steps=300, fig4_matrices=8, fig4_inputs=3, fig4_steps=400)
        return cls(**{**base, **overrides})

    def comparable(self) -> dict:
        """Everything that determines the arrays (not which figures are drawn)."""
        d = asdict(self)
        d.pop("figures")
        return d


@dataclass
class Stage:
    name: str
    units: int  # progress units (matrices) the stage reports
    compute: Callable[[Callable[[int], None] | None], dict]
    #: a dynamics stage: on the CPU, all of a run's dynamics stages go to one simulate_many call
    request: Request | None = None


def _dynamics_arrays(curves) -> dict:
    return {"steps": curves.steps, "log10_mean": curves.log10_mean, "log10_sd": curves.log10_sd}


def _options(cfg: Config) -> InitOptions:
    return InitOptions(rescale=cfg.rescale, coverage=cfg.coverage, seed=cfg.seed)


#: the radii of every stage are drawn densely: matrix i of a radii stage is matrix i of the
#: dynamics stages (Figures 1-2 flag the trajectories of the matrices with rho > 1), so they must
#: be the same matrices, which the Hessenberg sampler never forms
SAMPLER = "dense"


class _Planner:
    """The stages of one run, built step by step (:func:`plan`).

    One ensemble object per (init, field), shared by its radii and dynamics stages (they draw the
    same matrices), and Glorot's radii per field computed once in this process: rescaled and half
    radii are c times Glorot's (:meth:`_radii`).
    """

    def __init__(self, cfg: Config, device: str):
        self.cfg, self.device = cfg, device
        self.options = _options(cfg)
        self.ensembles: dict[tuple[str, str], Ensemble] = {}
        self.glorot_radii: dict[str, np.ndarray] = {}

    def ensemble(self, init: str, fld: str) -> Ensemble:
        if (init, fld) not in self.ensembles:
            self.ensembles[(init, fld)] = make_ensemble(init, self.cfg.n, fld, self.options)
        return self.ensembles[(init, fld)]

    def every(self, kind: str) -> int:
        return self.cfg.trajectory_every if kind == "trajectory" else 1

    # -- stages ------------------------------------------------------------------------------

    def radii(self, init: str, fld: str) -> Stage:
        return Stage(f"radii-{fld}-{init}", self.cfg.samples, functools.partial(self._radii, init, fld))

    def dynamics(self, name: str, init: str, fld: str, kind: str, matrices: int, inputs: int, steps: int) -> Stage:
        request = Request(self.ensemble(init, fld), kind, matrices, inputs, steps, self.every(kind))
        return Stage(name, matrices, functools.partial(self._dynamics, request), request)

    def moduli(self) -> Stage:
        return Stage("moduli", 2 * min(self.cfg.samples, MODULI_MATRICES), self._moduli)

    def eigenvalues(self) -> Stage:
        return Stage("eigenvalues", len(EIGENVALUE_PANELS), self._eigenvalues)

    # -- what each stage computes --------------------------------------------------------------

    def _sample(self, ens: Ensemble, advance) -> np.ndarray:
        cfg = self.cfg
        return sample_radii(
            ens,
            cfg.samples,
            cfg.seed,
            precision=cfg.precision,
            device=self.device,
            on_progress=advance,
            sampler=SAMPLER,
        )

    def _radii(self, init: str, fld: str, advance) -> dict:
        """Radii of an (init, field). Glorot, rescaled and half scale the same normals: matrix i is
        c times Glorot's matrix i, so its radius is c times Glorot's (the working-precision
        matrices differ by one rounding per entry: in single precision a few 1e-6 of the radius,
        the order of the eigensolver's own error), and one eigen-solve per matrix serves all three."""
        ens = self.ensemble(init, fld)
        c = ens.scale_of(self.ensemble("glorot", fld))
        if c is None:
            radii = self._sample(ens, advance)
        else:
            if fld not in self.glorot_radii:
                self.glorot_radii[fld] = self._sample(self.ensemble("glorot", fld), advance)
            elif advance:
                advance(self.cfg.samples)
            radii = c * self.glorot_radii[fld]
        return {"radii": radii, "gain": np.float64(ens.gain)}

    def _dynamics(self, request: Request, advance) -> dict:
        cfg = self.cfg
        curves = simulate(
            request.ensemble,
            request.kind,
            matrices=request.matrices,
            inputs=request.inputs,
            steps=request.steps,
            every=request.every,
            seed=cfg.seed,
            precision=cfg.precision,
            device=self.device,
            on_progress=advance,
        )
        return _dynamics_arrays(curves)

    def _moduli(self, advance) -> dict:
        """|lambda| of Glorot's first matrices per field, pooled (matrix i of the radii stages)."""
        out = {}
        count = min(self.cfg.samples, MODULI_MATRICES)
        for fld in FIELDS:
            ens = self.ensemble("glorot", fld)
            dtype = np.complex128 if fld == "complex" else np.float64
            out[f"glorot, {fld}"] = np.concatenate(
                [
                    np.abs(eigenvalues(ens.sample(host_rng(self.cfg.seed, MATRIX_STREAM, i)).astype(dtype)))
                    for i in range(count)
                ]
            )
            if advance:
                advance(count)
        return out

    def _eigenvalues(self, advance) -> dict:
        """One eigenvalue-figure panel per (init, field), one panel per core at a time."""
        panels = [(self.ensemble(init, fld), self.cfg.seed) for init, fld in EIGENVALUE_PANELS]
        values = {}
        for k, v in process_map(_panel_eigenvalues, panels):
            values[k] = v
            if advance:
                advance(1)
        return {f"{init}, {fld}": values[k] for k, (init, fld) in enumerate(EIGENVALUE_PANELS)}


def _pair_stages(p: _Planner, wanted: set) -> list[Stage]:
    """Figures 1 (real) and 2 (complex): radii, trajectories and hidden states of glorot and rescaled."""
    cfg = p.cfg
    stages = []
    for fld, fig in (("real", "1"), ("complex", "2")):
        if fig not in wanted:
            continue
        for init in PAIR_INITS:
            stages.append(p.radii(init, fld))
            for kind in ("trajectory", "hidden"):
                stages.append(p.dynamics(f"{kind}-{fld}-{init}", init, fld, kind, cfg.matrices, cfg.inputs, cfg.steps))
    return stages


def plan(cfg: Config, device: str) -> list[Stage]:
    """The stages needed for cfg.figures (and the summary table), in run order: Figures 1-2, 3
    (Glorot radii not already planned), moduli, Figure 4, eigenvalues, then the table-only radii."""
    p = _Planner(cfg, device)
    wanted = set(cfg.figures)
    stages = _pair_stages(p, wanted)
    if "3" in wanted:
        stages += [p.radii("glorot", fld) for fld in FIELDS if f"radii-{fld}-glorot" not in {s.name for s in stages}]
    if "moduli" in wanted:
        stages.append(p.moduli())
    if "4" in wanted:
        stages += [
            p.dynamics(f"fig4-{fld}", "glorot", fld, "hidden", cfg.fig4_matrices, cfg.fig4_inputs, cfg.fig4_steps)
            for fld in FIELDS
        ]
    if "eigenvalues" in wanted:
        stages.append(p.eigenvalues())
    if "tables" in wanted:  # last: the figures' stages come first
        stages += [p.radii(init, fld) for init, fld in TABLE_INITS]
    return stages


def _panel_eigenvalues(task) -> np.ndarray:
    """Eigenvalues (float64/complex128) of matrix 0 of an ensemble: one eigenvalue-figure panel."""
    ens, seed = task
    w = ens.sample(host_rng(seed, MATRIX_STREAM, 0))
    return w if ens.diagonal else eigenvalues(w.astype(np.complex128 if ens.field == "complex" else np.float64))


def load_arrays(out: Path, *, discard_unreadable: bool = False) -> dict[str, dict]:
    """Every readable ``arrays/<stage>.npz`` of a run directory, by stage name.

    An unreadable stage file (truncated by a killed run, corrupt) is reported in one log line and
    skipped, and with ``discard_unreadable`` deleted, so that the stage is recomputed.
    """
    data = {}
    for path in sorted((out / "arrays").glob("*.npz")):
        try:
            data[path.stem] = read_npz(path)
        except UnreadableFile as exc:
            if discard_unreadable:
                path.unlink(missing_ok=True)
            log.warning(
                "stage %s: %s is unreadable (%s)%s",
                path.stem,
                path,
                exc,
                ": recomputing it" if discard_unreadable else ": skipped",
            )
    return data


#: the files a reproduce run writes, removed by ``force`` before another run takes the directory
RUN_FILES = (
    "arrays/*.npz",
    "figure*.png",
    "figure*.pdf",
    "figure*.svg",
    "eigenvalues.png",
    "eigenvalues.pdf",
    "eigenvalues.svg",
    "moduli.png",
    "moduli.pdf",
    "moduli.svg",
    "summary.csv",
    "summary.md",
)


def check_resumable(out: Path, cfg: Config, *, force: bool = False) -> None:
    """A run directory may be resumed only with the options that produced its arrays.

    With ``force``, a run with other options (or an unreadable run.json) is discarded instead:
    its run.json first, then its arrays, figures and tables.
    """

    def differences(previous: dict) -> list[str]:
        current = cfg.comparable()
        return [k for k in current if previous.get(k) != current[k]]

    resume_or_discard(
        out,
        RUN_FILES,
        differences,
        force=force,
        not_a_run=f"out {quote_path(out)} holds a run.json that is not a specdiag reproduce run: choose another out, "
        "or pass force to overwrite it",
        other_run=lambda diff: (
            f"out {quote_path(out)} holds a run with different {', '.join(diff)}: use a new out, "
            "the same options to resume, or force to overwrite it"
        ),
    )


def run(
    cfg: Config, out: Path, *, device: str, vector: bool = False, progress: Callable | None = None, force: bool = False
) -> dict:
    """Compute missing stages, then draw figures and write tables. Returns the run metadata.

    Before any work: the memory, time and disk the run needs are checked
    (:mod:`specdiag._resources`), temporary files left by a killed run are removed, and stage
    files that cannot be read are deleted and recomputed (listed in ``stages_recovered``).
    ``run.json`` says "running" until everything else is written, then "complete".
    """
    estimate = guard(reproduce_estimate(cfg, resolve_workers(None)))
    with claim_run_dir(out) as out:
        return _run_locked(cfg, out, estimate, device=device, vector=vector, progress=progress, force=force)


def _run_locked(
    cfg: Config, out: Path, estimate, *, device: str, vector: bool, progress: Callable | None, force: bool
) -> dict:
    """:func:`run` once ``out`` is created and locked."""
    check_resumable(out, cfg, force=force)
    check_disk(out, estimate.disk)
    remove_stale_temps(out)
    stages = plan(cfg, device)
    write_json_atomic(
        out / "run.json",
        {
            **run_metadata("reproduce", asdict(cfg), device=device, elapsed_s=0.0),
            "config": cfg.comparable(),
            "status": "running",
        },
    )
    present = {p.stem for p in (out / "arrays").glob("*.npz")} if (out / "arrays").exists() else set()
    existing = set(load_arrays(out, discard_unreadable=True)) & present
    recovered = sorted(present - existing)
    todo = [s for s in stages if s.name not in existing]
    timings = {}
    start = time.perf_counter()
    # progress(total) -> an object with .stage(name) -> advance(k) and .close(), or None
    bar = progress(sum(s.units for s in todo)) if progress else None
    # CPU: the dynamics stages run last, together (simulate_many: one pool across stages, one
    # GEMM per step for all the stages of a matrix); each is saved as soon as it is complete
    joint = [s for s in todo if s.request is not None] if device == "cpu" else []
    try:
        for stage in todo:
            if any(stage is j for j in joint):
                continue
            t0 = time.perf_counter()
            arrays = stage.compute(bar.stage(stage.name) if bar else None)
            write_npz_atomic(out / "arrays" / f"{stage.name}.npz", arrays)
            timings[stage.name] = time.perf_counter() - t0
        if joint:
            t0 = time.perf_counter()
            advance = bar.stage("dynamics") if bar else None
            results = simulate_many(
                [s.request for s in joint],
                seed=cfg.seed,
                precision=cfg.precision,
                on_progress=(lambda _k, m: advance(m)) if advance else None,
            )
            for k, curves in results:
                write_npz_atomic(out / "arrays" / f"{joint[k].name}.npz", _dynamics_arrays(curves))
                timings[joint[k].name] = time.perf_counter() - t0  # finished this long after the dynamics started
    finally:
        if bar:
            bar.close()
    outputs = render(out, cfg, vector)
    meta = {
        **run_metadata("reproduce", asdict(cfg), device=device, elapsed_s=time.perf_counter() - start),
        "config": cfg.comparable(),
        "status": "complete",
        "stages_computed": timings,
        "stages_reused": sorted(s.name for s in stages if s.name in existing),
        "stages_recovered": recovered,
        "outputs": outputs,
    }
    write_json_atomic(out / "run.json", meta)
    return meta


def _row_theory(cfg: Config, init: str, fld: str, gain: float) -> dict:
    """Theory beside one summary row: the finite-n law (exact, or the real table with its Gumbel
    fit) of the init at the saved gain, and the limit law's Gumbel parameters (n >= 164)."""
    spec = INITS[init]
    if spec.diagonal:
        ens = make_ensemble(init, cfg.n, fld)
    else:  # the saved gain covers every rescaling (paper or calibrated) without recomputing it
        kind = "truncnormal" if init == "truncnormal" else "gaussian"
        std = (1 / math.sqrt(cfg.n)) if kind == "truncnormal" else gain / math.sqrt(cfg.n)
        ens = Ensemble(init, cfg.n, fld, kind, std=std)
    summary = ens.law_summary()
    out = {
        "theory_mean": summary.mean if summary else None,
        "theory_std": summary.std if summary else None,
        "theory_p_above_1": summary.p_above_1 if summary else None,
        "theory_source": summary.source if summary else None,
        "theory_gumbel_loc": None,
        "theory_gumbel_scale": None,
        "limit_gumbel_loc": None,
        "limit_gumbel_scale": None,
    }
    if ens.kind == "gaussian" and fld == "real":
        table = finite_n_real(cfg.n, ens.gain)
        out["theory_gumbel_loc"], out["theory_gumbel_scale"] = table["gumbel_loc"], table["gumbel_scale"]
    limit = ens.asymptotic_law() if ens.kind == "gaussian" and cfg.n > theory.LAST_UNDEFINED_N else None
    if limit is not None:
        out["limit_gumbel_loc"], out["limit_gumbel_scale"] = float(limit.kwds["loc"]), float(limit.kwds["scale"])
    return out


def _fig4_columns(arrays: dict | None) -> dict:
    """Figure 4 at its last step, both ways: log10 of the mean and of the median norm over W, and
    the share of the mean that the largest W contributes (None without Figure 4's arrays)."""
    if arrays is None:
        return {
            "fig4_t": None,
            "fig4_log10_mean_norm": None,
            "fig4_log10_median_norm": None,
            "fig4_top_matrix_share": None,
        }
    spread = spread_over_matrices(arrays)
    return {
        "fig4_t": int(spread["steps"][-1]),
        "fig4_log10_mean_norm": float(spread["mean"][-1]),
        "fig4_log10_median_norm": float(spread["median"][-1]),
        "fig4_top_matrix_share": float(spread["top_share"][-1]),
    }


def summary_rows(cfg: Config, data: dict) -> list[dict]:
    """One row per (init, field) with radii: radius stats, fitted Gumbel beside the theoretical
    Gumbel parameters (finite-n real table; the limit law), the finite-n law's mean, sd and
    P(rho > 1) with its source, and hidden-state norms where simulated."""
    rows = []
    marks = sorted({max(1, round(math.sqrt(cfg.n))), max(1, round(4 * math.sqrt(cfg.n)))})
    order = [(init, fld) for init in PAIR_INITS for fld in FIELDS] + list(TABLE_INITS)
    for init, fld in order:
        radii_data = data.get(f"radii-{fld}-{init}")
        if radii_data is None:
            continue
        radii = radii_data["radii"]
        stats = radius_stats(radii).to_dict()
        row = {"init": init, "field": fld, "n": cfg.n, "samples": int(radii.size)}
        row.update({f"radius_{k}": stats[k] for k in ("mean", "std", "q05", "q95")})
        row["p_above_1"] = stats["p_above_1"]
        if radii.size >= 10 and np.ptp(radii) > 0:
            g = fit_gumbel(radii)
            row["gumbel_loc"], row["gumbel_scale"] = g.loc, g.scale
        else:
            row["gumbel_loc"] = row["gumbel_scale"] = None
        row.update(_row_theory(cfg, init, fld, float(radii_data["gain"])))
        hidden = data.get(f"hidden-{fld}-{init}")
        at: tuple[int | str, ...] = (*marks, "last")  # steps, then the last step simulated
        for t in at:
            key = f"log10_hidden_t{t}"
            if hidden is None:
                row[key] = None
                continue
            steps = hidden["steps"]
            idx = len(steps) - 1 if t == "last" else int(np.searchsorted(steps, t))
            row[key] = (
                float(hidden["log10_mean"][:, idx].mean())
                if idx < len(steps) and (t == "last" or steps[idx] == t)
                else None
            )
        row["blowup_step"] = None if hidden is None else blowup_step(hidden["steps"], hidden["log10_mean"], BLOWUP)
        row.update(_fig4_columns(data.get(f"fig4-{fld}") if init == "glorot" else None))
        rows.append(row)
    return rows


#: the band of Figure 4: these quantiles over matrices
FIG4_QUANTILES = (0.1, 0.9)


def spread_over_matrices(arrays: dict) -> dict:
    """Figure 4's curves from a hidden-state stage: log10 of the norm over matrices, per step.

    ``arrays["log10_mean"]`` holds, per matrix, log10 of its mean norm over inputs. Returned:
    ``steps``; ``mean``, log10 of the arithmetic mean over matrices (= the mean over matrices x
    inputs, computed in log space); ``median`` and ``lo``/``hi`` (:data:`FIG4_QUANTILES`) over
    matrices; and ``top_share``, the fraction of the mean that the largest matrix contributes.
    """
    logs = np.atleast_2d(np.asarray(arrays["log10_mean"], dtype=float)) * math.log(10)
    top = logs.max(axis=0)
    weights = np.exp(logs - top)
    total = weights.sum(axis=0)
    lo, median, hi = np.quantile(logs, (FIG4_QUANTILES[0], 0.5, FIG4_QUANTILES[1]), axis=0) / math.log(10)
    return {
        "steps": np.asarray(arrays["steps"]),
        "mean": (top + np.log(total / logs.shape[0])) / math.log(10),
        "median": median,
        "lo": lo,
        "hi": hi,
        "top_share": 1.0 / total,
    }


def render(out: Path, cfg: Config, vector: bool = False) -> list[str]:
    """Draw every figure whose arrays exist and write summary.md/.csv. Returns written names.

    The figures are independent, so they are drawn in parallel, one process per core
    (:func:`_draw`); each is a pure function of the arrays, so the files are the same either way.
    """
    data = load_arrays(out)
    formats = ("png", "pdf", "svg") if vector else ("png",)
    jobs = []

    def draw(stem, builder, *args, **kwargs):
        jobs.append((out, stem, formats, builder, args, kwargs))

    wanted = set(cfg.figures)
    for fld, fig_id in (("real", "1"), ("complex", "2")):
        names = [f"{p}-{fld}-{i}" for i in PAIR_INITS for p in ("radii", "trajectory", "hidden")]
        if fig_id in wanted and all(name in data for name in names):
            rows = {
                init: {
                    "radii": data[f"radii-{fld}-{init}"]["radii"],
                    "gain": float(data[f"radii-{fld}-{init}"]["gain"]),
                    "trajectory": tuple(
                        data[f"trajectory-{fld}-{init}"][k] for k in ("steps", "log10_mean", "log10_sd")
                    ),
                    "hidden": tuple(data[f"hidden-{fld}-{init}"][k] for k in ("steps", "log10_mean", "log10_sd")),
                }
                for init in PAIR_INITS
            }
            draw(f"figure{fig_id}", "figure_radius_dynamics", rows, n=cfg.n, field=fld, inputs=cfg.inputs)
    if "3" in wanted and all(f"radii-{f}-glorot" in data for f in FIELDS):
        draw(
            "figure3",
            "figure_real_vs_complex_radii",
            data["radii-real-glorot"]["radii"],
            data["radii-complex-glorot"]["radii"],
            n=cfg.n,
        )
    if "4" in wanted and all(f"fig4-{f}" in data for f in FIELDS):
        curves = {fld: spread_over_matrices(data[f"fig4-{fld}"]) for fld in FIELDS}
        draw(
            "figure4",
            "figure_hidden_real_vs_complex",
            curves,
            n=cfg.n,
            matrices=cfg.fig4_matrices,
            inputs=cfg.fig4_inputs,
        )
    if "eigenvalues" in wanted and "eigenvalues" in data:
        spectra = {PANEL_TITLES.get(key, key): values for key, values in data["eigenvalues"].items()}
        draw("eigenvalues", "figure_eigenvalues", spectra, n=cfg.n)
    if "moduli" in wanted and "moduli" in data:
        draw("moduli", "figure_modulus_density", data["moduli"], n=cfg.n, matrices=min(cfg.samples, MODULI_MATRICES))
    drawn = dict(process_map(_draw, jobs))
    written = [name for k in range(len(jobs)) for name in drawn[k]]
    summary = summary_rows(cfg, data)
    if summary:
        header = list(summary[0])
        atomic_write_text(out / "summary.csv", csv_document(header, ([r[h] for h in header] for r in summary)))
        atomic_write_text(
            out / "summary.md",
            f"# specdiag reproduce: summary (n = {cfg.n})\n\n"
            + markdown_table(header, ([r[h] for h in header] for r in summary)),
        )
        written += ["summary.csv", "summary.md"]
    return written


def _draw(job) -> list[str]:
    """Pool entry: build one figure with ``plots.<builder>(*args, **kwargs)``, write it in each
    format (atomically), and return the file names."""
    from . import _plots as plots  # noqa: PLC0415 (matplotlib: only when drawing)

    out, stem, formats, builder, args, kwargs = job
    fig = getattr(plots, builder)(*args, **kwargs)
    for fmt in formats:
        plots.save_figure(fig, out / f"{stem}.{fmt}")
    return [f"{stem}.{fmt}" for fmt in formats]


def config_from_run(out: Path) -> Config:
    """The Config stored in a run directory's run.json (for ``from_dir``)."""
    meta = out / "run.json"
    if not meta.exists():
        raise InputError(
            f"from_dir {quote_path(out)} holds no run.json: give a directory written by reproduce with out=",
            param="from_dir",
        )
    try:
        params = json.loads(meta.read_text())["parameters"]
        params["figures"] = tuple(params["figures"])
        return Config(**params)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InputError(
            f"from_dir: cannot read the run parameters from {quote_path(meta)} ({type(exc).__name__}: "
            f"{printable(exc)})",
            param="from_dir",
        ) from None


@dataclass(frozen=True)
class ReproduceResult(Result):
    """What a reproduce run (or a redraw) wrote: ``to_dict()`` is ``reproduce --format json``.

    Attributes
    ----------
    command : str
        ``"reproduce"``.
    out : str
        The run directory.
    files : list of str
        Figures and tables written, in order.
    summary : list of dict
        One row per (init, field) with radii (:func:`summary_rows`).
    stages_computed : dict or None
        Seconds per stage computed by this call (None for a redraw).
    stages_reused : list of str or None
        Stages found on disk (None for a redraw).
    """

    command: str
    out: str
    files: list
    summary: list
    stages_computed: dict | None
    stages_reused: list | None


def parse_figures(figure) -> tuple:
    """``"all"``, ``"1,3"`` or a sequence of figure names -> a tuple of :data:`FIGURES`."""
    if isinstance(figure, str):
        if figure.strip() == "all":
            return DEFAULT_FIGURES
        figure = figure.split(",")
    figures = tuple(dict.fromkeys(str(f).strip() for f in figure if str(f).strip()))
    unknown = [f for f in figures if f not in FIGURES]
    if unknown or not figures:
        raise InputError(
            f"figure {printable(', '.join(unknown)) or '(empty)'} is unknown: use all or a comma list of "
            f"{', '.join(FIGURES)}",
            param="figure",
        )
    return figures


def _config(n: int | None, quick: bool, figure, sizes: dict) -> Config:
    """The run's Config from the call's options; every size checked, and s_n defined where the
    paper's rescaling is drawn, before a run directory is touched."""
    unknown = sorted(set(sizes) - set(Config.__dataclass_fields__) - {"figures"})
    if unknown:
        raise InputError(f"{unknown[0]}: unknown reproduce option {', '.join(unknown)}", param=unknown[0])
    given = {k: v for k, v in {"n": n, **sizes}.items() if v is not None}
    given["figures"] = parse_figures(given.get("figures", figure))
    cfg = Config.quick(**given) if quick else Config(**given)
    if cfg.rescale == "paper" and any(f in cfg.figures for f in ("1", "2", "eigenvalues")):
        theory.paper_scale(cfg.n)  # fail before any work when s_n is undefined at this n
    return cfg


def reproduce(
    n: int | None = None,
    *,
    out: str | Path | None = None,
    from_dir: str | Path | None = None,
    quick: bool = False,
    figure="all",
    device: str = "auto",
    vector: bool = False,
    force: bool = False,
    progress: Callable | None = None,
    **sizes,
) -> ReproduceResult:
    """Compute (or resume) the paper's figures and tables into the run directory ``out``.

    Parameters
    ----------
    n : int, optional
        Width (default 500; 200 with ``quick``).
    out : str or Path
        Run directory (created; a run with the same options is resumed; locked while it runs).
    from_dir : str or Path, optional
        Redraw the figures and tables of a finished run without sampling (instead of ``out``).
    quick : bool
        Small sizes (n = 200) for a smoke run.
    figure : str or sequence of str
        ``"all"`` (Figures 1-4, eigenvalues, tables) or some of :data:`FIGURES`.
    device : {"auto", "cpu", "gpu"}
    vector : bool
        Also write PDF and SVG figures.
    force : bool
        Overwrite another run in ``out``.
    progress : callable, optional
        ``progress(total)`` -> an object with ``.stage(name) -> advance(k)`` and ``.close()``.
    **sizes
        Any :class:`Config` size: samples, matrices, inputs, steps, fig4_matrices, fig4_inputs,
        fig4_steps, trajectory_every, seed, precision, rescale, coverage.

    Returns
    -------
    ReproduceResult
        ``to_dict()`` is the ``specdiag reproduce --format json`` document.
    """
    if from_dir is not None:
        return _redraw(Path(from_dir), vector)
    cfg = _config(n, quick, figure, sizes)
    if out is None:
        raise InputError("out is needed: the run directory (or from_dir=DIR to redraw one)", param="out")
    dev = resolve_device(device)
    out = prepare_out_dir(out, command="reproduce", force=force)
    release_run_dir(out)  # checked up front; run() claims it for the run
    meta = run(cfg, out, device=dev, vector=vector, progress=progress, force=force)
    return ReproduceResult(
        "reproduce",
        str(out),
        meta["outputs"],
        summary_rows(cfg, load_arrays(out)),
        meta["stages_computed"],
        meta["stages_reused"],
    )


def _redraw(from_dir: Path, vector: bool) -> ReproduceResult:
    """Figures and tables redrawn from a run directory's arrays, under its lock."""
    cfg = config_from_run(from_dir)
    with claim_run_dir(from_dir, param="from_dir"):
        written = render(from_dir, cfg, vector)
    if not written:
        raise InputError(
            f"from_dir {quote_path(from_dir)} holds no arrays to draw from: run reproduce with "
            f"out={quote_path(from_dir)} first",
            param="from_dir",
        )
    return ReproduceResult("reproduce", str(from_dir), written, summary_rows(cfg, load_arrays(from_dir)), None, None)

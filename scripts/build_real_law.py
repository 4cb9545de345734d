#!/usr/bin/env python
"""Build the finite-n law of the spectral radius of real Glorot matrices (package data).

Real Gaussian matrices (W_ij iid N(0, 1/n)) have no closed-form law for the spectral radius rho
(docs/science.md section 2), so specdiag ships a Monte Carlo table: ``specdiag/data/real_glorot_radius.json``,
read by :func:`specdiag.laws.real_ginibre`. This script makes it, in two phases:

``run``
    Runs specdiag's own resumable ``sweep`` command, one sweep per *tier* of widths (``--samples``
    is per sweep, and the cost of an eigenvalue problem grows like n^3, so the sample count falls
    with n), plus *held-out* sweeps at widths that are not in the grid (7, 28, 112, 300, 900), used
    only to measure the interpolation error. Every tier has its own seed (base seed + tier index),
    so tiers are independent; widths within one tier share the per-matrix streams (seed, i), which
    makes their errors mildly correlated. Sweeps go under ``--runs-dir`` (default ``data-runs/``,
    git-ignored). To keep a long run immune to edits of the working tree, the sweeps import
    specdiag from a ``git archive`` snapshot of one commit (``--commit``, default HEAD), extracted
    into the runs directory; the commit is recorded in ``state.json`` and reused on every rerun.
    A rerun resumes: finished tiers are skipped, interrupted ones continue with ``sweep --resume``.
    Sweeps run with ``--workers 1`` under ``nice -n 10`` by default (a shared machine).

``tabulate``
    Reads the raw radii (``<tier>/tasks/<point-id>/*.npz``, key ``radii``), computes per width the
    sample count, mean, sd, quantiles, P(rho > 1) and a Gumbel maximum-likelihood fit, each with a
    Monte Carlo standard error, fits the interpolation model in n, measures it against the held-out
    widths (in units of their combined standard error) and writes the JSON.

Standard errors: mean sd/sqrt(N); P(rho > 1) binomial, sqrt(p~(1-p~)/N) with p~ = (k+1)/(N+2) so a
sample with no (or only) exceedances still gets a positive SE; sd, quantiles and the Gumbel (loc,
scale) by a nonparametric bootstrap (``--bootstrap`` resamples, fixed seed).

Interpolation model (stored in the JSON; ``laws.py`` only evaluates it): every statistic is taken
relative to the exact complex (Kostlan) law at the same n, which carries most of the n-dependence:
the mean and Gumbel location as differences from Kostlan's mean, the sd and Gumbel scale as log
ratios to Kostlan's sd, the quantiles as the median's difference from Kostlan's median plus the log
ratios of the spacings between consecutive quantile levels (so the rebuilt quantiles increase with
p whatever the fit), and P(rho > 1) as a logit. Each is a cubic smoothing spline in x = log n,
weighted by 1/SE, with the smoothing chosen so that the weighted residual sum of squares equals the
number of widths (chi^2 per width about 1: the spline follows the data to within their noise and no
closer), stored as B-spline knots and coefficients (scipy.interpolate.BSpline, degree 3). Beyond
the grid (n > 2048) differences are scaled by the edge scale b_n / b_2048, b_n = 1/sqrt(4 n g_n)
(Rider-Sinclair: the real-complex difference tends to -log(2) b_n at every quantile), and log ratios
are held at their n = 2048 values. The held-out widths measure the model's error in units of the
combined SE (held-out row and table); the result is stored under ``validation`` in the JSON.

Usage::

    .venv/bin/python scripts/build_real_law.py run          # the Monte Carlo (about 30-40 core-minutes)
    .venv/bin/python scripts/build_real_law.py tabulate     # radii -> specdiag/data/real_glorot_radius.json
    .venv/bin/python scripts/build_real_law.py all          # both
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = REPO / "data-runs" / "real-glorot"
DEFAULT_OUT = REPO / "specdiag" / "data" / "real_glorot_radius.json"

#: (name, widths, samples per width, chunk size) of the grid tiers; seeds are base seed + index
TIERS = [
    ("tier-a", (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64), 20000, 2500),
    ("tier-b", (80, 96, 128, 160), 8000, 1000),
    ("tier-c", (192, 256, 320, 384), 2000, 250),
    ("tier-d", (512, 640, 768), 500, 50),
    ("tier-e", (1024,), 300, 20),
    ("tier-f", (1448,), 150, 10),
    ("tier-g", (2048,), 80, 5),
]
#: held-out widths (not in the grid), used only to measure the interpolation error
HELD_OUT = [
    ("held-a", (7, 28), 20000, 2500),
    ("held-b", (112,), 8000, 1000),
    ("held-c", (300,), 2000, 250),
    ("held-d", (900,), 300, 20),
]
HELD_OUT_SEED_OFFSET = 100
#: probability levels of the tabulated quantiles (the interior of the frozen law's ppf)
PROBS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.975, 0.99)
DATA_VERSION = 1


def _tiers() -> list[tuple[str, tuple, int, int, int, bool]]:
    """(name, widths, samples, chunk, seed offset, held_out) for every sweep."""
    rows = [(name, ns, s, c, i, False) for i, (name, ns, s, c) in enumerate(TIERS)]
    rows += [(name, ns, s, c, HELD_OUT_SEED_OFFSET + i, True) for i, (name, ns, s, c) in enumerate(HELD_OUT)]
    return rows


# ------------------------------------------------------------------------------------------------
# phase 1: the sweeps
# ------------------------------------------------------------------------------------------------


def _snapshot(runs: Path, commit: str | None) -> tuple[Path, str]:
    """Extract specdiag at ``commit`` (recorded in state.json on first use) under ``runs``."""
    state_path = runs / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if commit is None:
        commit = (
            state.get("commit")
            or subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=REPO, check=True, capture_output=True, text=True
            ).stdout.strip()
        )
    elif state.get("commit") and state["commit"] != commit:
        sys.exit(f"{runs} was started at commit {state['commit']}: resume with it or use another --runs-dir")
    src = runs / f"src-{commit[:12]}"
    if not (src / "specdiag" / "__init__.py").exists():
        src.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as tmp:
            subprocess.run(["git", "archive", "--format=tar", commit, "specdiag"], cwd=REPO, check=True, stdout=tmp)
            tmp.seek(0)
            with tarfile.open(fileobj=tmp) as tar:
                tar.extractall(src, filter="data")
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps({**state, "commit": commit}, indent=1))
    return src, commit


def _status(out: Path) -> str | None:
    try:
        return json.loads((out / "run.json").read_text()).get("status")
    except (OSError, ValueError):
        return None


def run_phase(args) -> None:
    runs = args.runs_dir.resolve()
    src, commit = _snapshot(runs, args.commit)
    print(f"sweeps import specdiag from {src} (commit {commit[:12]})", flush=True)
    wanted = set(args.only.split(",")) if args.only else None
    # cheapest first (cost ~ samples * n_max^3), so a partial run already covers most widths
    for name, ns, samples, chunk, offset, _ in sorted(_tiers(), key=lambda t: t[2] * max(t[1]) ** 3):
        if wanted is not None and name not in wanted:
            continue
        out = runs / name
        status = _status(out)
        if status == "complete":
            print(f"{name}: complete, skipped", flush=True)
            continue
        cmd = [sys.executable, "-m", "specdiag", "sweep"]
        if status is not None:
            cmd += ["--resume", str(out)]
        else:
            cmd += [
                "--n",
                ",".join(map(str, ns)),
                "--init",
                "glorot",
                "--field",
                "real",
                "--samples",
                str(samples),
                "--chunk-size",
                str(chunk),
                "--seed",
                str(args.seed + offset),
                "--precision",
                args.precision,
                "--out",
                str(out),
            ]
        cmd += ["--workers", str(args.workers), "--format", "json"]
        if args.nice:
            cmd = ["nice", "-n", str(args.nice)] + cmd
        print(f"{name}: n={ns} samples={samples} ({'resume' if status else 'new'})", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=src, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(src)})
        if proc.returncode != 0:
            sys.exit(f"{name}: sweep failed (exit {proc.returncode}); rerun this script to resume")
        print(f"{name}: done in {time.perf_counter() - t0:.0f} s", flush=True)


# ------------------------------------------------------------------------------------------------
# phase 2: the table
# ------------------------------------------------------------------------------------------------


def load_radii(out: Path) -> dict[int, np.ndarray]:
    """Radii per width from a sweep directory's task files (all of them, in index order)."""
    radii = {}
    for point_dir in sorted((out / "tasks").iterdir()):
        n = int(point_dir.name.split("-")[0][1:])
        files = sorted(point_dir.glob("*.npz"))
        radii[n] = np.concatenate([np.load(f)["radii"] for f in files])
    return radii


def gumbel_fit(x: np.ndarray) -> tuple[float, float]:
    """Gumbel (max) maximum-likelihood (loc, scale): scale solves the profile equation."""
    from scipy import optimize  # noqa: PLC0415

    x = np.asarray(x, dtype=float)
    m, s = x.mean(), x.std()
    xc = x - m

    def score(b):  # b = mean - sum(x w)/sum(w), w = exp(-x/b)
        w = np.exp(-(xc - xc.max()) / b)
        return b - (xc.mean() - np.sum(xc * w) / np.sum(w))

    lo, hi = 0.05 * s, 5 * s
    b = optimize.brentq(score, lo, hi, xtol=1e-14 * s)
    loc = m - b * (np.log(np.mean(np.exp(-(xc - xc.max()) / b))) - xc.max() / b)
    return float(loc), float(b)


def summarize(r: np.ndarray, n_boot: int, rng: np.random.Generator) -> dict:
    """Statistics of one width's radii with Monte Carlo standard errors."""
    N = r.size
    probs = np.array(PROBS)
    stats = {"samples": int(N), "mean": float(r.mean()), "sd": float(r.std(ddof=1))}
    stats["mean_se"] = stats["sd"] / math.sqrt(N)
    q = np.quantile(r, probs)
    k = int(np.sum(r > 1.0))
    p_tilde = (k + 1) / (N + 2)
    stats["p_above_1"] = k / N
    stats["p_above_1_se"] = math.sqrt(p_tilde * (1 - p_tilde) / N)
    loc, scale = gumbel_fit(r)
    boot_sd, boot_q, boot_g = [], [], []
    for _ in range(n_boot):
        b = r[rng.integers(0, N, N)]
        boot_sd.append(b.std(ddof=1))
        boot_q.append(np.quantile(b, probs))
        boot_g.append(gumbel_fit(b))
    stats["sd_se"] = float(np.std(boot_sd, ddof=1))
    stats["quantiles"] = q.tolist()
    stats["quantiles_se"] = np.std(boot_q, axis=0, ddof=1).tolist()
    # SE of log(q_{k+1} - q_k) by the delta method (a resample's spacing can be 0: no log of it)
    stats["log_spacing_se"] = (np.std(np.diff(boot_q, axis=1), axis=0, ddof=1) / np.diff(q)).tolist()
    stats["gumbel_loc"], stats["gumbel_scale"] = loc, scale
    g = np.array(boot_g)
    stats["gumbel_loc_se"], stats["gumbel_scale_se"] = (float(v) for v in g.std(axis=0, ddof=1))
    return stats


def _model_targets(rows: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(y, se) per modelled statistic, relative to the exact complex (Kostlan) law at the same n.

    Quantiles enter as the median's difference and the log ratios of the spacings between
    consecutive levels, so the rebuilt quantiles increase with p whatever the fitted values.
    """
    from specdiag.laws import kostlan  # noqa: PLC0415

    n = np.array([r["n"] for r in rows])
    col = lambda key: np.array([r[key] for r in rows], dtype=float)  # noqa: E731
    kmean, ksd = kostlan.mean(n), kostlan.std(n)
    out = {
        "mean_diff": (col("mean") - kmean, col("mean_se")),
        "log_sd_ratio": (np.log(col("sd") / ksd), col("sd_se") / col("sd")),
        "gumbel_loc_diff": (col("gumbel_loc") - kmean, col("gumbel_loc_se")),
        "log_gumbel_scale_ratio": (np.log(col("gumbel_scale") / ksd), col("gumbel_scale_se") / col("gumbel_scale")),
    }
    N, k = col("samples"), col("p_above_1") * col("samples")
    p_tilde = (k + 0.5) / (N + 1.0)  # keeps the logit finite where no (or every) radius exceeds 1
    out["logit_p_above_1"] = (np.log(p_tilde / (1 - p_tilde)), 1.0 / np.sqrt(N * p_tilde * (1 - p_tilde)))
    kq = np.array([kostlan(int(m)).ppf(np.array(PROBS)) for m in n])
    q, qse = np.array([r["quantiles"] for r in rows]), np.array([r["quantiles_se"] for r in rows])
    mid = PROBS.index(0.5)
    out["median_diff"] = (q[:, mid] - kq[:, mid], qse[:, mid])
    log_ratio = np.log(np.diff(q, axis=1)) - np.log(np.diff(kq, axis=1))
    lse = np.array([r["log_spacing_se"] for r in rows])
    for i in range(len(PROBS) - 1):
        out[f"log_spacing_ratio_{PROBS[i]:g}_{PROBS[i + 1]:g}"] = (log_ratio[:, i], lse[:, i])
    return out


def fit_spline(x: np.ndarray, y: np.ndarray, se: np.ndarray) -> dict:
    """Cubic smoothing spline y(x), weights 1/se, weighted residual sum of squares = len(x)."""
    from scipy.interpolate import UnivariateSpline  # noqa: PLC0415

    spl = UnivariateSpline(x, y, w=1.0 / se, k=3, s=float(len(x)))
    t, c, k = spl._eval_args
    return {"t": [float(v) for v in t], "c": [float(v) for v in c], "k": int(k)}


def tabulate_phase(args) -> None:
    import scipy  # noqa: PLC0415

    import specdiag  # noqa: PLC0415

    runs = args.runs_dir.resolve()
    rng = np.random.default_rng(args.bootstrap_seed)
    grid_rows, held_rows, tier_meta = [], [], []
    state = json.loads((runs / "state.json").read_text())
    for name, ns, samples, _chunk, _offset, held in _tiers():
        out = runs / name
        if _status(out) != "complete":
            if args.allow_incomplete:
                print(f"{name}: incomplete, left out (--allow-incomplete)", flush=True)
                continue
            sys.exit(f"{name}: sweep not complete ({_status(out)}): run the `run` phase first")
        cfg = json.loads((out / "run.json").read_text())
        tier_meta.append(
            {
                "name": name,
                "widths": list(ns),
                "samples": samples,
                "seed": cfg["config"]["seed"],
                "precision": cfg["config"]["precision"],
                "held_out": held,
                "elapsed_s": round(cfg["elapsed_s"], 1),
                "specdiag": cfg["versions"]["specdiag"],
            }
        )
        for n, r in sorted(load_radii(out).items()):
            t0 = time.perf_counter()
            row = {"n": n, **summarize(r, args.bootstrap, rng)}
            (held_rows if held else grid_rows).append(row)
            print(
                f"{name} n={n}: N={r.size} mean={row['mean']:.5f}+-{row['mean_se']:.5f} "
                f"({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
    n = np.array([r["n"] for r in grid_rows], dtype=float)
    x = np.log(n)
    models = {key: fit_spline(x, y, se) for key, (y, se) in _model_targets(grid_rows).items()}
    doc = {
        "format": "specdiag real Glorot radius table",
        "data_version": DATA_VERSION,
        "description": "Spectral radius of real Glorot W (W_ij iid N(0, 1/n)): Monte Carlo table per width "
        "with standard errors, and the smoothing-spline model in log n used to interpolate it "
        "(see scripts/build_real_law.py).",
        "metadata": {
            "script": "scripts/build_real_law.py",
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "specdiag_commit": state["commit"],
            "specdiag_version": specdiag.__version__ if hasattr(specdiag, "__version__") else None,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "init": "glorot",
            "field": "real",
            "precision": args.precision,
            "base_seed": args.seed,
            "bootstrap": args.bootstrap,
            "bootstrap_seed": args.bootstrap_seed,
            "sweeps": tier_meta,
        },
        "probs": list(PROBS),
        "grid": grid_rows,
        "held_out": held_rows,
        "model": {
            "x": "log(n)",
            "kind": "cubic smoothing spline (scipy BSpline t, c, k), weights 1/SE, weighted RSS = number of widths",
            "n_min": int(n.min()),
            "n_max": int(n.max()),
            "targets": {
                "median_diff": "real median - Kostlan median at the same n",
                "log_spacing_ratio_<p>_<p'>": (
                    "log((q_p' - q_p) real / (q_p' - q_p) Kostlan), consecutive levels p < p'"
                ),
                "mean_diff": "real mean - Kostlan mean",
                "gumbel_loc_diff": "Gumbel ML location - Kostlan mean",
                "log_sd_ratio": "log(real sd / Kostlan sd)",
                "log_gumbel_scale_ratio": "log(Gumbel ML scale / Kostlan sd)",
                "logit_p_above_1": "logit P(rho > 1), P estimated as (k + 1/2) / (N + 1)",
            },
            "extrapolation": (
                "n > n_max: differences scaled by b_n / b_nmax, b_n = 1/sqrt(4 n g_n); log ratios held at n_max"
            ),
            "splines": models,
        },
    }
    doc["validation"] = validate(doc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_round(doc), separators=(",", ":")) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.1f} KiB)")
    val = doc["validation"]
    for row in val["held_out"]:
        print(
            f"held-out n={row['n']:5d} N={row['samples']:6d} "
            + " ".join(f"{k}={v['z']:+.2f}" for k, v in row.items() if isinstance(v, dict))
        )
    print("grid max |z|: " + " ".join(f"{k}={v:.2f}" for k, v in val["grid_max_abs_z"].items()))


def _round(obj, digits: int = 10, key: str = ""):
    """Round floats for the JSON: 10 significant digits, 4 for standard errors (keys ending in _se)."""
    if isinstance(obj, float):
        d = 4 if key.endswith("_se") else digits
        return float(f"{obj:.{d}g}")
    if isinstance(obj, dict):
        return {k: _round(v, digits, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v, digits, key) for v in obj]
    return obj


#: statistics whose model residuals are measured: (row key, SE key[, probability level])
CHECKS = {
    "mean": ("mean", "mean_se"),
    "sd": ("sd", "sd_se"),
    "q05": ("quantiles", "quantiles_se", 0.05),
    "q50": ("quantiles", "quantiles_se", 0.5),
    "q95": ("quantiles", "quantiles_se", 0.95),
    "p_above_1": ("p_above_1", "p_above_1_se"),
}


def validate(doc: dict) -> dict:
    """Residuals (held-out MC or table minus the model) in SE units, through specdiag.laws itself.

    Held-out widths: SE = hypot(the held-out row's SE, the table's SE near n); grid widths: the
    row's own SE.
    """
    from specdiag.laws import _RealModel  # noqa: PLC0415

    model = _RealModel(doc)
    probs = list(doc["probs"])

    def pick(values, spec):
        return float(values[spec[0]][probs.index(spec[2])]) if len(spec) == 3 else float(values[spec[0]])

    def se_of(values, spec):
        return float(values[spec[1]][probs.index(spec[2])]) if len(spec) == 3 else float(values[spec[1]])

    out = {"held_out": [], "grid_max_abs_z": {}}
    for row in doc["held_out"]:
        ev, table_se = model.evaluate(row["n"]), model.table_se(row["n"])
        entry = {"n": row["n"], "samples": row["samples"]}
        for name, spec in CHECKS.items():
            got, want = pick(row, spec), pick(ev, spec)
            se = math.hypot(se_of(row, spec), se_of(table_se, spec))
            entry[name] = {"mc": got, "model": want, "se": se, "z": (got - want) / se}
        out["held_out"].append(entry)
    for row in doc["grid"]:
        ev = model.evaluate(row["n"])
        for name, spec in CHECKS.items():
            z = abs(pick(row, spec) - pick(ev, spec)) / se_of(row, spec)
            out["grid_max_abs_z"][name] = max(out["grid_max_abs_z"].get(name, 0.0), z)
    out["held_out_max_abs_z"] = max(abs(v["z"]) for e in out["held_out"] for v in e.values() if isinstance(v, dict))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the top of this file for the method.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "phase", choices=("run", "tabulate", "all"), help="run the sweeps, tabulate their radii into the JSON, or both"
    )
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=DEFAULT_RUNS,
        help=f"where the sweeps go (default {DEFAULT_RUNS.relative_to(REPO)})",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"the JSON to write (default {DEFAULT_OUT.relative_to(REPO)})"
    )
    parser.add_argument(
        "--seed", type=int, default=20250, help="base seed; tier i uses seed + i, held-out sweeps seed + 100 + i"
    )
    parser.add_argument(
        "--precision", default="single", choices=("single", "double"), help="eigenvalue precision of the sweeps"
    )
    parser.add_argument("--workers", type=int, default=1, help="sweep worker processes (default 1: a shared machine)")
    parser.add_argument("--nice", type=int, default=10, help="niceness of the sweeps (0: none)")
    parser.add_argument(
        "--commit",
        default=None,
        help="specdiag commit the sweeps run (default: HEAD at the first run, then the recorded one)",
    )
    parser.add_argument("--only", default=None, help="comma-separated tier names to run (default: all)")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the standard errors")
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="tabulate the finished sweeps only (a preview; not for the shipped table)",
    )
    parser.add_argument("--bootstrap-seed", type=int, default=1, help="seed of the bootstrap")
    args = parser.parse_args(argv)
    if args.phase in ("run", "all"):
        run_phase(args)
    if args.phase in ("tabulate", "all"):
        tabulate_phase(args)


if __name__ == "__main__":
    main()

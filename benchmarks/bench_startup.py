"""Fixed cost of the short commands against a bare ``python -c "import numpy, scipy.linalg"`` (issue 21,
requirement 1: each ratio at most 1.5).

Whole processes, as a user or a CI script runs them: ``radius --n 8 --samples 2 --workers 1``,
``theory --n 500``, ``fit-gumbel --n 20 --samples 50 --workers 1`` and ``check`` of an 8 x 8 .npy.
Each round runs the baseline, then every command, then the baseline again (interleaved, so a box
loaded by other jobs slows both alike); each command's time is compared with the median of the
baselines, and the median over ``--repeats`` rounds (default 5) is printed with its ratio. Wall and
CPU time (user + system of the child) are both reported: on a shared machine the CPU time is the
steadier measure of what start-up costs.

    python benchmarks/bench_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASELINE = [sys.executable, "-c", "import numpy, scipy.linalg"]


def commands(matrix: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "specdiag"]
    return {
        "radius --n 8 --samples 2 --workers 1": [*cli, "radius", "--n", "8", "--samples", "2", "--workers", "1"],
        "theory --n 500": [*cli, "theory", "--n", "500"],
        "fit-gumbel --n 20 --samples 50 --workers 1": [
            *cli,
            "fit-gumbel",
            "--n",
            "20",
            "--samples",
            "50",
            "--workers",
            "1",
        ],
        "check 8x8 .npy": [*cli, "check", str(matrix), "--workers", "1"],
    }


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole process; its output is discarded, a failure stops the run."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - start
    after = os.times()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        matrix = Path(tmp) / "w.npy"
        np.save(matrix, (np.random.default_rng(0).standard_normal((8, 8)) / np.sqrt(8)).astype(np.float32))
        cmds = commands(matrix)
        timed(BASELINE, env)  # warm the file cache once, untimed
        for cmd in cmds.values():
            timed(cmd, env)
        base: list[tuple[float, float]] = []
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
        for _ in range(args.repeats):
            base.append(timed(BASELINE, env))
            for name, cmd in cmds.items():
                runs[name].append(timed(cmd, env))
            base.append(timed(BASELINE, env))
    base_wall = statistics.median(b[0] for b in base)
    base_cpu = statistics.median(b[1] for b in base)
    print(
        f"baseline `import numpy, scipy.linalg`: {base_wall:.3f} s wall, {base_cpu:.3f} s CPU (median of {len(base)})"
    )
    worst = 0.0
    for name, values in runs.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        worst = max(worst, wall / base_wall)
        print(f"{name:45s} {wall:.3f} s wall ({wall / base_wall:.2f}x), {cpu:.3f} s CPU ({cpu / base_cpu:.2f}x)")
    print(f"largest wall ratio: {worst:.2f}x (target <= 1.5x)")
    print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

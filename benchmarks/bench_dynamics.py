"""Dynamics at the speed of the hardware: ``specdiag trajectory``/``hidden`` against a careful numpy loop.

Both sides are whole processes (interpreter start, imports, sampling, output), run interleaved in
the same session on the same box, ``--repeats`` times each; the ratio uses the medians. Every
command runs once untimed first, and all run with ``PYTHONDONTWRITEBYTECODE`` removed from the
environment, so specdiag is timed with its bytecode cached, as an installed package is.

The careful loop (issue 14): per W, X <- W X in float32 for all inputs at once, renormalized every
step, the log-norm accumulated in float64; hidden adds the inputs each step. Default sizes are the
issue's: n = 500, 10 matrices, 50 inputs, 1000 steps.

The careful loop runs twice: with the BLAS's default threads (the issue's 3.1 s baseline) and with
one BLAS thread (``OPENBLAS_NUM_THREADS=1``, how a careful user runs one process per core); both
ratios are printed.

Achieved GFLOP/s counts 2 n^2 m flops per step per matrix (the products), and is printed beside
one large sgemm on the same box (all cores, the BLAS's own threads), a practical ceiling.

Usage: python benchmarks/bench_dynamics.py [--n 500 --matrices 10 --inputs 50 --steps 1000 --repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CAREFUL_LOOP = """
import sys, numpy as np
n, matrices, inputs, steps, hidden = (int(v) for v in sys.argv[1:6])
rng = np.random.default_rng(0)
out = np.empty((matrices, steps + 1, inputs))
for i in range(matrices):
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    if hidden:
        x = np.zeros((n, inputs), np.float32)
        log_norm = np.zeros(inputs)
    else:
        x = rng.standard_normal((n, inputs)).astype(np.float32)
        norms = np.linalg.norm(x, axis=0)
        log_norm = np.log(norms.astype(np.float64))
        x /= norms
    for k in range(1, steps + 1):
        x = w @ x
        if hidden:
            x += (rng.standard_normal((n, inputs)) * np.exp(-log_norm)).astype(np.float32)
        norms = np.linalg.norm(x, axis=0)
        log_norm += np.log(norms.astype(np.float64))
        x /= norms
        out[i, k] = log_norm
print(float(out[:, -1].mean()))
"""


ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_env(env: dict | None = None) -> dict:
    """This environment plus ``env``, less PYTHONDONTWRITEBYTECODE (specdiag's .pyc files get written)."""
    return {k: v for k, v in {**os.environ, **(env or {})}.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=run_env(env))
    return time.perf_counter() - t


def sgemm_gflops(size: int = 3000, repeats: int = 3) -> float:
    """GFLOP/s of one large float32 matrix product (all cores), best of ``repeats``."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    best = min(_timed_product(a, b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed_product(a, b) -> float:
    t = time.perf_counter()
    a @ b
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--matrices", type=int, default=10)
    p.add_argument("--inputs", type=int, default=50)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--kinds", default="trajectory,hidden")
    args = p.parse_args()
    sizes = [str(v) for v in (args.n, args.matrices, args.inputs, args.steps)]
    flops = 2 * args.n**2 * args.inputs * args.steps * args.matrices
    peak = sgemm_gflops()
    print(
        f"n={args.n} matrices={args.matrices} inputs={args.inputs} steps={args.steps}; "
        f"one 3000^3 sgemm: {peak:.1f} GFLOP/s"
    )
    for kind in args.kinds.split(","):
        careful_cmd = [sys.executable, "-c", CAREFUL_LOOP, *sizes, "1" if kind == "hidden" else "0"]
        ours_cmd = [
            sys.executable,
            "-m",
            "specdiag",
            kind,
            "--n",
            sizes[0],
            "--matrices",
            sizes[1],
            "--inputs",
            sizes[2],
            "--steps",
            sizes[3],
            "--device",
            "cpu",
            "--format",
            "json",
        ]
        timed(careful_cmd), timed(ours_cmd)  # warm-up, untimed: writes the .pyc files, warms the caches
        careful, careful_1, ours = [], [], []
        for _ in range(args.repeats):  # interleaved, so load changes hit both sides alike
            careful.append(timed(careful_cmd))
            careful_1.append(timed(careful_cmd, ONE_THREAD))
            ours.append(timed(ours_cmd))
        c, c1, o = statistics.median(careful), statistics.median(careful_1), statistics.median(ours)
        print(
            f"{kind:10} careful numpy loop {c:6.2f} s ({flops / c / 1e9:5.1f} GFLOP/s), one BLAS thread {c1:6.2f} s   "
            f"specdiag {o:6.2f} s ({flops / o / 1e9:5.1f} GFLOP/s, "
            f"{flops / o / 1e9 / peak:4.0%} of sgemm)   ratio {c / o:4.2f}x (one-thread loop: {c1 / o:4.2f}x)   "
            f"[all runs: careful {', '.join(f'{v:.2f}' for v in careful)}; "
            f"one thread {', '.join(f'{v:.2f}' for v in careful_1)}; "
            f"specdiag {', '.join(f'{v:.2f}' for v in ours)}]"
        )


if __name__ == "__main__":
    main()

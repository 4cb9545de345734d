"""Time ``simulate`` against a naive loop (for each W, each x, each step: one numpy mat-vec).

Same work on both sides: n = 500, 20 matrices, 50 inputs, 1000 steps of ||W^k x|| (trajectory),
norms recorded at every step. The naive loop is timed on a subset of matrices and scaled (it is
linear in the number of matrices); pass --full-naive to time all of it.
Usage: python benchmarks/bench_dynamics.py [--n 500 --matrices 20 --inputs 50 --steps 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from specdiag.backend import INPUT_STREAM, MATRIX_STREAM, host_rng
from specdiag.dynamics import simulate
from specdiag.inits import make_ensemble


def naive(ensemble, matrices, inputs, steps, seed):
    out = np.empty((matrices, inputs, steps + 1))
    for i in range(matrices):
        w = ensemble.sample(host_rng(seed, MATRIX_STREAM, i))
        for j in range(inputs):
            y = host_rng(seed, INPUT_STREAM, i, j).standard_normal((1, ensemble.n))[0]
            out[i, j, 0] = np.linalg.norm(y)
            for k in range(1, steps + 1):
                y = w @ y
                out[i, j, k] = np.linalg.norm(y)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--matrices", type=int, default=20)
    p.add_argument("--inputs", type=int, default=50)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--field", default="real")
    p.add_argument("--device", default="cpu")
    p.add_argument("--naive-matrices", type=int, default=4, help="matrices timed for the naive loop (scaled up)")
    args = p.parse_args()
    ens = make_ensemble("glorot", args.n, args.field)
    sub = min(args.naive_matrices, args.matrices)
    t = time.perf_counter()
    ref = naive(ens, sub, args.inputs, args.steps, 0)
    t_naive = (time.perf_counter() - t) * args.matrices / sub
    print(f"n={args.n} field={args.field} matrices={args.matrices} inputs={args.inputs} steps={args.steps} device={args.device}")
    print(f"naive loop (numpy mat-vec per W, x, step; {sub} matrices timed, scaled): {t_naive:8.2f} s")
    for precision in ("single", "double"):
        t = time.perf_counter()
        curves = simulate(ens, "trajectory", matrices=args.matrices, inputs=args.inputs, steps=args.steps, precision=precision, device=args.device)
        elapsed = time.perf_counter() - t
        check = np.abs(curves.log10_mean[:sub] - np.log10(ref.mean(axis=1))).max()
        print(f"specdiag simulate, {precision:6}: {elapsed:8.2f} s   ratio {t_naive / elapsed:5.2f}x   max |log10 diff| vs naive {check:.1e}")


if __name__ == "__main__":
    main()

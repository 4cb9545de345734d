"""Time one `check` of an n x n matrix (radius, norm, growth at t) against one eigenvalues-only LAPACK
?geev of the same matrix, both with one BLAS thread, alternating, in one run (issue 13: ratio <= 1.3).

Both wall time and process CPU time are reported: with one BLAS thread the CPU time is what the
work costs, and it stays meaningful on a shared machine where other jobs stretch the wall time. The
load average is printed before and after (a busy machine also slows the CPU time: shared caches and
memory bandwidth), and geev and check alternate so that both see the same conditions.

``--dtype float32`` stores W in single precision: geev then runs in single precision (sgeev) on
it, while check computes in double precision (it upcasts every tensor).

    python benchmarks/bench_check.py --n 4096 --repeats 2

``--stages`` profiles one check (cProfile, the BLAS's default threads) and prints each stage's
wall seconds beside one sgeev/dgeev of the same matrix (issue 21: where check's time goes):

    python benchmarks/bench_check.py --n 2048 --dtype float32 --stages
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import time

import pstats

import numpy as np
from threadpoolctl import threadpool_limits

from specdiag._check import Thresholds, check_matrix
from specdiag._linalg import eigenvalues


#: (label, module file suffix, function name) of check's stages for a dense real W, in order
STAGES = (
    ("Schur factor (LAPACK ?gees)", "_schur.py", "real_schur"),
    ("growth: eigenvectors X of T", "_schur.py", "real_schur_block_eigenvectors"),
    ("growth: Grams in the eigenbasis", "_schur.py", "_eigenbasis_rows"),
    ("growth: sums over steps", "_schur.py", "_log_sums_from_rows"),
    ("growth: whole (X, ?trtri, ?lauum, Grams, sums)", "_schur.py", "log_power_sums_real_schur"),
    ("spectral norm (Lanczos on T)", "_schur.py", "schur_spectral_norm"),
    ("balancing test", "_check_matrix.py", "_balanced_eigenvalues"),
    ("Glorot context (law import and cdf)", "_check_matrix.py", "glorot_context"),
    ("check_matrix (all of it)", "_check_matrix.py", "check_matrix"),
)


def stages(w: np.ndarray, thresholds: Thresholds) -> None:
    """One check under cProfile with the BLAS's default threads: wall seconds per stage of :data:`STAGES`."""
    start = time.perf_counter()
    eigenvalues(np.array(w, order="F"), overwrite=True)
    print(f"{'one eigenvalues-only ?geev (reference)':50s} {time.perf_counter() - start:6.2f} s", flush=True)
    profile = cProfile.Profile()
    profile.runcall(check_matrix, "w", w, thresholds)
    table = pstats.Stats(profile).stats  # type: ignore[attr-defined]  # (file, line, name) -> (cc, nc, tt, cumtime, ..)
    for label, suffix, name in STAGES:
        seconds = sum(v[3] for (file, _, func), v in table.items() if func == name and file.endswith(suffix))
        print(f"{label:50s} {seconds:6.2f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--seq-len", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--stages", action="store_true", help="profile one check: seconds per stage")
    args = parser.parse_args()
    w = (np.random.default_rng(0).standard_normal((args.n, args.n)) / math.sqrt(args.n)).astype(args.dtype)
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    thresholds = Thresholds(seq_len=args.seq_len)
    if args.stages:  # first, so that the law import counts in the Glorot stage as it does in a CLI run
        stages(w, thresholds)
        print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        return
    check_matrix("warm-up", w[:64, :64], thresholds)  # imports and the Glorot law, outside the timing
    geev, full = [], []

    def timed(func):
        wall, cpu = time.perf_counter(), time.process_time()
        out = func()
        return out, time.perf_counter() - wall, time.process_time() - cpu

    with threadpool_limits(1):
        for _ in range(args.repeats):
            _, wall, cpu = timed(lambda: eigenvalues(np.array(w, order="F"), overwrite=True))
            geev.append((wall, cpu))
            result, wall, cpu = timed(lambda: check_matrix("w", w, thresholds))
            full.append((wall, cpu))
            print(
                f"n = {args.n} {args.dtype}: geev (eigenvalues only) "
                f"{geev[-1][0]:.2f} s wall / {geev[-1][1]:.2f} s CPU; "
                f"check {wall:.2f} s wall / {cpu:.2f} s CPU; "
                f"ratio {wall / geev[-1][0]:.3f} wall, {cpu / geev[-1][1]:.3f} CPU ({result.growth_method})",
                flush=True,
            )
    best = [min(x[k] for x in full) / min(x[k] for x in geev) for k in (0, 1)]
    print(f"best-of-{args.repeats} ratio: {best[0]:.3f} wall, {best[1]:.3f} CPU")
    print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

"""Time one `check` of an n x n matrix (radius, norm, growth at t) against one eigenvalues-only LAPACK
?geev of the same matrix, both with one BLAS thread, alternating, in one run (issue 13: ratio <= 1.3).

    python benchmarks/bench_check.py --n 4096 --repeats 2
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from specdiag.check import Thresholds, check_matrix
from specdiag.linalg import eigenvalues


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--seq-len", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    w = np.random.default_rng(0).standard_normal((args.n, args.n)) / math.sqrt(args.n)
    thresholds = Thresholds(seq_len=args.seq_len)
    geev, full = [], []
    with threadpool_limits(1):
        for _ in range(args.repeats):
            start = time.perf_counter()
            eigenvalues(np.array(w, order="F"), overwrite=True)
            geev.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = check_matrix("w", w, thresholds)
            full.append(time.perf_counter() - start)
            print(f"n = {args.n}: geev (eigenvalues only) {geev[-1]:.2f} s, check {full[-1]:.2f} s, ratio {full[-1] / geev[-1]:.3f} ({result.growth_method})", flush=True)
    print(f"best-of-{args.repeats} ratio: {min(full) / min(geev):.3f}")


if __name__ == "__main__":
    main()

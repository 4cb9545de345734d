"""Time ``sample_radii`` against a naive loop of numpy.linalg.eigvals on the same matrices.

Both sides draw each matrix from its own seeded generator (same matrices), so the ratio measures
the eigenvalue path (LAPACK ?geev, eigenvalues only, single precision, one process per core)
against the obvious baseline. Usage: python benchmarks/bench_radius.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from specdiag._backend import MATRIX_STREAM, host_rng
from specdiag._inits import make_ensemble
from specdiag._spectra import default_workers, sample_radii


def naive(ensemble, samples, seed):
    return np.array([np.abs(np.linalg.eigvals(ensemble.sample(host_rng(seed, MATRIX_STREAM, i)))).max() for i in range(samples)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer matrices")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    counts = {256: 48, 500: 24, 1024: 6} if not args.quick else {256: 8, 500: 4, 1024: 2}
    print(f"workers={default_workers()}  device={args.device}")
    print(f"{'n':>5} {'field':>8} {'samples':>7} {'naive s':>8} {'single s':>9} {'double s':>9} {'x single':>9} {'x double':>9} {'max |diff|':>10}")
    for n, samples in counts.items():
        for field in ("real", "complex"):
            ens = make_ensemble("glorot", n, field)
            t = time.perf_counter()
            ref = naive(ens, samples, 0)
            t_naive = time.perf_counter() - t
            times = {}
            for precision in ("single", "double"):
                t = time.perf_counter()
                ours = sample_radii(ens, samples, seed=0, precision=precision, device=args.device)
                times[precision] = time.perf_counter() - t
            diff = float(np.abs(ours - ref).max())
            print(
                f"{n:>5} {field:>8} {samples:>7} {t_naive:8.2f} {times['single']:9.2f} {times['double']:9.2f} "
                f"{t_naive / times['single']:9.2f} {t_naive / times['double']:9.2f} {diff:10.2e}",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Time ``sample_radii`` (both samplers) against a naive loop of numpy.linalg.eigvals, in-process.

The dense sampler and the naive loop draw the same matrices (each from its own seeded generator),
so their radii agree to the single-precision eigensolver's error and the ratio measures the
eigenvalue path (LAPACK ?geev, eigenvalues only, float32, one process per core, one BLAS thread
each). The Hessenberg sampler draws each matrix's Hessenberg form instead (exact in law, other
matrices) and needs only ?hseqr: its radii agree with the others in law, not number by number.
Usage: python benchmarks/bench_radius.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from specdiag._backend import MATRIX_STREAM, host_rng
from specdiag._inits import make_ensemble
from specdiag._pool import resolve_workers
from specdiag._spectra import sample_radii


def naive(ensemble, samples, seed):
    return np.array(
        [np.abs(np.linalg.eigvals(ensemble.sample(host_rng(seed, MATRIX_STREAM, i)))).max() for i in range(samples)]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer matrices")
    args = parser.parse_args()
    counts = {256: 48, 500: 24, 1024: 6} if not args.quick else {256: 8, 500: 4, 1024: 2}
    print(f"workers={resolve_workers(None)}  load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"{'n':>5} {'field':>8} {'samples':>7} {'naive s':>8} {'dense s':>8} {'hess s':>8} "
        f"{'naive/dense':>11} {'dense/hess':>10} {'max |dense-naive|':>17}"
    )
    for n, samples in counts.items():
        for field in ("real", "complex"):
            ens = make_ensemble("glorot", n, field)
            t = time.perf_counter()
            ref = naive(ens, samples, 0)
            t_naive = time.perf_counter() - t
            times, radii = {}, {}
            for sampler in ("dense", "hessenberg"):
                t = time.perf_counter()
                radii[sampler] = sample_radii(ens, samples, seed=0, sampler=sampler)
                times[sampler] = time.perf_counter() - t
            print(
                f"{n:>5} {field:>8} {samples:>7} {t_naive:8.2f} {times['dense']:8.2f} {times['hessenberg']:8.2f} "
                f"{t_naive / times['dense']:11.2f} {times['dense'] / times['hessenberg']:10.2f} "
                f"{float(np.abs(radii['dense'] - ref).max()):17.2e}",
                flush=True,
            )


if __name__ == "__main__":
    main()

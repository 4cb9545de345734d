"""Sweep throughput (matrices/s): single process vs the local process pool vs a 2-worker Dask
LocalCluster, same grid, one run. Usage: python benchmarks/bench_sweep.py [--samples 64] [--sampler dense]"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from specdiag._executors import DaskExecutor, LocalExecutor
from specdiag._pool import resolve_workers
from specdiag._sweep import SweepConfig, run_sweep


def timed(cfg, executor, root: Path, name: str) -> float:
    out = root / name
    start = time.perf_counter()
    try:
        run_sweep(cfg, out, executor)
    finally:
        executor.close()
    elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--n", default="128,256,512")
    p.add_argument("--sampler", choices=("hessenberg", "dense"), default="hessenberg")
    args = p.parse_args()
    ns = tuple(int(v) for v in args.n.split(","))
    cfg = SweepConfig(
        ns=ns, inits=("glorot",), fields=("real", "complex"), samples=args.samples, chunk_size=8, sampler=args.sampler
    )
    total = args.samples * len(cfg.ns) * 2
    root = Path(tempfile.mkdtemp(prefix="specdiag-bench-"))
    results = {"single process": timed(cfg, LocalExecutor(1), root, "single")}
    workers = resolve_workers(None)
    results[f"local pool ({workers} workers)"] = timed(cfg, LocalExecutor(workers), root, "pool")
    start = time.perf_counter()
    dask = DaskExecutor("local", workers=2)
    startup = time.perf_counter() - start
    results["Dask LocalCluster (2 workers)"] = timed(cfg, dask, root, "dask")
    base = results["single process"]
    print(
        f"grid n={args.n}, glorot real+complex, {args.samples} matrices per point ({total} matrices), "
        f"{args.sampler} sampler"
    )
    for name, elapsed in results.items():
        print(f"{name:32} {elapsed:7.2f} s  {total / elapsed:7.1f} matrices/s  speed-up {base / elapsed:4.2f}x")
    print(f"(Dask cluster start-up, not counted above: {startup:.2f} s)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Wall time of whole `specdiag` processes: reproduce (--quick, and optionally paper sizes), --version, --help.

Each command is a fresh process (interpreter start and imports included), run ``--repeats`` times;
the median is printed beside the issue-14 targets (idle 2-core box: --version < 0.3 s, --help
< 0.6 s, reproduce --quick < 15 s, paper sizes < 5 min). On a shared box, say how busy it was
(the load average is printed).

Usage: python benchmarks/bench_reproduce.py [--repeats 3] [--paper]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--paper", action="store_true", help="also time reproduce at the paper's sizes (minutes)")
    args = p.parse_args()
    cli = [sys.executable, "-m", "specdiag"]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    checks = [("--version", [*cli, "--version"], 0.3), ("--help", [*cli, "--help"], 0.6)]
    for name, cmd, target in checks:
        times = [timed(cmd) for _ in range(args.repeats)]
        print(
            f"{name:22} median {statistics.median(times):7.2f} s  (target < {target} s)  "
            f"runs: {', '.join(f'{t:.2f}' for t in times)}"
        )
    runs = [("reproduce --quick", ["--quick"], 15.0)] + ([("reproduce (paper)", [], 300.0)] if args.paper else [])
    for name, extra, target in runs:
        times = []
        for _ in range(1 if not extra else args.repeats):
            out = tempfile.mkdtemp(prefix="specdiag-bench-")
            try:
                times.append(timed([*cli, "reproduce", "--out", out, *extra, "--format", "json"]))
            finally:
                shutil.rmtree(out, ignore_errors=True)
        print(
            f"{name:22} median {statistics.median(times):7.2f} s  (target < {target:g} s)  "
            f"runs: {', '.join(f'{t:.2f}' for t in times)}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Shared fixtures: a backend fixture so device-aware tests run on CPU and, when present, GPU."""

import importlib.util
import os

# Under pytest-xdist (-n) several test processes share the cores: one BLAS/OpenMP thread each, or
# every worker's BLAS spins on every core. Set before NumPy, SciPy or torch load their thread pools
# (children inherit it); threadpoolctl below covers a library a plugin may have loaded already.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import specdiag._backend as backend  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    threadpool_limits(limits=1)

# Keras 3 defaults to TensorFlow, absent here. Its backend is fixed by the first import of keras in
# the process, whichever test that is (under pytest -n, any test of the worker): torch wherever it is
# installed (tests/test_keras_adapter.py trains on it, and the suite imports torch anyway), else the
# light numpy backend for the tests that merely touch specdiag.keras (test_public_api).
# Never jax: once JAX runs, any later os.fork in this process warns, and other tests fork pools.
os.environ.setdefault("KERAS_BACKEND", "torch" if importlib.util.find_spec("torch") else "numpy")

# a script, not a test module (doctest collection would import it)
collect_ignore = ["make_baselines.py"]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Calibration caches go to a per-session temporary directory, never the user's home."""
    monkeypatch.setenv("SPECDIAG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


requires_gpu = pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a CUDA device")


def _gpu_param():
    return pytest.param("gpu", marks=[pytest.mark.gpu, requires_gpu])


@pytest.fixture(params=["cpu", _gpu_param()])
def device(request):
    """Resolved device name: every test using it runs on CPU, and on GPU when one is present."""
    return request.param


def within_se(estimate, target, se, k=4.0):
    """Monte Carlo check: |estimate - target| <= k standard errors (with a message on failure)."""
    assert abs(estimate - target) <= k * se, (
        f"{estimate} vs {target}: {abs(estimate - target) / se:.2f} standard errors (allowed {k})"
    )


_MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
sys.stdout.buffer.write(proc.stdout)
sys.stderr.buffer.write(proc.stderr)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{proc.returncode} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
"""


def run_with_peak_rss(cmd, *, env=None, timeout=600):
    """Run ``cmd``; (exit code, stdout, stderr, its peak RSS in MiB).

    Measured from a small intermediate process (its RUSAGE_CHILDREN): Linux carries a parent's
    peak RSS into a child across fork + exec, so a child started straight from a big test process
    would report the test process's size, not its own.
    """
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        proc = subprocess.run(
            [sys.executable, "-c", _MEASURE, report.name, *map(str, cmd)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        code, kib = report.read().split()
    return int(code), proc.stdout, proc.stderr, int(kib) / 1024

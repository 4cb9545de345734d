"""Shared fixtures: a backend fixture so device-aware tests run on CPU and, when present, GPU."""

import pytest

from specdiag import backend

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
    assert abs(estimate - target) <= k * se, f"{estimate} vs {target}: {abs(estimate - target) / se:.2f} standard errors (allowed {k})"

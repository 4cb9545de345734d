"""The GPU code paths, driven by a NumPy-backed stand-in for CuPy.

No GPU is needed: this checks the orchestration (device sampling, chunking, per-matrix failure
checks, CLI plumbing). Real-device runs are the `gpu`-marked tests, skipped without a GPU.
"""

import json
import math
import types

import numpy as np
import pytest
from typer.testing import CliRunner

from specdiag import laws

import specdiag._backend as backend

import specdiag._dynamics as dynamics

import specdiag._spectra as spectra
from specdiag.cli import app
from specdiag._inits import make_ensemble

from .conftest import within_se


class FakeRandomState:
    """cupy.random.RandomState's interface over a NumPy generator (accepts 64-bit seeds)."""

    def __init__(self, seed, method=None):
        self._g = np.random.Generator(np.random.PCG64(seed))

    def standard_normal(self, size=None, dtype=float):
        return self._g.standard_normal(size, dtype=dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return self._g.uniform(low, high, size).astype(dtype)


def make_fake_cupy(eigvals=np.linalg.eigvals):
    fake = types.ModuleType("cupy")
    for name in (
        "stack",
        "abs",
        "asarray",
        "zeros",
        "exp",
        "log",
        "sqrt",
        "sum",
        "matmul",
        "isfinite",
        "float32",
        "float64",
        "complex64",
        "complex128",
    ):
        setattr(fake, name, getattr(np, name))
    fake.__version__ = "fake"
    fake.linalg = types.SimpleNamespace(eigvals=eigvals)
    fake.random = types.SimpleNamespace(RandomState=FakeRandomState)
    runtime = types.SimpleNamespace(
        memGetInfo=lambda: (8 << 30, 16 << 30),
        getDeviceCount=lambda: 1,
        getDeviceProperties=lambda i: {"name": b"Fake GPU"},
    )
    fake.cuda = types.SimpleNamespace(curand=types.SimpleNamespace(CURAND_RNG_PSEUDO_PHILOX4_32_10=0), runtime=runtime)
    return fake


@pytest.fixture
def fake_gpu(monkeypatch):
    def install(fake=None):
        fake = fake or make_fake_cupy()
        monkeypatch.setattr(backend, "cupy_module", lambda: fake)
        monkeypatch.setattr(spectra, "cupy_module", lambda: fake)
        return fake

    install()
    return install


def test_auto_picks_gpu_when_present(fake_gpu):
    assert backend.resolve_device("auto") == "gpu" and backend.resolve_device("cpu") == "cpu"


def test_gpu_radii_are_chunk_invariant_and_match_theory(fake_gpu):
    ens = make_ensemble("glorot", 32, "complex")
    a = spectra.sample_radii(ens, 200, seed=3, device="gpu", chunk_size=200)
    b = spectra.sample_radii(ens, 200, seed=3, device="gpu", chunk_size=7)
    np.testing.assert_array_equal(a, b)
    law = laws.kostlan(32)
    within_se(a.mean(), law.mean(), a.std(ddof=1) / math.sqrt(a.size))
    # the device stream is its own: not the CPU stream
    assert not np.array_equal(a, spectra.sample_radii(ens, 200, seed=3, device="cpu"))


def test_gpu_keeps_the_dense_sampler(fake_gpu):
    """The Hessenberg sampler is CPU-only (cuSOLVER has no ?hseqr): on the GPU both choices draw dense W."""
    ens = make_ensemble("glorot", 32, "real")
    assert spectra.resolve_sampler(ens, "hessenberg", "gpu") == "dense"
    assert spectra.resolve_sampler(ens, "hessenberg", "cpu") == "hessenberg"
    dense = spectra.sample_radii(ens, 6, seed=2, device="gpu", sampler="dense", precision="double")
    np.testing.assert_array_equal(spectra.sample_radii(ens, 6, seed=2, device="gpu", precision="double"), dense)


def test_gpu_failures_are_checked_per_matrix(fake_gpu):
    def flaky_eigvals(batch):
        w = np.linalg.eigvals(batch)
        w[1] = np.nan  # a failure that is not in the last matrix of the batch
        return w

    fake_gpu(make_fake_cupy(flaky_eigvals))
    ens = make_ensemble("glorot", 20, "real")
    radii = spectra.sample_radii(ens, 5, seed=1, device="gpu", chunk_size=5, precision="double")
    assert np.all(np.isfinite(radii))
    fake_gpu(make_fake_cupy())
    np.testing.assert_allclose(
        radii, spectra.sample_radii(ens, 5, seed=1, device="gpu", chunk_size=5, precision="double"), rtol=1e-12
    )


def test_gpu_chunk_size_bounds_memory():
    assert spectra.gpu_chunk_size(1024, "single", budget_bytes=1 << 30) == (1 << 30) // (1024 * 1024 * 4 * 8)
    assert spectra.gpu_chunk_size(100_000, "double", budget_bytes=1 << 20) == 1


def test_gpu_dynamics_are_chunk_invariant(fake_gpu):
    # inputs come from host streams on every device; matrices from the device stream
    ens = make_ensemble("glorot", 30, "complex")
    curves = dynamics.simulate(ens, "hidden", matrices=3, inputs=2, steps=40, seed=2, device="gpu", precision="double")
    again = dynamics.simulate(
        ens, "hidden", matrices=3, inputs=2, steps=40, seed=2, device="gpu", precision="double", chunk_size=1
    )
    np.testing.assert_allclose(curves.log10_mean, again.log10_mean, rtol=1e-13)


def test_cli_radius_on_gpu_records_the_device(fake_gpu, tmp_path):
    result = CliRunner().invoke(
        app, ["radius", "--n", "30", "--samples", "6", "--device", "gpu", "--format", "json", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["device"] == "gpu"
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["gpu"] == "Fake GPU" and meta["versions"]["cupy"] == "fake"

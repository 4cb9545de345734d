"""The public API: the exported names are pinned, every module declares ``__all__``, and the
notebook snippet of the README runs as written."""

import dataclasses
import importlib
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import specdiag as sd

EXPORTED = {
    "__version__",
    "InputError",
    "spectral_radii",
    "radius_stats",
    "RadiusStats",
    "sample_radii",
    "INITS",
    "InitOptions",
    "init_options",
    "Ensemble",
    "make_ensemble",
    "radius_law",
    "LawSummary",
    "laws",
    "theory_summary",
    "fit_gumbel",
    "compare_laws",
    "GumbelFit",
    "trajectory",
    "hidden_states",
    "simulate",
    "NormCurves",
    "check_file",
    "check_paths",
    "MultiCheckReport",
    "check_tensors",
    "check_state_dict",
    "check_module",
    "list_file",
    "check_matrix",
    "CheckReport",
    "Thresholds",
    "sweep",
    "reproduce",
}


def test_exported_names_are_pinned():
    assert EXPORTED <= set(sd.__all__), f"missing from __all__: {sorted(EXPORTED - set(sd.__all__))}"
    for name in sd.__all__:
        assert getattr(sd, name) is not None, name


def _modules():
    package = Path(sd.__file__).parent
    for info in pkgutil.walk_packages([str(package)], prefix="specdiag."):
        if info.name != "specdiag.__main__":
            yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_every_module_declares_all(name):
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), (list, tuple)), f"{name} has no __all__"
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ names {exported!r}, which does not exist"


def test_package_is_typed():
    assert (Path(sd.__file__).parent / "py.typed").exists()


def test_results_share_one_to_dict():
    stats = sd.radius_stats([0.9, 1.1, 1.2])
    assert dataclasses.is_dataclass(stats) and isinstance(stats.to_dict()["mean"], float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.mean = 0.0  # results are frozen


def test_readme_snippet_runs_as_written(tmp_path):
    r = sd.spectral_radii(n=60, samples=20, init="rescaled", field="real", seed=1, rescale="calibrated", device="cpu", workers=1)
    assert r.shape == (20,) and r.dtype == np.float64
    summary = sd.radius_stats(r)
    assert 0 <= summary.p_above_1 <= 1 and summary.q05 <= summary.median <= summary.q95
    law = sd.radius_law("glorot", n=500, field="complex")
    assert law.mean() == pytest.approx(sd.laws.kostlan(500).mean())
    q = law.ppf([0.05, 0.5, 0.95])
    assert q.shape == (3,) and np.all(np.diff(q) > 0)
    assert law.rvs(size=1000, random_state=3).shape == (1000,)
    assert 0 < sd.laws.kostlan(500).cdf(1.0) < 0.5
    curves = sd.trajectory(n=32, steps=20, init="glorot", seed=0, matrices=2, inputs=3, device="cpu")
    assert curves.log10_mean.shape == (2, 21)


def test_input_error_names_the_parameter():
    with pytest.raises(sd.InputError) as info:
        sd.spectral_radii(n=10, samples=0)
    assert info.value.param == "samples"
    with pytest.raises(sd.InputError) as info:
        sd.spectral_radii(n=10, samples=2, device="auto-gpu")
    assert info.value.param == "device"


def test_auto_device_never_silently_unknown(monkeypatch):
    import specdiag._backend as backend

    monkeypatch.setenv("SPECDIAG_DISABLE_GPU", "1")
    backend.cupy_module.cache_clear()
    try:
        assert backend.resolve_device("auto") == "cpu"
        with pytest.raises(sd.InputError):
            backend.resolve_device("cuda")
    finally:
        backend.cupy_module.cache_clear()

import math

import numpy as np
import pytest

import specdiag._calibration as calibration
from specdiag._inits import InitOptions, make_ensemble
from specdiag._spectra import sample_radii

from .conftest import within_se


@pytest.mark.parametrize(
    "field,n,calibration_samples,test_samples",
    [
        ("complex", 64, None, 1500),
        ("real", 64, 2000, 1500),
        pytest.param("complex", 500, None, 120, marks=pytest.mark.slow),
        pytest.param("real", 500, 500, 200, marks=pytest.mark.slow),
    ],
)
def test_calibrated_rescaling_reaches_target_coverage(field, n, calibration_samples, test_samples):
    p = 0.9
    opts = InitOptions(rescale="calibrated", coverage=p, seed=3, calibration_samples=calibration_samples or 1000)
    ens = make_ensemble("rescaled", n, field, opts)
    radii = sample_radii(ens, test_samples, seed=999)
    se = math.sqrt(p * (1 - p) / test_samples)
    if ens.rescaling.samples:  # a Monte Carlo quantile carries its own error
        se = math.hypot(se, ens.rescaling.coverage_stderr)
        lo, hi = ens.rescaling.factor_ci95
        assert lo <= ens.rescaling.factor <= hi
    within_se(np.mean(radii <= 1.0), p, se)


def test_real_calibration_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECDIAG_CACHE_DIR", str(tmp_path))
    glorot = make_ensemble("glorot", 20, "real")
    first = calibration.real_calibration(glorot, 0.8, seed=1, samples=200)
    assert len(list(tmp_path.glob("*.json"))) == 1

    def boom(*a, **k):
        raise AssertionError("should have read the cache")

    monkeypatch.setattr(calibration, "sample_radii", boom)  # the name calibration calls
    assert calibration.real_calibration(glorot, 0.8, seed=1, samples=200) == first
    for entry in tmp_path.glob("*.json"):
        entry.unlink()
    with pytest.raises(AssertionError, match="should have read the cache"):  # without the cache it samples
        calibration.real_calibration(glorot, 0.8, seed=1, samples=200)


def test_quantile_ci_brackets_the_quantile():
    x = np.random.default_rng(0).standard_normal(1000)
    q, lo, hi = calibration.quantile_with_ci(x, 0.9)
    assert lo < q < hi and lo < 1.2816 < hi

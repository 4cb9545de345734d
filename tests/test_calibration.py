import json
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
        ("complex", 32, None, 1500),
        ("real", 32, 2000, 1500),
        pytest.param("complex", 64, None, 1500, marks=pytest.mark.slow),
        pytest.param("real", 64, 2000, 1500, marks=pytest.mark.slow),
        pytest.param("complex", 500, None, 120, marks=pytest.mark.slow),
        pytest.param("real", 500, 500, 200, marks=pytest.mark.slow),
    ],
)
def test_calibrated_rescaling_reaches_target_coverage(field, n, calibration_samples, test_samples):
    p = 0.9
    opts = InitOptions(rescale="calibrated", coverage=p, seed=3, calibration_samples=calibration_samples)
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


def test_calibration_samples_are_honoured_and_the_source_says_which(tmp_path, monkeypatch):
    """Real n inside the table: None takes the table's quantile (with its SE); a sample count runs a
    Monte Carlo quantile of that many radii (issue 19: it was silently ignored)."""
    monkeypatch.setenv("SPECDIAG_CACHE_DIR", str(tmp_path))
    table = make_ensemble("rescaled", 40, "real", InitOptions(rescale="calibrated", coverage=0.9)).rescaling
    assert table.samples is None and table.factor_stderr > 0 and table.source.startswith("real Glorot table quantile")
    mc = make_ensemble(
        "rescaled", 40, "real", InitOptions(rescale="calibrated", coverage=0.9, calibration_samples=300)
    ).rescaling
    assert mc.samples == 300 and mc.source == "Monte Carlo quantile of 300 real Glorot radii"
    lo, hi = mc.factor_ci95
    within_se(mc.factor, table.factor, math.hypot(table.factor_stderr, (hi - lo) / 3.92))


def test_cached_factor_must_be_plausible_under_the_law(tmp_path, monkeypatch, caplog):
    """An edited factor with a recomputed checksum (and a matching interval) is still refused: it
    must sit within a few SEs of the real Glorot law's quantile."""
    monkeypatch.setenv("SPECDIAG_CACHE_DIR", str(tmp_path))
    glorot = make_ensemble("glorot", 40, "real")
    first = calibration.real_calibration(glorot, 0.9, seed=2, samples=150)
    path = next(tmp_path.glob("*.json"))
    entry = json.loads(path.read_text())
    entry.update(factor=0.5, factor_ci95=[0.45, 0.55])
    key = {"version": calibration.CACHE_VERSION, "n": 40, "coverage": 0.9, "seed": 2, "samples": 150}
    entry["checksum"] = calibration._checksum(key, entry)
    path.write_text(json.dumps(entry))
    with caplog.at_level("WARNING", logger="specdiag"):
        again = calibration.real_calibration(glorot, 0.9, seed=2, samples=150)
    assert again == first and any("implausible factor 0.5" in r.getMessage() for r in caplog.records)

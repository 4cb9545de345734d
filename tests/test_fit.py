import json
import math

import numpy as np
import pytest
from scipy import stats

import specdiag._fit as fit
from specdiag import laws
from specdiag._errors import InputError

from .conftest import within_se


def test_fit_recovers_known_gumbel():
    loc, scale, m = 1.03, 0.012, 3000
    x = stats.gumbel_r.rvs(loc=loc, scale=scale, size=m, random_state=np.random.default_rng(1))
    g = fit.fit_gumbel(x)
    within_se(g.loc, loc, scale * math.sqrt(1.1087 / m))
    within_se(g.scale, scale, scale * math.sqrt(0.6079 / m))
    assert g.loc_ci[0] < g.loc < g.loc_ci[1] and g.scale_ci[0] < g.scale < g.scale_ci[1]


def test_bootstrap_intervals_agree_with_wald():
    x = np.random.default_rng(8).gumbel(1.03, 0.01, 800)
    wald, boot = fit.fit_gumbel(x), fit.fit_gumbel(x, ci="bootstrap", resamples=400, seed=1)
    assert (boot.loc, boot.scale) == (wald.loc, wald.scale) and boot.ci_method == "bootstrap"
    for w, b in ((wald.loc_ci, boot.loc_ci), (wald.scale_ci, boot.scale_ci)):
        assert b[0] < b[1]
        assert abs((b[1] - b[0]) / (w[1] - w[0]) - 1) < 0.3  # same width within bootstrap noise
    assert boot == fit.fit_gumbel(x, ci="bootstrap", resamples=400, seed=1)  # seeded
    with pytest.raises(InputError, match="bootstrap"):
        fit.fit_gumbel(x, ci="jackknife")


def test_fit_interval_coverage():
    rng = np.random.default_rng(5)
    cover = []
    for _ in range(200):
        g = fit.fit_gumbel(rng.gumbel(1.0, 0.01, 400))  # radii are non-negative
        cover.append(g.loc_ci[0] <= 1.0 <= g.loc_ci[1])
    within_se(np.mean(cover), 0.95, math.sqrt(0.95 * 0.05 / 200))


def test_compare_laws_exact_complex_finite_n_real_and_the_limit():
    x = stats.gumbel_r.rvs(loc=1.035, scale=0.01, size=200, random_state=np.random.default_rng(2))
    c = fit.compare_laws(x, n=500, field="complex")
    assert c.exact is not None and 0 <= c.exact.ks_pvalue <= 1 and c.finite_n_real is None
    assert c.asymptotic.loc > 1 and "limit" in c.asymptotic.label
    assert c.exact.ks_statistic == pytest.approx(stats.kstest(x, laws.kostlan(500).cdf).statistic)
    assert c.sample.mean == pytest.approx(x.mean()) and c.fit.ks_pvalue > 0.01  # drawn from a Gumbel law
    r = fit.compare_laws(x, n=100, field="real")
    assert r.exact is None and r.asymptotic is None and "163" in r.asymptotic_reason
    real = r.finite_n_real
    assert real.q05 < real.mean < real.q95 and real.source.startswith("finite-n")
    doc = r.to_dict()
    assert list(doc) == ["fit", "sample", "asymptotic", "asymptotic_reason", "exact", "finite_n_real"]
    assert set(doc["finite_n_real"]) >= {
        "mean",
        "std",
        "q05",
        "q95",
        "p_above_1",
        "se_mean",
        "source",
        "ks_statistic",
        "ks_pvalue",
    }
    assert list(doc["fit"]) == [
        "loc",
        "scale",
        "loc_ci",
        "scale_ci",
        "samples",
        "level",
        "ci_method",
        "ks_statistic",
        "ks_pvalue",
    ]
    assert "asymptotic_reason" not in c.to_dict()


def test_fit_report_from_file_names_the_file_and_keeps_the_document(tmp_path):
    x = np.random.default_rng(4).gumbel(1.05, 0.02, 60)
    path = tmp_path / "r.npy"
    np.save(path, x)
    rep = fit.fit_report(64, from_file=path, field="complex", ci="wald")
    doc = rep.to_dict()
    assert (
        list(doc)[:8] == ["command", "n", "samples", "field", "init", "method", "source", "fit"]
        and "comparison" not in doc
    )
    assert (doc["samples"], doc["init"], doc["method"], doc["source"]) == (60, None, None, str(path))
    assert rep.comparison.fit.loc == doc["fit"]["loc"]
    np.save(path, x[:5])
    with pytest.raises(InputError, match="at least 10") as info:
        fit.fit_report(64, from_file=path, field="complex")
    assert info.value.param == "from_file"
    np.save(path, x)
    with pytest.raises(InputError, match="^bootstrap_samples must be at least 50") as info:
        fit.fit_report(64, from_file=path, field="complex", ci="bootstrap", bootstrap_samples=10)
    assert info.value.param == "bootstrap_samples"


def test_auto_intervals_and_gridded_ks_for_large_samples():
    """Past 20,000 radii: Wald intervals, and KS on a gridded CDF that matches the exact one."""
    x = np.random.default_rng(3).gumbel(1.03, 0.01, 30_000)
    assert fit.fit_gumbel(x, ci="auto").ci_method == "wald"
    assert fit.fit_gumbel(x[:500], ci="auto", resamples=60).ci_method == "bootstrap"
    law = stats.gumbel_r(1.03, 0.01)
    exact = stats.kstest(x, law.cdf)
    gridded = fit.ks(x, law.cdf)
    assert abs(gridded["ks_statistic"] - exact.statistic) < 1e-6


@pytest.mark.parametrize("suffix", [".csv", ".json", ".npy", ".txt"])
def test_load_radii_formats(tmp_path, suffix):
    values = np.linspace(0.9, 1.1, 12)
    path = tmp_path / f"r{suffix}"
    if suffix == ".npy":
        np.save(path, values)
    elif suffix == ".json":
        path.write_text(json.dumps({"radii": values.tolist()}))
    elif suffix == ".csv":
        path.write_text("index,radius\n" + "".join(f"{i},{float(v)!r}\n" for i, v in enumerate(values)))
    else:
        path.write_text("\n".join(repr(float(v)) for v in values))
    np.testing.assert_array_equal(fit.load_radii(path), values)


def test_load_radii_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        fit.load_radii(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError):
        fit.load_radii(tmp_path / "empty.csv")
    (tmp_path / "nan.json").write_text(json.dumps([1.0] * 10 + ["NaN"]))
    with pytest.raises(InputError):
        fit.load_radii(tmp_path / "nan.json")
    (tmp_path / "few.csv").write_text("radius\n1.0\n1.1\n")
    with pytest.raises(InputError, match="at least 10"):
        fit.load_radii(tmp_path / "few.csv")

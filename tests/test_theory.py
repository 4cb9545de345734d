import json
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import special

from specdiag import laws

import specdiag._theory as theory
from specdiag._errors import InputError
from specdiag._inits import InitOptions, make_ensemble
from specdiag._spectra import sample_radii

from .conftest import within_se


def test_g_n_sign_boundary():
    n = np.arange(2, 164)
    assert np.all(theory.g_n(n) <= 0)
    assert theory.g_n(164) > 0


def test_paper_scale_values_from_the_formula():
    for n in (164, 192, 500, 4096):
        g = math.log(n / (2 * math.pi)) - 2 * math.log(math.log(n))
        expected = 1 + math.sqrt(g / (4 * n)) + (0.5772156649015329 + math.pi / math.sqrt(6)) / math.sqrt(4 * n * g)
        assert theory.paper_scale(n) == pytest.approx(expected, rel=1e-14)
    assert round(theory.paper_scale(164), 2) == 2.22 and round(theory.paper_scale(192), 2) == 1.22


@pytest.mark.parametrize("n", [2, 100, 163])
def test_undefined_quantities_raise_not_nan(n):
    for func in (theory.paper_scale, theory.rider_location, theory.rider_scale):
        with pytest.raises(InputError, match="calibrated"):
            func(n)


def test_limit_laws():
    x = np.linspace(-3, 5, 9)
    n = 500
    a, b = theory.rider_location(n), theory.rider_scale(n)
    r = a + b * x
    np.testing.assert_allclose(laws.rider_sinclair(n).cdf(r), np.exp(-0.5 * np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(laws.rider(n).cdf(r), np.exp(-np.exp(-x)), rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_kostlan_cdf_is_the_gamma_product(n):
    r = np.array([0.3, 0.8, 1.0, 1.1, 1.7])
    direct = np.prod([special.gammainc(j, n * r**2) for j in range(1, n + 1)], axis=0)
    np.testing.assert_allclose(laws.kostlan(n).cdf(r), direct, rtol=1e-12)
    if n == 1:
        np.testing.assert_allclose(laws.kostlan(1).cdf(r), 1 - np.exp(-(r**2)), rtol=1e-12)


def test_kostlan_pdf_is_the_derivative_and_integrates_to_one():
    n = 300
    r = np.linspace(0.98, 1.12, 57)
    h = 1e-6
    law = laws.kostlan(n)
    numeric = (law.cdf(r + h) - law.cdf(r - h)) / (2 * h)
    np.testing.assert_allclose(law.pdf(r), numeric, rtol=1e-5, atol=1e-6)
    assert law.cdf(law.median()) == pytest.approx(0.5, abs=1e-10)
    assert law.cdf(law.ppf(0.95)) == pytest.approx(0.95, abs=1e-10)


@pytest.mark.slow
def test_kostlan_stable_at_large_n():
    law = laws.kostlan(100_000)
    values = [law.mean(), law.std(), *law.ppf([0.05, 0.5, 0.95]), law.sf(1.0)]
    assert all(math.isfinite(v) for v in values)
    assert 1.003 < law.mean() < 1.005 and 0 < law.std() < 1e-3


@pytest.mark.parametrize(
    "n,samples",
    [
        (32, 1500),
        pytest.param(64, 1500, marks=pytest.mark.slow),
        pytest.param(128, 800, marks=pytest.mark.slow),
        pytest.param(500, 150, marks=pytest.mark.slow),
    ],
)
def test_kostlan_cdf_against_monte_carlo(n, samples):
    radii = sample_radii(make_ensemble("glorot", n, "complex"), samples, seed=100 + n)
    law = laws.kostlan(n)
    for r in (*law.ppf([0.05, 0.5, 0.95]), float(np.quantile(radii, 0.3))):
        p = float(law.cdf(r))
        within_se(np.mean(radii <= r), p, math.sqrt(p * (1 - p) / samples))
    within_se(radii.mean(), law.mean(), radii.std(ddof=1) / math.sqrt(samples))


@pytest.mark.parametrize("n", [2, 3, 5, 10, 100, 1000])
@pytest.mark.parametrize("k", range(7))
def test_q_nk_against_exact_integers(n, k):
    assert math.exp(theory.log_q(n, k)) == pytest.approx(float(theory.q_exact_fraction(n, k)), rel=1e-11)


def test_q_nk_known_values():
    for n in (3, 7, 50):
        assert theory.q_exact_fraction(n, 0) == 1 and theory.q_exact_fraction(n, 1) == 1
        # E tr(G^2 G^2*) = n^3 + n for unit-variance complex G, W = G / sqrt(n)
        assert theory.q_exact_fraction(n, 2) == Fraction(n**3 + n, n**3)


def test_q_nk_log_space_far_past_overflow():
    k = np.array([0, 10, 840, 5000, 20000])
    lq = theory.log_q(500, k)
    assert np.all(np.isfinite(lq)) and np.all(np.diff(lq) > 0)
    assert lq[-1] / math.log(10) > 308  # beyond float64, still finite in log space


@pytest.mark.slow
def test_q_nk_against_monte_carlo():
    n, k, m = 100, 10, 300
    ens = make_ensemble("glorot", n, "complex")
    from specdiag._backend import MATRIX_STREAM, host_rng

    vals = []
    for i in range(m):
        w = ens.sample(host_rng(77, MATRIX_STREAM, i))
        vals.append(np.linalg.norm(np.linalg.matrix_power(w, k), "fro") ** 2 / n)
    vals = np.array(vals)
    within_se(vals.mean(), math.exp(theory.log_q(n, k)), vals.std(ddof=1) / math.sqrt(m))


def test_expected_hidden_is_the_sum_of_q():
    n, sigma, gain = 50, 0.7, 0.9
    t = np.array([1, 2, 5, 30])
    direct = [sigma**2 * n * sum(gain ** (2 * k) * float(theory.q_exact_fraction(n, k)) for k in range(tt)) for tt in t]
    np.testing.assert_allclose(np.exp(theory.log_expected_hidden_sq(n, t, sigma, gain)), direct, rtol=1e-11)


@pytest.mark.parametrize("n", [2, 64, 500])
def test_calibrated_complex_scale_hits_coverage_exactly(n):
    s = make_ensemble("rescaled", n, "complex", InitOptions(rescale="calibrated", coverage=0.9)).rescaling.factor
    assert float(laws.kostlan(n).cdf(s)) == pytest.approx(0.9, abs=1e-10)


def test_predicted_law_for_diagonal_inits_is_exact():
    law = make_ensemble("uniform-diag", 10, "complex").law_summary()
    assert law.mean == pytest.approx(10 / 11, rel=1e-8)  # E max of 10 U[0,1]
    assert law.median == pytest.approx(0.5 ** (1 / 10))


def test_cli_start_up_imports_no_heavy_modules():
    """`specdiag --help` needs every command registered, but not SciPy's stats/linalg, matplotlib or Dask."""
    import subprocess
    import sys

    code = (
        "import sys; import specdiag.cli as c; c.app; "
        "print(sorted(m for m in sys.modules if m.startswith(('scipy.stats', 'scipy.linalg', 'matplotlib', 'dask'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_theory_json_has_finite_n_real_and_no_negative_zero():
    import json

    from typer.testing import CliRunner

    from specdiag.cli import app

    result = CliRunner().invoke(app, ["theory", "--n", "164", "--format", "json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["rows"][0]
    real = row["finite_n_real"]
    assert set(real) >= {"mean", "std", "q05", "q95", "p_above_1", "se_mean", "source"}
    assert 0 < real["se_mean"] < 0.01 and real["q05"] < real["mean"] < real["q95"]
    assert "limit" in row["asymptotic"]["real"]["label"]
    table = CliRunner().invoke(app, ["theory", "--n", "164"])
    assert table.exit_code == 0 and " -0 " not in table.stdout and "finite-n mean, real" in table.stdout


def test_radius_table_prints_the_bound_of_an_extrapolated_tail():
    """half, real: P(rho > 1) lies beyond the table's 99% level; the table says '< 0.01', not 4e-15."""
    from typer.testing import CliRunner

    from specdiag.cli import app

    result = CliRunner().invoke(app, ["radius", "--n", "40", "--samples", "3", "--init", "half", "--workers", "1"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "p_above_1" in line)
    assert "< 0.01" in row and "e-" not in row.split("< 0.01")[0].split("│")[-1]
    doc = json.loads(
        CliRunner()
        .invoke(
            app,
            [
                "radius",
                "--n",
                "40",
                "--samples",
                "3",
                "--init",
                "rescaled",
                "--rescale",
                "calibrated",
                "--workers",
                "1",
                "--format",
                "json",
            ],
        )
        .output
    )
    assert doc["theory"]["p_above_1_se"] > 0 and doc["theory"]["p_above_1_bound"] is None

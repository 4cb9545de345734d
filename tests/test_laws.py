"""specdiag.laws: exact laws against independent references, limits against their formulas, and
Monte Carlo checks with k-standard-error tolerances (docs/science.md sections 2, 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

from specdiag import laws
from specdiag._errors import InputError
from specdiag.laws import _kostlan, _numeric, _real, _splines, kostlan


def within_se(estimate, target, se, k=4.0):
    assert abs(estimate - target) <= k * se, (
        f"{estimate} vs {target}: {abs(estimate - target) / se:.2f} standard errors (allowed {k})"
    )


def _log_p(j: int, x: float) -> float:
    p = special.gammainc(j, x)
    return math.log1p(-special.gammaincc(j, x)) if p > 0.5 else math.log(p)


def reference_logcdf(r: float, n: int) -> float:
    """Straight from Kostlan's theorem: sum over all j of log P(j, n r^2), exactly summed."""
    return math.fsum(_log_p(j, n * r * r) for j in range(1, n + 1))


def reference_sf(r: float, n: int) -> float:
    """1 - prod (1 - Q_j) with every Q_j, for the right tail (no cancellation)."""
    return -math.expm1(math.fsum(math.log1p(-special.gammaincc(j, n * r * r)) for j in range(1, n + 1)))


# ------------------------------------------------------------------------------------------------
# Kostlan: exact checks
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 10, 64, 500])
def test_kostlan_cdf_matches_reference(n):
    lo, hi = kostlan.ppf([1e-30, 1 - 1e-9], n)
    r = np.linspace(lo, hi, 25)
    want = np.array([math.exp(reference_logcdf(x, n)) for x in r])
    np.testing.assert_allclose(kostlan.cdf(r, n), want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(kostlan.logcdf(r, n), [reference_logcdf(x, n) for x in r], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("n", [2, 64, 500])
def test_kostlan_sf_is_accurate_in_the_right_tail(n):
    r = kostlan.isf([1e-3, 1e-12, 1e-40, 1e-150], n)
    np.testing.assert_allclose(kostlan.sf(r, n), [reference_sf(x, n) for x in r], rtol=1e-12)
    np.testing.assert_allclose(kostlan.sf(r, n), [1e-3, 1e-12, 1e-40, 1e-150], rtol=1e-9)


def test_kostlan_logcdf_is_finite_far_in_the_left_tail():
    # P(j, x) underflows here; the series keeps log F finite and exact: compare at n = 2 in closed form
    r = 1e-3
    x = 2 * r * r
    exact = math.log(-math.expm1(-x)) + math.log(special.gammainc(2, x))
    assert kostlan.logcdf(r, 2) == pytest.approx(exact, rel=1e-12)
    assert np.isfinite(kostlan.logcdf(0.05, 500)) and kostlan.logcdf(0.05, 500) < -1e5


@pytest.mark.parametrize("n", [1, 2, 7, 64, 500, pytest.param(2048, marks=pytest.mark.slow)])
def test_kostlan_ppf_round_trip(n):
    p = np.array([1e-12, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1 - 1e-9])
    x = kostlan.ppf(p, n)
    assert np.all(np.diff(x) > 0)
    # cdf carries x's information where F is small, sf where S is small: round-trip each there
    low, high = p <= 0.99, p >= 0.01
    np.testing.assert_allclose(kostlan.ppf(kostlan.cdf(x[low], n), n), x[low], rtol=1e-10)
    np.testing.assert_allclose(kostlan.isf(kostlan.sf(x[high], n), n), x[high], rtol=1e-10)
    q = np.array([1e-300, 1e-100, 1e-20, 1e-3, 0.3])
    np.testing.assert_allclose(kostlan.sf(kostlan.isf(q, n), n), q, rtol=1e-9)


@pytest.mark.parametrize("n", [2, 64, pytest.param(500, marks=pytest.mark.slow)])
def test_kostlan_pdf_integrates_to_one_and_is_the_derivative_of_the_cdf(n):
    lo, hi = kostlan.ppf(1e-15, n), kostlan.isf(1e-15, n)
    mass, _ = integrate.quad(lambda x: kostlan.pdf(x, n), lo, hi, limit=200, epsabs=1e-14, epsrel=1e-13)
    assert mass == pytest.approx(1.0, abs=1e-12)
    x = kostlan.ppf([0.02, 0.3, 0.5, 0.7, 0.98], n)
    h = 1e-5 * kostlan.std(n)
    numeric = (kostlan.cdf(x + h, n) - kostlan.cdf(x - h, n)) / (2 * h)
    np.testing.assert_allclose(kostlan.pdf(x, n), numeric, rtol=1e-7)
    np.testing.assert_allclose(kostlan.logpdf(x, n), np.log(numeric), rtol=1e-7)


@pytest.mark.parametrize("n", [2, 64, pytest.param(500, marks=pytest.mark.slow)])
def test_kostlan_moments_match_quadrature(n):
    lo, hi = kostlan.ppf(1e-15, n), kostlan.isf(1e-15, n)
    mean = integrate.quad(lambda x: kostlan.sf(x, n), 0, hi, points=[lo], limit=200, epsabs=1e-14)[0]
    second = integrate.quad(lambda x: 2 * x * kostlan.sf(x, n), 0, hi, points=[lo], limit=200, epsabs=1e-14)[0]
    m, v = kostlan.stats(n, moments="mv")
    assert m == pytest.approx(mean, rel=1e-10)
    assert v == pytest.approx(second - mean**2, rel=1e-7)


def test_kostlan_loc_scale_semantics():
    r = np.array([0.8, 1.0, 1.1])
    np.testing.assert_allclose(kostlan.cdf(2 * r, 500, scale=2.0), kostlan.cdf(r, 500), rtol=1e-14)
    np.testing.assert_allclose(kostlan(500, loc=0.5, scale=2.0).cdf(0.5 + 2 * r), kostlan(500).cdf(r), rtol=1e-14)
    assert kostlan(500, scale=0.5).mean() == pytest.approx(0.5 * kostlan(500).mean(), rel=1e-14)
    assert kostlan(500, scale=0.5).ppf(0.9) == pytest.approx(0.5 * kostlan(500).ppf(0.9), rel=1e-14)


def test_kostlan_broadcasts_over_x_and_n():
    r = np.array([[0.9], [1.0], [1.05]])
    ns = np.array([2, 5, 64, 64])
    got = kostlan.cdf(r, ns)
    assert got.shape == (3, 4)
    for i in range(3):
        for k in range(4):
            assert got[i, k] == pytest.approx(kostlan.cdf(r[i, 0], ns[k]), rel=1e-14)
    ppf = kostlan.ppf([[0.05], [0.5], [0.95]], [2, 500])
    assert ppf.shape == (3, 2)
    assert ppf[1, 1] == pytest.approx(kostlan(500).median(), rel=1e-15)
    np.testing.assert_allclose(kostlan.mean([2, 64]), [kostlan.mean(2), kostlan.mean(64)], rtol=1e-15)


def test_kostlan_edges_and_invalid_shapes():
    assert kostlan.cdf(0.0, 5) == 0.0 and kostlan.pdf(-1.0, 5) == 0.0 and kostlan.sf(0.0, 5) == 1.0
    assert kostlan.ppf(0.0, 5) == 0.0 and kostlan.ppf(1.0, 5) == np.inf
    assert np.isnan(kostlan.cdf(1.0, 0)) and np.isnan(kostlan.cdf(1.0, 2.5))
    # n = 1: |w|^2 ~ Exp(1)
    assert kostlan.cdf(1.3, 1) == pytest.approx(-math.expm1(-1.69), rel=1e-15)


@pytest.mark.parametrize("n", [1, 2, 40, pytest.param(2048, marks=pytest.mark.slow)])
def test_kostlan_quantile_interpolant_is_accurate(n):
    rng = np.random.default_rng(7)
    u = np.concatenate([rng.random(200), 10.0 ** -rng.uniform(0, 15, 50), 1 - 10.0 ** -rng.uniform(1, 15, 50), [0.0]])
    np.testing.assert_allclose(_kostlan.draws(u, n), kostlan.ppf(u, n), rtol=1e-11)


# ------------------------------------------------------------------------------------------------
# Kostlan: Monte Carlo
# ------------------------------------------------------------------------------------------------


def test_kostlan_rvs_follow_the_exact_law():
    n, size = 64, 40_000
    draws = kostlan(n).rvs(size, random_state=11)
    assert draws.shape == (size,)
    within_se(draws.mean(), kostlan.mean(n), draws.std() / math.sqrt(size))
    for p in (0.05, 0.5, 0.95):
        frac = np.mean(draws <= kostlan.ppf(p, n))
        within_se(frac, p, math.sqrt(p * (1 - p) / size))
    assert np.array_equal(draws, kostlan(n).rvs(size, random_state=11))
    mixed = kostlan.rvs([2, 64], size=(1000, 2), random_state=3)
    assert mixed.shape == (1000, 2) and mixed[:, 0].std() > 3 * mixed[:, 1].std()


def test_kostlan_gamma_draws_follow_the_exact_law():
    n, size = 64, 20_000
    draws = laws.kostlan_rvs_gamma(n, size, random_state=5)
    within_se(draws.mean(), kostlan.mean(n), draws.std() / math.sqrt(size))
    within_se(np.mean(draws <= kostlan.ppf(0.9, n)), 0.9, math.sqrt(0.09 / size))


@pytest.mark.parametrize(("n", "count"), [(32, 400), pytest.param(64, 2000, marks=pytest.mark.slow)])
def test_kostlan_matches_eigenvalues_of_complex_ginibre_matrices(n, count):
    rng = np.random.default_rng(2024)
    radii = np.empty(count)
    for i in range(count):
        w = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / math.sqrt(2 * n)
        radii[i] = np.abs(np.linalg.eigvals(w)).max()
    within_se(radii.mean(), kostlan.mean(n), kostlan.std(n) / math.sqrt(count))
    for p in (0.1, 0.5, 0.9):
        within_se(np.mean(radii <= kostlan.ppf(p, n)), p, math.sqrt(p * (1 - p) / count))


@pytest.mark.slow
def test_kostlan_rvs_a_million_draws_at_n_500():
    draws = kostlan(500).rvs(10**6, random_state=1)
    within_se(draws.mean(), kostlan.mean(500), kostlan.std(500) / 1000)
    within_se(draws.std(), kostlan.std(500), kostlan.std(500) / math.sqrt(2 * 10**6) * 1.5)


# ------------------------------------------------------------------------------------------------
# Diagonal inits
# ------------------------------------------------------------------------------------------------


def test_uniform_diag_and_disk_closed_forms():
    r = np.array([0.0, 0.3, 0.9, 0.99, 1.0])
    np.testing.assert_allclose(laws.uniform_diag(50).cdf(r), r**50, rtol=1e-14)
    np.testing.assert_allclose(laws.uniform_disk(50).cdf(r), r**100, rtol=1e-14)
    assert laws.uniform_diag(50).mean() == pytest.approx(50 / 51, rel=1e-14)
    assert laws.uniform_disk(50).mean() == pytest.approx(100 / 101, rel=1e-14)


def test_uniform_diag_and_disk_draws():
    rng = np.random.default_rng(9)
    n, count = 20, 20_000
    diag = np.abs(rng.random((count, n))).max(axis=1)
    disk = np.sqrt(rng.random((count, n))).max(axis=1)
    for sample, law in ((diag, laws.uniform_diag(n)), (disk, laws.uniform_disk(n))):
        within_se(sample.mean(), law.mean(), law.std() / math.sqrt(count))
        within_se(np.mean(sample <= law.median()), 0.5, math.sqrt(0.25 / count))


def test_lru_ring_closed_form():
    n, rmin, rmax = 64, 0.4, 0.9
    law = laws.lru_ring(n, rmin, rmax)
    r = np.array([0.3, 0.4, 0.6, 0.85, 0.9, 1.0])
    want = np.clip((r**2 - rmin**2) / (rmax**2 - rmin**2), 0, 1) ** n
    np.testing.assert_allclose(law.cdf(r), want, rtol=1e-14, atol=0)
    np.testing.assert_allclose(law.sf(r), 1 - want, rtol=1e-12, atol=1e-300)
    p = np.array([1e-12, 1e-6, 0.05, 0.5, 0.95])
    np.testing.assert_allclose(law.cdf(law.ppf(p)), p, rtol=1e-10)
    x = np.array([0.87, 0.88, 0.89, 0.899, 0.8999999])
    np.testing.assert_allclose(law.isf(law.sf(x)), x, rtol=1e-12)
    top = rmax - 1e-7  # sf = 1 - (1 - (rmax^2 - r^2)/d)^n, exactly from the complement
    assert law.sf(top) == pytest.approx(
        -math.expm1(n * math.log1p(-(rmax - top) * (rmax + top) / (rmax**2 - rmin**2))), rel=1e-12
    )
    x = law.ppf([0.1, 0.5, 0.9])
    h = 1e-7
    np.testing.assert_allclose(law.pdf(x), (law.cdf(x + h) - law.cdf(x - h)) / (2 * h), rtol=1e-6)
    mean = integrate.quad(lambda t: t * law.pdf(t), rmin, rmax, points=[law.ppf(1e-9)], epsabs=1e-14)[0]
    assert law.mean() == pytest.approx(mean, rel=1e-10)
    assert law.support() == (rmin, rmax)
    assert laws.lru_ring(3, 0.0, 1.0).cdf(0.5) == pytest.approx(0.25**3, rel=1e-14)  # rmin = 0: a disk


def test_lru_ring_draws():
    rng = np.random.default_rng(4)
    n, count, rmin, rmax = 16, 10_000, 0.4, 0.9
    # Orvieto et al.: nu = -1/2 log(u (rmax^2 - rmin^2) + rmin^2), |lambda| = exp(-nu)
    moduli = np.exp(0.5 * np.log(rng.random((count, n)) * (rmax**2 - rmin**2) + rmin**2))
    sample = moduli.max(axis=1)
    law = laws.lru_ring(n, rmin, rmax)
    within_se(sample.mean(), law.mean(), law.std() / math.sqrt(count))
    within_se(np.mean(sample <= law.ppf(0.2)), 0.2, math.sqrt(0.16 / count))
    own = law.rvs(count, random_state=1)
    within_se(own.mean(), law.mean(), law.std() / math.sqrt(count))


@pytest.mark.parametrize(
    ("args", "param"),
    [
        ((1,), "n"),
        ((2.5,), "n"),
        ((10, -0.1, 0.9), "rmin"),
        ((10, 0.5, 0.5), "rmax"),
        ((10, 0.1, math.inf), "rmax"),
        ((10, math.nan, 0.9), "rmin"),
    ],
)
def test_lru_ring_validates(args, param):
    with pytest.raises(InputError) as err:
        laws.lru_ring(*args)
    assert err.value.param == param


@pytest.mark.parametrize("func", [laws.uniform_diag, laws.uniform_disk, laws.rider, laws.rider_sinclair])
def test_width_validation(func):
    with pytest.raises(InputError, match="n must be an integer >= 2, got 1") as err:
        func(1)
    assert err.value.param == "n"


# ------------------------------------------------------------------------------------------------
# Limit laws
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [164, 500, 4096])
def test_rider_and_rider_sinclair_parameters(n):
    g = math.log(n / (2 * math.pi)) - 2 * math.log(math.log(n))
    loc, scale = 1 + math.sqrt(g / (4 * n)), 1 / math.sqrt(4 * n * g)
    complex_law, real_law = laws.rider(n), laws.rider_sinclair(n)
    assert complex_law.dist.name == real_law.dist.name == "gumbel_r"
    assert complex_law.kwds["loc"] == pytest.approx(loc, rel=1e-14)
    assert complex_law.kwds["scale"] == pytest.approx(scale, rel=1e-14)
    assert real_law.kwds["loc"] == pytest.approx(loc - math.log(2) * scale, rel=1e-14)
    assert real_law.kwds["scale"] == pytest.approx(scale, rel=1e-14)
    # the real limit law is exp(-(1/2) e^{-x}) in the standardized variable
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(real_law.cdf(loc + scale * x), np.exp(-0.5 * np.exp(-x)), rtol=1e-12)


@pytest.mark.parametrize("func", [laws.rider, laws.rider_sinclair])
def test_rider_is_undefined_up_to_163(func):
    with pytest.raises(InputError, match="g_n <= 0 for n <= 163") as err:
        func(163)
    assert err.value.param == "n"
    func(164)


# ------------------------------------------------------------------------------------------------
# Finite-n real law: the shipped Monte Carlo table
# ------------------------------------------------------------------------------------------------

CHECKED = ("mean", "sd", "q05", "q50", "q95", "p_above_1")


def _value_and_se(obj, name):
    """(value, SE) of a checked statistic from a table row (dict) or a RealGinibreSummary."""
    get = obj.__getitem__ if isinstance(obj, dict) else lambda k: getattr(obj, k)
    probs = list(get("probs")) if not isinstance(obj, dict) else list(laws.real_ginibre_table().probs)
    if name.startswith("q"):
        i = probs.index(int(name[1:]) / 100)
        return get("quantiles")[i], get("quantiles_se")[i]
    return get(name), get(f"{name}_se")


def test_real_table_loads_with_metadata():
    table = laws.real_ginibre_table()
    assert table.widths[0] == 2 and table.widths[-1] == 2048 and list(table.widths) == sorted(table.widths)
    meta = table.metadata
    for key in ("script", "created", "specdiag_version", "specdiag_commit", "precision", "base_seed", "sweeps"):
        assert key in meta, key
    assert meta["script"] == "scripts/build_real_law.py"
    held = {int(r["n"]) for r in table.held_out}
    assert held and not held & set(table.widths)
    for row in table.grid + table.held_out:
        assert row["samples"] >= 50 and row["mean_se"] > 0 and len(row["quantiles"]) == len(table.probs)
        assert np.all(np.diff(row["quantiles"]) >= 0)


@pytest.mark.parametrize("widths", [(2, 5, 12, 48, 160), pytest.param(None, marks=pytest.mark.slow)])
def test_real_model_reproduces_the_grid_within_its_standard_errors(widths):
    table = laws.real_ginibre_table()
    z = {name: [] for name in CHECKED}
    for row in table.grid:
        if widths is not None and row["n"] not in widths:
            continue
        summary = table.at(int(row["n"]))
        for name in CHECKED:
            value, se = _value_and_se(row, name)
            z[name].append((value - _value_and_se(summary, name)[0]) / se)
    for name, values in z.items():
        values = np.array(values)
        assert np.max(np.abs(values)) <= 4.0, (name, values)
        if widths is None:  # a smoothing spline: chi^2 per width about 1
            assert np.sqrt(np.mean(values**2)) <= 1.5, (name, values)


def test_real_model_predicts_held_out_widths_within_4_se():
    table = laws.real_ginibre_table()
    for row in table.held_out:
        summary = table.at(int(row["n"]))
        for name in CHECKED:
            value, se_row = _value_and_se(row, name)
            model, se_table = _value_and_se(summary, name)
            within_se(value, model, math.hypot(se_row, se_table))


def test_real_law_against_fresh_monte_carlo_at_a_held_out_width():
    n, count = 28, 2000
    rng = np.random.default_rng(28)
    radii = np.abs(np.linalg.eigvals(rng.standard_normal((count, n, n)) / math.sqrt(n))).max(axis=1)
    law, summary = laws.real_ginibre(n), laws.real_ginibre_table().at(n)
    se = radii.std() / math.sqrt(count)
    within_se(radii.mean(), summary.mean, math.hypot(se, summary.mean_se))
    within_se(radii.mean(), law.mean(), math.hypot(se, summary.mean_se))
    for p in (0.05, 0.5, 0.95):
        within_se(np.mean(radii <= law.ppf(p)), p, math.sqrt(p * (1 - p) / count) * 1.2)
    p1 = summary.p_above_1
    within_se(np.mean(radii > 1), p1, math.hypot(math.sqrt(p1 * (1 - p1) / count), summary.p_above_1_se))


@pytest.mark.parametrize("n", [2, 7, 28, 300] + [pytest.param(n, marks=pytest.mark.slow) for n in (3, 100, 1000, 2048)])
def test_real_law_is_a_proper_distribution(n):
    law = laws.real_ginibre(n)
    p = np.array([1e-9, 1e-4, 0.01, 0.05, 0.3, 0.5, 0.7, 0.95, 0.99, 0.9999, 1 - 1e-9])
    q = law.ppf(p)
    assert np.all(np.diff(q) > 0) and q[0] > 0
    np.testing.assert_allclose(law.cdf(q), p, rtol=1e-9)
    np.testing.assert_allclose(law.isf(1 - p[2:-1]), q[2:-1], rtol=1e-9)
    # the density integrates to the cdf: Gauss-Legendre on a fine partition (the density has kinks at the
    # tails' junctions)
    u = np.linspace(-math.log(-math.log(p[0])), -math.log(-math.log(p[-1])), 801)
    edges = np.union1d(law.ppf(np.exp(-np.exp(-u))), _real.real_quantiles(n).r)  # pieces end at the interpolation nodes
    nodes, weights = np.polynomial.legendre.leggauss(8)
    a, b = edges[:-1, None], edges[1:, None]
    x = (0.5 * (b - a) * nodes + 0.5 * (a + b)).ravel()
    mass = np.sum((0.5 * (b - a) * weights).ravel() * law.pdf(x))
    assert mass == pytest.approx(1 - 2e-9, abs=1e-6)
    assert np.all(law.pdf(x) >= 0)
    summary = laws.real_ginibre_table().at(n)
    assert law.sf(1.0) == pytest.approx(summary.p_above_1, abs=3 * summary.p_above_1_se)
    assert summary.source == laws.SOURCE_INTERPOLATED
    assert law.mean() == pytest.approx(summary.mean, abs=3 * summary.mean_se)


def test_real_law_scale_and_validation():
    law = laws.real_ginibre(256)
    assert laws.real_ginibre(256).median() * 0.5 == pytest.approx(laws.real_ginibre(256, scale=0.5).median(), rel=1e-14)
    assert np.array_equal(law.rvs(100, random_state=3), laws.real_ginibre(256).rvs(100, random_state=3))
    with pytest.raises(InputError, match="n must be an integer >= 2, got 1") as err:
        laws.real_ginibre(1)
    assert err.value.param == "n"


@pytest.mark.slow
def test_real_law_extrapolation():
    big = laws.real_ginibre_table().at(8192)
    assert big.source == laws.SOURCE_EXTRAPOLATED
    assert 1.0 < big.quantile(0.05)[0] < big.mean < laws.kostlan.mean(8192) < big.quantile(0.95)[0]
    assert laws.real_ginibre(8192).std() == pytest.approx(big.sd, rel=0.1)
    # the asymptotic law overstates the spread at finite n (docs/science.md section 2)
    assert laws.rider_sinclair(2048).std() > laws.real_ginibre(2048).std()


# ------------------------------------------------------------------------------------------------
# The numeric laws (no scipy.stats) against the distributions, the splines against SciPy, guards
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -5, 2.5, "a", None, True])
def test_kostlan_width_must_be_a_positive_integer(bad):
    with pytest.raises(InputError) as err:
        laws.kostlan(bad)
    assert err.value.param == "n"
    with pytest.raises(InputError) as err:
        laws.kostlan(64, scale=-1.0)
    assert err.value.param == "scale"


@pytest.mark.parametrize(
    "factory,args",
    [
        ("kostlan", (64,)),
        ("kostlan", (1,)),
        ("real_ginibre", (40,)),
        ("real_ginibre", (900,)),
        ("rider", (500,)),
        ("rider_sinclair", (500,)),
        ("uniform_diag", (50,)),
        ("uniform_disk", (50,)),
        ("lru_ring", (30, 0.3, 0.8)),
    ],
)
def test_numeric_laws_give_the_distributions_numbers(factory, args):
    light, dist = getattr(_numeric, factory)(*args), getattr(laws, factory)(*args)
    q = np.array([1e-6, 0.05, 0.5, 0.95, 1 - 1e-6])
    x = dist.ppf(np.linspace(0.02, 0.98, 7))
    np.testing.assert_allclose(light.ppf(q), dist.ppf(q), rtol=1e-12)
    np.testing.assert_allclose(light.isf(q), dist.isf(q), rtol=1e-12)
    np.testing.assert_allclose(light.cdf(x), dist.cdf(x), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(light.sf(x), dist.sf(x), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(light.pdf(x), dist.pdf(x), rtol=1e-9)
    assert light.mean() == pytest.approx(float(dist.mean()), rel=1e-12) and light.std() == pytest.approx(
        float(dist.std()), rel=1e-9
    )
    assert float(light.sf(1.0)) == pytest.approx(float(dist.sf(1.0)), rel=1e-10, abs=1e-300)
    scaled = light.scaled(0.5)
    assert float(scaled.median()) == pytest.approx(0.5 * float(light.median()), rel=1e-14)
    assert float(scaled.cdf(0.5 * x[3])) == pytest.approx(float(light.cdf(x[3])), rel=1e-12)
    assert scaled.distribution().median() == pytest.approx(float(scaled.median()), rel=1e-12)


def test_kostlan_summary_is_the_distributions_summary():
    s, law = laws.kostlan_summary(300, scale=0.9), laws.kostlan(300, scale=0.9)
    assert s["mean"] == pytest.approx(float(law.mean()), rel=1e-14) and s["std"] == pytest.approx(
        float(law.std()), rel=1e-12
    )
    assert [s["q05"], s["median"], s["q95"]] == pytest.approx(list(law.ppf([0.05, 0.5, 0.95])), rel=1e-14)
    assert s["p_above_1"] == pytest.approx(float(law.sf(1.0)), rel=1e-12)


def test_splines_match_scipy():
    interpolate = pytest.importorskip("scipy.interpolate")
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.uniform(0.1, 1.0, 12))
    y = np.cumsum(rng.uniform(-1.0, 2.0, 12))
    d = rng.standard_normal(12)
    xs = np.linspace(x[0] - 0.5, x[-1] + 0.5, 301)
    ours, theirs = _splines.HermiteCubic(x, y, d), interpolate.CubicHermiteSpline(x, y, d, extrapolate=False)
    np.testing.assert_allclose(ours(xs), theirs(xs), rtol=1e-13, atol=1e-13, equal_nan=True)
    np.testing.assert_allclose(ours.derivative(xs), theirs.derivative()(xs), rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        _splines.pchip_slopes(x, y), interpolate.PchipInterpolator(x, y).derivative()(x), rtol=1e-13, atol=1e-14
    )
    t = np.concatenate([[0.0] * 4, np.sort(rng.uniform(0, 1, 6)), [1.0] * 4])
    c = rng.standard_normal(t.size - 4)
    spline = interpolate.BSpline(t, c, 3)
    for v in np.linspace(0, 1, 23):
        assert _splines.bspline_value(t, c, 3, v) == pytest.approx(float(spline(v)), rel=1e-13, abs=1e-13)


def test_law_numerics_are_guarded_in_memory_and_time(monkeypatch, caplog):
    """Huge widths (issue 19): the work is blocked (bounded memory at any n), estimated up front, and a
    memory budget below the blocks' needs is refused in one line naming n and SPECDIAG_MAX_MEMORY."""
    estimate = _kostlan.guard_work(10**9, 900, "the moments of Kostlan's law")
    assert estimate.memory <= 64 << 20 and 30 < estimate.seconds < 3600
    monkeypatch.setenv("SPECDIAG_MAX_MEMORY", "1M")
    with pytest.raises(InputError, match="SPECDIAG_MAX_MEMORY") as err:
        _kostlan.moments(10**9 + 7)
    assert err.value.param == "n" and "1,000,000,007" in str(err.value)
    monkeypatch.delenv("SPECDIAG_MAX_MEMORY")
    with caplog.at_level("WARNING", logger="specdiag"):
        _kostlan.guard_work(10**10, 8000, "radius draws from Kostlan's law")
    assert any("will take about" in r.getMessage() for r in caplog.records)


def test_blocked_terms_equal_one_block(monkeypatch):
    """Splitting the terms of one radius into blocks (n above BLOCK_ELEMENTS) changes nothing but rounding."""
    r = np.array([0.97, 1.0, 1.01, 1.03])
    whole = _kostlan._terms(r, 5000, True)
    monkeypatch.setattr(_kostlan, "BLOCK_ELEMENTS", 700)
    parts = _kostlan._terms(r, 5000, True)
    np.testing.assert_allclose(parts[0], whole[0], rtol=1e-13)
    np.testing.assert_allclose(parts[1], whole[1], rtol=1e-12)


def test_law_draws_use_one_stream_per_width():
    from specdiag._inits import make_ensemble
    from specdiag._spectra import law_radii

    a = law_radii(make_ensemble("glorot", 20, "complex"), 400, seed=5)
    b = law_radii(make_ensemble("glorot", 200, "complex"), 400, seed=5)
    ua, ub = laws.kostlan(20).cdf(a), laws.kostlan(200).cdf(b)
    assert (
        abs(np.corrcoef(np.argsort(np.argsort(ua)), np.argsort(np.argsort(ub)))[0, 1]) < 0.2
    )  # independent, not the same uniforms
    np.testing.assert_array_equal(a, law_radii(make_ensemble("glorot", 20, "complex"), 400, seed=5))

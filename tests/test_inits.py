import math

import numpy as np
import pytest
from scipy import stats

import specdiag._theory as theory
from specdiag._backend import MATRIX_STREAM, host_rng
from specdiag._errors import InputError
from specdiag._inits import INITS, TRUNCNORMAL_VARIANCE_FACTOR, InitOptions, make_ensemble

from .conftest import within_se

N = 200


def entries(name, field, n=N, seed=0, **options):
    ens = make_ensemble(name, n, field, InitOptions(**options))
    return ens, ens.sample(host_rng(seed, MATRIX_STREAM, 0))


@pytest.mark.parametrize("field", ["real", "complex"])
@pytest.mark.parametrize(
    "name,variance_factor",
    [("glorot", 1.0), ("half", 0.5), ("truncnormal", 0.7737413035499929), ("rescaled", None)],
)
def test_gaussian_family_variance(name, variance_factor, field):
    n = 400  # rescaled needs n >= 164 with the paper's formula
    ens, w = entries(name, field, n=n)
    if variance_factor is None:
        variance_factor = 1 / theory.paper_scale(n) ** 2
    assert w.shape == (n, n)
    assert np.iscomplexobj(w) == (field == "complex")
    sq = np.abs(w.astype(np.complex128)) ** 2 * n
    within_se(sq.mean(), variance_factor, sq.std() / math.sqrt(sq.size))
    if field == "complex":
        # real and imaginary parts carry half the variance each; pseudo-variance E W^2 = 0
        re2 = w.real.astype(float) ** 2 * n
        within_se(re2.mean(), variance_factor / 2, re2.std() / math.sqrt(re2.size))
        z = (w.astype(np.complex128) ** 2 * n).real
        within_se(z.mean(), 0.0, z.std() / math.sqrt(z.size))


def test_truncnormal_is_truncated_at_two_std():
    _, w = entries("truncnormal", "real")
    assert np.abs(w).max() * math.sqrt(N) <= 2.0
    assert np.abs(w).max() * math.sqrt(N) > 1.95


def test_truncnormal_variance_constant_is_exact():
    phi, big_phi = stats.norm.pdf(2), stats.norm.cdf(2)
    assert TRUNCNORMAL_VARIANCE_FACTOR == pytest.approx(1 - 4 * phi / (2 * big_phi - 1), rel=1e-14)


def test_uniform_diag_law():
    ens, lam = entries("uniform-diag", "real", n=4000)
    assert ens.diagonal and ens.field == "complex" and lam.shape == (4000,)
    assert stats.kstest(np.abs(lam), "uniform").pvalue > 1e-3
    phase = np.mod(np.angle(lam), 2 * np.pi)
    assert stats.kstest(phase / (2 * np.pi), "uniform").pvalue > 1e-3


def test_lru_ring_law():
    ens, lam = entries("lru", "complex", n=4000, rmin=0.5, rmax=0.95, max_phase=1.0)
    r = np.abs(lam)
    assert r.min() >= 0.5 - 1e-6 and r.max() <= 0.95 + 1e-6
    # uniform on the ring: P(|lambda| <= x) = (x^2 - rmin^2) / (rmax^2 - rmin^2)
    cdf = lambda x: np.clip((x**2 - 0.5**2) / (0.95**2 - 0.5**2), 0, 1)  # noqa: E731
    assert stats.kstest(r, cdf).pvalue > 1e-3
    phase = np.angle(lam)
    assert phase.min() >= 0 and phase.max() <= 1.0


def test_same_seed_same_matrix_at_either_precision():
    ens = make_ensemble("glorot", 50, "complex")
    a = ens.sample(host_rng(3, MATRIX_STREAM, 7), np, np.float64)
    b = ens.sample(host_rng(3, MATRIX_STREAM, 7), np, np.float32)
    assert b.dtype == np.complex64 and a.dtype == np.complex128
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n", [2, 64, 128, 163])
def test_paper_rescaled_errors_cleanly_below_164(n):
    with pytest.raises(InputError, match="--rescale calibrated"):
        make_ensemble("rescaled", n, "real")


def test_calibrated_rescaled_works_at_small_n():
    ens = make_ensemble("rescaled", 16, "complex", InitOptions(rescale="calibrated", coverage=0.9))
    assert math.isfinite(ens.std) and ens.rescaling.factor > 1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "nope"}, "unknown init 'nope'"),
        ({"field": "quaternion"}, "unknown field"),
        ({"n": 1}, ">= 2"),
        ({"name": "lru", "options": InitOptions(rmin=0.9, rmax=0.5)}, "rmin"),
        ({"name": "rescaled", "options": InitOptions(coverage=1.5)}, "coverage"),
    ],
)
def test_bad_init_arguments(kwargs, match):
    args = {"name": "glorot", "n": 10, "field": "real", "options": None, **kwargs}
    with pytest.raises(InputError, match=match):
        make_ensemble(args["name"], args["n"], args["field"], args["options"])


def test_registry_lists_every_spec_init():
    assert set(INITS) == {"glorot", "rescaled", "half", "truncnormal", "uniform-diag", "uniform-disk", "lru"}


# --- P(rho > 1) of the real law: one source, its SE, bounds where the table's tail is extrapolated --


def test_real_p_above_1_has_one_source():
    """theory (the table's P(rho > 1) model) and radius (the law object) print the same number (issue 19:
    0.98806 vs 0.99156 at n = 333)."""
    from specdiag._inits import finite_n_real
    from specdiag.laws import _numeric

    for n in (5, 64, 333, 1000):
        table = finite_n_real(n)["p_above_1"]
        assert make_ensemble("glorot", n, "real").law_summary().p_above_1 == pytest.approx(table, abs=1e-12)
        assert float(_numeric.real_ginibre(n).sf(1.0)) == pytest.approx(table, abs=1e-12)


def test_rescaled_real_p_above_1_has_a_standard_error():
    s = make_ensemble("rescaled", 500, "real").law_summary()
    assert s.p_above_1_bound is None and 0 < s.p_above_1 < 0.1
    assert 0 < s.p_above_1_se < 0.5 * s.p_above_1
    glorot = make_ensemble("glorot", 500, "real").law_summary()  # at gain 1: the table's own SE
    assert glorot.p_above_1_se == pytest.approx(laws_table().at(500).p_above_1_se)


def laws_table():
    from specdiag.laws import real_ginibre_table

    return real_ginibre_table()


@pytest.mark.parametrize("init,n,bound", [("half", 333, "< 0.01"), ("half", 20, "< 0.01"), ("glorot", 5000, "> 0.99")])
def test_extrapolated_tails_are_bounds_not_digits(init, n, bound):
    s = make_ensemble(init, n, "real").law_summary()
    assert s.p_above_1_bound == bound and s.p_above_1_se is None
    assert s.p_above_1 == pytest.approx(float(bound[2:]), abs=1e-12)
    assert make_ensemble(init, n, "complex").law_summary().p_above_1_bound is None  # Kostlan is exact

import math

import numpy as np
import pytest

from specdiag import laws

import specdiag._theory as theory
from specdiag._backend import MATRIX_STREAM, host_rng
from specdiag._inits import make_ensemble
from specdiag._linalg import eigenvalues, spectral_radius
from specdiag._spectra import radius_stats, sample_radii

from .conftest import requires_gpu, within_se


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32, np.complex64])
def test_geev_matches_numpy(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 60)) + (1j * rng.standard_normal((60, 60)) if np.dtype(dtype).kind == "c" else 0)
    a = a.astype(dtype)
    ours = np.sort_complex(eigenvalues(a.copy()))
    ref = np.sort_complex(np.linalg.eigvals(a.astype(np.complex128)))
    tol = 1e-10 if np.dtype(dtype).itemsize >= 16 or dtype == np.float64 else 1e-4
    np.testing.assert_allclose(np.abs(ours).max(), np.abs(ref).max(), rtol=tol)
    np.testing.assert_allclose(np.sort(np.abs(ours)), np.sort(np.abs(ref)), rtol=tol * 10, atol=tol * 10)


def test_spectral_radius_does_not_modify_input():
    a = np.diag([0.5, -2.0, 1.0])
    before = a.copy()
    assert spectral_radius(a) == pytest.approx(2.0)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("init,field", [("glorot", "real"), ("glorot", "complex"), ("lru", "complex"), ("truncnormal", "real")])
def test_seed_invariance_across_chunks_and_workers(init, field):
    ens = make_ensemble(init, 24, field)
    base = sample_radii(ens, 30, seed=11, workers=1, chunk_size=30)
    for workers, chunk in [(1, 1), (2, 7), (2, 4), (3, 11)]:
        np.testing.assert_array_equal(sample_radii(ens, 30, seed=11, workers=workers, chunk_size=chunk), base)
    # a batch that starts later reproduces the tail of a longer batch
    np.testing.assert_array_equal(sample_radii(ens, 10, seed=11, workers=2, start_index=20), base[20:])
    assert not np.array_equal(sample_radii(ens, 30, seed=12, workers=1), base)


def test_radius_is_the_largest_eigenvalue_modulus_of_the_seeded_matrix():
    ens = make_ensemble("glorot", 40, "real")
    radii = sample_radii(ens, 3, seed=5, precision="double", workers=1)
    for i in range(3):
        w = ens.sample(host_rng(5, MATRIX_STREAM, i))
        assert radii[i] == pytest.approx(np.abs(np.linalg.eigvals(w)).max(), rel=1e-12)


def test_diagonal_radius_is_max_modulus():
    ens = make_ensemble("uniform-diag", 100, "complex")
    radii = sample_radii(ens, 4, seed=2, precision="double", workers=1)
    for i in range(4):
        assert radii[i] == pytest.approx(np.abs(ens.sample(host_rng(2, MATRIX_STREAM, i))).max())


def test_single_and_double_agree_at_n500():
    ens = make_ensemble("glorot", 500, "real")
    single = sample_radii(ens, 4, seed=0, precision="single")
    double = sample_radii(ens, 4, seed=0, precision="double")
    np.testing.assert_allclose(single, double, atol=1e-4)
    assert not np.array_equal(single, double)  # really computed at two precisions


@pytest.fixture(scope="module")
def complex_radii_500():
    return sample_radii(make_ensemble("glorot", 500, "complex"), 120, seed=2024)


@pytest.mark.slow
def test_complex_mean_radius_matches_kostlan_at_n500(complex_radii_500):
    law = laws.kostlan(500)
    r = complex_radii_500
    within_se(r.mean(), law.mean(), r.std(ddof=1) / math.sqrt(r.size))
    # and the sd, with the normal-theory standard error of a sample sd
    within_se(r.std(ddof=1), law.std(), law.std() / math.sqrt(2 * (r.size - 1)), k=5)


@pytest.mark.slow
def test_glorot_is_above_one_and_rescaled_below(complex_radii_500):
    assert np.mean(complex_radii_500 > 1) > 0.95
    rescaled = sample_radii(make_ensemble("rescaled", 500, "complex"), 60, seed=1)
    p = float(laws.kostlan(500, scale=1 / theory.paper_scale(500)).sf(1.0))
    within_se(np.mean(rescaled > 1), p, math.sqrt(p * (1 - p) / 60) + 1 / 60)


def test_half_scales_radius_by_inverse_sqrt2():
    glorot = sample_radii(make_ensemble("glorot", 100, "real"), 8, seed=4, precision="double", workers=1)
    half = sample_radii(make_ensemble("half", 100, "real"), 8, seed=4, precision="double", workers=1)
    np.testing.assert_allclose(half, glorot / math.sqrt(2), rtol=1e-10)


def test_radius_stats():
    r = np.array([0.9, 1.0, 1.1, 1.2, 0.95])
    s = radius_stats(r).to_dict()
    assert s["count"] == 5
    assert s["mean"] == pytest.approx(r.mean())
    assert s["std"] == pytest.approx(r.std(ddof=1))
    assert s["p_above_1"] == pytest.approx(0.4)
    assert (s["min"], s["max"], s["median"]) == (0.9, 1.2, 1.0)


@pytest.mark.gpu
@requires_gpu
def test_gpu_radii_match_theory_and_are_chunk_invariant():
    ens = make_ensemble("glorot", 256, "complex")
    a = sample_radii(ens, 64, seed=9, device="gpu", chunk_size=64)
    b = sample_radii(ens, 64, seed=9, device="gpu", chunk_size=5)
    np.testing.assert_array_equal(a, b)
    law = laws.kostlan(256)
    within_se(a.mean(), law.mean(), a.std(ddof=1) / 8)
    cpu = sample_radii(ens, 64, seed=9, device="cpu")
    within_se(a.mean() - cpu.mean(), 0.0, law.std() * math.sqrt(2 / 64))


@pytest.mark.parametrize("init", ["uniform-diag", "lru"])
def test_diagonal_radii_follow_their_exact_law(init):
    ens = make_ensemble(init, 50, "complex")
    radii = sample_radii(ens, 400, seed=6, precision="double", workers=1)
    law = ens.law_summary()
    within_se(radii.mean(), law.mean, radii.std(ddof=1) / math.sqrt(radii.size))
    within_se(np.mean(radii <= law.median), 0.5, math.sqrt(0.25 / radii.size))


@pytest.mark.parametrize("init,field", [("glorot", "complex"), ("half", "complex"), ("uniform-diag", "complex"), ("uniform-disk", "complex"), ("lru", "complex")])
def test_law_draws_follow_the_exact_law(init, field):
    """method "law": exact draws, no matrices; mean within 4 SE of the law's, KS not rejected at 1e-3."""
    from scipy import stats

    from specdiag._inits import make_ensemble
    from specdiag._spectra import law_radii

    ens = make_ensemble(init, 300, field)
    r = law_radii(ens, 20_000, seed=7)
    law = ens.radius_law()
    assert abs(r.mean() - law.mean()) <= 4 * law.std() / np.sqrt(r.size)
    assert stats.kstest(r[:5000], law.cdf).pvalue > 1e-3
    np.testing.assert_array_equal(r, law_radii(ens, 20_000, seed=7))  # seeded


@pytest.mark.parametrize("init", ["glorot", "rescaled", "truncnormal"])
def test_law_draws_are_refused_without_an_exact_law(init):
    from specdiag._errors import InputError
    from specdiag._inits import make_ensemble
    from specdiag._spectra import law_radii

    field = "complex" if init == "truncnormal" else "real"
    with pytest.raises(InputError, match="exact") as exc:
        law_radii(make_ensemble(init, 200, field), 10)
    assert exc.value.param == "method"

@pytest.mark.slow

def test_cli_radius_and_fit_gumbel_by_law():
    import json

    from typer.testing import CliRunner

    from specdiag.cli import app

    result = CliRunner().invoke(app, ["radius", "--n", "500", "--field", "complex", "--samples", "2000", "--method", "law", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["method_label"] == "exact in law, no matrices" and doc["device"] == "none"
    assert abs(doc["stats"]["mean"] - doc["theory"]["mean"]) < 4 * doc["theory"]["std"] / np.sqrt(2000)
    assert "limit" in doc["asymptotic"]["source"]
    refused = CliRunner().invoke(app, ["radius", "--n", "100", "--method", "law"])
    assert refused.exit_code == 2 and "--method" in refused.stderr and "real Gaussian" in refused.stderr
    fit = CliRunner().invoke(app, ["fit-gumbel", "--n", "500", "--field", "complex", "--samples", "30000", "--method", "law", "--format", "json"])
    assert fit.exit_code == 0, fit.output
    doc = json.loads(fit.stdout)
    assert doc["source"] == "exact in law, no matrices" and doc["fit"]["ci_method"] == "wald" and doc["exact"]["ks_pvalue"] > 1e-3

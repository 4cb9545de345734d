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


# each call starts a process pool: glorot (real and complex, both samplers) in the quick set, the rest slow
@pytest.mark.parametrize("sampler", ["hessenberg", "dense"])
@pytest.mark.parametrize(
    "init,field",
    [
        ("glorot", "real"),
        ("glorot", "complex"),
        pytest.param("lru", "complex", marks=pytest.mark.slow),
        pytest.param("truncnormal", "real", marks=pytest.mark.slow),
    ],
)
def test_seed_invariance_across_chunks_and_workers(init, field, sampler):
    ens = make_ensemble(init, 24, field)
    base = sample_radii(ens, 30, seed=11, workers=1, chunk_size=30, sampler=sampler)
    for workers, chunk in [(1, 1), (2, 7), (2, 4), (3, 11)]:
        np.testing.assert_array_equal(
            sample_radii(ens, 30, seed=11, workers=workers, chunk_size=chunk, sampler=sampler), base
        )
    # a batch that starts later reproduces the tail of a longer batch
    np.testing.assert_array_equal(sample_radii(ens, 10, seed=11, workers=2, start_index=20, sampler=sampler), base[20:])
    assert not np.array_equal(sample_radii(ens, 30, seed=12, workers=1, sampler=sampler), base)


def test_radius_is_the_largest_eigenvalue_modulus_of_the_seeded_matrix():
    ens = make_ensemble("glorot", 40, "real")
    radii = sample_radii(ens, 3, seed=5, precision="double", workers=1, sampler="dense")
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


@pytest.mark.parametrize("sampler", ["hessenberg", "dense"])
def test_half_and_rescaled_scale_glorots_radius(sampler):
    """Both samplers scale the same normals (and chi variates) by the init's std."""
    glorot = sample_radii(
        make_ensemble("glorot", 100, "real"), 8, seed=4, precision="double", workers=1, sampler=sampler
    )
    half = sample_radii(make_ensemble("half", 100, "real"), 8, seed=4, precision="double", workers=1, sampler=sampler)
    np.testing.assert_allclose(half, glorot / math.sqrt(2), rtol=1e-10)
    glorot = sample_radii(
        make_ensemble("glorot", 170, "complex"), 3, seed=4, precision="double", workers=1, sampler=sampler
    )
    rescaled = sample_radii(
        make_ensemble("rescaled", 170, "complex"), 3, seed=4, precision="double", workers=1, sampler=sampler
    )
    np.testing.assert_allclose(rescaled, glorot / theory.paper_scale(170), rtol=1e-10)


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


@pytest.mark.parametrize(
    "init,field",
    [
        ("glorot", "complex"),
        ("half", "complex"),
        ("uniform-diag", "complex"),
        ("uniform-disk", "complex"),
        ("lru", "complex"),
    ],
)
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

    result = CliRunner().invoke(
        app, ["radius", "--n", "500", "--field", "complex", "--samples", "2000", "--method", "law", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["method_label"] == "exact in law, no matrices" and doc["device"] == "none"
    assert abs(doc["stats"]["mean"] - doc["theory"]["mean"]) < 4 * doc["theory"]["std"] / np.sqrt(2000)
    assert "limit" in doc["asymptotic"]["source"]
    refused = CliRunner().invoke(app, ["radius", "--n", "100", "--method", "law"])
    assert refused.exit_code == 2 and "--method" in refused.stderr and "real Gaussian" in refused.stderr
    fit = CliRunner().invoke(
        app,
        ["fit-gumbel", "--n", "500", "--field", "complex", "--samples", "30000", "--method", "law", "--format", "json"],
    )
    assert fit.exit_code == 0, fit.output
    doc = json.loads(fit.stdout)
    assert (
        doc["source"] == "exact in law, no matrices"
        and doc["fit"]["ci_method"] == "wald"
        and doc["exact"]["ks_pvalue"] > 1e-3
    )


# ---------------------------------------------------------------------------------------------
# The dense sampler is bit-identical to 0.2.0; the Hessenberg sampler is exact in law
# ---------------------------------------------------------------------------------------------

#: radii of matrices 0..2 (seed 7, n = 30, one worker) from 0.2.0, as float.hex: the dense path must not move
DENSE_0_2_0 = {
    ("glorot", "real", "double"): ["0x1.2fc7dbea3ea28p+0", "0x1.42ba3f9ba3100p+0", "0x1.fa9692dbd5506p-1"],
    ("glorot", "complex", "double"): ["0x1.0d899fe30bcb0p+0", "0x1.2d78adee0790ep+0", "0x1.ff96f9a8ff17fp-1"],
    ("half", "real", "single"): ["0x1.ad9c5c0000000p-1", "0x1.c867e60000000p-1", "0x1.6636440000000p-1"],
    ("truncnormal", "real", "double"): ["0x1.12b5db56e7828p+0", "0x1.bba5d688823aap-1", "0x1.a256680ffba21p-1"],
    ("lru", "complex", "double"): ["0x1.b94e745e5ed60p-1", "0x1.cc6364daf1a70p-1", "0x1.c9f07d0b3592fp-1"],
    ("glorot", "complex", "single"): ["0x1.0d89a60000000p+0", "0x1.2d78960000000p+0", "0x1.ff97220000000p-1"],
}


@pytest.mark.parametrize("key", list(DENSE_0_2_0))
def test_dense_sampler_is_unchanged_since_0_2_0(key):
    """Same seed, same radii as 0.2.0: exactly the ?geev radius of ens.sample (the 0.2.0 code path), and the
    stored 0.2.0 values (to 1e-12 in double, 1e-6 in single: another CPU's LAPACK may round differently)."""
    init, field, precision = key
    ens = make_ensemble(init, 30, field)
    radii = sample_radii(ens, 3, seed=7, precision=precision, workers=1, sampler="dense")
    dtype = np.float32 if precision == "single" else np.float64
    draws = [ens.sample(host_rng(7, MATRIX_STREAM, i), np, dtype) for i in range(3)]
    direct = [np.abs(d if ens.diagonal else eigenvalues(d, overwrite=True)).max() for d in draws]
    np.testing.assert_array_equal(radii, direct)
    np.testing.assert_allclose(
        radii, [float.fromhex(h) for h in DENSE_0_2_0[key]], rtol=1e-12 if precision == "double" else 1e-6
    )
    if init in ("truncnormal", "lru"):  # no Hessenberg form: the default is the dense sampler too
        np.testing.assert_array_equal(sample_radii(ens, 3, seed=7, precision=precision, workers=1), radii)


def test_samplers_are_resolved_and_checked():
    from specdiag._errors import InputError
    from specdiag._spectra import resolve_sampler

    for init, field in [("glorot", "real"), ("glorot", "complex"), ("half", "real"), ("rescaled", "complex")]:
        ens = make_ensemble(init, 200, field)
        assert resolve_sampler(ens) == "hessenberg" and resolve_sampler(ens, "dense") == "dense"
    for init in ("truncnormal", "uniform-diag", "uniform-disk", "lru"):
        assert resolve_sampler(make_ensemble(init, 20, "complex"), "hessenberg") == "dense"
    with pytest.raises(InputError) as exc:
        sample_radii(make_ensemble("glorot", 20), 2, sampler="schur")
    assert exc.value.param == "sampler" and "hessenberg" in str(exc.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("n", [1, 2, 3, 17, 120])
def test_hseqr_matches_scipy_eigvals_of_the_same_matrix(dtype, n):
    """?hseqr through the cython_lapack capsule = scipy.linalg.eigvals (?geev) of the same H, to rounding."""
    import scipy.linalg

    from specdiag._hessenberg import hseqr_eigenvalues

    rng = np.random.default_rng(n)
    h = np.triu(
        rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if np.dtype(dtype).kind == "c" else 0), -1
    ).astype(dtype)
    ours, info = hseqr_eigenvalues(np.asfortranarray(h))
    single = dtype in (np.float32, np.complex64)
    assert info == 0 and ours.dtype == (np.complex64 if single else np.complex128)
    ref = scipy.linalg.eigvals(h.astype(np.complex128 if np.dtype(dtype).kind == "c" else np.float64))
    eps = np.finfo(np.float32 if single else np.float64).eps
    tol = 50 * n * eps * max(1.0, np.abs(ref).max())
    assert abs(np.abs(ours).max() - np.abs(ref).max()) <= tol
    # every eigenvalue (pairs up after sorting; a well-separated random spectrum)
    np.testing.assert_allclose(np.sort_complex(ours.astype(np.complex128)), np.sort_complex(ref), atol=tol * 100)


@pytest.mark.parametrize(
    "init,field", [("glorot", "real"), ("glorot", "complex"), ("half", "real"), ("half", "complex")]
)
@pytest.mark.parametrize("precision", ["single", "double"])
def test_hessenberg_radius_is_the_radius_of_its_seeded_h(init, field, precision):
    """sample_radii's Hessenberg radius i = max |eigvals(H_i)| of H_i drawn from the stream (seed, i)."""
    import scipy.linalg

    from specdiag._hessenberg import sample_hessenberg

    ens = make_ensemble(init, 90, field)  # above ?hseqr's small-matrix cutoff (75): its multishift path
    dtype = np.float32 if precision == "single" else np.float64
    radii = sample_radii(ens, 3, seed=5, precision=precision, workers=1)
    for i in range(3):
        h = sample_hessenberg(ens, host_rng(5, MATRIX_STREAM, i), dtype)
        assert h.flags.f_contiguous and h.dtype == (dtype if field == "real" else np.result_type(dtype, np.complex64))
        assert not np.any(np.tril(h, -2)) and np.all(np.diag(h, -1).real > 0) and not np.any(np.diag(h, -1).imag)
        ref = np.abs(scipy.linalg.eigvals(np.array(h, dtype=np.complex128))).max()
        assert radii[i] == pytest.approx(ref, rel=1e-12 if precision == "double" else 2e-5)


def test_hessenberg_entries_have_the_stated_law():
    """Subdiagonal H_{k+1,k}^2 / std^2 ~ chi^2 with n-k degrees of freedom (complex: 2 H^2/std^2 ~ chi^2_{2(n-k)});
    the upper triangle N(0, std^2) (complex: E|H_ij|^2 = std^2, real and imaginary parts independent)."""
    from specdiag._hessenberg import sample_hessenberg

    n, m = 6, 4000
    for field in ("real", "complex"):
        ens = make_ensemble("half", n, field)
        hs = np.stack([sample_hessenberg(ens, host_rng(3, MATRIX_STREAM, i)) for i in range(m)])
        scale = (2.0 if field == "complex" else 1.0) / ens.std**2
        dof = (2.0 if field == "complex" else 1.0) * np.arange(n - 1, 0, -1)
        sub = np.abs(hs[:, np.arange(1, n), np.arange(n - 1)]) ** 2 * scale  # chi^2 draws: mean dof, variance 2 dof
        for k in range(n - 1):
            within_se(sub[:, k].mean(), dof[k], math.sqrt(2 * dof[k] / m))
        upper = hs[:, np.triu_indices(n)[0], np.triu_indices(n)[1]].ravel() / ens.std
        within_se(np.mean(np.abs(upper) ** 2), 1.0, math.sqrt(np.var(np.abs(upper) ** 2) / upper.size))
        if field == "complex":
            within_se(np.mean(upper.real * upper.imag), 0.0, 0.5 / math.sqrt(upper.size))
            within_se(np.mean(upper.real**2), 0.5, math.sqrt(0.5 / upper.size))


def _same_law(hess: np.ndarray, dense: np.ndarray) -> None:
    """Two samples of radii: two-sample KS not rejected at 1e-3; means and sds within 4 SE of each other."""
    from scipy import stats

    assert stats.ks_2samp(hess, dense).pvalue > 1e-3
    se_mean = math.sqrt(hess.var(ddof=1) / hess.size + dense.var(ddof=1) / dense.size)
    within_se(hess.mean(), dense.mean(), se_mean)

    def sd_se(x):  # SE of a sample sd from the sample's own fourth moment (radii are not normal)
        c = x - x.mean()
        return math.sqrt(max(np.mean(c**4) - np.mean(c**2) ** 2, 1e-300) / (4 * np.mean(c**2) * x.size))

    within_se(hess.std(ddof=1), dense.std(ddof=1), math.hypot(sd_se(hess), sd_se(dense)))


@pytest.mark.parametrize("field", ["real", "complex"])
@pytest.mark.parametrize("n,samples", [(2, 1500), (9, 800)])
def test_hessenberg_and_dense_radii_have_the_same_law(n, samples, field):
    ens = make_ensemble("glorot", n, field)
    hess = sample_radii(ens, samples, seed=101, precision="double", workers=2)
    dense = sample_radii(ens, samples, seed=202, precision="double", workers=2, sampler="dense")
    _same_law(hess, dense)


@pytest.mark.slow
@pytest.mark.parametrize("field", ["real", "complex"])
@pytest.mark.parametrize("n,samples", [(3, 6000), (40, 2000), (150, 500), (1000, 60)])
def test_hessenberg_and_dense_radii_have_the_same_law_at_large_n(n, samples, field):
    ens = make_ensemble("glorot", n, field)
    hess = sample_radii(ens, samples, seed=103, workers=2)
    dense = sample_radii(ens, samples, seed=204, workers=2, sampler="dense")
    _same_law(hess, dense)
    if field == "complex":  # and both agree with Kostlan's exact law
        law = ens.radius_law()
        for r in (hess, dense):
            within_se(r.mean(), law.mean(), r.std(ddof=1) / math.sqrt(r.size))


def test_hessenberg_falls_back_to_geev_when_hseqr_does_not_converge(monkeypatch):
    """info > 0 from ?hseqr: the same H is redrawn and solved by ?geev (never a partial spectrum)."""
    import specdiag._hessenberg as hess

    ens = make_ensemble("glorot", 30, "real")
    expected = sample_radii(ens, 2, seed=1, precision="double", workers=1)
    monkeypatch.setattr(hess, "hseqr_eigenvalues", lambda h: (np.zeros(h.shape[0], complex), 3))
    np.testing.assert_allclose(sample_radii(ens, 2, seed=1, precision="double", workers=1), expected, rtol=1e-12)


def _blas_threads(_item) -> int:
    from threadpoolctl import threadpool_info

    return max(info["num_threads"] for info in threadpool_info())


def test_one_job_gets_every_core_and_many_jobs_one_thread_each():
    """process_map: a single item asked with workers=None keeps the BLAS's own thread count (a 2048 x 2048
    check uses the whole machine); an explicit workers, or several items, run one BLAS thread per job."""
    import scipy.linalg  # noqa: F401 (SciPy's BLAS loaded, as in a real check)

    from specdiag._pool import process_map

    from threadpoolctl import threadpool_limits

    # a BLAS of several threads, also where the test run limits it to one (pytest -n: tests/conftest.py)
    with threadpool_limits(limits=max(2, _blas_threads(None))):
        default = _blas_threads(None)
        assert default >= 2
        assert dict(process_map(_blas_threads, [0])) == {0: default}
        assert dict(process_map(_blas_threads, [0], workers=1)) == {0: 1}
        assert set(dict(process_map(_blas_threads, [0, 1, 2], workers=None)).values()) == {1}
        assert _blas_threads(None) == default  # and the limit is lifted afterwards


def test_hessenberg_buffers_are_reused_without_leaking_between_matrices():
    """hessenberg_radius reuses one workspace per thread: interleaving widths, fields and precisions
    gives the radii of freshly drawn matrices (?hseqr's leftovers below the subdiagonal are cleared)."""
    import scipy.linalg

    from specdiag._hessenberg import hessenberg_radius, sample_hessenberg

    from specdiag._hessenberg import _workspace

    cases = [
        (make_ensemble("glorot", n, field), dtype)
        for n in (90, 9)
        for field in ("real", "complex")
        for dtype in (np.float32, np.float64)
    ]
    for _ in range(2):
        for ens, dtype in cases:
            for i in range(2):
                _workspace(ens, dtype).transposed.fill(np.nan)  # whatever a previous matrix left
                fresh = sample_hessenberg(ens, host_rng(3, MATRIX_STREAM, i), dtype)
                expected = np.abs(scipy.linalg.eigvals(fresh)).max()
                assert hessenberg_radius(ens, 3, i, dtype) == pytest.approx(
                    expected, rel=2e-5 if dtype == np.float32 else 1e-12
                )

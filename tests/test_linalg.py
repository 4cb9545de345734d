"""The real-arithmetic Schur growth (real quasi-triangular T) against the complex Schur path, the
eigendecomposition path and brute-force float64 powers, on random, repeated-eigenvalue and
near-defective matrices."""

import math

import numpy as np
import pytest

import specdiag._linalg as L
import specdiag._schur as S
from specdiag._check import check_matrix


def brute(w, t):
    """(log ||W^t||_F^2, log sum_{k<t} ||W^k||_F^2) by explicit float64 powers."""
    p, total = np.eye(w.shape[0]), 0.0
    for _ in range(t):
        total += np.linalg.norm(p) ** 2
        p = p @ w
    return math.log(np.linalg.norm(p) ** 2), math.log(total)


def eig_path(w, steps):
    return L.log_power_sums_from_eig(w, *L.eigendecomposition(w), steps)


def block_diagonal_of(t):
    d = np.diag(np.diag(t))
    for j in S._pair_starts(t):
        d[j : j + 2, j : j + 2] = t[j : j + 2, j : j + 2]
    return d


@pytest.mark.parametrize("n", [1, 2, 3, 5, 17, 64, 300])
@pytest.mark.parametrize("block", [1, 2, 5, 96])
def test_block_eigenvectors_diagonalize_t(n, block):
    w = np.random.default_rng(n).standard_normal((n, n)) / math.sqrt(n)
    t, lam = S.real_schur(w)
    x = S.real_schur_block_eigenvectors(t, lam, block=block)  # small panels cut between and next to 2 x 2 blocks
    assert np.array_equal(np.tril(x, -1), np.zeros_like(x)) and np.all(np.diag(x) == 1)
    assert np.abs(t @ x - x @ block_diagonal_of(t)).max() < 1e-12 * max(1.0, np.abs(x).max())
    assert np.sort_complex(lam) == pytest.approx(np.sort_complex(np.linalg.eigvals(w)), abs=1e-10)


# n = 257 (several 96-column panels) is slow; test_check_matrix_real_path_matches_complex_path[300]
# covers many panels in the quick set
@pytest.mark.parametrize("n", [2, 3, 12, 80, pytest.param(257, marks=pytest.mark.slow)])
@pytest.mark.parametrize("radius", [0.5, 1.0, 1.4])
def test_real_path_agrees_with_complex_and_eigendecomposition_paths(n, radius):
    rng = np.random.default_rng(7 * n)
    w = rng.standard_normal((n, n))
    w *= radius / np.abs(np.linalg.eigvals(w)).max()
    steps = [1, 2, 7, 100, 1000]
    t, lam = S.real_schur(w)
    new = S.log_power_sums_real_schur(t, lam, steps)
    old = S.log_power_sums_schur(S.schur_triangular(w), steps)
    ref = eig_path(w, steps)
    assert new is not None and old is not None
    for k in (0, 1):
        assert new[k] == pytest.approx(old[k], rel=1e-9, abs=1e-9)
        assert new[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-9)
    for r, s in enumerate(steps[:3]):
        exact = brute(w, s)
        assert new[0][r] == pytest.approx(exact[0], rel=1e-10, abs=1e-10) and new[1][r] == pytest.approx(
            exact[1], rel=1e-10, abs=1e-10
        )


def test_log_scale_is_added_in_true_units():
    w = np.random.default_rng(3).standard_normal((40, 40)) / 4
    t, lam = S.real_schur(w / 8)
    scaled = S.log_power_sums_real_schur(t, lam, [1, 50], log_scale=math.log(8))
    direct = eig_path(w, [1, 50])
    assert scaled[0] == pytest.approx(direct[0], rel=1e-10) and scaled[1] == pytest.approx(direct[1], rel=1e-10)


@pytest.mark.parametrize("kind", ["identity", "equal_rotations", "orthogonal", "repeated_real"])
def test_repeated_but_diagonalizable_eigenvalues(kind):
    rng = np.random.default_rng(11)
    n = 24
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    if kind == "identity":
        w = np.eye(n)
    elif kind == "equal_rotations":
        c, s = math.cos(0.3), math.sin(0.3)
        w = q @ np.kron(np.eye(n // 2), [[c, -s], [s, c]]) @ q.T
    elif kind == "orthogonal":
        w = q
    else:
        w = q @ np.diag(np.repeat([0.9, -0.5, 0.2], n // 3)) @ q.T
    t, lam = S.real_schur(w)
    result = S.log_power_sums_real_schur(t, lam, [1, 5, 300])
    for r, s in enumerate([1, 5, 300]):
        exact = brute(w, s)
        if result is None:  # allowed (repeated eigenvalues): the caller falls back, checked below
            break
        assert result[0][r] == pytest.approx(exact[0], rel=1e-8, abs=1e-8) and result[1][r] == pytest.approx(
            exact[1], rel=1e-8, abs=1e-8
        )
    report = check_matrix("w", w, seq_len_thresholds(300))
    assert report.log10_growth == pytest.approx((brute(w, 300)[1] - math.log(300 * n)) / math.log(10), abs=1e-8)
    if kind in ("identity", "orthogonal"):
        assert result is not None  # normal matrices: X is orthogonal up to the 2 x 2 rotations


def seq_len_thresholds(t):
    from specdiag._check import Thresholds

    return Thresholds(seq_len=t, max_growth=None)


@pytest.mark.parametrize("eps", [0.0, 1e-14, 1e-9, 1e-6, 1e-3])
def test_near_defective_both_paths_agree_or_fall_back(eps):
    """A 2 x 2 Jordan pair and a 3 x 3 Jordan block (radius 0.9) inside a random orthogonal frame,
    perturbed by eps: the real path either declines (ill-conditioned X) or matches brute force."""
    rng = np.random.default_rng(5)
    n = 30
    d = np.diag(rng.uniform(-0.8, 0.8, n))
    d[0:2, 0:2] = [[0.9, 1.0], [0.0, 0.9]]
    d[2:5, 2:5] = [[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [0.0, 0.0, 0.5]]
    d[5:7, 5:7] = [[0.3, -0.7], [0.7, 0.3]]
    d[7:9, 7:9] = [[0.3, -0.7 - eps], [0.7, 0.3]]  # a complex pair close to the one above
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    w = q @ (d + eps * rng.standard_normal((n, n))) @ q.T
    steps = [1, 10, 200]
    t, lam = S.real_schur(w)
    new = S.log_power_sums_real_schur(t, lam, steps)
    old = S.log_power_sums_schur(S.schur_triangular(w), steps)
    if eps == 0.0:
        assert new is None  # exactly defective: repeated squaring takes over
    if new is not None:
        for r, s in enumerate(steps):
            exact = brute(w, s)
            assert new[0][r] == pytest.approx(exact[0], rel=1e-6) and new[1][r] == pytest.approx(exact[1], rel=1e-6)
        if old is not None:
            assert new[0] == pytest.approx(old[0], rel=1e-6) and new[1] == pytest.approx(old[1], rel=1e-6)
    # whichever path check takes, its growth is right
    report = check_matrix("w", w, seq_len_thresholds(200))
    assert report.log10_growth == pytest.approx((brute(w, 200)[1] - math.log(200 * n)) / math.log(10), rel=1e-6)


@pytest.mark.parametrize("n", [40, 300, 600])
def test_schur_spectral_norm(n):
    w = np.random.default_rng(n).standard_normal((n, n)) / math.sqrt(n)
    t, _ = S.real_schur(w)
    assert S.schur_spectral_norm(t) == pytest.approx(np.linalg.norm(w, 2), rel=1e-9)


@pytest.mark.parametrize("n", [9, 120, 300])
def test_check_matrix_real_path_matches_complex_path(n):
    """The same real W checked as real (real Schur path) and as complex (complex Schur path)."""
    w = np.random.default_rng(n + 1).standard_normal((n, n)) * 1.02 / math.sqrt(n)
    real = check_matrix("w", w, seq_len_thresholds(500))
    cplx = check_matrix("w", w.astype(np.complex128), seq_len_thresholds(500))
    assert "real Schur" in real.growth_method and "real Schur" not in cplx.growth_method
    for key in ("radius", "spectral_norm", "log10_power_gain", "log10_growth"):
        assert real[key] == pytest.approx(cplx[key], rel=1e-9), key
    assert real.outside_unit_circle == cplx.outside_unit_circle

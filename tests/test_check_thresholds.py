"""check at the edges of its gates, on float32 matrices as large as issue 21's benchmark family.

These pin the verdicts (and the numbers the reasons print) of one dense float32 matrix against
references computed independently: the radius against NumPy's eigenvalues in double precision,
the hidden-state growth against the closed form of a rotated block-triangular matrix. Any faster
route for large float32 tensors (single-precision Schur form, refinement near thresholds, growth
skipped when the radius decides) must give these verdicts: radii 0.999 and 1.001 of max_radius,
radii within and just beyond the float32 roundoff tolerance, and a non-normal matrix whose
transient growth (not its radius) fails the gate.
"""

import math

import numpy as np
import pytest

from specdiag._check_matrix import check_matrix

#: width of the pinned matrices: large enough for a size-dependent fast path to apply
N = 1024

pytestmark = pytest.mark.slow  # several dense checks at n = 1024 (a few seconds each on 2 cores)


@pytest.fixture(scope="module")
def glorot32():
    """A real Glorot matrix stored in float32, and its radius from NumPy in float64."""
    w = (np.random.default_rng(21).standard_normal((N, N)) / math.sqrt(N)).astype(np.float32)
    return w, float(np.abs(np.linalg.eigvals(w.astype(np.float64))).max())


@pytest.mark.parametrize(
    "ratio,verdict",
    [
        (0.999, "warn"),  # within 1% below max_radius
        (1.001, "fail"),
        (1 + 0.5 * np.finfo(np.float32).eps, "warn"),  # above max_radius by less than float32 roundoff
        (1 + 4 * np.finfo(np.float32).eps, "fail"),  # by more
        (0.98, "ok"),
    ],
)
def test_radius_gate_at_its_edges(glorot32, ratio, verdict):
    w, rho = glorot32
    r = check_matrix(w, max_radius=rho / ratio, max_growth=None)
    assert r.radius == pytest.approx(rho, rel=1e-10)
    assert r.verdict == verdict, r.reasons
    assert r.tolerance == pytest.approx(np.finfo(np.float32).eps)
    if verdict == "fail":
        assert r.reasons == [f"radius {rho:.6g} > max_radius {rho / ratio:g}"]


def _transient_matrix(seed: int = 5, b: float = 20.0):
    """(W, eigenvalues): W = Q B Q^T stored in float32, B block diagonal with 2 x 2 blocks
    [[a, b], [0, c]], |a|, |c| <= 0.9, |a - c| >= 0.3: radius below 0.9, strong transient growth."""
    rng = np.random.default_rng(seed)
    m = N // 2
    a = rng.uniform(-0.9, 0.9, m)
    c = np.where(a > 0, a - rng.uniform(0.3, 0.9, m), a + rng.uniform(0.3, 0.9, m)).clip(-0.9, 0.9)
    c = np.where(np.abs(a - c) < 0.3, -np.sign(a) * 0.5, c)
    blocks = np.zeros((N, N))
    idx = np.arange(m) * 2
    blocks[idx, idx], blocks[idx + 1, idx + 1], blocks[idx, idx + 1] = a, c, b
    q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    return (q @ blocks @ q.T).astype(np.float32), a, c, b


def _growth(a, c, b, t: int) -> float:
    """E||h_t||^2 / (t sigma^2 n) = sum_{k<t} ||B^k||_F^2 / (t n), from B^k's closed form."""
    total = 0.0
    for k in range(t):
        s = (a**k - c**k) / (a - c)  # the corner of [[a, b], [0, c]]^k is b s
        total += float(np.sum(a ** (2 * k) + c ** (2 * k) + (b * s) ** 2))
    return total / (t * N)


@pytest.fixture(scope="module")
def transient():
    w, a, c, b = _transient_matrix()
    t = 100
    return w, t, _growth(a, c, b, t), float(np.abs(np.concatenate([a, c])).max())


@pytest.mark.parametrize("factor,verdict", [(1 / 1.5, "fail"), (1.5, "warn"), (20.0, "ok")])
def test_non_normal_transient_growth_decides(transient, factor, verdict):
    w, t, growth, rho = transient
    r = check_matrix(w, max_radius=1.0, seq_len=t, max_growth=growth * factor)
    assert r.radius == pytest.approx(rho, rel=1e-4)  # float32 storage moves the eigenvalues a little
    assert r.radius < 0.95 and r.outside_unit_circle == 0  # the radius passes: the growth decides
    assert r.log10_growth == pytest.approx(math.log10(growth), abs=1e-5)
    assert r.verdict == verdict, r.reasons
    if verdict == "fail":
        assert r.reasons == [
            f"hidden-state growth 10^{math.log10(growth):.2f} at t = {t} > max_growth {growth * factor:g}"
        ]

import math

import numpy as np
import pytest

import specdiag._dynamics as dynamics

import specdiag._linalg as linalg

import specdiag._theory as theory
from specdiag._backend import INPUT_STREAM, MATRIX_STREAM, host_rng
from specdiag._errors import InputError
from specdiag._inits import make_ensemble

from .conftest import within_se


def mean_sq(curves):
    """Per-matrix mean over inputs of the squared norm, in linear scale (M, R)."""
    return 10.0 ** (2 * curves.log10_rms)


@pytest.fixture(scope="module")
def trajectory_runs():
    """One n = 100 trajectory simulation per device, shared by every step k checked against q(n, k)."""
    runs = {}

    def run(device):
        if device not in runs:
            ens = make_ensemble("glorot", 100, "complex")
            runs[device] = dynamics.simulate(
                ens, "trajectory", matrices=300, inputs=8, steps=20, seed=5, precision="double", device=device
            )
        return runs[device]

    return run


@pytest.mark.parametrize("k", [0, 1, 10, 20])  # 0, 1, sqrt(n), 2 sqrt(n) at n = 100
def test_trajectory_mean_square_matches_q(k, device, trajectory_runs):
    n, m = 100, 300
    values = mean_sq(trajectory_runs(device))[:, k]
    within_se(values.mean(), n * math.exp(theory.log_q(n, k)), values.std(ddof=1) / math.sqrt(m))


def test_hidden_mean_square_matches_sum_of_q(device):
    n, m, sigma = 100, 300, 0.5
    ens = make_ensemble("glorot", n, "complex")
    curves = dynamics.simulate(
        ens, "hidden", matrices=m, inputs=6, steps=20, seed=6, input_scale=sigma, precision="double", device=device
    )
    exact = np.exp(theory.log_expected_hidden_sq(n, curves.steps, sigma))
    for r in (0, 9, 19):  # t = 1, 10, 20
        values = mean_sq(curves)[:, r]
        within_se(values.mean(), exact[r], values.std(ddof=1) / math.sqrt(m))


def test_log_scale_path_equals_plain_path():
    n, steps, inputs = 40, 60, 3
    for kind in ("trajectory", "hidden"):
        ens = make_ensemble("glorot", n, "real")
        curves = dynamics.simulate(
            ens, kind, matrices=2, inputs=inputs, steps=steps, seed=8, input_scale=0.7, precision="double"
        )
        for i in range(2):
            w = ens.sample(host_rng(8, MATRIX_STREAM, i))
            norms = np.empty((inputs, curves.steps.size))
            for j in range(inputs):
                rng = host_rng(8, INPUT_STREAM, i, j)
                if kind == "trajectory":
                    y = rng.standard_normal((1, n), dtype=np.float32)[0].astype(
                        np.float64
                    )  # inputs are float32 normals
                    seq = [y]
                    for _ in range(steps):
                        y = w @ y
                        seq.append(y)
                else:
                    x = rng.standard_normal((steps, n), dtype=np.float32).astype(np.float64) * 0.7
                    h, seq = np.zeros(n), []
                    for t in range(steps):
                        h = w @ h + x[t]
                        seq.append(h)
                norms[j] = [np.linalg.norm(v) for v in seq]
            np.testing.assert_allclose(curves.log10_mean[i], np.log10(norms.mean(axis=0)), rtol=1e-10)
            np.testing.assert_allclose(curves.log10_sd[i], np.log10(norms).std(axis=0), atol=1e-10)


def test_single_precision_tracks_double():
    ens = make_ensemble("glorot", 200, "real")
    kwargs = dict(matrices=2, inputs=4, steps=2000, seed=1, every=100)
    single = dynamics.simulate(ens, "trajectory", precision="single", **kwargs)
    double = dynamics.simulate(ens, "trajectory", precision="double", **kwargs)
    np.testing.assert_allclose(single.log10_mean, double.log10_mean, rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_no_overflow_at_10000_steps():
    ens = make_ensemble("glorot", 500, "real")
    for kind in ("trajectory", "hidden"):
        curves = dynamics.simulate(ens, kind, matrices=1, inputs=2, steps=10_000, seed=0, every=500)
        assert np.all(np.isfinite(curves.log10_mean)) and np.all(np.isfinite(curves.log10_sd))
        assert curves.log10_mean[0, -1] - curves.log10_mean[0, 0] > 50  # grew by 10^50 and more
    # the exact expected curve passes float64 (k ~ 840 at n = 500) and stays finite in log space
    exact = dynamics.expected_log10_norm(make_ensemble("glorot", 500, "complex"), "hidden", np.array([1, 1000, 10_000]))
    assert np.all(np.isfinite(exact)) and exact[-1] > 308


@pytest.mark.parametrize("kind", ["trajectory", "hidden"])
@pytest.mark.parametrize("precision", ["single", "double"])
def test_results_do_not_depend_on_workers_or_chunk_size(kind, precision):
    """Seeds are per matrix and input stream, and each matrix runs alone: bit-identical results."""
    ens = make_ensemble("glorot", 30, "complex")
    kwargs = dict(matrices=5, inputs=3, steps=150, seed=4, precision=precision)
    a = dynamics.simulate(ens, kind, chunk_size=1, workers=1, **kwargs)
    b = dynamics.simulate(ens, kind, chunk_size=3, workers=2, **kwargs)
    c = dynamics.simulate(ens, kind, workers=2, **kwargs)
    for other in (b, c):
        np.testing.assert_array_equal(a.log10_mean, other.log10_mean)
        np.testing.assert_array_equal(a.log10_sd, other.log10_sd)
        np.testing.assert_array_equal(a.log10_rms, other.log10_rms)


@pytest.mark.parametrize("kind", ["trajectory", "hidden"])
def test_blocks_that_overflow_fall_back_to_single_steps(kind, monkeypatch):
    """A gain so large that a block of steps overflows float32 is redone one step at a time."""
    ens = make_ensemble("glorot", 20, "real")
    huge = type(ens)(ens.name, ens.n, ens.field, ens.kind, std=ens.std * 1e3)  # ||W|| ~ 2000 per step
    curves = dynamics.simulate(huge, kind, matrices=1, inputs=2, steps=40, seed=1, precision="single", workers=1)
    reference = dynamics.simulate(huge, kind, matrices=1, inputs=2, steps=40, seed=1, precision="double", workers=1)
    assert np.all(np.isfinite(curves.log10_mean)) and curves.log10_mean[0, -1] > 100  # past float32's 1e38
    np.testing.assert_allclose(curves.log10_mean, reference.log10_mean, rtol=1e-5)


@pytest.mark.slow
def test_rescaled_stays_bounded_where_glorot_explodes():
    kwargs = dict(matrices=3, inputs=3, steps=2000, seed=2, every=50)
    glorot = dynamics.simulate(make_ensemble("glorot", 500, "real"), "hidden", **kwargs)
    rescaled = dynamics.simulate(make_ensemble("rescaled", 500, "real"), "hidden", **kwargs)
    growth = lambda c: c.log10_mean[:, -1] - c.log10_mean[:, 0]  # noqa: E731
    assert np.all(growth(glorot) > 3)  # more than 1000x
    assert np.all(growth(rescaled) < 1.5)  # E||h_t||^2 saturates near n / (1 - rho^2)-ish
    assert glorot.blowup_step(1e3) is not None and rescaled.blowup_step(1e3) is None


def test_diagonal_inits_propagate_elementwise():
    ens = make_ensemble("lru", 16, "complex")
    curves = dynamics.simulate(ens, "trajectory", matrices=1, inputs=1, steps=30, seed=3, precision="double")
    lam = ens.sample(host_rng(3, MATRIX_STREAM, 0))
    x = host_rng(3, INPUT_STREAM, 0, 0).standard_normal((1, 16), dtype=np.float32)[0].astype(np.float64)
    expected = [np.log10(np.linalg.norm(lam**k * x)) for k in curves.steps]
    np.testing.assert_allclose(curves.log10_mean[0], expected, rtol=1e-10)


def brute_log_power(w, t, cumulative):
    if cumulative:
        return math.log(sum(np.linalg.norm(np.linalg.matrix_power(w, k), "fro") ** 2 for k in range(t)))
    return math.log(np.linalg.norm(np.linalg.matrix_power(w, t), "fro") ** 2)


@pytest.mark.parametrize("cumulative", [False, True])
def test_eigendecomposition_expectation_against_brute_force(cumulative):
    rng = np.random.default_rng(0)
    ts = np.array([1, 2, 7, 25, 60])
    for w in (
        rng.standard_normal((12, 12)) / math.sqrt(12),
        (rng.standard_normal((9, 9)) + 1j * rng.standard_normal((9, 9))) / math.sqrt(18),
    ):
        ours = linalg.log_frobenius_power_sums(w, ts, cumulative=cumulative)
        np.testing.assert_allclose(ours, [brute_log_power(w, int(t), cumulative) for t in ts], rtol=1e-10)


@pytest.mark.parametrize("cumulative", [False, True])
def test_defective_matrix_uses_squaring_fallback(cumulative):
    w = np.array([[1.01, 1.0, 0.0], [0.0, 1.01, 1.0], [0.0, 0.0, 1.01]])  # a Jordan block
    ts = np.array([1, 5, 64, 3000])
    ours = linalg.log_frobenius_power_sums(w, ts, cumulative=cumulative)
    np.testing.assert_allclose(ours[:3], [brute_log_power(w, int(t), cumulative) for t in ts[:3]], rtol=1e-10)
    assert np.isfinite(ours[3]) and ours[3] > 3000 * math.log(1.01) * 2


def test_record_steps_and_errors():
    np.testing.assert_array_equal(dynamics.record_steps("trajectory", 10, 4), [0, 4, 8, 10])
    np.testing.assert_array_equal(dynamics.record_steps("hidden", 10, 4), [1, 4, 8, 10])
    with pytest.raises(InputError, match="steps") as exc:
        dynamics.record_steps("hidden", 0, 1)
    assert exc.value.param == "steps"
    with pytest.raises(InputError, match="every") as exc:
        dynamics.record_steps("hidden", 5, 0)
    assert exc.value.param == "every"
    with pytest.raises(InputError, match="input_scale") as exc:
        dynamics.simulate(make_ensemble("glorot", 4, "real"), "hidden", matrices=1, inputs=1, steps=2, input_scale=-1)
    assert exc.value.param == "input_scale"


def test_exact_expectation_in_any_step_order():
    w = np.random.default_rng(2).standard_normal((10, 10)) / math.sqrt(10)
    ts = np.array([25, 1, 7, 7, 40])
    for cumulative in (False, True):
        ours = linalg.log_frobenius_power_sums(w, ts, cumulative=cumulative)
        np.testing.assert_allclose(ours, [brute_log_power(w, int(t), cumulative) for t in ts], rtol=1e-10)


def _modulus_density(init, rmin=0.4, rmax=0.9):
    if init == "uniform-diag":
        return (lambda r: 1.0), 0.0, 1.0
    if init == "uniform-disk":
        return (lambda r: 2 * r), 0.0, 1.0
    return (lambda r: 2 * r / (rmax**2 - rmin**2)), rmin, rmax


@pytest.mark.parametrize("init", ["uniform-diag", "uniform-disk", "lru"])
def test_diagonal_modulus_moments_are_exact(init):
    from scipy import integrate

    density, lo, hi = _modulus_density(init)
    ens = make_ensemble(init, 8, "complex")
    ours = dynamics.log_modulus_moments(ens, 40)
    for k in (0, 1, 5, 40):
        value = integrate.quad(lambda r, k=k: r ** (2 * k) * density(r), lo, hi, epsabs=0, epsrel=1e-13)[0]
        assert ours[k] == pytest.approx(math.log(value), rel=1e-11, abs=1e-12)


@pytest.fixture(scope="module")
def diagonal_runs():
    """One simulation per (diagonal init, kind), shared by the Monte Carlo checks."""
    runs = {}
    for init in ("uniform-diag", "uniform-disk", "lru"):
        ens = make_ensemble(init, 40, "complex")
        for kind in ("trajectory", "hidden"):
            runs[init, kind] = (
                ens,
                dynamics.simulate(
                    ens, kind, matrices=300, inputs=4, steps=30, seed=11, input_scale=0.5, precision="double", workers=1
                ),
            )
    return runs


@pytest.mark.parametrize("init", ["uniform-diag", "uniform-disk", "lru"])
@pytest.mark.parametrize("kind", ["trajectory", "hidden"])
def test_diagonal_exact_expectations_match_simulation(diagonal_runs, init, kind):
    ens, curves = diagonal_runs[init, kind]
    exact = 10.0 ** (2 * dynamics.expected_log10_norm(ens, kind, curves.steps, input_scale=0.5))
    values = mean_sq(curves)
    for r in (0, 5, curves.steps.size - 1):
        within_se(values[:, r].mean(), exact[r], values[:, r].std(ddof=1) / math.sqrt(values.shape[0]))


def _joint_requests(ens):
    return [
        dynamics.Request(ens, "trajectory", 3, 30, 40),
        dynamics.Request(ens, "hidden", 3, 30, 40),
        dynamics.Request(ens, "hidden", 2, 4, 90, every=7),  # shares rows 0..3 of the hidden request, runs on alone
    ]


@pytest.mark.parametrize("field", ["real", "complex"])
def test_simulate_many_is_independent_of_workers_and_close_to_separate_runs(field):
    """Joint requests (one GEMM per step, rows shared) give the same arrays for any worker count and
    chunk size, and agree with separate simulate runs up to float32 rounding. 30 complex rows take
    the three-real-GEMM path, 4 rows the complex-GEMM path."""
    ens = make_ensemble("glorot", 60, field)
    requests = _joint_requests(ens)
    a = dict(dynamics.simulate_many(requests, seed=3, workers=1, chunk_size=1))
    b = dict(dynamics.simulate_many(requests, seed=3, workers=2, chunk_size=2))
    assert sorted(a) == sorted(b) == [0, 1, 2]
    for k, r in enumerate(requests):
        np.testing.assert_array_equal(a[k].log10_mean, b[k].log10_mean)
        np.testing.assert_array_equal(a[k].log10_sd, b[k].log10_sd)
        alone = dynamics.simulate(
            ens,
            r.kind,
            matrices=r.matrices,
            inputs=r.inputs,
            steps=r.steps,
            every=r.every,
            seed=3,
            precision="double",
            workers=1,
        )
        np.testing.assert_array_equal(a[k].steps, alone.steps)
        np.testing.assert_allclose(a[k].log10_mean, alone.log10_mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(a[k].log10_sd, alone.log10_sd, atol=1e-4)
    assert a[2].steps[-1] == 90 and np.all(np.isfinite(a[2].log10_mean))


def test_the_plan_covers_every_matrix_once_longest_tasks_first():
    """simulate_many's plan: per width, the tasks' matrix ranges tile 0..(most matrices of any request) once;
    twins (glorot, half) share a group; tasks run by decreasing cost; never more workers than tasks."""
    g40, h40, g20 = (
        make_ensemble("glorot", 40, "real"),
        make_ensemble("half", 40, "real"),
        make_ensemble("glorot", 20, "complex"),
    )
    requests = [
        dynamics.Request(g40, "hidden", 7, 3, 30),
        dynamics.Request(h40, "trajectory", 5, 2, 20),
        dynamics.Request(g20, "hidden", 3, 2, 50),
    ]
    recorded = dynamics._recorded_steps(requests)
    groups = dynamics._shared_matrices(requests)
    assert [[k for k, _ in members] for _, members in groups] == [[0, 1], [2]]
    assert groups[0][1][1][1] == pytest.approx(math.log(h40.std / g40.std))
    specs = [tuple(dynamics._spec(requests[k], recorded[k], log_c) for k, log_c in members) for _, members in groups]
    for chunk_size, workers in [(None, 2), (2, 2), (3, 1), (None, 8)]:
        plan = dynamics._plan_tasks(groups, specs, 0, "single", workers, chunk_size)
        for n, top in ((20, 3), (40, 7)):
            ranges = sorted((t[2], t[3]) for t, owners in zip(plan.tasks, plan.owners) if groups[owners[0]][0].n == n)
            assert ranges[0][0] == 0 and ranges[-1][1] == top and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert sorted(plan.order) == list(range(len(plan.tasks))) and 1 <= plan.workers <= min(len(plan.tasks), workers)
        work = [
            sum(
                dynamics._row_steps(specs[q], t[2], t[3])
                * groups[q][0].n ** 2
                * (3 if groups[q][0].field == "complex" else 1)
                for q in owners
            )
            for t, owners in zip(plan.tasks, plan.owners)
        ]
        assert [work[t] for t in plan.order] == sorted(work, reverse=True)


def test_simulate_many_reports_progress_per_request():
    ens = make_ensemble("glorot", 40, "complex")
    seen: dict = {}
    done = [
        k
        for k, _ in dynamics.simulate_many(
            _joint_requests(ens), workers=2, on_progress=lambda k, m: seen.__setitem__(k, seen.get(k, 0) + m)
        )
    ]
    assert sorted(done) == [0, 1, 2] and seen == {0: 3, 1: 3, 2: 2}


@pytest.mark.parametrize("field", ["real", "complex"])
def test_rescaled_trajectories_are_glorot_ones_tilted(field):
    """W_rescaled = W_glorot / factor for the same draws: the rescaled trajectory is derived (no
    products) and agrees with a direct double-precision run."""
    glorot, rescaled = make_ensemble("glorot", 200, field), make_ensemble("rescaled", 200, field)
    requests = [
        dynamics.Request(glorot, "trajectory", 3, 6, 300, every=10),
        dynamics.Request(rescaled, "trajectory", 3, 6, 300, every=10),
        dynamics.Request(rescaled, "hidden", 2, 6, 50),
    ]
    got = dict(dynamics.simulate_many(requests, seed=2, workers=1))
    assert sorted(got) == [0, 1, 2]
    direct = dynamics.simulate(
        rescaled, "trajectory", matrices=3, inputs=6, steps=300, every=10, seed=2, precision="double", workers=1
    )
    np.testing.assert_allclose(got[1].log10_mean, direct.log10_mean, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got[1].log10_sd, direct.log10_sd, atol=1e-4)
    tilt = got[1].log10_mean - got[0].log10_mean
    np.testing.assert_allclose(
        tilt, np.broadcast_to(got[0].steps * math.log10(rescaled.std / glorot.std), tilt.shape), atol=1e-9
    )
    assert tilt[0, -1] < -1  # the rescaling matters: the gain ratio is below 1


@pytest.mark.parametrize("field", ["real", "complex"])
def test_scaled_twins_share_matrices_and_inputs_with_direct_results(field):
    """Rescaled and half hidden states run on Glorot's matrices (g_t = W g_{t-1} + c^{-t} x_t,
    h_t = c^t g_t) with Glorot's input draws, in one block: in double precision they equal direct
    runs on their own ensembles to rounding."""
    glorot, rescaled, half = (make_ensemble(name, 170, field) for name in ("glorot", "rescaled", "half"))
    assert (
        rescaled.scale_of(glorot) == pytest.approx(rescaled.gain / glorot.gain)
        and half.scale_of(glorot) == pytest.approx(half.gain / glorot.gain)
        and half.gain < glorot.gain
    )
    assert (
        make_ensemble("truncnormal", 170, field).scale_of(glorot) is None
        and make_ensemble("glorot", 170, "real" if field == "complex" else "complex").scale_of(glorot) is None
    )
    requests = [
        dynamics.Request(e, "hidden", 3, 4, 120, every=5, input_scale=s)
        for e, s in ((glorot, 1.0), (rescaled, 1.0), (half, 0.3))
    ]
    requests.append(dynamics.Request(half, "trajectory", 3, 4, 120, every=5))
    got = dict(dynamics.simulate_many(requests, seed=4, precision="double", workers=1))
    for k, r in enumerate(requests):
        direct = dynamics.simulate(
            r.ensemble,
            r.kind,
            matrices=3,
            inputs=4,
            steps=120,
            every=5,
            input_scale=r.input_scale,
            seed=4,
            precision="double",
            workers=1,
        )
        np.testing.assert_allclose(got[k].log10_mean, direct.log10_mean, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(got[k].log10_sd, direct.log10_sd, atol=1e-10)
    assert got[1].log10_mean[:, -1].mean() < got[0].log10_mean[:, -1].mean()  # the twins really differ


@pytest.mark.parametrize("field", ["real", "complex"])
def test_strided_trajectories_step_by_w_power(field):
    """A trajectory recorded every e steps is stepped by W^e (a quarter of the products for e = 4):
    the same norms as every step, picked, to rounding in double and float32 accuracy in single;
    a ragged last step (steps not a multiple of every) falls back to every step."""
    ens = make_ensemble("glorot", 40, field)
    for precision, rtol in (("double", 1e-10), ("single", 2e-4)):
        dense = dynamics.simulate(
            ens, "trajectory", matrices=2, inputs=3, steps=240, seed=2, precision=precision, workers=1
        )
        for every in (4, 7):  # 240 = 60 x 4; 7 leaves a ragged 240
            strided = dynamics.simulate(
                ens, "trajectory", matrices=2, inputs=3, steps=240, every=every, seed=2, precision=precision, workers=1
            )
            np.testing.assert_allclose(strided.log10_mean, dense.log10_mean[:, strided.steps], rtol=rtol, atol=rtol)
    w64 = ens.sample(host_rng(2, MATRIX_STREAM, 0))
    x0 = host_rng(2, INPUT_STREAM, 0, 0).standard_normal((1, 40), dtype=np.float32).astype(np.float64)
    np.testing.assert_allclose(
        dynamics._trajectory_logs(w64, False, x0, np.array([0, 5, 10]), np.float64)[0],
        [math.log(np.linalg.norm(np.linalg.matrix_power(w64, k) @ x0[0])) for k in (0, 5, 10)],
        rtol=1e-12,
    )


@pytest.mark.parametrize("kind, std, every", [("half", None, 50), ("lru", None, 500), ("glorot", 1e-3, 1)])
def test_contracting_matrices_never_underflow_a_power(kind, std, every):
    """A power W^e or W^p of a contracting W that would underflow float32 (0.71^200, 0.9^500, or
    (1e-3)^16) is refused for a lower one: the curves stay finite and agree with double precision."""
    n = 64 if kind == "lru" else 100
    ens = make_ensemble(kind, n, "complex" if kind == "lru" else "real")
    if std is not None:
        ens = type(ens)(ens.name, ens.n, ens.field, ens.kind, std=std / math.sqrt(n))
    kwargs = dict(matrices=2, inputs=1 if std else 5, steps=1000, every=every, seed=3, workers=1)
    single = dynamics.simulate(ens, "trajectory", precision="single", **kwargs)
    double = dynamics.simulate(ens, "trajectory", precision="double", **kwargs)
    assert np.all(np.isfinite(single.log10_mean)) and single.log10_mean[0, -1] < single.log10_mean[0, 0] - 30
    np.testing.assert_allclose(single.log10_mean, double.log10_mean, rtol=1e-4)


def test_groups_on_one_matrix_index_share_inputs_and_equal_separate_runs():
    """Real and complex requests (and widths) in one simulate_many: the groups on matrix i advance
    in lockstep and read each block of input j once; in double precision every request equals its
    own simulate run to rounding, for any worker count and chunk size."""
    real, cplx, other = (
        make_ensemble("glorot", 30, "real"),
        make_ensemble("glorot", 30, "complex"),
        make_ensemble("glorot", 20, "real"),
    )
    requests = [
        dynamics.Request(real, "hidden", 3, 4, 70),
        dynamics.Request(cplx, "hidden", 2, 6, 45, every=4),
        dynamics.Request(other, "hidden", 3, 2, 33),
        dynamics.Request(cplx, "trajectory", 3, 2, 20),
    ]
    draws = []
    real_block = dynamics._InputBlocks.block

    def counting(self, streams, b):
        held = {int(j): int(self.held[j]) if j < self.held.size else -1 for j in streams}
        draws.extend((self.i, self.n, j, b) for j, h in held.items() if h != b)
        return real_block(self, streams, b)

    a = dict(dynamics.simulate_many(requests, seed=9, precision="double", workers=1, chunk_size=3))
    dynamics._InputBlocks.block = counting
    try:
        b = dict(dynamics.simulate_many(requests, seed=9, precision="double", workers=1, chunk_size=1))
    finally:
        dynamics._InputBlocks.block = real_block
    assert len(draws) == len(set(draws))  # every block of every stream drawn once
    assert (0, 30, 0, 0) in draws and (0, 20, 0, 0) in draws  # widths keep their own inputs
    for k, r in enumerate(requests):
        np.testing.assert_array_equal(a[k].log10_mean, b[k].log10_mean)
        alone = dynamics.simulate(
            r.ensemble,
            r.kind,
            matrices=r.matrices,
            inputs=r.inputs,
            steps=r.steps,
            every=r.every,
            seed=9,
            precision="double",
            workers=1,
        )
        np.testing.assert_allclose(a[k].log10_mean, alone.log10_mean, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("field", ["real", "complex"])
def test_trajectory_power_chains_equal_single_steps(field, monkeypatch):
    """Few trajectory rows are stepped p at a time by W^p (p chains): the same norms as one step at
    a time, to rounding (double) and to float32 accuracy (single)."""
    ens = make_ensemble("glorot", 50, field)
    w64 = ens.sample(host_rng(0, MATRIX_STREAM, 0))
    assert dynamics._power_chains(w64, False, 5, 1000, np.float32)[0] == 16
    assert dynamics._power_chains(w64, False, 50, 1000, np.float32)[0] == 4
    assert dynamics._power_chains(w64, False, 50, 3, np.float32)[0] == 2  # never more than the steps
    assert dynamics._power_chains(w64, False, 200, 1000, np.float32)[0] == 1
    assert (
        1 < dynamics._power_chains(w64 * 1e2, False, 5, 1000, np.float32)[0] < 16
    )  # W^16 could overflow float32: halved
    assert dynamics._power_chains(w64 * 1e9, False, 5, 1000, np.float32)[0] == 1  # even W^2 could
    kwargs = dict(matrices=2, inputs=5, steps=203, seed=6)
    chained = {p: dynamics.simulate(ens, "trajectory", precision=p, workers=1, **kwargs) for p in ("single", "double")}
    monkeypatch.setattr(dynamics, "POWER_ROWS", 1)
    for precision, rtol in (("double", 1e-10), ("single", 2e-4)):
        stepped = dynamics.simulate(ens, "trajectory", precision=precision, workers=1, **kwargs)
        np.testing.assert_allclose(chained[precision].log10_mean, stepped.log10_mean, rtol=rtol, atol=rtol)
        np.testing.assert_array_equal(chained[precision].steps, np.arange(204))


def test_gpu_path_inputs_continue_each_input_stream():
    """The batched inputs of the device path are stream (seed, INPUT_STREAM, i, j), drawn in order."""
    rngs: dict = {}
    first = dynamics._inputs(5, range(2, 4), 3, 7, 4, rngs)
    second = dynamics._inputs(5, range(2, 4), 3, 7, 2, rngs)
    for b, i in enumerate(range(2, 4)):
        for j in range(3):
            want = host_rng(5, INPUT_STREAM, i, j).standard_normal((6, 7), dtype=np.float32)
            np.testing.assert_array_equal(np.concatenate([first[:, b, :, j], second[:, b, :, j]]), want)


def test_row_steps_counts_each_matrix_once_per_shared_row():
    """The task cost equals counting every matrix's rows one by one (the definition), and stays
    O(specs): 10^5 matrices x 10^3 inputs is counted without visiting them."""
    import random

    def by_definition(specs, a, b):
        total = 0
        for i in range(a, b):
            rows: dict = {}
            for matrices, kind, inputs, steps, _rec, scale, log_c in specs:
                for j in range(inputs if i < matrices else 0):
                    key = (kind, j) if kind == "trajectory" else (kind, scale, log_c, j)
                    rows[key] = max(rows.get(key, 0), steps)
            total += sum(rows.values())
        return total

    rng = random.Random(0)
    for _ in range(200):
        specs = tuple(
            (
                rng.randint(1, 9),
                rng.choice(dynamics.KINDS),
                rng.randint(1, 6),
                rng.randint(1, 50),
                None,
                rng.choice([1.0, 0.5]),
                rng.choice([0.0, -0.1]),
            )
            for _ in range(rng.randint(1, 5))
        )
        a = rng.randint(0, 8)
        b = rng.randint(a + 1, 10)
        assert dynamics._row_steps(specs, a, b) == by_definition(specs, a, b)
    assert dynamics._row_steps(((100_000, "hidden", 1000, 7, None, 1.0, 0.0),), 0, 100_000) == 100_000 * 1000 * 7

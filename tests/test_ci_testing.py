"""specdiag.testing.assert_stable (issue 22): a path, a state dict, an nn.Module or an array; the
AssertionError's message is the table of the failing rows; the report is returned otherwise."""

import numpy as np
import pytest

import specdiag as sd
from specdiag.testing import assert_stable


def orthogonal(n, scale, seed=0):
    return scale * np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]


def test_array_passes_and_returns_the_report():
    report = assert_stable(orthogonal(8, 0.5))
    assert isinstance(report, sd.CheckReport) and report.verdict == "ok"


def test_message_is_the_failing_rows_only():
    state = {
        "enc.W_hh": orthogonal(8, 1.25),
        "dec.W_hh": orthogonal(8, 0.5, seed=1),
        "dec.W_rec": orthogonal(6, 1.1, seed=2),
    }
    with pytest.raises(AssertionError) as info:
        assert_stable(state, max_growth=None)
    lines = str(info.value).splitlines()
    assert lines[0] == "specdiag: 2 of 3 recurrent tensors unstable (max_radius 1, seq_len 1000, growth not gated)"
    assert lines[1].split() == ["tensor", "shape", "radius", "log10", "growth", "verdict", "why"]
    assert [line.split()[0] for line in lines[2:]] == ["enc.W_hh", "dec.W_rec"]
    assert "radius 1.25 > max_radius 1" in lines[2] and "FAIL" in lines[2]
    assert assert_stable(state, max_radius=1.3, max_growth=None).verdict in ("ok", "warn")


def test_growth_gate_and_seq_len():
    w = orthogonal(8, 0.999)
    assert_stable(w, seq_len=100)  # growth about 1 at t = 100
    with pytest.raises(AssertionError, match="hidden-state growth"):
        assert_stable(w * 1.0009 / 0.999, seq_len=100000, max_growth=10, max_radius=1.001)


def test_paths(tmp_path):
    np.savez(tmp_path / "a.npz", W_hh=orthogonal(8, 0.5))
    np.savez(tmp_path / "b.npz", W_hh=orthogonal(8, 1.5))
    assert assert_stable(tmp_path / "a.npz").exit_code == 0
    with pytest.raises(AssertionError) as info:
        assert_stable(str(tmp_path))
    assert f"{tmp_path / 'b.npz'}:W_hh" in str(info.value) and "a.npz" not in str(info.value)
    np.save(tmp_path / "rect.npy", np.ones((2, 3)))
    with pytest.raises(AssertionError, match="nothing recurrent found"):
        assert_stable(tmp_path / "rect.npy")
    with pytest.raises(sd.InputError, match="no such file"):
        assert_stable(tmp_path / "missing.npz")
    with pytest.raises(sd.InputError, match="obj must be"):
        assert_stable(object())


def test_torch_module_and_tensor():
    torch = pytest.importorskip("torch", reason="nn.Module support needs PyTorch")
    torch.manual_seed(0)
    rnn = torch.nn.RNN(4, 64)  # a tanh cell: gated by its maximal Lyapunov exponent (SPEC section 8)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.eye(64) * 0.5)
    assert assert_stable(rnn).verdict == "ok"
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(3.0 * torch.randn(64, 64) / 8)  # 3 x Glorot: chaotic, lambda about +0.27
    with pytest.raises(AssertionError, match=r"weight_hh_l0.*perturbation growth"):
        assert_stable(rnn)
    with pytest.raises(AssertionError, match="perturbation growth"):
        assert_stable(rnn.state_dict())
    with pytest.raises(AssertionError, match="radius 1.5"):
        assert_stable(torch.eye(4) * 1.5)

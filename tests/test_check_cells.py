"""Nonlinear cells (SPEC section 8): Jacobians against torch.autograd, the maximal Lyapunov exponent, the
growth gate, complete coverage of recurrent tensors, and the selection options (layout, bias, gate, state dict)."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from specdiag._cells import Cell, jacobian
from specdiag._check_cells import check_cell
from specdiag._lyapunov import max_lyapunov
from specdiag.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["check", *[str(a) for a in args]])


def glorot(n, seed, gain=1.0):
    return gain * np.random.default_rng(seed).standard_normal((n, n)) / math.sqrt(n)


def test_linear_lambda_is_log_rho_exactly():
    w = glorot(40, 1, 1.3)
    est = max_lyapunov(w)
    assert est.value == pytest.approx(math.log(np.abs(np.linalg.eigvals(w)).max()), rel=1e-12) and est.stderr == 0
    huge = np.diag([1e300, 0.5])  # scaled before the eigensolve
    assert max_lyapunov(huge).value == pytest.approx(math.log(1e300), rel=1e-12)


def test_chaotic_tanh_rnn_fails_and_contracting_passes():
    chaotic = Cell("rnn_tanh", glorot(64, 0, 3.0))
    est = max_lyapunov(chaotic, regime="zero-input")
    assert est.value == pytest.approx(0.27, abs=0.03) and est.stderr < 0.01  # SPEC section 8: +0.27
    assert max_lyapunov(Cell("rnn_tanh", glorot(64, 0, 0.8)), regime="zero-input").value == pytest.approx(
        -0.20, abs=0.03
    )
    assert check_cell("chaotic", chaotic).verdict == "fail"
    assert check_cell("calm", Cell("rnn_tanh", glorot(64, 0, 0.8))).verdict == "ok"


def test_seeded_and_deterministic():
    rng = np.random.default_rng(2)
    cell = Cell("gru", rng.standard_normal((24, 8)), rng.standard_normal((24, 5)))
    a = max_lyapunov(cell, seed=4)
    assert a == max_lyapunov(cell, seed=4)
    assert a.value != max_lyapunov(cell, seed=5).value


def test_unbounded_relu_cell_fails_as_exploding():
    est = max_lyapunov(Cell("rnn_relu", np.eye(4) * 2.0), regime="zero-input")
    assert est.exploded and est.value > 0
    assert check_cell("relu", Cell("rnn_relu", np.eye(4) * 2.0)).verdict == "fail"


def test_block_and_rest_radii_are_information_not_verdicts():
    """SPEC section 8: "some block is big" is not a failure: an LSTM whose candidate block has radius 13."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    torch.manual_seed(1)
    w = torch.nn.LSTMCell(32, 32).weight_hh.detach().double().numpy().copy()
    w[64:96] *= 13 / np.abs(np.linalg.eigvals(w[64:96])).max()
    result = check_cell("cell", Cell("lstm", w))
    assert result.gate_radii["g"] == pytest.approx(13) and result.rest_state["radius"] > 3  # the origin is unstable
    assert result.regime == "zero-input" and result.lyapunov < -0.05 and result.verdict == "ok"


torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch (CI installs the CPU wheel)")
nn = torch.nn


def numpy_state(module):
    return {k: v.detach().double().numpy() for k, v in module.state_dict().items()}


def torch_cell(module, kind):
    sd = numpy_state(module)

    def get(key):
        return sd.get(key, sd.get(key + "_l0"))

    return Cell(kind, get("weight_hh"), get("weight_ih"), get("bias_ih"), get("bias_hh"), sd.get("weight_hr_l0"))


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "gru", "lstm", "lstm_proj"])
def test_jacobian_matches_autograd(kind):
    torch.manual_seed(0)
    x = torch.randn(5, dtype=torch.float64)
    if kind == "lstm_proj":
        module = nn.LSTM(5, 7, proj_size=3).double()
        cell, p = torch_cell(module, "lstm"), 3

        def f(s):
            _, (h, c) = module(x[None, None], (s[None, None, :p], s[None, None, p:]))
            return torch.cat([h[0, 0], c[0, 0]])
    elif kind == "lstm":
        module = nn.LSTMCell(5, 7).double()
        cell, p = torch_cell(module, "lstm"), 7

        def f(s):
            h, c = module(x[None], (s[None, :p], s[None, p:]))
            return torch.cat([h[0], c[0]])
    else:
        module = (nn.GRUCell(5, 7) if kind == "gru" else nn.RNNCell(5, 7, nonlinearity=kind[4:])).double()
        cell = torch_cell(module, kind)

        def f(s):
            return module(x[None], s[None])[0]

    s = torch.randn(cell.state_size, dtype=torch.float64)
    expected = torch.autograd.functional.jacobian(f, s).numpy()
    assert np.abs(jacobian(cell, s.numpy(), x.numpy()) - expected).max() < 1e-10


def test_gru_linear_before_reset_false_matches_autograd():
    """ONNX's default GRU: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)."""
    torch.manual_seed(1)
    h_size, i_size = 6, 4
    w_hh, w_ih = (
        torch.randn(3 * h_size, h_size, dtype=torch.float64),
        torch.randn(3 * h_size, i_size, dtype=torch.float64),
    )
    b_ih, b_hh = torch.randn(3 * h_size, dtype=torch.float64), torch.randn(3 * h_size, dtype=torch.float64)
    x = torch.randn(i_size, dtype=torch.float64)

    def f(h):
        gi, gh = w_ih @ x + b_ih, w_hh[: 2 * h_size] @ h + b_hh[: 2 * h_size]
        r = torch.sigmoid(gi[:h_size] + gh[:h_size])
        z = torch.sigmoid(gi[h_size : 2 * h_size] + gh[h_size:])
        n = torch.tanh(gi[2 * h_size :] + w_hh[2 * h_size :] @ (r * h) + b_hh[2 * h_size :])
        return (1 - z) * n + z * h

    cell = Cell("gru", w_hh.numpy(), w_ih.numpy(), b_ih.numpy(), b_hh.numpy(), linear_before_reset=False)
    h = torch.randn(h_size, dtype=torch.float64)
    assert np.abs(jacobian(cell, h.numpy(), x.numpy()) - torch.autograd.functional.jacobian(f, h).numpy()).max() < 1e-10


def mixed_model(path):
    torch.manual_seed(0)
    m = nn.ModuleDict({"enc": nn.GRU(16, 32), "dec": nn.LSTMCell(32, 32)})
    m.dec.weight_hh.data *= 20
    torch.save(m.state_dict(), path)
    return m


def test_mixed_model_every_recurrence_has_a_row(tmp_path):
    mixed_model(tmp_path / "mixed.pt")
    result = run(tmp_path / "mixed.pt", "--format", "json", "--workers", 1)
    doc = json.loads(result.stdout)
    rows = {t["name"]: t for t in doc["tensors"]}
    assert set(rows) == {"enc.weight_hh_l0", "dec.weight_hh"} and doc["files"][0]["coverage"] == "complete"
    assert rows["enc.weight_hh_l0"]["cell"] == "gru" and rows["enc.weight_hh_l0"]["verdict"] == "ok"
    dec = rows["dec.weight_hh"]
    assert dec["cell"] == "lstm" and dec["regime"] == "driven" and min(dec["gate_radii"].values()) > 10
    # its verdict is the Lyapunov gate's: fail exactly when exp(lambda t) exceeds max_growth
    assert dec["verdict"] == ("fail" if dec["lyapunov"] * 1000 > math.log(1e3) else "ok")
    assert result.exit_code == (1 if dec["verdict"] == "fail" else 0)
    listed = json.loads(run(tmp_path / "mixed.pt", "--list", "--format", "json").stdout)
    assert [p["name"] for p in listed["planned"]] == list(rows)


def test_projected_lstm_and_unchecked_recurrences(tmp_path):
    torch.manual_seed(2)
    state = nn.LSTM(6, 8, proj_size=4).state_dict()
    state["mystery.w_hh"] = torch.randn(10, 7)  # recurrent name, unreadable shape
    torch.save(state, tmp_path / "p.pt")
    result = run(tmp_path / "p.pt", "--format", "json")
    doc = json.loads(result.stdout)
    row, unchecked = doc["tensors"]
    assert (
        row["name"] == "weight_hh_l0"
        and row["cell"] == "lstm"
        and row["shape"] == [32, 4]
        and "projection" in row["rule_reason"]
    )
    assert (
        unchecked["name"] == "mystery.w_hh"
        and unchecked["verdict"] == "not checked"
        and "layout" in unchecked["reasons"][0]
    )
    assert result.exit_code == 1 and doc["verdict"] == "fail" and "not checked: mystery.w_hh" in result.stderr
    assert run(tmp_path / "p.pt", "--allow-unchecked").exit_code == 0
    listing = run(tmp_path / "p.pt", "--list")
    assert "NOT CHECKED" in listing.stdout and listing.exit_code == 0


def test_declared_layout_for_custom_names_and_gate_selection(tmp_path):
    """g2p_en stores its GRU as enc_w_hh (3h x h) with enc_w_ih, enc_b_ih, enc_b_hh beside it."""
    torch.manual_seed(3)
    gru = nn.GRU(5, 8)
    sd = numpy_state(gru)
    np.savez(
        tmp_path / "g2p.npz",
        enc_w_hh=sd["weight_hh_l0"],
        enc_w_ih=sd["weight_ih_l0"],
        enc_b_ih=sd["bias_ih_l0"],
        enc_b_hh=sd["bias_hh_l0"],
    )
    refused = run(tmp_path / "g2p.npz")
    assert refused.exit_code == 1 and "--layout gru" in refused.stderr  # not checked, with the fix
    doc = json.loads(
        run(tmp_path / "g2p.npz", "--key", "enc_w_hh", "--layout", "gru", "--gate", "n", "--format", "json").stdout
    )
    rows = {t["name"]: t for t in doc["tensors"]}
    torch.save(gru.state_dict(), tmp_path / "g.pt")
    reference = json.loads(run(tmp_path / "g.pt", "--format", "json").stdout)
    assert rows["enc_w_hh"]["lyapunov"] == reference["tensors"][0]["lyapunov"]  # the same cell, biases found by name
    n_block = sd["weight_hh_l0"][16:]
    assert rows["enc_w_hh[n]"]["radius"] == pytest.approx(np.abs(np.linalg.eigvals(n_block)).max(), rel=1e-10)
    bad = run(tmp_path / "g2p.npz", "--key", "enc_w_hh", "--layout", "lstm")
    assert bad.exit_code == 2 and "--layout" in bad.stderr


def test_state_dict_choice_and_short_name_rules(tmp_path):
    torch.manual_seed(4)
    model, ema = nn.GRU(4, 6).state_dict(), nn.GRU(4, 6).state_dict()
    torch.save({"model": model, "ema": ema}, tmp_path / "ck.pt")
    a = json.loads(run(tmp_path / "ck.pt", "--format", "json").stdout)
    b = json.loads(run(tmp_path / "ck.pt", "--state-dict", "ema", "--format", "json").stdout)
    assert (
        a["container"] == "model"
        and b["container"] == "ema"
        and a["tensors"][0]["gate_radii"] != b["tensors"][0]["gate_radii"]
    )
    assert run(tmp_path / "ck.pt", "--state-dict", "nope").exit_code == 2
    torch.save({"enc": model, "dec": ema}, tmp_path / "parts.pt")  # parts of one model, not alternatives: both checked
    parts = json.loads(run(tmp_path / "parts.pt", "--format", "json").stdout)
    assert sorted(t["name"] for t in parts["tensors"]) == ["dec.weight_hh_l0", "enc.weight_hh_l0"]
    # attn.W and mlp.lambda are not a reservoir or eigenvalues beside a real recurrence
    np.savez(
        tmp_path / "m.npz",
        **{"attn.W": np.eye(3) * 5, "mlp.lambda": np.array([3.0]), "rnn.weight_hh_l0": np.eye(3) * 0.1},
    )
    doc = json.loads(run(tmp_path / "m.npz", "--format", "json").stdout)
    assert [t["name"] for t in doc["tensors"]] == ["rnn.weight_hh_l0"]
    reservoir = json.loads(run(tmp_path / "m.npz", "--model", "reservoir", "--format", "json").stdout)
    assert [t["name"] for t in reservoir["tensors"] if t["verdict"] != "not checked"] == ["attn.W"]
    np.savez(tmp_path / "r.npz", **{"W": np.eye(3) * 0.5, "Win": np.ones((3, 2))})
    alone = json.loads(run(tmp_path / "r.npz", "--format", "json").stdout)
    assert [t["name"] for t in alone["tensors"]] == ["W"] and "reservoir-W" in " ".join(alone["files"][0]["notes"])

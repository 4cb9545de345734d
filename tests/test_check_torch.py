"""`check` on real PyTorch objects: nn.RNN, nn.LSTM (2 layers, bidirectional), nn.GRU, orthogonal
parametrizations; saved with torch.save and safetensors.torch in fp32/fp16/bf16."""

import json
import math

import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch (CI installs the CPU wheel)")
from safetensors.torch import save_file  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.parametrizations import orthogonal  # noqa: E402

from specdiag._check import check_module, check_state_dict  # noqa: E402
from specdiag.cli import app  # noqa: E402

runner = CliRunner()
GATES = {"LSTM": "ifgo", "GRU": "rzn"}


def run(*args):
    return runner.invoke(app, ["check", *[str(a) for a in args]])


def torch_radius(t):
    return float(torch.linalg.eigvals(t.detach().double()).abs().max())


def expected_rows(module, kind):
    """cell row name -> gate letter -> exact block radius, from torch.linalg.eigvals of each gate block."""
    out = {}
    for name, p in module.state_dict().items():
        if "weight_hh" not in name:
            continue
        h = p.shape[1]
        if kind == "RNN":
            out[name] = {"W": torch_radius(p)}
        else:
            out[name] = {g: torch_radius(p[i * h : (i + 1) * h]) for i, g in enumerate(GATES[kind])}
    return out


@pytest.fixture(scope="module")
def modules():
    torch.manual_seed(0)
    return {
        "RNN": nn.RNN(16, 16, num_layers=2),  # weight_ih_l1 and weight_ih_l0 are square: must be skipped
        "LSTM": nn.LSTM(8, 12, num_layers=2, bidirectional=True),
        "GRU": nn.GRU(10, 16),
    }


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_pt_files_one_cell_row_per_layer_and_direction(tmp_path, modules, kind):
    module = modules[kind]
    torch.save(module.state_dict(), tmp_path / "m.pt")
    result = run(tmp_path / "m.pt", "--format", "json", "--workers", 1)
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    got = {t["name"]: t for t in doc["tensors"]}
    expected = expected_rows(module, kind)
    assert set(got) == set(expected) and doc["files"][0]["coverage"] == "complete"
    cell = {"RNN": "rnn_tanh", "LSTM": "lstm", "GRU": "gru"}[kind]
    for name, radii in expected.items():
        row = got[name]
        assert (
            row["cell"] == cell
            and row["rule"] == "torch-weight_hh"
            and row["dtype"] == "float32"
            and row["radius"] is None
        )
        assert row["gate_radii"] == pytest.approx(radii, rel=1e-9)
        assert (
            row["regime"] == "driven" and row["lyapunov"] == row["lyapunov_driven"]["value"] and row["lyapunov_se"] > 0
        )
        assert row["log10_growth"] == pytest.approx(row["lyapunov"] * 1000 / math.log(10))
        assert row["lyapunov_zero_input"]["regime"] == "zero-input"
    if kind == "LSTM":
        assert got["weight_hh_l1_reverse"]["direction"] == "reverse" and got["weight_hh_l1"]["direction"] == "forward"
        assert got["weight_hh_l1"]["input_size"] == 24  # fed by both directions of layer 0
    skipped = {s["name"]: s["reason"] for s in doc["skipped"]}
    if kind == "RNN":
        assert "weight_ih_l1" not in skipped  # read as the cell's input weights, not listed


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_safetensors_dtypes_orthogonal_passes(tmp_path, dtype):
    torch.manual_seed(1)
    rnn = nn.RNN(32, 32)
    with torch.no_grad():
        nn.init.orthogonal_(rnn.weight_hh_l0)
    sd_ = {k: v.detach().to(dtype).contiguous() for k, v in rnn.state_dict().items()}
    save_file(sd_, str(tmp_path / "o.safetensors"))
    result = run(tmp_path / "o.safetensors", "--format", "json")
    assert result.exit_code == 0, result.output
    (t,) = json.loads(result.stdout)["tensors"]
    name = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[dtype]
    assert t["dtype"] == name and t["verdict"] != "fail" and t["cell"] == "rnn_tanh"
    assert t["gate_radii"]["W"] == pytest.approx(torch_radius(sd_["weight_hh_l0"].double()), rel=1e-9)
    assert t["lyapunov"] < 0  # an orthogonal tanh RNN driven by N(0, I) input contracts


def test_orthogonal_parametrization_module_and_file(tmp_path):
    class Cell(nn.Module):
        def __init__(self):
            super().__init__()
            self.recurrent = nn.Linear(24, 24, bias=False)
            self.readout = nn.Linear(24, 24)

    torch.manual_seed(2)
    cell = Cell()
    orthogonal(cell.recurrent)
    report = check_module(cell)
    (t,) = report.tensors
    assert t.name == "recurrent.weight" and t.radius == pytest.approx(1.0, abs=1e-6) and t.verdict != "fail"
    assert "readout.weight" in [s.name for s in report.skipped]
    torch.save(cell.state_dict(), tmp_path / "p.pt")
    for args in (["--list"], []):  # --list exits as check does: only a parametrization input, nothing to check
        result = run(tmp_path / "p.pt", *args)
        assert result.exit_code == 3 and "input of a torch parametrization" in result.stderr, result.output


@pytest.mark.slow
def test_nested_checkpoint_and_state_dict_api(tmp_path, modules):
    lstm = modules["LSTM"]
    # Adam's state_dict layout: moments with the weights' shapes, which must never be checked
    moments = {
        i: {"step": torch.tensor(1.0), "exp_avg": torch.ones_like(p), "exp_avg_sq": torch.ones_like(p)}
        for i, p in enumerate(lstm.parameters())
    }
    optimizer = {"state": moments, "param_groups": [{"lr": 1e-3, "params": list(moments)}]}
    torch.save(
        {"epoch": 3, "model_state_dict": lstm.state_dict(), "optimizer_state_dict": optimizer}, tmp_path / "ckpt.pt"
    )
    result = run(tmp_path / "ckpt.pt", "--format", "json", "--no-growth-gate")
    doc = json.loads(result.stdout)
    assert doc["container"] == "model_state_dict" and len(doc["tensors"]) == 4  # 2 layers x 2 directions
    api = check_state_dict(lstm.state_dict(), max_growth=None)
    assert [t.name for t in api.tensors] == [t["name"] for t in doc["tensors"]]
    assert [t.lyapunov for t in api.tensors] == [t["lyapunov"] for t in doc["tensors"]]  # seeded: identical
    assert check_module(lstm).verdict == api.verdict


def test_whole_model_pickle_refused(tmp_path):
    torch.save(nn.GRU(4, 4), tmp_path / "model.pt")
    result = run(tmp_path / "model.pt")
    assert result.exit_code == 2 and "save model.state_dict()" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

"""Formats people ship recurrent models in, each built by its own library: ONNX (onnx.helper and
torch.onnx), Keras .keras and legacy .h5, TorchScript (read without running it)."""

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from specdiag._cells import Cell
from specdiag._lyapunov import max_lyapunov
from specdiag.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["check", *[str(a) for a in args]])


def rows(result):
    return {t["name"]: t for t in json.loads(result.stdout)["tensors"]}


def onnx_gru_model(path, *, linear_before_reset, constant=False, computed=False, external=False):
    """A GRU node (gates z, r, h) with W, R, B as initializers (or a Constant node, or computed)."""
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed: pip install 'specdiag[onnx]'")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    h, i = 6, 3
    w, r, b = rng.normal(size=(1, 3 * h, i)), rng.normal(size=(1, 3 * h, h)) / 2, rng.normal(size=(1, 6 * h)) / 4
    tensors = {"W": w.astype(np.float32), "R": r.astype(np.float32), "B": b.astype(np.float32)}
    nodes, inits = [], []
    for name, value in tensors.items():
        if constant and name == "R":
            nodes.append(helper.make_node("Constant", [], ["R"], value=numpy_helper.from_array(value, "R_const")))
        elif computed and name == "R":
            inits.append(numpy_helper.from_array(value, "R_raw"))
            nodes.append(helper.make_node("Mul", ["R_raw", "R_raw"], ["R"]))
        else:
            inits.append(numpy_helper.from_array(value, name))
    nodes.append(
        helper.make_node(
            "GRU", ["X", "W", "R", "B"], ["Y"], name="gru", hidden_size=h, linear_before_reset=linear_before_reset
        )
    )
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [5, 1, i])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    model = helper.make_model(graph)
    if external:
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location="weights.bin",
            size_threshold=0,
        )
    else:
        onnx.save_model(model, str(path))
    return tensors


@pytest.mark.parametrize("linear_before_reset", [0, 1])
def test_onnx_gru_by_operator_semantics(tmp_path, linear_before_reset):
    t = onnx_gru_model(tmp_path / "m.onnx", linear_before_reset=linear_before_reset, external=bool(linear_before_reset))
    (row,) = rows(run(tmp_path / "m.onnx", "--format", "json")).values()
    # the same cell built by hand from the ONNX tensors: z, r, h -> r, z, n
    order = [1, 0, 2]

    def torch_order(a):
        return np.concatenate([np.split(a, 3)[k] for k in order])

    b = t["B"][0]
    cell = Cell(
        "gru",
        torch_order(t["R"][0]),
        torch_order(t["W"][0]),
        torch_order(b[:18]),
        torch_order(b[18:]),
        linear_before_reset=bool(linear_before_reset),
    )
    assert row["cell"] == "gru" and row["name"] == "gru.weight_hh_l0"
    assert row["lyapunov"] == pytest.approx(max_lyapunov(cell).value, rel=1e-9)
    assert row["gate_radii"]["z"] == pytest.approx(
        np.abs(np.linalg.eigvals(t["R"][0][:6].astype(np.float64))).max(), rel=1e-6
    )


def test_onnx_constant_followed_and_computed_weight_not_checked(tmp_path):
    onnx_gru_model(tmp_path / "c.onnx", linear_before_reset=1, constant=True)
    assert rows(run(tmp_path / "c.onnx", "--format", "json"))["gru.weight_hh_l0"]["cell"] == "gru"
    onnx_gru_model(tmp_path / "x.onnx", linear_before_reset=1, computed=True)
    result = run(tmp_path / "x.onnx", "--format", "json")
    (row,) = rows(result).values()
    assert row["verdict"] == "not checked" and "computed in the graph" in row["reasons"][0] and result.exit_code == 1
    assert run(tmp_path / "x.onnx", "--allow-unchecked").exit_code == 0


@pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::UserWarning"
)  # the libraries building the files warn
def test_onnx_gru_exported_from_torch_matches_its_state_dict(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    torch.manual_seed(0)
    gru = torch.nn.GRU(5, 8, bidirectional=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(gru, (torch.randn(3, 1, 5),), str(tmp_path / "g.onnx"), dynamo=False)
    except Exception as exc:  # the legacy exporter may be unavailable in some torch builds
        pytest.skip(f"torch.onnx.export failed: {type(exc).__name__}")
    torch.save(gru.state_dict(), tmp_path / "g.pt")
    exported = sorted(rows(run(tmp_path / "g.onnx", "--format", "json")).values(), key=lambda r: r["direction"])
    native = sorted(rows(run(tmp_path / "g.pt", "--format", "json")).values(), key=lambda r: r["direction"])
    assert [r["direction"] for r in exported] == ["forward", "reverse"]
    assert [r["lyapunov"] for r in exported] == pytest.approx([r["lyapunov"] for r in native], rel=1e-6)


@pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::UserWarning"
)  # the libraries building the files warn
@pytest.mark.slow
def test_keras_lstm_keras_and_h5(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="keras is not installed: pip install 'specdiag[keras]'")
    pytest.importorskip("h5py", reason="h5py is not installed")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            keras.layers.LSTM(6, return_sequences=True),
            keras.layers.Bidirectional(keras.layers.GRU(4)),
        ]
    )
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    new, legacy = rows(run(tmp_path / "m.keras", "--format", "json")), rows(run(tmp_path / "m.h5", "--format", "json"))
    lstm = new["layers/lstm/cell/recurrent_kernel"]
    kernel = model.layers[0].cell.recurrent_kernel.numpy()
    assert lstm["cell"] == "lstm" and lstm["input_size"] == 3
    assert lstm["gate_radii"]["f"] == pytest.approx(
        np.abs(np.linalg.eigvals(kernel[:, 6:12].astype(float))).max(), rel=1e-6
    )
    assert sorted(r["cell"] + str(r["direction"]) for r in new.values()) == ["gruforward", "grureverse", "lstmNone"]
    assert sorted(r["lyapunov"] for r in new.values()) == pytest.approx(
        sorted(r["lyapunov"] for r in legacy.values()), rel=1e-9
    )


@pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::UserWarning"
)  # the libraries building the files warn
@pytest.mark.slow
def test_torchscript_read_without_running_it(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    torch.jit.script(lstm).save(str(tmp_path / "m.jit"))
    torch.save(lstm.state_dict(), tmp_path / "m.pt")

    def refuse(*args, **kwargs):
        raise AssertionError("torch.jit.load runs the archive's code")

    monkeypatch.setattr(torch.jit, "load", refuse)
    scripted, native = (
        rows(run(tmp_path / "m.jit", "--format", "json")),
        rows(run(tmp_path / "m.pt", "--format", "json")),
    )
    assert set(scripted) == set(native) and len(scripted) == 4
    assert [scripted[k]["lyapunov"] for k in native] == [native[k]["lyapunov"] for k in native]
    (tmp_path / "m.jit").rename(tmp_path / "renamed.pt")  # a TorchScript archive under a .pt name
    result = run(tmp_path / "renamed.pt", "--list")
    assert result.exit_code == 0 and "TorchScript" in result.stdout and "Warning" not in result.output


def test_code_pickle_says_it_was_not_loaded(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed")
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo ran > " + str(tmp_path / "ran"),))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"w": Evil()}, protocol=2))
    result = run(tmp_path / "evil.pt")
    assert result.exit_code == 2 and "was not loaded" in result.stderr and "weights_only=False" not in result.stderr
    assert not (tmp_path / "ran").exists() and len(result.stderr.strip().splitlines()) == 1

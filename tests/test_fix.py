"""`specdiag fix` / `sd.fix_file`: the failing recurrences get radius --target, everything else is
byte-identical tensor by tensor, the record says what was scaled, and `check NEW` passes or the
result says why not."""

import json
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from specdiag._check import check_file
from specdiag._errors import InputError
from specdiag._fix import METADATA_KEY, SIDECAR_SUFFIX, fix_file
from specdiag.cli import app

runner = CliRunner()


def radius(a):
    a = np.asarray(a, dtype=np.float64)
    return float(np.abs(np.linalg.eigvals(a)).max())


def glorot(n, gain, seed):
    return (np.random.default_rng(seed).standard_normal((n, n)) * gain / np.sqrt(n)).astype(np.float32)


def safetensors_tensors(path):
    """name -> (header entry, raw bytes) and the metadata, read by the format's definition."""
    with open(path, "rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(length))
        data = fh.read()
    meta = header.pop("__metadata__", {})
    return {
        k: (v["dtype"], v["shape"], data[v["data_offsets"][0] : v["data_offsets"][1]]) for k, v in header.items()
    }, meta


@pytest.fixture
def st_file(tmp_path):
    save_file = pytest.importorskip("safetensors.numpy", reason="safetensors is not installed").save_file
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml-dtypes is not installed")
    path = tmp_path / "model.safetensors"
    save_file(
        {
            "rnn.W_hh": glorot(48, 1.4, 0),  # fails: radius about 1.4
            "ok.W_rec": glorot(48, 0.5, 1),  # passes
            "emb.weight": np.random.default_rng(2).standard_normal((7, 3)).astype(ml_dtypes.bfloat16),
            "step": np.array([3], dtype=np.int64),
        },
        str(path),
        metadata={"format": "np", "author": "me"},
    )
    return path


def test_safetensors_failing_w_gets_the_target_and_the_rest_is_byte_identical(st_file, tmp_path):
    before, _ = safetensors_tensors(st_file)
    original = st_file.read_bytes()
    result = fix_file(st_file, out=tmp_path / "fixed.safetensors", target=0.95)
    assert st_file.read_bytes() == original  # never in place
    after, meta = safetensors_tensors(tmp_path / "fixed.safetensors")
    assert list(after) == list(before)
    for name in ("ok.W_rec", "emb.weight", "step"):
        assert after[name] == before[name], name
    (record,) = result.rescaled
    assert record.tensor == "rnn.W_hh" and record.part == "all"
    fixed = np.frombuffer(after["rnn.W_hh"][2], dtype="<f4").reshape(48, 48)
    assert radius(fixed) == pytest.approx(0.95, rel=1e-6)
    assert record.radius_after == pytest.approx(0.95, rel=1e-6)
    assert record.factor == pytest.approx(0.95 / record.radius_before)
    np.testing.assert_allclose(fixed, glorot(48, 1.4, 0) * record.factor, rtol=1e-6)
    assert meta["format"] == "np" and meta["author"] == "me"  # the file's own metadata is kept
    stored = json.loads(meta[METADATA_KEY])
    assert stored["rescaled"][0]["factor"] == pytest.approx(record.factor) and stored["target"] == 0.95
    assert (result.verdict_before, result.verdict_after, result.not_fixed, result.unchanged) == ("fail", "ok", [], 3)
    assert check_file(tmp_path / "fixed.safetensors").verdict == "ok"


def test_npz_with_sidecar_record_and_compression_kept(tmp_path):
    path = tmp_path / "w.npz"
    np.savez_compressed(path, W_rec=glorot(32, 1.5, 3).astype(np.float64), bias=np.arange(5.0))
    result = fix_file(path, out=tmp_path / "f.npz")
    with np.load(path) as a, np.load(tmp_path / "f.npz") as b:
        assert a["bias"].tobytes() == b["bias"].tobytes() and b["W_rec"].dtype == np.float64
        assert radius(b["W_rec"]) == pytest.approx(0.99, rel=1e-12)
    import zipfile

    with zipfile.ZipFile(tmp_path / "f.npz") as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
    side = json.loads((tmp_path / ("f.npz" + SIDECAR_SUFFIX)).read_text())
    assert side["rescaled"][0]["tensor"] == "W_rec" and result.record.endswith(SIDECAR_SUFFIX)


def test_torch_checkpoint_rescales_the_candidate_block_only(tmp_path):
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed: pip install torch (CI installs the CPU wheel)"
    )
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"rnn": torch.nn.RNN(4, 32), "gru": torch.nn.GRU(4, 32)})
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(20)
        model.gru.weight_hh_l0[64:].mul_(30)  # the candidate block n
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "epoch": 3, "optimizer": {"state": {}}}, path)
    result = fix_file(path, out=tmp_path / "fixed.pt")
    old = model.state_dict()
    new = torch.load(tmp_path / "fixed.pt", weights_only=True)
    assert new["epoch"] == 3 and new["optimizer"] == {"state": {}}
    fixed = new["model_state_dict"]
    assert [r.tensor for r in result.rescaled] == ["rnn.weight_hh_l0", "gru.weight_hh_l0"]
    assert [r.part for r in result.rescaled] == ["all", "candidate block n"]
    for name, tensor in old.items():
        if name == "gru.weight_hh_l0":
            assert torch.equal(fixed[name][:64], tensor[:64])  # gates r, z untouched
            assert radius(fixed[name][64:]) == pytest.approx(0.99, rel=1e-6)
        elif name == "rnn.weight_hh_l0":
            assert radius(fixed[name]) == pytest.approx(0.99, rel=1e-6)
        else:
            assert torch.equal(fixed[name], tensor), name
    assert result.verdict_after != "fail" and result.not_fixed == []


def test_a_gated_cell_the_candidate_rescale_cannot_settle_is_reported(tmp_path):
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed: pip install torch (CI installs the CPU wheel)"
    )
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 24)
    with torch.no_grad():
        lstm.weight_hh_l0.mul_(25)  # every gate block far above 1
    path = tmp_path / "lstm.pt"
    torch.save(lstm.state_dict(), path)
    result = fix_file(path, out=tmp_path / "fixed.pt")
    assert [r.part for r in result.rescaled] == ["candidate block g"]
    # whatever the check's criterion for gated cells, a failure after the fix is explained
    if result.verdict_after == "fail":
        (item,) = result.not_fixed
        assert item["tensor"] == "weight_hh_l0" and "candidate block" in item["reason"]


def test_diagonal_parameterizations_scale_every_eigenvalue(tmp_path):
    rng = np.random.default_rng(4)
    moduli, phases = rng.uniform(0.3, 0.95, 16), rng.uniform(0.1, 3.0, 16)
    nu_log, theta_log = np.log(-np.log(moduli)), np.log(phases)
    a_log, dt_bias = np.log(rng.uniform(0.01, 0.2, (4, 8))), rng.normal(size=4)
    lam = (rng.uniform(0.5, 1.3, 10) * np.exp(1j * rng.uniform(0, 6, 10))).astype(np.complex64)
    path = tmp_path / "ssm.npz"
    np.savez(
        path,
        **{
            "lru.nu_log": nu_log,
            "lru.theta_log": theta_log,
            "mixer.A_log": a_log,
            "mixer.dt_bias": dt_bias,
            "lambda": lam,
        },
    )
    result = fix_file(path, out=tmp_path / "f.npz", max_radius=0.9, target=0.6, model="ssm", param="auto")
    with np.load(tmp_path / "f.npz") as f:
        assert f["lru.theta_log"].tobytes() == theta_log.tobytes() and f["mixer.dt_bias"].tobytes() == dt_bias.tobytes()
        new_moduli = np.exp(-np.exp(f["lru.nu_log"]))
        np.testing.assert_allclose(new_moduli, moduli * 0.6 / moduli.max(), rtol=1e-12)
        dt = np.logaddexp(0, dt_bias)[:, None]
        old_mod, new_mod = np.exp(-dt * np.exp(a_log)), np.exp(-dt * np.exp(f["mixer.A_log"]))
        np.testing.assert_allclose(new_mod, old_mod * 0.6 / old_mod.max(), rtol=1e-12)
        np.testing.assert_allclose(
            f["lambda"], lam * (0.6 / np.abs(lam).max()), rtol=1e-6
        )  # under --model ssm, lambda is eigenvalues
    assert sorted(r.tensor for r in result.rescaled) == ["lambda", "lru.nu_log", "mixer.A_log"]
    assert result.verdict_after != "fail"


def test_eigenvalue_vectors_are_scaled(tmp_path):
    lam = (np.linspace(0.5, 1.3, 10) * np.exp(1j * np.linspace(0, 6, 10))).astype(np.complex64)
    path = tmp_path / "eig.npy"
    np.save(path, lam)
    result = fix_file(path, out=tmp_path / "f.npy", diagonal=True)
    new = np.load(tmp_path / "f.npy")
    assert new.dtype == np.complex64
    np.testing.assert_allclose(new, lam * (0.99 / 1.3), rtol=1e-6)
    assert result.verdict_after != "fail"


def test_refusals(st_file, tmp_path):
    with pytest.raises(InputError, match="out is required") as err:
        fix_file(st_file)
    assert err.value.param == "out"
    with pytest.raises(InputError, match="is the input file"):
        fix_file(st_file, out=st_file)
    with pytest.raises(InputError, match="suffix"):
        fix_file(st_file, out=tmp_path / "x.npz")
    (tmp_path / "exists.safetensors").write_bytes(b"x")
    with pytest.raises(InputError, match="exists"):
        fix_file(st_file, out=tmp_path / "exists.safetensors")
    with pytest.raises(InputError, match="below max_radius") as err:
        fix_file(st_file, out=tmp_path / "y.safetensors", target=1.0)
    assert err.value.param == "target"
    (tmp_path / "m.csv").write_text("1,2\n3,4\n")
    with pytest.raises(InputError, match="fix writes"):
        fix_file(tmp_path / "m.csv", out=tmp_path / "n.csv")
    assert not (tmp_path / "y.safetensors").exists()


def test_in_place_overwrites_atomically(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, W_rec=glorot(16, 2.0, 5))
    result = fix_file(path, in_place=True)
    assert result.out == str(path) and result.verdict_after != "fail"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz", "w.npz" + SIDECAR_SUFFIX]  # no temporary file left


def test_cli_fix_then_check_passes_and_json_is_one_document(st_file, tmp_path):
    out = tmp_path / "fixed.safetensors"
    res = runner.invoke(app, ["fix", str(st_file), "--out", str(out), "--target", "0.99", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["command"] == "fix" and doc["verdict_after"] != "fail" and doc["rescaled"][0]["tensor"] == "rnn.W_hh"
    assert runner.invoke(app, ["check", str(out)]).exit_code == 0
    res = runner.invoke(app, ["fix", str(st_file)])
    assert res.exit_code == 2 and "--out is required" in res.output


def test_cli_exits_1_and_says_why_when_a_rescale_cannot_help(tmp_path):
    # radius 0.9 but enormous transient growth: the growth gate fails, and scaling to 0.99 would raise it
    w = 0.9 * np.eye(40) + np.diag(np.full(39, 50.0), 1)
    path = tmp_path / "jordan.npz"
    np.savez(path, W_rec=w)
    res = runner.invoke(app, ["fix", str(path), "--out", str(tmp_path / "f.npz")])
    assert res.exit_code == 1, res.output
    assert "not fixed: W_rec" in res.output and "already at most the target" in res.output


def test_readme_fix_snippet_runs_as_printed(st_file, tmp_path, monkeypatch):
    from tests.readme_blocks import readme_blocks

    (code,) = readme_blocks("### Repairing a checkpoint (`fix`)")
    monkeypatch.chdir(tmp_path)
    import specdiag as sd

    scope = {"sd": sd}
    exec(compile(code, "README.md (fix)", "exec"), scope)
    assert scope["result"].verdict_after in ("ok", "warn") and (tmp_path / "fixed.safetensors").is_file()


def test_keras_layout_candidate_block_is_the_c_columns(tmp_path):
    rng = np.random.default_rng(
        0
    )  # a cell whose Lyapunov verdict fails (a big candidate block alone may still pass: SPEC section 8)
    h = 24
    kernel = (rng.standard_normal((h, 4 * h)) / np.sqrt(h)).astype(np.float32)
    kernel[:, 2 * h : 3 * h] *= 30  # the candidate block c (gates i, f, c, o by columns)
    path = tmp_path / "keras.npz"
    np.savez(
        path,
        **{
            "lstm/lstm_cell/recurrent_kernel": kernel,
            "lstm/lstm_cell/kernel": rng.standard_normal((3, 4 * h)).astype(np.float32) * 0.3,
            "lstm/lstm_cell/bias": np.zeros(4 * h, np.float32),
        },
    )
    result = fix_file(path, out=tmp_path / "f.npz")
    assert result.verdict_before == "fail"
    assert [(r.tensor, r.part) for r in result.rescaled] == [("lstm/lstm_cell/recurrent_kernel", "candidate block c")]
    with np.load(tmp_path / "f.npz") as f:
        new = f["lstm/lstm_cell/recurrent_kernel"]
    assert np.array_equal(new[:, : 2 * h], kernel[:, : 2 * h]) and np.array_equal(new[:, 3 * h :], kernel[:, 3 * h :])
    assert radius(new[:, 2 * h : 3 * h]) == pytest.approx(0.99, rel=1e-6)
    assert result.verdict_after != "fail"

"""`check` on the other files people have (sparse reservoirs, SSM parameters, sharded safetensors),
degenerate matrices, hostile names and files, absurd options, the memory guard, --list and --plot."""

import json
import math
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from safetensors.numpy import save_file
from typer.testing import CliRunner

import specdiag._check as check
import specdiag._check_matrix as check_matrix_module

import specdiag._discovery as discovery
from specdiag.cli import app

from .conftest import run_with_peak_rss

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["check", *[str(a) for a in args]])


def one_line_error(result, code=2):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def reservoir(n=120, radius=0.9, seed=0):
    w = scipy.sparse.random(n, n, density=0.1, random_state=seed, format="csr")
    w.data -= 0.5
    return w * (radius / np.abs(np.linalg.eigvals(w.toarray())).max())


def test_sparse_reservoir_dense_and_arpack(tmp_path, monkeypatch):
    w = reservoir()
    scipy.sparse.save_npz(tmp_path / "res.npz", w)
    result = run(tmp_path / "res.npz", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (t,) = doc["tensors"]
    assert doc["kind"] == "scipy.sparse npz" and t["radius"] == pytest.approx(0.9, rel=1e-10)
    monkeypatch.setattr(check_matrix_module, "DENSE_LIMIT", 50)  # force the ARPACK path
    monkeypatch.setattr(check, "DENSE_LIMIT", 50)
    exact = check.check_file(tmp_path / "res.npz", seq_len=50, workers=1).tensors[0]
    report = check.check_file(tmp_path / "res.npz", seq_len=50, workers=1)
    (t2,) = report.tensors
    assert t2.radius == pytest.approx(0.9, rel=1e-8) and "ARPACK" in t2.growth_method and "agree" in t2.growth_method
    assert abs(t2.log10_growth - exact.log10_growth) < 0.2  # a stochastic estimate


def test_lru_parameters(tmp_path):
    rng = np.random.default_rng(0)
    nu_log = np.log(-np.log(rng.uniform(0.5, 0.999, 64)))
    theta_log = np.log(rng.uniform(0.01, 3.0, 64))
    np.savez(
        tmp_path / "lru.npz",
        **{
            "layer.nu_log": nu_log,
            "layer.theta_log": theta_log,
            "layer.gamma_log": np.zeros(64),
            "layer.B_re": np.ones((64, 64)),
        },
    )
    lam = np.exp(-np.exp(nu_log) + 1j * np.exp(theta_log))
    for extra in ([], ["--param", "lru"], ["--diagonal"]):
        result = run(tmp_path / "lru.npz", "--format", "json", *extra)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        (t,) = doc["tensors"]
        assert t["name"] == "layer.lambda" and t["rule"] == "lru-nu_log" and t["diagonal"]
        assert t["radius"] == pytest.approx(np.abs(lam).max(), rel=1e-12)
        assert [s["name"] for s in doc["skipped"]] == ["layer.B_re"]


def test_mamba_a_log_with_step(tmp_path):
    rng = np.random.default_rng(1)
    a_log = np.log(np.tile(np.arange(1, 17, dtype=float), (32, 1)))
    dt_bias = rng.normal(size=32)
    np.savez(tmp_path / "mamba.npz", **{"layers.0.mixer.A_log": a_log, "layers.0.mixer.dt_proj.bias": dt_bias})
    t = json.loads(run(tmp_path / "mamba.npz", "--format", "json").stdout)["tensors"][0]
    dt = np.log1p(np.exp(dt_bias))
    assert t["radius"] == pytest.approx(np.exp(-dt[:, None] * np.exp(a_log)).max(), rel=1e-12)
    assert "dt from layers.0.mixer.dt_proj.bias" in t["rule_reason"]


def test_sharded_safetensors_directory(tmp_path):
    rng = np.random.default_rng(2)
    w0, w1 = rng.normal(size=(20, 20)) / 10, rng.normal(size=(20, 20)) / 10
    save_file({"rnn.weight_hh_l0": w0, "fc.weight": np.eye(20)}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({"rnn.weight_hh_l1": w1}, str(tmp_path / "model-00002-of-00002.safetensors"))
    index = {
        "metadata": {},
        "weight_map": {
            "rnn.weight_hh_l0": "model-00001-of-00002.safetensors",
            "fc.weight": "model-00001-of-00002.safetensors",
            "rnn.weight_hh_l1": "model-00002-of-00002.safetensors",
        },
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    doc = json.loads(run(tmp_path, "--format", "json").stdout)
    assert doc["kind"] == "sharded safetensors"
    # tanh RNN cells without biases: the rest state is the origin, where J = W
    got = {t["name"]: t["rest_state"]["radius"] for t in doc["tensors"]}
    assert got == pytest.approx(
        {
            "rnn.weight_hh_l0": np.abs(np.linalg.eigvals(w0)).max(),
            "rnn.weight_hh_l1": np.abs(np.linalg.eigvals(w1)).max(),
        },
        rel=1e-12,
    )
    assert [s["name"] for s in doc["skipped"]] == ["fc.weight"]


@pytest.mark.parametrize(
    "matrix,verdict",
    [
        (np.zeros((6, 6)), "ok"),
        (np.diag(np.ones(15), 1), "ok"),  # delay line: nilpotent
        (np.eye(5) * 1e300, "fail"),
        (np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0] * 1e12, "fail"),
    ],
    ids=["zero", "nilpotent", "huge-entries", "radius-1e12"],
)
def test_degenerate_matrices_get_a_verdict(tmp_path, matrix, verdict):
    np.save(tmp_path / "w.npy", matrix)
    result = run(tmp_path / "w.npy", "--format", "json")
    assert result.exit_code == (0 if verdict == "ok" else 1), result.output
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    (t,) = json.loads(result.stdout)["tensors"]
    assert t["verdict"] == verdict
    if verdict == "ok":
        assert t["radius"] == 0 and t["log10_power_gain"] is None and "decays to zero" in t["power_note"]
        # sum_{k<t} ||W^k||_F^2 = sum_{k<n} (n - k) for the shift, n for zero: finite and exact
        n = matrix.shape[0]
        total = n if not matrix.any() else n * (n + 1) / 2
        assert t["log10_growth"] == pytest.approx(math.log10(total / (1000 * n)), rel=1e-12)
    else:
        assert t["log10_radius"] > 9


def test_huge_diagonal_and_table_output(tmp_path):
    np.save(tmp_path / "lam.npy", np.array([1e300, 0.5, 0.0]))
    result = run(tmp_path / "lam.npy", "--diagonal")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "nan" not in result.stdout.lower() and "inf " not in result.stdout


def test_jordan_block_fails_by_growth_by_default(tmp_path):
    n = 64
    np.save(tmp_path / "j.npy", 0.5 * np.eye(n) + np.diag(np.ones(n - 1), 1))
    result = run(tmp_path / "j.npy", "--format", "json")
    assert result.exit_code == 1
    (t,) = json.loads(result.stdout)["tensors"]
    assert t["radius"] == pytest.approx(0.5) and t["log10_growth"] > 30
    assert any("max_growth" in r for r in t["reasons"]) and "--max-growth" in result.stderr
    assert run(tmp_path / "j.npy", "--no-growth-gate").exit_code == 0


def test_markup_names_print_as_text(tmp_path):
    names = {
        "[/bold]": np.eye(3) * 0.5,
        "[link=https://evil.example]W_hh[/link]": np.eye(3) * 0.5,
        "[red]x[/red].W_hh": np.eye(3) * 2,
    }
    np.savez(tmp_path / "m.npz", **names)
    result = run(tmp_path / "m.npz", "--key", "*")
    assert result.exit_code == 1 and "Traceback" not in result.output
    for name in names:
        assert name in result.stdout.replace("\n", "")
    assert "[red]x[/red].W_hh: radius" in result.stderr


@pytest.mark.parametrize(
    "args,flag",
    [
        (["--max-radius", "inf"], "--max-radius"),
        (["--seq-len", "2e19"], "--seq-len"),
        (["--workers", "0"], "--workers"),
        (["--max-growth", "nan"], "--max-growth"),
        (["--max-memory", "lots"], "--max-memory"),
        (["--seq-len", "1.5"], "--seq-len"),
    ],
)
def test_absurd_options_one_line(tmp_path, args, flag):
    np.save(tmp_path / "w.npy", np.eye(3) * 0.5)
    assert flag in one_line_error(run(tmp_path / "w.npy", *args))


def test_hostile_files_one_line(tmp_path):
    assert "no weights file found in" in one_line_error(run(tmp_path), code=3)  # a directory is walked: nothing in it
    os.mkfifo(tmp_path / "pipe.npy")
    assert "FIFO" in one_line_error(run(tmp_path / "pipe.npy"))
    (tmp_path / "r.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    assert "not a valid .npz" in one_line_error(run(tmp_path / "r.npz"))
    (tmp_path / "r.npy").write_bytes(np.random.default_rng(0).bytes(4096))
    assert "not a valid .npy" in one_line_error(run(tmp_path / "r.npy"))
    header = json.dumps({"W_hh": {"dtype": "F4", "shape": [2, 2], "data_offsets": [0, 2]}}).encode()
    (tmp_path / "f4.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0")
    assert "dtype 'F4'" in one_line_error(run(tmp_path / "f4.safetensors"))
    np.savez(tmp_path / "obj.npz", W=np.array([object()], dtype=object))
    assert "unpickling" in one_line_error(run(tmp_path / "obj.npz"))


def bomb_header_npz(path, n=20000):
    """An .npz whose member header says n x n float64 (the data itself is not needed to refuse it)."""
    from numpy.lib import format as npy

    import io

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (n, n)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("W.npy", buf.getvalue() + b"\0" * 1024)


def test_memory_budget_refuses_from_the_header(tmp_path):
    bomb_header_npz(tmp_path / "bomb.npz")
    message = one_line_error(run(tmp_path / "bomb.npz"))
    assert (
        "--max-memory" in message
        and "'W'" in message
        and "20000x20000 float64" in message
        and "3.0 GiB stored" in message
    )
    np.save(tmp_path / "w.npy", np.eye(64))
    assert "memory budget of 1000 B" in one_line_error(run(tmp_path / "w.npy", "--max-memory", "1000"))
    assert run(tmp_path / "w.npy", "--max-memory", "1G").exit_code == 0


def test_list_is_a_dry_run(tmp_path):
    np.savez(tmp_path / "m.npz", **{"rnn.W_hh": np.eye(4), "fc.weight": np.eye(4), "fc.bias": np.zeros(4)})
    result = run(tmp_path / "m.npz", "--list", "--format", "json")
    doc = json.loads(result.stdout)
    assert [p["name"] for p in doc["planned"]] == ["rnn.W_hh"] and doc["planned"][0]["rule"] == "generic-recurrent"
    assert [s["name"] for s in doc["skipped"]] == ["fc.weight"]
    assert "generic-recurrent" in run(tmp_path / "m.npz", "--list").stdout


def test_plot_directory(tmp_path):
    np.savez(
        tmp_path / "m.npz", **{"a.W_hh": np.eye(4) * 0.5, "b.W_rec": np.eye(3) * 0.2, "c.weight_hh": np.eye(3) * 0.2}
    )
    result = run(tmp_path / "m.npz", "--plot", tmp_path / "figs", "--format", "json")
    assert result.exit_code == 0, result.output
    plots = json.loads(result.stdout)["plots"]
    assert sorted(os.path.basename(p) for p in plots) == [
        "a.W_hh.png",
        "b.W_rec.png",
        "c.weight_hh.png",
    ]  # a cell: J at rest
    assert all(Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)


def test_rules_table_is_documented():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name, _family, _description in discovery.rules_table():
        assert f"`{name}`" in readme, name


def peak_rss_mb(*args) -> tuple[int, float, str]:
    """(exit code, peak RSS in MiB, stderr) of ``specdiag check ARGS`` in its own process."""
    code, _, err, peak = run_with_peak_rss([sys.executable, "-m", "specdiag", "check", *args])
    return code, peak, err


@pytest.mark.slow
def test_deflated_bomb_peak_rss(tmp_path):
    """A ~3 MB .npz deflating to a 20000 x 20000 float64 (3.2 GB): refused with a small peak RSS."""
    from numpy.lib import format as npy

    path = tmp_path / "bomb.npz"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("W.npy", "w", force_zip64=True) as fh,
    ):
        npy.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (20000, 20000)})
        zeros = bytes(2**24)
        for _ in range(20000 * 20000 * 8 // len(zeros)):
            fh.write(zeros)
    assert path.stat().st_size < 20e6
    code, rss, err = peak_rss_mb(path)
    assert code == 2 and "exceeds" not in err and "max-memory" in err and rss < 400, (rss, err)


@pytest.mark.slow
def test_key_reads_only_the_selected_tensor(tmp_path):
    """A 1 GiB-class bf16 safetensors file: --key W_hh peaks near the selected tensor, not the file."""
    big = 23170  # 23170^2 bf16 = 1.07 GB, written as a hole (never read)
    header = {
        "big.weight": {"dtype": "BF16", "shape": [big, big], "data_offsets": [0, 2 * big * big]},
        "rnn.W_hh": {
            "dtype": "BF16",
            "shape": [1024, 1024],
            "data_offsets": [2 * big * big, 2 * big * big + 2 * 1024 * 1024],
        },
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as fh:
        fh.write(len(raw).to_bytes(8, "little") + raw)
        fh.seek(8 + len(raw) + 2 * big * big)
        w = (np.random.default_rng(0).normal(size=(1024, 1024)) / 64).astype("float32")
        fh.write((w.view(np.uint32) >> 16).astype("<u2").tobytes())
    code, rss, err = peak_rss_mb(path, "--key", "rnn.W_hh", "--seq-len", 10)
    assert code in (0, 1), err
    assert rss < 700, rss  # the file is 1.07 GB; one 1024^2 check needs about 200 MB


def test_keras_flax_and_s4d_rules(tmp_path):
    rng = np.random.default_rng(3)
    h = 6
    keras = rng.normal(size=(h, 4 * h)) / 3  # LSTM recurrent_kernel: gates i, f, c, o by columns
    flax = {
        f"params/cell/{g}/kernel": rng.normal(size=(h, h)) / 3 for g in ("hi", "hf", "hg", "ho", "ii", "if", "ig", "io")
    }
    log_a_real, a_imag, log_dt = rng.normal(size=(4, 8)), rng.normal(size=(4, 8)), rng.normal(size=4) - 3
    np.savez(
        tmp_path / "m.npz",
        **{
            "lstm/lstm_cell/recurrent_kernel:0": keras,
            "lstm/lstm_cell/kernel:0": rng.normal(size=(3, 4 * h)),
            **flax,
            "kernel.log_A_real": log_a_real,
            "kernel.A_imag": a_imag,
            "kernel.log_dt": log_dt,
        },
    )
    doc = json.loads(run(tmp_path / "m.npz", "--format", "json", "--no-growth-gate").stdout)
    got = {t["name"]: t for t in doc["tensors"]}
    row = got["lstm/lstm_cell/recurrent_kernel:0"]
    assert row["cell"] == "lstm" and row["regime"] == "driven" and row["input_size"] == 3
    for i, g in enumerate("ifgo"):
        block = keras[:, i * h : (i + 1) * h]
        assert row["gate_radii"][g] == pytest.approx(np.abs(np.linalg.eigvals(block)).max(), rel=1e-10)
    flax_row = got["params/cell"]
    assert flax_row["rule"] == "flax-hidden-kernel" and flax_row["cell"] == "lstm" and flax_row["input_size"] == h
    assert flax_row["gate_radii"]["f"] == pytest.approx(
        np.abs(np.linalg.eigvals(flax["params/cell/hf/kernel"])).max(), rel=1e-10
    )
    lam = np.exp(np.exp(log_dt)[:, None] * (-np.exp(log_a_real) + 1j * a_imag))
    assert got["kernel.lambda"]["radius"] == pytest.approx(np.abs(lam).max(), rel=1e-12)
    assert not doc["skipped"] and all(
        t["verdict"] != "not checked" for t in doc["tensors"]
    )  # input kernels read with their cells
    assert {
        t["rule"]
        for t in json.loads(run(tmp_path / "m.npz", "--format", "json", "--model", "keras", "--no-growth-gate").stdout)[
            "tensors"
        ]
    } == {"keras-recurrent_kernel"}

"""`specdiag check`: every supported format, known radii, verdicts, exit codes, bad files."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from specdiag import laws

import specdiag._check as check
from specdiag._backend import MATRIX_STREAM, host_rng
from specdiag.cli import app
from specdiag._inits import make_ensemble

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["check", *[str(a) for a in args]])


def rotation_block(n, radius, seed=0):
    """A real n x n matrix with every eigenvalue of modulus `radius` (scaled orthogonal)."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return radius * q


def write(path, arrays):
    suffix = path.suffix
    if suffix == ".npy":
        np.save(path, next(iter(arrays.values())))
    elif suffix == ".npz":
        np.savez(path, **arrays)
    elif suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))
    elif suffix in (".csv", ".txt"):
        np.savetxt(path, next(iter(arrays.values())), delimiter="," if suffix == ".csv" else " ")
    return path


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".safetensors", ".csv", ".txt"])
@pytest.mark.parametrize("radius,code", [(0.5, 0), (1.2, 1)])
def test_formats_and_verdicts(tmp_path, suffix, radius, code):
    path = write(
        tmp_path / f"w{suffix}", {"W": np.diag(np.full(6, radius)) if suffix != ".npz" else rotation_block(8, radius)}
    )
    result = run(path, "--format", "json")
    assert result.exit_code == code, result.output
    doc = json.loads(result.stdout)
    (t,) = doc["tensors"]
    assert t["radius"] == pytest.approx(radius, rel=1e-10)
    assert t["outside_unit_circle"] == (0 if radius < 1 else t["shape"][0])
    assert doc["verdict"] == ("ok" if code == 0 else "fail")
    for k in ("name", "shape", "dtype", "radius", "outside_unit_circle", "spectral_norm", "log10_growth", "verdict"):
        assert k in t


def test_safetensors_half_and_bfloat16(tmp_path):
    from safetensors.numpy import save_file

    w = np.diag(np.full(4, 0.5)).astype(np.float16)
    save_file({"h": w}, str(tmp_path / "h.safetensors"))
    doc = json.loads(run(tmp_path / "h.safetensors", "--format", "json").stdout)
    assert doc["tensors"][0]["dtype"] == "float16" and doc["tensors"][0]["radius"] == pytest.approx(0.5)
    # hand-built bfloat16 file: 1.25 is exact in bfloat16 (0x3FA0)
    header = json.dumps({"b": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}).encode()
    body = np.array([0x3FA0, 0, 0, 0x3F00], dtype="<u2").tobytes()  # diag(1.25, 0.5)
    (tmp_path / "b.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + body)
    result = run(tmp_path / "b.safetensors", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["tensors"][0]["radius"] == pytest.approx(1.25)


def test_diagonal_vectors(tmp_path):
    np.save(tmp_path / "lam.npy", np.array([0.5 + 0.5j, 0.3, -0.6j]))
    result = run(tmp_path / "lam.npy", "--diagonal", "--format", "json", "--seq-len", 50)
    assert result.exit_code == 0
    t = json.loads(result.stdout)["tensors"][0]
    assert t["radius"] == pytest.approx(math.sqrt(0.5)) and t["diagonal"]
    # growth = sum_{k<t} sum_i |lambda_i|^{2k} / (t n)
    lam2 = np.abs([0.5 + 0.5j, 0.3, 0.6]) ** 2
    expected = sum((lam2**k).sum() for k in range(50)) / (50 * 3)
    assert t["log10_growth"] == pytest.approx(math.log10(expected), rel=1e-10)


def test_growth_matches_brute_force():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((20, 20)) / math.sqrt(20)
    r = check.check_matrix("w", w, check.Thresholds(seq_len=30))
    total = sum(np.linalg.norm(np.linalg.matrix_power(w, k), "fro") ** 2 for k in range(30))
    assert r["log10_growth"] == pytest.approx(math.log10(total / (30 * 20)), rel=1e-9)
    power = np.linalg.norm(np.linalg.matrix_power(w, 30), "fro") ** 2 / 20
    assert r["log10_power_gain"] == pytest.approx(math.log10(power), rel=1e-9)
    assert r["spectral_norm"] == pytest.approx(np.linalg.norm(w, 2))


def test_orthogonal_matrix_is_ok_despite_roundoff():
    r = check.check_matrix("q", rotation_block(40, 1.0), check.Thresholds(seq_len=100))
    assert r["verdict"] != "fail" and r["outside_unit_circle"] == 0
    assert r["log10_growth"] == pytest.approx(0.0, abs=1e-10)


def test_glorot_fails_and_rescaled_passes(tmp_path):
    g = make_ensemble("glorot", 200, "real").sample(host_rng(0, MATRIX_STREAM, 0))
    s = make_ensemble("rescaled", 200, "real").sample(host_rng(0, MATRIX_STREAM, 0))
    np.savez(tmp_path / "model.npz", **{"rnn.W_hh": g, "rnn.W_hh_rescaled": s, "rnn.bias": np.zeros(200)})
    result = run(tmp_path / "model.npz", "--key", "rnn.W_hh", "--max-radius", "1.0", "--seq-len", 4096)
    assert result.exit_code == 1 and "rnn.W_hh: radius" in result.stderr and "typical of Glorot" in result.stdout
    result = run(tmp_path / "model.npz", "--key", "*rescaled", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["tensors"][0]["radius"] < 1
    doc = json.loads(run(tmp_path / "model.npz", "--format", "json", "--workers", 2).stdout)
    assert [t["name"] for t in doc["tensors"]] == ["rnn.W_hh", "rnn.W_hh_rescaled"]  # bias skipped


def test_max_growth_threshold(tmp_path):
    np.save(tmp_path / "w.npy", np.diag([0.999, 0.5]))
    assert run(tmp_path / "w.npy", "--seq-len", 1000).exit_code == 0
    result = run(tmp_path / "w.npy", "--seq-len", 1000, "--max-growth", 100, "--max-radius", 1.5)
    # growth = (sum_k 0.998^k + sum_k 0.25^k) / (2 t) < 1: passes a limit of 100
    assert result.exit_code == 0
    np.save(tmp_path / "v.npy", np.diag([1.01, 0.5]))
    result = run(tmp_path / "v.npy", "--seq-len", 1000, "--max-growth", 100, "--max-radius", 1.5)
    assert result.exit_code == 1 and "--max-growth" in result.stderr


def raw(name, data):
    """A setup that writes raw bytes to tmp/name and returns the path."""

    def setup(p):
        (p / name).write_bytes(data)
        return p / name

    return setup


def saved(name, array, npz=False):
    def setup(p):
        (np.savez(p / name, **array) if npz else np.save(p / name, array))
        return p / name

    return setup


@pytest.mark.parametrize(
    "setup,args,message",
    [
        (lambda p: p / "missing.npy", [], "no such file"),
        (raw("empty.npz", b""), [], "empty"),
        (raw("bad.npz", b"PK\x03\x04 not a zip"), [], "corrupt"),
        (raw("bad.safetensors", b'\x10\x00\x00\x00\x00\x00\x00\x00{"a":'), [], "corrupt"),
        (saved("nan.npy", np.array([[1.0, np.nan], [0.0, 1.0]])), [], "NaN/inf entries (first at index (0, 1))"),
        (saved("k.npz", {"a": np.eye(3)}, npz=True), ["--key", "b"], "no tensor matches b (keys)"),
        (saved("r.npz", {"a": np.zeros((2, 3))}, npz=True), ["--key", "a"], "has shape (2, 3)"),
        (raw("w.pt", b"x"), [], "PyTorch"),
        (raw("w.bin", b"x"), [], "not a PyTorch file"),
        (raw("w.xyz", b"x"), [], "unsupported file type"),
        (saved("ok.npy", np.eye(2)), ["--seq-len", "0"], "--seq-len"),
    ],
)
def test_bad_input_exit_2(tmp_path, setup, args, message):
    result = run(setup(tmp_path), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "w.npy", np.eye(50))
    data = (tmp_path / "w.npy").read_bytes()
    (tmp_path / "w.npy").write_bytes(data[: len(data) // 2])
    result = run(tmp_path / "w.npy")
    assert result.exit_code == 2 and "corrupt" in result.stderr


def test_glorot_context_uses_exact_law():
    ctx = check.glorot_context(1.03, 500)
    assert ctx["percentile"] == pytest.approx(float(laws.kostlan(500).cdf(1.03)))
    assert "typical of Glorot at n = 500" in ctx["text"]

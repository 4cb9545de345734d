"""Hostile and careless inputs to check (issue 19): one line and exit 2, or the right number; and the
library's check_matrix with flat thresholds and bad arrays (InputError naming ``a``)."""

import json
import math
import os
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

import specdiag as sd
from specdiag._check import check_matrix
from specdiag.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["check", *[str(a) for a in args]])


def npy_with_header(path, header: bytes, body: bytes = b"\0" * 32):
    header = header + b" " * (63 - (len(header) + 10) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body)
    return path


def one_line_exit_2(result, text):
    assert result.exit_code == 2, result.output
    assert text in result.stderr and "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_malformed_npy_header_is_one_line_everywhere(tmp_path):
    path = npy_with_header(tmp_path / "bad.npy", b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'x': [}")
    one_line_exit_2(run(path), "corrupt .npy header")
    one_line_exit_2(run(path, "--list"), "corrupt .npy header")
    with pytest.raises(sd.InputError, match="corrupt .npy header"):
        sd.check_file(path)


def test_truncated_npy_is_blamed_on_truncation_not_memory(tmp_path):
    path = npy_with_header(tmp_path / "t.npy", b"{'descr': '<f8', 'fortran_order': False, 'shape': (60000, 60000), }")
    one_line_exit_2(run(path), "is truncated: its header promises a 60000x60000")


def test_deeply_nested_json_headers(tmp_path):
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (tmp_path / "d.safetensors").write_bytes(struct.pack("<Q", len(deep)) + deep)
    one_line_exit_2(run(tmp_path / "d.safetensors"), "nested too deeply")
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "model.safetensors.index.json").write_text(
        '{"weight_map": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    one_line_exit_2(run(tmp_path / "shards"), "nested too deeply")


def test_symlink_loop_is_not_no_such_file(tmp_path):
    os.symlink(tmp_path / "b.npy", tmp_path / "a.npy")
    os.symlink(tmp_path / "a.npy", tmp_path / "b.npy")
    one_line_exit_2(run(tmp_path / "a.npy"), "symbolic link loop")


def test_huge_entries_scaled_before_the_eigensolve(tmp_path):
    w = np.zeros((3, 3))
    w[0, 1], w[1, 0], w[2, 2] = 1e300, 1.0, 0.5  # eigenvalues +-1e150 and 0.5
    r = check_matrix(w)
    assert r.radius == pytest.approx(1e150, rel=1e-12) and r.verdict == "fail"
    np.save(tmp_path / "d.npy", np.diag([1e308, 1.0]))
    result = run(tmp_path / "d.npy", "--format", "json")
    (row,) = json.loads(result.stdout)["tensors"]
    assert row["radius"] == pytest.approx(1e308) and "overflows" not in " ".join(row["reasons"])
    text = run(tmp_path / "d.npy").output
    assert not any(
        len(word) > 40 and word.isdigit() for word in text.replace(",", " ").replace(".", " ").split()
    )  # no 300-digit integers


def test_no_runtime_warnings_for_subnormal_or_huge_input(tmp_path):
    np.save(tmp_path / "s.npy", np.eye(3) * 1e-310)
    result = run(tmp_path / "s.npy")
    assert result.exit_code == 0 and "Warning" not in result.stderr
    np.save(tmp_path / "h.npy", np.eye(3) * 1e300)
    assert "Warning" not in run(tmp_path / "h.npy").stderr


def test_check_matrix_flat_thresholds_and_bad_arrays():
    w = np.diag([0.5, 1.2])
    assert check_matrix(w, max_radius=1.5, max_growth=None).verdict == "ok"
    assert check_matrix(w).verdict == "fail" and check_matrix(w, name="w").name == "w"
    assert check_matrix(w, seq_len=7).seq_len == 7
    assert check_matrix("w", w, sd.Thresholds(max_radius=1.5, max_growth=None)).verdict == "ok"  # the older form
    for bad in ([[1.0, 2.0], [3.0]], [["a", "b"], ["c", "d"]], np.zeros((2, 3))):
        with pytest.raises(sd.InputError) as info:
            check_matrix(bad)
        assert info.value.param == "a"


def test_check_matrix_torch_tensors():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    w = torch.eye(4, requires_grad=True) * 0.5
    assert check_matrix(w).radius == pytest.approx(0.5)
    b = (torch.eye(4) * 0.5).to(torch.bfloat16)
    r = check_matrix(b)
    assert r.radius == pytest.approx(0.5) and r.dtype == "bfloat16" and r.tolerance == pytest.approx(2**-7)
    with pytest.raises(sd.InputError, match="meta tensor") as info:
        check_matrix(torch.empty(4, 4, device="meta"))
    assert info.value.param == "a"


def test_plot_directory_left_empty_is_removed(tmp_path):
    np.save(tmp_path / "rect.npy", np.ones((2, 3)))  # nothing to check: the run stops before writing
    result = run(tmp_path / "rect.npy", "--plot", tmp_path / "figs")
    assert result.exit_code == 3 and not (tmp_path / "figs").exists()


def test_control_characters_in_names_are_escaped(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    state = {"enc\x1b[1G ok\n.weight_hh_l0": torch.eye(3) * 0.5}
    torch.save(state, tmp_path / "c.pt")
    for args in ([], ["--list"], ["-v"]):
        out = run(tmp_path / "c.pt", *args).output
        assert "\x1b" not in out and "\\x1b" in out
    assert math.isfinite(json.loads(run(tmp_path / "c.pt", "--format", "json").stdout)["tensors"][0]["lyapunov"])

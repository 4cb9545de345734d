"""`specdiag demo copy-task`: exact gradients, the glorot/rescaled contrast at init, resumable runs."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from specdiag._demo import DemoConfig, _init_params, _loss_and_grads, demo, train_linear_rnn
from specdiag._errors import InputError
from specdiag.cli import app

runner = CliRunner()
TINY = {"n": 170, "seq_len": 48, "delay": 3, "batch": 2, "steps": 12}


def test_backpropagation_through_time_matches_finite_differences():
    rng = np.random.default_rng(0)
    p = {"W": rng.standard_normal((5, 5)) * 0.4, "B": rng.standard_normal((5, 2)), "C": rng.standard_normal((2, 5))}
    x = rng.standard_normal((9, 3, 2))
    _, grads, _ = _loss_and_grads(p, x, 2)
    for name in p:
        numeric = np.zeros_like(p[name])
        for idx in np.ndindex(p[name].shape):
            for sign in (1, -1):
                q = {k: v.copy() for k, v in p.items()}
                q[name][idx] += sign * 1e-6
                numeric[idx] += sign * _loss_and_grads(q, x, 2)[0] / 2e-6
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8)


def test_inits_share_their_normals_and_glorot_explodes_where_rescaled_does_not():
    cfg = DemoConfig(**TINY)
    glorot, rescaled = _init_params(cfg, "glorot", 0.99), _init_params(cfg, "rescaled", 0.99)
    ratio = glorot["W"] / rescaled["W"]
    assert np.allclose(ratio, ratio.flat[0]) and ratio.flat[0] > 1  # the same matrix, scaled by s_n
    assert np.array_equal(glorot["B"], rescaled["B"]) and np.array_equal(glorot["C"], rescaled["C"])
    runs = {m: train_linear_rnn(DemoConfig(**{**TINY, "seq_len": 400, "steps": 1}), m) for m in ("glorot", "rescaled")}
    assert runs["glorot"]["radius"][0] > 1 > runs["rescaled"]["radius"][0]
    assert (
        runs["glorot"]["profiles"][0][-1] > 1e3 * runs["rescaled"]["profiles"][0][-1]
    )  # ||h_T|| at T = 400 >> sqrt(n)


def test_demo_writes_figure_and_tables_and_resumes(tmp_path):
    out = tmp_path / "demo"
    first = demo(out, inits=("glorot", "rescaled"), **TINY)
    assert first.computed == ["glorot", "rescaled"] and first.reused == []
    assert {p.name for p in out.iterdir()} >= {"run.json", "figure.png", "summary.csv", "summary.md", "arrays"}
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "complete" and [row["init"] for row in meta["summary"]] == ["glorot", "rescaled"]
    again = demo(out, inits=("glorot", "rescaled", "half"), **TINY)
    assert again.computed == ["half"] and again.reused == ["glorot", "rescaled"]
    assert again.rows[:2] == first.rows[:2]  # the same numbers, read back
    (out / "arrays" / "glorot.npz").write_bytes(b"truncated")
    assert demo(out, inits=("glorot",), **TINY).computed == ["glorot"]
    with pytest.raises(InputError, match="another run") as err:
        demo(out, inits=("glorot",), **{**TINY, "steps": 13})
    assert err.value.param == "out"
    assert demo(out, inits=("glorot",), force=True, **{**TINY, "steps": 13}).computed == ["glorot"]


def test_same_seed_same_run(tmp_path):
    cfg = DemoConfig(**TINY)
    a, b = train_linear_rnn(cfg, "rescaled"), train_linear_rnn(cfg, "rescaled")
    assert np.array_equal(a["loss"], b["loss"]) and np.array_equal(a["profiles"], b["profiles"])


def test_cli_demo_json_and_refusals(tmp_path):
    args = [
        "demo",
        "copy-task",
        "--out",
        str(tmp_path / "d"),
        "--n",
        "170",
        "--seq-len",
        "30",
        "--delay",
        "2",
        "--batch",
        "2",
        "--steps",
        "4",
    ]
    res = runner.invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["command"] == "demo" and [r["init"] for r in doc["rows"]] == ["glorot", "rescaled"]
    res = runner.invoke(app, ["demo", "copy-task", "--out", str(tmp_path / "e"), "--n", "100", "--steps", "2"])
    assert res.exit_code == 2 and "n = 100" in res.output and "calibrated" in res.output
    assert not (tmp_path / "e").exists()
    res = runner.invoke(app, ["demo", "adding", "--out", str(tmp_path / "f")])
    assert res.exit_code == 2 and "task" in res.output

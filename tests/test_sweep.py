"""Sweeps: identical results across executors and chunkings, resume, failures, merge, figures."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from specdiag.cli import app
from specdiag._executors import LocalExecutor
from specdiag._inits import make_ensemble
from specdiag._spectra import sample_radii
from specdiag._errors import InputError

import specdiag._sweep as sweep

GRID = dict(ns=(20, 40), inits=("glorot", "lru"), fields=("real", "complex"), samples=12, seed=4, dynamics=(1.0, 2.0))


def radii_of(out):
    return {
        p.name: np.concatenate([np.load(f)["radii"] for f in sorted(p.glob("*.npz"))])
        for p in sorted((out / "tasks").iterdir())
    }


def test_grid_points_and_tasks():
    cfg = sweep.SweepConfig(**GRID, chunk_size=5)
    points = sweep.grid(cfg)
    assert [p.id for p in points] == [
        "n20-glorot-real",
        "n20-glorot-complex",
        "n20-lru-complex",
        "n40-glorot-real",
        "n40-glorot-complex",
        "n40-lru-complex",
    ]
    tasks = sweep.make_tasks(cfg, {p: None for p in points})
    assert len(tasks) == 6 * 3 and [(t.start, t.stop) for t in tasks[:3]] == [(0, 5), (5, 10), (10, 12)]


def test_results_identical_across_chunkings_and_pools(tmp_path):
    a = sweep.run_sweep(sweep.SweepConfig(**GRID, chunk_size=12), tmp_path / "a", LocalExecutor(1))
    b = sweep.run_sweep(sweep.SweepConfig(**GRID, chunk_size=5), tmp_path / "b", LocalExecutor(2))
    ra, rb = radii_of(tmp_path / "a"), radii_of(tmp_path / "b")
    assert ra.keys() == rb.keys()
    for key in ra:
        np.testing.assert_array_equal(ra[key], rb[key])
    strip = lambda doc: [{k: v for k, v in p.items()} for p in doc["points"]]  # noqa: E731
    assert strip(a) == strip(b)
    # and they are the radius command's radii for the same seed (dense: this sweep's dynamics use the matrices)
    np.testing.assert_array_equal(
        ra["n40-glorot-complex"], sample_radii(make_ensemble("glorot", 40, "complex"), 12, seed=4, sampler="dense")
    )


def test_local_pool_and_dask_cluster_agree_bit_for_bit(tmp_path):
    pytest.importorskip("dask.distributed")
    from specdiag._executors import DaskExecutor

    cfg = sweep.SweepConfig(**{**GRID, "dynamics": ()}, chunk_size=4)
    sweep.run_sweep(cfg, tmp_path / "local", LocalExecutor(2))
    executor = DaskExecutor("local", workers=2, processes=False)
    try:
        sweep.run_sweep(sweep.SweepConfig(**{**GRID, "dynamics": ()}, chunk_size=7), tmp_path / "dask", executor)
    finally:
        executor.close()
    ra, rb = radii_of(tmp_path / "local"), radii_of(tmp_path / "dask")
    for key in ra:
        np.testing.assert_array_equal(ra[key], rb[key])


def test_resume_recomputes_only_missing_task(tmp_path):
    cfg = sweep.SweepConfig(**GRID, chunk_size=5)
    sweep.run_sweep(cfg, tmp_path, LocalExecutor(1))
    before = radii_of(tmp_path)
    victim = tmp_path / "tasks" / "n40-glorot-real" / "0000005-0000010.npz"
    victim.unlink()
    seen = []
    doc = sweep.run_sweep(
        cfg, tmp_path, LocalExecutor(1), on_task=lambda task, err: seen.append((task.point.id, task.start))
    )
    assert seen == [("n40-glorot-real", 5)]
    assert doc["computed_tasks"] == 1 and doc["reused_tasks"] == 17
    after = radii_of(tmp_path)
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


def test_failing_task_is_reported_and_does_not_corrupt_others(tmp_path, monkeypatch):
    real = sweep.compute_task

    def flaky(task):
        if task.point.id == "n20-glorot-complex" and task.start == 5:
            raise RuntimeError("injected failure")
        return real(task)

    monkeypatch.setattr(sweep, "compute_task", flaky)
    cfg = sweep.SweepConfig(**GRID, chunk_size=5)
    doc = sweep.run_sweep(cfg, tmp_path, LocalExecutor(1))
    assert doc["failed_tasks"] == [
        {"point": "n20-glorot-complex", "start": 5, "stop": 10, "error": "RuntimeError: injected failure"}
    ]
    status = {p["id"]: p["complete"] for p in doc["points"]}
    assert status.pop("n20-glorot-complex") is False and all(status.values())
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "incomplete"
    monkeypatch.setattr(sweep, "compute_task", real)
    doc = sweep.run_sweep(cfg, tmp_path, LocalExecutor(1))
    assert not doc["failed_tasks"] and all(p["complete"] for p in doc["points"]) and doc["computed_tasks"] == 1


def test_merged_table_matches_task_results(tmp_path):
    cfg = sweep.SweepConfig(**GRID, chunk_size=5)
    sweep.run_sweep(cfg, tmp_path, LocalExecutor(2))
    radii = radii_of(tmp_path)
    with open(tmp_path / "sweep.csv") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    for key, values in radii.items():
        assert float(rows[key]["radius_mean"]) == pytest.approx(values.mean(), rel=1e-14)
        assert float(rows[key]["p_above_1"]) == pytest.approx(np.mean(values > 1))
        assert int(rows[key]["samples"]) == 12
    doc = json.loads((tmp_path / "sweep.json").read_text())
    point = next(p for p in doc["points"] if p["id"] == "n40-glorot-complex")
    assert point["p_above_1_lo"] <= point["p_above_1"] <= point["p_above_1_hi"]
    assert point["dynamics_k"] == [6, 13] and len(point["q_mean"]) == 2 and point["q_exact"][0] > 1


def test_other_options_into_same_dir_are_refused(tmp_path):
    sweep.run_sweep(sweep.SweepConfig(**GRID), tmp_path, LocalExecutor(1))
    with pytest.raises(InputError, match="resume="):
        sweep.run_sweep(sweep.SweepConfig(**{**GRID, "samples": 13}), tmp_path, LocalExecutor(1))


@pytest.mark.slow
def test_cli_sweep_resume_and_plot(tmp_path):
    runner = CliRunner()
    out = tmp_path / "sw"
    result = runner.invoke(
        app,
        [
            "sweep",
            "--n",
            "20,40",
            "--init",
            "glorot",
            "--field",
            "real,complex",
            "--samples",
            "10",
            "--chunk-size",
            "4",
            "--dynamics",
            "1,2",
            "--out",
            str(out),
            "--format",
            "json",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["command"] == "sweep" and len(doc["points"]) == 4
    result = runner.invoke(app, ["sweep", "--resume", str(out), "--workers", "1"])
    assert result.exit_code == 0 and "0 tasks computed, 12 reused" in result.stdout
    result = runner.invoke(app, ["sweep", "--from", str(out), "--plot"])
    assert result.exit_code == 0, result.output
    assert {"sweep_excess.png", "sweep_p_above_1.png", "sweep_collapse.png"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize(
    "args,message",
    [
        (["--n", "10"], "--out"),
        (["--n", "10,x", "--out", "{tmp}"], "comma-separated"),
        (["--n", "10", "--init", "nope", "--out", "{tmp}"], "unknown --init nope"),
        (["--n", "10", "--dynamics", "a", "--out", "{tmp}"], "--dynamics"),
        (["--resume", "{tmp}/none"], "no sweep to resume"),
        (["--from", "{tmp}/none"], "no readable sweep.json"),
    ],
)
def test_cli_sweep_errors(tmp_path, args, message):
    result = CliRunner().invoke(app, ["sweep", *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_sampler_is_passed_through_and_recorded(tmp_path):
    """Radius-only sweeps take sampler= (recorded in run.json); dense gives sample_radii's dense radii."""
    import specdiag as sd  # noqa: PLC0415

    res = sd.sweep([12], out=tmp_path / "d", samples=6, chunk_size=4, seed=3, sampler="dense", workers=1)
    assert (
        res.config["sampler"] == "dense"
        and json.loads((tmp_path / "d" / "run.json").read_text())["config"]["sampler"] == "dense"
    )
    np.testing.assert_array_equal(
        radii_of(tmp_path / "d")["n12-glorot-real"],
        sample_radii(make_ensemble("glorot", 12), 6, seed=3, sampler="dense"),
    )
    res = sd.sweep([12], out=tmp_path / "h", samples=6, chunk_size=4, seed=3, workers=1)
    assert res.config["sampler"] == "hessenberg"
    np.testing.assert_array_equal(
        radii_of(tmp_path / "h")["n12-glorot-real"],
        sample_radii(make_ensemble("glorot", 12), 6, seed=3, sampler="hessenberg"),
    )
    assert sweep.SweepConfig(ns=(8,), dynamics=(1.0,)).sampler == "dense"
    with pytest.raises(InputError, match="sampler") as info:
        sd.sweep([8], out=tmp_path / "x", dynamics=[1.0], sampler="hessenberg")
    assert info.value.param == "sampler" and not (tmp_path / "x").exists()


def test_a_local_gpu_sweep_runs_in_one_process_from_the_library_too(monkeypatch):
    """sd.sweep(device="gpu") picks the executor as `specdiag sweep --device gpu` does: CUDA does not
    survive fork, so a local GPU sweep runs inline (one worker); a Dask scheduler keeps its workers."""
    monkeypatch.setattr(sweep, "resolve_device", lambda device, *a, **k: "gpu" if device in ("gpu", "auto") else "cpu")
    cfg = sweep.SweepConfig(ns=(8,), device="gpu")
    assert sweep._executor_for(cfg, None, 4).workers == 1
    assert sweep._executor_for(sweep.SweepConfig(ns=(8,), device="auto"), None, 2).workers == 1
    assert sweep._executor_for(sweep.SweepConfig(ns=(8,), device="cpu"), None, 2).workers == 2

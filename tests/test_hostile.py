"""Hostile and careless input (issue 12): each test builds the input and checks exit code 2 (or
130/143), one line on stderr, no traceback, bounded memory, and an --out directory that is either
complete or untouched."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import specdiag._calibration as calibration

import specdiag._report as report

import specdiag._resources as resources
from specdiag.cli import app
from specdiag._errors import InputError
from specdiag._executors import DaskExecutor, check_scheduler_address, probe_dask_scheduler
from specdiag._inits import make_ensemble

from .conftest import run_with_peak_rss

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None):
    """In-process CLI run: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code, out, err, expected=2):
    assert code == expected, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def spawn(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kw.pop("env", {})}
    return subprocess.Popen(
        [sys.executable, "-m", "specdiag", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def run_measured(args, env=None):
    """Run the CLI in a child; (exit code, stdout, stderr, the child's own peak RSS in MiB)."""
    return run_with_peak_rss([sys.executable, "-m", "specdiag", *args], env={"PYTHONPATH": str(ROOT), **(env or {})})


# ---------------------------------------------------------------- 1. resource exhaustion


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["radius", "--n", 1_000_000, "--samples", 1],
        ["radius", "--n", 10, "--samples", 10**12],
        ["trajectory", "--n", 50, "--steps", 10**9, "--matrices", 2],
        ["hidden", "--n", 1_000_000, "--steps", 10],
    ],
)
def test_memory_bombs_refused_up_front_with_bounded_memory(args, tmp_path):
    code, out, err, peak = run_measured([*args, "--out", tmp_path / "run"])
    line = one_line_error(code, out, err)
    assert "memory" in line and "budget" in line
    assert peak < 400, f"peak RSS {peak:.0f} MiB"
    assert not (tmp_path / "run").exists()


def test_memory_budget_from_environment(monkeypatch):
    monkeypatch.setenv("SPECDIAG_MAX_MEMORY", "1M")
    line = one_line_error(*cli("radius", "--n", 400, "--samples", 10))
    assert line.startswith("error: --n 400 needs about") and "SPECDIAG_MAX_MEMORY" in line


def test_long_runs_warn_in_one_line_and_absurd_ones_are_refused(caplog):
    with caplog.at_level("WARNING", logger="specdiag"):
        resources.guard(resources.theory_estimate(10**7))
    assert len(caplog.records) == 1 and "will take about" in caplog.records[0].getMessage()
    with pytest.raises(InputError, match="would run for about"):
        resources.guard(resources.radius_estimate(4000, 10**7, workers=1))


def test_parse_size_rejects_nonsense():
    assert resources.parse_size("1.5G") == 3 << 29
    for bad in ("-1G", "lots", "0", "nan"):
        with pytest.raises(InputError):
            resources.parse_size(bad)


def test_disk_check_refuses_a_run_larger_than_the_free_space(tmp_path):
    with pytest.raises(InputError, match="free"):
        resources.check_disk(tmp_path / "new" / "dir", 1 << 62)


# ---------------------------------------------------------------- 2. markup in user strings


def test_markup_in_paths_and_messages_is_printed_literally(tmp_path):
    bogus = tmp_path / "[/bold][link=x]y.csv"
    line = one_line_error(*cli("fit-gumbel", "--from", bogus, "--n", 20))
    assert "[/bold][link=x]y.csv" in line
    out_dir = tmp_path / "[red]out[/red]"
    code, _, err = cli("radius", "--n", 12, "--samples", 3, "--init", "lru", "--out", out_dir)
    assert code == 0 and "[red]out[/red]" in err and (out_dir / "run.json").exists()


# ---------------------------------------------------------------- 3. overwriting another run


def test_out_refuses_foreign_files_and_other_runs_until_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    line = one_line_error(*cli("radius", "--n", 12, "--samples", 3, "--init", "lru", "--out", out))
    assert "force" in line and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert cli("radius", "--n", 12, "--samples", 3, "--init", "lru", "--out", out, "--force")[0] == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "radii.csv").exists()
    # the same command and parameters again: a rerun, allowed
    assert cli("radius", "--n", 12, "--samples", 3, "--init", "lru", "--out", out)[0] == 0
    # other parameters, or another command: refused, the run untouched
    before = (out / "run.json").read_bytes()
    line = one_line_error(*cli("radius", "--n", 13, "--samples", 3, "--init", "lru", "--out", out))
    assert "other n" in line
    line = one_line_error(*cli("trajectory", "--n", 12, "--steps", 5, "--matrices", 1, "--init", "lru", "--out", out))
    assert "holds a radius run" in line
    assert (out / "run.json").read_bytes() == before


def test_failed_validation_leaves_no_out_directory(tmp_path):
    for args in (
        ["radius", "--n", 1],
        ["radius", "--n", 10, "--samples", 0],
        ["trajectory", "--n", 10, "--blowup", "inf"],
        ["reproduce", "--quick", "--figure", "9"],
    ):
        one_line_error(*cli(*args, "--out", tmp_path / "new"))
        assert not (tmp_path / "new").exists(), args


# ---------------------------------------------------------------- 4. full disks, failed writes, umask


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_is_one_line_and_leaves_no_partial_run(tmp_path, monkeypatch):
    monkeypatch.setattr(report.os, "fsync", _enospc)
    line = one_line_error(*cli("radius", "--n", 12, "--samples", 3, "--init", "lru", "--out", tmp_path / "run"))
    assert "ENOSPC" in line and "errno 28" in line and str(tmp_path / "run") in line
    assert list(tmp_path.iterdir()) == []  # no run directory, no temporary directory


def test_disk_full_while_rewriting_a_run_keeps_no_stale_manifest(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert cli("radius", "--n", 12, "--samples", 3, "--init", "lru", "--out", out)[0] == 0
    monkeypatch.setattr(report.os, "fsync", _enospc)
    one_line_error(*cli("radius", "--n", 12, "--samples", 3, "--init", "lru", "--out", out))
    assert not (out / "run.json").exists()  # radii.csv may be old or new; no manifest vouches for it
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_failure_names_path_and_errno(tmp_path, monkeypatch):
    monkeypatch.setattr(report.os, "fsync", _enospc)
    with pytest.raises(report.WriteError, match=r"errno 28, ENOSPC"):
        report.atomic_write_text(tmp_path / "a.txt", "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_respect_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        report.atomic_write_text(tmp_path / "a.txt", "x")
        report.write_run_files(tmp_path / "run", {"run.json": "{}", "radii.csv": "index,radius\n"})
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == mode
    assert (tmp_path / "run" / "radii.csv").stat().st_mode & 0o777 == mode
    assert (tmp_path / "run").stat().st_mode & 0o777 == mode | ((mode & 0o444) >> 2)


# ---------------------------------------------------------------- 5. interrupted and killed runs


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for_workers(proc, count, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = _children(proc.pid)
        if len(kids) >= count:
            return kids
        time.sleep(0.1)
    pytest.fail(f"no {count} workers appeared: {proc.communicate(timeout=5)}")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux") or os.cpu_count() < 2, reason="Linux, 2 cores")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_die_with_the_main_process(sig, tmp_path):
    proc = spawn(
        [
            "radius",
            "--n",
            400,
            "--samples",
            3000,
            "--workers",
            2,
            "--init",
            "glorot",
            "--format",
            "json",
            "--out",
            tmp_path / "run",
        ]
    )
    workers = _wait_for_workers(proc, 2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "orphaned workers"
    run = tmp_path / "run"
    if sig == signal.SIGKILL:  # nothing runs after kill -9: the claimed --out stays, empty (a rerun takes it as new)
        assert not run.exists() or not any(run.iterdir())
    else:
        assert not run.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert out == ""
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and err.strip() == "terminated (SIGTERM)", err


def _tiny_reproduce(out, **kw):
    from specdiag._reproduce import Config, run  # noqa: PLC0415

    cfg = Config.quick(n=30, samples=12, figures=("3",), rescale="calibrated")
    return run(cfg, out, device="cpu", **kw)


def test_resume_removes_temp_files_and_recomputes_a_truncated_stage(tmp_path, caplog):
    out = tmp_path / "run"
    first = _tiny_reproduce(out)
    stage = out / "arrays" / "radii-real-glorot.npz"
    original = stage.read_bytes()
    stage.write_bytes(original[: len(original) // 2])  # a kill mid-write without atomic rename
    (out / "arrays" / ".radii-complex-glorot.npz.abc123.tmp").write_bytes(b"partial")
    (out / ".summary.csv.xyz.tmp").write_bytes(b"partial")
    with caplog.at_level("WARNING", logger="specdiag"):
        meta = _tiny_reproduce(out)
    assert meta["stages_recovered"] == ["radii-real-glorot"]
    assert list(meta["stages_computed"]) == ["radii-real-glorot"]
    assert any("unreadable" in r.getMessage() and "recomputing" in r.getMessage() for r in caplog.records)
    assert stage.read_bytes() == original and not list(out.rglob("*.tmp"))
    assert first["status"] == meta["status"] == "complete"


def test_sweep_resume_recomputes_a_truncated_task(tmp_path, caplog):
    from specdiag._executors import LocalExecutor  # noqa: PLC0415
    from specdiag._sweep import SweepConfig, run_sweep  # noqa: PLC0415

    cfg = SweepConfig(ns=(8,), inits=("lru",), fields=("complex",), samples=20, chunk_size=10).validate()
    out = tmp_path / "sweep"
    first = run_sweep(cfg, out, LocalExecutor(1))
    task = sorted(out.glob("tasks/*/*.npz"))[0]
    good = task.read_bytes()
    task.write_bytes(good[:40])
    with caplog.at_level("WARNING", logger="specdiag"):
        again = run_sweep(cfg, out, LocalExecutor(1))
    assert again["computed_tasks"] == 1 and again["reused_tasks"] == 1
    assert task.read_bytes() == good and again["points"] == first["points"]
    assert any("unreadable" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_ctrl_c_under_the_local_dask_scheduler_is_one_line(tmp_path):
    pytest.importorskip("dask.distributed")
    proc = spawn(
        [
            "sweep",
            "--n",
            400,
            "--samples",
            2000,
            "--chunk-size",
            1,
            "--scheduler",
            "local",
            "--workers",
            1,
            "--out",
            tmp_path / "s",
            "--format",
            "json",
        ],
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not list((tmp_path / "s").glob("tasks/*/*.npz")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and out == ""
    assert "Traceback" not in err and [line for line in err.splitlines() if line.strip()] == ["interrupted"], err


# ---------------------------------------------------------------- 7. absurd options


@pytest.mark.parametrize(
    "args, flag",
    [
        (["radius", "--n", 10, "--init", "lru", "--rmax", "inf"], "--rmax"),
        (["radius", "--n", 10, "--init", "lru", "--max-phase", "inf"], "--max-phase"),
        (["hidden", "--n", 10, "--blowup", "inf"], "--blowup"),
        (["sweep", "--n", 10, "--workers", 0, "--out", "x"], "--workers"),
        (["radius", "--n", 10, "--workers", 0], "--workers"),
        (["radius", "--n", 10, "--samples", -1], "--samples"),
        (["trajectory", "--n", 10, "--every", 0], "--every"),
        (["theory", "--n", 1], "--n"),
        (["sweep", "--n", 10, "--scheduler", "foo://bar", "--out", "x"], "--scheduler"),
    ],
)
def test_absurd_options_name_their_flag(args, flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(*cli(*args))
    assert line.startswith(f"error: {flag}") or f" {flag}" in line, line
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_too_many_workers_are_capped_and_said_in_one_line():
    proc = spawn(["radius", "--n", 10, "--samples", 8, "--init", "lru", "--workers", 1000, "--format", "json"])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and json.loads(out)["samples"] == 8
    assert err.splitlines() == [
        f"--workers 1000 exceeds the {len(os.sched_getaffinity(0))} available cores: using "
        f"{len(os.sched_getaffinity(0))}"
    ]


# ---------------------------------------------------------------- 8. untrusted caches and peers


@pytest.mark.parametrize("edit", [{"factor": -0.5}, {"factor": 2.0}, {"samples": 7}])
def test_edited_calibration_cache_is_recomputed(tmp_path, monkeypatch, caplog, edit):
    monkeypatch.setenv("SPECDIAG_CACHE_DIR", str(tmp_path))
    first = calibration.real_calibration(make_ensemble("glorot", 12, "real"), 0.8, seed=1, samples=60)
    path = next(tmp_path.glob("*.json"))
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    with caplog.at_level("WARNING", logger="specdiag"):
        again = calibration.real_calibration(make_ensemble("glorot", 12, "real"), 0.8, seed=1, samples=60)
    assert again == first and any("invalid" in r.getMessage() for r in caplog.records)


def test_silent_scheduler_fails_within_the_timeout():
    pytest.importorskip("dask.distributed")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(InputError, match="no Dask handshake within 0.5 s"):
            DaskExecutor(address, timeout=0.5)
        assert time.monotonic() - start < 2.0


def test_non_dask_service_is_refused_without_a_huge_allocation():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)

        def answer():
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                time.sleep(0.5)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(InputError, match="is not a Dask scheduler"):
            probe_dask_scheduler(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=2)
        thread.join(2)


@pytest.mark.parametrize("address", ["foo://bar", "tcp://host", "tcp://host:99999", "tcp://h:1/path"])
def test_malformed_scheduler_addresses(address):
    with pytest.raises(InputError, match="^scheduler"):
        check_scheduler_address(address)


def test_silent_scheduler_on_the_command_line(tmp_path):
    pytest.importorskip("dask.distributed")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        start = time.monotonic()
        line = one_line_error(
            *cli(
                "sweep",
                "--n",
                10,
                "--out",
                tmp_path / "s",
                "--scheduler",
                f"tcp://127.0.0.1:{server.getsockname()[1]}",
                env={"SPECDIAG_CONNECT_TIMEOUT": "0.5"},
            )
        )
    assert (
        line.startswith("error: --scheduler") and time.monotonic() - start < 10
    )  # bounded (Dask import included), not a hang
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------- 9. fit-gumbel --from


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("constant.json", json.dumps([1.0] * 50), "all equal"),
        ("negative.json", json.dumps([-1.0] + [1.0 + i / 100 for i in range(50)]), "non-negative"),
        ("nested.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("objects.json", json.dumps({"radii": [[1.0], [2.0]]}), "list of numbers"),
        ("short.csv", "index,radius\n1,2\n3\n", "no column 2"),
        ("text.npy", "not an npy", "cannot read radii"),
    ],
)
def test_fit_gumbel_from_hostile_files(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    line = one_line_error(*cli("fit-gumbel", "--from", path, "--n", 20))
    assert expected in line


@pytest.mark.parametrize("header", [b"{'descr': '<f8', 'shape': (((}", b"{'descr': '<f8', 'shape': " + b"(" * 5000])
def test_fit_gumbel_from_an_npy_with_a_malformed_header_dict(tmp_path, header):
    """NumPy's header parser raises tokenize (and recursion) errors on these: one line, exit 2."""
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header + b"\n").to_bytes(2, "little") + header + b"\n" + bytes(32))
    line = one_line_error(*cli("fit-gumbel", "--from", path, "--n", 20))
    assert "corrupt .npy header" in line and line.startswith("error: --from")


def test_fit_gumbel_from_a_directory_or_fifo(tmp_path):
    assert "is a directory" in one_line_error(*cli("fit-gumbel", "--from", tmp_path, "--n", 20))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in one_line_error(*cli("fit-gumbel", "--from", fifo, "--n", 20))


def test_fit_gumbel_npy_header_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.npy"
    np.save(path, np.zeros(1000))
    monkeypatch.setenv("SPECDIAG_MAX_MEMORY", "4K")
    assert "memory budget" in one_line_error(*cli("fit-gumbel", "--from", path, "--n", 20))


# ---------------------------------------------------------------- 10. cosmetic but real


def test_only_radius_offers_csv():
    from typer.main import get_command  # noqa: PLC0415

    group = get_command(app)
    offering = sorted(
        name
        for name, cmd in group.commands.items()
        if any("csv" in (p.help or "") and "--format" in p.opts for p in cmd.params)
    )
    assert offering == ["radius"]


def test_successful_runs_print_nothing_on_stderr(tmp_path):
    for args in (
        ["radius", "--n", 12, "--samples", 20, "--init", "uniform-diag", "--format", "json"],
        ["hidden", "--n", 12, "--steps", 400, "--matrices", 2, "--inputs", 2, "--init", "lru", "--format", "json"],
        [
            "trajectory",
            "--n",
            12,
            "--steps",
            300,
            "--matrices",
            2,
            "--inputs",
            2,
            "--field",
            "complex",
            "--format",
            "json",
        ],
    ):
        code, out, err = cli(*args)
        assert code == 0 and err == "" and json.loads(out), (args, err)


# ---------------------------------------------------------------- 9. run directories, limits, clusters (issue 19)


def test_a_locked_run_directory_refuses_a_second_run_in_one_line(tmp_path):
    """Two runs into one directory: the second finds it locked (flock held by another process)."""
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        for args in (
            ["sweep", "--n", 8, "--samples", 4, "--workers", 1],
            ["radius", "--n", 8, "--samples", 3],
            ["reproduce", "--quick", "--figure", "3", "--n", 20, "--samples", 4],
        ):
            line = one_line_error(*cli(*args, "--out", out))
            assert "in use by another specdiag run" in line and line.startswith("error: --out"), line
        assert list(out.iterdir()) == []  # nothing written, nothing mixed
    finally:
        holder.kill()
        holder.communicate()


@pytest.mark.slow
def test_two_sweeps_started_together_do_not_mix(tmp_path):
    """Different seeds into one new directory at once: one completes, the other exits 2 in one line."""
    out = tmp_path / "s"
    procs = [
        spawn(
            [
                "sweep",
                "--n",
                12,
                "--samples",
                40,
                "--chunk-size",
                2,
                "--seed",
                seed,
                "--workers",
                1,
                "--out",
                out,
                "--format",
                "json",
            ]
        )
        for seed in (0, 7)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    lines = [line for line in loser.splitlines() if line.strip()]
    # locked while the winner runs; or, had the winner finished first, a sweep with other options
    assert len(lines) == 1 and ("in use by another specdiag run" in lines[0] or "other options" in lines[0]), loser
    winner = json.loads(next(out_ for code, out_, _ in results if code == 0))
    seed = winner["config"]["seed"]
    meta = json.loads((out / "run.json").read_text())
    assert (
        meta["status"] == "complete" and meta["config"]["seed"] == seed and len(list(out.glob("tasks/*/*.npz"))) == 20
    )


def test_a_single_shot_run_into_a_directory_another_run_filled_meanwhile_is_refused(tmp_path, monkeypatch):
    """radius into a new --out that another run writes while this one computes: refused, not replaced."""
    out = tmp_path / "R"
    assert report.prepare_out_dir(out, command="radius", parameters={"n": 1}) == out
    report.write_run_files(
        tmp_path / "R", {"run.json": json.dumps({"command": "radius", "parameters": {"n": 2}}), "radii.csv": "other\n"}
    )
    # the first writer above consumed nothing of ours: claim again, let another process fill it, then write
    report.release_run_dir(out)
    import shutil  # noqa: PLC0415

    shutil.rmtree(out)
    report.prepare_out_dir(out, command="radius", parameters={"n": 1})
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import os; os.mkdir({str(out)!r}); open(os.path.join({str(out)!r}, 'run.json'), 'w').write('{{}}')",
        ],
        check=True,
    )
    with pytest.raises(report.RunDirBusy, match="written by another specdiag run"):
        report.write_run_files(out, {"run.json": "{}", "radii.csv": "mine\n"})
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]


def test_out_onto_a_dangling_symlink_is_refused_before_any_work(tmp_path):
    link = tmp_path / "gone"
    link.symlink_to(tmp_path / "missing-target")
    for args in (["sweep", "--n", 8, "--samples", 4], ["reproduce", "--quick"], ["radius", "--n", 8, "--samples", 3]):
        line = one_line_error(*cli(*args, "--out", link))
        assert "symbolic link" in line and "does not exist" in line and "File exists" not in line
    assert not (tmp_path / "missing-target").exists()


def test_sweep_dynamics_at_huge_k_is_reported_in_log_space(tmp_path):
    """k = 100 sqrt(8): Q overflows float64; log10 values are reported, never inf, exit 0."""
    code, out, err = cli(
        "sweep",
        "--n",
        8,
        "--dynamics",
        100,
        "--field",
        "complex",
        "--samples",
        6,
        "--workers",
        1,
        "--out",
        tmp_path / "s",
        "--format",
        "json",
    )
    assert code == 0, err
    point = json.loads(out)["points"][0]
    from specdiag import _theory as theory  # noqa: PLC0415

    k = point["dynamics_k"][0]
    assert k == 283 and point["q_exact"] == [None]
    assert point["log10_q_exact"][0] == pytest.approx(float(theory.log_q(8, [k])[0]) / np.log(10), rel=1e-12)
    assert point["log10_q_exact"][0] > 308 and np.isfinite(point["log10_q_mean"][0])
    assert (tmp_path / "s" / "sweep.json").exists()


def test_log_space_means_match_the_direct_ones_where_they_do_not_overflow():
    import specdiag._sweep as sw  # noqa: PLC0415

    logs = np.log(np.array([[1.0, 2.0], [3.0, 5.0], [8.0, 13.0]]))
    np.testing.assert_allclose(np.exp(sw._log_mean_exp(logs)), [4.0, 20 / 3], rtol=1e-14)
    np.testing.assert_allclose(np.exp(sw._log_se_exp(logs)), np.exp(logs).std(axis=0, ddof=1) / np.sqrt(3), rtol=1e-13)
    assert np.isfinite(sw._log_mean_exp(logs + 2000.0)).all()


def test_library_sweep_with_an_unknown_init_names_the_parameter(tmp_path):
    import specdiag as sd  # noqa: PLC0415

    with pytest.raises(InputError, match="unknown init 'nope'") as info:
        sd.sweep([8], out=tmp_path / "s", inits=["nope"])
    assert info.value.param == "inits" and not (tmp_path / "s").exists()


def test_address_space_cap_is_part_of_the_memory_guard(tmp_path):
    """Under ulimit -v the guard refuses a sweep whose worker cannot fit, before any work."""
    resource = pytest.importorskip("resource", reason="POSIX rlimits")
    cap = 1536 << 20

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["sweep", "--n", "9000", "--samples", "2", "--workers", "1", "--out", str(tmp_path / "s")]
    proc = subprocess.run(
        [sys.executable, "-m", "specdiag", *args], capture_output=True, text=True, env=env, preexec_fn=limit, timeout=60
    )
    line = one_line_error(proc.returncode, proc.stdout, proc.stderr)
    assert "address-space limit" in line and line.startswith("error: --n 9,000"), line
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cgroup_memory_limit_sets_the_budget(tmp_path, monkeypatch, version):
    root = tmp_path / "cg"
    if version == "v2":
        (tmp_path / "proc").write_text("0::/job/step\n")
        group = root / "job" / "step"
        group.mkdir(parents=True)
        (group / "memory.max").write_text(f"{1 << 30}\n")
        (group / "memory.current").write_text(f"{300 << 20}\n")
        (group / "memory.stat").write_text(f"anon 1\ninactive_file {100 << 20}\n")
        (root / "job" / "memory.max").write_text("max\n")
    else:
        (tmp_path / "proc").write_text("5:memory:/job\n4:cpu:/x\n")
        group = root / "memory" / "job"
        group.mkdir(parents=True)
        (group / "memory.limit_in_bytes").write_text(f"{1 << 30}\n")
        (group / "memory.usage_in_bytes").write_text(f"{300 << 20}\n")
        (group / "memory.stat").write_text(f"total_inactive_file {100 << 20}\n")
        (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    monkeypatch.setattr(resources, "_CGROUP_ROOT", root)
    monkeypatch.setattr(resources, "_PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(resources, "available_memory", lambda: 64 << 30)
    monkeypatch.delenv("SPECDIAG_MAX_MEMORY", raising=False)
    assert resources.cgroup_memory() == (1 << 30) - (200 << 20)
    budget, source = resources.memory_budget()
    assert budget == ((1 << 30) - (200 << 20)) // 2 and "cgroup" in source
    with pytest.raises(InputError, match="budget"):
        resources.guard(resources.radius_estimate(8000, 10))


def test_resume_disk_check_counts_only_missing_tasks(tmp_path, monkeypatch):
    from specdiag._executors import LocalExecutor  # noqa: PLC0415
    from specdiag._sweep import SweepConfig, run_sweep  # noqa: PLC0415

    cfg = SweepConfig(ns=(8,), inits=("lru",), fields=("complex",), samples=40, chunk_size=10).validate()
    run_sweep(cfg, tmp_path / "s", LocalExecutor(1))
    sorted((tmp_path / "s").glob("tasks/*/*.npz"))[0].unlink()
    asked = []
    import specdiag._sweep as sw  # noqa: PLC0415

    monkeypatch.setattr(sw, "check_disk", lambda out, need, param="out": asked.append(need))
    full = resources.sweep_estimate(cfg, 1).disk
    run_sweep(cfg, tmp_path / "s", LocalExecutor(1))
    assert asked == [pytest.approx(full / 4)]


@pytest.mark.parametrize(
    "variable, value, command",
    [
        ("SPECDIAG_CONNECT_TIMEOUT", "abc", ["sweep", "--n", 8, "--scheduler", "tcp://127.0.0.1:9", "--out", "{tmp}"]),
        ("SPECDIAG_MAX_MEMORY", "lots", ["radius", "--n", 8, "--samples", 2]),
    ],
)
def test_bad_environment_variables_are_named_as_such(tmp_path, variable, value, command):
    line = one_line_error(*cli(*[str(a).replace("{tmp}", str(tmp_path / "s")) for a in command], env={variable: value}))
    assert (
        f"the environment variable {variable}" in line
        and "--SPECDIAG" not in line
        and "--size" not in line
        and "--timeout" not in line
    )


def test_paths_with_newlines_stay_on_one_line(tmp_path):
    out = tmp_path / "a\nb"
    out.mkdir()
    (out / "foreign.txt").write_text("x")
    line = one_line_error(*cli("sweep", "--n", 8, "--samples", 4, "--out", out))
    assert "a\\nb" in line


def _dask_cluster(port):
    """A scheduler and one worker process on ``port``, started by this test; (scheduler, worker)."""
    dask_cli = Path(sys.executable).with_name("dask")
    sched = subprocess.Popen(
        [str(dask_cli), "scheduler", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [str(dask_cli), "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return sched, worker


def _wait_for_port(port, timeout=30.0):
    """Until something listens on ``port`` (a scheduler this test started)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.2)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["workers", "scheduler"])
def test_a_dying_dask_cluster_ends_the_sweep_in_one_line(tmp_path, victim):
    pytest.importorskip("dask.distributed")
    port = _free_port()
    sched, worker = _dask_cluster(port)
    try:
        out = tmp_path / "s"
        proc = spawn(
            [
                "sweep",
                "--n",
                300,
                "--samples",
                400,
                "--chunk-size",
                2,
                "--scheduler",
                f"tcp://127.0.0.1:{port}",
                "--out",
                out,
            ],
            env={"SPECDIAG_CONNECT_TIMEOUT": "5"},
        )
        deadline = time.monotonic() + 90
        while not list(out.glob("tasks/*/*.npz")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert list(out.glob("tasks/*/*.npz")), proc.communicate(timeout=5)
        for p in [worker] if victim == "workers" else [sched]:
            os.killpg(p.pid, signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=60)
        line = one_line_error(proc.returncode, "", err)
        assert "rerun with resume=" in line and ("no worker" in line if victim == "workers" else "scheduler" in line)
        assert time.monotonic() - killed < 30
        assert json.loads((out / "run.json").read_text())["status"] == "running"  # not "complete"; resumable
    finally:
        for p in (sched, worker):
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.mark.slow
def test_a_scheduler_without_workers_gives_up_after_the_timeout_readme_states():
    """Every network wait, the wait for a first worker included, is bounded by one timeout: 10 s
    by default, as README says (it was 30 s for the workers)."""
    distributed = pytest.importorskip("dask.distributed")
    from specdiag._executors import CONNECT_TIMEOUT_S  # noqa: PLC0415

    assert CONNECT_TIMEOUT_S == 10.0 and "gives up after 10 s" in " ".join((ROOT / "README.md").read_text().split())
    free_port = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}  # 8787 may be taken (xdist, other runs)
    with distributed.LocalCluster(
        n_workers=0, processes=False, dashboard_address=None, scheduler_kwargs=free_port
    ) as empty:
        start = time.monotonic()
        with pytest.raises(InputError, match=r"has no workers \(none joined within 1 s\)"):
            DaskExecutor(empty.scheduler_address, timeout=1.0)
        assert time.monotonic() - start < 6.0


@pytest.mark.slow
def test_every_worker_killed_between_a_task_finishing_and_its_fetch_ends_the_run():
    """The kill -9 that hung CI: results finished on the worker but not yet fetched when it dies.
    Fetching them waits for a recomputation no worker will ever do; the run must still end in one
    ClusterLost within a few grace periods, not hang."""
    distributed = pytest.importorskip("dask.distributed")
    from specdiag._executors import ClusterLost  # noqa: PLC0415

    port = _free_port()
    sched, worker = _dask_cluster(port)
    outcome: dict = {}
    try:
        _wait_for_port(port)
        with distributed.Client(f"tcp://127.0.0.1:{port}", timeout="30s") as probe:
            probe.wait_for_workers(1, timeout=60)  # a slow box: the worker may take longer than the grace below
        executor = DaskExecutor(f"tcp://127.0.0.1:{port}", timeout=2.0)

        def consume():
            got = []
            try:
                # abs, a builtin: the separate worker process cannot import this test module
                for task, result, error in executor.run(abs, range(40)):
                    assert error is None and result == task
                    got.append(result)
                    if len(got) == 1:  # the other 39 finish on the worker, unfetched; then it dies
                        time.sleep(2.0)
                        os.killpg(worker.pid, signal.SIGKILL)
                        worker.wait()
            except BaseException as exc:  # noqa: BLE001 (checked below)
                outcome["error"] = exc
            outcome["got"] = got

        thread = threading.Thread(target=consume, daemon=True)
        started = time.monotonic()
        thread.start()
        thread.join(40)
        assert not thread.is_alive(), "the run hung after every worker was killed"
        assert isinstance(outcome.get("error"), ClusterLost), outcome
        assert "no worker" in str(outcome["error"]) and "resume=" in str(outcome["error"])
        assert time.monotonic() - started < 30
        executor.close()
    finally:
        for p in (sched, worker):
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_a_sweep_with_failed_tasks_exits_4_not_the_gate_code(tmp_path, monkeypatch):
    """1 means "a gate failed" to CI; a sweep whose tasks failed is incomplete (4), resumable."""
    import specdiag._sweep as sw  # noqa: PLC0415
    from specdiag.cli.output import EXIT_INCOMPLETE  # noqa: PLC0415

    real = sw.compute_task

    def flaky(task):
        if task.start == 4:
            raise RuntimeError("injected failure")
        return real(task)

    monkeypatch.setattr(sw, "compute_task", flaky)
    out = tmp_path / "s"
    code, stdout, err = cli("sweep", "--n", 8, "--samples", 8, "--chunk-size", 4, "--workers", 1, "--out", out)
    assert code == EXIT_INCOMPLETE == 4, (code, err)
    assert "Traceback" not in err and f"1 tasks failed: rerun with --resume {out}" in err
    assert json.loads((out / "run.json").read_text())["status"] == "incomplete"
    monkeypatch.setattr(sw, "compute_task", real)
    assert cli("sweep", "--resume", out, "--workers", 1)[0] == 0


@pytest.mark.parametrize(
    "name, readme",
    [("sweep", {0: "every task done", 2: "bad input", 4: "run incomplete"}), ("fix", {1: "it still fails the check"})],
)
def test_exit_codes_of_run_commands_are_in_help_and_readme(name, readme):
    from importlib import import_module  # noqa: PLC0415

    text = " ".join(CliRunner().invoke(app, [name, "--help"]).stdout.split())
    for code, meaning in import_module(f"specdiag.cli.{name}").EXIT_CODES.items():
        assert f"{code} {meaning}" in text
    (row,) = [r for r in (ROOT / "README.md").read_text().splitlines() if r.startswith(f"| `{name}` |")]
    for code, words in readme.items():
        assert f"{code} {words}" in row


@pytest.mark.slow
def test_two_radius_runs_into_one_out_the_loser_stops_before_computing(tmp_path):
    """The run directory is claimed (created and locked) before the computation, not at write time:
    the loser ends in one line while the winner is still computing, and D holds the winner's files."""
    out = tmp_path / "D"
    procs = {
        seed: spawn(["radius", "--n", 300, "--samples", 200, "--seed", seed, "--out", out, "--format", "json"])
        for seed in (0, 7)
    }
    ended: list[int] = []
    deadline = time.monotonic() + 300
    while len(ended) < 2 and time.monotonic() < deadline:
        ended += [seed for seed, p in procs.items() if seed not in ended and p.poll() is not None]
        time.sleep(0.05)
    results = {seed: (p.wait(timeout=5), *p.communicate()) for seed, p in procs.items()}
    assert sorted(code for code, _, _ in results.values()) == [0, 2], results
    winner = next(seed for seed, (code, _, _) in results.items() if code == 0)
    loser = next(seed for seed in results if seed != winner)
    line = one_line_error(*results[loser])
    assert "in use by another specdiag run" in line and line.startswith("error: --out"), line
    assert ended[0] == loser  # refused up front, not after computing as long as the winner
    assert sorted(p.name for p in out.iterdir()) == ["radii.csv", "run.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D"]  # no temporary directory left
    meta = json.loads((out / "run.json").read_text())
    assert meta["parameters"]["seed"] == winner and meta["stats"] == json.loads(results[winner][1])["stats"]


def test_a_failed_single_shot_run_leaves_its_out_as_it_was(tmp_path, monkeypatch):
    """The held directory is removed when this run created it (parents too) and the run failed;
    an empty directory the user had stays, untouched."""
    import specdiag._radius_report as rr  # noqa: PLC0415

    def boom(*_a, **_k):
        raise InputError("samples: injected failure", param="samples")

    monkeypatch.setattr(rr, "draw_radii", boom)
    new = tmp_path / "a" / "b" / "D"
    mine = tmp_path / "mine"
    mine.mkdir()
    for out in (new, mine):
        with pytest.raises(InputError, match="injected"):
            rr.radius_report(8, samples=3, out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"] and list(mine.iterdir()) == []
    assert not report._HELD  # every lock released


@pytest.mark.slow
def test_ctrl_c_during_a_single_shot_run_removes_the_out_it_created(tmp_path):
    out = tmp_path / "D"
    # long enough (tens of seconds even on an idle box) that the signal lands mid-computation
    proc = spawn(["trajectory", "--n", 500, "--matrices", 200, "--steps", 10000, "--out", out])
    deadline = time.monotonic() + 60
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.is_dir(), proc.communicate(timeout=60)  # claimed before computing
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    code, (_, err) = proc.wait(timeout=60), proc.communicate()
    assert code == 130 and "interrupted" in err, (code, err)
    assert list(tmp_path.iterdir()) == []

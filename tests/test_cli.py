"""The CLI through typer.testing.CliRunner: JSON schema, formats, files, and every input error."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from specdiag import laws

import specdiag._backend as backend

import specdiag._theory as theory
from specdiag.cli import app
from specdiag._inits import make_ensemble
from specdiag._spectra import sample_radii

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def run_json(*args):
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_radius_json_schema_and_values():
    doc = run_json(
        "radius", "--n", 40, "--samples", 12, "--field", "complex", "--seed", 3, "--device", "cpu", "--workers", 1
    )
    for key in (
        "command",
        "n",
        "samples",
        "init",
        "field",
        "device",
        "precision",
        "seed",
        "stats",
        "radii",
        "elapsed_s",
    ):
        assert key in doc
    assert doc["command"] == "radius" and doc["n"] == 40 and doc["samples"] == 12 and doc["seed"] == 3
    assert set(doc["stats"]) >= {"mean", "std", "min", "q05", "median", "q95", "max", "p_above_1"}
    expected = sample_radii(make_ensemble("glorot", 40, "complex"), 12, seed=3, workers=1)
    np.testing.assert_array_equal(doc["radii"], expected)
    assert doc["stats"]["mean"] == pytest.approx(expected.mean())
    assert doc["theory"]["source"] == "Kostlan exact"
    assert doc["theory"]["mean"] == pytest.approx(float(laws.kostlan(40).mean()))


def test_radius_table_shows_theory_and_rider_location():
    result = run("radius", "--n", 200, "--samples", 5, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "Rider location" in result.stdout and "p_above_1" in result.stdout
    assert "matrices/s" in result.stdout


def test_radius_csv_and_out_dir(tmp_path):
    out = tmp_path / "runs" / "lru64"
    result = run("radius", "--n", 64, "--init", "lru", "--samples", 6, "--format", "csv", "--out", out)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "index,radius" and len(lines) == 7
    assert sorted(p.name for p in out.iterdir()) == ["radii.csv", "run.json"]
    meta = json.loads((out / "run.json").read_text())
    assert meta["parameters"]["init"] == "lru" and "numpy" in meta["versions"] and meta["elapsed_s"] > 0
    assert (out / "radii.csv").read_text() == result.stdout


def test_radius_plot(tmp_path):
    result = run("radius", "--n", 30, "--samples", 20, "--field", "complex", "--plot", tmp_path / "r.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inits_lists_everything():
    doc = run_json("inits")
    assert [i["name"] for i in doc["inits"]] == [
        "glorot",
        "rescaled",
        "half",
        "truncnormal",
        "uniform-diag",
        "uniform-disk",
        "lru",
    ]


@pytest.mark.parametrize(
    "args,message",
    [
        (["radius", "--n", "1"], "--n must be an integer >= 2"),
        (["radius", "--samples", "0"], "--samples must be an integer >= 1"),
        (["radius", "--init", "kaiming"], "'kaiming' is not one of 'glorot', 'rescaled'"),
        (["radius", "--field", "quaternion"], "'quaternion' is not one of 'real', 'complex'"),
        (["radius", "--device", "tpu"], "'tpu' is not one of 'auto', 'cpu', 'gpu'"),
        (["radius", "--precision", "half"], "'half' is not one of 'single', 'double'"),
        (["radius", "--format", "xml"], "'xml' is not one of 'table', 'json', 'csv'"),
        (["radius", "--n", "100", "--init", "rescaled"], "--rescale calibrated"),
        (["radius", "--coverage", "1.5", "--init", "rescaled"], "--coverage"),
        (["radius", "--seed", "-1"], "--seed"),
        (["radius", "--workers", "0", "--n", "8"], "--workers"),
        (["theory", "--n", "10,x"], "comma-separated"),
        (["theory", "--coverage", "0"], "--coverage"),
        (["fit-gumbel", "--n", "50", "--samples", "5", "--field", "complex"], "at least 10"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, tmp_path):
    result = run(
        *args, "--plot" if args[0] == "radius" else "--format", tmp_path / "p.png" if args[0] == "radius" else "json"
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not (tmp_path / "p.png").exists()


def test_gpu_requested_without_gpu(monkeypatch):
    monkeypatch.setenv("SPECDIAG_DISABLE_GPU", "1")
    backend.cupy_module.cache_clear()
    try:
        result = run("radius", "--device", "gpu", "--n", "8")
    finally:
        backend.cupy_module.cache_clear()
    assert result.exit_code == 2
    assert "--device 'gpu' needs CuPy and a CUDA device" in result.stderr


def test_unwritable_out_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("radius", "--n", 8, "--samples", 2, "--out", blocker / "sub")
    assert result.exit_code == 2 and "--out" in result.stderr and "cannot be written" in result.stderr
    assert blocker.read_text() == "x"


def test_fit_gumbel_from_file_and_json(tmp_path):
    radii = sample_radii(make_ensemble("glorot", 64, "complex"), 60, seed=1)
    path = tmp_path / "r.npy"
    np.save(path, radii)
    doc = run_json("fit-gumbel", "--from", path, "--n", 64, "--field", "complex")
    assert doc["command"] == "fit-gumbel" and doc["samples"] == 60 and doc["field"] == "complex"
    assert set(doc["fit"]) >= {"loc", "scale", "loc_ci", "scale_ci"}
    assert doc["asymptotic"] is None  # n = 64 <= 163
    assert doc["exact"]["ks_pvalue"] > 0
    assert doc["sample"]["mean"] == pytest.approx(radii.mean())


@pytest.mark.slow
def test_fit_gumbel_sampled_with_plot(tmp_path):
    doc = run_json("fit-gumbel", "--n", 200, "--samples", 40, "--field", "complex", "--plot", tmp_path / "fit.png")
    assert doc["asymptotic"]["loc"] == pytest.approx(theory.rider_location(200))
    assert (tmp_path / "fit.png").stat().st_size > 1000


def test_theory_json_rows():
    doc = run_json("theory", "--n", "128,500")
    small, big = doc["rows"]
    assert small["s_n"] is None and "calibrated" in small["undefined_reason"]
    assert big["s_n"] == pytest.approx(theory.paper_scale(500))
    assert set(big["exact_complex"]) >= {"mean", "std", "q05", "q95", "p_above_1"}
    assert big["exact_complex_rescaled"]["p_above_1"] < 0.05 < big["exact_complex"]["p_above_1"]
    assert small["calibrated_complex"]["p_above_1"] == pytest.approx(0.1, abs=1e-9)


def test_console_entry_point_usage_error_is_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "specdiag", "radius", "--n", "abc"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1 and "--n" in proc.stderr


@pytest.mark.parametrize("kind", ["trajectory", "hidden"])
def test_dynamics_json_schema(kind, tmp_path):
    """An LRU ring of moduli in [1.5, 2] grows 1.5-2x per step: the mean passes 1000x between steps 10 and 17."""
    args = [
        kind,
        "--n",
        20,
        "--steps",
        40,
        "--init",
        "lru",
        "--rmin",
        1.5,
        "--rmax",
        2,
        "--matrices",
        3,
        "--inputs",
        4,
        "--full",
        "--exact",
    ]
    doc = run_json(*args, "--out", tmp_path / "run", "--plot", tmp_path / "p.png")
    assert doc["command"] == kind and doc["n"] == 20 and doc["field"] == "complex"
    steps = doc["steps"]
    assert steps[0] == (0 if kind == "trajectory" else 1) and steps[-1] == 40
    for key in ("mean_log10_norm", "std_log10_norm", "exact_log10_norm"):
        assert len(doc[key]) == len(steps)
    assert np.array(doc["per_matrix_log10_norm"]).shape == (3, len(steps))
    assert np.array(doc["exact_per_matrix_log10_rms"]).shape == (3, len(steps))
    mean = np.array(doc["per_matrix_log10_norm"]).mean(axis=0)
    np.testing.assert_allclose(mean, doc["mean_log10_norm"])
    first = steps[int(np.flatnonzero(mean - mean[0] >= 3)[0])]
    assert doc["blowup_threshold"] == 1000 and doc["blowup_step"] == first and 10 <= first <= 17
    assert (tmp_path / "run" / f"{kind}.csv").exists() and (tmp_path / "p.png").exists()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["blowup_step"] == first


@pytest.mark.parametrize("kind", ["radius", "trajectory", "hidden"])
def test_out_and_plot_say_wrote(kind, tmp_path):
    sizes = ["--samples", 3] if kind == "radius" else ["--steps", 5, "--matrices", 2, "--inputs", 2]
    result = run(
        kind,
        "--n",
        8,
        *sizes,
        "--device",
        "cpu",
        "--workers",
        1,
        "--out",
        tmp_path / "run",
        "--plot",
        tmp_path / "f.png",
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'run'}" in result.stderr and f"wrote {tmp_path / 'f.png'}" in result.stderr


@pytest.mark.parametrize("kind", ["radius", "trajectory", "hidden", "fit-gumbel"])
def test_plot_onto_a_directory_is_refused_before_any_work(kind, tmp_path, monkeypatch):
    import specdiag._api
    import specdiag._dynamics_report
    import specdiag._radius_report

    def no_work(*args, **kwargs):
        raise AssertionError("computed before refusing --plot")

    for module in (
        specdiag._api,
        specdiag._radius_report,
        specdiag._dynamics_report,
    ):  # every report builds its ensemble first
        monkeypatch.setattr(module, "make_ensemble", no_work)
    (tmp_path / "x.png").mkdir()
    result = run(kind, "--n", 20, "--plot", tmp_path / "x.png")
    assert result.exit_code == 2 and result.stderr.startswith("error: --plot ") and "is a directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


@pytest.mark.parametrize(
    "args,flag",
    [
        (["radius", "--rmax", "2"], "--rmax is used only by init lru, not by 'glorot'"),
        (["trajectory", "--init", "half", "--max-phase", "1"], "--max-phase is used only by init lru"),
        (
            ["fit-gumbel", "--init", "rescaled", "--coverage", "0.8"],
            "--coverage is used only by the calibrated divisor",
        ),
        (["radius", "--init", "lru", "--rescale", "calibrated"], "--rescale is used only by init rescaled"),
    ],
)
def test_an_option_the_init_ignores_is_refused(args, flag):
    result = run(*args, "--n", 200, "--samples" if args[0] != "trajectory" else "--steps", 20)
    assert result.exit_code == 2 and result.stderr == f"error: {flag}" + result.stderr.split(flag, 1)[1]
    assert len(result.stderr.strip().splitlines()) == 1


def test_option_defaults_do_not_count_as_given():
    """Unset init options are None on the command line: glorot never sees the lru/rescaled defaults."""
    doc = run_json("radius", "--n", 8, "--samples", 3, "--device", "cpu", "--workers", 1)
    assert doc["init"] == "glorot"
    doc = run_json("radius", "--n", 8, "--samples", 3, "--init", "lru", "--rmax", 0.5, "--device", "cpu")
    assert max(doc["radii"]) <= 0.5


def test_help_has_plain_metavars():
    for command in ("radius", "trajectory", "theory", "fit-gumbel", "check", "sweep", "reproduce"):
        result = run(command, "--help")
        assert result.exit_code == 0, result.output
        usage = result.stdout.splitlines()[0]
        assert "{" not in usage and "<list[" not in result.stdout, (command, usage)
    assert re.search(r" check \[OPTIONS\] PATHS?(\.\.\.)?$", run("check", "--help").stdout.splitlines()[0])
    assert "--key KEY" in run("check", "--help").stdout


def test_control_characters_are_escaped_in_tables_notes_and_errors(tmp_path, capsys):
    from specdiag.cli import output

    output.note("wrote \x1b[1Gok\n")
    output.print_error("bad \x1b[K name\u202e")
    output.stdout.print(output.rich_table("t\x1b[2J", ["a\x07", "b"], [["x\x1b[1G", 1.5]], caption="c\x1b[K\nline two"))
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err and "\x07" not in captured.out and "\u202e" not in captured.err
    assert "\\x1b[1Gok\\n" in captured.err and "error: bad \\x1b[K name\\u202e" in captured.err
    assert "x\\x1b[1G" in captured.out and "line two" in captured.out  # a caption's own lines stay lines


def test_runtime_warnings_do_not_reach_stderr(monkeypatch):
    import warnings

    import specdiag.cli.radius as radius_cli
    from specdiag._errors import InputError

    def noisy(*args, **kwargs):
        warnings.warn("overflow encountered in multiply", RuntimeWarning, stacklevel=2)
        raise InputError("n stopped here", param="n")

    monkeypatch.setattr(radius_cli, "radius_report", noisy)
    result = run("radius", "--n", 8)
    assert result.exit_code == 2 and result.stderr == "error: --n stopped here\n"


def test_dynamics_table_and_errors():
    result = run("hidden", "--n", 30, "--steps", 50, "--matrices", 2, "--inputs", 2, "--at", "1,10,50")
    assert result.exit_code == 0, result.output
    assert "blow-up" in result.stdout
    bad = run("trajectory", "--n", 30, "--steps", 50, "--every", 7, "--at", "3")
    assert bad.exit_code == 2 and "--at" in bad.stderr
    bad = run("trajectory", "--blowup", "0.5")
    assert bad.exit_code == 2 and "--blowup" in bad.stderr


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("specdiag ")


def test_bad_plot_path_names_plot(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("radius", "--n", 8, "--samples", 2, "--plot", blocker / "fig.png")
    assert result.exit_code == 2 and result.stderr.startswith("error: --plot ")
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""

"""Figures and `specdiag reproduce`: panels render, baselines match, runs resume and redraw."""

import importlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.testing.compare import compare_images
from typer.testing import CliRunner

from specdiag import laws, plots
from specdiag.cli import app
from specdiag.spectra import radius_stats

# the module (``specdiag.reproduce`` as an attribute is the reproduce() function of the public API)
reproduce = importlib.import_module("specdiag.reproduce")

BASELINES = Path(__file__).parent / "baselines"
runner = CliRunner()
TINY = dict(n=170, samples=12, matrices=3, inputs=4, steps=40, fig4_matrices=3, fig4_inputs=2, fig4_steps=50)


def deterministic_panels():
    """Panels drawn from fixed arrays (no sampling): the image-comparison baselines."""
    x = np.linspace(0.95, 1.15, 200)
    radii = np.array([1.01, 1.02, 1.025, 1.03, 1.03, 1.035, 1.04, 1.05, 1.06, 1.08])
    steps = np.arange(0, 51)
    curves = np.vstack([0.02 * steps * a for a in (0.5, 1.0, 1.5)])
    theta = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    eigs = (0.3 + 0.7 * np.sin(3 * theta) ** 2) * np.exp(1j * theta)
    return {
        "radius_density": plots.radius_figure(radii, n=500, field="complex", init="glorot", curves=[(x, laws.kostlan(500).pdf(x), "exact (Kostlan)")]),
        "norm_curves": plots.norm_figure(steps, curves, 0.1 * np.ones_like(curves), ylabel=r"$\|W^k x\|$", xlabel="power k", title="fixed curves"),
        "eigenvalues": plots.figure_eigenvalues({"fixed, complex": eigs}, n=60),
    }


@pytest.mark.parametrize("name", ["radius_density", "norm_curves", "eigenvalues"])
def test_panels_match_baselines(name, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = deterministic_panels()[name]
        actual = plots.save_figure(fig, tmp_path / f"{name}.png", dpi=72)
    baseline = BASELINES / f"{name}.png"
    assert baseline.exists(), "run `python tests/make_baselines.py` to create the baselines"
    assert compare_images(str(baseline), str(actual), tol=2) is None


def test_figure_sizes_and_no_warnings(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    steps = np.arange(0, 20)
    curves = rng.standard_normal((2, 20)).cumsum(axis=1)
    rows = {init: {"radii": 1 + 0.02 * rng.standard_normal(30), "gain": 1.0, "trajectory": (steps, curves, 0 * curves), "hidden": (steps + 1, curves, 0 * curves)} for init in ("glorot", "rescaled")}
    figures = {
        "fig12": (plots.figure_radius_dynamics(rows, n=500, field="complex"), (3 * 4.2 * 150, 2 * 3.2 * 150)),
        "fig3": (plots.figure_real_vs_complex_radii(rows["glorot"]["radii"], rows["rescaled"]["radii"], n=500), (5.0 * 150, 3.6 * 150)),
        "fig4": (plots.figure_hidden_real_vs_complex({"real": (steps, curves[0]), "complex": (steps, curves[1])}, n=500, matrices=2, inputs=5), (5.0 * 150, 3.6 * 150)),
        "fig4_overflow": (plots.figure_hidden_real_vs_complex({"real": (steps, 400 + curves[0]), "complex": (steps, curves[1])}, n=500, matrices=2, inputs=5), (5.0 * 150, 3.6 * 150)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, (fig, size) in figures.items():
            path = plots.save_figure(fig, tmp_path / f"{name}.png")
            with Image.open(path) as image:
                assert image.size == tuple(round(s) for s in size)


def run_cli(*args):
    return runner.invoke(app, ["reproduce", *[str(a) for a in args]])


def tiny_args(out):
    return ["--out", out, "--n", TINY["n"], "--samples", TINY["samples"], "--matrices", TINY["matrices"], "--inputs", TINY["inputs"], "--steps", TINY["steps"], "--quick"]


def test_reproduce_end_to_end_and_redraw(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce.Config, "quick", classmethod(lambda cls, **kw: cls(**{**TINY, **kw})))
    out = tmp_path / "run"
    result = run_cli(*tiny_args(out), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    expected = {"figure1.png", "figure2.png", "figure3.png", "figure4.png", "eigenvalues.png", "summary.csv", "summary.md"}
    assert set(doc["files"]) == expected
    assert expected | {"run.json", "arrays"} == {p.name for p in out.iterdir()}
    assert not list(out.rglob("*.tmp"))
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "complete" and meta["config"]["n"] == TINY["n"] and "numpy" in meta["versions"]
    # summary values agree with the library on the saved arrays
    arrays = reproduce.load_arrays(out)
    row = next(r for r in doc["summary"] if r["init"] == "glorot" and r["field"] == "complex")
    stats = radius_stats(arrays["radii-complex-glorot"]["radii"]).to_dict()
    assert row["radius_mean"] == pytest.approx(stats["mean"]) and row["p_above_1"] == pytest.approx(stats["p_above_1"])
    assert row["exact_mean"] == pytest.approx(float(laws.kostlan(TINY["n"]).mean()))
    assert "| glorot | complex |" in (out / "summary.md").read_text()
    # --from redraws byte-identical images without sampling
    before = {p.name: p.read_bytes() for p in out.glob("*.png")}
    monkeypatch.setattr(reproduce, "sample_radii", lambda *a, **k: pytest.fail("--from must not sample"))
    monkeypatch.setattr(reproduce, "simulate", lambda *a, **k: pytest.fail("--from must not sample"))
    result = run_cli("--from", out)
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in out.glob("*.png")} == before
    result = run_cli("--from", out, "--vector", "--format", "json")
    assert result.exit_code == 0, result.output
    files = set(json.loads(result.stdout)["files"])
    assert {"figure1.pdf", "figure1.svg", "figure4.svg", "eigenvalues.pdf"} <= files
    assert (out / "figure2.pdf").read_bytes()[:5] == b"%PDF-" and b"<svg" in (out / "figure3.svg").read_bytes()[:500]


def test_interrupted_run_leaves_no_partial_files_and_resumes(tmp_path, monkeypatch):
    cfg = reproduce.Config(**TINY, figures=("3", "4"))
    real_simulate = reproduce.simulate
    calls = []

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reproduce, "simulate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(cfg, tmp_path, device="cpu")
    done = {p.name for p in (tmp_path / "arrays").iterdir()}
    assert done == {"radii-real-glorot.npz", "radii-complex-glorot.npz"}  # finished stages only
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "figure3.png").exists()

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real_simulate(*args, **kwargs)

    monkeypatch.setattr(reproduce, "simulate", counting)
    monkeypatch.setattr(reproduce, "sample_radii", lambda *a, **k: pytest.fail("radii were saved: no resampling"))
    meta = reproduce.run(cfg, tmp_path, device="cpu")
    assert calls == ["hidden", "hidden"] and sorted(meta["stages_reused"]) == ["radii-complex-glorot", "radii-real-glorot"]
    assert (tmp_path / "figure3.png").exists() and (tmp_path / "figure4.png").exists()


def test_resume_with_other_options_is_refused(tmp_path):
    reproduce.run(reproduce.Config(**TINY, figures=("3",)), tmp_path, device="cpu")
    with pytest.raises(Exception, match="different n"):
        reproduce.run(reproduce.Config(**{**TINY, "n": 180}, figures=("3",)), tmp_path, device="cpu")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--figure", "7"], "unknown --figure"),
        (["--n", "100"], "--rescale calibrated"),
        ([], None),
    ],
)
def test_reproduce_errors(tmp_path, args, message):
    if message is None:
        result = run_cli("--from", tmp_path / "nothing")
        message = "no run.json"
    else:
        result = run_cli("--out", tmp_path / "o", *args)
        assert not (tmp_path / "o").exists()
    assert result.exit_code == 2 and message in result.stderr

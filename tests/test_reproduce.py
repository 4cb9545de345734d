"""Figures and `specdiag reproduce`: panels render, baselines match, runs resume and redraw."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.testing.compare import compare_images
from typer.testing import CliRunner

from specdiag import laws

import specdiag._plots as plots
from specdiag.cli import app
from specdiag._inits import make_ensemble
from specdiag._spectra import radius_stats, sample_radii
from specdiag._errors import InputError

import specdiag._reproduce as reproduce

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
    limit = laws.rider(500)
    flagged_curves = np.vstack([curves, 0.2 * steps])  # one runaway curve, flagged
    return {
        "radius_density": plots.radius_figure(
            radii,
            n=500,
            field="complex",
            init="glorot",
            curves=[
                (x, laws.kostlan(500).pdf(x), "exact complex law (Kostlan)", "exact_complex"),
                (x, limit.pdf(x), "Rider limit, n -> inf", "limit"),
            ],
        ),
        "norm_curves": plots.norm_figure(
            steps,
            curves,
            0.1 * np.ones_like(curves),
            ylabel=r"$\|W^k x\|$",
            xlabel="power k",
            title="fixed curves",
            inputs=4,
        ),
        "norm_curves_flagged": _flagged_figure(steps, flagged_curves),
        "eigenvalues": plots.figure_eigenvalues({"fixed, complex": eigs}, n=60),
    }


def _flagged_figure(steps, curves):
    fig, axes = plots.new_figure(width=5.0, height=3.8)
    plots.norm_curves_panel(
        axes[0, 0],
        steps,
        curves,
        0.1 * np.ones_like(curves),
        ylabel=r"$\|h_t\|$",
        xlabel="t",
        title="flagged",
        inputs=4,
        flagged={3: "W3: rho = 1.0117 > 1"},
    )
    return fig


@pytest.mark.parametrize("name", ["radius_density", "norm_curves", "norm_curves_flagged", "eigenvalues"])
def test_panels_match_baselines(name, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = deterministic_panels()[name]
        actual = plots.save_figure(fig, tmp_path / f"{name}.png", dpi=72)
    baseline = BASELINES / f"{name}.png"
    assert baseline.exists(), "run `python tests/make_baselines.py` to create the baselines"
    assert compare_images(str(baseline), str(actual), tol=2) is None


@pytest.mark.slow
def test_figure_sizes_and_no_warnings(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    steps = np.arange(0, 20)
    curves = rng.standard_normal((2, 20)).cumsum(axis=1)

    def fig4_curves(log10_mean):  # Figure 4's input: the spread over matrices of a hidden-state stage
        return reproduce.spread_over_matrices({"log10_mean": log10_mean, "steps": steps + 1})

    rows = {
        init: {
            "radii": 1 + 0.02 * rng.standard_normal(30),
            "gain": 1.0,
            "trajectory": (steps, curves, 0 * curves),
            "hidden": (steps + 1, curves, 0 * curves),
        }
        for init in ("glorot", "rescaled")
    }
    figures = {
        "fig12": (plots.figure_radius_dynamics(rows, n=500, field="complex", inputs=3), (3 * 4.2 * 150, 2 * 3.9 * 150)),
        "fig3": (
            plots.figure_real_vs_complex_radii(rows["glorot"]["radii"], rows["rescaled"]["radii"], n=500),
            (5.0 * 150, 4.2 * 150),
        ),
        "fig4": (
            plots.figure_hidden_real_vs_complex(
                {"real": fig4_curves(curves), "complex": fig4_curves(curves[::-1])}, n=500, matrices=2, inputs=5
            ),
            (5.4 * 150, 4.6 * 150),
        ),
        "fig4_overflow": (
            plots.figure_hidden_real_vs_complex(
                {"real": fig4_curves(400 + curves), "complex": fig4_curves(curves)}, n=500, matrices=2, inputs=5
            ),
            (5.4 * 150, 4.6 * 150),
        ),
        "moduli": (
            plots.figure_modulus_density({"glorot, real": np.abs(rng.standard_normal(400)) % 1.05}, n=500, matrices=2),
            (5.4 * 150, 4.4 * 150),
        ),
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
    return [
        "--out",
        out,
        "--n",
        TINY["n"],
        "--samples",
        TINY["samples"],
        "--matrices",
        TINY["matrices"],
        "--inputs",
        TINY["inputs"],
        "--steps",
        TINY["steps"],
        "--quick",
    ]


@pytest.mark.slow
def test_reproduce_end_to_end_and_redraw(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce.Config, "quick", classmethod(lambda cls, **kw: cls(**{**TINY, **kw})))
    out = tmp_path / "run"
    result = run_cli(*tiny_args(out), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    expected = {
        "figure1.png",
        "figure2.png",
        "figure3.png",
        "figure4.png",
        "eigenvalues.png",
        "summary.csv",
        "summary.md",
    }
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
    assert (
        row["theory_mean"] == pytest.approx(float(laws.kostlan(TINY["n"]).mean()))
        and row["theory_source"] == "Kostlan exact"
    )
    real = next(r for r in doc["summary"] if r["init"] == "glorot" and r["field"] == "real")
    table = laws.real_ginibre_table().at(TINY["n"])
    assert real["theory_gumbel_loc"] == pytest.approx(table.gumbel_loc) and real["limit_gumbel_scale"] > 0
    assert {(r["init"], r["field"]) for r in doc["summary"]} == {
        (i, f) for i in reproduce.PAIR_INITS for f in reproduce.FIELDS
    } | set(reproduce.TABLE_INITS)
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


@pytest.mark.slow
def test_interrupted_run_leaves_no_partial_files_and_resumes(tmp_path, monkeypatch):
    cfg = reproduce.Config(**TINY, figures=("3", "4"))
    real_simulate_many = reproduce.simulate_many
    calls = []

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield  # a generator, like simulate_many

    monkeypatch.setattr(reproduce, "simulate_many", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(cfg, tmp_path, device="cpu")
    done = {p.name for p in (tmp_path / "arrays").iterdir()}
    assert done == {"radii-real-glorot.npz", "radii-complex-glorot.npz"}  # finished stages only
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "figure3.png").exists()

    def counting(requests, **kwargs):
        calls.append([r.kind for r in requests])
        return real_simulate_many(requests, **kwargs)

    monkeypatch.setattr(reproduce, "simulate_many", counting)
    monkeypatch.setattr(reproduce, "sample_radii", lambda *a, **k: pytest.fail("radii were saved: no resampling"))
    meta = reproduce.run(cfg, tmp_path, device="cpu")
    assert calls == [["hidden", "hidden"]] and sorted(meta["stages_reused"]) == [
        "radii-complex-glorot",
        "radii-real-glorot",
    ]
    assert (tmp_path / "figure3.png").exists() and (tmp_path / "figure4.png").exists()


@pytest.mark.slow
def test_dynamics_stages_run_together_and_match_separate_runs(tmp_path, monkeypatch):
    """On the CPU, one simulate_many call computes every dynamics stage (Figure 4 shares Figure 1's
    glorot matrices); the arrays agree with separate simulate runs up to float32 rounding."""
    from specdiag._dynamics import simulate
    from specdiag._inits import make_ensemble

    cfg = reproduce.Config(**TINY, figures=("1", "4"))
    real_simulate_many = reproduce.simulate_many
    calls = []

    def counting(requests, **kwargs):
        calls.append(requests)
        return real_simulate_many(requests, **kwargs)

    monkeypatch.setattr(reproduce, "simulate_many", counting)
    monkeypatch.setattr(reproduce, "simulate", lambda *a, **k: pytest.fail("CPU dynamics go through simulate_many"))
    reproduce.run(cfg, tmp_path, device="cpu")
    assert len(calls) == 1 and len(calls[0]) == 6  # (glorot, rescaled) x (trajectory, hidden) + fig4 real and complex
    glorot_real = [r for r in calls[0] if r.ensemble.name == "glorot" and r.ensemble.field == "real"]
    assert len(glorot_real) == 2 + 1 and all(r.ensemble is glorot_real[0].ensemble for r in glorot_real)
    arrays = reproduce.load_arrays(tmp_path)
    for name, kind, fld, m, steps in (
        ("hidden-real-glorot", "hidden", "real", TINY["inputs"], TINY["steps"]),
        ("fig4-complex", "hidden", "complex", TINY["fig4_inputs"], TINY["fig4_steps"]),
    ):
        alone = simulate(
            make_ensemble("glorot", TINY["n"], fld),
            kind,
            matrices=TINY["matrices"] if name.startswith("hidden") else TINY["fig4_matrices"],
            inputs=m,
            steps=steps,
            seed=0,
            workers=1,
        )
        np.testing.assert_array_equal(arrays[name]["steps"], alone.steps)
        np.testing.assert_allclose(arrays[name]["log10_mean"], alone.log10_mean, rtol=1e-5, atol=1e-5)


def test_resume_with_other_options_is_refused(tmp_path):
    reproduce.run(reproduce.Config(**TINY, figures=("3",)), tmp_path, device="cpu")
    with pytest.raises(InputError, match="different n"):
        reproduce.run(reproduce.Config(**{**TINY, "n": 180}, figures=("3",)), tmp_path, device="cpu")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--figure", "7"], "--figure 7 is unknown"),
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


def test_rescaled_matrices_above_one_are_flagged_and_named():
    """A rescaled matrix with rho > 1 is drawn in the warning colour, named in the caption line, and
    left out of the y-range, so the other curves stay readable."""
    steps = np.arange(0, 30)
    calm = np.vstack([0.01 * steps * a for a in (0.5, 1.0)])
    runaway = 0.3 * steps
    rows = {
        "glorot": {
            "radii": np.array([1.03, 1.02, 1.05]),
            "gain": 1.0,
            "trajectory": (steps, np.vstack([calm, runaway]), None),
            "hidden": (steps + 1, np.vstack([calm, runaway]), None),
        },
        "rescaled": {
            "radii": np.array([0.95, 0.97, 1.0117]),
            "gain": 0.92,
            "trajectory": (steps, np.vstack([calm, runaway]), None),
            "hidden": (steps + 1, np.vstack([calm, runaway]), None),
        },
    }
    fig = plots.figure_radius_dynamics(rows, n=500, field="real", inputs=5)
    assert "W2 (rho = 1.0117)" in fig.get_supxlabel() and "rescaled: 1 of 3" in fig.get_supxlabel()
    ax = fig.axes[5]  # rescaled, hidden
    warned = [line for line in ax.get_lines() if line.get_color() == plots.WARNING_COLOR]
    assert len(warned) == 1 and "1.0117" in warned[0].get_label()
    assert ax.get_ylim()[1] < 10.0 ** (0.3 * 29)  # the runaway curve does not set the range
    texts = [t.get_text() for t in ax.texts]
    assert "3 matrices x 5 inputs x 30 steps" in texts


def test_every_radius_histogram_shows_both_finite_n_laws_and_rho_one():
    rng = np.random.default_rng(1)
    real, cplx = 1.03 + 0.015 * rng.standard_normal(50), 1.035 + 0.012 * rng.standard_normal(50)
    fig = plots.figure_real_vs_complex_radii(real, cplx, n=500)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert {"finite-n real law (table)", "exact complex law (Kostlan)", r"$\rho = 1$"} <= set(labels)
    assert fig.axes[0].get_xlim()[0] < 1.0 - 0.005  # rho = 1 is inside the axis, not on its edge
    one_field = [c[2] for c in plots.gaussian_law_curves(500, 1.0, real, field="real")]
    assert one_field == [
        "finite-n real law (table)",
        "Rider-Sinclair limit, n -> inf",
    ]  # no complex law on a real histogram
    assert [c[2] for c in plots.gaussian_law_curves(100, 1.0, cplx, field="complex")] == ["exact complex law (Kostlan)"]


def test_figure4_shows_median_and_band_beside_the_mean_and_the_summary_reports_both():
    """Figure 4 (issue 19): the mean over W is set by the largest W; the median and its 10-90% band
    are drawn beside it, the legend says which is which, and the summary reports both."""
    steps = np.arange(1, 50)
    # three matrices: two flat, one exploding; the mean follows the exploding one, the median does not
    log10 = np.vstack([np.zeros(49), 0.01 * steps, 0.5 * steps])
    spread = reproduce.spread_over_matrices({"steps": steps, "log10_mean": log10})
    np.testing.assert_allclose(spread["median"], 0.01 * steps)
    np.testing.assert_allclose(spread["mean"], np.log10(np.mean(10.0**log10, axis=0)), rtol=1e-12)
    np.testing.assert_allclose(spread["lo"], np.quantile(log10, 0.1, axis=0))
    assert spread["top_share"][-1] == pytest.approx(10.0 ** (0.5 * 49) / np.sum(10.0 ** log10[:, -1]))
    big = reproduce.spread_over_matrices({"steps": steps, "log10_mean": log10 * 40})  # 10^980: no overflow
    assert np.isfinite(big["mean"]).all() and big["mean"][-1] == pytest.approx(980 - np.log10(3))
    fig4 = plots.figure_hidden_real_vs_complex({"real": spread, "complex": spread}, n=500, matrices=3, inputs=5)
    ax = fig4.axes[0]
    assert ax.get_xscale() == "log"
    labels = set(ax.get_legend_handles_labels()[1])
    assert {"real: median over W", "real: mean over W", "real: 10-90% of W", "complex: median over W"} <= labels
    row = reproduce._fig4_columns({"steps": steps, "log10_mean": log10})
    assert row["fig4_t"] == 49 and row["fig4_log10_median_norm"] == pytest.approx(0.49)
    assert row["fig4_log10_mean_norm"] == pytest.approx(spread["mean"][-1]) and row["fig4_top_matrix_share"] > 0.99


def test_norm_panel_draws_one_visible_band_and_light_lines():
    """Figures 1-2 (issue 19): 100 lines no longer hide the +-1 sd band: the lines are light and
    one band (the median W +-1 sd over inputs) is drawn above them."""
    steps = np.arange(0, 40)
    curves = np.vstack([0.01 * steps * (1 + i / 50) for i in range(100)])
    fig, axes = plots.new_figure()
    ax = axes[0, 0]
    plots.norm_curves_panel(ax, steps, curves, 0.2 * np.ones_like(curves), ylabel="y", xlabel="k", inputs=5)
    assert len(ax.collections) == 1 and ax.collections[0].get_alpha() >= 0.3  # one band, visible
    thin = [line for line in ax.get_lines() if line.get_linewidth() == 0.5]
    assert len(thin) == 100 and max(line.get_alpha() for line in thin) < 0.2
    labels = ax.get_legend_handles_labels()[1] + [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("median W" in t and "sd over inputs" in t for t in labels)


def test_eigenvalue_inset_label_sits_inside_the_inset():
    theta = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    fig = plots.figure_eigenvalues({"a, complex": 0.9 * np.exp(1j * theta)}, n=60)
    inset = fig.axes[0].child_axes[0]
    assert inset.get_title() == "" and [t.get_text() for t in inset.texts] == ["zoomed box"]
    x, y = inset.texts[0].get_position()
    assert 0 <= x <= 1 and 0 <= y <= 1


def test_sweep_excess_figure_across_the_163_164_boundary():
    """The Rider line starts at n = 164; points on both sides draw (issue 14, item 5)."""
    points = [
        {"n": n, "init": "glorot", "field": f, "complete": True, "radius_mean": 1.04 - n / 1e4, "radius_mean_se": 1e-3}
        for n in (128, 150, 160, 163, 164, 165, 200)
        for f in ("real", "complex")
    ]
    fig = plots.figure_sweep_excess(points)
    rider = next(line for line in fig.axes[0].get_lines() if "Rider" in line.get_label())
    assert rider.get_xdata().min() >= 164


def test_reproduce_help_states_the_scope_and_fig4_sizes():
    result = runner.invoke(app, ["reproduce", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and "training tables (LRA sCIFAR, ListOps, IMDb) are not reproduced" in text
    assert "--fig4-matrices" in text and "--fig4-steps" in text and "moduli" in text


@pytest.mark.slow
def test_scaled_radii_stages_derive_from_glorot(monkeypatch):
    """rescaled and half radii are c times Glorot's for the same matrices: one eigen-solve per matrix
    and field, and the result agrees with solving the scaled matrices directly."""
    cfg = reproduce.Config(n=170, samples=6, figures=("1", "2", "tables"), precision="double")
    solved = []
    real_sample_radii = reproduce.sample_radii
    monkeypatch.setattr(
        reproduce, "sample_radii", lambda ens, *a, **k: solved.append(ens.name) or real_sample_radii(ens, *a, **k)
    )
    stages = {s.name: s for s in reproduce.plan(cfg, "cpu")}
    got = {
        name: stages[name].compute(None)["radii"]
        for name in stages
        if name.startswith("radii-real-") or name.startswith("radii-complex-")
    }
    assert sorted(solved) == sorted(
        ["glorot", "glorot", "truncnormal", "truncnormal", "uniform-diag", "uniform-disk", "lru"]
    )
    monkeypatch.setattr(reproduce, "sample_radii", real_sample_radii)
    for fld in ("real", "complex"):
        for init in ("rescaled", "half"):
            ens = make_ensemble(init, 170, fld)
            direct = sample_radii(ens, 6, 0, precision="double", sampler="dense")
            np.testing.assert_allclose(got[f"radii-{fld}-{init}"], direct, rtol=1e-12)
            assert not np.allclose(got[f"radii-{fld}-{init}"], got[f"radii-{fld}-glorot"], rtol=1e-3)


@pytest.mark.parametrize(
    "size, bad",
    [("matrices", 0), ("trajectory_every", 0), ("n", 1), ("fig4_steps", 2.5), ("seed", -1), ("precision", "half")],
)
def test_library_reproduce_checks_sizes_before_touching_the_run_directory(tmp_path, size, bad):
    """sd.reproduce with a bad size raises InputError naming it and leaves no run directory."""
    out = tmp_path / "run"
    with pytest.raises(InputError) as err:
        reproduce.reproduce(out=out, quick=True, device="cpu", **{size: bad})
    assert err.value.param == size and not out.exists()

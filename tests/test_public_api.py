"""The public API: the exported names are pinned, every module declares ``__all__``, private
modules look private in ``help(specdiag)``, the README's Library snippet runs exactly as written,
and library calls follow the conventions (``n`` first, results as dataclasses, errors naming the
Python parameter)."""

import dataclasses
import importlib
import inspect
import pkgutil
import pydoc
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import specdiag as sd
import specdiag._backend as backend
from specdiag._radius_report import RadiusReport
from specdiag._results import Result

ROOT = Path(__file__).resolve().parents[1]

EXPORTED = {
    "__version__",
    "InputError",
    "spectral_radii",
    "radius_stats",
    "RadiusStats",
    "radius_report",
    "RadiusReport",
    "sample_radii",
    "INITS",
    "InitOptions",
    "init_options",
    "inits_report",
    "InitsReport",
    "Ensemble",
    "make_ensemble",
    "radius_law",
    "LawSummary",
    "laws",
    "theory_summary",
    "theory_report",
    "TheorySummary",
    "TheoryReport",
    "fit_gumbel",
    "compare_laws",
    "fit_report",
    "GumbelFit",
    "LawComparison",
    "FitReport",
    "trajectory",
    "hidden_states",
    "trajectory_report",
    "hidden_report",
    "DynamicsReport",
    "simulate",
    "NormCurves",
    "check_file",
    "check_paths",
    "MultiCheckReport",
    "check_tensors",
    "check_state_dict",
    "check_module",
    "list_file",
    "check_matrix",
    "CheckReport",
    "Thresholds",
    "sweep",
    "reproduce",
}
#: the only modules of the package without a leading underscore: the public namespaces and the CLI
PUBLIC_MODULES = {"laws", "cli", "torch", "keras", "jax", "testing", "__main__"}


def test_exported_names_are_pinned():
    assert EXPORTED <= set(sd.__all__), f"missing from __all__: {sorted(EXPORTED - set(sd.__all__))}"
    for name in sd.__all__:
        assert getattr(sd, name) is not None, name


def _modules():
    package = Path(sd.__file__).parent
    for info in pkgutil.walk_packages([str(package)], prefix="specdiag."):
        if info.name != "specdiag.__main__":
            yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_every_module_declares_all(name):
    module = importlib.import_module(name)  # walking the package: the names are only known at run time
    assert isinstance(getattr(module, "__all__", None), (list, tuple)), f"{name} has no __all__"
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ names {exported!r}, which does not exist"


def test_help_shows_private_modules_as_private():
    text = pydoc.render_doc(sd, renderer=pydoc.plaintext)
    contents = text.split("PACKAGE CONTENTS", 1)[1].split("\n\n", 1)[0].split()
    listed = {name for name in contents if name != "(package)"}
    assert "_api" in listed and "laws" in listed
    assert {name for name in listed if not name.startswith("_")} <= PUBLIC_MODULES
    functions = text.split("\nFUNCTIONS\n", 1)[1].split("\nDATA\n", 1)[0]
    documented = {name for name in re.findall(r"^    (\w+)\(", functions, flags=re.M) if not name.startswith("__")}
    assert {"radius_report", "spectral_radii", "theory_summary"} <= documented <= set(sd.__all__)
    for name in sd.__all__:
        if name not in ("__version__", "INITS", "laws"):
            assert inspect.getdoc(getattr(sd, name)), f"{name} has no docstring"


@pytest.mark.slow
def test_package_is_typed(tmp_path):
    """The wheel carries py.typed (PEP 561) and the real-law table: built from a copy of the tree."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "specdiag", tmp_path / "specdiag", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", "dist"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("specdiag-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "specdiag/py.typed" in names
    assert "specdiag/data/real_glorot_radius.json" in names and "specdiag/cli/output.py" in names


def test_results_share_one_to_dict():
    stats = sd.radius_stats([0.9, 1.1, 1.2])
    assert dataclasses.is_dataclass(stats) and isinstance(stats.to_dict()["mean"], float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.mean = 0.0  # results are frozen
    for cls in (
        sd.InitsReport,
        sd.RadiusReport,
        sd.DynamicsReport,
        sd.TheorySummary,
        sd.TheoryReport,
        sd.LawComparison,
        sd.FitReport,
    ):
        assert dataclasses.is_dataclass(cls) and issubclass(cls, Result) and cls.__dataclass_params__.frozen, cls


def _readme_blocks(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_readme_library_snippet_runs_as_written(tmp_path, monkeypatch):
    (snippet,) = _readme_blocks("Library")
    monkeypatch.chdir(tmp_path)  # it writes w.npy
    namespace: dict = {}
    exec(compile(snippet, "README.md (Library)", "exec"), namespace)
    rep = namespace["rep"]
    assert isinstance(rep, RadiusReport) and rep.init == "rescaled" and rep.stats.count == 20
    assert rep.to_dict()["stats"]["mean"] == rep.stats.mean and "count" not in rep.to_dict()["stats"]
    assert 0 < rep.theory.p_above_1 < 0.5  # the rescaled init sits mostly below 1
    assert namespace["r"].shape == (20,) and namespace["law"].mean() == pytest.approx(sd.laws.kostlan(500).mean())
    assert namespace["fit"].exact.label == "Kostlan exact"
    assert namespace["hid"].blowup_step is not None


def test_reports_take_n_first_and_keywords_after():
    for func in (
        sd.spectral_radii,
        sd.radius_law,
        sd.trajectory,
        sd.hidden_states,
        sd.radius_report,
        sd.theory_summary,
        sd.fit_report,
    ):
        params = list(inspect.signature(func).parameters.values())
        assert params[0].name == "n", func.__name__
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params[1:]), func.__name__
    assert sd.radius_law(500, init="glorot", field="complex").mean() == pytest.approx(sd.laws.kostlan(500).mean())


def test_radius_report_by_law_and_its_document():
    rep = sd.radius_report(300, samples=200, field="complex", method="law", seed=4)
    doc = rep.to_dict()
    assert list(doc) == [
        "command",
        "n",
        "samples",
        "init",
        "field",
        "device",
        "precision",
        "seed",
        "method",
        "method_label",
        "sampler",
        "stats",
        "theory",
        "asymptotic",
        "rider_location",
        "rescaling",
        "radii",
        "elapsed_s",
        "matrices_per_s",
    ]
    assert (
        doc["device"] == "none"
        and doc["sampler"] is None
        and doc["matrices_per_s"] is None
        and len(doc["radii"]) == 200
    )
    assert rep.theory.source == "Kostlan exact" and rep.asymptotic.source.startswith("Rider limit")
    assert abs(rep.stats.mean - rep.theory.mean) < 4 * rep.theory.std / np.sqrt(200)


@pytest.mark.parametrize(
    "call,param",
    [
        (lambda: sd.spectral_radii(10, samples=0), "samples"),
        (lambda: sd.spectral_radii(10, samples=2, device="auto-gpu"), "device"),
        (lambda: sd.spectral_radii(10**6, samples=2), "n"),  # the memory guard, not a MemoryError
        (lambda: sd.spectral_radii(10, samples=2, init="glorot", rmax=2), "rmax"),
        (lambda: sd.spectral_radii(200, samples=2, init="rescaled", coverage=0.8), "coverage"),
        (lambda: sd.spectral_radii(10, samples=2, init="lru", gain=2), "gain"),
        (lambda: sd.radius_stats([]), "radii"),
        (lambda: sd.radius_report(10, samples=2, method="exact"), "method"),
        (lambda: sd.fit_report(50, samples=5, field="complex"), "samples"),
        (lambda: sd.theory_report([100, 1], coverage=0.5), "n"),
        (lambda: sd.compare_laws([1.0] * 3, n=50), "radii"),
        (lambda: sd.fit_report(50, from_file="r.npy", rmax=0.5), "rmax"),
        (lambda: sd.trajectory_report(10, steps=5, input_scale=2.0), "input_scale"),
        (lambda: sd.hidden_report(10, steps=5, init="half", rescale="paper"), "rescale"),
    ],
)
def test_input_error_names_the_parameter(call, param):
    with pytest.raises(sd.InputError) as info:
        call()
    assert info.value.param == param and param in str(info.value), str(info.value)
    assert "--" not in str(info.value), "library messages name Python parameters, not CLI flags"


def test_options_an_init_uses_are_accepted():
    lru = sd.init_options(init="lru", rmin=0.5, rmax=0.95, max_phase=1.0)
    assert (lru.rmin, lru.rmax, lru.max_phase) == (0.5, 0.95, 1.0)
    assert sd.init_options(init="rescaled", rescale="calibrated", coverage=0.8).coverage == 0.8
    assert sd.init_options(init="glorot", rmin=None, rescale=None).rescale == "paper"  # None: not given


def test_auto_device_never_silently_unknown(monkeypatch):
    monkeypatch.setenv("SPECDIAG_DISABLE_GPU", "1")
    backend.cupy_module.cache_clear()
    try:
        assert backend.resolve_device("auto") == "cpu"
        with pytest.raises(sd.InputError):
            backend.resolve_device("cuda")
    finally:
        backend.cupy_module.cache_clear()


def test_reports_write_the_commands_files(tmp_path):
    """out/plot in the call, or write/plot afterwards: the same files as ``specdiag radius --out --plot``."""
    rep = sd.radius_report(
        20, samples=6, field="complex", workers=1, device="cpu", out=tmp_path / "a", plot=tmp_path / "a.png"
    )
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["radii.csv", "run.json"]
    assert (tmp_path / "a" / "radii.csv").read_text() == rep.csv() and (tmp_path / "a.png").read_bytes()[
        :4
    ] == b"\x89PNG"
    rep.write(tmp_path / "b")
    assert (tmp_path / "b" / "radii.csv").read_text() == rep.csv()
    with pytest.raises(sd.InputError) as info:  # another run's directory is refused, naming the parameter
        sd.radius_report(20, samples=7, field="complex", workers=1, device="cpu", out=tmp_path / "a")
    assert info.value.param == "out"
    hid = sd.hidden_report(8, steps=5, matrices=2, inputs=2, device="cpu", workers=1)
    hid.write(tmp_path / "h")
    assert (tmp_path / "h" / "hidden.csv").read_text() == hid.csv()

"""Start-up of one command: ``specdiag COMMAND ...`` imports only the module that registers COMMAND.

No timings here (they belong to benchmarks/); these tests pin what is imported and that the
command table in :mod:`specdiag.cli` matches the commands on the full app.
"""

import importlib
import json
import pkgutil
import subprocess
import sys

import numpy as np
import pytest
import typer

import specdiag.cli as cli

TRAJECTORY = [
    "trajectory",
    "--n",
    "5",
    "--matrices",
    "1",
    "--inputs",
    "1",
    "--steps",
    "1",
    "--device",
    "cpu",
    "--format",
    "json",
]

# Runs specdiag.cli.main() as the console script would, then reports the specdiag modules it
# imported and, after asking for the full app in the same process, the order of its commands.
WRAPPER = """
import json, sys
import typer
import specdiag.cli
sys.argv = ["specdiag", *sys.argv[1:]]
try:
    specdiag.cli.main()
except SystemExit as exc:
    code = exc.code
modules = sorted(m for m in sys.modules if m == "specdiag" or m.startswith("specdiag."))
order = typer.main.get_command(specdiag.cli.app).list_commands(None)
sys.stdout.flush()
print("\\n" + json.dumps({"exit": code, "modules": modules, "order": order}))
"""


@pytest.fixture(scope="module")
def trajectory_run():
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *TRAJECTORY], capture_output=True, text=True, check=True)
    output, _, last = proc.stdout.rstrip().rpartition("\n")
    return json.loads(output), json.loads(last)


def test_command_table_is_exactly_the_registered_commands():
    for info in pkgutil.iter_modules(cli.__path__):  # a command module missing from _registered_app too
        importlib.import_module(f"specdiag.cli.{info.name}")
    infos = cli.app.registered_commands
    assert sorted(info.name for info in infos) == sorted(cli.COMMAND_MODULES)
    for info in infos:  # and each is registered by the module the table names
        assert info.callback.__module__ == f"specdiag.cli.{cli.COMMAND_MODULES[info.name]}", info.name


def test_one_command_imports_only_its_module(trajectory_run):
    doc, report = trajectory_run
    assert report["exit"] == 0 and doc["command"] == "trajectory"
    modules = set(report["modules"])
    assert "specdiag.cli.dynamics" in modules
    for unwanted in (
        "specdiag._check",
        "specdiag._sweep",
        "specdiag.cli.check",
        "specdiag.cli.sweep",
        "specdiag.cli.reproduce",
        "specdiag.cli.radius",
        "specdiag.cli.theory",
    ):
        assert unwanted not in modules, unwanted


def test_full_app_after_one_command_keeps_help_order(trajectory_run):
    _, report = trajectory_run
    assert report["order"] == list(cli.COMMAND_MODULES)


def test_full_app_lists_commands_in_table_order():
    assert typer.main.get_command(cli.app).list_commands(None) == list(cli.COMMAND_MODULES)


# One interpreter each: the command modules most used (and check, the largest) in the quick set, the rest slow.
QUICK_MODULES = ("check", "dynamics", "radius")


@pytest.mark.parametrize(
    "module",
    [
        module if module in QUICK_MODULES else pytest.param(module, marks=pytest.mark.slow)
        for module in sorted(set(cli.COMMAND_MODULES.values()))
    ],
)
def test_each_command_module_alone_serves_its_help(module):
    name = next(name for name, owner in cli.COMMAND_MODULES.items() if owner == module)
    proc = subprocess.run([sys.executable, "-m", "specdiag", name, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    usage = proc.stdout.splitlines()[0]  # "Usage: python -m specdiag NAME [OPTIONS] ..."
    assert usage.startswith("Usage: ") and f"specdiag {name} [OPTIONS]" in usage and proc.stderr == ""


# --- What the short commands may import (issue 21: start-up near a bare numpy + scipy.linalg import) --

# Runs one command as the console script would and prints the names of every module it imported.
MODULES = """
import json, sys
import specdiag.cli
sys.argv = ["specdiag", *sys.argv[1:]]
try:
    specdiag.cli.main()
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("\\n" + json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""

#: never imported by radius, theory, fit-gumbel or check of a tiny array file: the laws' numbers come
#: from plain numpy (specdiag._special stands in for scipy.special, 0.13-0.25 s of imports;
#: specdiag.laws._distributions wraps scipy.stats for Python users)
HEAVY = (
    "scipy.special",
    "scipy.stats",
    "scipy.interpolate",
    "scipy.optimize",
    "specdiag.laws._distributions",
    "matplotlib",
    "rich.progress",
    "torch",
    "dask",
    "pandas",
    "multiprocessing",  # a pool starts only for more than one worker
    "specdiag._dynamics",  # the trajectory engine
)


def _imported(args, tmp_path=None):
    proc = subprocess.run([sys.executable, "-c", MODULES, *args], capture_output=True, text=True, cwd=tmp_path)
    output, _, last = proc.stdout.rstrip().rpartition("\n")
    report = json.loads(last)
    return report["exit"], set(report["modules"]), proc.stderr


def _array_file(tmp_path, kind):
    w = (np.random.default_rng(0).standard_normal((8, 8)) / np.sqrt(8)).astype(np.float32)
    path = tmp_path / f"w.{kind}"
    if kind == "npy":
        np.save(path, w)
    elif kind == "npz":
        np.savez(path, rnn_weight_hh=w)
    else:
        pytest.importorskip("safetensors", reason="safetensors writes the .safetensors file")
        from safetensors.numpy import save_file

        save_file({"rnn.weight_hh": w}, str(path))
    return path


SHORT_COMMANDS = {
    "radius": ["radius", "--n", "8", "--samples", "2", "--workers", "1"],
    "radius-complex": ["radius", "--n", "8", "--samples", "2", "--workers", "1", "--field", "complex"],
    "theory": ["theory", "--n", "500"],
    "fit-gumbel": ["fit-gumbel", "--n", "20", "--samples", "50", "--workers", "1"],
    "fit-gumbel-complex": ["fit-gumbel", "--n", "20", "--samples", "50", "--workers", "1", "--field", "complex"],
}


@pytest.mark.parametrize(
    "name",
    [
        name if name in ("radius", "theory") else pytest.param(name, marks=pytest.mark.slow)
        for name in sorted(SHORT_COMMANDS)
    ],
)
def test_short_commands_import_no_heavy_module(name):
    code, modules, stderr = _imported(SHORT_COMMANDS[name])
    assert code == 0, stderr
    assert not [m for m in HEAVY if m in modules]
    assert "specdiag.laws._numeric" in modules  # the numbers printed come from the numeric laws


@pytest.mark.parametrize(
    "kind", ["npy", pytest.param("npz", marks=pytest.mark.slow), pytest.param("safetensors", marks=pytest.mark.slow)]
)
def test_check_of_an_array_file_imports_no_heavy_module(tmp_path, kind):
    code, modules, stderr = _imported(["check", str(_array_file(tmp_path, kind)), "--workers", "1"])
    assert code in (0, 1), stderr
    assert not [m for m in HEAVY if m in modules]

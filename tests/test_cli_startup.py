"""Start-up of one command: ``specdiag COMMAND ...`` imports only the module that registers COMMAND.

No timings here (they belong to benchmarks/); these tests pin what is imported and that the
command table in :mod:`specdiag.cli` matches the commands on the full app.
"""

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest
import typer

import specdiag.cli as cli

TRAJECTORY = ["trajectory", "--n", "5", "--matrices", "1", "--inputs", "1", "--steps", "1", "--device", "cpu", "--format", "json"]

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
    for unwanted in ("specdiag._check", "specdiag._sweep", "specdiag.cli.check", "specdiag.cli.sweep", "specdiag.cli.reproduce", "specdiag.cli.radius", "specdiag.cli.theory"):
        assert unwanted not in modules, unwanted


def test_full_app_after_one_command_keeps_help_order(trajectory_run):
    _, report = trajectory_run
    assert report["order"] == list(cli.COMMAND_MODULES)


def test_full_app_lists_commands_in_table_order():
    assert typer.main.get_command(cli.app).list_commands(None) == list(cli.COMMAND_MODULES)


@pytest.mark.parametrize("module", sorted(set(cli.COMMAND_MODULES.values())))
def test_each_command_module_alone_serves_its_help(module):
    name = next(name for name, owner in cli.COMMAND_MODULES.items() if owner == module)
    proc = subprocess.run([sys.executable, "-m", "specdiag", name, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    usage = proc.stdout.splitlines()[0]  # "Usage: python -m specdiag NAME [OPTIONS] ..."
    assert usage.startswith("Usage: ") and f"specdiag {name} [OPTIONS]" in usage and proc.stderr == ""

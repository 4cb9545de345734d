"""The CI integrations run as written (issue 22): the pre-commit hook's entry on files of a git
repository, the composite action's shell steps with its inputs, and every snippet of the README's
"Use in CI" section (GitHub Actions, GitLab CI, pre-commit, pytest). Commands run in a subprocess
through a ``specdiag`` shim on PATH that runs this checkout (``python -m specdiag``); pip installs
and ``uses:`` steps (network) are skipped, and said so in each test."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML reads the hook, action and README snippets (pip install pyyaml)")

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the action and snippets are bash")


def orthogonal(n, scale, seed=0):
    return scale * np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]


@pytest.fixture
def shell_env(tmp_path):
    """PATH with a ``specdiag`` that runs this checkout, and PYTHONPATH to import it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "specdiag"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m specdiag "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPECDIAG_", "GITHUB_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.fixture
def repo(tmp_path):
    """A project with two models: models/good.npz (stable) and models/bad.npy (radius 1.3)."""
    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    np.savez(root / "models" / "good.npz", W_hh=orthogonal(12, 0.5), W_in=np.ones((12, 3)))
    np.save(root / "models" / "bad.npy", orthogonal(12, 1.3, seed=1))
    (root / "requirements.txt").write_text("numpy\n")
    (root / "README.md").write_text("# a project\n")
    return root


def sh(command, cwd, env, extra_env=None):
    """Run one shell command as a GitHub/GitLab runner does (bash, -e -o pipefail)."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def is_install(command):
    return bool(re.match(r"\s*(python3? -m )?pip install", command))


def test_hook_and_action_definitions():
    hook = hook_definition()
    assert (hook["entry"].split()[:2], hook["language"], hook["pass_filenames"]) == (
        ["specdiag", "check"],
        "python",
        True,
    )
    matches = [
        name
        for name in ("m.npy", "m.npz", "m.safetensors", "m.pt", "d/m.onnx", "m.h5", "requirements.txt", "m.csv", "m.py")
        if re.search(hook["files"], name)
    ]
    assert matches == ["m.npy", "m.npz", "m.safetensors", "m.pt", "d/m.onnx", "m.h5"]
    from specdiag._inputs import WALK_SUFFIXES

    # every weights format a walk finds, text matrices aside, is a file the hook runs on
    assert [s for s in WALK_SUFFIXES if s not in (".csv", ".txt") and not re.search(hook["files"], "m" + s)] == []
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert {"paths", "args", "format"} <= set(action["inputs"]) and action["runs"]["using"] == "composite"
    assert [s.get("uses", "run").split("@")[0] for s in action["runs"]["steps"]] == [
        "run",
        "run",
        "github/codeql-action/upload-sarif",
        "run",
    ]


# --- pre-commit -----------------------------------------------------------------------------------


def hook_definition():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "specdiag-check"]
    return hook


def run_hook(hook, repo, env, args=()):
    """What pre-commit does, offline: select the staged files by ``files``, run ``entry`` + args on them."""
    staged = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    files = [f for f in staged if re.search(hook["files"], f)]
    return files, sh(shlex.join([*shlex.split(hook["entry"]), *hook.get("args", []), *args, *files]), repo, env)


@pytest.mark.skipif(shutil.which("git") is None, reason="the hook test stages files in a git repository")
@pytest.mark.slow
def test_pre_commit_hook_entry_on_two_files(repo, shell_env):
    hook = hook_definition()
    assert hook["language"] == "python" and hook["pass_filenames"] is True and hook["require_serial"] is True
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    files, result = run_hook(hook, repo, shell_env)
    assert files == ["models/bad.npy", "models/good.npz"]  # requirements.txt and README.md are not weights
    assert result.returncode == 1, result.stderr
    assert "radius 1.3 > --max-radius 1" in result.stderr and "models/bad.npy" in result.stderr
    np.save(repo / "models" / "bad.npy", orthogonal(12, 0.9, seed=1))
    assert run_hook(hook, repo, shell_env)[1].returncode == 0
    np.save(repo / "models" / "bad.npy", np.ones(5))  # a data vector, nothing recurrent: the commit passes
    (repo / "models" / "good.npz").unlink()
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    assert run_hook(hook, repo, shell_env)[1].returncode == 0


# --- the composite action -------------------------------------------------------------------------


def run_action(repo, env, inputs, tmp_path):
    """Run action.yml's shell steps with ``inputs`` (defaults filled in); skip the pip install and
    the ``uses:`` upload (both need the network), returning what each step did."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    assert set(inputs) <= set(values), f"unknown inputs {set(inputs) - set(values)}"
    values.update(inputs)
    outputs: dict = {}

    def expression(match):
        expr = match.group(1).strip()
        if expr.startswith("inputs."):
            return values[expr[len("inputs.") :]]
        if expr == "github.action_path":
            return str(ROOT)
        step, name = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr).groups()
        return outputs.get(step, {}).get(name, "")

    def substitute(text):
        return re.sub(r"\$\{\{(.*?)\}\}", expression, str(text))

    done = []
    for i, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            done.append(
                ("uses", step["uses"], {k: substitute(v) for k, v in step.get("with", {}).items()}, step.get("if", ""))
            )
            continue
        step_env = {k: substitute(v) for k, v in step.get("env", {}).items()}
        if is_install(substitute(step["run"])):
            assert "SPECDIAG_ACTION_PATH" in step["run"] and step_env["SPECDIAG_ACTION_PATH"] == str(ROOT)
            done.append(("skipped", step["name"]))
            continue
        github_output = tmp_path / f"github_output_{i}"
        github_output.write_text("")
        result = sh(step["run"], repo, env, {**step_env, "GITHUB_OUTPUT": str(github_output)})
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
        done.append(("run", step["name"], result))
    return done, outputs


@pytest.mark.slow
def test_action_steps_sarif_and_gate(repo, shell_env, tmp_path):
    done, outputs = run_action(repo, shell_env, {"paths": "models/", "format": "sarif"}, tmp_path)
    assert outputs["check"] == {"exit-code": "1", "report": "specdiag.sarif"}
    log = json.loads((repo / "specdiag.sarif").read_text())
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]} == {
        "models/bad.npy"
    }
    (upload,) = [d for d in done if d[0] == "uses"]
    assert upload[1].startswith("github/codeql-action/upload-sarif@") and upload[2]["sarif_file"] == "specdiag.sarif"
    assert "always()" in upload[3] and "inputs.format == 'sarif'" in upload[3]
    gate = done[-1][2]
    assert done[-1][1] == "Gate" and gate.returncode == 1  # the job fails after the upload

    done, outputs = run_action(
        repo,
        shell_env,
        {"paths": "models/*.npz 'models/*.npy'", "format": "github", "args": "--exit-zero --seq-len 4096"},
        tmp_path,
    )
    check = done[1][2]
    assert outputs["check"] == {"exit-code": "0", "report": ""} and done[-1][2].returncode == 0
    assert check.stdout.startswith("::error file=models/bad.npy,title=specdiag radius")


# --- README "Use in CI" ---------------------------------------------------------------------------


def readme_blocks(heading):
    """The fenced code blocks (language, text) under a README heading, up to the next heading."""
    text = (ROOT / "README.md").read_text()
    start = text.index(heading + "\n")
    following = re.search(r"^#{2,4} ", text[start + len(heading) :], flags=re.M)
    section = text[start : start + len(heading) + (following.start() if following else len(text))]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def commands(block):
    """Shell commands of a bash block, comments dropped."""
    return [
        line.split("  #")[0].strip()
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.mark.slow
def test_readme_use_in_ci_commands(repo, shell_env):
    (lang, block), *_ = readme_blocks("### Use in CI (`check` on many files; SARIF, JUnit, annotations)")
    assert lang == "bash"
    codes = [sh(c, repo, shell_env).returncode for c in commands(block)]
    assert codes == [1, 1, 1, 0]
    assert json.loads((repo / "specdiag.sarif").read_text())["version"] == "2.1.0"
    assert ET.parse(repo / "specdiag-junit.xml").getroot().get("failures") == "1"
    # the exit-code table is the one check --help prints
    table = re.findall(r"^\| (\d) \| (.+) \|$", (ROOT / "README.md").read_text(), flags=re.M)
    from specdiag._check_paths import EXIT_CODES

    assert [(int(c), m) for c, m in table] == list(EXIT_CODES.items())


@pytest.mark.slow
def test_readme_github_actions(repo, shell_env, tmp_path):
    (_, workflow), (_, steps) = readme_blocks("#### GitHub Actions")
    job = yaml.safe_load(workflow)["jobs"]["weights"]
    (mine,) = [s for s in job["steps"] if s.get("uses", "").endswith("/specdiag@v0")]
    done, outputs = run_action(repo, shell_env, {k: str(v) for k, v in mine["with"].items()}, tmp_path)
    assert outputs["check"]["exit-code"] == "1" and done[-1][2].returncode == 1
    assert (repo / outputs["check"]["report"]).is_file()
    runs = [s["run"] for s in yaml.safe_load(steps)]
    results = [sh(c, repo, shell_env) for c in runs if not is_install(c)]
    assert [r.returncode for r in results] == [1] and "::error file=models/bad.npy" in results[0].stdout


@pytest.mark.slow
def test_readme_gitlab_ci(repo, shell_env):
    ((_, block),) = readme_blocks("#### GitLab CI")
    job = yaml.safe_load(block)["specdiag"]
    codes = [sh(c, repo, shell_env).returncode for c in job["script"] if not is_install(c)]
    assert codes == [0, 1]  # code quality never fails the job; the JUnit run gates it
    reports = job["artifacts"]["reports"]
    issues = json.loads((repo / reports["codequality"]).read_text())
    assert {i["location"]["path"] for i in issues} == {"models/bad.npy"}
    assert ET.parse(repo / reports["junit"]).getroot().get("failures") == "1"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="the hook test stages files in a git repository")
def test_readme_pre_commit_config(repo, shell_env):
    ((_, block),) = readme_blocks("#### pre-commit")
    (entry,) = yaml.safe_load(block)["repos"][0]["hooks"]
    hook = hook_definition()
    assert entry["id"] == hook["id"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    files, result = run_hook(hook, repo, shell_env, entry.get("args", []))
    assert result.returncode == 1 and "t = 4096" in result.stdout


@pytest.mark.slow
def test_readme_pytest_snippet(repo, shell_env):
    ((_, block),) = readme_blocks("#### pytest")
    path = block.splitlines()[0].lstrip("# ").strip()
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(block)
    pytest_cmd = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider {path}"
    failed = sh(pytest_cmd, repo, shell_env)
    assert (
        failed.returncode == 1
        and "models/bad.npy:bad" in failed.stdout
        and "radius 1.3 > max_radius 1" in failed.stdout
    )
    np.save(repo / "models" / "bad.npy", orthogonal(12, 0.9, seed=1))
    passed = sh(pytest_cmd, repo, shell_env)
    assert passed.returncode == 0, passed.stdout

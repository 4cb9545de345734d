"""check in CI (issue 22): many inputs in one run, the report formats (json, jsonl, sarif, junit,
github, gitlab), -o/--output, SPECDIAG_FORMAT, and the exit-code table (0 pass, 1 fail, 2 bad
input, 3 nothing to check; --exit-zero, --allow-empty)."""

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import specdiag as sd
from specdiag._check_paths import EXIT_CODES, exit_code
from specdiag._inputs import expand_inputs
from specdiag._reports import render
from specdiag._reports.findings import criterion
from specdiag._reports.github import escape_data, escape_property
from specdiag.cli import app

runner = CliRunner()

# The SARIF 2.1.0 structure this report relies on, written from the OASIS standard's required
# properties (sarifLog: version, runs; run: tool; tool: driver; toolComponent: name;
# reportingDescriptor: id; result: message; message: text; region: startLine >= 1; invocation:
# executionSuccessful; notification: message) and its enums (level). The official schema cannot
# be downloaded where the tests run; the output was also checked against it once by hand.
_MESSAGE = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
_LOCATION = {
    "type": "object",
    "properties": {
        "physicalLocation": {
            "type": "object",
            "required": ["artifactLocation"],
            "properties": {
                "artifactLocation": {
                    "type": "object",
                    "required": ["uri"],
                    "properties": {"uri": {"type": "string"}, "uriBaseId": {"type": "string"}},
                },
                "region": {
                    "type": "object",
                    "required": ["startLine"],
                    "properties": {"startLine": {"type": "integer", "minimum": 1}},
                },
            },
        },
        "logicalLocations": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "fullyQualifiedName": {"type": "string"},
                    "kind": {"type": "string"},
                },
            },
        },
    },
}
_LEVEL = {"enum": ["none", "note", "warning", "error"]}
SARIF_SUBSET_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": _MESSAGE,
                                                "fullDescription": _MESSAGE,
                                                "help": _MESSAGE,
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {"level": _LEVEL},
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "invocations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["executionSuccessful"],
                            "properties": {
                                "executionSuccessful": {"type": "boolean"},
                                "exitCode": {"type": "integer"},
                                "toolExecutionNotifications": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["message"],
                                        "properties": {
                                            "message": _MESSAGE,
                                            "level": _LEVEL,
                                            "locations": {"type": "array", "items": _LOCATION},
                                        },
                                    },
                                },
                            },
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "ruleId"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": _LEVEL,
                                "message": _MESSAGE,
                                "locations": {"type": "array", "items": _LOCATION},
                                "partialFingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
                                "properties": {"type": "object"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def run(*args, env=None):
    return runner.invoke(app, ["check", *[str(a) for a in args]], env=env)


def orthogonal(n, scale, seed=0):
    return scale * np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository with a stable model and an unstable one (one bad tensor of two)."""
    monkeypatch.chdir(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    np.savez(models / "stable.npz", W_hh=orthogonal(16, 0.5), W_in=np.ones((16, 16)))
    np.savez(models / "unstable.npz", W_hh=orthogonal(16, 1.3), W_rec=orthogonal(8, 0.6, seed=1))
    return tmp_path


def sarif_validate(log):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema validates the SARIF log")
    jsonschema.validate(log, SARIF_SUBSET_SCHEMA)


# --- inputs ---------------------------------------------------------------------------------------


def test_expand_walks_directories_globs_and_sharded_checkpoints(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in (
        "a/x.npy",
        "a/b/y.safetensors",
        "a/.hidden/z.npy",
        "a/notes.md",
        "c/w.pt",
        "shards/model-1.safetensors",
        "shards/extra.npz",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "shards" / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"w": "model-1.safetensors"}})
    )
    got = expand_inputs(["a", "c/*.pt", "a/x.npy", "nothing/*.npy", "missing.npy", "."])
    paths = [f.path for f in got.files]
    assert paths[:3] == [os.path.join("a", "x.npy"), os.path.join("a", "b", "y.safetensors"), os.path.join("c", "w.pt")]
    assert paths[3] == "missing.npy" and got.files[3].named  # kept: the reader says "no such file"
    # '.' walks everything again: only the sharded folder (once, its shard not on its own) and extra.npz are new
    assert paths[4:] == ["shards", os.path.join("shards", "extra.npz")]
    assert got.unmatched == ["nothing/*.npy"]
    assert [f.path for f in expand_inputs(["shards"]).files] == ["shards"]  # a sharded folder named: one source
    assert [f.path for f in expand_inputs(["**/*.npz"]).files] == [os.path.join("shards", "extra.npz")]


def test_exit_code_is_the_worst_file():
    assert [
        exit_code(s) for s in (["ok", "warn"], ["ok", "fail"], ["fail", "error"], ["empty"], ["empty", "ok"], [])
    ] == [0, 1, 2, 3, 0, 3]
    assert set(EXIT_CODES) == {0, 1, 2, 3}


# --- the done criterion: two models, one unstable -------------------------------------------------


def test_two_models_sarif_junit_github_and_exit_codes(repo):
    result = run("models/", "--format", "sarif", "-o", "specdiag.sarif")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # the report went to the file; the human tables to stderr
    assert "W_hh" in result.stderr and "report written to specdiag.sarif" in result.stderr
    log = json.loads((repo / "specdiag.sarif").read_text())
    sarif_validate(log)
    (sarif_run,) = log["runs"]
    assert [r["id"] for r in sarif_run["tool"]["driver"]["rules"]][:4] == [
        "radius",
        "growth",
        "unchecked",
        "not-converged",
    ]
    results = sarif_run["results"]
    # exactly the unstable tensor: models/unstable.npz W_hh, by radius and by growth
    assert {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["logicalLocations"][0]["name"],
        )
        for r in results
    } == {("models/unstable.npz", "W_hh")}
    assert sorted(r["ruleId"] for r in results) == ["growth", "radius"] and {r["level"] for r in results} == {"error"}
    radius = next(r for r in results if r["ruleId"] == "radius")
    assert radius["properties"]["radius"] == pytest.approx(1.3) and radius["properties"]["shape"] == [16, 16]
    assert sarif_run["tool"]["driver"]["rules"][radius["ruleIndex"]]["id"] == "radius"
    assert sarif_run["invocations"][0]["executionSuccessful"] is True and sarif_run["invocations"][0]["exitCode"] == 1

    result = run("models/", "--format", "junit", "-o", "report.xml")
    assert result.exit_code == 1
    root = ET.parse(repo / "report.xml").getroot()
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {
        ("models/stable.npz", "W_hh"),
        ("models/unstable.npz", "W_hh"),
        ("models/unstable.npz", "W_rec"),
    }
    failure = cases[("models/unstable.npz", "W_hh")].find("failure")
    assert failure.get("type") == "radius" and "radius 1.3 > max_radius 1" in failure.get("message")
    assert cases[("models/stable.npz", "W_hh")].find("failure") is None

    result = run("models/", "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "::error file=models/unstable.npz,title=specdiag radius%2C growth%3A W_hh::W_hh: radius 1.3"
    )

    exit_zero = run("models/", "--format", "sarif", "-o", "again.sarif", "--exit-zero")
    assert exit_zero.exit_code == 0 and json.loads((repo / "again.sarif").read_text())["runs"][0]["results"] == results


def test_junitparser_reads_the_report(repo):
    junitparser = pytest.importorskip("junitparser", reason="a second JUnit reader, when installed")
    assert run("models", "--format", "junit", "-o", "r.xml").exit_code == 1
    xml = junitparser.JUnitXml.fromfile(str(repo / "r.xml"))
    cases = [(suite.name, case.name, [type(r).__name__ for r in case.result]) for suite in xml for case in suite]
    assert cases == [
        ("models/stable.npz", "W_hh", []),
        ("models/unstable.npz", "W_hh", ["Failure"]),
        ("models/unstable.npz", "W_rec", []),
    ]


def test_json_lists_every_file_and_keeps_single_file_keys(repo):
    doc = json.loads(run("models/stable.npz", "models/unstable.npz", "models/none-*.pt", "--format", "json").stdout)
    assert [(f["file"], f["status"]) for f in doc["files"]] == [
        ("models/stable.npz", "ok"),
        ("models/unstable.npz", "fail"),
        ("models/none-*.pt", "empty"),
    ]
    assert doc["verdict"] == "fail" and doc["exit_code"] == 1 and doc["summary"]["files"] == 3
    assert [(t["file"], t["name"], t["verdict"]) for t in doc["tensors"]] == [
        ("models/stable.npz", "W_hh", "ok"),
        ("models/unstable.npz", "W_hh", "fail"),
        ("models/unstable.npz", "W_rec", "ok"),
    ]
    single = json.loads(run("models/stable.npz", "--format", "json").stdout)
    assert {"command", "file", "kind", "container", "thresholds", "tensors", "skipped", "verdict", "elapsed_s"} <= set(
        single
    )
    assert single["file"] == "models/stable.npz" and single["skipped"][0]["name"] == "W_in"


def test_jsonl_one_object_per_line(repo):
    result = run("models", "--format", "jsonl")
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["type"] for o in objs] == ["tensor", "tensor", "tensor", "summary"] and objs[-1]["exit_code"] == 1


def test_gitlab_code_quality(repo):
    issues = json.loads(run("models", "--format", "gitlab").stdout)
    assert {(i["check_name"], i["location"]["path"], i["severity"]) for i in issues} == {
        ("specdiag/radius", "models/unstable.npz", "major"),
        ("specdiag/growth", "models/unstable.npz", "major"),
    }
    assert len({i["fingerprint"] for i in issues}) == 2


def test_specdiag_format_env_is_the_default(repo):
    assert run("models", env={"SPECDIAG_FORMAT": "github"}).stdout.startswith("::error file=models/unstable.npz")
    assert run("models", "--format", "json", env={"SPECDIAG_FORMAT": "github"}).stdout.startswith("{")


def test_output_is_atomic_and_replaces(repo):
    (repo / "out.json").write_text("old")
    result = run("models/stable.npz", "--format", "json", "-o", "out.json")
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads((repo / "out.json").read_text())["verdict"] == "ok"
    assert [p.name for p in repo.iterdir() if p.name.startswith(".out.json")] == []  # no temp left
    assert run("models/stable.npz", "-o", "models").stderr.startswith("error: --output 'models' is a directory")
    nested = run("models/stable.npz", "--format", "junit", "-o", "reports/ci/junit.xml")
    assert nested.exit_code == 0 and ET.parse(repo / "reports" / "ci" / "junit.xml").getroot().get("tests") == "1"
    table = run("models/stable.npz", "-o", "out.txt")
    assert table.exit_code == 0 and "W_hh" in (repo / "out.txt").read_text() and "W_hh" in table.stderr


# --- exit codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,args",
    [
        (lambda p: np.save(p / "rect.npy", np.zeros((3, 4))), ["rect.npy"]),  # the only tensor is not a matrix
        (lambda p: np.savez(p / "ff.npz", dense=np.eye(3), bias=np.ones(3)), ["ff.npz"]),  # no recurrent name
        (lambda p: (p / "empty").mkdir(), ["empty"]),  # no weights file in the folder
        (lambda p: None, ["*.safetensors"]),  # a glob that matches nothing
    ],
)
def test_nothing_to_check_exits_3(tmp_path, monkeypatch, make, args):
    monkeypatch.chdir(tmp_path)
    make(tmp_path)
    result = run(*args)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("nothing to check: ") and "Traceback" not in result.output
    assert run(*args, "--allow-empty").exit_code == 0
    assert run(*args, "--exit-zero").exit_code == 3  # --exit-zero only forgives gate failures


def test_a_read_error_is_worse_than_a_failure_and_the_others_are_still_reported(repo):
    (repo / "models" / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    result = run("models", "--format", "json", "--exit-zero")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert [f["status"] for f in doc["files"]] == ["error", "ok", "fail"] and "corrupt" in doc["files"][0]["message"]
    assert result.stderr.count("error: ") == 1 and "exit 2" in result.stderr
    log = json.loads(run("models", "--format", "sarif").stdout)
    sarif_validate(log)
    (note,) = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error" and log["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_keys_across_many_files(repo):
    doc = json.loads(run("models", "--key", "W_rec", "--format", "json").stdout)
    assert [(f["file"], f["status"]) for f in doc["files"]] == [
        ("models/stable.npz", "empty"),
        ("models/unstable.npz", "ok"),
    ]
    assert doc["exit_code"] == 0 and [t["name"] for t in doc["tensors"]] == ["W_rec"]
    assert run("models/stable.npz", "--key", "W_rec").exit_code == 2  # one file named: the key is wrong


def test_bad_options_stop_before_any_file(repo):
    result = run("models", "--seq-len", "0", "--format", "sarif")
    assert result.exit_code == 2 and result.stdout == "" and result.stderr.startswith("error: --seq-len")


def test_every_report_format_is_a_check_format():
    from specdiag._reports import REPORT_FORMATS
    from specdiag.cli.report import CheckFormat

    assert [f.value for f in CheckFormat] == ["table", *REPORT_FORMATS]


def test_help_shows_the_exit_code_table():
    text = runner.invoke(app, ["check", "--help"]).stdout
    for code, meaning in EXIT_CODES.items():
        assert f"{code}  {meaning}" in text


def test_library_check_paths(repo):
    report = sd.check_paths(["models"], max_radius=1.5, max_growth=None, workers=1)
    assert isinstance(report, sd.MultiCheckReport) and report.exit_code == 0
    assert [t.name for t in report.tensors] == ["W_hh", "W_hh", "W_rec"]
    with pytest.raises(sd.InputError, match="max_radius"):
        sd.check_paths(["models"], max_radius=-1)


# --- renderers on rows other commands add (not checked, not converged) -----------------------------


def synthetic_doc():
    rows = [
        {
            "file": "m.pt",
            "name": "lstm.weight_hh_l0[f]",
            "verdict": "fail",
            "reasons": [
                "radius 1.1 > max_radius 1",
                "hidden-state growth 10^2.50 at t = 1000 within 10x of max_growth 1000",
            ],
            "rule": "torch-weight_hh",
            "shape": [8, 8],
            "radius": 1.1,
            "log10_growth": 2.5,
        },
        {
            "file": "m.pt",
            "name": "cell\n%evil,name",
            "verdict": "not checked",
            "reasons": ["nonlinear cell: layout unknown"],
            "rule": "torch-weight_hh",
            "shape": [8, 8],
            "radius": None,
        },
        {
            "file": "big.npz",
            "name": "W",
            "verdict": "ok",
            "reasons": [],
            "rule": "reservoir-W",
            "shape": [9000, 9000],
            "radius": 0.9,
            "growth_method": "ARPACK radius (k = 6 and 16, agree; ARPACK did not fully converge)",
        },
    ]
    files = [{"file": "m.pt", "status": "fail", "message": None}, {"file": "big.npz", "status": "ok", "message": None}]
    return {"tensors": rows, "files": files, "verdict": "fail", "exit_code": 1, "thresholds": {}, "summary": {}}


def test_findings_cover_every_criterion():
    log = json.loads(render(synthetic_doc(), "sarif"))
    sarif_validate(log)
    got = [
        (r["ruleId"], r["level"], r["locations"][0]["logicalLocations"][0]["name"]) for r in log["runs"][0]["results"]
    ]
    assert got == [
        ("radius", "error", "lstm.weight_hh_l0[f]"),
        ("growth", "warning", "lstm.weight_hh_l0[f]"),  # only "within 10x": a warning on a failing row
        ("unchecked", "error", "cell\\n%evil,name"),  # printable: the newline is escaped
        ("not-converged", "warning", "W"),
    ]
    assert criterion("largest Lyapunov exponent 0.02 > 0") == "growth" and criterion("something new") == "gate"
    assert (
        criterion(
            "the state explodes (an entry beyond 1e+30 after 12 steps): the cell's state is unbounded (lambda = 0.3 "
            "+- 0 per step, driven)"
        )
        == "growth"
    )


def test_github_escaping_and_one_command_per_tensor():
    lines = render(synthetic_doc(), "github").splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("::error file=m.pt,title=specdiag unchecked%3A cell\\n%25evil%2Cname::")
    assert lines[2].startswith("::warning file=big.npz,")
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac" and escape_property("x:y,z%") == "x%3Ay%2Cz%25"


def test_junit_unchecked_is_a_failure_when_its_file_fails():
    root = ET.fromstring(render(synthetic_doc(), "junit"))
    kinds = {c.get("name"): [e.tag for e in c] for c in root.iter("testcase")}
    assert kinds == {"lstm.weight_hh_l0[f]": ["failure"], "cell\\n%evil,name": ["failure"], "W": ["system-out"]}


@pytest.mark.slow
def test_plot_many_files_one_folder_each(repo):
    doc = json.loads(run("models", "--plot", "figs", "--format", "json", "--exit-zero").stdout)
    assert sorted(Path(p).parent.name for p in doc["plots"]) == [
        "models_stable.npz",
        "models_unstable.npz",
        "models_unstable.npz",
    ]
    assert all(Path(p).is_file() for p in doc["plots"])

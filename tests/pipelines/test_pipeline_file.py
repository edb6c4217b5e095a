"""Pipeline files, rules and reports without training: what is refused before anything runs, what the gate
decides, the JUnit file against the schema, and the dvc.yaml that DVC itself reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import xmlschema

from mlcore.core import paths
from mlcore.pipelines.folder import FAILED, PASSED, SKIPPED, PipelineFolder
from mlcore.pipelines.gate import judge
from mlcore.pipelines.report import junit, markdown, outcome
from mlcore.pipelines.rules import RuleContext, RuleError, check, parse_rule
from mlcore.pipelines.spec import PipelineError, PipelineSpec
from tests.conftest import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "examples" / "pipelines"
SCHEMA = Path(__file__).with_name("junit.xsd")
CLASSES = ("solara", "aqualine", "verdant", "nimbus", "ferro")
CONTEXT = RuleContext(("validate", "train", "evaluate", "compare", "export"), CLASSES, ("onnx",), "production")


def test_both_examples_parse_and_their_rules_read_what_their_steps_measure() -> None:
    for name in ("demo.yaml", "demo-strict.yaml"):
        spec = PipelineSpec.from_text((EXAMPLES / name).read_text())
        assert spec.step_names == ("validate", "train", "evaluate", "export", "gate", "register")
        assert len(spec.rules(CLASSES)) == 5


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "baseline", "offset"),
    [
        ("map50_95 >= 0.60", "map50_95", ">=", 0.6, None, 0.0),
        ("map50_95 >= production - 0.005", "map50_95", ">=", None, "production", -0.005),
        ("recall[solara] >= 0.8", "recall[solara]", ">=", 0.8, None, 0.0),
        ("compare.verdict != a_better", "compare.verdict", "!=", "a_better", None, 0.0),
        ("export.onnx.parity == passed", "export.onnx.parity", "==", "passed", None, 0.0),
        ("latency_ms.onnx <= 40", "latency_ms.onnx", "<=", 40.0, None, 0.0),
        ("leakage.copies == 0", "leakage.copies", "==", 0.0, None, 0.0),
        ("ap50_95[ferro] > baseline + 0.01", "ap50_95[ferro]", ">", None, "baseline", 0.01),
    ],
)
def test_the_rules_of_the_issue_parse(text, metric, op, threshold, baseline, offset) -> None:
    rule = parse_rule(text, CONTEXT)
    assert (rule.metric, rule.op, rule.threshold, rule.baseline) == (metric, op, threshold, baseline)
    assert rule.offset == pytest.approx(offset)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("map5 >= 0.6", "is not a metric a pipeline measures"),
        ("recall[cactus] >= 0.8", "there is no class 'cactus'"),
        ("map50_95 => 0.6", "is not a rule"),
        ("map50_95 >= staging - 0.01", "'staging' names no baseline"),
        ("compare.verdict >= a_better", "compare it with == or !="),
        ("compare.verdict == better", "is one of a_better"),
        ("export.openvino.parity == passed", "the export step makes onnx"),
        ("audit.suspects == 0", "measured by the audit step; add a audit step"),
        ("latency_ms.onnx <= nan", "finite number"),
        ("leakage.copies == production", "only the evaluation's metrics"),
    ],
)
def test_a_rule_naming_what_is_not_measured_is_refused_with_how_to_write_it(text: str, says: str) -> None:
    with pytest.raises(RuleError, match=None) as refused:
        parse_rule(text, CONTEXT)
    assert says in str(refused.value)


def test_a_rule_against_the_baseline_works_out_its_threshold() -> None:
    rule = parse_rule("map50_95 >= production - 0.005", CONTEXT)
    held = check(rule, {"map50_95": 0.601}, {"map50_95": 0.605})
    assert held.passed and held.threshold == pytest.approx(0.6)
    missed = check(rule, {"map50_95": 0.59}, {"map50_95": 0.605})
    assert not missed.passed and missed.value == 0.59
    unmeasured = check(parse_rule("recall[ferro] >= 0.5", CONTEXT), {}, {})
    assert not unmeasured.passed and "nothing measured" in unmeasured.note


GOOD = """
name: t
dataset: d
steps:
  train: {epochs: 1}
  evaluate: {split: test}
  gate: {rules: ["map50_95 >= 0.1"]}
  register: {name: logos, alias_on_pass: staging}
"""


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("steps:\n  trian: {}", "'trian' is not a step"),
        ("steps:\n  train: {epochs: 0}", "steps.train: epochs=0"),
        ("steps:\n  train: {dataset_path: x}", "set by the pipeline"),
        ("steps:\n  evaluate: {split: test}", "needs a model"),
        ("model: m.pt\nsteps:\n  evaluate: {split: dev}", "steps.evaluate: split='dev'"),
        ("steps:\n  register: {name: logos, alias_on_pass: staging}\n  train: {}", "comes before train"),
        ("steps:\n  train: {}\n  register: {name: logos, alias_on_pass: staging}", "add a gate step"),
        ("steps:\n  train: {}\n  evaluate: {}\n  gate: {rules: []}", "rules is empty"),
        (
            "steps:\n  train: {}\n  gate: {rules: ['map50 >= 0.5']}\n  evaluate: {}",
            "add a evaluate step before the gate",
        ),
        ("steps:\n  train: {}\n  export: {formats: [onnx, onnx]}", "names a format twice"),
        ("steps:\n  train: {}\n  compare: {}", "against is missing"),
        ("colour: blue\nsteps:\n  train: {}", "unknown field(s) ['colour']"),
        ("steps:\n  train: {1: 2, epochs: 3}", "every setting is named by a word"),
        (
            "steps:\n  train: {}\n  evaluate: {}\n  export: {parity: false}\n"
            "  gate: {rules: ['export.onnx.parity == passed']}",
            "parity: false, so nothing measures it",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_field(change: str, says: str) -> None:
    text = "name: t\ndataset: d\n" + change
    with pytest.raises(PipelineError) as refused:
        PipelineSpec.from_text(text)
    assert says in str(refused.value)


def test_a_single_format_and_a_long_name_are_read_as_a_user_means_them() -> None:
    text = "name: t\ndataset: d\nsteps:\n  train: {}\n  export: {formats: openvino}\n"
    text += "  gate: {rules: ['latency_ms.openvino <= 9']}"
    assert [r.metric for r in PipelineSpec.from_text(text).rules()] == ["latency_ms.openvino"]
    with pytest.raises(PipelineError, match="up to 55 letters"):
        PipelineSpec.from_text(text.replace("name: t", "name: " + "x" * 56))


def test_overrides_reach_the_steps_and_a_bad_one_is_refused() -> None:
    spec = PipelineSpec.from_text(GOOD, ["train.epochs=7", "steps.evaluate.split=val", "dataset=other"])
    assert spec.settings("train")["epochs"] == 7 and spec.settings("evaluate")["split"] == "val"
    assert spec.dataset == "other" and "epochs: 7" in spec.text
    for bad in ("epochs", "colour=blue"):
        with pytest.raises(PipelineError, match="--set"):
            PipelineSpec.from_text(GOOD, [bad])


def _crafted(tmp_path: Path, gate_passed: bool) -> tuple[PipelineFolder, PipelineSpec]:
    """A run's folder as the coordinator leaves it, without running anything."""
    text = (EXAMPLES / "demo.yaml").read_text()
    spec = PipelineSpec.from_text(text)
    folder = PipelineFolder(tmp_path / "demo_20261206-120000-000000")
    folder.path.mkdir()
    folder.file.write_text(spec.text)
    folder.start(spec, {"name": "demo", "dataset": "/data/demo", "model": None, "classes": list(CLASSES)})
    outputs = {
        "validate": {"report": "/r", "verdict": "ready", "errors": 0, "warnings": 0},
        "train": {"run": "/runs/x", "weights": "/runs/x/weights/best.pt"},
        "evaluate": {
            "folder": "/e",
            "images": 40,
            "map50_95": 0.5,
            "map50": 0.7 if gate_passed else 0.3,
            "precision": 0.6,
            "recall": 0.6,
            "f1": 0.6,
            "per_class": {
                c: {"precision": 0.7, "recall": 0.9, "f1": 0.8, "ap50": 0.7, "ap50_95": 0.5} for c in CLASSES
            },
            "leakage_copies": 0,
            "plots": [],
        },
        "export": {"folder": "/x", "formats": {"onnx": {"parity": "passed", "map50_95_delta": 0.0, "latency_ms": 5.0}}},
    }
    for step, output in outputs.items():
        folder.update(step, state=PASSED, output=output, job=f"job-{step}", started=1.0, ended=3.5)
    gate = judge(spec.rules(CLASSES), outputs)
    folder.update("gate", state=PASSED if gate["passed"] else FAILED, output=gate)
    if gate["passed"]:
        folder.update("register", state=PASSED, output={"name": "demo-detector", "version": 1, "alias": "staging"})
    else:
        folder.update("register", state=SKIPPED, error="the gate failed (map50 >= 0.40)")
    return folder, spec


@pytest.mark.parametrize("gate_passed", [True, False])
def test_the_junit_file_is_valid_and_has_one_case_per_rule(tmp_path: Path, gate_passed: bool) -> None:
    folder, spec = _crafted(tmp_path, gate_passed)
    xml = junit(folder, spec)
    xmlschema.XMLSchema(str(SCHEMA)).validate(xml)
    tree = xmlschema.XMLSchema(str(SCHEMA)).to_dict(xml)
    gate_suite = tree["testsuite"][0]
    assert [c["@name"] for c in gate_suite["testcase"]] == spec.settings("gate")["rules"]
    failed = [c for c in gate_suite["testcase"] if "failure" in c]
    assert len(failed) == (0 if gate_passed else 1)
    if not gate_passed:
        assert "map50 = 0.3000" in failed[0]["failure"]["@message"]
    steps_suite = {c["@name"]: c for c in tree["testsuite"][1]["testcase"]}
    assert ("failure" in steps_suite["gate"]) is not gate_passed and "error" not in steps_suite["gate"]
    assert outcome(folder.steps()) == ("passed" if gate_passed else "gate failed")
    report = markdown(folder, spec)
    assert "| `map50 >= 0.40` | " in report and ("✅ pass" in report)
    assert ("❌ fail" in report) is not gate_passed


def test_a_step_error_with_a_terminal_s_colour_codes_still_makes_valid_junit(tmp_path: Path) -> None:
    folder, spec = _crafted(tmp_path, True)
    folder.update("export", state=FAILED, error="\x1b[31mONNX export failed\x1b[0m: bad\x07 op")
    xml = junit(folder, spec)
    xmlschema.XMLSchema(str(SCHEMA)).validate(xml)
    assert 'message="ONNX export failed: bad op"' in xml


def test_the_schema_refuses_what_test_views_cannot_read(tmp_path: Path) -> None:
    schema = xmlschema.XMLSchema(str(SCHEMA))
    assert not schema.is_valid('<testsuites><testsuite name="g"><testcase name="x"/></testsuite></testsuites>')
    assert not schema.is_valid(
        '<testsuites><testsuite name="g" tests="1"><case name="x" classname="c"/></testsuite></testsuites>'
    )


def _cli(*args: str, outputs: Path, roots: Path, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "ML_STUDIO_OUTPUTS": str(outputs), "ML_STUDIO_DATASET_ROOTS": str(roots)}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "mlcore", "pipeline", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("file", "says"),
    [
        ("name: t\ndataset: {data}\nsteps:\n  deploy: {}", "'deploy' is not a step"),
        (
            "name: t\ndataset: {data}\nsteps:\n  train: {}\n  evaluate: {}\n  gate: {rules: ['mAP >= 1']}",
            "'mAP' is not a metric",
        ),
        (
            "name: t\ndataset: {data}\nsteps:\n  train: {}\n  evaluate: {}\n  gate: {rules: ['recall[cactus] >= 0.8']}",
            "no class 'cactus'",
        ),
        (
            "name: t\ndataset: {data}\nsteps:\n  train: {}\n  evaluate: {}\n  gate: {rules: ['map50_95 is good']}",
            "is not a rule",
        ),
        ("name: t\ndataset: /etc\nsteps:\n  validate: {}", "outside"),
        (
            "name: t\ndataset: {data}\nsteps:\n  train: {}\n  compare: {against: logos@production}",
            "steps.compare.against",
        ),
        ("name: t\ndataset: {data}\nsteps: [train]", "steps is empty"),
        ("{{", "not valid YAML"),
    ],
)
def test_a_bad_file_exits_2_with_the_message_and_queues_nothing(
    tmp_path: Path, small_dataset: Path, file: str, says: str
) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(file.replace("{data}", str(small_dataset)) if "{data}" in file else file.replace("{{", "{"))
    done = _cli("run", str(path), "--wait", outputs=tmp_path / "out", roots=small_dataset.parent)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert not (tmp_path / "out" / paths.PIPELINES_DIR).exists() or not any(
        (tmp_path / "out" / paths.PIPELINES_DIR).iterdir()
    )
    listed = _cli("list", "--json", outputs=tmp_path / "out", roots=small_dataset.parent)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_to_dvc_writes_a_dvc_yaml_that_dvc_itself_reads(tmp_path: Path) -> None:
    file = tmp_path / "demo.yaml"
    file.write_text((EXAMPLES / "demo.yaml").read_text())
    done = _cli(
        "to-dvc", "demo.yaml", "--set", "train.epochs=3", outputs=tmp_path / "out", roots=tmp_path, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "--no-scm", "-q"], cwd=tmp_path, env=env, check=True, timeout=120)
    stages = subprocess.run([*dvc, "stage", "list"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert stages.returncode == 0, stages.stderr
    assert stages.stdout.split()[0] == "demo"
    dry = subprocess.run(
        [*dvc, "repro", "--dry", "--force"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    command = "python -m mlcore pipeline run demo.yaml --wait --results results/demo --set train.epochs=3"
    assert command in dry.stdout + dry.stderr
    status = subprocess.run(
        [*dvc, "status", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert status.returncode == 0, status.stderr
    stage = json.loads(status.stdout)["demo"]
    deps = next(entry["changed deps"] for entry in stage if "changed deps" in entry)
    outs = next(entry["changed outs"] for entry in stage if "changed outs" in entry)
    assert set(deps) == {"demo.yaml", "ml_outputs/datasets/demo"}
    assert "results/demo/junit.xml" in outs and "results/demo/metrics.json" in outs


def test_an_audit_steps_line_says_when_its_model_is_too_weak_or_cannot_see_small_labels() -> None:
    from mlcore.pipelines.report import _summary

    plain = {"step": "audit", "output": {"suspects": 4, "likely": 1, "weak": False, "blind_below_px": None}}
    assert _summary(plain) == "4 suspected label error(s), 1 likely"
    blind = {"step": "audit", "output": {**plain["output"], "blind_below_px": 19, "blind_labels": 10}}
    assert "10 label(s) under 19 px too small for its model" in _summary(blind)
    weak = {"step": "audit", "output": {**plain["output"], "weak": True}}
    assert "too weak to audit with" in _summary(weak)

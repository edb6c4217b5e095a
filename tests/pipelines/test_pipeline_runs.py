"""Real pipelines on the CPU through the CLI, as a CI job runs them: the demo passes its gate and registers with
its alias; the strict demo fails and moves nothing; Cancel mid-training leaves no job running; a resumed
pipeline skips what its killed coordinator completed; the page draws a run; the API starts and reads one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st
import xmlschema
import yaml
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from mlcore.api.app import create_api
from mlcore.core import paths
from mlcore.core.settings import Settings, load_settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.scheduler import schedule
from mlcore.jobs.store import OPEN_STATES, JobState, JobStore
from mlcore.pipelines.folder import PipelineFolder
from mlcore.pipelines.report import number_text
from mlcore.pipelines.submit import find_pipeline
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

EXAMPLES = PROJECT_ROOT / "examples" / "pipelines"
CI = PROJECT_ROOT / "examples" / "ci"
SCHEMA = Path(__file__).with_name("junit.xsd")
SHORT_TRAINING = ["--set", "train.epochs=1", "--set", "train.imgsz=64", "--set", "train.batch_size=8"]


def _env(outputs: Path, *roots: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ML_STUDIO_OUTPUTS": str(outputs),
        "ML_STUDIO_DATASET_ROOTS": os.pathsep.join(str(r) for r in roots),
        "PYTHONPATH": str(PROJECT_ROOT),
    }


def _mlcore(*args: str, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlcore", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory, small_dataset: Path) -> dict:
    """The demo dataset where `make run` puts it (the outputs' datasets/demo), and the outputs the module shares."""
    work = tmp_path_factory.mktemp("pipelines")
    demo = make_demo_dataset(work / "out" / paths.DATASETS_DIR / "demo").root
    env = _env(work / "out", small_dataset.parent)
    return {"work": work, "demo": demo, "env": env, "outputs": work / "out"}


def ci_script(kind: str) -> str:
    """The commands that run the pipeline in the README's CI example of `kind` (examples/ci/)."""
    if kind == "github":
        workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
        return next(s["run"] for s in workflow["jobs"]["pipeline"]["steps"] if s.get("name") == "Run the pipeline")
    return "\n".join(yaml.safe_load((CI / "gitlab-ci.yml").read_text())["model"]["script"])


@pytest.fixture(scope="module")
def demo_run(studio: dict) -> dict:
    """The GitHub job's own commands, in a team's repository holding examples/pipelines/demo.yaml as
    pipelines/demo.yaml, on the studio's demo dataset, with GitHub's step summary file set."""
    repo = studio["work"] / "repo"
    (repo / "pipelines").mkdir(parents=True)
    (repo / "pipelines" / "demo.yaml").write_text((EXAMPLES / "demo.yaml").read_text())
    summary = studio["work"] / "step_summary.md"
    env = {**studio["env"], "GITHUB_STEP_SUMMARY": str(summary), "ML_STUDIO_HOME": str(PROJECT_ROOT)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-e", "-c", ci_script("github")], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    results = repo / "results"
    document = json.loads((results / "pipeline.json").read_text()) if (results / "pipeline.json").is_file() else {}
    return {"done": done, "summary": summary, "results": results, "document": document}


def test_the_ci_examples_in_the_readme_are_the_files_the_tests_run() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for path in (CI / "github-actions.yml", CI / "gitlab-ci.yml", EXAMPLES / "demo.yaml"):
        assert path.read_text().strip() in readme, f"the README's copy of {path.relative_to(PROJECT_ROOT)} differs"
    assert ci_script("github").splitlines()[-1] == ci_script("gitlab").splitlines()[-1]
    gitlab = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["model"]
    assert gitlab["artifacts"]["reports"]["junit"] == f"results/{paths.JUNIT_FILE}"


def test_the_demo_pipeline_passes_its_gate_and_registers_the_model_with_its_alias(studio: dict, demo_run: dict) -> None:
    done = demo_run["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    document = demo_run["document"]
    assert document["state"] == "passed" and document["gate"]["passed"]
    rules = document["gate"]["rules"]
    assert [r["rule"] for r in rules] == ["map50 >= 0.40", "recall[solara] >= 0.50", "leakage.copies == 0",
                                          "export.onnx.parity == passed", "latency_ms.onnx <= 200"]  # fmt: skip
    assert all(set(r) >= {"rule", "value", "threshold", "passed"} and r["passed"] for r in rules)
    assert [s["step"] for s in document["steps"]] == ["validate", "train", "evaluate", "export", "gate", "register"]
    assert all(s["state"] == "passed" for s in document["steps"])
    store = JobStore(studio["outputs"] / paths.JOBS_DB)
    jobs = {s["step"]: store.get(s["job"]) for s in document["steps"] if s["job"]}
    assert {step: job.kind for step, job in jobs.items()} == {
        "train": "training",
        "evaluate": "evaluation",
        "export": "export",
    }
    trained = document["steps"][1]["output"]["weights"]
    assert jobs["evaluate"].spec["model_path"] == trained and jobs["export"].spec["model_path"] == trained
    folder = Path(document["folder"])
    for name in (paths.PIPELINE_FILE, paths.PIPELINE_STATE, paths.GATE_FILE, paths.PIPELINE_REPORT, paths.JUNIT_FILE):
        assert (folder / name).is_file(), name
    assert folder.parent == studio["outputs"] / paths.PIPELINES_DIR and folder.name.startswith("demo_")
    xmlschema.XMLSchema(str(SCHEMA)).validate(str(folder / paths.JUNIT_FILE))
    report = (folder / paths.PIPELINE_REPORT).read_text()
    assert "Pipeline `demo_" in report and "| `map50 >= 0.40` |" in report and "staging moved to it" in report
    assert demo_run["summary"].read_text().strip() == report.strip()
    results = demo_run["results"]
    assert json.loads((results / "metrics.json").read_text())["gate_passed"] is True
    assert (results / "junit.xml").read_text() == (folder / paths.JUNIT_FILE).read_text()
    shown = _mlcore("models", "show", "demo-detector", "--json", env=studio["env"], timeout=120)
    assert shown.returncode == 0, shown.stderr
    model = json.loads(shown.stdout)
    assert model["aliases"] == {"staging": 1}


def test_the_strict_pipeline_fails_its_gate_and_moves_no_alias(
    studio: dict, small_dataset: Path, demo_run: dict
) -> None:
    done = _mlcore(
        "pipeline", "run", str(EXAMPLES / "demo-strict.yaml"), "--set", f"dataset={small_dataset}", *SHORT_TRAINING,
        "--wait", "--json", env=studio["env"],
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    document = json.loads(done.stdout)
    assert document["state"] == "gate failed" and not document["gate"]["passed"]
    failed = [r for r in document["gate"]["rules"] if not r["passed"]]
    assert failed[0]["rule"].startswith("map50_95 >= 0.99") and failed[0]["value"] < 0.99
    states = {s["step"]: s["state"] for s in document["steps"]}
    assert states["gate"] == "failed" and states["register"] == "skipped"
    report = Path(document["report"]).read_text()
    assert f"| {number_text(failed[0]['value'])} | >= 0.99 | ❌ fail |" in report
    junit = Path(document["junit"]).read_text()
    xmlschema.XMLSchema(str(SCHEMA)).validate(junit)
    assert 'type="GateRuleFailed"' in junit
    shown = json.loads(_mlcore("models", "show", "demo-detector", "--json", env=studio["env"], timeout=120).stdout)
    assert shown["aliases"] == {"staging": 1} and len(shown["versions"]) == 1


def test_a_pipeline_of_a_registered_model_compares_it_with_production_and_gates_on_the_baseline(
    studio: dict, demo_run: dict
) -> None:
    """The demo's version promoted to production, then the same model compared against it: the baseline's numbers
    reach the rules, and an A/B of a model with itself finds no difference."""
    promoted = _mlcore("models", "alias", "demo-detector", "1", "production", env=studio["env"], timeout=120)
    assert promoted.returncode == 0, promoted.stderr
    file = _write(
        studio,
        "baseline",
        f"name: baseline\ndataset: {studio['demo']}\nmodel: demo-detector@staging\nsteps:\n"
        "  evaluate: {split: test}\n  compare: {against: demo-detector@production, resamples: 200}\n"
        "  gate:\n    rules: ['map50_95 >= production - 0.005', 'compare.verdict != a_better', "
        "'compare.map50_95.delta >= -0.001', 'map50_95 > production + 0.1']\n",
    )
    done = _mlcore("pipeline", "run", str(file), "--wait", "--json", env=studio["env"])
    assert done.returncode == 1, done.stderr[-3000:]
    document = json.loads(done.stdout)
    rules = {r["rule"]: r for r in document["gate"]["rules"]}
    own = rules["map50_95 >= production - 0.005"]
    assert own["passed"] and own["threshold"] == pytest.approx(own["value"] - 0.005, abs=1e-6)
    assert rules["compare.verdict != a_better"]["value"] == "no_significant_difference"
    assert rules["compare.map50_95.delta >= -0.001"]["value"] == pytest.approx(0.0)
    assert not rules["map50_95 > production + 0.1"]["passed"]
    report = Path(document["report"]).read_text()
    assert "Against `demo-detector@production`" in report and "| map50_95 |" in report
    assert ">= production - 0.005 = " in report


def _write(studio: dict, name: str, text: str) -> Path:
    path = studio["work"] / f"{name}.yaml"
    path.write_text(text)
    return path


def _until(predicate, settings, timeout_s: float = 300, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        schedule(settings)
        time.sleep(0.5)


def _start(studio: dict, name: str, dataset: Path, steps: str) -> tuple[str, Settings, JobStore, PipelineFolder]:
    """`pipeline run` of a file of these steps, without --wait: the run's name, the settings, the jobs, its folder."""
    file = _write(studio, name, f"name: {name}\ndataset: {dataset}\nsteps:\n{steps}")
    started = _mlcore("pipeline", "run", str(file), env=studio["env"], timeout=120)
    assert started.returncode == 0, started.stderr
    run = started.stdout.strip()
    settings = load_settings(studio["env"])
    return run, settings, JobStore(settings.outputs_root / paths.JOBS_DB), find_pipeline(run, settings)


CPU_TRAINING = "imgsz: 64, batch_size: 8, workers: 0, device: cpu, advanced: {plots: false}"


def test_cancel_mid_training_leaves_no_job_running(studio: dict, small_dataset: Path) -> None:
    steps = f"  validate: {{}}\n  train: {{epochs: 200, {CPU_TRAINING}}}\n  evaluate: {{split: test}}\n"
    name, settings, store, folder = _start(studio, "long", small_dataset, steps)

    def training_runs() -> bool:
        job = folder.step("train").get("job")
        return bool(job) and store.get(job).state is JobState.RUNNING

    _until(training_runs, settings, what="the training to run")
    cancelled = _mlcore("pipeline", "cancel", name, env=studio["env"], timeout=120)
    assert cancelled.returncode == 0, cancelled.stderr
    assert store.get(folder.step("train")["job"]).state is JobState.CANCELLED
    assert [(j.kind, j.id) for j in store.list() if j.state in OPEN_STATES] == []
    shown = json.loads(_mlcore("pipeline", "status", name, "--json", env=studio["env"], timeout=120).stdout)
    assert shown["state"] == "cancelled"
    states = {s["step"]: s["state"] for s in shown["steps"]}
    assert states == {"validate": "passed", "train": "failed", "evaluate": "skipped"}
    assert "cancelled" in Path(shown["report"]).read_text()
    again = _mlcore("pipeline", "cancel", name, env=studio["env"], timeout=120)
    assert again.returncode == 2 and "nothing to cancel" in again.stderr
    first = store.get(folder.step("train")["job"])
    resumed = _mlcore("pipeline", "resume", name, env=studio["env"], timeout=120)  # the cancelled training anew
    assert resumed.returncode == 0, resumed.stderr
    _until(lambda: folder.step("train").get("job") != first.id and training_runs(), settings, what="a new training")
    assert store.get(folder.step("train")["job"]).run_dir != first.run_dir  # in a folder of its own
    assert _mlcore("pipeline", "cancel", name, env=studio["env"], timeout=120).returncode == 0
    assert [(j.kind, j.id) for j in store.list() if j.state in OPEN_STATES] == []


def test_resume_after_the_coordinator_is_killed_skips_the_completed_steps(studio: dict, small_dataset: Path) -> None:
    steps = f"  validate: {{}}\n  train: {{epochs: 1, {CPU_TRAINING}}}\n"
    steps += "  evaluate: {split: test, analyze_errors: false}\n"
    name, settings, store, folder = _start(studio, "resumable", small_dataset, steps)
    _until(lambda: folder.step("train")["state"] == "passed", settings, what="the training step to pass")
    coordinator = store.latest(folder.path, JobKind.PIPELINE)
    os.kill(coordinator.pid, signal.SIGKILL)  # the coordinator alone: the step it queued runs on
    _until(lambda: store.get(coordinator.id).state.is_final(), settings, what="the dead coordinator to be seen")
    before = {s["step"]: s for s in folder.steps()}
    resumed = _mlcore("pipeline", "resume", name, "--wait", "--json", env=studio["env"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    document = json.loads(resumed.stdout)
    assert document["state"] == "passed"
    after = {s["step"]: s for s in document["steps"]}
    for step in ("validate", "train"):
        assert (after[step]["job"], after[step]["started"]) == (before[step]["job"], before[step]["started"])
    trainings = [
        j for j in store.list() if j.kind == JobKind.TRAINING and j.run_dir == before["train"]["output"]["run"]
    ]
    assert len(trainings) == 1
    assert after["evaluate"]["output"]["map50_95"] is not None


def test_the_page_draws_a_run_s_stages_and_its_gate(
    studio: dict, demo_run: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    st.cache_data.clear()
    for key in ("ML_STUDIO_OUTPUTS", "ML_STUDIO_DATASET_ROOTS"):
        monkeypatch.setenv(key, studio["env"][key])
    document = demo_run["document"]
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "pipelines.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    at.selectbox(key="pipelines.pick").set_value(document["run"]).run()
    assert not at.exception, at.exception
    texts = "\n".join(str(m.value) for m in at.markdown)
    captions = "\n".join(str(c.value) for c in at.caption)
    for step in ("validate", "train", "evaluate", "export", "gate", "register"):
        assert f"✅ **{step}**" in captions
    assert "Gate passed" in texts and "Pipeline `demo_" in texts
    gate = at.dataframe[0].value
    assert list(gate["rule"]) == [r["rule"] for r in document["gate"]["rules"]]
    assert list(gate["value"])[0] == number_text(document["gate"]["rules"][0]["value"])
    assert set(gate[""]) == {"✅"}
    at.segmented_control(key="pipelines.source").set_value("Write one").run()
    at.text_area(key="pipelines.text").set_value(
        f"name: t\ndataset: {studio['demo']}\nsteps:\n  train: {{}}\n  evaluate: {{}}\n"
        "  gate: {rules: ['recall[cactus] >= 0.8']}\n"
    ).run()
    assert not at.exception, at.exception
    assert "no class 'cactus'" in "\n".join(str(e.value) for e in at.error)


def test_the_api_starts_a_pipeline_reads_it_and_refuses_a_bad_one(
    studio: dict, small_dataset: Path, monkeypatch
) -> None:
    for key in ("ML_STUDIO_OUTPUTS", "ML_STUDIO_DATASET_ROOTS"):
        monkeypatch.setenv(key, studio["env"][key])
    settings = load_settings()
    with TestClient(create_api(settings)) as client:
        bad = client.post(
            "/api/v1/ml/pipelines", json={"content": f"name: b\ndataset: {small_dataset}\nsteps: {{deploy: {{}}}}"}
        )
        assert bad.status_code == 422 and "'deploy' is not a step" in bad.json()["detail"]
        assert client.get("/api/v1/ml/pipelines/no-such-run").status_code == 404
        text = f"name: checks\ndataset: {small_dataset}\nsteps:\n  validate: {{fail_on: error}}\n"
        started = client.post("/api/v1/ml/pipelines", json={"content": text})
        assert started.status_code == 202, started.text
        run = started.json()["run"]
        deadline = time.monotonic() + 120
        while (document := client.get(f"/api/v1/ml/pipelines/{run}").json())["state"] not in ("passed", "failed"):
            assert time.monotonic() < deadline, document
            time.sleep(0.5)
        assert document["state"] == "passed" and document["steps"][0]["output"]["errors"] == 0
        assert client.get(f"/api/v1/ml/pipelines/{run}/report").text.startswith("## ✅ Pipeline")
        assert client.get(f"/api/v1/ml/pipelines/{run}/junit").text.startswith("<?xml")
        assert any(r["run"] == run for r in client.get("/api/v1/ml/pipelines").json())
        assert client.post(f"/api/v1/ml/pipelines/{run}/stop").status_code == 409
        assert client.post(f"/api/v1/ml/pipelines/{run}/cancel").status_code == 409
        assert "nothing to resume" in client.post(f"/api/v1/ml/pipelines/{run}/resume").json()["detail"]

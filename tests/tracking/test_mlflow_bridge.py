"""The optional MLflow bridge, against a real sqlite store and the real mlflow package (no mocks).

Trainings log params, per-epoch metrics and files, and an extension continues the same MLflow run;
an unreachable server never fails a training; without the URI mlflow is never imported; registered
versions and aliases land in MLflow's registry; an evaluation logs its numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from mlcore.core import paths
from mlcore.core.settings import PROJECT_ROOT, Settings, load_settings
from mlcore.engine.env import engine_environment
from mlcore.jobs.store import JobState, JobStore
from mlcore.tracking import delete_alias, register_version, set_alias
from mlcore.tracking.client import tracking_uri
from mlcore.tracking.names import flat_params, metric_name
from mlcore.training.spec import TrainSpec
from tests.conftest import free_port, tiny_spec, until_final

CHILD = str(PROJECT_ROOT / "tests" / "offline_child.py")
MLFLOW_MODULES = "import sys; print('MLFLOW-MODULES', sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))"


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _record(folder: Path) -> dict:
    return json.loads((folder / paths.MLFLOW_FILE).read_text())


def _settings(work: Path, data: Path, uri: str = "") -> Settings:
    env = {**os.environ, "ML_STUDIO_OUTPUTS": str(work / "out"), "ML_STUDIO_DATASET_ROOTS": str(data)}
    env.pop("ML_STUDIO_MLFLOW_URI", None)
    return load_settings({**env, "ML_STUDIO_MLFLOW_URI": uri} if uri else env)


def _data(work: Path, small_dataset: Path) -> Path:
    shutil.copytree(small_dataset, work / "data" / "small")  # Ultralytics writes label caches beside labels
    return work / "data"


def _run_worker(settings: Settings, spec: TrainSpec, probe: bool = False) -> tuple[Path, subprocess.CompletedProcess]:
    """Run a training job through the worker under the network guard of the offline tests (every internet
    connection refused and recorded in attempts.jsonl); with `probe`, print which mlflow modules it loaded."""
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    run_dir = settings.outputs_root / paths.TRAININGS_DIR / spec.project / spec.experiment
    run_dir.mkdir(parents=True)
    (run_dir / paths.CONFIG_FILE).write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))  # as submit does
    job = store.submit("training", spec.to_dict(), str(run_dir))
    store.transition(job.id, JobState.STARTING, device="cpu")
    env = {**engine_environment(settings), "PYTHONPATH": str(PROJECT_ROOT)}  # as the scheduler starts a worker
    log = run_dir.parent / "attempts.jsonl"
    argv = [CHILD, str(log), "worker", job.id]
    code = (
        f"import atexit, runpy, sys; atexit.register(lambda: exec({MLFLOW_MODULES!r})); sys.argv = {argv!r}; "
        f"runpy.run_path({CHILD!r}, run_name='__main__')"
    )
    command = [sys.executable, "-c", code] if probe else [sys.executable, *argv]
    proc = subprocess.run(command, env=env, cwd=run_dir, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert store.get(job.id).state is JobState.COMPLETED, store.get(job.id).error
    attempts = log.read_text().splitlines() if log.exists() else []
    assert attempts == [], f"network attempts: {attempts[:3]}"
    return run_dir, proc


@pytest.fixture(scope="session")
def tracked(tmp_path_factory: pytest.TempPathFactory, small_dataset: Path) -> dict:
    """A 2-epoch tiny training logged to a sqlite MLflow store (network refused), shared by the tests below."""
    work = tmp_path_factory.mktemp("mlflow-bridge")
    data = _data(work, small_dataset)
    (work / "mlflow").mkdir()
    uri = f"sqlite:///{work}/mlflow/mlflow.db"
    settings = _settings(work, data, uri)
    spec = tiny_spec(data / "small", epochs=2, experiment="tracked", advanced={})  # with plots: their PNGs are logged
    run_dir, _ = _run_worker(settings, replace(spec, dataset_path=str((data / "small").resolve())))
    return {"settings": settings, "uri": uri, "run_dir": run_dir, "data": data}


def test_names_and_params_are_what_mlflow_accepts(tmp_path: Path) -> None:
    assert metric_name("metrics/mAP50-95(B)") == "metrics/mAP50-95B"
    assert metric_name("ap50_95/Café logo*") == "ap50_95/Café logo_"
    assert flat_params({"epochs": 3, "advanced": {"mosaic": 0.5}, "cache": None, "ids": [1, 2]}) == {
        "epochs": "3",
        "advanced.mosaic": "0.5",
        "cache": "None",
        "ids": "[1, 2]",
    }
    settings = load_settings({"ML_STUDIO_OUTPUTS": str(tmp_path), "ML_STUDIO_MLFLOW_URI": "sqlite:///mlflow.db"})
    assert tracking_uri(settings) == f"sqlite:///{PROJECT_ROOT}/mlflow.db"  # not inside a worker's run folder
    assert tracking_uri(replace(settings, mlflow_uri="")) == ""
    assert register_version(replace(settings, mlflow_uri=""), "m", 1, tmp_path, None, {}) is None
    assert set_alias(replace(settings, mlflow_uri=""), "m", "champion", 1) is None
    assert delete_alias(replace(settings, mlflow_uri=""), "m", "champion") is None


# MLflow keeps its telemetry off by itself under any of these; the check below runs without them
CI_MARKERS = (
    "PYTEST_CURRENT_TEST",
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "BUILDKITE",
    "TF_BUILD",
    "CIRCLECI",
    "TRAVIS",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ARN",
    "TEAMCITY_VERSION",
    "CLOUD_RUN_EXECUTION",
    "DO_NOT_TRACK",
)


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_mlflow_telemetry_is_off_in_the_workers_and_before_the_bridge_imports_mlflow(tmp_path: Path) -> None:
    assert engine_environment(_settings(tmp_path, tmp_path))["MLFLOW_DISABLE_TELEMETRY"] == "true"
    env = {k: v for k, v in os.environ.items() if k not in CI_MARKERS and not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    studio = f"from mlcore.tracking.client import experiment_id, open_client; c = open_client({uri!r}); "
    studio += f"experiment_id(c, 'e', {uri!r})"
    probe = "from mlflow.telemetry import get_telemetry_client; print('TELEMETRY-OFF', get_telemetry_client() is None)"
    for name, first, off in (("plain", "import mlflow", False), ("studio", studio, True)):
        log = tmp_path / f"{name}.jsonl"
        guard = f"import runpy, sys; sys.argv = [{CHILD!r}, {str(log)!r}, '-']; runpy.run_path({CHILD!r})\n"
        proc = subprocess.run(
            [sys.executable, "-c", guard + first + "\n" + probe],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert proc.returncode == 0 and f"TELEMETRY-OFF {off}" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert not (tmp_path / "studio.jsonl").exists(), "the bridge made a network attempt"


@pytest.mark.slow
def test_a_training_logs_params_epochs_and_files_and_extend_continues_the_same_run(tracked: dict) -> None:
    from mlcore.training.submit import extend_training

    run_dir, settings, client = tracked["run_dir"], tracked["settings"], _client(tracked["uri"])
    record = _record(run_dir)
    assert record["error"] is None and record["experiment"] == "t"
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "tracked"
    assert client.get_experiment(run.info.experiment_id).name == "t"  # the run's project
    params = run.data.params
    assert params["epochs"] == "2" and params["imgsz"] == "64" and params["mode"] == "full"
    assert params["dataset_path"].endswith("small") and params["project"] == "t"
    for name in ("metrics/mAP50-95B", "metrics/precisionB", "train/box_loss", "val/box_loss", "lr/pg0"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, name)] == [1, 2], name
    assert [m.step for m in client.get_metric_history(run.info.run_id, "best/metrics/mAP50-95B")] == [2]
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    files |= {f.path for f in client.list_artifacts(run.info.run_id, "weights")}
    assert {"weights/best.pt", "weights/last.pt", "results.csv", "training_config.yaml"} <= files
    assert any(f.endswith(".png") for f in files), files
    beside_db = Path(tracked["uri"].removeprefix("sqlite:///")).parent / "mlruns"
    assert run.info.artifact_uri == (beside_db / "t" / run.info.run_id / "artifacts").as_uri()
    assert client.get_experiment("0").artifact_location.startswith(beside_db.as_uri())  # not a worker's folder
    assert not list(settings.outputs_root.rglob("mlruns")), "artifacts belong beside the database"

    job = extend_training("t/tracked", 1, settings)
    until_final(job.id, settings)
    done = JobStore(settings.outputs_root / paths.JOBS_DB).get(job.id)
    assert done.state is JobState.COMPLETED, done.error
    again = _record(run_dir)
    assert again["run_id"] == record["run_id"] and again["error"] is None
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "metrics/mAP50-95B")] == [1, 2, 3]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "best/metrics/mAP50-95B")] == [2, 3]
    assert run.data.params["epochs"] == "2" and run.data.tags["latest.epochs"] == "3"  # params cannot change
    assert len(client.search_runs([run.info.experiment_id])) == 1


@pytest.mark.slow
def test_an_unreachable_mlflow_is_recorded_and_never_fails_the_training(tmp_path: Path, small_dataset: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = _settings(tmp_path, _data(tmp_path, small_dataset), uri)
    from mlcore.training.submit import submit_training

    job = submit_training(tiny_spec(tmp_path / "data" / "small", experiment="offline"), settings)
    until_final(job.id, settings)
    done = JobStore(settings.outputs_root / paths.JOBS_DB).get(job.id)
    assert done.state is JobState.COMPLETED, done.error
    record = _record(Path(done.run_dir))
    assert record["run_id"] is None and uri in record["error"] and "Connection" in record["error"], record
    log = (Path(done.run_dir) / paths.LOG_FILE).read_text()
    assert log.count("MLflow: ") == 1 and "goes on without MLflow" in log  # one line, then no more tries


@pytest.mark.slow
def test_without_the_uri_a_training_never_imports_mlflow_and_leaves_no_mlflow_data(
    tmp_path: Path, small_dataset: Path
) -> None:
    import importlib.util

    assert importlib.util.find_spec("mlflow") is not None  # importable: Ultralytics' own callback could run
    settings = _settings(tmp_path, _data(tmp_path, small_dataset))
    spec = tiny_spec((tmp_path / "data" / "small").resolve(), experiment="plain")
    run_dir, proc = _run_worker(settings, spec, probe=True)
    assert "MLFLOW-MODULES []" in proc.stdout, proc.stdout[-2000:]
    engine = json.loads((settings.outputs_root / ".ultralytics" / "Ultralytics" / "settings.json").read_text())
    assert engine["mlflow"] is False  # Ultralytics' MLflow callback stays off
    left = [p for p in tmp_path.rglob("*") if "mlruns" in p.name or "mlflow" in p.name.lower()]
    assert left == [] and not (run_dir / paths.MLFLOW_FILE).exists()


@pytest.mark.slow
def test_registered_versions_and_aliases_reach_the_mlflow_registry(tracked: dict, tmp_path: Path) -> None:
    settings, run_dir, client = tracked["settings"], tracked["run_dir"], _client(tracked["uri"])
    best = run_dir / "weights" / "best.pt"
    assert register_version(settings, "logos", 1, best, run_dir, {"sha256": "ab12"}) == {"model_version": "1"}
    assert register_version(settings, "logos", 1, best, run_dir, {"sha256": "ab12"}) == {"model_version": "1"}
    elsewhere = tmp_path / "kept.pt"
    shutil.copyfile(best, elsewhere)
    assert register_version(settings, "logos", 2, elsewhere, None, {}) == {"model_version": "2"}

    first, second = client.get_model_version("logos", "1"), client.get_model_version("logos", "2")
    assert first.run_id == _record(run_dir)["run_id"]  # logged to the training's own run
    assert first.tags == {"studio_version": "v1", "sha256": "ab12"} and first.status == "READY"
    assert Path(first.source.removeprefix("file://")).read_bytes() == best.read_bytes()
    assert first.source.endswith("/registry/logos/v1/best.pt")
    assert client.get_experiment(client.get_run(second.run_id).info.experiment_id).name == "ml-studio-registry"
    assert second.tags["studio_version"] == "v2"

    assert set_alias(settings, "logos", "champion", 2) == {"model_version": "2"}
    assert str(client.get_model_version_by_alias("logos", "champion").version) == "2"
    assert set_alias(settings, "logos", "champion", 1) == {"model_version": "1"}  # a rollback moves it
    assert str(client.get_model_version_by_alias("logos", "champion").version) == "1"
    assert "studio_version=v9" in set_alias(settings, "logos", "champion", 9)["error"]
    assert delete_alias(settings, "logos", "champion") == {"model_version": "1"}
    assert delete_alias(settings, "logos", "champion") == {"model_version": None}
    assert "champion" not in client.get_registered_model("logos").aliases

    dead = replace(settings, mlflow_uri=f"http://127.0.0.1:{free_port()}")
    answer = register_version(dead, "logos", 3, best, run_dir, {})
    assert set(answer) == {"error"} and "registering logos v3" in answer["error"]
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"  # no retries with backoff (minutes) against it


@pytest.mark.slow
def test_an_evaluation_logs_its_metrics_tagged_with_the_training_run(tracked: dict) -> None:
    from mlcore.evaluation.spec import EvalSpec
    from mlcore.evaluation.submit import submit_evaluation

    settings, run_dir, client = tracked["settings"], tracked["run_dir"], _client(tracked["uri"])
    spec = EvalSpec(
        model_path=str(run_dir / "weights" / "best.pt"),
        dataset_path=str(tracked["data"] / "small"),
        split="val",
        imgsz=64,
        device="cpu",
        analyze_errors=False,
    )
    job = submit_evaluation(spec, settings)
    until_final(job.id, settings)
    done = JobStore(settings.outputs_root / paths.JOBS_DB).get(job.id)
    assert done.state is JobState.COMPLETED, done.error
    folder = Path(done.run_dir)
    record, metrics = _record(folder), json.loads((folder / paths.METRICS_FILE).read_text())
    assert record["error"] is None and record["experiment"] == "ml-studio-evaluations"
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    for key in ("precision", "recall", "f1", "map50", "map50_95"):
        assert run.data.metrics[key] == pytest.approx(metrics[key]), key
    for row in metrics["per_class"]:
        assert run.data.metrics[metric_name(f"ap50_95/{row['name']}")] == pytest.approx(row["ap50_95"])
    params = run.data.params
    assert params["split"] == "val" and params["imgsz"] == "64" and params["confidence_threshold"] == "0.25"
    assert params["model_path"].endswith("best.pt") and params["iou_threshold"] == "0.45"
    assert run.data.tags["studio.training_run_id"] == _record(run_dir)["run_id"]

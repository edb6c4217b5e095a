"""Hyperparameter studies: the space's checks, the coordinator's bookkeeping (parallel trials on two declared GPUs,
a crashing trial, every trial failing), and real studies on the CPU (a trial pruned; resume after the coordinator
is killed; the CLI's JSON)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import psutil
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings, load_settings
from mlcore.core.spec import SpecError
from mlcore.jobs import scheduler
from mlcore.jobs.control import cancel_job
from mlcore.jobs.local import LocalExecutor
from mlcore.jobs.store import JobState, open_store
from mlcore.tuning.coordinator import Coordinator, TuningFailed
from mlcore.tuning.space import (
    DEFAULT_SPACE,
    SpaceError,
    parse_space,
    space_from_table,
    space_table,
    suggest,
    train_fields,
)
from mlcore.tuning.spec import TuneSpec
from mlcore.tuning.study import StudyFolder, open_study, storage
from mlcore.tuning.submit import (
    best_training_fields,
    resume_study,
    start_study,
    study_report,
)
from tests.conftest import PROJECT_ROOT
from tests.fake_nvml import FakeGpu, FakeNvml
from tests.run_fixture import results_csv

# -- the space


def test_the_default_space_parses_and_every_name_is_an_ultralytics_argument() -> None:
    space = parse_space({p.name: p.to_dict() for p in DEFAULT_SPACE})
    assert set(space) == {p.name for p in DEFAULT_SPACE}
    assert space["lr0"].log and space["optimizer"].choices == ("SGD", "AdamW")


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        ({}, "empty"),
        ({"lr0": {"low": 0.1, "high": 0.001}}, "swap them"),
        ({"lr0": {"low": 0.0, "high": 0.1, "log": True}}, "log range must lie above 0"),
        ({"lr_zero": [0.1, 0.01]}, "not an Ultralytics train argument"),
        ({"mosiac": {"low": 0, "high": 1}}, "did you mean mosaic"),
        ({"epochs": {"low": 1, "high": 5}}, "set by the study itself"),
        ({"optimizer": ["SGD", "Adagrad"]}, "unknown"),
        ({"mosaic": {"low": 0}}, "needs both low and high"),
        ({"mosaic": {"low": "a", "high": 1}}, "not a number"),
        ({"lr0": {"low": "1e-5", "high": "1e-1", "log": "yes"}}, "log must be true or false"),
        ({"batch": [16, 0]}, "positive whole numbers"),
        ({"mosaic": []}, "empty"),
    ],
)
def test_a_bad_space_is_refused_with_what_to_change(mapping: dict, says: str) -> None:
    with pytest.raises(SpaceError, match=says):
        parse_space(mapping)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@hsettings(max_examples=60, deadline=None)
@given(a=finite, b=finite, log=st.booleans())
def test_any_range_is_either_refused_or_every_suggestion_lies_inside_it(a: float, b: float, log: bool) -> None:
    entry = {"low": a, "high": b, "log": log}
    if a > b or (log and a <= 0):
        with pytest.raises(SpaceError):
            parse_space({"lrf": entry})
        return
    space = parse_space({"lrf": entry})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        value = suggest(study.ask(), space)["lrf"]
        assert a <= value <= b or math.isclose(value, a) or math.isclose(value, b)


def test_the_page_table_round_trips_and_a_trial_maps_onto_the_training_spec() -> None:
    rows = space_table()
    assert {r["parameter"] for r in rows if r["search"]} == {p.name for p in DEFAULT_SPACE}
    for row in rows:
        row["search"] = row["parameter"] in ("lr0", "batch", "mosaic")
    space = space_from_table(rows)
    assert space["batch"].choices == (8, 16, 32) and space["lr0"].log
    fields = train_fields({"lr0": 0.01, "batch": 32, "mosaic": 0.5, "optimizer": "SGD"})
    assert fields == {"learning_rate": 0.01, "batch_size": 32, "optimizer": "SGD", "advanced": {"mosaic": 0.5}}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"trials": 0}, "budget of 0"),
        ({"trials": None, "hours": 0}, "budget of 0 hours"),
        ({"trials": None}, "no budget"),
        ({"study": "a/b"}, "name the study"),
        ({"architectures": ()}, "architectures is empty"),
        ({"objective": "loss"}, "objective"),
        ({"first_trials": ({"nope": 1},)}, "not parameters of the space"),
    ],
)
def test_a_bad_study_is_refused(fields: dict, says: str) -> None:
    with pytest.raises(SpecError, match=says):
        TuneSpec(**{"study": "s", "dataset_path": "d", **fields})


# -- the coordinator's bookkeeping, with two declared GPUs and no real training


@pytest.fixture
def two_gpu_studio(settings: Settings, small_dataset: Path, monkeypatch: pytest.MonkeyPatch):
    """A studio whose scheduler sees two idle GPUs (a fake NVML) and trains nothing: each job it starts is recorded
    with its device, its 'worker' a sleeping process in a session of its own (so Cancel has a group to end)."""
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(small_dataset.parent))
    studio = load_settings()
    nvml = FakeNvml([FakeGpu("NVIDIA H100 80GB HBM3", "GPU-a"), FakeGpu("NVIDIA H100 80GB HBM3", "GPU-b")])
    started: dict[str, str] = {}
    sleepers: list[subprocess.Popen] = []

    def launcher(job, device, _settings):
        started[job.id] = device
        sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
        sleepers.append(sleeper)
        return sleeper.pid, psutil.Process(sleeper.pid).create_time()

    real = scheduler.executors
    monkeypatch.setattr(scheduler, "executors", lambda s, nvml_=None, launcher_=None: real(s, nvml, launcher))
    monkeypatch.setattr(scheduler, "target_executor", lambda s: LocalExecutor(s, nvml, launcher))
    monkeypatch.setattr("mlcore.tuning.coordinator.target_executor", lambda s: LocalExecutor(s, nvml, launcher))
    yield studio, started, small_dataset
    for sleeper in sleepers:
        sleeper.kill()
        sleeper.wait()


def _end_trial(settings: Settings, job_id: str, error: str | None = None, epochs: int = 2) -> None:
    store = open_store(settings)
    job = store.get(job_id)
    store.transition(job_id, JobState.RUNNING)
    if error:
        store.transition(job_id, JobState.FAILED, error=error)
        return
    (Path(job.run_dir) / "results.csv").write_text(results_csv(epochs))
    store.transition(job_id, JobState.COMPLETED)


def test_parallel_trials_take_one_declared_gpu_each_and_a_crashing_trial_does_not_end_the_study(two_gpu_studio) -> None:
    settings, started, data = two_gpu_studio
    job = start_study(TuneSpec(study="two", dataset_path=str(data), trials=4, epochs=2, imgsz=96), settings)
    assert started[job.id] == "none"  # the coordinator holds no device
    coordinator = Coordinator(open_store(settings).get(job.id), settings, poll_s=0)
    assert coordinator.parallel == 2
    assert coordinator.step()
    rows = study_report("two", settings)["trials"]
    assert [r["state"] for r in rows] == ["running", "running"]
    assert sorted(started[r["job"]] for r in rows) == ["gpu:0", "gpu:1"]

    _end_trial(settings, rows[0]["job"])
    _end_trial(settings, rows[1]["job"], error="CUDA out of memory. Tried to allocate 2.00 GiB")
    assert coordinator.step()
    report = study_report("two", settings)
    assert [r["state"] for r in report["trials"]] == ["complete", "failed", "running", "running"]
    assert report["trials"][1]["error"].startswith("CUDA out of memory")
    assert report["best_value"] == pytest.approx(
        0.1 * 0.95 * (1 - math.exp(-2 / 5)) + 0.9 * 0.7 * (1 - math.exp(-2 / 5)), abs=1e-3
    )
    assert report["best_trial"] == 0
    for row in report["trials"][2:]:
        _end_trial(settings, row["job"])
    assert not coordinator.step()  # the budget of 4 is spent and nothing runs
    coordinator.finish()
    fields = best_training_fields(study_report("two", settings))
    assert fields is not None and fields["dataset_path"] == str(data) and fields["optimizer"] in ("SGD", "AdamW")


def test_when_every_trial_fails_the_study_fails_with_the_common_cause(two_gpu_studio) -> None:
    settings, _started, data = two_gpu_studio
    job = start_study(TuneSpec(study="doomed", dataset_path=str(data), trials=10, epochs=2, imgsz=96), settings)
    coordinator = Coordinator(open_store(settings).get(job.id), settings, poll_s=0)
    for _ in range(2):
        coordinator.step()
        for row in study_report("doomed", settings)["trials"]:
            if row["state"] == "running":
                _end_trial(settings, row["job"], error="RuntimeError: the data loader crashed\nmore")
    assert not coordinator.step()  # the first 3+ trials failed: no more are asked
    with pytest.raises(TuningFailed, match=r"the data loader crashed \(4 of 4 trials\)"):
        coordinator.finish()


def test_a_study_name_that_exists_says_resume_or_pick_another(two_gpu_studio) -> None:
    settings, _started, data = two_gpu_studio
    start_study(TuneSpec(study="again", dataset_path=str(data), trials=2, epochs=1, imgsz=96), settings)
    with pytest.raises(SubmitError, match=r"resume it with `python -m mlcore tune resume again`.*'again-2'"):
        start_study(TuneSpec(study="again", dataset_path=str(data), trials=2, epochs=1, imgsz=96), settings)
    with pytest.raises(SubmitError, match="running already"):
        resume_study("again", settings)


def test_a_dataset_with_validation_errors_is_refused_before_a_study_is_made(two_gpu_studio, tmp_path: Path) -> None:
    settings, _started, data = two_gpu_studio
    with pytest.raises(SubmitError):
        start_study(TuneSpec(study="nodata", dataset_path=str(tmp_path / "missing"), trials=2), settings)
    assert not StudyFolder.of("nodata", settings).path.exists()


# -- real studies on the CPU


def _studio_env(trained: dict[str, str], outputs: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ML_STUDIO_OUTPUTS": str(outputs),
        "ML_STUDIO_DATASET_ROOTS": trained["ML_STUDIO_DATASET_ROOTS"],
        "ML_STUDIO_MODEL_ROOTS": str(Path(trained["model"]).parent),
        "PYTHONPATH": str(PROJECT_ROOT),
    }


# Trial 2 fine-tunes with a learning rate that wrecks the model in one epoch: the median pruner must stop it.
GOOD = {"lr0": 1e-4, "warmup_epochs": 0.0}
WRECKING = {"lr0": 0.5, "warmup_epochs": 0.0}
SPACE = {"lr0": {"low": 1e-5, "high": 0.9, "log": True}, "warmup_epochs": [0.0]}


@pytest.fixture(scope="module")
def finished_study(trained: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real 3-trial study through the CLI (`tune --wait --json`): two good trials, then one the pruner stops."""
    work = tmp_path_factory.mktemp("tuning")
    (work / "space.yaml").write_text(json.dumps(SPACE))
    (work / "first.yaml").write_text(json.dumps([GOOD, {**GOOD, "lr0": 2e-4}, WRECKING]))
    env = _studio_env(trained, work / "out")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlcore",
            "tune",
            "--data",
            trained["data"],
            "--base-model",
            trained["model"],
            "--space",
            str(work / "space.yaml"),
            "--first",
            str(work / "first.yaml"),
            "--set",
            "nbs=8",
            "--trials",
            "3",
            "--epochs",
            "2",
            "--imgsz",
            "128",
            "--batch",
            "8",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--pruner-startup",
            "2",
            "--pruner-warmup",
            "0",
            "--study",
            "real",
            "--wait",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=work,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {"env": env, "doc": json.loads(done.stdout)}


@pytest.mark.slow
def test_a_real_study_prunes_the_wrecking_trial_and_reports_the_best(finished_study: dict) -> None:
    doc = finished_study["doc"]
    assert doc["state"] == "completed"
    states = {t["number"]: t["state"] for t in doc["trials"]}
    assert states == {0: "complete", 1: "complete", 2: "pruned"}, doc["trials"]
    pruned = doc["trials"][2]
    assert pruned["epochs"] == 1 and (Path(pruned["run"]) / "pruned.json").exists()
    assert (Path(pruned["run"]) / "weights" / "best.pt").exists()  # a pruned trial keeps its weights
    assert doc["best_value"] > 0.1 and doc["best_trial"] in (0, 1)
    assert doc["best_params"]["lr0"] in (1e-4, 2e-4)
    assert (Path(doc["best_run"]) / "weights" / "best.pt").exists()
    for trial in doc["trials"]:
        assert {"number", "state", "params", "value", "run"} <= set(trial)
    # the storage the document names opens in Optuna itself, with the same trials
    study = optuna.load_study(study_name="real", storage=storage(StudyFolder(Path(doc["storage"]).parent)))
    assert len(study.trials) == 3 and study.best_value == pytest.approx(doc["best_value"])
    # each trial was an ordinary training job of the queue, in the tune-real project
    store = open_store(load_settings(finished_study["env"]))
    trainings = store.list(kind="training")
    assert len(trainings) == 3 and all("/trainings/tune-real/trial-" in j.run_dir for j in trainings)


@pytest.mark.slow
def test_a_study_resumes_where_it_was_after_its_coordinator_is_killed(
    trained: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in _studio_env(trained, tmp_path / "out").items():
        if key.startswith("ML_STUDIO_"):
            monkeypatch.setenv(key, value)
    settings = load_settings()
    spec = TuneSpec(
        study="killed",
        dataset_path=trained["data"],
        base_model_path=trained["model"],
        epochs=2,
        trials=2,
        imgsz=128,
        batch_size=8,
        workers=0,
        device="cpu",
        space=SPACE,
        pruner="none",
        first_trials=(GOOD,),
        advanced={"nbs": 8},
    )
    job = start_study(spec, settings)
    store = open_store(settings)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # the coordinator has queued trial 0, and its training runs
        rows = study_report("killed", settings)["trials"]
        if rows and rows[0]["job"] and store.get(rows[0]["job"]).state is JobState.RUNNING:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"trial 0 never started: {store.get(job.id)}")
    cancel_job(job.id, settings)  # the coordinator alone: its trial goes on
    assert store.get(job.id).state is JobState.CANCELLED
    trial_job = rows[0]["job"]
    assert not store.get(trial_job).state.is_final()
    resumed = resume_study("killed", settings)
    deadline = time.monotonic() + 600
    while not store.get(resumed.id).state.is_final() and time.monotonic() < deadline:
        scheduler.schedule(settings)
        time.sleep(1.0)
    report = study_report("killed", settings)
    assert report["state"] == "completed", report["error"]
    assert [(t["number"], t["state"]) for t in report["trials"]] == [(0, "complete"), (1, "complete")]
    assert report["trials"][0]["job"] == trial_job  # taken up, not asked again
    assert open_study(StudyFolder.of("killed", settings)).trials[0].params["lr0"] == GOOD["lr0"]


# -- the HTTP API


def test_the_api_starts_reads_stops_and_cancels_a_study_and_refuses_bad_ones(two_gpu_studio) -> None:
    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    settings, _started, data = two_gpu_studio
    with TestClient(create_api(settings)) as client:
        body = {"study": "api", "dataset_path": str(data), "trials": 3, "epochs": 2, "imgsz": 96}
        answer = client.post("/api/v1/ml/tuning/start", json=body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["study"] == "api" and answer.json()["storage"].endswith("tuning/api/journal.log")
        again = client.post("/api/v1/ml/tuning/start", json=body)
        assert again.status_code == 400 and "resume it" in again.json()["detail"]
        bad = client.post(
            "/api/v1/ml/tuning/start", json={**body, "study": "b", "space": {"lr0": {"low": 1, "high": 0}}}
        )
        assert bad.status_code == 422 and "swap them" in bad.json()["detail"]
        zero = client.post("/api/v1/ml/tuning/start", json={**body, "study": "c", "trials": 0})
        assert zero.status_code == 422 and "budget of 0" in zero.json()["detail"]
        assert client.get("/api/v1/ml/tuning/nope").status_code == 404
        assert [s["study"] for s in client.get("/api/v1/ml/tuning").json()] == ["api"]
        job = client.get("/api/v1/ml/tuning/api").json()["job"]
        open_store(settings).transition(job, JobState.RUNNING)
        assert client.post("/api/v1/ml/tuning/api/stop").json()["state"] == "stopping"
        assert client.post("/api/v1/ml/tuning/api/cancel").json()["state"] == "cancelled"
        assert client.post("/api/v1/ml/tuning/api/stop").status_code == 409


# -- the Tuning page


def _page():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(PROJECT_ROOT / "pages" / "tuning.py"), default_timeout=60)


def test_the_page_without_a_study_says_how_to_start_one(settings: Settings) -> None:
    at = _page().run()
    assert not at.exception, at.exception
    assert "No study yet" in "\n".join(i.value for i in at.info)


def test_the_page_shows_trials_charts_and_trains_with_the_best(two_gpu_studio) -> None:
    settings, _started, data = two_gpu_studio
    job = start_study(TuneSpec(study="page", dataset_path=str(data), trials=3, epochs=2, imgsz=96), settings)
    coordinator = Coordinator(open_store(settings).get(job.id), settings, poll_s=0)
    coordinator.step()
    for n, row in enumerate(study_report("page", settings)["trials"]):
        _end_trial(settings, row["job"], epochs=2 + 3 * n)  # the later trial trains longer, so it scores higher
    coordinator.step()
    for row in study_report("page", settings)["trials"]:
        if row["state"] == "running":
            _end_trial(settings, row["job"], error="RuntimeError: the data loader crashed")
    coordinator.step()
    coordinator.finish()
    store = open_store(settings)
    store.transition(job.id, JobState.RUNNING)
    store.transition(job.id, JobState.COMPLETED)

    at = _page().run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "#" in d.value.columns)
    assert list(table["#"]) == [2, 1, 0] and "failed" in table["state"].iloc[0]
    assert "data loader crashed" in table["error"].iloc[0]
    assert len(at.get("plotly_chart")) == 3  # history, importances, parallel coordinates
    best = study_report("page", settings)
    assert best["best_trial"] == 1
    at.button(key="tune.train_best").click().run()
    assert at.session_state["train.mode"] == "full"
    assert at.session_state["train.dataset"] == str(data)
    assert at.session_state["train.optimizer"] == best["best_params"]["optimizer"]
    assert at.session_state["train.lr"] == pytest.approx(best["best_params"]["lr0"])
    assert "mosaic:" in at.session_state["train.extra"]


def test_the_page_refuses_a_bad_study_name_with_what_to_do(two_gpu_studio) -> None:
    at = _page().run()
    at.text_input(key="tune.name").set_value("logos/lr").run()
    at.button(key="tune.start").click().run()
    assert not at.exception, at.exception
    assert "name the study" in "\n".join(e.value for e in at.error)


def test_the_local_executor_counts_roomy_gpus_as_parallel_trials(settings: Settings) -> None:
    full = FakeGpu("NVIDIA A100-SXM4-40GB", "GPU-c", used_mib=40000, total_mib=40960)
    local = LocalExecutor(settings, FakeNvml([FakeGpu("H100", "GPU-a"), FakeGpu("H100", "GPU-b"), full]))
    assert local.capacity("auto") == 2 and local.capacity("cpu") == 1 and local.capacity("0") == 1
    no_gpu = LocalExecutor(settings, FakeNvml([], init_error="NVML Shared Library Not Found"))
    assert no_gpu.capacity("auto") == 1


def test_the_cli_refuses_bad_calls_with_what_to_do(settings: Settings, capsys: pytest.CaptureFixture) -> None:
    from mlcore.cli.main import main

    assert main(["tune"]) == 2 and "--data is required" in capsys.readouterr().err
    assert main(["tune", "status", "nope"]) == 2 and "there is no study 'nope'" in capsys.readouterr().err
    assert main(["tune", "stop"]) == 2 and "needs the study's name" in capsys.readouterr().err
    assert main(["tune", "--data", "x", "--set", "nbs"]) == 2 and "ARG=VALUE" in capsys.readouterr().err


def test_a_dataset_with_validation_errors_is_refused_with_the_first_error(two_gpu_studio, tmp_path: Path) -> None:
    import shutil

    settings, _started, data = two_gpu_studio
    broken = data.parent / "broken-for-tuning"
    shutil.rmtree(broken, ignore_errors=True)
    shutil.copytree(data, broken)
    label = next((broken / "labels" / "train").glob("*.txt"))
    label.write_text("99 0.5 0.5 0.2 0.2\n")
    try:
        with pytest.raises(SubmitError, match="validation error"):
            start_study(TuneSpec(study="broken", dataset_path=str(broken), trials=2, imgsz=96), settings)
        assert not StudyFolder.of("broken", settings).path.exists()
    finally:
        shutil.rmtree(broken, ignore_errors=True)

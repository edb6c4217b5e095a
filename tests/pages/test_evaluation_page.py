"""AppTest of the Model evaluation page on a crafted evaluation folder."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlcore.core.settings import Settings
from tests.conftest import PROJECT_ROOT
from tests.evaluation_fixture import make_evaluation
from tests.run_fixture import make_run

PAGE = str(PROJECT_ROOT / "pages" / "evaluation.py")


@pytest.fixture(autouse=True)
def fresh_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def evaluation(settings: Settings, small_dataset: Path) -> Path:
    return make_evaluation(settings.outputs_root, small_dataset)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _open(view: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    if view:
        at.segmented_control(key="eval.view").set_value(view).run()
        assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_without_evaluations_the_page_says_what_to_do(settings: Settings) -> None:
    at = _open()
    assert "No evaluation yet" in _texts(at.info)
    assert "No model to evaluate yet" in _texts(at.info)  # the form says where models come from


def test_moving_the_thresholds_recomputes_the_numbers(evaluation: Path) -> None:
    at = _open()
    before = _metrics(at)
    stored = json.loads((evaluation / "metrics.json").read_text())
    assert before["Precision"] == f"{stored['precision']:.3f}" and before["mAP50"] == f"{stored['map50']:.3f}"
    table = at.dataframe[0].value
    assert list(table["name"]) == ["solara", "aqualine", "verdant", "nimbus", "ferro"]
    at.slider(key="eval.iou").set_value(0.3).run()  # the shifted boxes count as found now
    looser = _metrics(at)
    assert float(looser["Precision"]) > float(before["Precision"]) and looser["mAP50"] == before["mAP50"]
    at.slider(key="eval.conf").set_value(0.9).run()
    assert float(_metrics(at)["Recall"]) < float(looser["Recall"])  # mAP spans all confidences: it stays


def test_every_view_draws_and_the_gallery_filters_by_error_type(evaluation: Path) -> None:
    at = _open("Errors")
    assert len(at.get("plotly_chart")) == 2
    assert "localization" in set(at.dataframe[0].value["error type"])
    at.segmented_control(key="eval.view").set_value("Curves").run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    at.segmented_control(key="eval.view").set_value("Confusion matrix").run()
    assert not at.exception and "Click a cell" in _texts(at.caption)
    at.segmented_control(key="eval.view").set_value("Gallery").run()
    assert not at.exception
    everything = len(at.get("image"))
    assert everything > 0
    at.selectbox(key="eval.kind").set_value("classification").run()
    assert not at.exception and 0 < len(at.get("image")) <= everything
    at.selectbox(key="eval.kind").set_value("duplicate").run()
    at.selectbox(key="eval.class").set_value("ferro").run()
    assert not at.exception
    at.segmented_control(key="eval.view").set_value("Worst images").run()
    worst = at.dataframe[0].value
    assert list(worst["errors"]) == sorted(worst["errors"], reverse=True)


def test_retrain_opens_the_training_page_in_transfer_mode(evaluation: Path) -> None:
    at = _open()
    at.button(key="eval.retrain").click().run()
    assert at.session_state["train.mode"] == "transfer"
    assert str(at.session_state["train.base"]).endswith("weights/best.pt")


def test_damaged_or_missing_files_give_clear_messages(
    evaluation: Path, settings: Settings, small_dataset: Path
) -> None:
    metrics = (evaluation / "metrics.json").read_text()
    (evaluation / "metrics.json").write_text("{not json")
    at = _open()
    assert "cannot be read" in _texts(at.error) and "run the evaluation again" in _texts(at.error)
    (evaluation / "metrics.json").write_text(metrics)
    (evaluation / "predictions.npz").write_bytes(b"PK damaged")
    at = _open()
    assert "predictions.npz cannot be read" in _texts(at.error)
    (evaluation / "metrics.json").unlink()
    at = _open()
    assert "did not finish" in _texts(at.warning)
    newer = make_evaluation(settings.outputs_root, small_dataset, "v1_best_20261102-120000-000000")
    at = _open()
    assert newer.name in _texts(at.caption)
    shutil.rmtree(newer)  # deleted while shown
    at.run()
    assert not at.exception and "did not finish" in _texts(at.warning)


@pytest.mark.slow
def test_evaluate_from_the_page_and_a_file_that_is_not_a_checkpoint(
    settings: Settings, small_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(small_dataset.parent))
    make_run(settings.outputs_root, "p/e")  # its weights/best.pt is not a checkpoint
    at = _open()
    at.selectbox(key="eval.dataset").set_value(str(small_dataset))
    at.selectbox(key="eval.split").set_value("val")
    at.number_input(key="eval.imgsz").set_value(96)
    at.selectbox(key="eval.device").set_value("cpu").run()
    at.button(key="eval.start").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 120
    while "cannot be loaded as a YOLO checkpoint" not in _texts(at.error) and time.monotonic() < deadline:
        time.sleep(1)
        at.run()
    assert "cannot be loaded as a YOLO checkpoint" in _texts(at.error)
    assert "e_best_" in at.selectbox(key="eval.pick").value


def test_a_runs_model_brings_its_dataset_and_other_classes_are_warned_of(
    settings: Settings, small_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logos = tmp_path / "datasets" / "logos"
    shutil.copytree(small_dataset, logos)
    shapes = tmp_path / "datasets" / "shapes"  # the same images, other class names
    shutil.copytree(small_dataset, shapes)
    (shapes / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [a, b, c, d, e]\n")
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(tmp_path / "datasets"))
    on_logos = make_run(settings.outputs_root, "p/on-logos", dataset_path=str(logos))
    os.utime(on_logos / "training_config.yaml", (time.time() - 3600,) * 2)  # the older run
    make_run(settings.outputs_root, "p/on-shapes", dataset_path=str(shapes / "data.yaml"))

    at = _open()
    assert at.selectbox(key="eval.dataset").value == str(shapes)  # the newest run's model, first in the list
    assert not at.warning
    at.selectbox(key="eval.model").set_value(on_logos / "weights" / "best.pt").run()
    assert at.selectbox(key="eval.dataset").value == str(logos)
    assert not at.warning
    at.selectbox(key="eval.dataset").set_value(str(shapes)).run()  # the user's own choice stays
    assert at.selectbox(key="eval.dataset").value == str(shapes)
    told = _texts(at.warning)
    assert "only in the model ['aqualine', 'ferro', 'nimbus', 'solara', 'verdant']" in told and "refused" in told


def test_a_failed_evaluation_shows_the_end_of_its_own_log(settings: Settings, small_dataset: Path) -> None:
    """Evaluations log to evaluation.log; the page once read train.log and showed '(no log)'."""
    from mlcore.core.paths import EVAL_CONFIG, RunFolder
    from mlcore.jobs.store import JobState, open_store

    folder = settings.outputs_root / "validations" / "v1_best_20260101-000000-000000"
    folder.mkdir(parents=True)
    spec = {"task": "evaluate", "model_path": "m.pt", "dataset_path": str(small_dataset), "split": "val"}
    (folder / EVAL_CONFIG).write_text(json.dumps(spec))
    RunFolder(folder).log("evaluation").write_text("loading the model\nRuntimeError: the model file is damaged\n")
    store = open_store(settings)
    job = store.submit("evaluation", spec, str(folder))
    store.transition(job.id, JobState.STARTING, expect=JobState.QUEUED, device="cpu")
    store.transition(job.id, JobState.FAILED, error="RuntimeError: the model file is damaged")
    at = _open()
    assert "The evaluation failed: RuntimeError: the model file is damaged" in _texts(at.error)
    shown_log = _texts(at.code)
    assert "loading the model" in shown_log and "(no log)" not in shown_log


def test_an_evaluation_being_stopped_is_shown_as_still_running(settings: Settings, small_dataset: Path) -> None:
    """A job in "stopping" has not ended: the page once told the user it did not finish and to start it again."""
    import psutil

    from mlcore.core.paths import EVAL_CONFIG
    from mlcore.jobs.store import JobState, open_store

    folder = settings.outputs_root / "validations" / "v1_best_20260101-000000-000000"
    folder.mkdir(parents=True)
    spec = {"task": "evaluate", "model_path": "m.pt", "dataset_path": str(small_dataset), "split": "val"}
    (folder / EVAL_CONFIG).write_text(json.dumps(spec))
    store = open_store(settings)
    job = store.submit("evaluation", spec, str(folder))
    store.transition(job.id, JobState.STARTING, expect=JobState.QUEUED, device="cpu")
    me = psutil.Process()  # the worker looks alive: this test process
    store.transition(job.id, JobState.RUNNING, pid=me.pid, pid_started=me.create_time())
    store.transition(job.id, JobState.STOPPING, expect=JobState.RUNNING)
    at = _open()
    assert "Still running: its progress is shown above." in _texts(at.info)
    assert "did not finish" not in _texts(at.warning)


def test_the_deployment_profile_view_advises_thresholds_and_saves_them_beside_the_model(
    evaluation: Path, settings: Settings
) -> None:
    from mlcore.predict.profile import read_profile

    at = _open("Deployment profile")
    table = at.dataframe[0].value
    assert list(table["name"]) == ["solara", "aqualine", "verdant", "nimbus", "ferro"]
    loose = float(_metrics(at)["Precision"])  # at the best-F1 threshold
    at.radio(key="profile.objective").set_value("precision").run()
    at.slider(key="profile.target").set_value(0.95).run()
    at.toggle(key="profile.per_class").set_value(True).run()
    assert not at.exception, at.exception
    strict = at.dataframe[0].value
    reached = strict[strict["note"] == ""]
    assert len(reached) and (reached["precision"] >= 0.95).all()  # every class that can reach it does
    assert float(_metrics(at)["Precision"]) > loose
    assert "after NMS" in _texts(at.info)  # per-class thresholds say how they are applied
    at.button(key="profile.save").click().run()
    assert "Saved" in _texts(at.success)
    model = settings.outputs_root / "trainings/logos/v1/weights/best.pt"
    saved = read_profile(model, settings)
    assert saved is not None and saved.objective == "precision at least 0.95" and saved.evaluation == str(evaluation)
    thresholds = dict(zip(strict["name"], strict["threshold"], strict=True))
    assert all(saved.per_class.get(name, saved.confidence) == pytest.approx(t) for name, t in thresholds.items())
    assert "Saved profile of `best.pt`" in _texts(_open("Deployment profile").caption)

"""AppTest of the Training page: choices, checks before anything starts, the queue, a run's charts."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.devices import gpus
from mlcore.jobs.progress import ended_table
from mlcore.jobs.store import Job, JobState, JobStore
from tests.conftest import PROJECT_ROOT
from tests.fake_nvml import three_gpus
from tests.run_fixture import occupy_the_cpu, results_csv

PAGE = str(PROJECT_ROOT / "pages" / "training.py")
RESULTS_HEADER = (
    "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
    "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2\n"
)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _start(at: AppTest, experiment: str) -> AppTest:
    at.number_input(key="train.epochs").set_value(1)
    at.number_input(key="train.imgsz").set_value(64)
    at.selectbox(key="train.device").set_value("cpu")
    at.text_input(key="train.experiment").set_value(experiment).run()
    at.button(key="train.start").click().run()
    return at


def test_empty_outputs_say_what_to_do_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st.cache_data.clear()
    (tmp_path / "none").mkdir()
    monkeypatch.setenv("ML_STUDIO_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(tmp_path / "none"))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    info = _texts(at.info)
    assert "demo-data" in info and "No training yet" in info and "once a training has started" in info
    assert "No GPU on this machine" in _texts(at.caption)  # the page says that trainings run on the CPU


def test_a_started_training_waits_behind_a_busy_cpu_and_a_restarted_page_shows_it(page_roots: Settings) -> None:
    occupy_the_cpu(page_roots)
    at = _start(AppTest.from_file(PAGE, default_timeout=120).run(), "first")
    assert not at.exception, at.exception
    assert "Not validated yet" in _texts(at.info)
    assert at.text_input(key="train.experiment").value == "" and not at.error  # ready for the next one
    jobs = JobStore(page_roots.outputs_root / paths.JOBS_DB).list()
    assert [(Path(j.run_dir).name, j.state) for j in jobs] == [("busy", JobState.RUNNING), ("first", JobState.QUEUED)]
    assert jobs[1].spec["epochs"] == 1 and jobs[1].spec["imgsz"] == 64 and jobs[1].spec["device"] == "cpu"
    assert (page_roots.outputs_root / "trainings" / "default" / "first" / "training_config.yaml").exists()

    again = AppTest.from_file(PAGE, default_timeout=60).run()  # a new session, as after a server restart
    assert not again.exception, again.exception
    bars = {p.proto.text: p.value for p in again.progress}
    assert any("queued, position 1" in text for text in bars)
    assert any("epoch 2/5 · batch 3/10" in text and value == 26 for text, value in bars.items())
    assert again.selectbox(key="train.run").value.endswith("default/first")


def test_cancel_from_the_page_takes_a_queued_job_out_of_the_queue(page_roots: Settings) -> None:
    occupy_the_cpu(page_roots)
    at = _start(AppTest.from_file(PAGE, default_timeout=120).run(), "second")
    queued = JobStore(page_roots.outputs_root / paths.JOBS_DB).list({JobState.QUEUED})[0]
    assert at.button(key=f"stop.{queued.id}").disabled  # only a running job can be stopped
    at.button(key=f"cancel.{queued.id}").click().run()
    assert not at.exception, at.exception
    assert JobStore(page_roots.outputs_root / paths.JOBS_DB).get(queued.id).state is JobState.CANCELLED
    assert "cancelled" in at.dataframe[-1].value["State"].tolist()


def _ended(store: JobStore, run: Path, state: JobState, progress: dict, actor: str = "", **spec: object) -> Job:
    """A training job that ended as `state`, with its progress.json as the worker left it."""
    run.mkdir(parents=True, exist_ok=True)
    (run / "progress.json").write_text(json.dumps(progress))
    job = store.submit("training", {"mode": "full", "epochs": progress.get("epochs", 5), **spec}, str(run))
    if state is JobState.CANCELLED:
        store.record(job.id, actor, "cancelled")
        return store.transition(job.id, state)
    store.transition(job.id, JobState.STARTING, device="cpu")
    store.transition(job.id, JobState.RUNNING)
    if actor:
        store.transition(job.id, JobState.STOPPING)
        store.record(job.id, actor, "stopped")
    return store.transition(job.id, state, error="out of memory\nTraceback ..." if state is JobState.FAILED else None)


def test_every_ended_training_says_why_it_ended(page_roots: Settings) -> None:
    store, runs = JobStore(page_roots.outputs_root / paths.JOBS_DB), page_roots.outputs_root / "trainings" / "p"
    ended = [
        _ended(store, runs / "all", JobState.COMPLETED, {"state": "completed", "epoch": 6, "epochs": 6}),
        _ended(store, runs / "early", JobState.COMPLETED, {"state": "completed", "epoch": 4, "epochs": 10}, patience=3),
        _ended(store, runs / "stop", JobState.COMPLETED, {"state": "stopped", "epoch": 2, "epochs": 5}, "ana"),
        _ended(store, runs / "cancel", JobState.CANCELLED, {"state": "running", "epoch": 1, "epochs": 5}, "bo"),
        _ended(store, runs / "oom", JobState.FAILED, {"state": "failed"}),
    ]
    why = {row["Run"]: row["Why it ended"] for row in ended_table(ended, store.events)}
    assert why == {
        "p/all": "finished all 6 epochs",
        "p/early": "early stopping after epoch 4 of 10: no better epoch in the last 3",
        "p/stop": "stopped by ana after epoch 2 of 5",
        "p/cancel": "cancelled by bo in epoch 1 of 5",
        "p/oom": "out of memory",
    }


def test_a_training_cancelled_in_its_first_epoch_does_not_offer_to_resume(page_roots: Settings) -> None:
    run = page_roots.outputs_root / "trainings" / "p" / "first"
    _ended(JobStore(page_roots.outputs_root / paths.JOBS_DB), run, JobState.CANCELLED, {"epoch": 1, "epochs": 5}, "ana")
    (run / "training_config.yaml").write_text("mode: full\ndataset_path: d\nepochs: 5\nproject: p\n")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert "Cancelled before its first epoch ended: there is nothing to resume" in _texts(at.warning)
    assert "resume" not in _texts(at.warning).replace("nothing to resume", "")
    assert "cancelled by ana in epoch 1 of 5" in at.dataframe[-1].value["Why it ended"].tolist()


def test_problems_are_shown_before_anything_starts(page_roots: Settings) -> None:
    (page_roots.outputs_root / "trainings" / "default" / "taken").mkdir(parents=True)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.text_input(key="train.experiment").set_value("taken").run()
    assert "already exists" in _texts(at.error) and at.button(key="train.start").disabled
    at.button(key="train.free_name").click().run()
    assert at.text_input(key="train.experiment").value == "taken-2" and not at.error

    at.text_input(key="train.experiment").set_value("../escape").run()
    assert "no '/' or '..'" in _texts(at.error) and at.button(key="train.start").disabled
    at.text_input(key="train.experiment").set_value("").run()
    at.number_input(key="train.imgsz").set_value(100).run()
    assert "Ultralytics will use 128" in _texts(at.warning)
    at.text_area(key="train.extra").set_value("mosiac: 0.5").run()
    assert "not an Ultralytics train argument" in _texts(at.error)
    assert JobStore(page_roots.outputs_root / paths.JOBS_DB).list() == []


def test_a_dataset_with_validation_errors_blocks_the_start(page_roots: Settings) -> None:
    from mlcore.datasets.validation.options import ValidationOptions
    from mlcore.datasets.validation.saved_reports import save_report
    from mlcore.datasets.validation.validate import validate

    dataset = Path(page_roots.dataset_roots[0]) / "small"
    next((dataset / "labels" / "train").iterdir()).write_text("9 0.5 0.5 0.2 0.2\n")
    save_report(validate(dataset, ValidationOptions(near_duplicates=False)), page_roots.outputs_root)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert "1 error(s)" in _texts(at.error) and at.button(key="train.start").disabled


def test_the_device_picker_lists_gpus_with_their_free_memory(
    page_roots: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpus, "_load_nvml", lambda: three_gpus(os.getpid()))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    picker = at.selectbox(key="train.device")
    assert picker.options[:2] == ["auto (the free GPU with the most memory, else CPU)", "CPU"]
    assert len(picker.options) == 6 and "GiB free" in picker.options[2] and "multi-GPU" in picker.options[-1]


def test_transfer_without_weights_names_the_folder_and_extend_lists_finished_runs(page_roots: Settings) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.segmented_control(key="train.mode").set_value("transfer").run()
    assert str(page_roots.model_roots[0]) in _texts(at.info) and "offline" in _texts(at.info)
    at.segmented_control(key="train.mode").set_value("extend").run()
    assert "No run to extend yet" in _texts(at.info)

    run = page_roots.outputs_root / "trainings" / "logos" / "v1"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "resumable.pt").write_bytes(b"checkpoint")
    (run / "training_config.yaml").write_text("mode: full\ndataset_path: d\nepochs: 2\nproject: logos\n")
    (run / "results.csv").write_text(RESULTS_HEADER + "1,5,1,1,1,0.1,0.1,0.1,0.05,1,1,1,0.01,0.01,0.01\n" * 2)
    at.run()
    assert "logos/v1  ·  2/2 epochs" in at.selectbox(key="train.extend_run").options
    at.segmented_control(key="train.mode").set_value("resume").run()
    assert "No run can be resumed" in _texts(at.info)  # it finished all its epochs


def test_a_run_shows_its_numbers_chart_and_log(page_roots: Settings) -> None:
    run = page_roots.outputs_root / "trainings" / "logos" / "v1"
    run.mkdir(parents=True)
    (run / "training_config.yaml").write_text("mode: full\ndataset_path: d\nepochs: 3\nproject: logos\n")
    (run / "results.csv").write_text(
        RESULTS_HEADER
        + "1,10,1.5,2.0,1.2,0.20,0.30,0.25,0.10,1.6,2.1,1.3,0.01,0.01,0.01\n"
        + "2,20,1.3,1.7,1.1,0.40,0.45,0.50,0.30,1.4,1.8,1.2,0.009,0.009,0.009\n"
        + "3,30,1.2,1.5,1.0,0.35,0.40,0.45,0.25,1.5,1.9,1.2,0.008,0.008,0.008\n"
    )
    (run / "train.log").write_text("Epoch 3/3 done\n")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    metrics = {m.label: (m.value, m.delta) for m in at.metric}
    assert metrics["Epochs done"][0] == "3" and metrics["Best mAP50-95"] == ("0.300", "epoch 2")
    assert at.get("plotly_chart") and "Epoch 3/3 done" in _texts(at.code)


def test_the_live_charts_draw_every_new_epoch_of_a_running_training(page_roots: Settings) -> None:
    """results.csv grows while the page is open: each rerun of the run view reads the new epochs."""
    occupy_the_cpu(page_roots)  # a running training of this test's own: other/busy
    run = page_roots.outputs_root / "trainings" / "other" / "busy"
    (run / "training_config.yaml").write_text("mode: full\ndataset_path: d\nepochs: 6\nproject: other\n")
    (run / "results.csv").write_text(results_csv(6).split("\n2,")[0] + "\n")  # the first epoch
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="train.run").value.endswith("other/busy")
    assert {m.label: m.value for m in at.metric}["Epochs done"] == "1"
    assert len(_history_points(at)) == 1

    (run / "results.csv").write_text(results_csv(6).rsplit("\n4,")[0] + "\n")  # three epochs now
    at.run()
    assert {m.label: m.value for m in at.metric}["Epochs done"] == "3"
    assert _history_points(at) == [1, 2, 3]


def _history_points(at: AppTest) -> list[int]:
    """The epochs drawn in the run view's first training-history trace."""
    chart = next(c for c in at.get("plotly_chart") if "epoch" in c.proto.spec.lower())
    x = json.loads(chart.proto.spec)["data"][0]["x"]
    if isinstance(x, dict):  # plotly's typed array: {"dtype": "i8", "bdata": base64}
        x = np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).tolist()
    return [int(v) for v in x]


def test_a_registered_version_is_offered_first_as_the_base_of_a_transfer(page_roots: Settings) -> None:
    from mlcore.jobs.store import open_store
    from mlcore.registry.promotion import set_alias
    from mlcore.registry.registration import register_model
    from mlcore.registry.store import PRODUCTION, read_model
    from tests.registry_fixture import run_with_weights

    weights = run_with_weights(page_roots.outputs_root, "logos/v1", page_roots.dataset_roots[0] / "small", seed=3)
    register_model(str(weights), "logo-detector", page_roots, "ana")
    set_alias(page_roots, "logo-detector", PRODUCTION, 1, "ana", "first", override=True)
    occupy_the_cpu(page_roots)  # the training stays queued: only its request is checked
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.segmented_control(key="train.mode").set_value("transfer").run()
    base = at.selectbox(key="train.base")
    copy = read_model(page_roots, "logo-detector").weights(read_model(page_roots, "logo-detector").version(1))
    assert base.value == copy and base.format_func(base.value) == "logo-detector v1 (production)"
    _start(at, "from-production")
    assert not at.exception, at.exception
    job = next(j for j in open_store(page_roots).list(kind="training") if j.state.value == "queued")
    assert job.spec["mode"] == "transfer" and job.spec["base_model_path"] == str(copy)


def test_the_form_starts_from_the_spec_defaults(roots: Settings) -> None:
    """The page and the CLI start from TrainSpec's values (100 epochs, Ultralytics' own default), not from a
    number of their own: the page used to offer 50 while the CLI and the spec said 100."""
    from mlcore.training.spec import TrainSpec

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    shown = {key: at.number_input(key=f"train.{key}").value for key in ("epochs", "batch", "imgsz")}
    assert shown == {"epochs": TrainSpec.epochs, "batch": TrainSpec.batch_size, "imgsz": TrainSpec.imgsz}
    assert TrainSpec.epochs == 100

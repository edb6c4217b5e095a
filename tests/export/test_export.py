"""Exports of a tiny trained model: real CPU conversions, the parity check, latency, and every refusal."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
import yaml
from streamlit.testing.v1 import AppTest

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings, load_settings
from mlcore.core.spec import SpecError
from mlcore.export.formats import available, why_unavailable
from mlcore.export.spec import ExportSpec
from mlcore.export.store import export_result, list_exports
from mlcore.export.submit import submit_export
from mlcore.jobs.scheduler import schedule
from mlcore.jobs.store import JobState, open_store
from tests.conftest import PROJECT_ROOT, engine_env_for, mlcore, until_final
from tests.run_fixture import occupy_the_cpu

PAGE = str(PROJECT_ROOT / "pages" / "export.py")


@pytest.fixture
def studio(trained: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An outputs root of this test's own, the trained model in its trusted model folder."""
    outputs = tmp_path / "out"
    (outputs / paths.MODELS_DIR).mkdir(parents=True)
    model = outputs / paths.MODELS_DIR / "best.pt"
    shutil.copyfile(trained["model"], model)
    env = {"ML_STUDIO_OUTPUTS": str(outputs), "ML_STUDIO_DATASET_ROOTS": trained["ML_STUDIO_DATASET_ROOTS"]}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**env, "model": str(model), "data": trained["data"]}


@pytest.fixture(scope="module")
def exported(trained: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One export of the run's best.pt to ONNX, OpenVINO and TorchScript with the parity check, by the CLI."""
    env = {k: trained[k] for k in ("ML_STUDIO_OUTPUTS", "ML_STUDIO_DATASET_ROOTS")}
    proc = mlcore(
        "export",
        trained["model"],
        "--format",
        "onnx",
        "--format",
        "openvino",
        "--format",
        "torchscript",
        "--data",
        trained["data"],
        "--wait",
        "--json",
        extra_env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**json.loads(proc.stdout), "env": trained}


def _dataset_files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.mark.slow
def test_onnx_openvino_and_torchscript_behave_like_the_pt_and_are_timed(exported: dict) -> None:
    formats = {f["format"]: f for f in exported["formats"]}
    assert list(formats) == ["onnx", "openvino", "torchscript"]
    for entry in formats.values():
        parity = entry["parity"]
        assert parity["passed"], parity["verdict"]
        assert parity["map50_source"] > 0.3  # the model found its logos: the check compares something real
        assert abs(parity["map50_export"] - parity["map50_source"]) <= 0.005
        assert abs(parity["map50_95_export"] - parity["map50_95_source"]) <= 0.005
        assert entry["latency_ms"]["source"] > 0 and entry["latency_ms"]["export"] > 0
        assert Path(entry["path"]).exists() and Path(entry["path"]).is_relative_to(exported["output_dir"])
    folder = Path(exported["output_dir"])
    card = json.loads((folder / paths.MODEL_CARD).read_text())
    model = Path(exported["env"]["model"])
    assert card["source"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert card["source"]["run"] == "t/tiny" and card["imgsz"] == 128 and card["split"] in ("test", "val")
    assert card["classes"] == {"0": "solara", "1": "aqualine", "2": "verdant", "3": "nimbus", "4": "ferro"}
    assert {"ultralytics", "torch", "onnx", "onnxruntime", "openvino"} <= set(card["versions"])
    onnx = next(f for f in card["formats"] if f["format"] == "onnx")
    assert onnx["shapes"]["input"] == [1, 3, 128, 128] and onnx["shapes"]["output"][:2] == [1, 9]
    assert (
        card["latency_source"]["runs"] >= 50 and card["latency_source"]["p90_ms"] >= card["latency_source"]["median_ms"]
    )
    assert not (model.parent / "best.onnx").exists()  # nothing is written beside the source model
    assert export_result(folder) == {k: exported[k] for k in ("output_dir", "stopped", "formats")}
    openvino = next(f for f in card["formats"] if f["format"] == "openvino")
    assert openvino["inference_precision"] == "f32" and openvino["parity"]["ran_at"] == "f32"  # not the CPU's bf16
    assert [f["ran_at"] for f in exported["formats"]] == ["f32", "f32", "f32"]
    assert card["latency_source"]["ran_at"] == "f32" and "FP32" in card["cpu_capabilities"]


@pytest.mark.slow
def test_openvino_int8_is_calibrated_on_the_dataset_and_checked_with_its_tolerance(studio: dict) -> None:
    before = _dataset_files(Path(studio["data"]))
    settings = load_settings()
    spec = ExportSpec(
        model_path=studio["model"], formats=("openvino",), precision="int8", dataset_path=studio["data"], timed_runs=50
    )
    job = submit_export(spec, settings)
    until_final(job.id, settings)
    assert open_store(settings).get(job.id).state is JobState.COMPLETED, open_store(settings).get(job.id).error
    entry = export_result(Path(job.run_dir))["formats"][0]
    assert entry["precision"] == "int8" and "int8" in Path(entry["path"]).name
    card = json.loads((Path(job.run_dir) / paths.MODEL_CARD).read_text())
    assert card["formats"][0]["parity"]["tolerance"] == 0.02
    assert _dataset_files(Path(studio["data"])) == before  # calibration read a staged view, wrote nothing
    assert entry["inference_precision"] == "f32"  # the layers left in floating point, as nncf calibrated them
    half = submit_export(
        ExportSpec(model_path=studio["model"], formats=("openvino",), precision="fp16", parity=False), settings
    )
    until_final(half.id, settings)
    (entry,) = export_result(Path(half.run_dir))["formats"]
    assert entry["precision"] == "fp16" and Path(entry["path"]).is_dir()
    assert entry["inference_precision"] == "f32" and entry["ran_at"] == "f32"  # fp16 weights, computed in f32


@pytest.mark.slow
def test_openvino_bf16_is_exported_where_the_cpu_has_it_and_the_card_says_what_ran(studio: dict, monkeypatch) -> None:
    from mlcore.export import precision

    settings = load_settings()
    monkeypatch.setattr(precision, "cpu_capabilities", lambda: ("FP32", "BF16", "INT8"))  # offered, as with AMX
    job = submit_export(
        ExportSpec(model_path=studio["model"], formats=("openvino",), precision="bf16", parity=False), settings
    )
    until_final(job.id, settings)
    assert open_store(settings).get(job.id).state is JobState.COMPLETED, open_store(settings).get(job.id).error
    card = json.loads((Path(job.run_dir) / paths.MODEL_CARD).read_text())
    (openvino,) = card["formats"]
    assert (openvino["precision"], openvino["inference_precision"]) == ("bf16", "bf16")
    could = "BF16" in card["cpu_capabilities"]  # what the worker's OpenVINO read of the real CPU
    assert openvino["latency"]["ran_at"] == ("bf16" if could else "f32")  # honest where the CPU lacks it


@pytest.mark.slow
def test_an_export_checked_at_another_size_fails_parity_and_says_why(studio: dict) -> None:
    settings = load_settings()
    spec = ExportSpec(
        model_path=studio["model"], formats=("onnx",), dynamic=True, check_imgsz=64, dataset_path=studio["data"]
    )
    job = submit_export(spec, settings)
    until_final(job.id, settings)
    parity = export_result(Path(job.run_dir))["formats"][0]["parity"]
    assert not parity["passed"]
    assert parity["verdict"].startswith("failed") and "image size mismatch" in parity["verdict"]
    assert "imgsz=128" in parity["causes"][0] and "checked at 64" in parity["causes"][0]
    assert any("dynamic shapes" in cause for cause in parity["causes"])
    card = json.loads((Path(job.run_dir) / paths.MODEL_CARD).read_text())
    assert card["formats"][0]["latency"]["batch8_images_per_s"] > 0  # a dynamic export is timed at batch 8 too
    cli = mlcore("export", studio["model"], "--format", "torchscript", "--no-parity", "--wait")
    assert cli.returncode == 0 and "not checked" in cli.stdout, cli.stderr[-2000:]


@pytest.mark.slow
def test_an_export_job_makes_no_network_attempt(studio: dict, tmp_path: Path) -> None:
    settings = load_settings()
    occupy_the_cpu(settings)  # the job waits in the queue: this test starts its worker itself, under the guard
    spec = ExportSpec(model_path=studio["model"], formats=("onnx", "openvino"), dataset_path=studio["data"])
    store = open_store(settings)
    job = submit_export(spec, settings)
    store.transition(job.id, JobState.STARTING, expect=JobState.QUEUED, device="cpu")
    log = tmp_path / "attempts.jsonl"
    env = engine_env_for(Path(studio["ML_STUDIO_OUTPUTS"])) | {
        "ML_STUDIO_DATASET_ROOTS": studio["ML_STUDIO_DATASET_ROOTS"]
    }
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "offline_child.py"), str(log), "worker", job.id],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert store.get(job.id).state is JobState.COMPLETED
    assert all(f["parity"]["passed"] for f in export_result(Path(job.run_dir))["formats"])
    attempts = log.read_text().splitlines() if log.exists() else []
    assert attempts == [], f"network attempts: {attempts[:5]}"


@pytest.mark.slow
def test_a_conversion_that_crashes_fails_the_job_and_lists_nothing_as_an_export(studio: dict) -> None:
    settings = load_settings()
    busy = occupy_the_cpu(settings)
    job = submit_export(ExportSpec(model_path=studio["model"], parity=False), settings)
    Path(studio["model"]).write_bytes(b"not a checkpoint any more")  # damaged after it was checked
    store = open_store(settings)
    store.transition(busy, JobState.COMPLETED)
    schedule(settings)
    until_final(job.id, settings)
    failed = store.get(job.id)
    assert failed.state is JobState.FAILED and "conversion failed" in failed.error and "export.log" in failed.error
    assert not (Path(job.run_dir) / paths.MODEL_CARD).exists()
    assert [e.complete for e in list_exports(settings)] == [False]


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_bad_requests_are_refused_before_anything_starts(studio: dict, tmp_path: Path) -> None:
    settings = load_settings()
    model, data = studio["model"], studio["data"]
    with pytest.raises(SubmitError, match="outside the allowed folders"):
        submit_export(ExportSpec(model_path=str(Path(data) / "data.yaml")), settings)
    junk = Path(settings.model_roots[0]) / "junk.pt"
    junk.write_text("this is not a checkpoint")
    with pytest.raises(SubmitError, match="not a YOLO checkpoint"):
        submit_export(ExportSpec(model_path=str(junk), parity=False), settings)
    with pytest.raises(SubmitError, match="format='tflite' is not offered: it needs TensorFlow"):
        submit_export(ExportSpec(model_path=model, formats=("onnx", "tflite")), settings)
    with pytest.raises(SubmitError, match="TensorRT is built for one NVIDIA GPU"):
        submit_export(ExportSpec(model_path=model, formats=("engine",), device="cpu"), settings)
    with pytest.raises(SubmitError, match="not trained by the studio: give its dataset"):
        submit_export(ExportSpec(model_path=model), settings)  # a loose .pt brings no dataset
    other = tmp_path / "data" / "other"
    shutil.copytree(data, other)
    yaml_file = other / "data.yaml"
    config = yaml.safe_load(yaml_file.read_text())
    config["names"] = {i: f"logo{i}" for i in range(len(config["names"]))}
    yaml_file.write_text(yaml.safe_dump(config))
    roots = f"{studio['ML_STUDIO_DATASET_ROOTS']}:{tmp_path / 'data'}"
    settings = load_settings({**settings.environment, "ML_STUDIO_DATASET_ROOTS": roots})
    with pytest.raises(SubmitError, match="the parity check would be wrong: the model's classes differ"):
        submit_export(ExportSpec(model_path=model, dataset_path=str(other)), settings)
    config["names"] = {0: "solara", 1: "aqualine", 2: "verdant", 3: "nimbus", 4: "ferro"}
    config.pop("test", None)
    yaml_file.write_text(yaml.safe_dump(config))
    with pytest.raises(SubmitError, match="no images in test"):
        submit_export(ExportSpec(model_path=model, dataset_path=str(other), split="test"), settings)
    assert not (settings.outputs_root / paths.EXPORTS_DIR).exists()  # no folder was made for a refused export


def test_the_spec_refuses_bad_values_with_a_good_one() -> None:
    for fields, fragment in (
        ({"imgsz": 100}, "not a multiple of the model's stride 32.*Use 96 or 128"),
        ({"formats": ()}, "formats is empty"),
        ({"formats": ("onnx", "onnx")}, "names a format twice"),
        ({"precision": "int8"}, "calibrated for OpenVINO"),
        ({"precision": "int4"}, "precision='int4'"),
        ({"tolerance": 2.0}, "tolerance=2.0"),
        ({"timed_runs": 10}, "timed_runs=10"),
        ({"model_path": " "}, "model_path is empty"),
    ):
        with pytest.raises(SpecError, match=fragment):
            ExportSpec(**{"model_path": "m.pt", **fields})
    assert why_unavailable("onnx", "fp16", gpu=False) == (
        "ONNX at fp16 is exported on a GPU only; on the CPU choose openvino with fp16."
    )
    assert available(gpu=False) == {
        "onnx": None,
        "openvino": None,
        "torchscript": None,
        "engine": "TensorRT is built for one NVIDIA GPU and needs one: this job has none (use onnx or openvino).",
    }


@pytest.mark.slow
def test_the_page_shows_the_verdicts_latency_and_the_disagreement_gallery(exported: dict, monkeypatch) -> None:
    for key in ("ML_STUDIO_OUTPUTS", "ML_STUDIO_DATASET_ROOTS"):
        monkeypatch.setenv(key, exported["env"][key])
    st.cache_data.clear()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    verdicts = [s.value for s in at.success]
    assert [v.split(":")[0] for v in verdicts] == ["onnx fp32", "openvino fp32", "torchscript fp32"]
    assert all("passed" in v for v in verdicts)
    assert len(at.get("plotly_chart")) == 1  # the latency bars
    assert "Download the export (zip)" in [b.label for b in at.get("download_button")]
    picked = at.selectbox(key="export.pick")
    assert "passed" in picked.format_func(picked.value)
    assert any(c.value.startswith("OpenVINO computes at f32 (INFERENCE_PRECISION_HINT") for c in at.caption)


def test_the_page_without_models_says_what_to_do(settings: Settings) -> None:
    st.cache_data.clear()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    texts = " ".join(i.value for i in at.info)
    assert "No model to export yet" in texts and "No export yet" in texts


@pytest.mark.slow
def test_the_api_queues_an_export_and_reports_its_formats(studio: dict) -> None:
    import time

    from fastapi.testclient import TestClient

    from mlcore.api.app import create_api

    settings = load_settings()
    with TestClient(create_api(settings)) as client:
        body = {"model_path": studio["model"], "formats": ["torchscript"], "dataset_path": studio["data"]}
        answer = client.post("/api/v1/ml/model/export", json=body)
        assert answer.status_code == 202, answer.text
        export_id = answer.json()["export_id"]
        deadline = time.monotonic() + 600
        while (status := client.get(f"/api/v1/ml/model/export/{export_id}").json())["status"] not in (
            "completed",
            "failed",
        ) and time.monotonic() < deadline:
            time.sleep(1.0)
        assert status["status"] == "completed", status
        (entry,) = status["formats"]
        assert entry["format"] == "torchscript" and entry["parity"]["passed"] and entry["latency_ms"]["export"] > 0
        refused = client.post("/api/v1/ml/model/export", json={**body, "formats": ["tflite"]})
        assert refused.status_code == 400 and "not offered" in refused.json()["detail"]
        assert client.post("/api/v1/ml/model/export", json={**body, "imgsz": 100}).status_code == 422
        assert client.get("/api/v1/ml/model/export/nope").status_code == 404


def test_stop_is_for_jobs_that_keep_their_work_and_an_evaluation_is_cancelled_instead(settings: Settings) -> None:
    import os

    import psutil

    from mlcore.core.errors import InvalidTransition
    from mlcore.jobs.control import stop_job

    store = open_store(settings)
    folder = settings.outputs_root / paths.VALIDATIONS_DIR / "m_best_1"
    folder.mkdir(parents=True)
    job = store.submit("evaluation", {"task": "evaluate"}, str(folder))
    store.transition(job.id, JobState.STARTING, device="cpu")
    store.transition(job.id, JobState.RUNNING, pid=os.getpid(), pid_started=psutil.Process().create_time())
    with pytest.raises(InvalidTransition, match="cancel it instead"):
        stop_job(job.id, settings)
    assert store.get(job.id).state is JobState.RUNNING and not (folder / paths.STOP_FILE).exists()


@pytest.mark.slow
def test_stop_ends_an_export_after_its_current_step_and_keeps_what_is_complete(studio: dict) -> None:
    import time

    from mlcore.jobs.control import stop_job
    from mlcore.jobs.progress import read_progress

    settings = load_settings()
    spec = ExportSpec(model_path=studio["model"], formats=("onnx", "torchscript"), dataset_path=studio["data"])
    job = submit_export(spec, settings)
    store = open_store(settings)
    deadline = time.monotonic() + 300
    while not read_progress(Path(job.run_dir)).get("step") and time.monotonic() < deadline:
        time.sleep(0.1)  # converting to ONNX: the first step
    assert store.get(job.id).state is JobState.RUNNING
    stop_job(job.id, settings)
    until_final(job.id, settings)
    assert store.get(job.id).state is JobState.COMPLETED
    result = export_result(Path(job.run_dir))
    assert result["stopped"] and [f["format"] for f in result["formats"]] == ["onnx"]
    assert result["formats"][0]["parity"] is None  # made, not checked: said so, not passed
    assert [e.verdict for e in list_exports(settings)] == ["not checked"]

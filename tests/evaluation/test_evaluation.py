"""Evaluation: the spec, the checks before a job starts, and a real evaluation job on CPU."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import load_settings
from mlcore.core.spec import SpecError
from mlcore.evaluation.analysis import Detections, analyze
from mlcore.evaluation.spec import EvalSpec
from mlcore.evaluation.submit import submit_evaluation
from mlcore.jobs.store import JobState, JobStore
from tests.conftest import mlcore, until_final


def test_the_original_request_body_loads_and_bad_values_are_refused() -> None:
    spec = EvalSpec.from_dict(
        {
            "model_path": "m.pt",
            "test_dataset_path": "/data/logos",
            "confidence_threshold": 0.3,
            "iou_threshold": 0.5,
            "save_predictions": False,
            "analyze_errors": True,
        }
    )
    assert spec.dataset_path == "/data/logos" and spec.split == "test" and not spec.save_predictions
    for bad, fragment in (
        ({"confidence_threshold": 1.5}, "between 0 and 1"),
        ({"split": "holdout"}, "split='holdout'"),
        ({"device": "0,1"}, "one GPU index"),
        ({"model_path": ""}, "model_path is empty"),
    ):
        with pytest.raises(SpecError, match=fragment):
            EvalSpec.from_dict({"model_path": "m.pt", "dataset_path": "d", **bad})
    with pytest.raises(SpecError, match="unknown field"):
        EvalSpec.from_dict({"model_path": "m.pt", "dataset_path": "d", "threshold": 0.3})


@pytest.fixture
def env(trained: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in ("ML_STUDIO_OUTPUTS", "ML_STUDIO_DATASET_ROOTS"):
        monkeypatch.setenv(key, trained[key])
    return trained


@pytest.mark.slow
def test_an_evaluation_job_agrees_with_ultralytics_and_writes_everything(env: dict[str, str]) -> None:
    settings = load_settings()
    job = submit_evaluation(
        EvalSpec(model_path=env["model"], dataset_path=env["data"], split="train", imgsz=128, device="cpu"), settings
    )
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    until_final(job.id, settings)
    done = store.get(job.id)
    assert done.state is JobState.COMPLETED, done.error
    folder = Path(done.run_dir)
    assert folder.parent == settings.outputs_root / "validations" and folder.name.startswith("tiny_best_")
    metrics = json.loads((folder / "metrics.json").read_text())
    ultralytics = metrics["ultralytics"]
    assert ultralytics["map50"] > 0.01, "the model learned nothing: the agreement below would be trivial"
    assert metrics["map50"] == pytest.approx(ultralytics["map50"], abs=0.005)
    assert metrics["map50_95"] == pytest.approx(ultralytics["map50_95"], abs=0.005)
    assert set(metrics["error_types"]) == {
        "duplicate",
        "classification",
        "localization",
        "both",
        "background",
        "missed",
    }
    assert {"precision", "recall", "f1", "accuracy", "by_size", "per_class", "confusion_matrix"} <= set(metrics)
    for name in ("predictions.npz", "confusion_matrix.png", "eval_config.yaml", "predictions/predictions_coco.json"):
        assert (folder / name).exists(), name
    assert len(list((folder / "predictions" / "labels").iterdir())) == metrics["images"]
    detections = Detections.load(folder / "predictions.npz")
    assert detections.pred_conf.min() >= 0.001 and len(detections.gt_cls) > 0
    again = analyze(detections, 0.25, 0.45)  # the page re-thresholds from the stored file alone
    assert again.overall["tp"] == metrics["tp"] and again.error_counts == metrics["error_types"]
    samples = [p for p in (folder / "error_samples").rglob("*.jpg")]
    assert samples and all(p.parent.name in metrics["error_types"] for p in samples)
    coco = json.loads((folder / "predictions" / "predictions_coco.json").read_text())
    assert len(coco["annotations"]) == int((again.pred_type != "").sum())
    assert np.isclose(sum(r["tp"] for r in metrics["per_class"]), metrics["tp"])


@pytest.mark.slow
def test_evaluate_command_prints_one_json_document(env: dict[str, str]) -> None:
    proc = mlcore(
        "evaluate",
        "--model",
        env["model"],
        "--data",
        env["data"],
        "--split",
        "val",
        "--imgsz",
        "128",
        "--device",
        "cpu",
        "--conf",
        "0.1",
        "--json",
        "--wait",
        extra_env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert {
        "precision",
        "recall",
        "f1",
        "accuracy",
        "map50",
        "map50_95",
        "per_class",
        "error_types",
        "output_dir",
    } <= set(result)
    assert result["thresholds"]["confidence"] == 0.1 and Path(result["output_dir"]).is_dir()


def test_bad_models_datasets_and_splits_are_refused_before_any_job(env: dict[str, str], tmp_path: Path) -> None:
    settings = load_settings()
    outside = tmp_path / "model.pt"
    outside.write_bytes(b"a pickle")
    with pytest.raises(SubmitError, match="pickle"):
        submit_evaluation(EvalSpec(model_path=str(outside), dataset_path=env["data"]), settings)
    with pytest.raises(SubmitError, match="outside"):
        submit_evaluation(EvalSpec(model_path=env["model"], dataset_path=str(tmp_path)), settings)
    no_test = Path(env["ML_STUDIO_DATASET_ROOTS"]) / "no-test"
    if not no_test.exists():
        shutil.copytree(env["data"], no_test)
        shutil.rmtree(no_test / "images" / "test")
        (no_test / "data.yaml").write_text((no_test / "data.yaml").read_text().replace("test: images/test\n", ""))
    with pytest.raises(SubmitError, match="no 'test' split"):
        submit_evaluation(EvalSpec(model_path=env["model"], dataset_path=str(no_test)), settings)


@pytest.mark.slow
def test_a_model_whose_classes_differ_fails_with_the_names(env: dict[str, str]) -> None:
    settings = load_settings()
    other = Path(env["ML_STUDIO_DATASET_ROOTS"]) / "renamed"
    if not other.exists():
        shutil.copytree(env["data"], other)
        text = (other / "data.yaml").read_text().replace("- ferro", "- copper")
        (other / "data.yaml").write_text(text)
    job = submit_evaluation(
        EvalSpec(model_path=env["model"], dataset_path=str(other), split="val", imgsz=128, device="cpu"), settings
    )
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    until_final(job.id, settings)
    failed = store.get(job.id)
    assert failed.state is JobState.FAILED and "only in the model ['ferro']" in failed.error
    assert "only in the dataset ['copper']" in failed.error
    assert os.path.exists(failed.run_dir)


@pytest.mark.slow
def test_files_with_validation_errors_are_left_out_and_listed(env: dict[str, str]) -> None:
    settings = load_settings()
    broken = Path(env["ML_STUDIO_DATASET_ROOTS"]) / "broken"
    if not broken.exists():
        shutil.copytree(env["data"], broken)
    label = sorted((broken / "labels" / "val").glob("*.txt"))[0]
    label.write_text("0 0.5 0.5 not-a-number 0.2\n")
    job = submit_evaluation(
        EvalSpec(model_path=env["model"], dataset_path=str(broken), split="val", imgsz=128, device="cpu"), settings
    )
    assert job.spec["skipped"] == [f"labels/val/{label.name}"]
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    until_final(job.id, settings)
    assert store.get(job.id).state is JobState.COMPLETED, store.get(job.id).error
    metrics = json.loads((Path(job.run_dir) / "metrics.json").read_text())
    images = len(list((broken / "images" / "val").iterdir()))
    assert metrics["skipped"] == job.spec["skipped"] and metrics["images"] == images - 1
    assert label.read_text() == "0 0.5 0.5 not-a-number 0.2\n"  # the dataset is left as it is

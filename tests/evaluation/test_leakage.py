"""Leakage-aware evaluation: test images that copy training images are found (exact and near copies, not copies
of other splits, not different frames of a low-texture dataset), and the metrics are given without them, in
metrics.json, `evaluate --json`, the API and the page; never on fewer than ten images ('too few images left to
measure' instead)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from streamlit.testing.v1 import AppTest

from mlcore.api.app import create_api
from mlcore.cli.evaluate import leakage_lines
from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.datasets.loader import load_dataset
from mlcore.evaluation.analysis import Detections
from mlcore.evaluation.leakage import (
    MIN_CLEAN_IMAGES,
    TOO_FEW,
    clean_metrics,
    leakage_summary,
    training_copies,
    without_images,
)
from mlcore.jobs.store import JobState, JobStore
from tests.conftest import mlcore
from tests.evaluation_fixture import made_up_detections, make_evaluation
from tests.low_texture import game_dataset

METRICS = ("precision", "recall", "f1", "accuracy", "map50", "map50_95")


@pytest.fixture(scope="module")
def sixteen_val(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo dataset whose val split has 16 images: enough to leave ten or more when a few are copies."""
    return make_demo_dataset(tmp_path_factory.mktemp("data") / "bigger", images=80, imgsz=64, seed=3).root


def _copies(images: list[str]) -> list[dict]:
    return [{"image": i, "copy_of": "images/train/train_00001.jpg", "kind": "near", "bits": 3} for i in images]


def leaky_copy(source: Path, target: Path) -> dict[str, str]:
    """A copy of the dataset whose test split also holds two training images as they are, one re-exported at twice
    its size, and one val image (a copy of another split, which is no training leak); {test name: kind}."""
    shutil.copytree(source, target)
    train = sorted((target / "images" / "train").glob("*.jpg"))
    planted = {}
    for n, image in enumerate(train[:2]):
        shutil.copy(image, target / "images" / "test" / f"exact_{n}.jpg")
        planted[f"exact_{n}.jpg"] = "exact"
    with Image.open(train[3]) as im:
        im.resize((im.width * 2, im.height * 2)).save(target / "images" / "test" / "near_0.jpg", quality=95)
    planted["near_0.jpg"] = "near"
    val = sorted((target / "images" / "val").glob("*.jpg"))[0]
    shutil.copy(val, target / "images" / "test" / "from_val.jpg")
    for name, origin in [("exact_0", train[0]), ("exact_1", train[1]), ("near_0", train[3]), ("from_val", val)]:
        shutil.copy(
            target / "labels" / origin.parent.name / f"{origin.stem}.txt", target / "labels" / "test" / f"{name}.txt"
        )
    return planted


def test_copies_of_training_images_are_found_and_copies_of_val_are_not(small_dataset: Path, tmp_path: Path) -> None:
    planted = leaky_copy(small_dataset, tmp_path / "leaky")
    copies = training_copies(load_dataset(tmp_path / "leaky"), "test")
    found = {Path(c["image"]).name: c["kind"] for c in copies}
    assert found == planted
    assert all(c["copy_of"].startswith("images/train/") for c in copies)
    assert training_copies(load_dataset(small_dataset), "test") == []
    assert training_copies(load_dataset(tmp_path / "leaky"), "train") == []


def test_different_low_texture_frames_are_not_training_copies(tmp_path: Path) -> None:
    """Game screenshots, mostly white: only the real near copies of training frames are called copies."""
    planted = game_dataset(tmp_path / "game", frames=60, copies=6)
    found = {c["image"]: c["copy_of"] for c in training_copies(load_dataset(tmp_path / "game"), "test")}
    assert found == {copy: original for copy, original in planted.items() if copy.startswith("images/test/")}
    assert all(c["kind"] == "near" for c in training_copies(load_dataset(tmp_path / "game"), "val"))


def test_metrics_without_the_copies_are_those_of_the_other_images(sixteen_val: Path) -> None:
    d = made_up_detections(sixteen_val, "val")
    gone = set(d.images[:3])
    clean = without_images(d, gone)
    assert clean.images == d.images[3:] and set(np.unique(clean.gt_image)) <= set(range(len(clean.images)))
    kept = np.isin(d.gt_image, np.arange(3, len(d.images)))
    assert np.array_equal(clean.gt_box, d.gt_box[kept]) and len(clean.pred_conf) == int((d.pred_image >= 3).sum())
    copies = [{"image": i, "copy_of": "images/train/x.jpg", "kind": "exact", "bits": 0} for i in gone]
    summary = leakage_summary(d, copies, "val", 0.25, 0.45)
    assert summary["copies"] == 3 and summary["clean"]["images"] == len(d.images) - 3
    assert summary["sentence"].startswith(f"3 of {len(d.images)} val images are copies")
    assert summary["clean"] == clean_metrics(d, copies, 0.25, 0.45)
    assert summary["clean"]["measured"] and all(0 <= summary["clean"][k] <= 1 for k in METRICS)
    assert leakage_summary(d, [], "val", 0.25, 0.45)["clean"] is None
    empty = without_images(d, set(d.images))
    assert isinstance(empty, Detections) and not empty.images and not len(empty.gt_cls)


def test_copy_free_metrics_are_not_given_on_fewer_than_ten_images(sixteen_val: Path) -> None:
    d = made_up_detections(sixteen_val, "val")
    for left in (0, 1, MIN_CLEAN_IMAGES - 1):
        clean = leakage_summary(d, _copies(d.images[left:]), "val", 0.25, 0.45)["clean"]
        assert clean["images"] == left and clean["measured"] is False and not set(METRICS) & set(clean)
        assert clean["note"].startswith(TOO_FEW) and f"only {left} of the {len(d.images)} images" in clean["note"]
    enough = leakage_summary(d, _copies(d.images[MIN_CLEAN_IMAGES:]), "val", 0.25, 0.45)["clean"]
    assert enough["images"] == MIN_CLEAN_IMAGES and enough["measured"] and set(METRICS) <= set(enough)


def test_the_command_line_says_too_few_images_instead_of_numbers(sixteen_val: Path) -> None:
    d = made_up_detections(sixteen_val, "val")
    few = leakage_lines(leakage_summary(d, _copies(d.images[1:]), "val", 0.25, 0.45))
    assert few == [
        f"Leakage: {len(d.images) - 1} of {len(d.images)} val images are copies or near-copies of training "
        f"images. Without the copies: {TOO_FEW} (only 1 of the {len(d.images)} images copies no training "
        f"image; copy-free metrics need at least {MIN_CLEAN_IMAGES})."
    ]
    some = leakage_lines(leakage_summary(d, _copies(d.images[:2]), "val", 0.25, 0.45))
    assert some[0].endswith(f"On the other {len(d.images) - 2} images:") and "map50_95" in some[1]
    assert leakage_lines(leakage_summary(d, [], "val", 0.25, 0.45)) == []


def _finished_evaluation(settings: Settings, dataset: Path, leakage: dict, name: str) -> str:
    """The id of a completed evaluation job (folder `name`) whose metrics.json carries `leakage`."""
    folder = make_evaluation(settings.outputs_root, dataset, name)
    metrics = json.loads((folder / "metrics.json").read_text())
    write_json_atomically(folder / "metrics.json", metrics | {"leakage": leakage})
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    spec = {"task": "evaluate", "model_path": "best.pt", "dataset_path": str(dataset), "split": "val"}
    job = store.submit("evaluation", spec, str(folder))
    store.transition(job.id, JobState.STARTING, device="cpu")
    store.transition(job.id, JobState.RUNNING)
    store.transition(job.id, JobState.COMPLETED)
    return job.id


def test_the_api_says_too_few_images_instead_of_numbers(settings: Settings, sixteen_val: Path) -> None:
    d = made_up_detections(sixteen_val, "val")
    summary = leakage_summary(d, _copies(d.images[1:]), "val", 0.25, 0.45)
    new_id = _finished_evaluation(settings, sixteen_val, summary, "v1_best_20261101-120000-000000")
    old = summary | {"clean": {"images": 1, **dict.fromkeys(METRICS, 0.0)}}  # as written before: numbers on one
    old_id = _finished_evaluation(settings, sixteen_val, old, "v1_best_20261101-130000-000000")
    with TestClient(create_api(settings)) as client:
        for job_id in (new_id, old_id):
            answer = client.get(f"/api/v1/ml/model/validate/{job_id}")
            assert answer.status_code == 200, answer.text
            clean = answer.json()["metrics"]["leakage"]["clean"]
            assert clean["measured"] is False and clean["note"].startswith(TOO_FEW) and "precision" not in clean


def test_the_evaluation_page_says_too_few_images_instead_of_numbers(settings: Settings, sixteen_val: Path) -> None:
    folder = make_evaluation(settings.outputs_root, sixteen_val)
    d = Detections.load(folder / "predictions.npz")
    metrics = json.loads((folder / "metrics.json").read_text())
    summary = leakage_summary(d, _copies(d.images[1:]), "val", 0.25, 0.45)
    write_json_atomically(folder / "metrics.json", metrics | {"leakage": summary})
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "evaluation.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    warning = next(w.value for w in at.warning if "are copies or near-copies" in w.value)
    assert TOO_FEW in warning and f"only 1 of the {len(d.images)} images" in warning
    assert not [m for m in at.metric if "(no copies)" in m.label]


def test_the_evaluation_page_warns_and_shows_the_clean_numbers(settings: Settings, sixteen_val: Path) -> None:
    folder = make_evaluation(settings.outputs_root, sixteen_val)
    d = Detections.load(folder / "predictions.npz")
    copies = _copies(d.images[:2])
    metrics = json.loads((folder / "metrics.json").read_text())
    write_json_atomically(folder / "metrics.json", metrics | {"leakage": leakage_summary(d, copies, "val", 0.25, 0.45)})
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "evaluation.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert any(f"2 of {len(d.images)} val images are copies" in w.value for w in at.warning)
    labels = [m.label for m in at.metric]
    assert "mAP50-95 (no copies)" in labels and "Precision (no copies)" in labels


@pytest.mark.slow
def test_an_evaluation_of_a_small_leaky_split_reports_the_copy_and_too_few_images_left(tiny) -> None:
    root = Path(tiny["ML_STUDIO_DATASET_ROOTS"]) / "leaky"
    if not root.exists():
        leaky_copy(Path(tiny["data"]), root)
    proc = mlcore(
        "evaluate",
        "--model",
        tiny["model"],
        "--data",
        str(root),
        "--split",
        "test",
        "--imgsz",
        "128",
        "--device",
        "cpu",
        "--json",
        "--wait",
        extra_env=tiny,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    # exact copies are validation errors: left out of the evaluation, and listed; the near copy is measured
    assert {Path(p).name for p in result["skipped"]} >= {"exact_0.jpg", "exact_1.jpg"}
    leakage = result["leakage"]
    assert leakage["copies"] == 1 and leakage["images"] == result["images"]
    assert [Path(p["image"]).name for p in leakage["pairs"]] == ["near_0.jpg"]
    clean = leakage["clean"]  # the small test split leaves fewer than ten images: no copy-free numbers
    assert clean["images"] == result["images"] - 1 < MIN_CLEAN_IMAGES and clean["measured"] is False
    assert clean["note"].startswith(TOO_FEW) and "precision" not in clean
    text = mlcore(
        "evaluate",
        "--model",
        tiny["model"],
        "--data",
        str(root),
        "--split",
        "test",
        "--imgsz",
        "128",
        "--device",
        "cpu",
        "--wait",
        extra_env=tiny,
    )
    assert text.returncode == 0 and "1 of" in text.stdout and TOO_FEW in text.stdout
    assert "On the other" not in text.stdout

"""Leakage-aware evaluation: test images that copy training images are found (exact and near copies, not copies
of other splits), and the metrics are given without them, in metrics.json, `evaluate --json` and the page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.datasets.loader import load_dataset
from mlcore.evaluation.analysis import Detections
from mlcore.evaluation.leakage import clean_metrics, leakage_summary, training_copies, without_images
from tests.evaluation_fixture import made_up_detections, make_evaluation
from tests.test_cli import mlcore


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


def test_metrics_without_the_copies_are_those_of_the_other_images(small_dataset: Path) -> None:
    d = made_up_detections(small_dataset, "val")
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
    assert leakage_summary(d, [], "val", 0.25, 0.45)["clean"] is None
    empty = without_images(d, set(d.images))
    assert isinstance(empty, Detections) and not empty.images and not len(empty.gt_cls)


def test_the_evaluation_page_warns_and_shows_the_clean_numbers(settings: Settings, small_dataset: Path) -> None:
    folder = make_evaluation(settings.outputs_root, small_dataset)
    d = Detections.load(folder / "predictions.npz")
    copies = [{"image": i, "copy_of": "images/train/train_00001.jpg", "kind": "near", "bits": 3} for i in d.images[:2]]
    metrics = json.loads((folder / "metrics.json").read_text())
    write_json_atomically(folder / "metrics.json", metrics | {"leakage": leakage_summary(d, copies, "val", 0.25, 0.45)})
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "evaluation.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert any(f"2 of {len(d.images)} val images are copies" in w.value for w in at.warning)
    labels = [m.label for m in at.metric]
    assert "mAP50-95 (no copies)" in labels and "Precision (no copies)" in labels


@pytest.mark.slow
def test_an_evaluation_of_a_leaky_split_reports_the_copies_and_the_clean_metrics(tiny) -> None:
    root = Path(tiny["ML_STUDIO_DATASET_ROOTS"]) / "leaky"
    if not root.exists():
        leaky_copy(Path(tiny["data"]), root)
    proc = mlcore("evaluate", "--model", tiny["model"], "--data", str(root), "--split", "test", "--imgsz", "128",
                  "--device", "cpu", "--json", "--wait", extra_env=tiny)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    # exact copies are validation errors: left out of the evaluation, and listed; the near copy is measured
    assert {Path(p).name for p in result["skipped"]} >= {"exact_0.jpg", "exact_1.jpg"}
    leakage = result["leakage"]
    assert leakage["copies"] == 1 and leakage["images"] == result["images"]
    assert leakage["clean"]["images"] == result["images"] - 1
    assert [Path(p["image"]).name for p in leakage["pairs"]] == ["near_0.jpg"]
    text = mlcore("evaluate", "--model", tiny["model"], "--data", str(root), "--split", "test", "--imgsz", "128",
                  "--device", "cpu", "--wait", extra_env=tiny)  # fmt: skip
    assert text.returncode == 0 and "1 of" in text.stdout and "On the other" in text.stdout

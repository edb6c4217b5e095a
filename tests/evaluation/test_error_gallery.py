"""Gallery selection, confusion cells, prediction files, evaluation listing and charts, on hand-made detections."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlcore.charts.evaluation import clickable_confusion, error_type_bars, size_bars, threshold_curve
from mlcore.core.settings import Settings
from mlcore.evaluation.analysis import analyze
from mlcore.evaluation.gallery import cell_images, gallery_images
from mlcore.evaluation.predictions import predictions_zip, write_predictions
from mlcore.evaluation.store import EvaluationUnreadable, list_evaluations, load_detections, load_evaluation_metrics
from mlcore.runs.metrics import F1_CURVE, PR_CURVE
from tests.evaluation.test_detection_analysis import BOX, detections
from tests.evaluation_fixture import make_evaluation
from tests.run_fixture import metrics_json


@pytest.fixture
def mixed():
    """img0: a cat found and a dog called a cat; img1: a dog missed; img2: a cat found; img3: a box on nothing."""
    d = detections(
        gt=[(0, 0, *BOX), (0, 1, 300, 300, 400, 400), (1, 1, *BOX), (2, 0, *BOX)],
        preds=[(0, 0, 0.9, *BOX), (0, 0, 0.8, 300, 300, 400, 400), (2, 0, 0.95, *BOX), (3, 1, 0.6, 10, 10, 50, 50)],
        images=4,
    )
    return d, analyze(d, conf=0.25, iou=0.5)


def test_galleries_pick_images_by_error_type_and_class_worst_first(mixed) -> None:
    d, result = mixed
    assert gallery_images(d, result) == [0, 1, 3]  # img0 has two errors (a false positive and a dog not found)
    assert gallery_images(d, result, "classification") == [0]
    assert gallery_images(d, result, "missed") == [1]
    assert gallery_images(d, result, "background") == [3]
    assert gallery_images(d, result, None, "dog") == [0, 1, 3]  # the dog not found in img0, img1; a dog on nothing
    assert gallery_images(d, result, "classification", "dog") == []  # the false positive's class is cat
    with pytest.raises(ValueError, match="unknown error type"):
        gallery_images(d, result, "sideways")


def test_a_confusion_cell_leads_to_its_images(mixed) -> None:
    d, result = mixed
    cat, dog, background = 0, 1, 2
    assert result.confusion[cat, dog] == 1 and cell_images(d, result, cat, dog) == [0]
    assert sorted(cell_images(d, result, cat, cat)) == [0, 2]
    assert cell_images(d, result, background, dog) == [1]
    assert cell_images(d, result, dog, background) == [3]
    assert cell_images(d, result, dog, dog) == []


def test_the_confusion_matrix_pairs_boxes_as_ultralytics_does() -> None:
    # one prediction overlaps two objects: it is paired with the one it overlaps most, the other is not found
    d = detections(gt=[(0, 0, 0, 0, 100, 100), (0, 1, 0, 0, 100, 80)], preds=[(0, 1, 0.9, 0, 0, 100, 95)])
    result = analyze(d, conf=0.25, iou=0.45)
    assert result.confusion[1, 0] == 1 and result.confusion[2, 1] == 1 and result.confusion.sum() == 2


def test_prediction_files_hold_the_kept_boxes_in_yolo_and_coco_form(mixed, tmp_path: Path) -> None:
    d, result = mixed
    write_predictions(d, result, tmp_path)
    line = (tmp_path / "labels" / "img0.txt").read_text().splitlines()[0].split()
    assert line[0] == "0" and float(line[1]) == pytest.approx(150 / 640) and float(line[5]) == pytest.approx(0.9)
    assert (tmp_path / "labels" / "img1.txt").read_text() == ""
    coco = json.loads((tmp_path / "predictions_coco.json").read_text())
    assert len(coco["annotations"]) == 4 and coco["annotations"][0]["bbox"] == [100, 100, 100, 100]
    strict = analyze(d, conf=0.85, iou=0.5)
    with zipfile.ZipFile(io.BytesIO(predictions_zip(d, strict))) as archive:
        assert json.loads(archive.read("thresholds.json")) == {"confidence": 0.85, "iou": 0.5}
        assert len(json.loads(archive.read("predictions_coco.json"))["annotations"]) == 2


def test_evaluations_are_listed_newest_first_and_damage_is_reported(settings: Settings, small_dataset: Path) -> None:
    older = make_evaluation(settings.outputs_root, small_dataset, "a_best_1")
    newer = make_evaluation(settings.outputs_root, small_dataset, "b_best_2")
    (settings.outputs_root / "validations" / "stray").mkdir()  # no spec: not an evaluation
    found = list_evaluations(settings)
    assert [e.path for e in found] == [newer, older] and all(e.finished for e in found)
    assert found[0].split == "val" and found[0].dataset == str(small_dataset)
    assert len(load_detections(newer).gt_cls) > 0 and "ultralytics" in load_evaluation_metrics(newer)
    (older / "predictions.npz").write_bytes(b"not a numpy file")
    with pytest.raises(EvaluationUnreadable, match="predictions.npz cannot be read"):
        load_detections(older)
    (older / "metrics.json").write_text("[]")
    with pytest.raises(EvaluationUnreadable, match="not an evaluation's metrics"):
        load_evaluation_metrics(older)


def test_charts_show_the_numbers_they_are_given(mixed) -> None:
    d, result = mixed
    bars = error_type_bars(result.error_counts)
    assert dict(zip(bars.data[0].x, bars.data[0].y, strict=True))["missed"] == result.error_counts["missed"]
    sizes = size_bars(result.by_size)
    assert [t.name for t in sizes.data] == ["precision", "recall", "f1"]
    axes = ["cat", "dog", "background"]
    confusion = clickable_confusion(axes, result.confusion.tolist())
    cells = confusion.data[1].customdata
    assert [list(c) for c in cells] == [list(ij) for ij in np.argwhere(result.confusion > 0)]
    metrics = metrics_json(("cat", "dog"))
    f1 = threshold_curve(metrics, F1_CURVE, 0.4)
    assert any(shape.x0 == 0.4 for shape in f1.layout.shapes)
    assert not any(shape.x0 == 0.4 for shape in threshold_curve(metrics, PR_CURVE, 0.4).layout.shapes)

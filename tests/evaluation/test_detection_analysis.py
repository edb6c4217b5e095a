"""Matching, error types, sizes and AP on hand-made detections, where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore.evaluation.analysis import Detections, analyze, average_precision, box_iou, error_costs, worst_images


def detections(gt: list[tuple], preds: list[tuple], images: int = 1, size: int = 640, imgsz: int = 640) -> Detections:
    """gt: (image, cls, x1, y1, x2, y2); preds: (image, cls, conf, x1, y1, x2, y2)."""
    g = np.array(gt, dtype=float).reshape(-1, 6)
    p = np.array(preds, dtype=float).reshape(-1, 7)
    return Detections(
        images=[f"img{i}.jpg" for i in range(images)],
        sizes=np.full((images, 2), size),
        names={0: "cat", 1: "dog"},
        gt_image=g[:, 0].astype(int),
        gt_cls=g[:, 1].astype(int),
        gt_box=g[:, 2:],
        pred_image=p[:, 0].astype(int),
        pred_cls=p[:, 1].astype(int),
        pred_conf=p[:, 2],
        pred_box=p[:, 3:],
        imgsz=imgsz,
    )


BOX = (100, 100, 200, 200)


def test_iou_of_known_boxes() -> None:
    a = np.array([[0, 0, 10, 10]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=float)
    assert box_iou(a, b)[0] == pytest.approx([1.0, 1 / 3, 0.0], abs=1e-6)


def test_each_error_type_is_recognised() -> None:
    d = detections(
        gt=[(0, 0, *BOX), (1, 0, *BOX), (2, 0, *BOX), (3, 0, *BOX), (4, 0, *BOX)],
        preds=[
            (0, 0, 0.9, *BOX),
            (0, 0, 0.8, 102, 102, 202, 202),  # a match, then a duplicate of it
            (1, 1, 0.9, *BOX),  # right place, wrong class
            (2, 0, 0.9, 100, 100, 200, 140),  # right class, IoU 0.4: localization
            (3, 1, 0.9, 100, 100, 200, 140),  # wrong class and IoU 0.4: both
            (4, 0, 0.9, 400, 400, 450, 450),  # nowhere near: background
        ],
        images=6,
    )
    result = analyze(d, conf=0.25, iou=0.5)
    assert list(result.pred_type) == ["tp", "duplicate", "classification", "localization", "both", "background"]
    assert list(result.gt_type) == ["tp", "fn", "fn", "fn", "missed"]
    assert result.error_counts == {
        "duplicate": 1,
        "classification": 1,
        "localization": 1,
        "both": 1,
        "background": 1,
        "missed": 1,
    }
    assert result.overall["tp"] == 1 and result.overall["fp"] == 5 and result.overall["fn"] == 4
    assert result.overall["accuracy"] == pytest.approx(1 / 10)


def test_thresholds_change_the_outcome_without_the_model() -> None:
    d = detections(gt=[(0, 0, *BOX)], preds=[(0, 0, 0.3, 100, 100, 200, 160)])  # IoU 0.6, confidence 0.3
    assert analyze(d, conf=0.25, iou=0.5).overall["tp"] == 1
    assert analyze(d, conf=0.25, iou=0.7).pred_type[0] == "localization"
    missed = analyze(d, conf=0.5, iou=0.5)
    assert missed.pred_type[0] == "" and missed.gt_type[0] == "missed" and missed.overall["fn"] == 1


def test_background_only_images_and_the_confusion_matrix() -> None:
    d = detections(
        gt=[(0, 0, *BOX), (0, 1, 300, 300, 400, 400)],
        preds=[(0, 1, 0.9, *BOX), (1, 0, 0.7, *BOX)],  # a cat called a dog; a cat on an empty image
        images=2,
    )
    result = analyze(d, conf=0.25, iou=0.45)
    assert list(result.pred_type) == ["classification", "background"]
    matrix = result.confusion  # rows predicted, columns true, last = background
    assert matrix[1, 0] == 1 and matrix[2, 1] == 1 and matrix[0, 2] == 1 and matrix.sum() == 3
    assert [w["image"] for w in worst_images(d, result)] == ["img0.jpg", "img1.jpg"]
    per_class = {c["name"]: c for c in result.per_class}
    assert per_class["cat"]["fp"] == 1 and per_class["dog"]["fn"] == 1


def test_sizes_are_coco_bounds_at_the_models_input_size() -> None:
    gt = [(0, 0, 0, 0, 20, 20), (0, 0, 100, 100, 160, 160), (0, 0, 300, 300, 500, 500)]
    d = detections(gt=gt, preds=[(0, 0, 0.9, 0, 0, 20, 20)], size=640)
    sizes = {row["size"]: row for row in analyze(d).by_size}
    assert [sizes[s]["instances"] for s in ("small", "medium", "large")] == [1, 1, 1]
    assert sizes["small"]["recall"] == 1.0 and sizes["large"]["recall"] == 0.0
    big = detections(gt=gt, preds=[], size=1280)  # the same boxes on an image twice as large look smaller
    assert [row["instances"] for row in analyze(big).by_size] == [2, 0, 1]


def test_average_precision_of_a_perfect_and_a_half_right_model() -> None:
    perfect = detections(
        gt=[(0, 0, *BOX), (0, 1, 300, 300, 400, 400)], preds=[(0, 0, 0.9, *BOX), (0, 1, 0.8, 300, 300, 400, 400)]
    )
    # 0.995, not 1: the 101-point interpolation with its end point, as Ultralytics and COCO compute it
    assert average_precision(perfect)["map50"] == pytest.approx(0.995, abs=1e-6)
    assert average_precision(perfect)["map50_95"] == pytest.approx(0.995, abs=1e-6)
    half = detections(gt=[(0, 0, *BOX), (0, 0, 300, 300, 400, 400)], preds=[(0, 0, 0.9, *BOX)])
    assert average_precision(half)["map50"] == pytest.approx(0.495, abs=1e-6)


def test_detections_round_trip_through_a_compact_file(tmp_path) -> None:
    d = detections(gt=[(0, 0, *BOX)], preds=[(0, 0, 0.9, *BOX)], images=2)
    d.save(tmp_path / "predictions.npz")
    back = Detections.load(tmp_path / "predictions.npz")
    assert back.images == d.images and back.names == d.names and np.allclose(back.pred_box, d.pred_box)
    assert analyze(back).overall == analyze(d).overall


def test_what_each_error_type_costs_in_map50() -> None:
    found_late = (1, 0, 0.7, *BOX)  # a second image's cat, found with less confidence
    duplicate = detections(
        gt=[(0, 0, *BOX), (1, 0, *BOX)],
        images=2,
        preds=[(0, 0, 0.9, *BOX), (0, 0, 0.8, 102, 102, 202, 202), found_late],
    )
    costs = error_costs(duplicate)
    assert costs["duplicate"] > 0.1 and costs["background"] == 0 and costs["missed"] == 0
    assert average_precision(duplicate)["map50"] + costs["duplicate"] == pytest.approx(0.995, abs=1e-4)
    wrong_class = detections(gt=[(0, 0, *BOX)], preds=[(0, 1, 0.9, *BOX)])  # the only cat called a dog
    assert error_costs(wrong_class)["classification"] == pytest.approx(0.995, abs=1e-4)
    off = detections(gt=[(0, 0, *BOX)], preds=[(0, 0, 0.9, 100, 100, 200, 140)])  # IoU 0.4
    assert error_costs(off)["localization"] == pytest.approx(0.995, abs=1e-4)
    missed = detections(gt=[(0, 0, *BOX), (1, 0, *BOX)], preds=[(0, 0, 0.9, *BOX)], images=2)
    assert error_costs(missed)["missed"] == pytest.approx(0.995 - average_precision(missed)["map50"], abs=1e-4)

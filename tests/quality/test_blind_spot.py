"""Labels too small for the model to see at its input size: the audit says which, how many and at what size they
could be checked, in its result, audit.json's document, the CLI and the page; and says nothing where the model
sees every size."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mlcore.cli.quality import print_audit
from mlcore.evaluation.analysis import Detections
from mlcore.quality.audit import audit
from mlcore.quality.blind_spot import BLIND_MIN_LABELS, blind_spot, input_sizes
from tests.quality.test_audit import simulated

TINY = 12.0  # px in the 640 px wide images: 3 px at a 160 px input


def with_tiny_labels(d: Detections, count: int, seen: bool, imgsz: int = 160) -> Detections:
    """The split at `imgsz`, with `count` more labels TINY px across in the first images, which the model finds
    (`seen`) or misses."""
    images = np.arange(count) % len(d.images)
    corner = np.column_stack([np.full(count, 300.0), np.full(count, 200.0)]) + np.arange(count)[:, None] * 15
    boxes = np.column_stack([corner, corner + TINY])
    d = replace(
        d,
        gt_image=np.concatenate([d.gt_image, images]),
        gt_cls=np.concatenate([d.gt_cls, np.zeros(count, int)]),
        gt_box=np.concatenate([d.gt_box, boxes]),
        imgsz=imgsz,
    )
    if seen:
        d = replace(
            d,
            pred_image=np.concatenate([d.pred_image, images]),
            pred_cls=np.concatenate([d.pred_cls, np.zeros(count, int)]),
            pred_conf=np.concatenate([d.pred_conf, np.full(count, 0.8)]),
            pred_box=np.concatenate([d.pred_box, boxes + 0.3]),
        )
    return d


def _lines(d: Detections) -> np.ndarray:
    lines = np.zeros(len(d.gt_cls), int)
    for n in range(len(d.images)):
        mine = np.flatnonzero(d.gt_image == n)
        lines[mine] = np.arange(1, len(mine) + 1)
    return lines


def test_labels_too_small_for_the_model_to_see_are_reported_with_their_size_and_an_input_size_that_shows_them() -> None:
    d, _, _ = simulated(2)
    d = with_tiny_labels(d, 6, seen=False)
    spot = audit(d, _lines(d)).blind_spot
    assert spot is not None
    assert (spot.labels, spot.found, spot.imgsz, spot.split_labels) == (6, 0, 160, len(d.gt_cls))
    sizes = input_sizes(d)
    assert sizes[-1] == pytest.approx(TINY * 160 / 640)  # the long side scaled to the input
    # the bound lies between the tiny labels and the smallest of the others, which the model mostly finds
    assert sizes[-1] < spot.below_px <= int(np.floor(sizes[:-6].min()))
    assert spot.suggested_imgsz % 32 == 0 and spot.suggested_imgsz * TINY / 640 >= spot.below_px
    warning = spot.warning()
    assert "none of the 6 labels" in warning and f"{spot.below_px} px" in warning and "160 px input" in warning
    assert f"at {spot.suggested_imgsz} px" in warning
    assert spot.to_dict()["warning"] == warning


def test_small_labels_the_model_finds_are_no_blind_spot_and_nor_are_a_few_it_misses() -> None:
    d, _, _ = simulated(2)
    seen = with_tiny_labels(d, 6, seen=True)
    assert audit(seen, _lines(seen)).blind_spot is None
    few = with_tiny_labels(d, BLIND_MIN_LABELS - 1, seen=False)
    assert audit(few, _lines(few)).blind_spot is None
    # the same tiny labels at a large enough input are no blind spot either: the model's size is what counts
    assert audit(replace(d, imgsz=640), _lines(d)).blind_spot is None


def test_a_model_that_finds_one_in_ten_small_labels_still_has_the_blind_spot() -> None:
    d, _, _ = simulated(2)
    d = with_tiny_labels(d, 10, seen=False)
    found = np.zeros(len(d.gt_cls), bool)
    found[: len(d.gt_cls) - 10] = True
    found[-1] = True  # one tiny label found
    spot = blind_spot(d, found)
    assert spot is not None and (spot.labels, spot.found) == (10, 1)
    assert "finds 1 of the 10 labels" in spot.warning()


def test_the_command_prints_the_blind_spot_as_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    d, _, _ = simulated(2)
    d = with_tiny_labels(d, 6, seen=False)
    spot = audit(d, _lines(d)).blind_spot
    assert spot is not None
    document = {
        "split": "val",
        "counts": {
            "images": 80,
            "labels": 200,
            "suspects": 0,
            "likely": 0,
            "overlooked": 0,
            "swapped": 0,
            "badly_located": 0,
        },
        "warning": None,
        "blind_spot": spot.to_dict(),
        "issues": [],
        "output_dir": "/tmp/audit",
    }
    print_audit(document)
    out = capsys.readouterr()
    assert f"Warning: {spot.warning()}" in out.err and "Audited 80 images" in out.out

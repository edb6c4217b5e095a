"""Pictures of boxes a person can see: the image's other labels beside a suspect, and a close-up of a box that
the scaled whole image would shrink to a few pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw

from mlcore.charts.drawing import (
    CLOSE_UP_BELOW,
    OTHER_LABEL,
    SUGGESTION,
    close_up_region,
    draw_comparison,
    draw_suspect,
)
from mlcore.evaluation.analysis import Detections, analyze
from mlcore.evaluation.gallery import focus_box

DOT = [1798.0, 178.0, 1820.0, 198.0]  # a 22 px object in a 2400 x 400 screenshot
SQUARE = [200.0, 100.0, 400.0, 300.0]


def _wide(tmp_path: Path) -> Path:
    image = Image.new("RGB", (2400, 400), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle(DOT, fill="red")
    draw.rectangle(SQUARE, fill="blue")
    image.save(tmp_path / "wide.png")
    return tmp_path / "wide.png"


def _pixels(picture: Image.Image, colour: str, box: tuple[int, int, int, int] | None = None) -> int:
    array = np.asarray(picture.crop(box) if box else picture)
    return int((np.abs(array.astype(int) - ImageColor.getrgb(colour)).sum(axis=2) < 10).sum())


def test_a_small_suspect_gets_a_close_up_and_the_images_other_labels_are_drawn(tmp_path: Path) -> None:
    issue = {
        "type": "overlooked",
        "line": None,
        "box": DOT,
        "label_class": None,
        "suggested_class": 0,
        "suggested_box": DOT,
        "confidence": 0.81,
    }
    picture = draw_suspect(_wide(tmp_path), issue, {0: "dot", 1: "square"}, labels=[(1, SQUARE)], max_side=900)
    assert picture.width > 900 + 100  # the whole image at 900 px, and the close-up beside it
    close_up = (906, 0, picture.width, picture.height)
    assert _pixels(picture, "#ff0000", close_up) > 20 * _pixels(picture, "#ff0000", (0, 0, 900, picture.height))
    assert _pixels(picture, SUGGESTION, close_up) > 100  # the model's box around it, enlarged
    assert _pixels(picture, OTHER_LABEL, (0, 0, 900, picture.height)) > 100  # the square's label, in grey


def test_a_box_large_enough_to_see_gets_no_close_up(tmp_path: Path) -> None:
    issue = {
        "type": "badly_located",
        "line": 2,
        "box": SQUARE,
        "label_class": 1,
        "suggested_class": 1,
        "suggested_box": None,
        "confidence": None,
    }
    picture = draw_suspect(_wide(tmp_path), issue, {0: "dot", 1: "square"}, max_side=900)
    assert picture.width == 900 and (SQUARE[2] - SQUARE[0]) * 900 / 2400 >= CLOSE_UP_BELOW


def test_the_close_up_region_stays_in_the_image_and_keeps_the_box_in_it() -> None:
    left, top, right, bottom = close_up_region([2390, 390, 2399, 399], (2400, 400))
    assert (right, bottom) == (2400, 400) and right - left == bottom - top == 96
    assert close_up_region(SQUARE, (2400, 400)) == (0, 0, 800, 400)  # 4x its size, cut to the image's height


def test_the_error_gallery_focuses_on_the_smallest_error_of_the_kind_shown(tmp_path: Path) -> None:
    d = Detections(
        images=["wide.png"],
        sizes=np.array([[2400, 400]]),
        names={0: "dot", 1: "square"},
        gt_image=np.array([0, 0]),
        gt_cls=np.array([0, 1]),
        gt_box=np.array([DOT, SQUARE]),
        pred_image=np.array([0]),
        pred_cls=np.array([1]),
        pred_conf=np.array([0.9]),
        pred_box=np.array([SQUARE]),
    )
    result = analyze(d, 0.25, 0.45)
    assert list(focus_box(d, result, 0, "missed")) == DOT  # the dot nothing found
    assert focus_box(d, result, 0, "background") is None
    picture = draw_comparison(_wide(tmp_path), d, result, 0, 900, focus_box(d, result, 0))
    assert picture.width > 1000

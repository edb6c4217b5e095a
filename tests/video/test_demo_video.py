"""The demo video: readable by OpenCV frame by frame, its truth inside the frame, with the crossings, the hidden
frames and the return it promises."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mlcore.video.counting import Line, count
from mlcore.video.demo_video import make_demo_video


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy)


def test_the_demo_video_plays_and_its_truth_holds_what_the_tracking_tests_need(tmp_path: Path) -> None:
    truth = make_demo_video(tmp_path / "demo.mp4", frames=60, size=(320, 224), fps=15.0, seed=1)
    video = cv2.VideoCapture(str(truth.path))
    read = 0
    while True:
        ok, frame = video.read()
        if not ok:
            break
        assert frame.shape == (224, 320, 3)
        read += 1
    video.release()
    assert read == 60 and video is not None
    rows = truth.rows
    assert rows[:, 3].min() >= 0 and rows[:, 5].max() <= 320 and rows[:, 6].max() <= 224
    assert set(rows[:, 1].astype(int)) == {1, 2, 3, 4, 5}
    seen = rows[rows[:, 1] == 5, 0]
    assert np.diff(seen).max() > 1  # it leaves the frame and comes back
    for a, b in ((1, 3), (2, 4)):  # where paths cross, one logo hides the other for a few frames
        first, second = rows[rows[:, 1] == a], rows[rows[:, 1] == b]
        together = np.intersect1d(first[:, 0], second[:, 0])
        overlaps = [iou(first[first[:, 0] == f][0, 3:], second[second[:, 0] == f][0, 3:]) for f in together]
        assert max(overlaps) > 0.3, (a, b, max(overlaps, default=0))
    (middle,) = count(truth.points(), [Line((160, 0), (160, 224))], [], {}, fps=15.0).lines
    assert middle["in"] >= 1 and middle["out"] >= 1  # objects cross the middle both ways
    again = make_demo_video(tmp_path / "again.mp4", frames=60, size=(320, 224), fps=15.0, seed=1)
    np.testing.assert_array_equal(again.rows, truth.rows)  # the same seed, the same truth

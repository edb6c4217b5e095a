"""D-RISE (Petsiuk et al., CVPR 2021): black-box per-box saliency for any model the studio predicts with (an ONNX or
OpenVINO export as well as a .pt), written from the paper.

N random masks (a coarse grid of cells kept with probability 1/2, upsampled bilinearly and shifted by a random
fraction of a cell) each black out part of the image; the model predicts on every masked copy. A mask's weight for a
target box is its best affinity with the masked copy's detections: IoU with the box times the detection's score when
it is of the target's class (Ultralytics' predictions carry the winning class's score only, so this stands for the
paper's class-vector similarity). The map is the weighted sum of the masks, minus its minimum, scaled to 0..1. One
pass over the masks explains every box of the image at once; the cost is N predictions, so it runs as a job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np

from mlcore.evaluation.analysis import box_iou
from mlcore.explain.saliency import MASK_GRID, Target, normalised

Box = tuple[float, float, float, float]
Found = list[tuple[Box, int, float]]  # (x1, y1, x2, y2), class, score: one image's detections
Predict = Callable[[list[np.ndarray]], list[Found]]
Progress = Callable[[int, int], None]
KEEP = 0.5  # the share of cells a mask keeps
BATCH = 16


def masks(count: int, size: tuple[int, int], seed: int, grid: int = MASK_GRID) -> Iterator[np.ndarray]:
    """`count` masks of the image's (width, height), float32 0..1, from `seed` (the same seed: the same masks)."""
    rng = np.random.default_rng(seed)
    w, h = size
    cell_w, cell_h = int(np.ceil(w / grid)), int(np.ceil(h / grid))
    for _ in range(count):
        cells = (rng.random((grid, grid)) < KEEP).astype(np.float32)
        up = cv2.resize(cells, ((grid + 1) * cell_w, (grid + 1) * cell_h), interpolation=cv2.INTER_LINEAR)
        dx, dy = int(rng.integers(0, cell_w)), int(rng.integers(0, cell_h))
        yield up[dy : dy + h, dx : dx + w]


def overlap(box: Box, others: np.ndarray) -> np.ndarray:
    """IoU of one box with each of `others` (x1, y1, x2, y2)."""
    return box_iou(np.array([box], dtype=np.float64), others)[0]


def affinity(target: Target, found: Found) -> float:
    """How well a masked copy's detections still show `target`: the best IoU x score among those of its class."""
    same = [(box, score) for box, cls, score in found if cls == target.class_id]
    if not same:
        return 0.0
    boxes = np.array([b for b, _ in same], dtype=np.float64)
    scores = np.array([s for _, s in same], dtype=np.float64)
    return float((overlap(target.box, boxes) * scores).max())


def drise(
    predict: Predict,
    image: np.ndarray,
    targets: list[Target],
    count: int,
    seed: int = 0,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[list[np.ndarray], int]:
    """One map per target (the image's height x width, 0..1) from `count` masks, and how many masks were used (fewer
    when `stop` said so between batches)."""
    h, w = image.shape[:2]
    sums = np.zeros((len(targets), h, w), dtype=np.float64)
    used = 0
    batch: list[np.ndarray] = []

    def run(batch: list[np.ndarray]) -> None:
        masked = [(image * m[..., None]).astype(np.uint8) for m in batch]
        for mask, found in zip(batch, predict(masked), strict=True):
            for t, target in enumerate(targets):
                weight = affinity(target, found)
                if weight > 0:
                    sums[t] += weight * mask

    for mask in masks(count, (w, h), seed):
        batch.append(mask)
        if len(batch) == BATCH:
            run(batch)
            used += len(batch)
            batch = []
            if progress:
                progress(used, count)
            if stop and stop():
                break
    if batch and not (stop and stop()):
        run(batch)
        used += len(batch)
        if progress:
            progress(used, count)
    return [normalised(s - s.min()) for s in sums], used


def ultralytics_predict(model: Any, imgsz: int, extra: dict[str, Any], floor: float = 0.05) -> Predict:
    """The `predict` D-RISE calls: Ultralytics' own prediction of the masked copies, at a low confidence floor so
    that a weakened detection still counts."""

    def predict(images: list[np.ndarray]) -> list[Found]:
        results = model.predict(images, conf=floor, imgsz=imgsz, device=model.studio_device, verbose=False, **extra)
        found: list[Found] = []
        for r in results:
            b = r.boxes
            rows = zip(b.xyxy.cpu().numpy().tolist(), b.cls.cpu().numpy(), b.conf.cpu().numpy(), strict=True)
            found.append([((x1, y1, x2, y2), int(c), float(p)) for (x1, y1, x2, y2), c, p in rows])
        return found

    return predict

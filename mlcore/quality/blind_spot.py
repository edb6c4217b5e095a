"""The label sizes a model cannot see at its input size, where the audit cannot check the labels.

A detector finds next to nothing of objects a few pixels across at the size it runs at (Ultralytics scales an
image's long side to `imgsz`): a 30 px logo in a 1,000 px photograph is 5 px at 160 px. A label that small that
is missing cannot be found (no box of the model stands where it is), and one that is there is hardly checked
(the model's silence on it is its miss rate, not evidence). The audit says so, with the figures, instead of
leaving the user to read a short list as a clean bill.

    spot = blind_spot(d, found)   # found[k]: some box of the model's finds label k (IoU >= 0.5, any class);
                                  # None where the model sees labels of every size the split has
    spot.warning()                # what to tell the user, with the figures
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcore.evaluation.analysis import Detections, input_scale

BLIND_FOUND = 0.1  # labels of sizes where the model finds at most this share of them are beyond what it sees
BLIND_MIN_LABELS = 3  # fewer labels than this that small are no pattern to report


@dataclass(frozen=True)
class BlindSpot:
    """The labels smaller than `below_px` (their long side at the model's input) that the model mostly misses."""

    below_px: int
    imgsz: int
    labels: int
    """How many labels are that small."""
    found: int
    """How many of them the model finds."""
    split_labels: int
    suggested_imgsz: int
    """The input size at which half of them would be as large as the bound."""

    def warning(self) -> str:
        share = self.labels / max(self.split_labels, 1)
        return (
            f"This model finds {self.found or 'none'} of the {self.labels} labels smaller than {self.below_px} px "
            f"across at its {self.imgsz} px input ({share:.0%} of the split's labels): it cannot see objects that "
            "small, so a missing label of that size cannot be found and those labels are hardly checked. To audit "
            f"them, use a model trained at a larger image size: at {self.suggested_imgsz} px half of them would be "
            f"{self.below_px} px across."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "below_px": self.below_px,
            "imgsz": self.imgsz,
            "labels": self.labels,
            "found": self.found,
            "split_labels": self.split_labels,
            "suggested_imgsz": self.suggested_imgsz,
            "warning": self.warning(),
        }


def input_sizes(d: Detections) -> np.ndarray:
    """Each label's long side in pixels at the model's input (see input_scale)."""
    box = d.gt_box.astype(float)
    side = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]).clip(0) if len(box) else np.zeros(0)
    return side * input_scale(d, d.gt_image)


def blind_spot(d: Detections, found: np.ndarray) -> BlindSpot | None:
    """The whole size in pixels below which the model misses the most labels while finding at most BLIND_FOUND of
    them (the smallest such size on a tie), if at least BLIND_MIN_LABELS labels are below it; None otherwise (a
    model that finds nothing at all is too weak to audit with, which the audit's strength says). The sizes tried
    are those of the labels it finds."""
    size = input_sizes(d)
    found = np.asarray(found, bool)
    best: tuple[int, np.ndarray] | None = None  # the bound and the labels below it
    missed = 0
    for bound in np.unique(np.floor(size[found])):
        below = size < bound
        count, seen = int(below.sum()), int(found[below].sum())
        if count >= BLIND_MIN_LABELS and seen <= BLIND_FOUND * count and count - seen > missed:
            best, missed = (int(bound), below), count - seen
    if best is None:
        return None
    bound, below = best
    # the input size at which the median of them would be as large as the bound (a multiple of 32, as YOLO wants)
    larger = d.imgsz * bound / max(float(np.median(size[below])), 1.0)
    suggested = int(np.ceil(larger / 32) * 32)
    return BlindSpot(bound, int(d.imgsz), int(below.sum()), int(found[below].sum()), len(size), suggested)

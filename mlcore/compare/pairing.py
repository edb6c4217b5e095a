"""Two evaluations brought onto the same images in the same order, or a ComparisonError that says why not.

a, b = pair(load_detections(folder_a), load_detections(folder_b))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlcore.evaluation.analysis import Detections


class ComparisonError(ValueError):
    """Two models cannot be compared as asked; the message says why and what to do."""


def subset(d: Detections, images: list[int]) -> Detections:
    """The evaluation restricted to `images` (indices), renumbered in that order."""
    new = np.full(len(d.images), -1, dtype=np.int64)
    new[images] = np.arange(len(images))
    g, p = new[d.gt_image] >= 0, new[d.pred_image] >= 0
    return Detections(
        images=[d.images[i] for i in images],
        sizes=d.sizes[images],
        names=d.names,
        gt_image=new[d.gt_image[g]],
        gt_cls=d.gt_cls[g],
        gt_box=d.gt_box[g],
        pred_image=new[d.pred_image[p]],
        pred_cls=d.pred_cls[p],
        pred_conf=d.pred_conf[p],
        pred_box=d.pred_box[p],
        imgsz=d.imgsz,
    )


def _labels(d: Detections) -> np.ndarray:
    order = np.lexsort((d.gt_box[:, 0], d.gt_cls, d.gt_image))
    return np.column_stack([d.gt_image[order], d.gt_cls[order], np.round(d.gt_box[order], 1)])


def class_difference(a: Mapping[Any, str], b: Mapping[Any, str], label_a: str, label_b: str) -> str:
    """Why two models' classes do not match: the names only one of them has (or the same names reordered)."""
    only_a = sorted(set(a.values()) - set(b.values()))
    only_b = sorted(set(b.values()) - set(a.values()))
    parts = [
        f"only {label_a} has {', '.join(only_a)}" if only_a else "",
        f"only {label_b} has {', '.join(only_b)}" if only_b else "",
    ]
    detail = "; ".join(p for p in parts if p) or "the same names with other class ids"
    return f"the models have different classes ({detail}); compare models trained on the same classes."


def pair(a: Detections, b: Detections) -> tuple[Detections, Detections]:
    """Both evaluations on the images they share, in A's order. Refused when the classes differ, when they
    share no image, or when the shared images' labels differ (the dataset changed between them)."""
    if a.names != b.names:
        raise ComparisonError(class_difference(a.names, b.names, "A", "B"))
    where = {name: i for i, name in enumerate(b.images)}
    shared = [i for i, name in enumerate(a.images) if name in where]
    if not shared:
        raise ComparisonError(
            "the two evaluations share no image: they were made on different splits or datasets; compare on one split."
        )
    a, b = subset(a, shared), subset(b, [where[a.images[i]] for i in shared])
    if not np.array_equal(_labels(a), _labels(b)):
        raise ComparisonError(
            "the labels of the shared images differ between the two evaluations: the dataset changed in between; "
            "evaluate both models again on the dataset as it is now."
        )
    return a, b

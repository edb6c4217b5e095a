"""Detections of several folds (each predicted by its own model) read as one set of images."""

from __future__ import annotations

import numpy as np

from mlcore.core.class_names import class_names
from mlcore.evaluation.analysis import Detections


def merge_detections(parts: list[Detections], names: dict[int, str], imgsz: int) -> Detections:
    """The folds' images one after the other; the box rows' image indices shifted to match."""
    offsets = np.cumsum([0, *[len(p.images) for p in parts]])[:-1]

    def joined(field: str, shift: bool = False, width: int = 0) -> np.ndarray:
        arrays = [getattr(p, field) + (o if shift else 0) for p, o in zip(parts, offsets, strict=True)]
        empty = np.zeros((0, width) if width else 0)
        return np.concatenate([empty, *arrays]) if arrays else empty

    return Detections(
        images=[i for p in parts for i in p.images],
        sizes=joined("sizes", width=2).astype(np.int32),
        names=class_names(names),
        gt_image=joined("gt_image", shift=True).astype(int),
        gt_cls=joined("gt_cls").astype(int),
        gt_box=joined("gt_box", width=4),
        pred_image=joined("pred_image", shift=True).astype(int),
        pred_cls=joined("pred_cls").astype(int),
        pred_conf=joined("pred_conf"),
        pred_box=joined("pred_box", width=4),
        imgsz=imgsz,
    )

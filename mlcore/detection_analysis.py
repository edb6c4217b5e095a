"""Detections against ground truth, in NumPy: matching, error types, metrics, mAP, by size.

An evaluation keeps every prediction down to a low confidence next to every ground-truth box, in
original-image pixels, so that any confidence and IoU threshold can be applied again without
running the model:

    detections = Detections.load(folder / "predictions.npz")
    result = analyze(detections, conf=0.25, iou=0.45)
    result.overall            # TP, FP, FN, precision, recall, F1, accuracy = TP / (TP + FP + FN)

Error types, in the TIDE sense, for every false positive (fg = the IoU threshold, bg = 0.1):
duplicate (a box of the right class already matched), classification (right place, wrong class),
localization (right class, bg <= IoU < fg), both (wrong class, bg <= IoU < fg), background (no
ground truth near); and for every ground-truth box that nothing came near: missed.

mAP follows Ultralytics' validator exactly (greedy matching in confidence order at IoU 0.50:0.95,
101-point interpolated AP), so the numbers agree with `model.val()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BACKGROUND_IOU = 0.1
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
FP_TYPES = ("duplicate", "classification", "localization", "both", "background")
ERROR_TYPES = (*FP_TYPES, "missed")
SIZES = ("small", "medium", "large")
SMALL, MEDIUM = 32**2, 96**2  # COCO area bounds, in pixels as the model sees the image


@dataclass
class Detections:
    """Predictions and ground truth of one evaluation, as flat arrays (one row per box)."""

    images: list[str]
    """Image paths relative to the dataset root."""
    sizes: np.ndarray
    """(n_images, 2) width, height in pixels."""
    names: dict[int, str]
    gt_image: np.ndarray
    gt_cls: np.ndarray
    gt_box: np.ndarray
    """(n, 4) x1, y1, x2, y2 in pixels."""
    pred_image: np.ndarray
    pred_cls: np.ndarray
    pred_conf: np.ndarray
    pred_box: np.ndarray
    imgsz: int = 640

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            images=np.array(self.images, dtype=object).astype(str),
            sizes=self.sizes.astype(np.int32),
            names=np.array([self.names[k] for k in sorted(self.names)], dtype=str),
            gt_image=self.gt_image.astype(np.int32),
            gt_cls=self.gt_cls.astype(np.int16),
            gt_box=self.gt_box.astype(np.float32),
            pred_image=self.pred_image.astype(np.int32),
            pred_cls=self.pred_cls.astype(np.int16),
            pred_conf=self.pred_conf.astype(np.float32),
            pred_box=self.pred_box.astype(np.float32),
            imgsz=np.array(self.imgsz),
        )

    @classmethod
    def load(cls, path: Path) -> Detections:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                images=[str(s) for s in data["images"]],
                sizes=data["sizes"],
                names=dict(enumerate(str(n) for n in data["names"])),
                gt_image=data["gt_image"],
                gt_cls=data["gt_cls"],
                gt_box=data["gt_box"],
                pred_image=data["pred_image"],
                pred_cls=data["pred_cls"],
                pred_conf=data["pred_conf"],
                pred_box=data["pred_box"],
                imgsz=int(data["imgsz"]),
            )


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of x1y1x2y2 boxes."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), dtype=np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def _by_image(index: np.ndarray, n_images: int) -> list[np.ndarray]:
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(n_images + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(n_images)]


@dataclass
class Analysis:
    """Everything that depends on the confidence and IoU thresholds."""

    conf: float
    iou: float
    overall: dict[str, float]
    per_class: list[dict[str, Any]]
    error_counts: dict[str, int]
    by_size: list[dict[str, Any]]
    confusion: np.ndarray
    """(nc + 1, nc + 1): rows predicted, columns true, last = background (as Ultralytics)."""
    pred_type: np.ndarray
    """Per prediction: 'tp', an FP type, or '' when under the confidence threshold."""
    gt_type: np.ndarray
    """Per ground-truth box: 'tp', 'missed', or 'fn' (not found, but a wrong box was near)."""
    image_errors: np.ndarray
    """Per image: false positives + false negatives."""
    matched_gt: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per prediction: the ground-truth box it matched or was judged against (-1 when none)."""


def _rates(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}


def analyze(d: Detections, conf: float = 0.25, iou: float = 0.45) -> Analysis:
    """Match the predictions at or above `conf` to the ground truth at `iou`, and type every error."""
    n_images, nc = len(d.images), len(d.names)
    pred_type = np.full(len(d.pred_cls), "", dtype="<U14")
    matched_gt = np.full(len(d.pred_cls), -1, dtype=np.int64)
    gt_type = np.full(len(d.gt_cls), "missed", dtype="<U14")
    confusion = np.zeros((nc + 1, nc + 1), dtype=np.int64)
    keep = d.pred_conf >= conf
    preds_of = _by_image(np.where(keep, d.pred_image, n_images), n_images)
    gts_of = _by_image(d.gt_image, n_images)
    for image in range(n_images):
        p, g = preds_of[image], gts_of[image]
        if not len(p):
            confusion[nc, d.gt_cls[g]] += 1 if len(g) else 0
            continue
        p = p[np.argsort(-d.pred_conf[p], kind="stable")]
        if not len(g):
            pred_type[p] = "background"
            np.add.at(confusion, (d.pred_cls[p], nc), 1)
            continue
        ious = box_iou(d.pred_box[p], d.gt_box[g])
        same = d.pred_cls[p][:, None] == d.gt_cls[g][None, :]
        taken = np.zeros(len(g), dtype=bool)
        for i in range(len(p)):
            candidates = np.where(same[i] & ~taken & (ious[i] >= iou), ious[i], -1.0)
            j = int(candidates.argmax())
            if candidates[j] >= 0:
                taken[j] = True
                pred_type[p[i]], matched_gt[p[i]] = "tp", g[j]
                continue
            same_iou = np.where(same[i], ious[i], 0.0)
            other_iou = np.where(~same[i], ious[i], 0.0)
            if same_iou.max() >= iou:
                kind, near = "duplicate", same_iou.argmax()
            elif other_iou.max() >= iou:
                kind, near = "classification", other_iou.argmax()
            elif same_iou.max() >= BACKGROUND_IOU:
                kind, near = "localization", same_iou.argmax()
            elif other_iou.max() >= BACKGROUND_IOU:
                kind, near = "both", other_iou.argmax()
            else:
                kind, near = "background", -1
            pred_type[p[i]], matched_gt[p[i]] = kind, g[near] if near >= 0 else -1
        gt_type[g[taken]] = "tp"
        near_any = (ious >= BACKGROUND_IOU).any(0)
        gt_type[g[~taken & near_any]] = "fn"
        _confusion_image(confusion, d.pred_cls[p], d.gt_cls[g], ious, iou, nc)
    return _summarise(d, conf, iou, pred_type, gt_type, matched_gt, confusion)


def _confusion_image(
    matrix: np.ndarray, pred_cls: np.ndarray, gt_cls: np.ndarray, ious: np.ndarray, iou: float, nc: int
) -> None:
    """Ultralytics' confusion matrix for one image: class-agnostic one-to-one matching by IoU."""
    pairs = np.argwhere(ious > iou)
    pred_matched, gt_matched = np.zeros(len(pred_cls), bool), np.zeros(len(gt_cls), bool)
    if len(pairs):
        order = np.argsort(-ious[pairs[:, 0], pairs[:, 1]], kind="stable")
        for pi, gi in pairs[order]:
            if not pred_matched[pi] and not gt_matched[gi]:
                pred_matched[pi] = gt_matched[gi] = True
                matrix[pred_cls[pi], gt_cls[gi]] += 1
    np.add.at(matrix, (np.full((~gt_matched).sum(), nc), gt_cls[~gt_matched]), 1)
    np.add.at(matrix, (pred_cls[~pred_matched], np.full((~pred_matched).sum(), nc)), 1)


def _scaled_area(d: Detections, image: np.ndarray, box: np.ndarray) -> np.ndarray:
    scale = d.imgsz / np.maximum(d.sizes[image].max(1), 1)
    return (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]) * scale**2


def size_of(area: np.ndarray) -> np.ndarray:
    return np.where(area < SMALL, "small", np.where(area < MEDIUM, "medium", "large"))


def _summarise(d, conf, iou, pred_type, gt_type, matched_gt, confusion) -> Analysis:
    is_tp, is_fp = pred_type == "tp", np.isin(pred_type, FP_TYPES)
    is_fn = gt_type != "tp"
    per_class = []
    for c, name in sorted(d.names.items()):
        row = _rates(
            int((is_tp & (d.pred_cls == c)).sum()),
            int((is_fp & (d.pred_cls == c)).sum()),
            int((is_fn & (d.gt_cls == c)).sum()),
        )
        per_class.append({"id": c, "name": name, "instances": int((d.gt_cls == c).sum()), **row})
    errors = {t: int((pred_type == t).sum()) for t in FP_TYPES} | {"missed": int((gt_type == "missed").sum())}
    pred_size = size_of(_scaled_area(d, d.pred_image, d.pred_box))
    gt_size = size_of(_scaled_area(d, d.gt_image, d.gt_box))
    by_size = [
        {
            "size": s,
            "instances": int((gt_size == s).sum()),
            **_rates(int((is_tp & (pred_size == s)).sum()), int((is_fp & (pred_size == s)).sum()),
                     int((is_fn & (gt_size == s)).sum())),
        }
        for s in SIZES
    ]  # fmt: skip
    image_errors = np.bincount(d.pred_image[is_fp], minlength=len(d.images)) + np.bincount(
        d.gt_image[is_fn], minlength=len(d.images)
    )
    overall = _rates(int(is_tp.sum()), int(is_fp.sum()), int(is_fn.sum()))
    return Analysis(
        conf, iou, overall, per_class, errors, by_size, confusion, pred_type, gt_type, image_errors, matched_gt
    )


def average_precision(d: Detections) -> dict[str, Any]:
    """mAP50, mAP50-95 and AP per class over every stored prediction, as Ultralytics' validator computes them."""
    correct = np.zeros((len(d.pred_cls), len(IOU_THRESHOLDS)), dtype=bool)
    preds_of, gts_of = _by_image(d.pred_image, len(d.images)), _by_image(d.gt_image, len(d.images))
    for image in range(len(d.images)):
        p, g = preds_of[image], gts_of[image]
        if not len(p) or not len(g):
            continue
        p = p[np.argsort(-d.pred_conf[p], kind="stable")]
        ious = box_iou(d.gt_box[g], d.pred_box[p]) * (d.gt_cls[g][:, None] == d.pred_cls[p][None, :])
        matched = np.zeros((len(g), len(IOU_THRESHOLDS)), dtype=bool)
        for j in np.flatnonzero((ious >= IOU_THRESHOLDS.min()).any(0)):
            available = np.where(matched, 0, ious[:, j, None])
            k = available.argmax(0)
            correct[p[j]] = available[k, range(len(IOU_THRESHOLDS))] >= IOU_THRESHOLDS
            matched[k, range(len(IOU_THRESHOLDS))] |= correct[p[j]]
    order = np.argsort(-d.pred_conf, kind="stable")
    tp, pred_cls = correct[order], d.pred_cls[order]
    classes, counts = np.unique(d.gt_cls, return_counts=True)
    ap = np.zeros((len(classes), len(IOU_THRESHOLDS)))
    for ci, (c, n_labels) in enumerate(zip(classes, counts, strict=True)):
        mine = pred_cls == c
        if not mine.any():
            continue
        tpc = tp[mine].cumsum(0)
        fpc = (1 - tp[mine]).cumsum(0)
        recall, precision = tpc / (n_labels + 1e-16), tpc / (tpc + fpc)
        for t in range(len(IOU_THRESHOLDS)):
            ap[ci, t] = _interpolated_ap(recall[:, t], precision[:, t])
    return {
        "map50": float(ap[:, 0].mean()) if len(ap) else 0.0,
        "map50_95": float(ap.mean()) if len(ap) else 0.0,
        "per_class": {d.names.get(int(c), str(c)): {"ap50": float(a[0]), "ap50_95": float(a.mean())}
                      for c, a in zip(classes, ap, strict=True)},
    }  # fmt: skip


def _interpolated_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], recall, [recall[-1] if len(recall) else 1.0], [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0], [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    return float(np.trapezoid(np.interp(x, mrec, mpre), x))


def worst_images(d: Detections, result: Analysis, limit: int = 50) -> list[dict[str, Any]]:
    """Images with the most errors at these thresholds, worst first."""
    order = np.argsort(-result.image_errors, kind="stable")[:limit]
    rows = []
    for i in order:
        if result.image_errors[i] == 0:
            break
        preds = (d.pred_image == i) & (result.pred_type != "")
        rows.append(
            {
                "image": d.images[i],
                "errors": int(result.image_errors[i]),
                "false positives": int((preds & (result.pred_type != "tp")).sum()),
                "missed boxes": int(((d.gt_image == i) & (result.gt_type != "tp")).sum()),
                "boxes": int((d.gt_image == i).sum()),
            }
        )
    return rows

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

from mlcore.core.spec import DEFAULT_IMGSZ

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
    imgsz: int = DEFAULT_IMGSZ

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
    pred_cell: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per prediction: the confusion matrix column it counts in (true class, nc = background, -1 = not kept)."""
    gt_cell: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per ground-truth box: the confusion matrix row it counts in (predicted class, nc = background)."""


def _rates(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}


def _gt_slots(d: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground truth padded per image: (n_images, most boxes in one image) of box index (-1 = none), boxes, classes."""
    order = np.argsort(d.gt_image, kind="stable")
    image = d.gt_image[order]
    slot = np.arange(len(order)) - np.searchsorted(image, image, side="left")
    width = int(slot.max()) + 1 if len(order) else 0
    index = np.full((len(d.images), width), -1, dtype=np.int64)
    index[image, slot] = order
    boxes = np.zeros((len(d.images), width, 4), dtype=np.float32)
    boxes[image, slot] = d.gt_box[order]
    classes = np.full((len(d.images), width), -1, dtype=np.int64)
    classes[image, slot] = d.gt_cls[order]
    return index, boxes, classes


def _slot_iou(boxes: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """(k, width) IoU of each prediction with the ground-truth slots of its image."""
    lt = np.maximum(boxes[:, None, :2], slots[:, :, :2])
    rb = np.minimum(boxes[:, None, 2:], slots[:, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area_p = (boxes[:, 2:] - boxes[:, :2]).prod(1)
    area_g = (slots[:, :, 2:] - slots[:, :, :2]).prod(2)
    return inter / (area_p[:, None] + area_g - inter + 1e-9)


def analyze(d: Detections, conf: float = 0.25, iou: float = 0.45) -> Analysis:
    """Match the predictions at or above `conf` to the ground truth at `iou`, and type every error.

    Vectorised over images: the greedy matching (highest confidence first, each ground-truth box
    matched once) steps through the predictions' ranks within their image, all images at a time."""
    nc = len(d.names)
    gt_index, gt_boxes, gt_classes = _gt_slots(d)
    kept = np.flatnonzero(d.pred_conf >= conf)
    kept = kept[np.lexsort((-d.pred_conf[kept], d.pred_image[kept]))]  # by image, then confidence
    image = d.pred_image[kept]
    valid = gt_index[image] >= 0
    ious = np.where(valid, _slot_iou(d.pred_box[kept].astype(np.float32), gt_boxes[image]), 0.0)
    same = (gt_classes[image] == d.pred_cls[kept][:, None]) & valid
    eligible = same & (ious >= iou)
    slot = np.full(len(kept), -1, dtype=np.int64)
    taken = np.zeros(gt_index.shape, dtype=bool)
    rows = np.flatnonzero(eligible.any(1))  # only these can match; ranks among them keep the order
    rank = np.arange(len(rows)) - np.searchsorted(image[rows], image[rows], side="left")
    for r in range(int(rank.max()) + 1 if len(rows) else 0):
        at = rows[rank == r]
        candidates = np.where(eligible[at] & ~taken[image[at]], ious[at], -1.0)
        best = candidates.argmax(1)
        ok = candidates[np.arange(len(at)), best] >= 0
        slot[at[ok]] = best[ok]
        taken[image[at[ok]], best[ok]] = True
    same_iou, other_iou = np.where(same, ious, 0.0), np.where(valid & ~same, ious, 0.0)
    near_same, near_other = same_iou.argmax(1) if ious.size else slot, other_iou.argmax(1) if ious.size else slot
    same_max, other_max = same_iou.max(1, initial=0.0), other_iou.max(1, initial=0.0)
    kind = np.select(
        [slot >= 0, same_max >= iou, other_max >= iou, same_max >= BACKGROUND_IOU, other_max >= BACKGROUND_IOU],
        ["tp", "duplicate", "classification", "localization", "both"],
        "background",
    )
    near = np.select(
        [slot >= 0, np.isin(kind, ("duplicate", "localization")), np.isin(kind, ("classification", "both"))],
        [slot, near_same, near_other],
        -1,
    )
    pred_type = np.full(len(d.pred_cls), "", dtype="<U14")
    pred_type[kept] = kind
    matched_gt = np.full(len(d.pred_cls), -1, dtype=np.int64)
    has_near = near >= 0
    matched_gt[kept[has_near]] = gt_index[image[has_near], near[has_near]]
    gt_type = np.full(len(d.gt_cls), "missed", dtype="<U14")
    close = np.zeros(gt_index.shape, dtype=bool)
    k, j = np.nonzero(ious >= BACKGROUND_IOU)
    close[image[k], j] = True
    gt_type[gt_index[close & ~taken & (gt_index >= 0)]] = "fn"
    gt_type[gt_index[taken]] = "tp"
    confusion, pred_cell, gt_cell = _confusion(d, kept, image, ious, gt_index, iou, nc)
    result = _summarise(d, conf, iou, pred_type, gt_type, matched_gt, confusion)
    result.pred_cell, result.gt_cell = pred_cell, gt_cell
    return result


def _confusion(d, kept, image, ious, gt_index, iou, nc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ultralytics' confusion matrix (class-agnostic pairs above `iou`, best first, each box once).

    Also returns, per prediction, the true class it was counted against (nc = background, -1 = under
    the confidence threshold), and per ground-truth box the predicted class (nc = background)."""
    k, j = np.nonzero(ious > iou)
    value = ious[k, j]
    gt = gt_index[image[k], j]
    order = np.argsort(-value, kind="stable")
    k, gt, value = k[order], gt[order], value[order]
    first = np.unique(k, return_index=True)[1]
    k, gt, value = k[first], gt[first], value[first]
    order = np.argsort(-value, kind="stable")
    k, gt = k[order], gt[order]
    first = np.unique(gt, return_index=True)[1]
    k, gt = k[first], gt[first]
    pred_cell = np.full(len(d.pred_cls), -1, dtype=np.int64)
    pred_cell[kept] = nc
    pred_cell[kept[k]] = d.gt_cls[gt]
    gt_cell = np.full(len(d.gt_cls), nc, dtype=np.int64)
    gt_cell[gt] = d.pred_cls[kept[k]]
    confusion = np.zeros((nc + 1, nc + 1), dtype=np.int64)
    np.add.at(confusion, (d.pred_cls[kept], pred_cell[kept]), 1)
    unmatched = gt_cell == nc
    np.add.at(confusion, (np.full(unmatched.sum(), nc), d.gt_cls[unmatched]), 1)
    return confusion, pred_cell, gt_cell


def input_scale(d: Detections, image: np.ndarray) -> np.ndarray:
    """Each of `image`'s (indices) scale to the model's input: its long side to d.imgsz, as Ultralytics letterboxes
    it."""
    return d.imgsz / np.maximum(np.asarray(d.sizes)[image].max(1), 1)


def _scaled_area(d: Detections, image: np.ndarray, box: np.ndarray) -> np.ndarray:
    return (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]) * input_scale(d, image) ** 2


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
            **_rates(
                int((is_tp & (pred_size == s)).sum()),
                int((is_fp & (pred_size == s)).sum()),
                int((is_fn & (gt_size == s)).sum()),
            ),
        }
        for s in SIZES
    ]
    image_errors = np.bincount(d.pred_image[is_fp], minlength=len(d.images)) + np.bincount(
        d.gt_image[is_fn], minlength=len(d.images)
    )
    overall = _rates(int(is_tp.sum()), int(is_fp.sum()), int(is_fn.sum()))
    return Analysis(
        conf, iou, overall, per_class, errors, by_size, confusion, pred_type, gt_type, image_errors, matched_gt
    )


def correct_at_thresholds(d: Detections) -> np.ndarray:
    """(n_predictions, 10): whether each prediction is a true positive at IoU 0.50, 0.55, ... 0.95.

    Ultralytics' matching: per image, predictions in confidence order each take the unclaimed
    ground-truth box of their class they overlap most, at each threshold. Vectorised over images:
    the k-th candidate of every image is matched in the same step."""
    thresholds = len(IOU_THRESHOLDS)
    correct = np.zeros((len(d.pred_cls), thresholds), dtype=bool)
    gt_index, gt_boxes, gt_classes = _gt_slots(d)
    order = np.lexsort((-d.pred_conf, d.pred_image))  # by image, then confidence
    image = d.pred_image[order]
    ious = _slot_iou(d.pred_box[order].astype(np.float32), gt_boxes[image])
    ious = np.where((gt_classes[image] == d.pred_cls[order][:, None]) & (gt_index[image] >= 0), ious, 0.0)
    rows = np.flatnonzero((ious >= IOU_THRESHOLDS[0]).any(1))
    rank = np.arange(len(rows)) - np.searchsorted(image[rows], image[rows], side="left")
    claimed = np.zeros((*gt_index.shape, thresholds), dtype=bool)
    every = np.arange(thresholds)
    for r in range(int(rank.max()) + 1 if len(rows) else 0):
        at = rows[rank == r]
        available = np.where(claimed[image[at]], 0.0, ious[at][:, :, None])  # (n, slots, thresholds)
        best = available.argmax(1)
        hit = np.take_along_axis(available, best[:, None, :], 1)[:, 0, :] >= IOU_THRESHOLDS
        correct[order[at]] = hit
        claimed[image[at][:, None], best, every] |= hit
    return correct


def average_precision(d: Detections) -> dict[str, Any]:
    """mAP50, mAP50-95 and AP per class over every stored prediction, as Ultralytics' validator computes them."""
    correct = correct_at_thresholds(d)
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
        "per_class": {
            d.names.get(int(c), str(c)): {"ap50": float(a[0]), "ap50_95": float(a.mean())}
            for c, a in zip(classes, ap, strict=True)
        },
    }


def _interpolated_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], recall, [recall[-1] if len(recall) else 1.0], [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0], [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    return float(np.trapezoid(np.interp(x, mrec, mpre), x))


def worst_images(d: Detections, result: Analysis, limit: int = 50) -> list[dict[str, Any]]:
    """Images with the most errors at these thresholds, worst first."""
    n = len(d.images)
    false_positives = np.bincount(d.pred_image[np.isin(result.pred_type, FP_TYPES)], minlength=n)
    not_found = np.bincount(d.gt_image[result.gt_type != "tp"], minlength=n)
    boxes = np.bincount(d.gt_image, minlength=n)
    order = np.argsort(-result.image_errors, kind="stable")[:limit]
    return [
        {
            "image": d.images[i],
            "errors": int(result.image_errors[i]),
            "false positives": int(false_positives[i]),
            "missed boxes": int(not_found[i]),
            "boxes": int(boxes[i]),
        }
        for i in order
        if result.image_errors[i] > 0
    ]


def _with(d: Detections, keep: np.ndarray, cls: np.ndarray, box: np.ndarray, found: np.ndarray) -> Detections:
    """The same evaluation with the predictions `keep` selects (class and box replaced), and a perfect
    prediction at confidence 1 for each ground-truth box that `found` selects."""
    return Detections(
        images=d.images,
        sizes=d.sizes,
        names=d.names,
        gt_image=d.gt_image,
        gt_cls=d.gt_cls,
        gt_box=d.gt_box,
        pred_image=np.concatenate([d.pred_image[keep], d.gt_image[found]]),
        pred_cls=np.concatenate([cls[keep], d.gt_cls[found]]),
        pred_conf=np.concatenate([d.pred_conf[keep], np.ones(int(found.sum()))]),
        pred_box=np.concatenate([box[keep], d.gt_box[found]]),
        imgsz=d.imgsz,
    )


def error_costs(d: Detections) -> dict[str, float]:
    """mAP50 gained if every error of one type were fixed (TIDE's dAP), over all stored predictions.

    Errors are typed at IoU 0.5 with no confidence threshold. Fixing means: duplicates and boxes on
    background are removed; a wrong class or a box off gets the class and box of the object it was
    near (it is removed instead when another prediction found that object, or a better-scored fixed
    one takes it); missed objects are found by a perfect prediction at confidence 1."""
    base = average_precision(d)["map50"]
    typed = analyze(d, conf=0.0, iou=0.5)
    every, none = np.ones(len(d.pred_cls), dtype=bool), np.zeros(len(d.gt_cls), dtype=bool)
    costs = {}
    for kind in FP_TYPES:
        wrong = typed.pred_type == kind
        if kind in ("duplicate", "background"):
            fixed = _with(d, ~wrong, d.pred_cls, d.pred_box, none)
        else:
            target = typed.matched_gt
            order = np.flatnonzero(wrong)[np.argsort(-d.pred_conf[wrong], kind="stable")]
            best = np.zeros(len(d.pred_cls), dtype=bool)
            best[order[np.unique(target[order], return_index=True)[1]]] = True  # the best-scored per object
            use = best & (target >= 0) & (typed.gt_type[np.maximum(target, 0)] != "tp")
            cls, box = d.pred_cls.copy(), d.pred_box.copy()
            cls[use], box[use] = d.gt_cls[target[use]], d.gt_box[target[use]]
            fixed = _with(d, ~wrong | use, cls, box, none)
        costs[kind] = round(average_precision(fixed)["map50"] - base, 5)
    found = _with(d, every, d.pred_cls, d.pred_box, typed.gt_type == "missed")
    costs["missed"] = round(average_precision(found)["map50"] - base, 5)
    return costs


NO_AP = {"ap50": 0.0, "ap50_95": 0.0}
CLASS_COLUMNS = ("name", "instances", "tp", "fp", "fn", "precision", "recall", "f1", "accuracy", "ap50", "ap50_95")


def with_ap(rows: list[dict[str, Any]], ap_by_name: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Per-class rows at the thresholds, each with its class's AP over all confidences (0 when it has none)."""
    return [{**row, **ap_by_name.get(row["name"], NO_AP)} for row in rows]


def class_table(result: Analysis, stored_per_class: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-class table at the current thresholds, with the AP an evaluation stored for each class."""
    ap = {row["name"]: {k: row.get(k, 0.0) for k in NO_AP} for row in stored_per_class}
    return [{k: row[k] for k in CLASS_COLUMNS} for row in with_ap(result.per_class, ap)]


def image_boxes(d: Detections, result: Analysis, n: int) -> list[dict[str, Any]]:
    """Every box of image `n` that counts at the thresholds: predictions with their outcome, then ground truth."""
    rows = [
        {
            "box": "prediction",
            "class": d.names.get(int(d.pred_cls[k])),
            "confidence": float(d.pred_conf[k]),
            "outcome": str(result.pred_type[k]),
        }
        for k in ((d.pred_image == n) & (result.pred_type != "")).nonzero()[0]
    ]
    rows += [
        {
            "box": "ground truth",
            "class": d.names.get(int(d.gt_cls[k])),
            "confidence": None,
            "outcome": "found" if result.gt_type[k] == "tp" else "not found",
        }
        for k in (d.gt_image == n).nonzero()[0]
    ]
    return rows

"""Which images to show for an error type, a class, or a confusion-matrix cell, worst first.

result = analyze(detections, conf, iou)
gallery_images(detections, result, kind="localization", class_name="ferro")   # image indices
cell_images(detections, result, predicted=2, true=5)                          # a clicked cell
focus_box(detections, result, image=4, kind="missed")                         # the box to show close up
"""

from __future__ import annotations

import numpy as np

from mlcore.evaluation.analysis import ERROR_TYPES, FP_TYPES, Analysis, Detections


def _worst_first(result: Analysis, images: np.ndarray) -> list[int]:
    images = np.unique(images)
    return [int(i) for i in images[np.argsort(-result.image_errors[images], kind="stable")]]


def gallery_images(
    d: Detections, result: Analysis, kind: str | None = None, class_name: str | None = None
) -> list[int]:
    """Images with at least one error of `kind` (any error when None), of `class_name` when given, worst first.

    The class of a false positive is the predicted one; of a missed box, the true one."""
    if kind is not None and kind not in ERROR_TYPES:
        raise ValueError(f"unknown error type {kind!r}; use one of {', '.join(ERROR_TYPES)}")
    ids = {name: c for c, name in d.names.items()}
    wanted = ids.get(class_name, -1) if class_name is not None else None
    none_fp, none_gt = np.zeros(len(result.pred_type), dtype=bool), np.zeros(len(result.gt_type), dtype=bool)
    if kind is None:
        fp, missed = np.isin(result.pred_type, FP_TYPES), result.gt_type != "tp"
    elif kind == "missed":
        fp, missed = none_fp, result.gt_type == "missed"
    else:
        fp, missed = result.pred_type == kind, none_gt
    if wanted is not None:
        fp &= d.pred_cls == wanted
        missed &= d.gt_cls == wanted
    return _worst_first(result, np.concatenate([d.pred_image[fp], d.gt_image[missed]]))


def focus_box(
    d: Detections, result: Analysis, image: int, kind: str | None = None, class_name: str | None = None
) -> np.ndarray | None:
    """The smallest error box of `kind` (any error when None) and of `class_name` in `image`, in pixels: the one
    a drawn thumbnail shows close up when it would be too small to see. None when the image has none."""
    ids = {name: c for c, name in d.names.items()}
    wanted = ids.get(class_name, -1) if class_name is not None else None
    fp = (d.pred_image == image) & (np.isin(result.pred_type, FP_TYPES) if kind is None else result.pred_type == kind)
    missed = (d.gt_image == image) & (result.gt_type != "tp" if kind is None else result.gt_type == kind)
    if wanted is not None:
        fp &= d.pred_cls == wanted
        missed &= d.gt_cls == wanted
    boxes = np.concatenate([d.pred_box[fp], d.gt_box[missed]]).reshape(-1, 4)
    if not len(boxes):
        return None
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return boxes[int(np.argmin(sides))]


def cell_images(d: Detections, result: Analysis, predicted: int, true: int) -> list[int]:
    """Images that add to the confusion matrix cell (predicted row, true column), worst first.

    The last index of either axis is background, as in the matrix."""
    nc = len(d.names)
    if predicted == nc:  # objects no prediction was paired with
        return _worst_first(result, d.gt_image[(d.gt_cls == true) & (result.gt_cell == nc)])
    return _worst_first(result, d.pred_image[(d.pred_cls == predicted) & (result.pred_cell == true)])


ROLE_OF = {  # an error type -> how an explanation names the box it explains
    "background": "false positive",
    "classification": "wrong class",
    "both": "wrong class",
    "localization": "box off",
    "duplicate": "duplicate",
    "missed": "missed",
}


def error_targets(d: Detections, result: Analysis, image: int) -> list[dict]:
    """Each error of `image` with the boxes that explain it ({"box", "class_id", "role"}, pixels): a false positive,
    a box off or a duplicate its predicted box and class; a wrong class its box twice, for the predicted class and
    for the true one (side by side); a missed object its ground-truth box and class. Worst first: false positives
    by confidence, then the missed."""
    names = d.names
    found = []
    preds = ((d.pred_image == image) & np.isin(result.pred_type, FP_TYPES)).nonzero()[0]
    for k in preds[np.argsort(-d.pred_conf[preds], kind="stable")]:
        kind, cls, box = str(result.pred_type[k]), int(d.pred_cls[k]), [float(v) for v in d.pred_box[k]]
        role = ROLE_OF[kind]
        targets = [{"box": box, "class_id": cls, "role": role}]
        truth = int(result.matched_gt[k]) if len(result.matched_gt) > k else -1
        label = f"{kind}: {names.get(cls, cls)} {float(d.pred_conf[k]):.2f}"
        if role == "wrong class" and truth >= 0:
            true_cls = int(d.gt_cls[truth])
            targets.append({"box": box, "class_id": true_cls, "role": "true class"})
            label += f" (it is a {names.get(true_cls, true_cls)})"
        found.append({"kind": kind, "label": label, "targets": targets})
    for k in ((d.gt_image == image) & (result.gt_type != "tp")).nonzero()[0]:
        cls = int(d.gt_cls[k])
        box = [float(v) for v in d.gt_box[k]]
        found.append(
            {
                "kind": "missed",
                "label": f"missed: {names.get(cls, cls)}",
                "targets": [{"box": box, "class_id": cls, "role": "missed"}],
            }
        )
    return found

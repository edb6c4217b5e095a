"""The label-error audit's analysis: a model's out-of-sample predictions against the labels, with cleanlab.

cleanlab's object-detection scores (ObjectLab, Apache-2.0) rate every image and every box, in pixels:

    result = audit(detections, lines)       # lines[k]: the label-file line of ground-truth box k
    result.image_scores                     # one per image, 0..1, lower is likelier mislabelled
    result.suspects                         # typed suspect boxes, worst first

A label box is *swapped* when the model confidently puts another class on it, *badly located* when the
model's box of its class lies elsewhere (or nowhere); a confident predicted box that no label covers is
*overlooked*. Each suspect carries the model's suggestion (the class, or the box) for the fix list.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlcore.evaluation.analysis import Detections

ISSUE_TYPES = ("overlooked", "swapped", "badly_located")
MIN_CONFIDENCE = 0.05  # predictions below it carry no evidence and slow cleanlab's O(labels x predictions) loops
SWAP_IOU = 0.5  # another class's prediction on the label box: the same object, another name
SUSPECT_SCORE = 0.5  # boxes scored below it are listed as suspects
# cleanlab's defaults call a prediction confident at 0.95 (0.5 for locating), set for detectors whose class
# probabilities run higher than YOLO's confidences; the audit takes the model's own: see confidence_of_found.
LOW_CONFIDENT, HIGH_CONFIDENT = 0.3, 0.95
FOUND_QUANTILE = 0.05  # "confident": as sure as 19 in 20 of the model's correct predictions
LOW_PER_HIGH = 0.5 / 0.95  # cleanlab's ratio of its two thresholds
TEMPERATURE = 0.1  # cleanlab's softmin pooling of box scores into an image's
ALPHA = 0.9  # cleanlab's weight of IoU against centre distance in its box similarity
COVERED_IOU = 0.3  # a prediction a label overlaps this much is that label's business (swap or location)


@dataclass(frozen=True)
class Suspect:
    """One box to look at: where, why, how sure, and what the model would put there."""

    image: int
    line: int | None
    """The label file's line (1-based); None for an overlooked object, which has no line."""
    type: str
    score: float
    """0..1, lower is likelier wrong (cleanlab's subtype score of the box)."""
    box: tuple[float, float, float, float]
    """The label's box, or for an overlooked object the model's, as x1, y1, x2, y2 in pixels."""
    label_class: int | None
    suggested_class: int | None
    suggested_box: tuple[float, float, float, float] | None
    confidence: float | None
    """The confidence of the prediction behind the suggestion."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditResult:
    image_scores: np.ndarray
    suspects: list[Suspect]
    confident: float
    """The confidence at which this model's predictions counted as sure (see confidence_of_found)."""


def cleanlab_inputs(d: Detections) -> tuple[list[dict[str, Any]], list[list[np.ndarray]], list[np.ndarray]]:
    """cleanlab's labels and predictions per image, and for each image the index into d.pred_* of every
    predicted box in cleanlab's order (class by class), to map its per-prediction scores back."""
    n_classes = max([*d.names, *d.gt_cls.tolist(), *d.pred_cls.tolist(), -1]) + 1
    kept = d.pred_conf >= MIN_CONFIDENCE
    labels, predictions, order = [], [], []
    for n in range(len(d.images)):
        gt = d.gt_image == n
        labels.append({"bboxes": d.gt_box[gt].astype(float).reshape(-1, 4), "labels": d.gt_cls[gt].astype(int)})
        mine = np.flatnonzero((d.pred_image == n) & kept)
        per_class, indices = [], []
        for k in range(n_classes):
            rows = mine[d.pred_cls[mine] == k]
            # every class needs its array, an empty one of shape (0, 5) too (cleanlab checks the width)
            per_class.append(np.column_stack([d.pred_box[rows], d.pred_conf[rows]]).astype(float).reshape(-1, 5))
            indices.append(rows)
        predictions.append(per_class)
        order.append(np.concatenate(indices).astype(int))
    return labels, predictions, order


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    if not len(boxes):
        return np.zeros(0)
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2, y2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _box(values: np.ndarray) -> tuple[float, float, float, float]:
    return tuple(round(float(v), 2) for v in values)  # type: ignore[return-value]


def _label_suspect(d: Detections, k: int, line: int, swap: float, badloc: float, sure: float) -> Suspect:
    """Type a doubtful label box by what the model put on it: another class (swapped) or its box elsewhere."""
    n, cls, box = int(d.gt_image[k]), int(d.gt_cls[k]), d.gt_box[k]
    mine = np.flatnonzero((d.pred_image == n) & (d.pred_conf >= sure))
    overlap = _iou(box, d.pred_box[mine])
    other = mine[(d.pred_cls[mine] != cls) & (overlap >= SWAP_IOU)]
    if len(other) and swap <= badloc:
        best = other[np.argmax(d.pred_conf[other])]
        return Suspect(
            n,
            line,
            "swapped",
            round(swap, 5),
            _box(box),
            cls,
            int(d.pred_cls[best]),
            None,
            round(float(d.pred_conf[best]), 4),
        )
    near = (d.pred_cls[mine] == cls) & (overlap > 0)
    best = mine[near][np.argmax(overlap[near])] if near.any() else None
    return Suspect(
        n,
        line,
        "badly_located",
        round(min(badloc, swap), 5),
        _box(box),
        cls,
        cls,
        None if best is None else _box(d.pred_box[best]),
        None if best is None else round(float(d.pred_conf[best]), 4),
    )


def softmin(scores: np.ndarray, temperature: float = TEMPERATURE) -> float:
    """cleanlab's pooling of one subtype's box scores into the image's: near the minimum, 1 without boxes."""
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        return 1.0
    weights = np.exp(-(scores - scores.min()) / temperature)
    return float(np.sum(scores * weights) / np.sum(weights))


def confidence_of_found(d: Detections) -> float:
    """The confidence that 19 in 20 of the model's correct predictions reach (IoU >= 0.5 with a label of their
    class), within [LOW_CONFIDENT, HIGH_CONFIDENT]: what "confident" means for this model."""
    reached = []
    for n in np.unique(d.pred_image[d.pred_conf >= LOW_CONFIDENT]):
        gt = np.flatnonzero(d.gt_image == n)
        for p in np.flatnonzero((d.pred_image == n) & (d.pred_conf >= LOW_CONFIDENT)):
            same = gt[d.gt_cls[gt] == d.pred_cls[p]]
            if len(same) and _iou(d.pred_box[p], d.gt_box[same]).max() >= SWAP_IOU:
                reached.append(float(d.pred_conf[p]))
    usual = float(np.quantile(reached, FOUND_QUANTILE)) if reached else HIGH_CONFIDENT
    return float(np.clip(usual, LOW_CONFIDENT, HIGH_CONFIDENT))


def overlooked_scores(aux: list[dict[str, Any]], high: float) -> list[np.ndarray]:
    """One score per predicted box (NaN: not a candidate), cleanlab's rule widened for crowded images.

    cleanlab scores a confident prediction that no label overlaps at all by its similarity to the nearest label
    of its class; a prediction that touches a neighbour's box is never a candidate, so an unlabelled object beside
    another is never found. Here a prediction is a candidate when no label overlaps it by COVERED_IOU or more,
    and its score is also at most 1 - its confidence (the surer the model, the likelier the label is missing),
    and at least half of that."""
    scores = []
    for image in aux:
        probs, classes = image["pred_label_probs"], image["pred_labels"]
        iou, similarity, lab = image["iou_matrix"], image["similarity_matrix"], image["lab_labels"]
        mine = np.full(len(classes), np.nan)
        for j, k in enumerate(classes):
            if probs[j] < high or (len(lab) and iou[:, j].max() >= COVERED_IOU):
                continue
            same = similarity[lab == k, j]
            unsure = 1.0 - float(probs[j])
            # no label of its class near it (similarity 0, or none in the image): the confidence alone ranks it,
            # within [0, SUSPECT_SCORE) so that it is listed as before (it scored 0.000 like every other such box)
            nearest = max(float(same.max()) if len(same) else 0.0, SUSPECT_SCORE * unsure)
            mine[j] = min(nearest, unsure)
        scores.append(mine)
    return scores


def audit(d: Detections, lines: np.ndarray) -> AuditResult:
    """Score every image and type every suspect box; `lines[k]` is ground-truth box k's label-file line."""
    from cleanlab.object_detection import rank

    labels, predictions, order = cleanlab_inputs(d)
    if not labels:
        return AuditResult(np.zeros(0), [], HIGH_CONFIDENT)
    high = confidence_of_found(d)
    low = high * LOW_PER_HIGH
    # the IoU and similarity matrices once for all three subtypes (cleanlab 2.9.0's own helper, pinned)
    aux = rank._get_valid_inputs_for_compute_scores(ALPHA, labels, predictions)
    overlooked = overlooked_scores(aux, high)
    badloc = rank.compute_badloc_box_scores(low_probability_threshold=low, auxiliary_inputs=aux)
    swap = rank.compute_swap_box_scores(high_probability_threshold=high, auxiliary_inputs=aux)
    scores = np.array(
        [
            np.mean([softmin(np.asarray(s[n], dtype=float)) for s in (overlooked, badloc, swap)])
            for n in range(len(labels))
        ]
    )
    suspects: list[Suspect] = []
    for n in range(len(d.images)):
        for j, k in enumerate(np.flatnonzero(d.gt_image == n)):
            s, b = float(swap[n][j]), float(badloc[n][j])
            if min(s, b) < SUSPECT_SCORE:
                suspects.append(_label_suspect(d, int(k), int(lines[k]), s, b, low))
        for j, value in enumerate(overlooked[n]):
            if np.isfinite(value) and value < SUSPECT_SCORE:
                p = int(order[n][j])
                box = _box(d.pred_box[p])
                sure = round(float(d.pred_conf[p]), 4)
                score = round(float(value), 5)
                suspects.append(Suspect(n, None, "overlooked", score, box, None, int(d.pred_cls[p]), box, sure))
    suspects.sort(key=lambda s: (s.score, -(s.confidence or 0.0), s.image))  # ties: the surer model first
    return AuditResult(scores, suspects, high)

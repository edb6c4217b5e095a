"""cleanlab's ObjectLab with its default settings, on the same detections as the audit: the reference that
benchmarks/audit_accuracy.py measures the audit against.

    labels, predictions, order = cleanlab_inputs(detections)
    image_scores, suspects = objectlab(detections, lines)     # lower is likelier mislabelled, as in the audit

Its per-box subtype scores rank the suspects: a label box by the lower of its swap and location scores (typed by
the lower), a predicted box by its overlooked score; every box scored below 1 is listed, lowest first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlcore.evaluation.analysis import Detections
from mlcore.quality.audit import MIN_CONFIDENCE, Suspect, box_of


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


def objectlab(d: Detections, lines: np.ndarray) -> tuple[np.ndarray, list[Suspect]]:
    """cleanlab's image scores and its suspects, every setting left at cleanlab's default."""
    from cleanlab.object_detection import rank

    labels, predictions, order = cleanlab_inputs(d)
    if not labels:
        return np.zeros(0), []
    image_scores = rank.get_label_quality_scores(labels, predictions, verbose=False)
    overlooked = rank.compute_overlooked_box_scores(labels=labels, predictions=predictions)
    badloc = rank.compute_badloc_box_scores(labels=labels, predictions=predictions)
    swap = rank.compute_swap_box_scores(labels=labels, predictions=predictions)
    suspects: list[Suspect] = []
    for n in range(len(d.images)):
        for j, k in enumerate(np.flatnonzero(d.gt_image == n)):
            s, b = float(swap[n][j]), float(badloc[n][j])
            if min(s, b) < 1:
                kind = "swapped" if s <= b else "badly_located"
                cls = int(d.gt_cls[k])
                suspects.append(Suspect(n, int(lines[k]), kind, min(s, b), box_of(d.gt_box[k]), cls, None, None, None))
        for j, value in enumerate(overlooked[n]):
            if np.isfinite(value) and value < 1:
                p = int(order[n][j])
                box = box_of(d.pred_box[p])
                conf = float(d.pred_conf[p])
                suspects.append(Suspect(n, None, "overlooked", float(value), box, None, int(d.pred_cls[p]), box, conf))
    suspects.sort(key=lambda s: (s.score, s.image, s.line or 0))
    return np.asarray(image_scores, dtype=float), suspects

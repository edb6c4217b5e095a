"""The threshold advisor: from an evaluation's stored predictions (no model run), the confidence
threshold (one, or one per class) and NMS IoU to deploy a model with.

    advice = advise(detections, objective="precision", target=0.9, per_class=True, nms_iou=0.6)
    advice.confidence, advice.per_class   # the thresholds
    advice.rows                           # per class: threshold, precision, recall, F1 at them
    advice.profile(names, model="best.pt", evaluation=folder)   # a DeploymentProfile to save

Objectives: "best_f1" (the threshold of the highest F1), "precision" (the lowest threshold whose
precision reaches `target`: the most recall at that precision), "recall" (the highest threshold
whose recall reaches `target`: the most precision at that recall). A class that cannot reach the
target gets its best-F1 threshold, and its row says so.

The stored predictions were made with NMS at IoU 0.7 (Ultralytics' default); a lower NMS IoU is
applied to them again here (per image and class, greedy, as Ultralytics' NMS does). Matching a
prediction to the ground truth at `match_iou` does not depend on the threshold (the greedy match
goes in confidence order), so one match gives precision and recall at every threshold at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mlcore.evaluation.analysis import Detections, analyze, box_iou
from mlcore.evaluation.spec import NMS_IOU
from mlcore.predict.profile import DeploymentProfile

OBJECTIVES = {"best_f1": "best F1", "precision": "precision at least", "recall": "recall at least"}
LOWEST = 0.001  # the evaluation keeps predictions down to this confidence


class AdviceError(ValueError):
    """The advisor cannot work with these settings; the message says what to change."""


@dataclass(frozen=True)
class Advice:
    confidence: float
    per_class: dict[str, float]
    iou: float
    objective: str
    rows: list[dict[str, Any]]
    """Per class: name, threshold, precision, recall, F1, tp, fp, fn, and a note when the target was missed."""
    overall: dict[str, float]

    def profile(
        self, names: dict[int, str], model: str = "", evaluation: str = "", nms_free: bool = False
    ) -> DeploymentProfile:
        """The profile to save; `nms_free` when the evaluation ran the NMS-free head (the head it was judged with)."""
        keep = ("name", "threshold", "precision", "recall", "f1")
        return DeploymentProfile(
            nms_free=nms_free,
            confidence=self.confidence,
            iou=self.iou,
            per_class=dict(self.per_class),
            names=names,
            model=model,
            objective=self.objective,
            evaluation=evaluation,
            expected=[{k: r[k] for k in keep} for r in self.rows],
        )


def apply_nms(d: Detections, iou: float) -> Detections:
    """The predictions that survive class-wise NMS at `iou` (only lowers what the evaluation kept)."""
    if iou >= NMS_IOU or not len(d.pred_cls):
        return d
    keep = np.zeros(len(d.pred_cls), dtype=bool)
    group = d.pred_image.astype(np.int64) * (max(d.names, default=0) + 1) + d.pred_cls
    order = np.lexsort((-d.pred_conf, group))
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for members in np.split(order, bounds):
        alive = members
        while len(alive):
            best, rest = alive[0], alive[1:]
            keep[best] = True
            alive = rest[box_iou(d.pred_box[best][None], d.pred_box[rest])[0] <= iou]
    picked = np.flatnonzero(keep)
    return replace(
        d,
        pred_image=d.pred_image[picked],
        pred_cls=d.pred_cls[picked],
        pred_conf=d.pred_conf[picked],
        pred_box=d.pred_box[picked],
    )


def _curve(conf: np.ndarray, tp: np.ndarray, n_truth: int) -> tuple[np.ndarray, ...]:
    """Thresholds (each prediction's confidence, ties merged) and precision, recall, F1 at each."""
    order = np.argsort(-conf, kind="stable")
    conf, tp = conf[order], tp[order]
    tps, fps = np.cumsum(tp), np.cumsum(~tp)
    last = np.r_[np.flatnonzero(np.diff(conf)), len(conf) - 1] if len(conf) else np.zeros(0, dtype=int)
    tps, fps, thresholds = tps[last], fps[last], conf[last]
    precision = tps / np.maximum(tps + fps, 1)
    recall = tps / max(n_truth, 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return thresholds, precision, recall, f1


def _choose(curve: tuple[np.ndarray, ...], objective: str, target: float) -> tuple[float, bool]:
    """(threshold, reached): the objective's threshold on one curve; best F1 when the target is out of reach."""
    thresholds, precision, recall, f1 = curve
    if not len(thresholds):
        return 0.5, objective == "best_f1"
    if objective == "precision" and (ok := np.flatnonzero(precision >= target)).size:
        return float(thresholds[ok[-1]]), True
    if objective == "recall" and (ok := np.flatnonzero(recall >= target)).size:
        return float(thresholds[ok[0]]), True
    return float(thresholds[int(np.argmax(f1))]), objective == "best_f1"


def _rounded_down(value: float) -> float:
    """Four decimals, rounded down so that the prediction that set the threshold still passes it."""
    return max(LOWEST, float(np.floor(value * 10_000) / 10_000))


def advise(
    d: Detections,
    objective: str = "best_f1",
    target: float = 0.9,
    per_class: bool = False,
    nms_iou: float = NMS_IOU,
    match_iou: float = 0.5,
) -> Advice:
    """The thresholds that meet `objective` on these predictions, and what they give per class."""
    if objective not in OBJECTIVES:
        raise AdviceError(f"objective={objective!r}; use one of {', '.join(OBJECTIVES)}.")
    if objective != "best_f1" and not 0 < target < 1:
        raise AdviceError(f"target={target!r}; use a precision or recall between 0 and 1 (e.g. 0.9).")
    if not 0.05 <= nms_iou <= NMS_IOU:
        raise AdviceError(
            f"NMS IoU {nms_iou} cannot be judged from this evaluation: its predictions were made at {NMS_IOU}; "
            f"choose 0.05 to {NMS_IOU}."
        )
    if not len(d.gt_cls):
        raise AdviceError("the evaluated split has no labelled boxes, so no threshold can be judged on it.")
    d = apply_nms(d, nms_iou)
    is_tp = analyze(d, conf=0.0, iou=match_iou).pred_type == "tp"
    label = OBJECTIVES[objective] + ("" if objective == "best_f1" else f" {target:.2f}")
    overall, reached_all = _choose(_curve(d.pred_conf, is_tp, len(d.gt_cls)), objective, target)
    thresholds: dict[int, float] = {}
    notes: dict[int, str] = {}
    for cls in sorted(d.names):
        mine = d.pred_cls == cls
        curve = _curve(d.pred_conf[mine], is_tp[mine], int((d.gt_cls == cls).sum()))
        value, reached = _choose(curve, objective, target) if per_class else (overall, reached_all)
        thresholds[cls] = _rounded_down(value)
        if not (curve[2] > 0).any():
            notes[cls] = "finds none of its objects at any threshold"
        elif not reached:
            notes[cls] = f"cannot reach {label}: best F1 used"
    result = analyze(kept_at_thresholds(d, thresholds), conf=0.0, iou=match_iou)
    rows = []
    for row in result.per_class:
        cls = row["id"]
        rows.append(
            {
                "name": row["name"],
                "threshold": thresholds[cls],
                "instances": row["instances"],
                **{k: row[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")},
                "note": notes.get(cls, ""),
            }
        )
    global_value = _rounded_down(overall)
    own = {d.names[c]: v for c, v in thresholds.items() if per_class and v != global_value}
    return Advice(global_value, own, round(float(nms_iou), 3), label, rows, result.overall)


def kept_at_thresholds(d: Detections, thresholds: dict[int, float]) -> Detections:
    """The predictions that reach their class's threshold."""
    floor = np.array([thresholds.get(c, 1.0) for c in range(max(d.names, default=0) + 1)])
    keep = d.pred_conf >= floor[np.clip(d.pred_cls, 0, len(floor) - 1)]
    return replace(
        d,
        pred_image=d.pred_image[keep],
        pred_cls=d.pred_cls[keep],
        pred_conf=d.pred_conf[keep],
        pred_box=d.pred_box[keep],
    )

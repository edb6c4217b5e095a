"""Paired bootstrap over images: how sure is a difference between two models evaluated on the same images?

Each resample draws the test images with replacement; both models are scored on the same draw
(paired), so what the images have in common (easy or hard ones) cancels out of the difference.
mAP is computed as the evaluation computes it (Ultralytics' greedy matching at IoU 0.50:0.95,
101-point interpolated AP), with each image's predictions and labels counted as often as the image
was drawn; precision, recall and F1 are sums of the per-image counts at each model's thresholds.

    result = paired_bootstrap(pair, resamples=1000, seed=0)
    result.metrics["map50_95"]   # {"a", "b", "delta", "ci_low", "ci_high", "se"}

The resampled AP needs only the true positives (see _ap_from_hits); the false positives enter through
the count of predictions seen before each true positive, one matrix product per class.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcore.evaluation.analysis import (
    FP_TYPES,
    IOU_THRESHOLDS,
    Analysis,
    Detections,
    average_precision,
    correct_at_thresholds,
)

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
AP_METRICS = ("map50", "map50_95")
RATE_METRICS = ("precision", "recall", "f1")
METRICS = (*AP_METRICS, *RATE_METRICS)
CLASS_METRICS = ("ap50", "ap50_95", *RATE_METRICS)
GRID = np.linspace(0, 1, 101)


@dataclass(frozen=True)
class ScoredModel:
    """One model on the compared images: every stored prediction (for mAP), and those kept at its
    deployment thresholds with their analysis (for precision, recall and F1)."""

    detections: Detections
    kept: Detections
    analysis: Analysis


@dataclass(frozen=True)
class Bootstrap:
    metrics: dict[str, dict[str, float]]
    """Per overall metric: a, b, delta (= b - a), ci_low, ci_high, se (of the delta)."""
    per_class: dict[str, dict[str, dict[str, float]]]
    """Class name -> per class metric (ap50, ap50_95, precision, recall, f1) -> the same keys."""
    resamples: int
    seed: int


def _per_image(d: Detections, result: Analysis, nc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, classes) true positives, false positives and misses at the analysis' thresholds."""
    n = len(d.images)

    def count(image: np.ndarray, cls: np.ndarray) -> np.ndarray:
        return np.bincount(image * nc + cls, minlength=n * nc).reshape(n, nc).astype(np.float64)

    tp = result.pred_type == "tp"
    fp = np.isin(result.pred_type, FP_TYPES)
    fn = result.gt_type != "tp"
    return (
        count(d.pred_image[tp], d.pred_cls[tp]),
        count(d.pred_image[fp], d.pred_cls[fp]),
        count(d.gt_image[fn], d.gt_cls[fn]),
    )


@dataclass(frozen=True)
class _ClassCurve:
    """One class's predictions in confidence order, reduced to its true positives."""

    image: np.ndarray
    """(K,) the image of each prediction that is a true positive at some IoU threshold."""
    before: np.ndarray
    """(images, K) how many predictions of each image come after the previous such one, up to this one."""
    hits: list[np.ndarray]
    """Per IoU threshold, which of the K are true positives there (indices)."""


def _curves(d: Detections, classes: np.ndarray) -> list[_ClassCurve]:
    correct = correct_at_thresholds(d)
    n = len(d.images)
    curves = []
    for c in classes:
        mine = np.flatnonzero(d.pred_cls == c)
        mine = mine[np.argsort(-d.pred_conf[mine], kind="stable")]
        hit = correct[mine]
        kept = np.flatnonzero(hit.any(1))
        image = d.pred_image[mine].astype(np.int64)
        end = int(kept[-1]) + 1 if len(kept) else 0
        segment = np.searchsorted(kept, np.arange(end))  # the true positive each prediction is counted up to
        before = np.zeros((n, len(kept)), dtype=np.float32)
        np.add.at(before, (image[:end], segment), 1)
        hits = [np.flatnonzero(hit[kept, t]) for t in range(hit.shape[1])]
        curves.append(_ClassCurve(image[kept], before, hits))
    return curves


GRID_TOLERANCE = 1e-4  # in grid steps: a float32 recall that equals a grid point still counts as on it


def _ap_from_hits(hits: np.ndarray, seen: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(R,) 101-point interpolated AP from the weighted counts at each true positive: `hits` true positives and
    `seen` predictions so far (at least 0.5: an undrawn image's true positive adds a point of width 0), of
    `labels` labels.

    Equal to analysis._interpolated_ap on the whole curve: np.interp on the precision envelope reads, at each
    grid point x, the envelope of the last curve point with recall <= x. Between two true positives that is the
    envelope at the second (the last false positive before a true positive never has a higher precision than
    it), and the envelope over all points is the envelope over the true positives. So each true positive's
    envelope counts for the grid points from the previous recall up to its own, with the trapezoid rule's
    weights: c grid points below a recall weigh 0.01 c - 0.005 (0 for none, 1 for all 101)."""
    envelope = np.maximum.accumulate((hits / seen)[:, ::-1], axis=1)[:, ::-1]
    steps = hits * ((len(GRID) - 1) / np.maximum(labels, 1e-9)).astype(np.float32)[:, None]  # recall, in grid steps
    below = np.ceil(steps - GRID_TOLERANCE)  # grid points under each recall
    covered = np.clip(below * np.float32(0.01) - np.float32(0.005), 0.0, 1.0)
    covered[:, 1:] -= covered[:, :-1].copy()  # the width each true positive covers
    return np.einsum("rk,rk->r", envelope, covered, dtype=np.float64)


def _resampled_ap(curve: _ClassCurve, weights: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(R, 10) AP of one class under each row of image weights; NaN where the draw has no label of it."""
    r, t = len(weights), len(IOU_THRESHOLDS)
    ap = np.zeros((r, t))
    if len(curve.image):
        seen = np.maximum(np.cumsum(weights @ curve.before, axis=1), 0.5)  # predictions so far at each, (R, K)
        drawn = weights[:, curve.image]  # (R, K): how often the image of each true positive was drawn
        for i, at in enumerate(curve.hits):
            if len(at):
                ap[:, i] = _ap_from_hits(np.cumsum(drawn[:, at], axis=1), seen[:, at], labels)
    ap[labels <= 0] = np.nan
    return ap


def _rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1}


def _summary(a: float, b: float, deltas: np.ndarray) -> dict[str, float]:
    tail = (1 - LEVEL) / 2 * 100
    finite = deltas[np.isfinite(deltas)]
    low, high = np.percentile(finite, [tail, 100 - tail]) if len(finite) else (np.nan, np.nan)
    return {
        "a": float(a),
        "b": float(b),
        "delta": float(b - a),
        "ci_low": float(low),
        "ci_high": float(high),
        "se": float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
    }


def paired_bootstrap(a: ScoredModel, b: ScoredModel, resamples: int = RESAMPLES, seed: int = SEED) -> Bootstrap:
    """Differences b - a with paired, seeded bootstrap intervals. Both must hold the same images in the same
    order with the same labels (compare.pairing.pair makes sure)."""
    with warnings.catch_warnings():  # a draw without any label of a class leaves its AP undefined (NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        return _paired_bootstrap(a, b, resamples, seed)


def _paired_bootstrap(a: ScoredModel, b: ScoredModel, resamples: int, seed: int) -> Bootstrap:
    d = a.detections
    n, nc = len(d.images), max(d.names, default=-1) + 1
    rng = np.random.default_rng(seed)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)]).astype(np.float32)
    classes = np.unique(d.gt_cls).astype(np.int64)
    labels_per_image = np.zeros((n, nc), dtype=np.float32)
    np.add.at(labels_per_image, (d.gt_image, d.gt_cls), 1)
    labels = weights @ labels_per_image[:, classes]  # (R, classes)

    ap_draws, ap_points, rate_draws, rate_points = {}, {}, {}, {}
    for key, model in (("a", a), ("b", b)):
        curves = _curves(model.detections, classes)
        draws = (
            np.stack([_resampled_ap(c, weights, labels[:, i]) for i, c in enumerate(curves)], axis=1)
            if curves
            else np.full((resamples, 0, len(IOU_THRESHOLDS)), np.nan)
        )  # a split without any label has no mAP
        ap_draws[key] = draws  # (R, classes, 10)
        ap_points[key] = average_precision(model.detections)
        tp, fp, fn = _per_image(model.kept, model.analysis, nc)
        rate_draws[key] = (weights @ tp, weights @ fp, weights @ fn)  # (R, nc) each
        rate_points[key] = (tp.sum(0), fp.sum(0), fn.sum(0))

    metrics: dict[str, dict[str, float]] = {}
    with np.errstate(invalid="ignore"):
        for name, column in (("map50", 0), ("map50_95", slice(None))):
            drawn = {
                k: np.nanmean(np.nanmean(v[:, :, column], axis=2) if name == "map50_95" else v[:, :, column], axis=1)
                for k, v in ap_draws.items()
            }
            metrics[name] = _summary(ap_points["a"][name], ap_points["b"][name], drawn["b"] - drawn["a"])
    totals = {k: _rates(*(x.sum(1) for x in v)) for k, v in rate_draws.items()}
    points = {k: _rates(*(np.array([x.sum()]) for x in v)) for k, v in rate_points.items()}
    for name in RATE_METRICS:
        metrics[name] = _summary(points["a"][name][0], points["b"][name][0], totals["b"][name] - totals["a"][name])

    per_class: dict[str, dict[str, dict[str, float]]] = {}
    class_rates = {k: _rates(*v) for k, v in rate_draws.items()}
    class_points = {k: _rates(*v) for k, v in rate_points.items()}
    for c, name in sorted(d.names.items()):
        row: dict[str, dict[str, float]] = {}
        if c in classes:
            i = int(np.flatnonzero(classes == c)[0])
            with np.errstate(invalid="ignore"):
                class_draws = {k: (v[:, i, 0], np.nanmean(v[:, i], 1)) for k, v in ap_draws.items()}
                for j, metric in enumerate(("ap50", "ap50_95")):
                    point = {k: ap_points[k]["per_class"].get(name, {}).get(metric, 0.0) for k in ap_points}
                    row[metric] = _summary(point["a"], point["b"], class_draws["b"][j] - class_draws["a"][j])
        for metric in RATE_METRICS:
            row[metric] = _summary(
                class_points["a"][metric][c],
                class_points["b"][metric][c],
                class_rates["b"][metric][:, c] - class_rates["a"][metric][:, c],
            )
        per_class[name] = row
    return Bootstrap(metrics, per_class, resamples, seed)


def as_dict(result: Bootstrap) -> dict[str, Any]:
    return {
        "metrics": result.metrics,
        "per_class": result.per_class,
        "resamples": result.resamples,
        "seed": result.seed,
        "level": LEVEL,
    }

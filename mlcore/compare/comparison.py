"""An A/B comparison of two finished evaluations of the same split: side by side, with paired bootstrap
intervals for every difference, error types, sizes, speed, a verdict and the disagreeing images.

    side_a = Side("logo-detector v1", folder_a, profile_a)     # profile: the thresholds it is deployed with
    document = compare_evaluations(side_a, side_b)
    document["verdict"], document["metrics"]["map50_95"]["ci_low"]

mAP is over every stored prediction (as Ultralytics' validation computes it); precision, recall and F1
are at each side's thresholds: its deployment profile (confidence, per-class thresholds, NMS IoU) or
the common thresholds the caller gives. A prediction matches a label at IoU >= MATCH_IOU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcore.compare.bootstrap import RESAMPLES, SEED, ScoredModel, as_dict, paired_bootstrap
from mlcore.compare.disagreements import disagreements
from mlcore.compare.pairing import ComparisonError, pair
from mlcore.compare.verdict import verdict
from mlcore.core import paths
from mlcore.evaluation.analysis import ERROR_TYPES, SIZES, Detections, analyze
from mlcore.evaluation.store import EvaluationUnreadable, load_detections, load_evaluation_metrics
from mlcore.predict.advisor import apply_nms, kept_at_thresholds
from mlcore.predict.profile import DeploymentProfile

MATCH_IOU = 0.5
SCHEMA = 1


@dataclass(frozen=True)
class Side:
    """One model of a comparison: what to call it, its finished evaluation, and its thresholds."""

    label: str
    evaluation: Path
    thresholds: DeploymentProfile = field(default_factory=DeploymentProfile)
    model: str = ""
    sha256: str = ""
    reference: str = ""
    """What the user typed: NAME:VERSION, NAME@ALIAS, a run or a path."""


def kept_at(d: Detections, profile: DeploymentProfile) -> Detections:
    """The predictions a deployment with `profile` keeps: NMS at its IoU, then each class's threshold."""
    thresholds = {c: profile.per_class.get(name, profile.confidence) for c, name in d.names.items()}
    return kept_at_thresholds(d if profile.nms_free else apply_nms(d, profile.iou), thresholds)


def scored(d: Detections, profile: DeploymentProfile) -> ScoredModel:
    kept = kept_at(d, profile)
    return ScoredModel(d, kept, analyze(kept, conf=0.0, iou=MATCH_IOU))


def _load(side: Side) -> tuple[Detections, dict[str, Any]]:
    try:
        return load_detections(side.evaluation), load_evaluation_metrics(side.evaluation)
    except EvaluationUnreadable as exc:
        raise ComparisonError(f"{side.label}: {exc}") from None


def _thresholds(profile: DeploymentProfile) -> dict[str, Any]:
    return {
        "confidence": profile.confidence,
        "per_class": profile.per_class,
        "nms_iou": None if profile.nms_free else profile.iou,
        "nms_free": profile.nms_free,
        "objective": profile.objective or "default",
    }


def _side_by_side(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {key: {"a": a.get(key, 0), "b": b.get(key, 0), "delta": b.get(key, 0) - a.get(key, 0)} for key in a}


def _speed(metrics: dict[str, Any]) -> float | None:
    speed = (metrics.get("ultralytics") or {}).get("speed_ms") or {}
    return round(sum(float(v) for v in speed.values()), 3) if speed else None


def compare_evaluations(a: Side, b: Side, resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """The comparison document (what comparison.json holds and `models compare --json` prints)."""
    (da, ma), (db, mb) = _load(a), _load(b)
    da, db = pair(da, db)
    sa, sb = scored(da, a.thresholds), scored(db, b.thresholds)
    result = paired_bootstrap(sa, sb, resamples, seed)
    code, words, needed = verdict(result.metrics, len(da.images))
    speed_a, speed_b = _speed(ma), _speed(mb)
    sizes = [
        {
            "size": s,
            "instances": ra["instances"],
            **{f"{k}_{side}": r[k] for side, r in (("a", ra), ("b", rb)) for k in ("precision", "recall", "f1")},
        }
        for s, ra, rb in zip(SIZES, sa.analysis.by_size, sb.analysis.by_size, strict=True)
    ]
    return {
        "schema": SCHEMA,
        "a": {
            "label": a.label,
            "reference": a.reference,
            "model": a.model,
            "sha256": a.sha256,
            "evaluation": str(a.evaluation),
            "thresholds": _thresholds(a.thresholds),
            "ms_per_image": speed_a,
        },
        "b": {
            "label": b.label,
            "reference": b.reference,
            "model": b.model,
            "sha256": b.sha256,
            "evaluation": str(b.evaluation),
            "thresholds": _thresholds(b.thresholds),
            "ms_per_image": speed_b,
        },
        "dataset": str(ma.get("dataset_root", "")),
        "split": _split(a.evaluation),
        "images": len(da.images),
        "match_iou": MATCH_IOU,
        **as_dict(result),
        "verdict": code,
        "summary": words,
        "images_needed": needed,
        "error_types": _side_by_side(
            {t: sa.analysis.error_counts[t] for t in ERROR_TYPES}, {t: sb.analysis.error_counts[t] for t in ERROR_TYPES}
        ),
        "by_size": sizes,
        "speed": {
            "a_ms": speed_a,
            "b_ms": speed_b,
            "ratio": round(speed_b / speed_a, 3) if speed_a and speed_b else None,
        },
        "disagreements": disagreements(sa, sb),
        "created": time.time(),
    }


def _split(folder: Path) -> str:
    try:
        config = yaml.safe_load((folder / paths.EVAL_CONFIG).read_text())
    except (OSError, yaml.YAMLError):
        return ""
    return str(config.get("split", "")) if isinstance(config, dict) else ""


def scored_sides(document: dict[str, Any]) -> tuple[ScoredModel, ScoredModel]:
    """The two models of a stored comparison again, at its thresholds (for its gallery)."""
    loaded = []
    for key in ("a", "b"):
        side = document[key]
        t = side["thresholds"]
        free = bool(t.get("nms_free"))
        iou = DeploymentProfile.iou if free or t.get("nms_iou") is None else t["nms_iou"]
        profile = DeploymentProfile(confidence=t["confidence"], iou=iou, per_class=t["per_class"], nms_free=free)
        loaded.append((Side(side["label"], Path(side["evaluation"])), profile))
    (da, _), (db, _) = (_load(s) for s, _ in loaded)
    da, db = pair(da, db)
    return scored(da, loaded[0][1]), scored(db, loaded[1][1])

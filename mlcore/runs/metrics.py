"""A run's final validation as numbers (metrics.json, written by the worker), read for the charts.

metrics = read_metrics(run_dir / "metrics.json")      # None while there is none
rows = class_table(metrics)                          # one row per class
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PR_CURVE = "Precision-Recall(B)"
F1_CURVE = "F1-Confidence(B)"
P_CURVE = "Precision-Confidence(B)"
R_CURVE = "Recall-Confidence(B)"
CURVES = (PR_CURVE, F1_CURVE, P_CURVE, R_CURVE)


class MetricsError(ValueError):
    """metrics.json exists but cannot be used; the message says what to do."""


def read_metrics(path: Path) -> dict[str, Any] | None:
    """The metrics, or None when the file does not exist; a damaged file raises MetricsError."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise MetricsError(
            f"{path.name} cannot be read ({type(exc).__name__}); compute the metrics again to replace it."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
        raise MetricsError(f"{path.name} is not a metrics file of the studio; compute the metrics again to replace it.")
    return data


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def class_table(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Per class: instances, images, P, R, F1, AP50, AP50-95 (classes absent from the split are left out)."""
    return [
        {
            "class": c.get("name", str(c.get("id"))),
            "instances": c.get("instances"),
            "images": c.get("images"),
            "precision": c.get("precision", 0.0),
            "recall": c.get("recall", 0.0),
            "f1": f1(c.get("precision", 0.0), c.get("recall", 0.0)),
            "ap50": c.get("ap50", 0.0),
            "ap50_95": c.get("ap50_95", 0.0),
        }
        for c in metrics["classes"]
    ]


def best_f1(metrics: dict[str, Any]) -> tuple[float, float] | None:
    """(confidence, F1) where the all-classes F1 curve peaks: the threshold that balances P and R."""
    curve = (metrics.get("curves") or {}).get(F1_CURVE)
    if not curve or not curve.get("y"):
        return None
    rows = curve["y"]
    mean = [sum(col) / len(col) for col in zip(*rows, strict=True)]
    i = max(range(len(mean)), key=mean.__getitem__)
    return float(curve["x"][i]), float(mean[i])


def curve_names(metrics: dict[str, Any]) -> list[str]:
    """The curve arrays present, in the usual order."""
    present = metrics.get("curves") or {}
    return [name for name in CURVES if name in present]

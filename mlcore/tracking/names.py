"""Studio values as MLflow wants them: flat string params and metric names it accepts.

metric_name("metrics/mAP50-95(B)") == "metrics/mAP50-95B"
flat_params({"advanced": {"mosaic": 0.5}}) == {"advanced.mosaic": "0.5"}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

PARAM_VALUE_LIMIT = 6000  # MLflow 3's longest param value
UNSAFE = re.compile(r"[^\w.\- :/]")  # MLflow allows letters, digits, _ - . space : /


def metric_name(key: str) -> str:
    """An MLflow-safe name: parentheses dropped (as Ultralytics' own MLflow callback does), others replaced."""
    return UNSAFE.sub("_", key.replace("(", "").replace(")", "")).strip() or "_"


def metric_values(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric entries of `values` under MLflow-safe names (non-numbers left out)."""
    found = {}
    for key, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isinf(number):
            found[metric_name(prefix + str(key))] = number
    return found


def flat_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings flattened to dotted names; lists as JSON; every value a string MLflow accepts."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = metric_name(prefix + str(key))
        if isinstance(value, Mapping):
            flat |= flat_params(value, f"{name}.")
        else:
            text = json.dumps(value) if isinstance(value, list | tuple) else str(value)
            flat[name] = text[:PARAM_VALUE_LIMIT]
    return flat

"""Comparing runs: the metrics that can be compared, their figures side by side, and what differs in
their configurations. Pure functions, tested without Streamlit (the overlay chart is in
`mlcore.charts.compare`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlcore.runs.results import MAP50, MAP50_95
from mlcore.runs.store import RunSummary

COMPARABLE = {
    "mAP50-95": MAP50_95,
    "mAP50": MAP50,
    "precision": "metrics/precision(B)",
    "recall": "metrics/recall(B)",
    "box loss (val)": "val/box_loss",
    "class loss (val)": "val/cls_loss",
    "DFL loss (val)": "val/dfl_loss",
    "box loss (train)": "train/box_loss",
    "class loss (train)": "train/cls_loss",
    "DFL loss (train)": "train/dfl_loss",
    "learning rate": "lr/pg0",
}
MAX_RUNS = 8


def metrics_side_by_side(runs: list[RunSummary], frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One column per run: best and last figures, epochs and time (as text, ready to show)."""
    columns = {}
    for run in runs:
        frame = frames.get(run.name, pd.DataFrame())
        last = frame.iloc[-1] if len(frame) else {}
        columns[run.name] = {
            "best mAP50-95": run.best_map50_95,
            "best mAP50": run.best_map50,
            "best epoch": run.best,
            "last mAP50-95": last.get(MAP50_95) if len(frame) else None,
            "last precision": last.get("metrics/precision(B)") if len(frame) else None,
            "last recall": last.get("metrics/recall(B)") if len(frame) else None,
            "epochs": f"{run.epochs_done}/{run.epochs_total or '?'}",
            "minutes": None if run.seconds is None else run.seconds / 60,
        }
    return pd.DataFrame({name: {k: _number(v) for k, v in rows.items()} for name, rows in columns.items()})


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def config_diff(configs: dict[str, dict[str, Any]], only_differences: bool = False) -> pd.DataFrame:
    """Every setting (rows) of every run (columns), with a `differs` column; nested values flattened."""
    flat = {name: _flatten(config) for name, config in configs.items()}
    keys = sorted(set().union(*(f.keys() for f in flat.values()))) if flat else []
    rows = []
    for key in keys:
        values = [flat[name].get(key, "—") for name in flat]
        differs = len({repr(v) for v in values}) > 1
        if only_differences and not differs:
            continue
        shown = {name: _text(v) for name, v in zip(flat, values, strict=True)}
        rows.append({"setting": key, **shown, "differs": differs})
    return pd.DataFrame(rows, columns=["setting", *flat, "differs"])


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat |= _flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def _text(value: Any) -> str:
    return "—" if value is None else str(value)

"""Static visualizations of a run, for reports and e-mail: PNGs drawn with matplotlib (no browser)
and one self-contained report.html with the interactive charts (plotly.js inlined: works offline).

    ml_outputs/visualizations/{model_name}_{timestamp}/
        training_curves.png  class_metrics.png  confusion_matrix.png  pr_curve.png  f1_curve.png
        report.html          summary.json

The flags are the original `model/visualize` request's names.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlcore.charts.metrics import class_bars, confusion_matrix, curve
from mlcore.charts.training import training_history
from mlcore.core import paths
from mlcore.core.folders import stamped_folder
from mlcore.core.paths import RunFolder
from mlcore.core.safe_paths import PathNotAllowed
from mlcore.core.settings import Settings
from mlcore.runs.metrics import F1_CURVE, PR_CURVE, MetricsError, class_table, read_metrics
from mlcore.runs.results import EPOCH, MAP50, MAP50_95, lr_columns, read_results
from mlcore.runs.store import RunSummary, list_runs, metrics_file

FLAGS = (
    "include_training_history",
    "include_class_metrics",
    "include_confusion_matrix",
    "include_pr_curve",
    "include_f1_curve",
)
FILES = {
    "include_training_history": "training_curves.png",
    "include_class_metrics": "class_metrics.png",
    "include_confusion_matrix": "confusion_matrix.png",
    "include_pr_curve": "pr_curve.png",
    "include_f1_curve": "f1_curve.png",
}


@dataclass
class Export:
    """What an export wrote, and what it left out and why."""

    folder: Path
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def find_run(text: str, settings: Settings) -> RunSummary:
    """A run named as project/experiment, by its folder, or by a weights file inside it."""
    wanted = Path(str(text).strip())
    try:
        real = wanted.resolve()
    except (OSError, ValueError):  # a NUL byte, a link loop: no run has such a path
        real = None
    for run in list_runs(settings):
        if text.strip() == run.name or real in (run.path.resolve(), *(w.resolve() for w in run.weights)):
            return run
    raise PathNotAllowed(
        f"no run {text!r}; name one as project/experiment (see the Runs page or `python -m mlcore jobs list`), "
        "or give its weights/best.pt."
    )


def export_visualizations(run: RunSummary, settings: Settings, **flags: bool) -> Export:
    """Write the chosen figures (all by default) into a new timestamped folder."""
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown flag(s) {sorted(unknown)}; use {', '.join(FLAGS)}.")
    chosen = {flag: flags.get(flag, True) for flag in FLAGS}
    name = re.sub(r"[^\w.-]+", "_", run.experiment)[:60] or "run"
    folder = stamped_folder(settings.outputs_root / paths.VISUALIZATIONS_DIR, name)
    export = Export(folder)
    frame = read_results(RunFolder(run.path).results_csv)
    try:
        metrics = read_metrics(metrics_file(run, settings))
    except MetricsError as exc:
        metrics, reason = None, str(exc)
    else:
        reason = "the run has no metrics.json yet: compute its metrics on the Runs page first."

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = metrics or {}  # the metric figures are drawn only when there are metrics
    drawers = {
        "include_training_history": (lambda: _training_curves(plt, frame), "the run has no completed epoch."),
        "include_class_metrics": (lambda: _class_metrics(plt, drawn), reason),
        "include_confusion_matrix": (lambda: _confusion(plt, drawn), reason),
        "include_pr_curve": (lambda: _curve(plt, drawn, PR_CURVE), reason),
        "include_f1_curve": (lambda: _curve(plt, drawn, F1_CURVE), reason),
    }
    for flag, (draw, why) in drawers.items():
        if not chosen[flag]:
            continue
        available = not frame.empty if flag == "include_training_history" else metrics is not None
        if flag in ("include_pr_curve", "include_f1_curve") and metrics is not None:
            available = (PR_CURVE if flag == "include_pr_curve" else F1_CURVE) in (metrics.get("curves") or {})
        if not available:
            export.skipped[FILES[flag]] = why
            continue
        fig = draw()
        fig.savefig(folder / FILES[flag], dpi=130, bbox_inches="tight")
        plt.close(fig)
        export.files.append(FILES[flag])
    (folder / "report.html").write_text(_report_html(run, frame, metrics, chosen), encoding="utf-8")
    export.files.append("report.html")
    summary = {"run": run.name, "run_dir": str(run.path), "files": export.files, "skipped": export.skipped}
    (folder / "summary.json").write_text(json.dumps({**summary, "flags": chosen}, indent=2))
    return export


def _training_curves(plt: Any, frame: pd.DataFrame) -> Any:
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    panels = [
        ("Box loss", [("train/box_loss", "train"), ("val/box_loss", "val")]),
        ("Class loss", [("train/cls_loss", "train"), ("val/cls_loss", "val")]),
        ("DFL loss", [("train/dfl_loss", "train"), ("val/dfl_loss", "val")]),
        ("Precision and recall", [("metrics/precision(B)", "precision"), ("metrics/recall(B)", "recall")]),
        ("mAP", [(MAP50, "mAP50"), (MAP50_95, "mAP50-95")]),
        ("Learning rate", [(c, c) for c in lr_columns(frame)]),
    ]
    for ax, (title, lines) in zip(axes.flat, panels, strict=True):
        for column, label in lines:
            if column in frame:
                ax.plot(frame[EPOCH], frame[column], marker="o" if len(frame) < 30 else None, ms=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _class_metrics(plt: Any, metrics: dict[str, Any]) -> Any:
    table = class_table(metrics)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(table) + 2), 4.5))
    width = 0.2
    for i, (key, label) in enumerate((("precision", "P"), ("recall", "R"), ("ap50", "AP50"), ("ap50_95", "AP50-95"))):
        ax.bar([j + (i - 1.5) * width for j in range(len(table))], [r[key] for r in table], width, label=label)
    ax.set_xticks(range(len(table)), [r["class"] for r in table], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_title("Per-class metrics")
    ax.legend(ncols=4, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _confusion(plt: Any, metrics: dict[str, Any]) -> Any:
    matrix = metrics.get("confusion_matrix") or [[0]]
    axes = metrics.get("confusion_axes") or [str(i) for i in range(len(matrix))]
    size = max(5, 0.7 * len(axes) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(axes)), axes, rotation=45, ha="right")
    ax.set_yticks(range(len(axes)), axes)
    ax.set_xlabel("true class")
    ax.set_ylabel("predicted class")
    peak = max((max(row) for row in matrix), default=0) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(j, i, f"{int(value)}", ha="center", va="center", color="white" if value > peak / 2 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title("Confusion matrix (counts)")
    fig.tight_layout()
    return fig


def _curve(plt: Any, metrics: dict[str, Any], name: str) -> Any:
    data = metrics["curves"][name]
    fig, ax = plt.subplots(figsize=(7, 5))
    names = [c.get("name", str(c.get("id"))) for c in metrics["classes"]]
    for label, ys in zip(names, data["y"], strict=False):
        ax.plot(data["x"], ys, linewidth=1, label=label)
    if data["y"]:
        mean = [sum(col) / len(col) for col in zip(*data["y"], strict=True)]
        ax.plot(data["x"], mean, linewidth=3, color="#111827", label="all classes")
    ax.set_xlabel(data["xlabel"])
    ax.set_ylabel(data["ylabel"])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(name.replace("(B)", ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left" if name == PR_CURVE else "best")
    fig.tight_layout()
    return fig


def _report_html(run: RunSummary, frame: pd.DataFrame, metrics: dict | None, chosen: dict[str, bool]) -> str:
    figures = []
    if chosen["include_training_history"] and not frame.empty:
        figures.append(("Training history", training_history(frame)))
    if metrics is not None:
        if chosen["include_confusion_matrix"]:
            figures.append(("Confusion matrix", confusion_matrix(metrics)))
        for flag, name in (("include_pr_curve", PR_CURVE), ("include_f1_curve", F1_CURVE)):
            if chosen[flag] and name in (metrics.get("curves") or {}):
                figures.append((name.replace("(B)", ""), curve(metrics, name)))
        if chosen["include_class_metrics"]:
            figures.append(("Per-class metrics", class_bars(metrics)))
    parts = []
    for i, (title, fig) in enumerate(figures):
        body = fig.to_html(full_html=False, include_plotlyjs=i == 0, config={"displaylogo": False})
        parts.append(f"<h2>{html.escape(title)}</h2>\n{body}")
    facts = {
        "run": run.name,
        "architecture": run.spec.get("model_architecture"),
        "dataset": run.spec.get("dataset_path"),
        "epochs": f"{run.epochs_done}/{run.epochs_total or '?'}",
        "best mAP50-95": "—" if run.best_map50_95 is None else f"{run.best_map50_95:.4f} (epoch {run.best})",
        "best mAP50": "—" if run.best_map50 is None else f"{run.best_map50:.4f}",
    }
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    empty = "" if figures else "<p>No chart to show: the run has no completed epoch and no metrics.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(run.name)} · ML Studio</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#111827}}
table{{border-collapse:collapse}}th,td{{text-align:left;padding:.25rem 1rem .25rem 0}}h2{{margin-top:2.5rem}}</style>
</head><body><h1>{html.escape(run.name)}</h1>
<p>Exported by ML Studio on {datetime.now():%Y-%m-%d %H:%M}. Every chart is interactive and works offline.</p>
<table>{rows}</table>
{empty}{"".join(parts)}
</body></html>
"""

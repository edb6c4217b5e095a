"""Charts of an evaluation at the chosen thresholds. Pure functions: numbers in, `go.Figure` out."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from mlcore.charts.metrics import confusion_matrix, curve, score_bars
from mlcore.charts.system import ALERT, WARN
from mlcore.runs.metrics import PR_CURVE

ERROR_HELP = {
    "duplicate": "a second box on an object already found",
    "classification": "right place, wrong class",
    "localization": "right class, box off (IoU between 0.1 and the match threshold)",
    "both": "wrong class and box off",
    "background": "a box where there is nothing",
    "missed": "an object no box came near",
}
ERROR_COLOURS = {
    "duplicate": "#7c3aed",
    "classification": ALERT,
    "localization": WARN,
    "both": "#db2777",
    "background": "#6b7280",
    "missed": "#0891b2",
}


def error_type_bars(error_counts: dict[str, int], height: int = 320) -> go.Figure:
    """How many false positives of each type, and how many objects were missed."""
    kinds = list(ERROR_HELP)
    fig = go.Figure(
        go.Bar(
            x=kinds,
            y=[error_counts.get(k, 0) for k in kinds],
            marker_color=[ERROR_COLOURS[k] for k in kinds],
            customdata=[ERROR_HELP[k] for k in kinds],
            text=[error_counts.get(k, 0) for k in kinds],
            textposition="outside",
            hovertemplate="%{x}: %{y} boxes<br>%{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"title": "boxes"},
        title={"text": "Errors by type", "x": 0},
    )
    return fig


def _scores(labels: list[str], rows: list[dict[str, Any]], keys: tuple[str, ...], height: int) -> go.Figure:
    return score_bars(labels, rows, tuple((key, key) for key in keys), height, y_top=1.05, legend_y=1.12)


def size_bars(by_size: list[dict[str, Any]], height: int = 320) -> go.Figure:
    """Precision, recall and F1 for small, medium and large boxes, with the number of objects of each."""
    labels = [f"{row['size']} ({row['instances']} objects)" for row in by_size]
    fig = _scores(labels, by_size, ("precision", "recall", "f1"), height)
    fig.update_layout(title={"text": "By box size (COCO bounds, as the model sees the image)", "x": 0})
    return fig


def class_scores(per_class: list[dict[str, Any]], height: int = 340) -> go.Figure:
    """Precision, recall, F1 and accuracy per class at the thresholds."""
    names = [row["name"] for row in per_class]
    return _scores(names, per_class, ("precision", "recall", "f1", "accuracy"), height)


def clickable_confusion(axes: list[str], matrix: list[list[int]], normalised: bool = False) -> go.Figure:
    """The confusion matrix heatmap with an invisible marker on every cell, so that a click selects it.

    A selected point's `customdata` is [predicted index, true index]."""
    fig = confusion_matrix({"confusion_matrix": matrix, "confusion_axes": axes}, normalised)
    cells = [(i, j) for i in range(len(axes)) for j in range(len(axes)) if matrix[i][j]]
    fig.add_trace(
        go.Scatter(
            x=[axes[j] for _, j in cells],
            y=[axes[i] for i, _ in cells],
            mode="markers",
            marker={"size": 28, "color": "rgba(0,0,0,0)"},
            customdata=[[i, j] for i, j in cells],
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


def threshold_curve(metrics: dict[str, Any], name: str, conf: float, classes: list[str] | None = None) -> go.Figure:
    """A stored curve (per class and all classes) with the confidence threshold in use marked."""
    fig = curve(metrics, name, classes)
    if name != PR_CURVE:
        fig.add_vline(x=conf, line={"color": ALERT, "width": 2})
        fig.add_annotation(
            x=conf,
            y=0.02,
            yref="paper",
            showarrow=False,
            xanchor="left",
            font={"color": ALERT},
            text=f" your threshold {conf:.2f}",
        )
    return fig

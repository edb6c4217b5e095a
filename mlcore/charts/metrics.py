"""Charts of a run's final validation (metrics.json). Pure functions: numbers in, `go.Figure` out."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from mlcore.charts.system import ACCENT, WARN
from mlcore.runs.metrics import F1_CURVE, PR_CURVE, best_f1, class_table

PALETTE = ("#2563eb", "#d97706", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9333ea")


def confusion_matrix(metrics: dict[str, Any], normalised: bool = False, height: int = 560) -> go.Figure:
    """Predicted (rows) against true (columns), with the background row and column, as Ultralytics counts.

    Normalised: each true class's column sums to 1, so the diagonal reads as recall per class."""
    matrix = metrics.get("confusion_matrix") or []
    axes = list(metrics.get("confusion_axes") or [str(i) for i in range(len(matrix))])
    values = [list(map(float, row)) for row in matrix]
    totals = [sum(col) for col in zip(*values, strict=True)] if values else []
    shown = [[v / totals[j] if normalised and totals[j] else v for j, v in enumerate(row)] for row in values]
    hover = [
        [
            f"true {axes[j]}<br>predicted {axes[i]}<br>{int(values[i][j])} boxes"
            + (f" ({values[i][j] / totals[j]:.0%} of true {axes[j]})" if totals[j] else "")
            for j in range(len(axes))
        ]
        for i in range(len(axes))
    ]
    fig = go.Figure(
        go.Heatmap(
            z=shown,
            x=axes,
            y=axes,
            text=[[f"{v:.2f}" if normalised else f"{int(v)}" for v in row] for row in shown],
            texttemplate="%{text}",
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalised else None,
        )
    )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": "true class", "side": "bottom", "tickangle": -45},
        yaxis={"title": "predicted class", "autorange": "reversed"},
        title={"text": "Confusion matrix" + (" (normalised per true class)" if normalised else ""), "x": 0},
    )
    return fig


def curve(metrics: dict[str, Any], name: str, classes: list[str] | None = None, height: int = 440) -> go.Figure:
    """One stored curve (1,000 points) per class and for all classes; best-F1 confidence marked."""
    data = metrics["curves"][name]
    names = [c.get("name", str(c.get("id"))) for c in metrics["classes"]]
    rows = data["y"]
    fig = go.Figure()
    ap50 = {c["class"]: c["ap50"] for c in class_table(metrics)}
    hover = f"{data['xlabel']} %{{x:.3f}}<br>{data['ylabel']} %{{y:.3f}}<extra></extra>"
    for i, (label, ys) in enumerate(zip(names, rows, strict=False)):
        if classes is not None and label not in classes:
            continue
        suffix = f" (AP50 {ap50[label]:.3f})" if name == PR_CURVE and label in ap50 else ""
        fig.add_trace(
            go.Scatter(
                x=data["x"],
                y=ys,
                name=label + suffix,
                mode="lines",
                line={"width": 1.5, "color": PALETTE[i % len(PALETTE)]},
                hovertemplate=f"{label}<br>{hover}",
            )
        )
    if rows:
        mean = [sum(col) / len(col) for col in zip(*rows, strict=True)]
        label = "all classes" + (f" (mAP50 {metrics.get('map50', 0):.3f})" if name == PR_CURVE else "")
        fig.add_trace(
            go.Scatter(
                x=data["x"],
                y=mean,
                name=label,
                mode="lines",
                line={"width": 3.5, "color": "#111827"},
                hovertemplate=f"all classes<br>{hover}",
            )
        )
    best = best_f1(metrics)
    if best and name != PR_CURVE:
        conf, score = best
        note = f"best F1 {score:.2f} at confidence {conf:.3f}" if name == F1_CURVE else f"best-F1 confidence {conf:.3f}"
        fig.add_vline(x=conf, line={"color": WARN, "dash": "dash"})
        fig.add_annotation(
            x=conf,
            y=1.02,
            yref="paper",
            showarrow=False,
            font={"color": WARN},
            text=note,
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": data["xlabel"], "range": [0, 1]},
        yaxis={"title": data["ylabel"], "range": [0, 1.05]},
        legend={"font": {"size": 11}},
        hovermode="closest",
    )
    return fig


def score_bars(
    labels: list[str],
    rows: list[dict[str, Any]],
    series: tuple[tuple[str, str], ...],
    height: int,
    y_top: float = 1.0,
    legend_y: float = 1.1,
) -> go.Figure:
    """Scores between 0 and 1 side by side per label: one bar per (key, name) of `series`, in the studio's colours."""
    fig = go.Figure()
    for (key, name), colour in zip(series, (ACCENT, WARN, "#16a34a", "#7c3aed"), strict=False):
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[row[key] for row in rows],
                name=name,
                marker_color=colour,
                hovertemplate=f"%{{x}}<br>{name} %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"range": [0, y_top], "title": "score"},
        legend={"orientation": "h", "y": legend_y},
    )
    return fig


def class_bars(metrics: dict[str, Any], height: int = 380) -> go.Figure:
    """Precision, recall, AP50 and AP50-95 per class, side by side."""
    table = class_table(metrics)
    series = (("precision", "precision"), ("recall", "recall"), ("ap50", "AP50"), ("ap50_95", "AP50-95"))
    return score_bars([row["class"] for row in table], table, series, height)

"""Charts of an A/B comparison: each difference with its interval, and two models' counts side by side."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from mlcore.charts.metrics import PALETTE

LABELS = {"map50": "mAP50", "map50_95": "mAP50-95", "precision": "precision", "recall": "recall", "f1": "F1"}


def difference_forest(metrics: dict[str, dict[str, float]], height: int = 300) -> go.Figure:
    """B − A per metric with its 95% interval; green when B is surely better, red when surely worse."""
    names = list(metrics)
    colours = [
        "#15803d" if metrics[n]["ci_low"] > 0 else "#b91c1c" if metrics[n]["ci_high"] < 0 else "#2563eb" for n in names
    ]
    fig = go.Figure(
        go.Scatter(
            x=[metrics[n]["delta"] for n in names],
            y=[LABELS.get(n, n) for n in names],
            mode="markers",
            marker={"size": 12, "color": colours},
            error_x={
                "type": "data",
                "symmetric": False,
                "thickness": 3,
                "array": [metrics[n]["ci_high"] - metrics[n]["delta"] for n in names],
                "arrayminus": [metrics[n]["delta"] - metrics[n]["ci_low"] for n in names],
            },
            hovertemplate="%{y}: %{x:+.4f}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_dash="dash", line_color="#9ca3af")
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 30},
        title="B − A with 95% interval",
        xaxis_title="difference (0 = no change)",
        yaxis={"autorange": "reversed"},
    )
    return fig


def paired_bars(rows: dict[str, dict[str, Any]], labels: tuple[str, str], title: str, height: int = 300) -> go.Figure:
    """Counts of A and B side by side per key (e.g. error types)."""
    keys = list(rows)
    fig = go.Figure(
        [
            go.Bar(name=labels[0], x=keys, y=[rows[k]["a"] for k in keys], marker_color=PALETTE[0]),
            go.Bar(name=labels[1], x=keys, y=[rows[k]["b"] for k in keys], marker_color=PALETTE[1]),
        ]
    )
    fig.update_layout(barmode="group", height=height, title=title, margin={"l": 10, "r": 10, "t": 40, "b": 30})
    return fig

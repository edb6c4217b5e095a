"""Several runs' curves of one metric on one chart."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from mlcore.charts.metrics import PALETTE
from mlcore.runs.compare import COMPARABLE
from mlcore.runs.results import EPOCH


def overlay(frames: dict[str, pd.DataFrame], metric: str, against: str = "epoch", height: int = 440) -> go.Figure:
    """`metric` (a key of COMPARABLE) of each run against epoch or training time (minutes)."""
    column = COMPARABLE[metric]
    fig = go.Figure()
    for i, (name, frame) in enumerate(frames.items()):
        if column not in frame or frame.empty:
            continue
        x = frame["time"] / 60 if against == "time" and "time" in frame else frame[EPOCH]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=frame[column],
                name=name,
                mode="lines+markers" if len(frame) < 30 else "lines",
                line={"color": PALETTE[i % len(PALETTE)], "width": 2},
                hovertemplate=f"{name}<br>%{{x:.4g}}: %{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="training time (min)" if against == "time" else "epoch",
        yaxis_title=metric,
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified" if against == "epoch" else "closest",
    )
    return fig

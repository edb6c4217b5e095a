"""The System status page's figures and the studio's level colours. Pure: numbers in, `go.Figure` out."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

ACCENT = "#2563eb"
WARN = "#d97706"
ALERT = "#dc2626"


def level_colour(pct: float | None, warn: float = 75.0, alert: float = 90.0) -> str:
    """Blue when fine, amber from `warn`, red from `alert` (percentages)."""
    if pct is None or pct < warn:
        return ACCENT
    return WARN if pct < alert else ALERT


def sparkline(
    times: Sequence[float],
    values: Sequence[float | None],
    colour: str = ACCENT,
    y_max: float | None = 100.0,
    unit: str = "%",
) -> go.Figure:
    """A small line of the last minutes, without axes; hover shows the exact value."""
    fig = go.Figure(
        go.Scatter(
            x=[t - times[-1] for t in times] if times else [],
            y=list(values),
            mode="lines",
            line={"color": colour, "width": 2},
            fill="tozeroy",
            fillcolor="rgba(37, 99, 235, 0.08)" if colour == ACCENT else "rgba(220, 38, 38, 0.08)",
            hovertemplate=f"%{{y:.1f}}{unit} · %{{x:.0f}} s<extra></extra>",
        )
    )
    fig.update_layout(
        height=70,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        showlegend=False,
        xaxis={"visible": False, "fixedrange": True},
        yaxis={"visible": False, "fixedrange": True, "range": [0, y_max] if y_max else None},
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def per_core_bars(per_core_pct: Sequence[float]) -> go.Figure:
    """One bar per CPU core, coloured by load."""
    labels = [f"core {i}" for i in range(len(per_core_pct))]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=list(per_core_pct),
            marker_color=[level_colour(p) for p in per_core_pct],
            hovertemplate="%{x}: %{y:.0f}%<extra></extra>",
        )
    )
    fig.update_layout(
        height=160,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        yaxis={"range": [0, 100], "ticksuffix": "%", "fixedrange": True},
        xaxis={"fixedrange": True},
        showlegend=False,
    )
    return fig

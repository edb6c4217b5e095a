"""Plotly figures the pages draw. Pure functions: numbers in, `go.Figure` out."""

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


SPLIT_COLOURS = {"train": "#2563eb", "val": "#f59e0b", "test": "#10b981"}


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(
        title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.2}
    )
    return fig


def class_instances(classes: list[dict], splits: list[str]) -> go.Figure:
    """Instances per class, stacked by split."""
    names = [f"{c['id']}: {c['name']}" for c in classes]
    fig = go.Figure(
        [
            go.Bar(
                name=split,
                x=names,
                y=[c["instances"].get(split, 0) for c in classes],
                marker_color=SPLIT_COLOURS.get(split),
                hovertemplate="%{x}<br>%{y} boxes in " + split + "<extra></extra>",
            )
            for split in splits
        ]
    )
    fig.update_layout(barmode="stack", yaxis_title="instances")
    return _layout(fig, "Instances per class")


def box_sizes(sample: dict, names: dict[str, str]) -> go.Figure:
    """Box width against height in pixels (relative when image sizes are unknown), one colour per class."""
    use_px = any(v is not None for v in sample["w_px"])
    xs, ys = (sample["w_px"], sample["h_px"]) if use_px else (sample["w_rel"], sample["h_rel"])
    fig = go.Figure()
    for cls in sorted(set(sample["cls"])):
        idx = [i for i, c in enumerate(sample["cls"]) if c == cls]
        fig.add_trace(
            go.Scattergl(
                x=[xs[i] for i in idx],
                y=[ys[i] for i in idx],
                mode="markers",
                name=names.get(str(cls), str(cls)),
                marker={"size": 4, "opacity": 0.5},
                hovertemplate="w %{x:.1f}, h %{y:.1f}<extra>" + names.get(str(cls), str(cls)) + "</extra>",
            )
        )
    unit = "px" if use_px else "fraction of image"
    fig.update_layout(xaxis_title=f"box width ({unit})", yaxis_title=f"box height ({unit})")
    return _layout(fig, "Box sizes")


def image_sizes(sample: list[list[int]]) -> go.Figure:
    fig = go.Figure(
        go.Histogram2d(
            x=[s[0] for s in sample],
            y=[s[1] for s in sample],
            colorscale="Blues",
            hovertemplate="%{x} x %{y} px: %{z} images<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="width (px)", yaxis_title="height (px)")
    return _layout(fig, "Image sizes")


def boxes_per_image(counts: dict[str, int]) -> go.Figure:
    keys = sorted(counts, key=int)
    fig = go.Figure(
        go.Bar(
            x=[int(k) for k in keys],
            y=[counts[k] for k in keys],
            marker_color=ACCENT,
            hovertemplate="%{y} images with %{x} boxes<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="boxes in the image", yaxis_title="images")
    return _layout(fig, "Boxes per image")


def centre_heatmap(grid: list[list[int]]) -> go.Figure:
    n = len(grid)
    centres = [(i + 0.5) / n for i in range(n)]
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=centres,
            y=centres,
            colorscale="Viridis",
            hovertemplate="x %{x:.2f}, y %{y:.2f}: %{z} boxes<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis={"autorange": "reversed", "scaleanchor": "x"},
        xaxis_title="x (image width)",
        yaxis_title="y (image height)",
    )
    return _layout(fig, "Where box centres are")

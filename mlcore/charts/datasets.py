"""The Dataset validation page's figures. Pure functions: a report's numbers in, `go.Figure` out."""

from __future__ import annotations

import plotly.graph_objects as go

from mlcore.charts.system import ACCENT

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

"""The drift report's figures. Pure functions: a report (mlcore.quality.drift.drift_report) in, `go.Figure` out.

feature_figure(entry)     # one feature: the training images' and the new images' shares, side by side
overview_figure(report)   # every feature's PSI as a bar, against the shift and drift lines
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from mlcore.charts.system import ACCENT, ALERT, WARN

REFERENCE_COLOUR = "#64748b"  # the training images: a quiet grey beside the accent of the new ones
VERDICT_COLOURS = {"stable": ACCENT, "shift": WARN, "drift": ALERT}
_BOX_FEATURES = {"confidence", "class_mix"}  # counted per box, not per image


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(
        title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.2}
    )
    return fig


def _ticks(edges: list[float]) -> tuple[list[float], list[str]]:
    """Bin centres and their ranges as hover labels."""
    centres = [(low + high) / 2 for low, high in zip(edges[:-1], edges[1:], strict=True)]
    ranges = [f"{low:.4g} to {high:.4g}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
    return centres, ranges


def feature_figure(entry: dict[str, Any]) -> go.Figure:
    """One feature's two distributions as grouped bars of their shares on shared bins (or classes)."""
    histogram = entry["histogram"]
    label = entry.get("label", entry["name"])
    if "classes" in histogram:
        x: list[Any] = list(histogram["classes"])
        where = ["%{x}"] * len(x)
        axis = "class"
    else:
        x, where = _ticks(list(histogram["edges"]))
        axis = label
    unit = "boxes" if entry["name"] in _BOX_FEATURES else "images"
    fig = go.Figure(
        [
            go.Bar(
                name=name,
                x=x,
                y=list(histogram[key]),
                customdata=where,
                marker_color=colour,
                hovertemplate="%{customdata}<br>%{y:.1%} of " + name + "<extra></extra>",
            )
            for name, key, colour in (
                ("training images", "reference", REFERENCE_COLOUR),
                ("new images", "current", ACCENT),
            )
        ]
    )
    fig.update_layout(barmode="group", xaxis_title=axis, yaxis_title=f"share of {unit}", yaxis_tickformat=".0%")
    return _layout(fig, entry["sentence"])


def overview_figure(report: dict[str, Any]) -> go.Figure:
    """Each feature's PSI as a horizontal bar, coloured by verdict, with the report's shift and drift lines."""
    features = report["features"]
    fig = go.Figure(
        go.Bar(
            x=[e["psi"] for e in features],
            y=[e.get("label", e["name"]) for e in features],
            orientation="h",
            marker_color=[VERDICT_COLOURS.get(e["verdict"], ACCENT) for e in features],
            customdata=[e["sentence"] for e in features],
            text=[f"{e['psi']:.2f}" for e in features],
            textposition="outside",
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    bands = report["bands"]  # the report's own verdict lines
    fig.add_vline(x=bands["shift"], line_dash="dot", line_color=WARN, annotation_text="shift")
    fig.add_vline(x=bands["drift"], line_dash="dash", line_color=ALERT, annotation_text="drift")
    fig.update_yaxes(autorange="reversed")  # the report's order, first at the top
    fig.update_layout(xaxis_title="PSI (population stability index)", showlegend=False)
    return _layout(fig, report["summary"], height=max(240, 60 + 28 * len(features)))

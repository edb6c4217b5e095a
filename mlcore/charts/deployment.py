"""Figures of an export: milliseconds per image for the source model and each export."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from mlcore.charts.system import ACCENT, WARN


def latency_bars(card: dict[str, Any]) -> go.Figure:
    """Median latency per image at batch 1 (p90 as the whisker), the source model first, with the ratio to it."""
    rows = [("source (PyTorch)", card.get("latency_source") or {})]
    rows += [(f"{f['format']} {f['precision']} ({f['runtime']})", f.get("latency") or {}) for f in card["formats"]]
    rows = [(name, figures) for name, figures in rows if figures.get("median_ms") is not None]
    source = rows[0][1]["median_ms"] if rows and rows[0][0].startswith("source") else None
    medians = [figures["median_ms"] for _, figures in rows]
    fig = go.Figure(
        go.Bar(
            x=[name for name, _ in rows],
            y=medians,
            error_y={
                "type": "data",
                "array": [f["p90_ms"] - f["median_ms"] for _, f in rows],
                "symmetric": False,
                "arrayminus": [0] * len(rows),
            },
            marker_color=[WARN if n == 0 and source else ACCENT for n in range(len(rows))],
            text=[f"{m:.1f} ms" + (f" · {m / source:.2f}×" if source and n else "") for n, m in enumerate(medians)],
            textposition="outside",
            hovertemplate="%{x}: %{y:.2f} ms per image (median)<extra></extra>",
        )
    )
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title="Milliseconds per image at batch 1 (median; whisker: p90)",
        yaxis_title="ms per image",
        showlegend=False,
    )
    return fig

"""Training history charts from results.csv. Pure functions: a frame in, a `go.Figure` out.

frame = read_results(run_dir / "results.csv")
fig = training_history(frame)
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mlcore.charts.system import ACCENT, WARN
from mlcore.runs.results import EPOCH, MAP50, MAP50_95, best_epoch, lr_columns

LOSSES = ("box_loss", "cls_loss", "dfl_loss")
PRECISION, RECALL = "metrics/precision(B)", "metrics/recall(B)"
BEST_COLOUR = "#16a34a"
PANELS = ("Box loss", "Class loss", "DFL loss", "Precision and recall", "mAP50 and mAP50-95", "Learning rate")


def smooth(values: pd.Series, weight: float) -> pd.Series:
    """Exponential moving average (0 = raw values, 0.9 = very smooth), as TensorBoard smooths."""
    return values if weight <= 0 else values.ewm(alpha=1 - weight, adjust=False).mean()


def training_history(frame: pd.DataFrame, smoothing: float = 0.0, height: int = 520) -> go.Figure:
    """Six panels: the three losses (train vs val), precision/recall, mAP, learning rate; best epoch marked."""
    fig = make_subplots(rows=2, cols=3, subplot_titles=PANELS, horizontal_spacing=0.07, vertical_spacing=0.16)
    epochs = frame[EPOCH] if EPOCH in frame else pd.Series(dtype=int)

    def line(column: str, name: str, colour: str, row: int, col: int, dash: str | None = None) -> None:
        if column not in frame:
            return
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=smooth(frame[column], smoothing),
                name=name,
                legendgroup=name,
                showlegend=(row, col) in ((1, 1), (2, 1), (2, 2)),
                mode="lines+markers" if len(frame) < 30 else "lines",
                line={"color": colour, "width": 2, "dash": dash},
                hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.4g}}<extra></extra>",
            ),
            row=row,
            col=col,
        )

    for col, loss in enumerate(LOSSES, start=1):
        line(f"train/{loss}", "train", ACCENT, 1, col)
        line(f"val/{loss}", "val", WARN, 1, col, dash="dot")
    line(PRECISION, "precision", ACCENT, 2, 1)
    line(RECALL, "recall", WARN, 2, 1)
    line(MAP50, "mAP50", ACCENT, 2, 2)
    line(MAP50_95, "mAP50-95", BEST_COLOUR, 2, 2)
    for i, column in enumerate(lr_columns(frame)):
        line(column, f"lr pg{column[5:]}", ("#7c3aed", "#db2777", "#0891b2")[i % 3], 2, 3)
    best = best_epoch(frame)
    if best is not None:
        for row in (1, 2):
            for col in (1, 2, 3):
                fig.add_vline(x=best, line={"color": BEST_COLOUR, "width": 1, "dash": "dash"}, row=row, col=col)
        fig.add_annotation(
            text=f"best epoch {best} ",
            x=best,
            y=0.02,
            xref="x5",
            yref="y5 domain",
            showarrow=False,
            font={"color": BEST_COLOUR, "size": 11},
            xanchor="right",
            yanchor="bottom",
        )
    fig.update_xaxes(title_text="epoch", row=2)
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.12},
        hovermode="x unified",
    )
    return fig

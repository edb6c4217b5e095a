"""A study's charts: Optuna's own figures (Plotly) and the best value so far against time.

optimization_history(study); parallel_coordinates(study); importances(study)  # None while too few trials
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

MIN_FOR_IMPORTANCE = 2  # completed trials Optuna needs to weigh the parameters


def _complete(study: Any) -> list[Any]:
    import optuna

    return [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]


def optimization_history(study: Any, objective: str) -> go.Figure | None:
    """Every complete trial's value and the best so far, by trial number."""
    if not _complete(study):
        return None
    from optuna.visualization import plot_optimization_history

    figure = plot_optimization_history(study, target_name=objective)
    figure.update_layout(title=None, height=340, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def parallel_coordinates(study: Any, objective: str, params: list[str] | None = None) -> go.Figure | None:
    """Each complete trial as a line through its parameter values to its objective."""
    if len(_complete(study)) < 2:
        return None
    from optuna.visualization import plot_parallel_coordinate

    figure = plot_parallel_coordinate(study, params=params, target_name=objective)
    figure.update_layout(title=None, height=380, margin={"l": 40, "r": 40, "t": 30, "b": 10})
    return figure


def importances(study: Any, objective: str) -> go.Figure | None:
    """How much each parameter explains of the objective (Optuna's fANOVA), once enough trials are complete."""
    complete = _complete(study)
    if len(complete) < MIN_FOR_IMPORTANCE or len({t.value for t in complete}) < 2:
        return None
    from optuna.visualization import plot_param_importances

    try:
        figure = plot_param_importances(study, target_name=objective)
    except (RuntimeError, ValueError):  # parameters that never varied: nothing to weigh
        return None
    figure.update_layout(
        title=None, height=max(220, 26 * len(complete[0].params)), margin={"l": 10, "r": 10, "t": 10, "b": 10}
    )
    return figure


def best_so_far(curves: dict[str, list[tuple[float, float]]], objective: str) -> go.Figure:
    """The best value reached by each time (seconds) for one or more searches, as steps."""
    figure = go.Figure()
    for name, points in curves.items():
        best, xs, ys = None, [], []
        for seconds, value in sorted(points):
            best = value if best is None else max(best, value)
            xs.append(seconds / 60)
            ys.append(best)
        figure.add_scatter(x=xs, y=ys, mode="lines+markers", line_shape="hv", name=name)
    figure.update_layout(xaxis_title="minutes", yaxis_title=f"best {objective}", height=340)
    return figure

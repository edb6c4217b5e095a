"""Tuning: hyperparameter studies with Optuna. Every trial is an ordinary training job (queue, leases, Stop and
Cancel, its own run on the Runs page); bad trials are pruned after an epoch or two."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st
import yaml

from mlcore.charts.tuning import importances, optimization_history, parallel_coordinates
from mlcore.core.errors import JobRefused, SubmitError
from mlcore.core.settings import Settings
from mlcore.core.spec import MAX_IMGSZ, STRIDE, SpecError
from mlcore.jobs.store import OPEN_STATES, JobState
from mlcore.runs.store import seed_weights, weights_label
from mlcore.training.spec import ARCHITECTURES
from mlcore.tuning.space import space_from_table, space_table, space_to_dict
from mlcore.tuning.spec import OBJECTIVES, PRUNERS, TuneSpec
from mlcore.tuning.study import StudyFolder, open_study, trial_project
from mlcore.tuning.submit import (
    best_training_fields,
    cancel_study,
    resume_study,
    start_study,
    stop_study,
    study_names,
    study_report,
)
from ui.auth import current_user
from ui.jobs import STATE_ICONS, advance_queue
from ui.page_frame import dataset_select, page_start

REFRESH_S = 2.0
TRIAL_ICONS = {"running": "🏃", "complete": "✅", "pruned": "✂️", "failed": "❌", "waiting": "⏳"}
OBJECTIVE_HELP = "fitness = 0.1·mAP50 + 0.9·mAP50-95 (Ultralytics' own); each trial counts its best epoch."


def new_study(settings: Settings) -> None:
    with st.expander("New study", expanded=not study_names(settings), icon=":material/tune:"):
        c1, c2 = st.columns([3, 2])
        with c1:
            dataset = dataset_select(settings, "tune.dataset")
        name = c2.text_input("Study name", key="tune.name", placeholder="empty = a dated name")
        c1, c2, c3 = st.columns(3)
        architectures = c1.multiselect(
            "Architectures",
            ARCHITECTURES,
            default=list(TuneSpec.architectures),
            key="tune.archs",
            help="Several: each trial picks one.",
        )
        weights = seed_weights(settings)
        base = c2.selectbox(
            "Start every trial from",
            [None, *weights],
            key="tune.base",
            format_func=lambda w: "scratch" if w is None else weights_label(w),
        )
        objective = c3.selectbox("Objective", list(OBJECTIVES), key="tune.objective", help=OBJECTIVE_HELP)
        c1, c2, c3, c4 = st.columns(4)
        trials = int(c1.number_input("Trials (budget)", 1, 10_000, TuneSpec.trials, key="tune.trials"))
        hours = float(c2.number_input("Hours (0 = no limit)", 0.0, 1000.0, 0.0, 0.5, key="tune.hours"))
        epochs = int(c3.number_input("Epochs per trial", 1, 1000, TuneSpec.epochs, key="tune.epochs"))
        parallel = int(
            c4.number_input("Trials at once (0 = one per free device)", 0, 64, TuneSpec.parallel, key="tune.parallel")
        )
        c1, c2, c3, c4 = st.columns(4)
        imgsz = int(c1.number_input("Image size", STRIDE, MAX_IMGSZ, TuneSpec.imgsz, step=STRIDE, key="tune.imgsz"))
        batch = int(c2.number_input("Batch size", 1, 1024, TuneSpec.batch_size, key="tune.batch"))
        pruner = c3.selectbox(
            "Pruner",
            PRUNERS,
            key="tune.pruner",
            help="median: a trial below the median of earlier ones at an epoch stops.",
        )
        device = c4.selectbox("Device", ("auto", "cpu"), key="tune.device")
        st.markdown("**Search space**: tick what to search; a range (log scale where it spans decades) or choices.")
        table = st.data_editor(
            pd.DataFrame(space_table()),
            hide_index=True,
            key="tune.space",
            width="stretch",
            disabled=["parameter"],
            column_config={
                "search": st.column_config.CheckboxColumn("Search", width="small"),
                "low": st.column_config.NumberColumn("Low", format="%g"),
                "high": st.column_config.NumberColumn("High", format="%g"),
                "log": st.column_config.CheckboxColumn("Log", width="small"),
                "choices": st.column_config.TextColumn("Choices (comma-separated)"),
            },
        )
        if st.button("Start the study", type="primary", icon=":material/play_arrow:", key="tune.start"):
            try:
                spec = TuneSpec(
                    study=name.strip() or f"study-{datetime.now():%Y%m%d-%H%M%S}",
                    dataset_path=dataset,
                    architectures=tuple(architectures),
                    base_model_path=str(base) if base else None,
                    epochs=epochs,
                    trials=trials,
                    hours=hours or None,
                    objective=objective,
                    pruner=pruner,
                    parallel=parallel,
                    imgsz=imgsz,
                    batch_size=batch,
                    device=device,
                    space=space_to_dict(space_from_table(table.to_dict("records"))),
                )
                with st.spinner("Checking the dataset and writing the study…"):
                    start_study(spec, settings, owner=current_user())
            except (SpecError, SubmitError) as exc:
                st.error(str(exc), icon=":material/error:")
                return
            st.session_state["tune.pick"] = spec.study
            st.toast(f"Study {spec.study} started", icon=":material/tune:")
            st.rerun()


def controls(report: dict, settings: Settings) -> None:
    name, state = report["study"], report["state"]
    c1, c2, c3, c4 = st.columns(4)
    try:
        if c1.button(
            "Stop",
            icon=":material/stop:",
            key="tune.stop",
            disabled=state not in OPEN_STATES,
            help="Queue no more trials; the running trials finish their epochs.",
        ):
            stop_study(name, settings, actor=current_user())
            st.rerun()
        if c2.button(
            "Cancel",
            icon=":material/cancel:",
            key="tune.cancel",
            disabled=state not in OPEN_STATES,
            help="End the study and its running trials now.",
        ):
            with st.spinner("Cancelling the study and its trials…"):
                cancel_study(name, settings, actor=current_user())
            st.rerun()
        if c3.button(
            "Resume",
            icon=":material/play_arrow:",
            key="tune.resume",
            disabled=state in OPEN_STATES,
            help="Go on where the study was, until its budget is spent.",
        ):
            resume_study(name, settings, owner=current_user())
            st.rerun()
    except (JobRefused, SubmitError) as exc:
        st.warning(str(exc), icon=":material/warning:")
    best = best_training_fields(report)
    if c4.button(
        "Train with the best",
        icon=":material/model_training:",
        key="tune.train_best",
        disabled=best is None,
        help="The Training page with the best trial's settings, for a full training.",
    ):
        prefill_training(best)
        st.switch_page("pages/training.py")


def prefill_training(fields: dict) -> None:
    """The Training page's widgets, set to a training with these TrainSpec fields."""
    st.session_state["train.mode"] = fields["mode"]
    st.session_state["train.dataset"] = fields["dataset_path"]
    st.session_state["train.arch"] = fields["model_architecture"]
    if fields.get("base_model_path"):
        st.session_state["train.base"] = Path(fields["base_model_path"])
    st.session_state["train.optimizer"] = fields.get("optimizer", "auto")
    if fields.get("learning_rate") is not None:
        st.session_state["train.set_lr"] = True
        st.session_state["train.lr"] = float(fields["learning_rate"])
    st.session_state["train.batch"] = int(fields["batch_size"])
    st.session_state["train.imgsz"] = int(fields["imgsz"])
    rounded = {k: round(v, 5) if isinstance(v, float) else v for k, v in fields.get("advanced", {}).items()}
    st.session_state["train.extra"] = yaml.safe_dump(rounded, sort_keys=False) if rounded else ""


def trials_table(report: dict) -> None:
    rows = report["trials"]
    if not rows:
        st.info(
            "No trial yet: the coordinator asks for the first ones as soon as it starts.",
            icon=":material/hourglass_top:",
        )
        return
    table = pd.DataFrame(
        [
            {
                "#": r["number"],
                "state": f"{TRIAL_ICONS.get(r['state'], '')} {r['state']}"
                + (" (queued)" if r.get("job_state") == JobState.QUEUED else ""),
                report["objective"]: r["value"],
                "epochs": r["epochs"],
                "run": "/".join(Path(r["run"]).parts[-2:]) if r["run"] else "",
                "params": ", ".join(
                    f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["params"].items()
                ),
                "error": (r["error"] or "").split("\n")[0],
            }
            for r in reversed(rows)
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={report["objective"]: st.column_config.NumberColumn(format="%.4f")},
    )


def charts(name: str, objective: str, settings: Settings) -> None:
    study = open_study(StudyFolder.of(name, settings))
    history = optimization_history(study, objective)
    if history is None:
        st.caption("The charts appear once a trial is complete.")
        return
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Optimization history**")
        st.plotly_chart(history, key="tune.history")
    with c2:
        st.markdown("**Parameter importances**")
        figure = importances(study, objective)
        if figure is None:
            st.caption("Shown once at least two trials are complete with different values.")
        else:
            st.plotly_chart(figure, key="tune.importances")
    coordinates = parallel_coordinates(study, objective)
    if coordinates is not None:
        st.markdown("**Parallel coordinates**")
        st.plotly_chart(coordinates, key="tune.coordinates")


def study_view(name: str, settings: Settings) -> dict:
    """The study's live view; the report it drew."""
    report = study_report(name, settings)
    state, counts, best = report["state"], report["counts"], report["best_value"]
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("State", f"{report['state']}")
    c2.metric("Trials", len(report["trials"]), help=f"budget: {report['budget']['trials'] or '-'} trials")
    c3.metric("Pruned", counts["pruned"])
    c4.metric("Failed", counts["failed"])
    c5.metric(f"Best {report['objective']}", "-" if best is None else f"{best:.4f}")
    st.progress(float(report.get("percent") or 0) / 100, text=f"{STATE_ICONS.get(state, '')} {state}")
    if report["error"]:
        st.error(report["error"].split("\n")[0], icon=":material/error:")
    controls(report, settings)
    if report["best_params"]:
        st.caption(
            f"Best: trial {report['best_trial']} ({'/'.join(Path(report['best_run']).parts[-2:])}): "
            + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in report["best_params"].items()
            )
        )
    trials_table(report)
    if st.button("Open the trials on the Runs page", icon=":material/insights:", key="tune.to_runs"):
        st.session_state["runs.f_project"] = [trial_project(name)]
        st.switch_page("pages/runs.py")
    charts(name, report["objective"], settings)
    with st.expander("Open the study in Optuna", icon=":material/code:"):
        st.code(f"import optuna\nstudy = {report['load']}", language="python")
    return report


settings = page_start(
    "Tuning",
    "Search hyperparameters with Optuna: every trial is a training job of the queue, and bad trials are pruned early.",
)
advance_queue(settings)
new_study(settings)
names = study_names(settings)
if not names:
    st.info(
        "No study yet. Pick a dataset above, set the trials and the epochs per trial, and start one; or from a "
        "terminal: `python -m mlcore tune --data PATH --trials 20 --epochs 10`.",
        icon=":material/tune:",
    )
    st.stop()
if st.session_state.get("tune.pick") not in names:
    st.session_state["tune.pick"] = names[0]
picked = st.selectbox("Study", names, key="tune.pick")
running = study_report(picked, settings)["state"] in OPEN_STATES


@st.fragment(run_every=REFRESH_S if running else None)
def live() -> None:
    report = study_view(picked, settings)
    if running and report["state"] not in OPEN_STATES:
        st.rerun()  # the study ended: a whole-page run stops the refreshing


live()

"""Runs: every training's history and final metrics as interactive charts, runs compared, static exports."""

import pandas as pd
import streamlit as st

from mlcore.charts.compare import overlay
from mlcore.charts.metrics import class_bars, confusion_matrix, curve
from mlcore.charts.report import FLAGS, export_visualizations
from mlcore.charts.training import training_history
from mlcore.core.errors import SubmitError
from mlcore.core.paths import RunFolder
from mlcore.core.safe_paths import PathNotAllowed
from mlcore.core.settings import Settings
from mlcore.datasets.validation.saved_reports import list_reports
from mlcore.datasets.versions import version_of
from mlcore.jobs.progress import log_tail
from mlcore.jobs.store import OPEN_STATES
from mlcore.runs.compare import COMPARABLE, MAX_RUNS, config_diff, metrics_side_by_side
from mlcore.runs.measure import compute_metrics
from mlcore.runs.metrics import MetricsError, best_f1, class_table, curve_names, read_metrics
from mlcore.runs.store import RunSummary, attach_run, folder_files, list_runs, metrics_file, run_states, runs_table
from mlcore.storage.push import where_text
from mlcore.training.augmentation import run_augmentation
from ui.auth import current_user
from ui.cache import results
from ui.jobs import advance_queue
from ui.page_frame import page_start

REFRESH_S = 2.0
VIEWS = ("History", "Metrics", "Configuration", "Log and files", "Export")
METRIC_VIEWS = ("Confusion matrix", "Curves", "Per class")
FLAG_LABELS = {
    "include_training_history": "Training history",
    "include_class_metrics": "Per-class metrics",
    "include_confusion_matrix": "Confusion matrix",
    "include_pr_curve": "Precision-recall curve",
    "include_f1_curve": "F1-confidence curve",
}


def results_of(run: RunSummary) -> pd.DataFrame:
    return results(RunFolder(run.path).results_csv)


def shown_metrics(run: RunSummary, settings: Settings) -> dict | None:
    """The run's metrics, or None; a damaged file is said once, here."""
    try:
        return read_metrics(metrics_file(run, settings))
    except MetricsError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return None


def attach_form(settings: Settings) -> None:
    with st.expander("Attach a run made elsewhere", icon=":material/add_link:"):
        st.caption(
            "An Ultralytics run folder (with results.csv and args.yaml, as `yolo train` writes) under the "
            "dataset, model or outputs folders. It is only read."
        )
        typed = st.text_input("Run folder", key="runs.attach_path", placeholder="/data/experiments/runs/detect/train")
        if st.button("Attach", key="runs.attach", disabled=not typed.strip()):
            try:
                run = attach_run(typed, settings)
            except PathNotAllowed as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                st.success(f"Attached {run.name} ({run.epochs_done} epochs).", icon=":material/check_circle:")


def browser(runs: list[RunSummary], states: dict[str, str]) -> list[RunSummary]:
    """The filterable table of runs; returns the rows the user selected."""
    rows = runs_table(runs, states)
    c1, c2, c3 = st.columns(3)
    projects = c1.multiselect("Project", sorted({r["project"] for r in rows}), key="runs.f_project")
    chosen_states = c2.multiselect("State", sorted({r["state"] for r in rows}), key="runs.f_state")
    archs = c3.multiselect("Architecture", sorted({str(r["architecture"]) for r in rows}), key="runs.f_arch")
    keep = [
        i
        for i, r in enumerate(rows)
        if (not projects or r["project"] in projects)
        and (not chosen_states or r["state"] in chosen_states)
        and (not archs or str(r["architecture"]) in archs)
    ]
    event = st.dataframe(
        pd.DataFrame([rows[i] for i in keep], columns=list(rows[0]) if rows else None),
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key="runs.table",
        column_config={
            "best mAP50-95": st.column_config.NumberColumn(format="%.3f"),
            "duration (min)": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    st.caption(
        f"{len(keep)} of {len(rows)} runs. Sort by clicking a column; select one run to open it, several to compare."
    )
    return [runs[keep[i]] for i in event.selection.rows if i < len(keep)]


def follow_selection(selected: list[RunSummary]) -> None:
    """A new table selection opens that run (one row) or compares those runs (several)."""
    names = [r.name for r in selected]
    if names == st.session_state.get("runs.last_selection"):
        return
    st.session_state["runs.last_selection"] = names
    if len(names) == 1:
        st.session_state["runs.pick"] = names[0]
        st.session_state["runs.mode"] = "One run"
    elif len(names) > 1:
        st.session_state["runs.compare"] = names[:MAX_RUNS]
        st.session_state["runs.mode"] = "Compare runs"


def history(run: RunSummary, started_live: bool, settings: Settings) -> None:
    frame = results_of(run)
    if frame.empty:
        st.info(
            "No epoch has finished yet; the chart appears when the first one does."
            if started_live
            else "This run has no completed epoch.",
            icon=":material/show_chart:",
        )
    else:
        smoothing = st.slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key="runs.smoothing")
        st.plotly_chart(
            training_history(frame, smoothing), key=f"runs.history.{run.path}", config={"displaylogo": False}
        )
    if started_live and run_states(settings).get(str(run.path)) not in OPEN_STATES:
        st.rerun()  # the job ended: one whole-page run turns the refresh off


def metrics_view(run: RunSummary, settings: Settings) -> None:
    metrics = shown_metrics(run, settings)
    if metrics is None:
        st.info(
            "This run has no final metrics (metrics.json): it is still training, it finished before the "
            "studio kept them, or it was made elsewhere. Computing them validates its best weights on its "
            "dataset's val split in a worker process.",
            icon=":material/analytics:",
        )
        if st.button("Compute metrics", key=f"runs.compute.{run.path}", icon=":material/calculate:"):
            try:
                job = compute_metrics(run, settings, owner=current_user())
            except SubmitError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                st.success(f"Job {job.id} is {job.state.value}; the charts appear here when it ends.")
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Precision", f"{metrics.get('precision', 0):.3f}")
    c2.metric("Recall", f"{metrics.get('recall', 0):.3f}")
    c3.metric("mAP50", f"{metrics.get('map50', 0):.3f}")
    c4.metric("mAP50-95", f"{metrics.get('map50_95', 0):.3f}")
    shown = st.segmented_control("Show", METRIC_VIEWS, default=METRIC_VIEWS[0], required=True, key="runs.metric_view")
    if shown == "Confusion matrix":
        if metrics.get("confusion_matrix"):
            normalised = st.toggle("Normalise per true class", key="runs.normalise")
            st.plotly_chart(confusion_matrix(metrics, normalised), key=f"runs.cm.{run.path}")
        else:
            st.info("metrics.json holds no confusion matrix.")
    elif shown == "Curves":
        names = curve_names(metrics)
        if names:
            which = st.segmented_control(
                "Curve",
                names,
                default=names[0],
                required=True,
                key="runs.curve",
                format_func=lambda n: n.replace("(B)", ""),
            )
            classes = [c["class"] for c in class_table(metrics)]
            picked = st.multiselect("Classes", classes, key="runs.curve_classes", placeholder="all classes")
            st.plotly_chart(curve(metrics, which, picked or None), key=f"runs.curve.{run.path}")
            best = best_f1(metrics)
            if best:
                st.caption(
                    f"Best F1 {best[1]:.3f} at confidence {best[0]:.3f}: a good default threshold for this model."
                )
        else:
            st.info("metrics.json holds no curves.")
    else:
        table = pd.DataFrame(class_table(metrics))
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                k: st.column_config.NumberColumn(format="%.3f")
                for k in ("precision", "recall", "f1", "ap50", "ap50_95")
            },
        )
        st.plotly_chart(class_bars(metrics), key=f"runs.classes.{run.path}")


def augmentation(run: RunSummary) -> None:
    rows = run_augmentation(run.path, run.spec)
    changed = [f"{r['setting']} {r['value']:g}" for r in rows if r["changed"]]
    title = f"Augmentation: {', '.join(changed)}" if changed else "Augmentation: Ultralytics' defaults"
    with st.expander(title, icon=":material/auto_fix_high:"):
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            column_config={
                "changed": st.column_config.CheckboxColumn("changed"),
                "what": st.column_config.TextColumn(width="large"),
            },
        )


def configuration(run: RunSummary, settings: Settings) -> None:
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**The training as submitted**" if not run.attached else "**Main arguments**")
        st.json(run.spec, expanded=True)
    with c2:
        st.markdown("**Arguments as Ultralytics resolved them** (`args.yaml`)")
        if (resolved := run.resolved_args()) is None:
            st.caption("No args.yaml yet (it is written when the training starts).")
        else:
            st.json(resolved, expanded=False)
    augmentation(run)
    dataset = str(run.spec.get("dataset_path") or "")
    if version := version_of(dataset) if dataset else None:
        parent = version["parent"]
        origin = f"{parent['name']} v{parent['version']}" if parent.get("name") else parent["path"]
        st.caption(
            f":material/library_books: Trained on dataset version **{version['name']} v{version['version']}**, "
            f"made from {origin} on {version['made_at'][:10]}."
        )
    reports = list_reports(settings.outputs_root, source=dataset) if dataset else []
    if reports:
        summary = reports[0].summary
        counts = summary.get("severity_counts", {})
        st.caption(
            f":material/rule: Dataset `{dataset}`: last validated {str(summary.get('created', ''))[:16]}, "
            f"verdict {summary.get('verdict')} ({counts.get('error', 0)} errors, {counts.get('warning', 0)} warnings)."
        )
    else:
        st.caption(f":material/rule: Dataset `{dataset or '?'}`: no validation report yet.")


def log_and_files(run: RunSummary) -> None:
    st.code(log_tail(str(run.path), 60), language=None)
    for weights in run.weights:
        st.download_button(
            f"Download {weights.name} ({weights.stat().st_size / 2**20:.1f} MiB)",
            data=lambda w=weights: w.read_bytes(),
            file_name=f"{run.experiment}-{weights.name}",
            mime="application/octet-stream",
            on_click="ignore",
            icon=":material/download:",
            key=f"runs.dl.{weights}",
        )
    files = folder_files(run)
    st.dataframe(
        pd.DataFrame(files, columns=["file", "bytes"]), hide_index=True, height=min(400, 35 * (len(files) + 1))
    )


def export(run: RunSummary, settings: Settings) -> None:
    st.caption("PNG files (drawn without a browser) and a self-contained report.html with the interactive charts.")
    columns = st.columns(len(FLAGS))
    chosen = {flag: columns[i].checkbox(FLAG_LABELS[flag], True, key=f"runs.{flag}") for i, flag in enumerate(FLAGS)}
    if st.button("Export", key="runs.export", icon=":material/ios_share:", disabled=not any(chosen.values())):
        with st.spinner("Drawing…"):
            done = export_visualizations(run, settings, **chosen)
        st.success(f"Written to `{done.folder}`", icon=":material/check_circle:")
        for name, why in done.skipped.items():
            st.caption(f"Skipped {name}: {why}")
        pictures = [done.folder / f for f in done.files if f.endswith(".png")]
        for column, picture in zip(st.columns(max(1, min(3, len(pictures)))) * 3, pictures, strict=False):
            column.image(str(picture), caption=picture.name)
        st.download_button(
            "Download report.html",
            data=(done.folder / "report.html").read_bytes(),
            file_name=f"{run.experiment}-report.html",
            mime="text/html",
            on_click="ignore",
            icon=":material/download:",
        )


def one_run(runs: list[RunSummary], states: dict[str, str], settings: Settings) -> None:
    by_name = {r.name: r for r in runs}
    name = st.selectbox("Run", list(by_name), key="runs.pick")
    run = by_name[name]
    if not run.path.is_dir():
        st.warning(f"The folder of {run.name} is gone (deleted or moved).", icon=":material/folder_off:")
        return
    state = states.get(str(run.path), "attached" if run.attached else "finished")
    st.caption(
        f"**{state}** · {run.spec.get('mode')} · {run.spec.get('model_architecture')} · "
        f"{run.epochs_done}/{run.epochs_total or '?'} epochs · `{run.path}`"
    )
    if stored := where_text(run.path):
        st.caption(f":material/cloud: {stored}")
    live = state in OPEN_STATES
    # one view at a time: the browser draws only the charts that are looked at
    view = st.segmented_control("View", VIEWS, default=VIEWS[0], required=True, key="runs.view")
    if view == "History":
        st.fragment(history, run_every=REFRESH_S if live else None)(run, live, settings)
    elif view == "Metrics":
        metrics_view(run, settings)
    elif view == "Configuration":
        configuration(run, settings)
    elif view == "Log and files":
        log_and_files(run)
    else:
        export(run, settings)


def compare(runs: list[RunSummary]) -> None:
    by_name = {r.name: r for r in runs}
    names = st.multiselect(
        "Runs to compare (2 to 8)",
        list(by_name),
        key="runs.compare",
        max_selections=MAX_RUNS,
        placeholder="pick runs, or select rows in the table above",
    )
    if len(names) < 2:
        st.info("Pick at least two runs to compare them.", icon=":material/compare_arrows:")
        return
    chosen = [by_name[n] for n in names]
    frames = {r.name: results_of(r) for r in chosen}
    c1, c2 = st.columns([3, 1])
    metric = c1.selectbox("Metric", list(COMPARABLE), key="runs.compare_metric")
    against = c2.segmented_control("Against", ["epoch", "time"], default="epoch", required=True, key="runs.against")
    st.plotly_chart(overlay(frames, metric, against), key="runs.overlay")
    st.markdown("**Figures**")
    st.dataframe(metrics_side_by_side(chosen, frames))
    st.markdown("**Configurations**")
    only = st.toggle("Only what differs", True, key="runs.only_diff")
    diff = config_diff({r.name: r.spec for r in chosen}, only_differences=only)
    st.dataframe(
        diff.style.apply(lambda row: ["background-color: #fef3c7" if row["differs"] else ""] * len(row), axis=1),
        hide_index=True,
    )


settings_now = page_start(
    "Runs",
    "Every training's history and final metrics as interactive charts; compare runs; export static reports.",
)
advance_queue(settings_now)  # a worker that died shows as failed before the runs are listed
all_runs = list_runs(settings_now)
run_state = run_states(settings_now)
if not all_runs:
    st.info(
        "No runs yet. Start a training on the Training page (or `python -m mlcore train`), or attach a run "
        "made with Ultralytics elsewhere below.",
        icon=":material/insights:",
    )
    attach_form(settings_now)
    st.stop()
selected_rows = browser(all_runs, run_state)
follow_selection(selected_rows)
attach_form(settings_now)
mode = st.segmented_control("Look at", ["One run", "Compare runs"], default="One run", required=True, key="runs.mode")
if mode == "One run":
    one_run(all_runs, run_state, settings_now)
else:
    compare(all_runs)

"""Data quality: a label-error audit, the images to label next, and a drift report; each a job with its progress,
read here when it has ended. Nothing is written into a dataset: fixes and new labels go into new versions."""

from datetime import datetime
from pathlib import Path

import streamlit as st

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.core.spec import SpecError
from mlcore.engine.trained_size import SizeChoice
from mlcore.jobs.kinds import KINDS, JobKind
from mlcore.jobs.store import Job, JobState
from mlcore.quality.spec import AUDIT_SPLITS, MAX_KFOLD, AuditSpec, DriftSpec, SelectSpec
from mlcore.quality.store import cancel_quality_job, job_of, quality_jobs, report_of
from mlcore.quality.submit import KFOLD_MEASURED, kfold_cost_sentence, submit_audit, submit_drift, submit_selection
from mlcore.runs.store import seed_weights, weights_label
from ui.auth import current_user
from ui.heads import nms_free_toggle
from ui.image_size import image_size_input
from ui.jobs import open_jobs_section
from ui.page_frame import dataset_select, page_start
from ui.quality_views import audit_view, drift_view, fold_check_view, selection_view

REFRESH_S = 2.0
TOOLS = {JobKind.AUDIT: "Label audit", JobKind.SELECTION: "Images to label next", JobKind.DRIFT: "Drift report"}
VIEWS = {JobKind.AUDIT: audit_view, JobKind.SELECTION: selection_view, JobKind.DRIFT: drift_view}
EMPTY = {
    JobKind.AUDIT: "No audit yet. Pick a model and a labelled split above (or run `python -m mlcore audit --model PT "
    "--data PATH`); the model's confident predictions point at boxes a person should look at.",
    JobKind.SELECTION: "No selection yet. Point it at a folder of unlabelled images (or run `python -m mlcore select "
    "--model PT --images DIR`): the images the model is least sure about come first, near-copies left out.",
    JobKind.DRIFT: "No drift report yet. Compare a folder of new images with the training set (or run `python -m "
    "mlcore drift --images DIR --data PATH`).",
}


def model_select(settings: Settings, key: str, optional: bool = False) -> Path | None:
    models = seed_weights(settings)
    if not models and not optional:
        folders = ", ".join(f"`{r}`" for r in settings.model_roots)
        st.info(
            f"No model yet. Finish a training on the Training page, or put a `.pt` file in {folders}.",
            icon=":material/model_training:",
        )
        return None
    options = [None, *models] if optional else models
    return st.selectbox(
        "Model", options, key=key, format_func=lambda m: "none (images only)" if m is None else weights_label(m)
    )


def submitted(submit, spec_of) -> None:  # noqa: ANN001
    """Build the spec from the widgets and queue the job; a refusal is shown, not raised."""
    try:
        job = submit(spec_of(), settings_now, owner=current_user())
    except (SpecError, SubmitError) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.session_state[f"quality.pick.{job.kind}"] = job.id
    st.toast(f"{TOOLS[job.kind]} {job.id} {job.state.value}", icon=":material/play_arrow:")
    st.rerun()


def new_audit(settings: Settings) -> None:
    model = model_select(settings, "quality.audit.model")
    if model is None:
        return
    c1, c2 = st.columns([3, 1])
    with c1:
        dataset = dataset_select(settings, "quality.audit.dataset")
    split = c2.selectbox(
        "Split",
        AUDIT_SPLITS,
        key="quality.audit.split",
        help="val and test: the model never learned them. train: use K-fold.",
    )
    c1, c2, c3, c4 = st.columns(4)
    kfold = int(
        c1.number_input(
            "K-fold (0 = off)",
            0,
            MAX_KFOLD,
            AuditSpec.kfold,
            key="quality.audit.kfold",
            help="K short trainings, each predicting the fold it did not see.",
        )
    )
    epochs = int(
        c2.number_input(
            "Epochs per fold", 1, 1000, AuditSpec.kfold_epochs, key="quality.audit.epochs", disabled=not kfold
        )
    )
    imgsz = image_size_input(c3, Path(model), settings, "quality.audit.imgsz")
    device = c4.selectbox("Device", ("auto", "cpu"), key="quality.audit.device")
    if split == "train" and not kfold:
        st.caption(
            ":material/info: The model learned the train split: without K-fold it may repeat label errors it "
            f"memorised. {KFOLD_MEASURED}"
        )
    if kfold:
        st.caption(f":material/schedule: K-fold costs {kfold_cost_sentence(kfold, epochs)} {KFOLD_MEASURED}")
    nms_free = nms_free_toggle(st, Path(model), "quality.audit.nms_free")
    if st.button("Audit the labels", type="primary", icon=":material/fact_check:", key="quality.audit.start"):
        fields = {
            "split": split,
            "kfold": kfold,
            "kfold_epochs": epochs,
            "imgsz": imgsz,
            "device": device,
            "nms_free": nms_free,
        }
        submitted(submit_audit, lambda: AuditSpec(model_path=str(model), dataset_path=dataset, **fields))


def new_selection(settings: Settings) -> None:
    model = model_select(settings, "quality.select.model")
    if model is None:
        return
    images = st.text_input(
        "Folder of unlabelled images",
        key="quality.select.images",
        placeholder="/data/unlabelled (under the allowed dataset folders)",
    )
    c1, c2, c3 = st.columns(3)
    top = int(c1.number_input("How many to label", 1, 100_000, SelectSpec.top, key="quality.select.top"))
    imgsz = image_size_input(c2, Path(model), settings, "quality.select.imgsz")
    device = c3.selectbox("Device", ("auto", "cpu"), key="quality.select.device")
    if st.button("Rank the images", type="primary", icon=":material/label:", key="quality.select.start"):
        submitted(
            submit_selection,
            lambda: SelectSpec(model_path=str(model), images=images.strip(), top=top, imgsz=imgsz, device=device),
        )


def new_drift(settings: Settings) -> None:
    images = st.text_input(
        "Folder of new images",
        key="quality.drift.images",
        placeholder="/data/production/2026-11 (under the allowed dataset folders)",
    )
    c1, c2 = st.columns([3, 1])
    with c1:
        dataset = dataset_select(settings, "quality.drift.dataset")
    split = c2.selectbox("Reference split", ("train", "val", "test"), key="quality.drift.split")
    model = model_select(settings, "quality.drift.model", optional=True)
    c1, c2 = st.columns(2)
    imgsz = image_size_input(c1, Path(model) if model else None, settings, "quality.drift.imgsz")
    device = c2.selectbox("Device", ("auto", "cpu"), key="quality.drift.device")
    if st.button("Compare", type="primary", icon=":material/query_stats:", key="quality.drift.start"):
        submitted(
            submit_drift,
            lambda: DriftSpec(
                images=images.strip(),
                dataset_path=dataset,
                split=split,
                model_path=str(model) if model else None,
                imgsz=imgsz,
                device=device,
            ),
        )


FORMS = {JobKind.AUDIT: new_audit, JobKind.SELECTION: new_selection, JobKind.DRIFT: new_drift}


def job_label(job: Job) -> str:
    """A picker's line (plain text: a selectbox shows no icons): the folder, what it looked at, its state."""
    when = datetime.fromtimestamp(job.created).strftime("%Y-%m-%d %H:%M")
    what = " · ".join(str(d) for d in KINDS[job.kind].details(job.spec) if d)
    return f"{Path(job.run_dir).name} · {what} · {job.state.value} · {when}"


def show(job: Job) -> None:
    report = report_of(job, settings_now)
    size = SizeChoice.of(job.spec)
    st.caption(f"Folder `{report['folder']}` · by {job.owner}" + (f" · {size.describe()}" if size else ""))
    if size and size.warning:
        st.warning(size.warning, icon=":material/photo_size_select_large:")
    if report["result"] is not None:
        VIEWS[job.kind](report)
    elif job.state is JobState.FAILED:
        st.error(f"It failed: {job.error}", icon=":material/error:")
        if report.get("fold_check"):
            fold_check_view(report["fold_check"])
    elif not job.state.is_final():
        st.info("Still running: its progress is shown above.", icon=":material/hourglass_top:")
        if report.get("folds"):
            st.caption("Fold trainings: " + ", ".join(f"{f['job']} {f['state']}" for f in report["folds"]))
    else:
        st.warning(f"It ended {job.state.value} without a result. Start it again.", icon=":material/warning:")


settings_now = page_start(
    "Data quality",
    "Know your data: the labels a model doubts, the images worth labelling next, and whether new images still "
    "look like the training set. Every result is a job's; your datasets are never written.",
)
wanted = st.session_state.pop("quality.show", None)  # another page started a job and sent us here
if wanted:
    shown_job = job_of(wanted, settings_now)
    st.session_state["quality.tool"] = shown_job.kind
    st.session_state[f"quality.pick.{shown_job.kind}"] = shown_job.id
kind = st.segmented_control(
    "Tool", list(TOOLS), format_func=TOOLS.get, default=JobKind.AUDIT, required=True, key="quality.tool"
)
jobs = quality_jobs(settings_now, kind)
with st.expander(f"New {TOOLS[kind].lower()}", expanded=not jobs, icon=":material/add:"):
    FORMS[kind](settings_now)
drawn_open = frozenset(j.id for j in jobs if not j.state.is_final())
st.fragment(open_jobs_section, run_every=REFRESH_S if drawn_open else None)(
    settings_now, lambda s: quality_jobs(s, kind), drawn_open, f"quality.{kind}.", cancel_quality_job
)
if not jobs:
    st.info(EMPTY[kind], icon=":material/lightbulb:")
    st.stop()
by_id = {j.id: j for j in jobs}
if st.session_state.get(f"quality.pick.{kind}") not in by_id:
    st.session_state.pop(f"quality.pick.{kind}", None)
picked = st.selectbox(TOOLS[kind], list(by_id), key=f"quality.pick.{kind}", format_func=lambda i: job_label(by_id[i]))
show(by_id[picked])

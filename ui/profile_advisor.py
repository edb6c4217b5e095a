"""The Model evaluation page's deployment profile: thresholds chosen from the stored predictions (no model
run), shown per class, and saved beside the model as profile.json for the Predict page, jobs and the API."""

from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.core.settings import Settings
from mlcore.evaluation.analysis import Detections
from mlcore.evaluation.spec import NMS_IOU
from mlcore.predict.advisor import OBJECTIVES, Advice, AdviceError, advise
from mlcore.predict.profile import ProfileError, profile_path, read_profile, save_profile

PER_CLASS_NOTE = (
    "Ultralytics has one confidence threshold for all classes (ultralytics#16577, yolov5#8073). The studio runs the "
    "model at the lowest of these thresholds and then keeps each box only if it reaches its class's own: per-class "
    "thresholds are applied after NMS."
)


@st.cache_data(show_spinner=False, max_entries=32)
def _advice(
    _d: Detections, folder: str, stamp: float, objective: str, target: float, per_class: bool, nms: float
) -> Advice:
    return advise(_d, objective, target, per_class, nms)


def advisor(folder: Path, stamp: float, model: Path, d: Detections, settings: Settings, nms_free: bool = False) -> None:
    """`nms_free`: the evaluation ran the NMS-free head, so there is no NMS IoU to choose and the profile keeps it."""
    st.caption(
        "Pick how the deployed model should trade precision for recall; the thresholds are chosen from this "
        "evaluation's predictions, without running the model again."
    )
    c1, c2, c3 = st.columns([2, 2, 1])
    objective = c1.radio(
        "Choose the confidence threshold by",
        list(OBJECTIVES),
        format_func=OBJECTIVES.__getitem__,
        horizontal=True,
        key="profile.objective",
    )
    target = c2.slider(
        "Target",
        0.50,
        0.99,
        0.90,
        0.01,
        key="profile.target",
        disabled=objective == "best_f1",
        help="The precision (or recall) every class should reach at least.",
    )
    per_class = c3.toggle("One per class", key="profile.per_class", help=PER_CLASS_NOTE)
    nms = (
        NMS_IOU
        if nms_free
        else st.slider(
            "NMS IoU",
            0.30,
            NMS_IOU,
            NMS_IOU,
            0.05,
            key="profile.nms",
            help=f"Boxes of one class overlapping a better one by more than this are dropped. The evaluation's "
            f"predictions were made at {NMS_IOU}, so only lower values can be judged here.",
        )
    )
    try:
        advice = _advice(d, str(folder), stamp, objective, round(target, 3), per_class, round(nms, 3))
    except AdviceError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    o = advice.overall
    cols = st.columns(4)
    cols[0].metric("Confidence", f"{advice.confidence:.3f}" + (" (+ per class)" if advice.per_class else ""))
    cols[1].metric("Precision", f"{o['precision']:.3f}")
    cols[2].metric("Recall", f"{o['recall']:.3f}")
    cols[3].metric("F1", f"{o['f1']:.3f}")
    table = pd.DataFrame(advice.rows)
    chart = table.set_index("name")[["precision", "recall", "f1"]]
    st.bar_chart(chart, stack=False, height=220)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            k: st.column_config.NumberColumn(format="%.3f") for k in ("threshold", "precision", "recall", "f1")
        },
    )
    if advice.per_class:
        st.info(PER_CLASS_NOTE, icon=":material/info:")
    try:
        saved = read_profile(model, settings)
    except ProfileError as exc:
        saved = None
        st.warning(f"The saved profile cannot be read: {exc}", icon=":material/warning:")
    target_file = profile_path(model, settings)
    if saved is not None:
        st.caption(f"Saved profile of `{model.name}`: {saved.describe()} (`{target_file}`)")
    elif target_file.exists():
        st.caption(f"`{target_file}` holds the profile of another model of this folder; saving replaces it.")
    if st.button("Save as the deployment profile", icon=":material/save:", key="profile.save", type="primary"):
        try:
            chosen = advice.profile(d.names, model=model.name, evaluation=str(folder), nms_free=nms_free)
            path = save_profile(chosen, model, settings)
        except OSError as exc:
            st.error(f"The profile could not be written: {exc}", icon=":material/error:")
            return
        st.success(
            f"Saved `{path}`. The Predict page, batch predictions and the API now use it for `{model.name}`.",
            icon=":material/check_circle:",
        )

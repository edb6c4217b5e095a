"""Predict: a model used at once, on images uploaded or picked from a folder, and as batch jobs over a folder or a
video, at the thresholds of its deployment profile or ones moved here."""

import json
from collections.abc import Callable
from functools import partial
from io import BytesIO
from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.charts.drawing import draw_detections
from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.core.spec import DEFAULT_IMGSZ, SpecError
from mlcore.engine.trained_size import SizeChoice
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.store import jobs_of
from mlcore.predict.answers import Answer, answer_files
from mlcore.predict.client import PredictorBusy, PredictorUnavailable
from mlcore.predict.images import SUFFIXES
from mlcore.predict.profile import DEFAULT_CONFIDENCE, DEFAULT_IOU, DeploymentProfile, ProfileError, read_profile
from mlcore.predict.sources import SourceError, images_in
from mlcore.predict.spec import VIDEO_SUFFIXES, PredictSpec
from mlcore.predict.store import PredictionRun, list_prediction_runs
from mlcore.predict.submit import submit_predictions
from mlcore.registry.references import deployable_with_registry
from ui.auth import current_user
from ui.cache import predictor, trained_size
from ui.explain_views import explain_choice
from ui.heads import nms_free_toggle
from ui.jobs import open_jobs_section
from ui.page_frame import page_start
from ui.video_tab import video_tab

REFRESH_S = 2.0
CHUNK = 8  # images per call, so that the progress bar moves


def thresholds(model: Path, settings: Settings) -> tuple[str, float | None, float | None, bool | None]:
    """(profile choice, confidence, IoU, NMS-free) as the user set them: the saved profile, or sliders."""
    try:
        saved = read_profile(model, settings)
    except ProfileError as exc:
        st.warning(f"The saved profile cannot be used: {exc}", icon=":material/warning:")
        saved = None
    options = (["profile"] if saved else []) + ["sliders"]
    labels = {"profile": f"Deployment profile: {saved.describe() if saved else ''}", "sliders": "Set them here"}
    how = st.radio("Thresholds", options, format_func=labels.__getitem__, horizontal=True, key="predict.how")
    if how == "profile":
        st.caption(
            f"Chosen on the Model evaluation page from `{Path(saved.evaluation).name}`."
            if saved and saved.evaluation
            else "Saved beside the model."
        )
        return "default", None, None, None
    c1, c2, c3 = st.columns(3)
    base = saved or DeploymentProfile()
    conf = c1.slider("Confidence", 0.01, 0.99, float(base.confidence), 0.01, key="predict.conf")
    nms_free = nms_free_toggle(c3, model, "predict.nms_free", base.nms_free)
    if nms_free:
        c2.caption("The NMS-free head keeps at most one box per object: there is no NMS IoU to set.")
    iou = (
        None
        if nms_free
        else c2.slider(
            "NMS IoU",
            0.05,
            0.95,
            float(base.iou),
            0.05,
            key="predict.iou",
            help="Boxes of one class overlapping a better one by more than this are dropped.",
        )
    )
    if not saved:
        st.caption(
            f"No deployment profile for this model yet (defaults {DEFAULT_CONFIDENCE}, {DEFAULT_IOU}): make one "
            "on the Model evaluation page, view Deployment profile."
        )
    return "none", conf, iou, nms_free


def chosen_files(settings: Settings) -> list[tuple[str, bytes, str | None]]:
    source = st.radio("Images", ("Upload", "From a folder"), horizontal=True, key="predict.source")
    if source == "Upload":
        uploaded = st.file_uploader(
            "JPEG, PNG, WebP, BMP or TIFF",
            type=[s.lstrip(".") for s in SUFFIXES],
            accept_multiple_files=True,
            key="predict.upload",
        )
        return [(f.name, f.getvalue(), f.type) for f in uploaded or []]
    folder = st.text_input("Folder (under the dataset roots)", key="predict.folder", placeholder="/data/new_photos")
    if not folder.strip():
        return []
    try:
        found = images_in(folder, settings)
    except SourceError as exc:
        st.warning(str(exc), icon=":material/folder_off:")
        return []
    limit = settings.predict.max_files
    picked = st.multiselect(
        f"Images ({len(found)} found)",
        found,
        default=found[: min(4, limit)],
        format_func=lambda p: p.name,
        max_selections=limit,
        key="predict.picked",
    )
    return [(p.name, p.read_bytes(), None) for p in picked]


def try_images(model: Path, settings: Settings) -> None:
    profile, conf, iou, nms_free = thresholds(model, settings)
    files = chosen_files(settings)
    if st.button(
        "Predict", type="primary", icon=":material/center_focus_strong:", disabled=not files, key="predict.go"
    ):
        answers: list[Answer] = []
        bar = st.progress(0.0, text="Loading the model…")
        try:
            for start in range(0, len(files), CHUNK):
                _, used, part = answer_files(
                    predictor(settings),
                    settings,
                    str(model),
                    files[start : start + CHUNK],
                    conf,
                    iou,
                    profile,
                    nms_free,
                )
                answers += part
                bar.progress(len(answers) / len(files), text=f"{len(answers)}/{len(files)} images")
        except (SubmitError, ProfileError, PredictorBusy, PredictorUnavailable) as exc:
            bar.empty()
            st.error(str(exc), icon=":material/error:")
            return
        bar.empty()
        st.session_state["predict.answers"] = (str(model), used.describe(), answers, used.nms_free)
    if "predict.answers" not in st.session_state:
        st.info("Upload images or pick a folder, then press Predict.", icon=":material/image_search:")
        return
    shown_model, described, answers, head = st.session_state["predict.answers"]
    show_answers(shown_model, described, answers, lambda a: explain_answer(settings, Path(shown_model), a, head))


@st.dialog("Explain", width="large")
def explain_answer(settings: Settings, model: Path, answer: Answer, nms_free: bool) -> None:
    imgsz = trained_size(model, settings) or DEFAULT_IMGSZ
    st.caption(f"`{answer.name}` · what raised each detection's score, as `{model.name}` sees it at {imgsz} px")
    choices = [
        {
            "label": f"{n}: {d['class_name']} {d['confidence']:.2f}",
            "targets": [{"box": d["box"], "class_id": d["class_id"], "role": "detection"}],
        }
        for n, d in enumerate(answer.detections)
    ]
    pixels = answer.image.pixels if answer.image else None
    explain_choice(settings, model, pixels, answer.name, choices, imgsz, nms_free, "predict.why")


def show_answers(model: str, described: str, answers: list[Answer], explain: Callable[[Answer], None]) -> None:
    found = [a for a in answers if not a.error]
    counts: dict[str, int] = {}
    for a in found:
        for name, n in a.counts().items():
            counts[name] = counts.get(name, 0) + n
    cols = st.columns(4)
    cols[0].metric("Images", len(found))
    cols[1].metric("Detections", sum(counts.values()))
    cols[2].metric("Without any", sum(1 for a in found if not a.detections))
    cols[3].metric(
        "Time", f"{answers[0].time_ms:.0f} ms" if answers else "—", help="The whole request, model included."
    )
    st.caption(f"`{Path(model).name}` at {described}")
    if counts:
        st.bar_chart(pd.Series(counts, name="detections"), horizontal=True, height=40 + 28 * len(counts))
    for a in answers:
        if a.error:
            st.error(a.error, icon=":material/broken_image:")
            continue
        with st.container(border=True):
            c1, c2 = st.columns([3, 2])
            drawn = draw_detections(a.image.rgb(), a.detections)  # type: ignore[union-attr]
            c1.image(drawn, caption=f"{a.name}: {len(a.detections)} detections")
            rows = [
                {
                    "class": d["class_name"],
                    "confidence": d["confidence"],
                    **dict(zip(("x1", "y1", "x2", "y2"), d["box"], strict=True)),
                }
                for d in a.detections
            ]
            if rows:
                c2.dataframe(pd.DataFrame(rows), hide_index=True)
                if c2.button("Explain", icon=":material/psychology_alt:", key=f"predict.explain.{a.name}"):
                    explain(a)
            else:
                c2.caption("Nothing found at these thresholds.")
            png = BytesIO()
            drawn.save(png, "PNG")
            stem = Path(a.name).stem
            c2.download_button(
                "Annotated image",
                png.getvalue(),
                f"{stem}_predicted.png",
                "image/png",
                icon=":material/download:",
                key=f"predict.png.{a.name}",
                on_click="ignore",
            )
            c2.download_button(
                "Detections (JSON)",
                json.dumps(a.to_dict(model), indent=1),
                f"{stem}_detections.json",
                "application/json",
                icon=":material/download:",
                key=f"predict.json.{a.name}",
                on_click="ignore",
            )


def batch_form(model: Path, settings: Settings) -> None:
    c1, c2, c3 = st.columns([4, 1, 1])
    source = c1.text_input(f"Folder of images, or a video ({', '.join(VIDEO_SUFFIXES)})", key="predict.batch_source")
    every = int(c2.number_input("Every N-th frame", 1, 10_000, 1, key="predict.every", help="Videos only."))
    save = c3.checkbox("Draw boxes", key="predict.save_images", help="Also write annotated images or video.")
    if st.button("Start batch prediction", icon=":material/play_arrow:", key="predict.batch", disabled=not source):
        try:
            spec = PredictSpec(model_path=str(model), source=source.strip(), every_nth_frame=every, save_images=save)
            job = submit_predictions(spec, settings, owner=current_user())
        except (SpecError, SubmitError) as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.toast(f"Batch prediction {job.id} {job.state.value}", icon=":material/play_arrow:")


def show_run(run: PredictionRun, errors: dict[str, str]) -> None:
    size = SizeChoice.of(run.config)
    where = f" · {size.describe()}" if size else ""
    st.caption(
        f"Model `{run.config.get('model_path')}` · source `{run.config.get('source')}`{where} · folder `{run.path}`"
    )
    if size and size.warning:
        st.warning(size.warning, icon=":material/photo_size_select_large:")
    s = run.summary
    if s is None:
        if error := errors.get(str(run.path)):
            st.error(f"The prediction failed: {error}", icon=":material/error:")
        else:
            st.info("Not finished (running, cancelled or interrupted).", icon=":material/hourglass_top:")
        return
    if s.get("stopped"):
        st.warning("Stopped before the end: the files hold the images done until then.", icon=":material/pause:")
    cols = st.columns(4)
    cols[0].metric("Images" if s.get("source_kind") != "video" else "Frames", s["images"])
    cols[1].metric("Detections", s["detections"])
    cols[2].metric("Without any", s["empty_images"])
    cols[3].metric("Images / s", s.get("images_per_second") or "—")
    if any(s["per_class"].values()):
        st.bar_chart(
            pd.Series(s["per_class"], name="detections"), horizontal=True, height=40 + 28 * len(s["per_class"])
        )
    if s["unreadable"]:
        with st.expander(f"{len(s['unreadable'])} file(s) skipped", icon=":material/broken_image:"):
            st.dataframe(pd.DataFrame(s["unreadable"]), hide_index=True)
    if drawn := run.drawn_images(8):
        columns = st.columns(4)
        for n, path in enumerate(drawn):
            columns[n % 4].image(str(path), caption=path.name)
    for path, mime in run.downloads():
        st.download_button(
            f"Download {path.name}",
            path.read_bytes(),
            f"{run.name}_{path.name}",
            mime,
            icon=":material/download:",
            key=f"predict.dl.{path.name}",
            on_click="ignore",
        )


def batch(model: Path, settings: Settings) -> None:
    batch_form(model, settings)
    prediction_jobs = partial(jobs_of, kind=JobKind.PREDICTION)
    jobs = prediction_jobs(settings)
    drawn_open = frozenset(j.id for j in jobs if not j.state.is_final())
    st.fragment(open_jobs_section, run_every=REFRESH_S if drawn_open else None)(
        settings, prediction_jobs, drawn_open, "predict."
    )
    runs = list_prediction_runs(settings)
    if not runs:
        st.info(
            "No batch prediction yet: give a folder or a video above and press Start.", icon=":material/photo_library:"
        )
        return
    errors = {j.run_dir: j.error or "" for j in jobs if j.error}
    by_folder = {str(r.path): r for r in runs}
    names = {f: f"{r.name} · {Path(str(r.config.get('source'))).name}" for f, r in by_folder.items()}
    picked = st.selectbox(
        "Earlier batch predictions", list(by_folder), format_func=names.__getitem__, key="predict.run"
    )
    show_run(by_folder[picked], errors)


settings_now = page_start(
    "Predict",
    "Use a model: try it on new images, run it over a folder or a video as a job, track and count objects in a "
    "video, at the thresholds of its deployment profile. The HTTP API answers the same way (POST /api/v1/ml/predict).",
)
models = deployable_with_registry(settings_now)
if not models:
    st.info(
        "No model yet: finish a training on the Training page (or export one) first.", icon=":material/model_training:"
    )
    st.stop()
labels = {str(m.path): m.label for m in models}
chosen = Path(st.selectbox("Model", list(labels), format_func=labels.__getitem__, key="predict.model"))
tab_images, tab_batch, tab_video = st.tabs(["Try on images", "Batch prediction", "Video"])
with tab_images:
    try_images(chosen, settings_now)
with tab_batch:
    batch(chosen, settings_now)
with tab_video:
    video_tab(chosen, settings_now)

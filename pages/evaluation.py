"""Model evaluation: a model measured on a dataset split; every error typed and shown, at thresholds the user moves."""

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.charts.drawing import draw_comparison
from mlcore.charts.evaluation import (
    ERROR_HELP,
    class_scores,
    clickable_confusion,
    error_type_bars,
    size_bars,
    threshold_curve,
)
from mlcore.core.errors import SubmitError
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.core.spec import SpecError
from mlcore.datasets.loader import allowed_dataset, same_folder
from mlcore.engine.heads import NMS_FREE
from mlcore.evaluation.analysis import (
    ERROR_TYPES,
    Analysis,
    Detections,
    analyze,
    class_table,
    worst_images,
)
from mlcore.evaluation.class_names import classes_warning
from mlcore.evaluation.gallery import cell_images, error_targets, gallery_images
from mlcore.evaluation.leakage import clean_metrics
from mlcore.evaluation.predictions import predictions_zip
from mlcore.evaluation.spec import SPLITS, EvalSpec
from mlcore.evaluation.store import (
    EvaluationSummary,
    EvaluationUnreadable,
    failure,
    list_evaluations,
    load_detections,
    load_evaluation_metrics,
    open_evaluations,
)
from mlcore.evaluation.submit import submit_evaluation
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.store import OPEN_STATES, JobState, jobs_of
from mlcore.pipelines.templates import improvement_pipeline
from mlcore.quality.spec import AuditSpec
from mlcore.quality.submit import submit_audit
from mlcore.runs.metrics import curve_names
from mlcore.runs.store import seed_weights, trained_on, weights_label
from mlcore.storage.push import where_text
from ui.auth import current_user
from ui.cache import gpu_inventory
from ui.explain_views import explain_choice, read_bgr
from ui.gallery import legend, thumbnails
from ui.heads import nms_free_toggle
from ui.image_size import image_size_input
from ui.jobs import open_jobs_section
from ui.page_frame import dataset_select, datasets_to_pick, known_datasets, page_start
from ui.profile_advisor import advisor

REFRESH_S = 2.0
VIEWS = ("Per class", "Confusion matrix", "Curves", "Errors", "Gallery", "Worst images", "Deployment profile")


def follow_model(settings: Settings, models: list[Path], datasets: list[str]) -> None:
    """Preselect the dataset the picked model was trained on, when it is one of `datasets`."""
    model = st.session_state.get("eval.model", models[0])
    if found := same_folder(settings, trained_on(Path(model)), datasets):
        st.session_state["eval.dataset"] = found


def new_evaluation(settings: Settings, expanded: bool) -> bool:
    """The form; True when it has just queued an evaluation."""
    with st.expander("New evaluation", expanded=expanded, icon=":material/add_chart:"):
        models = seed_weights(settings)
        if not models:
            folders = ", ".join(f"`{r}`" for r in settings.model_roots)
            st.info(
                f"No model to evaluate yet. Finish a training on the Training page, or put a `.pt` file in {folders} "
                "(the studio loads models only from there: a .pt file can run code).",
                icon=":material/model_training:",
            )
            return False
        datasets = known_datasets(tuple(str(r) for r in settings.dataset_roots))
        if not datasets_to_pick(settings):
            st.info(
                "No dataset found under the allowed folders (ML_STUDIO_DATASET_ROOTS).", icon=":material/folder_off:"
            )
            return False
        if "eval.dataset" not in st.session_state:
            follow_model(settings, models, datasets)
        model = st.selectbox(
            "Model",
            models,
            format_func=weights_label,
            key="eval.model",
            on_change=follow_model,
            args=(settings, models, datasets),
            help="A run's model brings the dataset it was trained on.",
        )
        c1, c2 = st.columns([3, 1])
        with c1:
            dataset = dataset_select(settings, "eval.dataset")
        found = allowed_dataset(settings, dataset)
        splits = [s for s in SPLITS if found.splits.get(s)] if found else []
        if found is None or not splits:
            problem = "cannot be read" if found is None else "has no images in test, val or train"
            st.error(f"This dataset {problem}; validate it on the Dataset page to see why.")
            return False
        if warning := classes_warning(settings, model, dataset, found):
            st.warning(warning, icon=":material/warning:")
        split = c2.selectbox("Split", splits, key="eval.split", help="test when the dataset has one: unseen images.")
        c1, c2, c3, c4 = st.columns(4)
        conf = c1.slider("Confidence threshold", 0.01, 0.99, EvalSpec.confidence_threshold, 0.01, key="eval.new_conf")
        iou = c2.slider("IoU to match", 0.1, 0.95, EvalSpec.match_iou, 0.05, key="eval.new_iou")
        imgsz = image_size_input(c3, Path(model), settings, "eval.imgsz")
        devices = ["auto", "cpu", *(str(g.index) for g in gpu_inventory().gpus)]
        device = c4.selectbox("Device", devices, key="eval.device")
        c1, c2, c3 = st.columns(3)
        save = c1.checkbox("Save predictions (YOLO txt and COCO JSON)", True, key="eval.save")
        samples = c2.checkbox("Draw error samples into the folder", True, key="eval.samples")
        nms_free = nms_free_toggle(c3, Path(model), "eval.nms_free")
        st.caption("Both thresholds can be moved afterwards without running the model again.")
        if st.button("Evaluate", type="primary", icon=":material/play_arrow:", key="eval.start"):
            try:
                spec = EvalSpec(
                    model_path=str(model),
                    dataset_path=dataset,
                    split=split,
                    confidence_threshold=conf,
                    match_iou=iou,
                    imgsz=imgsz,
                    device=device,
                    save_predictions=save,
                    analyze_errors=samples,
                    nms_free=nms_free,
                )
                job = submit_evaluation(spec, settings, owner=current_user())
            except (SpecError, SubmitError) as exc:
                st.error(str(exc), icon=":material/error:")
                return False
            st.session_state["eval.show"] = job.run_dir
            if job.spec.get("skipped"):
                st.warning(f"{len(job.spec['skipped'])} file(s) with validation errors are left out.")
            st.toast(f"Evaluation {job.id} {job.state.value}", icon=":material/play_arrow:")
            return True
    return False


def evaluation_label(item: EvaluationSummary, states: dict[str, str]) -> str:
    state = "done" if item.finished else states.get(str(item.path), "not finished")
    return f"{item.name} · {item.split} of {Path(item.dataset).name} · {state}"


@st.cache_resource(max_entries=8, show_spinner=False)
def thresholds_applied(folder: str, stamp: float, conf: float, iou: float) -> Analysis:
    return analyze(load_detections(Path(folder)), conf, iou)


def headline(metrics: dict, result: Analysis) -> None:
    o = result.overall
    cols = st.columns(6)
    cols[0].metric("Precision", f"{o['precision']:.3f}")
    cols[1].metric("Recall", f"{o['recall']:.3f}")
    cols[2].metric("F1", f"{o['f1']:.3f}")
    cols[3].metric("Accuracy", f"{o['accuracy']:.3f}", help="TP / (TP + FP + FN): every error counts once.")
    cols[4].metric("mAP50", f"{metrics['map50']:.3f}", help="Over all confidences: the sliders do not change it.")
    cols[5].metric("mAP50-95", f"{metrics['map50_95']:.3f}")
    u = metrics.get("ultralytics", {})
    st.caption(
        f"{o['tp']} found, {o['fp']} false positives, {o['fn']} objects not found, on {metrics['images']} images. "
        f"Ultralytics' own validation of the same predictions: mAP50 {u.get('map50', 0):.3f}, "
        f"mAP50-95 {u.get('map50_95', 0):.3f}."
    )


def leakage(metrics: dict, d: Detections, conf: float, iou: float) -> None:
    """When images of this split copy training images: say so, and give the numbers without them."""
    found = metrics.get("leakage") or {}
    if not found.get("copies"):
        return
    clean = clean_metrics(d, found["pairs"], conf, iou)
    if not clean["measured"]:
        st.warning(
            f"{found['sentence']}: the numbers above are inflated by what the model memorised. Without the copies: "
            f"{clean['note']}.",
            icon=":material/content_copy:",
        )
    else:
        st.warning(
            f"{found['sentence']}: the numbers above are inflated by what the model memorised. On the "
            f"{clean['images']} other images:",
            icon=":material/content_copy:",
        )
        cols = st.columns(6)
        for column, (label, key) in zip(
            cols,
            (
                ("Precision", "precision"),
                ("Recall", "recall"),
                ("F1", "f1"),
                ("Accuracy", "accuracy"),
                ("mAP50", "map50"),
                ("mAP50-95", "map50_95"),
            ),
            strict=True,
        ):
            column.metric(f"{label} (no copies)", f"{clean[key]:.3f}")
    with st.expander("The copies and the training images they copy", icon=":material/content_copy:"):
        st.dataframe(pd.DataFrame(found["pairs"]), hide_index=True, width="stretch")


def per_class(metrics: dict, result: Analysis) -> None:
    table = pd.DataFrame(class_table(result, metrics["per_class"]))
    scores = ("precision", "recall", "f1", "accuracy", "ap50", "ap50_95")
    st.dataframe(
        table, hide_index=True, column_config={k: st.column_config.NumberColumn(format="%.3f") for k in scores}
    )
    st.plotly_chart(class_scores(result.per_class), key="eval.class_scores")


def confusion(root: Path, d: Detections, result: Analysis) -> None:
    axes = [*[d.names[k] for k in sorted(d.names)], "background"]
    normalised = st.toggle("Normalise per true class", key="eval.normalise")
    event = st.plotly_chart(
        clickable_confusion(axes, result.confusion.tolist(), normalised),
        key="eval.confusion",
        on_select="rerun",
        selection_mode="points",
    )
    points = event.selection.points if event and event.selection else []
    if not points:
        st.caption("Click a cell to see its images. Rows: predicted class; columns: true class.")
        return
    predicted, true = points[0]["customdata"]
    st.markdown(f"**Predicted {axes[predicted]}, true {axes[true]}**")
    legend()
    thumbnails(root, d, result, cell_images(d, result, predicted, true), "eval.cell")


def curves(metrics: dict, result: Analysis) -> None:
    ultra = metrics.get("ultralytics", {})
    names = curve_names(ultra)
    if not names:
        st.info("This evaluation stored no curves.")
        return
    which = st.segmented_control(
        "Curve", names, default=names[0], required=True, key="eval.curve", format_func=lambda n: n.replace("(B)", "")
    )
    st.plotly_chart(threshold_curve(ultra, which, result.conf), key="eval.curve_chart")


def errors(metrics: dict, result: Analysis) -> None:
    c1, c2 = st.columns(2)
    c1.plotly_chart(error_type_bars(result.error_counts), key="eval.error_bars")
    c2.plotly_chart(size_bars(result.by_size), key="eval.size_bars")
    costs = metrics.get("error_map50_cost") or {}
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "error type": k,
                    "boxes": result.error_counts.get(k, 0),
                    "mAP50 if all fixed": costs.get(k),
                    "meaning": v,
                }
                for k, v in ERROR_HELP.items()
            ]
        ),
        hide_index=True,
        column_config={"mAP50 if all fixed": st.column_config.NumberColumn(format="+%.3f")},
    )
    st.caption(
        "*mAP50 if all fixed*: what mAP50 would gain if every error of that type were fixed (as TIDE measures "
        "it, over all confidences, at IoU 0.5): where improving the model pays most."
    )


@st.dialog("Why?", width="large")
def why(settings: Settings, item: EvaluationSummary, root: Path, d: Detections, result: Analysis, n: int) -> None:
    st.caption(
        f"`{d.images[n]}` · what raised each error's score, as the model `{Path(item.model).name}` sees it at "
        f"{d.imgsz} px (the evaluation's size)"
    )
    image = read_bgr(root / d.images[n])
    choices = error_targets(d, result, n)
    nms_free = bool(item.spec.get("nms_free"))
    explain_choice(settings, Path(item.model), image, d.images[n], choices, d.imgsz, nms_free, "eval.why")


def gallery(root: Path, d: Detections, result: Analysis, explain: Callable[[int], None] | None = None) -> None:
    c1, c2 = st.columns(2)
    kinds = [None, *ERROR_TYPES]
    kind = c1.selectbox(
        "Error type",
        kinds,
        key="eval.kind",
        format_func=lambda k: "any error" if k is None else f"{k} ({result.error_counts.get(k, 0)})",
    )
    names = [None, *[d.names[k] for k in sorted(d.names)]]
    name = c2.selectbox("Class", names, key="eval.class", format_func=lambda n: "all classes" if n is None else n)
    legend()
    thumbnails(root, d, result, gallery_images(d, result, kind, name), "eval.gallery", kind, name, explain)


def worst(root: Path, d: Detections, result: Analysis) -> None:
    rows = worst_images(d, result, limit=100)
    if not rows:
        st.success("No image has an error at these thresholds.", icon=":material/check_circle:")
        return
    event = st.dataframe(
        pd.DataFrame(rows), hide_index=True, on_select="rerun", selection_mode="single-row", key="eval.worst"
    )
    st.caption("Select a row to see the image.")
    if event.selection.rows:
        index = {name: i for i, name in enumerate(d.images)}
        n = index[rows[event.selection.rows[0]]["image"]]
        try:
            st.image(draw_comparison(root / d.images[n], d, result, n, max_side=1400), caption=d.images[n])
        except OSError:
            st.warning(f"{d.images[n]} cannot be read any more.")


def retrain(item: EvaluationSummary) -> None:
    """The improvement loop: the Training page, in transfer mode, starting from this model."""
    st.session_state["train.mode"] = "transfer"
    st.session_state["train.base"] = Path(item.model)
    st.session_state["train.dataset"] = item.dataset
    st.switch_page("pages/training.py")


def improvement_cycle(item: EvaluationSummary, settings: Settings) -> None:
    """The seed's continuous-improvement cycle as a pipeline on the Pipelines page, for the user to review and run."""
    st.session_state["pipelines.draft"] = improvement_pipeline(item.model, item.dataset, item.split, settings)
    st.switch_page("pages/pipelines.py")


def audit_labels(item: EvaluationSummary, settings: Settings) -> None:
    """The improvement loop's first step: an audit of this split's labels with this model, on the Data quality page."""
    spec = AuditSpec(
        model_path=item.model,
        dataset_path=item.dataset,
        split=item.split,
        imgsz=int(item.spec.get("imgsz") or 0),
        device=str(item.spec.get("device", "auto")),
    )
    try:
        job = submit_audit(spec, settings, owner=current_user())
    except (SpecError, SubmitError) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.session_state["quality.show"] = job.id
    st.switch_page("pages/quality.py")


def show(item: EvaluationSummary, settings: Settings, states: dict[str, str]) -> None:
    if not item.path.is_dir():
        st.warning(f"The folder of {item.name} is gone (deleted or moved).", icon=":material/folder_off:")
        return
    size = f" · {item.size.describe()}" if item.size else ""
    head = f" · {NMS_FREE}" if item.spec.get("nms_free") else ""
    st.caption(
        f"Model `{item.model}` · dataset `{item.dataset}` · split **{item.split}**{size}{head} · folder `{item.path}`"
    )
    if stored := where_text(item.path):
        st.caption(f":material/cloud: {stored}")
    if item.size and item.size.warning:
        st.warning(item.size.warning, icon=":material/photo_size_select_large:")
    if not item.finished:
        state = states.get(str(item.path))
        if state == JobState.FAILED and (failed := failure(item, settings)):
            st.error(f"The evaluation failed: {failed[0]}", icon=":material/error:")
            st.code(failed[1], language=None)
        elif state in OPEN_STATES:
            st.info("Still running: its progress is shown above.", icon=":material/hourglass_top:")
        else:
            st.warning("This evaluation did not finish (cancelled or interrupted). Start it again.")
        return
    try:
        metrics = load_evaluation_metrics(item.path)
        d = load_detections(item.path)
    except EvaluationUnreadable as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if metrics.get("skipped"):
        with st.expander(f"{len(metrics['skipped'])} file(s) left out because of validation errors"):
            st.write(metrics["skipped"])
    thresholds = metrics.get("thresholds", {})
    if st.session_state.get("eval.thresholds_of") != str(item.path):  # a new evaluation starts at its own thresholds
        st.session_state["eval.thresholds_of"] = str(item.path)
        st.session_state["eval.conf"] = float(thresholds.get("confidence", EvalSpec.confidence_threshold))
        st.session_state["eval.iou"] = float(thresholds.get("iou", EvalSpec.match_iou))
    c1, c2 = st.columns(2)
    conf = c1.slider(
        "Confidence threshold",
        0.01,
        0.99,
        step=0.01,
        key="eval.conf",
        help="Predictions below it are ignored. Everything below follows, without running the model.",
    )
    iou = c2.slider(
        "IoU to match",
        0.1,
        0.95,
        step=0.05,
        key="eval.iou",
        help="Overlap a prediction needs with an object of its class to count as found.",
    )
    folder = RunFolder(item.path)
    stamp = folder.predictions.stat().st_mtime
    result = thresholds_applied(str(item.path), stamp, round(conf, 3), round(iou, 3))
    headline(metrics, result)
    leakage(metrics, d, round(conf, 3), round(iou, 3))
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button(
        "Download predictions at these thresholds",
        data=lambda: predictions_zip(d, result),
        file_name=f"{item.name}-predictions-conf{conf:.2f}.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        key="eval.download",
    )
    c2.download_button(
        "Download metrics.json",
        data=folder.metrics.read_bytes(),
        file_name=f"{item.name}-metrics.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
        key="eval.download_metrics",
    )
    if c3.button(
        "Retrain from this model",
        icon=":material/replay:",
        key="eval.retrain",
        help="Open the Training page in transfer mode, starting from this model on this dataset.",
    ):
        retrain(item)
    if c4.button(
        "Audit labels with this model",
        icon=":material/troubleshoot:",
        key="eval.audit",
        help="Start a label-error audit of this split with this model (Data quality page).",
    ):
        audit_labels(item, settings)
    if st.button(
        "Improvement pipeline: retrain on the fixed version, compare with production, promote if better",
        icon=":material/account_tree:",
        key="eval.pipeline",
        help="Writes a pipeline from this evaluation on the Pipelines page; review it, then run it.",
    ):
        improvement_cycle(item, settings)
    root = Path(metrics.get("dataset_root") or item.dataset)
    view = st.segmented_control("View", VIEWS, default=VIEWS[0], required=True, key="eval.view")
    if view == "Per class":
        per_class(metrics, result)
    elif view == "Confusion matrix":
        confusion(root, d, result)
    elif view == "Curves":
        curves(metrics, result)
    elif view == "Errors":
        errors(metrics, result)
    elif view == "Gallery":
        gallery(root, d, result, lambda n: why(settings, item, root, d, result, n))
    elif view == "Worst images":
        worst(root, d, result)
    else:
        advisor(item.path, stamp, Path(item.model), d, settings, bool(metrics.get("nms_free")))


evaluation_jobs = partial(jobs_of, kind=JobKind.EVALUATION, task=JobTask.EVALUATE)
settings_now = page_start(
    "Model evaluation",
    "Where does the model fail, and why? The standard metrics (equal to Ultralytics' own), every error typed, "
    "and the images that show it, at thresholds you can move.",
)
evaluations = list_evaluations(settings_now)
if new_evaluation(settings_now, expanded=not evaluations):
    evaluations = list_evaluations(settings_now)  # the form has just added one
drawn_open = frozenset(j.id for j in open_evaluations(settings_now))
st.fragment(open_jobs_section, run_every=REFRESH_S if drawn_open else None)(
    settings_now, evaluation_jobs, drawn_open, "eval."
)
if not evaluations:
    st.info(
        "No evaluation yet. Pick a model and a dataset above and press Evaluate (or run "
        "`python -m mlcore evaluate --model PT --data PATH`).",
        icon=":material/analytics:",
    )
    st.stop()
job_states = {j.run_dir: j.state.value for j in evaluation_jobs(settings_now)}
folders = [str(e.path) for e in evaluations]
wanted = st.session_state.pop("eval.show", None)
if wanted in folders:
    st.session_state["eval.pick"] = wanted
by_folder = {str(e.path): e for e in evaluations}
labels = {f: evaluation_label(by_folder[f], job_states) for f in folders}  # read once: the disk may change
picked = st.selectbox("Evaluation", folders, key="eval.pick", format_func=labels.__getitem__)
show(by_folder[picked], settings_now, job_states)

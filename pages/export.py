"""Export: a model converted for deployment (ONNX, OpenVINO, TorchScript), checked against the source model on
its own test data, and timed in each runtime."""

from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.charts.deployment import latency_bars
from mlcore.charts.drawing import draw_two_models
from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.core.spec import MAX_IMGSZ, STRIDE, SpecError
from mlcore.engine.heads import head_label
from mlcore.engine.trained_size import SizeChoice
from mlcore.export.formats import FORMATS, NOT_OFFERED, available
from mlcore.export.precision import bf16_missing, offered_precisions
from mlcore.export.spec import AUTO_SPLIT, DEFAULT_TOLERANCE, ExportSpec
from mlcore.export.store import ExportSummary, ExportUnreadable, export_zip, list_exports, load_parity
from mlcore.export.submit import submit_export
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.store import OPEN_STATES, JobState, jobs_of
from mlcore.runs.store import seed_weights, trained_on, weights_label
from mlcore.storage.push import where_text
from ui.auth import current_user
from ui.cache import gpu_inventory
from ui.heads import nms_free_toggle
from ui.jobs import open_jobs_section
from ui.page_frame import dataset_select, page_start

REFRESH_S = 2.0
VERDICT_ICONS = {"passed": ":material/check_circle:", "failed": ":material/error:"}
GALLERY = 8


def choose_formats(gpu: bool) -> list[str]:
    reasons = available(gpu)
    offered = [name for name, why in reasons.items() if why is None]
    chosen = st.multiselect(
        "Formats",
        offered,
        default=["onnx"] if "onnx" in offered else offered[:1],
        key="export.formats",
        format_func=lambda n: f"{FORMATS[n].title} ({FORMATS[n].runtime})",
    )
    with st.expander("Why some formats are not offered here", icon=":material/help:"):
        lines = [f"- **{FORMATS[n].title}**: {why}" for n, why in reasons.items() if why]
        lines += [f"- **{name}**: it {why}." for name, why in NOT_OFFERED.items()]
        st.markdown("\n".join(lines))
    return chosen


def new_export(settings: Settings, expanded: bool) -> bool:
    """The form; True when it has just queued an export."""
    with st.expander("New export", expanded=expanded, icon=":material/output:"):
        models = seed_weights(settings)
        if not models:
            st.info(
                "No model to export yet: finish a training on the Training page first.",
                icon=":material/model_training:",
            )
            return False
        model = st.selectbox("Model", models, format_func=weights_label, key="export.model")
        gpu = gpu_inventory().available
        formats = choose_formats(gpu)
        c1, c2, c3, c4 = st.columns(4)
        bf16_note = bf16_missing() or "bf16: OpenVINO computing in bfloat16, which this CPU has."
        precision = c1.radio(
            "Precision",
            offered_precisions(),
            key="export.precision",
            horizontal=True,
            help=f"int8: OpenVINO, calibrated on the dataset's val images. {bf16_note}",
        )
        imgsz = int(
            c2.number_input(
                "Image size (0 = trained size)", 0, MAX_IMGSZ, ExportSpec.imgsz, step=STRIDE, key="export.imgsz"
            )
        )
        dynamic = c3.checkbox("Dynamic shapes", key="export.dynamic", help="Any batch and size; batch throughput too.")
        parity = c4.checkbox(
            "Parity check", ExportSpec.parity, key="export.parity", help="Compare with the .pt on the dataset."
        )
        nms_free = nms_free_toggle(st, Path(model), "export.nms_free")
        dataset, split, tolerance = "", AUTO_SPLIT, None
        if parity or precision == "int8":
            if trained := trained_on(Path(model)):
                st.session_state.setdefault("export.dataset", trained)
            c1, c2, c3 = st.columns([3, 1, 1])
            with c1:
                dataset = dataset_select(settings, "export.dataset")
            split = c2.selectbox(
                "Split",
                (AUTO_SPLIT, "test", "val"),
                key="export.split",
                help="auto: test when the dataset has one, else val.",
            )
            tolerance = c3.number_input(
                "Tolerance (mAP)",
                0.0,
                0.5,
                DEFAULT_TOLERANCE[precision],
                0.001,
                format="%.3f",
                key=f"export.tolerance.{precision}",
            )
        if st.button("Export", type="primary", icon=":material/play_arrow:", key="export.start", disabled=not formats):
            try:
                spec = ExportSpec(
                    model_path=str(model),
                    formats=tuple(formats),
                    precision=precision,
                    imgsz=imgsz,
                    dynamic=dynamic,
                    dataset_path=dataset,
                    split=split,
                    parity=parity,
                    tolerance=tolerance,
                    nms_free=nms_free,
                )
                with st.spinner("Checking the model and the dataset…"):
                    job = submit_export(spec, settings, owner=current_user())
            except (SpecError, SubmitError) as exc:
                st.error(str(exc), icon=":material/error:")
                return False
            st.session_state["export.show"] = job.run_dir
            st.toast(f"Export {job.id} {job.state.value}", icon=":material/output:")
            return True
    return False


def runtime_precision(entry: dict) -> None:
    """What the runtime computes at: OpenVINO's hint (which the predictor uses too) and what it reported."""
    hint = entry.get("inference_precision")
    ran = (entry.get("latency") or {}).get("ran_at") or (entry.get("parity") or {}).get("ran_at")
    if hint is None:
        if ran:
            st.caption(f"{entry['runtime']} computes at {ran}.")
        return
    if ran and ran != hint:
        lacking = " (this CPU has no bfloat16)" if hint == "bf16" else ""
        st.warning(
            f"{entry['runtime']} was asked to compute at {hint} and reported {ran}{lacking}: the figures "
            f"here are at {ran}.",
            icon=":material/warning:",
        )
        return
    st.caption(f"{entry['runtime']} computes at {hint} (INFERENCE_PRECISION_HINT, which the predictor uses too).")


def parity_view(item: ExportSummary, entry: dict) -> None:
    parity = entry["parity"]
    (st.success if parity["passed"] else st.error)(
        f"{entry['format']} {entry['precision']}: {parity['verdict']}",
        icon=VERDICT_ICONS["passed" if parity["passed"] else "failed"],
    )
    runtime_precision(entry)
    for cause in parity["causes"][1:]:
        st.caption(f"Also possible: {cause}")
    st.dataframe(
        pd.DataFrame(
            [
                {"": "source (.pt)", "mAP50": parity["map50_source"], "mAP50-95": parity["map50_95_source"]},
                {"": entry["format"], "mAP50": parity["map50_export"], "mAP50-95": parity["map50_95_export"]},
                {"": "difference", "mAP50": parity["map50_delta"], "mAP50-95": parity["map50_95_delta"]},
            ]
        ),
        hide_index=True,
        column_config={k: st.column_config.NumberColumn(format="%.4f") for k in ("mAP50", "mAP50-95")},
    )
    st.caption(
        f"On {parity['images']} images: {parity['boxes_paired']} boxes agree (same class, IoU ≥ {parity['pair_iou']}), "
        f"{parity['boxes_only_source']} only in the source, {parity['boxes_only_export']} only in the export; the "
        f"largest confidence difference is {parity['max_conf_diff']:.3f} "
        f"(boxes above {parity['confidence_threshold']})."
    )
    worst = parity["worst_images"][:GALLERY]
    if not worst:
        return
    st.markdown("**Images where the two disagree most** (blue: source, orange: export)")
    try:
        source, exported = load_parity(item.path, entry["format"])
    except ExportUnreadable as exc:
        st.warning(str(exc))
        return
    root = Path(item.config.get("dataset_path") or "")
    columns = st.columns(4)
    for slot, row in enumerate(worst):
        with columns[slot % 4]:
            try:
                pair = (source, exported, row["index"], parity["confidence_threshold"], ("source", entry["format"]))
                st.image(draw_two_models(root / row["image"], *pair, max_side=420))
            except OSError:
                st.warning(f"{row['image']} cannot be read any more.")
                continue
            st.caption(
                f"{Path(row['image']).name}: {row['only_source']} only in source, {row['only_export']} only in "
                f"export, Δconf {row['max_conf_diff']:.3f}"
            )


def show(item: ExportSummary, states: dict[str, str], errors: dict[str, str]) -> None:
    size = SizeChoice.of(item.config)
    where = f" · exported {size.describe()}" if size else ""
    head = f" · {head_label(bool(item.config.get('nms_free')))} head"
    st.caption(f"Model `{item.config.get('model_path')}`{where}{head} · folder `{item.path}`")
    if stored := where_text(item.path):
        st.caption(f":material/cloud: {stored}")
    if size and size.warning:
        st.warning(size.warning, icon=":material/photo_size_select_large:")
    if item.card is None:
        state = states.get(str(item.path), "not finished")
        if state == JobState.FAILED:
            st.error(f"The export failed: {errors.get(str(item.path), '')}", icon=":material/error:")
        elif state in OPEN_STATES:
            st.info("Still running: its progress is shown above.", icon=":material/hourglass_top:")
        else:
            st.warning("This export did not finish (cancelled or interrupted): nothing in it is listed as usable.")
        return
    card = item.card
    if card.get("stopped"):
        st.warning("Stopped before the end: the formats listed are complete, the rest was not made or not checked.")
    for entry in card["formats"]:
        if entry.get("parity"):
            parity_view(item, entry)
        else:
            st.info(f"{entry['format']} {entry['precision']}: not checked against the source.", icon=":material/info:")
            runtime_precision(entry)
    st.plotly_chart(latency_bars(card), key="export.latency")
    source = card.get("latency_source") or {}
    st.caption(
        f"CPU threads: {source.get('threads')} of {source.get('cores')} cores; {source.get('runs')} timed runs per "
        "model after a warm-up, on the same images; the runtime alone (pre- and post-processing aside)."
    )
    with st.expander("Model card", icon=":material/badge:"):
        st.json(card, expanded=False)
    st.download_button(
        "Download the export (zip)",
        data=lambda: export_zip(item.path),
        file_name=f"{item.name}.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        key="export.zip",
    )


settings_now = page_start(
    "Export",
    "A model in the form a service runs (ONNX, OpenVINO, TorchScript), checked against the original on its own "
    "test images before anyone deploys it, and timed in each runtime.",
)
exports = list_exports(settings_now)
if new_export(settings_now, expanded=not exports):
    exports = list_exports(settings_now)  # the form has just added one
export_jobs = partial(jobs_of, kind=JobKind.EXPORT)
jobs = export_jobs(settings_now)
drawn_open = frozenset(j.id for j in jobs if not j.state.is_final())
st.fragment(open_jobs_section, run_every=REFRESH_S if drawn_open else None)(
    settings_now, export_jobs, drawn_open, "export."
)
if not exports:
    st.info(
        "No export yet. Pick a model above and press Export (or run `python -m mlcore export MODEL --wait`).",
        icon=":material/output:",
    )
    st.stop()
states = {j.run_dir: j.state.value for j in jobs}
errors = {j.run_dir: j.error or "" for j in jobs if j.error}
folders = [str(e.path) for e in exports]
if (wanted := st.session_state.pop("export.show", None)) in folders:
    st.session_state["export.pick"] = wanted
by_folder = {str(e.path): e for e in exports}
labels = {f: f"{by_folder[f].name} · {by_folder[f].verdict}" for f in folders}
picked = st.selectbox("Export", folders, key="export.pick", format_func=labels.__getitem__)
show(by_folder[picked], states, errors)

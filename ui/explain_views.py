"""The "Why?" view the pages share: a box (an evaluation's error, a prediction, a suspect label) explained, the
image with its box beside each heatmap, an opacity slider, the model's score and the map's share inside the box.

A .pt model is explained at once by the predictor process (gradient maps; the app never imports torch). An export
has no gradients: the view offers a D-RISE job with the mask count and its cost, and shows its maps when it ends.
"""

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import streamlit as st

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.explain.cost import estimated_seconds
from mlcore.explain.render import overlay, png, read_map_png
from mlcore.explain.saliency import DEFAULT_MASKS, DRISE
from mlcore.explain.spec import ExplainSpec
from mlcore.explain.store import explanation_result
from mlcore.explain.submit import submit_explanation
from mlcore.jobs.progress import read_progress
from mlcore.jobs.store import JobState, open_store
from mlcore.predict.client import PredictorBusy, PredictorUnavailable
from ui.auth import current_user
from ui.cache import predictor

Choice = dict[str, Any]  # {"label": str, "targets": [{"box", "class_id", "role"}]}


def _side(peak: list[int], box: list[float]) -> str:
    x, y = peak
    x1, y1, x2, y2 = box
    parts = [
        ("above" if y < y1 else "below" if y > y2 else ""),
        ("left of" if x < x1 else "right of" if x > x2 else ""),
    ]
    where = " and ".join(p for p in parts if p)
    return "inside the box" if not where else f"{where} the box"


def sentence(box: dict[str, Any]) -> str:
    """What a person reads under a map: the model's score for the class here and where the map's mass lies."""
    share = (
        f"{100 * box['energy_inside']:.0f}% of the map lies inside the box, its peak {_side(box['peak'], box['box'])}"
    )
    name, score = box["class"], box["confidence"]
    if box["role"] == "missed":
        return f"The model scored **{name} {score:.2f}** here (too low to report it); {share}."
    if box["role"] == "true class":
        return f"For the true class, **{name}**, the model scored {score:.2f} at this box; {share}."
    return f"The model scored **{name} {score:.2f}** for this box; {share}."


def show_maps(image: np.ndarray, boxes: list[dict[str, Any]], key: str) -> None:
    """The image with the box drawn, then each box's heatmap (side by side for a wrong class's two classes)."""
    opacity = st.slider("Heatmap opacity", 0.0, 1.0, 0.6, 0.05, key=f"{key}.opacity")
    columns = st.columns(1 + len(boxes))
    plain = image.copy()
    for box in boxes[:1]:
        x1, y1, x2, y2 = (int(round(v)) for v in box["box"])
        cv2.rectangle(plain, (x1, y1), (x2, y2), (255, 255, 255), max(1, round(max(image.shape[:2]) / 300)))
    columns[0].image(plain[:, :, ::-1], caption="The image", width="stretch")
    for column, box in zip(columns[1:], boxes, strict=True):
        picture = overlay(image, box["map"], opacity, tuple(box["box"]))
        column.image(picture[:, :, ::-1], caption=f"{box['role']}: {box['class']}", width="stretch")
        column.markdown(sentence(box))


def explain_choice(
    settings: Settings,
    model: Path,
    image: np.ndarray | None,
    name: str,
    choices: list[Choice],
    imgsz: int,
    nms_free: bool,
    key: str,
) -> None:
    """A picker of the boxes to explain, then their maps (a .pt) or a D-RISE job (an export). `image`: BGR pixels
    (None: it could not be read); `name`: how to call it."""
    if image is None:
        st.warning(f"{name} cannot be read any more (moved or deleted).", icon=":material/broken_image:")
        return
    if not choices:
        st.info("Nothing to explain here at these thresholds.", icon=":material/info:")
        return
    pick = st.selectbox("Box", range(len(choices)), format_func=lambda i: choices[i]["label"], key=f"{key}.box")
    targets = choices[pick]["targets"]
    if model.suffix != ".pt":
        drise_offer(settings, model, image, name, targets, imgsz, nms_free, f"{key}.{pick}")
        return
    try:
        with st.spinner("Explaining (one backward pass per box)…"):
            answer = predictor(settings).explain(model, image, imgsz, targets=targets, nms_free=nms_free)
    except (PredictorBusy, PredictorUnavailable) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if "error" in answer:
        st.error(answer["error"], icon=":material/error:")
        return
    show_maps(image, [{**b, "map": b["map"].astype(np.float32)} for b in answer["boxes"]], key)


def drise_offer(
    settings: Settings,
    model: Path,
    image: np.ndarray,
    name: str,
    targets: list[dict[str, Any]],
    imgsz: int,
    nms_free: bool,
    key: str,
) -> None:
    """An export: D-RISE as a job, its mask count chosen with its cost shown; its maps once it has ended."""
    job_id = st.session_state.get(f"{key}.job")
    if job_id is None:
        masks = st.select_slider("Masks", [250, 500, 1000, 2000, 5000], DEFAULT_MASKS, key=f"{key}.masks")
        seconds, basis = estimated_seconds(model, imgsz, masks)
        st.caption(
            f"An export has no gradients: D-RISE masks the image {masks:,} times and watches the box. About "
            f"{seconds:,.0f} s ({basis}); it runs as a job, this view follows it."
        )
        if st.button("Explain with D-RISE", type="primary", icon=":material/blur_on:", key=f"{key}.start"):
            spec = ExplainSpec(
                model_path=str(model),
                image=name,
                targets=targets,
                method=DRISE,
                masks=masks,
                imgsz=imgsz,
                nms_free=nms_free,
            )
            try:
                upload = (png(image), f"{Path(name).stem}.png")
                job = submit_explanation(spec, settings, owner=current_user(), upload=upload)
                st.session_state[f"{key}.job"] = job.id
            except SubmitError as exc:
                st.error(str(exc), icon=":material/error:")
                return
            st.rerun(scope="fragment")
        return
    job = open_store(settings).get(job_id)
    if not job.state.is_final():
        progress = read_progress(Path(job.run_dir))
        st.progress(float(progress.get("percent") or 0) / 100, text=progress.get("step") or job.state.value)
        time.sleep(1)
        st.rerun(scope="fragment")
    if job.state is not JobState.COMPLETED:
        st.error(f"The explanation ended {job.state.value}: {job.error or 'see its log'}", icon=":material/error:")
        return
    result = explanation_result(Path(job.run_dir), pictures=False) or {"boxes": []}
    boxes = [{**b, "map": read_map_png(Path(b["map_path"]).read_bytes())} for b in result["boxes"]]
    show_maps(image, boxes, key)


def read_bgr(path: Path) -> np.ndarray | None:
    """An image file's pixels as the models read them (BGR); None when it cannot be read."""
    return cv2.imread(str(path))

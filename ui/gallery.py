"""Image galleries the pages share: pages of drawn thumbnails, worst first, a larger view, and the legend."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from mlcore.charts.drawing import GROUND_TRUTH, MATCHED, MISSED, WRONG, draw_comparison
from mlcore.evaluation.analysis import Analysis, Detections, image_boxes
from mlcore.evaluation.gallery import focus_box

PER_PAGE = 12
THUMB_SIDE = 360
LEGEND = (
    ("ground truth, found", GROUND_TRUTH),
    ("prediction that found it", MATCHED),
    ("false positive (its error type is written on it)", WRONG),
    ("object not found", MISSED),
)


def thumbnails(
    root: Path,
    d: Detections,
    result: Analysis,
    images: list[int],
    key: str,
    kind: str | None = None,
    class_name: str | None = None,
    why: Callable[[int], None] | None = None,
) -> None:
    """A page of drawn images, worst first, each with a button for a larger view (and with `why`, one that explains
    its errors); an image whose error of `kind` (of `class_name`) is too small to see gets a close-up of it beside
    it."""
    if not images:
        st.info("No image matches: nothing of this kind at these thresholds.", icon=":material/image_search:")
        return
    pages = (len(images) + PER_PAGE - 1) // PER_PAGE
    page = 1
    if st.session_state.get(f"{key}.page", 1) > pages:  # fewer images at the new thresholds
        st.session_state[f"{key}.page"] = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"{key}.page"))
    st.caption(f"{len(images)} image(s), most errors first.")
    shown = images[(page - 1) * PER_PAGE : page * PER_PAGE]
    columns = st.columns(4)
    for slot, n in enumerate(shown):
        with columns[slot % 4]:
            try:
                focus = focus_box(d, result, n, kind, class_name)
                st.image(draw_comparison(root / d.images[n], d, result, n, max_side=THUMB_SIDE, focus=focus))
            except OSError:
                st.warning(f"{d.images[n]} cannot be read any more.")
                continue
            st.caption(f"{Path(d.images[n]).name} · {int(result.image_errors[n])} error(s)")
            c1, c2 = st.columns(2)
            if c1.button("Larger", key=f"{key}.open.{n}", icon=":material/zoom_in:"):
                larger(root, d, result, n, focus)
            if why is not None and c2.button("Why?", key=f"{key}.why.{n}", icon=":material/psychology_alt:"):
                why(n)


@st.dialog("Image", width="large")
def larger(root: Path, d: Detections, result: Analysis, n: int, focus: Any = None) -> None:
    try:
        st.image(draw_comparison(root / d.images[n], d, result, n, max_side=1400, focus=focus))
    except OSError:
        st.warning(f"{d.images[n]} cannot be read any more (moved or deleted); its boxes are listed below.")
    st.caption(d.images[n])
    st.dataframe(pd.DataFrame(image_boxes(d, result, n)), hide_index=True)


def legend() -> None:
    st.markdown(
        " ".join(
            f"<span style='display:inline-block;width:12px;height:12px;background:{colour};margin:0 4px 0 12px'>"
            f"</span>{text}"
            for text, colour in LEGEND
        ),
        unsafe_allow_html=True,
    )

"""The image-size field of every form that runs a model: 0, the size the model was trained at, by default; the
trained size said beside it, and a warning when another size is typed."""

from pathlib import Path
from typing import Any

import streamlit as st

from mlcore.core.settings import Settings
from mlcore.core.spec import MAX_IMGSZ, STRIDE
from mlcore.engine.trained_size import SizeChoice
from ui.cache import trained_size


def image_size_input(column: Any, model: Path | None, settings: Settings, key: str) -> int:
    """The size asked for (0: the model's trained size), in `column`."""
    value = int(
        column.number_input(
            "Image size (0 = the trained size)",
            0,
            MAX_IMGSZ,
            0,
            step=STRIDE,
            key=key,
            help="The size the model was trained at, as Ultralytics' own validation takes "
            "it; another size gives other numbers.",
        )
    )
    trained = trained_size(model, settings) if model else None
    if trained:
        column.caption(f"Trained at {trained} px.")
    warning = SizeChoice(value, trained).warning if value else None
    if warning and trained:
        st.warning(warning, icon=":material/photo_size_select_large:")
    return value

"""The Training page's augmentation part: Ultralytics' augmentation settings, and a preview of training samples
drawn with them by Ultralytics' own pipeline (in a child process: this page never imports torch)."""

import streamlit as st

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.training.augment_preview import preview_augmentation
from mlcore.training.augmentation import AUGMENTATIONS, DEFAULTS

SEED_KEY = "train.aug.seed"


def _new_draw() -> None:
    st.session_state[SEED_KEY] = int(st.session_state.get(SEED_KEY, 0)) + 1


def _reset() -> None:
    for a in AUGMENTATIONS:
        st.session_state[f"train.aug.{a.name}"] = a.default


def augmentation_fields(settings: Settings, dataset: str) -> dict[str, float]:
    """The settings that differ from Ultralytics' defaults (what goes into the training's spec)."""
    changed: dict[str, float] = {}
    with st.expander("Augmentation", icon=":material/auto_fix_high:"):
        st.caption(
            "What Ultralytics does to each training image; the defaults are its own. Preview below before "
            "an hour of training shows it."
        )
        columns = st.columns(4)
        for k, a in enumerate(AUGMENTATIONS):
            value = columns[k % 4].number_input(
                a.name,
                a.low,
                a.high,
                a.default,
                a.step,
                key=f"train.aug.{a.name}",
                help=a.what,
                format="%.4f" if a.step < 0.001 else "%.3f" if a.step < 0.05 else "%.2f",
            )
            if float(value) != DEFAULTS[a.name]:
                changed[a.name] = float(value)
        st.button("Back to the defaults", key="train.aug.reset", on_click=_reset, icon=":material/restart_alt:")
        preview_part(settings, dataset, changed)
    return changed


def preview_part(settings: Settings, dataset: str, changed: dict[str, float]) -> None:
    st.markdown("**Preview**: training samples of the chosen dataset as these settings make them")
    c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    seed = int(c1.number_input("Seed (the same seed, the same draw)", 0, 2**31 - 1, key=SEED_KEY))
    show = c2.button("Preview", key="train.aug.preview", icon=":material/preview:", disabled=not dataset)
    c3.button("New draw", key="train.aug.new_draw", on_click=_new_draw, icon=":material/casino:", disabled=not dataset)
    asked = show or st.session_state.get("train.aug.shown")
    if not dataset:
        st.caption("Pick a dataset above to preview its training samples.")
        return
    if not asked:
        st.caption(
            "Preview draws nine training samples with Ultralytics' own pipeline (mosaic included) in a few "
            "seconds; boxes are drawn as the model will learn them."
        )
        return
    st.session_state["train.aug.shown"] = True
    try:
        with st.spinner("Drawing training samples with Ultralytics' pipeline…"):
            preview = preview_augmentation(dataset, settings, changed, seed=seed)
    except SubmitError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    said = ", ".join(f"{k} {v:g}" for k, v in changed.items()) or "Ultralytics' defaults"
    st.image(str(preview.grid), caption=f"Seed {preview.seed}: {said}")
    starts = ", ".join(s["file"].rsplit("/", 1)[-1] for s in preview.samples)
    st.caption(f"Drawn in {preview.seconds:.1f} s. Each sample starts from (a mosaic adds three more): {starts}")

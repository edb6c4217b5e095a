"""Add pretrained weights ("base models") for transfer trainings: upload a .pt, give its path on the server, or a
file of the weights mirror; the file is checked in a child process (this page never imports torch), then shown
with what it is; and the base models present, as a table.

    with st.expander("Add pretrained weights"):
        base_weights_panel(settings)
"""

from pathlib import Path

import streamlit as st

from mlcore.core.settings import ENV_WEIGHTS_MIRROR, Settings, public_url
from mlcore.engine.base_weights import (
    BaseWeights,
    BaseWeightsError,
    Source,
    add_base,
    bases_table,
    list_bases,
    read_base,
)
from ui.auth import current_user

UPLOAD, SERVER, MIRROR = "Upload a .pt", "A file on this machine", "From the weights mirror"


def base_weights_panel(settings: Settings, key: str = "bases") -> None:
    """The form that adds a base model, what the last one added is, and the table of those present."""
    mirror = settings.weights_mirror
    folder = settings.model_roots[0] if settings.model_roots else None
    if folder is None:
        st.warning("No models folder is configured: set ML_STUDIO_MODEL_ROOTS.", icon=":material/folder_off:")
        return
    if not mirror:
        st.info(
            "There are no pretrained weights on this machine, and it fetches nothing from the internet. Bring a "
            ".pt file (for example the official yolo26n.pt, yolo11n.pt or yolov8n.pt): upload it or give its path "
            "on this machine; or start from a registered version trained here (Models page). An administrator "
            f"can set {ENV_WEIGHTS_MIRROR} to a server that holds weights.",
            icon=":material/cloud_off:",
        )
    sources = (UPLOAD, SERVER, MIRROR) if mirror else (UPLOAD, SERVER)
    how = st.segmented_control("Source", sources, default=UPLOAD, required=True, key=f"{key}.how")
    source: Source | None = None
    default_name = ""
    if how == UPLOAD:
        upload = st.file_uploader("Weights (.pt)", type=["pt"], key=f"{key}.upload")
        if upload is not None:
            source, default_name = upload, Path(upload.name).stem
    elif how == SERVER:
        typed = st.text_input(
            "Path of the .pt file",
            key=f"{key}.path",
            placeholder="/data/weights/yolo26n.pt",
            help="Under the dataset or model folders: " + ", ".join(str(r) for r in settings.dataset_roots),
        ).strip()
        source, default_name = typed or None, Path(typed).stem
    else:
        typed = st.text_input(
            "File name or URL on the mirror",
            key=f"{key}.url",
            placeholder="yolo26n.pt",
            help=f"A file name is fetched from {public_url(mirror)}; a URL only from that server.",
        ).strip()
        source, default_name = typed or None, Path(typed.rsplit("/", 1)[-1]).stem
    name = st.text_input(
        "Keep as (name)",
        key=f"{key}.name",
        placeholder=default_name or "yolo26n",
        help=f"Saved as <name>.pt in {folder}; letters, digits, '.', '-' and '_'. Empty = the file's name.",
    ).strip()
    if st.button("Add and check", key=f"{key}.add", disabled=source is None, icon=":material/add:"):
        added = _add(source, settings, name or default_name or None)
        if added is not None:
            st.session_state[f"{key}.added"] = str(added.path)  # only the path: read again from its record
            st.rerun()
    shown = st.session_state.get(f"{key}.added")
    base = read_base(Path(shown)) if shown else None
    if base is not None:
        _describe(base)
    present = list_bases(settings)
    if present:
        st.caption(f"Base models in `{folder}`")
        st.dataframe(bases_table(present), hide_index=True)


def _add(source: Source | None, settings: Settings, name: str | None) -> BaseWeights | None:
    bar = st.progress(0.0, text="Reading…")

    def progress(done: int, total: int | None) -> None:
        fraction = min(1.0, done / total) if total else 0.0
        size = f"{done / 2**20:.1f}" + (f" of {total / 2**20:.1f} MB" if total else " MB")
        bar.progress(fraction, text=f"Reading… {size}")

    try:
        with st.spinner("Checking the file (its architecture, task and classes)…"):
            return add_base(source or "", settings, name, progress, by=current_user())
    except BaseWeightsError as exc:
        st.error(f"Not added: {exc}", icon=":material/error:")
        return None
    finally:
        bar.empty()


def _describe(base: BaseWeights) -> None:
    st.success(f"`{base.path.name}` is checked: a transfer can start from it.", icon=":material/check_circle:")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Architecture", base.architecture)
    c2.metric("Family", base.family)
    c3.metric("Classes", len(base.classes))
    c4.metric("Trained at", f"{base.imgsz} px" if base.imgsz else "?")
    names = ", ".join(base.classes[:12]) + (f" … (+{len(base.classes) - 12})" if len(base.classes) > 12 else "")
    st.caption(f"Classes: {names}")
    st.caption(f"sha256 `{base.sha256}` · from {base.source}")
    st.caption(base.licence)

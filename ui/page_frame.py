"""The start every page shares, and cached lookups more than one page needs."""

from pathlib import Path

import streamlit as st

from mlcore.core.settings import Settings, SettingsError, load_settings
from mlcore.datasets.samples import discover_datasets
from mlcore.datasets.versions import lineage_label


def page_start(title: str, caption: str) -> Settings:
    """Title and caption, then the settings; a bad configuration ends the page with the reason."""
    st.title(title)
    st.caption(caption)
    try:
        return load_settings()
    except SettingsError as exc:
        st.error(f"The studio's configuration is not usable: {exc}", icon=":material/error:")
        st.stop()
        raise  # st.stop() raises; this line only tells type checkers so


@st.cache_data(ttl=60, show_spinner=False)
def known_datasets(roots: tuple[str, ...]) -> list[str]:
    """Dataset folders under the allowed roots (cached for a minute: a deep tree takes a while)."""
    return [str(p) for p in discover_datasets([Path(r) for r in roots])]


@st.cache_data(ttl=60, show_spinner=False)
def dataset_names(options: tuple[str, ...], demo: str) -> dict[str, str]:
    """How the pickers name each dataset: its path, with "(demo dataset)" or a version's name and parent."""
    return {
        p: f"{p}  (demo dataset)" if p == demo else f"{p}  ({lineage_label(p)})" if lineage_label(p) else p
        for p in options
    }


def dataset_select(settings: Settings, key: str, extra: tuple[str, ...] = ()) -> str:
    """A selectbox of the datasets under the allowed folders, the demo dataset first and labelled, versions named
    with their parent, then `extra`."""
    demo = str(settings.demo_dataset_dir)
    options = sorted(known_datasets(tuple(str(r) for r in settings.dataset_roots)), key=lambda p: (p != demo, p))
    names = dataset_names(tuple(options), demo)
    return st.selectbox(
        "Dataset",
        [*options, *extra],
        key=key,
        format_func=lambda p: names.get(p, p),
        help="Datasets found under the allowed folders (ML_STUDIO_DATASET_ROOTS).",
    )

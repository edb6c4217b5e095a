"""The start every page shares, and cached lookups more than one page needs."""

import time
from pathlib import Path

import streamlit as st

from mlcore.core.settings import Settings, SettingsError, load_settings
from mlcore.datasets.samples import discover_datasets
from mlcore.datasets.versions import lineage_label
from mlcore.jobs.progress import duration
from mlcore.storage.locations import StorageError, storage_configured
from mlcore.storage.pull import Pulled, pull, pulled_datasets


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


def datasets_to_pick(settings: Settings) -> bool:
    """Whether a dataset picker has something to offer: a dataset found or pulled, or buckets to pull one from."""
    found = known_datasets(tuple(str(r) for r in settings.dataset_roots))
    return bool(found) or storage_configured(settings) or bool(pulled(settings))


def _age(seconds: float) -> str:
    return "just now" if seconds < 60 else f"{duration(seconds)} ago"


@st.cache_data(ttl=60, show_spinner=False)
def _pulled(_settings: Settings, outputs: str) -> dict[str, dict]:
    return {r["path"]: r for r in pulled_datasets(_settings)}


def pulled(settings: Settings) -> dict[str, dict]:
    """The datasets pulled from buckets into the outputs, by folder; cached for a minute, as known_datasets (each
    one's record, its whole listing, is read from disk). `outputs` keys the cache: the settings are a handle."""
    return _pulled(settings, str(settings.outputs_root))


def dataset_select(settings: Settings, key: str, extra: tuple[str, ...] = ()) -> str:
    """A selectbox of the datasets under the allowed folders, the demo dataset first and labelled, versions named
    with their parent, datasets pulled from buckets by their URL, then `extra`; with storage configured, a
    "Pull from a bucket" button beside it whose copy is then picked."""
    if f"{key}.pulled" in st.session_state:  # a bucket was just pulled: pick its copy
        st.session_state[key] = st.session_state.pop(f"{key}.pulled")
    demo = str(settings.demo_dataset_dir)
    copies = pulled(settings)
    found = known_datasets(tuple(str(r) for r in settings.dataset_roots))
    options = sorted({*found, *copies}, key=lambda p: (p != demo, p in copies, p))
    names = dataset_names(tuple(options), demo)
    now = time.time()
    names.update({p: f"{r['url']}  (pulled {_age(now - (r.get('pulled_at') or now))})" for p, r in copies.items()})
    storage = storage_configured(settings)
    column = st.columns([4, 1], vertical_alignment="bottom") if storage else None
    picked = (column[0] if column else st).selectbox(
        "Dataset",
        [*options, *extra],
        key=key,
        format_func=lambda p: names.get(p, p),
        help="Datasets found under the allowed folders (ML_STUDIO_DATASET_ROOTS), and those pulled from buckets.",
    )
    for warning in st.session_state.pop(f"{key}.pulled_warnings", []):
        st.warning(warning, icon=":material/warning:")
    if column:
        with column[1].popover("Pull from a bucket", icon=":material/cloud_download:", use_container_width=True):
            _pull_form(settings, key)
    return picked


def _pull_form(settings: Settings, key: str) -> None:
    url = st.text_input("Bucket URL", key=f"{key}.url", placeholder="s3://bucket/prefix or LOCATION:prefix")
    st.caption("Only what changed since the last pull is fetched; the copy is validated where it is used.")
    if not st.button("Pull", key=f"{key}.pull", type="primary", disabled=not url.strip()):
        return
    copy = pull_with_progress(url.strip(), settings)
    if copy is None:
        return
    st.session_state[f"{key}.pulled"] = str(copy.path)
    st.session_state[f"{key}.pulled_warnings"] = copy.warnings
    st.rerun()


def pull_with_progress(url: str, settings: Settings) -> Pulled | None:
    """The dataset at `url` pulled into the cache under a progress bar, the pickers told of it; None (the reason
    shown) when it cannot be."""
    bar = st.progress(0.0, text="Listing the bucket…")
    try:
        copy = pull(url, settings, lambda done, total: bar.progress(done / max(1, total), f"{done}/{total} objects"))
    except StorageError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/cloud_off:")
        return None
    known_datasets.clear()
    _pulled.clear()
    return copy

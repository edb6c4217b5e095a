"""The Dataset validation page's versions part: make a version of the chosen dataset from changes, read a
version's manifest and validation, compare two datasets or versions."""

from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.datasets.loader import DatasetError
from mlcore.datasets.version_diff import compare_datasets
from mlcore.datasets.versions import REMOVE_ERRORS, list_versions, make_version
from ui.auth import current_user
from ui.page_frame import known_datasets


def _label(manifest: dict) -> str:
    parent = manifest["parent"]
    origin = f"{parent['name']} v{parent['version']}" if parent.get("name") else Path(parent["path"]).name
    return f"{manifest['name']} v{manifest['version']} (from {origin}, {manifest['made_at'][:16]})"


def new_version(settings: Settings, source: Path) -> None:
    st.caption(f"From `{source}`; it is not changed. The version is written under the outputs and validated.")
    c1, c2 = st.columns(2)
    fixes = c1.text_input("Fix list to apply (a label audit's fix_list.csv, the rows you accept)", key="versions.fixes")
    removes = c2.checkbox("Remove every image with a validation error", key="versions.remove_errors")
    c1, c2, c3 = st.columns([2, 1, 1])
    add = c1.text_input("Labelled images to add (a folder with images/ and labels/)", key="versions.add")
    add_to = c2.selectbox("into", ("train", "val", "test"), key="versions.add_to")
    resplit = c3.text_input("Re-split (train/val/test %)", key="versions.resplit", placeholder="70/20/10",
                            help="Copies and near copies are kept in one split.")  # fmt: skip
    name = st.text_input("Name of the versions (empty: the dataset's)", key="versions.name")
    if st.button("Make the version", type="primary", icon=":material/library_add:", key="versions.make"):
        try:
            with st.spinner("Writing and validating the version…"):
                manifest = make_version(
                    str(source), settings, fixes=Path(fixes.strip()) if fixes.strip() else None,
                    remove=REMOVE_ERRORS if removes else None, name=name.strip() or None,
                    resplit=resplit.strip() or None, add=add.strip() or None, add_to=add_to, actor=current_user(),
                )  # fmt: skip
        except SubmitError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.session_state["versions.show"] = manifest["path"]
        known_datasets.clear()  # the pickers list the new version
        st.toast(f"{manifest['name']} v{manifest['version']} made", icon=":material/library_add:")
        st.rerun()  # the versions list and the pickers show it


def show_version(manifest: dict) -> None:
    counts = manifest["validation"]
    c = st.columns(4)
    c[0].metric("Images", sum(manifest["counts"].values()))
    c[1].metric("Validation errors", counts["error"])
    c[2].metric("Warnings", counts["warning"])
    c[3].metric("Changes", len(manifest["changes"]))
    st.caption(f"`{manifest['path']}` · by {manifest['made_by']} · images " +
               ", ".join(f"{k} {v}" for k, v in manifest["links"].items()))  # fmt: skip
    for change in manifest["changes"]:
        details = {k: v for k, v in change.items() if k not in ("kind", "moves", "removed", "dropped", "class_share")}
        st.markdown(f"**{change['kind'].replace('_', ' ')}**: " + ", ".join(f"{k} {v}" for k, v in details.items()))
        if change["kind"] == "resplit" and change.get("moves"):
            st.dataframe(pd.DataFrame(change["moves"]), hide_index=True, width="stretch")
    with st.expander("manifest.json", icon=":material/description:"):
        st.json(manifest)


def compare(settings: Settings, versions: list[dict]) -> None:
    options = [m["path"] for m in versions] + known_datasets(tuple(str(r) for r in settings.dataset_roots))
    options = list(dict.fromkeys(options))
    labels = {m["path"]: _label(m) for m in versions}
    c1, c2 = st.columns(2)
    a = c1.selectbox("Compare", options, key="versions.a", format_func=lambda p: labels.get(p, p))
    b = c2.selectbox("with", options, index=min(1, len(options) - 1), key="versions.b",
                     format_func=lambda p: labels.get(p, p))  # fmt: skip
    if not st.button("Compare", icon=":material/compare_arrows:", key="versions.compare"):
        return
    try:
        with st.spinner("Reading both datasets…"):
            diff = compare_datasets(Path(a), Path(b))
    except DatasetError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    c = st.columns(5)
    for column, key in zip(c, ("added", "removed", "moved", "relabelled", "unchanged"), strict=True):
        column.metric(f"Images {key}", diff["counts"][key])
    st.dataframe(pd.DataFrame(diff["class_table"]), hide_index=True, width="stretch")
    for key in ("added", "removed", "relabelled"):
        if diff[key]:
            with st.expander(f"{diff['counts'][key]} image(s) {key}"):
                st.write(diff[key])


def versions_section(settings: Settings, source: Path | None) -> None:
    """The expander under the validation: a new version of `source`, the versions made, a comparison."""
    versions = list_versions(settings)
    with st.expander(f"Dataset versions ({len(versions)})", icon=":material/library_books:"):
        make, look, diff = st.tabs(["New version", "Versions", "Compare"])
        with make:
            if source is None:
                st.info("Choose a dataset above: a version starts from it.", icon=":material/dataset:")
            else:
                new_version(settings, source)
        with look:
            if not versions:
                st.info("No version yet. Apply an audit's fix list, remove images with errors, add labelled "
                        "images or re-split without leakage under *New version* (or `python -m mlcore dataset "
                        "version`).", icon=":material/library_books:")  # fmt: skip
            else:
                by_path = {m["path"]: m for m in versions}
                if st.session_state.get("versions.show") in by_path:
                    st.session_state["versions.pick"] = st.session_state.pop("versions.show")
                picked = st.selectbox("Version", list(by_path), key="versions.pick",
                                      format_func=lambda p: _label(by_path[p]))  # fmt: skip
                show_version(by_path[picked])
        with diff:
            compare(settings, versions)

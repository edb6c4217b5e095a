"""The Dataset validation page's versions part: make a version of the chosen dataset from changes, read a
version's manifest and validation, compare two datasets or versions."""

from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.datasets.coco import import_coco
from mlcore.datasets.loader import DatasetError
from mlcore.datasets.repair import Repair, diagnose, repair_dataset
from mlcore.datasets.version_diff import compare_datasets
from mlcore.datasets.versions import REMOVE_ERRORS, list_versions, make_version, origin_of, parse_class_map
from mlcore.storage.locations import storage_configured
from mlcore.storage.push import UPLOADED
from ui.auth import current_user
from ui.page_frame import known_datasets

NEXT_PICK = "datasets.pick_next"  # the dataset the Dataset validation page picks on its next run
NEXT_COMPARE = "versions.compare_next"  # the pair Compare shows on the next run: a new version and its parent


def _label(manifest: dict) -> str:
    return f"{manifest['name']} v{manifest['version']} (from {origin_of(manifest)}, {manifest['made_at'][:16]})"


def new_version(settings: Settings, source: Path) -> None:
    st.caption(f"From `{source}`; it is not changed. The version is written under the outputs and validated.")
    c1, c2 = st.columns(2)
    fixes = c1.text_input("Fix list to apply (a label audit's fix_list.csv, the rows you accept)", key="versions.fixes")
    removes = c2.checkbox("Remove every image with a validation error", key="versions.remove_errors")
    c1, c2, c3 = st.columns([2, 1, 1])
    add = c1.text_input("Labelled images to add (a folder with images/ and labels/)", key="versions.add")
    add_to = c2.selectbox("into", ("train", "val", "test"), key="versions.add_to")
    resplit = c3.text_input(
        "Re-split (train/val/test %)",
        key="versions.resplit",
        placeholder="70/20/10",
        help="Copies and near copies are kept in one split.",
    )
    c1, c2 = st.columns(2)
    others = [d for d in known_datasets(tuple(str(r) for r in settings.dataset_roots)) if Path(d) != source]
    merge = c1.selectbox(
        "Dataset to merge in (its splits into the same splits)",
        ["", *others],
        key="versions.merge",
        format_func=lambda d: d or "none",
    )
    mapping = c2.text_area(
        "Class mapping for the merge (THEIRS=OURS, one per line)",
        key="versions.map",
        placeholder="Logo=logo",
        height=68,
        help="Classes of the same name are one class; others are appended.",
    )
    c1, c2 = st.columns(2)
    name = c1.text_input("Name of the versions (empty: the dataset's)", key="versions.name")
    to = ""
    if storage_configured(settings):
        to = c2.text_input(
            "Also upload it to a bucket (optional)",
            key="versions.to",
            placeholder="s3://bucket/prefix or LOCATION:prefix",
            help="The version goes under datasets/NAME/vN/ there; a failed upload is tried again later.",
        )
    if st.button("Make the version", type="primary", icon=":material/library_add:", key="versions.make"):
        try:
            with st.spinner("Writing and validating the version…"):
                manifest = make_version(
                    str(source),
                    settings,
                    fixes=Path(fixes.strip()) if fixes.strip() else None,
                    remove=REMOVE_ERRORS if removes else None,
                    name=name.strip() or None,
                    resplit=resplit.strip() or None,
                    add=add.strip() or None,
                    add_to=add_to,
                    actor=current_user(),
                    merge=merge or None,
                    class_map=parse_class_map([x for x in mapping.splitlines() if x.strip()]),
                    to=to.strip() or None,
                )
        except SubmitError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        made(manifest)


def made(manifest: dict) -> None:
    """Show the new version in the list and in every dataset picker."""
    st.session_state["versions.show"] = manifest["path"]
    st.session_state[NEXT_COMPARE] = (manifest["parent"]["path"], manifest["path"])  # Compare: parent with it
    known_datasets.clear()  # the pickers list the new version
    st.toast(f"{manifest['name']} v{manifest['version']} made", icon=":material/library_add:")
    upload = manifest.get("upload")
    if upload and upload.get("state") == UPLOADED:
        st.toast(f"Uploaded to {upload['url']} ({upload['files']} files)", icon=":material/cloud_done:")
    elif upload:
        st.toast(f"Not yet uploaded: {upload.get('error')} It is tried again.", icon=":material/cloud_off:")
    st.rerun()


def import_part(settings: Settings) -> None:
    st.caption(
        "A COCO detection file and its images (or a Roboflow COCO export folder) become a YOLO dataset "
        "version: categories by name, crowd boxes left out, boxes clipped to the image, each counted."
    )
    c1, c2, c3 = st.columns([2, 2, 1])
    source = c1.text_input("COCO JSON (or a Roboflow export folder)", key="versions.coco")
    images = c2.text_input("Its images folder (not for a Roboflow folder)", key="versions.coco_images")
    name = c3.text_input("Name", key="versions.coco_name", placeholder="the file's")
    if st.button("Import", icon=":material/download:", key="versions.import", disabled=not source.strip()):
        try:
            with st.spinner("Importing and validating…"):
                manifest = import_coco(
                    Path(source.strip()),
                    Path(images.strip()) if images.strip() else None,
                    settings,
                    name=name.strip() or None,
                    actor=current_user(),
                )
        except SubmitError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        made(manifest)


@st.cache_data(ttl=30, show_spinner=False)
def _diagnosis(source: str) -> list[Repair] | str:
    try:
        return diagnose(Path(source))
    except SubmitError as exc:
        return str(exc)


def repair_offer(settings: Settings, source: Path) -> None:
    """When the chosen dataset's layout is one Ultralytics cannot read as it is: what a repaired version fixes, and
    a button that makes it."""
    repairs = _diagnosis(str(source))
    if isinstance(repairs, str) or not repairs:
        return
    with st.container(border=True):
        st.warning(
            "**This layout can be repaired** in a new version (your folder is not changed):\n\n"
            + "\n".join(f"- {r.message}" for r in repairs),
            icon=":material/build:",
        )
        c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
        resplit = c1.text_input("Re-split (optional)", key="repair.resplit", placeholder="70/20/10")
        if c2.button("Make the repaired version", type="primary", icon=":material/build:", key="repair.make"):
            try:
                with st.spinner("Writing and validating the repaired version…"):
                    manifest = repair_dataset(
                        str(source), settings, resplit=resplit.strip() or None, actor=current_user()
                    )
            except SubmitError as exc:
                st.error(str(exc), icon=":material/error:")
                return
            _diagnosis.clear()
            st.session_state[NEXT_PICK] = manifest["path"]  # the page opens the repaired version
            made(manifest)


def show_version(manifest: dict) -> None:
    counts = manifest["validation"]
    c = st.columns(4)
    c[0].metric("Images", sum(manifest["counts"].values()))
    c[1].metric("Validation errors", counts["error"])
    c[2].metric("Warnings", counts["warning"])
    c[3].metric("Changes", len(manifest["changes"]))
    st.caption(
        f"`{manifest['path']}` · by {manifest['made_by']} · images "
        + ", ".join(f"{k} {v}" for k, v in manifest["links"].items())
    )
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
    pair = st.session_state.pop(NEXT_COMPARE, None)
    if pair and all(p in options for p in pair):
        st.session_state["versions.a"], st.session_state["versions.b"] = pair
    c1, c2 = st.columns(2)
    a = c1.selectbox("Compare", options, key="versions.a", format_func=lambda p: labels.get(p, p))
    b = c2.selectbox(
        "with", options, index=min(1, len(options) - 1), key="versions.b", format_func=lambda p: labels.get(p, p)
    )
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
    if "versions.show" in st.session_state:
        st.session_state["versions.open"] = True  # a version was just made: keep the part open from now on
    with st.expander(
        "Dataset versions", icon=":material/library_books:", expanded=st.session_state.get("versions.open", False)
    ):
        make, look, diff, coco = st.tabs(["New version", f"Versions ({len(versions)})", "Compare", "Import COCO"])
        with make:
            if source is None:
                st.info("Choose a dataset above: a version starts from it.", icon=":material/dataset:")
            else:
                new_version(settings, source)
        with look:
            if not versions:
                st.info(
                    "No version yet. Apply an audit's fix list, remove images with errors, add labelled "
                    "images or re-split without leakage under *New version* (or `python -m mlcore dataset "
                    "version`).",
                    icon=":material/library_books:",
                )
            else:
                by_path = {m["path"]: m for m in versions}
                if st.session_state.get("versions.show") in by_path:
                    st.session_state["versions.pick"] = st.session_state.pop("versions.show")
                picked = st.selectbox(
                    "Version", list(by_path), key="versions.pick", format_func=lambda p: _label(by_path[p])
                )
                show_version(by_path[picked])
        with diff:
            compare(settings, versions)
        with coco:
            import_part(settings)

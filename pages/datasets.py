"""Dataset validation: pick a dataset, validate it, and see every problem with the image it is about."""

from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.charts import datasets as charts
from mlcore.charts.drawing import draw_boxes
from mlcore.core.class_names import class_names
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.core.spec import MAX_IMGSZ, STRIDE
from mlcore.datasets.issues import issue_rows, matches, shown
from mlcore.datasets.labels import read_label_file
from mlcore.datasets.loader import DatasetError, issue_files, label_path
from mlcore.datasets.samples import images_with_class
from mlcore.datasets.upload import UploadRefused, extract_dataset_zip
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.report import ValidationReport
from mlcore.datasets.validation.saved_reports import (
    ISSUES_FILE,
    REPORT_FILE,
    SavedReport,
    list_reports,
    load_report,
    save_report,
)
from mlcore.datasets.validation.validate import validate
from mlcore.storage.locations import is_storage_text
from ui.dataset_versions import NEXT_PICK, repair_offer, versions_section
from ui.page_frame import dataset_select, known_datasets, page_start, pull_with_progress

TYPED = "Type a path…"
MAX_TABLE_ROWS = 5000
MAX_PICKER = 500
VERDICTS = {
    "ready": (st.success, "Ready to train", ":material/check_circle:"),
    "ready_with_warnings": (st.warning, "Ready to train, with warnings worth a look", ":material/warning:"),
    "not_ready": (st.error, "Not ready: fix the errors before training", ":material/error:"),
}

NEXT_TYPED = "datasets.next_typed"  # a path for the typed field before it is drawn (a pulled bucket)


@st.cache_data(show_spinner=False, max_entries=8)
def cached_report(folder: str) -> ValidationReport:
    return load_report(SavedReport(Path(folder), {}))


@st.cache_data(show_spinner=False, max_entries=64)
def class_samples(source: str, class_id: int, created: str) -> list[str]:
    return [str(p) for p in images_with_class(Path(source), class_id, k=8)]


def upload_form(settings: Settings) -> None:
    """A zip of a dataset, for users who cannot put files on the server; extracted under the outputs folder."""
    with st.expander("Upload a dataset (zip)", icon=":material/upload_file:"):
        st.caption(
            f"A zip of a YOLO dataset folder (data.yaml, images/, labels/). It is extracted under "
            f"`{settings.uploads_dir}`, at most {settings.upload_max_bytes / 2**20:,.0f} MiB unpacked and "
            f"{settings.upload_max_files:,} files; archives with absolute paths, '..' or links are refused whole."
        )
        upload = st.file_uploader("Dataset archive", type=["zip"], key="datasets.upload")
        default = Path(upload.name).stem if upload else ""
        name = st.text_input("Name", value=default, key=f"datasets.upload_name.{default}", max_chars=64)
        if st.button("Extract and validate", key="datasets.extract", disabled=upload is None or not name.strip()):
            bar = st.progress(0.0, text="Extracting…")
            try:
                folder = extract_dataset_zip(
                    upload,
                    name.strip(),
                    settings,
                    lambda done, total: bar.progress(min(1.0, done / max(total, 1)), text="Extracting…"),
                )
            except UploadRefused as exc:
                bar.empty()
                st.error(f"The archive was not extracted: {exc}", icon=":material/error:")
                return
            bar.empty()
            known_datasets.clear()
            st.session_state["datasets.pick"] = str(folder)
            st.session_state["datasets.validate_now"] = True
            st.success(f"Extracted to `{folder}`.", icon=":material/check_circle:")


def choose_dataset(settings: Settings) -> str | None:
    """The dataset path the user picked or typed (not yet checked)."""
    if NEXT_PICK in st.session_state:  # a repaired version was just made: open it
        st.session_state["datasets.pick"] = st.session_state.pop(NEXT_PICK)
    if NEXT_TYPED in st.session_state:  # a bucket was just pulled: open its copy
        st.session_state["datasets.typed"] = st.session_state.pop(NEXT_TYPED)
    picked = dataset_select(settings, "datasets.pick", extra=(TYPED,))
    if picked == TYPED:
        typed = st.text_input(
            "Dataset folder or data.yaml",
            key="datasets.typed",
            placeholder="/data/my-dataset, /data/my-dataset/data.yaml or s3://bucket/prefix",
        )
        return typed or None
    return picked


def options_form() -> ValidationOptions:
    cols = st.columns(5)
    check_images = cols[0].checkbox("Check images", True, help="Open every image: corrupt, tiny, EXIF, duplicates")
    check_labels = cols[1].checkbox("Check labels", True, help="Every label line: syntax, classes, box geometry")
    validate_format = cols[2].checkbox("Check layout", True, help="Pairing, orphan labels, file formats")
    near = cols[3].checkbox("Near-duplicates", True, help="Perceptual hashes across splits (decodes every image)")
    imgsz = cols[4].number_input(
        "Training imgsz", STRIDE, MAX_IMGSZ, ValidationOptions.imgsz, step=STRIDE, help="For tiny-box checks"
    )
    return ValidationOptions(
        check_images=check_images,
        check_labels=check_labels,
        validate_format=validate_format,
        near_duplicates=near,
        imgsz=int(imgsz),
    )


def run_validation(path: Path, options: ValidationOptions, settings: Settings) -> str | None:
    bar = st.progress(0.0, text="Starting…")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"{stage}: {done:,} of {total:,}")

    try:
        report = validate(path, options, progress=progress, cache_path=settings.image_facts_cache)
    except DatasetError as exc:
        bar.empty()
        st.error(f"This dataset cannot be read: {exc}", icon=":material/error:")
        return None
    except (OSError, ValueError) as exc:  # e.g. the outputs folder is not writable
        bar.empty()
        st.error(
            f"Validation stopped: {exc}. Check that {settings.outputs_root} is writable, then validate again.",
            icon=":material/error:",
        )
        return None
    bar.empty()
    try:
        return str(save_report(report, settings.outputs_root).folder)
    except OSError as exc:
        st.error(f"The report could not be saved under {settings.outputs_root}: {exc}", icon=":material/error:")
        return None


def headline(report: ValidationReport) -> None:
    counts = report.severity_counts()
    cols = st.columns(5)
    cols[0].metric("Images", f"{sum(c['images'] for c in report.counts.values()):,}")
    cols[1].metric("Boxes", f"{report.boxes['total']:,}")
    cols[2].metric("Classes", report.dataset["nc"])
    cols[3].metric("Errors", counts["error"])
    cols[4].metric("Warnings", counts["warning"])
    show, title, icon = VERDICTS[report.verdict]
    show(f"**{title}.**\n\n" + "\n".join(f"- {line}" for line in report.recommendations), icon=icon)
    split_rows = [{"split": s, **c} for s, c in report.counts.items()]
    st.dataframe(pd.DataFrame(split_rows), hide_index=True)


def show_issue(report: ValidationReport, issue_index: int, settings: Settings) -> None:
    issue = report.issues[issue_index]
    root = Path(report.dataset["root"])
    image, label = issue_files(root, issue.path, settings.dataset_roots) if issue.path else (None, None)
    rows, lines = read_label_file(label)
    picture, problem = None, None
    if image is not None and image.exists():  # drawn before anything is written: text and picture arrive together
        names = class_names(report.dataset["names"])
        try:
            picture = draw_boxes(image, rows, names, highlight={issue.line} if issue.line else None)
        except (OSError, ValueError) as exc:
            problem = f"The image cannot be shown: {exc}"
    st.markdown(
        f"**{issue.severity.upper()} · `{issue.code}`** · {shown(issue.split) or 'dataset'} · "
        f"`{shown(issue.path) or '—'}`" + (f" line {issue.line}" if issue.line else "")
    )
    st.write(shown(issue.message))
    if not issue.path:
        return
    left, right = st.columns([3, 2])
    with left:
        if picture is not None:
            st.image(picture, caption=shown(str(image.relative_to(root) if image.is_relative_to(root) else image)))
        elif problem:
            st.warning(problem, icon=":material/broken_image:")
        else:
            st.info("No image belongs to this file.", icon=":material/hide_image:")
    with right:
        if lines:
            st.caption(f"Label file ({len(lines)} lines)" + (f", line {issue.line} marked" if issue.line else ""))
            numbered = "\n".join(
                f"{'→' if n == issue.line else ' '} {n:>4} | {text}" for n, text in enumerate(lines[:200], start=1)
            )
            st.code(numbered, language=None)
        elif label is not None:
            st.caption("No label file, or an empty one (a background image).")


def issues_tab(report: ValidationReport, settings: Settings) -> None:
    if not report.issues:
        st.success("No issue at all.", icon=":material/check_circle:")
        return
    rows = issue_rows(report.issues)
    frame = pd.DataFrame(rows)
    frame["line"] = [str(int(v)) if isinstance(v, int | float) and v == v else "" for v in frame["line"]]  # no "None"
    cols = st.columns([2, 2, 1, 2])
    severities = cols[0].multiselect("Severity", ["error", "warning", "info"], ["error", "warning", "info"])
    codes = cols[1].multiselect("Code", sorted(frame["code"].unique()), placeholder="all codes")
    splits = cols[2].multiselect("Split", sorted(frame["split"].unique()), placeholder="all splits")
    search = cols[3].text_input("Search path or message", placeholder="e.g. val_0012")
    keep = [matches(row, severities, codes, splits, search) for row in rows]
    view = frame[keep]
    st.caption(
        f"{len(view):,} of {len(frame):,} issues"
        + (
            f"; the table shows the first {MAX_TABLE_ROWS:,} (download the CSV for all)"
            if len(view) > MAX_TABLE_ROWS
            else ""
        )
    )
    st.dataframe(
        view.head(MAX_TABLE_ROWS),
        hide_index=True,
        column_config={
            "message": st.column_config.TextColumn(width="large"),
            "line": st.column_config.TextColumn(width="small"),
        },
    )
    choices = list(view.index[:MAX_PICKER])
    if not choices:
        return
    picked = st.selectbox(
        "Look at an issue",
        choices,
        index=None,
        key="datasets.issue",
        placeholder="Choose an issue to see its image",
        format_func=lambda i: (
            f"{frame.at[i, 'severity']} · {frame.at[i, 'code']} · {frame.at[i, 'path']}"
            + (f":{frame.at[i, 'line']}" if frame.at[i, "line"] else "")
        ),
    )
    if picked is not None:
        show_issue(report, int(picked), settings)


def charts_tab(report: ValidationReport) -> None:
    names = report.dataset["names"]
    config = {"displaylogo": False}
    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.class_instances(report.classes, list(report.counts)), config=config, key="ch-classes")
        st.plotly_chart(charts.boxes_per_image(report.boxes_per_image), config=config, key="ch-per-image")
        if report.image_sizes["distinct"] == 1:
            w, h, n = report.image_sizes["top"][0]
            st.info(f"All {n:,} readable images are {w} x {h} px.", icon=":material/photo_size_select_large:")
        elif report.image_sizes["sample"]:
            st.plotly_chart(charts.image_sizes(report.image_sizes["sample"]), config=config, key="ch-sizes")
    with right:
        if report.boxes["sample_size"]:
            st.plotly_chart(charts.box_sizes(report.boxes["sample"], names), config=config, key="ch-boxes")
            st.plotly_chart(charts.centre_heatmap(report.centre_heatmap), config=config, key="ch-heat")
        else:
            st.info("No boxes to chart.", icon=":material/bar_chart:")


def gallery_tab(report: ValidationReport) -> None:
    names = class_names(report.dataset["names"])
    if not names:
        st.info("The dataset defines no class.", icon=":material/category:")
        return
    cls = st.selectbox("Class", list(names), format_func=lambda c: f"{c}: {names[c]}", key="datasets.gallery")
    try:
        paths = class_samples(report.dataset["source"], cls, report.created)
    except (DatasetError, OSError) as exc:
        st.warning(f"The examples cannot be loaded: {exc}")
        return
    if not paths:
        st.info(f"No image contains class {names[cls]}.", icon=":material/image_search:")
        return
    cols = st.columns(4)
    for n, path in enumerate(paths):
        image = Path(path)
        try:
            rows, _ = read_label_file(Path(label_path(image)))
            cols[n % 4].image(draw_boxes(image, rows, names, max_side=480), caption=shown(image.name))
        except (OSError, ValueError):
            cols[n % 4].warning(f"{shown(image.name)} cannot be shown")


def downloads(folder: str) -> None:
    cols = st.columns([1, 1, 3])
    for col, (label, name, mime) in zip(
        cols,
        (("Report (JSON)", REPORT_FILE, "application/json"), ("Issues (CSV)", ISSUES_FILE, "text/csv")),
        strict=False,
    ):
        col.download_button(
            label, (Path(folder) / name).read_bytes(), file_name=name, mime=mime, icon=":material/download:"
        )
    cols[2].caption(f"Saved in `{shown(folder)}`")


def pull_from_storage(url: str, settings: Settings, clicked: bool) -> None:
    """A dataset in a bucket: pulled into the cache when Validate is pressed, then opened and validated."""
    st.caption(
        ":material/cloud: A bucket: pressing **Validate** pulls the dataset into the studio's cache (only what "
        "changed since the last pull), then validates it there."
    )
    if not clicked:
        return
    pulled = pull_with_progress(url, settings)
    if pulled is None:
        return
    for warning in pulled.warnings:
        st.warning(warning, icon=":material/warning:")
    st.session_state[NEXT_TYPED] = str(pulled.path)  # the pulled copy, validated as a typed path
    st.session_state["datasets.validate_now"] = True
    st.rerun()


current = page_start(
    "Dataset validation",
    "Every problem a YOLO dataset can have, found before you spend GPU hours on it. "
    "Your files are only read, never changed.",
)

upload_form(current)
typed_path = choose_dataset(current)
chosen_options = options_form()
clicked = st.button(
    "Validate", type="primary", icon=":material/rule:", disabled=not typed_path, key="datasets.validate"
)
clicked = clicked or bool(typed_path and st.session_state.pop("datasets.validate_now", False))
resolved: Path | None = None
if typed_path and is_storage_text(typed_path, current):
    pull_from_storage(typed_path, current, clicked)
elif typed_path:
    try:
        resolved = resolve_user_path(typed_path, current.dataset_roots, base=PROJECT_ROOT)
    except PathNotAllowed as exc:
        st.error(str(exc), icon=":material/folder_off:")
if not typed_path:
    st.info(
        "Choose a dataset above, or type the path of a dataset folder or data.yaml, then press **Validate**. "
        "No dataset yet? `make run` creates the demo dataset.",
        icon=":material/dataset:",
    )

if resolved is not None:
    repair_offer(current, resolved)
if clicked and resolved is not None:
    folder = run_validation(resolved, chosen_options, current)
    if folder:
        st.session_state["datasets.report"] = folder
        st.session_state.pop("datasets.issue", None)


def readable_report(folder: str | None) -> ValidationReport | None:
    """The saved report in `folder`, or None when it is gone or damaged (it is then forgotten)."""
    if not folder:
        return None
    try:
        return cached_report(folder)
    except (OSError, ValueError, KeyError, TypeError):
        st.session_state.pop("datasets.report", None)
        st.warning(
            f"The saved report in {shown(folder)} can no longer be read; validate again.", icon=":material/warning:"
        )
        return None


report_folder = st.session_state.get("datasets.report")
if resolved is not None:
    shown_report = readable_report(report_folder)
    if shown_report is None or shown_report.dataset["source"] != str(resolved):
        previous = list_reports(current.outputs_root, str(resolved))
        report_folder = str(previous[0].folder) if previous else None
        shown_report = readable_report(report_folder)
        if shown_report is not None:
            st.caption(f"Last validated {previous[0].summary['created']}: press Validate to check again.")
    if shown_report is not None and report_folder:
        headline(shown_report)
        issues, graphs, gallery, files = st.tabs(["Issues", "Charts", "Gallery", "Download"])
        with issues:
            issues_tab(shown_report, current)
        with graphs:
            charts_tab(shown_report)
        with gallery:
            gallery_tab(shown_report)
        with files:
            downloads(report_folder)
    elif not clicked:
        st.info("This dataset has not been validated yet: press **Validate**.", icon=":material/rule:")

versions_section(current, resolved)

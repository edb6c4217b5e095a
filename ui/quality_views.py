"""The Data quality page's result views: an audit's suspects, a selection's chosen images, a drift report."""

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from mlcore.charts.drift import feature_figure, overview_figure
from mlcore.core import paths
from mlcore.core.settings import load_settings
from mlcore.core.spec import DEFAULT_IMGSZ
from mlcore.quality.audit import suspect_targets
from ui.explain_views import explain_choice, read_bgr

PER_PAGE = 12
TYPE_LABELS = {"overlooked": "overlooked (no label)", "swapped": "swapped class", "badly_located": "badly located"}
VERDICT_BOXES = {"drift": st.error, "shift": st.warning, "stable": st.success}


def _page_of(items: list, key: str) -> list:
    pages = max(1, (len(items) + PER_PAGE - 1) // PER_PAGE)
    if st.session_state.get(key, 1) > pages:
        st.session_state[key] = 1
    page = int(st.number_input(f"Page (of {pages})", 1, pages, 1, key=key)) if pages > 1 else 1
    return items[(page - 1) * PER_PAGE : page * PER_PAGE]


def _grid(items: list[dict[str, Any]], picture_of, caption_of, why=None) -> None:  # noqa: ANN001
    columns = st.columns(4)
    for slot, item in enumerate(items):
        with columns[slot % 4]:
            picture = picture_of(item)
            if picture is not None and picture.is_file():
                st.image(str(picture))
            else:
                st.caption(":material/image_not_supported: no picture (the image could not be read)")
            st.caption(caption_of(item))
            if why is not None and st.button("Why?", key=f"quality.why.{slot}", icon=":material/psychology_alt:"):
                why(item)


@st.dialog("Why does the model disagree with this label?", width="large")
def why_suspect(issue: dict[str, Any], spec: dict[str, Any], names: dict[str, str]) -> None:
    settings = load_settings()
    root = Path(spec["dataset_path"])
    st.caption(
        f"`{issue['path']}` · {_issue_caption(issue, names)}"
        + (" · explained with the audited model (the folds' models made the predictions)" if spec.get("kfold") else "")
    )
    label = f"{TYPE_LABELS[issue['type']]}: {issue['path']}"
    choices = [{"label": label, "targets": suspect_targets(issue)}]
    image = read_bgr(root / issue["path"])
    imgsz, nms_free = int(spec.get("imgsz") or DEFAULT_IMGSZ), bool(spec.get("nms_free"))
    explain_choice(settings, Path(spec["model_path"]), image, issue["path"], choices, imgsz, nms_free, "quality.why")


def _issue_caption(issue: dict[str, Any], names: dict[str, str]) -> str:
    where = f"`{issue['label_file']}` line {issue['line']}" if issue["line"] else f"`{issue['path']}` (no label)"
    if issue["type"] == "swapped":
        change = f"{names.get(str(issue['label_class']), '?')} → {names.get(str(issue['suggested_class']), '?')}"
    elif issue["type"] == "overlooked":
        change = f"add {names.get(str(issue['suggested_class']), '?')}"
    else:
        change = "move the box" if issue.get("suggested") else "no object seen here: remove it?"
    return f"**{TYPE_LABELS[issue['type']]}** · {1 - issue['score']:.0%} likely an error · {where} · {change}"


def fold_check_view(check: dict[str, Any]) -> None:
    """Each fold model's validation beside the audited model's on the same images: the K-fold audit's check."""
    where = "the val split" if check["validated_on"] == "val split" else "each fold's held-out images"
    st.caption(
        f"Fold models ({check['epochs']} epoch(s) each) against the audited model, on {where} at imgsz "
        f"{check['imgsz']}: a fold model must reach {check['fraction']:g} of its mAP50 and at least "
        f"{check['floor']:g}."
    )
    rows = [
        {
            "Fold": r["fold"],
            "Images": r["images"],
            "Fold mAP50": r["map50"],
            "Audited mAP50": r["source_map50"],
            "Fold mAP50-95": r["map50_95"],
            "Audited mAP50-95": r["source_map50_95"],
            "Verdict": "too weak" if r["weak"] else "ok",
        }
        for r in check["folds"]
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def audit_view(report: dict[str, Any]) -> None:
    document, folder = report["result"], Path(report["folder"])
    counts, names = document["counts"], document["names"]
    c = st.columns(6)
    for column, (label, key) in zip(
        c,
        (
            ("Images", "images"),
            ("Labels", "labels"),
            ("Suspect boxes", "suspects"),
            ("Overlooked", "overlooked"),
            ("Swapped", "swapped"),
            ("Badly located", "badly_located"),
        ),
        strict=True,
    ):
        column.metric(label, counts[key])
    if document.get("warning"):
        st.warning(document["warning"], icon=":material/trending_down:")
    if document.get("blind_spot"):
        st.warning(document["blind_spot"]["warning"], icon=":material/visibility_off:")
    if document.get("in_sample"):
        st.warning(
            "The model was trained on these labels, so it agrees with many of their mistakes: fewer errors are found "
            "than out of sample. Audit the train split with K-fold for predictions that never saw the labels.",
            icon=":material/warning:",
        )
    strength = document.get("strength") or {}
    st.caption(
        f"Split **{document['split']}** · the model counted as sure from confidence {document['confident']:.2f}"
        + (
            f" (its boxes there match {strength['precision']:.0%} of the time and find {strength['recall']:.0%} of "
            f"the labels; its confidence tells right from wrong {strength['separation']:.0%} of the time"
            + (f"; mAP50 {strength['map50']:.2f} against these labels" if "map50" in strength else "")
            + ")"
            if strength
            else ""
        )
        + f" · {counts.get('likely', 0)} suspect(s) at least 50% likely to be errors · "
        f"prediction {document['timings_s']['prediction']:.1f} s, analysis {document['timings_s']['analysis']:.2f} s"
        + (f" · {document['kfold']} folds" if document.get("kfold") else "")
    )
    if document.get("fold_check"):
        fold_check_view(document["fold_check"])
    if not document["issues"]:
        st.success("No suspect box: the labels agree with the model everywhere it is sure.", icon=":material/verified:")
    else:
        kinds = st.pills(
            "Show",
            list(TYPE_LABELS),
            format_func=TYPE_LABELS.get,
            selection_mode="multi",
            default=list(TYPE_LABELS),
            key="quality.audit.kinds",
        )
        shown = [i for i in document["issues"] if i["type"] in kinds and i.get("picture")]
        st.caption(
            f"{len(shown)} suspect(s) drawn, worst first: the label's box in red, the model's suggestion in green."
        )
        _grid(
            _page_of(shown, "quality.audit.page"),
            lambda i: folder / paths.GALLERY_DIR / i["picture"],
            lambda i: _issue_caption(i, names),
            lambda i: why_suspect(i, report["spec"], names),
        )
    c1, c2, c3 = st.columns(3)
    for column, name, label in (
        (c1, paths.FIX_LIST_CSV, "Download the fix list"),
        (c2, paths.SUSPECTS_CSV, "Download the suspects"),
        (c3, paths.AUDIT_FILE, "Download audit.json"),
    ):
        if (folder / name).is_file():
            column.download_button(
                label,
                (folder / name).read_bytes(),
                file_name=name,
                icon=":material/download:",
                on_click="ignore",
                key=f"quality.audit.dl.{name}",
            )
    with st.expander("Images, worst first", icon=":material/format_list_numbered:"):
        st.dataframe(pd.DataFrame(document["images"]), hide_index=True, width="stretch")
    with st.expander("The fix list: each label line as it is and as the model suggests", icon=":material/edit_note:"):
        columns = ["label_file", "line", "type", "score", "as_is", "suggested"]
        st.dataframe(pd.DataFrame(document["issues"], columns=columns), hide_index=True, width="stretch")


def selection_view(report: dict[str, Any]) -> None:
    document, folder = report["result"], Path(report["folder"])
    counts = document["counts"]
    c = st.columns(4)
    c[0].metric("Images ranked", counts["images"])
    c[1].metric("Chosen", counts["chosen"])
    c[2].metric("Near-duplicates left out", counts["near_duplicates"])
    c[3].metric("Unreadable, skipped", counts["skipped"])
    st.info(
        f"The chosen images with pre-labels (YOLO format, which CVAT and Label Studio import) are in "
        f"`{document['to_label']}`: label them, then add them to the dataset.",
        icon=":material/label:",
    )
    chosen = document["chosen"]
    previews = folder / paths.PREVIEWS_DIR

    def caption(r: dict[str, Any]) -> str:
        return (
            f"#{r['rank']} · **{r['score']:.3f}** · `{r['path']}` · unsure {r['low_confidence']:.2f}"
            f" · classes compete {r['competition']:.2f} · views disagree {r['disagreement']:.2f}"
        )

    _grid(
        _page_of(chosen, "quality.select.page"),
        lambda r: previews / r["preview"] if r.get("preview") else None,
        caption,
    )
    if (folder / paths.SELECTION_CSV).is_file():
        st.download_button(
            "Download the ranking (CSV)",
            (folder / paths.SELECTION_CSV).read_bytes(),
            file_name=paths.SELECTION_CSV,
            icon=":material/download:",
            on_click="ignore",
            key="quality.select.dl",
        )
    with st.expander("The whole ranking", icon=":material/format_list_numbered:"):
        st.dataframe(pd.DataFrame(document["ranking"]), hide_index=True, width="stretch")
    if document["near_duplicates"]:
        with st.expander(
            f"{len(document['near_duplicates'])} near-duplicate(s) left out", icon=":material/filter_none:"
        ):
            st.dataframe(pd.DataFrame(document["near_duplicates"]), hide_index=True, width="stretch")
    if document["skipped"]:
        with st.expander(f"{len(document['skipped'])} unreadable image(s) skipped", icon=":material/broken_image:"):
            st.dataframe(pd.DataFrame(document["skipped"]), hide_index=True, width="stretch")


def drift_view(report: dict[str, Any]) -> None:
    document, folder = report["result"], Path(report["folder"])
    VERDICT_BOXES[document["verdict"]](document["summary"], icon=":material/query_stats:")
    st.caption(
        f"{document['current_images']} new images against {document['reference_images']} of the "
        f"'{document['split']}' split"
        + (" (a sample)" if document.get("reference_sampled") else "")
        + (" · with the model's predictions" if document.get("model_path") else "")
    )
    if document.get("note"):
        st.caption(f":material/info: {document['note']}")
    st.plotly_chart(overview_figure(document), key="quality.drift.overview")
    for n, entry in enumerate(document["features"]):
        icon = ":material/warning:" if entry["verdict"] != "stable" else ":material/check:"
        with st.expander(entry["sentence"], expanded=entry["verdict"] == "drift", icon=icon):
            st.plotly_chart(feature_figure(entry), key=f"quality.drift.f{n}")
            tails = entry.get("tails") or []
            if tails:
                st.caption("New images at that end:")
                _grid(tails, lambda t: folder / paths.TAILS_DIR / t["picture"], lambda t: f"`{t['path']}`")
    if document["skipped"]:
        with st.expander(f"{len(document['skipped'])} unreadable image(s) skipped", icon=":material/broken_image:"):
            st.dataframe(pd.DataFrame(document["skipped"]), hide_index=True, width="stretch")

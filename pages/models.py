"""Models: the registry (versions, aliases, lineage, the promotion gate, the audit trail) and A/B comparisons
of two models on one split, with paired bootstrap intervals and the images where they disagree."""

from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.charts.ab import difference_forest, paired_bars
from mlcore.compare.pairing import ComparisonError
from mlcore.compare.store import gallery_pictures, list_comparisons
from mlcore.compare.verdict import LABELS
from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.engine.trained_size import SizeChoice
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.store import jobs_of
from mlcore.registry.ab import THRESHOLD_MODES, ComparisonRequest, start_comparison
from mlcore.registry.promotion import GateRefused, promotion_checks, set_alias, unset_alias
from mlcore.registry.references import model_choices
from mlcore.registry.registration import register_model
from mlcore.registry.store import PRODUCTION, RegistryError, list_models, read_model, set_archived
from mlcore.registry.views import lineage_graph, model_document
from mlcore.runs.store import list_runs
from mlcore.storage.push import presigned_url
from ui.auth import current_user
from ui.jobs import open_jobs_section
from ui.page_frame import dataset_select, known_datasets, page_start

VIEWS = ("Registry", "Register a model", "Compare (A/B)")
REFRESH_S = 2.0
GALLERY = 8
VERDICT_STYLE = {"b_better": st.success, "a_better": st.warning, "no_significant_difference": st.info}
NUMBER = st.column_config.NumberColumn(format="%.3f")


def open_view(view: str, **state: str) -> None:
    """Button callback: switch the view, with some of its widgets set."""
    st.session_state["models.view"] = view
    st.session_state.update(state)


def gate_view(settings: Settings, name: str, number: int) -> None:
    model = read_model(settings, name)
    checks = promotion_checks(settings, model, model.version(number))
    st.markdown(f"**Promotion gate for v{number}** (what `{PRODUCTION}` needs)")
    for check in checks:
        icon = ":material/check_circle:" if check.passed else ":material/cancel:"
        st.markdown(f"{icon} **{check.name}**: {check.detail}")


def alias_form(settings: Settings, name: str, number: int, archived: bool) -> None:
    c1, c2 = st.columns([1, 2])
    alias = c1.text_input("Alias", PRODUCTION, key=f"models.alias.{name}.{number}")
    reason = c2.text_input("Reason (kept in the audit trail)", key=f"models.reason.{name}.{number}")
    override = st.checkbox("Override a failed gate (needs a reason)", key=f"models.override.{name}.{number}")
    b1, b2, b3, b4 = st.columns(4)
    if b1.button(
        f"Set {alias or 'alias'} → v{number}",
        type="primary",
        icon=":material/sell:",
        disabled=archived,
        key=f"models.set.{name}.{number}",
    ):
        try:
            set_alias(settings, name, alias.strip(), number, current_user(), reason, override)
            st.toast(f"{alias} → {name} v{number}", icon=":material/sell:")
            st.rerun()
        except GateRefused as exc:
            st.error(str(exc), icon=":material/gpp_bad:")
        except RegistryError as exc:
            st.error(str(exc), icon=":material/error:")
    label = "Restore" if archived else "Archive"
    if b2.button(label, icon=":material/inventory_2:", key=f"models.archive.{name}.{number}"):
        try:
            set_archived(settings, name, number, not archived, current_user(), reason)
            st.rerun()
        except RegistryError as exc:
            st.error(str(exc), icon=":material/error:")
    model = read_model(settings, name)
    held = model.aliases_of(number)
    if held:
        gone = b4.selectbox(
            "Remove alias", held, key=f"models.unalias.pick.{name}.{number}", label_visibility="collapsed"
        )
        if b4.button(f"Remove {gone}", icon=":material/label_off:", key=f"models.unalias.{name}.{number}"):
            try:
                unset_alias(settings, name, gone, current_user(), reason)
                st.rerun()
            except RegistryError as exc:
                st.error(str(exc), icon=":material/error:")
    if PRODUCTION in model.aliases and model.aliases[PRODUCTION] != number:
        b3.button(
            "Compare with production",
            icon=":material/compare_arrows:",
            key=f"models.vs.{name}.{number}",
            on_click=open_view,
            args=(VIEWS[2],),
            kwargs={"models.a": f"{name}@{PRODUCTION}", "models.b": f"{name}:{number}"},
        )


def registry_view(settings: Settings) -> None:
    models = list_models(settings)
    if not models:
        st.info(
            "No registered model yet. Register a finished run in **Register a model**: its weights are copied "
            "into the registry with their lineage.",
            icon=":material/inventory_2:",
        )
        st.button("Register a model", on_click=open_view, args=(VIEWS[1],), key="models.go.register")
        return
    name = st.selectbox("Model", [m.name for m in models], key="models.name")
    doc = model_document(settings, name)
    aliases = ", ".join(f"**{a}** → v{n}" for a, n in sorted(doc["aliases"].items())) or "no aliases yet"
    st.markdown(f"{len(doc['versions'])} version(s) · {aliases}")
    rows = [
        {
            "version": f"v{v['version']}",
            "aliases": ", ".join(v["aliases"]),
            "mAP50-95": v["map50_95"],
            "mAP50": v["map50"],
            "measured on": v["measured_on"],
            "run": v["run"],
            "architecture": f"{v['architecture']} ({v['family']})",
            "dataset": Path(v["dataset"]).name,
            "exports": ", ".join(f"{x['name']} ({x['verdict']})" for x in v["exports"]),
            "archived": v["archived"],
            "registered": v["created"],
            "by": v["by"],
            "problem": v["problem"] or "",
        }
        for v in reversed(doc["versions"])
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={"mAP50-95": NUMBER, "mAP50": NUMBER})
    for v in doc["versions"]:
        if v["problem"]:
            st.error(v["problem"], icon=":material/gpp_bad:")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Lineage**")
        st.graphviz_chart(lineage_graph(settings, name))
    with right:
        numbers = [v["version"] for v in reversed(doc["versions"])]
        number = st.selectbox("Version", numbers, format_func=lambda n: f"v{n}", key=f"models.version.{name}")
        version = next(v for v in doc["versions"] if v["version"] == number)
        st.caption(f"sha256 `{version['sha256'][:16]}…` · {version['size_mb']} MB · {version['reason'] or 'no reason'}")
        chain = version["lineage"]["base_chain"]
        if chain:
            st.caption("Fine-tuned from " + " ← ".join(b["version"] or Path(b["path"]).name for b in chain))
        if profile := version["profile"]:
            own = f", {len(profile['per_class'])} class threshold(s)" if profile["per_class"] else ""
            st.caption(
                f"Deployment profile: confidence {profile['confidence']}, NMS IoU {profile['iou']}{own} "
                f"({profile['objective'] or 'chosen by hand'})"
            )
        else:
            st.caption("No deployment profile: predictions use confidence 0.25 and NMS IoU 0.7.")
        if version["mlflow"]:
            st.caption(f"MLflow: {version['mlflow']}")
        weights = Path(version["weights"])
        if weights.is_file() and not version["problem"]:
            st.download_button(
                "Download weights",
                weights.read_bytes,
                f"{name}-v{number}{weights.suffix}",
                icon=":material/download:",
                key=f"models.download.{name}.{number}",
                on_click="ignore",
            )  # read only when clicked
        if link := presigned_url(weights, settings):
            st.link_button("Download from storage (link valid 1 h)", link, icon=":material/cloud_download:")
    gate_view(settings, name, number)
    alias_form(settings, name, number, version["archived"])
    with st.expander("Audit trail", icon=":material/history:"):
        st.dataframe(pd.DataFrame(doc["audit"]), hide_index=True)


def register_view(settings: Settings) -> None:
    runs = [r for r in list_runs(settings) if not r.attached and r.weights]
    if not runs:
        st.info(
            "No finished run with weights yet: train a model on the Training page first.",
            icon=":material/model_training:",
        )
        return
    run = st.selectbox("Run", runs, format_func=lambda r: f"{r.name} · {r.epochs_done} epochs", key="models.run")
    known = [m.name for m in list_models(settings)]
    c1, c2 = st.columns(2)
    name = c1.selectbox("Model name", [*known, "New model…"], key="models.register.name") if known else "New model…"
    if name == "New model…":
        name = c1.text_input(
            "New model name",
            "logo-detector",
            key="models.register.new",
            help="Lower-case letters, digits, '.', '_' and '-'.",
        )
    reason = c2.text_input("Reason", key="models.register.reason", placeholder="e.g. 200 more images of night scenes")
    if st.button("Register", type="primary", icon=":material/add_box:", key="models.register.go"):
        try:
            with st.spinner("Copying the weights and recording the lineage…"):
                version = register_model(str(run.path), name.strip(), settings, current_user(), reason)
        except RegistryError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.success(f"Registered {name} v{version.number}.", icon=":material/check_circle:")
        st.session_state["models.name"] = name


def comparison_view(settings: Settings, doc: dict) -> None:
    VERDICT_STYLE.get(doc["verdict"], st.info)(doc["summary"], icon=":material/balance:")
    st.caption(
        f"A = {doc['a']['label']} · B = {doc['b']['label']} · {doc['images']} images of the {doc['split']} "
        f"split · {doc['resamples']} paired bootstrap resamples (seed {doc['seed']})"
    )
    sizes = {side.upper(): SizeChoice.of(record) for side, record in (doc.get("sizes") or {}).items()}
    if sizes:
        st.caption(" · ".join(f"{side} evaluated {size.describe()}" for side, size in sizes.items() if size))
    for side, size in sizes.items():
        if size and size.warning:
            st.warning(f"{side}: {size.warning}", icon=":material/photo_size_select_large:")
    left, right = st.columns([3, 2])
    rows = [
        {
            "metric": LABELS.get(m, m),
            "A": r["a"],
            "B": r["b"],
            "B − A": r["delta"],
            "95% low": r["ci_low"],
            "95% high": r["ci_high"],
        }
        for m, r in doc["metrics"].items()
    ]
    left.dataframe(pd.DataFrame(rows), hide_index=True, column_config={k: NUMBER for k in rows[0] if k != "metric"})
    right.plotly_chart(difference_forest(doc["metrics"]), key="models.forest")
    per_class = [
        {
            "class": c,
            **{f"{m} B−A": r[m]["delta"] for m in r},
            **{f"{m} low": r[m]["ci_low"] for m in r},
            **{f"{m} high": r[m]["ci_high"] for m in r},
        }
        for c, r in doc["per_class"].items()
    ]
    with st.expander("Per class", expanded=True, icon=":material/category:"):
        st.dataframe(pd.DataFrame(per_class), hide_index=True)
    c1, c2 = st.columns(2)
    c1.plotly_chart(paired_bars(doc["error_types"], ("A", "B"), "Error types"), key="models.errors")
    c2.dataframe(pd.DataFrame(doc["by_size"]), hide_index=True)
    speed = doc["speed"]
    if speed["a_ms"] and speed["b_ms"]:
        c2.caption(
            f"Speed in the evaluation: A {speed['a_ms']:.1f} ms, B {speed['b_ms']:.1f} ms per image "
            f"(B/A {speed['ratio']:.2f}×)."
        )
    st.markdown("**Where they disagree** (A left, B right; ground truth and errors drawn)")
    pictures = gallery_pictures(doc, GALLERY)
    if not pictures:
        st.caption("The two models make the same number of errors on every image.")
    columns = st.columns(2)
    for slot, (caption, data) in enumerate(pictures):
        columns[slot % 2].image(data, caption=caption)
    report = Path(doc.get("output_dir", "")) / paths.REPORT_FILE
    if report.is_file():
        st.download_button(
            "Download the HTML report",
            report.read_bytes(),
            report.name,
            mime="text/html",
            icon=":material/download:",
            key="models.report",
        )


def follow_comparison(doc: dict, texts: list[str], datasets: list[str]) -> None:
    """Fill the form with what the comparison on show compared, so that Compare repeats it (not the defaults)."""
    for key, value, options in (
        ("models.a", doc["a"].get("reference"), texts),
        ("models.b", doc["b"].get("reference"), texts),
        ("models.dataset", doc.get("dataset"), datasets),
        ("models.split", doc.get("split"), ("test", "val")),
    ):
        if value in options:
            st.session_state[key] = value


def compare_view(settings: Settings) -> None:
    choices = model_choices(settings)
    if len(choices) < 1:
        st.info("Nothing to compare yet: train a model, or register one.", icon=":material/model_training:")
        return
    texts = [c.text for c in choices]
    labels = {c.text: c.label for c in choices}
    versions = [t for t in texts if ":" in t and "@" not in t and not t.startswith("/")]
    newest = versions[0] if versions else texts[0]
    current = next((t for t in texts if t.endswith(f"@{PRODUCTION}")), None)
    current = current or next((t for t in texts if t != newest), newest)
    for key, default in (("models.a", current), ("models.b", newest)):  # production (or the one before) vs newest
        if st.session_state.get(key) not in texts:
            st.session_state[key] = default
    earlier = {c.name: c.document for c in list_comparisons(settings)}
    shown = st.session_state.get("models.earlier")
    shown = shown if shown in earlier else next(iter(earlier), None)
    if shown is not None and st.session_state.get("models.followed") != shown:  # a comparison newly on show
        follow_comparison(earlier[shown], texts, known_datasets(tuple(str(r) for r in settings.dataset_roots)))
        st.session_state["models.followed"] = shown
    c1, c2 = st.columns(2)
    a = c1.selectbox("A (the current model)", texts, format_func=labels.get, key="models.a")
    b = c2.selectbox("B (the challenger)", texts, format_func=labels.get, key="models.b")
    c1, c2, c3 = st.columns([3, 1, 2])
    with c1:
        dataset = dataset_select(settings, "models.dataset")
    split = c2.selectbox("Split", ("test", "val"), key="models.split")
    mode = c3.radio(
        "Thresholds",
        THRESHOLD_MODES,
        horizontal=True,
        key="models.thresholds",
        format_func={"profile": "each model's profile", "common": "the same for both"}.get,
    )
    conf, iou = ComparisonRequest.confidence, ComparisonRequest.iou
    if mode == "common":
        c1, c2 = st.columns(2)
        conf = c1.slider("Confidence", 0.01, 0.99, conf, 0.01, key="models.conf")
        iou = c2.slider("NMS IoU", 0.1, 0.95, iou, 0.05, key="models.iou")
    if st.button("Compare", type="primary", icon=":material/compare_arrows:", key="models.compare"):
        st.session_state["models.request"] = ComparisonRequest(a, b, dataset, split, None, mode, conf, iou)
    request = st.session_state.get("models.request")
    if request is not None:
        try:
            with st.spinner("Reading the evaluations and resampling…"):
                outcome = start_comparison(request, settings, current_user())
        except (RegistryError, ComparisonError, SubmitError) as exc:
            st.error(str(exc), icon=":material/error:")
            st.session_state.pop("models.request", None)
            return
        if outcome.pending:
            st.info(
                f"Evaluating {len(outcome.pending)} model(s) on the {request.split} split first; the comparison "
                "appears when they have finished.",
                icon=":material/hourglass_top:",
            )
            evaluations = partial(jobs_of, kind=JobKind.EVALUATION, task=JobTask.EVALUATE)
            st.fragment(open_jobs_section, run_every=REFRESH_S)(
                settings, evaluations, frozenset(outcome.pending), "models"
            )
            return
        st.session_state.pop("models.request", None)
        st.session_state["models.earlier"] = st.session_state["models.followed"] = Path(outcome.folder or "").name
        earlier = {c.name: c.document for c in list_comparisons(settings)}  # with the new one
    if not earlier:
        st.caption("Pick two models and a dataset, then Compare: missing evaluations are queued first.")
        return
    if st.session_state.get("models.earlier") not in earlier:
        st.session_state["models.earlier"] = next(iter(earlier))
    picked = st.selectbox(
        "Comparison",
        list(earlier),
        key="models.earlier",
        format_func=lambda n: f"{n} · {earlier[n]['verdict'].replace('_', ' ')}",
    )
    comparison_view(settings, earlier[picked])


settings = page_start(
    "Models",
    "Registered models with versions and aliases, where each came from, and A/B comparisons that say whether "
    "a new model is really better or just lucky on the test images.",
)
view = (
    st.segmented_control("View", VIEWS, default=VIEWS[0], key="models.view", label_visibility="collapsed") or VIEWS[0]
)
if view == VIEWS[1]:
    register_view(settings)
elif view == VIEWS[2]:
    compare_view(settings)
else:
    registry_view(settings)

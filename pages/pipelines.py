"""Pipelines: train → evaluate → gate → export → register as one declared run. Start one from a file in the
project or written here (checked as it is typed), follow its stages, read its gate and its report."""

from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.core.errors import JobRefused, SubmitError
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.core.spec import SpecError
from mlcore.jobs.store import OPEN_STATES
from mlcore.pipelines.folder import FAILED, PASSED, PENDING, RUNNING, SKIPPED
from mlcore.pipelines.report import number_text
from mlcore.pipelines.spec import EXAMPLE
from mlcore.pipelines.submit import (
    cancel_pipeline,
    check_file,
    pipeline_document,
    pipeline_runs,
    pipeline_summary,
    resume_pipeline,
    start_pipeline,
    stop_pipeline,
)
from ui.auth import current_user
from ui.jobs import advance_queue
from ui.page_frame import page_start

REFRESH_S = 2.0
DRAFT = "pipelines.draft"  # a pipeline another page wrote for the user to review (the evaluation page's cycle)
STAGE_ICONS = {PENDING: "⏳", RUNNING: "🏃", PASSED: "✅", FAILED: "❌", SKIPPED: "⏭️"}
RUN_ICONS = {"passed": "✅", "gate failed": "❌", "failed": "❌", "stopped": "⏹️", "cancelled": "⏹️", "interrupted": "⚠️"}
FILE_GLOBS = ("examples/pipelines/*.yaml", "pipelines/*.yaml", "*.pipeline.yaml", ".mlstudio/*.yaml")


def project_files() -> list[Path]:
    return sorted({p for pattern in FILE_GLOBS for p in PROJECT_ROOT.glob(pattern) if p.is_file()})


def editor(settings: Settings) -> None:
    draft = st.session_state.pop(DRAFT, None)
    if draft is not None:
        st.session_state["pipelines.text"] = draft
        st.session_state["pipelines.source"] = "Write one"
    runs = pipeline_runs(settings)
    with st.expander("Start a pipeline", expanded=draft is not None or not runs, icon=":material/play_circle:"):
        files = project_files()
        source = st.segmented_control(
            "From", ("A file in the project", "Write one"), default="A file in the project", key="pipelines.source"
        )
        if source == "A file in the project" and files:
            picked = st.selectbox(
                "File", files, format_func=lambda p: str(p.relative_to(PROJECT_ROOT)), key="pipelines.file"
            )
            text = picked.read_text(encoding="utf-8")
            st.code(text, language="yaml")
            origin = str(picked)
        else:
            if "pipelines.text" not in st.session_state:
                st.session_state["pipelines.text"] = (PROJECT_ROOT / EXAMPLE).read_text(encoding="utf-8")
            text = st.text_area("Pipeline (YAML)", key="pipelines.text", height=420)
            origin = "page"
        sets = [
            s for s in st.text_input("Overrides (KEY=VALUE, separated by spaces)", key="pipelines.sets").split() if s
        ]
        try:
            spec = check_file(text, settings, sets)
        except (SpecError, SubmitError, ValueError) as exc:
            st.error(f"Not runnable yet: {exc}", icon=":material/error:")
            return
        rules = spec.rules()
        st.success(
            f"**{spec.name}**: {' → '.join(spec.step_names)} · {len(rules)} gate rule(s) checked against the dataset.",
            icon=":material/check_circle:",
        )
        if st.button("Run the pipeline", type="primary", icon=":material/play_arrow:", key="pipelines.start"):
            try:
                job = start_pipeline(text, settings, owner=current_user(), sets=sets, source=origin)
            except (SpecError, SubmitError, JobRefused) as exc:
                st.error(str(exc), icon=":material/error:")
                return
            st.session_state["pipelines.pick"] = Path(job.run_dir).name
            st.toast(f"Pipeline {spec.name} queued", icon="🏃")
            st.rerun()


def stages(document: dict) -> None:
    """The steps as a row of stages."""
    columns = st.columns(len(document["steps"]))
    for column, step in zip(columns, document["steps"], strict=True):
        with column.container(border=True):
            st.caption(f"{STAGE_ICONS.get(step['state'], '')} **{step['step']}**")
            st.caption(
                step["state"]
                + (f" · {step['ended'] - step['started']:.0f} s" if step.get("ended") and step.get("started") else "")
            )
            if step["state"] == RUNNING and document.get("percent") is not None:
                st.progress(min(1.0, float(document["percent"]) / 100))
            if step.get("error"):
                st.caption(str(step["error"]).splitlines()[0][:160])


def gate_table(document: dict) -> None:
    gate = document.get("gate")
    if gate is None:
        st.caption("The gate's table appears once the gate step has run.")
        return
    verdict = "passed" if gate["passed"] else "failed"
    st.markdown(f"**Gate {verdict}** {'✅' if gate['passed'] else '❌'}")
    rows = [
        {
            "": "✅" if r["passed"] else "❌",
            "rule": r["rule"],
            "value": number_text(r["value"]),
            "threshold": number_text(r["threshold"]),
            "note": r["note"],
        }
        for r in gate["rules"]
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def controls(document: dict, settings: Settings) -> None:
    c1, c2, c3, _ = st.columns([1, 1, 1, 3])
    open_ = document["state"] in {s.value for s in OPEN_STATES}
    actions = {
        "stop": (
            c1,
            "Stop",
            ":material/stop:",
            open_,
            stop_pipeline,
            "The running step finishes; the rest is skipped.",
        ),
        "cancel": (c2, "Cancel", ":material/cancel:", open_, cancel_pipeline, "End the pipeline and its step now."),
        "resume": (
            c3,
            "Resume",
            ":material/replay:",
            not open_ and document["state"] != "passed",
            resume_pipeline,
            "Go on from the first step not passed.",
        ),
    }
    for key, (column, label, icon, enabled, act, help_text) in actions.items():
        if column.button(label, icon=icon, disabled=not enabled, key=f"pipelines.{key}", help=help_text):
            try:
                act(document["run"], settings, current_user())
            except (SubmitError, ValueError, JobRefused) as exc:
                st.error(str(exc), icon=":material/error:")
                return
            st.rerun()


def run_view(name: str, settings: Settings) -> dict:
    document = pipeline_document(name, settings)
    state = document["state"]
    st.progress(
        float(document.get("percent") or 0) / 100,
        text=" · ".join(t for t in (f"{RUN_ICONS.get(state, '🏃')} {state}", document.get("progress")) if t),
    )
    if document.get("error") and state not in ("passed", "gate failed"):
        st.error(document["error"].splitlines()[0], icon=":material/error:")
    controls(document, settings)
    stages(document)
    gate_table(document)
    if document.get("report"):
        report = Path(document["report"])
        c1, c2 = st.columns(2)
        c1.download_button(
            "Download report.md",
            report.read_bytes(),
            f"{name}-report.md",
            "text/markdown",
            on_click="ignore",
            icon=":material/download:",
            key="pipelines.report",
        )
        c2.download_button(
            "Download junit.xml",
            Path(document["junit"]).read_bytes(),
            f"{name}-junit.xml",
            "application/xml",
            on_click="ignore",
            icon=":material/download:",
            key="pipelines.junit",
        )
        with st.expander("Report", expanded=True, icon=":material/description:"):
            st.markdown(report.read_text(encoding="utf-8"))
    return document


settings = page_start(
    "Pipelines",
    "A file that says what a good model is: train, evaluate, gate, export and register as one run, the same on this "
    "page, in a terminal and in a CI job (`python -m mlcore pipeline run FILE --wait`).",
)
advance_queue(settings)
editor(settings)
runs = pipeline_runs(settings)
if not runs:
    st.info(
        f"No pipeline has run yet. Start the demo above ({EXAMPLE}), or from a terminal: "
        f"`python -m mlcore pipeline run {EXAMPLE} --wait`.",
        icon=":material/account_tree:",
    )
    st.stop()
summaries = {r.name: pipeline_summary(r, settings) for r in runs}
if st.session_state.get("pipelines.pick") not in summaries:
    st.session_state["pipelines.pick"] = runs[0].name
picked = st.selectbox(
    "Run",
    list(summaries),
    key="pipelines.pick",
    format_func=lambda n: f"{RUN_ICONS.get(summaries[n]['state'], '🏃')} {n} · {summaries[n]['state']}",
)
running = summaries[picked]["state"] in {s.value for s in OPEN_STATES}


@st.fragment(run_every=REFRESH_S if running else None)
def live() -> None:
    document = run_view(picked, settings)
    if running and document["state"] not in {s.value for s in OPEN_STATES}:
        st.rerun()  # the run ended: a whole-page run stops the refreshing


live()

"""The job row the Training and Model evaluation pages share: progress, Stop and Cancel."""

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from mlcore.core.errors import JobRefused
from mlcore.core.settings import Settings
from mlcore.jobs.control import cancel_job, stop_job
from mlcore.jobs.kinds import KINDS, JobKind
from mlcore.jobs.progress import describe, read_progress
from mlcore.jobs.scheduler import refresh
from mlcore.jobs.store import Job, JobState
from ui.auth import current_user

STATE_ICONS = {
    JobState.QUEUED: ":material/schedule:",
    JobState.STARTING: ":material/rocket_launch:",
    JobState.RUNNING: ":material/directions_run:",
    JobState.STOPPING: ":material/pause_circle:",
    JobState.COMPLETED: ":material/check_circle:",
    JobState.FAILED: ":material/error:",
    JobState.CANCELLED: ":material/cancel:",
    JobState.LOST: ":material/help:",
}  # keyed by JobState, a str: the plain state text of a report finds its icon too


def advance_queue(settings: Settings) -> None:
    """The page is one of the callers that advance the queue; a step that cannot run now is said."""
    if problem := refresh(settings):
        st.warning(f"{problem[0].upper()}{problem[1:]}", icon=":material/warning:")


def run_name(job: Job) -> str:
    """project/experiment of a training, the folder's name for other jobs."""
    return "/".join(Path(job.run_dir).parts[-2:]) if job.kind == JobKind.TRAINING else Path(job.run_dir).name


def job_row(job: Job, settings: Settings, position: int | None, key: str = "", cancel: Callable = cancel_job) -> None:
    """One open job with its progress bar; Stop where the job keeps its work (a training, an export), Cancel always."""
    progress = read_progress(Path(job.run_dir))
    training, kind = job.kind == JobKind.TRAINING, KINDS[job.kind]
    with st.container(border=True):
        c1, c2, c3, c4 = st.columns([3, 5, 1.2, 1.2], vertical_alignment="center")
        c1.markdown(f"{STATE_ICONS.get(job.state.value, '')} **{run_name(job)}**")
        details = kind.details(job.spec)
        c1.caption(" · ".join(str(d) for d in (*details, job.device or "no device yet", f"by {job.owner}")))
        c2.progress(float(progress.get("percent") or 0) / 100, text=describe(job, progress, position))
        if kind.stoppable and c3.button(
            "Stop",
            key=f"{key}stop.{job.id}",
            icon=":material/stop:",
            disabled=job.state is not JobState.RUNNING,
            help=kind.stop_help,
        ):
            act(stop_job, job.id, settings)
        if c4.button(
            "Cancel",
            key=f"{key}cancel.{job.id}",
            icon=":material/cancel:",
            help="End now: the worker and its processes are terminated"
            + ("; the run can be resumed later." if training else "."),
        ):
            with st.spinner("Cancelling…"):
                act(cancel, job.id, settings)


def act(action, job_id: str, settings: Settings) -> None:
    """Stop or Cancel as the signed-in user; a refusal (not yours, already ended) is shown, not raised."""
    try:
        job = action(job_id, settings, actor=current_user())
    except (JobRefused, OSError) as exc:
        st.warning(str(exc).strip('"'), icon=":material/warning:")
        return
    st.toast(f"{run_name(job)}: {job.state.value}", icon=STATE_ICONS.get(job.state.value))
    st.rerun()  # show the list as it is now


def open_jobs_section(
    settings: Settings,
    jobs_of: Callable[[Settings], list[Job]],
    drawn_open: frozenset[str],
    key: str,
    cancel: Callable = cancel_job,
) -> None:
    """The jobs of one kind queued or running, with progress (run as a fragment, refreshed while any is open).

    `drawn_open` are the jobs that were open when the whole page was last drawn: once one of them has
    ended, every refresh asks for a whole-page run (a request lost in transit is simply asked again)."""
    advance_queue(settings)
    jobs = [j for j in jobs_of(settings) if not j.state.is_final()]
    if drawn_open - {j.id for j in jobs}:
        st.rerun()  # one ended: a whole-page run shows its result
    queued = [j.id for j in jobs if j.state is JobState.QUEUED]
    for job in jobs:
        job_row(job, settings, queued.index(job.id) + 1 if job.id in queued else None, key=key, cancel=cancel)

"""A job's progress as its worker writes it (progress.json, the log), and one sentence that says
where it is, for the pages, the command line and the API alike.

    progress = read_progress(Path(job.run_dir))
    describe(job, progress, store.queue_position(job.id))  # "running · epoch 2/5 · batch 3/10 · about 40 s left"
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.paths import RunFolder
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.store import Job, JobState, ProgressState

LOG_TAIL_LINES = 20


def write_progress(
    run_dir: Path, percent: float, step: str | None = None, state: ProgressState = ProgressState.RUNNING
) -> None:
    """progress.json of a job that is not a training: how far (0-100) and the step it is at, in words."""
    progress = {"state": state, "percent": round(float(percent), 1), "updated": time.time()}
    write_json_atomically(RunFolder(run_dir).progress, progress | ({"step": step} if step else {}))


def read_progress(run_dir: Path) -> dict[str, Any]:
    """The folder's progress.json, or {} while there is none (or it cannot be read)."""
    try:
        progress = json.loads(RunFolder(run_dir).progress.read_text())
    except (OSError, ValueError):
        return {}
    return with_finished_epochs(run_dir, progress)


def with_finished_epochs(run_dir: Path, progress: dict[str, Any]) -> dict[str, Any]:
    """A running training's progress, moved on to the epochs results.csv has recorded when progress.json
    lags behind them: a multi-GPU training runs in Ultralytics' DDP ranks, and releases that drop custom
    callbacks there (ultralytics#6168) leave progress.json standing while rank 0 still writes results.csv."""
    epochs = progress.get("epochs")
    if progress.get("state") not in (ProgressState.RUNNING, ProgressState.STOPPING) or not epochs:
        return progress
    try:
        finished = len(RunFolder(run_dir).results_csv.read_text().splitlines()) - 1
    except OSError:
        return progress
    if finished <= int(progress.get("epoch") or 0):
        return progress  # the callbacks are at the epoch that runs now (or validating the one that just ended)
    return {
        **progress,
        "epoch": min(finished + 1, int(epochs)),
        "batch": 0,
        "percent": round(100 * min(1.0, finished / int(epochs)), 1),
        "eta_s": None,
        "source": "results.csv",
    }


def run_folder_log(job: Job) -> str:
    """The whole log the job wrote in its folder ('' while there is none)."""
    try:
        return RunFolder(Path(job.run_dir)).log(job.kind).read_text(errors="replace")
    except OSError:
        return ""


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:]) if text else "(no log)"


def log_tail(run_dir: str, lines: int = LOG_TAIL_LINES, kind: str = JobKind.TRAINING) -> str:
    """The last `lines` lines of the log that a job of `kind` writes in `run_dir`."""
    try:
        text = RunFolder(Path(run_dir)).log(kind).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def duration(seconds: float | None) -> str:
    """12 s, 3.5 min, 2.1 h."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def describe(job: Job, progress: dict[str, Any], position: int | None = None) -> str:
    """Where the job is, in a few words: its queue position, epoch or batch, and the time left."""
    if job.state is JobState.QUEUED:
        return f"queued, position {position}: waiting for a free {job.spec.get('device', 'auto')} device"
    if job.kind != JobKind.TRAINING:
        text = job.state.value
        if progress.get("step"):
            text += f" · {progress['step']}"
        elif progress.get("batches"):
            text += f" · batch {progress.get('batch', 0)}/{progress['batches']}"
        elif job.state is JobState.RUNNING:
            text += " · loading the model and the images…"
        return text
    if not progress.get("epoch"):
        return f"{job.state.value}: preparing the dataset and the model…"
    text = f"{job.state.value} · epoch {progress['epoch']}/{progress['epochs']}"
    if progress.get("batches"):
        text += f" · batch {progress.get('batch', 0)}/{progress['batches']}"
    if progress.get("eta_s") is not None:
        text += f" · about {duration(progress['eta_s'])} left"
    return text


def audit_line(events: list[dict[str, Any]]) -> str:
    """'submitted by ana@lab 10:02 · cancelled by local 10:05': who did what to the job."""
    return " · ".join(f"{e['action']} by {e['actor']} {datetime.fromtimestamp(e['at']):%Y-%m-%d %H:%M}" for e in events)


def why_ended(job: Job, progress: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """Why a job that has ended ended, in a few words: its error, who stopped or cancelled it and when, or (a
    training) whether it ran all its epochs or early stopping ended it."""
    if job.state in (JobState.FAILED, JobState.LOST):
        return (job.error or "no reason recorded").splitlines()[0]
    by = {e["action"]: e["actor"] for e in events}
    done, epochs = int(progress.get("epoch") or 0), int(progress.get("epochs") or job.spec.get("epochs") or 0)
    if job.state is JobState.CANCELLED:
        where = f" in epoch {done} of {epochs}" if job.kind == JobKind.TRAINING and done else ""
        return f"cancelled by {by.get('cancelled', 'someone')}{where}"
    if job.state is not JobState.COMPLETED:
        return ""
    if progress.get("state") == ProgressState.STOPPED or "stopped" in by:
        return f"stopped by {by.get('stopped', 'someone')}" + (f" after epoch {done} of {epochs}" if epochs else "")
    if job.kind != JobKind.TRAINING or not epochs:
        return "finished"
    if done and done < epochs:
        patience = job.spec.get("patience")
        return f"early stopping after epoch {done} of {epochs}" + (
            f": no better epoch in the last {patience}" if patience else ""
        )
    return f"finished all {epochs} epochs"


def ended_table(jobs: list[Job], events_of: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rows for a table of ended trainings: the run, how it ended, how long it took and why it ended."""
    return [
        {
            "Run": "/".join(Path(j.run_dir).parts[-2:]),
            "Job": j.id,
            "Mode": j.spec.get("mode"),
            "State": j.state.value,
            "Took": duration((j.ended or 0) - (j.started or j.created)) if j.ended else "—",
            "Why it ended": why_ended(j, read_progress(Path(j.run_dir)), events_of(j.id)),
        }
        for j in jobs
    ]

"""A job's progress as its worker writes it (progress.json, the log), and one sentence that says
where it is, for the pages, the command line and the API alike.

    progress = read_progress(Path(job.run_dir))
    describe(job, progress, store.queue_position(job.id))  # "running · epoch 2/5 · batch 3/10 · about 40 s left"
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from mlcore.core.paths import RunFolder
from mlcore.jobs.store import Job, JobState

LOG_TAIL_LINES = 20


def read_progress(run_dir: Path) -> dict[str, Any]:
    """The folder's progress.json, or {} while there is none (or it cannot be read)."""
    try:
        return json.loads(RunFolder(run_dir).progress.read_text())
    except (OSError, ValueError):
        return {}


def log_tail(run_dir: str, lines: int = LOG_TAIL_LINES, kind: str = "training") -> str:
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
    if job.kind != "training":
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


def ended_table(jobs: list[Job]) -> list[dict[str, Any]]:
    """Rows for a table of ended trainings: the run, how it ended, how long it took and why it ended."""
    return [
        {
            "Run": "/".join(Path(j.run_dir).parts[-2:]),
            "Job": j.id,
            "Mode": j.spec.get("mode"),
            "State": j.state.value,
            "Took": duration((j.ended or 0) - (j.started or j.created)) if j.ended else "—",
            "Why it ended": (j.error or "").splitlines()[0] if j.error else "",
        }
        for j in jobs
    ]

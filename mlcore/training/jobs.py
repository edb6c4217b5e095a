"""What the Training page asks the job database, each question answered in one call.

queue = training_queue(settings, recent=8)   # open trainings with their queue positions, the latest ended
run = latest_training(settings, run_dir)     # the job that last wrote into a run folder, and who did what to it
busy_folders(settings)                       # the folders of the open jobs: no resume or extension there now
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.core.settings import Settings
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.progress import audit_line, ended_table
from mlcore.jobs.store import Job, JobState, jobs_of, open_store


@dataclass(frozen=True)
class TrainingQueue:
    """The trainings as the Training page's job list shows them."""

    submitted: bool
    """Whether any training was ever submitted here."""
    open: list[Job] = field(default_factory=list)
    """Queued or running, oldest first."""
    positions: dict[str, int] = field(default_factory=dict)
    """The queue position (1 starts next) of each queued one, by job id."""
    ended: list[dict[str, Any]] = field(default_factory=list)
    """The newest ended trainings as table rows (run, how and why it ended, how long it took), newest first."""


def training_queue(settings: Settings, recent: int) -> TrainingQueue:
    """The open trainings and the `recent` newest ended ones."""
    jobs = jobs_of(settings, JobKind.TRAINING)
    if not jobs:
        return TrainingQueue(submitted=False)
    still_open = [j for j in jobs if not j.state.is_final()]
    queued = [j.id for j in still_open if j.state is JobState.QUEUED]
    finished = [j for j in reversed(jobs) if j.state.is_final()][:recent]
    rows = ended_table(finished, open_store(settings).events) if finished else []
    return TrainingQueue(True, still_open, {job_id: n + 1 for n, job_id in enumerate(queued)}, rows)


@dataclass(frozen=True)
class RunJob:
    """The training job that last wrote into a run folder (None for a run made elsewhere) and its audit trail."""

    job: Job | None
    audit: str = ""
    """Who did what to it, and when ("" without a job)."""

    @property
    def live(self) -> bool:
        """Whether the job may still change the run (queued or active)."""
        return self.job is not None and not self.job.state.is_final()


def latest_training(settings: Settings, run_dir: Path | str) -> RunJob:
    """The newest training job of `run_dir` (a run is resumed and extended by several) and who did what to it."""
    store = open_store(settings)
    job = store.latest(run_dir, JobKind.TRAINING)
    return RunJob(job, audit_line(store.events(job.id)) if job is not None else "")


def busy_folders(settings: Settings) -> set[str]:
    """The folders of the jobs queued or running: a run there cannot be resumed or extended now."""
    return open_store(settings).open_folders()

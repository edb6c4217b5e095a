"""Where workers run: the interface the scheduler drives, whichever executor starts the worker.

Two executors: `local` (a detached process on this machine, the default) and `ray` (a Ray job on the
cluster at ML_STUDIO_RAY_ADDRESS). The scheduler asks the one new jobs go to for a placement, launches,
and asks each job's own executor (recorded on its row) whether the worker still runs, to cancel it and
for its log. No executor knows a job's kind: every kind runs the same worker (`python -m mlcore.worker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mlcore.jobs.store import Job


@dataclass(frozen=True)
class Placement:
    """The answer to "can this job start now?": a device to start on, a wait, or never (with the reason)."""

    device: str | None = None
    impossible: str | None = None

    @property
    def waits(self) -> bool:
        return self.device is None and self.impossible is None


@dataclass(frozen=True)
class Observation:
    """What an executor knows of a started job's worker."""

    known: bool = True
    """False when it cannot tell now (the cluster is unreachable): the job is left as it is."""
    ended: str | None = None
    """Why the worker ended without recording an end (killed, its node died); None while it runs."""
    node: str | None = None


class Executor(Protocol):
    name: str

    def refusal(self, spec: dict[str, Any]) -> str | None:
        """Why a job with this spec could never run here (asked at submit); None when it could."""

    def place(self, job: Job, active: list[Job]) -> Placement:
        """Where `job` starts now, given the active jobs (of every executor)."""

    def capacity(self, wanted: str) -> int:
        """How many jobs asking for the device `wanted` could run here at once (a study's parallel trials)."""

    def launch(self, job: Job, device: str) -> dict[str, Any]:
        """Start the job's worker on `device`; the row's updates (pid, node...). OSError when it cannot."""

    def observe(self, job: Job) -> Observation:
        """Is the started job's worker still there?"""

    def cancel(self, job: Job, grace_s: float) -> None:
        """End the worker and every process it started, now."""

    def log(self, job: Job) -> str:
        """The job's log, from wherever it can be read ('' when there is none yet)."""

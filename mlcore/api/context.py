"""What every route module shares, made once per app by create_api: the settings, the job store, the
caller's name in the audit trail, the dataset checks, the PyTorch probe and the predictor client."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlcore.api.errors import ApiError
from mlcore.core.errors import JobNotFound
from mlcore.core.safe_paths import is_under
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.datasets.validation.tasks import DatasetChecks
from mlcore.devices.torch_probe import TorchProbe, probe_torch
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.store import Job, JobStore
from mlcore.predict.client import PredictorClient
from mlcore.storage.datasets import dataset_from
from mlcore.storage.locations import is_storage_text

PREFIX = "/api/v1/ml"
PROBE_KEEP_S = 60.0


def dataset_path(text: str, settings: Settings, roots: Sequence[Path] | None = None) -> str:
    """A relative path is looked up in the dataset roots (or `roots`) in order ("demo" is <outputs>/datasets/demo).
    One found in
    none is read from the project folder when it leads under the roots from there ("ml_outputs/datasets/demo"),
    else from the first root, so that a misspelt name is answered "does not exist" rather than "outside"; whether
    anything exists is never asked outside the roots."""
    raw, roots = text.strip(), settings.dataset_roots if roots is None else roots
    if is_storage_text(raw, settings):
        return dataset_from(raw, settings)  # a bucket: pulled into the cache (what changed only), its copy read
    if raw.startswith("~"):
        return raw  # a home folder: resolve_user_path expands it (and refuses one of no such user)
    if raw and "\x00" not in raw and not Path(raw).is_absolute():
        for root in roots:
            try:
                if (root / raw).exists():
                    return str(root / raw)
            except (OSError, ValueError):
                continue
        for base in (PROJECT_ROOT, *roots[:1]):
            if is_under(os.path.realpath(base / raw), roots):
                return str(base / raw)
    return raw


class TorchProbeCache:
    """The PyTorch probe takes seconds (a child process imports torch): scripts polling the status get
    the answer of the last minute."""

    def __init__(self, settings: Settings, keep_s: float = PROBE_KEEP_S) -> None:
        self._settings, self._keep_s = settings, keep_s
        self._lock = threading.Lock()
        self._answer: tuple[float, TorchProbe] | None = None

    def get(self) -> TorchProbe:
        with self._lock:
            if self._answer is None or time.monotonic() - self._answer[0] > self._keep_s:
                self._answer = (time.monotonic(), probe_torch(self._settings))
            return self._answer[1]


@dataclass(frozen=True)
class ApiContext:
    """The objects the routers close over; `actor` is the owner of the jobs started through the API."""

    settings: Settings
    store: JobStore
    actor: str
    checks: DatasetChecks
    probe: TorchProbeCache
    predictor: PredictorClient
    """Talks to the predictor process (started with the first prediction), which keeps models loaded."""

    def job(self, job_id: str, kind: JobKind, tasks: Collection[JobTask] | None = None) -> Job:
        """The job `job_id` if it is a `kind` (and, given `tasks`, of one of them); else a 404 naming the listing."""
        try:
            job = self.store.get(job_id)
        except JobNotFound:
            job = None
        if job is None or job.kind != kind or (tasks is not None and job.spec.get("task") not in tasks):
            raise ApiError(404, "unknown_id", f"no {kind} {job_id!r}; see GET {PREFIX}/{KINDS[kind].listing}.")
        return job

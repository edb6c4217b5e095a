"""Dataset validations run in the background for the HTTP API, so that no request waits on a big dataset.

A validation is quick for a small dataset and minutes for a large one. The API starts it here, waits a
few seconds, and answers with the report if it is done, or with its id and progress otherwise. The
reports are saved under dataset_reports/ as the app and the command line save them; the progress
of one still running lives in this process only.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlcore.core.settings import Settings
from mlcore.datasets.loader import DatasetError
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.saved_reports import save_report
from mlcore.datasets.validation.validate import validate

KEEP = 200  # finished validations remembered (oldest dropped first)


@dataclass(frozen=True)
class DatasetCheck:
    """One validation: running, completed (with its report) or failed (with the reason)."""

    id: str
    dataset_path: str
    status: str = "running"
    stage: str = "starting"
    done: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    report_folder: str | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def progress(self) -> float:
        if self.status != "running":
            return 100.0
        return round(100.0 * self.done / self.total, 1) if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = {
            "validation_id": self.id,
            "dataset_path": self.dataset_path,
            "status": self.status,
            "progress": self.progress,
            "stage": self.stage,
            "error": self.error,
        }
        if self.report is not None:
            data |= {**self.report, "report_folder": self.report_folder}
        return data


class DatasetChecks:
    """Validations started in this process, on a small thread pool."""

    def __init__(self, settings: Settings, threads: int = 2) -> None:
        self._settings = settings
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dataset-check")
        self._lock = threading.Lock()
        self._checks: dict[str, DatasetCheck] = {}

    def start(self, dataset: Path, options: ValidationOptions) -> DatasetCheck:
        check = DatasetCheck(uuid.uuid4().hex[:12], str(dataset))
        with self._lock:
            self._checks[check.id] = check
            for old in [c for c in self._checks.values() if c.status != "running"][:-KEEP]:
                del self._checks[old.id]
        self._pool.submit(self._run, check.id, dataset, options)
        return check

    def get(self, check_id: str) -> DatasetCheck | None:
        with self._lock:
            return self._checks.get(check_id)

    def wait(self, check_id: str, seconds: float) -> DatasetCheck | None:
        """The check after at most `seconds` (sooner when it ends)."""
        check = self.get(check_id)
        if check is not None:
            check.finished.wait(max(0.0, seconds))
        return self.get(check_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _update(self, check_id: str, **changes: Any) -> None:
        with self._lock:
            self._checks[check_id] = replace(self._checks[check_id], **changes)

    def _run(self, check_id: str, dataset: Path, options: ValidationOptions) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            self._update(check_id, stage=stage, done=done, total=total)

        try:
            report = validate(dataset, options, progress=progress, cache_path=self._settings.image_facts_cache)
            try:
                folder = str(save_report(report, self._settings.outputs_root).folder)
            except OSError:
                folder = None  # the report is still returned; only its copy on disk is missing
            self._update(check_id, status="completed", stage="done", report=report.to_dict(), report_folder=folder)
        except (DatasetError, ValueError) as exc:
            self._update(check_id, status="failed", stage="done", error=str(exc))
        except OSError as exc:
            self._update(check_id, status="failed", stage="done", error=f"the dataset could not be read: {exc}")
        except Exception as exc:  # noqa: BLE001 - a background thread must always record its end
            self._update(check_id, status="failed", stage="done", error=f"validation stopped: {exc!r}")
        finally:
            check = self.get(check_id)
            if check is not None:
                check.finished.set()

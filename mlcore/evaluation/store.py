"""The evaluations on disk: ml_outputs/validations/{model_name}_{timestamp}/, newest first.

Each folder holds the spec (eval_config.yaml) from the moment it is submitted, and metrics.json
and predictions.npz once the job has finished. Read from the files, so the pages can list them:

    for item in list_evaluations(settings):
        print(item.name, item.model, item.split, item.finished)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.folders import config_folders
from mlcore.core.paths import EVAL_CONFIG, METRICS_FILE, PREDICTIONS_FILE
from mlcore.core.settings import Settings
from mlcore.engine.trained_size import SizeChoice
from mlcore.evaluation.analysis import Detections
from mlcore.evaluation.leakage import as_shown
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.progress import log_tail
from mlcore.jobs.store import Job, JobState, jobs_of


class EvaluationUnreadable(ValueError):
    """An evaluation's files are missing or damaged; the message says which and what to do."""


@dataclass(frozen=True)
class EvaluationSummary:
    path: Path
    spec: dict[str, Any]
    created: float

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str:
        return str(self.spec.get("model_path", ""))

    @property
    def dataset(self) -> str:
        return str(self.spec.get("dataset_path", ""))

    @property
    def split(self) -> str:
        return str(self.spec.get("split", ""))

    @property
    def size(self) -> SizeChoice | None:
        """The image size it ran at beside the model's trained one (None for evaluations that predate both)."""
        return SizeChoice.of(self.spec)

    @property
    def finished(self) -> bool:
        return (self.path / METRICS_FILE).is_file() and (self.path / PREDICTIONS_FILE).is_file()


def list_evaluations(settings: Settings) -> list[EvaluationSummary]:
    """Every folder under validations/ with a readable spec, newest first."""
    root = settings.outputs_root / paths.VALIDATIONS_DIR
    return [EvaluationSummary(f, spec, created) for f, spec, created in config_folders(root, EVAL_CONFIG)]


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


@lru_cache(maxsize=8)
def _detections(path: str, stamp: tuple[int, int]) -> Detections:
    return Detections.load(Path(path))


def load_detections(folder: Path) -> Detections:
    """The stored predictions and ground truth (cached until the file changes)."""
    path = folder / PREDICTIONS_FILE
    try:
        return _detections(str(path), _stamp(path))
    except FileNotFoundError:
        raise EvaluationUnreadable(f"{path} is missing; run the evaluation again.") from None
    except (OSError, ValueError, KeyError) as exc:
        raise EvaluationUnreadable(
            f"{path.name} cannot be read ({type(exc).__name__}); run the evaluation again to replace it."
        ) from None


def load_evaluation_metrics(folder: Path) -> dict[str, Any]:
    """metrics.json of a finished evaluation; a missing or damaged file raises EvaluationUnreadable."""
    path = folder / METRICS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise EvaluationUnreadable(f"{path} is missing: the evaluation has not finished.") from None
    except (OSError, ValueError) as exc:
        raise EvaluationUnreadable(
            f"{path.name} cannot be read ({type(exc).__name__}); run the evaluation again to replace it."
        ) from None
    if not isinstance(data, dict) or "ultralytics" not in data:
        raise EvaluationUnreadable(f"{path.name} is not an evaluation's metrics file; run the evaluation again.")
    return data


# What a script gets of a finished evaluation (the CLI's --json and the API), read from its metrics.json.
RESULT_KEYS = (
    *("precision", "recall", "f1", "accuracy", "map50", "map50_95"),
    *("per_class", "error_types", "by_size", "thresholds", "skipped", "images", "leakage"),
    *("imgsz", "trained_imgsz", "imgsz_warning", "nms_free", "head"),
)


def evaluation_result(folder: Path) -> dict[str, Any]:
    """The headline numbers of a finished evaluation (RESULT_KEYS); EvaluationUnreadable if it has none."""
    data = load_evaluation_metrics(folder)
    return {key: data.get(key) for key in RESULT_KEYS} | {"leakage": as_shown(data.get("leakage"))}


def open_evaluations(settings: Settings) -> list[Job]:
    """Evaluations queued or running."""
    return [j for j in jobs_of(settings, JobKind.EVALUATION, JobTask.EVALUATE) if not j.state.is_final()]


def failure(item: EvaluationSummary, settings: Settings) -> tuple[str, str] | None:
    """(why, the end of its log) when the evaluation in `item`'s folder failed, else None."""
    jobs = jobs_of(settings, JobKind.EVALUATION, JobTask.EVALUATE)
    job = next((j for j in reversed(jobs) if j.run_dir == str(item.path)), None)
    if job is None or job.state is not JobState.FAILED:
        return None
    return job.error or "", log_tail(str(item.path), 30, kind=job.kind)

"""The batch predictions on disk: ml_outputs/predictions/{model_name}_{timestamp}/, newest first, and
the result document the command line (--json) and the HTTP API give for one.

    for item in list_prediction_runs(settings): print(item.name, item.summary)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.folders import config_folders
from mlcore.core.settings import Settings


@dataclass(frozen=True)
class PredictionRun:
    path: Path
    config: dict[str, Any]
    summary: dict[str, Any] | None
    """summary.json once the job has ended (None while it runs, or when it failed)."""
    created: float

    @property
    def name(self) -> str:
        return self.path.name

    def drawn_images(self, limit: int) -> list[Path]:
        """The first images drawn with their boxes, when they were asked for."""
        return sorted((self.path / paths.ANNOTATED_DIR).rglob("*.jpg"))[:limit]

    def downloads(self) -> list[tuple[Path, str]]:
        """The result files a person downloads, with their media types."""
        files = ((paths.DETECTIONS_CSV, "text/csv"), (paths.COCO_PREDICTIONS, "application/json"))
        return [(self.path / name, mime) for name, mime in files if (self.path / name).is_file()]


def read_summary(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / paths.SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_prediction_runs(settings: Settings) -> list[PredictionRun]:
    """Every folder under predictions/ with a readable request, newest first."""
    root = settings.outputs_root / paths.PREDICTIONS_DIR
    return [
        PredictionRun(f, config, read_summary(f), created)
        for f, config, created in config_folders(root, paths.PREDICT_CONFIG)
    ]


def prediction_result(folder: Path) -> dict[str, Any] | None:
    """The summary and where each file is, once the job has ended."""
    summary = read_summary(folder)
    if summary is None:
        return None
    files = {
        "labels": paths.PREDICTED_LABELS_DIR,
        "coco": paths.COCO_PREDICTIONS,
        "csv": paths.DETECTIONS_CSV,
        "annotated_images": paths.ANNOTATED_DIR,
        "annotated_video": paths.ANNOTATED_VIDEO,
    }
    return {
        "output_dir": str(folder),
        "summary": summary,
        "files": {k: str(folder / v) for k, v in files.items() if (folder / v).exists()},
    }

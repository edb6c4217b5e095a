"""Loading a YOLO detection model for predicting, validating, measuring or converting it: the one place that
constructs Ultralytics' model from weights (a training from a yaml builds its own). Imports Ultralytics when
called: workers and the predictor process only.

    model = load_yolo(path)              # a .pt, an .onnx, an OpenVINO folder, a .torchscript...
    except UnusableModel as exc:         # exc.reason: why it did not load; exc.task: the other task it is for
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcore.core.errors import TaskError
from mlcore.engine.env import restore_pillow_open

DETECT = "detect"  # the only task the studio works with


class UnusableModel(TaskError):
    """The file is not a detection model: `reason` (the first line of Ultralytics' error) when it does not load,
    else `task`, the task it was made for. Callers that speak to a user say what to pick instead."""

    def __init__(self, path: str | Path, reason: str = "", task: str | None = None) -> None:
        self.reason, self.task = reason, task
        what = f"is a {task} model" if task else f"cannot be loaded as a YOLO model ({reason[:300]})"
        super().__init__(f"{path} {what}; the studio works with detection models.")


def load_yolo(path: str | Path, task: str | None = DETECT) -> Any:
    """Ultralytics' YOLO model of the file at `path`; UnusableModel when it is not a detection model.

    `task` is what an export is run as (a .pt says its own): the predictor runs any export as a detector, while
    None reads the task an export's metadata records, so that an evaluation refuses one made for another task."""
    from ultralytics import YOLO

    restore_pillow_open()
    try:
        model = YOLO(str(path), task=task)
    except Exception as exc:  # Ultralytics raises several kinds for files that are not models
        raise UnusableModel(path, reason=(str(exc).splitlines() or [type(exc).__name__])[0]) from exc
    if model.task != DETECT:
        raise UnusableModel(path, task=model.task)
    return model

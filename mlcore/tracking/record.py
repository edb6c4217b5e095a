"""The MLflow run record beside a training or an evaluation (mlflow_run.json): the run it logs to, on
which server, and why logging stopped if it did. Resume and extend read it to continue the same run.

    {"run_id": "3f2a...", "experiment": "logos", "tracking_uri": "sqlite:////srv/mlflow.db", "error": null}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.paths import MLFLOW_FILE
from mlcore.tracking.client import redacted


def read_record(folder: Path) -> dict[str, Any]:
    """The folder's record ({} when it has none or it cannot be read)."""
    try:
        data = json.loads((folder / MLFLOW_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(folder: Path, run_id: str | None, uri: str, error: str | None = None, **fields: Any) -> None:
    """Replace the folder's record; a full disk is not a reason to stop a job."""
    record = {"run_id": run_id, "tracking_uri": redacted(uri), **fields, "error": error}
    try:
        write_json_atomically(folder / MLFLOW_FILE, record)
    except OSError:
        pass


def recorded_run(folder: Path, uri: str) -> str | None:
    """The MLflow run id the folder logged to on this same server, if any."""
    record = read_record(folder)
    run_id = record.get("run_id")
    return str(run_id) if run_id and record.get("tracking_uri") == redacted(uri) else None


def training_folder(model: Path) -> Path | None:
    """The run folder of a studio training's weights file (<run>/weights/best.pt), else None."""
    return model.parent.parent if model.parent.name == "weights" else None

"""The runs on disk: trainings under ml_outputs/trainings/{project}/{experiment}/ and the weights
that may seed a transfer. Read from the files, never from torch, so the pages can list them.

    for run in list_runs(settings):
        print(run.name, run.epochs_done, run.epochs_total)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcore import paths
from mlcore.results import read_results
from mlcore.settings import Settings
from mlcore.worker import CONFIG_FILE, RESUMABLE

OFFICIAL_WEIGHTS = tuple(f"yolov8{size}.pt" for size in "nsmlx")


@dataclass(frozen=True)
class RunSummary:
    """One training run folder, as its files describe it."""

    path: Path
    project: str
    experiment: str
    spec: dict[str, Any]
    epochs_done: int
    seconds: float | None
    """Training time of the epochs done, from results.csv's `time` column."""

    @property
    def name(self) -> str:
        return f"{self.project}/{self.experiment}"

    @property
    def epochs_total(self) -> int:
        return int(self.spec.get("epochs") or 0)

    @property
    def resumable(self) -> bool:
        """A kept checkpoint with its optimizer: the run can be resumed or extended."""
        return (self.path / "weights" / RESUMABLE).is_file()

    @property
    def weights(self) -> list[Path]:
        return [w for w in (self.path / "weights" / "best.pt", self.path / "weights" / "last.pt") if w.is_file()]


def list_runs(settings: Settings) -> list[RunSummary]:
    """Runs started by the studio (they hold training_config.yaml), newest first."""
    base = settings.outputs_root / paths.TRAININGS_DIR
    runs = []
    for config in base.glob(f"*/*/{CONFIG_FILE}"):
        try:
            spec = yaml.safe_load(config.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(spec, dict):
            continue
        frame = read_results(config.parent / "results.csv")
        seconds = float(frame["time"].iloc[-1]) if "time" in frame and len(frame) else None
        runs.append(RunSummary(config.parent, config.parent.parent.name, config.parent.name, spec, len(frame), seconds))
    return sorted(runs, key=lambda r: r.path.stat().st_mtime, reverse=True)


def seed_weights(settings: Settings) -> list[Path]:
    """Weights a transfer may start from: runs' best/last.pt, then .pt files in the trusted model folders."""
    found = [w for run in list_runs(settings) for w in run.weights]
    for root in settings.model_roots:
        found += sorted(p for p in root.glob("*.pt") if p.is_file())
    return found


def epoch_seconds(runs: list[RunSummary], architecture: str, imgsz: int) -> tuple[float, int] | None:
    """Mean seconds per epoch of earlier runs with this architecture and image size, and how many runs."""
    times = [
        r.seconds / r.epochs_done
        for r in runs
        if r.seconds
        and r.epochs_done
        and r.spec.get("model_architecture") == architecture
        and r.spec.get("imgsz") == imgsz
    ]
    return (sum(times) / len(times), len(times)) if times else None

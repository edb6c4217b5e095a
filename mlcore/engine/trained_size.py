"""The image size a model was trained at, which every measurement takes unless the user asks otherwise
(Ultralytics' own `val` does the same): a model trained at 320 and evaluated at 640 scores far lower.

    used = image_size(0, model, settings)      # SizeChoice(used=320, trained=320)
    used.warning                               # None; with image_size(640, ...): "… trained at 320 px …"

Read from the files first (a run's args.yaml, an export's model card), from the checkpoint otherwise
(a child process: the caller never imports torch).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.core.spec import DEFAULT_IMGSZ  # used only when a model's trained size cannot be read
from mlcore.core.user_yaml import read_yaml_file
from mlcore.engine.checkpoint import CheckpointError, inspect_checkpoint

_READ: dict[tuple[str, int, int], int | None] = {}  # checkpoints read, keyed on (path, mtime, size)


@dataclass(frozen=True)
class SizeChoice:
    """The image size a job uses, beside the one its model was trained at."""

    used: int
    trained: int | None

    @property
    def warning(self) -> str | None:
        """What the user must know when the size is not the model's own; None when it is."""
        if self.trained is None:
            return f"The size this model was trained at is unknown; it runs at {self.used} px."
        if self.used != self.trained:
            return (
                f"It runs at {self.used} px, but the model was trained at {self.trained} px: its numbers differ "
                f"from those at its own size (leave the image size at 0 to use {self.trained} px)."
            )
        return None

    def describe(self) -> str:
        """A few words for pages and terminals: 'at 320 px, the size the model was trained at'."""
        if self.used == self.trained:
            return f"at {self.used} px, the size the model was trained at"
        trained = f"trained at {self.trained} px" if self.trained else "its trained size unknown"
        return f"at {self.used} px ({trained})"

    @classmethod
    def of(cls, record: dict) -> SizeChoice | None:
        """From a job's recorded spec (`imgsz`, `trained_imgsz`); None for records made before both were kept."""
        used, trained = record.get("imgsz"), record.get("trained_imgsz", "absent")
        if not isinstance(used, int) or trained == "absent":
            return None
        return cls(used, trained if isinstance(trained, int) else None)

    def to_dict(self) -> dict:
        return {"imgsz": self.used, "trained_imgsz": self.trained, "imgsz_warning": self.warning}


def image_size(asked: int | None, model: Path, settings: Settings) -> SizeChoice:
    """The size to use: `asked` when given (not 0), else the model's trained size (else DEFAULT_IMGSZ)."""
    trained = trained_imgsz(model, settings)
    return SizeChoice(int(asked or trained or DEFAULT_IMGSZ), trained)


def trained_imgsz(model: Path, settings: Settings) -> int | None:
    """The size `model` was trained (an export: exported) at; None when nothing says."""
    for read in (_from_run, _from_export_card):
        if (found := read(model)) is not None:
            return found
    if model.suffix != ".pt" or not model.is_file():
        return None
    stat = model.stat()
    key = (str(model), stat.st_mtime_ns, stat.st_size)
    if key not in _READ:
        try:
            _READ[key] = inspect_checkpoint(model, settings).imgsz
        except (CheckpointError, OSError, ValueError, subprocess.TimeoutExpired):
            return None
    return _READ[key]


def _whole(value: object) -> int | None:
    if isinstance(value, list | tuple) and value:
        value = max(value)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


def _from_run(model: Path) -> int | None:
    """A run's weights: the imgsz Ultralytics recorded in the run's args.yaml."""
    if model.parent.name != paths.WEIGHTS_DIR:
        return None
    try:
        args = read_yaml_file(model.parent.parent / paths.ARGS_FILE)  # an attached run's: written elsewhere
    except (OSError, yaml.YAMLError):
        return None
    return _whole(args.get("imgsz")) if isinstance(args, dict) else None


def export_card(model: Path) -> dict | None:
    """The model card of the export `model` belongs to (a file, an OpenVINO folder or a file in it); None for a
    model that is not an export of the studio's, or an unreadable card."""
    for folder in (model.parent, model.parent.parent):
        try:
            card = json.loads((folder / paths.MODEL_CARD).read_text())
        except (OSError, ValueError):
            continue
        return card if isinstance(card, dict) else None
    return None


def _from_export_card(model: Path) -> int | None:
    """An export: the size its model card records."""
    card = export_card(model)
    return _whole(card.get("imgsz")) if card is not None else None

"""What a checkpoint holds (can it be resumed, its classes, its image size), answered by a child process
so the caller never imports torch. Only for files from trusted folders: a .pt file is a pickle.

python -m mlcore.engine.checkpoint PATH   prints {"epoch": ..., "epochs": ..., "has_optimizer": ..., "names": ...}
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mlcore.core.class_names import class_names
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.engine.env import engine_environment


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says about the training that wrote it."""

    epoch: int
    """Last completed epoch, 0-based; -1 once Ultralytics finalised (stripped) the checkpoint."""
    epochs: int
    has_optimizer: bool
    names: dict[int, str] = field(default_factory=dict)
    """The model's classes, id for id."""
    imgsz: int | None = None
    """The image size it was trained at."""
    task: str = "detect"

    @property
    def resumable(self) -> bool:
        return self.epoch >= 0 and self.has_optimizer

    @property
    def finished(self) -> bool:
        return self.epoch + 1 >= self.epochs


class CheckpointError(ValueError):
    """The checkpoint is missing, damaged, or cannot be resumed; the message says what to do."""


def inspect_checkpoint(path: Path, settings: Settings, timeout: float = 120) -> CheckpointInfo:
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist: the run has no checkpoint to resume from.")
    proc = subprocess.run(
        [sys.executable, "-m", "mlcore.engine.checkpoint", str(path)],
        env=engine_environment(settings) | {"PYTHONPATH": str(PROJECT_ROOT)},  # from any working folder
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = proc.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise CheckpointError(
            f"{path.name} cannot be read (damaged or half-written); resume from an earlier "
            "checkpoint or start a new training."
        ) from None
    imgsz = data.get("imgsz")
    return CheckpointInfo(
        epoch=int(data["epoch"]),
        epochs=int(data["epochs"]),
        has_optimizer=data["has_optimizer"],
        names=class_names(data.get("names") or {}),
        imgsz=int(imgsz) if isinstance(imgsz, int | float) else None,
        task=str(data.get("task") or "detect"),
    )


def _describe(path: str) -> dict[str, object]:
    """Runs in the child: load the checkpoint (a file the studio wrote itself) and report."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    args = ckpt.get("train_args") or {}
    model = ckpt.get("ema") or ckpt.get("model")
    names = getattr(model, "names", None) or {}
    if isinstance(names, list | tuple):
        names = dict(enumerate(names))
    imgsz = args.get("imgsz")
    return {
        "epoch": int(ckpt.get("epoch", -1)),
        "epochs": int(args.get("epochs", 0)),
        "has_optimizer": ckpt.get("optimizer") is not None,
        "names": class_names(names),
        "imgsz": imgsz
        if isinstance(imgsz, int)
        else (max(imgsz) if isinstance(imgsz, list | tuple) and imgsz else None),
        "task": str(getattr(model, "task", None) or args.get("task") or "detect"),
    }


if __name__ == "__main__":
    try:
        print(json.dumps(_describe(sys.argv[1])))
    except Exception as exc:  # the parent turns a missing line into a clear message
        print(f"cannot read checkpoint: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)

"""What a checkpoint holds (can it be resumed, its classes, its image size, its architecture), answered by a child
process so the caller never imports torch. A .pt file is a pickle, which runs code when loaded: `inspect_checkpoint`
is for files from trusted folders; `inspect_untrusted` (a file brought from elsewhere, before it is trusted) loads it
with Ultralytics' restricted loader (torch's weights_only unpickler with an allow-list of model classes), so a file
that names any other code is refused without running it.

python -m mlcore.engine.checkpoint PATH               prints {"epoch": ..., "has_optimizer": ..., "names": ...,
                                                      "architecture": "yolo26n", "family": "YOLO26", ...}
python -m mlcore.engine.checkpoint --untrusted PATH   the same, or {"problem": CODE, "detail": ...} (PROBLEMS)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.core.class_names import class_names
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.engine.architectures import family_of, model_architecture
from mlcore.engine.env import engine_environment

UNTRUSTED = "--untrusted"
# What the restricted load of an untrusted file can answer instead of a description
DAMAGED = "damaged"  # empty, truncated or corrupted: torch cannot read it
FOREIGN_CODE = "foreign_code"  # the pickle names code outside the model classes' allow-list
NOT_A_CHECKPOINT = "not_a_checkpoint"  # readable, but no Ultralytics model under "ema" or "model"
TORCHSCRIPT = "torchscript"  # a TorchScript archive, not a training checkpoint
PROBLEMS = (DAMAGED, FOREIGN_CODE, NOT_A_CHECKPOINT, TORCHSCRIPT)


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
    architecture: str | None = None
    """The studio's name of the model definition (yolo26n, yolo11s, yolov8n, ...); None when it is not one it knows."""
    family: str | None = None
    """YOLOv8, YOLO11 or YOLO26 (None with an unknown architecture)."""
    definition: str = ""
    """The model definition file the checkpoint names (its yaml_file, e.g. yolo26n.yaml), as it says it."""

    @property
    def resumable(self) -> bool:
        return self.epoch >= 0 and self.has_optimizer

    @property
    def finished(self) -> bool:
        return self.epoch + 1 >= self.epochs


class CheckpointError(ValueError):
    """The checkpoint is missing, damaged, or cannot be resumed; the message says what to do."""


class UntrustedCheckpoint(CheckpointError):
    """The restricted load of a file brought from elsewhere refused it; `problem` is one of PROBLEMS."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.problem, self.detail = problem, detail


_INSPECTED: dict[tuple[str, int, int], CheckpointInfo] = {}  # this process's readings, by file, size and mtime
_INSPECTING: dict[tuple[str, int, int], threading.Lock] = {}
_INSPECTING_LOCK = threading.Lock()


def inspect_checkpoint(path: Path, settings: Settings, timeout: float = 120) -> CheckpointInfo:
    """What a trusted checkpoint holds, read in a child process (torch stays out of this one). A file read before
    and unchanged since (same size and modification time) is answered from this process's memory: a pipeline
    reads its trained weights while the evaluation runs, so that its export starts at once."""
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist: the run has no checkpoint to resume from.")
    stat = path.stat()
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    with _INSPECTING_LOCK:
        lock = _INSPECTING.setdefault(key, threading.Lock())
    with lock:
        if key not in _INSPECTED:
            _INSPECTED[key] = _inspect_in_child(path, settings, timeout)
        return _INSPECTED[key]


def _inspect_in_child(path: Path, settings: Settings, timeout: float) -> CheckpointInfo:
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
    return _info(data)


def inspect_untrusted(path: Path, settings: Settings, timeout: float = 300) -> CheckpointInfo:
    """What a .pt file brought from elsewhere holds, read by the restricted loader in a child process; refusals are
    UntrustedCheckpoint with one of PROBLEMS (the caller words them for its users)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mlcore.engine.checkpoint", UNTRUSTED, str(path)],
            env=engine_environment(settings) | {"PYTHONPATH": str(PROJECT_ROOT)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise UntrustedCheckpoint(DAMAGED, f"reading it took longer than {timeout:.0f} s") from None
    lines = proc.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1])
    except (IndexError, ValueError):
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise UntrustedCheckpoint(DAMAGED, f"the check stopped ({last[:300]})") from None
    if "problem" in data:
        raise UntrustedCheckpoint(str(data["problem"]), str(data.get("detail") or ""))
    return _info(data)


def _info(data: dict[str, Any]) -> CheckpointInfo:
    imgsz = data.get("imgsz")
    return CheckpointInfo(
        epoch=int(data["epoch"]),
        epochs=int(data["epochs"]),
        has_optimizer=data["has_optimizer"],
        names=class_names(data.get("names") or {}),
        imgsz=int(imgsz) if isinstance(imgsz, int | float) else None,
        task=str(data.get("task") or "detect"),
        architecture=data.get("architecture") or None,
        family=data.get("family") or None,
        definition=str(data.get("definition") or ""),
    )


def _describe(path: str) -> dict[str, object]:
    """Runs in the child: load the checkpoint (a file the studio wrote itself) and report."""
    import torch

    return _report(torch.load(path, map_location="cpu", weights_only=False))


def _describe_untrusted(path: str) -> dict[str, object]:
    """Runs in the child: the restricted load of a file from elsewhere (nothing outside the model classes is
    unpickled), then the report; or {"problem": one of PROBLEMS, "detail": what the loader said}."""
    import pickle

    import torch
    from ultralytics.nn.tasks import torch_safe_load

    with tempfile.TemporaryDirectory() as folder:
        candidate = Path(folder) / "candidate.pt"  # Ultralytics loads only names ending in .pt
        os.symlink(os.path.abspath(path), candidate)
        try:
            ckpt, _ = torch_safe_load(str(candidate), safe_only=True)
        except TypeError as exc:  # Ultralytics' words for a damaged file, a foreign global, a TorchScript archive
            cause = str(exc.__cause__ or exc)
            if "TorchScript" in str(exc):
                return {"problem": TORCHSCRIPT, "detail": "a TorchScript archive"}
            if "Weights only load failed" in cause:  # the restricted unpickler stopped: a name or an opcode it refuses
                return {"problem": FOREIGN_CODE, "detail": _foreign(candidate, cause)}
            first = cause.split(". ")[0].replace(str(candidate), "the file")  # torch's words, not Ultralytics' advice
            return {"problem": DAMAGED, "detail": _plain(first)}
        except pickle.UnpicklingError as exc:  # torch's own refusal, before Ultralytics words it
            return {"problem": FOREIGN_CODE, "detail": _foreign(candidate, str(exc))}
        except ModuleNotFoundError as exc:  # a class of a package or Ultralytics version that is not here
            return {"problem": FOREIGN_CODE, "detail": f"it needs the module {exc.name!r}, which is not installed"}
        except (AttributeError, KeyError, ValueError, RuntimeError, EOFError) as exc:
            return {"problem": NOT_A_CHECKPOINT, "detail": f"{type(exc).__name__}: {_plain(str(exc))}"}
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if not isinstance(model, torch.nn.Module) or not isinstance(getattr(model, "yaml", None), dict):
        keys = ", ".join(sorted(map(str, ckpt))[:8]) if isinstance(ckpt, dict) else type(ckpt).__name__
        return {"problem": NOT_A_CHECKPOINT, "detail": f"it holds {keys or 'nothing'}, no Ultralytics model"}
    return _report(ckpt)


def _report(ckpt: dict[str, Any]) -> dict[str, object]:
    args = ckpt.get("train_args") or {}
    model = ckpt.get("ema") or ckpt.get("model")
    names = getattr(model, "names", None) or {}
    if isinstance(names, list | tuple):
        names = dict(enumerate(names))
    imgsz = args.get("imgsz")
    definition = getattr(model, "yaml", None) or {}
    yaml_file = str(definition.get("yaml_file") or "") if isinstance(definition, dict) else ""
    architecture = model_architecture(model)
    family = family_of(architecture) if architecture else None
    return {
        "epoch": int(ckpt.get("epoch", -1)),
        "epochs": int(args.get("epochs", 0)),
        "has_optimizer": ckpt.get("optimizer") is not None,
        "names": class_names(names),
        "imgsz": imgsz
        if isinstance(imgsz, int)
        else (max(imgsz) if isinstance(imgsz, list | tuple) and imgsz else None),
        "task": str(getattr(model, "task", None) or _model_task(model) or args.get("task") or "detect"),
        "architecture": architecture,
        "family": family.value if family else None,
        "definition": yaml_file,
    }


def _model_task(model: object) -> str | None:
    """The task the model's own head says (detect, segment, classify, pose, obb...), as Ultralytics guesses it."""
    from ultralytics.nn.tasks import guess_model_task

    try:
        return str(guess_model_task(model) or "") or None
    except Exception:  # an odd model: the checkpoint's train_args decide
        return None


def _foreign(path: Path, cause: str) -> str:
    """What the restricted loader refused: the code the file names besides torch's and Ultralytics' (read from the
    archive's pickle, never unpickled), else the unpickler's own words."""
    import torch

    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # not a torch zip archive (a bare pickle): its globals are not listed
        names = []
    foreign = sorted(n for n in names if n.split(".", 1)[0] not in ("torch", "ultralytics", "collections", "numpy"))
    if foreign:
        return f"it names {', '.join(foreign[:5])}"
    said = re.search(r"(Unsupported [^\n]*?|Trying to load unsupported GLOBAL \S+)(?: whose|\n|$)", cause)
    return f"the restricted loader stopped at: {said.group(1)}" if said else "it is not a pickle of model classes only"


def _plain(text: str) -> str:
    """Ultralytics' message without its emoji and 'ERROR' prefix, on one line."""
    return " ".join(text.replace("ERROR ❌️", "").replace("ERROR", "").split())[:500]


if __name__ == "__main__":
    untrusted = sys.argv[1] == UNTRUSTED
    try:
        print(json.dumps(_describe_untrusted(sys.argv[2]) if untrusted else _describe(sys.argv[1])))
    except Exception as exc:  # the parent turns a missing line into a clear message
        print(f"cannot read checkpoint: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)

"""What a training job is asked to do: TrainSpec, validated when it is built, JSON in and out.

The field names of the original request body (`mode`, `dataset_path`, `model_architecture`,
`epochs`, `batch_size`, `learning_rate`, `base_model_path`) load as they are:

    spec = TrainSpec.from_dict({"mode": "full", "dataset_path": "/data/logos",
                                "model_architecture": "yolov8s", "epochs": 100, "batch_size": 16})
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from mlcore.core.spec import (
    DEFAULT_IMGSZ,
    MAX_IMGSZ,
    STRIDE,
    SpecError,
    at_most,
    device,
    fraction,
    non_empty,
    refuse_unknown,
    whole,
)
from mlcore.core.user_yaml import UnsafeYaml, read_yaml_text
from mlcore.engine.architectures import ARCHITECTURES, DEFAULT_ARCHITECTURE
from mlcore.training.augmentation import check_augmentation

MODES = ("full", "transfer", "resume", "extend")
CONTINUING_MODES = ("resume", "extend")  # they continue a run in its own folder instead of making one
OPTIMIZERS = ("auto", "SGD", "MuSGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSprop")  # Ultralytics 8.4.190
CACHE_VALUES = (False, True, "ram", "disk")
AUTO_BATCH = -1  # batch_size that lets Ultralytics pick (AutoBatch, one GPU)
BACKBONE_LAYERS = 10  # freeze=10 freezes a YOLOv8 backbone; more reaches the neck and head
DATASET_HINT = "a dataset folder or data.yaml (e.g. 'ml_outputs/datasets/demo')"  # what an empty dataset_path is told
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Train arguments the spec sets itself or the studio must own (paths, resuming, output folders).
MANAGED_ARGS = frozenset(
    {
        "task",
        "mode",
        "model",
        "data",
        "epochs",
        "batch",
        "imgsz",
        "lr0",
        "optimizer",
        "patience",
        "device",
        "workers",
        "cache",
        "freeze",
        "seed",
        "project",
        "name",
        "exist_ok",
        "resume",
        "pretrained",
        "save_dir",
        "save",
        "source",
    }
)


@lru_cache(maxsize=1)
def ultralytics_defaults() -> dict[str, Any]:
    """Ultralytics' default.yaml, read as a file (Ultralytics is not imported); {} without Ultralytics."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or spec.origin is None:
        return {}
    default = Path(spec.origin).parent / "cfg" / "default.yaml"
    return dict(yaml.safe_load(default.read_text()) or {})


def ultralytics_train_args() -> frozenset[str]:
    """The argument names of Ultralytics' default.yaml."""
    return frozenset(ultralytics_defaults())


@dataclass(frozen=True)
class TrainSpec:
    """A training as submitted. Validated on construction; `to_dict`/`from_dict` round-trip."""

    mode: str = "full"
    """full (new model from the architecture's yaml), transfer (from base_model_path), resume (resume_from), or
    extend (resume_from, a finished or stopped run, continued to `epochs` in total)."""
    dataset_path: str = ""
    """Dataset folder or data.yaml (checked against the allowed roots when submitted)."""
    model_architecture: str = DEFAULT_ARCHITECTURE
    """One of ARCHITECTURES (mlcore.engine.architectures): yolov8n..x, yolo11n..x, yolo26n..x, yolo26n-p2,
    yolo26s-p2. A transfer's is the base checkpoint's, recorded at submission."""
    epochs: int = 100
    batch_size: int = 16
    """Images per batch; -1 lets Ultralytics pick (AutoBatch, single GPU only)."""
    imgsz: int = DEFAULT_IMGSZ
    learning_rate: float | None = None
    """Initial learning rate (lr0); None keeps Ultralytics' default. Ignored by optimizer=auto."""
    optimizer: str = "auto"
    patience: int = 100
    """Stop after this many epochs without improvement."""
    device: str = "auto"
    """auto (free GPU with most memory, else CPU), cpu, a GPU index ("0") or several ("0,1")."""
    workers: int = 8
    cache: bool | str = False
    freeze: int | None = None
    """Freeze the first N layers (10 = the backbone), transfer only."""
    seed: int = 0
    base_model_path: str | None = None
    """transfer: a run's best.pt/last.pt or a .pt in a trusted model folder."""
    resume_from: str | None = None
    """resume/extend: the run folder of the training to continue."""
    project: str = "default"
    experiment: str = ""
    """Run name under trainings/{project}/; empty = chosen at submission."""
    augmentation: dict[str, float] = field(default_factory=dict)
    """Augmentation settings that differ from Ultralytics' defaults, e.g. {"mosaic": 0.5} (see augmentation.py)."""
    advanced: dict[str, Any] = field(default_factory=dict)
    """Other Ultralytics train arguments, e.g. {"mosaic": 0.5}; checked against Ultralytics' list."""
    trial: dict[str, Any] | None = None
    """Set by a tuning study for its trials: {"study": its folder, "number": n, "id": Optuna's trial id}."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SpecError(f"mode={self.mode!r} is unknown; use one of {', '.join(MODES)} (e.g. mode='full').")
        if self.model_architecture not in ARCHITECTURES:
            raise SpecError(
                f"model_architecture={self.model_architecture!r} is unknown; use one of "
                f"{', '.join(ARCHITECTURES)} (e.g. 'yolo26n')."
            )
        if self.mode not in CONTINUING_MODES:
            non_empty("dataset_path", self.dataset_path, DATASET_HINT)
        whole("epochs", self.epochs, 1, example="epochs=50")
        if (
            not isinstance(self.batch_size, int)
            or isinstance(self.batch_size, bool)
            or not (self.batch_size == AUTO_BATCH or self.batch_size >= 1)
        ):
            raise SpecError(
                f"batch_size={self.batch_size!r}; use a positive whole number (e.g. 16), or -1 to let "
                "Ultralytics choose on a single GPU."
            )
        whole("imgsz", self.imgsz, STRIDE, example=f"imgsz={DEFAULT_IMGSZ}")
        at_most("imgsz", self.imgsz, MAX_IMGSZ, f"{DEFAULT_IMGSZ} or 1280")
        if self.learning_rate is not None:
            fraction("learning_rate", self.learning_rate, 0.01)
        if self.optimizer not in OPTIMIZERS:
            raise SpecError(f"optimizer={self.optimizer!r} is unknown; use one of {', '.join(OPTIMIZERS)}.")
        whole("patience", self.patience, 0, example="patience=50")
        whole("workers", self.workers, 0, example="workers=8")
        whole("seed", self.seed, 0, example="seed=0")
        device("device", self.device, several=True)
        if self.batch_size == AUTO_BATCH and "," in str(self.device):
            raise SpecError(
                "batch_size=-1 (automatic) works on a single GPU only; give a number (e.g. 32) for "
                f"device={self.device!r}."
            )
        if self.cache not in CACHE_VALUES:
            raise SpecError(f"cache={self.cache!r}; use false, true (= 'ram') or 'disk'.")
        if self.freeze is not None:
            whole("freeze", self.freeze, 1, example="freeze=10 (the backbone)")
            if self.freeze > 22:
                raise SpecError(
                    f"freeze={self.freeze} would freeze the detection head too; use at most 22 "
                    "(10 freezes the backbone)."
                )
        if self.mode == "transfer" and not self.base_model_path:
            raise SpecError(
                "mode='transfer' needs base_model_path: a run's weights/best.pt or a .pt in a trusted model folder."
            )
        if self.mode in CONTINUING_MODES and not self.resume_from:
            raise SpecError(f"mode={self.mode!r} needs resume_from: the run folder of the training to continue.")
        for name in ("project", "experiment"):
            value = getattr(self, name)
            if value and not NAME_PATTERN.match(value):
                raise SpecError(
                    f"{name}={value!r}; use letters, digits, '_', '-' and '.', starting with a letter "
                    f"or digit, no '/' or '..' (e.g. {name}='logos-v2')."
                )
        if self.experiment == "model":  # Ultralytics renames a run called "model" after the model file
            raise SpecError(
                "experiment='model' would be renamed by Ultralytics after the model file; pick another name "
                "(e.g. 'model-1')."
            )
        if self.project == "":
            raise SpecError("project is empty; use a short name such as 'default'.")
        try:
            object.__setattr__(self, "augmentation", check_augmentation(self.augmentation))  # numbers as floats
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        check_advanced(self.advanced)
        if self.trial is not None and not (
            isinstance(self.trial, dict) and {"study", "number", "id"} <= set(self.trial)
        ):
            raise SpecError(
                "trial is set by a tuning study only (its folder, the trial's number and id); leave it out."
            )

    def warnings(self) -> list[str]:
        """Allowed but surprising values, to show before the job starts."""
        found = []
        if self.imgsz % STRIDE:
            rounded = -(-self.imgsz // STRIDE) * STRIDE
            found.append(f"imgsz={self.imgsz} is not a multiple of {STRIDE}: Ultralytics will use {rounded}.")
        if self.learning_rate is not None and self.optimizer == "auto":
            found.append(
                "optimizer='auto' chooses its own learning rate and ignores learning_rate; pick an "
                "optimizer (e.g. SGD or AdamW) to use it."
            )
        if self.freeze and self.mode == "full":
            found.append("freeze with mode='full' freezes randomly initialised layers; it is meant for transfer.")
        return found

    def to_ultralytics(self) -> dict[str, Any]:
        """Train arguments for Ultralytics, except data, model, project and name (the worker sets those)."""
        args: dict[str, Any] = {
            "epochs": self.epochs,
            "batch": self.batch_size,
            "imgsz": self.imgsz,
            "optimizer": self.optimizer,
            "patience": self.patience,
            "workers": self.workers,
            "cache": self.cache,
            "seed": self.seed,
        }
        if self.learning_rate is not None:
            args["lr0"] = float(self.learning_rate)
        if self.freeze:
            args["freeze"] = self.freeze
        if self.device != "auto":
            args["device"] = self.device
        return {**args, **self.augmentation, **self.advanced}  # a tuning trial's settings come in `advanced`

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSpec:
        """Build from a mapping (the original request body's names included); unknown keys are refused."""
        refuse_unknown(cls, data)
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrainSpec:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SpecError(f"the spec is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise SpecError("the spec must be a JSON object.")
        return cls.from_dict(data)


def check_advanced(advanced: Any) -> None:
    """Other Ultralytics train arguments: a mapping of names from Ultralytics' own list that the studio does not
    set itself (a typo gets the names it resembles)."""
    if not isinstance(advanced, dict):
        raise SpecError(f"advanced={advanced!r} must be a mapping of Ultralytics train arguments.")
    known = ultralytics_train_args()
    for key in advanced:
        if key in MANAGED_ARGS:
            raise SpecError(f"advanced[{key!r}] is set by the studio; use the spec's own field instead.")
        if known and key not in known:
            close = sorted(k for k in known if k[:3] == str(key)[:3])[:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise SpecError(f"advanced[{key!r}] is not an Ultralytics train argument{hint}.")


def parse_advanced(text: str) -> dict[str, Any]:
    """Other Ultralytics train arguments typed as YAML lines of 'name: value' (checked later by TrainSpec)."""
    try:
        advanced = read_yaml_text(text, "the other arguments") if text.strip() else {}
    except UnsafeYaml as exc:
        raise SpecError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"the other arguments are not valid YAML ({str(exc).splitlines()[0]}).") from None
    if not isinstance(advanced, dict):
        raise SpecError("the other arguments must be lines of 'name: value', e.g. 'mosaic: 0.5'.")
    return advanced

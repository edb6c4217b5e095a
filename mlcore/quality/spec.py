"""What each data-quality job is asked to do, validated when it is built, JSON in and out.

AuditSpec(model_path=..., dataset_path=..., split="val")            # label errors of a labelled split
AuditSpec(model_path=..., dataset_path=..., split="train", kfold=5) # the train split, out of sample
SelectSpec(model_path=..., images="/data/unlabelled", top=50)       # the images to label next
DriftSpec(images="/data/production", dataset_path=..., model_path=None)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcore.training.spec import DEVICE_PATTERN, STRIDE, SpecError, refuse_unknown

AUDIT_SPLITS = ("val", "test", "train")
MAX_KFOLD = 10


def _whole(name: str, value: Any, low: int, high: int, example: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"{name}={value!r}; use a whole number from {low} to {high} (e.g. {example}).")


def _common(spec: Any) -> None:
    """The checks every data-quality spec shares: imgsz and a single device."""
    if spec.imgsz != 0:  # 0: the size the model was trained at
        _whole("imgsz", spec.imgsz, STRIDE, 4096, 640)
    if not DEVICE_PATTERN.match(str(spec.device)) or "," in str(spec.device):
        raise SpecError(f"device={spec.device!r}; use 'auto', 'cpu' or one GPU index like '0'.")


def _required(spec: Any, name: str, what: str) -> None:
    if not str(getattr(spec, name) or "").strip():
        raise SpecError(f"{name} is empty; give {what}.")


class _Spec:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        refuse_unknown(cls, data)
        return cls(**data)


@dataclass(frozen=True)
class AuditSpec(_Spec):
    """A model's predictions on a labelled split, read for label errors."""

    model_path: str = ""
    dataset_path: str = ""
    split: str = "val"
    kfold: int = 0
    """0: predict with `model_path` (right for val and test). K >= 2: K short trainings from `model_path`'s
    weights, each on the split without one fold, predict that fold (the out-of-sample way for train)."""
    kfold_epochs: int = 10
    imgsz: int = 0
    """0: the size the model was trained at; another size is run with a warning."""
    device: str = "auto"

    def __post_init__(self) -> None:
        _required(self, "model_path", "a run's weights/best.pt or a .pt in a trusted model folder")
        _required(self, "dataset_path", "a dataset folder or data.yaml")
        if self.split not in AUDIT_SPLITS:
            raise SpecError(f"split={self.split!r}; use one of {', '.join(AUDIT_SPLITS)}.")
        if self.kfold != 0:
            _whole("kfold", self.kfold, 2, MAX_KFOLD, 5)
        _whole("kfold_epochs", self.kfold_epochs, 1, 1000, 10)
        _common(self)


@dataclass(frozen=True)
class SelectSpec(_Spec):
    """A model and a folder of unlabelled images: which to label next."""

    model_path: str = ""
    images: str = ""
    top: int = 50
    imgsz: int = 0
    """0: the size the model was trained at; another size is run with a warning."""
    device: str = "auto"

    def __post_init__(self) -> None:
        _required(self, "model_path", "a run's weights/best.pt or a .pt in a trusted model folder")
        _required(self, "images", "a folder of images")
        _whole("top", self.top, 1, 100_000, 50)
        _common(self)


@dataclass(frozen=True)
class DriftSpec(_Spec):
    """A folder of new images against a dataset's split; with a model, its predictions too."""

    images: str = ""
    dataset_path: str = ""
    split: str = "train"
    model_path: str | None = None
    imgsz: int = 0
    """0: the size the model was trained at; another size is run with a warning."""
    device: str = "auto"

    def __post_init__(self) -> None:
        _required(self, "images", "the folder of new images")
        _required(self, "dataset_path", "the dataset the model was trained on")
        if self.split not in AUDIT_SPLITS:
            raise SpecError(f"split={self.split!r}; use one of {', '.join(AUDIT_SPLITS)}.")
        if self.model_path is not None and not str(self.model_path).strip():
            object.__setattr__(self, "model_path", None)
        _common(self)

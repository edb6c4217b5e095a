"""What each data-quality job is asked to do, validated when it is built, JSON in and out.

AuditSpec(model_path=..., dataset_path=..., split="val")            # label errors of a labelled split
AuditSpec(model_path=..., dataset_path=..., split="train", kfold=5) # the train split, out of sample
SelectSpec(model_path=..., images="/data/unlabelled", top=50)       # the images to label next
DriftSpec(images="/data/production", dataset_path=..., model_path=None)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcore.core.spec import (
    DEFAULT_IMGSZ,
    MAX_IMGSZ,
    STRIDE,
    device,
    flag,
    non_empty,
    one_of,
    refuse_unknown,
    whole,
)

AUDIT_SPLITS = ("val", "test", "train")
MAX_KFOLD = 10


MODEL_HINT = "a run's weights/best.pt or a .pt in a trusted model folder"


def _common(spec: Any) -> None:
    """The checks every data-quality spec shares: imgsz (0: the size the model was trained at) and a single device."""
    whole("imgsz", spec.imgsz, STRIDE, MAX_IMGSZ, DEFAULT_IMGSZ, zero=True)
    device("device", spec.device)


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
    nms_free: bool = False
    """YOLO26: predict with its NMS-free head (mlcore.engine.heads)."""

    def __post_init__(self) -> None:
        non_empty("model_path", self.model_path, MODEL_HINT)
        non_empty("dataset_path", self.dataset_path, "a dataset folder or data.yaml")
        flag("nms_free", self.nms_free)
        one_of("split", self.split, AUDIT_SPLITS)
        whole("kfold", self.kfold, 2, MAX_KFOLD, 5, zero=True)
        whole("kfold_epochs", self.kfold_epochs, 1, 1000, 10)
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
        non_empty("model_path", self.model_path, MODEL_HINT)
        non_empty("images", self.images, "a folder of images")
        whole("top", self.top, 1, 100_000, 50)
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
        non_empty("images", self.images, "the folder of new images")
        non_empty("dataset_path", self.dataset_path, "the dataset the model was trained on")
        one_of("split", self.split, AUDIT_SPLITS)
        if self.model_path is not None and not str(self.model_path).strip():
            object.__setattr__(self, "model_path", None)
        _common(self)

"""What an evaluation is asked to do: EvalSpec, validated when it is built, JSON in and out.

The original request body's names load as they are (`model_path`, `test_dataset_path`,
`confidence_threshold`, `iou_threshold`, `save_predictions`, `analyze_errors`):

    spec = EvalSpec.from_dict({"model_path": "trainings/logos/v1/weights/best.pt",
                               "test_dataset_path": "/data/logos", "confidence_threshold": 0.3})
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcore.training.spec import DEVICE_PATTERN, STRIDE, SpecError, refuse_unknown

SPLITS = ("test", "val", "train")
ALIASES = {"test_dataset_path": "dataset_path"}
NMS_IOU = 0.7  # the NMS overlap of Ultralytics' validator and predictor: the stored predictions are made with it


@dataclass(frozen=True)
class EvalSpec:
    """A model evaluated on one split of a dataset. Validated on construction."""

    model_path: str = ""
    """A run's weights or a .pt in a trusted model folder."""
    dataset_path: str = ""
    split: str = "test"
    confidence_threshold: float = 0.25
    """Predictions below it do not count (the page can move it later without the model)."""
    iou_threshold: float = 0.45
    """Overlap a prediction needs with a ground-truth box to be a match."""
    imgsz: int = 0
    """0: the size the model was trained at (Ultralytics' val does the same); another size is run with a warning."""
    device: str = "auto"
    save_predictions: bool = True
    """Write predictions/ (YOLO txt with confidences per image, and one COCO JSON)."""
    analyze_errors: bool = True
    """Write error_samples/: images with ground truth and predictions drawn, by error type."""

    def __post_init__(self) -> None:
        if not str(self.model_path).strip():
            raise SpecError("model_path is empty; give a run's weights/best.pt or a .pt in a trusted model folder.")
        if not str(self.dataset_path).strip():
            raise SpecError("dataset_path is empty; give a dataset folder or data.yaml.")
        if self.split not in SPLITS:
            raise SpecError(f"split={self.split!r}; use one of {', '.join(SPLITS)}.")
        for name in ("confidence_threshold", "iou_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise SpecError(f"{name}={value!r}; use a number between 0 and 1 (e.g. 0.25).")
        whole = isinstance(self.imgsz, int) and not isinstance(self.imgsz, bool)
        if not whole or not (self.imgsz == 0 or STRIDE <= self.imgsz <= 4096):
            raise SpecError(
                f"imgsz={self.imgsz!r}; use 0 (the size the model was trained at) or a whole number from {STRIDE} to "
                "4096 (e.g. 640)."
            )
        if not DEVICE_PATTERN.match(str(self.device)) or "," in str(self.device):
            raise SpecError(f"device={self.device!r}; use 'auto', 'cpu' or one GPU index like '0'.")
        for name in ("save_predictions", "analyze_errors"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"{name}={getattr(self, name)!r}; use true or false.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalSpec:
        """Build from a mapping; `test_dataset_path` is taken as `dataset_path`; unknown keys are refused."""
        renamed = {ALIASES.get(k, k): v for k, v in data.items()}
        refuse_unknown(cls, renamed, tuple(ALIASES))
        return cls(**renamed)

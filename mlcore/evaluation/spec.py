"""What an evaluation is asked to do: EvalSpec, validated when it is built, JSON in and out.

The original request body's names load as they are (`model_path`, `test_dataset_path`,
`confidence_threshold`, `iou_threshold`, `save_predictions`, `analyze_errors`). The match IoU is `match_iou` in
code (the predictor's NMS IoU is another number) and `iou_threshold` in requests, job records and messages:

    spec = EvalSpec.from_dict({"model_path": "trainings/logos/v1/weights/best.pt",
                               "test_dataset_path": "/data/logos", "confidence_threshold": 0.3})
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
    fraction,
    non_empty,
    one_of,
    refuse_unknown,
    whole,
)

SPLITS = ("test", "val", "train")
ALIASES = {"test_dataset_path": "dataset_path", "iou_threshold": "match_iou"}  # request name -> field
RECORDED = {"match_iou": "iou_threshold"}  # field -> its name in requests, job records and messages
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
    match_iou: float = 0.45
    """Overlap a prediction needs with a ground-truth box to be a match (`iou_threshold` in requests)."""
    imgsz: int = 0
    """0: the size the model was trained at (Ultralytics' val does the same); another size is run with a warning."""
    device: str = "auto"
    save_predictions: bool = True
    """Write predictions/ (YOLO txt with confidences per image, and one COCO JSON)."""
    analyze_errors: bool = True
    """Write error_samples/: images with ground truth and predictions drawn, by error type."""
    nms_free: bool = False
    """YOLO26: predict with its NMS-free head (mlcore.engine.heads); False is Ultralytics' default, with NMS."""

    def __post_init__(self) -> None:
        non_empty("model_path", self.model_path, "a run's weights/best.pt or a .pt in a trusted model folder")
        non_empty("dataset_path", self.dataset_path, "a dataset folder or data.yaml")
        one_of("split", self.split, SPLITS)
        fraction("confidence_threshold", self.confidence_threshold, 0.25)
        fraction("iou_threshold", self.match_iou, 0.25)
        whole(
            "imgsz",
            self.imgsz,
            STRIDE,
            MAX_IMGSZ,
            zero=True,
            use=f"use 0 (the size the model was trained at) or a "
            f"whole number from {STRIDE} to {MAX_IMGSZ} (e.g. {DEFAULT_IMGSZ})",
        )
        device("device", self.device)
        flag("save_predictions", self.save_predictions)
        flag("analyze_errors", self.analyze_errors)
        flag("nms_free", self.nms_free)

    def to_dict(self) -> dict[str, Any]:
        """The request as recorded: `iou_threshold`, as requests name it."""
        return {RECORDED.get(k, k): v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalSpec:
        """Build from a mapping (a request, or a record of `to_dict`); `test_dataset_path` is taken as `dataset_path`,
        `iou_threshold` as `match_iou`; unknown keys are refused."""
        renamed = {ALIASES.get(k, k): v for k, v in data.items()}
        refuse_unknown(cls, renamed, tuple(ALIASES))
        return cls(**renamed)

"""What an explanation is asked to do, checked when it is built, JSON in and out.

ExplainSpec(model_path="trainings/logos/v1/weights/best.pt", image="/data/cam1/0001.jpg")           # every box
ExplainSpec(model_path=..., image=..., box=2, class_name="dino")        # box 2: why not a dino there?
ExplainSpec(model_path="exports/.../best.onnx", image=..., method="drise", masks=2000, seed=1)
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
from mlcore.explain.saliency import DEFAULT_MASKS, METHODS, ExplainError, Target

MIN_MASKS, MAX_MASKS = 50, 20_000


@dataclass(frozen=True)
class ExplainSpec:
    model_path: str = ""
    image: str = ""
    """An image file under the allowed folders (the API saves an uploaded one into the job's folder)."""
    box: int | None = None
    """One of the model's boxes, best first (None: every box)."""
    class_name: str | None = None
    """Explain this class's score at the box (e.g. a wrong class: the class it should have been)."""
    targets: list[dict[str, Any]] | None = None
    """Boxes given from outside instead ([x1, y1, x2, y2] pixels, class_id, role): an evaluation's errors."""
    method: str = ""
    """gradient (a .pt) or drise (any model); '' = gradient for a .pt, drise for an export."""
    masks: int = DEFAULT_MASKS
    seed: int = 0
    confidence: float = 0.25
    imgsz: int = 0
    """0: the size the model was trained at."""
    nms_free: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        non_empty("model_path", self.model_path, "a run's weights/best.pt or an export")
        non_empty("image", self.image, "an image file")
        if self.box is not None:
            whole("box", self.box, 0, None, 0)
        one_of("method", self.method, ("", *METHODS))
        whole("masks", self.masks, MIN_MASKS, MAX_MASKS, DEFAULT_MASKS)
        whole("seed", self.seed, 0, None, 0)
        fraction("confidence", self.confidence, 0.25)
        whole("imgsz", self.imgsz, STRIDE, MAX_IMGSZ, DEFAULT_IMGSZ, zero=True)
        flag("nms_free", self.nms_free)
        device("device", self.device)
        if self.targets is not None:
            if self.box is not None:
                raise ExplainError(
                    "give either box (one of the model's boxes) or targets (boxes of your own), not both."
                )
            for t in self.targets:
                Target.from_dict(t)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExplainSpec:
        refuse_unknown(cls, data)
        return cls(**data)

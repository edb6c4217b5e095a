"""What a batch prediction is asked to do: PredictSpec, validated when it is built, JSON in and out.

    spec = PredictSpec(model_path="trainings/logos/v1/weights/best.pt", source="/data/new_photos")
    spec = PredictSpec(model_path=..., source="/data/cam1.mp4", every_nth_frame=5, save_images=True)

Thresholds left empty come from the deployment profile (by default the model's saved one; without one,
Ultralytics' defaults 0.25 and 0.7); a threshold given here replaces the profile's (a confidence given
replaces its per-class ones too). The NMS IoU is `nms_iou` in code (an evaluation's match IoU is another
number) and `iou_threshold` in requests, job records and messages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcore.core.spec import DEFAULT_IMGSZ, STRIDE, SpecError, device, flag, fraction, non_empty, refuse_unknown, whole

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov")
ALIASES = {"iou_threshold": "nms_iou"}  # request name -> field
RECORDED = {"nms_iou": "iou_threshold"}  # field -> its name in requests, job records and messages


@dataclass(frozen=True)
class PredictSpec:
    model_path: str = ""
    """A run's weights, a .pt in a trusted model folder, or an export."""
    source: str = ""
    """A folder of images (searched with its sub-folders) or a video file (MP4, AVI, MOV), under the dataset roots."""
    confidence_threshold: float | None = None
    nms_iou: float | None = None
    """`iou_threshold` in requests."""
    profile: str = "default"
    """default (the model's saved profile), none, a JSON object, or a profile.json under the outputs root."""
    every_nth_frame: int = 1
    """Videos: predict on every N-th frame."""
    save_images: bool = False
    """Also write the images (or the video) with the boxes drawn."""
    imgsz: int = 0
    """0 = the size the model was trained or exported at."""
    device: str = "auto"
    nms_free: bool | None = None
    """YOLO26: True runs its NMS-free head (mlcore.engine.heads); None = the profile's."""
    output_url: str = ""
    """s3://BUCKET/PREFIX (or LOCATION:PREFIX) the job's folder is uploaded to when it ends ('' = the results
    location, if one is set)."""

    def __post_init__(self) -> None:
        non_empty("model_path", self.model_path, "a run's weights/best.pt, a trusted .pt or an export")
        if self.nms_free is not None:
            flag("nms_free", self.nms_free)
        non_empty("source", self.source, "a folder of images or a video file")
        for name, value in (("confidence_threshold", self.confidence_threshold), ("iou_threshold", self.nms_iou)):
            if value is not None:
                fraction(name, value, use="use a number between 0 and 1, or leave it empty (the profile's)")
        whole("every_nth_frame", self.every_nth_frame, 1, use="use a whole number of at least 1 (1 = every frame)")
        whole(
            "imgsz",
            self.imgsz,
            0,
            step=STRIDE,
            use=f"use 0 (the model's own) or a multiple of {STRIDE} such as {DEFAULT_IMGSZ}",
        )
        flag("save_images", self.save_images)
        if not isinstance(self.profile, str):
            raise SpecError(f"profile={self.profile!r}; use default, none, a JSON object or a profile.json path.")
        device("device", self.device)
        if not isinstance(self.output_url, str):
            raise SpecError(f"output_url={self.output_url!r}; give s3://BUCKET/PREFIX or leave it empty.")

    def to_dict(self) -> dict[str, Any]:
        """The request as recorded: `iou_threshold`, as requests name it."""
        return {RECORDED.get(k, k): v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictSpec:
        """Build from a mapping (a request, or a record of `to_dict`); unknown keys are refused."""
        renamed = {ALIASES.get(k, k): v for k, v in data.items()}
        refuse_unknown(cls, renamed, tuple(ALIASES))
        return cls(**renamed)

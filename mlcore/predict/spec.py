"""What a batch prediction is asked to do: PredictSpec, validated when it is built, JSON in and out.

    spec = PredictSpec(model_path="trainings/logos/v1/weights/best.pt", source="/data/new_photos")
    spec = PredictSpec(model_path=..., source="/data/cam1.mp4", every_nth_frame=5, save_images=True)

Thresholds left empty come from the deployment profile (by default the model's saved one; without one,
Ultralytics' defaults 0.25 and 0.7); a threshold given here replaces the profile's (a confidence given
replaces its per-class ones too).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcore.training.spec import DEVICE_PATTERN, STRIDE, SpecError, refuse_unknown

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov")


@dataclass(frozen=True)
class PredictSpec:
    model_path: str = ""
    """A run's weights, a .pt in a trusted model folder, or an export."""
    source: str = ""
    """A folder of images (searched with its sub-folders) or a video file (MP4, AVI, MOV), under the dataset roots."""
    confidence_threshold: float | None = None
    iou_threshold: float | None = None
    profile: str = "default"
    """default (the model's saved profile), none, a JSON object, or a profile.json under the outputs root."""
    every_nth_frame: int = 1
    """Videos: predict on every N-th frame."""
    save_images: bool = False
    """Also write the images (or the video) with the boxes drawn."""
    imgsz: int = 0
    """0 = the size the model was trained or exported at."""
    device: str = "auto"

    def __post_init__(self) -> None:
        if not str(self.model_path).strip():
            raise SpecError("model_path is empty; give a run's weights/best.pt, a trusted .pt or an export.")
        if not str(self.source).strip():
            raise SpecError("source is empty; give a folder of images or a video file.")
        for name in ("confidence_threshold", "iou_threshold"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1
            ):
                raise SpecError(f"{name}={value!r}; use a number between 0 and 1, or leave it empty (the profile's).")
        if (
            isinstance(self.every_nth_frame, bool)
            or not isinstance(self.every_nth_frame, int)
            or self.every_nth_frame < 1
        ):
            raise SpecError(
                f"every_nth_frame={self.every_nth_frame!r}; use a whole number of at least 1 (1 = every frame)."
            )
        if not isinstance(self.imgsz, int) or isinstance(self.imgsz, bool) or self.imgsz < 0 or self.imgsz % STRIDE:
            raise SpecError(f"imgsz={self.imgsz!r}; use 0 (the model's own) or a multiple of {STRIDE} such as 640.")
        if not isinstance(self.save_images, bool):
            raise SpecError(f"save_images={self.save_images!r}; use true or false.")
        if not isinstance(self.profile, str):
            raise SpecError(f"profile={self.profile!r}; use default, none, a JSON object or a profile.json path.")
        if not DEVICE_PATTERN.match(str(self.device)) or "," in str(self.device):
            raise SpecError(f"device={self.device!r}; use 'auto', 'cpu' or one GPU index like '0'.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictSpec:
        refuse_unknown(cls, data)
        return cls(**data)

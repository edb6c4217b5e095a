"""What a tracking job is asked to do, checked when it is built, JSON in and out.

    TrackSpec(model_path="trainings/logos/v1/weights/best.pt", source="/data/cam1.mp4")
    TrackSpec(model_path=..., source="rtsp://camera.lan/stream1", tracker="bytetrack",
              tracker_settings={"track_buffer": 60}, lines=["100,400,900,400"], zones=["100,100,500,100,500,400"])

Thresholds left empty come from the deployment profile (the model's saved one; without one, Ultralytics' 0.25 and
0.7). The tracker is fed the detections down to min(the profile's lowest threshold, the tracker's track_low_thresh),
as Ultralytics' own `track` feeds low-confidence boxes to its second association; a track is reported when its best
confidence reaches its class's threshold in the profile.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlcore.core.spec import DEFAULT_IMGSZ, STRIDE, SpecError, device, flag, fraction, non_empty, refuse_unknown, whole
from mlcore.video.counting import lines_from, zones_from

ALIASES = {"iou_threshold": "nms_iou"}
RECORDED = {"nms_iou": "iou_threshold"}
STRIDE_WARNING = (
    "A frame stride above 1 weakens tracking: objects move further between the frames the tracker sees, so fast or "
    "crossing ones may swap ids or be counted late; use 1 when the hardware keeps up."
)


@dataclass(frozen=True)
class TrackSpec:
    model_path: str = ""
    """A run's weights, a .pt in a trusted model folder, or an export."""
    source: str = ""
    """A video file or a folder of frames under the dataset roots, or an rtsp:// or http(s):// stream from an allowed
    host."""
    tracker: str = ""
    """One of Ultralytics' trackers by name ('' = its default, TrackTrack) or a tracker YAML file."""
    tracker_settings: dict[str, Any] = field(default_factory=dict)
    """Changes to the tracker's YAML settings, e.g. {"track_buffer": 60}."""
    confidence_threshold: float | None = None
    nms_iou: float | None = None
    """`iou_threshold` in requests."""
    profile: str = "default"
    every_nth_frame: int = 1
    """Track on every N-th frame (see STRIDE_WARNING)."""
    lines: list[Any] = field(default_factory=list)
    """Counting lines: "x1,y1,x2,y2" or {"points": [...], "name": "", "direction": "both|in|out"} (pixels)."""
    zones: list[Any] = field(default_factory=list)
    """Counting zones: "x,y,x,y,x,y,..." or {"points": [...], "name": ""} (pixels)."""
    fps: float = 0.0
    """The frames' rate: 0 = the video's own (a folder of frames: 25)."""
    max_frames: int = 0
    """Stop after this many frames read (0 = to the end; a stream runs until stopped)."""
    save_video: bool = True
    """Write annotated.mp4 (boxes, ids, trails, lines and zones)."""
    imgsz: int = 0
    """0 = the size the model was trained or exported at."""
    device: str = "auto"
    nms_free: bool | None = None
    """YOLO26: True tracks with its NMS-free head; None = the profile's."""

    def __post_init__(self) -> None:
        non_empty("model_path", self.model_path, "a run's weights/best.pt, a trusted .pt or an export")
        non_empty("source", self.source, "a video file, a folder of frames or a stream URL")
        if not isinstance(self.tracker, str):
            raise SpecError(f"tracker={self.tracker!r}; give a tracker's name or a YAML file.")
        if not isinstance(self.tracker_settings, dict):
            raise SpecError(
                f'tracker_settings={self.tracker_settings!r}; give an object such as {{"track_buffer": 60}}.'
            )
        for name, value in (("confidence_threshold", self.confidence_threshold), ("iou_threshold", self.nms_iou)):
            if value is not None:
                fraction(name, value, use="use a number between 0 and 1, or leave it empty (the profile's)")
        if not isinstance(self.profile, str):
            raise SpecError(f"profile={self.profile!r}; use default, none, a JSON object or a profile.json path.")
        whole("every_nth_frame", self.every_nth_frame, 1, use="use a whole number of at least 1 (1 = every frame)")
        whole("max_frames", self.max_frames, 0, use="use 0 (to the end) or a whole number of frames")
        if isinstance(self.fps, bool) or not isinstance(self.fps, int | float) or not 0 <= self.fps <= 1000:
            raise SpecError(f"fps={self.fps!r}; use 0 (the video's own) or the frames' rate, e.g. 25.")
        for shapes, given in (("lines", self.lines), ("zones", self.zones)):
            if not isinstance(given, list):
                raise SpecError(f"{shapes}={given!r}; give a list.")
        lines_from(self.lines)
        zones_from(self.zones)
        flag("save_video", self.save_video)
        whole(
            "imgsz",
            self.imgsz,
            0,
            step=STRIDE,
            use=f"use 0 (the model's own) or a multiple of {STRIDE} such as {DEFAULT_IMGSZ}",
        )
        device("device", self.device)
        if self.nms_free is not None:
            flag("nms_free", self.nms_free)

    def to_dict(self) -> dict[str, Any]:
        return {RECORDED.get(k, k): v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackSpec:
        renamed = {ALIASES.get(k, k): v for k, v in data.items()}
        refuse_unknown(cls, renamed, tuple(ALIASES))
        return cls(**renamed)

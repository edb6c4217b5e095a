"""A demo video with its ground truth, made offline: the demo dataset's logos moving along straight paths at constant
speeds over a still background, crossing each other (one hides another for a few frames), and one leaving the frame
and coming back. The app offers it to try tracking; the tests measure tracks and counts against its truth.

    truth = make_demo_video(Path("demo.mp4"), frames=120, size=(480, 320), fps=20.0, seed=0)
    truth.rows        # (frame, object id, class, x1, y1, x2, y2), one row per visible object and frame
    truth.points()    # (frame, id, class, x centre, y centre): what counting reads
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from PIL import Image

from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.datasets.demo import CLASS_NAMES, _background, draw_logo

VISIBLE = 0.5  # an object counts as in the frame when at least half of its box is


@dataclass(frozen=True)
class Mover:
    """One logo's path: its centre at frame 0 (fractions of the frame), its velocity (fractions per frame)."""

    object_id: int
    class_id: int
    start: tuple[float, float]
    velocity: tuple[float, float]
    side: float
    """Its size as a fraction of the frame's height."""
    turn_at: int | None = None
    """The frame from which it comes back the way it came (left the frame and re-enters)."""

    def centre(self, frame: int) -> tuple[float, float]:
        (x, y), (vx, vy) = self.start, self.velocity
        if self.turn_at is None or frame <= self.turn_at:
            return x + vx * frame, y + vy * frame
        back = 2 * self.turn_at - frame
        return x + vx * back, y + vy * back


def scenario(frames: int) -> list[Mover]:
    """Five logos: two across the frame each way, two up and down (one path crosses another's, and its logo hides
    the other's for a few frames), one that leaves on the right and comes back."""
    pace = 1.2 / frames
    return [
        Mover(1, 0, (-0.1, 0.30), (pace, 0.0), 0.22),
        Mover(2, 1, (1.1, 0.70), (-pace, 0.0), 0.22),
        Mover(3, 2, (0.45, -0.30), (0.0, pace * 1.1), 0.24),  # meets 1 where their paths cross
        Mover(4, 3, (0.80, 1.03), (0.0, -pace * 1.1), 0.20),  # meets 2 where their paths cross
        Mover(5, 4, (0.60, 0.50), (pace * 1.1, 0.0), 0.18, turn_at=int(frames * 0.55)),
    ]


@dataclass
class VideoTruth:
    path: Path
    fps: float
    size: tuple[int, int]
    frames: int
    rows: np.ndarray
    """(frame, object id, class, x1, y1, x2, y2)."""

    def points(self) -> np.ndarray:
        r = self.rows
        return np.column_stack([r[:, 0], r[:, 1], r[:, 2], (r[:, 3] + r[:, 5]) / 2, (r[:, 4] + r[:, 6]) / 2])


def make_demo_video(
    path: Path, frames: int = 120, size: tuple[int, int] = (480, 320), fps: float = 20.0, seed: int = 0
) -> VideoTruth:
    """Write the video (MP4, mp4v) and return its ground truth."""
    rng = random.Random(seed)
    w, h = size
    background = _background(size, rng)
    movers = scenario(frames)
    logos = {}
    for m in movers:
        side = int(round(m.side * h))
        logos[m.object_id] = draw_logo(m.class_id, rng).resize((side, side), Image.Resampling.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path}")
    rows = []
    try:
        for frame in range(frames):
            picture = background.copy()
            for m in movers:  # later movers are drawn over earlier ones: they hide them where they cross
                logo = logos[m.object_id]
                cx, cy = m.centre(frame)
                x1, y1 = int(round(cx * w - logo.width / 2)), int(round(cy * h - logo.height / 2))
                picture.paste(logo, (x1, y1), logo)
                box = (x1, y1, x1 + logo.width, y1 + logo.height)
                clipped = (max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3]))
                area = max(0, clipped[2] - clipped[0]) * max(0, clipped[3] - clipped[1])
                if area >= VISIBLE * logo.width * logo.height:
                    rows.append((frame, m.object_id, m.class_id, *clipped))
            writer.write(cv2.cvtColor(np.asarray(picture), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return VideoTruth(path, fps, size, frames, np.array(rows, dtype=float).reshape(-1, 7))


def write_frames_dataset(folder: Path, videos: list[VideoTruth], every: int = 1, val_every: int = 5) -> Path:
    """A YOLO dataset of the videos' frames with their truth as labels (every `every`-th frame; each `val_every`-th
    of those goes to val): what a detector for the demo video is trained on. Returns its data.yaml."""
    for split in ("train", "val"):
        (folder / "images" / split).mkdir(parents=True, exist_ok=True)
        (folder / "labels" / split).mkdir(parents=True, exist_ok=True)
    kept = 0
    for v, truth in enumerate(videos):
        w, h = truth.size
        capture = cv2.VideoCapture(str(truth.path))
        frame = 0
        try:
            while True:
                ok, pixels = capture.read()
                if not ok:
                    break
                if frame % every == 0:
                    split = "val" if kept % val_every == val_every - 1 else "train"
                    stem = f"v{v}_f{frame:05d}"
                    cv2.imwrite(str(folder / "images" / split / f"{stem}.jpg"), pixels)
                    rows = truth.rows[truth.rows[:, 0] == frame]
                    lines = [
                        f"{int(c)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                        f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
                        for _, _, c, x1, y1, x2, y2 in rows
                    ]
                    (folder / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
                    kept += 1
                frame += 1
        finally:
            capture.release()
    data = folder / "data.yaml"
    data.write_text(
        yaml.safe_dump(
            {"path": str(folder), "train": "images/train", "val": "images/val", "names": dict(enumerate(CLASS_NAMES))}
        )
    )
    return data


DEMO_VIDEO = "demo_logos.mp4"  # under the uploads' videos/: what the page offers to try tracking on


def demo_video_for(settings: Settings) -> Path:
    """The studio's demo video (made once, ten seconds of 640x448 at 24 fps), under a dataset root it owns."""
    path = settings.uploads_dir / paths.UPLOADED_VIDEOS_DIR / "demo" / DEMO_VIDEO
    if not path.is_file():
        partial = path.with_suffix(".partial.mp4")
        make_demo_video(partial, frames=240, size=(640, 448), fps=24.0, seed=0)
        partial.replace(path)
    return path

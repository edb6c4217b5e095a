"""The tracking job, run by the worker: the model and the tracker over every (N-th) frame, with Ultralytics'
`model.track(persist=True)` one frame at a time (the tracker keeps its state between frames, as in Ultralytics' own
video loop). Frames are decoded in a thread ahead of the model, and the annotated video is drawn and encoded in
another, so the model is the only thing the loop waits for.

Stop (the stop request) ends after the current frame: the tracks so far, their counts and a playable video of the
frames done are kept, and summary.json is written last, as after the last frame. While it runs, live.json holds the
counts so far (rewritten about once a second): what the API's live mode and the page read.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.errors import TaskError
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.devices.leases import ultralytics_device
from mlcore.engine.heads import check_head, ultralytics_head
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.store import Job, JobStore, ProgressState
from mlcore.predict.detector import load_detector, names_of
from mlcore.predict.profile import DeploymentProfile, ProfileError
from mlcore.predict.task import read_ahead
from mlcore.video.counting import lines_from, zones_from
from mlcore.video.outputs import TrackWriter
from mlcore.video.sources import VideoSource, open_source
from mlcore.video.trackers import write_tracker_file

LIVE_EVERY_S = 1.0


class TrackingError(TaskError):
    """The model, the tracker and the source cannot be used together; the message says why."""


def run(job: Job, settings: Settings, store: JobStore) -> int:
    return run_to_end(store, job, lambda: track_source(job, settings))


class FrameTracker:
    """One model and one tracker, fed one frame at a time: each frame's tracks as rows of (track id, class id,
    confidence, x1, y1, x2, y2), only those of tracks whose confidence has reached their class's threshold."""

    def __init__(self, model: Any, tracker_file: Path, feed: float, profile: DeploymentProfile, imgsz: int) -> None:
        self.model, self.thresholds = model, profile.class_thresholds(names_of(model))
        self.reported: set[int] = set()
        check_head(model, profile.nms_free, model.studio_path)
        self.options = {
            "persist": True,
            "tracker": str(tracker_file),
            "conf": feed,
            "iou": profile.iou,
            "device": model.studio_device,
            "verbose": False,
            **({"imgsz": imgsz} if imgsz else {}),
            **ultralytics_head(profile.nms_free),
        }

    def update(self, pixels: np.ndarray) -> np.ndarray:
        result = self.model.track(pixels, **self.options)[0]
        boxes = result.boxes
        if boxes is None or boxes.id is None or len(boxes) == 0:
            return np.zeros((0, 7))
        rows = np.column_stack(
            [boxes.id.cpu().numpy(), boxes.cls.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.xyxy.cpu().numpy()]
        ).astype(float)
        keep = []
        for track, cls, conf in rows[:, :3]:
            if int(track) not in self.reported and conf >= self.thresholds.get(int(cls), 1.0):
                self.reported.add(int(track))
            keep.append(int(track) in self.reported)
        return rows[np.array(keep, dtype=bool)]


def reopen(spec: dict[str, Any], settings: Settings) -> VideoSource:
    """The job's source, opened again as its record names it (a stream with the administrator's login)."""
    return open_source(str(spec["source"]), settings, float(spec.get("fps") or 0))


def track_source(job: Job, settings: Settings) -> None:
    spec = job.spec
    folder = RunFolder(Path(job.run_dir))
    source = reopen(spec, settings)
    profile = DeploymentProfile.from_dict(spec["thresholds"])
    model = load_detector(Path(spec["model_path"]), ultralytics_device(job.device))
    names = names_of(model)
    try:
        profile.class_thresholds(names)
    except ProfileError as exc:
        raise TrackingError(str(exc)) from None
    config = dict(spec["tracker_settings"])
    tracker_file = write_tracker_file(config, folder.path / paths.TRACKER_FILE)
    feed = min(profile.floor, float(config.get("track_low_thresh", profile.floor)))
    tracker = FrameTracker(model, tracker_file, feed, profile, int(spec.get("imgsz") or 0))
    lines, zones = lines_from(spec.get("lines") or []), zones_from(spec.get("zones") or [])
    every, limit = int(spec.get("every_nth_frame") or 1), int(spec.get("max_frames") or 0)
    writer = TrackWriter(
        folder.path, names, source.fps, every, source.size, lines, zones, bool(spec.get("save_video", True))
    )
    expected = spec.get("expected_frames")
    done, stopped, started, last_live = 0, False, time.perf_counter(), 0.0
    print(f"tracking {source.shown} ({source.kind}, {source.fps:g} fps) with {config['tracker_type']}", flush=True)
    try:
        for index, pixels in read_ahead(source.frames_read(every), depth=4):
            if limit and index >= limit:
                break
            if folder.stop_request.exists():
                stopped = True
                break
            rows = tracker.update(pixels)
            writer.add(index, pixels, rows)
            done += 1
            now = time.perf_counter()
            if now - last_live >= LIVE_EVERY_S:
                last_live = now
                _report(folder, writer, done, expected, index, source.fps, now - started)
    except BaseException:
        writer.close_files()  # the tracks and the video so far stay readable; no summary: the job failed
        raise
    seconds = time.perf_counter() - started
    summary = writer.close(
        {
            "source": source.shown,
            "source_kind": source.kind,
            "model": spec["model_path"],
            "tracker": config["tracker_type"],
            "thresholds": profile.describe(),
            "every_nth_frame": every,
            "video_fps": source.fps,
            "frame_size": list(source.size),
            "stopped": stopped,
            "seconds": round(seconds, 2),
            "fps": round(done / seconds, 2) if seconds else None,
        }
    )
    (folder.path / paths.LIVE_COUNTS).unlink(missing_ok=True)  # the summary holds the final counts
    print(
        f"tracked {summary['frames']} frames: {summary['track_count']} tracks in {seconds:.1f} s "
        f"({summary['fps']} frames/s)",
        flush=True,
    )
    state = ProgressState.STOPPED if stopped else ProgressState.COMPLETED
    write_json_atomically(
        folder.progress, {"state": state, "percent": 100.0, "done": done, "total": expected, "updated": time.time()}
    )


def _report(
    folder: RunFolder, writer: TrackWriter, done: int, expected: int | None, index: int, fps: float, seconds: float
) -> None:
    rate = done / seconds if seconds else 0.0
    counts = writer.counts()
    live = {
        "frames": done,
        "frame": index,
        "time_s": round(index / fps, 2),
        "fps": round(rate, 2),
        "tracks": len(writer.trails),
        "lines": counts.lines,
        "zones": [{k: v for k, v in z.items() if k != "time_inside_s"} for z in counts.zones],
        "updated": time.time(),
    }
    write_json_atomically(folder.path / paths.LIVE_COUNTS, live)
    step = f"{done}/{expected} frames, {rate:.1f} frames/s" if expected else f"{done} frames, {rate:.1f} frames/s"
    write_json_atomically(
        folder.progress,
        {
            "state": ProgressState.RUNNING,
            "done": done,
            "total": expected,
            "percent": round(100 * done / max(expected, done, 1), 1) if expected else 0.0,
            "step": step,
            "fps": round(rate, 2),
            "updated": time.time(),
        },
    )

"""The files of a tracking job, written frame by frame as the tracks come (so Stop keeps what was done):

tracks.csv      frame, time_s, track_id, class_id, class_name, confidence, x1, y1, x2, y2 (pixels)
tracks.txt      the MOT challenge's format: frame (from 1), id, left, top, width, height, confidence, -1, -1, -1
annotated.mp4   the frames with each track's box, id and trail (H.264, drawn beside the model, encoded by a process)
events.csv      each line crossing and zone entry or exit (written at the end, from the tracks)
summary.json    tracks per class and their durations, counts, frames, speeds and files: written last

writer = TrackWriter(folder, names, fps=25.0, every=1, size=(1280, 720))
writer.add(frame_index, pixels, rows)        # rows: (track id, class id, confidence, x1, y1, x2, y2)
summary = writer.close(lines, zones, extra)
"""

from __future__ import annotations

import csv
import queue
import subprocess
import sys
import threading
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mlcore.charts.drawing import PALETTE
from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.settings import PROJECT_ROOT
from mlcore.video.counting import Counts, Line, Zone, count

CSV_COLUMNS = ("frame", "time_s", "track_id", "class_id", "class_name", "confidence", "x1", "y1", "x2", "y2")
EVENT_COLUMNS = ("frame", "time_s", "track", "class", "where", "what")
TRAIL = 30  # centres drawn behind each box
_BGR = [tuple(int(c[i : i + 2], 16) for i in (5, 3, 1)) for c in PALETTE]


def colour(track: int) -> tuple[int, int, int]:
    return _BGR[track % len(_BGR)]  # type: ignore[return-value]


def draw_tracks(
    pixels: np.ndarray,
    rows: np.ndarray,
    names: dict[int, str],
    trails: dict[int, deque],
    lines: list[Line],
    zones: list[Zone],
) -> np.ndarray:
    """The frame with lines, zones, each track's trail, box and 'id class' label (drawn on a copy)."""
    picture = pixels.copy()
    for zone in zones:
        cv2.polylines(picture, [np.array(zone.points, np.int32)], True, (0, 212, 255), 2)
    for line in lines:
        a, b = tuple(map(int, line.start)), tuple(map(int, line.end))
        cv2.arrowedLine(picture, a, b, (255, 255, 255), 2, tipLength=0.03)
    for track, cls, _conf, x1, y1, x2, y2 in rows:
        tid, c = int(track), colour(int(track))
        trail = trails[tid]
        if len(trail) > 1:
            cv2.polylines(picture, [np.array(trail, np.int32)], False, c, 2)
        cv2.rectangle(picture, (int(x1), int(y1)), (int(x2), int(y2)), c, 2)
        label = f"{tid} {names.get(int(cls), str(int(cls)))}"
        (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        top = max(int(y1), h + 4)
        cv2.rectangle(picture, (int(x1), top - h - 4), (int(x1) + w + 4, top), c, -1)
        cv2.putText(picture, label, (int(x1) + 2, top - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return picture


class _VideoThread:
    """Draws frames in a thread and hands them to the encoder process (mlcore.video.encoder) through a pipe, so the
    model's next frame overlaps this one's drawing and encoding. Each frame is written as it comes: a stopped or
    failed job leaves a video of its frames so far."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.size = (size[0] // 2 * 2, size[1] // 2 * 2)  # 4:2:0 pixels come in pairs
        command = [sys.executable, "-m", "mlcore.video.encoder", str(path), *map(str, self.size), f"{fps:.6f}"]
        self.encoder = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=PROJECT_ROOT)
        self.waiting: queue.Queue[Any] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="annotated-video")
        self.thread.start()

    def _run(self) -> None:
        pipe = self.encoder.stdin
        assert pipe is not None
        while (item := self.waiting.get()) is not None:
            if self.error is not None:
                continue
            try:
                picture = draw_tracks(*item)
                if picture.shape[1::-1] != self.size:
                    picture = cv2.resize(picture, self.size)
                pipe.write(cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420).tobytes())
            except BaseException as exc:  # kept and raised by close(): the job fails with it
                self.error = exc

    def put(self, *item: Any) -> None:
        self.waiting.put(item)

    def close(self) -> None:
        self.waiting.put(None)
        self.thread.join()
        _, errors = self.encoder.communicate()  # closes its input: it finishes the file
        if self.error is None and self.encoder.returncode:
            self.error = OSError(f"the video encoder failed: {errors.decode(errors='replace')[-300:]}")
        if self.error is not None:
            raise self.error


class TrackWriter:
    def __init__(
        self,
        folder: Path,
        names: dict[int, str],
        fps: float,
        every: int,
        size: tuple[int, int],
        lines: list[Line],
        zones: list[Zone],
        save_video: bool = True,
    ) -> None:
        self.folder, self.names, self.fps, self.lines, self.zones = folder, names, fps, lines, zones
        self._csv_file = open(folder / paths.TRACKS_CSV, "w", newline="")  # noqa: SIM115 (closed by close())
        self._mot_file = open(folder / paths.MOT_TRACKS, "w")  # noqa: SIM115
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(CSV_COLUMNS)
        self._points: list[np.ndarray] = []
        self.trails: dict[int, deque] = defaultdict(lambda: deque(maxlen=TRAIL))
        self.frames = 0
        self.video = _VideoThread(folder / paths.ANNOTATED_VIDEO, fps / every, size) if save_video else None

    def add(self, frame: int, pixels: np.ndarray, rows: np.ndarray) -> None:
        """One processed frame's tracks: rows of (track id, class id, confidence, x1, y1, x2, y2)."""
        self.frames += 1
        time_s = round(frame / self.fps, 3)
        for track, cls, conf, x1, y1, x2, y2 in rows:
            tid, c = int(track), int(cls)
            self._csv.writerow((frame, time_s, tid, c, self.names.get(c, str(c)), f"{conf:.4f}",
                                f"{x1:.1f}", f"{y1:.1f}", f"{x2:.1f}", f"{y2:.1f}"))  # fmt: skip
            self._mot_file.write(
                f"{frame + 1},{tid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{conf:.4f},-1,-1,-1\n"
            )
            self.trails[tid].append(((x1 + x2) / 2, (y1 + y2) / 2))
        if len(rows):
            centres = np.column_stack(
                [np.full(len(rows), frame), rows[:, 0], rows[:, 1], (rows[:, 3] + rows[:, 5]) / 2,
                 (rows[:, 4] + rows[:, 6]) / 2]
            )  # fmt: skip
            self._points.append(centres)
        if self.video is not None:
            trails = {int(t): deque(self.trails[int(t)]) for t in rows[:, 0]} if len(rows) else {}
            self.video.put(pixels, rows, self.names, defaultdict(deque, trails), self.lines, self.zones)

    def points(self) -> np.ndarray:
        """(frame, track id, class id, x centre, y centre) of every track so far: what counting reads."""
        return np.concatenate(self._points) if self._points else np.zeros((0, 5))

    def counts(self) -> Counts:
        return count(self.points(), self.lines, self.zones, self.names, self.fps)

    def close_files(self) -> None:
        """Flush and close the tracks' files and the video (playable up to the last frame written)."""
        for file in (self._csv_file, self._mot_file):
            if not file.closed:
                file.close()
        if self.video is not None:
            video, self.video = self.video, None
            video.close()

    def close(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Finish the files, write events.csv and summary.json (last), and return the summary."""
        self.close_files()
        counts = self.counts()
        write_events(self.folder / paths.EVENTS_CSV, counts)
        summary = {
            **extra,
            **track_summary(self.points(), self.names, self.fps),
            "frames": self.frames,
            "lines": counts.lines,
            "zones": counts.zones,
            "files": [f for f in (paths.TRACKS_CSV, paths.MOT_TRACKS, paths.EVENTS_CSV, paths.ANNOTATED_VIDEO,
                                  paths.TRACKER_FILE) if (self.folder / f).exists()] + [paths.SUMMARY_FILE],
        }  # fmt: skip
        write_json_atomically(self.folder / paths.SUMMARY_FILE, summary)
        return summary


def write_events(path: Path, counts: Counts) -> None:
    with open(path, "w", newline="") as f:
        out = csv.DictWriter(f, EVENT_COLUMNS)
        out.writeheader()
        out.writerows(counts.events)


def track_summary(points: np.ndarray, names: dict[int, str], fps: float) -> dict[str, Any]:
    """Tracks per class, with their durations (first to last frame seen), from the track points."""
    per_class: dict[str, list[float]] = defaultdict(list)
    if len(points):
        order = np.lexsort((points[:, 0], points[:, 1]))
        p = points[order]
        starts = np.r_[0, np.nonzero(p[1:, 1] != p[:-1, 1])[0] + 1]
        ends = np.r_[starts[1:] - 1, len(p) - 1]
        for s, e in zip(starts, ends, strict=True):
            classes, seen = np.unique(p[s : e + 1, 2], return_counts=True)
            cls = int(classes[seen.argmax()])  # a track's class: the one it was seen as most
            per_class[names.get(cls, str(cls))].append((p[e, 0] - p[s, 0] + 1) / fps)
    tracks = {
        name: {
            "tracks": len(durations),
            "mean_duration_s": round(float(np.mean(durations)), 2),
            "longest_s": round(float(np.max(durations)), 2),
        }
        for name, durations in sorted(per_class.items())
    }
    return {"tracks": tracks, "track_count": sum(t["tracks"] for t in tracks.values())}

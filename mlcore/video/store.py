"""Tracking jobs' folders as the command line, the API and the page read them: the summary and files of a finished
job, the live counts of a running one, the tracks of one track, and new counts of old tracks.

    result = tracking_result(folder)              # summary.json and where each file is; None while it runs
    counts = recount(folder, lines=["0,300,640,300"], zones=[])   # new lines and zones, no model run
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.folders import config_folders
from mlcore.core.settings import Settings
from mlcore.video.counting import count, describe, lines_from, zones_from

FILES = {
    "tracks_csv": paths.TRACKS_CSV,
    "mot": paths.MOT_TRACKS,
    "events_csv": paths.EVENTS_CSV,
    "video": paths.ANNOTATED_VIDEO,
    "tracker": paths.TRACKER_FILE,
    "summary": paths.SUMMARY_FILE,
}


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tracking_result(folder: Path) -> dict[str, Any] | None:
    """The summary and where each file is, once the job has ended (summary.json is written last)."""
    summary = _json(folder / paths.SUMMARY_FILE)
    if summary is None:
        return None
    return {
        "output_dir": str(folder),
        "summary": summary,
        "files": {k: str(folder / v) for k, v in FILES.items() if (folder / v).exists()},
    }


def live_counts(folder: Path) -> dict[str, Any] | None:
    """A running job's counts so far (live.json), None before its first second or after it ended."""
    return _json(folder / paths.LIVE_COUNTS)


def list_tracking_runs(settings: Settings) -> list[tuple[Path, dict[str, Any], dict[str, Any] | None]]:
    """(folder, request, summary or None) of every tracking job's folder, newest first."""
    root = settings.outputs_root / paths.TRACKS_DIR
    return [(f, config, _json(f / paths.SUMMARY_FILE)) for f, config, _ in config_folders(root, paths.TRACK_CONFIG)]


def _read_tracks(folder: Path) -> tuple[np.ndarray, dict[int, str]]:
    """tracks.csv in one pass: its rows (frame, track id, class id, confidence, x1, y1, x2, y2) and class names."""
    names: dict[int, str] = {}
    rows = []
    try:
        with open(folder / paths.TRACKS_CSV, newline="") as f:
            for r in csv.DictReader(f):
                rows.append((float(r["frame"]), float(r["track_id"]), float(r["class_id"]), float(r["confidence"]),
                             float(r["x1"]), float(r["y1"]), float(r["x2"]), float(r["y2"])))  # fmt: skip
                names.setdefault(int(r["class_id"]), r["class_name"])
    except (OSError, KeyError, ValueError) as exc:
        raise SubmitError(f"{folder.name} has no readable {paths.TRACKS_CSV} ({exc}); track the video again.") from None
    return np.array(rows, dtype=float).reshape(-1, 8), names


def read_tracks(folder: Path) -> np.ndarray:
    """tracks.csv as rows of (frame, track id, class id, confidence, x1, y1, x2, y2)."""
    return _read_tracks(folder)[0]


def track_points(tracks: np.ndarray) -> np.ndarray:
    """(frame, track id, class id, x centre, y centre): what counting reads."""
    return np.column_stack(
        [tracks[:, 0], tracks[:, 1], tracks[:, 2], (tracks[:, 4] + tracks[:, 6]) / 2, (tracks[:, 5] + tracks[:, 7]) / 2]
    )


def recount(folder: Path, lines: list[Any], zones: list[Any]) -> dict[str, Any]:
    """Counts of a finished tracking job's tracks on new lines and zones (the model is not run again): the same
    document as the job's own counts, with each event."""
    summary = _json(folder / paths.SUMMARY_FILE)
    if summary is None:
        raise SubmitError(f"{folder.name} has not finished (or it failed); recount a finished tracking job.")
    parsed_lines, parsed_zones = lines_from(lines), zones_from(zones)
    w, h = summary.get("frame_size") or (0, 0)
    tracks, names = _read_tracks(folder)
    counts = count(track_points(tracks), parsed_lines, parsed_zones, names, float(summary.get("video_fps") or 25.0))
    return {
        "frame_size": [w, h],
        **describe(parsed_lines, parsed_zones),
        "counts": {"lines": counts.lines, "zones": counts.zones},
        "events": counts.events,
    }


def track_rows(folder: Path) -> list[dict[str, Any]]:
    """One row per track: its id, class (the one it was seen as most), first and last frame, seconds seen, frames
    seen and mean confidence; what the page's tracks table lists."""
    tracks, names = _read_tracks(folder)
    summary = _json(folder / paths.SUMMARY_FILE) or {}
    fps = float(summary.get("video_fps") or 25.0)
    rows = []
    for track in np.unique(tracks[:, 1]):
        own = tracks[tracks[:, 1] == track]
        classes, seen = np.unique(own[:, 2], return_counts=True)
        cls = int(classes[seen.argmax()])
        rows.append(
            {
                "track": int(track),
                "class": names.get(cls, str(cls)),
                "first_frame": int(own[:, 0].min()),
                "last_frame": int(own[:, 0].max()),
                "seconds": round((own[:, 0].max() - own[:, 0].min() + 1) / fps, 2),
                "frames_seen": len(own),
                "confidence": round(float(own[:, 3].mean()), 3),
            }
        )
    return rows


def counts_over_time(folder: Path) -> list[dict[str, Any]]:
    """events.csv as running totals: one row per event with the time, the series ('gate · in · car') and its count
    so far; what the page's chart of counts over time draws."""
    totals: dict[str, int] = {}
    rows = []
    try:
        with open(folder / paths.EVENTS_CSV, newline="") as f:
            for event in csv.DictReader(f):
                series = f"{event['where']} · {event['what']} · {event['class']}"
                totals[series] = totals.get(series, 0) + 1
                rows.append({"time_s": float(event["time_s"]), "series": series, "count": totals[series]})
    except (OSError, KeyError, ValueError):
        return []
    return rows


def track_thumbnails(folder: Path, track: int, settings: Settings, count: int = 6) -> list[np.ndarray]:
    """Up to `count` crops of one track (RGB), spread over its life, from the source video or frames (the annotated
    video for a stream, which cannot be read again)."""
    import cv2

    from mlcore.video.sources import SourceError, open_source

    tracks = read_tracks(folder)
    own = tracks[tracks[:, 1] == track]
    if not len(own):
        return []
    picks = own[np.linspace(0, len(own) - 1, min(count, len(own))).round().astype(int)]
    wanted = {int(r[0]): r for r in picks}
    config = yaml.safe_load((folder / paths.TRACK_CONFIG).read_text()) or {}
    every = int(config.get("every_nth_frame") or 1)
    try:
        if config.get("source_kind") == "stream":
            raise SourceError("a stream cannot be read again")
        source, stride = open_source(str(config["source"]), settings, float(config.get("fps") or 0)), 1
    except (SourceError, KeyError):
        from mlcore.video.sources import VideoSource

        summary = _json(folder / paths.SUMMARY_FILE) or {}
        w, h = summary.get("frame_size") or (0, 0)
        video = str(folder / paths.ANNOTATED_VIDEO)
        source, stride = VideoSource("video", video, 25.0, None, (w, h), video), every
    crops = []
    for index, pixels in source.frames_read():
        frame = index * stride  # the annotated video holds every `every`-th frame
        if frame in wanted:
            _, _, _, _, x1, y1, x2, y2 = wanted.pop(frame)
            crop = pixels[max(0, int(y1)) : int(y2), max(0, int(x1)) : int(x2)]
            if crop.size:
                crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        if not wanted or frame > max(wanted, default=-1):
            break
    return crops

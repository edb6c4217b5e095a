"""What tracking reads: a video file, a folder of frames, or a stream (RTSP or HTTP) from a host an administrator
allowed (ML_STUDIO_STREAM_HOSTS), each checked before a job is queued and read frame by frame by the job.

    source = open_source("/data/cam1.mp4", settings)        # VideoSource: kind, fps, frames, size, first_frame
    for index, pixels in source.frames(every=3): ...         # BGR frames 0, 3, 6, ...

A stream's login is the administrator's ([user:password@]host in the setting); a URL with one of its own is refused,
so that no password reaches a job record, a log or a page. Streams are shown and recorded by `public_url`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.core.settings import ENV_STREAM_HOSTS, PROJECT_ROOT, Settings, public_url
from mlcore.predict.images import SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
SECRET_WORDS = ("token", "key", "pass", "pwd", "auth", "sig", "secret", "credential", "session")
OPEN_TIMEOUT_MS = 8000  # a stream that answers nothing in this long is refused
FOLDER_FPS = 25.0  # a folder of frames has no rate of its own: this one, unless the request gives one


class SourceError(SubmitError):
    """The source cannot be tracked; the message says why and what to give instead."""


def is_stream(text: str) -> bool:
    return text.strip().lower().split(":", 1)[0] in STREAM_SCHEMES and "://" in text


def _allowed(host: str, port: int | None, settings: Settings) -> str | None:
    """The URL's netloc to open (with the administrator's login for that host, if any), or None when not allowed."""
    for entry in settings.stream_hosts:
        login, _, where = entry.rpartition("@")
        name, _, allowed_port = where.lower().partition(":")
        if name == host and (not allowed_port or allowed_port == str(port or "")):
            at = f"{login}@" if login else ""
            return f"{at}{host}{f':{port}' if port else ''}"
    return None


def stream_url(text: str, settings: Settings) -> tuple[str, str]:
    """(the URL to open, with the administrator's login; the URL to show and record, without one) of a stream the
    user gave; SourceError when it is not allowed."""
    shown = public_url(text)
    try:
        parts = urlsplit(text.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        raise SourceError(
            f"{shown} is not a URL; give rtsp://HOST[:PORT]/PATH or http(s)://HOST[:PORT]/PATH."
        ) from None
    if parts.username or parts.password:
        raise SourceError(
            f"{shown}: the URL holds a login; leave it out. An administrator gives the camera's login once, in "
            f"{ENV_STREAM_HOSTS} (user:password@host), so it never reaches a job record or a log."
        )
    if not host:
        raise SourceError(f"{shown} names no host; give rtsp://HOST[:PORT]/PATH.")
    netloc = _allowed(host, port, settings)
    if netloc is None:
        allowed = ", ".join(e.rpartition("@")[2] for e in settings.stream_hosts) or "none yet"
        raise SourceError(
            f"streams from {host}{f':{port}' if port else ''} are not allowed (allowed: {allowed}); an administrator "
            f"adds the host to {ENV_STREAM_HOSTS}."
        )
    names = [pair.split("=", 1)[0].lower() for pair in parts.query.split("&") if pair]
    if any(word in name for name in names for word in SECRET_WORDS):
        raise SourceError(
            f"{shown}: the URL's query seems to hold a secret ({parts.query.split('=')[0]}=...); leave it out and have "
            f"an administrator give the camera's login in {ENV_STREAM_HOSTS}."
        )
    query = f"?{parts.query}" if parts.query else ""
    recorded = urlunsplit((parts.scheme, f"{host}{f':{port}' if port else ''}", parts.path, "", "")) + query
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), recorded


def _capture(target: str) -> cv2.VideoCapture:
    return cv2.VideoCapture(
        target,
        cv2.CAP_FFMPEG,
        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, OPEN_TIMEOUT_MS],
    )


@dataclass(frozen=True)
class VideoSource:
    kind: str
    """video, folder or stream."""
    shown: str
    """What pages, logs and records say: the file's path, or the stream's URL without a login."""
    fps: float
    frames: int | None
    """Frames in the video or folder; None for a stream (it may not end)."""
    size: tuple[int, int]
    """Width and height of its frames."""
    target: str = ""
    """What OpenCV opens: the path, or the stream's URL with the administrator's login."""

    def frames_read(self, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
        """(frame index, BGR pixels) of every `every`-th frame from the first, as decoded."""
        if self.kind == "folder":
            for index, file in enumerate(folder_frames(Path(self.target))):
                if index % every == 0:
                    pixels = cv2.imread(str(file), cv2.IMREAD_COLOR)
                    if pixels is not None:
                        yield index, pixels
            return
        capture = _capture(self.target)
        index = 0
        try:
            while capture.grab():
                if index % every == 0:
                    ok, pixels = capture.retrieve()
                    if ok and pixels is not None:
                        yield index, pixels
                index += 1
        finally:
            capture.release()

    def first_frame(self) -> np.ndarray:
        for _, pixels in self.frames_read():
            return pixels
        raise SourceError(f"{self.shown} gave no frame; check that it still plays.")

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "source": self.shown, "fps": self.fps, "frames": self.frames, "size": self.size}


def folder_frames(folder: Path) -> list[Path]:
    """A folder's images in name order (frame_0001.jpg, frame_0002.jpg, ...), its sub-folders left out."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def open_source(text: str, settings: Settings, fps: float = 0.0) -> VideoSource:
    """The source the user gave, opened once to check it decodes; SourceError saying why not."""
    if not text.strip():
        raise SourceError("no source given; give a video file, a folder of frames or a stream URL.")
    if is_stream(text):
        target, shown = stream_url(text, settings)
        return _opened("stream", target, shown, fps)
    try:
        path = resolve_user_path(text, settings.dataset_roots, base=PROJECT_ROOT, what="video")
    except PathNotAllowed as exc:
        raise SourceError(str(exc)) from None
    if path.is_dir():
        files = folder_frames(path)
        if not files:
            raise SourceError(f"{path} holds no JPEG, PNG, WebP, BMP or TIFF frames; pick a folder of frames.")
        first = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
        if first is None:
            raise SourceError(f"{files[0].name}, the folder's first frame, cannot be decoded; remove or replace it.")
        h, w = first.shape[:2]
        return VideoSource("folder", str(path), fps or FOLDER_FPS, len(files), (w, h), str(path))
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise SourceError(
            f"{path.name} is not a video ({', '.join(VIDEO_SUFFIXES)}) nor a folder of frames; pick one of those."
        )
    return _opened("video", str(path), str(path), fps)


def _opened(kind: str, target: str, shown: str, fps: float) -> VideoSource:
    capture = _capture(target)
    try:
        if not capture.isOpened():
            if kind == "stream":
                raise SourceError(
                    f"the stream {shown} cannot be opened (no answer in {OPEN_TIMEOUT_MS // 1000} s, or not a video "
                    "stream); check the URL and that the camera is on."
                )
            raise SourceError(
                f"{Path(shown).name} cannot be decoded as a video; send an MP4 (H.264), WebM, AVI, MKV or MOV file."
            )
        ok, first = capture.read()
        if not ok or first is None:
            what = f"the stream {shown}" if kind == "stream" else Path(shown).name
            raise SourceError(f"{what} holds no frame that can be decoded; check that it plays in a video player.")
        rate = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()
    h, w = first.shape[:2]
    rate = fps or (rate if 0 < rate < 1000 else FOLDER_FPS)
    return VideoSource(kind, shown, rate, None if kind == "stream" else max(count, 1), (w, h), target)

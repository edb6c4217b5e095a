"""What a batch prediction reads: the images of a folder (with its sub-folders), or the frames of a video.

    for item in read_source(path, limits, every_nth_frame=5): item.name, item.image (or item.error)

Frames are read with OpenCV (its wheels bring FFmpeg) and named frame_000120 by their index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, PredictLimits, Settings
from mlcore.predict.images import SUFFIXES, DecodedImage, ImageRejected, decode_image
from mlcore.predict.spec import VIDEO_SUFFIXES


class SourceError(ValueError):
    """The source cannot be read at all; the message says what to give instead."""


@dataclass(frozen=True)
class SourceItem:
    name: str
    """The image's path relative to the folder, or frame_000120."""
    image: DecodedImage | None
    error: str = ""


def is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def folder_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def describe_source(path: Path) -> tuple[str, int]:
    """('folder', images) or ('video', frames); SourceError when it is neither or holds nothing."""
    if path.is_dir():
        count = len(folder_images(path))
        if not count:
            raise SourceError(f"{path} holds no JPEG, PNG, WebP, BMP or TIFF images; pick a folder of images.")
        return "folder", count
    if is_video(path):
        import cv2

        capture = cv2.VideoCapture(str(path))
        try:
            readable, frames = capture.isOpened() and capture.read()[0], int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            capture.release()
        if not readable:
            raise SourceError(f"{path.name} cannot be decoded as a video; send an MP4 (H.264), AVI or MOV file.")
        return "video", max(frames, 1)
    raise SourceError(
        f"{path} is neither a folder of images nor a video ({', '.join(VIDEO_SUFFIXES)}); pick one of those."
    )


def read_source(path: Path, limits: PredictLimits, every_nth_frame: int = 1) -> Iterator[SourceItem]:
    if path.is_dir():
        for file in folder_images(path):
            name = file.relative_to(path).as_posix()
            try:
                yield SourceItem(name, decode_image(file.read_bytes(), name, limits))
            except (ImageRejected, OSError) as exc:
                yield SourceItem(name, None, str(exc))
        return
    yield from _frames(path, every_nth_frame)


def _frames(path: Path, every: int) -> Iterator[SourceItem]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    index = 0
    try:
        while True:
            ok = capture.grab()
            if not ok:
                return
            if index % every == 0:
                ok, frame = capture.retrieve()
                if ok:
                    yield SourceItem(f"frame_{index:06d}", DecodedImage(f"frame_{index:06d}", frame))
            index += 1
    finally:
        capture.release()


def video_rate(path: Path) -> float:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        return float(capture.get(cv2.CAP_PROP_FPS) or 25.0)
    finally:
        capture.release()


def image_folder(text: str, settings: Settings) -> tuple[Path, list[Path]]:
    """A folder of images the user typed (under the dataset roots) and its images; SourceError if it has none."""
    try:
        folder = resolve_user_path(text, settings.dataset_roots, base=PROJECT_ROOT, what="folder")
    except PathNotAllowed as exc:
        raise SourceError(str(exc)) from None
    if not folder.is_dir():
        raise SourceError(f"{text} is not a folder; type the folder that holds the images.")
    found = folder_images(folder)
    if not found:
        raise SourceError(f"{folder} holds no JPEG, PNG, WebP, BMP or TIFF images; pick the folder they are in.")
    return folder, found


def images_in(text: str, settings: Settings, limit: int = 500) -> list[Path]:
    """The images of a folder the user typed, at most `limit`; SourceError if none."""
    return image_folder(text, settings)[1][:limit]

"""Videos sent from the page or the API, kept under the outputs' datasets/uploads/videos/ (a dataset root the studio
owns) so that a tracking job can read them like any other video.

    path = save_video(stream, "cam1.mp4", settings)     # SourceError when it is too large or not a video
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

from mlcore.core import paths
from mlcore.core.folders import stamped_folder
from mlcore.core.settings import Settings
from mlcore.video.sources import VIDEO_SUFFIXES, SourceError, open_source

CHUNK = 1 << 20


def save_video(stream: BinaryIO, name: str, settings: Settings) -> Path:
    """Copy an uploaded video (at most the upload limit) into its own folder, check that it decodes, return it."""
    suffix = Path(name).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise SourceError(f"{name} is not a video file ({', '.join(VIDEO_SUFFIXES)}); send one of those.")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem)[:60] or "video"
    folder = stamped_folder(settings.uploads_dir / paths.UPLOADED_VIDEOS_DIR, stem)
    target, written = folder / f"{stem}{suffix}", 0
    with open(target, "wb") as out:
        while chunk := stream.read(CHUNK):
            written += len(chunk)
            if written > settings.upload_max_bytes:
                out.close()
                target.unlink()
                folder.rmdir()
                raise SourceError(
                    f"{name} is larger than {settings.upload_max_bytes >> 20} MiB (ML_STUDIO_UPLOAD_MAX_MB); cut it "
                    "shorter, or put it in a dataset folder on the server and name that path."
                )
            out.write(chunk)
    try:
        open_source(str(target), settings)
    except SourceError:
        target.unlink()
        folder.rmdir()
        raise
    return target

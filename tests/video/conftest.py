"""The demo video tracked once with ByteTrack and counted, shared by the tracking tests (the detector: the
`video_studio` fixture of tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mlcore.jobs.store import Job
from tests.video_fixture import LINES, ZONES, VideoStudio


@pytest.fixture(scope="session")
def counted(video_studio: VideoStudio) -> tuple[Job, dict[str, Any]]:
    """The demo video tracked with ByteTrack, every frame, counted on LINES and ZONES."""
    job, result = video_studio.track(tracker="bytetrack", lines=LINES, zones=ZONES)
    assert result is not None, job.error
    return job, result

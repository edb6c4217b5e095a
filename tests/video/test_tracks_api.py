"""Tracking over HTTP, on a real API server: the trackers, a job over a video (202, its progress, its summary, files
and counts), recounting, the live mode over a real HTTP stream served on 127.0.0.1 and stopped, uploads, and
refusals as 4xx with what to do."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import av
import cv2
import pytest
import requests

from tests.conftest import api_server, free_port
from tests.video_fixture import LINES, VideoStudio

pytestmark = pytest.mark.slow  # a detector is trained first, then an API server runs real tracking jobs
PREFIX = "/api/v1/ml"


def as_transport_stream(video: Path, target: Path) -> Path:
    """The video as an MPEG transport stream, as cameras send over HTTP (readable without seeking)."""
    capture = cv2.VideoCapture(str(video))
    out = av.open(str(target), "w", format="mpegts")
    stream = out.add_stream("mpeg4", rate=15)
    stream.width, stream.height, stream.pix_fmt = 320, 224, "yuv420p"
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return target


@pytest.fixture(scope="module")
def camera(video_studio: VideoStudio, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 sending a 40-second transport stream: the 'camera'."""
    from mlcore.video.demo_video import make_demo_video

    folder = tmp_path_factory.mktemp("camera")
    long = make_demo_video(folder / "long.mp4", frames=600, size=(320, 224), fps=15.0, seed=5)
    as_transport_stream(long.path, folder / "live.ts")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def api(video_studio: VideoStudio, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("tracks-api")
    env = {**video_studio.env, "ML_STUDIO_STREAM_HOSTS": "127.0.0.1"}
    with api_server(work, env, ready=f"{PREFIX}/trackers") as url:
        yield url + PREFIX


def until_ended(api: str, track_id: str, seen: list | None = None, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(f"{api}/tracks/{track_id}", timeout=30).json()
        if seen is not None:
            seen.append(requests.get(f"{api}/tracks/{track_id}/live", timeout=30).json())
        if status["status"] in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.3)
    raise TimeoutError(track_id)


def test_a_tracking_job_over_http_gives_its_counts_files_and_recounts(api: str, video_studio: VideoStudio) -> None:
    trackers = requests.get(f"{api}/trackers", timeout=30).json()
    assert trackers[0]["name"] == "tracktrack" and trackers[0]["default"]
    assert {"bytetrack", "botsort"} <= {t["name"] for t in trackers}
    body = {"model_path": str(video_studio.model), "source": "clips/demo.mp4", "tracker": "bytetrack",
            "lines": LINES, "device": "cpu"}  # fmt: skip
    answer = requests.post(f"{api}/tracks", json=body, timeout=60)
    assert answer.status_code == 202, answer.text
    track_id = answer.json()["track_id"]
    assert answer.json()["source"] == str(video_studio.truth.path)
    status = until_ended(api, track_id)
    assert status["status"] == "completed", status["error"]
    summary = status["summary"]
    assert summary["frames"] == video_studio.truth.frames and [line["line"] for line in summary["lines"]] == [
        "gate",
        "south",
    ]
    assert requests.get(f"{api}/tracks", timeout=30).json()[-1]["track_id"] == track_id
    live = requests.get(f"{api}/tracks/{track_id}/live", timeout=30).json()
    assert live["final"] and live["lines"] == summary["lines"]
    recounted = requests.post(f"{api}/tracks/{track_id}/recount", json={"lines": ["0,30,320,30"]}, timeout=30)
    assert recounted.status_code == 200 and recounted.json()["counts"]["lines"][0]["in"] == 1
    video = requests.get(f"{api}/tracks/{track_id}/files/annotated.mp4", timeout=30)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    assert requests.get(f"{api}/tracks/{track_id}/files/track_config.yaml", timeout=30).status_code == 404
    bad = requests.post(f"{api}/tracks/{track_id}/recount", json={"lines": ["5,5"]}, timeout=30)
    assert bad.status_code == 422 and "has 1 point" in bad.json()["detail"]
    assert requests.post(f"{api}/tracks/{track_id}/recount", json={}, timeout=30).status_code == 422


def test_a_stream_reports_live_counts_and_stops_with_what_it_did(
    api: str, video_studio: VideoStudio, camera: str
) -> None:
    body = {"model_path": str(video_studio.model), "source": f"{camera}/live.ts", "tracker": "bytetrack",
            "lines": LINES, "device": "cpu"}  # fmt: skip
    answer = requests.post(f"{api}/tracks", json=body, timeout=60)
    assert answer.status_code == 202, answer.text
    track_id = answer.json()["track_id"]
    assert answer.json()["source_kind"] == "stream" and answer.json()["total"] is None
    deadline, live = time.monotonic() + 240, {}
    while time.monotonic() < deadline and not (live.get("frames") or 0) > 15:
        live = requests.get(f"{api}/tracks/{track_id}/live", timeout=30).json()
        time.sleep(0.5)
    assert not live["final"] and live["frames"] > 15 and [line["line"] for line in live["lines"]] == ["gate", "south"]
    stopped = requests.post(f"{api}/tracks/{track_id}/stop", timeout=30)
    assert stopped.status_code == 200
    status = until_ended(api, track_id)
    assert status["status"] == "completed" and status["summary"]["stopped"]
    assert 15 < status["summary"]["frames"] < 600 and status["summary"]["source"] == f"{camera}/live.ts"


def test_tracking_refusals_are_4xx_that_say_what_to_do(api: str, video_studio: VideoStudio, camera: str) -> None:
    model = str(video_studio.model)

    def refused(body: dict, status: int, words: str) -> None:
        answer = requests.post(
            f"{api}/tracks", json={"model_path": model, "source": "clips/demo.mp4", **body}, timeout=60
        )
        assert answer.status_code == status and words in answer.json()["detail"], answer.text

    refused({"lines": ["1,2"]}, 422, "has 1 point")
    refused({"zones": ["1,2,3,4"]}, 422, "a zone needs three or more")
    refused({"tracker": "nope"}, 400, "unknown tracker 'nope'")
    refused({"source": "rtsp://elsewhere.example/cam"}, 400, "are not allowed")
    refused({"source": "http://user:pw@127.0.0.1/cam"}, 400, "holds a login")
    refused({"source": f"{camera}/missing.ts"}, 400, "cannot be opened")
    refused({"every": 2}, 422, "every")
    sent = requests.post(
        f"{api}/tracks/videos",
        files={"file": ("clip.mp4", video_studio.truth.path.read_bytes(), "video/mp4")},
        timeout=60,
    )
    assert sent.status_code == 201 and Path(sent.json()["source"]).name == "clip.mp4"
    garbage = requests.post(f"{api}/tracks/videos", files={"file": ("x.mp4", b"garbage" * 50, "video/mp4")}, timeout=60)
    assert garbage.status_code == 400 and "cannot be decoded" in garbage.json()["detail"]
    assert requests.get(f"{api}/tracks/nope", timeout=30).status_code == 404

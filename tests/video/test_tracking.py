"""Tracking jobs on the demo video against its truth and against Ultralytics' own `model.track`: ID-F1 and MOTA,
line counts per direction and class, zone entries, exits, the most inside at once and time inside, a frame stride
of 3, recounting without the model, Stop, and every refusal."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.spec import SpecError
from mlcore.datasets.demo import CLASS_NAMES
from mlcore.jobs.control import stop_job
from mlcore.jobs.scheduler import schedule
from mlcore.jobs.store import JobState, open_store
from mlcore.video.counting import count, lines_from, zones_from
from mlcore.video.spec import TrackSpec
from mlcore.video.store import read_tracks, recount
from mlcore.video.submit import submit_tracking
from tests.conftest import free_port
from tests.video.mot_metrics import mot_scores
from tests.video_fixture import LINES, ZONES, VideoStudio

pytestmark = pytest.mark.slow  # a detector is trained first (about 2 minutes), then real tracking jobs
NAMES = dict(enumerate(CLASS_NAMES))


def truth_counts(truth, frames: list[int] | None = None, lines=LINES, zones=ZONES):
    points = truth.points()
    if frames is not None:
        points = points[np.isin(points[:, 0], frames)]
    return count(points, lines_from(lines), zones_from(zones), NAMES, truth.fps)


def studio_scores(folder: Path, truth, frames: list[int]) -> tuple[float, float]:
    tracks = read_tracks(folder)
    rows = truth.rows[np.isin(truth.rows[:, 0], frames)]
    return mot_scores(rows[:, [0, 1, 3, 4, 5, 6]], tracks[:, [0, 1, 4, 5, 6, 7]], frames)


def ultralytics_scores(studio: VideoStudio, tracker: str, stride: int) -> tuple[float, float]:
    from mlcore.engine.models import load_yolo  # Ultralytics' own YOLO, with Pillow's open left as the studio needs

    model = load_yolo(studio.model)
    found = []
    stream = model.track(
        str(studio.truth.path), stream=True, tracker=f"{tracker}.yaml", vid_stride=stride, imgsz=160, device="cpu",
        verbose=False, conf=0.1, iou=0.7,
    )  # fmt: skip
    for k, result in enumerate(stream):
        boxes = result.boxes
        if boxes.id is not None:
            found += [(k * stride, i, *xy) for i, xy in zip(boxes.id.numpy(), boxes.xyxy.numpy(), strict=True)]
    frames = list(range(0, studio.truth.frames, stride))
    rows = studio.truth.rows[np.isin(studio.truth.rows[:, 0], frames)]
    return mot_scores(rows[:, [0, 1, 3, 4, 5, 6]], np.array(found).reshape(-1, 6), frames)


def assert_counts_equal(summary: dict, expected) -> None:
    for got, want in zip(summary["lines"], expected.lines, strict=True):
        assert (got["line"], got["in"], got["out"], got["by_class"]) == (
            want["line"], want["in"], want["out"], want["by_class"]
        )  # fmt: skip
    for got, want in zip(summary["zones"], expected.zones, strict=True):
        assert (got["entries"], got["exits"], got["max_inside"], got["by_class"]) == (
            want["entries"], want["exits"], want["max_inside"], want["by_class"]
        )  # fmt: skip


def test_tracks_reach_their_id_f1_and_mota_and_match_ultralytics_own_tracking(
    video_studio: VideoStudio, counted
) -> None:
    job, result = counted
    truth = video_studio.truth
    frames = list(range(truth.frames))
    idf1, mota = studio_scores(Path(job.run_dir), truth, frames)
    assert idf1 >= 0.8 and mota >= 0.8, (idf1, mota)
    theirs = ultralytics_scores(video_studio, "bytetrack", 1)
    assert idf1 == pytest.approx(theirs[0], abs=0.01) and mota == pytest.approx(theirs[1], abs=0.01)
    summary = result["summary"]
    assert summary["frames"] == truth.frames and summary["tracker"] == "bytetrack"
    assert summary["track_count"] >= 5 and set(summary["tracks"]) <= set(CLASS_NAMES)
    assert summary["video_fps"] == pytest.approx(truth.fps) and summary["fps"] > 0 and not summary["stopped"]


def test_line_and_zone_counts_equal_the_videos_truth(video_studio: VideoStudio, counted) -> None:
    job, result = counted
    expected = truth_counts(video_studio.truth)
    assert sum(line["in"] + line["out"] for line in expected.lines) == 4  # the video crosses both lines both ways
    assert_counts_equal(result["summary"], expected)
    # time inside: each entry's stay, as long as the truth's to a frame
    got = sorted(result["summary"]["zones"][0]["time_inside_s"].values())
    want = sorted(expected.zones[0]["time_inside_s"].values())
    assert len(got) == len(want) and np.allclose(got, want, atol=1.5 / video_studio.truth.fps), (got, want)
    with open(Path(job.run_dir) / paths.EVENTS_CSV, newline="") as f:
        events = list(csv.DictReader(f))
    assert [(e["where"], e["what"], e["class"]) for e in events if e["where"] != "dock"] == [
        (e["where"], e["what"], e["class"]) for e in expected.events if e["where"] != "dock"
    ]


def test_the_tracks_files_and_the_annotated_video_agree(video_studio: VideoStudio, counted) -> None:
    job, result = counted
    folder = Path(job.run_dir)
    tracks = read_tracks(folder)
    mot = np.loadtxt(folder / paths.MOT_TRACKS, delimiter=",").reshape(-1, 10)
    assert len(mot) == len(tracks) and np.array_equal(mot[:, 0] - 1, tracks[:, 0])
    assert np.allclose(mot[:, 2] + mot[:, 4], tracks[:, 6], atol=0.1)  # left + width = x2
    video = cv2.VideoCapture(str(folder / paths.ANNOTATED_VIDEO))
    frames = 0
    while video.read()[0]:
        frames += 1
    assert frames == video_studio.truth.frames
    assert set(result["files"]) >= {"tracks_csv", "mot", "events_csv", "video", "tracker", "summary"}


def test_a_frame_stride_of_three_still_counts_right(video_studio: VideoStudio) -> None:
    job, result = video_studio.track(tracker="bytetrack", lines=LINES, zones=ZONES, every_nth_frame=3)
    assert result is not None, job.error
    assert any("weakens tracking" in w for w in job.spec["warnings"])
    frames = list(range(0, video_studio.truth.frames, 3))
    assert result["summary"]["frames"] == len(frames)
    assert_counts_equal(result["summary"], truth_counts(video_studio.truth, frames))
    assert set(read_tracks(Path(job.run_dir))[:, 0].astype(int)) <= set(frames)


def test_the_default_tracker_matches_ultralytics_own(video_studio: VideoStudio) -> None:
    job, result = video_studio.track(lines=LINES)  # TrackTrack, Ultralytics' default
    assert result is not None and result["summary"]["tracker"] == "tracktrack"
    frames = list(range(video_studio.truth.frames))
    ours = studio_scores(Path(job.run_dir), video_studio.truth, frames)
    theirs = ultralytics_scores(video_studio, "tracktrack", 1)
    assert ours == pytest.approx(theirs, abs=0.01)


def test_recounting_new_lines_runs_no_model_and_equals_the_truth(video_studio: VideoStudio, counted) -> None:
    job, _ = counted
    lines = [{"points": [200, 0, 200, 224], "name": "east", "direction": "in"}]
    zones = ["10,120,70,120,70,210,10,210"]
    document = recount(Path(job.run_dir), lines, zones)
    expected = truth_counts(video_studio.truth, lines=lines, zones=zones)
    assert (
        document["counts"]["lines"][0]["in"] == expected.lines[0]["in"] and document["counts"]["lines"][0]["out"] == 0
    )
    assert document["counts"]["zones"][0]["entries"] == expected.zones[0]["entries"]
    assert document["lines"][0]["name"] == "east" and document["events"]
    with pytest.raises(SpecError, match="has 1 point"):
        recount(Path(job.run_dir), ["10,10"], [])


def test_stop_keeps_a_playable_video_of_the_frames_done(video_studio: VideoStudio, tmp_path: Path) -> None:
    from mlcore.video.demo_video import make_demo_video

    long = make_demo_video(video_studio.data / "clips" / "long.mp4", frames=600, size=(320, 224), fps=15.0, seed=4)
    settings = video_studio.settings()
    job = submit_tracking(
        TrackSpec(model_path=str(video_studio.model), source=str(long.path), tracker="bytetrack", device="cpu"),
        settings,
    )
    store, folder = open_store(settings), Path(job.run_dir)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (folder / paths.LIVE_COUNTS).exists():
        schedule(settings)
        time.sleep(0.3)
    live = json.loads((folder / paths.LIVE_COUNTS).read_text())
    assert live["frames"] >= 1 and "lines" in live
    stop_job(job.id, settings)
    while time.monotonic() < deadline and not store.get(job.id).state.is_final():
        schedule(settings)
        time.sleep(0.3)
    assert store.get(job.id).state is JobState.COMPLETED
    summary = json.loads((folder / paths.SUMMARY_FILE).read_text())
    assert summary["stopped"] and 0 < summary["frames"] < 600
    video = cv2.VideoCapture(str(folder / paths.ANNOTATED_VIDEO))
    played = 0
    while video.read()[0]:
        played += 1
    assert played == summary["frames"]
    assert not (folder / paths.LIVE_COUNTS).exists()


def test_bad_sources_lines_zones_and_trackers_are_refused_with_what_to_do(
    video_studio: VideoStudio, tmp_path: Path
) -> None:
    settings = video_studio.settings(ML_STUDIO_STREAM_HOSTS="127.0.0.1")
    clips = video_studio.data / "clips"
    (clips / "garbage.mp4").write_bytes(b"not a video at all" * 100)
    empty = cv2.VideoWriter(str(clips / "empty.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (64, 64))
    empty.release()
    model, video = str(video_studio.model), str(video_studio.truth.path)

    def refused(match: str, **fields) -> None:
        with pytest.raises((SubmitError, SpecError), match=match):
            submit_tracking(TrackSpec(**{"model_path": model, "source": video, **fields}), settings)

    refused("cannot be decoded as a video", source=str(clips / "garbage.mp4"))
    refused("cannot be decoded|holds no frame", source=str(clips / "empty.mp4"))
    refused("has 1 point", lines=["10,10"])
    refused("a zone needs three or more", zones=["10,10,50,50"])
    refused("unknown tracker 'sorty'; use one of tracktrack", tracker="sorty")
    refused("has no setting 'buffer'", tracker="bytetrack", tracker_settings={"buffer": 3})
    refused("track_high_thresh=2; a threshold lies between 0 and 1", tracker_settings={"track_high_thresh": 2})
    refused(
        "loads a separate re-identification model",
        tracker="botsort",
        tracker_settings={"with_reid": True, "model": "osnet.pt"},
    )
    refused("reach\\(es\\) outside the 320x224 frame", lines=["0,0,400,0"])
    closed = f"http://127.0.0.1:{free_port()}/cam"  # nothing listens there
    refused(f"the stream {closed} cannot be opened", source=closed)
    refused("are not allowed .*ML_STUDIO_STREAM_HOSTS", source="rtsp://camera.example:8554/live")
    refused("holds a login; leave it out", source="rtsp://admin:secret@127.0.0.1:8554/live")
    refused("outside the allowed folders", source="/etc/passwd.mp4")
    assert not list((settings.outputs_root / paths.TRACKS_DIR).glob("*_garbage*"))


def test_the_track_command_prints_one_json_document_and_refuses_bad_lines(video_studio: VideoStudio) -> None:
    from tests.conftest import mlcore

    env = {**video_studio.env}
    done = mlcore(
        "track", str(video_studio.model), str(video_studio.truth.path), "--tracker", "bytetrack",
        "--line", "gate=80,0,80,224:in", "--zone", "dock=30,40,120,40,120,200,30,200", "--set", "track_buffer=45",
        "--device", "cpu", "--no-video", "--wait", "--json", extra_env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) >= {"tracks", "lines", "zones", "frames", "fps", "files"}
    (gate,) = document["lines"]
    assert (gate["line"], gate["in"], gate["out"]) == ("gate", 1, 0)  # only "in" counts
    assert document["zones"][0]["zone"] == "dock" and "max_inside" in document["zones"][0]
    assert "video" not in document["files"] and Path(document["files"]["mot"]).is_file()
    tracker_file = Path(document["files"]["tracker"]).read_text()
    assert "track_buffer: 45" in tracker_file and "tracker_type: bytetrack" in tracker_file
    again = mlcore("recount", document["job_id"], "--line", "0,30,320,30", "--json", extra_env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["counts"]["lines"][0]["in"] == 1
    bad = mlcore("track", str(video_studio.model), str(video_studio.truth.path), "--line", "1,2", extra_env=env)
    assert bad.returncode == 2 and "has 1 point" in bad.stderr and "Traceback" not in bad.stderr
    listing = mlcore("track", "--list-trackers", extra_env=env)
    assert listing.returncode == 0 and listing.stdout.startswith("tracktrack  (default)")


def test_an_onnx_export_tracks_and_counts_as_its_weights_do(video_studio: VideoStudio, counted) -> None:
    from mlcore.engine.models import load_yolo

    settings = video_studio.settings()
    made = Path(load_yolo(video_studio.model).export(format="onnx", imgsz=160, verbose=False))
    export = settings.outputs_root / paths.EXPORTS_DIR / "video_best_onnx" / "best.onnx"
    export.parent.mkdir(parents=True, exist_ok=True)
    made.replace(export)
    job, result = video_studio.track(model_path=str(export), tracker="bytetrack", lines=LINES, zones=ZONES)
    assert result is not None, job.error
    _, by_weights = counted
    assert [(line["in"], line["out"], line["by_class"]) for line in result["summary"]["lines"]] == [
        (line["in"], line["out"], line["by_class"]) for line in by_weights["summary"]["lines"]
    ]
    with pytest.raises(SubmitError, match="would download a re-identification model"):
        submit_tracking(
            TrackSpec(model_path=str(export), source=str(video_studio.truth.path), tracker="botsort",
                      tracker_settings={"with_reid": True}),
            settings,
        )  # fmt: skip

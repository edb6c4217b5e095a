"""The trackers Ultralytics ships, read without importing it, their settings checked; stream URLs only to hosts an
administrator allowed, with the login kept out of every record; uploads; the spec's refusals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mlcore.core.settings import load_settings
from mlcore.core.spec import SpecError
from mlcore.video.sources import SourceError, is_stream, open_source, stream_url
from mlcore.video.spec import TrackSpec
from mlcore.video.trackers import TrackerError, refuse_downloads, tracker_defaults, tracker_names, tracker_settings
from mlcore.video.uploads import save_video


def test_trackers_are_listed_with_ultralytics_default_first_without_importing_it() -> None:
    names = tracker_names()
    assert names[0] == "tracktrack" and {"bytetrack", "botsort", "ocsort", "deepocsort", "fasttrack"} <= set(names)
    assert tracker_defaults("ByteTrack.yaml")["track_buffer"] == 30


def test_tracker_settings_are_checked_against_the_shipped_yaml(tmp_path: Path) -> None:
    config = tracker_settings("bytetrack", {"track_buffer": 60, "match_thresh": 0.9})
    assert config["track_buffer"] == 60 and config["match_thresh"] == 0.9 and config["tracker_type"] == "bytetrack"
    for changes, words in (
        ({"track_buffer": "long"}, "use a whole number"),
        ({"match_thresh": 1.5}, "a threshold lies between 0 and 1"),
        ({"fuse_score": "yes"}, "use true or false"),
        ({"gmc": "orb"}, "has no setting 'gmc'"),
        ({"tracker_type": "botsort"}, "pick that tracker instead"),
    ):
        with pytest.raises(TrackerError, match=words):
            tracker_settings("bytetrack", changes)
    with pytest.raises(TrackerError, match="unknown tracker 'sort'; use one of tracktrack"):
        tracker_settings("sort")


def test_a_tracker_file_of_ones_own_is_read_under_the_allowed_folders(tmp_path: Path) -> None:
    settings = load_settings({"ML_STUDIO_OUTPUTS": str(tmp_path / "out"), "ML_STUDIO_DATASET_ROOTS": str(tmp_path)})
    own = tmp_path / "mine.yaml"
    own.write_text("tracker_type: botsort\ntrack_buffer: 90\ngmc_method: none\n")
    config = tracker_settings(str(own), {"match_thresh": 0.7}, settings)
    assert (config["tracker_type"], config["track_buffer"], config["gmc_method"], config["match_thresh"]) == (
        "botsort", 90, "none", 0.7
    )  # fmt: skip
    (tmp_path / "bad.yaml").write_text("track_buffer: 3\n")
    with pytest.raises(TrackerError, match="names no tracker_type"):
        tracker_settings(str(tmp_path / "bad.yaml"), None, settings)
    with pytest.raises(TrackerError, match="outside the allowed folders"):
        tracker_settings("/etc/tracker.yaml", None, settings)


def test_re_identification_never_downloads_a_model(tmp_path: Path) -> None:
    pt, onnx = tmp_path / "best.pt", tmp_path / "best.onnx"
    refuse_downloads(tracker_settings("botsort", {"with_reid": True}), pt, nms_free=False)  # the detector's own
    with pytest.raises(TrackerError, match="would download a re-identification model"):
        refuse_downloads(tracker_settings("botsort", {"with_reid": True}), onnx, nms_free=False)
    with pytest.raises(TrackerError, match="would download"):
        refuse_downloads(tracker_settings("tracktrack", {"with_reid": True}), pt, nms_free=True)
    with pytest.raises(TrackerError, match="loads a separate re-identification model"):
        refuse_downloads(tracker_settings("deepocsort", {"with_reid": True, "model": "osnet.pt"}), pt, nms_free=False)


def test_streams_go_only_to_allowed_hosts_and_their_login_stays_in_the_setting(tmp_path: Path) -> None:
    settings = load_settings(
        {"ML_STUDIO_OUTPUTS": str(tmp_path), "ML_STUDIO_STREAM_HOSTS": "cam.lan, viewer:s3cret@10.0.0.7:8554"}
    )
    assert is_stream("rtsp://cam.lan/a") and not is_stream("/data/rtsp.mp4")
    assert stream_url("rtsp://CAM.lan:554/live?channel=2", settings) == (
        "rtsp://cam.lan:554/live?channel=2", "rtsp://cam.lan:554/live?channel=2"
    )  # fmt: skip
    opened, recorded = stream_url("rtsp://10.0.0.7:8554/main", settings)
    assert opened == "rtsp://viewer:s3cret@10.0.0.7:8554/main" and "s3cret" not in recorded
    for url, words in (
        ("rtsp://10.0.0.7:9000/main", "are not allowed"),  # the allowed port only
        ("rtsp://other.lan/x", "are not allowed (allowed: cam.lan, 10.0.0.7:8554)"),
        ("rtsp://u:p@cam.lan/x", "holds a login; leave it out"),
        ("http://cam.lan/x?token=abc", "seems to hold a secret"),
    ):
        with pytest.raises(SourceError, match=words.replace("(", r"\(").replace(")", r"\)")) as refused:
            stream_url(url, settings)
        assert "s3cret" not in str(refused.value) and "abc" not in str(refused.value)
    closed = load_settings({"ML_STUDIO_OUTPUTS": str(tmp_path)})
    with pytest.raises(SourceError, match="allowed: none yet"):
        stream_url("rtsp://cam.lan/x", closed)


def test_a_folder_of_frames_is_a_source_and_uploads_must_be_videos(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    frames = tmp_path / "frames"
    frames.mkdir()
    for k in range(5):
        cv2.imwrite(str(frames / f"f{k:03d}.jpg"), np.full((48, 64, 3), k * 40, np.uint8))
    settings = load_settings({"ML_STUDIO_OUTPUTS": str(tmp_path / "out"), "ML_STUDIO_DATASET_ROOTS": str(tmp_path)})
    source = open_source(str(frames), settings, fps=10)
    assert (source.kind, source.frames, source.size, source.fps) == ("folder", 5, (64, 48), 10)
    assert [i for i, _ in source.frames_read(every=2)] == [0, 2, 4]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no JPEG"):
        open_source(str(tmp_path / "empty"), settings)
    with pytest.raises(SourceError, match="is not a video file"):
        save_video(io.BytesIO(b"x"), "notes.txt", settings)
    with pytest.raises(SourceError, match="cannot be decoded"):
        save_video(io.BytesIO(b"\x00" * 4096), "clip.mp4", settings)
    assert not any((settings.uploads_dir / "videos").rglob("*.mp4"))  # a refused upload leaves nothing behind


def test_the_spec_refuses_what_it_cannot_use() -> None:
    for fields, words in (
        ({"source": ""}, "source"),
        ({"every_nth_frame": 0}, "every_nth_frame=0"),
        ({"fps": -1}, "fps=-1"),
        ({"lines": "0,0,1,1"}, "give a list"),
        ({"lines": [{"points": [0, 0, 9, 9], "direction": "up"}]}, "direction 'up'"),
        ({"tracker_settings": [1]}, "tracker_settings"),
    ):
        with pytest.raises(SpecError, match=words):
            TrackSpec(**{"model_path": "m.pt", "source": "v.mp4", **fields})
    with pytest.raises(SpecError, match="unknown field"):
        TrackSpec.from_dict({"model_path": "m.pt", "source": "v.mp4", "trackr": "x"})

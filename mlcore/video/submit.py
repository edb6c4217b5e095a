"""Queueing a tracking job: the model, the source (opened once: it must decode), the tracker's settings, the lines
and zones and the thresholds are checked before a process starts.

    job = submit_tracking(TrackSpec(model_path=..., source="/data/cam1.mp4", lines=["0,300,640,300"]), settings)
    # ml_outputs/tracks/{model}_{timestamp}/: tracks.csv, tracks.txt, events.csv, annotated.mp4, summary.json
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlcore.core.errors import SubmitError
from mlcore.core.folders import stamped_folder, write_request
from mlcore.core.safe_paths import resolve_model
from mlcore.core.settings import Settings
from mlcore.engine.heads import head_of
from mlcore.engine.trained_size import image_size
from mlcore.evaluation.submit import model_name
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import Job
from mlcore.predict.profile import ProfileError, choose_profile, with_overrides
from mlcore.video.counting import describe, lines_from, zones_from
from mlcore.video.sources import open_source
from mlcore.video.spec import STRIDE_WARNING, TrackSpec
from mlcore.video.trackers import refuse_downloads, tracker_settings


def check_tracking(spec: TrackSpec, settings: Settings) -> dict[str, object]:
    """Everything a tracking job needs, checked; the record it runs from (no folder made yet)."""
    model = resolve_model(spec.model_path, settings)
    source = open_source(spec.source, settings, spec.fps)
    config = tracker_settings(spec.tracker, spec.tracker_settings, settings)
    try:
        saved = choose_profile(model, settings, spec.profile)
    except ProfileError as exc:
        raise SubmitError(str(exc)) from None
    profile = with_overrides(saved, spec.confidence_threshold, spec.nms_iou, spec.nms_free)
    nms_free = head_of(model, profile.nms_free)
    profile = replace(profile, nms_free=nms_free)
    refuse_downloads(config, model, nms_free)
    lines, zones = lines_from(spec.lines), zones_from(spec.zones)
    w, h = source.size
    outside = [
        shape.label
        for shape, points in [(line, (line.start, line.end)) for line in lines] + [(z, z.points) for z in zones]
        if any(not (0 <= x <= w and 0 <= y <= h) for x, y in points)
    ]
    if outside:
        raise SubmitError(
            f"{', '.join(outside)} reach(es) outside the {w}x{h} frame; draw them inside it (pixels of the video)."
        )
    size = image_size(spec.imgsz, model, settings)
    frames = source.frames
    expected = None if frames is None else -(-min(frames, spec.max_frames or frames) // spec.every_nth_frame)
    return {
        **spec.to_dict(),
        **describe(lines, zones),
        "model_path": str(model),
        "source": source.shown,
        "source_kind": source.kind,
        "fps": source.fps,
        "frame_size": list(source.size),
        "source_frames": frames,
        "expected_frames": expected,
        "tracker": config["tracker_type"],
        "tracker_settings": config,
        "thresholds": profile.to_dict(),
        "nms_free": nms_free,
        "imgsz": size.used,
        "trained_imgsz": size.trained,
        "warnings": [w for w in (size.warning, STRIDE_WARNING if spec.every_nth_frame > 1 else "") if w],
    }


def submit_tracking(spec: TrackSpec, settings: Settings, owner: str = "local") -> Job:
    """Check everything, write track_config.yaml, queue the job and run a scheduling step."""
    record = check_tracking(spec, settings)
    folder = stamped_folder(
        settings.outputs_root / KINDS[JobKind.TRACKING].folder, model_name(Path(str(record["model_path"])))
    )
    write_request(folder, KINDS[JobKind.TRACKING].request, record)
    return enqueue(settings, JobKind.TRACKING, {"task": JobTask.TRACK, **record}, folder, owner, made=folder)

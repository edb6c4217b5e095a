"""The batch prediction job, run by the worker process: a model over a folder of images or a video.

Images are read (and decoded, EXIF applied) in a thread while the model works on the previous chunk;
chunks of images of one size run as one batch. Stop (the stop request) ends after the current chunk
and keeps everything written so far; summary.json is written last, also after a stop.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.errors import TaskError
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.devices.leases import ultralytics_device
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.store import Job, JobStore, ProgressState
from mlcore.predict.detector import detect, load_detector, names_of, warm_up
from mlcore.predict.outputs import PredictionWriter
from mlcore.predict.profile import DeploymentProfile, ProfileError
from mlcore.predict.sources import SourceItem, read_source, video_rate

CHUNK = 8
T = TypeVar("T")


class PredictionError(TaskError):
    """The model and the source cannot be used together; the message says why."""


def run(job: Job, settings: Settings, store: JobStore) -> int:
    return run_to_end(store, job, lambda: predict_source(job, settings))


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The same items (chunks of images, frames), read by a thread up to `depth` ahead (decoding overlaps the model's
    work)."""
    waiting: queue.Queue[Any] = queue.Queue(maxsize=depth)
    end = object()

    def fill() -> None:
        try:
            for item in items:
                waiting.put(item)
        except BaseException as exc:  # handed to the consumer, which raises it
            waiting.put(exc)
        waiting.put(end)

    threading.Thread(target=fill, daemon=True, name="read-ahead").start()
    while (item := waiting.get()) is not end:
        if isinstance(item, BaseException):
            raise item
        yield item


def predict_source(job: Job, settings: Settings) -> None:
    spec = job.spec
    folder = RunFolder(Path(job.run_dir))
    source = Path(spec["source"])
    profile = DeploymentProfile.from_dict(spec["thresholds"])
    model = load_detector(Path(spec["model_path"]), ultralytics_device(job.device))
    warm_up(model)
    names = names_of(model)
    try:
        profile.class_thresholds(names)
    except ProfileError as exc:
        raise PredictionError(str(exc)) from None
    video = spec["source_kind"] == "video"
    every = int(spec.get("every_nth_frame") or 1)
    fps = video_rate(source) / every if video else None
    writer = PredictionWriter(folder.path, names, bool(spec.get("save_images")), fps)
    total, done, stopped = int(spec.get("expected_items") or 0), 0, False
    started = time.perf_counter()
    for chunk in read_ahead(_chunks(read_source(source, settings.predict, every), CHUNK)):
        if folder.stop_request.exists():
            stopped = True
            break
        _predict_chunk(model, chunk, profile, int(spec.get("imgsz") or 0) or None, writer)
        done += len(chunk)
        write_json_atomically(
            folder.progress,
            {
                "state": ProgressState.RUNNING,
                "done": done,
                "total": total,
                "percent": round(100 * done / max(total, done, 1), 1),
                "step": f"{done}/{total} {'frames' if video else 'images'}",
                "updated": time.time(),
            },
        )
    seconds = time.perf_counter() - started
    summary = writer.close(
        {
            "source": str(source),
            "source_kind": spec["source_kind"],
            "model": spec["model_path"],
            "thresholds": profile.describe(),
            "stopped": stopped,
            "seconds": round(seconds, 2),
            "images_per_second": round(done / seconds, 2) if seconds else None,
        }
    )
    print(f"predicted {summary['images']} images, {summary['detections']} detections in {seconds:.1f} s", flush=True)
    state = ProgressState.STOPPED if stopped else ProgressState.COMPLETED
    write_json_atomically(
        folder.progress, {"state": state, "percent": 100.0, "done": done, "total": total, "updated": time.time()}
    )


def _predict_chunk(
    model: Any, chunk: list[SourceItem], profile: DeploymentProfile, imgsz: int | None, writer: PredictionWriter
) -> None:
    """Predict a chunk, images of one size together (so each is letterboxed as it would be alone)."""
    by_shape: dict[tuple, list[SourceItem]] = defaultdict(list)
    for item in chunk:
        if item.image is None:
            writer.skip(item.name, item.error)
        else:
            by_shape[item.image.pixels.shape].append(item)
    found: dict[str, list[dict]] = {}
    for items in by_shape.values():
        pictures = [i.image.pixels for i in items if i.image is not None]  # all of them: grouped by their shape
        for item, boxes in zip(items, detect(model, pictures, profile, imgsz), strict=True):
            found[item.name] = boxes
    for item in chunk:
        if item.image is not None:
            writer.add(item.name, item.image, found[item.name])

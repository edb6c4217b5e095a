"""Tracking speed against Ultralytics' own tracking loop, on the same video and model, in one run; and the speed of
counting again on finished tracks.

    python benchmarks/track_speed.py [--frames 300] [--size 640x448] [--imgsz 320] [--tracker bytetrack] [--repeats 2]

The model is a yolov8n trained here on frames of demo videos (no weights can be downloaded); the video is another
demo video (its logos on other backgrounds). Per repeat:
- the studio's tracking job (queued, run by the worker, every frame, tracks.csv, tracks.txt, counts on a line and a
  zone, annotated.mp4): its frames per second over its frame loop, as summary.json records it, and end to end
  (submit to completed, the worker's start and the model's load included);
- Ultralytics' `model.track(video, stream=True, persist=True)` loop on the same video, model, tracker and thresholds,
  the model loaded before the clock starts (as the job's loop is timed), nothing written.
Goal: the job's loop >= 0.9x Ultralytics' frames per second (judged on the median of the repeats).
- Counting: lines and zones counted again on 100,000 track points (1,000 tracks of 100 points, 4 lines, 3 zones), as
  `recount` does without the model. Goal: <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.workspace import train_in_worker  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402
from mlcore.video.counting import Line, Zone, count  # noqa: E402
from mlcore.video.demo_video import make_demo_video, write_frames_dataset  # noqa: E402

NO_AUGMENTATION = {"mosaic": 0.0, "fliplr": 0.0, "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0, "scale": 0.0}


def train(work: Path) -> Path:
    """A yolov8n fitted to 72 frames of three demo videos at 160 px by the studio's worker (about 2 minutes)."""
    videos = [make_demo_video(work / "train" / f"t{s}.mp4", 90, (320, 224), 15.0, seed=s) for s in (1, 2, 3)]
    data = write_frames_dataset(work / "data" / "frames", videos, every=3).parent
    outputs = work / "out"
    spec = TrainSpec(
        dataset_path=str(data), epochs=40, imgsz=160, batch_size=8, workers=0, device="cpu", project="b",
        experiment="video", advanced={"nbs": 8, "warmup_epochs": 0, "val": False, "plots": False, **NO_AUGMENTATION},
    )  # fmt: skip
    return train_in_worker(spec, outputs, outputs / paths.TRAININGS_DIR / "b" / "video")


def studio_run(
    model: Path, video: Path, work: Path, tracker: str, imgsz: int, size: tuple[int, int], save_video: bool = True
):
    """(the job loop's frames per second, end-to-end seconds, frames) of one tracking job."""
    from mlcore.core.settings import load_settings
    from mlcore.jobs.scheduler import schedule
    from mlcore.jobs.store import JobState, open_store
    from mlcore.video.spec import TrackSpec
    from mlcore.video.store import tracking_result
    from mlcore.video.submit import submit_tracking

    w, h = size
    settings = load_settings(
        {**os.environ, "ML_STUDIO_OUTPUTS": str(work / "out"), "ML_STUDIO_DATASET_ROOTS": str(video.parent)}
    )
    spec = TrackSpec(
        model_path=str(model), source=str(video), tracker=tracker, imgsz=imgsz, device="cpu", save_video=save_video,
        lines=[f"{w // 4},0,{w // 4},{h}"],
        zones=[f"{w // 2},{h // 4},{w - 10},{h // 4},{w - 10},{h - 10},{w // 2},{h - 10}"],
    )  # fmt: skip
    started = time.perf_counter()
    job = submit_tracking(spec, settings)
    store = open_store(settings)
    while not store.get(job.id).state.is_final():
        schedule(settings)
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    job = store.get(job.id)
    if job.state is not JobState.COMPLETED:
        raise SystemExit(f"the tracking job {job.state.value}: {job.error}")
    summary = tracking_result(Path(job.run_dir))["summary"]  # type: ignore[index]
    return float(summary["fps"]), seconds, int(summary["frames"])


def ultralytics_run(model: Path, video: Path, tracker: str, imgsz: int) -> tuple[float, int]:
    """(frames per second, frames) of Ultralytics' own streaming tracking loop."""
    from ultralytics import YOLO

    yolo = YOLO(str(model))
    started = time.perf_counter()
    frames = 0
    for _ in yolo.track(
        str(video), stream=True, persist=True, tracker=f"{tracker}.yaml", imgsz=imgsz, conf=0.1, iou=0.7,
        device="cpu", verbose=False,
    ):  # fmt: skip
        frames += 1
    return frames / (time.perf_counter() - started), frames


def counting_seconds() -> float:
    rng = np.random.default_rng(0)
    tracks, length = 1000, 100
    frames = np.tile(np.arange(length), tracks) + np.repeat(rng.integers(0, 5000, tracks), length)
    ids = np.repeat(np.arange(tracks), length)
    classes = np.repeat(rng.integers(0, 5, tracks), length)
    start = np.repeat(rng.uniform(0, 1920, (tracks, 2)), length, axis=0)
    step = np.repeat(rng.normal(0, 8, (tracks, 2)), length, axis=0)
    xy = start + step * np.tile(np.arange(length), tracks)[:, None]
    points = np.column_stack([frames, ids, classes, xy])
    lines = [Line((0, 270 * k), (1920, 270 * k + 50)) for k in range(1, 5)]
    zones = [
        Zone(((100 + 500 * k, 100), (500 + 500 * k, 100), (500 + 500 * k, 900), (100 + 500 * k, 900))) for k in range(3)
    ]
    names = {k: f"class{k}" for k in range(5)}
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        count(points, lines, zones, names, fps=25.0)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="640x448")
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--tracker", default="bytetrack")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", help="a detection model to use instead of training one")
    parser.add_argument("--no-video", action="store_true", help="the job writes no annotated video")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="track-speed-") as tmp:
        work = Path(tmp)
        if args.model:  # into the outputs' trusted models folder, where the studio loads .pt files from
            model = work / "out" / paths.MODELS_DIR / Path(args.model).name
            model.parent.mkdir(parents=True)
            shutil.copy(args.model, model)
        else:
            model = train(work)
        video = make_demo_video(work / "videos" / "bench.mp4", args.frames, (w, h), 25.0, seed=0).path
        ours, theirs, ends = [], [], []
        ultralytics_run(model, video, args.tracker, args.imgsz)  # a first pass warms the imports and the disk cache
        for n in range(args.repeats):
            if n % 2:  # alternate which goes first, so that neither always runs on a machine just warmed
                ref, ref_frames = ultralytics_run(model, video, args.tracker, args.imgsz)
                fps, seconds, frames = studio_run(
                    model, video, work, args.tracker, args.imgsz, (w, h), not args.no_video
                )
            else:
                fps, seconds, frames = studio_run(
                    model, video, work, args.tracker, args.imgsz, (w, h), not args.no_video
                )
                ref, ref_frames = ultralytics_run(model, video, args.tracker, args.imgsz)
            assert frames == ref_frames, (frames, ref_frames)
            ours.append(fps), theirs.append(ref), ends.append(frames / seconds)
            print(
                f"repeat {n + 1}: studio job {fps:.1f} frames/s in its loop ({frames / seconds:.1f} end to end), "
                f"Ultralytics' loop {ref:.1f} frames/s"
            )
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(
            f"{args.tracker}, {args.frames} frames of {w}x{h} at imgsz {args.imgsz}: studio "
            f"{statistics.median(ours):.1f} frames/s, Ultralytics {statistics.median(theirs):.1f} frames/s: "
            f"{ratio:.2f}x (goal >= 0.9x: "
            f"{'met' if ratio >= 0.9 else 'NOT met'}); end to end {statistics.median(ends):.1f} frames/s"
        )
    seconds = counting_seconds()
    print(f"counting 100,000 track points on 4 lines and 3 zones: {seconds:.3f} s (goal <= 1 s: "
          f"{'met' if seconds <= 1 else 'NOT met'})")  # fmt: skip


if __name__ == "__main__":
    main()

"""The explanation job, run by the worker: the maps of one image's boxes, each written as an overlay PNG and a
16-bit map PNG of the image's size, then explanation.json (last: its presence means the job finished). Stop ends
D-RISE after the current batch of masks and keeps maps made from the masks so far."""

from __future__ import annotations

from pathlib import Path

import cv2

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.devices.leases import ultralytics_device
from mlcore.explain.explainer import explain
from mlcore.explain.render import write_box_files
from mlcore.explain.saliency import DRISE, ExplainError, Target
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.progress import write_progress
from mlcore.jobs.store import Job, JobStore, ProgressState


def run(job: Job, settings: Settings, store: JobStore) -> int:
    return run_to_end(store, job, lambda: run_explanation(job, settings))


def run_explanation(job: Job, settings: Settings) -> None:
    folder, spec = Path(job.run_dir), job.spec
    image = cv2.imread(spec["image"])
    if image is None:
        raise ExplainError(f"{spec['image']} can no longer be read; submit the explanation again.")
    stop_file = RunFolder(folder).stop_request
    stopped = False

    def progress(done: int, total: int) -> None:
        write_progress(folder, 100 * done / max(1, total), f"{done}/{total} masks")

    def stop() -> bool:
        nonlocal stopped
        stopped = stopped or stop_file.exists()
        return stopped

    write_progress(folder, 0, "loading the model")
    targets = spec.get("targets")
    maps = explain(
        Path(spec["model_path"]),
        image,
        settings,
        imgsz=int(spec["imgsz"]),
        targets=[Target.from_dict(t) for t in targets] if targets is not None else None,
        pick=None if spec.get("box") is None else [int(spec["box"])],
        as_class=spec.get("class_name"),
        conf=float(spec["confidence"]),
        method=spec["method"],
        nms_free=bool(spec.get("nms_free")),
        masks=int(spec["masks"]),
        seed=int(spec["seed"]),
        device=ultralytics_device(job.device),
        progress=progress if spec["method"] == DRISE else None,
        stop=stop if spec["method"] == DRISE else None,
    )
    stem = Path(str(spec.get("source_image") or "image")).stem[:60] or "image"
    rows = []
    for m in maps:
        files = write_box_files(folder, stem, image, m)
        rows.append({**m.summary(), "map": Path(files["map"]).name, "overlay": Path(files["overlay"]).name})
    document = {
        "model_path": spec["model_path"],
        "image": spec.get("source_image"),
        "method": spec["method"],
        "imgsz": spec["imgsz"],
        "masks": spec["masks"] if spec["method"] == DRISE else None,
        "seed": spec["seed"] if spec["method"] == DRISE else None,
        "stopped": stopped,
        "boxes": rows,
    }
    write_json_atomically(folder / paths.EXPLANATION_FILE, document)  # last: the job's result is complete
    write_progress(folder, 100, state=ProgressState.STOPPED if stopped else ProgressState.COMPLETED)

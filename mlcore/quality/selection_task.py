"""The selection job, run by the worker: which unlabelled images to label next.

Every image of the folder is predicted in four views (quality.selection): how unsure the model is, how classes
compete, how much the views disagree give its score. Images are ranked by it with near-duplicates (the
validation's near-copy test: perceptual hash, and foreground map for mostly flat images) left out, and the top N
are exported for labelling:

    selection.json   the ranking, the chosen, the near-duplicates left out, the skipped files
    selection.csv    one row per image
    to_label/        images/, labels/ (YOLO pre-labels), classes.txt: what CVAT and Label Studio import
    previews/        the chosen images with their pre-labels drawn
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from mlcore.charts.drawing import draw_detections
from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.settings import Settings
from mlcore.datasets.images import near_copy_signature
from mlcore.devices.leases import ultralytics_device
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.progress import write_progress
from mlcore.jobs.store import Job, JobStore, ProgressState
from mlcore.predict.detector import load_detector, names_of
from mlcore.predict.images import ImageRejected, decode_image
from mlcore.predict.sources import folder_images
from mlcore.quality.selection import CONFIDENT, predict_views, rank_diverse, uncertainty, write_prelabels

PREVIEWS = 60
COLUMNS = ("rank", "path", "score", "low_confidence", "competition", "disagreement", "boxes", "chosen", "duplicate_of")


def run(job: Job, settings: Settings, store: JobStore) -> int:
    return run_to_end(store, job, lambda: run_selection(job, settings))


def run_selection(job: Job, settings: Settings) -> None:
    folder, spec = Path(job.run_dir), job.spec
    root = Path(spec["images"])
    files = folder_images(root)
    device = ultralytics_device(job.device)
    model = load_detector(Path(spec["model_path"]), device)
    names = names_of(model)
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for n, file in enumerate(files):
        name = file.relative_to(root).as_posix()
        try:
            data = file.read_bytes()
            image = decode_image(data, name, settings.predict)
        except (ImageRejected, OSError) as exc:
            skipped.append({"path": name, "reason": str(exc)})
            continue
        views = predict_views(model, image.pixels, spec["imgsz"], device)
        parts = uncertainty(views, (image.width, image.height))
        phash, foreground = near_copy_signature(data)
        rows.append(
            {
                "path": name,
                **{k: round(float(v), 5) for k, v in parts.items()},
                "hash": phash,
                "map": foreground,
                "found": views[0],
                "size": (image.width, image.height),
            }
        )
        write_progress(folder, 95 * (n + 1) / len(files), f"{n + 1} of {len(files)} images")
    kept, dropped = rank_diverse([r["score"] for r in rows], [r["hash"] for r in rows], maps=[r["map"] for r in rows])
    chosen = kept[: spec["top"]]
    write_prelabels(
        folder / paths.TO_LABEL_DIR,
        [(root / rows[i]["path"], rows[i]["found"], rows[i]["size"]) for i in chosen],
        names,
    )
    previews = draw_previews(folder / paths.PREVIEWS_DIR, root, [rows[i] for i in chosen[:PREVIEWS]], names)
    rank_of = {i: r + 1 for r, i in enumerate(kept)}
    picked = set(chosen)
    table = [
        {
            "rank": rank_of.get(i),
            "path": row["path"],
            **{k: row[k] for k in COLUMNS[2:6]},
            "boxes": sum(1 for b in row["found"] if b.conf >= CONFIDENT),
            "chosen": i in picked,
            "duplicate_of": rows[dropped[i]]["path"] if i in dropped else None,
        }
        for i, row in enumerate(rows)
    ]
    table.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0))
    with open(folder / paths.SELECTION_CSV, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    document = {
        "images": str(root),
        "model_path": spec["model_path"],
        "names": {str(k): v for k, v in sorted(names.items())},
        "counts": {
            "images": len(rows),
            "skipped": len(skipped),
            "near_duplicates": len(dropped),
            "chosen": len(chosen),
        },
        "chosen": [{**r, "preview": previews.get(r["path"])} for r in table if r["chosen"]],
        "ranking": [r for r in table if r["rank"] is not None],
        "near_duplicates": [{"path": r["path"], "duplicate_of": r["duplicate_of"]} for r in table if r["duplicate_of"]],
        "skipped": skipped,
        "to_label": str(folder / paths.TO_LABEL_DIR),
    }
    write_json_atomically(folder / paths.SELECTION_FILE, document)  # last: its presence means the job is complete
    write_progress(folder, 100, state=ProgressState.COMPLETED)


def draw_previews(folder: Path, root: Path, rows: list[dict[str, Any]], names: dict[int, str]) -> dict[str, str]:
    """The chosen images with their pre-labels drawn; {image path: preview file name}."""
    from PIL import Image, ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for rank, row in enumerate(rows, start=1):
        boxes = [
            {
                "class_name": names.get(b.cls, str(b.cls)),
                "class_id": b.cls,
                "confidence": b.conf,
                "box": [b.x1, b.y1, b.x2, b.y2],
            }
            for b in row["found"]
            if b.conf >= CONFIDENT
        ]
        name = f"{rank:03d}_{Path(row['path']).stem[:60]}.jpg"
        try:
            with Image.open(root / row["path"]) as im:
                picture = ImageOps.exif_transpose(im).convert("RGB")
            draw_detections(picture, boxes).save(folder / name, "JPEG", quality=85)
        except OSError:
            continue
        drawn[row["path"]] = name
    return drawn

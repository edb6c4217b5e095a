"""The child process of an augmentation preview: training samples as Ultralytics' own training pipeline builds them.

    python -m mlcore.training.augment_sampler REQUEST.json     # started by augment_preview; nothing imports this

It builds the training dataset the way Ultralytics' detection trainer does (`build_yolo_dataset` with the train
arguments, mode "train"), seeds it the trainer's way (`init_seeds`), draws the samples and writes them next to the
request: samples.npz (each image as the pipeline returned it, its boxes and classes), grid.png (the samples with
their boxes drawn) and preview.json, written last.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.core import paths
from mlcore.core.class_names import class_names
from mlcore.engine.env import silence_runtime_telemetry


def draw_samples(data_yaml: Path, augmentation: dict[str, float], seed: int, count: int, imgsz: int) -> dict[str, Any]:
    """{"images": [HxWx3 RGB uint8], "boxes": [(n, 4) xyxy pixels], "classes": [(n,) ints], "files": [source image],
    "names": {id: name}}: `count` samples of the train split drawn with `seed`."""
    from ultralytics.cfg import get_cfg
    from ultralytics.data.build import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset
    from ultralytics.utils import DEFAULT_CFG
    from ultralytics.utils.torch_utils import init_seeds

    args = get_cfg(DEFAULT_CFG, {**augmentation, "imgsz": imgsz, "seed": seed, "data": str(data_yaml), "workers": 0})
    data = check_det_dataset(str(data_yaml))
    init_seeds(seed)
    dataset = build_yolo_dataset(args, data["train"], count, data, mode="train", stride=32)
    picks = random.Random(seed).sample(range(len(dataset)), min(count, len(dataset)))
    found: dict[str, Any] = {"images": [], "boxes": [], "classes": [], "files": [], "names": data["names"]}
    for index in picks:
        sample = dataset[index]
        image = sample["img"].numpy().transpose(1, 2, 0)  # CHW RGB, as the model receives it
        height, width = image.shape[:2]
        cx, cy, w, h = (sample["bboxes"].numpy().reshape(-1, 4) * [width, height, width, height]).T
        found["images"].append(np.ascontiguousarray(image))
        found["boxes"].append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).round(2))
        found["classes"].append(sample["cls"].numpy().reshape(-1).astype(int))
        found["files"].append(os.path.realpath(dataset.im_files[index]))
    return found


def main(request_file: Path) -> int:
    silence_runtime_telemetry()
    from PIL import Image

    from mlcore.charts.drawing import draw_training_samples
    from mlcore.engine.env import restore_pillow_open

    request = json.loads(request_file.read_text())
    folder = request_file.parent
    started = time.monotonic()
    found = draw_samples(
        Path(request["data_yaml"]), request["augmentation"], request["seed"], request["count"], request["imgsz"]
    )
    restore_pillow_open()
    np.savez_compressed(
        folder / paths.AUGMENTATION_SAMPLES,
        **{f"image_{k}": v for k, v in enumerate(found["images"])},
        **{f"boxes_{k}": v for k, v in enumerate(found["boxes"])},
        **{f"classes_{k}": v for k, v in enumerate(found["classes"])},
    )
    names = class_names(found["names"])
    drawn = zip(found["images"], found["boxes"], found["classes"], strict=True)
    tiles = [
        (Image.fromarray(image), [(int(c), box) for c, box in zip(classes, boxes, strict=True)])
        for image, boxes, classes in drawn
    ]
    draw_training_samples(tiles, names).save(folder / paths.AUGMENTATION_GRID)
    listed = zip(found["files"], found["boxes"], found["classes"], strict=True)
    samples = [
        {"file": file, "boxes": len(boxes), "classes": sorted({names.get(int(c), str(c)) for c in classes})}
        for file, boxes, classes in listed
    ]
    preview = {**request, "samples": samples, "seconds": round(time.monotonic() - started, 2)}
    (folder / paths.AUGMENTATION_PREVIEW).write_text(json.dumps(preview, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))

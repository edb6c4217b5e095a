"""The reference: training samples as Ultralytics' own detection trainer builds its training dataset.

python tests/trainer_samples.py DATA_YAML SEED COUNT IMGSZ OUT.npz '{"mosaic": 0.5}'
writes image_k, boxes_k (normalised xywh) and classes_k for the samples the preview draws with that seed.
"""

from __future__ import annotations

import json
import random
import sys

import numpy as np
import torch
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils.torch_utils import init_seeds

data_yaml, seed, count, imgsz, out, augmentation = sys.argv[1:]
seed, count, imgsz = int(seed), int(count), int(imgsz)
trainer = DetectionTrainer(
    overrides={
        "data": data_yaml,
        "model": "yolov8n.yaml",
        "imgsz": imgsz,
        "seed": seed,
        "workers": 0,
        "project": sys.argv[5] + ".run",
        **json.loads(augmentation),
    }
)


class Strides(torch.nn.Module):  # build_dataset reads only the model's stride
    stride = torch.tensor([8.0, 16.0, 32.0])


trainer.model = Strides()
init_seeds(seed)  # as the trainer does when it starts (seed + 1 + RANK, RANK -1 in one process)
dataset = trainer.build_dataset(trainer.data["train"], mode="train", batch=count)
arrays = {}
for k, index in enumerate(random.Random(seed).sample(range(len(dataset)), min(count, len(dataset)))):
    sample = dataset[index]
    arrays[f"image_{k}"] = sample["img"].numpy().transpose(1, 2, 0)
    arrays[f"boxes_{k}"] = sample["bboxes"].numpy().reshape(-1, 4)
    arrays[f"classes_{k}"] = sample["cls"].numpy().reshape(-1).astype(int)
np.savez(out, **arrays)

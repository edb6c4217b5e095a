"""The CPU threads a model runs with, timed for its export card and served by the predictor (a child process:
it imports Ultralytics and sets torch's threads for the whole process).

python tests/cpu_threads_child.py WORK

Saves an untrained yolov8n (what it predicts does not matter) as WORK/best.pt, exports it to ONNX at imgsz 64,
and for each file reads torch's threads after the latency timer and after the predictor's warm-up. Prints one
JSON object: {"cores": ..., "pt": {"timer": n, "predictor": n}, "onnx": {...}}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from PIL import Image
from ultralytics import YOLO

from mlcore.engine.env import torch_threads
from mlcore.export.latency import time_model
from mlcore.predict.detector import load_detector, warm_up

work = Path(sys.argv[1])
work.mkdir(parents=True)
YOLO("yolov8n.yaml").save(work / "best.pt")
onnx = Path(YOLO(str(work / "best.pt")).export(format="onnx", imgsz=64, device="cpu"))
image = work / "grey.jpg"
Image.new("RGB", (64, 64), (114, 114, 114)).save(image)

answer: dict = {"cores": os.cpu_count()}
for name, model in (("pt", work / "best.pt"), ("onnx", onnx)):
    timed = time_model(str(model), [str(image)], 64, runs=1)["threads"]
    warm_up(load_detector(model, "cpu"))
    answer[name] = {"timer": timed, "predictor": torch_threads()}
print(json.dumps(answer))

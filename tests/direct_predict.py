"""The reference: Ultralytics' own predict on image files, as a user would call it (a child process).

python tests/direct_predict.py MODEL CONF IOU IMAGE...   prints [[class, conf, x1, y1, x2, y2], ...] per image
"""

from __future__ import annotations

import json
import sys

from ultralytics import YOLO

model, conf, iou, *images = sys.argv[1:]
yolo = YOLO(model)
answers = []
for image in images:
    boxes = yolo.predict(image, conf=float(conf), iou=float(iou), verbose=False)[0].boxes
    answers.append(
        [[int(c), float(p), *map(float, b)] for c, p, b in zip(boxes.cls, boxes.conf, boxes.xyxy.tolist(), strict=True)]
    )
print(json.dumps(answers))

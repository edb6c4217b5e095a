"""What OpenVINO is asked when the studio runs an OpenVINO export (a child process: it imports Ultralytics).

python tests/openvino_compile_child.py WORK

Exports a yolov8n (untrained: what it predicts does not matter) to WORK/exports/m/best_openvino_model at
imgsz 64, then loads it as the studio does and records the config of every OpenVINO compile:

1. the latency timer, with no model card yet (as the export job times it)
2. the predictor (load_detector), after a model card saying bf16 was written beside it
3. Ultralytics' validator (as an evaluation job runs it), on a 10-image demo dataset

Prints one JSON object: per step the compile configs and the precision the compiled model reports, and
OpenVINO's capabilities of this CPU.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import openvino as ov
from PIL import Image

calls: list[dict[str, str]] = []
_compile = ov.Core.compile_model


def recording(self, model, device_name=None, config=None):  # noqa: ANN001, ANN202
    calls.append({str(k): str(v) for k, v in (config or {}).items()})
    return _compile(self, model, device_name, config)


ov.Core.compile_model = recording  # Ultralytics makes its own Core: every compile goes through the class

from ultralytics import YOLO  # noqa: E402

from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.export.latency import time_model  # noqa: E402
from mlcore.export.openvino_runtime import ran_at  # noqa: E402
from mlcore.export.precision import cpu_capabilities  # noqa: E402
from mlcore.predict.detector import detect, load_detector  # noqa: E402
from mlcore.predict.profile import DeploymentProfile  # noqa: E402

work = Path(sys.argv[1])
folder = work / "exports" / "m"
folder.mkdir(parents=True)
YOLO("yolov8n.yaml").save(folder / "best.pt")
made = Path(YOLO(str(folder / "best.pt")).export(format="openvino", imgsz=64, device="cpu"))
image = work / "grey.jpg"
Image.new("RGB", (64, 64), (114, 114, 114)).save(image)

answer: dict = {"capabilities": list(cpu_capabilities())}
calls.clear()
latency = time_model(str(made), [str(image)], 64, runs=1)
answer["timer"] = {"configs": list(calls), "ran_at": latency["ran_at"]}

card = {"formats": [{"format": "openvino", "path": str(made), "precision": "bf16", "inference_precision": "bf16"}]}
(folder / "model_card.json").write_text(json.dumps(card))
calls.clear()
model = load_detector(made, "cpu")
detect(model, [np.zeros((64, 64, 3), dtype=np.uint8)], DeploymentProfile())
compiled = model.predictor.model.ov_compiled_model
answer["predictor"] = {"configs": list(calls), "ran_at": compiled.get_property("INFERENCE_PRECISION_HINT").to_string()}

data = make_demo_dataset(work / "data", images=10, imgsz=64, seed=1).root
calls.clear()
YOLO(str(made), task="detect").val(
    data=str(data / "data.yaml"),
    imgsz=64,
    batch=1,
    device="cpu",
    plots=False,
    project=str(work / "val"),
    name="v",
    verbose=False,
)
answer["validator"] = {"configs": list(calls), "ran_at": ran_at(made)}
print(json.dumps(answer))

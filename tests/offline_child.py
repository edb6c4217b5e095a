"""Child process for the offline tests: refuses every network attempt, records it, then acts.

    python tests/offline_child.py LOG import                         import Ultralytics only
    python tests/offline_child.py LOG train DATA_YAML PROJECT [ARCH] a 1-epoch CPU training at imgsz 64 (yolov8n)
    python tests/offline_child.py LOG chain DATA_YAML PROJECT ARCH   that training, an ONNX export (both heads for
                                                                     YOLO26) and predictions with each model
    python tests/offline_child.py LOG worker JOB_ID                  the studio's worker runs a started job

Each DNS lookup or internet socket connection is appended to LOG as one JSON line and fails
with OSError, as on a machine without network.
"""

from __future__ import annotations

import json
import socket
import sys

LOG = sys.argv[1]


def _record(kind: str, target: object) -> None:
    with open(LOG, "a") as f:
        f.write(json.dumps({"kind": kind, "target": repr(target)[:200]}) + "\n")


def _refusing(kind: str):
    def refuse(*args, **kwargs):
        _record(kind, args[:2])
        raise OSError(f"network refused by the offline test ({kind})")

    return refuse


for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "create_connection"):
    setattr(socket, name, _refusing(name))

_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _guarded(original, kind):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _record(kind, address)
            raise OSError(f"network refused by the offline test ({kind})")
        return original(self, address)

    return connect


socket.socket.connect = _guarded(_connect, "connect")
socket.socket.connect_ex = _guarded(_connect_ex, "connect_ex")

if sys.argv[2] == "import":
    import ultralytics  # noqa: F401
elif sys.argv[2] in ("train", "chain"):
    from ultralytics import YOLO

    from mlcore.engine.env import use_all_cpu_cores

    arch = sys.argv[5] if len(sys.argv) > 5 else "yolov8n"
    model = YOLO(f"{arch}.yaml")
    model.add_callback("on_train_start", use_all_cpu_cores)
    model.train(
        data=sys.argv[3],
        project=sys.argv[4],
        name="offline",
        exist_ok=True,
        epochs=1,
        imgsz=64,
        batch=8,
        device="cpu",
        workers=0,
        plots=sys.argv[2] == "train",
        seed=0,
    )
    print("TRAINING-COMPLETED")
    if sys.argv[2] == "chain":
        import numpy as np

        from mlcore.engine.heads import ultralytics_head

        best = f"{sys.argv[4]}/offline/weights/best.pt"
        image = np.full((64, 64, 3), 114, dtype=np.uint8)
        for nms_free in (False, True) if arch.startswith("yolo26") else (False,):
            head = ultralytics_head(nms_free)
            YOLO(best).predict(image, imgsz=64, device="cpu", verbose=False, **head)
            onnx = YOLO(best).export(format="onnx", imgsz=64, device="cpu", **head)
            YOLO(onnx, task="detect").predict(image, imgsz=64, device="cpu", verbose=False)
            print(f"CHAIN-COMPLETED nms_free={nms_free} onnx={onnx}", flush=True)
elif sys.argv[2] == "worker":  # as `python -m mlcore.worker JOB_ID` runs it
    from mlcore.core.settings import load_settings
    from mlcore.engine.env import silence_runtime_telemetry
    from mlcore.worker import run_job

    silence_runtime_telemetry()
    sys.exit(run_job(sys.argv[3], load_settings()))

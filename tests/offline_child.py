"""Child process for the offline tests: refuses every network attempt, records it, then acts.

    python tests/offline_child.py LOG import                         import Ultralytics only
    python tests/offline_child.py LOG train DATA_YAML PROJECT        a 1-epoch CPU training at imgsz 64
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
elif sys.argv[2] == "train":
    from ultralytics import YOLO

    from mlcore.engine.env import use_all_cpu_cores

    model = YOLO("yolov8n.yaml")
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
        plots=True,
        seed=0,
    )
    print("TRAINING-COMPLETED")
elif sys.argv[2] == "worker":  # as `python -m mlcore.worker JOB_ID` runs it
    from mlcore.core.settings import load_settings
    from mlcore.engine.env import silence_runtime_telemetry
    from mlcore.worker import run_job

    silence_runtime_telemetry()
    sys.exit(run_job(sys.argv[3], load_settings()))

"""The child process of a time estimate: a few batches of a training as it would run, timed.

    python -m mlcore.training.batch_timer REQUEST.json     # started by training.estimate; nothing imports this

It starts Ultralytics' own trainer with the spec's arguments (one epoch, no validation, no plots) into a scratch
folder beside the request, lets one batch warm up, times the next ones and ends the training there. It writes
timing.json (paths.BATCH_TIMING) beside the request: seconds per batch, batches per epoch, the start-up before
the first batch.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.engine.env import silence_runtime_telemetry

WARM_UP_BATCHES = 1  # the first batch also builds the optimizer's state and warms the kernels


class EnoughBatches(Exception):
    """Raised from the batch callback once the timed batches are done: ends the training at once."""


def time_batches(request: dict[str, Any], folder: Path) -> dict[str, Any]:
    from ultralytics import YOLO

    from mlcore.engine.env import restore_pillow_open, use_all_cpu_cores

    restore_pillow_open()
    started = time.perf_counter()
    marks: list[float] = []
    seen: dict[str, Any] = {}

    def epoch_start(trainer: Any) -> None:
        seen["batches"] = len(trainer.train_loader)
        seen["first"] = time.perf_counter()

    def batch_end(trainer: Any) -> None:
        marks.append(time.perf_counter())
        if len(marks) >= WARM_UP_BATCHES + request["batches"] or len(marks) >= seen["batches"]:
            raise EnoughBatches

    model = YOLO(request["model"])
    model.add_callback("on_train_start", use_all_cpu_cores)
    model.add_callback("on_train_epoch_start", epoch_start)
    model.add_callback("on_train_batch_end", batch_end)
    try:
        model.train(
            data=request["data_yaml"],
            project=str(folder),
            name="run",
            exist_ok=True,
            **{**request["args"], "epochs": 1, "val": False, "plots": False},
        )
    except EnoughBatches:
        pass
    if len(marks) > WARM_UP_BATCHES:  # each timed batch: from the end of the one before to its own end
        ends = marks[WARM_UP_BATCHES - 1 :]
        spans = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    else:  # an epoch of a single batch: that batch, warm-up and all
        spans = [marks[0] - seen["first"]] if marks else []
    return {
        "seconds_per_batch": sum(spans) / len(spans) if spans else None,
        "timed_batches": len(spans),
        "batches_per_epoch": seen.get("batches"),
        "startup_s": seen.get("first", started) - started,
    }


def main(request_file: Path) -> int:
    silence_runtime_telemetry()
    request = json.loads(request_file.read_text())
    timing = time_batches(request, request_file.parent)
    (request_file.parent / paths.BATCH_TIMING).write_text(json.dumps(timing))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))

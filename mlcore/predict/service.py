"""The predictor process: keeps models loaded and answers predictions for the app and the HTTP API,
which stay light (they never import torch). Started and restarted by mlcore.predict.client.

    python -m mlcore.predict.service SOCKET_PATH      (the connection key comes on stdin)

It listens on a Unix socket for one client, then answers messages until the client goes away:
{"op": "predict", "tasks": [...]} -> {"results": [...]} (one per task, in order), {"op": "status"}, and
{"op": "explain", "model", "image", ...} -> per-box gradient maps (mlcore.explain.explainer.answer).
Tasks that share a model, thresholds and image shape run as one batch. Nothing imports this module.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import defaultdict
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

from mlcore.core.errors import TaskError
from mlcore.core.settings import Settings, load_settings
from mlcore.engine.env import cuda_available, silence_runtime_telemetry
from mlcore.engine.heads import HeadError
from mlcore.explain.explainer import answer as explain_answer
from mlcore.predict.detector import ModelUnusable, detect, names_of
from mlcore.predict.model_cache import ModelCache
from mlcore.predict.profile import DeploymentProfile, ProfileError


def predictor_device(wanted: str) -> str:
    """auto: the first GPU when PyTorch sees one, else the CPU."""
    if wanted != "auto":
        return wanted
    return "0" if cuda_available() else "cpu"


def answer(tasks: list[dict[str, Any]], cache: ModelCache) -> list[dict[str, Any]]:
    """One result per task: {"detections", "inference_ms"} or {"error", "status", "code"}."""
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    groups: dict[tuple, list[int]] = defaultdict(list)
    profiles = {}
    for n, task in enumerate(tasks):
        try:
            profiles[n] = DeploymentProfile.from_dict(task["profile"])
        except ProfileError as exc:
            results[n] = {"error": str(exc), "status": 422, "code": "bad_profile"}
            continue
        p = profiles[n]
        groups[(task["model"], p.iou, p.floor, p.nms_free, task.get("imgsz"), task["image"].shape)].append(n)
    for (model_path, iou, floor, nms_free, imgsz, _), members in groups.items():
        started = time.perf_counter()
        try:
            model = cache.get(Path(model_path))
            shared = DeploymentProfile(confidence=floor, iou=iou, nms_free=nms_free)  # one run; each keeps its own
            found = detect(model, [tasks[n]["image"] for n in members], shared, imgsz)
        except ModelUnusable as exc:
            _fail(results, members, str(exc), "bad_model")
            continue
        except HeadError as exc:
            _fail(results, members, str(exc), "no_nms_free_head")
            continue
        except (TaskError, RuntimeError, ValueError, OSError) as exc:
            logging.exception("prediction failed")
            _fail(results, members, f"the model failed on this image: {str(exc)[:300]}", "prediction_failed")
            continue
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        for n, boxes in zip(members, found, strict=True):
            try:
                keep = profiles[n].class_thresholds(names_of(model))
            except ProfileError as exc:
                _fail(results, [n], str(exc), "profile_mismatch")
                continue
            results[n] = {
                "detections": [b for b in boxes if b["confidence"] >= keep[b["class_id"]]],
                "inference_ms": elapsed,
                "batched_with": len(members),
            }
    return results  # type: ignore[return-value]


def _fail(results: list, members: list[int], message: str, code: str) -> None:
    for n in members:
        results[n] = {"error": message, "status": 422, "code": code}


def serve(connection: Connection, cache: ModelCache, settings: Settings) -> None:
    connection.send({"ready": True, "pid": os.getpid(), "device": cache.device})
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return  # the client went away
        if message.get("op") == "predict":
            connection.send({"results": answer(message["tasks"], cache)})
        elif message.get("op") == "status":
            connection.send(cache.status())
        elif message.get("op") == "explain":
            connection.send(explain_answer(message, settings, cache.device))
        else:
            connection.send({"error": f"unknown operation {message.get('op')!r}"})


def main(address: str) -> int:
    key = bytes.fromhex(sys.stdin.readline().strip())
    settings = load_settings()
    cache = ModelCache(settings.predict.memory_bytes, predictor_device(settings.predict.device))
    with Listener(address, family="AF_UNIX", authkey=key) as listener, listener.accept() as connection:
        serve(connection, cache, settings)
    return 0


if __name__ == "__main__":
    silence_runtime_telemetry()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(sys.argv) != 2:
        sys.exit("usage: python -m mlcore.predict.service SOCKET_PATH  (key on stdin)")
    sys.exit(main(sys.argv[1]))

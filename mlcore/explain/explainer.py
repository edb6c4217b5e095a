"""The one way in: explain boxes of an image with a model, or read the maps back when they were made before.

    maps = explain(model, image_bgr, settings, imgsz=640)                       # every detection, gradient maps
    maps = explain(model, image_bgr, settings, targets=[Target(...)])           # an evaluation's error box
    maps = explain(onnx, image_bgr, settings, method=DRISE, masks=1000, seed=0) # an export, black-box

Maps are cached under the outputs by (the model's hash, the image's hash, the boxes or box indices, the method and
its settings), so a second look at the same box is instant. Loaded models are kept per process (the predictor
process keeps them warm); the gradient method gets a torch module of its own, never the one Ultralytics predicts
with.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.core import paths
from mlcore.core.class_names import class_names
from mlcore.core.settings import Settings
from mlcore.explain.saliency import DEFAULT_MASKS, DRISE, GRADIENT, METHODS, BoxMap, ExplainError, Target

CACHE_DIR = "explanations"  # under the outputs' cache/: one .npz per explained image and request
MODELS_KEPT = 4
_models: OrderedDict[tuple, Any] = OrderedDict()
_hashes: dict[tuple, str] = {}


def model_hash(path: Path) -> str:
    """SHA-256 of the model's bytes (an OpenVINO folder: of its files), remembered per (path, size, mtime)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if key not in _hashes:
        digest = hashlib.sha256()
        for p in files:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def image_hash(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes() + str(image.shape).encode()).hexdigest()


def _kept(key: tuple, load: Callable[[], Any]) -> Any:
    """The model kept under `key` (which holds the file's hash: weights written again are loaded again)."""
    if key in _models:
        _models.move_to_end(key)
        return _models[key]
    model = load()
    _models[key] = model
    while len(_models) > MODELS_KEPT:
        _models.popitem(last=False)
    return model


def _gradient_explainer(model: Path, nms_free: bool, device: str) -> Any:
    from mlcore.engine.models import UnusableModel, load_yolo
    from mlcore.explain.gradient import GradientExplainer

    def load() -> Any:
        try:
            yolo = load_yolo(model)
        except UnusableModel as exc:
            raise ExplainError(_unusable(model, exc)) from None
        net = yolo.model
        if device not in ("", "cpu"):
            net = net.to(f"cuda:{device.split(',')[0]}")
        return GradientExplainer(net, class_names(yolo.names), nms_free)

    return _kept((GRADIENT, model_hash(model), nms_free, device), load)


def _detector(model: Path, device: str) -> Any:
    """Ultralytics' YOLO over the file (an export or a .pt), as the studio predicts with it."""
    from mlcore.engine.models import UnusableModel, load_yolo
    from mlcore.export.openvino_runtime import install

    def load() -> Any:
        install()  # an OpenVINO export computes at its card's precision
        try:
            yolo = load_yolo(model)
        except UnusableModel as exc:
            raise ExplainError(_unusable(model, exc)) from None
        yolo.studio_device, yolo.studio_path = device or "cpu", model
        return yolo

    return _kept((DRISE, model_hash(model), device), load)


def _unusable(model: Path, exc: Any) -> str:
    if getattr(exc, "task", None):
        return f"{model.name} is a {exc.task} model; explanations are for detection models."
    return f"{model.name} cannot be loaded as a YOLO model; pick a run's best.pt or an export."


def default_method(model: Path) -> str:
    """Gradient maps for a .pt, D-RISE for an export (which has no gradients to read)."""
    return GRADIENT if model.suffix == ".pt" else DRISE


def cache_file(settings: Settings, key: str) -> Path:
    return settings.outputs_root / paths.CACHE_DIR / CACHE_DIR / key[:2] / f"{key}.npz"


def _read(path: Path) -> list[BoxMap] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            rows = json.loads(str(stored["rows"]))
            maps = stored["maps"].astype(np.float32)
    except (OSError, ValueError, KeyError):
        return None
    return [
        BoxMap(r["index"], Target.from_dict(r["target"]), r["class_name"], r["score"], r["method"], m)
        for r, m in zip(rows, maps, strict=True)
    ]


def _write(path: Path, maps: list[BoxMap]) -> None:
    rows = [
        {"index": m.index, "target": m.target.to_dict(), "class_name": m.class_name, "score": m.score,
         "method": m.method}
        for m in maps
    ]  # fmt: skip
    buffer = io.BytesIO()
    stack = np.stack([m.map for m in maps]).astype(np.float16) if maps else np.zeros((0, 1, 1), np.float16)
    np.savez_compressed(buffer, rows=np.array(json.dumps(rows)), maps=stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(buffer.getvalue())
    os.replace(temporary, path)


def explain(
    model: Path,
    image: np.ndarray,
    settings: Settings,
    imgsz: int,
    targets: list[Target] | None = None,
    pick: list[int] | None = None,
    as_class: int | str | None = None,
    conf: float = 0.25,
    method: str | None = None,
    nms_free: bool = False,
    masks: int = DEFAULT_MASKS,
    seed: int = 0,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[BoxMap]:
    """One map per target (or per detection of the model, `pick` only), at the image's size."""
    method = method or default_method(model)
    if method not in METHODS:
        raise ExplainError(f"method={method!r}; use {' or '.join(METHODS)}.")
    if method == GRADIENT and model.suffix != ".pt":
        raise ExplainError(
            f"{model.name} is an export: it has no gradients to read. Explain it with method=drise, or explain the "
            ".pt it was exported from."
        )
    if not 0.0 < conf < 1.0:
        raise ExplainError(f"confidence={conf}; use a number between 0 and 1 (e.g. 0.25).")
    if method == DRISE and not 50 <= masks <= 20_000:
        raise ExplainError(f"masks={masks}; use 50 to 20000 (1000 is a good start, the paper uses about 5000).")
    request = {
        "model": model_hash(model),
        "image": image_hash(image),
        "method": method,
        "imgsz": imgsz,
        "nms_free": nms_free,
        "conf": conf,
        "targets": [t.to_dict() for t in targets] if targets is not None else None,
        "pick": pick,
        "as_class": as_class,
        **({"masks": masks, "seed": seed} if method == DRISE else {}),
    }
    key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    stored = cache_file(settings, key)
    if (found := _read(stored)) is not None:
        return found
    if method == GRADIENT:
        maps = _gradient_explainer(model, nms_free, device).explain(image, imgsz, targets, conf, pick, as_class)
    else:
        from mlcore.explain.black_box import explain_black_box

        detector = _detector(model, device)
        maps = explain_black_box(
            detector, image, imgsz, targets, pick, as_class, conf, nms_free, masks, seed, progress, stop
        )
    if stop is None or not stop():
        _write(stored, maps)
    return maps


def answer(message: dict[str, Any], settings: Settings, device: str) -> dict[str, Any]:
    """The predictor process's answer to {"op": "explain", ...}: each box's summary and its map (float16), or
    {"error", "status", "code"}."""
    started = time.perf_counter()
    try:
        targets = message.get("targets")
        maps = explain(
            Path(message["model"]),
            message["image"],
            settings,
            imgsz=int(message["imgsz"]),
            targets=[Target.from_dict(t) for t in targets] if targets is not None else None,
            pick=message.get("pick"),
            as_class=message.get("as_class"),
            conf=float(message.get("conf", 0.25)),
            method=GRADIENT,
            nms_free=bool(message.get("nms_free")),
            device=device,
        )
    except ExplainError as exc:
        return {"error": str(exc), "status": 422, "code": "cannot_explain"}
    except (RuntimeError, ValueError, OSError) as exc:
        logging.exception("explanation failed")
        return {"error": f"the model failed to explain this image: {str(exc)[:300]}", "status": 422, "code": "failed"}
    return {
        "boxes": [{**m.summary(), "map": m.map.astype(np.float16)} for m in maps],
        "explain_ms": round((time.perf_counter() - started) * 1000, 1),
    }

"""YOLO26's two detection heads, one home for the choice between them.

A YOLO26 model carries a one-to-many head (many boxes per object, thinned by NMS) and a one-to-one head that
needs no NMS (at most one box per object; its top-k is part of the model). Ultralytics 8.4.190 predicts,
validates and exports with the one-to-many head plus NMS unless `nms=False` is passed, which selects the NMS-free
head (whatever its documentation says about `end2end`). The studio keeps Ultralytics' default and makes the other
an explicit choice, `nms_free`, in every spec that runs a model; with it the NMS IoU has no effect.

    ultralytics_head(nms_free)           # {"nms": False} or {"nms": None}: the arguments that select the head
    check_head(model, nms_free, path)    # HeadError when NMS-free is asked of a model without that head (worker)
    head_of(path, nms_free)              # the head a job runs, from the files, before it is queued (no torch)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.errors import SubmitError, TaskError
from mlcore.core.user_yaml import read_yaml_file
from mlcore.engine.architectures import architecture_of, is_end2end
from mlcore.engine.trained_size import export_card

NMS_FREE = "NMS-free (end-to-end)"
WITH_NMS = "NMS"
NMS_FREE_HELP = (
    "YOLO26 only: its one-to-one head gives at most one box per object and needs no NMS, so the NMS IoU has no "
    "effect. Off: its one-to-many head with NMS (Ultralytics' default); on COCO the NMS-free head scores 0.6 to "
    "0.8 mAP50-95 lower and runs without the NMS step."
)


class HeadError(TaskError):
    """The head asked for is not in the model; the message says which models have it."""


class HeadRefused(SubmitError):
    """The head asked for is not in the model, as its files show before a job is queued."""


def head_label(nms_free: bool) -> str:
    return NMS_FREE if nms_free else WITH_NMS


def ultralytics_head(nms_free: bool) -> dict[str, Any]:
    """The arguments of Ultralytics' predict, val and export that select the head. Always given, also the default:
    a model's predictor is rebuilt only when an `nms` passed differs from the one it was built with."""
    return {"nms": False if nms_free else None}


def has_nms_free_head(model: Any) -> bool:
    """Does the loaded Ultralytics model (a .pt) have a one-to-one head? An export holds one head only, chosen when
    it was made: its metadata says which (`end2end`)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "model", None)
    if layers is None:  # an export: Ultralytics' backend reads its metadata when it runs
        return False
    return getattr(layers[-1], "one2one_cv2", None) is not None


def check_head(model: Any, nms_free: bool, path: str | Path) -> None:
    """HeadError when `nms_free` is asked of a .pt model without a one-to-one head (an export's head is fixed)."""
    if nms_free and str(path).endswith(".pt") and not has_nms_free_head(model):
        raise HeadError(
            f"{Path(path).name} has no NMS-free head: only YOLO26 models have one. Turn NMS-free off (nms_free=false) "
            "to run it with NMS."
        )


def recorded_architecture(model: Path) -> str | None:
    """The architecture a run's weights were trained as (its training_config.yaml, else the model definition
    Ultralytics' args.yaml names), without loading them; None when the files do not say."""
    if model.parent.name != paths.WEIGHTS_DIR:
        return None
    run = model.parent.parent
    for name, key in ((paths.CONFIG_FILE, "model_architecture"), (paths.ARGS_FILE, "model")):
        try:
            config = read_yaml_file(run / name)
        except (OSError, ValueError, yaml.YAMLError):
            continue
        value = str(config.get(key) or "") if isinstance(config, dict) else ""
        if found := (value if key == "model_architecture" else architecture_of(Path(value).name)):
            return found
    return None


def export_head(model: Path) -> bool | None:
    """An export's head as its model card records it (True: NMS-free), None when it is not an export."""
    card = export_card(model)
    return bool(card.get("nms_free")) if card is not None else None


def head_of(model: Path, nms_free: bool) -> bool:
    """The head a job runs `model` with: an export's is the one it was made with (its model card says which), a .pt's
    the one asked for. HeadRefused when the files already show that the head asked for is not there (the worker
    checks the model itself too)."""
    baked = export_head(model) if model.suffix != ".pt" else None
    if baked is not None:
        if nms_free and not baked:
            raise HeadRefused(
                f"{model.name} was exported with its {WITH_NMS} head, the only one it holds; turn NMS-free off, or "
                "export the model again with NMS-free on."
            )
        return baked
    architecture = recorded_architecture(model)
    if nms_free and architecture and not is_end2end(architecture):
        raise HeadRefused(
            f"{model.name} is a {architecture} model, which has no NMS-free head (only YOLO26 has one); turn NMS-free "
            "off."
        )
    return nms_free


def exported_head(path: Path, name: str) -> bool | None:
    """Whether the exported file holds the NMS-free head, as the metadata Ultralytics wrote into it says (`end2end`);
    None where it cannot be read (TensorRT's engine, whose version is checked before)."""
    try:
        if name == "onnx":
            import onnx

            props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
            return str(props.get("end2end", "False")).lower() == "true"
        if name == "openvino":
            metadata = read_yaml_file(next(path.glob("metadata.yaml")))
            return bool(metadata.get("end2end")) if isinstance(metadata, dict) else None
        if name == "torchscript":
            import torch

            extra = {"config.txt": ""}
            torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
            return bool(json.loads(extra["config.txt"] or "{}").get("end2end"))
    except (OSError, ValueError, StopIteration, RuntimeError):
        return None
    return None

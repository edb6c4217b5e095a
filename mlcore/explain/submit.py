"""Queueing an explanation job (D-RISE over an export takes seconds to minutes; a gradient map of many boxes may go
the same way): the model, the image and the head are checked first, and the image is kept in the job's folder.

    job = submit_explanation(ExplainSpec(model_path=..., image="/data/cam1/0001.jpg", method="drise"), settings)
    job = submit_explanation(spec, settings, upload=(b"...", "photo.jpg"))   # an image sent to the API
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.folders import stamped_folder, write_request
from mlcore.core.safe_paths import PathNotAllowed, resolve_model, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.engine.heads import head_of
from mlcore.engine.trained_size import image_size
from mlcore.explain.cost import estimated_seconds
from mlcore.explain.explainer import default_method
from mlcore.explain.saliency import DRISE
from mlcore.explain.spec import ExplainSpec
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import Job

MAX_IMAGE_BYTES = 40 * 2**20


def read_image(data: bytes, name: str) -> np.ndarray:
    """The image's pixels (BGR); SubmitError saying why it is not one."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if pixels is None:
        raise SubmitError(f"{name} is not an image OpenCV can read (JPEG, PNG, WebP, BMP or TIFF); send one of those.")
    return pixels


def image_file(text: str, settings: Settings) -> Path:
    """An image under the allowed dataset folders or the outputs; SubmitError otherwise."""
    roots = (*settings.dataset_roots, settings.outputs_root)
    try:
        path = resolve_user_path(text, roots, base=PROJECT_ROOT, what="image")
    except PathNotAllowed as exc:
        raise SubmitError(str(exc)) from None
    if not path.is_file():
        raise SubmitError(f"{text} is not a file; give an image file (a folder is explained by a batch prediction).")
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise SubmitError(f"{path.name} is larger than {MAX_IMAGE_BYTES >> 20} MiB; give a smaller image.")
    return path


def submit_explanation(
    spec: ExplainSpec, settings: Settings, owner: str = "local", upload: tuple[bytes, str] | None = None
) -> Job:
    model = resolve_model(spec.model_path, settings)
    method = spec.method or default_method(model)
    if method != DRISE and model.suffix != ".pt":
        raise SubmitError(f"{model.name} is an export: it has no gradients to read; use method=drise.")
    head_of(model, spec.nms_free)
    if upload is not None:
        data, name = upload
        source = name
    else:
        found = image_file(spec.image, settings)
        data, name, source = found.read_bytes(), found.name, str(found)
    pixels = read_image(data, name)
    size = image_size(spec.imgsz, model, settings)
    seconds, basis = estimated_seconds(model, size.used, spec.masks)
    folder = stamped_folder(
        settings.outputs_root / KINDS[JobKind.EXPLANATION].folder, f"{Path(name).stem[:60]}_{method}"
    )
    image = folder / paths.EXPLAINED_IMAGE
    cv2.imwrite(str(image), pixels)
    record: dict[str, Any] = {
        **spec.to_dict(),
        "method": method,
        "model_path": str(model),
        "image": str(image),
        "source_image": source,
        "imgsz": size.used,
        "trained_imgsz": size.trained,
        "estimated_seconds": round(seconds, 1) if method == DRISE else None,
        "estimate_basis": basis if method == DRISE else None,
    }
    write_request(folder, KINDS[JobKind.EXPLANATION].request, record)
    return enqueue(settings, JobKind.EXPLANATION, {"task": JobTask.EXPLAIN, **record}, folder, owner, made=folder)

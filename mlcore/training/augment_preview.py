"""Augmentation preview: training samples of a dataset as Ultralytics' training pipeline builds them with given
settings, drawn in a child process (the web app never imports torch).

    preview = preview_augmentation("data/logos", settings, {"mosaic": 0.5, "degrees": 10}, seed=3)
    preview.grid        # a PNG of the samples with their boxes; preview.samples: where each came from

The child reads a read-only view of the dataset under the outputs (Ultralytics writes label caches next to the
labels it reads, so never the user's folder), staged once per dataset fingerprint. A draw is kept by its settings,
seed, size and dataset: the same seed gives the same draw, read back without a child process the second time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.datasets.loader import usable_split
from mlcore.datasets.staging import stage_dataset
from mlcore.datasets.validation.fingerprint import fingerprint_of_dataset
from mlcore.engine.env import engine_environment
from mlcore.training.augmentation import check_augmentation

SAMPLES = 9  # a 3×3 grid
PREVIEW_IMGSZ = 320  # small enough to answer in seconds, large enough to see what each setting does
TIMEOUT_S = 180
_FINGERPRINT = ".fingerprint"
_EXCEPTION = re.compile(r"^[\w.]+(Error|Exception): ")  # the line of a traceback that says what went wrong


@dataclass(frozen=True)
class AugmentationPreview:
    folder: Path
    grid: Path
    samples: list[dict[str, Any]]
    """One per sample: "file" (the source image it started from), "boxes", "classes"."""
    seed: int
    augmentation: dict[str, float]
    seconds: float
    """How long the child took to draw (0 is never read back: a kept draw keeps its own time)."""


def _view(dataset_text: str, settings: Settings) -> tuple[Path, Path]:
    """The dataset's folder of previews and its staged view's data.yaml (staged again when the dataset changed)."""
    source, dataset = usable_split(dataset_text, settings)
    if not dataset.splits.get("train"):
        raise SubmitError(f"{source} has no training images to preview; pick a dataset with a train split.")
    folder = (
        settings.outputs_root / paths.AUGMENTATION_PREVIEWS_DIR / hashlib.sha256(str(source).encode()).hexdigest()[:16]
    )
    view = folder / paths.AUGMENTATION_VIEW_DIR
    fingerprint = fingerprint_of_dataset(dataset)
    marker = view / _FINGERPRINT
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.with_name(f"{folder.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one session stages; the others wait and then use its view
            if not marker.is_file() or marker.read_text() != fingerprint:
                shutil.rmtree(folder, ignore_errors=True)  # earlier draws were of other files
                stage_dataset(dataset, view)
                marker.write_text(fingerprint)
    except OSError as exc:
        raise SubmitError(
            f"the dataset's view for the preview could not be written ({exc}); check that "
            f"{settings.outputs_root} is writable, and try again."
        ) from None
    return folder, view / paths.DATA_YAML


def _read(folder: Path) -> AugmentationPreview:
    preview = json.loads((folder / paths.AUGMENTATION_PREVIEW).read_text())
    return AugmentationPreview(
        folder,
        folder / paths.AUGMENTATION_GRID,
        preview["samples"],
        preview["seed"],
        preview["augmentation"],
        preview["seconds"],
    )


def preview_augmentation(
    dataset_text: str,
    settings: Settings,
    augmentation: dict[str, Any],
    seed: int = 0,
    count: int = SAMPLES,
    imgsz: int = PREVIEW_IMGSZ,
) -> AugmentationPreview:
    """`count` training samples of the dataset with these augmentation settings (the others at Ultralytics'
    defaults), drawn with `seed`; SubmitError saying what is wrong with the dataset or a setting."""
    try:
        chosen = check_augmentation(augmentation)
    except ValueError as exc:
        raise SubmitError(str(exc)) from None
    if not 1 <= count <= 36 or not 32 <= imgsz <= 1280 or not 0 <= seed < 2**31:
        raise SubmitError(
            f"count={count}, imgsz={imgsz}, seed={seed}; preview 1 to 36 samples at 32 to 1280 px, "
            "with a seed from 0 to 2147483647."
        )
    base, data_yaml = _view(dataset_text, settings)
    request = {
        "data_yaml": str(data_yaml),
        "augmentation": dict(sorted(chosen.items())),
        "seed": int(seed),
        "count": count,
        "imgsz": imgsz,
    }
    folder = base / hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
    if (folder / paths.AUGMENTATION_PREVIEW).is_file():
        return _read(folder)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.mkdir(parents=True)
        (folder / "request.json").write_text(json.dumps(request))
    except OSError as exc:
        raise SubmitError(f"the preview cannot be written under {base} ({exc}); try again.") from None
    env = engine_environment(settings) | {"PYTHONPATH": str(PROJECT_ROOT)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mlcore.training.augment_sampler", str(folder / "request.json")],
            env=env,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise SubmitError(f"the preview took more than {TIMEOUT_S} s; try again, or with fewer samples.") from None
    if done.returncode != 0 or not (folder / paths.AUGMENTATION_PREVIEW).is_file():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = next((x for x in reversed(lines) if _EXCEPTION.match(x)), lines[-1] if lines else "no message")
        shutil.rmtree(folder, ignore_errors=True)
        raise SubmitError(f"the preview could not be drawn: {last}")
    return _read(folder)

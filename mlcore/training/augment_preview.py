"""Augmentation preview: training samples of a dataset as Ultralytics' training pipeline builds them with given
settings, drawn in a child process (the web app never imports torch).

    preview = preview_augmentation("data/logos", settings, {"mosaic": 0.5, "degrees": 10}, seed=3)
    preview.grid        # a PNG of the samples with their boxes; preview.samples: where each came from

The child reads a read-only view of the dataset under the outputs (Ultralytics writes label caches next to the
labels it reads, so never the user's folder), staged once per dataset fingerprint. A draw is kept by its settings,
seed, size and dataset: the same seed gives the same draw, read back without a child process the second time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.datasets.loader import usable_dataset
from mlcore.datasets.staging import stage_dataset
from mlcore.datasets.validation.fingerprint import fingerprint_of
from mlcore.engine.env import engine_environment
from mlcore.training.augmentation import check_augmentation

SAMPLES = 9  # a 3×3 grid
PREVIEW_IMGSZ = 320  # small enough to answer in seconds, large enough to see what each setting does
TIMEOUT_S = 180
_FINGERPRINT = ".fingerprint"


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
    source, dataset = usable_dataset(dataset_text, settings)
    if not dataset.splits.get("train"):
        raise SubmitError(f"{source} has no training images to preview; pick a dataset with a train split.")
    folder = settings.outputs_root / paths.AUGMENTATION_PREVIEWS_DIR / hashlib.sha256(
        str(source).encode()).hexdigest()[:16]  # fmt: skip
    view = folder / paths.AUGMENTATION_VIEW_DIR
    fingerprint = fingerprint_of(source)
    marker = view / _FINGERPRINT
    if not marker.is_file() or marker.read_text() != fingerprint:
        shutil.rmtree(folder, ignore_errors=True)  # earlier draws were of other files
        stage_dataset(dataset, view)
        marker.write_text(fingerprint)
    return folder, view / paths.DATA_YAML


def _read(folder: Path) -> AugmentationPreview:
    preview = json.loads((folder / paths.AUGMENTATION_PREVIEW).read_text())
    return AugmentationPreview(folder, folder / paths.AUGMENTATION_GRID, preview["samples"], preview["seed"],
                               preview["augmentation"], preview["seconds"])  # fmt: skip


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
    if not 1 <= count <= 36 or not 32 <= imgsz <= 1280:
        raise SubmitError(f"count={count}, imgsz={imgsz}; preview 1 to 36 samples at 32 to 1280 px.")
    base, data_yaml = _view(dataset_text, settings)
    request = {"data_yaml": str(data_yaml), "augmentation": dict(sorted(chosen.items())), "seed": int(seed),
               "count": count, "imgsz": imgsz}  # fmt: skip
    folder = base / hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
    if (folder / paths.AUGMENTATION_PREVIEW).is_file():
        return _read(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "request.json").write_text(json.dumps(request))
    env = engine_environment(settings) | {"PYTHONPATH": str(PROJECT_ROOT)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mlcore.training.augment_sampler", str(folder / "request.json")], env=env,
            cwd=folder, capture_output=True, text=True, timeout=TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise SubmitError(f"the preview took more than {TIMEOUT_S} s; try again, or with fewer samples.") from None
    if done.returncode != 0 or not (folder / paths.AUGMENTATION_PREVIEW).is_file():
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        shutil.rmtree(folder, ignore_errors=True)
        raise SubmitError(f"the preview could not be drawn: {last}")
    return _read(folder)

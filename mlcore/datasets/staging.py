"""A read-only view of a user's dataset under the outputs root, which is what training reads.

Ultralytics writes label caches (pickles) next to the labels, loads such caches from there,
rewrites truncated JPEGs in place, and runs a data.yaml's `download:` when a split is missing. On
the view none of that can touch or trust the user's folder:

    view/
      images/<split>/<name>   symbolic links to the user's images
      labels/<split>/<name>.txt  copies of the user's labels (absent when the image has none)
      data.yaml               absolute path, the splits, the names; never a download: key

    data_yaml = stage_dataset(load_dataset(path), run_dir / "dataset")
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import yaml

from mlcore.core import paths
from mlcore.datasets.loader import Dataset, label_path

_UNSAFE = re.compile(r"[^\w.-]+")


def _view_name(dataset: Dataset, image: str, used: set[str]) -> str:
    """A file name for `image` in the view: its path inside the dataset, flattened, made unique."""
    stem, dot, ext = dataset.rel(image).replace(os.sep, "__").rpartition(".")
    base = _UNSAFE.sub("_", stem)[-150:] or "image"
    name, n = f"{base}.{ext.lower()}", 1
    while name in used:
        n += 1
        name = f"{base}_{n}.{ext.lower()}"
    used.add(name)
    return name


def stage_dataset(dataset: Dataset, target: Path) -> Path:
    """Build the view of `dataset` in `target` (replacing an earlier view there); return its data.yaml."""
    if target.exists():
        shutil.rmtree(target)
    for split, images in dataset.splits.items():
        image_dir = target / paths.IMAGES_DIR / split
        label_dir = target / paths.LABELS_DIR / split
        image_dir.mkdir(parents=True)
        label_dir.mkdir(parents=True)
        used: set[str] = set()
        for image in images:
            name = _view_name(dataset, image, used)
            (image_dir / name).symlink_to(os.path.realpath(image))
            try:
                shutil.copyfile(label_path(image), label_dir / f"{name.rpartition('.')[0]}.txt")
            except FileNotFoundError:
                pass  # no label: a background image, as in the user's dataset
    data = {
        "path": str(target.resolve()),
        **{split: f"{paths.IMAGES_DIR}/{split}" for split in dataset.splits},
        "nc": len(dataset.names),
        "names": dataset.names,
    }
    data_yaml = target / paths.DATA_YAML
    data_yaml.write_text(
        f"# A read-only view of {dataset.source}, made by ML Studio for training.\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    )
    return data_yaml

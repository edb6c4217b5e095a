"""Finding datasets under the allowed roots, and example images of a class for galleries."""

from __future__ import annotations

import os
import random
from pathlib import Path

from mlcore.datasets.labels import parse_label
from mlcore.datasets.loader import SPLIT_ALIASES, YAML_NAMES, label_path, load_dataset

SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages", "images", "labels"})


def _is_dataset(folder: Path, children: list[str]) -> bool:
    names = set(children)
    if names & set(YAML_NAMES):
        return True
    if "images" in names and (folder / "images").is_dir():
        return True
    return any(c.lower() in SPLIT_ALIASES and (folder / c / "images").is_dir() for c in children)


def discover_datasets(roots: list[Path] | tuple[Path, ...], max_depth: int = 3, limit: int = 200) -> list[Path]:
    """Dataset folders under `roots` (a data.yaml or an images/labels layout), at most `max_depth` deep."""
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        stack = [(root, 0)]
        while stack and len(found) < limit:
            folder, depth = stack.pop()
            try:
                children = sorted(os.listdir(folder))
            except OSError:
                continue
            if _is_dataset(folder, children):
                found.append(folder)
                continue
            if depth < max_depth:
                for child in reversed(children):
                    path = folder / child
                    if not child.startswith(".") and child not in SKIP_DIRS and path.is_dir() and not path.is_symlink():
                        stack.append((path, depth + 1))
    return sorted(set(found))


def images_with_class(source: Path, class_id: int, k: int = 8, seed: int = 0, scan_limit: int = 5000) -> list[Path]:
    """Up to `k` images whose labels contain `class_id` (a random but repeatable pick)."""
    dataset = load_dataset(source)
    images = [image for split_images in dataset.splits.values() for image in split_images]
    random.Random(seed).shuffle(images)
    picked: list[Path] = []
    for image in images[:scan_limit]:
        try:
            with open(label_path(image), "rb") as f:
                rows, _ = parse_label(f.read())
        except OSError:
            continue
        if any(r.cls == class_id for r in rows):
            picked.append(Path(image))
            if len(picked) == k:
                break
    return picked

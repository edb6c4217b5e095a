"""Two datasets (or two versions of one) side by side: which images were added, removed or moved between splits,
whose labels changed, and the class counts of each split. Images are matched by their content, so a version's
linked or copied images are recognised whatever their names.

    diff = compare_datasets(Path("ml_outputs/datasets/logos/v1"), Path("ml_outputs/datasets/logos/v2"))
    diff["added"], diff["removed"], diff["moved"], diff["relabelled"], diff["class_counts"]
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from mlcore.datasets.images import content_hash
from mlcore.datasets.labels import parse_label
from mlcore.datasets.loader import Dataset, label_path, load_dataset

SHOWN = 200  # images listed per kind of difference; the counts are complete


def _contents(dataset: Dataset) -> dict[str, tuple[str, str, str]]:
    """content hash -> (split, image path relative to the root, label text)."""
    found: dict[str, tuple[str, str, str]] = {}
    for split, images in dataset.splits.items():
        for image in images:
            try:
                text = Path(label_path(image)).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                text = ""
            found.setdefault(content_hash(image), (split, dataset.rel(image), text))
    return found


def _class_counts(dataset: Dataset) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for split, images in dataset.splits.items():
        tally: Counter[str] = Counter()
        for image in images:
            try:
                rows, _ = parse_label(Path(label_path(image)).read_bytes())
            except OSError:
                rows = []
            tally.update(dataset.names.get(r.cls, str(r.cls)) for r in rows)
        counts[split] = dict(sorted(tally.items()))
    return counts


def class_table(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """One row per split and class: its instances before and after."""
    return [
        {
            "split": split,
            "class": name,
            "before": before.get(split, {}).get(name, 0),
            "after": after.get(split, {}).get(name, 0),
        }
        for split in sorted({*before, *after})
        for name in sorted({*before.get(split, {}), *after.get(split, {})})
    ]


def _boxes(text: str) -> list[tuple[float, ...]]:
    rows, _ = parse_label(text.encode())
    return sorted((r.cls, round(r.cx, 4), round(r.cy, 4), round(r.w, 4), round(r.h, 4)) for r in rows)


def compare_datasets(a: Path, b: Path) -> dict[str, Any]:
    """What changed from dataset `a` to dataset `b`."""
    first, second = load_dataset(a), load_dataset(b)
    old, new = _contents(first), _contents(second)
    added = [new[h][1] for h in new.keys() - old.keys()]
    removed = [old[h][1] for h in old.keys() - new.keys()]
    both = old.keys() & new.keys()
    moved = [{"image": new[h][1], "from": old[h][0], "to": new[h][0]} for h in both if old[h][0] != new[h][0]]
    relabelled = [new[h][1] for h in both if _boxes(old[h][2]) != _boxes(new[h][2])]
    return {
        "a": str(a),
        "b": str(b),
        "counts": {
            "added": len(added),
            "removed": len(removed),
            "moved": len(moved),
            "relabelled": len(relabelled),
            "unchanged": len(both) - len({m["image"] for m in moved} | set(relabelled)),
        },
        "added": sorted(added)[:SHOWN],
        "removed": sorted(removed)[:SHOWN],
        "moved": sorted(moved, key=lambda m: m["image"])[:SHOWN],
        "relabelled": sorted(relabelled)[:SHOWN],
        "class_table": class_table(_class_counts(first), _class_counts(second)),
    }

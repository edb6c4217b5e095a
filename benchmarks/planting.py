"""Label errors planted in a copy of a dataset split, and how many of them an audit found.

    planted = plant_errors(copy_root, "val", fraction=0.1, seed=0)   # rewrites the copy's labels of the split
    scores = audit_accuracy(audit_document, planted)                 # AUROC, recall per type at 2x depth

Each box of the split is, with probability `fraction` for each kind, removed (the audit should call the object
*overlooked*), given another class (*swapped*) or shifted by 30-60% of its size (*badly located*). Used by
benchmarks/audit_accuracy.py and by the tests, on copies only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

KINDS = ("overlooked", "swapped", "badly_located")


@dataclass(frozen=True)
class Planted:
    image: str
    """The image's path relative to the dataset root."""
    type: str
    line: int | None
    """The line of the changed box in the new label file; None for a removed box."""
    box: tuple[float, float, float, float]
    """The true box, normalised cx, cy, w, h."""


def plant_errors(root: Path, split: str, fraction: float = 0.1, seed: int = 0, classes: int = 2) -> list[Planted]:
    """Rewrite the label files of `root`/labels/`split` with planted errors; what was planted."""
    rng = random.Random(seed)
    planted: list[Planted] = []
    for label in sorted((root / "labels" / split).glob("*.txt")):
        image = next((p for p in (root / "images" / split).glob(f"{label.stem}.*")), None)
        if image is None:
            continue
        rel = image.relative_to(root).as_posix()
        out: list[str] = []
        for raw in label.read_text().splitlines():
            parts = raw.split()
            if len(parts) != 5:
                out.append(raw)
                continue
            cls, (cx, cy, w, h) = int(parts[0]), (float(p) for p in parts[1:])
            draw = rng.random()
            if draw < fraction:
                planted.append(Planted(rel, "overlooked", None, (cx, cy, w, h)))
                continue
            if draw < 2 * fraction and classes > 1:
                other = rng.choice([c for c in range(classes) if c != cls])
                out.append(f"{other} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
                planted.append(Planted(rel, "swapped", len(out), (cx, cy, w, h)))
                continue
            if draw < 3 * fraction:
                sx, sy = shift(rng, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), (1.0, 1.0))
                nx, ny = min(max(cx + sx, w / 2), 1 - w / 2), min(max(cy + sy, h / 2), 1 - h / 2)
                out.append(f"{cls} {nx:.6f} {ny:.6f} {w:.6f} {h:.6f}")
                planted.append(Planted(rel, "badly_located", len(out), (cx, cy, w, h)))
                continue
            out.append(raw)
        label.write_text("".join(f"{line}\n" for line in out))
    return planted


DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1))


def shift(rng: random.Random, box: tuple[float, float, float, float], size: tuple[float, float]) -> tuple[float, float]:
    """A shift of 30-60% of the box's size in one of the eight directions where the shifted box stays inside the
    image (x1, y1, x2, y2 in the units of `size`). A box at an edge cannot move across it: clipping such a shift
    would leave the label where it was, an error that is not one."""
    by = rng.uniform(0.3, 0.6)
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    fits = [
        (dx, dy)
        for dx, dy in DIRECTIONS
        if 0 <= x1 + dx * by * w
        and x2 + dx * by * w <= size[0]
        and 0 <= y1 + dy * by * h
        and y2 + dy * by * h <= size[1]
    ]
    dx, dy = rng.choice(fits or list(DIRECTIONS))
    return dx * by * w, dy * by * h


def _iou_xyxy(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def found(planted: Planted, issue: dict[str, Any], size: tuple[int, int]) -> bool:
    """Does this suspect point at the planted error: the changed line, or for a removed box an overlooked
    suspect on the true object (IoU >= 0.5)."""
    if issue["path"] != planted.image:
        return False
    if planted.line is not None:
        return issue["line"] == planted.line
    if issue["type"] != "overlooked":
        return False
    cx, cy, w, h = planted.box
    W, H = size
    truth = [(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H]
    return _iou_xyxy(truth, issue["box"]) >= 0.5


def auroc(scores: list[float], positive: list[bool]) -> float:
    """The probability that an image with a planted error scores lower than one without (ties count half)."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    if not pos or not neg:
        return float("nan")
    wins = sum((p < n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def audit_accuracy(document: dict[str, Any], planted: list[Planted], sizes: dict[str, tuple[int, int]]) -> dict:
    """AUROC of the image scores for "has a planted error", and the recall of each planted kind among the
    first 2x as many suspects as were planted (a planted error counts once, whichever suspect finds it)."""
    bad = {p.image for p in planted}
    images = document["images"]
    result: dict[str, Any] = {
        "images": len(images),
        "planted": len(planted),
        "auroc": auroc([i["score"] for i in images], [i["path"] in bad for i in images]),
    }
    depth = 2 * len(planted)
    top = document["issues"][:depth]
    for kind in KINDS:
        mine = [p for p in planted if p.type == kind]
        hits = [p for p in mine if any(found(p, i, sizes[p.image]) for i in top)]
        typed = [p for p in hits if any(found(p, i, sizes[p.image]) and i["type"] == kind for i in top)]
        result[kind] = {
            "planted": len(mine),
            "found": len(hits),
            "recall": len(hits) / len(mine) if mine else None,
            "typed_right": len(typed),
        }
    return result


@dataclass(frozen=True)
class PlantedBox:
    """An error planted in a split's detections (in memory): the image's index, its kind, the changed box's line
    (None for a removed box) and the true box in pixels."""

    image: int
    type: str
    line: int | None
    box: tuple[float, float, float, float]


def plant_in_detections(d: Any, rate: float, seed: int) -> tuple[Any, Any, list[PlantedBox]]:
    """A copy of the detections whose labels carry planted errors: each box, with probability `rate`, is removed,
    given another class (when there are several) or shifted by 30-60% of its size, the kind drawn evenly. The
    predictions are the model's on the true images, which label errors do not change. (detections, the label
    line of each remaining box, what was planted)."""
    import numpy as np

    rng = random.Random(seed)
    classes = max(len(d.names), 1)
    kinds = KINDS if classes > 1 else ("overlooked", "badly_located")
    keep = np.ones(len(d.gt_cls), bool)
    gt_cls, gt_box = d.gt_cls.copy(), d.gt_box.astype(float).copy()
    changed: dict[int, str] = {}
    removed: list[tuple[int, tuple[float, float, float, float]]] = []
    for k in range(len(gt_cls)):
        if rng.random() >= rate:
            continue
        kind = rng.choice(kinds)
        if kind == "overlooked":
            keep[k] = False
            removed.append((int(d.gt_image[k]), tuple(float(v) for v in gt_box[k])))  # type: ignore[arg-type]
        elif kind == "swapped":
            gt_cls[k] = rng.choice([c for c in range(classes) if c != gt_cls[k]])
            changed[k] = kind
        else:
            width, height = (float(v) for v in d.sizes[int(d.gt_image[k])])
            sx, sy = shift(rng, tuple(float(v) for v in gt_box[k]), (width, height))  # type: ignore[arg-type]
            sx = min(max(sx, -gt_box[k, 0]), width - gt_box[k, 2])  # kept inside the image, as a label is
            sy = min(max(sy, -gt_box[k, 1]), height - gt_box[k, 3])
            gt_box[k] += [sx, sy, sx, sy]
            changed[k] = kind
    lines = np.zeros(len(gt_cls), int)
    for n in range(len(d.images)):
        mine = np.flatnonzero((d.gt_image == n) & keep)
        lines[mine] = np.arange(1, len(mine) + 1)
    planted = [
        PlantedBox(int(d.gt_image[k]), kind, int(lines[k]), tuple(float(v) for v in d.gt_box[k]))  # type: ignore[arg-type]
        for k, kind in changed.items()
    ]
    planted += [PlantedBox(n, "overlooked", None, box) for n, box in removed]
    copy = replace(d, gt_image=d.gt_image[keep], gt_cls=gt_cls[keep], gt_box=gt_box[keep])
    return copy, lines[keep], planted


def hits(planted: PlantedBox, suspect: Any) -> bool:
    if suspect.image != planted.image:
        return False
    if planted.line is not None:
        return suspect.line == planted.line
    return suspect.type == "overlooked" and _iou_xyxy(list(planted.box), list(suspect.box)) >= 0.5


def ranking_accuracy(image_scores: Any, suspects: list[Any], planted: list[PlantedBox], images: int) -> dict:
    """AUROC of the image scores for "has a planted error"; per kind, the planted errors among the first 2x as
    many suspects as were planted; the share of the first 20 suspects (of the first N when only N < 20 errors were
    planted) that are planted errors; the list's length."""
    bad = {p.image for p in planted}
    top = suspects[: 2 * len(planted)]
    first = suspects[: min(20, len(planted))]  # a split with fewer than 20 errors: its first that many
    result: dict[str, Any] = {
        "auroc": auroc([float(s) for s in image_scores], [n in bad for n in range(images)]),
        "planted": len(planted),
        "listed": len(suspects),
        "precision20": sum(any(hits(p, s) for p in planted) for s in first) / len(first) if first else None,
    }
    for kind in KINDS:
        mine = [p for p in planted if p.type == kind]
        result[kind] = (sum(any(hits(p, s) for s in top) for p in mine), len(mine))
    return result

"""Leakage: images of an evaluated split that are copies of training images, and the metrics without them.

A test image that is the same photo as a training image (byte-identical, or a near copy by the validation's own
test, near_copies: resized, recompressed, slightly shifted or brightened) measures memory, not generalisation. The
evaluation says how many there are, and gives its numbers on the clean rest too:

    copies = training_copies(dataset, "test")   # [{"image", "copy_of", "kind": "exact"|"near", "bits"}]
    clean = without_images(detections, {c["image"] for c in copies})

Copy-free numbers on a handful of images say nothing (on one image each is 0 or 1): below MIN_CLEAN_IMAGES the clean
block carries no numbers, only `measured: false` and a `note` that starts with TOO_FEW.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from mlcore.datasets.images import inspect_image
from mlcore.datasets.loader import Dataset
from mlcore.datasets.validation.split_checks import near_pairs
from mlcore.evaluation.analysis import Detections, analyze, average_precision

TRAIN = "train"
MIN_CLEAN_IMAGES = 10  # copy-free metrics on fewer images than this are not shown
TOO_FEW = "too few images left to measure"


def training_copies(dataset: Dataset, split: str) -> list[dict[str, Any]]:
    """Each image of `split` that copies a training image, exactly or nearly; [] for the train split itself."""
    if split == TRAIN or not dataset.splits.get(TRAIN) or not dataset.splits.get(split):
        return []
    entries = [(TRAIN, p) for p in dataset.splits[TRAIN]] + [(split, p) for p in dataset.splits[split]]
    facts = [inspect_image(path, with_phash=True) for _, path in entries]
    found: dict[int, dict[str, Any]] = {}
    by_sha: dict[str, list[int]] = defaultdict(list)
    for n, f in enumerate(facts):
        if f.sha and not f.error:
            by_sha[f.sha].append(n)
    for group in by_sha.values():
        first = next((n for n in group if entries[n][0] == TRAIN), None)
        for n in group:
            if first is not None and entries[n][0] == split:
                found[n] = {"kind": "exact", "bits": 0, "other": first}
    for later, (bits, other) in near_pairs(entries, facts).items():
        if entries[later][0] == split and entries[other][0] == TRAIN and later not in found:
            found[later] = {"kind": "near", "bits": bits, "other": other}
    return [
        {
            "image": dataset.rel(entries[n][1]),
            "copy_of": dataset.rel(entries[c["other"]][1]),
            "kind": c["kind"],
            "bits": c["bits"],
        }
        for n, c in sorted(found.items())
    ]


def without_images(d: Detections, leaving_out: set[str]) -> Detections:
    """The detections of every image but those named (paths relative to the dataset root)."""
    keep = [n for n, name in enumerate(d.images) if name not in leaving_out]
    new_index = np.full(len(d.images), -1)
    new_index[keep] = np.arange(len(keep))
    gt, pred = np.isin(d.gt_image, keep), np.isin(d.pred_image, keep)
    return Detections(
        images=[d.images[n] for n in keep],
        sizes=d.sizes[keep],
        names=d.names,
        gt_image=new_index[d.gt_image[gt]],
        gt_cls=d.gt_cls[gt],
        gt_box=d.gt_box[gt],
        pred_image=new_index[d.pred_image[pred]],
        pred_cls=d.pred_cls[pred],
        pred_conf=d.pred_conf[pred],
        pred_box=d.pred_box[pred],
        imgsz=d.imgsz,
    )


def sentence(copies: int, images: int, split: str) -> str:
    return f"{copies} of {images} {split} images are copies or near-copies of training images"


def clean_metrics(d: Detections, copies: list[dict[str, Any]], conf: float, iou: float) -> dict[str, Any]:
    """The headline numbers on the images that copy no training image, at these thresholds (`measured`), or,
    on fewer than MIN_CLEAN_IMAGES of them, why there are none (too_few)."""
    clean = without_images(d, {c["image"] for c in copies})
    if len(clean.images) < MIN_CLEAN_IMAGES:
        return too_few(len(clean.images), len(d.images))
    result, ap = analyze(clean, conf, iou), average_precision(clean)
    return {
        "images": len(clean.images),
        "measured": True,
        **{k: result.overall[k] for k in ("precision", "recall", "f1", "accuracy")},
        "map50": ap["map50"],
        "map50_95": ap["map50_95"],
    }


def too_few(left: int, images: int) -> dict[str, Any]:
    """The clean block when only `left` of the `images` evaluated copy no training image: no numbers, a note."""
    return {
        "images": left,
        "measured": False,
        "note": f"{TOO_FEW} (only {left} of the {images} images {'copies' if left == 1 else 'copy'} no training "
        f"image; copy-free metrics need at least {MIN_CLEAN_IMAGES})",
    }


def as_shown(leakage: dict[str, Any] | None) -> dict[str, Any] | None:
    """A leakage block read from an evaluation's metrics.json, as it is shown now: one written before the
    MIN_CLEAN_IMAGES rule, with numbers measured on fewer images, gets the note instead of them."""
    if not leakage or not isinstance(leakage.get("clean"), dict) or "measured" in leakage["clean"]:
        return leakage
    clean = leakage["clean"]
    if clean.get("images", 0) < MIN_CLEAN_IMAGES:
        return {**leakage, "clean": too_few(clean.get("images", 0), leakage.get("images", 0))}
    return {**leakage, "clean": {**clean, "measured": True}}


def leakage_summary(d: Detections, copies: list[dict[str, Any]], split: str, conf: float, iou: float) -> dict:
    """What metrics.json says of leakage: the count, the sentence, the pairs, and the clean numbers (None when
    nothing leaked; a note instead of numbers when too few images are left: clean_metrics)."""
    return {
        "split": split,
        "images": len(d.images),
        "copies": len(copies),
        "sentence": sentence(len(copies), len(d.images), split),
        "pairs": copies,
        "clean": clean_metrics(d, copies, conf, iou) if copies else None,
    }

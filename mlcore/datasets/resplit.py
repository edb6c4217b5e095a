"""A leak-free re-split: images assigned to train/val/test so that copies never straddle splits.

Images that are byte-identical or near copies (the validation's own test, near_copies: perceptual hashes within
NEAR_DUPLICATE_BITS of 144 bits and, for mostly flat images, the same foreground map) form groups, joined
transitively; a group goes to one split whole. Groups are placed largest first, each into the split that most
needs its images and its classes, so that the split proportions and each split's class balance come as close as
possible to the requested ones:

    plan = resplit(hashes, shas, classes, {"train": 0.7, "val": 0.2, "test": 0.1}, seed=0, maps=maps)
    plan.split_of[n]      # the split of image n
    plan.achieved         # each split's share of the images
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlcore.datasets.near_copies import near_copies


@dataclass
class ResplitPlan:
    split_of: list[str]
    groups: int
    largest_group: int
    achieved: dict[str, float]
    class_share: dict[str, dict[int, float]]
    """Per split, its share of each class's instances (the requested proportion is the ideal)."""

    def worst_gap(self, wanted: dict[str, float]) -> float:
        """The largest difference between a split's share of the images and the requested one."""
        return max(abs(self.achieved[s] - p) for s, p in wanted.items())


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def copy_groups(
    hashes: Sequence[int | None], shas: Sequence[str | None], maps: Sequence[bytes | None] | None = None
) -> list[list[int]]:
    """Images joined by exact copies (same content hash) and near copies (near_copies: perceptual hashes within
    NEAR_DUPLICATE_BITS and, where `maps` gives both images a foreground map, the same map), transitively; every
    image is in exactly one group. Without `maps`, close hashes alone join images."""
    parent = list(range(len(hashes)))

    def join(a: int, b: int) -> None:
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_of: dict[str, int] = {}
    for n, sha in enumerate(shas):
        if sha is not None:
            join(n, first_of.setdefault(sha, n))

    def apart(a: int, b: int) -> bool:  # images already in one group need no maps compared
        return _find(parent, a) != _find(parent, b)

    for a, b, _ in near_copies(hashes, maps if maps is not None else [None] * len(hashes), apart):
        join(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for n in range(len(hashes)):
        groups[_find(parent, n)].append(n)
    return list(groups.values())


def resplit(
    hashes: list[int | None],
    shas: list[str | None],
    classes: list[dict[int, int]],
    wanted: dict[str, float],
    seed: int = 0,
    maps: list[bytes | None] | None = None,
) -> ResplitPlan:
    """Assign every image a split; `classes[n]` is image n's instance count per class, `maps[n]` its foreground
    map (ImageFacts.foreground)."""
    groups = copy_groups(hashes, shas, maps)
    random.Random(seed).shuffle(groups)  # ties in size are broken by the seed, the same seed the same split
    groups.sort(key=len, reverse=True)
    splits = list(wanted)
    total_images = len(hashes)
    n_classes = 1 + max((c for image in classes for c in image), default=-1)
    class_total = np.zeros(n_classes)
    for image in classes:
        for c, k in image.items():
            class_total[c] += k
    have_images = dict.fromkeys(splits, 0)
    have_classes = {s: np.zeros(n_classes) for s in splits}
    share = np.maximum(class_total, 1)
    split_of = [""] * total_images
    for group in groups:
        counts = np.zeros(n_classes)
        for n in group:
            for c, k in classes[n].items():
                counts[c] += k
        weight = counts / share  # how much of each class this group carries

        def need(s: str, counts: np.ndarray = counts, weight: np.ndarray = weight) -> float:
            image_need = (wanted[s] * total_images - have_images[s]) / max(1, total_images)
            if not counts.any():
                return image_need
            return image_need + float(np.sum(weight * (wanted[s] * class_total - have_classes[s]) / share))

        best = max(splits, key=need)
        for n in group:
            split_of[n] = best
        have_images[best] += len(group)
        have_classes[best] += counts
    achieved = {s: have_images[s] / max(1, total_images) for s in splits}
    class_share = {s: {c: round(float(have_classes[s][c] / share[c]), 4) for c in range(n_classes)} for s in splits}
    return ResplitPlan(split_of, len(groups), max((len(g) for g in groups), default=0), achieved, class_share)


def parse_proportions(text: str, splits: tuple[str, ...] = ("train", "val", "test")) -> dict[str, float]:
    """'70/20/10' -> {"train": 0.7, "val": 0.2, "test": 0.1}; ValueError with what to write."""
    parts = text.replace(",", "/").split("/")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if (
        not 2 <= len(values) <= 3
        or not all(math.isfinite(v) and v >= 0 for v in values)
        or not sum(values)
        or not values[0]
        or not math.isfinite(sum(values))
    ):
        raise ValueError(f"{text!r} is not a split; write the train/val/test percentages, e.g. 70/20/10 or 80/20.")
    total = sum(values)
    return {s: v / total for s, v in zip(splits, values, strict=False) if v}

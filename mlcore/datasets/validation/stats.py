"""Running statistics of a validation (class counts, image sizes, box samples, centre heatmap), kept
small enough to send back from worker processes and merged in a fixed order."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from mlcore.datasets.labels import LabelRow

SMALL_AT_IMGSZ_PX = 8  # recommendations: share of boxes under 8 px at the training imgsz
BOX_SAMPLE = 20_000  # boxes kept for the scatter charts (reservoir sample)
SIZE_SAMPLE = 5_000
HEATMAP_BINS = 20


@dataclass
class Stats:
    """Running figures, kept small: counters and fixed-size samples only."""

    nc: int
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    counts: defaultdict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    instances: defaultdict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    class_images: defaultdict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    sizes: Counter = field(default_factory=Counter)
    size_sample: list[tuple[int, int]] = field(default_factory=list)
    images_seen: int = 0
    box_sample: list[tuple[float, float, float | None, float | None, int, str]] = field(default_factory=list)
    boxes_seen: int = 0
    small_at_imgsz: int = 0
    sized_boxes: int = 0
    per_image: Counter = field(default_factory=Counter)
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * HEATMAP_BINS for _ in range(HEATMAP_BINS)])

    def add_size(self, size: tuple[int, int]) -> None:
        self.sizes[size] += 1
        self.images_seen += 1
        self._reservoir(self.size_sample, size, self.images_seen, SIZE_SAMPLE)

    def add_box(self, row: LabelRow, split: str, size: tuple[int, int] | None, imgsz: int) -> None:
        self.boxes_seen += 1
        w_px = h_px = None
        if size is not None:
            w_px, h_px = row.w * size[0], row.h * size[1]
            scale = imgsz / max(size)
            self.sized_boxes += 1
            self.small_at_imgsz += min(w_px, h_px) * scale < SMALL_AT_IMGSZ_PX
        self._reservoir(self.box_sample, (row.w, row.h, w_px, h_px, row.cls, split), self.boxes_seen, BOX_SAMPLE)
        bx = min(HEATMAP_BINS - 1, max(0, int(row.cx * HEATMAP_BINS)))
        by = min(HEATMAP_BINS - 1, max(0, int(row.cy * HEATMAP_BINS)))
        self.heatmap[by][bx] += 1

    def merge(self, other: Stats) -> None:
        """Add the figures of another batch (batches are merged in a fixed order: deterministic)."""
        for mine, theirs in (
            (self.counts, other.counts),
            (self.instances, other.instances),
            (self.class_images, other.class_images),
        ):
            for split, counter in theirs.items():
                mine[split].update(counter)
        self.per_image.update(other.per_image)
        self.small_at_imgsz += other.small_at_imgsz
        self.sized_boxes += other.sized_boxes
        self.sizes.update(other.sizes)
        for size in other.size_sample:
            self.images_seen += 1
            self._reservoir(self.size_sample, size, self.images_seen, SIZE_SAMPLE)
        for box in other.box_sample:
            self.boxes_seen += 1
            self._reservoir(self.box_sample, box, self.boxes_seen, BOX_SAMPLE)
        self.boxes_seen += other.boxes_seen - len(other.box_sample)
        self.images_seen += other.images_seen - len(other.size_sample)
        for y, row in enumerate(other.heatmap):
            for x, n in enumerate(row):
                self.heatmap[y][x] += n

    def _reservoir(self, sample: list, item: Any, seen: int, cap: int) -> None:
        if len(sample) < cap:
            sample.append(item)
        else:
            k = self.rng.randrange(seen)
            if k < cap:
                sample[k] = item

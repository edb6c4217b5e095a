"""Dataset validation: every problem a YOLO detection dataset can have, as a list of issues,
with the statistics and recommendations a user needs before training. Never writes to the dataset.

    report = validate(Path("ml_outputs/datasets/demo"), ValidationOptions(imgsz=640))
    python -m mlcore validate ml_outputs/datasets/demo [--json]
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import multiprocessing
import os
import random
import sys
import threading
import time
import types
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlcore.dataset_issue import SEVERITY_ORDER, Issue
from mlcore.datasets import Dataset, label_path, load_dataset
from mlcore.image_facts import EXTENSION_FORMAT, MIN_SIDE, ImageFacts, content_hash, inspect_image
from mlcore.label_parser import LabelRow, parse_label
from mlcore.validation_cache import FactsCache

Progress = Callable[[str, int, int], None]

SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}
EDGE_TOLERANCE = 0.01  # a box may cross the border by 1% of the image before it is reported
TINY_BOX_PX = 3  # boxes under this many pixels (at the image's size or at imgsz) are reported
SMALL_AT_IMGSZ_PX = 8  # recommendations: share of boxes under 8 px at the training imgsz
OVERLAP_IOU = 0.9
NEAR_DUPLICATE_BITS = 8  # of the 144-bit difference hash
BOX_SAMPLE = 20_000  # boxes kept for the scatter charts (reservoir sample)
SIZE_SAMPLE = 5_000
HEATMAP_BINS = 20
PARALLEL_FROM = 64  # fewer images to read than this: no process pool
REPORT_SCHEMA = "1"  # bump when checks change, so stored reports are not reused


@dataclass(frozen=True)
class ValidationOptions:
    """What to check. The first three names are the original request body's."""

    check_images: bool = True
    """Open every image: corrupt, tiny, EXIF rotation, exact duplicates (content hash)."""
    check_labels: bool = True
    """Read every label line: syntax, class ids, coordinates, box geometry, class balance."""
    validate_format: bool = True
    """Dataset structure: image/label pairing, orphan labels, backgrounds, file formats."""
    near_duplicates: bool = True
    """Perceptual hashes to find near-identical images across splits (decodes every image)."""
    imgsz: int = 640
    """Training image size, for tiny-box checks and recommendations."""
    workers: int = 0
    """Processes reading images; 0 = one per CPU core."""
    imbalance_ratio: float = 10.0
    """Largest/smallest class instance ratio above which `class_imbalance` is reported."""
    min_instances: int = 10
    """Fewer train instances than this for a class gives `few_samples`."""

    def __post_init__(self) -> None:
        if not 32 <= self.imgsz <= 8192:
            raise ValueError(f"imgsz={self.imgsz} is out of range; use 32 to 8192 (e.g. 640).")
        if self.workers < 0:
            raise ValueError(f"workers={self.workers}; use 0 for one per core, or a positive number.")
        if self.imbalance_ratio <= 1:
            raise ValueError(f"imbalance_ratio={self.imbalance_ratio}; use a ratio above 1 (e.g. 10).")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"dataset_path"})
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; use {sorted(known)}.")
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ValidationReport:
    """Everything validation found; JSON round-trips through to_dict/from_dict."""

    dataset: dict[str, Any]
    options: dict[str, Any]
    created: str
    seconds: float
    counts: dict[str, dict[str, int]]
    classes: list[dict[str, Any]]
    image_sizes: dict[str, Any]
    boxes: dict[str, Any]
    boxes_per_image: dict[str, int]
    centre_heatmap: list[list[int]]
    issues: list[Issue]
    recommendations: list[str]
    cache_hits: int = 0

    def severity_counts(self) -> dict[str, int]:
        counts = Counter(i.severity for i in self.issues)
        return {s: counts.get(s, 0) for s in SEVERITY_ORDER}

    @property
    def verdict(self) -> str:
        """'ready', 'ready_with_warnings' or 'not_ready' (any error)."""
        counts = self.severity_counts()
        if counts["error"]:
            return "not_ready"
        return "ready_with_warnings" if counts["warning"] else "ready"

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["issues"] = [i.to_dict() for i in self.issues]
        data["severity_counts"] = self.severity_counts()
        data["verdict"] = self.verdict
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["issues"] = [Issue(**i) for i in data["issues"]]
        return cls(**values)

    def issues_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["code", "severity", "split", "path", "line", "message"])
        for i in self.issues:
            writer.writerow(
                [i.code, i.severity, i.split or "", i.path or "", "" if i.line is None else i.line, i.message]
            )
        return out.getvalue()


@dataclass
class _Stats:
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

    def merge(self, other: _Stats) -> None:
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


def _cached_facts(
    images: list[str], options: ValidationOptions, cache: FactsCache, stats: dict[str, tuple[int, int]]
) -> list[ImageFacts | None]:
    """Facts remembered for images whose size and mtime (from `stats`) are unchanged (None where not)."""
    facts: list[ImageFacts | None] = [None] * len(images)
    if not images:
        return facts
    cached = cache.under(Path(os.path.commonpath([os.path.dirname(p) for p in images])))
    for index, image in enumerate(images):
        hit = cached.get(image)
        if hit is not None and stats.get(image) == hit[:2]:
            known = ImageFacts.from_row(json.loads(hit[2]))
            if not options.near_duplicates or known.phash is not None or known.error:
                facts[index] = known
    return facts


@dataclass
class _BatchResult:
    facts: list[ImageFacts | None]
    issues: list[Issue]
    stats: _Stats
    missing: dict[str, list[str]]
    max_class: int


def _check_batch(
    dataset: Dataset, options: ValidationOptions, items: list[tuple[str, str, ImageFacts | None]]
) -> _BatchResult:
    """Checks of a batch of images and their labels; runs in a worker process (or inline)."""
    checker = _Checker(dataset, options)
    out: list[ImageFacts | None] = []
    for split, image, facts in items:
        if options.check_images and facts is None:
            facts = inspect_image(image, options.near_duplicates)
        out.append(facts)
        checker.label(split, image, checker.image(split, image, facts))
    return _BatchResult(out, checker.issues, checker.stats, dict(checker.missing), checker.max_class)


@contextmanager
def _bare_main() -> Iterator[None]:
    """Start worker processes without re-running the caller's main script in them.

    multiprocessing's spawn re-imports `__main__` in every worker; in the web app that is the
    running page, which must not run again there. A bare module stands in while workers start.
    """
    original = sys.modules.get("__main__")
    stand_in = types.ModuleType("__main__")
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stand_in and original is not None:
            sys.modules["__main__"] = original


def _run_checks(
    dataset: Dataset,
    options: ValidationOptions,
    items: list[tuple[str, str, ImageFacts | None]],
    progress: Progress | None,
) -> list[_BatchResult]:
    """Every image checked, in batches: inline for small datasets, else in one process per core."""
    total = len(items)
    workers = options.workers or os.cpu_count() or 1
    slim = replace(dataset, splits={}, unsupported={}, issues=[])  # what workers need, small to send
    to_read = sum(1 for item in items if item[2] is None) if options.check_images else 0
    if workers == 1 or total < PARALLEL_FROM or (to_read < PARALLEL_FROM and total < 20 * PARALLEL_FROM):
        results = []
        for start in range(0, total, 500):
            results.append(_check_batch(slim, options, items[start : start + 500]))
            if progress:
                progress("Checking images", min(total, start + 500), total)
        return results
    size = max(32, min(512, total // (workers * 6) or 32))
    batches = [items[i : i + size] for i in range(0, total, size)]
    results: list[_BatchResult | None] = [None] * len(batches)
    # fork starts workers in milliseconds but is unsafe in a threaded process (the web app):
    # there, spawn with a bare __main__.
    method = "fork" if threading.active_count() == 1 else "spawn"
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        with _bare_main():  # all workers start on the first submissions
            futures = {pool.submit(_check_batch, slim, options, batch): n for n, batch in enumerate(batches)}
        for future in as_completed(futures):
            n = futures[future]
            results[n] = future.result()
            done += len(batches[n])
            if progress:
                progress("Checking images", done, total)
    return results  # type: ignore[return-value]


def _iou(a: LabelRow, b: LabelRow) -> float:
    ax0, ax1, ay0, ay1 = a.cx - a.w / 2, a.cx + a.w / 2, a.cy - a.h / 2, a.cy + a.h / 2
    bx0, bx1, by0, by1 = b.cx - b.w / 2, b.cx + b.w / 2, b.cy - b.h / 2, b.cy + b.h / 2
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


class _Checker:
    """Applies the per-image and per-line checks and collects issues and statistics."""

    def __init__(self, dataset: Dataset, options: ValidationOptions) -> None:
        self.ds = dataset
        self.options = options
        self.issues: list[Issue] = []
        self.nc = len(dataset.names)
        self.stats = _Stats(nc=self.nc)
        self.missing: dict[str, list[str]] = defaultdict(list)
        self.max_class = -1

    def add(
        self, code: str, severity: str, split: str | None, path: str | None, line: int | None, message: str
    ) -> None:
        self.issues.append(Issue(code, severity, split, path, line, message))  # type: ignore[arg-type]

    def image(self, split: str, image: str, facts: ImageFacts | None) -> tuple[int, int] | None:
        """Image-level checks; returns the size training sees, or None when unknown/unusable."""
        rel = self.ds.rel(image)
        counts = self.stats.counts[split]
        counts["images"] += 1
        if facts is None:
            return None
        if facts.error:
            counts["corrupt"] += 1
            self.add("corrupt_image", "error", split, rel, None, f"{facts.error} Training skips corrupt images.")
            return None
        ext = os.path.splitext(image)[1].lower().lstrip(".")
        if self.options.validate_format and facts.format and EXTENSION_FORMAT.get(ext) not in (None, facts.format):
            self.add(
                "format_mismatch",
                "warning",
                split,
                rel,
                None,
                f"the file is a {facts.format.upper()} image named .{ext}; rename it to "
                f".{'jpg' if facts.format == 'jpeg' else facts.format} so every tool reads it the same way.",
            )
        size = facts.display_size
        assert size is not None
        if min(size) < MIN_SIDE:
            counts["corrupt"] += 1
            self.add(
                "tiny_image",
                "error",
                split,
                rel,
                None,
                f"{size[0]}x{size[1]} px: a side under {MIN_SIDE} px, which Ultralytics rejects; remove it.",
            )
            return None
        if facts.orientation not in (None, 1):
            turned = "rotated by 90°" if facts.orientation in (5, 6, 7, 8) else "flipped or rotated"
            self.add(
                "exif_rotation",
                "warning",
                split,
                rel,
                None,
                f"EXIF orientation {facts.orientation} ({turned}). Ultralytics applies it (sizes via exif_size, "
                "pixels via OpenCV), so training sees the image as a photo viewer shows it: the labels must "
                "match that view. Check this image with its boxes drawn, or save it without the EXIF tag.",
            )
        self.stats.add_size(size)
        return size

    def label(self, split: str, image: str, size: tuple[int, int] | None) -> None:
        counts = self.stats.counts[split]
        path = label_path(image)
        rel = self.ds.rel(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            counts["missing_labels"] += 1
            self.missing[split].append(image)
            return
        except IsADirectoryError:
            self.add("bad_label_syntax", "error", split, rel, None, "this label path is a folder; it must be a file.")
            return
        except OSError as exc:
            self.add(
                "bad_label_syntax",
                "error",
                split,
                rel,
                None,
                f"the label file cannot be read ({exc.strerror or exc}); make it readable.",
            )
            return
        rows, problems = parse_label(data)
        if self.options.check_labels:
            for p in problems:
                self.add(p.code, "error", split, rel, p.line, p.message)
        if not rows and not problems:
            counts["backgrounds"] += 1
            if self.options.validate_format:
                self.add(
                    "background_image",
                    "info",
                    split,
                    rel,
                    None,
                    "empty label file: a background image (no objects), which training uses as a negative.",
                )
            return
        good = [r for r in rows if self._row_ok(split, rel, r, size)]
        if any(r.polygon for r in rows) and self.options.check_labels:
            mixed = " mixed with box rows" if not all(r.polygon for r in rows) else ""
            self.add(
                "segment_label",
                "info",
                split,
                rel,
                None,
                f"{sum(r.polygon for r in rows)} polygon row(s){mixed}: detection training converts each "
                "polygon to its bounding box.",
            )
        if self.options.check_labels:
            self._pairs(split, rel, good)
        if good:
            counts["labelled"] += 1
        counts["boxes"] += len(good)
        self.stats.per_image[len(good)] += 1
        classes_here = set()
        for r in good:
            self.stats.instances[split][r.cls] += 1
            classes_here.add(r.cls)
            self.stats.add_box(r, split, size, self.options.imgsz)
        for c in classes_here:
            self.stats.class_images[split][c] += 1

    def _row_ok(self, split: str, rel: str, r: LabelRow, size: tuple[int, int] | None) -> bool:
        """Checks one box; False when it is unusable (it then counts for nothing)."""
        self.max_class = max(self.max_class, r.cls)
        if not self.options.check_labels:
            return 0 <= r.cls and (not self.ds.names_known or r.cls < self.nc)
        if r.cls < 0 or (self.ds.names_known and r.cls >= self.nc):
            top = f"0-{self.nc - 1}" if self.nc else "none (no names defined)"
            self.add(
                "class_out_of_range",
                "error",
                split,
                rel,
                r.line,
                f"class id {r.cls} does not exist; valid ids are {top}. Fix the id or add the class to names.",
            )
            return False
        inside = 0 <= r.cx <= 1 and 0 <= r.cy <= 1 and 0 < r.w <= 1 and 0 < r.h <= 1
        half_w, half_h = r.w / 2, r.h / 2
        if (
            inside
            and r.cx - half_w >= -EDGE_TOLERANCE
            and r.cx + half_w <= 1 + EDGE_TOLERANCE
            and r.cy - half_h >= -EDGE_TOLERANCE
            and r.cy + half_h <= 1 + EDGE_TOLERANCE
        ):
            if size is not None:  # the common case: a good box; only its size is left to check
                w_px, h_px = r.w * size[0], r.h * size[1]
                smallest = min(w_px, h_px)
                if smallest >= TINY_BOX_PX and smallest * self.options.imgsz / max(size) >= TINY_BOX_PX:
                    return True
            else:
                return True
        values = {"cx": r.cx, "cy": r.cy, "w": r.w, "h": r.h}
        outside = {k: v for k, v in values.items() if not 0 <= v <= 1}
        if outside and not r.polygon:
            listed = ", ".join(f"{k}={v:g}" for k, v in outside.items())
            self.add(
                "coords_out_of_range",
                "error",
                split,
                rel,
                r.line,
                f"{listed} outside [0, 1]: coordinates must be normalised by the image size "
                "(pixel values divided by width or height).",
            )
            return False
        if r.w <= 0 or r.h <= 0:
            self.add(
                "degenerate_box",
                "error",
                split,
                rel,
                r.line,
                f"w={r.w:g}, h={r.h:g}: a box needs a positive width and height; fix or delete the line.",
            )
            return False
        edges = {
            "left": -(r.cx - r.w / 2),
            "right": r.cx + r.w / 2 - 1,
            "top": -(r.cy - r.h / 2),
            "bottom": r.cy + r.h / 2 - 1,
        }
        beyond = {k: v for k, v in edges.items() if v > EDGE_TOLERANCE}
        if beyond:
            listed = ", ".join(f"{k} by {v:.1%}" for k, v in beyond.items())
            self.add(
                "box_outside_image",
                "warning",
                split,
                rel,
                r.line,
                f"the box crosses the image border ({listed} of the image); training clips it, which moves its "
                "centre. Fix the box to end at the border.",
            )
        if size is not None:
            w_px, h_px = r.w * size[0], r.h * size[1]
            scale = self.options.imgsz / max(size)
            if min(w_px, h_px) < TINY_BOX_PX or min(w_px, h_px) * scale < TINY_BOX_PX:
                self.add(
                    "tiny_box",
                    "warning",
                    split,
                    rel,
                    r.line,
                    f"{w_px:.1f}x{h_px:.1f} px in the image, {w_px * scale:.1f}x{h_px * scale:.1f} px at imgsz "
                    f"{self.options.imgsz}: too small to learn. Train at a larger imgsz, or remove the box if it "
                    "is a mistake.",
                )
        return True

    def _pairs(self, split: str, rel: str, rows: list[LabelRow]) -> None:
        seen: dict[tuple, int] = {}
        for r in rows:
            if r.key in seen:
                self.add(
                    "duplicate_box",
                    "warning",
                    split,
                    rel,
                    r.line,
                    f"same box as line {seen[r.key]}; Ultralytics drops duplicates, delete this line.",
                )
            else:
                seen[r.key] = r.line
        if len(rows) > 500:
            return
        unique = [r for r in rows if seen.get(r.key) == r.line]
        for i, a in enumerate(unique):
            for b in unique[i + 1 :]:
                if a.cls == b.cls:
                    iou = _iou(a, b)
                    if iou > OVERLAP_IOU:
                        self.add(
                            "overlapping_boxes",
                            "warning",
                            split,
                            rel,
                            b.line,
                            f"overlaps line {a.line} (same class, IoU {iou:.2f}): probably the same object "
                            "labelled twice; keep one.",
                        )


def _labels_hint(dataset: Dataset, images: list[str]) -> str:
    """Where the labels of a split probably are, when none is where Ultralytics looks."""
    expected = Path(label_path(images[0])).parent
    stems = {Path(p).stem for p in images[:200]}
    candidates: list[tuple[int, Path]] = []
    for parent in {expected.parent, expected.parent.parent}:
        if not parent.is_dir():
            continue
        for folder in parent.iterdir():
            if not folder.is_dir() or folder == expected or folder.name == "images":
                continue
            try:
                hits = sum(1 for f in folder.iterdir() if f.suffix == ".txt" and f.stem in stems)
            except OSError:
                continue
            if hits:
                candidates.append((hits, folder))
    where = (
        f"Ultralytics looks for them in {dataset.rel(expected)}/ (the image path with its last /images/ "
        "replaced by /labels/ and .txt as extension)."
    )
    if candidates:
        hits, best = max(candidates)
        return (
            f"{where} Found {hits} matching label files in {dataset.rel(best)}/: move them to {dataset.rel(expected)}/."
        )
    return f"{where} Put one .txt per image there."


def _duplicates(checker: _Checker, entries: list[tuple[str, str]], facts: list[ImageFacts | None]) -> None:
    """Byte-identical images. Only files whose sizes collide can be identical, so only those are hashed."""
    ds = checker.ds
    by_size: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    for index, f in enumerate(facts):
        if f is not None and f.size_bytes and f.mtime_ns:
            by_size[(f.size_bytes, f.crc)].append(index)
    by_sha: dict[str, list[int]] = defaultdict(list)
    for group in by_size.values():
        if len(group) < 2:
            continue
        for index in group:
            f = facts[index]
            if f.sha is None:  # type: ignore[union-attr]
                try:
                    f = facts[index] = replace(f, sha=content_hash(entries[index][1]))  # type: ignore[arg-type]
                except OSError:
                    continue
            by_sha[f.sha].append(index)  # type: ignore[union-attr, index]
    for group in by_sha.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda i: (SPLIT_ORDER.get(entries[i][0], 9), str(entries[i][1])))
        first_split, first = entries[group[0]]
        for index in group[1:]:
            split, image = entries[index]
            if split != first_split:
                checker.add(
                    "duplicate_image",
                    "error",
                    split,
                    ds.rel(image),
                    None,
                    f"identical to {ds.rel(first)} in {first_split}: the same image in two splits leaks "
                    f"training data into evaluation. Remove it from {split}.",
                )
            else:
                checker.add(
                    "duplicate_image",
                    "warning",
                    split,
                    ds.rel(image),
                    None,
                    f"identical to {ds.rel(first)} in the same split: it counts twice; remove one copy.",
                )


def _near_duplicates(checker: _Checker, entries: list[tuple[str, str]], facts: list[ImageFacts | None]) -> None:
    """Pairs in different splits whose difference hashes differ in at most NEAR_DUPLICATE_BITS bits."""
    bands = NEAR_DUPLICATE_BITS + 1  # pigeonhole: near pairs share at least one band exactly
    width = math.ceil(144 / bands)
    mask = (1 << width) - 1
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    hashed = [i for i, f in enumerate(facts) if f is not None and f.phash is not None and not f.error]
    for i in hashed:
        h = facts[i].phash  # type: ignore[union-attr]
        for b in range(bands):
            buckets[(b, (h >> (b * width)) & mask)].append(i)
    best: dict[int, tuple[int, int]] = {}
    for members in buckets.values():
        if len(members) < 2 or len(members) > 200:  # huge buckets are flat images, not near-duplicates
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if entries[i][0] == entries[j][0] or facts[i].sha == facts[j].sha:  # type: ignore[union-attr]
                    continue
                bits = (facts[i].phash ^ facts[j].phash).bit_count()  # type: ignore[union-attr, operator]
                if bits <= NEAR_DUPLICATE_BITS:
                    later, other = (
                        (j, i) if SPLIT_ORDER.get(entries[j][0], 9) > SPLIT_ORDER.get(entries[i][0], 9) else (i, j)
                    )
                    if later not in best or bits < best[later][0]:
                        best[later] = (bits, other)
    ds = checker.ds
    for later, (bits, other) in sorted(best.items()):
        split, image = entries[later]
        other_split, other_image = entries[other]
        checker.add(
            "near_duplicate",
            "warning",
            split,
            ds.rel(image),
            None,
            f"looks nearly identical to {ds.rel(other_image)} in {other_split} ({bits} of 144 hash bits "
            f"differ): a near copy in another split inflates evaluation. Check both, remove one.",
        )


def _class_checks(checker: _Checker, options: ValidationOptions) -> None:
    ds, stats = checker.ds, checker.stats
    train = stats.instances.get("train", Counter())
    val = stats.instances.get("val", Counter())
    total = Counter()
    for counter in stats.instances.values():
        total.update(counter)
    for cid, name in ds.names.items():
        if total[cid] == 0:
            checker.add(
                "unused_class",
                "warning",
                None,
                None,
                None,
                f"class {cid} '{name}' has no instance in any split: add labelled examples, or remove it "
                "from names (ids after it shift).",
            )
            continue
        if "train" in ds.splits and train[cid] < options.min_instances:
            checker.add(
                "few_samples",
                "warning",
                "train",
                None,
                None,
                f"class {cid} '{name}' has only {train[cid]} instance(s) in train (fewer than "
                f"{options.min_instances}): too few to learn; add examples.",
            )
        if "val" in ds.splits and val[cid] == 0 and train[cid] > 0:
            checker.add(
                "few_samples",
                "warning",
                "val",
                None,
                None,
                f"class {cid} '{name}' has no instance in val: its accuracy cannot be measured; move or add "
                "some examples to val.",
            )
    present = {c: n for c, n in train.items() if n > 0 and c in ds.names}
    if len(present) >= 2:
        big, small = max(present, key=present.get), min(present, key=present.get)  # type: ignore[arg-type]
        ratio = present[big] / present[small]
        if ratio > options.imbalance_ratio:
            checker.add(
                "class_imbalance",
                "warning",
                "train",
                None,
                None,
                f"'{ds.names[big]}' has {present[big]} train instances and '{ds.names[small]}' only "
                f"{present[small]} (ratio {ratio:.0f}:1, above {options.imbalance_ratio:g}:1): the rare class "
                "will be learned poorly. Add examples of it.",
            )


def _recommendations(report_issues: list[Issue], checker: _Checker, options: ValidationOptions) -> list[str]:
    stats = checker.stats
    codes = Counter(i.code for i in report_issues if i.severity == "error")
    out: list[str] = []
    if codes:
        listed = ", ".join(f"{n} {c}" for c, n in codes.most_common())
        out.append(f"Fix the errors before training ({listed}): training would skip or fail on those files.")
    leaks = [
        i
        for i in report_issues
        if i.code in ("duplicate_image", "near_duplicate") and i.severity == "error" or i.code == "near_duplicate"
    ]
    if leaks:
        files = ", ".join(i.path or "" for i in leaks[:10])
        more = f" and {len(leaks) - 10} more (see issues.csv)" if len(leaks) > 10 else ""
        out.append(f"Remove these copies from val/test so evaluation stays unseen: {files}{more}.")
    if stats.sized_boxes:
        share = stats.small_at_imgsz / stats.sized_boxes
        if share > 0.1:
            largest = max(max(s) for s in stats.sizes) if stats.sizes else options.imgsz
            better = next(
                (s for s in (800, 960, 1280, 1600, 1920) if s > options.imgsz and s <= max(largest, options.imgsz)),
                None,
            )
            advice = f"train at imgsz {better}" if better else "crop or tile the images around the objects"
            out.append(
                f"{share:.0%} of the boxes are under {SMALL_AT_IMGSZ_PX} px at imgsz {options.imgsz}: "
                f"{advice}, or use a model with more capacity for small objects."
            )
    if any(i.code == "class_imbalance" for i in report_issues):
        out.append(
            "Classes are imbalanced: collect more images of the rare classes (best), or oversample them; "
            "check per-class metrics after training rather than the average."
        )
    if any(i.code == "few_samples" for i in report_issues):
        out.append(
            "Some classes have very few examples: aim for a few hundred instances per class for a reliable detector."
        )
    images = sum(c["images"] for c in stats.counts.values())
    backgrounds = sum(c["backgrounds"] for c in stats.counts.values())
    missing = sum(c["missing_labels"] for c in stats.counts.values())
    if images and backgrounds + missing == 0:
        out.append(
            "There are no background images (images with no objects): adding 0-10% of them reduces false positives."
        )
    elif images and (backgrounds + missing) / images > 0.5:
        out.append(
            f"{(backgrounds + missing) / images:.0%} of the images have no objects: check that labels are not missing."
        )
    if "val" not in checker.ds.splits or not checker.ds.splits.get("val"):
        out.append("There is no validation split: set aside about 20% of the images as val.")
    if not out:
        out.append("Ready to train: no problem found.")
    return out


def validate(
    source: Path,
    options: ValidationOptions | None = None,
    progress: Progress | None = None,
    cache_path: Path | None = None,
) -> ValidationReport:
    """Validate the dataset at `source` (resolved and allowed by the caller).

    Raises DatasetError when the dataset cannot be read at all; every other problem is an issue.
    """
    options = options or ValidationOptions()
    started = time.perf_counter()
    dataset = load_dataset(source)
    entries = [(split, image) for split, images in dataset.splits.items() for image in images]
    if progress:
        progress("Listing files", len(entries), len(entries))
    cache = FactsCache(cache_path) if cache_path else None
    try:
        fingerprint, stats = _fingerprint(dataset, entries, options) if cache else ("", {})
        reused = cache.report(fingerprint) if cache else None
        if reused is not None:
            report = ValidationReport.from_dict(reused)
            report.created = datetime.now(UTC).isoformat(timespec="seconds")
            report.cache_hits = len(entries)
            report.seconds = round(time.perf_counter() - started, 3)
            if progress:
                progress("Checking images", len(entries), len(entries))
            return report
        known = (
            _cached_facts([e[1] for e in entries], options, cache, stats)
            if cache and options.check_images
            else [None] * len(entries)
        )
        hits = sum(f is not None for f in known)
        items = [(split, image, f) for (split, image), f in zip(entries, known, strict=True)]
        batches = _run_checks(dataset, options, items, progress)
        checker = _Checker(dataset, options)
        checker.issues = list(dataset.issues)
        facts: list[ImageFacts | None] = []
        for batch in batches:
            facts += batch.facts
            checker.issues += batch.issues
            checker.stats.merge(batch.stats)
            for split, images in batch.missing.items():
                checker.missing[split] += images
            checker.max_class = max(checker.max_class, batch.max_class)
        if not dataset.names_known and checker.max_class >= 0:
            dataset.names = {i: str(i) for i in range(checker.max_class + 1)}
            checker.nc = len(dataset.names)
        report = _finish(dataset, options, entries, facts, checker, hits, started)
        if cache:
            cache.store(
                (image, f)
                for (_, image), f, k in zip(entries, facts, known, strict=True)
                if f is not None and (k is None or f.sha != k.sha)
            )
            cache.store_report(fingerprint, report.to_dict())
        return report
    finally:
        if cache:
            cache.close()


def _fingerprint(
    dataset: Dataset, entries: list[tuple[str, str]], options: ValidationOptions
) -> tuple[str, dict[str, tuple[int, int]]]:
    """A hash of everything a report depends on: which images are in which split, every file of their
    image and label folders (name, size, mtime), data.yaml and the options; and the (size, mtime) of
    each of those files, so that nothing is stat'ed twice."""
    stats: dict[str, tuple[int, int]] = {}
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{REPORT_SCHEMA}|{dataset.source}|{sorted(asdict(options).items())}".encode())
    if dataset.yaml_path is not None:
        try:
            digest.update(dataset.yaml_path.read_bytes())
        except OSError:
            digest.update(b"unreadable yaml")
    listing = "\n".join(f"{split}\t{image}" for split, image in entries)
    digest.update(listing.encode("utf-8", "surrogateescape"))
    folders = {os.path.dirname(image) for _, image in entries}
    folders |= {os.path.dirname(label_path(os.path.join(folder, "x.jpg"))) for folder in folders}  # label folders
    for folder in sorted(folders):
        parts = [folder]
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    try:
                        st = entry.stat()
                    except OSError:  # a dangling or looping link: noted, and the listing goes on
                        parts.append(f"{entry.name}:-")
                        continue
                    stats[entry.path] = (st.st_size, st.st_mtime_ns)
                    parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("-")
        digest.update("\n".join(sorted(parts)).encode("utf-8", "surrogateescape"))
    for split, files in sorted(dataset.unsupported.items()):
        digest.update("|".join([split, *files]).encode("utf-8", "surrogateescape"))
    return digest.hexdigest(), stats


def _finish(
    dataset: Dataset,
    options: ValidationOptions,
    entries: list[tuple[str, str]],
    facts: list[ImageFacts | None],
    checker: _Checker,
    hits: int,
    started: float,
) -> ValidationReport:
    """Dataset-level checks on top of the per-image ones, then the report."""
    if options.validate_format:
        for split, images in dataset.splits.items():
            missing = checker.missing.get(split, [])
            if images and len(missing) == len(images):
                hint = _labels_hint(dataset, images)
                checker.add(
                    "missing_label",
                    "error",
                    split,
                    dataset.rel(os.path.dirname(label_path(images[0]))),
                    None,
                    f"no label file for any of the {len(images)} {split} images. {hint}",
                )
            else:
                for image in missing:
                    checker.add(
                        "missing_label",
                        "warning",
                        split,
                        dataset.rel(image),
                        None,
                        f"no label file ({dataset.rel(label_path(image))}): training treats the image as "
                        "background (no objects). Add the labels, or an empty .txt if that is intended.",
                    )
        for split, files in dataset.unsupported.items():
            for path in files:
                checker.add(
                    "unsupported_format",
                    "warning",
                    split,
                    dataset.rel(path),
                    None,
                    f"training ignores .{path.rpartition('.')[2].lower()} files; convert it to JPEG or PNG "
                    "if it should be used.",
                )
        _orphans(checker, entries)
    if options.check_images:
        _duplicates(checker, entries, facts)  # fills in content hashes where sizes collide
        if options.near_duplicates:
            _near_duplicates(checker, entries, facts)
    if options.check_labels:
        _class_checks(checker, options)

    issues = sorted(
        checker.issues,
        key=lambda i: (
            SEVERITY_ORDER[i.severity],
            i.code,
            SPLIT_ORDER.get(i.split or "", 9),
            i.path or "",
            i.line or 0,
        ),
    )
    stats = checker.stats
    names = dataset.names
    dataset_info = dataset.describe()
    report = ValidationReport(
        dataset=dataset_info,
        options=asdict(options),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - started, 3),
        counts={
            s: {
                k: stats.counts[s].get(k, 0)
                for k in ("images", "labelled", "backgrounds", "missing_labels", "boxes", "corrupt")
            }
            for s in dataset.splits
        },
        classes=[
            {
                "id": cid,
                "name": name,
                "instances": {s: stats.instances[s].get(cid, 0) for s in dataset.splits},
                "images": {s: stats.class_images[s].get(cid, 0) for s in dataset.splits},
            }
            for cid, name in names.items()
        ],
        image_sizes={
            "top": [[w, h, n] for (w, h), n in stats.sizes.most_common(50)],
            "distinct": len(stats.sizes),
            "sample": [list(s) for s in stats.size_sample],
        },
        boxes={
            "total": stats.boxes_seen,
            "sample_size": len(stats.box_sample),
            "small_at_imgsz": stats.small_at_imgsz,
            "sized": stats.sized_boxes,
            "sample": {
                **{
                    k: [b[i] for b in stats.box_sample]
                    for i, k in enumerate(("w_rel", "h_rel", "w_px", "h_px", "cls", "split"))
                },
                "area_rel": [b[0] * b[1] for b in stats.box_sample],
                "area_px": [None if b[2] is None else b[2] * b[3] for b in stats.box_sample],
            },
        },
        boxes_per_image={str(k): v for k, v in sorted(stats.per_image.items())},
        centre_heatmap=stats.heatmap,
        issues=issues,
        recommendations=[],
        cache_hits=hits,
    )
    report.recommendations = _recommendations(issues, checker, options)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _orphans(checker: _Checker, entries: list[tuple[str, str]]) -> None:
    """Label files in the label folders that belong to no image."""
    expected = {label_path(image) for _, image in entries}
    image_dirs: dict[str, str] = {}
    for split, image in entries:
        image_dirs.setdefault(image.rpartition(os.sep)[0], split)
    folders = {os.path.dirname(label_path(os.path.join(d, "x.jpg"))): split for d, split in image_dirs.items()}
    for folder, split in sorted(folders.items()):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.endswith(".txt") and name != "classes.txt" and path not in expected:
                checker.add(
                    "orphan_label",
                    "warning",
                    split,
                    checker.ds.rel(path),
                    None,
                    "label file without an image: training never reads it. Add its image or delete it.",
                )

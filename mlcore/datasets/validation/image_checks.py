"""The per-image and per-label-line checks: `Checker` turns one image's facts and its label file
into issues and running statistics. Runs in worker processes, so everything here is picklable."""

from __future__ import annotations

import os
from collections import defaultdict

from mlcore.datasets.images import EXTENSION_FORMAT, MIN_SIDE, ImageFacts
from mlcore.datasets.issues import Issue, Severity
from mlcore.datasets.labels import LabelRow, parse_label
from mlcore.datasets.loader import Dataset, label_path
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.stats import Stats

EDGE_TOLERANCE = 0.01  # a box may cross the border by 1% of the image before it is reported
TINY_BOX_PX = 3  # boxes under this many pixels (at the image's size or at imgsz) are reported
OVERLAP_IOU = 0.9


def _iou(a: LabelRow, b: LabelRow) -> float:
    ax0, ax1, ay0, ay1 = a.cx - a.w / 2, a.cx + a.w / 2, a.cy - a.h / 2, a.cy + a.h / 2
    bx0, bx1, by0, by1 = b.cx - b.w / 2, b.cx + b.w / 2, b.cy - b.h / 2, b.cy + b.h / 2
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


class Checker:
    """Applies the per-image and per-line checks and collects issues and statistics."""

    def __init__(self, dataset: Dataset, options: ValidationOptions) -> None:
        self.ds = dataset
        self.options = options
        self.issues: list[Issue] = []
        self.nc = len(dataset.names)
        self.stats = Stats(nc=self.nc)
        self.missing: dict[str, list[str]] = defaultdict(list)
        self.max_class = -1

    def error(self, code: str, split: str | None, path: str | None, message: str, line: int | None = None) -> None:
        self._add(code, "error", split, path, message, line)

    def warning(self, code: str, split: str | None, path: str | None, message: str, line: int | None = None) -> None:
        self._add(code, "warning", split, path, message, line)

    def info(self, code: str, split: str | None, path: str | None, message: str, line: int | None = None) -> None:
        self._add(code, "info", split, path, message, line)

    def _add(
        self, code: str, severity: Severity, split: str | None, path: str | None, message: str, line: int | None
    ) -> None:
        self.issues.append(Issue(code, severity, split, path, line, message))

    def image(self, split: str, image: str, facts: ImageFacts | None) -> tuple[int, int] | None:
        """Image-level checks; returns the size training sees, or None when unknown/unusable."""
        rel = self.ds.rel(image)
        counts = self.stats.counts[split]
        counts["images"] += 1
        if facts is None:
            return None
        if facts.error:
            counts["corrupt"] += 1
            self.error("corrupt_image", split, rel, f"{facts.error} Training skips corrupt images.")
            return None
        ext = os.path.splitext(image)[1].lower().lstrip(".")
        if self.options.validate_format and facts.format and EXTENSION_FORMAT.get(ext) not in (None, facts.format):
            self.warning(
                "format_mismatch",
                split,
                rel,
                f"the file is a {facts.format.upper()} image named .{ext}; rename it to "
                f".{'jpg' if facts.format == 'jpeg' else facts.format} so every tool reads it the same way.",
            )
        size = facts.display_size
        assert size is not None
        if min(size) < MIN_SIDE:
            counts["corrupt"] += 1
            self.error(
                "tiny_image",
                split,
                rel,
                f"{size[0]}x{size[1]} px: a side under {MIN_SIDE} px, which Ultralytics rejects; remove it.",
            )
            return None
        if facts.orientation not in (None, 1):
            turned = "rotated by 90°" if facts.orientation in (5, 6, 7, 8) else "flipped or rotated"
            self.warning(
                "exif_rotation",
                split,
                rel,
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
            self.error("bad_label_syntax", split, rel, "this label path is a folder; it must be a file.")
            return
        except OSError as exc:
            self.error(
                "bad_label_syntax",
                split,
                rel,
                f"the label file cannot be read ({exc.strerror or exc}); make it readable.",
            )
            return
        rows, problems = parse_label(data)
        if self.options.check_labels:
            for p in problems:
                self.error(p.code, split, rel, p.message, p.line)
        if not rows and not problems:
            counts["backgrounds"] += 1
            if self.options.validate_format:
                self.info(
                    "background_image",
                    split,
                    rel,
                    "empty label file: a background image (no objects), which training uses as a negative.",
                )
            return
        good = [r for r in rows if self._row_ok(split, rel, r, size)]
        if any(r.polygon for r in rows) and self.options.check_labels:
            mixed = " mixed with box rows" if not all(r.polygon for r in rows) else ""
            self.info(
                "segment_label",
                split,
                rel,
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
            self.error(
                "class_out_of_range",
                split,
                rel,
                f"class id {r.cls} does not exist; valid ids are {top}. Fix the id or add the class to names.",
                r.line,
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
            self.error(
                "coords_out_of_range",
                split,
                rel,
                f"{listed} outside [0, 1]: coordinates must be normalised by the image size "
                "(pixel values divided by width or height).",
                r.line,
            )
            return False
        if r.w <= 0 or r.h <= 0:
            self.error(
                "degenerate_box",
                split,
                rel,
                f"w={r.w:g}, h={r.h:g}: a box needs a positive width and height; fix or delete the line.",
                r.line,
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
            self.warning(
                "box_outside_image",
                split,
                rel,
                f"the box crosses the image border ({listed} of the image); training clips it, which moves its "
                "centre. Fix the box to end at the border.",
                r.line,
            )
        if size is not None:
            w_px, h_px = r.w * size[0], r.h * size[1]
            scale = self.options.imgsz / max(size)
            if min(w_px, h_px) < TINY_BOX_PX or min(w_px, h_px) * scale < TINY_BOX_PX:
                self.warning(
                    "tiny_box",
                    split,
                    rel,
                    f"{w_px:.1f}x{h_px:.1f} px in the image, {w_px * scale:.1f}x{h_px * scale:.1f} px at imgsz "
                    f"{self.options.imgsz}: too small to learn. Train at a larger imgsz, or remove the box if it "
                    "is a mistake.",
                    r.line,
                )
        return True

    def _pairs(self, split: str, rel: str, rows: list[LabelRow]) -> None:
        seen: dict[tuple, int] = {}
        for r in rows:
            if r.key in seen:
                self.warning(
                    "duplicate_box",
                    split,
                    rel,
                    f"same box as line {seen[r.key]}; Ultralytics drops duplicates, delete this line.",
                    r.line,
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
                        self.warning(
                            "overlapping_boxes",
                            split,
                            rel,
                            f"overlaps line {a.line} (same class, IoU {iou:.2f}): probably the same object "
                            "labelled twice; keep one.",
                            b.line,
                        )

"""Images with their boxes drawn, for galleries and issue views (Pillow only)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from mlcore.datasets.labels import LabelRow

PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#469990",
    "#9a6324",
    "#800000",
    "#000075",
)
HIGHLIGHT = "#ffd400"


def class_colour(cls: int) -> str:
    return PALETTE[cls % len(PALETTE)]


def draw_boxes(
    image_path: Path,
    rows: Sequence[LabelRow],
    names: dict[int, str],
    highlight: set[int] | None = None,
    max_side: int = 900,
) -> Image.Image:
    """The image as training sees it (EXIF applied) with each box and its class name drawn.

    Boxes on a line in `highlight` are drawn thicker in yellow. Raises OSError for unreadable images.
    """
    with Image.open(image_path) as im:
        image = ImageOps.exif_transpose(im).convert("RGB")
    scale = min(1.0, max_side / max(image.size))
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    elif max(image.size) < 320:  # small images: enlarge so boxes and text are legible
        factor = 320 / max(image.size)
        image = image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    font_size = max(11, image.width // 45)
    font = ImageFont.load_default(size=font_size)
    w, h = image.size
    for row in rows:
        marked = highlight is not None and row.line in highlight
        colour = HIGHLIGHT if marked else class_colour(row.cls)
        x0, y0 = (row.cx - row.w / 2) * w, (row.cy - row.h / 2) * h
        x1, y1 = (row.cx + row.w / 2) * w, (row.cy + row.h / 2) * h
        draw.rectangle([x0, y0, max(x0, x1), max(y0, y1)], outline=colour, width=4 if marked else 2)
        text = f"{names.get(row.cls, str(row.cls))} (line {row.line})"
        tx, ty = max(0, x0), max(0, y0 - font_size - 4)
        box = draw.textbbox((tx, ty), text, font=font)
        draw.rectangle(box, fill=colour)
        draw.text((tx, ty), text, font=font, fill="black" if marked else "white")
    return image


GROUND_TRUTH = "#16a34a"  # green: what is there
MATCHED = "#2563eb"  # blue: a prediction that found it
WRONG = "#dc2626"  # red: a false positive (its error type is written on it)
MISSED = "#f59e0b"  # amber: a ground-truth box nothing found
OTHER_LABEL = "#64748b"  # slate: an audited image's other labels (what is already labelled); a close-up's frame


def _scaled(picture: Image.Image, max_side: int) -> tuple[Image.Image, float]:
    """`picture` scaled to at most `max_side` (small ones enlarged to 320), and the factor."""
    scale = min(1.0, max_side / max(picture.size)) if max(picture.size) >= 320 else 320 / max(picture.size)
    if scale != 1:
        picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))))
    return picture, scale


def _open(image_path: Path) -> Image.Image:
    with Image.open(image_path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def _open_scaled(image_path: Path, max_side: int) -> tuple[Image.Image, float]:
    """The image with EXIF applied, scaled to at most `max_side` (small ones enlarged to 320), and the factor."""
    return _scaled(_open(image_path), max_side)


class _Boxes:
    """Boxes in original-image pixels, drawn with a label on a scaled picture (of the region from `origin`), and a
    legend at the bottom."""

    def __init__(self, picture: Image.Image, factor: float, origin: tuple[float, float] = (0.0, 0.0)) -> None:
        self.picture, self.factor, self.origin = picture, factor, origin
        self.draw = ImageDraw.Draw(picture)
        self.font_size = max(11, picture.width // 50)
        self.font = ImageFont.load_default(size=self.font_size)

    def box(self, xyxy: Any, colour: str, text: str, width: int = 2, below: bool = False) -> None:
        ox, oy = self.origin
        x0, y0, x1, y1 = ((float(v) - o) * self.factor for v, o in zip(xyxy, (ox, oy, ox, oy), strict=True))
        if x1 < 0 or y1 < 0 or x0 > self.picture.width or y0 > self.picture.height:
            return  # outside a close-up's region
        self.draw.rectangle([x0, y0, max(x0, x1), max(y0, y1)], outline=colour, width=width)
        tx = max(0.0, x0)
        ty = min(self.picture.height - self.font_size - 4, y1 + 2) if below else max(0.0, y0 - self.font_size - 4)
        self.draw.rectangle(self.draw.textbbox((tx, ty), text, font=self.font), fill=colour)
        self.draw.text((tx, ty), text, font=self.font, fill="white")

    def legend(self, entries: Sequence[tuple[str, str]]) -> None:
        x, y = 6.0, float(self.picture.height - self.font_size - 10)
        for text, colour in entries:
            right = self.draw.textbbox((x + 16, y), text, font=self.font)[2]
            self.draw.rectangle([x - 2, y - 3, right + 4, y + self.font_size + 4], fill="white")
            self.draw.rectangle([x, y + 2, x + 11, y + 13], fill=colour)
            self.draw.text((x + 16, y), text, font=self.font, fill="black")
            x = right + 12


CLOSE_UP_BELOW = 48  # px: a box drawn smaller than this on the whole image also gets a close-up beside it
CLOSE_UP_CONTEXT = 4.0  # the close-up shows the box with this many times its size around it
CLOSE_UP_MIN = 96  # px of the original image: the least a close-up shows
CLOSE_UP_ZOOM = 8.0  # the most a close-up enlarges
CLOSE_UP_SIDE = 240  # px: a close-up is drawn at least this tall (as tall as the whole image when that is taller)


def close_up_region(box: Sequence[float], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The part of an image of `size` a close-up of `box` (x1, y1, x2, y2 in its pixels) shows: the box in the
    middle with CLOSE_UP_CONTEXT times its size around it, at least CLOSE_UP_MIN, within the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = min(max(CLOSE_UP_MIN, CLOSE_UP_CONTEXT * max(x2 - x1, y2 - y1)), max(size))
    left = min(max(0.0, cx - side / 2), max(0.0, size[0] - side))
    top = min(max(0.0, cy - side / 2), max(0.0, size[1] - side))
    return round(left), round(top), round(min(size[0], left + side)), round(min(size[1], top + side))


def _render(
    image_path: Path,
    max_side: int,
    paint: Callable[[_Boxes], None],
    legend: Sequence[tuple[str, str]],
    focus: Sequence[float] | None = None,
) -> Image.Image:
    """The image scaled to `max_side` with `paint`'s boxes and the legend; when `focus` (a box in original pixels)
    would be drawn smaller than CLOSE_UP_BELOW, a close-up around it, painted the same way, beside it."""
    full = _open(image_path)
    whole, factor = _scaled(full, max_side)
    paint(_Boxes(whole, factor))
    _Boxes(whole, factor).legend(legend)
    if focus is None or max(float(focus[2]) - float(focus[0]), float(focus[3]) - float(focus[1])) * factor >= (
        CLOSE_UP_BELOW
    ):
        return whole
    region = close_up_region(focus, full.size)
    side = max(whole.height, CLOSE_UP_SIDE)
    zoom = min(CLOSE_UP_ZOOM, side / max(1, region[3] - region[1], region[2] - region[0]))
    detail = full.crop(region)
    detail = detail.resize((max(1, round(detail.width * zoom)), max(1, round(detail.height * zoom))))
    paint(_Boxes(detail, zoom, (region[0], region[1])))
    joined = Image.new("RGB", (whole.width + 6 + detail.width, max(whole.height, detail.height)), "white")
    joined.paste(whole, (0, 0))
    joined.paste(detail, (whole.width + 6, 0))
    frame = ImageDraw.Draw(joined)
    frame.rectangle([whole.width + 6, 0, joined.width - 1, detail.height - 1], outline=OTHER_LABEL, width=1)
    font = ImageFont.load_default(size=11)
    tag = frame.textbbox((whole.width + 10, 4), "close-up", font=font)
    frame.rectangle(tag, fill=OTHER_LABEL)
    frame.text((whole.width + 10, 4), "close-up", font=font, fill="white")
    return joined


def draw_comparison(
    image_path: Path,
    detections: Any,
    result: Any,
    image: int,
    max_side: int = 900,
    focus: Sequence[float] | None = None,
) -> Image.Image:
    """One evaluated image: ground truth and the predictions at the analysis' thresholds, with a legend (and a
    close-up of `focus` when that box would be too small to see).

    `detections` is an evaluation.analysis.Detections, `result` its Analysis; boxes are in pixels of the
    original image (EXIF applied). Raises OSError for unreadable images."""
    names = detections.names

    def paint(boxes: _Boxes) -> None:
        for k in (detections.gt_image == image).nonzero()[0]:
            found = result.gt_type[k] == "tp"
            label = names.get(int(detections.gt_cls[k]), "?")
            boxes.box(
                detections.gt_box[k], GROUND_TRUTH if found else MISSED, label if found else f"{label} · missed", 3
            )
        for k in ((detections.pred_image == image) & (result.pred_type != "")).nonzero()[0]:
            kind = str(result.pred_type[k])
            label = f"{names.get(int(detections.pred_cls[k]), '?')} {float(detections.pred_conf[k]):.2f}"
            colour = MATCHED if kind == "tp" else WRONG
            boxes.box(detections.pred_box[k], colour, label if kind == "tp" else f"{label} · {kind}")

    legend = (("ground truth", GROUND_TRUTH), ("found", MATCHED), ("false positive", WRONG), ("missed", MISSED))
    return _render(image_path, max_side, paint, legend, focus)


SUSPECT_LABEL = "#dc2626"  # red: the label box the audit doubts
SUGGESTION = "#16a34a"  # green: what the model would put there


def draw_suspect(
    image_path: Path,
    issue: dict[str, Any],
    names: dict[int, str],
    labels: Sequence[tuple[int, Sequence[float]]] = (),
    max_side: int = 900,
) -> Image.Image:
    """One suspect of a label audit: the label's box (with its file line) in red, the model's suggestion in green,
    the image's other `labels` ((class id, x1, y1, x2, y2) in pixels) in grey, and a close-up when the box is small.

    `issue` is a row of audit.json's `issues`. Raises OSError for unreadable images."""
    kind = str(issue["type"]).replace("_", " ")
    own = [round(float(v), 1) for v in issue["box"]] if issue.get("line") is not None else None

    def paint(boxes: _Boxes) -> None:
        for cls, box in labels:
            if own is None or [round(float(v), 1) for v in box] != own:
                boxes.box(box, OTHER_LABEL, names.get(int(cls), "?"), 1)
        if issue.get("line") is not None:
            label = names.get(int(issue["label_class"]), "?")
            boxes.box(issue["box"], SUSPECT_LABEL, f"label: {label} (line {issue['line']}) · {kind}", 3)
        suggested = issue.get("suggested_box") or (issue["box"] if issue.get("suggested_class") is not None else None)
        if suggested is not None and issue.get("suggested_class") is not None:
            text = f"model: {names.get(int(issue['suggested_class']), '?')} {float(issue.get('confidence') or 0):.2f}"
            boxes.box(
                suggested, SUGGESTION, text if issue.get("line") is not None else f"{text} · {kind}", 2, below=True
            )

    legend = (("label", SUSPECT_LABEL), ("model's suggestion", SUGGESTION), ("other labels", OTHER_LABEL))
    return _render(image_path, max_side, paint, legend, issue["box"])


SOURCE_MODEL = "#2563eb"  # blue: the source model's boxes
EXPORTED_MODEL = "#ea580c"  # orange: the export's boxes


def draw_two_models(
    image_path: Path, a: Any, b: Any, image: int, conf: float, labels: tuple[str, str], max_side: int = 900
) -> Image.Image:
    """One image with the boxes of two models (Detections of the same images) in two colours: `a`'s labels
    above their box, `b`'s below, so that boxes on top of each other stay readable."""
    picture, factor = _open_scaled(image_path, max_side)
    boxes = _Boxes(picture, factor)
    for d, colour, below in ((a, SOURCE_MODEL, False), (b, EXPORTED_MODEL, True)):
        for k in ((d.pred_image == image) & (d.pred_conf >= conf)).nonzero()[0]:
            text = f"{d.names.get(int(d.pred_cls[k]), '?')} {float(d.pred_conf[k]):.2f}"
            boxes.box(d.pred_box[k], colour, text, width=3 if below else 2, below=below)
    boxes.legend(((labels[0], SOURCE_MODEL), (labels[1], EXPORTED_MODEL)))
    return picture


def draw_detections(picture: Image.Image, detections: Sequence[dict[str, Any]], max_side: int = 1280) -> Image.Image:
    """A copy of `picture` with each detection ({"class_id", "class_name", "confidence", "box"} in its
    pixels) drawn in its class's colour, labelled with class and confidence (small images enlarged)."""
    scale = min(1.0, max_side / max(picture.size)) if max(picture.size) >= 320 else 320 / max(picture.size)
    image = picture.convert("RGB")
    if scale != 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    else:
        image = image.copy()
    boxes = _Boxes(image, scale)
    for d in detections:
        boxes.box(d["box"], class_colour(int(d["class_id"])), f"{d['class_name']} {float(d['confidence']):.2f}", 3)
    return image


Sample = tuple[Image.Image, Sequence[tuple[int, Sequence[float]]]]  # a picture and its (class id, xyxy) boxes


def draw_training_samples(samples: Sequence[Sample], names: dict[int, str], columns: int = 3) -> Image.Image:
    """Training samples side by side, each with its boxes ((class id, x1, y1, x2, y2) in its pixels) drawn in the
    class's colour and named: what an augmentation preview shows."""
    width, height = max(s[0].width for s in samples), max(s[0].height for s in samples)
    rows = -(-len(samples) // columns)
    grid = Image.new("RGB", (columns * width + (columns - 1) * 4, rows * height + (rows - 1) * 4), "white")
    for k, (picture, boxes) in enumerate(samples):
        tile = picture.convert("RGB")
        drawn = _Boxes(tile, 1.0)
        for cls, xyxy in boxes:
            drawn.box(xyxy, class_colour(cls), names.get(cls, str(cls)))
        grid.paste(tile, ((k % columns) * (width + 4), (k // columns) * (height + 4)))
    return grid

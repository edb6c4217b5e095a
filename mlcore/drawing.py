"""Images with their boxes drawn, for galleries and issue views (Pillow only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from mlcore.label_parser import LabelRow

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
    font = ImageFont.load_default(size=max(11, image.width // 45))
    w, h = image.size
    for row in rows:
        marked = highlight is not None and row.line in highlight
        colour = HIGHLIGHT if marked else class_colour(row.cls)
        x0, y0 = (row.cx - row.w / 2) * w, (row.cy - row.h / 2) * h
        x1, y1 = (row.cx + row.w / 2) * w, (row.cy + row.h / 2) * h
        draw.rectangle([x0, y0, max(x0, x1), max(y0, y1)], outline=colour, width=4 if marked else 2)
        text = f"{names.get(row.cls, str(row.cls))} (line {row.line})"
        tx, ty = max(0, x0), max(0, y0 - font.size - 4)
        box = draw.textbbox((tx, ty), text, font=font)
        draw.rectangle(box, fill=colour)
        draw.text((tx, ty), text, font=font, fill="black" if marked else "white")
    return image

"""A synthetic logo-detection dataset in YOLO format, for demos and tests without any download.

Five invented brand logos are drawn with Pillow (shapes, text, colours) at varied scale, position,
rotation and partial occlusion on varied backgrounds, and split into train/val/test with a
`data.yaml`. The same seed always gives the same files.

    python -m mlcore demo-data --out ml_outputs/datasets/demo --images 400 --seed 0
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from mlcore.core import paths

CLASS_NAMES = ("solara", "aqualine", "verdant", "nimbus", "ferro")
SPLIT_FRACTIONS = {"train": 0.7, "val": 0.2, "test": 0.1}
LOGO_CANVAS = 160  # logos are drawn at this size, then scaled into the image
BACKGROUND_EVERY = 25  # one image in 25 has no logo at all (a YOLO "background" image)

Progress = Callable[[int, int], None]

# How the demo dataset is meant to be trained when time is short (CPU laptops, live demos):
# Ultralytics' defaults except that every batch is an optimizer step (nbs = batch; by default
# gradients accumulate to 64 images, which leaves ~4 steps per epoch on 280 images) and a
# shorter warm-up. benchmarks/demo_convergence.py measures it.
DEMO_TRAINING_RECIPE: dict[str, object] = {"imgsz": 256, "batch": 16, "nbs": 16, "warmup_epochs": 1}


class DemoDataError(ValueError):
    """Bad arguments or an output folder that must not be touched."""


@dataclass(frozen=True)
class DemoDataSummary:
    """What `make_demo_dataset` wrote."""

    root: Path
    images: dict[str, int]
    boxes: dict[str, int]

    @property
    def data_yaml(self) -> Path:
        return self.root / paths.DATA_YAML


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int = 22) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)
    return (r, g, b)


def _caption(draw: ImageDraw.ImageDraw, text: str, fill: tuple[int, int, int]) -> None:
    font = _font(24)
    width = draw.textlength(text, font=font)
    draw.text(((LOGO_CANVAS - width) / 2, LOGO_CANVAS - 34), text, font=font, fill=fill)


def _draw_solara(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    """An orange sun with rays."""
    c, r = LOGO_CANVAS / 2, 30
    cy = c - 14
    ray = _jitter((245, 166, 35), rng)
    for k in range(10):
        a = 2 * math.pi * k / 10
        tip = (c + math.cos(a) * (r + 26), cy + math.sin(a) * (r + 26))
        left = (c + math.cos(a - 0.22) * r, cy + math.sin(a - 0.22) * r)
        right = (c + math.cos(a + 0.22) * r, cy + math.sin(a + 0.22) * r)
        draw.polygon([left, tip, right], fill=ray)
    draw.ellipse([c - r, cy - r, c + r, cy + r], fill=_jitter((250, 214, 50), rng))
    _caption(draw, "SOLARA", _jitter((200, 90, 20), rng))


def _draw_aqualine(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    """A blue rounded square with white waves."""
    blue = _jitter((30, 110, 220), rng)
    draw.rounded_rectangle([28, 8, 132, 112], radius=22, fill=blue)
    for k in range(3):
        y0 = 36 + k * 24
        pts = [(36 + x, y0 + 7 * math.sin(x / 11)) for x in range(0, 89, 4)]
        draw.line(pts, fill=(255, 255, 255), width=6)
    _caption(draw, "AQUALINE", blue)


def _draw_verdant(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    """A green mountain with a white peak and a leaf-green base bar."""
    green = _jitter((40, 160, 70), rng)
    draw.polygon([(18, 108), (80, 8), (142, 108)], fill=green)
    draw.polygon([(62, 37), (80, 8), (98, 37), (80, 30)], fill=(255, 255, 255))
    draw.rectangle([18, 110, 142, 118], fill=_jitter((20, 100, 40), rng))
    _caption(draw, "VERDANT", green)


def _draw_nimbus(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    """A purple hexagon with a white ring."""
    purple = _jitter((130, 60, 190), rng)
    c, cy, r = LOGO_CANVAS / 2, 60, 54
    hexagon = [
        (c + r * math.cos(math.pi / 6 + k * math.pi / 3), cy + r * math.sin(math.pi / 6 + k * math.pi / 3))
        for k in range(6)
    ]
    draw.polygon(hexagon, fill=purple)
    draw.ellipse([c - 26, cy - 26, c + 26, cy + 26], outline=(255, 255, 255), width=9)
    _caption(draw, "NIMBUS", purple)


def _draw_ferro(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    """A red diamond with a black square and a white F."""
    red = _jitter((215, 35, 45), rng)
    c, cy = LOGO_CANVAS / 2, 60
    draw.polygon([(c, cy - 56), (c + 56, cy), (c, cy + 56), (c - 56, cy)], fill=red)
    draw.rectangle([c - 20, cy - 20, c + 20, cy + 20], fill=(20, 20, 20))
    font = _font(34)
    w = draw.textlength("F", font=font)
    draw.text((c - w / 2, cy - 21), "F", font=font, fill=(255, 255, 255))
    _caption(draw, "FERRO", (30, 30, 30))


DRAWERS = (_draw_solara, _draw_aqualine, _draw_verdant, _draw_nimbus, _draw_ferro)


def draw_logo(class_id: int, rng: random.Random) -> Image.Image:
    """One logo of class `class_id` on a transparent canvas."""
    logo = Image.new("RGBA", (LOGO_CANVAS, LOGO_CANVAS), (0, 0, 0, 0))
    DRAWERS[class_id](ImageDraw.Draw(logo), rng)
    return logo


def _background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A gradient, a texture of muted shapes, and some blur or noise."""
    w, h = size
    top = tuple(rng.randint(40, 230) for _ in range(3))
    bottom = tuple(rng.randint(40, 230) for _ in range(3))
    gradient = Image.linear_gradient("L").resize((w, h))
    if rng.random() < 0.5:
        gradient = gradient.rotate(90)
    image = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), gradient)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 14)):
        grey = rng.randint(60, 200)
        tint = tuple(max(0, min(255, grey + rng.randint(-25, 25))) for _ in range(3))
        x0, y0 = rng.randint(-20, w), rng.randint(-20, h)
        x1, y1 = x0 + rng.randint(10, w // 2), y0 + rng.randint(10, h // 2)
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=tint)
        else:
            draw.line([x0, y0, x1, y1], fill=tint, width=rng.randint(1, 5))
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    if rng.random() < 0.4:
        noise = Image.frombytes("L", size, rng.randbytes(w * h)).convert("RGB")  # seeded, unlike effect_noise
        image = Image.blend(image, noise, rng.uniform(0.05, 0.15))
    return image


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def render_sample(
    rng: random.Random, imgsz: int, background_only: bool = False
) -> tuple[Image.Image, list[tuple[int, float, float, float, float]]]:
    """One image and its YOLO labels (class, x-centre, y-centre, width, height; normalised)."""
    image = _background((imgsz, imgsz), rng)
    labels: list[tuple[int, float, float, float, float]] = []
    if background_only:
        return image, labels
    placed: list[tuple[float, float, float, float]] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        class_id = rng.randrange(len(CLASS_NAMES))
        logo = draw_logo(class_id, rng)
        side = int(imgsz * rng.uniform(0.22, 0.5))
        logo = logo.resize((side, side), Image.Resampling.BICUBIC)
        logo = logo.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC, expand=True)
        bbox = logo.getchannel("A").point(lambda a: 255 if a > 40 else 0).getbbox()
        if bbox is None:
            continue
        logo = logo.crop(bbox)
        lw, lh = logo.size
        if lw >= imgsz or lh >= imgsz:
            continue
        for _attempt in range(30):
            x, y = rng.randint(0, imgsz - lw), rng.randint(0, imgsz - lh)
            box = (float(x), float(y), float(x + lw), float(y + lh))
            if all(_iou(box, other) < 0.05 for other in placed):
                break
        else:
            continue
        image.paste(logo, (x, y), logo)
        placed.append(box)
        if rng.random() < 0.3:  # partial occlusion by a foreground object
            ow, oh = int(lw * rng.uniform(0.25, 0.45)), int(lh * rng.uniform(0.25, 0.45))
            ox = x + rng.choice((0, lw - ow)) + rng.randint(-ow // 3, ow // 3)
            oy = y + rng.randint(0, lh - oh)
            colour = tuple(rng.randint(0, 255) for _ in range(3))
            ImageDraw.Draw(image).rectangle([ox, oy, ox + ow, oy + oh], fill=colour)
        labels.append((class_id, (x + lw / 2) / imgsz, (y + lh / 2) / imgsz, lw / imgsz, lh / imgsz))
    return image, labels


def _split_of(index: int, total: int) -> str:
    n_train = round(total * SPLIT_FRACTIONS["train"])
    n_val = round(total * SPLIT_FRACTIONS["val"])
    if index < n_train:
        return "train"
    return "val" if index < n_train + n_val else "test"


def make_demo_dataset(
    out: Path,
    images: int = 400,
    seed: int = 0,
    imgsz: int = 256,
    force: bool = False,
    progress: Progress | None = None,
) -> DemoDataSummary:
    """Write the demo dataset to `out` (built in a temporary folder, then moved into place).

    An existing `out` is replaced only with `force=True` and only if it is a demo dataset this
    function made (it holds the marker file); anything else is refused, never deleted.
    """
    if images < 10:
        raise DemoDataError(f"images={images} is too few for train/val/test; use at least 10 (e.g. 400).")
    if not 64 <= imgsz <= 2048:
        raise DemoDataError(f"imgsz={imgsz} is out of range; use 64 to 2048 pixels (e.g. 256).")
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        if not (out / paths.DEMO_MARKER_FILE).exists():
            raise DemoDataError(
                f"{out} already exists and is not a demo dataset; choose an empty or new folder with --out."
            )
        if not force:
            raise DemoDataError(f"{out} already holds a demo dataset; pass --force to replace it.")
    out.parent.mkdir(parents=True, exist_ok=True)

    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        counts = {s: 0 for s in paths.SPLITS}
        boxes = {s: 0 for s in paths.SPLITS}
        for split in paths.SPLITS:
            (staging / paths.IMAGES_DIR / split).mkdir(parents=True)
            (staging / paths.LABELS_DIR / split).mkdir(parents=True)
        for index in range(images):
            rng = random.Random(f"{seed}:{index}")
            image, labels = render_sample(rng, imgsz, background_only=index % BACKGROUND_EVERY == BACKGROUND_EVERY // 2)
            split = _split_of(index, images)
            stem = f"{split}_{index:05d}"
            image.save(staging / paths.IMAGES_DIR / split / f"{stem}.jpg", quality=90)
            rows = "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels)
            (staging / paths.LABELS_DIR / split / f"{stem}.txt").write_text(rows)
            counts[split] += 1
            boxes[split] += len(labels)
            if progress:
                progress(index + 1, images)
        data = {
            "train": f"{paths.IMAGES_DIR}/train",
            "val": f"{paths.IMAGES_DIR}/val",
            "test": f"{paths.IMAGES_DIR}/test",
            "nc": len(CLASS_NAMES),
            "names": list(CLASS_NAMES),
        }
        header = (
            "# ML Studio demo dataset: five invented logos, generated by\n"
            f"# python -m mlcore demo-data --images {images} --seed {seed} --imgsz {imgsz}\n"
        )
        (staging / paths.DATA_YAML).write_text(header + yaml.safe_dump(data, sort_keys=False))
        (staging / paths.DEMO_MARKER_FILE).write_text(f"images={images} seed={seed} imgsz={imgsz}\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DemoDataSummary(root=out, images=counts, boxes=boxes)

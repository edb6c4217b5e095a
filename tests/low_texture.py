"""Frames like a browser game's screenshots (mostly white, small sprites), for the near-copy tests and
benchmarks/near_duplicates.py.

Every 640x360 frame shows what the game always shows (a ground line, the player at the left, the score label) and,
of its own, 2-4 small sprites (14-34 px) at places of its own and a score of its own: different frames that a
difference hash of the whole frame at 9x9 cannot tell apart. `near_copies_of` makes what must still be found: the
same frame re-encoded, shifted by a few pixels, resized and brightened.

    planted = game_dataset(root, frames=60, copies=6)   # {near copy: the train frame it copies}, paths from root
"""

from __future__ import annotations

import random
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from tests.dataset_builder import jpeg_bytes, png_bytes

SIZE = (640, 360)
GROUND = 300  # the y of the ground line
INK = (83, 83, 83)
COPY_KINDS = ("recompressed", "shifted", "resized", "brightened")


def frame(seed: int) -> tuple[Image.Image, list[tuple[int, float, float, float, float]]]:
    """One white frame and its YOLO boxes (class 0 the player, 1 a sprite)."""
    rng = random.Random(f"frame:{seed}")
    image = Image.new("RGB", SIZE, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.line([(0, GROUND), (SIZE[0], GROUND)], fill=INK, width=2)
    boxes = [(60, GROUND - 50, 92, GROUND)]
    draw.rectangle(boxes[0], fill=INK)
    for _ in range(rng.randint(2, 4)):
        w, h = rng.randint(14, 34), rng.randint(14, 40)
        x, bottom = rng.randrange(120, SIZE[0] - w), rng.choice([GROUND, rng.randrange(60, GROUND - 10)])
        box = (x, bottom - h, x + w, bottom)
        colour = (
            tuple(rng.randrange(30, 200) for _ in range(3)) if rng.random() < 0.5 else (rng.randrange(30, 120),) * 3
        )
        shape = rng.randrange(3)
        if shape == 0:
            draw.rectangle(box, fill=colour)
        elif shape == 1:
            draw.ellipse(box, fill=colour)
        else:
            draw.polygon([(box[0], box[3]), ((box[0] + box[2]) // 2, box[1]), (box[2], box[3])], fill=colour)
        boxes.append(box)
    font = ImageFont.load_default(size=14)
    draw.text((520, 20), f"HI {rng.randrange(100000):05d}  {rng.randrange(100000):05d}", fill=INK, font=font)
    labels = [
        (0 if n == 0 else 1, (x1 + x2) / 2 / SIZE[0], (y1 + y2) / 2 / SIZE[1], (x2 - x1) / SIZE[0], (y2 - y1) / SIZE[1])
        for n, (x1, y1, x2, y2) in enumerate(boxes)
    ]
    return image, labels


def screenshot(image: Image.Image, n: int) -> tuple[str, bytes]:
    """(extension, bytes) of a frame as screenshot tools save them: PNG, and every other one JPEG."""
    return ("jpg", jpeg_bytes(image, quality=90)) if n % 2 else ("png", png_bytes(image))


def near_copy(image: Image.Image, kind: str) -> bytes:
    """The frame as a near copy of `kind` (COPY_KINDS), as JPEG bytes."""
    if kind == "recompressed":
        return jpeg_bytes(image, quality=60)
    if kind == "shifted":
        moved = Image.new("RGB", SIZE, (255, 255, 255))
        moved.paste(image, (6, 3))
        return jpeg_bytes(moved)
    if kind == "resized":
        return jpeg_bytes(image.resize((800, 450), Image.Resampling.BICUBIC))
    if kind == "brightened":
        return jpeg_bytes(ImageEnhance.Brightness(image).enhance(1.1))
    raise ValueError(f"kind {kind!r} is not one of {COPY_KINDS}")


def game_dataset(root: Path, frames: int, copies: int = 0, seed: int = 0) -> dict[str, str]:
    """A YOLO dataset of `frames` different frames (70% train, 15% val, 15% test) and one near copy of each of the
    first `copies` train frames (of the kinds in turn), in val and test by turns; {near copy: the frame it
    copies}, paths from `root`."""
    n_train, n_val = round(frames * 0.7), round(frames * 0.15)
    if copies > n_train:
        raise ValueError(f"copies={copies} but only {n_train} train frames to copy")
    placed: list[tuple[str, str, bytes, list]] = []
    planted: dict[str, str] = {}
    for n in range(frames):
        split = "train" if n < n_train else "val" if n < n_train + n_val else "test"
        image, labels = frame(seed * 100_000 + n)
        extension, data = screenshot(image, n)
        placed.append((split, f"frame_{n:05d}.{extension}", data, labels))
        if n < copies:
            kind, target = COPY_KINDS[n % len(COPY_KINDS)], "val" if n % 2 == 0 else "test"
            placed.append((target, f"copy_{n:03d}_{kind}.jpg", near_copy(image, kind), labels))
            planted[f"images/{target}/copy_{n:03d}_{kind}.jpg"] = f"images/{split}/frame_{n:05d}.{extension}"
    for split, name, data, labels in placed:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        (root / "images" / split / name).write_bytes(data)
        rows = "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels)
        (root / "labels" / split / f"{Path(name).stem}.txt").write_text(rows)
    data_yaml = {"train": "images/train", "val": "images/val", "test": "images/test", "names": ["player", "sprite"]}
    (root / "data.yaml").write_text(yaml.safe_dump(data_yaml, sort_keys=False))
    return planted

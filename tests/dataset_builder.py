"""Small YOLO datasets built in a test's temporary folder, clean unless a test plants a defect."""

from __future__ import annotations

import io
import random
from pathlib import Path

import yaml
from PIL import Image

NAMES = ["cat", "dog"]
IMAGE_SIZE = (96, 64)


def noise_image(seed: int, size: tuple[int, int] = IMAGE_SIZE, mode: str = "RGB") -> Image.Image:
    """Random pixels: every seed gives a visually different image (no near-duplicates)."""
    rng = random.Random(seed)
    bands = len(mode)
    return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * bands))


def jpeg_bytes(image: Image.Image, quality: int = 90, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, **kwargs)
    return out.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def clean_dataset(root: Path, train: int = 12, val: int = 4) -> Path:
    """images/{train,val} + labels, two boxes per image (one cat, one dog), and a data.yaml."""
    seed = 0
    for split, count in (("train", train), ("val", val)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for k in range(count):
            seed += 1
            (root / "images" / split / f"{split}_{k}.jpg").write_bytes(jpeg_bytes(noise_image(seed)))
            (root / "labels" / split / f"{split}_{k}.txt").write_text("0 0.30 0.40 0.20 0.30\n1 0.70 0.60 0.25 0.35\n")
    write_yaml(root, {"train": "images/train", "val": "images/val", "names": NAMES})
    return root


def write_yaml(root: Path, data: dict) -> None:
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and modification time (to prove nothing was written)."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}

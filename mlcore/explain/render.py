"""Pictures of a map: the heatmap over the image (any opacity), the raw map as a 16-bit grayscale PNG, base64 for the
API. No torch: the app draws its overlays with these."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np

from mlcore.explain.saliency import BoxMap

BOX_COLOUR = (255, 255, 255)  # BGR: the explained box, drawn over the heatmap
MAP_SUFFIX = "_map.png"
OVERLAY_SUFFIX = "_overlay.png"


def overlay(
    image: np.ndarray, saliency: np.ndarray, opacity: float = 0.5, box: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    """The image (BGR) with the map's JET colours over it, and the box outlined; BGR uint8. Each pixel's colour is
    mixed in by `opacity` (0..1) times the square root of its value, so where the map is empty the image shows as it
    is."""
    saliency = np.clip(saliency, 0, 1).astype(np.float32)
    if saliency.shape[:2] != image.shape[:2]:
        saliency = cv2.resize(saliency, (image.shape[1], image.shape[0]))
    heat = cv2.applyColorMap((saliency * 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
    alpha = (float(np.clip(opacity, 0, 1)) * np.sqrt(saliency))[..., None]
    mixed = (heat * alpha + image.astype(np.float32) * (1 - alpha)).round().astype(np.uint8)
    if box is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        thickness = max(1, round(max(image.shape[:2]) / 300))
        cv2.rectangle(mixed, (x1, y1), (x2, y2), (0, 0, 0), thickness + 2)
        cv2.rectangle(mixed, (x1, y1), (x2, y2), BOX_COLOUR, thickness)
    return mixed


def map_png(saliency: np.ndarray) -> bytes:
    """The raw map, 0..1 as 0..65535, a 16-bit grayscale PNG of the image's size."""
    ok, data = cv2.imencode(".png", (np.clip(saliency, 0, 1) * 65535).round().astype(np.uint16))
    if not ok:
        raise ValueError("the map could not be encoded as PNG")
    return data.tobytes()


def png(image_bgr: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ValueError("the image could not be encoded as PNG")
    return data.tobytes()


def read_map_png(data: bytes) -> np.ndarray:
    """A map written by map_png, back as float32 0..1."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return pixels.astype(np.float32) / 65535


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_box_files(folder: Path, stem: str, image: np.ndarray, box: BoxMap, opacity: float = 0.5) -> dict[str, str]:
    """`{stem}_box{N}_map.png` (the raw map, 16-bit) and `{stem}_box{N}_overlay.png` in `folder`; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{stem}_box{box.index}"
    written = {"map": folder / f"{name}{MAP_SUFFIX}", "overlay": folder / f"{name}{OVERLAY_SUFFIX}"}
    written["map"].write_bytes(map_png(box.map))
    written["overlay"].write_bytes(png(overlay(image, box.map, opacity, box.target.box)))
    return {k: str(v) for k, v in written.items()}

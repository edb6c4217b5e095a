"""The square, padded input a detector sees (as Ultralytics' LetterBox makes it), and the way back to the image.

lb = Letterbox.of(image_bgr, 640)
lb.pixels                    # (640, 640, 3) uint8, BGR, grey padding
lb.to_input(box)             # image pixels -> input pixels
lb.to_image_map(saliency)    # a (640, 640) map -> the image's height x width, padding cut off
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FILL = 114  # Ultralytics' padding grey


@dataclass(frozen=True)
class Letterbox:
    pixels: np.ndarray
    scale: float
    left: int
    top: int
    inner: tuple[int, int]
    """(width, height) of the image inside the input."""
    original: tuple[int, int]
    """(width, height) of the image."""

    @classmethod
    def of(cls, image: np.ndarray, size: int) -> Letterbox:
        h, w = image.shape[:2]
        scale = min(size / h, size / w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        left, top = round((size - nw) / 2 - 0.1), round((size - nh) / 2 - 0.1)
        pixels = np.full((size, size, 3), FILL, dtype=np.uint8)
        pixels[top : top + nh, left : left + nw] = resized
        return cls(pixels, scale, left, top, (nw, nh), (w, h))

    def to_input(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = box
        s = self.scale
        return (x1 * s + self.left, y1 * s + self.top, x2 * s + self.left, y2 * s + self.top)

    def to_image(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = box
        s, (w, h) = self.scale, self.original
        return (
            float(np.clip((x1 - self.left) / s, 0, w)),
            float(np.clip((y1 - self.top) / s, 0, h)),
            float(np.clip((x2 - self.left) / s, 0, w)),
            float(np.clip((y2 - self.top) / s, 0, h)),
        )

    def to_image_map(self, saliency: np.ndarray) -> np.ndarray:
        nw, nh = self.inner
        inner = saliency[self.top : self.top + nh, self.left : self.left + nw]
        return cv2.resize(inner.astype(np.float32), self.original, interpolation=cv2.INTER_LINEAR)

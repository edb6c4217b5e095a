"""Images sent for prediction: checked and decoded as training decodes them (EXIF orientation applied),
before any model sees them.

    image = decode_image(data, "photo.jpg", settings.predict, content_type="image/jpeg")
    image.pixels   # H x W x 3 uint8, BGR (the order Ultralytics takes arrays in)

Pillow reads the header first (format, size: a decompression bomb is refused before anything is
decoded); JPEG and PNG are then decoded by OpenCV, as Ultralytics decodes files, the rest by Pillow.

Every refusal is an ImageRejected whose message names the file, what is wrong and what to send.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mlcore.core.settings import PredictLimits

FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP", "TIFF": "TIFF"}
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
ACCEPTED_NAMES = "JPEG, PNG, WebP, BMP or TIFF"
NEUTRAL_TYPES = ("application/octet-stream", "")  # clients that do not know the type
FAST_FORMATS = ("JPEG", "MPO", "PNG")  # decoded by OpenCV (as Ultralytics does); the others by Pillow
JPEG_TAIL = 4096  # a whole JPEG has its end-of-image marker here (some cameras append a little after it)


class ImageRejected(ValueError):
    """A file that cannot be predicted on; `status` is the HTTP answer it deserves."""

    def __init__(self, message: str, status: int = 422, code: str = "bad_image") -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class DecodedImage:
    name: str
    pixels: np.ndarray
    """H x W x 3, uint8, BGR."""

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def rgb(self) -> Image.Image:
        return Image.fromarray(np.ascontiguousarray(self.pixels[:, :, ::-1]))


def check_content_type(name: str, content_type: str | None) -> None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in NEUTRAL_TYPES and not kind.startswith("image/"):
        raise ImageRejected(
            f"{name} was sent as {kind}, not as an image; send it with its image type (e.g. image/jpeg).",
            status=415,
            code="wrong_content_type",
        )


def decode_image(data: bytes, name: str, limits: PredictLimits, content_type: str | None = None) -> DecodedImage:
    """The image in `data`, oriented as its EXIF says; ImageRejected when it cannot be used."""
    check_content_type(name, content_type)
    if not data:
        raise ImageRejected(f"{name} is empty (0 bytes); send the image file itself.")
    if len(data) > limits.max_image_bytes:
        raise ImageRejected(
            f"{name} is {len(data) / 2**20:.1f} MB; images up to {limits.max_image_bytes / 2**20:.0f} MB are accepted "
            "(ML_STUDIO_PREDICT_MAX_MB). Send it smaller.",
            status=413,
            code="too_large",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError):
        raise ImageRejected(f"{name} is not an image this studio can read; send a {ACCEPTED_NAMES} file.") from None
    with image:
        if image.format not in FORMATS:
            raise ImageRejected(f"{name} is a {image.format} image; send a {ACCEPTED_NAMES} file.", code="bad_format")
        if image.width * image.height > limits.max_pixels:
            raise ImageRejected(
                f"{name} is {image.width} x {image.height} pixels, more than the {limits.max_pixels / 1e6:.0f} million "
                "accepted (ML_STUDIO_PREDICT_MAX_MEGAPIXELS): it may be a decompression bomb. Send it smaller.",
                status=413,
                code="too_many_pixels",
            )
        if image.format in FAST_FORMATS and (pixels := _opencv_decode(data, image.format)) is not None:
            return DecodedImage(name, pixels)
        try:
            image.load()
            oriented = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected(f"{name} is truncated or damaged ({str(exc)[:120]}); send the whole file.") from None
    return DecodedImage(name, np.ascontiguousarray(np.asarray(oriented)[:, :, ::-1]))


def _opencv_decode(data: bytes, kind: str) -> np.ndarray | None:
    """JPEG and PNG through OpenCV, as Ultralytics reads files (EXIF orientation applied; three times faster
    than Pillow here). None for a file it cannot vouch for: Pillow then decodes it and names the damage.

    OpenCV fills a cut JPEG with grey instead of failing, so a JPEG must end with its end-of-image marker."""
    import cv2

    if kind in ("JPEG", "MPO") and b"\xff\xd9" not in data[-JPEG_TAIL:]:
        return None
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return pixels if pixels is not None and pixels.ndim == 3 else None

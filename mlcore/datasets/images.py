"""What validation needs to know about one image file, read once: size, format, EXIF, hashes.

JPEG and PNG headers are parsed directly from the bytes (no decode); other formats go through
Pillow. Pillow's decompression-bomb limit is applied to every image. The perceptual hash and the
foreground map (for near copies, see near_copies) come from one grey decode, of JPEGs at 1/8 scale
through Pillow's draft mode.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from mlcore.datasets.near_copies import foreground_map

# Ultralytics' IMG_FORMATS (8.4.190): files with other extensions are ignored by training.
IMAGE_EXTENSIONS = frozenset(
    {"avif", "bmp", "dng", "heic", "heif", "jp2", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp"}
)
EXTENSION_FORMAT = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "mpo": "jpeg",
    "png": "png",
    "bmp": "bmp",
    "webp": "webp",
    "tif": "tiff",
    "tiff": "tiff",
    "dng": "tiff",
    "heic": "heic",
    "heif": "heic",
    "avif": "avif",
    "jp2": "jp2",
    "gif": "gif",
}
MIN_SIDE = 10  # Ultralytics rejects images with a side of 9 px or less
SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # width and height swap when displayed


@dataclass(frozen=True)
class ImageFacts:
    """One image file as training will see it; `error` set means it cannot be used."""

    size_bytes: int
    mtime_ns: int
    sha: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    error: str | None = None
    phash: int | None = None
    crc: int | None = None
    """CRC-32 of the bytes read (the whole file when small, else its first 64 KiB): with the size, a
    cheap key that only byte-identical files share, so only those get a full content hash."""
    foreground: bytes | None = None
    """A mostly flat image's foreground map (near_copies.foreground_map); None for a textured image, or when
    the perceptual hash was not asked for."""

    @property
    def display_size(self) -> tuple[int, int] | None:
        """(width, height) with EXIF orientation applied, as training sees the pixels."""
        if self.width is None or self.height is None:
            return None
        if self.orientation in ROTATED_ORIENTATIONS:
            return self.height, self.width
        return self.width, self.height

    def to_row(self) -> list[Any]:
        """A compact list for the cache (field order; the perceptual hash as hex)."""
        return [
            self.size_bytes,
            self.mtime_ns,
            self.sha,
            self.format,
            self.width,
            self.height,
            self.orientation,
            self.error,
            None if self.phash is None else format(self.phash, "x"),
            self.crc,
            None if self.foreground is None else self.foreground.hex(),
        ]

    @classmethod
    def from_row(cls, row: list[Any]) -> ImageFacts:
        values = list(row)
        if values[8] is not None:
            values[8] = int(values[8], 16)
        if len(values) > 10 and values[10] is not None:
            values[10] = bytes.fromhex(values[10])
        return cls(*values)


def sniff_format(head: bytes) -> str | None:
    """The image format from the first bytes, or None when it is not an image we know."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
            return "heic"
    if head.startswith(b"\x00\x00\x00\x0cjP  "):
        return "jp2"
    return None


def _exif_orientation(segment: bytes) -> int | None:
    """Orientation tag (0x0112) of an APP1 Exif segment, or None."""
    tiff = segment[6:]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    endian = "<" if tiff[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(endian + "I", tiff, 4)
    if offset + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(endian + "H", tiff, offset)
    for k in range(count):
        entry = offset + 2 + 12 * k
        if entry + 12 > len(tiff):
            return None
        tag, kind = struct.unpack_from(endian + "HH", tiff, entry)
        if tag == 0x0112 and kind == 3:
            return struct.unpack_from(endian + "H", tiff, entry + 8)[0]
    return None


def _jpeg_header(data: bytes) -> tuple[int, int, int | None] | None:
    """(width, height, orientation) from JPEG markers; None when the markers do not parse."""
    i, n, orientation = 2, len(data), None
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xD9, 0xDA):
            return None  # image data started before a frame header
        (length,) = struct.unpack_from(">H", data, i + 2)
        segment = data[i + 4 : i + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00") and orientation is None:
            try:
                orientation = _exif_orientation(segment)
            except struct.error:
                orientation = None
        elif marker in SOF_MARKERS and len(segment) >= 5:
            height, width = struct.unpack_from(">HH", segment, 1)
            return width, height, orientation
        i += 2 + length
    return None


def _pillow_header(data: bytes) -> tuple[str | None, int, int, int | None]:
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        fmt = (im.format or "").lower() or None
        orientation = im.getexif().get(0x0112)
        im.verify()
    return fmt, width, height, orientation


def _grey(data: bytes) -> Image.Image:
    """The picture in grey, small: JPEGs decode at 1/8 scale (or the least reduction keeping 64 pixels a side)."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("L", (64, 64))
        return im.convert("L")


def perceptual_hash(data: bytes) -> int:
    """144-bit difference hash (rows and columns of a 9x9 grey thumbnail)."""
    return _difference_hash(_grey(data))


def near_copy_signature(data: bytes) -> tuple[int, bytes | None]:
    """The perceptual hash and the foreground map (None for a textured image) from one decode."""
    grey = _grey(data)
    return _difference_hash(grey), foreground_map(grey)


def _difference_hash(grey: Image.Image) -> int:
    px = grey.resize((9, 9), Image.Resampling.BILINEAR).tobytes()
    bits = 0
    for r in range(9):
        for c in range(8):
            bits = (bits << 1) | (px[r * 9 + c] < px[r * 9 + c + 1])
    for r in range(8):
        for c in range(9):
            bits = (bits << 1) | (px[r * 9 + c] < px[(r + 1) * 9 + c])
    return bits


HEAD_BYTES = 65536  # JPEG frame headers (after EXIF and its thumbnail) almost always lie in the first 64 KiB


def content_hash(path: str | Path) -> str:
    """Hash of the whole file, for exact-duplicate detection."""
    with open(path, "rb") as f:
        return hashlib.blake2b(f.read(), digest_size=16).hexdigest()


def _read(path: str | Path, whole: bool) -> tuple[os.stat_result, bytes, bytes]:
    """(stat, data, tail): the whole file, or its first 64 KiB and its last 64 bytes."""
    with open(path, "rb") as f:
        stat = os.fstat(f.fileno())
        if whole or stat.st_size <= HEAD_BYTES:
            data = f.read()
            return stat, data, data[-64:]
        data = f.read(HEAD_BYTES)
        return stat, data, os.pread(f.fileno(), 64, stat.st_size - 64)


def inspect_image(path: str | Path, with_phash: bool = False) -> ImageFacts:
    """Describe the image at `path`, reading as little as possible. Never raises: see `error`.

    Only the header and the last bytes are read, unless the perceptual hash is wanted or the
    format needs Pillow; `sha` is left for `content_hash`, needed only when sizes collide.
    """
    try:
        stat, data, tail = _read(path, whole=with_phash)
        if not with_phash and sniff_format(data[:16]) not in ("jpeg", "png") and len(data) < stat.st_size:
            stat, data, tail = _read(path, whole=True)
    except PermissionError:
        return ImageFacts(0, 0, error="no permission to read the file; make it readable (chmod a+r).")
    except OSError as exc:
        return ImageFacts(0, 0, error=f"cannot be read: {exc.strerror or exc}.")
    base: dict[str, Any] = {"size_bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if not data:
        return ImageFacts(**base, error="empty file (0 bytes); re-export or remove it.")
    sha = hashlib.blake2b(data, digest_size=16).hexdigest() if len(data) == stat.st_size and with_phash else None
    fmt = sniff_format(data[:16])
    header = _jpeg_header(data) if fmt == "jpeg" else None
    if fmt == "jpeg" and header is None and len(data) < stat.st_size:  # frame header beyond the first 64 KiB
        stat, data, tail = _read(path, whole=True)
        header = _jpeg_header(data)
    try:
        if header is not None:
            width, height, orientation = header
        elif fmt == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
            (width, height), orientation = struct.unpack_from(">II", data, 16), None
        else:
            fmt2, width, height, orientation = _pillow_header(data)
            fmt = fmt or fmt2
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError):
        what = "not an image Pillow can read" if fmt is None else f"a damaged {fmt.upper()} file"
        return ImageFacts(**base, sha=sha, format=fmt, error=f"{what}; re-export it or remove it.")
    facts: dict[str, Any] = {
        "sha": sha,
        "format": fmt,
        "width": width,
        "height": height,
        "orientation": orientation,
        "crc": zlib.crc32(data),
    }
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > 2 * limit:
        return ImageFacts(
            **base,
            **facts,
            error=(
                f"{width}x{height} = {width * height:,} pixels is over Pillow's safety limit ({2 * limit:,}): "
                "possibly a decompression bomb; resize it."
            ),
        )
    if fmt == "jpeg" and b"\xff\xd9" not in tail:
        return ImageFacts(
            **base,
            **facts,
            error=(
                "truncated: the JPEG end marker is missing (Ultralytics would rewrite the file in place); "
                "re-export the image."
            ),
        )
    if fmt == "png" and b"IEND" not in tail[-12:]:
        return ImageFacts(**base, **facts, error="truncated: the PNG ends before its IEND chunk; re-export the image.")
    phash = foreground = None
    if with_phash:
        try:
            phash, foreground = near_copy_signature(data)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            return ImageFacts(**base, **facts, error=f"the pixels cannot be decoded ({exc}); re-export the image.")
    return ImageFacts(**base, **facts, phash=phash, foreground=foreground)

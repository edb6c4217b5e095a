import io
from pathlib import Path

import pytest
from PIL import Image

from mlcore.datasets import images as image_facts
from mlcore.datasets.images import content_hash, inspect_image, sniff_format
from tests.dataset_builder import jpeg_bytes, noise_image, png_bytes


def test_jpeg_header_size_and_exif_without_decoding(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes(noise_image(1, (120, 80)), exif=exif))
    facts = inspect_image(path)
    assert (facts.format, facts.width, facts.height, facts.orientation) == ("jpeg", 120, 80, 8)
    assert facts.display_size == (80, 120) and facts.error is None and facts.crc is not None


def test_large_jpeg_is_read_only_in_part_and_hashes_match(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes(noise_image(2, (900, 700)), quality=95))
    assert path.stat().st_size > image_facts.HEAD_BYTES
    facts = inspect_image(path)
    assert facts.error is None and (facts.width, facts.height) == (900, 700)
    assert content_hash(path) == inspect_image(path, with_phash=True).sha


def test_other_formats_go_through_pillow(tmp_path: Path) -> None:
    out = io.BytesIO()
    noise_image(3, (40, 30)).save(out, format="BMP")
    (tmp_path / "a.bmp").write_bytes(out.getvalue())
    facts = inspect_image(tmp_path / "a.bmp")
    assert (facts.format, facts.width, facts.height) == ("bmp", 40, 30)
    (tmp_path / "b.png").write_bytes(png_bytes(noise_image(4, (33, 22), mode="L")))
    assert inspect_image(tmp_path / "b.png").display_size == (33, 22)
    assert sniff_format(b"GIF89a....") == "gif" and sniff_format(b"hello") is None


def test_no_permission_is_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(image_facts, "open", refuse, raising=False)
    facts = inspect_image(tmp_path / "x.jpg")
    assert facts.error and "no permission" in facts.error and "chmod" in facts.error


def test_perceptual_hash_is_stable_under_recompression(tmp_path: Path) -> None:
    image = noise_image(5, (200, 150))
    a = image_facts.perceptual_hash(jpeg_bytes(image, quality=95))
    b = image_facts.perceptual_hash(jpeg_bytes(image, quality=60))
    c = image_facts.perceptual_hash(jpeg_bytes(noise_image(6, (200, 150))))
    assert (a ^ b).bit_count() <= 8 < (a ^ c).bit_count()

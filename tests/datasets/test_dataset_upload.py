"""Uploaded dataset archives: extracted under the outputs root, or refused whole with the reason."""

from __future__ import annotations

import dataclasses
import io
import stat
import zipfile
from pathlib import Path

import pytest

from mlcore.core.safe_paths import resolve_user_path
from mlcore.core.settings import Settings
from mlcore.datasets.upload import UploadRefused, extract_dataset_zip
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.validate import validate


def zipped(members: dict[str, bytes], links: tuple[str, ...] = ()) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    buffer.seek(0)
    return buffer


def folder_zip(root: Path, prefix: str = "") -> io.BytesIO:
    return zipped({prefix + str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})


def test_a_zipped_dataset_folder_is_extracted_validated_and_usable(settings: Settings, small_dataset: Path) -> None:
    seen: list[tuple[int, int]] = []
    archive = folder_zip(small_dataset, "logos/")
    folder = extract_dataset_zip(archive, "logos", settings, lambda done, total: seen.append((done, total)))
    assert folder == settings.uploads_dir / "logos" / "logos" and (folder / "data.yaml").exists()
    assert seen and seen[-1][0] == seen[-1][1]  # progress reached the end
    assert resolve_user_path(str(folder), settings.dataset_roots) == folder  # the uploads folder is always a root
    assert validate(folder, ValidationOptions(near_duplicates=False)).verdict in ("ready", "ready_with_warnings")
    flat = extract_dataset_zip(folder_zip(small_dataset), "flat", settings)
    assert flat == settings.uploads_dir / "flat"
    with pytest.raises(UploadRefused, match="uploaded before"):
        extract_dataset_zip(folder_zip(small_dataset), "flat", settings)


@pytest.mark.parametrize(
    ("members", "links", "fragment"),
    [
        ({"../evil.txt": b"x"}, (), "climbs out"),
        ({"ok/../../evil.txt": b"x"}, (), "climbs out"),
        ({"a\\..\\..\\evil.txt": b"x"}, (), "climbs out"),
        ({"/tmp/evil.txt": b"x"}, (), "absolute path"),
        ({"C:/evil.txt": b"x"}, (), "absolute path"),
        ({"data.yaml": b"x"}, ("images/link",), "symbolic link"),
    ],
)
def test_archives_that_could_write_outside_are_refused_whole(
    settings: Settings, tmp_path: Path, members: dict, links: tuple, fragment: str
) -> None:
    with pytest.raises(UploadRefused, match=fragment):
        extract_dataset_zip(zipped({"data.yaml": b"names: [a]\n", **members}, links), "evil", settings)
    assert not (settings.uploads_dir / "evil").exists()
    assert not any(settings.uploads_dir.glob(".*")) if settings.uploads_dir.exists() else True
    assert not list(tmp_path.rglob("evil.txt"))


def test_zip_bombs_and_broken_archives_are_refused(settings: Settings) -> None:
    small = dataclasses.replace(settings, upload_max_bytes=10 * 2**20, upload_max_files=5)
    with pytest.raises(UploadRefused, match="more than the 5 allowed"):
        extract_dataset_zip(zipped({f"f{i}.txt": b"x" for i in range(6)}), "many", small)
    bomb = zipped({"zeros.bin": bytes(50 * 2**20)})  # 50 MiB of zeros, about 50 KiB zipped
    assert len(bomb.getvalue()) < 2**20
    with pytest.raises(UploadRefused, match="more than 10 MiB"):
        extract_dataset_zip(bomb, "bomb", small)
    understated = bytearray(zipped({"big.bin": bytes(2 * 2**20)}).getvalue())
    true_size = (2 * 2**20).to_bytes(4, "little")
    understated = understated.replace(true_size, (100).to_bytes(4, "little"))  # local and central headers lie
    with pytest.raises(UploadRefused, match="damaged"):
        extract_dataset_zip(io.BytesIO(bytes(understated)), "liar", small)
    with pytest.raises(UploadRefused, match="not a readable zip"):
        extract_dataset_zip(io.BytesIO(b"this is not a zip"), "junk", small)
    with pytest.raises(UploadRefused, match="use letters"):
        extract_dataset_zip(zipped({"a": b"x"}), "../up", small)
    assert not [p for p in small.uploads_dir.iterdir()] if small.uploads_dir.exists() else True

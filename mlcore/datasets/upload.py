"""A dataset uploaded as a zip file, extracted safely under <outputs>/datasets/uploads/{name}/.

Every member is checked before anything is written: no absolute path, drive letter, `..` part,
NUL byte or link (zip-slip), and at most `upload_max_files` members of at most
`upload_max_bytes` together, counting the bytes actually written, since a zip can understate its
sizes (zip bomb). Extraction goes to a temporary folder that is moved into place only when
complete, so a refused or broken upload leaves nothing behind. Before it is moved, every data.yaml in it is read
as the loader reads it, with the upload as the only allowed folder: a `path:`, split entry or image list line
that leads out of the upload refuses the archive.

    folder = extract_dataset_zip(open("logos.zip", "rb"), "logos", settings)
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from mlcore.core.settings import Settings
from mlcore.datasets.loader import YAML_NAMES, DatasetError, load_dataset, outside_entries

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CHUNK = 1 << 20
Progress = Callable[[int, int], None]


class UploadRefused(ValueError):
    """The archive or the name cannot be used; the message says why and what to do."""


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path, None for a folder entry; UploadRefused for anything that could escape."""
    name = info.filename.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UploadRefused(f"the archive holds {info.filename!r}, an absolute path; it is refused as a whole.")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise UploadRefused(f"the archive holds {info.filename!r}, which climbs out of its folder ('..'); refused.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UploadRefused(f"the archive holds {info.filename!r}, a symbolic link; links are refused.")
    if info.is_dir():
        return None
    clean = [p for p in parts if p not in ("", ".")]
    return PurePosixPath(*clean) if clean else None


def extract_dataset_zip(
    source: BinaryIO | Path, name: str, settings: Settings, progress: Progress | None = None
) -> Path:
    """Extract the archive into uploads/{name}/ and return the dataset folder inside it."""
    if not NAME_PATTERN.match(name):
        raise UploadRefused(f"name={name!r}; use letters, digits, '_', '-' and '.', up to 64, starting with a letter.")
    target = settings.uploads_dir / name
    if target.exists():
        raise UploadRefused(f"a dataset named {name!r} was uploaded before; pick another name.")
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadRefused(f"the file is not a readable zip archive ({exc}).") from None
    with archive:
        members = archive.infolist()
        if len(members) > settings.upload_max_files:
            raise UploadRefused(
                f"the archive holds {len(members):,} entries, more than the {settings.upload_max_files:,} allowed "
                "(ML_STUDIO_UPLOAD_MAX_FILES)."
            )
        planned = [(info, _member_path(info)) for info in members]
        declared = sum(info.file_size for info, _ in planned)
        if declared > settings.upload_max_bytes:
            raise UploadRefused(_too_large(declared, settings))
        staging = settings.uploads_dir / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            _write_members(archive, planned, staging, settings, progress)
            _check_datasets(staging, [relative for _, relative in planned if relative is not None])
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    staging.rename(target)
    return dataset_folder(target)


def _write_members(archive, planned, staging: Path, settings: Settings, progress: Progress | None) -> None:
    written, total = 0, sum(info.file_size for info, _ in planned)
    for info, relative in planned:
        if relative is None:
            continue
        destination = staging.joinpath(*relative.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(info) as member, destination.open("wb") as out:
                while chunk := member.read(CHUNK):
                    written += len(chunk)
                    if written > settings.upload_max_bytes:  # the archive understated its sizes
                        raise UploadRefused(_too_large(written, settings))
                    out.write(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise UploadRefused(f"{info.filename} cannot be extracted ({exc}); the archive is damaged.") from None
        if progress:
            progress(written, total)


def _check_datasets(folder: Path, members: list[PurePosixPath]) -> None:
    """UploadRefused naming the first entry of a data.yaml in the archive that leads out of it."""
    real = folder.resolve()
    for member in members:
        if member.name not in YAML_NAMES:
            continue
        try:
            dataset = load_dataset(folder.joinpath(*member.parts), roots=(real,))
        except DatasetError:
            continue  # not readable as a dataset at all: validation says why
        if refused := outside_entries(dataset):
            why = refused[0].split("; ")[0]
            raise UploadRefused(
                f"the archive's {member} leads out of the archive: {why}; an uploaded dataset may point only at "
                "its own files. It is refused as a whole."
            )


def _too_large(size: int, settings: Settings) -> str:
    return (
        f"the archive unpacks to more than {settings.upload_max_bytes / 2**20:,.0f} MiB ({size / 2**20:,.0f} MiB "
        "so far); upload a smaller dataset or raise ML_STUDIO_UPLOAD_MAX_MB."
    )


def dataset_folder(target: Path) -> Path:
    """The dataset inside an extracted archive: the folder itself, or its only sub-folder (zip of a folder)."""
    entries = [p for p in target.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir() and not (target / "data.yaml").exists():
        return entries[0]
    return target

"""The sha256 of a model: a weights file, an export file, or an export folder (OpenVINO), remembered
until the file changes (keyed on path, size and modification time), and a copy that hashes as it goes.

    digest = file_sha256(Path("trainings/logos/v1/weights/best.pt"))
    digest = copy_with_sha256(source, target)     # one read of the source
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

BLOCK = 1 << 20


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


@lru_cache(maxsize=1024)
def _file_digest(path: str, stamp: tuple[int, int]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file; of a folder, the sha256 of its files' names and digests. OSError when unreadable."""
    if path.is_dir():
        digest = hashlib.sha256()
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{member.relative_to(path).as_posix()}\0{file_sha256(member)}\n".encode())
        return digest.hexdigest()
    return _file_digest(str(path), _stamp(path))


def copy_with_sha256(source: Path, target: Path) -> str:
    """Copy `source` to `target` (written under a temporary name, then moved into place); its sha256."""
    digest = hashlib.sha256()
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with open(source, "rb") as reader, open(partial, "wb") as writer:
            for block in iter(lambda: reader.read(BLOCK), b""):
                digest.update(block)
                writer.write(block)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return digest.hexdigest()

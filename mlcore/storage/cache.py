"""The pull cache: how much it holds, and trimming what no pulled copy uses.

    usage = cache_usage(settings)                   # objects, bytes, unused objects and bytes, pulled copies
    freed = trim_cache(settings, forget=["s3://ml-data/logos/v1"])  # that copy, then every unused object

A pulled copy's files are hard links to its objects, so an object no copy links to (one link left) is unused.
An object fetched within the last hour is kept: a pull still placing it would lose it. Nothing in a bucket is
touched; a forgotten dataset is pulled again, in full, the next time it is used.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from mlcore.core.settings import Settings
from mlcore.storage.locations import StorageError, parse_target
from mlcore.storage.pull import INDEX, dataset_folder, objects_folder, pulled_datasets

RECENT_S = 3600.0  # an object younger than this may be one a running pull has not linked yet


def _objects(settings: Settings) -> list[os.stat_result]:
    folder = objects_folder(settings)
    found = []
    for entry in os.scandir(folder) if folder.is_dir() else []:
        if entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(".part"):
            found.append(entry.stat())
    return found


def cache_usage(settings: Settings) -> dict[str, Any]:
    stats = _objects(settings)
    unused = [s for s in stats if s.st_nlink <= 1]
    return {
        "folder": str(objects_folder(settings)),
        "objects": len(stats),
        "bytes": sum(s.st_size for s in stats),
        "unused_objects": len(unused),
        "unused_bytes": sum(s.st_size for s in unused),
        "datasets": pulled_datasets(settings),
    }


def trim_cache(settings: Settings, forget: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Remove the pulled copies of `forget` (their URLs), then every object no copy uses; what was freed."""
    removed_copies = []
    for url in forget:
        folder = dataset_folder(parse_target(url, settings), settings)
        if not (folder / INDEX).is_file():
            pulled = ", ".join(r["url"] for r in pulled_datasets(settings)) or "none"
            raise StorageError(f"{url} has no pulled copy here (pulled: {pulled}); nothing was removed.")
        shutil.rmtree(folder)
        removed_copies.append(str(folder))
    now, objects, freed = time.time(), 0, 0
    folder = objects_folder(settings)
    for entry in os.scandir(folder) if folder.is_dir() else []:
        if not entry.is_file() or entry.name.startswith("."):
            continue
        stat = entry.stat()
        if stat.st_nlink <= 1 and now - stat.st_mtime > RECENT_S:
            Path(entry.path).unlink(missing_ok=True)
            objects += 1
            freed += stat.st_size
    return {"forgotten": removed_copies, "objects_removed": objects, "bytes_freed": freed}

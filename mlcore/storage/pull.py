"""Pulling a dataset from a bucket into the studio's cache, where validation, training and evaluation read it.

    pulled = pull("s3://ml-data/logos/v3", settings, progress=lambda done, total: ...)
    pulled.path          # ml_outputs/datasets/s3/ml-data/logos/v3/: an ordinary dataset folder
    pulled.fingerprint   # the listing's (keys, ETags, sizes): the dataset's identity with its URL

Objects are kept once, by ETag and size, under cache/objects/ (content-addressed); the dataset's folder holds
hard links to them, so a second pull fetches only the objects that changed, and two versions that share images
share their bytes. A transfer cut off half-way goes on from where it stopped (a ranged GET). A single-part
object's MD5 is checked against its ETag. A `download:` key in a pulled data.yaml is dropped (Ultralytics would
run it) and the pull says so. Nothing is ever written into the bucket.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.settings import Settings
from mlcore.core.user_yaml import UnsafeYaml, read_yaml_text
from mlcore.storage.client import client_for, refusal
from mlcore.storage.locations import StorageError, Target, checked_key, parse_target

INDEX = ".ml-studio-pull.json"  # in a pulled dataset's folder: where it came from, its listing and fingerprint
STORAGE_DIR = "s3"  # under datasets/: one folder per bucket and prefix
OBJECTS_DIR = "objects"  # under cache/: every object pulled, by ETag and size
WORKERS = 8
CHUNK = 1 << 20
DROPPED_KEYS = ("download",)  # data.yaml keys Ultralytics would execute

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StoredObject:
    key: str
    """Relative to the target's prefix."""
    etag: str
    size: int

    @property
    def blob_name(self) -> str:
        return hashlib.sha256(f"{self.etag}:{self.size}".encode()).hexdigest()


@dataclass
class Pulled:
    path: Path
    url: str
    location: str
    """The location's name (DEFAULT for plain s3:// URLs): with the URL, where to pull it again."""
    endpoint: str
    fingerprint: str
    objects: int
    fetched: int
    reused: int
    bytes_fetched: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def listing(s3: Any, target: Target) -> list[StoredObject]:
    """Every object under the target's prefix (folder markers left out), sorted by key."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=target.prefix):
        for item in page.get("Contents") or []:
            key = item["Key"][len(target.prefix) :]
            if not key or key.endswith("/"):
                continue
            found.append(StoredObject(checked_key(key), str(item.get("ETag", "")).strip('"'), int(item["Size"])))
    return sorted(found, key=lambda o: o.key)


def fingerprint(objects: list[StoredObject]) -> str:
    digest = hashlib.sha256()
    for o in objects:
        digest.update(f"{o.key}\0{o.etag}\0{o.size}\n".encode())
    return digest.hexdigest()


def dataset_folder(target: Target, settings: Settings, root: Path | None = None) -> Path:
    """Where a target's dataset is pulled to: an allowed dataset folder under `root`'s datasets/ (the outputs', or
    a Ray node's own cache)."""
    parts = [p for p in target.prefix.strip("/").split("/") if p] or ["_whole-bucket"]
    return pulled_root(settings, root) / target.bucket / Path(*parts)


def pulled_root(settings: Settings, root: Path | None = None) -> Path:
    """The folder every pulled dataset lies under (datasets/s3/ of the outputs, or of `root`)."""
    return (root or settings.outputs_root) / paths.DATASETS_DIR / STORAGE_DIR


def objects_folder(settings: Settings, root: Path | None = None) -> Path:
    return (root or settings.outputs_root) / paths.CACHE_DIR / OBJECTS_DIR


def _fetch(s3: Any, target: Target, item: StoredObject, blob: Path) -> int:
    """Download one object into its blob (going on from a partial file); the bytes fetched."""
    part = blob.with_suffix(".part")
    have = part.stat().st_size if part.exists() else 0
    if have > item.size:
        part.unlink()
        have = 0
    fetched = 0
    part.touch()  # an empty object (a background image's label file) is an empty file
    if have < item.size:
        extra = {"Range": f"bytes={have}-"} if have else {}
        body = s3.get_object(Bucket=target.bucket, Key=target.key(item.key), **extra)["Body"]
        with open(part, "ab") as out:
            for chunk in iter(lambda: body.read(CHUNK), b""):
                out.write(chunk)
                fetched += len(chunk)
    if part.stat().st_size != item.size:
        raise StorageError(f"{target.url}{item.key}: {part.stat().st_size} bytes arrived of {item.size}; pull again.")
    if item.etag and "-" not in item.etag and len(item.etag) == 32:  # a single-part upload's ETag is its MD5
        digest = hashlib.md5(usedforsecurity=False)
        with open(part, "rb") as source:
            for chunk in iter(lambda: source.read(CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != item.etag:
            part.unlink()
            raise StorageError(f"{target.url}{item.key} arrived damaged (its MD5 differs from its ETag); pull again.")
    os.replace(part, blob)
    return fetched


def _place(blob: Path, dest: Path) -> None:
    """`dest` becomes a hard link to `blob` (a copy where the file system has no links)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and os.path.samefile(blob, dest):
        return
    temporary = dest.with_name(f".{dest.name}.placing")
    temporary.unlink(missing_ok=True)
    try:
        os.link(blob, temporary)
    except OSError:
        shutil.copyfile(blob, temporary)
    os.replace(temporary, dest)


def _clean_yaml(folder: Path, objects: list[StoredObject]) -> list[str]:
    """Drop the keys Ultralytics would run from the dataset's top-level YAML files (written fresh, not linked)."""
    warnings = []
    for item in objects:
        if "/" in item.key or not item.key.endswith((".yaml", ".yml")):
            continue
        path = folder / item.key
        try:
            data = read_yaml_text(path.read_text(encoding="utf-8"), item.key)
        except (OSError, UnicodeDecodeError, UnsafeYaml, yaml.YAMLError):
            continue  # validation says what is wrong with it
        if isinstance(data, dict) and any(k in data for k in DROPPED_KEYS):
            kept = {k: v for k, v in data.items() if k not in DROPPED_KEYS}
            path.unlink()
            path.write_text(yaml.safe_dump(kept, sort_keys=False))
            warnings.append(
                f"{item.key}: its `download:` entry was dropped; the studio never runs code a dataset carries."
            )
    return warnings


def pull(
    text: str | Target,
    settings: Settings,
    progress: Progress | None = None,
    workers: int = WORKERS,
    root: Path | None = None,
) -> Pulled:
    """The dataset at `text` (s3://BUCKET/PREFIX or LOCATION:PREFIX) in the cache, fetching only what changed; under
    `root` instead of the outputs when given (a Ray node's own cache)."""
    target = parse_target(text, settings) if isinstance(text, str) else text
    started = time.perf_counter()
    folder = dataset_folder(target, settings, root)
    blobs = objects_folder(settings, root)
    blobs.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    with open(blobs / f".{hashlib.sha256(target.url.encode()).hexdigest()[:16]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one pull of a place at a time; a second one finds it done
        try:
            s3 = client_for(target.location, settings)
            objects = listing(s3, target)
        except Exception as exc:  # noqa: BLE001 - every failure of the listing becomes its message
            raise refusal(exc, target) from None
        if not objects:
            raise StorageError(f"there is nothing under {target.url} on {target.location.where}; check the prefix.")
        missing = [o for o in objects if not (blobs / o.blob_name).is_file()]
        total, done, fetched_bytes = len(objects), len(objects) - len(missing), 0
        if progress:
            progress(done, total)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(_fetch, s3, target, o, blobs / o.blob_name): o for o in missing}
            for future in as_completed(futures):
                try:
                    fetched_bytes += future.result()
                except Exception as exc:  # noqa: BLE001 - the first failure ends the pull with its message
                    for other in futures:
                        other.cancel()
                    raise refusal(exc, target) from None
                done += 1
                if progress:
                    progress(done, total)
        wanted = {o.key for o in objects}
        for o in objects:
            _place(blobs / o.blob_name, folder / o.key)
        for path in sorted(folder.rglob("*"), reverse=True):
            relative = path.relative_to(folder).as_posix()
            if path.is_file() and relative != INDEX and relative not in wanted:
                path.unlink()  # gone from the bucket: gone from the pulled copy
        warnings = _clean_yaml(folder, objects)
        pulled = Pulled(
            folder,
            target.url,
            target.location.name,
            target.location.where,
            fingerprint(objects),
            len(objects),
            len(missing),
            len(objects) - len(missing),
            fetched_bytes,
            round(time.perf_counter() - started, 3),
            warnings,
        )
        write_json_atomically(
            folder / INDEX,
            {**pulled.to_dict(), "pulled_at": time.time(), "listing": [asdict(o) for o in objects]},
        )
    return pulled


def pulled_from(folder: Path) -> dict[str, Any] | None:
    """Where a dataset folder was pulled from (its URL and fingerprint), when it was."""
    try:
        data = json.loads((folder / INDEX).read_text())
    except (OSError, ValueError):
        return None
    return {k: data.get(k) for k in ("url", "location", "endpoint", "fingerprint", "objects", "pulled_at")}


def pulled_copy(path: Path, settings: Settings) -> tuple[Path, dict[str, Any]] | None:
    """The pulled dataset folder that `path` (the folder, its data.yaml or a file in it) lies in, with its record;
    None for a path that is no pulled copy in the outputs."""
    top = pulled_root(settings)
    path = Path(path)
    if not path.is_relative_to(top):
        return None
    for folder in (path, *path.parents):
        if folder == top or not folder.is_relative_to(top):
            return None
        try:
            return folder, json.loads((folder / INDEX).read_text())
        except (OSError, ValueError):
            continue
    return None


def pulled_datasets(settings: Settings) -> list[dict[str, Any]]:
    """Every dataset pulled into the outputs: its folder, URL and when it was pulled, newest first."""
    found = []
    for folder, subfolders, files in os.walk(pulled_root(settings)):
        if INDEX in files:
            subfolders.clear()  # a pulled copy's own folders hold no other
            record = pulled_from(Path(folder))
            if record and record.get("url"):
                found.append({**record, "path": folder})
    return sorted(found, key=lambda r: -(r.get("pulled_at") or 0))

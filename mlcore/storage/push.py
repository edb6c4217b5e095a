"""Results to a bucket: a finished job's folder (and a registered version) uploaded where the rest of a team's stack
reads them, under the same names as under the outputs (`PREFIX/trainings/{project}/{experiment}/weights/best.pt`).

    state = push_results(folder, "training", settings)   # {"state": "uploaded" | "pending", "url", ...}
    retry_pending(settings)                              # the uploads a lost connection left, tried again

Each file is stored with its SHA-256 (object metadata `sha256`); a file already there with the same hash is not sent
again. A manifest of every file's hash, `.ml-studio-manifest.json`, goes last. An upload that fails leaves the job and
its local folder as they are: the folder records "pending" with the reason, and the next scheduling step tries
again. The folder's `.ml-studio-upload.json` says where its results live (the pages show it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.settings import Settings
from mlcore.storage.client import client_for, refusal
from mlcore.storage.locations import StorageError, Target, parse_target

UPLOAD_STATE = ".ml-studio-upload.json"  # in an uploaded folder: where it went, or why it has not yet
MANIFEST = ".ml-studio-manifest.json"  # in the bucket, beside the files: every file's hash and size, written last
PENDING_DIR = "uploads"  # under cache/: one file per upload still to do
UPLOADING, UPLOADED, PENDING = "uploading", "uploaded", "pending"
SKIPPED_SUFFIXES = (".part", ".placing", ".lock")
CHUNK = 1 << 20
DATASET_RESULTS = "dataset"  # the kind of a dataset version written to a bucket (`dataset version --to`)
RETRY_AFTER_S = 30.0  # a pending upload is tried again at most this often (pages look at the queue every 2 s)


def results_target(settings: Settings) -> Target | None:
    return parse_target(settings.results_url, settings) if settings.results_url else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.name not in (UPLOAD_STATE,) and not p.name.endswith(SKIPPED_SUFFIXES)
    )


def upload_state(folder: Path) -> dict[str, Any] | None:
    """Where `folder`'s results live in storage, or why they are not there yet; None when they are not sent."""
    try:
        return json.loads((folder / UPLOAD_STATE).read_text())
    except (OSError, ValueError):
        return None


def push_folder(folder: Path, settings: Settings, target: Target) -> dict[str, Any]:
    """Upload `folder` under the target, each file by its place under the outputs; the upload state."""
    relative = folder.relative_to(settings.outputs_root).as_posix()
    s3 = client_for(target.location, settings)
    manifest: dict[str, dict[str, Any]] = {}
    sent = 0
    for path in _files(folder):
        name = path.relative_to(folder).as_posix()
        key = target.key(f"{relative}/{name}")
        digest = _sha256(path)
        manifest[name] = {"sha256": digest, "size": path.stat().st_size}
        try:
            there = s3.head_object(Bucket=target.bucket, Key=key)
            if there.get("Metadata", {}).get("sha256") == digest and there.get("ContentLength") == path.stat().st_size:
                continue
        except Exception as exc:  # noqa: BLE001 - 404: not there yet; anything else fails the upload below
            if getattr(exc, "response", {}).get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3.upload_file(str(path), target.bucket, key, ExtraArgs={"Metadata": {"sha256": digest}})
        sent += 1
    body = json.dumps({"folder": relative, "files": manifest, "uploaded_at": time.time()}, indent=2).encode()
    s3.put_object(Bucket=target.bucket, Key=target.key(f"{relative}/{MANIFEST}"), Body=body)
    return {
        "state": UPLOADED,
        "url": f"{target.url}{relative}/",
        "endpoint": target.location.where,
        "files": len(manifest),
        "sent": sent,
        "at": time.time(),
    }


def _pending_file(folder: Path, settings: Settings) -> Path:
    name = hashlib.sha256(str(folder).encode()).hexdigest()[:24]
    return settings.outputs_root / paths.CACHE_DIR / PENDING_DIR / f"{name}.json"


def push_results(
    folder: Path, kind: str, settings: Settings, announce: bool = True, destination: str = ""
) -> dict[str, Any] | None:
    """Upload a finished job's folder when results go to storage and `kind` is among them, or to `destination` (a
    batch prediction's own output_url); never raises: a failed upload is recorded as pending, with its reason, for
    the next scheduling step to try again. `announce`: say "uploading" meanwhile (the worker does; a retry beside a
    page's read leaves "pending" until it is done)."""
    url = destination or (settings.results_url if kind in settings.results_kinds else "")
    if not url or not folder.is_dir():
        return None
    pending = _pending_file(folder, settings)
    if announce:
        write_json_atomically(folder / UPLOAD_STATE, {"state": UPLOADING, "kind": kind, "at": time.time()})
    try:
        target = parse_target(url, settings)
        state = push_folder(folder, settings, target)
    except StorageError as exc:
        state = _pending(pending, folder, kind, str(exc), destination)
    except Exception as exc:  # noqa: BLE001 - the job and its local results stand; the upload waits
        state = _pending(pending, folder, kind, str(refusal(exc, target)), destination)
    else:
        pending.unlink(missing_ok=True)
    write_json_atomically(folder / UPLOAD_STATE, state)
    return state


def _pending(pending: Path, folder: Path, kind: str, reason: str, url: str) -> dict[str, Any]:
    pending.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(
        pending, {"folder": str(folder), "kind": kind, "error": reason, "url": url, "tried": time.time()}
    )
    return {"state": PENDING, "error": reason, "kind": kind, "at": time.time()}


def has_pending(settings: Settings) -> bool:
    root = settings.outputs_root / paths.CACHE_DIR / PENDING_DIR
    return root.is_dir() and any(root.glob("*.json"))


def retry_pending(settings: Settings, min_wait_s: float = RETRY_AFTER_S) -> list[dict[str, Any]]:
    """Try the pending uploads again, each at most every `min_wait_s` (one process at a time; another that finds them
    being tried goes on)."""
    root = settings.outputs_root / paths.CACHE_DIR / PENDING_DIR
    entries = sorted(root.glob("*.json")) if root.is_dir() else []
    if not entries:
        return []
    done = []
    with open(root / ".retrying.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return []
        for entry in entries:
            try:
                data = json.loads(entry.read_text())
            except (OSError, ValueError):
                entry.unlink(missing_ok=True)
                continue
            if time.time() - float(data.get("tried") or 0) < min_wait_s:
                continue
            state = push_results(
                Path(data["folder"]), data["kind"], settings, announce=False, destination=data.get("url") or ""
            )
            if state is not None:
                done.append(state)
            if state is None or state["state"] != UPLOADED:
                break  # the storage is still away: the others wait for the next step
    return done


def where_text(folder: Path) -> str | None:
    """Where a folder's results live in storage, in words for a page; None when results are not sent there."""
    state = upload_state(folder)
    if state is None:
        return None
    if state["state"] == UPLOADED:
        return f"In storage: {state['url']} ({state['files']} files, on {state['endpoint']})."
    if state["state"] == UPLOADING:
        return "Uploading to storage…"
    return f"Not yet uploaded: {state.get('error')}. It is tried again at the next look at the queue."


def presigned_url(path: Path, settings: Settings, expires_s: int = 3600) -> str | None:
    """A time-limited download link to `path`'s copy in storage, when its folder was uploaded; None otherwise."""
    target = results_target(settings)
    state = next((found for f in path.parents if (found := upload_state(f)) is not None), None)
    if target is None or state is None or state.get("state") != UPLOADED:
        return None
    key = target.key(path.relative_to(settings.outputs_root).as_posix())
    try:
        return client_for(target.location, settings).generate_presigned_url(
            "get_object", Params={"Bucket": target.bucket, "Key": key}, ExpiresIn=expires_s
        )
    except Exception:  # noqa: BLE001 - no link: the page offers the file itself
        return None

"""On a Ray node: the datasets a job reads from buckets, pulled again into the node's own cache, so that nodes need
not share a file system for their inputs (the outputs root stays shared).

    spec = on_this_node(job.spec, settings)   # every path into a pulled copy in the outputs -> the node's own copy

A job's spec names the copy the studio pulled when it was submitted (ml_outputs/datasets/s3/BUCKET/PREFIX); its
record says which location, bucket and prefix it came from. The node pulls the same place into
ML_STUDIO_NODE_CACHE (its own credentials: AWS_* of the environment it was started with, or its credentials file),
fetching only what it does not hold yet. A bucket that changed since the submission refuses the job: what it would
train on is not what was validated and what lineage records.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcore.core.settings import Settings
from mlcore.storage.locations import DEFAULT, SCHEME, StorageError, located
from mlcore.storage.pull import pull, pulled_copy


def on_this_node(spec: dict[str, Any], settings: Settings, say: Callable[[str], None] = print) -> dict[str, Any]:
    """`spec` with each path into a pulled copy replaced by the same file in this node's own copy."""
    copies: dict[Path, Path] = {}  # the outputs' copy -> this node's
    changed = dict(spec)
    for key, value in spec.items():
        found = pulled_copy(Path(value), settings) if isinstance(value, str) and value.startswith("/") else None
        if found is None:
            continue
        folder, record = found
        if folder not in copies:
            copies[folder] = _pulled_here(record, settings, say)
        changed[key] = str(copies[folder] / Path(value).relative_to(folder))
    return changed


def _pulled_here(record: dict[str, Any], settings: Settings, say: Callable[[str], None]) -> Path:
    url = str(record.get("url") or "")
    bucket, _, prefix = url.removeprefix(SCHEME).partition("/")
    where = f"this node ({socket.gethostname()})"
    try:
        target = located(str(record.get("location") or DEFAULT), bucket, prefix, settings)
        say(f"Pulling {url} into {where}'s cache {settings.node_cache} …")
        pulled = pull(target, settings, root=settings.node_cache)
    except StorageError as exc:
        raise StorageError(
            f"{where} could not pull {url}: {exc} Every node needs the storage credentials (AWS_* in the environment "
            "its Ray node was started with, or a credentials file) and ML_STUDIO_NODE_CACHE on a disk it can write."
        ) from None
    if pulled.fingerprint != record.get("fingerprint"):
        raise StorageError(
            f"{url} changed since this job was submitted (its listing is not the one that was validated); submit the "
            "job again to use what the bucket holds now."
        )
    say(
        f"{url}: {pulled.objects} objects in {pulled.path} ({pulled.fetched} fetched, {pulled.reused} already here, "
        f"{pulled.seconds:.1f} s)."
    )
    return pulled.path

"""The configured locations as the status page and `storage locations|check` show them, and whether each can be
listed with the credentials of this machine. No credential is ever part of a row."""

from __future__ import annotations

from typing import Any

from mlcore.core.settings import Settings
from mlcore.storage.client import client_for, refusal
from mlcore.storage.locations import DEFAULT, StorageError, Target, locations


def location_rows(settings: Settings) -> list[dict[str, Any]]:
    return [
        {
            "name": loc.name,
            "endpoint": loc.where,
            "region": loc.region,
            "bucket": loc.bucket,
            "prefix": loc.prefix,
            "buckets": list(loc.buckets),
        }
        for loc in locations(settings)
    ]


def check_locations(settings: Settings, name: str | None = None) -> list[dict[str, Any]]:
    """Each location (or the one named): listable now? With the reason when not."""
    rows = []
    for loc in locations(settings):
        if name and loc.name != name:
            continue
        buckets = [loc.bucket] if loc.bucket else list(loc.buckets)
        try:
            s3 = client_for(loc, settings)
            if buckets:
                for bucket in buckets:
                    s3.list_objects_v2(Bucket=bucket, Prefix=loc.prefix, MaxKeys=1)
                detail = f"listed {', '.join(buckets)}"
            else:
                detail = f"{len(s3.list_buckets().get('Buckets') or [])} bucket(s) visible"
            rows.append({"name": loc.name, "ok": True, "detail": detail})
        except Exception as exc:  # noqa: BLE001 - every failure is a row with its reason
            target = Target(loc, (buckets or [""])[0] or "-", loc.prefix)
            rows.append({"name": loc.name, "ok": False, "detail": str(refusal(exc, target))})
    if name and not rows:
        raise StorageError(f"there is no location {name!r}; `storage locations` lists them ({DEFAULT} is always one).")
    return rows

"""Where `s3://` URLs and location names lead: the endpoint an administrator configured, never one a user types.

    target = parse_target("s3://ml-data/logos/v3", settings)   # the default location (ML_STUDIO_S3_ENDPOINT or AWS)
    target = parse_target("team:logos/v3", settings)           # a location named in ML_STUDIO_STORAGE's file
    target.url                                                 # s3://ml-data/datasets/logos/v3/

ML_STUDIO_STORAGE names a YAML file of locations:

    locations:
      - name: team                                  # team:PREFIX names a place under its bucket and prefix
        endpoint: https://seaweed.internal:8333     # empty: AWS
        region: us-east-1
        bucket: ml-data
        prefix: datasets/
        profile: team                               # optional: a profile of the AWS credentials file

Credentials are never part of a location: they come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the
credentials file or the machine's role, as every AWS tool reads them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from mlcore.core.errors import SubmitError
from mlcore.core.settings import Settings
from mlcore.core.user_yaml import UnsafeYaml, read_yaml_file

DEFAULT = "default"  # the location of plain s3:// URLs
SCHEME = "s3://"
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3's bucket names
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
NAMED = re.compile(r"^(?P<name>[a-z][a-z0-9_-]{0,31}):(?P<prefix>(?!//).*)$")
FIELDS = ("name", "endpoint", "region", "bucket", "prefix", "profile")


class StorageError(SubmitError):
    """A storage URL, location or transfer the studio cannot use; the message says why and what to do."""


@dataclass(frozen=True)
class Location:
    name: str
    endpoint: str = ""
    """http(s)://host:port of an S3-compatible server; '' = AWS."""
    region: str = ""
    bucket: str = ""
    """'' for the default location: s3:// URLs name their bucket."""
    prefix: str = ""
    profile: str = ""
    buckets: tuple[str, ...] = ()
    """The default location's allowed buckets (empty = any its credentials reach)."""

    @property
    def where(self) -> str:
        """The endpoint as it may be shown (no credentials are ever part of it)."""
        return self.endpoint or "AWS S3"


@dataclass(frozen=True)
class Target:
    """A place in a bucket: a location, a bucket and a key prefix (no leading '/', ending in '/' or empty)."""

    location: Location
    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}"

    def key(self, relative: str) -> str:
        return self.prefix + checked_key(relative)


def checked_key(key: str, what: str = "key") -> str:
    """A key (or prefix) that stays where it is put: no '..', no leading '/', no backslash or control character."""
    if "\\" in key or any(ord(c) < 32 for c in key) or key.startswith("/"):
        raise StorageError(f"the {what} {key!r} has a backslash, a control character or a leading '/'; remove it.")
    if any(part == ".." for part in PurePosixPath(key).parts):
        raise StorageError(f"the {what} {key!r} tries to leave its prefix with '..'; name a place inside it.")
    return key


def _prefix(text: str) -> str:
    text = checked_key(text.strip().lstrip("/") if text.strip() != "/" else "", "prefix")
    return text if not text or text.endswith("/") else text + "/"


def _endpoint(value: Any, where: str) -> str:
    text = str(value or "").strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise StorageError(
            f"{where}: endpoint {text!r} is not an http(s)://host[:port] URL without credentials in it; credentials "
            "go in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the credentials file."
        )
    return text


def default_location(settings: Settings) -> Location:
    return Location(DEFAULT, _endpoint(settings.s3_endpoint, "ML_STUDIO_S3_ENDPOINT"), buckets=settings.s3_buckets)


@lru_cache(maxsize=8)
def _read_file(path: str, mtime: float) -> tuple[Location, ...]:
    try:
        data = read_yaml_file(path, "the storage locations file")
    except (OSError, UnsafeYaml, UnicodeDecodeError) as exc:
        raise StorageError(
            f"the storage locations file {path} cannot be read ({exc}); fix ML_STUDIO_STORAGE."
        ) from None
    rows = (data or {}).get("locations") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise StorageError(f"{path}: give `locations:` as a list of name, endpoint, region, bucket, prefix.")
    found: list[Location] = []
    for n, row in enumerate(rows):
        where = f"{path}: locations[{n}]"
        if not isinstance(row, dict) or set(row) - set(FIELDS):
            raise StorageError(f"{where}: use the fields {', '.join(FIELDS)}.")
        name, bucket = str(row.get("name") or ""), str(row.get("bucket") or "")
        if not NAME.match(name) or name == DEFAULT or name in {loc.name for loc in found}:
            raise StorageError(f"{where}: name {name!r} must be new, lower-case letters, digits, '-' or '_'.")
        if not BUCKET.match(bucket):
            raise StorageError(f"{where}: bucket {bucket!r} is not an S3 bucket name.")
        found.append(
            Location(
                name,
                _endpoint(row.get("endpoint"), where),
                str(row.get("region") or ""),
                bucket,
                _prefix(str(row.get("prefix") or "")),
                str(row.get("profile") or ""),
            )
        )
    return tuple(found)


def locations(settings: Settings) -> list[Location]:
    """The default location, then those the locations file names."""
    named: tuple[Location, ...] = ()
    if settings.storage_file:
        try:
            mtime = os.stat(settings.storage_file).st_mtime
        except OSError as exc:
            raise StorageError(f"ML_STUDIO_STORAGE={settings.storage_file}: {exc.strerror}; fix the path.") from None
        named = _read_file(settings.storage_file, mtime)
    return [default_location(settings), *named]


def is_storage_text(text: str, settings: Settings) -> bool:
    """Whether a dataset (or images) text names a place in storage rather than a path."""
    text = (text or "").strip()
    if text.startswith(SCHEME):
        return True
    found = NAMED.match(text)
    return found is not None and found["name"] in {loc.name for loc in locations(settings)[1:]}


def parse_target(text: str, settings: Settings) -> Target:
    """The place `text` names; StorageError saying what is wrong (a bucket no location allows, a '..')."""
    text = (text or "").strip()
    every = locations(settings)
    if text.startswith(SCHEME):
        bucket, _, prefix = text[len(SCHEME) :].partition("/")
        if not BUCKET.match(bucket):
            raise StorageError(f"{text!r} names no bucket; write s3://BUCKET/PREFIX (e.g. s3://ml-data/logos/v3).")
        for loc in every[1:]:
            if loc.bucket == bucket:
                return Target(loc, bucket, _prefix(prefix))
        default = every[0]
        if default.buckets and bucket not in default.buckets:
            raise StorageError(
                f"bucket {bucket!r} is not one the studio may read (ML_STUDIO_S3_BUCKETS: "
                f"{', '.join(default.buckets)}); ask an administrator to add it."
            )
        return Target(default, bucket, _prefix(prefix))
    found = NAMED.match(text)
    for loc in every[1:]:
        if found and found["name"] == loc.name:
            return Target(loc, loc.bucket, _prefix(loc.prefix + found["prefix"]))
    names = ", ".join(loc.name for loc in every[1:]) or "none configured (ML_STUDIO_STORAGE)"
    raise StorageError(f"{text!r} is not s3://BUCKET/PREFIX nor LOCATION:PREFIX (locations: {names}).")


def located(name: str, bucket: str, prefix: str, settings: Settings) -> Target:
    """The place a pulled dataset's record names (its location's name, bucket and prefix), on this machine's
    configuration; StorageError when that location is not configured here."""
    for loc in locations(settings):
        if loc.name == (name or DEFAULT):
            return Target(loc, bucket, _prefix(prefix))
    raise StorageError(
        f"the storage location {name!r} is not configured on this machine; configure it as on the studio's server "
        "(ML_STUDIO_STORAGE)."
    )


def storage_configured(settings: Settings) -> bool:
    """Whether this studio is set up to read buckets: an endpoint, a locations file, or AWS credentials."""
    env = settings.environment
    return bool(
        settings.s3_endpoint
        or settings.storage_file
        or env.get("AWS_ACCESS_KEY_ID")
        or env.get("AWS_PROFILE")
        or env.get("AWS_SHARED_CREDENTIALS_FILE")
    )

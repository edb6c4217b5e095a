"""Filling a base model's `.part` file: bytes copied from an upload or a file, or downloaded from the weights mirror
(resumed with HTTP Range requests where the last try stopped, retried with a growing wait), with progress. A refusal
is a DownloadFailed whose code and message are the add's; the mirror's credentials are never in one.

    download(url, auth, public_url(url), part, folder=folder, progress=None)  # `part`: the open .part, r+b
    copy_stream(uploaded_bytes, part, folder=folder, progress=None)
    except DownloadFailed as exc:   # exc.code: interrupted (exc.resumable), not_on_mirror, too_large, no_space...
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mlcore.core.settings import ENV_WEIGHTS_MIRROR

logger = logging.getLogger(__name__)

MAX_BYTES = 2 * 2**30  # the largest official detector (yolov8x.pt) is 131 MB
RETRIES = 4  # tries of a download after the first, each resuming where the last stopped
BACKOFF_S = 0.5  # the wait before the first retry, doubled at each
BLOCK = 1 << 20

# The refusals (DownloadFailed.code, and so BaseWeightsError.code)
NOT_ON_MIRROR, MIRROR_REFUSED, DOWNLOAD_FAILED, INTERRUPTED = (
    "not_on_mirror",
    "mirror_refused",
    "download_failed",
    "interrupted",
)
TOO_LARGE, NO_SPACE = "too_large", "no_space"

Progress = Callable[[int, int | None], None]
"""Called with the bytes written so far and the total (None while it is unknown)."""


class DownloadFailed(Exception):
    """The .part cannot be filled: `code` names the refusal, the message says what is wrong and what to do.
    `resumable`: a download the network stopped; the bytes kept are continued by the next try."""

    def __init__(self, code: str, message: str, resumable: bool = False) -> None:
        super().__init__(message)
        self.code, self.resumable = code, resumable


def copy_stream(
    source: bytes | IO[bytes],
    part: IO[bytes],
    *,
    folder: Path,
    progress: Progress | None,
    total: int | None = None,
) -> None:
    """Write `source` (bytes, or a binary file object read to its end) into `part`, refusing more than MAX_BYTES."""
    chunks: Any
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source)
        total = len(data)
        if total > MAX_BYTES:
            raise DownloadFailed(TOO_LARGE, too_large("the upload", total))
        room(folder, total, "the upload")
        chunks = (data[i : i + BLOCK] for i in range(0, total, BLOCK))
    else:
        reader = source
        chunks = iter(lambda: reader.read(BLOCK), b"")
    done = 0
    for chunk in chunks:
        done += len(chunk)
        if done > MAX_BYTES:
            raise DownloadFailed(TOO_LARGE, too_large("the file", done))
        part.write(chunk)
        if progress:
            progress(done, total)


def download(
    url: str,
    auth: tuple[str, str] | None,
    public: str,
    part: IO[bytes],
    *,
    folder: Path,
    progress: Progress | None,
) -> None:
    """Fetch `url` into `part`, continuing the bytes already there with Range requests (after a dropped connection,
    and from an earlier add the network stopped); retried RETRIES times with a growing wait. `public` is the URL as
    messages show it (no credentials)."""
    import httpx

    tries, validator = 0, ""
    with httpx.Client(auth=auth, follow_redirects=True, timeout=httpx.Timeout(60.0, connect=15.0)) as client:
        while True:
            have = part.seek(0, os.SEEK_END)
            headers = {"Accept-Encoding": "identity"}
            if have:
                headers["Range"] = f"bytes={have}-"
                if validator:
                    headers["If-Range"] = validator  # the file changed on the server: a 200 with all of it
            try:
                with client.stream("GET", url, headers=headers) as answer:
                    total = _start(answer.status_code, answer.headers, have, part, public)
                    if total is None:  # 416 on a complete file
                        return
                    if total > MAX_BYTES:
                        raise DownloadFailed(TOO_LARGE, too_large(public, total))
                    room(folder, total - part.tell(), public)
                    etag = answer.headers.get("etag", "")
                    validator = etag if etag and not etag.startswith("W/") else answer.headers.get("last-modified", "")
                    for chunk in answer.iter_bytes():  # as they come: a drop loses none
                        part.write(chunk)
                        if part.tell() > MAX_BYTES:
                            raise DownloadFailed(TOO_LARGE, too_large(public, part.tell()))
                        if progress:
                            progress(part.tell(), total or None)
                    if total and part.tell() < total:
                        raise httpx.RemoteProtocolError(f"the connection closed at {part.tell()} of {total} bytes")
                    return
            except (httpx.TransportError, _ServerTrouble) as exc:
                tries += 1
                if tries > RETRIES:
                    raise _gave_up(public, part.tell(), tries, exc, auth) from None
                logger.info("download of %s stopped at %d bytes (%s); try %d", public, part.tell(), exc, tries + 1)
                time.sleep(BACKOFF_S * 2 ** (tries - 1))


def room(folder: Path, size: int, what: str) -> None:
    """Refuse `size` more bytes in `folder` unless 64 MB stay free after them."""
    free = shutil.disk_usage(folder).free
    if size > free - 64 * 2**20:
        raise DownloadFailed(
            NO_SPACE,
            f"{what} needs {size / 2**20:.0f} MB and {folder} has {free / 2**20:.0f} MB free; make room there first.",
        )


def too_large(what: str, size: int) -> str:
    """The message for a file over MAX_BYTES."""
    return (
        f"{what} is {size / 2**30:.1f} GiB, more than base weights may be ({MAX_BYTES / 2**30:.0f} GiB; the "
        "largest official detector is 131 MB): is it the right file?"
    )


class _ServerTrouble(Exception):
    """The mirror answered 5xx or 429: worth another try."""


def _start(status: int, headers: Any, have: int, part: IO[bytes], public: str) -> int | None:
    """Ready `part` for the answer's body: the size of the whole file (0 when unknown), None when it is complete."""
    if status == 206:
        start, total = _content_range(headers.get("content-range", ""))
        if start == have:
            return total or 0
        part.seek(0)  # a range other than the one asked for: start again
        part.truncate()
        raise _ServerTrouble(f"the mirror sent bytes from {start} instead of {have}")
    if status == 200:
        part.seek(0)  # the whole file: the server ignored the Range, or the file changed
        part.truncate()
        return int(headers.get("content-length") or 0)
    if status == 416 and have:
        _, total = _content_range(headers.get("content-range", ""))
        if total == have:
            return None
        part.seek(0)
        part.truncate()
        raise _ServerTrouble("the mirror has a different file now; fetching it again")
    if status == 404:
        raise DownloadFailed(
            NOT_ON_MIRROR, f"{public} is not on the weights mirror (HTTP 404); check the file name, e.g. yolo26n.pt."
        )
    if status in (401, 403):
        raise DownloadFailed(
            MIRROR_REFUSED,
            f"the weights mirror refused {public} (HTTP {status}); ask an administrator for access or for the "
            f"credentials in {ENV_WEIGHTS_MIRROR}.",
        )
    if status >= 500 or status == 429:
        raise _ServerTrouble(f"HTTP {status}")
    raise DownloadFailed(DOWNLOAD_FAILED, f"the weights mirror answered HTTP {status} for {public}.")


def _content_range(value: str) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header: 'bytes 100-199/1000' or 'bytes */1000'."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value)
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _gave_up(public: str, have: int, tries: int, exc: Exception, auth: tuple[str, str] | None) -> DownloadFailed:
    """The refusal after the last try: resumable when some bytes were kept; the password masked in the reason."""
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if auth and auth[1]:
        reason = reason.replace(auth[1], "***")
    if have:
        return DownloadFailed(
            INTERRUPTED,
            f"the download of {public} stopped at {have / 2**20:.1f} MB after {tries} tries ({reason}); add it again "
            "to continue from there, when the mirror is reachable.",
            resumable=True,
        )
    return DownloadFailed(
        DOWNLOAD_FAILED,
        f"the weights mirror could not be reached for {public} after {tries} tries ({reason}); check that it is up "
        f"and that {ENV_WEIGHTS_MIRROR} names it.",
    )

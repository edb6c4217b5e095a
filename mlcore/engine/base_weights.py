"""Pretrained weights a team brings ("base models"): added to the trusted models folder (`settings.model_roots[0]`)
from an upload, a file on this machine or the configured weights mirror, checked before they are trusted, and
listed with what they are. A transfer training then starts from them (`runs.store.seed_weights` lists them).

The studio is offline and ships no weights. Adding one, whatever its source:
  1. its bytes go to `.{name}.pt.part` beside the target (never listed: the name does not end in .pt); a download
     resumes it with an HTTP Range request after a dropped connection (`mlcore.engine.download`), and keeps it for
     the next add of the same name only when the network stopped the download;
  2. a child process reads it with Ultralytics' restricted loader (torch's weights_only unpickler, model classes
     only: a file naming other code is refused unread) and reports its task, architecture and classes;
  3. its sha256 is taken, its record `<name>.pt.json` written beside it, and it is moved into place (os.replace).
A refused or failed add leaves nothing in the folder.

Records, one per file (no shared index to rewrite): `<name>.pt.json` = {name, file, source (a URL without
credentials or query, "upload", or the server path), sha256, architecture, family, classes, imgsz, size_bytes,
added_at, added_by, licence}.

    base = add_base("yolo26n.pt", settings)                 # <ML_STUDIO_WEIGHTS_MIRROR>/yolo26n.pt
    base = add_base("/srv/shared/yolo11n.pt", settings)     # a file under the model or dataset roots
    base = add_base(uploaded_bytes, settings, name="coco-y26n")
    for base in list_bases(settings): print(base.name, base.architecture, base.sha256[:12])
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.errors import SubmitError
from mlcore.core.hashing import file_sha256
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.core.settings import ENV_WEIGHTS_MIRROR, Settings, public_url
from mlcore.engine.architectures import ARCHITECTURES
from mlcore.engine.checkpoint import (
    DAMAGED,
    FOREIGN_CODE,
    TORCHSCRIPT,
    CheckpointInfo,
    UntrustedCheckpoint,
    inspect_untrusted,
)
from mlcore.engine.download import DOWNLOAD_FAILED as DOWNLOAD_FAILED
from mlcore.engine.download import INTERRUPTED as INTERRUPTED
from mlcore.engine.download import MAX_BYTES as MAX_BYTES
from mlcore.engine.download import MIRROR_REFUSED as MIRROR_REFUSED
from mlcore.engine.download import NO_SPACE as NO_SPACE
from mlcore.engine.download import NOT_ON_MIRROR as NOT_ON_MIRROR
from mlcore.engine.download import TOO_LARGE as TOO_LARGE
from mlcore.engine.download import DownloadFailed, Progress, copy_stream, download, room, too_large

logger = logging.getLogger(__name__)

LICENCE = "Ultralytics' official weights are AGPL-3.0; check the licence of weights from elsewhere."
GITHUB_RELEASE = "https://github.com/ultralytics/assets/releases/download/v8.4.0/"  # a mirror where there is internet
RECORD = ".json"  # <name>.pt.json beside <name>.pt
PART = ".part"  # .<name>.pt.part while it is written and checked
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
UPLOAD = "upload"  # the source recorded for uploaded bytes

# The refusals (BaseWeightsError.code); the download's (not_on_mirror, mirror_refused, download_failed, interrupted,
# too_large, no_space) are imported from it above and re-exported (`X as X`), as is MAX_BYTES
BAD_NAME, BAD_SOURCE, BAD_PATH = "bad_name", "bad_source", "bad_path"
NO_MIRROR, NOT_THE_MIRROR = "no_mirror", "not_the_mirror"
BUSY, EXISTS = "busy", "exists"
NOT_WEIGHTS, NOT_A_CHECKPOINT, WRONG_TASK, UNKNOWN_ARCHITECTURE = (
    "not_weights",
    "not_a_checkpoint",
    "wrong_task",
    "unknown_architecture",
)

TASKS = {
    "classify": "classification",
    "segment": "segmentation",
    "obb": "oriented-box (OBB)",
    "semantic": "semantic segmentation",
}

Source = str | bytes | IO[bytes]


class BaseWeightsError(SubmitError):
    """A base model cannot be added: `code` names the refusal (e.g. not_weights, not_the_mirror), the message says
    what is wrong and what to do. `resumable`: a download the network stopped; adding it again continues it."""

    def __init__(self, code: str, message: str, resumable: bool = False) -> None:
        super().__init__(message)
        self.code, self.resumable = code, resumable


@dataclass(frozen=True)
class BaseWeights:
    """A base model in the trusted models folder, as its record describes it."""

    path: Path
    sha256: str
    architecture: str
    family: str
    classes: tuple[str, ...]
    """The class names, id for id (80 COCO classes for the official weights)."""
    imgsz: int | None
    """The image size it was trained at."""
    source: str
    """Where it came from: a URL without credentials or query, "upload", or the path on this machine."""
    licence: str = LICENCE
    added_at: str = ""
    added_by: str = ""
    size_bytes: int = 0
    already_present: bool = field(default=False, compare=False)
    """True when the same bytes were already there under this name (the add changed nothing)."""

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".pt")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"name": self.name, **data, "path": str(self.path), "classes": list(self.classes)}


def add_base(
    source: Source,
    settings: Settings,
    name: str | None = None,
    progress: Progress | None = None,
    by: str = "",
) -> BaseWeights:
    """Add pretrained weights to the trusted models folder: `source` is uploaded bytes (or a binary file object),
    a URL or a bare file name (fetched from ML_STUDIO_WEIGHTS_MIRROR), or a path on this machine under the model or
    dataset roots. `name` (default: the source's file name) names <name>.pt. BaseWeightsError when it is refused."""
    if not settings.model_roots:
        raise BaseWeightsError(BAD_PATH, "no models folder is configured; set ML_STUDIO_MODEL_ROOTS to a folder.")
    folder = settings.model_roots[0]
    fill: Callable[[IO[bytes]], None]
    if isinstance(source, str) and not _printable(source):
        raise BaseWeightsError(
            BAD_SOURCE,
            "no source given: give a .pt file on this machine, a file name on the weights mirror "
            "(yolo26n.pt), or upload the file.",
        )
    if isinstance(source, str) and _is_url(source):
        url, auth, public = _mirror_url(source, settings)
        target = folder / _file_name(name or unquote(urlsplit(url).path.rsplit("/", 1)[-1]))
        fill, resumable = partial(download, url, auth, public, folder=folder, progress=progress), True
    elif isinstance(source, str):
        path = _server_file(source, settings)
        public, target, resumable = str(path), folder / _file_name(name or path.name), False
        if target.exists() and path == target.resolve():
            return _adopt(target, public, settings, by)  # already in the folder: check it and record it
        fill = partial(_copy_file, path, folder=folder, progress=progress)
    else:
        if not name:
            raise BaseWeightsError(BAD_NAME, "uploaded weights need a name; give one, e.g. yolo26n.")
        public, target, resumable = UPLOAD, folder / _file_name(name), False
        fill = partial(copy_stream, source, folder=folder, progress=progress)
    return _add(target, fill, public, resumable, settings, by)


def list_bases(settings: Settings) -> list[BaseWeights]:
    """The base models added to the trusted model folders (those whose .pt is still there), by name."""
    found = []
    for root in settings.model_roots:
        for record in sorted(root.glob(f"*.pt{RECORD}")):
            base = read_base(record.with_name(record.name.removesuffix(RECORD)))
            if base is not None:
                found.append(base)
    return found


def read_base(weights: Path) -> BaseWeights | None:
    """The record of an added base model (None when `weights` has none, or is gone)."""
    try:
        data = json.loads(weights.with_name(weights.name + RECORD).read_text())
        if not weights.is_file():
            return None
        return BaseWeights(
            path=weights,
            sha256=str(data["sha256"]),
            architecture=str(data["architecture"]),
            family=str(data["family"]),
            classes=tuple(str(c) for c in data.get("classes") or ()),
            imgsz=data.get("imgsz") if isinstance(data.get("imgsz"), int) else None,
            source=str(data.get("source") or ""),
            licence=str(data.get("licence") or LICENCE),
            added_at=str(data.get("added_at") or ""),
            added_by=str(data.get("added_by") or ""),
            size_bytes=int(data.get("size_bytes") or 0),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def bases_table(bases: list[BaseWeights]) -> list[dict[str, Any]]:
    """One row per base model, for the page and the command line."""
    return [
        {
            "name": b.name,
            "architecture": b.architecture,
            "family": b.family,
            "classes": len(b.classes),
            "imgsz": b.imgsz,
            "MB": round(b.size_bytes / 2**20, 1),
            "sha256": b.sha256[:12],
            "source": b.source,
            "added": b.added_at[:16].replace("T", " "),
        }
        for b in bases
    ]


def mirror_hint(settings: Settings) -> str:
    """Where URL adds come from, in words (never with the mirror's credentials)."""
    if settings.weights_mirror:
        return f"from the weights mirror {public_url(settings.weights_mirror)}"
    return f"no weights mirror is configured ({ENV_WEIGHTS_MIRROR} is unset), so nothing is fetched from the network"


# ---- sources


def _printable(text: str) -> bool:
    """Something to look up: not empty, no NUL, and text a path or URL can hold (no lone surrogates)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return bool(text.strip()) and "\x00" not in text


def _is_url(text: str) -> bool:
    """A URL, or a bare file name that the mirror serves (yolo26n.pt); anything else is a path on this machine."""
    raw = text.strip()
    bare = bool(raw) and "/" not in raw and os.sep not in raw and not raw.startswith(("~", "."))
    return "://" in raw or bare


def _mirror_url(text: str, settings: Settings) -> tuple[str, tuple[str, str] | None, str]:
    """The URL to fetch (no credentials in it), the credentials, and the URL as it may be shown."""
    raw, mirror = text.strip(), settings.weights_mirror
    if not mirror:
        raise BaseWeightsError(
            NO_MIRROR,
            f"{public_url(raw) if '://' in raw else raw} would be fetched from a weights mirror, and none is "
            f"configured (this machine may have no internet): set {ENV_WEIGHTS_MIRROR} to a server that holds the "
            f"weights (e.g. an internal mirror, or {GITHUB_RELEASE} where there is internet), or bring the file: "
            "upload it, or give its path on this machine.",
        )
    url = raw if "://" in raw else urljoin(mirror, quote(raw))
    try:
        parts, base = urlsplit(url), urlsplit(mirror)
        same = (parts.scheme.lower(), parts.hostname, _port(parts.scheme, parts.port)) == (
            base.scheme.lower(),
            base.hostname,
            _port(base.scheme, base.port),
        )
    except ValueError:
        raise BaseWeightsError(
            BAD_SOURCE, f"{public_url(raw)} is not a URL; give a file name such as yolo26n.pt."
        ) from None
    public = public_url(url)
    if not same:
        raise BaseWeightsError(
            NOT_THE_MIRROR,
            f"{public} is not on the weights mirror ({public_url(mirror)}): weights are fetched only from the "
            "mirror's scheme, host and port. Ask an administrator to put the file there, or upload it.",
        )
    credentials = parts if parts.username is not None else base
    auth = (unquote(credentials.username or ""), unquote(credentials.password or "")) if credentials.username else None
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), auth, public


def _port(scheme: str, port: int | None) -> int:
    return port or (443 if scheme.lower() == "https" else 80)


def _server_file(text: str, settings: Settings) -> Path:
    """A .pt file on this machine, under the model or dataset roots (a relative path is looked up in them)."""
    roots = (*settings.model_roots, *settings.dataset_roots)
    raw = text.strip()
    if raw and not raw.startswith("~") and "\x00" not in raw and not Path(raw).is_absolute():
        raw = next((str(r / raw) for r in roots if (r / raw).exists()), str(roots[0] / raw))
    try:
        path = resolve_user_path(raw, roots, what="model")
    except PathNotAllowed as exc:
        raise BaseWeightsError(BAD_PATH, str(exc)) from None
    if not path.is_file():
        raise BaseWeightsError(BAD_PATH, f"{text} is a folder; give the .pt file in it.")
    if path.stat().st_size > MAX_BYTES:
        raise BaseWeightsError(TOO_LARGE, too_large(str(path), path.stat().st_size))
    return path


def _file_name(name: str) -> str:
    """<name>.pt for a name of letters, digits, '.', '-' and '_' (a trailing .pt is taken as given)."""
    stem = name.strip().removesuffix(".pt")
    if not _NAME.fullmatch(stem):
        raise BaseWeightsError(
            BAD_NAME,
            f"{name!r} cannot name weights: use letters, digits, '.', '-' and '_', starting with a letter or a digit "
            "(e.g. yolo26n or yolo26n-coco).",
        )
    return f"{stem}.pt"


# ---- filling the .part


def _copy_file(path: Path, part: IO[bytes], *, folder: Path, progress: Progress | None) -> None:
    total = path.stat().st_size
    room(folder, total, str(path))
    with open(path, "rb") as reader:
        copy_stream(reader, part, folder=folder, progress=progress, total=total)


# ---- checking and placing


def _add(
    target: Path, fill: Callable[[IO[bytes]], None], source: str, resumable: bool, settings: Settings, by: str
) -> BaseWeights:
    part = target.with_name(f".{target.name}{PART}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BaseWeightsError(
            BAD_PATH, f"cannot write into {target.parent} ({exc.strerror}); make it writable for the studio's user."
        ) from None
    handle = os.fdopen(fd, "r+b")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BaseWeightsError(BUSY, f"{target.name} is being added by someone else now; wait for it to end.") from None
    try:
        if not resumable:
            handle.truncate()
        try:
            fill(handle)
        except DownloadFailed as exc:  # the same code and message, as the add's refusal
            raise BaseWeightsError(exc.code, str(exc), exc.resumable) from None
        handle.flush()
        os.fsync(fd)
        sha256, size = file_sha256(part), part.stat().st_size
        known = read_base(target)
        if known is not None and known.sha256 == sha256 and file_sha256(target) == sha256:
            part.unlink()  # the same bytes, checked when they were added: nothing to do
            return replace(known, already_present=True)
        if target.exists() and (not target.is_file() or file_sha256(target) != sha256):
            raise BaseWeightsError(
                EXISTS, f"{target} already exists with other content; give another name, or remove the old file first."
            )
        info = _check(part, f"{target.name} (from {source})", settings)
        if target.exists():  # the same bytes, put there without a record: recorded now
            part.unlink()
            return _record(target, info, sha256, source, by, size, already_present=True)
        base = _record(target, info, sha256, source, by, size)
        try:
            os.replace(part, target)
        except OSError:
            target.with_name(target.name + RECORD).unlink(missing_ok=True)
            raise
        logger.info("base model %s added from %s (%s, sha256 %s)", target, source, info.architecture, sha256[:12])
        return base
    except BaseWeightsError as exc:
        if not exc.resumable:
            part.unlink(missing_ok=True)
        raise
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        handle.close()


def _adopt(target: Path, source: str, settings: Settings, by: str) -> BaseWeights:
    """A file already in the models folder: checked and recorded in place (a refusal leaves it as it was)."""
    sha256 = file_sha256(target)
    known = read_base(target)
    if known is not None and known.sha256 == sha256:
        return replace(known, already_present=True)
    info = _check(target, target.name, settings)
    return _record(target, info, sha256, source, by, target.stat().st_size, already_present=True)


def _check(path: Path, label: str, settings: Settings) -> CheckpointInfo:
    """Refuse what is not a detection checkpoint of a known architecture: first by its first bytes (no child
    process for a web page), then by the restricted load in a child."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    _sniff(head, label)
    try:
        info = inspect_untrusted(path, settings)
    except UntrustedCheckpoint as exc:
        raise BaseWeightsError(*_refusal(exc, label)) from None
    if info.task != "detect":
        definition = info.definition or "its model definition is not recorded"
        raise BaseWeightsError(
            WRONG_TASK,
            f"{label} is a {TASKS.get(info.task, info.task)} checkpoint ({definition}); the studio trains detectors: "
            "bring a detection model such as yolo26n.pt (not a -cls, -seg, -pose or -obb one).",
        )
    if not info.architecture or not info.family:
        raise BaseWeightsError(
            UNKNOWN_ARCHITECTURE,
            f"{label} is a detection model of an architecture the studio does not know "
            f"({info.definition or 'no model definition recorded'}); it trains {', '.join(ARCHITECTURES)}.",
        )
    return info


def _sniff(head: bytes, label: str) -> None:
    """Refuse by the first bytes: a .pt file is a zip archive (torch.save) or, from old PyTorch, a pickle."""
    if head.startswith(b"PK\x03\x04") or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        return
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        problem = "is empty"
    elif text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in text:
        problem = (
            "is a web page (HTML), not weights: the address leads to a page (a login, an error, a download page) "
            "rather than to the file itself; check the URL or the file name"
        )
    elif text.startswith(b"version https://git-lfs"):
        problem = "is a Git LFS pointer, not the weights: fetch the real file (git lfs pull) and bring that"
    else:
        problem = (
            f"is not a PyTorch weights file (it starts with {head[:8]!r}; a .pt file is a zip archive written by "
            "torch.save): bring the .pt file itself"
        )
    raise BaseWeightsError(NOT_WEIGHTS, f"{label} {problem}.")


def _refusal(exc: UntrustedCheckpoint, label: str) -> tuple[str, str]:
    if exc.problem == DAMAGED:
        return NOT_WEIGHTS, (
            f"{label} cannot be read: it is empty, truncated or damaged ({exc.detail}). Fetch it again or bring a "
            "complete copy."
        )
    if exc.problem == FOREIGN_CODE:
        return NOT_WEIGHTS, (
            f"{label} was refused unread: {exc.detail}. A .pt file is a pickle, which can run code, and the studio "
            "unpickles only PyTorch's and Ultralytics' model classes; use the weights as Ultralytics publishes them "
            "or re-save them with a current Ultralytics."
        )
    if exc.problem == TORCHSCRIPT:
        return NOT_WEIGHTS, f"{label} is a TorchScript export, not training weights; bring the .pt it was made from."
    return NOT_A_CHECKPOINT, (
        f"{label} is a PyTorch file but not an Ultralytics checkpoint ({exc.detail}): it needs a model under 'model' "
        "or 'ema' as Ultralytics saves it. Bring a YOLO .pt from Ultralytics or from a training (weights/best.pt)."
    )


def _record(
    target: Path, info: CheckpointInfo, sha256: str, source: str, by: str, size: int, already_present: bool = False
) -> BaseWeights:
    """Write <name>.pt.json beside <name>.pt."""
    base = BaseWeights(
        path=target,
        sha256=sha256,
        architecture=str(info.architecture),
        family=str(info.family),
        classes=tuple(info.names[i] for i in sorted(info.names)),
        imgsz=info.imgsz,
        source=source,
        added_at=datetime.now(UTC).isoformat(timespec="seconds"),
        added_by=by,
        size_bytes=size,
        already_present=already_present,
    )
    data = {k: v for k, v in base.to_dict().items() if k not in ("path", "already_present")}
    write_json_atomically(target.with_name(target.name + RECORD), {**data, "file": target.name})
    return base
